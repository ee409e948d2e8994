//===- EmitBundle.cpp - lowbit-emit-bundle ----------------------*- C++ -*-===//
//
// Writes a deployable .lowbit bundle from a fused module (lib/Bundle), with
// tensors read through the module's parameter scopes.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Bundle/BundleEmitter.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Target/TargetRegistry.h"

#include "mlir/IR/Builders.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITEMITBUNDLE
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {

struct EmitBundlePass
    : mlir::lowbit::impl::LowbitEmitBundleBase<EmitBundlePass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    if (output.empty())
      return module.emitError("lowbit-emit-bundle needs output=FILE");
    if (actBits != 0 && actBits != 8)
      return module.emitError("act-bits must be 0 (float activations) or 8, "
                              "got ")
             << static_cast<unsigned>(actBits);
    ::lowbit::TargetRegistry targets;
    ::lowbit::registerAllTargets(targets);
    auto found = targets.lookup(target);
    if (!found)
      return module.emitError() << llvm::toString(found.takeError());
    const ::lowbit::TargetBackend &backend = *found;
    if (actBits != 0) {
      Builder b(module.getContext());
      module.walk([&](mlir::lowbit::QMatmulOp op) {
        op.setActBitsAttr(b.getI64IntegerAttr(actBits));
      });
    }
    bool legal = true;
    module.walk([&](Operation *op) {
      std::string reason;
      if (!backend.isLegal(op, reason)) {
        op->emitOpError("cannot be compiled for target ")
            << backend.getName() << ": " << reason;
        legal = false;
      }
    });
    if (!legal)
      return failure();
    ::lowbit::BundleEmitOptions options;
    options.provenance = llvm::json::Object{{"producer", "lowbit-emit-bundle"}};
    if (llvm::Error err =
            ::lowbit::emitBundle(module, backend, options, output))
      return module.emitError()
             << output << ": " << llvm::toString(std::move(err));
    return success();
  }
};

} // namespace
