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
#include "lowbit/Support/OutputFile.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
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

  // Standard output, and the modes that print lists instead of IR, keep
  // MLIR's driver as is.
  mlir::MlirOptMainConfig optConfig =
      mlir::MlirOptMainConfig::createFromCLOptions();
  if (outputFilename == "-" || optConfig.shouldShowDialects() ||
      optConfig.shouldListPasses())
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));

  llvm::InitLLVM y(argc, argv);
  // A file goes through the atomic output helper (lowbit/Support/
  // OutputFile.h): a temporary in the output's directory, renamed only when
  // the passes succeeded and every byte was written; /dev/null and FIFOs are
  // written directly. The output is checked before the passes run.
  if (llvm::Error err = lowbit::checkOutputFile(outputFilename)) {
    llvm::WithColor::error(llvm::errs(), "lowbit-opt")
        << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  std::string message;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputFilename, &message);
  if (!input) {
    llvm::errs() << message << "\n";
    return 1;
  }
  bool passesFailed = false;
  llvm::Error err = lowbit::writeOutputFile(
      outputFilename, [&](llvm::raw_ostream &os) -> llvm::Error {
        if (mlir::failed(
                mlir::MlirOptMain(os, std::move(input), registry, optConfig))) {
          passesFailed = true; // the diagnostics are already printed
          return llvm::createStringError("lowbit-opt failed");
        }
        return llvm::Error::success();
      });
  if (err) {
    if (passesFailed)
      llvm::consumeError(std::move(err));
    else
      llvm::WithColor::error(llvm::errs(), "lowbit-opt")
          << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  return 0;
}
