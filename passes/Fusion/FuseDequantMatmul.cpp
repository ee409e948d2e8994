//===- FuseDequantMatmul.cpp - lowbit-fuse-dequant-matmul -------*- C++ -*-===//
//
// Folds lowbit.dequantize into lowbit.linear (lowbit.qmatmul) and
// lowbit.embedding (lowbit.qembedding).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITFUSEDEQUANTMATMUL
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// linear(x, dequantize(q), b) -> qmatmul(x, q, b).
struct FuseLinearOfDequantize : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    auto dequant = op.getWeight().getDefiningOp<DequantizeOp>();
    if (!dequant)
      return rewriter.notifyMatchFailure(op, "weight is not dequantized");
    if (dequant.getType().getElementType() !=
        op.getResult().getType().getElementType())
      return rewriter.notifyMatchFailure(
          op, "dequantized element type differs from the result's");
    rewriter.replaceOpWithNewOp<QMatmulOp>(op, op.getType(), op.getInput(),
                                           dequant.getInput(), op.getBias(),
                                           /*act_bits=*/nullptr);
    return success();
  }
};

/// embedding(dequantize(q), ids) -> qembedding(q, ids).
struct FuseEmbeddingOfDequantize : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    auto dequant = op.getTable().getDefiningOp<DequantizeOp>();
    if (!dequant)
      return rewriter.notifyMatchFailure(op, "table is not dequantized");
    if (dequant.getInput().getType().getScheme().getActOrder())
      return rewriter.notifyMatchFailure(op, "act-order table");
    if (dequant.getType().getElementType() !=
        op.getResult().getType().getElementType())
      return rewriter.notifyMatchFailure(
          op, "dequantized element type differs from the result's");
    rewriter.replaceOpWithNewOp<QEmbeddingOp>(
        op, op.getType(), dequant.getInput(), op.getIndices());
    return success();
  }
};

struct LowbitFuseDequantMatmulPass
    : mlir::lowbit::impl::LowbitFuseDequantMatmulBase<
          LowbitFuseDequantMatmulPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseDequantMatmulPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::lowbit::populateFuseDequantMatmulPatterns(
    RewritePatternSet &patterns) {
  patterns.add<FuseLinearOfDequantize, FuseEmbeddingOfDequantize>(
      patterns.getContext());
}
