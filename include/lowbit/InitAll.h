//===- InitAll.h - register every lowbit dialect and pass -------*- C++ -*-===//
//
// Explicit registration (no static constructors): tools call these from main.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_INITALL_H
#define LOWBIT_INITALL_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Target/TargetRegistry.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace lowbit {

/// Registers the lowbit dialect and the upstream dialects lowbit IR uses.
inline void registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::lowbit::LowbitDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect>();
}

/// Registers every lowbit pass and pipeline, plus the upstream generic
/// transforms (canonicalize, cse, ...) that pipelines use.
inline void registerAllPasses() {
  mlir::lowbit::registerLowbitPasses();
  mlir::lowbit::registerLowbitPipelines();
  mlir::registerTransformsPasses();
}

/// Fills `targets` with every target built into the binary (the CMake list
/// LOWBIT_TARGETS), registers each target's passes and adds the dialects its
/// pipeline needs to `registry`. Callers link LowbitTargets.
inline void registerAllTargets(TargetRegistry &targets,
                               mlir::DialectRegistry &registry) {
  registerAllTargets(targets);
  for (const TargetBackend *target : targets.targets()) {
    target->registerPasses();
    target->getDependentDialects(registry);
  }
}

} // namespace lowbit

#endif // LOWBIT_INITALL_H
