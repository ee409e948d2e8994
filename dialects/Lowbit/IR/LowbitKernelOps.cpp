//===- LowbitKernelOps.cpp - lowbit kernel-level verifiers ------*- C++ -*-===//
//
// Verifiers and helpers of the kernel level: #lowbit.target, !lowbit.packed,
// lowbit.pack, lowbit.executable, lowbit.kernel, lowbit.binary and
// lowbit.dispatch, and the dialect's discardable attributes.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mlir::lowbit;

bool mlir::lowbit::isVersionedTag(StringRef name) {
  size_t dash = name.rfind("-v");
  if (dash == StringRef::npos || dash == 0)
    return false;
  StringRef version = name.drop_front(dash + 2);
  if (version.empty() || version.front() == '0' ||
      !llvm::all_of(version, llvm::isDigit))
    return false;
  StringRef stem = name.take_front(dash);
  SmallVector<StringRef> words;
  stem.split(words, '-');
  return llvm::all_of(words, [](StringRef w) {
    return !w.empty() && llvm::all_of(w, [](char c) {
      return llvm::isLower(c) || llvm::isDigit(c);
    });
  });
}

//===----------------------------------------------------------------------===//
// TargetAttr
//===----------------------------------------------------------------------===//

LogicalResult TargetAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef name,
                                 ArrayRef<StringAttr> features) {
  if (name.empty() || !llvm::isLower(name.front()) ||
      !llvm::all_of(name, [](char c) {
        return llvm::isLower(c) || llvm::isDigit(c) || c == '_';
      }))
    return emitError() << "target name '" << name
                       << "' must be a lowercase identifier ([a-z][a-z0-9_]*)";
  for (auto [i, feature] : llvm::enumerate(features)) {
    StringRef f = feature.getValue();
    if (f.empty() || !llvm::all_of(f, [](char c) {
          return llvm::isLower(c) || llvm::isDigit(c) || c == '_' || c == '.' ||
                 c == '+' || c == '-';
        }))
      return emitError() << "target feature '" << f
                         << "' must be lowercase [a-z0-9_.+-] and non-empty";
    if (i > 0 && !(features[i - 1].getValue() < f))
      return emitError() << "target features must be sorted and unique, got '"
                         << f << "' after '" << features[i - 1].getValue()
                         << "'";
  }
  return success();
}

bool TargetAttr::hasFeature(StringRef feature) const {
  return llvm::any_of(getFeatures(),
                      [&](StringAttr f) { return f.getValue() == feature; });
}

//===----------------------------------------------------------------------===//
// PackedType
//===----------------------------------------------------------------------===//

LogicalResult PackedType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape, SchemeAttr scheme,
                                 StringRef layout) {
  if (failed(QWeightType::verify(emitError, shape, scheme)))
    return failure();
  if (!scheme)
    return emitError() << "packed weight needs a scheme";
  if (!isVersionedTag(layout))
    return emitError() << "layout codec '" << layout
                       << "' must be a versioned name such as "
                          "\"x86-tile16-v1\"";
  return success();
}

QWeightType PackedType::getQWeightType() const {
  return QWeightType::get(getContext(), getShape(), getScheme());
}

//===----------------------------------------------------------------------===//
// PackOp
//===----------------------------------------------------------------------===//

LogicalResult PackOp::verify() {
  QWeightType input = getInput().getType();
  PackedType result = getResult().getType();
  if (input.getShape() != result.getShape())
    return emitOpError("packed shape [")
           << result.getShape() << "] does not match quantized weight shape ["
           << input.getShape() << "]";
  if (input.getScheme() != result.getScheme())
    return emitOpError("packed scheme ")
           << result.getScheme() << " does not match quantized weight scheme "
           << input.getScheme();
  return success();
}

//===----------------------------------------------------------------------===//
// ExecutableOp
//===----------------------------------------------------------------------===//

void ExecutableOp::build(OpBuilder &builder, OperationState &state,
                         StringRef name, TargetAttr target) {
  state.addAttribute(getSymNameAttrName(state.name),
                     builder.getStringAttr(name));
  state.addAttribute(getTargetAttrName(state.name), target);
  Region *body = state.addRegion();
  body->push_back(new Block());
}

LogicalResult ExecutableOp::verify() {
  llvm::StringSet<> formats;
  for (Operation &op : getBodyBlock()) {
    if (auto binary = dyn_cast<BinaryOp>(op)) {
      if (!formats.insert(binary.getFormat()).second)
        return binary.emitOpError("duplicate binary of format '")
               << binary.getFormat() << "' in executable @" << getSymName();
      continue;
    }
    if (!isa<KernelOp>(op))
      return op.emitOpError("is not allowed in lowbit.executable @")
             << getSymName() << " (only lowbit.kernel and lowbit.binary)";
  }
  return success();
}

BinaryOp ExecutableOp::getBinary(StringRef format) {
  for (BinaryOp binary : getBodyBlock().getOps<BinaryOp>())
    if (binary.getFormat() == format)
      return binary;
  return {};
}

//===----------------------------------------------------------------------===//
// KernelOp
//===----------------------------------------------------------------------===//

