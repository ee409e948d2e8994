//===- GgufBlocks.cpp - codecs gguf-q4_0-v1, gguf-q4_1-v1, gguf-q8_0-v1 ---===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// GGUF's (ggml's) 32-weight blocks as weight codecs: the block array of a
// [N, K] tensor, row by row, exactly as a .gguf file stores it. Codec.h and
// docs/codecs.md describe the bytes. dequantizeRows computes what
// gguf.quants.dequantize (the `gguf` Python package) computes, in its operand
// order and with its rounding, so a weight kept in these blocks is the
// dequantized model's weight bit for bit.
//
//===----------------------------------------------------------------------===//

#include "CodecImpl.h"

#include <cmath>

using namespace lowbit::codec;
using namespace lowbit::codec::detail;

namespace {

constexpr int64_t kBlockCols = 32;

enum class BlockType { Q4_0, Q4_1, Q8_0 };

struct BlockFormat {
  const char *name;
  const char *ggmlName;
  unsigned bits;
  bool symmetric;
  ZeroKind zeroKind;
  int64_t blockBytes;
  int64_t codesOffset; // after d (and m)
};

BlockFormat formatOf(BlockType type) {
  switch (type) {
  case BlockType::Q4_0:
    return {kGgufQ4_0Codec, "Q4_0", 4, true, ZeroKind::Integer, 18, 2};
  case BlockType::Q4_1:
    return {kGgufQ4_1Codec, "Q4_1", 4, false, ZeroKind::FloatMin, 20, 4};
  case BlockType::Q8_0:
    return {kGgufQ8_0Codec, "Q8_0", 8, true, ZeroKind::Integer, 34, 2};
  }
  return {"?", "?", 0, true, ZeroKind::Integer, 0, 0};
}

uint16_t load16(const uint8_t *p) { return uint16_t(p[0] | (p[1] << 8)); }
void store16(uint8_t *p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}

/// a + b where, when both are NaN, a's payload wins (quieted), as NumPy's
/// a + b does on x86; the compiler may swap the operands of a plain `+`.
float addFirstNaN(float a, float b) { return std::isnan(a) ? a + a : a + b; }

/// 4-bit element j of a block: j < 16 in the low nibble of byte j, j + 16 in
/// its high nibble.
unsigned nibble(const uint8_t *qs, int64_t j) {
  return j < 16 ? (qs[j] & 0x0fu) : (qs[j - 16] >> 4);
}

class GgufBlockCodec final : public Codec {
public:
  explicit GgufBlockCodec(BlockType type) : type(type), f(formatOf(type)) {}

  const char *name() const override { return f.name; }

  bool supports(const WeightDesc &d, std::string *why) const override {
    if (!validateDesc(d, why) || !rejectSuperGroups(d, why))
      return false;
    std::string want = std::string("GGUF ") + f.ggmlName + " holds ";
    if (d.bits != f.bits)
      return fail(why, want + std::to_string(f.bits) + "-bit codes, not " +
                           std::to_string(d.bits) + "-bit");
    if (d.groupSize != kBlockCols)
      return fail(why, want + "groups of 32, not group size " +
                           std::to_string(d.groupSize));
    if (d.symmetric != f.symmetric || d.zeroKind != f.zeroKind)
      return fail(why, want + (f.symmetric ? "symmetric weights"
                                           : "float minimums (zero kind min)"));
    if (d.scaleType != ScaleType::F16)
      return fail(why, want + "f16 scales, not " + scaleTypeName(d.scaleType));
    if (d.K % kBlockCols)
      return fail(why, want + "whole blocks of 32: K = " + std::to_string(d.K) +
                           " is not a multiple of 32");
    return true;
  }

  int64_t byteSize(const WeightDesc &d) const override {
    if (!supports(d, nullptr))
      return -1;
    int64_t total;
    if (!mulAdd(d.N * (d.K / kBlockCols), f.blockBytes, 0, total))
      return -1;
    return total;
  }

