//===- GgufImporter.h - GGUF model importer ---------------------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Builds lowbit graph IR for a llama or qwen2 model stored as one GGUF file
// (llama.cpp's format). The IR is the one HFImporter builds for the same
// model as a Hugging Face directory; its `checkpoint` parameter scope has
// the format "gguf" and names the file, whose tensors are served under
// Hugging Face names (GgufStore).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_GGUFIMPORTER_H
#define LOWBIT_IMPORT_GGUFIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

namespace lowbit {

/// Whether `path` names a GGUF file rather than a directory or an IR file:
/// a regular file whose name ends in `.gguf` or that starts with the GGUF
/// magic.
bool isGgufPath(llvm::StringRef path);

/// Imports the GGUF model `path`: reads the configuration from its metadata,
/// checks every tensor (Hugging Face name, dequantizable type, shape; none
/// missing) and builds the IR. The module records `path` as its `checkpoint`
/// scope (format "gguf"), relative to `baseDir` (the directory the IR is
/// written to; "" is the current directory). Errors name the file and the
/// metadata key or tensor at fault.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importGgufModel(mlir::MLIRContext *ctx, llvm::StringRef path,
                llvm::StringRef baseDir = "");

/// Imports `path` as a GGUF file when isGgufPath() says so, else as a
/// Hugging Face directory.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importModel(mlir::MLIRContext *ctx, llvm::StringRef path,
            llvm::StringRef baseDir = "");

} // namespace lowbit

#endif // LOWBIT_IMPORT_GGUFIMPORTER_H