LogicalResult KernelOp::verify() {
  if (getN() <= 0 || getK() <= 0)
    return emitOpError("kernel @")
           << getSymName() << " needs positive n and k, got n = " << getN()
           << ", k = " << getK();
  if (!isVersionedTag(getLayout()))
    return emitOpError("layout codec '")
           << getLayout()
           << "' must be a versioned name such as \"x86-tile16-v1\"";
  return success();
}

PackedType KernelOp::getPackedType() {
  return PackedType::get(getContext(), {getN(), getK()}, getScheme(),
                         getLayout());
}

//===----------------------------------------------------------------------===//
// BinaryOp
//===----------------------------------------------------------------------===//

LogicalResult BinaryOp::verify() {
  if (!isVersionedTag(getFormat()))
    return emitOpError("binary format '")
           << getFormat()
           << "' must be a versioned name such as \"x86-elf-so-v1\"";
  auto type = dyn_cast<RankedTensorType>(getData().getType());
  if (!type || type.getRank() != 1 ||
      !type.getElementType().isUnsignedInteger(8))
    return emitOpError("binary data must be a 1-D tensor of ui8, got ")
           << getData().getType();
  return success();
}

std::optional<ArrayRef<uint8_t>> BinaryOp::getBytes() {
  if (auto resource = dyn_cast<DenseUI8ResourceElementsAttr>(getData()))
    return resource.tryGetAsArrayRef();
  if (auto dense = dyn_cast<DenseIntElementsAttr>(getData())) {
    if (dense.isSplat())
      return std::nullopt;
    ArrayRef<char> raw = dense.getRawData();
    return ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(raw.data()),
                             raw.size());
  }
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// DispatchOp
//===----------------------------------------------------------------------===//

LogicalResult DispatchOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType result = getResult().getType();
  PackedType weight = getWeight().getType();
  int64_t n = weight.getN(), k = weight.getK();
  auto agree = [](int64_t a, int64_t b) {
    return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
  };
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  if (!agree(input.getShape().back(), k))
    return emitOpError("input feature size ")
           << input.getShape().back() << " does not match weight K = " << k;
  if (result.getRank() != input.getRank())
    return emitOpError("result rank ")
           << result.getRank() << " does not match input rank "
           << input.getRank();
  for (int64_t i = 0, e = input.getRank() - 1; i < e; ++i)
    if (!agree(input.getDimSize(i), result.getDimSize(i)))
      return emitOpError("result dimension ")
             << i << " (" << result.getDimSize(i)
             << ") does not match input dimension (" << input.getDimSize(i)
             << ")";
  if (!agree(result.getShape().back(), n))
    return emitOpError("result feature size ")
           << result.getShape().back() << " does not match weight N = " << n;
  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getRank() != 1 || !agree(biasType.getDimSize(0), n))
      return emitOpError("bias must be [N] = [") << n << "], got " << biasType;
  }
  return success();
}

LogicalResult DispatchOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  SymbolRefAttr ref = getKernel();
  if (ref.getNestedReferences().size() != 1)
    return emitOpError("kernel reference ")
           << ref << " must be @executable::@kernel";
  auto executable = symbolTable.lookupNearestSymbolFrom<ExecutableOp>(
      *this, FlatSymbolRefAttr::get(ref.getRootReference()));
  if (!executable)
    return emitOpError("'@") << ref.getRootReference().getValue()
                             << "' does not name a lowbit.executable";
  auto kernel =
      symbolTable.lookupSymbolIn<KernelOp>(executable, ref.getLeafReference());
  if (!kernel)
    return emitOpError("kernel ")
           << ref << " is not a lowbit.kernel of executable @"
           << executable.getSymName();
  PackedType expected = kernel.getPackedType();
  if (getWeight().getType() != expected)
    return emitOpError("weight type ")
           << getWeight().getType() << " does not match kernel " << ref
           << ", which expects " << expected;
  return success();
}

//===----------------------------------------------------------------------===//
// Discardable attributes
//===----------------------------------------------------------------------===//

LogicalResult mlir::lowbit::verifyKernelLevelAttribute(Operation *op,
                                                       NamedAttribute attr) {
  if (attr.getName() == kTargetAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitError("'") << kTargetAttrName << "' is only valid on a "
                                << "module, not on '" << op->getName() << "'";
    if (!isa<TargetAttr>(attr.getValue()))
      return op->emitError("'")
             << kTargetAttrName << "' must be a #lowbit.target, got "
             << attr.getValue();
    return success();
  }
  if (attr.getName() == kLayoutAttrName) {
    if (!isa<QMatmulOp, QEmbeddingOp>(op))
      return op->emitError("'")
             << kLayoutAttrName << "' is only valid on "
             << "lowbit.qmatmul and lowbit.qembedding, not on '"
             << op->getName() << "'";
    auto layout = dyn_cast<StringAttr>(attr.getValue());
    if (!layout || !isVersionedTag(layout.getValue()))
      return op->emitError("'")
             << kLayoutAttrName
             << "' must be a versioned layout codec name such as "
                "\"x86-tile16-v1\", got "
             << attr.getValue();
    return success();
  }
  return success();
}
