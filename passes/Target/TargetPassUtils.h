//===- TargetPassUtils.h - helpers shared by the target passes --*- C++ -*-===//
//
// The target passes look targets up in a TargetRegistry. Registered passes
// (lowbit-opt) fill their own registry with every target built into the
// binary when they initialize; no registry is global.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_PASSES_TARGET_TARGETPASSUTILS_H
#define LOWBIT_PASSES_TARGET_TARGETPASSUTILS_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Target/TargetRegistry.h"

#include "mlir/IR/BuiltinOps.h"

#include <memory>

namespace mlir::lowbit {

/// A registry holding every target of the binary (registerAllTargets).
std::shared_ptr<const ::lowbit::TargetRegistry> createAllTargetsRegistry();

/// The target called `name`; on failure emits an error on `anchor` that
/// lists the available targets.
FailureOr<const ::lowbit::TargetBackend *>
lookupTarget(Operation *anchor, const ::lowbit::TargetRegistry &targets,
             StringRef name);

/// The module's `lowbit.target`; on failure emits an error on `module` that
/// names `pass` and says to run -lowbit-legalize-for-target first.
FailureOr<TargetAttr> getModuleTarget(ModuleOp module, StringRef pass);

} // namespace mlir::lowbit

#endif // LOWBIT_PASSES_TARGET_TARGETPASSUTILS_H
