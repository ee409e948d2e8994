//===- LowbitOps.cpp - lowbit op verifiers ----------------------*- C++ -*-===//

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace mlir::lowbit;

#include "lowbit/Dialect/Lowbit/IR/LowbitInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Two dimensions agree unless both are static and differ.
static bool dimsAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

static int64_t lastDim(RankedTensorType type) { return type.getShape().back(); }

/// Checks the shapes shared by `lowbit.linear` and `lowbit.qmatmul`:
/// input `[..., K]`, weight `[N, K]`, optional bias `[N]`, result `[..., N]`.
static LogicalResult verifyMatmulShapes(Operation *op, RankedTensorType input,
                                        int64_t n, int64_t k,
                                        RankedTensorType bias,
                                        RankedTensorType result) {
  if (input.getRank() < 1)
    return op->emitOpError("input must have rank >= 1");
  if (!dimsAgree(lastDim(input), k))
    return op->emitOpError("input feature size ")
           << lastDim(input) << " does not match weight K = " << k;
  if (bias) {
    if (bias.getRank() != 1 || !dimsAgree(bias.getDimSize(0), n))
      return op->emitOpError("bias must be [N] = [") << n << "], got " << bias;
    if (bias.getElementType() != result.getElementType())
      return op->emitOpError("bias element type ")
             << bias.getElementType() << " does not match result element type "
             << result.getElementType();
  }
  if (result.getRank() != input.getRank())
    return op->emitOpError("result rank ")
           << result.getRank() << " does not match input rank "
           << input.getRank();
  for (int64_t i = 0, e = input.getRank() - 1; i < e; ++i)
    if (!dimsAgree(input.getDimSize(i), result.getDimSize(i)))
      return op->emitOpError("result dimension ")
             << i << " (" << result.getDimSize(i)
             << ") does not match input dimension (" << input.getDimSize(i)
             << ")";
  if (!dimsAgree(lastDim(result), n))
    return op->emitOpError("result feature size ")
           << lastDim(result) << " does not match weight N = " << n;
  if (input.getElementType() != result.getElementType())
    return op->emitOpError("input element type ")
           << input.getElementType() << " does not match result element type "
           << result.getElementType();
  return success();
}

/// The result of a lookup (embedding, qembedding) of `indices` in a table
/// `width` wide: shape indices.shape + [width].
static LogicalResult verifyLookupShapes(Operation *op, RankedTensorType indices,
                                        RankedTensorType result,
                                        int64_t width) {
  if (result.getRank() != indices.getRank() + 1)
    return op->emitOpError("result rank must be indices rank + 1 = ")
           << indices.getRank() + 1 << ", got " << result.getRank();
  for (int64_t i = 0, e = indices.getRank(); i < e; ++i)
    if (!dimsAgree(indices.getDimSize(i), result.getDimSize(i)))
      return op->emitOpError("result dimension ")
             << i << " does not match indices dimension";
  if (!dimsAgree(lastDim(result), width))
    return op->emitOpError("result feature size ")
           << lastDim(result) << " does not match embedding width " << width;
  return success();
}

/// Checks an optional inline component of a quantized parameter.
static LogicalResult verifyComponent(Operation *op, StringRef what,
                                     std::optional<ElementsAttr> value,
                                     RankedTensorType expected) {
  if (!value)
    return success();
  if (!expected)
    return op->emitOpError("has inline ")
           << what << " but its scheme does not use them";
  if (value->getType() != expected)
    return op->emitOpError("inline ")
           << what << " must be " << expected << ", got " << value->getType();
  return success();
}

//===----------------------------------------------------------------------===//
// Parameter references: `"scope"::"key"` or `"key"`
//===----------------------------------------------------------------------===//

