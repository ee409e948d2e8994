//===- TargetBackend.h - interface of a compiler target ---------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The compiler-side interface every target (x86, cuda, vulkan, metal, ...)
/// implements. A target lives in one folder, lib/Target/<Name>/, whose
/// <Name>Target.cpp defines a TargetBackend subclass and ends with
/// LOWBIT_DEFINE_TARGET(<name>, <Name>Target); see docs/adding-a-target.md.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TARGET_TARGETBACKEND_H
#define LOWBIT_TARGET_TARGETBACKEND_H

#include "lowbitrt/Codec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
class Operation;
class OpPassManager;
} // namespace mlir

namespace lowbit {

/// The code a target produces for one module: an opaque blob plus the tags
/// the runtime driver uses to pick a loader.
struct TargetCode {
  /// The target's name, as returned by TargetBackend::getName().
  std::string target;
  /// Versioned format tag shared by the target's serialize() and the runtime
  /// driver's loader, e.g. "x86-elf-so-v1", "cuda-ptx-v1", "vulkan-spirv-v1".
  /// A loader rejects any tag it does not know.
  std::string format;
  /// The blob itself (an ELF shared object, PTX text, SPIR-V words, ...).
  std::vector<uint8_t> bytes;
};

/// A quantized weight handed to TargetBackend::packWeight(), unpacked:
/// W[n, j] = scales[n, g(j)] * (codes[n, j] - zero[n, g(j)]) with
/// g(j) = j / groupSize (one group per row when groupSize is -1) and
/// zero = 2^(bits-1) when symmetric. Columns are in quantization order: for
/// act-order weights the bundle emitter has already permuted them, and the
/// program gathers the activations to match.
struct QuantizedWeight {
  unsigned bits = 4;
  int64_t groupSize = 128;
  bool symmetric = true;
  /// Storage type of the scales requested by the scheme ("f32", "f16", ...).
  std::string scaleType = "f32";
  int64_t N = 0;
  int64_t K = 0;
  /// [N, K] codes in [0, 2^bits).
  llvm::ArrayRef<uint8_t> codes;
  /// [N, numGroups] scales (already rounded to scaleType).
  llvm::ArrayRef<float> scales;
  /// [N, numGroups] zero points, empty when symmetric.
  llvm::ArrayRef<uint8_t> zeros;
};

/// A compiler target. Implementations must be stateless after construction
/// (no mutable state shared between modules) so one instance can serve
/// several compilations.
class TargetBackend {
public:
  virtual ~TargetBackend();

  /// The target's one lowercase name, used everywhere: CMake (LOWBIT_TARGETS),
  /// #lowbit.target<"name">, pass prefixes (lowbit-<name>-...), the runtime
  /// driver and CLI flags.
  virtual llvm::StringRef getName() const = 0;

  /// Adds the dialects the target's pipeline creates (e.g. gpu, nvvm, spirv)
  /// so tools can parse and print its intermediate IR.
  virtual void getDependentDialects(mlir::DialectRegistry &registry) const {}

  /// Registers the target's own passes and pipelines with MLIR's pass
  /// registry. Called once from a tool's main; never from a constructor.
  virtual void registerPasses() const {}

  /// Whether the target can run `op` (ggml's supports_op). On false, `reason`
  /// says why in a lowercase message without trailing period, naming the
  /// offending values, e.g. "act-order weights are not supported".
  virtual bool isLegal(mlir::Operation *op, std::string &reason) const = 0;

  /// Appends the target's codegen passes (layout, tiling, lowering to the
  /// target dialects) to `pm`, which runs on the module. May add nothing when
  /// serialize() works directly on lowbit-level IR.
  virtual void buildCodegenPipeline(mlir::OpPassManager &pm) const {}

  /// Produces the target's code for `module` (after buildCodegenPipeline).
  /// Must be deterministic: the same module gives the same bytes. On failure
  /// emits a diagnostic on the offending op (or the module) and returns
  /// failure; `out` is then unspecified.
  virtual mlir::LogicalResult serialize(mlir::ModuleOp module,
                                        TargetCode &out) const = 0;

  //===--- Kernel level (passes/Target) -----------------------------------===//
  //
  // -lowbit-legalize-for-target records #lowbit.target<name, features> on the
  // module, -lowbit-select-layouts asks selectLayout() for each qmatmul (and
  // each quantized table no qmatmul shares),
  // -lowbit-materialize-packs and -lowbit-outline-kernels are generic, and
  // -lowbit-translate-executables calls serializeExecutable() per executable.

  /// Every feature #lowbit.target<"name", features = [...]> may list for this
  /// target, sorted and unique. The default target attribute enables all of
  /// them. Default: none.
  virtual llvm::ArrayRef<llvm::StringRef> getSupportedFeatures() const {
    return {};
  }

  /// The versioned layout codec (runtime/include/lowbitrt/Codec.h) that the
  /// weight of `matmul` (a legal lowbit.qmatmul, or a lowbit.qembedding whose
  /// table no qmatmul shares) is packed in for this target, e.g.
  /// "x86-tile16-v1". On failure emits a diagnostic on `matmul`. The default
  /// reports that the target has no packed layouts.
  virtual mlir::FailureOr<std::string>
  selectLayout(mlir::Operation *matmul) const;

  /// Bits per weight the target stores for a quantized weight of `desc`
  /// (codes, scales, zero points and layout padding over N * K), or
  /// nothing when its kernels cannot run that scheme: what a bit budget on
  /// this target counts (lowbit-compile --target-bpw). Default: nothing.
  virtual std::optional<double>
  getStoredBitsPerWeight(const codec::WeightDesc &desc) const;

  /// Produces the code of `executable`, a lowbit.executable whose
  /// #lowbit.target names this target, from its lowbit.kernel ops alone
  /// (honouring the target attribute's features). Must be deterministic. On
  /// failure emits a diagnostic on the offending op. The default reports that
  /// the target cannot translate executables.
  virtual mlir::LogicalResult serializeExecutable(mlir::Operation *executable,
                                                  TargetCode &out) const;

  //===--- Weight packing ------------------------------------------------===//

  /// Converts the quantized weight of `matmul` (a lowbit.qmatmul) into the
  /// layout the target's kernels read; the bundle stores the bytes as tensor
  /// "<weight name>.<target>". Must be deterministic. The default checks
  /// isLegal(matmul) and encodes with the codec selectLayout(matmul) names;
  /// the bundle records that name as the op's "layout" and the runtime
  /// driver rejects layouts it does not read.
  virtual mlir::LogicalResult packWeight(mlir::Operation *matmul,
                                         const QuantizedWeight &weight,
                                         std::vector<uint8_t> &out) const;
};

} // namespace lowbit

#endif // LOWBIT_TARGET_TARGETBACKEND_H
