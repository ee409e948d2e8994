//===- HFImporter.h - Hugging Face checkpoint importer ----------*- C++ -*-===//
//
// Builds lowbit graph IR for a Hugging Face causal-LM directory
// (config.json + safetensors). Weights stay in the checkpoint: the IR only
// references them by name.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_HFIMPORTER_H
#define LOWBIT_IMPORT_HFIMPORTER_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Support/HFConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

namespace lowbit {

class ParamStore;

/// Module attribute names written by the importer and read by the executor
/// and the driver.
namespace attrs {
inline constexpr llvm::StringLiteral kConfig = "lowbit.config";
inline constexpr llvm::StringLiteral kTokenizer =
    mlir::lowbit::kTokenizerAttrName;
inline constexpr llvm::StringLiteral kEntry = "forward";
} // namespace attrs

/// Builds the graph IR of a model with `config` whose tensors live in
/// `store` (checked against the config first, unless `store` is null: the
/// caller has checked them). Parameters reference the `checkpoint` scope,
/// recorded with the relative `checkpointPath` and the scope format
/// `scopeFormat` ("safetensors" or "gguf"); `tokenizer` ("" omits it) is
/// recorded relative to the checkpoint's directory.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
buildModelIR(mlir::MLIRContext *ctx, const ModelConfig &config,
             const ParamStore *store, llvm::StringRef dirForErrors,
             llvm::StringRef checkpointPath, llvm::StringRef tokenizer,
             llvm::StringRef scopeFormat = "safetensors");

/// Imports the Hugging Face model directory `dir`: parses config.json, opens
/// the (possibly sharded) safetensors, validates every tensor and builds the
/// IR. The module records `dir` as its `checkpoint` scope, relative to
/// `baseDir` (the directory the IR is written to; "" is the current
/// directory), and tokenizer.json when the directory has one.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importHFModel(mlir::MLIRContext *ctx, llvm::StringRef dir,
              llvm::StringRef baseDir = "");

} // namespace lowbit

#endif // LOWBIT_IMPORT_HFIMPORTER_H
