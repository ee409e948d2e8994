//===- Passes.h - lowbit pass declarations ----------------------*- C++ -*-===//

#ifndef LOWBIT_PASSES_PASSES_H
#define LOWBIT_PASSES_PASSES_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace lowbit {

#define GEN_PASS_DECL
#include "lowbit/Passes/Passes.h.inc"

/// Registers the pass pipelines `lowbit-quantize-pipeline` and
/// `lowbit-to-bundle-pipeline` (lowbit::registerAllPasses calls it).
void registerLowbitPipelines();

/// Patterns of lowbit-fuse-dequant-matmul.
void populateFuseDequantMatmulPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "lowbit/Passes/Passes.h.inc"

} // namespace lowbit
} // namespace mlir

#endif // LOWBIT_PASSES_PASSES_H
