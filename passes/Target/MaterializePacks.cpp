//===- MaterializePacks.cpp - lowbit-materialize-packs ----------*- C++ -*-===//
//
// Inserts one lowbit.pack per quantized weight and selected layout.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITMATERIALIZEPACKS
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

struct LowbitMaterializePacksPass
    : mlir::lowbit::impl::LowbitMaterializePacksBase<
          LowbitMaterializePacksPass> {
  void runOnOperation() override {
    bool ok = true;
    OpBuilder builder(&getContext());
    // One pack per weight and layout: an existing one is reused.
    auto packOf = [&](Operation *op, Value weight) -> PackOp {
      auto layout = op->getAttrOfType<StringAttr>(kLayoutAttrName);
      if (!layout) {
        op->emitOpError("has no '")
            << kLayoutAttrName
            << "' attribute; run -lowbit-select-layouts first";
        ok = false;
        return nullptr;
      }
      auto type = cast<QWeightType>(weight.getType());
      auto packedType = PackedType::get(&getContext(), type.getShape(),
                                        type.getScheme(), layout.getValue());
      for (Operation *user : weight.getUsers())
        if (auto pack = dyn_cast<PackOp>(user);
            pack && pack.getType() == packedType)
          return pack;
      builder.setInsertionPointAfterValue(weight);
      return PackOp::create(builder, weight.getLoc(), packedType, weight);
    };
    getOperation().walk(
        [&](QMatmulOp op) { (void)packOf(op, op.getWeight()); });
    // A quantized table reads its pack directly (a graph op, not a kernel).
    getOperation().walk([&](QEmbeddingOp op) {
      if (!isa<QWeightType>(op.getTable().getType()))
        return;
      if (PackOp pack = packOf(op, op.getTable())) {
        op.getTableMutable().assign(pack.getResult());
        op->removeAttr(kLayoutAttrName);
      }
    });
    if (!ok)
      signalPassFailure();
  }
};

} // namespace
