//===- Repack.h - x86 quantized weight layout -------------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// LLVM-flavoured wrappers around the codec "x86-tile16-v1"
/// (runtime/include/lowbitrt/CodecX86Tile16.h), the packed weight layout
/// read by the generated x86 qmatmul kernels. The layout (and its byte-level
/// description) is defined once, in lowbitrt_codecs; this header only turns
/// the codec's bool + message results into llvm::Expected / llvm::Error for
/// the kernel generator, its tests and benchmarks.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TARGET_X86_REPACK_H
#define LOWBIT_TARGET_X86_REPACK_H

#include "lowbitrt/CodecX86Tile16.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace lowbit::x86 {

/// Storage type of scales and zero offsets (x86 supports F32 and F16).
using ScaleType = codec::ScaleType;

/// Row tile of the packed layout (and of every generated kernel).
constexpr int64_t kTileRows = codec::X86Tile16Layout::kTileRows;
/// Columns per block; groups are padded to a multiple of it.
constexpr int64_t kBlockCols = codec::X86Tile16Layout::kBlockCols;

/// The static description of one packed weight matrix.
struct PackedLayout : codec::X86Tile16Layout {
  /// Validates the parameters with the codec's supports().
  static llvm::Expected<PackedLayout> get(unsigned bits, int64_t groupSize,
                                          bool symmetric, ScaleType scaleType,
                                          int64_t K, int64_t N,
                                          int64_t superGroup = 0);
};

/// Packs codes [N, K] (values < 2^bits), scales [N, numGroups] and, for
/// asymmetric layouts, zeros [N, numGroups] (must be empty when symmetric).
llvm::Expected<std::vector<uint8_t>> repack(const PackedLayout &layout,
                                            llvm::ArrayRef<uint8_t> codes,
                                            llvm::ArrayRef<float> scales,
                                            llvm::ArrayRef<uint8_t> zeros);

/// The inverse of repack. Scales come back as stored (rounded to f16 for
/// F16 layouts); zeros are recovered as round(-m / s) (0 where s == 0) and
/// left empty for symmetric layouts.
llvm::Error unpack(const PackedLayout &layout, llvm::ArrayRef<uint8_t> packed,
                   std::vector<uint8_t> &codes, std::vector<float> &scales,
                   std::vector<uint8_t> &zeros);

/// The dequantization the kernels compute: W = s * q + m with s and m as
/// stored (m = -s * z, or -s * 2^(bits-1) when symmetric). Returns [N, K].
llvm::Expected<std::vector<float>>
effectiveWeights(const PackedLayout &layout, llvm::ArrayRef<uint8_t> packed);

/// IEEE binary16 conversions (round to nearest even).
using codec::floatToHalf;
using codec::halfToFloat;

} // namespace lowbit::x86

#endif // LOWBIT_TARGET_X86_REPACK_H