  bool encode(const WeightDesc &d, const UnpackedWeight &in,
              std::vector<uint8_t> &out, std::string *error) const override {
    if (!checkUnpacked(*this, d, in, error))
      return false;
    const int64_t ng = d.K / kBlockCols;
    out.assign(size_t(byteSize(d)), 0);
    for (int64_t n = 0; n < d.N; ++n) {
      for (int64_t g = 0; g < ng; ++g) {
        uint8_t *b = out.data() + (n * ng + g) * f.blockBytes;
        store16(b, floatToHalf(in.scales[n * ng + g]));
        if (type == BlockType::Q4_1)
          store16(b + 2, floatToHalf(in.mins[n * ng + g]));
        const uint8_t *q = in.codes.data() + n * d.K + g * kBlockCols;
        uint8_t *qs = b + f.codesOffset;
        if (type == BlockType::Q8_0) {
          for (int64_t j = 0; j < kBlockCols; ++j)
            qs[j] = uint8_t(int(q[j]) - 128); // two's complement int8
        } else {
          for (int64_t j = 0; j < 16; ++j)
            qs[j] = uint8_t(q[j] | (q[j + 16] << 4));
        }
      }
    }
    return true;
  }

  bool decode(const WeightDesc &d, const uint8_t *data, size_t size,
              UnpackedWeight &out, std::string *error) const override {
    if (!checkEncoded(*this, d, size, error))
      return false;
    const int64_t ng = d.K / kBlockCols;
    out.codes.assign(size_t(d.N * d.K), 0);
    out.scales.assign(size_t(d.N * ng), 0.0f);
    out.zeros.clear();
    out.mins.assign(type == BlockType::Q4_1 ? size_t(d.N * ng) : 0, 0.0f);
    for (int64_t n = 0; n < d.N; ++n) {
      for (int64_t g = 0; g < ng; ++g) {
        const uint8_t *b = data + (n * ng + g) * f.blockBytes;
        out.scales[n * ng + g] = halfToFloat(load16(b));
        if (type == BlockType::Q4_1)
          out.mins[n * ng + g] = halfToFloat(load16(b + 2));
        uint8_t *q = out.codes.data() + n * d.K + g * kBlockCols;
        const uint8_t *qs = b + f.codesOffset;
        for (int64_t j = 0; j < kBlockCols; ++j)
          q[j] = type == BlockType::Q8_0 ? uint8_t(int(int8_t(qs[j])) + 128)
                                         : uint8_t(nibble(qs, j));
      }
    }
    return true;
  }

  bool dequantizeRows(const WeightDesc &d, const uint8_t *data, size_t size,
                      int64_t rowBegin, int64_t rowEnd, float *out,
                      std::string *error) const override {
    if (!checkRows(*this, d, size, rowBegin, rowEnd, out, error))
      return false;
    const int64_t ng = d.K / kBlockCols;
    for (int64_t n = rowBegin; n < rowEnd; ++n) {
      for (int64_t g = 0; g < ng; ++g) {
        const uint8_t *b = data + (n * ng + g) * f.blockBytes;
        const uint8_t *qs = b + f.codesOffset;
        float *w = out + (n - rowBegin) * d.K + g * kBlockCols;
        float dScale = halfToFloat(load16(b));
        switch (type) {
        case BlockType::Q4_0: // d * (q - 8)
          for (int64_t j = 0; j < kBlockCols; ++j)
            w[j] = dScale * float(int(nibble(qs, j)) - 8);
          break;
        case BlockType::Q4_1: { // (d * q) + m
          float m = halfToFloat(load16(b + 2));
          for (int64_t j = 0; j < kBlockCols; ++j) {
            float product = dScale * float(nibble(qs, j));
            w[j] = addFirstNaN(product, m);
          }
          break;
        }
        case BlockType::Q8_0: // q * d
          for (int64_t j = 0; j < kBlockCols; ++j)
            w[j] = float(int8_t(qs[j])) * dScale;
          break;
        }
      }
    }
    return true;
  }

private:
  BlockType type;
  BlockFormat f;
};

} // namespace

const Codec &lowbit::codec::detail::ggufQ4_0Codec() {
  static const GgufBlockCodec codec(BlockType::Q4_0);
  return codec;
}

const Codec &lowbit::codec::detail::ggufQ4_1Codec() {
  static const GgufBlockCodec codec(BlockType::Q4_1);
  return codec;
}

const Codec &lowbit::codec::detail::ggufQ8_0Codec() {
  static const GgufBlockCodec codec(BlockType::Q8_0);
  return codec;
}
