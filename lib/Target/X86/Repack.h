//===- Repack.h - x86 quantized weight layout -------------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The packed weight layout read by the generated x86 qmatmul kernels, and
/// the conversion from unpacked codes/scales/zeros into it (and back).
///
/// Semantics: W[n, k] = s[n, g(k)] * (q[n, k] - z[n, g(k)]) with unsigned
/// codes q in [0, 2^bits), g(k) = k / G and, for symmetric schemes, the
/// implicit zero z = 2^(bits-1).
///
/// Layout (one layout for every ISA and arithmetic path, so a bundle can carry
/// one copy of the weights and pick the kernel variant at run time):
///
///  - Rows are tiled by kTileRows = 16. Tile t holds rows [16t, 16t + 16);
///    rows past N are padding (codes 0, scales 0, offsets 0). Every tile has
///    the same size, tileBytes(), a multiple of 64, so tile t starts at
///    t * tileBytes().
///  - Each group of len_g = min(G, K - gG) columns is padded to
///    padLen_g = roundUp(len_g, 32) columns (padding codes are 0; kernels
///    never multiply them with anything but zero activations) and split into
///    blocks of 32 columns.
///  - A tile is [codes of group 0][codes of group 1]...[scales][offsets][pad
///    to 64]. The codes of a group are its blocks in order; one block covers
///    16 rows x 32 columns and takes 64 * bits bytes.
///  - Inside a block the columns are split into eight "quads" of 4 columns.
///    A quad vector is 64 bytes, byte 4r + j = q[row r][column 4c + j] for
///    quad c: one 32-bit lane per row, four consecutive k per lane, which is
///    the operand shape of vpdpbusd / vpmaddubsw, and the bytes of rows 8..15
///    are the upper 32 bytes so 256-bit code reads the tile as two halves.
///    Quad vectors are bit-packed in 64-byte chunks:
///      8 bits: chunk c = quad c (8 chunks);
///      4 bits: chunk c, byte i = quad(2c)[i] | quad(2c+1)[i] << 4 (4 chunks):
///              unpacking is one mask and one shift + mask;
///      2 bits: chunk c, byte i = sum_t quad(4c+t)[i] << 2t (2 chunks);
///      3 bits: bit planes: chunks 0-1 hold the low two bits as in the 2-bit
///              layout, chunk 2 byte i = sum_t bit2(quad(t)[i]) << t (192
///              bytes per block, exactly 3 bits per weight).
///  - Scales: for group g, 16 values (one per tile row) at
///    codesBytes + 16 g * scaleSize, as f32 or IEEE f16 (scaleType).
///  - Offsets (asymmetric only): m = -s * z per row and group, 16 values per
///    group after all scales, same type as the scales. Kernels compute
///    s * sum(q x) + m * sum(x), so the zero point costs one FMA per group.
///
/// The packed buffer should be 64-byte aligned for speed (kernels do not
/// require it). Packing is deterministic: padding bytes are zero.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TARGET_X86_REPACK_H
#define LOWBIT_TARGET_X86_REPACK_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace lowbit::x86 {

/// Storage type of scales and zero offsets in the packed layout.
enum class ScaleType : uint8_t { F32, F16 };

/// Row tile of the packed layout (and of every generated kernel).
constexpr int64_t kTileRows = 16;
/// Columns per block; groups are padded to a multiple of it.
constexpr int64_t kBlockCols = 32;

/// The static description of one packed weight matrix.
struct PackedLayout {
  unsigned bits = 4;
  /// Group size as given (-1: one group per row).
  int64_t groupSize = 128;
  bool symmetric = true;
  ScaleType scaleType = ScaleType::F32;
  int64_t K = 0;
  int64_t N = 0;

  /// Validates the parameters.
  static llvm::Expected<PackedLayout> get(unsigned bits, int64_t groupSize,
                                          bool symmetric, ScaleType scaleType,
                                          int64_t K, int64_t N);

  /// Columns per group (K for groupSize == -1).
  int64_t groupCols() const { return groupSize < 0 ? K : groupSize; }
  int64_t numGroups() const { return (K + groupCols() - 1) / groupCols(); }
  /// Real columns of group g.
  int64_t groupLen(int64_t g) const;
  /// Padded columns of group g (a multiple of kBlockCols).
  int64_t groupPadLen(int64_t g) const;
  /// First padded column of group g.
  int64_t groupPadBegin(int64_t g) const;
  /// Sum of all padded group lengths.
  int64_t paddedK() const;
  int64_t blockBytes() const { return 64 * bits; }
  int64_t scaleSize() const { return scaleType == ScaleType::F32 ? 4 : 2; }
  int64_t codesBytes() const { return paddedK() / kBlockCols * blockBytes(); }
  int64_t scalesOffset() const { return codesBytes(); }
  int64_t offsetsOffset() const {
    return codesBytes() + numGroups() * kTileRows * scaleSize();
  }
  int64_t tileBytes() const;
  int64_t numTiles() const { return (N + kTileRows - 1) / kTileRows; }
  int64_t totalBytes() const { return numTiles() * tileBytes(); }
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
uint16_t floatToHalf(float f);
float halfToFloat(uint16_t h);

} // namespace lowbit::x86

#endif // LOWBIT_TARGET_X86_REPACK_H
