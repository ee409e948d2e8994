//===- X86Driver.h - runs generated x86 qmatmul kernels ---------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The runtime side of the x86 target: loading the kernel library of a
/// bundle (an ELF shared object, format `x86-elf-so-v1`) from memory through
/// memfd_create + dlopen, resolving kernel symbols, the byte size of the
/// packed weight layout (asked of the codec x86-tile16-v1, lowbitrt/Codec.h,
/// which also packs the weights in the compiler), and the threaded dispatch
/// of one quantized matmul. The runtime contains no
/// hand-written quantized matmul: every product runs in a generated kernel.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_X86_X86DRIVER_H
#define LOWBITRT_X86_X86DRIVER_H

#include "lowbitrt/Codec.h"
#include "lowbitrt/X86KernelABI.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace lowbit::rt::kernels {
class ThreadPool;
} // namespace lowbit::rt::kernels

namespace lowbitrt::x86 {

/// The code blob format this driver loads.
constexpr const char *kX86CodeFormat = "x86-elf-so-v1";

/// The weight layout the generated kernels read (a lowbitrt/Codec.h name).
constexpr const char *kX86WeightLayout = lowbit::codec::kX86Tile16Codec;

/// The parameters of a packed weight (layout kX86WeightLayout).
struct PackedShape {
  int bits = 4;
  /// -1: one group per row.
  int64_t groupSize = 128;
  bool symmetric = true;
  bool f16Scales = false;
  /// 0, or groups per super-block of 8-bit scale codes (WeightDesc).
  int64_t superGroup = 0;
  int64_t K = 0;
  int64_t N = 0;
};

/// The exact byte size of the packed layout of \p shape
/// (findCodec(kX86WeightLayout)->byteSize), or -1 with \p err set when the
/// codec does not support the parameters (bits not in {2, 3, 4, 8}, group
/// size 0 or below -1, K or N not in [1, 2^31], or a size that overflows).
int64_t packedWeightBytes(const PackedShape &shape, std::string &err);

/// A kernel library loaded from memory. Unloaded on destruction.
class KernelLibrary {
public:
  ~KernelLibrary();
  KernelLibrary(const KernelLibrary &) = delete;
  KernelLibrary &operator=(const KernelLibrary &) = delete;

  /// Loads \p size bytes of a shared object of format \p format. Returns
  /// null with \p err set on failure; \p unsupported is set when the format
  /// tag is not kX86CodeFormat.
  static std::unique_ptr<KernelLibrary> load(const uint8_t *data, size_t size,
                                             std::string_view format,
                                             std::string &err,
                                             bool &unsupported);

  /// The kernel named \p symbol, or null.
  lowbit_x86_qmatmul_fn lookup(const std::string &symbol) const;

private:
  KernelLibrary() = default;
  int fd = -1;
  void *handle = nullptr;
};

/// One quantized matmul bound to its kernels: y = x' W^T (+ bias) with
/// x'[t, j] = x[t, perm[j]] when a permutation is given.
struct QMatmulCall {
  /// The batch-tile-1 kernel (T == 1) and the largest-tile kernel (T > 1).
  lowbit_x86_qmatmul_fn gemv = nullptr;
  lowbit_x86_qmatmul_fn gemm = nullptr;
  const uint8_t *packed = nullptr;
  const float *bias = nullptr;
  const int32_t *perm = nullptr;
  int64_t N = 0;
  int64_t K = 0;
};

/// Runs \p call on \p T rows of \p x [T, K] into \p y [T, N], splitting N
/// over \p pool (may be null) into one contiguous range of
/// LOWBIT_X86_TILE_ROWS-row tiles per thread (products under 64K
/// multiply-adds run on the caller).
/// With a permutation the gathered activations go to \p permScratch (at
/// least T * K floats). Allocates nothing.
void runQMatmul(const QMatmulCall &call, const float *x, int64_t T, float *y,
                float *permScratch, lowbit::rt::kernels::ThreadPool *pool);

} // namespace lowbitrt::x86

#endif // LOWBITRT_X86_X86DRIVER_H