/// Parses `"scope"::"key" attr-dict : type` or `"key" attr-dict : type`.
template <typename TypeT>
static ParseResult parseParamRef(OpAsmParser &parser, OperationState &result,
                                 StringRef scopeName, StringRef nameName) {
  StringAttr first, second;
  if (parser.parseAttribute(first, parser.getBuilder().getNoneType()))
    return failure();
  bool typeColonSeen = false;
  if (succeeded(parser.parseOptionalColon())) {
    if (succeeded(parser.parseOptionalColon())) {
      if (parser.parseAttribute(second, parser.getBuilder().getNoneType()))
        return failure();
      result.addAttribute(scopeName, first);
      result.addAttribute(nameName, second);
    } else {
      // `"key" : type`: the colon was the type's.
      typeColonSeen = true;
      result.addAttribute(nameName, first);
    }
  } else {
    result.addAttribute(nameName, first);
  }
  if (!typeColonSeen &&
      (parser.parseOptionalAttrDict(result.attributes) || parser.parseColon()))
    return failure();
  Type type;
  llvm::SMLoc typeLoc = parser.getCurrentLocation();
  if (parser.parseType(type))
    return failure();
  if (!isa<TypeT>(type))
    return parser.emitError(typeLoc, "unexpected result type ") << type;
  result.addTypes(type);
  return success();
}

static void printParamRef(OpAsmPrinter &p, Operation *op, StringAttr scope,
                          StringAttr name, ArrayRef<StringRef> elided) {
  p << ' ';
  if (scope) {
    p.printAttributeWithoutType(scope);
    p << "::";
  }
  p.printAttributeWithoutType(name);
  p.printOptionalAttrDict(op->getAttrs(), elided);
  p << " : " << op->getResult(0).getType();
}

