//===- TargetPassUtils.cpp - helpers shared by the target passes ----------===//

#include "TargetPassUtils.h"

using namespace mlir;
using namespace mlir::lowbit;

std::shared_ptr<const ::lowbit::TargetRegistry>
mlir::lowbit::createAllTargetsRegistry() {
  auto registry = std::make_shared<::lowbit::TargetRegistry>();
  ::lowbit::registerAllTargets(*registry);
  return registry;
}

FailureOr<const ::lowbit::TargetBackend *>
mlir::lowbit::lookupTarget(Operation *anchor,
                           const ::lowbit::TargetRegistry &targets,
                           StringRef name) {
  llvm::Expected<const ::lowbit::TargetBackend &> target = targets.lookup(name);
  if (!target)
    return anchor->emitError(llvm::toString(target.takeError()));
  return &*target;
}

FailureOr<TargetAttr> mlir::lowbit::getModuleTarget(ModuleOp module,
                                                    StringRef pass) {
  auto target = module->getAttrOfType<TargetAttr>(kTargetAttrName);
  if (!target)
    return module.emitError("module has no '")
           << kTargetAttrName << "' attribute (needed by " << pass
           << "); run -lowbit-legalize-for-target first";
  return target;
}
