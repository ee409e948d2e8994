//===- ModelLoader.h - open a model for execution ---------------*- C++ -*-===//
//
// Tools accept a model as a Hugging Face directory (imported on the fly), a
// lowbit IR file, or a directory holding `model.mlir` (what lowbit-compile
// --emit quantized writes, with its parameters beside it). This resolves any
// of them to a module plus the parameter stores it references.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_EXECUTOR_MODELLOADER_H
#define LOWBIT_EXECUTOR_MODELLOADER_H

#include "lowbit/Support/ParamStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace lowbit {

/// Name of the parameter file a quantized model directory carries.
inline constexpr llvm::StringLiteral kQuantizedParamsFile =
    "params.safetensors";
inline constexpr llvm::StringLiteral kModelIRFile = "model.mlir";

struct LoadedModel {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// Stores in lookup order (quantized outputs first, then the checkpoint).
  std::vector<std::unique_ptr<ParamStore>> stores;
  std::unique_ptr<OverlayStore> overlay;
  /// tokenizer.json of the model, "" if unknown.
  std::string tokenizerPath;

  const ParamStore &store() const { return *overlay; }
};

/// Opens `path` (HF directory, IR file or quantized model directory).
/// `weightsOverride`, when not empty, replaces the checkpoint directory the
/// IR records.
llvm::Expected<LoadedModel> loadModel(llvm::StringRef path,
                                      llvm::StringRef weightsOverride = "");

} // namespace lowbit

#endif // LOWBIT_EXECUTOR_MODELLOADER_H
