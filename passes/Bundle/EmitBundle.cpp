//===- EmitBundle.cpp - lowbit-emit-bundle ----------------------*- C++ -*-===//
//
// Writes a deployable .lowbit bundle from a module at the kernel level
// (lib/Bundle), with tensors read through the module's parameter scopes.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Bundle/BundleEmitter.h"
#include "lowbit/Bundle/Provenance.h"
#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Params/ParamResolver.h"
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
    // The name must be a registered target; nothing else of it is used.
    ::lowbit::TargetRegistry targets;
    ::lowbit::registerAllTargets(targets);
    if (auto found = targets.lookup(target); !found)
      return module.emitError() << llvm::toString(found.takeError());
    if (auto recorded = module->getAttrOfType<mlir::lowbit::TargetAttr>(
            mlir::lowbit::kTargetAttrName);
        recorded && recorded.getName() != target)
      return module.emitError("module is legalized for target '")
             << recorded.getName() << "', not '" << target << "'";
    ::lowbit::BundleEmitOptions options;
    llvm::Expected<llvm::json::Object> provenance =
        ::lowbit::canonicalProvenance(module);
    if (!provenance)
      return module.emitError()
             << output << ": " << llvm::toString(provenance.takeError());
    options.provenance = std::move(*provenance);
    options.signingKey = signKey;
    ::lowbit::BundleStats stats;
    if (llvm::Error err =
            ::lowbit::emitBundle(module, target, options, output, &stats))
      return module.emitError()
             << output << ": " << llvm::toString(std::move(err));
    ::lowbit::ParamResolver::get(&getContext())
        .recordOutput(output, ::lowbit::summarizeBundle(stats));
    return success();
  }
};

} // namespace
