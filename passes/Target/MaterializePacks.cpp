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
    getOperation().walk([&](QMatmulOp op) {
      auto layout = op->getAttrOfType<StringAttr>(kLayoutAttrName);
      if (!layout) {
        op.emitOpError("has no '")
            << kLayoutAttrName
            << "' attribute; run -lowbit-select-layouts first";
        ok = false;
        return;
      }
      Value weight = op.getWeight();
      QWeightType type = op.getWeight().getType();
      auto packedType = PackedType::get(&getContext(), type.getShape(),
                                        type.getScheme(), layout.getValue());
      // One pack per weight and layout: reuse an existing one.
      for (Operation *user : weight.getUsers())
        if (auto pack = dyn_cast<PackOp>(user);
            pack && pack.getType() == packedType)
          return;
      builder.setInsertionPointAfterValue(weight);
      PackOp::create(builder, weight.getLoc(), packedType, weight);
    });
    if (!ok)
      signalPassFailure();
  }
};

} // namespace
