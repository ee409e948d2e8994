//===- Passes.h - lowbit pass declarations ----------------------*- C++ -*-===//

#ifndef LOWBIT_PASSES_PASSES_H
#define LOWBIT_PASSES_PASSES_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class OpPassManager;
class RewritePatternSet;
namespace lowbit {

#define GEN_PASS_DECL
#include "lowbit/Passes/Passes.h.inc"

/// Registers the pass pipelines `lowbit-quantize-pipeline` and
/// `lowbit-to-bundle-pipeline` (lowbit::registerAllPasses calls it).
void registerLowbitPipelines();

/// Appends the passes of `lowbit-to-bundle-pipeline` before
/// `lowbit-emit-bundle` to `pm`: fuse-dequant-matmul, the target's codegen
/// pipeline, legalize-for-target (with `actBits` and `actFloat`),
/// select-layouts, materialize-packs, outline-kernels and
/// translate-executables. Reports an unknown target or unsupported `actBits`
/// through `error`.
LogicalResult
buildLowbitToKernelPipeline(OpPassManager &pm, StringRef target,
                            unsigned actBits, StringRef actFloat,
                            function_ref<LogicalResult(const Twine &)> error);

/// Patterns of lowbit-fuse-dequant-matmul.
void populateFuseDequantMatmulPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "lowbit/Passes/Passes.h.inc"

} // namespace lowbit
} // namespace mlir

#endif // LOWBIT_PASSES_PASSES_H
