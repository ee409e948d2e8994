//===- lowbit-import.cpp - Hugging Face / GGUF model -> lowbit IR -*- C++
//-*-===//
//
// lowbit-import MODEL [-o model.mlir] [--emit-bytecode]
//
// Reads config.json and the (possibly sharded) safetensors of a Hugging Face
// causal LM, or a llama/qwen2 GGUF file (MODEL ending in .gguf), validates
// them and prints the lowbit graph IR. Weights are not copied: the IR names
// them and records MODEL as its `checkpoint` parameter scope, by a path
// relative to the output file's directory (to the current directory when
// printing to stdout), so the IR holds no host path.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/GgufImporter.h"
#include "lowbit/Support/OutputFile.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  cl::OptionCategory category("lowbit-import options");
  cl::opt<std::string> modelDir(
      cl::Positional, cl::Required,
      cl::desc("<Hugging Face model directory or .gguf file>"),
      cl::cat(category));
  cl::opt<std::string> output("o", cl::desc("Output file ('-' for stdout)"),
                              cl::value_desc("file"), cl::init("-"),
                              cl::cat(category));
  cl::opt<bool> emitBytecode("emit-bytecode",
                             cl::desc("Write MLIR bytecode instead of text"),
                             cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "lowbit-import: Hugging Face causal LM (config.json + safetensors) or "
      "GGUF file -> lowbit graph IR\n");

  // Pre-flight: an unwritable output fails before the import.
  if (Error e = lowbit::checkOutputFile(output, /*dashIsStdout=*/true)) {
    WithColor::error(errs(), "lowbit-import") << toString(std::move(e)) << "\n";
    return 1;
  }

  mlir::MLIRContext ctx;
  // Scope paths are relative to the directory of the IR file.
  std::string baseDir;
  if (output != "-") {
    baseDir = sys::path::parent_path(output).str();
    if (baseDir.empty())
      baseDir = ".";
  }
  auto module = lowbit::importModel(&ctx, modelDir, baseDir);
  if (!module) {
    WithColor::error(errs(), "lowbit-import")
        << toString(module.takeError()) << "\n";
    return 1;
  }
  // Through the atomic output helper: a failure never leaves a half-written
  // output or replaces a good one; /dev/null and FIFOs are written directly.
  Error err = lowbit::writeOutputFile(
      output,
      [&](raw_ostream &os) -> Error {
        if (emitBytecode) {
          if (failed(mlir::writeBytecodeToFile(module->get(), os)))
            return createStringError("failed to write bytecode");
        } else {
          module->get()->print(os);
          os << "\n";
        }
        return Error::success();
      },
      /*dashIsStdout=*/true);
  if (err) {
    WithColor::error(errs(), "lowbit-import")
        << toString(std::move(err)) << "\n";
    return 1;
  }
  return 0;
}
