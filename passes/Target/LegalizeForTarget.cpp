//===- LegalizeForTarget.cpp - lowbit-legalize-for-target -------*- C++ -*-===//
//
// Checks every op against a target's isLegal hook and records the target on
// the module as #lowbit.target.
//
//===----------------------------------------------------------------------===//

#include "TargetPassUtils.h"

#include "lowbit/Passes/Passes.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Regex.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLEGALIZEFORTARGET
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

struct LowbitLegalizeForTargetPass
    : mlir::lowbit::impl::LowbitLegalizeForTargetBase<
          LowbitLegalizeForTargetPass> {
  using Base::Base;

  LogicalResult initialize(MLIRContext *) override {
    targets = createAllTargetsRegistry();
    return success();
  }

  /// The target attribute the options ask for; errors on `module`.
  FailureOr<TargetAttr>
  buildTargetAttr(ModuleOp module, const ::lowbit::TargetBackend &backend) {
    llvm::ArrayRef<StringRef> supported = backend.getSupportedFeatures();
    std::vector<std::string> requested(features.begin(), features.end());
    // Without `features`, a module already legalized for this target keeps
    // its features and any other gets all the target supports.
    auto existing = module->getAttrOfType<TargetAttr>(kTargetAttrName);
    if (requested.empty() && existing &&
        existing.getName() == backend.getName())
      for (StringAttr f : existing.getFeatures())
        requested.push_back(f.str());
    else if (requested.empty())
      requested.assign(supported.begin(), supported.end());
    llvm::sort(requested);
    requested.erase(llvm::unique(requested), requested.end());
    SmallVector<StringAttr> featureAttrs;
    for (const std::string &f : requested) {
      if (!llvm::is_contained(supported, f))
        return module.emitError("target '")
               << backend.getName() << "' does not support feature '" << f
               << "' (supported: "
               << (supported.empty() ? std::string("none")
                                     : llvm::join(supported, ", "))
               << ")";
      featureAttrs.push_back(StringAttr::get(module.getContext(), f));
    }
    return TargetAttr::get(module.getContext(), backend.getName(),
                           featureAttrs);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<const ::lowbit::TargetBackend *> backend =
        lookupTarget(module, *targets, target);
    if (failed(backend))
      return signalPassFailure();
    if (actBits != 0 && actBits != 8) {
      module.emitError("act-bits must be 0 (float activations) or 8, got ")
          << static_cast<unsigned>(actBits);
      return signalPassFailure();
    }
    FailureOr<TargetAttr> attr = buildTargetAttr(module, **backend);
    if (failed(attr))
      return signalPassFailure();
    if (auto existing = module->getAttrOfType<TargetAttr>(kTargetAttrName);
        existing && existing != *attr) {
      module.emitError("module is already legalized for ")
          << existing << ", not " << *attr;
      return signalPassFailure();
    }

    if (!actFloat.empty() && actBits == 0) {
      module.emitError("act-float '")
          << actFloat << "' needs act-bits=8 (without it every quantized "
          << "matmul keeps float activations)";
      return signalPassFailure();
    }
    if (actBits != 0) {
      std::optional<llvm::Regex> keepFloat;
      if (!actFloat.empty()) {
        keepFloat.emplace(actFloat);
        std::string why;
        if (!keepFloat->isValid(why)) {
          module.emitError("act-float '")
              << actFloat << "' is not a valid regular expression: " << why;
          return signalPassFailure();
        }
      }
      Builder b(module.getContext());
      int64_t keptFloat = 0;
      module.walk([&](QMatmulOp op) {
        auto param = op.getWeight().getDefiningOp<QParamOp>();
        if (keepFloat && param && keepFloat->match(param.getName())) {
          // Also when an earlier run of the pass set it.
          op.removeActBitsAttr();
          ++keptFloat;
          return;
        }
        op.setActBitsAttr(b.getI64IntegerAttr(actBits));
      });
      if (keepFloat && keptFloat == 0) {
        module.emitError("act-float '")
            << actFloat << "' matches no quantized matmul's weight name";
        return signalPassFailure();
      }
    }
    bool legal = true;
    module.walk([&](Operation *op) {
      std::string reason;
      if (!(*backend)->isLegal(op, reason)) {
        op->emitOpError("cannot be compiled for target ")
            << (*backend)->getName() << ": " << reason;
        legal = false;
      }
    });
    if (!legal)
      return signalPassFailure();
    module->setAttr(kTargetAttrName, *attr);
  }

  std::shared_ptr<const ::lowbit::TargetRegistry> targets;
};

} // namespace
