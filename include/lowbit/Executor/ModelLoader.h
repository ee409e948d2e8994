//===- ModelLoader.h - open a model for execution ---------------*- C++ -*-===//
//
// Tools accept a model as a Hugging Face directory or a GGUF file (imported
// on the fly), a lowbit IR file, or a directory holding `model.mlir` (what
// lowbit-compile
// --emit quantized writes, with its parameters beside it). This resolves any
// of them to a module in its own context, whose parameter resolver is set up
// to find the scopes the module records (docs/parameters.md).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_EXECUTOR_MODELLOADER_H
#define LOWBIT_EXECUTOR_MODELLOADER_H

#include "lowbit/Support/ParamStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lowbit {

/// Name of the parameter file lowbit-compile --emit quantized writes (the
/// model.mlir beside it records it as a parameter scope).
inline constexpr llvm::StringLiteral kQuantizedParamsFile =
    "params.safetensors";
inline constexpr llvm::StringLiteral kModelIRFile = "model.mlir";

struct LoadedModel {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// tokenizer.json of the model, "" if unknown.
  std::string tokenizerPath;
};

/// Opens `path` (HF directory, GGUF file, IR file or quantized model
/// directory) and
/// configures the context's ParamResolver: scope paths relative to the IR
/// file's directory (an imported directory: the current directory), with
/// `scopeOverrides` (scope name -> location) taking precedence.
llvm::Expected<LoadedModel>
loadModel(llvm::StringRef path,
          const std::map<std::string, std::string> &scopeOverrides = {});

} // namespace lowbit

#endif // LOWBIT_EXECUTOR_MODELLOADER_H
