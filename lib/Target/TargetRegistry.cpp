//===- TargetRegistry.cpp - the set of available compiler targets ---------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Target/TargetRegistry.h"

#include "lowbitrt/Codec.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>

using namespace lowbit;

TargetBackend::~TargetBackend() = default;

mlir::LogicalResult TargetBackend::packWeight(mlir::Operation *matmul,
                                              const QuantizedWeight &weight,
                                              std::vector<uint8_t> &out) const {
  std::string reason;
  if (!isLegal(matmul, reason))
    return matmul->emitOpError("cannot be compiled for target ")
           << getName() << ": " << reason;
  mlir::FailureOr<std::string> layout = selectLayout(matmul);
  if (failed(layout))
    return mlir::failure();
  const std::string &codecName = *layout;
  const codec::Codec *codec = codec::findCodec(codecName);
  if (!codec)
    return matmul->emitOpError("target ")
           << getName() << " names the unknown weight codec '" << codecName
           << "'";
  codec::WeightDesc desc;
  desc.bits = weight.bits;
  desc.groupSize = weight.groupSize;
  desc.symmetric = weight.symmetric;
  desc.N = weight.N;
  desc.K = weight.K;
  if (!codec::parseScaleType(weight.scaleType, desc.scaleType))
    return matmul->emitOpError("scale type '")
           << weight.scaleType << "' has no weight codec storage";
  codec::UnpackedWeight in;
  in.codes.assign(weight.codes.begin(), weight.codes.end());
  in.scales.assign(weight.scales.begin(), weight.scales.end());
  in.zeros.assign(weight.zeros.begin(), weight.zeros.end());
  std::string error;
  if (!codec->encode(desc, in, out, &error))
    return matmul->emitOpError("weight codec ") << codecName << ": " << error;
  return mlir::success();
}

mlir::FailureOr<std::string>
TargetBackend::selectLayout(mlir::Operation *matmul) const {
  return matmul->emitOpError("target ")
         << getName() << " has no packed weight layout";
}

std::optional<double>
TargetBackend::getStoredBitsPerWeight(const codec::WeightDesc &) const {
  return std::nullopt;
}

mlir::LogicalResult
TargetBackend::serializeExecutable(mlir::Operation *executable,
                                   TargetCode &) const {
  return executable->emitOpError("target ")
         << getName() << " cannot translate executables";
}

TargetRegistry::TargetRegistry() = default;
TargetRegistry::~TargetRegistry() = default;

static bool isValidTargetName(llvm::StringRef name) {
  return !name.empty() && llvm::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

llvm::Error
TargetRegistry::registerTarget(std::unique_ptr<TargetBackend> target) {
  if (!target)
    return llvm::createStringError("cannot register a null target");
  llvm::StringRef name = target->getName();
  if (!isValidTargetName(name))
    return llvm::createStringError(
        "target name '%s' must be non-empty lowercase [a-z0-9_]",
        name.str().c_str());
  auto it =
      llvm::lower_bound(backends, name,
                        [](const std::unique_ptr<TargetBackend> &b,
                           llvm::StringRef n) { return b->getName() < n; });
  if (it != backends.end() && (*it)->getName() == name)
    return llvm::createStringError("target '%s' is already registered",
                                   name.str().c_str());
  backends.insert(it, std::move(target));
  return llvm::Error::success();
}

llvm::Expected<const TargetBackend &>
TargetRegistry::lookup(llvm::StringRef name) const {
  for (const std::unique_ptr<TargetBackend> &b : backends)
    if (b->getName() == name)
      return *b;
  std::string available =
      backends.empty() ? std::string("none") : llvm::join(names(), ", ");
  return llvm::createStringError("unknown target '%s' (available: %s)",
                                 name.str().c_str(), available.c_str());
}

std::vector<std::string> TargetRegistry::names() const {
  std::vector<std::string> result;
  for (const std::unique_ptr<TargetBackend> &b : backends)
    result.push_back(b->getName().str());
  return result;
}

std::vector<const TargetBackend *> TargetRegistry::targets() const {
  std::vector<const TargetBackend *> result;
  for (const std::unique_ptr<TargetBackend> &b : backends)
    result.push_back(b.get());
  return result;
}
