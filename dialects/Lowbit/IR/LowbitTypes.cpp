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
  return RankedTensorType::get({getN(), getNumGroups()},
                               getScheme().getScaleType());
}

RankedTensorType QWeightType::getZerosType() const {
  if (!getScheme().getZeroType())
    return {};
  return RankedTensorType::get({getN(), getNumGroups()},
                               getScheme().getZeroType());
}

double QWeightType::getBitsPerWeight() const {
  double bits = 0.0;
  for (RankedTensorType t :
       {getCodesType(), getScalesType(), getZerosType(), getPermType()})
    if (t)
      bits += double(t.getNumElements()) *
              double(t.getElementType().getIntOrFloatBitWidth());
  return bits / (double(getN()) * double(getK()));
}

RankedTensorType QWeightType::getPermType() const {
  if (!getScheme().getActOrder())
    return {};
  return RankedTensorType::get({getK()}, IntegerType::get(getContext(), 32));
}
