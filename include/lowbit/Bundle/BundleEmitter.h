//===- BundleEmitter.h - lowering a model to a .lowbit bundle ---*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Writes a deployable `.lowbit` bundle for one target from a lowbit module
/// at the kernel level (lowbit-to-bundle-pipeline: quantized matmuls are
/// lowbit.dispatch ops of kernels in a translated lowbit.executable). It is
/// generic: it calls no target hook, everything comes from the IR.
///
///  - flattens @forward and the decoder blocks it calls into one dispatch
///    program, assigns the values to reusable buffers by liveness, and
///    records it in the manifest (docs/bundle-manifest.md); a dispatch's
///    "kernels" are the `lowbit.exports` of its kernel;
///  - stores float parameters as f32 tensors and every packed weight
///    (lowbit.pack) encoded with the codec its layout names
///    (runtime/include/lowbitrt/Codec.h), act-order columns in quantization
///    order plus the permutation the program gathers with;
///  - stores the code blob of every lowbit.binary;
///  - embeds the model config, tokenizer.json and provenance.
///
/// The output is deterministic and written atomically.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_BUNDLE_BUNDLEEMITTER_H
#define LOWBIT_BUNDLE_BUNDLEEMITTER_H

#include "lowbit/Support/ParamStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

/// The version written into manifests as compiler.version.
inline constexpr llvm::StringLiteral kCompilerVersion = "0.1.0";

struct BundleEmitOptions {
  /// Merged into the manifest's "provenance" object (method, options,
  /// inputs, ...). Must not contain host-specific values such as absolute
  /// paths or times, or the bundle stops being reproducible.
  llvm::json::Object provenance;
  /// An Ed25519 private key (PEM file) to sign the manifest and code blobs
  /// with (a `signature` section, lowbitrt/Signature.h); empty: unsigned.
  /// Not recorded in the bundle, whose other bytes do not depend on it.
  std::string signingKey;
};

/// One quantized weight as written.
struct QuantizedWeightStats {
  std::string name;
  /// The packed tensor in the target's codec (codes, scales, zero points).
  uint64_t packedBytes = 0;
  /// Everything stored for it: the packed tensor and an act-order
  /// permutation.
  uint64_t bytes = 0;
  /// Weights it holds (N * K).
  int64_t weights = 0;
};

/// Sizes of what was written, for reports.
struct BundleStats {
  uint64_t fileBytes = 0;
  uint64_t floatWeightBytes = 0;
  uint64_t quantizedWeightBytes = 0;
  uint64_t codeBytes = 0;
  /// Elements of the float tensors (stored as f32).
  int64_t floatWeights = 0;
  int64_t numOps = 0;
  int64_t numBuffers = 0;
  std::vector<QuantizedWeightStats> layers;
};

/// Emits the bundle of `module` for `target` at `path`. Float and quantized
/// tensors the IR references by scope and key are read through the
/// context's ParamResolver (lowbit/Params/ParamResolver.h), the tokenizer
/// from the module's `lowbit.tokenizer`. Errors name the op or tensor at
/// fault; diagnostics emitted on ops are also returned in the error message.
llvm::Error emitBundle(mlir::ModuleOp module, llvm::StringRef target,
                       const BundleEmitOptions &options, llvm::StringRef path,
                       BundleStats *stats = nullptr);

/// The BLAKE3 hash (hex) of a file's contents, for provenance.
llvm::Expected<std::string> hashFile(llvm::StringRef path);

} // namespace lowbit

#endif // LOWBIT_BUNDLE_BUNDLEEMITTER_H
