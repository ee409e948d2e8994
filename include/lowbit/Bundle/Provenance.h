//===- Provenance.h - canonical provenance and bundle summaries -*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// What a bundle records about how it was made, and what the emitter tells
/// the tool that ran it. Both are built from what the passes recorded in
/// the context (ParamResolver::recordStep / recordOutput), never from a
/// tool's command line, so `lowbit-opt` running a pipeline string and
/// `lowbit-compile` running the same string give the same bundle.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_BUNDLE_PROVENANCE_H
#define LOWBIT_BUNDLE_PROVENANCE_H

#include "lowbit/Bundle/BundleEmitter.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

namespace lowbit {

/// The canonical provenance of `module` (the manifest's "provenance"):
///
///   "passes": the passes of this context that quantized the module, in the
///             order they ran, each in canonical textual form (every option
///             that shapes the result, defaults included, sorted; no output
///             locations; input files by base name);
///   "inputs": {"file": "<scope or label>/<base name>", "blake3": hex} for
///             the files of every parameter scope read from disk (a
///             directory: its .json and .safetensors files, sorted), in
///             scope-name order, then the files the passes read (e.g.
///             "calib/calib.txt").
///
/// No absolute paths, times or command-line spellings: equivalent
/// invocations give identical provenance.
llvm::Expected<llvm::json::Object> canonicalProvenance(mlir::ModuleOp module);

/// `stats` as lowbit-emit-bundle records it for the tool's report:
/// {"sizes": {bundle_bytes, float_weight_bytes, quantized_weight_bytes,
/// code_bytes}, "program": {ops, buffers}, "packed_bytes": {layer: bytes}}.
llvm::json::Object summarizeBundle(const BundleStats &stats);

} // namespace lowbit

#endif // LOWBIT_BUNDLE_PROVENANCE_H
