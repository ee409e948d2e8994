//===- QuantPassUtils.h - helpers shared by quantization passes -*- C++ -*-===//

#ifndef LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H
#define LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H

#include "lowbit/Quant/QuantSession.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace lowbit {

/// Emits `err` on `op` and returns failure.
inline mlir::LogicalResult emitErr(mlir::Operation *op, llvm::Error err) {
  op->emitError() << llvm::toString(std::move(err));
  return mlir::failure();
}

} // namespace lowbit

#endif // LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H
