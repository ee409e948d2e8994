//===- CodecX86Tile16.h - geometry of codec x86-tile16-v1 -------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The packed weight layout read by the generated x86 qmatmul kernels (codec
/// "x86-tile16-v1", Codec.h). The kernel generator (lib/Target/X86/KernelGen)
/// addresses the bytes through X86Tile16Layout; everything else goes through
/// findCodec(kX86Tile16Codec).
///
/// Semantics: W[n, k] = s[n, g(k)] * (q[n, k] - z[n, g(k)]) with unsigned
/// codes q in [0, 2^bits), g(k) = k / G and, for symmetric schemes, the
/// implicit zero z = 2^(bits-1). Bits 2, 3, 4 and 8; scales f32 or f16.
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
///    group after all scales, same type as the scales. With float minimums
///    (ZeroKind::FloatMin, GGUF Q4_1's W = d * q + m) the slot holds the
///    minimum m itself. Kernels compute
///    s * sum(q x) + m * sum(x), so the zero point costs one FMA per group.
///    Decoding recovers z = round(-m / s) (0 where s == 0).
///  - Super-block scales (WeightDesc::superGroup = S > 0; f16 only): the
///    scale slot of each group holds the signed 8-bit code c (16 bytes per
///    group), the offset slot (asymmetric only) the zero point z as one
///    unsigned byte, and after them come the super-block scales: for
///    super-block j (groups [jS, jS + S)), 16 f16 values d, one per tile
///    row. Kernels compute s = d * c (exact in f32) and m = s * -z (or
///    s * -2^(bits-1) when symmetric), rounded to f32. Encoding needs the
///    scales on the grid (the group of largest |scale| of each super-block
///    has |c| = 127); scales off it are an error.
///
/// The packed buffer should be 64-byte aligned for speed (kernels do not
/// require it). Packing is deterministic: padding bytes are zero.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_CODECX86TILE16_H
#define LOWBITRT_CODECX86TILE16_H

#include "lowbitrt/Codec.h"

namespace lowbit::codec {

/// The geometry of one x86-tile16-v1 weight: the WeightDesc plus the byte
/// offsets derived from it. Only meaningful for a desc the codec supports.
struct X86Tile16Layout : WeightDesc {
  /// Row tile of the layout (and of every generated kernel).
  static constexpr int64_t kTileRows = 16;
  /// Columns per block; groups are padded to a multiple of it.
  static constexpr int64_t kBlockCols = 32;

  X86Tile16Layout() = default;
  explicit X86Tile16Layout(const WeightDesc &desc) : WeightDesc(desc) {}

  /// Padded columns of group g (a multiple of kBlockCols).
  int64_t groupPadLen(int64_t g) const;
  /// First padded column of group g.
  int64_t groupPadBegin(int64_t g) const;
  /// Sum of all padded group lengths.
  int64_t paddedK() const;
  int64_t blockBytes() const { return 64 * int64_t(bits); }
  /// Bytes per group scale slot: the scale type's, or 1 (the 8-bit code)
  /// with super-block scales; offset slots have the same size.
  int64_t scaleSize() const {
    return superGroup > 0 ? 1 : scaleTypeBytes(scaleType);
  }
  /// Super-blocks per row (0 without super-block scales).
  int64_t numSupers() const {
    return superGroup > 0 ? (numGroups() + superGroup - 1) / superGroup : 0;
  }
  /// Bytes per super-block scale (the scale type's).
  int64_t superScaleSize() const { return scaleTypeBytes(scaleType); }
  /// Where the super-block scales start: after the scale and offset slots.
  int64_t superScalesOffset() const {
    return codesBytes() +
           (symmetric ? 1 : 2) * numGroups() * kTileRows * scaleSize();
  }
  int64_t codesBytes() const { return paddedK() / kBlockCols * blockBytes(); }
  int64_t scalesOffset() const { return codesBytes(); }
  int64_t offsetsOffset() const {
    return codesBytes() + numGroups() * kTileRows * scaleSize();
  }
  int64_t tileBytes() const;
  int64_t numTiles() const { return (N + kTileRows - 1) / kTileRows; }
  /// numTiles() * tileBytes(); -1 when it overflows int64.
  int64_t totalBytes() const;
};

} // namespace lowbit::codec

#endif // LOWBITRT_CODECX86TILE16_H
