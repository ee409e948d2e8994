//===- HFImporter.h - Hugging Face checkpoint importer ----------*- C++ -*-===//
//
// Builds lowbit graph IR for a Hugging Face causal-LM directory
// (config.json + safetensors). Weights stay in the checkpoint: the IR only
// references them by name.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_HFIMPORTER_H
#define LOWBIT_IMPORT_HFIMPORTER_H

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
inline constexpr llvm::StringLiteral kWeights = "lowbit.weights";
inline constexpr llvm::StringLiteral kTokenizer = "lowbit.tokenizer";
inline constexpr llvm::StringLiteral kEntry = "forward";
} // namespace attrs

/// Builds the graph IR of a model with `config` whose tensors live in
/// `store` (checked against the config first). `weightsPath` and
/// `tokenizerPath` are recorded as module attributes ("" omits them).
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
buildModelIR(mlir::MLIRContext *ctx, const ModelConfig &config,
             const ParamStore &store, llvm::StringRef dirForErrors,
             llvm::StringRef weightsPath, llvm::StringRef tokenizerPath);

/// Imports the Hugging Face model directory `dir`: parses config.json, opens
/// the (possibly sharded) safetensors, validates every tensor and builds the
/// IR. The module records `dir` as its weights location.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importHFModel(mlir::MLIRContext *ctx, llvm::StringRef dir);

} // namespace lowbit

#endif // LOWBIT_IMPORT_HFIMPORTER_H
