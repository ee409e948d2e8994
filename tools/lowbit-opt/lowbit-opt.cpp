//===- lowbit-opt.cpp - the lowbit optimizer driver -------------*- C++ -*-===//
//
// Runs lowbit passes and pipelines on textual or bytecode IR, like mlir-opt.
//
// Parameter scopes (`lowbit.parameter_scopes`) are resolved relative to the
// input file's directory (the current directory for stdin);
// `--param-scope NAME=PATH` replaces the path a scope records. Every context
// the driver creates gets a ParamResolver configured this way
// (docs/parameters.md).
//
//===----------------------------------------------------------------------===//

#include "lowbit/InitAll.h"
#include "lowbit/Params/ParamResolver.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

int main(int argc, char **argv) {
  lowbit::registerAllPasses();
  mlir::DialectRegistry registry;
  lowbit::registerAllDialects(registry);
  // Target passes and dialects; the registry itself is not needed afterwards.
  lowbit::TargetRegistry targets;
  lowbit::registerAllTargets(targets, registry);

  llvm::cl::list<std::string> paramScopes(
      "param-scope",
      llvm::cl::desc("NAME=PATH: read parameter scope NAME from PATH instead "
                     "of the path the IR records (repeatable)"),
      llvm::cl::value_desc("NAME=PATH"));
  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "lowbit optimizer driver\n", registry);

  lowbit::ParamResolverConfig config;
  if (inputFilename != "-") {
    config.baseDir = llvm::sys::path::parent_path(inputFilename).str();
    if (config.baseDir.empty())
      config.baseDir = ".";
  }
  if (llvm::Error err = lowbit::parseScopeOverrides(
          std::vector<std::string>(paramScopes.begin(), paramScopes.end()),
          config)) {
    llvm::WithColor::error(llvm::errs(), "lowbit-opt")
        << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  lowbit::addParamResolverExtension(registry, std::move(config));
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));
}
