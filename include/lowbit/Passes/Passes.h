//===- Passes.h - lowbit pass declarations ----------------------*- C++ -*-===//

#ifndef LOWBIT_PASSES_PASSES_H
#define LOWBIT_PASSES_PASSES_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "mlir/Pass/Pass.h"

namespace lowbit {
class QuantSession;
} // namespace lowbit

namespace mlir {
class RewritePatternSet;
namespace lowbit {

#define GEN_PASS_DECL
#include "lowbit/Passes/Passes.h.inc"

/// Quantization passes sharing `session` (stores, report) with the rest of a
/// pipeline; the caller writes the session's outputs. With a null session
/// they behave as registered (their own session, written per options).
std::unique_ptr<Pass>
createRtnQuantizePass(const LowbitRtnQuantizeOptions &options,
                      ::lowbit::QuantSession *session);
std::unique_ptr<Pass>
createGptqQuantizePass(const LowbitGptqQuantizeOptions &options,
                       ::lowbit::QuantSession *session);

/// Patterns of lowbit-fuse-dequant-matmul.
void populateFuseDequantMatmulPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "lowbit/Passes/Passes.h.inc"

} // namespace lowbit
} // namespace mlir

#endif // LOWBIT_PASSES_PASSES_H
