//===- LowbitAttrs.cpp - lowbit attribute verifiers -------------*- C++ -*-===//

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"

#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::lowbit;

//===----------------------------------------------------------------------===//
// RotationAttr
//===----------------------------------------------------------------------===//

LogicalResult RotationAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   RotationKind kind, uint64_t seed,
                                   RotationSide side) {
  if (kind == RotationKind::Hadamard && seed != 0)
    return emitError() << "a plain hadamard rotation takes no seed (got "
                       << seed << "); use randomized_hadamard";
  return success();
}

//===----------------------------------------------------------------------===//
// SchemeAttr
//===----------------------------------------------------------------------===//

LogicalResult SchemeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 unsigned bits, int64_t groupSize,
                                 bool symmetric, Type scaleType, Type zeroType,
                                 bool actOrder, RotationAttr rotation,
                                 ZeroForm zeroForm, int64_t superGroup) {
  if (bits < 2 || bits > 8)
    return emitError() << "bits must be in [2, 8], got " << bits;
  if (groupSize == 0 || groupSize < -1)
    return emitError()
           << "group size must be -1 (per-channel) or positive, got "
           << groupSize;
  if (!scaleType ||
      !(scaleType.isF32() || scaleType.isF16() || scaleType.isBF16()))
    return emitError() << "scale type must be f32, f16 or bf16, got "
                       << scaleType;
  if (symmetric && zeroType)
    return emitError() << "a symmetric scheme has implicit zero points and "
                          "must not have a zero type (got "
                       << zeroType << ")";
  if (!symmetric && !zeroType)
    return emitError() << "an asymmetric scheme needs a zero type";
  if (zeroType) {
    if (auto intType = dyn_cast<IntegerType>(zeroType)) {
      // Zero points live in [0, 2^bits - 1]; an unsigned or signless type
      // needs `bits` bits, a signed one `bits + 1`.
      unsigned needed = intType.isSigned() ? bits + 1 : bits;
      if (intType.getWidth() < needed)
        return emitError() << "zero type " << zeroType << " cannot hold "
                           << bits << "-bit zero points";
    } else if (!(zeroType.isF32() || zeroType.isF16() || zeroType.isBF16())) {
      return emitError() << "zero type must be an integer type or f32, f16 "
                            "or bf16, got "
                         << zeroType;
    }
  }
  if (zeroForm == ZeroForm::Min) {
    if (symmetric)
      return emitError() << "zero_form = min needs an asymmetric scheme (a "
                            "symmetric one has no stored minimum)";
    if (!isa<FloatType>(zeroType))
      return emitError() << "zero_form = min stores float minimums: the zero "
                            "type must be f32, f16 or bf16, got "
                         << zeroType;
  }
  if (superGroup != 0) {
    if (superGroup < 2)
      return emitError() << "super_group must be 0 (plain scales) or at "
                            "least 2 groups, got "
                         << superGroup;
    if (groupSize < 0)
      return emitError() << "super_group needs a positive group size (a "
                            "per-channel scheme has one scale per row)";
    if (actOrder)
      return emitError() << "super_group does not combine with act_order";
    if (!scaleType.isF16() && !scaleType.isBF16())
      return emitError() << "super_group needs f16 or bf16 super-block "
                            "scales (their products with 8-bit codes are "
                            "exact in f32), got "
                         << scaleType;
    if (zeroForm == ZeroForm::Min || (zeroType && !isa<IntegerType>(zeroType)))
      return emitError() << "super_group needs integer zero points "
                            "(zero_form = zero_point and an integer zero "
                            "type)";
  }
  return success();
}

int64_t SchemeAttr::getNumGroups(int64_t k) const {
  if (isPerChannel())
    return 1;
  return (k + getGroupSize() - 1) / getGroupSize();
}

//===----------------------------------------------------------------------===//
// ScopeAttr
//===----------------------------------------------------------------------===//

LogicalResult ScopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                StringRef format, StringRef path) {
  if (format != "safetensors" && format != "gguf")
    return emitError() << "unknown parameter scope format '" << format
                       << "' (supported: safetensors, gguf)";
  if (path.empty())
    return emitError() << "parameter scope path must not be empty";
  if (llvm::sys::path::is_absolute(path))
    return emitError() << "parameter scope path '" << path
                       << "' is absolute; paths are relative to the IR file's "
                          "directory (give absolute locations with "
                          "--param-scope NAME=PATH)";
  return success();
}

ScopeAttr mlir::lowbit::lookupParameterScope(Operation *op, StringRef scope) {
  auto module = dyn_cast<ModuleOp>(op);
  if (!module)
    module = op->getParentOfType<ModuleOp>();
  if (!module)
    return {};
  auto scopes = module->getAttrOfType<DictionaryAttr>(kParameterScopesAttrName);
  if (!scopes)
    return {};
  return scopes.getAs<ScopeAttr>(scope);
}