/// A scoped reference must name a scope of the enclosing module and carries
/// no inline data.
static LogicalResult verifyScopeRef(Operation *op, StringAttr scope,
                                    StringRef name, bool hasInline) {
  if (name.empty())
    return op->emitOpError("parameter name must not be empty");
  if (!scope)
    return success();
  if (scope.getValue().empty())
    return op->emitOpError("parameter '") << name << "' has an empty scope";
  if (hasInline)
    return op->emitOpError("parameter '")
           << name << "' has inline data and a scope ('" << scope.getValue()
           << "'); inline parameters have no scope";
  if (!lookupParameterScope(op, scope.getValue()))
    return op->emitOpError("parameter '")
           << name << "' references unknown scope '" << scope.getValue()
           << "' (not in the module's " << kParameterScopesAttrName << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

ParseResult ParamOp::parse(OpAsmParser &parser, OperationState &result) {
  return parseParamRef<RankedTensorType>(
      parser, result, getScopeAttrName(result.name).getValue(),
      getNameAttrName(result.name).getValue());
}

void ParamOp::print(OpAsmPrinter &p) {
  printParamRef(p, *this, getScopeAttr(), getNameAttr(),
                {getScopeAttrName().getValue(), getNameAttrName().getValue()});
}

LogicalResult ParamOp::verify() {
  if (failed(verifyScopeRef(*this, getScopeAttr(), getName(),
                            getValue().has_value())))
    return failure();
  if (std::optional<ElementsAttr> value = getValue())
    if (value->getType() != getType())
      return emitOpError("inline value type ")
             << value->getType() << " does not match result type " << getType();
  return success();
}

//===----------------------------------------------------------------------===//
// QParamOp
//===----------------------------------------------------------------------===//

ParseResult QParamOp::parse(OpAsmParser &parser, OperationState &result) {
  return parseParamRef<QWeightType>(parser, result,
                                    getScopeAttrName(result.name).getValue(),
                                    getNameAttrName(result.name).getValue());
}

void QParamOp::print(OpAsmPrinter &p) {
  printParamRef(p, *this, getScopeAttr(), getNameAttr(),
                {getScopeAttrName().getValue(), getNameAttrName().getValue()});
}

LogicalResult QParamOp::verify() {
  bool anyInline = getCodes() || getScales() || getZeros() || getPerm();
  if (failed(verifyScopeRef(*this, getScopeAttr(), getName(), anyInline)))
    return failure();
  QWeightType type = getType();
  if (anyInline) {
    if (!getCodes() || !getScales())
      return emitOpError("inline quantized parameter needs both codes and "
                         "scales");
    if (type.getZerosType() && !getZeros())
      return emitOpError("inline asymmetric parameter needs zeros");
    if (type.getPermType() && !getPerm())
      return emitOpError("inline act-order parameter needs perm");
  }
  if (failed(
          verifyComponent(*this, "codes", getCodes(), type.getCodesType())) ||
      failed(verifyComponent(*this, "scales", getScales(),
                             type.getScalesType())) ||
      failed(
          verifyComponent(*this, "zeros", getZeros(), type.getZerosType())) ||
      failed(verifyComponent(*this, "perm", getPerm(), type.getPermType())))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  QWeightType input = getInput().getType();
  RankedTensorType result = getResult().getType();
  if (result.getShape() != input.getShape())
    return emitOpError("result shape [")
           << result.getShape() << "] does not match quantized weight shape ["
           << input.getShape() << "]";
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  RankedTensorType table = getTable().getType();
  RankedTensorType indices = getIndices().getType();
  RankedTensorType result = getResult().getType();
  if (table.getRank() != 2)
    return emitOpError("table must be 2-D [V, D], got rank ")
           << table.getRank();
  if (failed(verifyLookupShapes(*this, indices, result, table.getDimSize(1))))
    return failure();
  if (table.getElementType() != result.getElementType())
    return emitOpError("result element type must match the table's");
  return success();
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType weight = getWeight().getType();
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  if (weight.getRank() != 1 || !dimsAgree(weight.getDimSize(0), lastDim(input)))
    return emitOpError("weight must be [")
           << lastDim(input) << "] (the last input dimension), got " << weight;
  if (!(getEpsilon().convertToFloat() > 0.0f))
    return emitOpError("epsilon must be positive, got ")
           << getEpsilon().convertToFloat();
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  RankedTensorType weight = getWeight().getType();
  if (weight.getRank() != 2)
    return emitOpError("weight must be 2-D [N, K], got rank ")
           << weight.getRank();
  RankedTensorType bias = getBias()
                              ? cast<RankedTensorType>(getBias().getType())
                              : RankedTensorType();
  return verifyMatmulShapes(*this, getInput().getType(), weight.getDimSize(0),
                            weight.getDimSize(1), bias, getResult().getType());
}

//===----------------------------------------------------------------------===//
// RotaryOp
//===----------------------------------------------------------------------===//

LogicalResult RotaryOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType positions = getPositions().getType();
  int64_t headDim = getHeadDim();
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError("head_dim must be positive and even, got ") << headDim;
  if (input.getRank() != 2)
    return emitOpError("input must be 2-D [T, heads * head_dim], got rank ")
           << input.getRank();
  if (!ShapedType::isDynamic(lastDim(input)) && lastDim(input) % headDim != 0)
    return emitOpError("input width ")
           << lastDim(input) << " is not a multiple of head_dim " << headDim;
  if (positions.getRank() != 1 ||
      !dimsAgree(positions.getDimSize(0), input.getDimSize(0)))
    return emitOpError("positions must be [T] matching the input rows");
  if (!(getTheta().convertToDouble() > 0.0))
    return emitOpError("theta must be positive");
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  int64_t numHeads = getNumHeads(), numKVHeads = getNumKvHeads(),
          headDim = getHeadDim();
  if (getLayerAttr().getInt() < 0)
    return emitOpError("layer must be non-negative, got ")
           << getLayerAttr().getInt();
  if (numHeads <= 0 || numKVHeads <= 0 || headDim <= 0)
    return emitOpError("num_heads, num_kv_heads and head_dim must be "
                       "positive");
  if (numHeads % numKVHeads != 0)
    return emitOpError("num_heads ")
           << numHeads << " is not a multiple of num_kv_heads " << numKVHeads;
  if (std::optional<int64_t> window = getSlidingWindow())
    if (*window <= 0)
      return emitOpError("sliding_window must be positive, got ") << *window;
  RankedTensorType q = getQuery().getType(), k = getKey().getType(),
                   v = getValue().getType(), pos = getPositions().getType(),
                   result = getResult().getType();
  for (auto [name, type] :
       {std::make_pair("query", q), std::make_pair("key", k),
        std::make_pair("value", v), std::make_pair("result", result)})
    if (type.getRank() != 2)
      return emitOpError(name) << " must be 2-D [T, heads * head_dim]";
  if (!dimsAgree(lastDim(q), numHeads * headDim))
    return emitOpError("query width ")
           << lastDim(q)
           << " must be num_heads * head_dim = " << numHeads * headDim;
  if (!dimsAgree(lastDim(k), numKVHeads * headDim) ||
      !dimsAgree(lastDim(v), numKVHeads * headDim))
    return emitOpError("key and value width must be num_kv_heads * "
                       "head_dim = ")
           << numKVHeads * headDim;
  if (result != q)
    return emitOpError("result type must match the query type");
  if (pos.getRank() != 1)
    return emitOpError("positions must be 1-D [T]");
  int64_t t = q.getDimSize(0);
  if (!dimsAgree(t, k.getDimSize(0)) || !dimsAgree(t, v.getDimSize(0)) ||
      !dimsAgree(t, pos.getDimSize(0)))
    return emitOpError("query, key, value and positions must have the same "
                       "number of tokens");
  if (q.getElementType() != k.getElementType() ||
      q.getElementType() != v.getElementType())
    return emitOpError("query, key and value must have the same element type");
  return success();
}

