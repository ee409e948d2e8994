//===- LowbitTypes.cpp - lowbit type verifiers and helpers ------*- C++ -*-===//

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"

using namespace mlir;
using namespace mlir::lowbit;

LogicalResult QWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<int64_t> shape, SchemeAttr scheme) {
  if (shape.size() != 2)
    return emitError() << "quantized weight must be 2-D [N, K], got rank "
                       << shape.size();
  if (shape[0] <= 0 || shape[1] <= 0)
    return emitError() << "quantized weight dimensions must be positive, got "
                       << shape[0] << "x" << shape[1];
  return success();
}

RankedTensorType QWeightType::getCodesType() const {
  MLIRContext *ctx = getContext();
  return RankedTensorType::get(
      getShape(),
      IntegerType::get(ctx, getScheme().getBits(), IntegerType::Unsigned));
}

RankedTensorType QWeightType::getScalesType() const {
  // Super-block schemes hold the exact products d * c in f32.
  Type element = getScheme().hasSuperGroups()
                     ? Type(Float32Type::get(getContext()))
                     : getScheme().getScaleType();
  return RankedTensorType::get({getN(), getNumGroups()}, element);
}

RankedTensorType QWeightType::getZerosType() const {
  if (!getScheme().getZeroType())
    return {};
  return RankedTensorType::get({getN(), getNumGroups()},
                               getScheme().getZeroType());
}

double QWeightType::getBitsPerWeight() const {
  double bits = 0.0;
  for (RankedTensorType t : {getCodesType(), getZerosType(), getPermType()})
    if (t)
      bits += double(t.getNumElements()) *
              double(t.getElementType().getIntOrFloatBitWidth());
  SchemeAttr scheme = getScheme();
  const double rows = double(getN()), groups = double(getNumGroups());
  if (scheme.hasSuperGroups()) {
    // 8-bit codes per group, one scale per row and super-block.
    const int64_t S = scheme.getSuperGroup();
    const double supers = double((getNumGroups() + S - 1) / S);
    bits +=
        rows * groups * 8.0 +
        rows * supers * double(scheme.getScaleType().getIntOrFloatBitWidth());
  } else {
    bits +=
        rows * groups * double(scheme.getScaleType().getIntOrFloatBitWidth());
  }
  return bits / (double(getN()) * double(getK()));
}

RankedTensorType QWeightType::getPermType() const {
  if (!getScheme().getActOrder())
    return {};
  return RankedTensorType::get({getK()}, IntegerType::get(getContext(), 32));
}
