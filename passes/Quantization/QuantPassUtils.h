//===- QuantPassUtils.h - helpers shared by quantization passes -*- C++ -*-===//

#ifndef LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H
#define LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H

#include "lowbit/Quant/QuantSession.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace lowbit {

/// The session a quantization pass works in: the pipeline's, or one it owns
/// and finishes itself.
class PassSession {
public:
  /// Uses `external` when given, else opens a session on `module`.
  static llvm::Expected<PassSession>
  get(mlir::ModuleOp module, QuantSession *external, llvm::StringRef weights);
  QuantSession &operator*() const { return *session; }
  QuantSession *operator->() const { return session; }

  /// For an owned session: writes the output tensors to `outputParams` and
  /// the report to `report`. Quantized tensors that are not inline need an
  /// output file.
  llvm::Error finish(llvm::StringRef outputParams, llvm::StringRef report);

private:
  std::unique_ptr<QuantSession> owned;
  QuantSession *session = nullptr;
};

/// Emits `err` on `op` and returns failure.
inline mlir::LogicalResult emitErr(mlir::Operation *op, llvm::Error err) {
  op->emitError() << llvm::toString(std::move(err));
  return mlir::failure();
}

} // namespace lowbit

#endif // LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H