//===----------------------------------------------------------------------===//
// QMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult QMatmulOp::verify() {
  QWeightType weight = getWeight().getType();
  RankedTensorType bias = getBias()
                              ? cast<RankedTensorType>(getBias().getType())
                              : RankedTensorType();
  return verifyMatmulShapes(*this, getInput().getType(), weight.getN(),
                            weight.getK(), bias, getResult().getType());
}

//===----------------------------------------------------------------------===//
// QEmbeddingOp
//===----------------------------------------------------------------------===//

QWeightType QEmbeddingOp::getQWeightType() {
  Type type = getTable().getType();
  if (auto packed = dyn_cast<PackedType>(type))
    return packed.getQWeightType();
  return cast<QWeightType>(type);
}

LogicalResult QEmbeddingOp::verify() {
  QWeightType table = getQWeightType();
  RankedTensorType indices = getIndices().getType();
  RankedTensorType result = getResult().getType();
  if (table.getScheme().getActOrder())
    return emitOpError("act-order tables are not supported (their columns "
                       "are permuted)");
  return verifyLookupShapes(*this, indices, result, table.getK());
}

//===----------------------------------------------------------------------===//
// GraphOpInterface: each graph op onto its entry of the runtime's op table
// (runtime/include/lowbitrt/OpTable.h; docs/adding-an-op.md)
//===----------------------------------------------------------------------===//

namespace {
NamedAttribute named(Operation *op, StringRef name, Attribute value) {
  return NamedAttribute(StringAttr::get(op->getContext(), name), value);
}
NamedAttribute namedInt(Operation *op, StringRef name, int64_t value) {
  return named(op, name,
               IntegerAttr::get(IntegerType::get(op->getContext(), 64), value));
}
NamedAttribute namedF64(Operation *op, StringRef name, double value) {
  return named(op, name,
               FloatAttr::get(Float64Type::get(op->getContext()), value));
}
NamedAttribute namedString(Operation *op, StringRef name, StringRef value) {
  return named(op, name, StringAttr::get(op->getContext(), value));
}
} // namespace

SmallVector<Value> EmbeddingOp::getSemanticInputs() { return {getIndices()}; }
SmallVector<Value> EmbeddingOp::getSemanticWeights() { return {getTable()}; }

SmallVector<Value> QEmbeddingOp::getSemanticInputs() { return {getIndices()}; }
SmallVector<Value> QEmbeddingOp::getSemanticWeights() { return {getTable()}; }
void QEmbeddingOp::getSemanticAttrs(SmallVectorImpl<NamedAttribute> &attrs,
                                    std::optional<int64_t>,
                                    std::string &unsupported) {
  QWeightType type = getQWeightType();
  SchemeAttr scheme = type.getScheme();
  attrs.push_back(namedInt(*this, "N", type.getN()));
  attrs.push_back(namedInt(*this, "K", type.getK()));
  attrs.push_back(namedInt(*this, "bits", scheme.getBits()));
  attrs.push_back(namedInt(*this, "group_size", scheme.getGroupSize()));
  attrs.push_back(named(*this, "symmetric",
                        BoolAttr::get(getContext(), scheme.getSymmetric())));
  Type scaleType = scheme.getScaleType();
  if (scaleType.isF32())
    attrs.push_back(namedString(*this, "scale_type", "f32"));
  else if (scaleType.isF16())
    attrs.push_back(namedString(*this, "scale_type", "f16"));
  else
    unsupported = "a quantized table with scale type other than f32 or f16";
  auto packed = dyn_cast<PackedType>(getTable().getType());
  if (!packed) {
    unsupported = "an unpacked quantized table (run -lowbit-materialize-packs)";
    return;
  }
  attrs.push_back(namedString(*this, "layout", packed.getLayout()));
  if (scheme.hasMinZero())
    attrs.push_back(namedString(*this, "zero_form", "min"));
  if (scheme.hasSuperGroups())
    attrs.push_back(namedInt(*this, "super_group", scheme.getSuperGroup()));
}

