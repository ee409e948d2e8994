//===- SelectLayouts.cpp - lowbit-select-layouts ----------------*- C++ -*-===//
//
// Records the packed weight layout the module's target selects on every
// lowbit.qmatmul.
//
//===----------------------------------------------------------------------===//

#include "TargetPassUtils.h"

#include "lowbit/Passes/Passes.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITSELECTLAYOUTS
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

struct LowbitSelectLayoutsPass
    : mlir::lowbit::impl::LowbitSelectLayoutsBase<LowbitSelectLayoutsPass> {
  LogicalResult initialize(MLIRContext *) override {
    targets = createAllTargetsRegistry();
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<TargetAttr> target =
        getModuleTarget(module, "-lowbit-select-layouts");
    if (failed(target))
      return signalPassFailure();
    FailureOr<const ::lowbit::TargetBackend *> backend =
        lookupTarget(module, *targets, target->getName());
    if (failed(backend))
      return signalPassFailure();

    bool ok = true;
    module.walk([&](QMatmulOp op) {
      FailureOr<std::string> layout = (*backend)->selectLayout(op);
      if (failed(layout)) {
        ok = false;
        return;
      }
      op->setAttr(kLayoutAttrName, StringAttr::get(&getContext(), *layout));
    });
    // A quantized table takes the layout of the qmatmul that shares it (a
    // tied output projection), so both read one packed tensor; otherwise
    // the target's.
    module.walk([&](QEmbeddingOp op) {
      if (!ok || !isa<QWeightType>(op.getTable().getType()))
        return;
      StringAttr layout;
      for (Operation *user : op.getTable().getUsers())
        if (auto matmul = dyn_cast<QMatmulOp>(user))
          if (auto l = matmul->getAttrOfType<StringAttr>(kLayoutAttrName)) {
            layout = l;
            break;
          }
      if (!layout) {
        FailureOr<std::string> selected = (*backend)->selectLayout(op);
        if (failed(selected)) {
          ok = false;
          return;
        }
        layout = StringAttr::get(&getContext(), *selected);
      }
      op->setAttr(kLayoutAttrName, layout);
    });
    if (!ok)
      signalPassFailure();
  }

  std::shared_ptr<const ::lowbit::TargetRegistry> targets;
};

} // namespace
