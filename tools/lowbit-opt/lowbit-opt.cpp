//===- lowbit-opt.cpp - the lowbit optimizer driver -------------*- C++ -*-===//
//
// Runs lowbit passes and pipelines on textual or bytecode IR, like mlir-opt.
//
//===----------------------------------------------------------------------===//

#include "lowbit/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  lowbit::registerAllPasses();
  mlir::DialectRegistry registry;
  lowbit::registerAllDialects(registry);
  // Target passes and dialects; the registry itself is not needed afterwards.
  lowbit::TargetRegistry targets;
  lowbit::registerAllTargets(targets, registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "lowbit optimizer driver\n", registry));
}