SmallVector<Value> RMSNormOp::getSemanticInputs() { return {getInput()}; }
SmallVector<Value> RMSNormOp::getSemanticWeights() { return {getWeight()}; }
void RMSNormOp::getSemanticAttrs(SmallVectorImpl<NamedAttribute> &attrs,
                                 std::optional<int64_t>, std::string &) {
  attrs.push_back(namedF64(*this, "eps", getEpsilon().convertToDouble()));
}

SmallVector<Value> LinearOp::getSemanticInputs() { return {getInput()}; }
SmallVector<Value> LinearOp::getSemanticWeights() {
  return {getWeight(), getBias()};
}

SmallVector<Value> RotaryOp::getSemanticInputs() {
  return {getInput(), getPositions()};
}
void RotaryOp::getSemanticAttrs(SmallVectorImpl<NamedAttribute> &attrs,
                                std::optional<int64_t>, std::string &) {
  attrs.push_back(
      namedString(*this, "style", stringifyRotaryStyle(getStyle())));
  attrs.push_back(namedF64(*this, "theta", getTheta().convertToDouble()));
  attrs.push_back(namedInt(*this, "head_dim", getHeadDim()));
}

SmallVector<Value> AttentionOp::getSemanticInputs() {
  return {getQuery(), getKey(), getValue(), getPositions()};
}
void AttentionOp::getSemanticAttrs(SmallVectorImpl<NamedAttribute> &attrs,
                                   std::optional<int64_t> contextLength,
                                   std::string &unsupported) {
  int64_t hd = getHeadDim();
  if (std::optional<APFloat> scale = getScale()) {
    double expected = 1.0 / std::sqrt(static_cast<double>(hd));
    if (std::abs(scale->convertToDouble() - expected) > 1e-6 * expected)
      unsupported = "a softmax scale other than 1/sqrt(head_dim)";
  }
  // A window at least as long as the context is full attention.
  if (std::optional<int64_t> window = getSlidingWindow()) {
    if (!contextLength)
      unsupported = "sliding-window attention";
    else if (*window < *contextLength)
      unsupported = "sliding_window " + std::to_string(*window) +
                    " shorter than the context (" +
                    std::to_string(*contextLength) + ")";
  }
  attrs.push_back(namedInt(*this, "layer", getLayer()));
  attrs.push_back(namedInt(*this, "num_heads", getNumHeads()));
  attrs.push_back(namedInt(*this, "num_kv_heads", getNumKvHeads()));
  attrs.push_back(namedInt(*this, "head_dim", hd));
}

SmallVector<Value> GatedActOp::getSemanticInputs() {
  return {getGate(), getUp()};
}
// The table's schema lists the kinds the kernels implement.
void GatedActOp::getSemanticAttrs(SmallVectorImpl<NamedAttribute> &attrs,
                                  std::optional<int64_t>, std::string &) {
  attrs.push_back(namedString(*this, "kind", stringifyGatedActKind(getKind())));
}

SmallVector<Value> AddOp::getSemanticInputs() { return {getLhs(), getRhs()}; }

double
mlir::lowbit::getSchemeBitsPerWeight(Operation *root,
                                     llvm::StringMap<double> *perWeight) {
  llvm::StringMap<QWeightType> types;
  root->walk([&](QParamOp q) { types.try_emplace(q.getName(), q.getType()); });
  // Summed in name order, so the total does not depend on the walk.
  SmallVector<const llvm::StringMapEntry<QWeightType> *> sorted;
  for (const auto &entry : types)
    sorted.push_back(&entry);
  llvm::sort(sorted, [](const auto *a, const auto *b) {
    return a->getKey() < b->getKey();
  });
  double bits = 0.0, weights = 0.0;
  for (const auto *entry : sorted) {
    QWeightType type = entry->getValue();
    const double n = double(type.getN()) * double(type.getK());
    const double perWeightBits = type.getBitsPerWeight();
    bits += perWeightBits * n;
    weights += n;
    if (perWeight)
      (*perWeight)[entry->getKey()] = perWeightBits;
  }
  return weights > 0 ? bits / weights : 0.0;
}
