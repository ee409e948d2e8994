//===- GgufCodecTests.cpp - GGUF block codecs vs gguf.quants ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// gguf-q4_0-v1, gguf-q4_1-v1 and gguf-q8_0-v1 against the `gguf` package:
// decoding blocks written by gguf.quants.quantize and dequantizing them must
// give gguf.quants.dequantize bit for bit, directly and after transcoding the
// weight into x86-tile16-v1 (the layout the generated kernels read). Float
// minimums (GGUF Q4_1) through the codec interface, hand-computed block
// bytes, and the errors.
//
//===----------------------------------------------------------------------===//

#include "GgufBlocksRef.h"

#include "lowbitrt/Codec.h"
#include "lowbitrt/CodecX86Tile16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace lowbit::codec;
using lowbit::test::GgufBlocksRef;

namespace {

bool sameBits(const std::vector<float> &a, const std::vector<float> &b) {
  // memcmp's arguments must not be null, even for zero bytes (UBSan).
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), 4 * a.size()) == 0);
}

class GgufCodecs : public ::testing::TestWithParam<const char *> {};

TEST_P(GgufCodecs, MatchGgufReference) {
  if (lowbit::test::ggufBlocksDir().empty())
    GTEST_SKIP() << "LOWBIT_GGUF_BLOCKS_DIR is not set (run through CTest: "
                    "the gguf_blocks fixture writes the references)";
  GgufBlocksRef ref;
  std::string err;
  ASSERT_TRUE(readGgufBlocksRef(GetParam(), ref, err)) << err;
  WeightDesc d = ref.desc();
  const Codec *gguf = findCodec(ref.codecName());
  ASSERT_NE(gguf, nullptr);
  ASSERT_TRUE(gguf->supports(d, &err)) << err;
  ASSERT_EQ(gguf->byteSize(d), int64_t(ref.blocks.size()));

  // The codec's dequantization is gguf.quants.dequantize, bit for bit.
  std::vector<float> w(ref.W.size(), NAN);
  ASSERT_TRUE(gguf->dequantizeRows(d, ref.blocks.data(), ref.blocks.size(), 0,
                                   ref.N, w.data(), &err))
      << err;
  EXPECT_TRUE(sameBits(w, ref.W)) << ref.type;
  // Rows [5, 9) alone are the same rows.
  std::vector<float> part(4 * ref.K);
  ASSERT_TRUE(gguf->dequantizeRows(d, ref.blocks.data(), ref.blocks.size(), 5,
                                   9, part.data(), &err));
  EXPECT_EQ(std::memcmp(part.data(), ref.W.data() + 5 * ref.K, 4 * part.size()),
            0);

  // Decoding and encoding again gives gguf's bytes back.
  UnpackedWeight u;
  ASSERT_TRUE(gguf->decode(d, ref.blocks.data(), ref.blocks.size(), u, &err))
      << err;
  EXPECT_EQ(u.mins.empty(), d.zeroKind != ZeroKind::FloatMin);
  EXPECT_TRUE(u.zeros.empty());
  std::vector<uint8_t> again;
  ASSERT_TRUE(gguf->encode(d, u, again, &err)) << err;
  EXPECT_EQ(again, ref.blocks) << ref.type;

  // The kernels' layout holds the same weight exactly: same dequantization,
  // same codes, scales and minimums, and GGUF's size up to the padding of
  // the 16-row tiles (each tile padded to 64 bytes).
  const Codec *x86 = findCodec(kX86Tile16Codec);
  ASSERT_TRUE(x86->supports(d, &err)) << err;
  std::vector<uint8_t> packed;
  ASSERT_TRUE(x86->encode(d, u, packed, &err)) << err;
  std::vector<float> wx(ref.W.size(), NAN);
  ASSERT_TRUE(x86->dequantizeRows(d, packed.data(), packed.size(), 0, ref.N,
                                  wx.data(), &err))
      << err;
  // Equal values; only the sign of a zero may differ: the layout computes
  // s * q + m (with m = -8 s, -128 s for Q4_0, Q8_0), which gives +0 where
  // gguf's d * (q - 8) gives -0 for a negative d (no effect on a matmul).
  int signedZeros = 0;
  for (size_t i = 0; i < wx.size(); ++i) {
    ASSERT_EQ(wx[i], ref.W[i]) << ref.type << " through x86-tile16-v1 at " << i;
    if (std::memcmp(&wx[i], &ref.W[i], 4) != 0) {
      ASSERT_EQ(wx[i], 0.0f);
      ++signedZeros;
    }
  }
  if (d.zeroKind == ZeroKind::FloatMin)
    EXPECT_EQ(signedZeros, 0) << "Q4_1 is (d * q) + m in both";
  UnpackedWeight back;
  ASSERT_TRUE(x86->decode(d, packed.data(), packed.size(), back, &err)) << err;
  EXPECT_EQ(back.codes, u.codes);
  EXPECT_TRUE(sameBits(back.scales, u.scales));
  EXPECT_TRUE(sameBits(back.mins, u.mins));
  X86Tile16Layout l(d);
  int64_t perTileRow = ref.K / 32 * (ref.blocks.size() / (ref.N * ref.K / 32));
  int64_t tileBytes = (16 * perTileRow + 63) / 64 * 64;
  EXPECT_EQ(l.tileBytes(), tileBytes);
  EXPECT_EQ(int64_t(packed.size()), l.numTiles() * tileBytes);
}

INSTANTIATE_TEST_SUITE_P(Types, GgufCodecs,
                         ::testing::Values("Q4_0", "Q4_1", "Q8_0"));

WeightDesc ggufDesc(unsigned bits, bool sym, ZeroKind zk, int64_t N,
                    int64_t K) {
  WeightDesc d;
  d.bits = bits;
  d.groupSize = 32;
  d.symmetric = sym;
  d.zeroKind = zk;
  d.scaleType = ScaleType::F16;
  d.N = N;
  d.K = K;
  return d;
}

/// One block of codes 0, 1, 2, ... (mod 2^bits), scale 2 and minimum -1.5.
UnpackedWeight rampBlock(const WeightDesc &d) {
  UnpackedWeight u;
  for (int j = 0; j < 32; ++j)
    u.codes.push_back(uint8_t(j % (1 << d.bits)));
  u.scales = {2.0f};
  if (d.zeroKind == ZeroKind::FloatMin)
    u.mins = {-1.5f};
  return u;
}

TEST(GgufCodecBytes, Q4_0ByHand) {
  WeightDesc d = ggufDesc(4, true, ZeroKind::Integer, 1, 32);
  std::vector<uint8_t> bytes;
  std::string err;
  ASSERT_TRUE(findCodec(kGgufQ4_0Codec)->encode(d, rampBlock(d), bytes, &err))
      << err;
  ASSERT_EQ(bytes.size(), 18u);
  EXPECT_EQ(bytes[0], 0x00); // f16 2.0 = 0x4000, little-endian
  EXPECT_EQ(bytes[1], 0x40);
  // Byte j: element j (low nibble) and element j + 16 (high nibble).
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(bytes[2 + j], uint8_t(j | (((j + 16) % 16) << 4))) << j;
  std::vector<float> w(32);
  ASSERT_TRUE(findCodec(kGgufQ4_0Codec)
                  ->dequantizeRows(d, bytes.data(), bytes.size(), 0, 1,
                                   w.data(), &err));
  EXPECT_EQ(w[0], -16.0f); // 2 * (0 - 8)
  EXPECT_EQ(w[31], 14.0f); // 2 * (15 - 8)
}

TEST(GgufCodecBytes, Q4_1ByHand) {
  WeightDesc d = ggufDesc(4, false, ZeroKind::FloatMin, 1, 32);
  std::vector<uint8_t> bytes;
  std::string err;
  ASSERT_TRUE(findCodec(kGgufQ4_1Codec)->encode(d, rampBlock(d), bytes, &err))
      << err;
  ASSERT_EQ(bytes.size(), 20u);
  EXPECT_EQ(bytes[1], 0x40);
  EXPECT_EQ(bytes[2], 0x00); // f16 -1.5 = 0xbe00
  EXPECT_EQ(bytes[3], 0xbe);
  EXPECT_EQ(bytes[4 + 3], uint8_t(3 | (3 << 4)));
  std::vector<float> w(32);
  ASSERT_TRUE(findCodec(kGgufQ4_1Codec)
                  ->dequantizeRows(d, bytes.data(), bytes.size(), 0, 1,
                                   w.data(), &err));
  EXPECT_EQ(w[0], -1.5f);        // 2 * 0 - 1.5
  EXPECT_EQ(w[17], 2.0f - 1.5f); // 2 * 1 - 1.5
}

TEST(GgufCodecBytes, Q8_0ByHand) {
  WeightDesc d = ggufDesc(8, true, ZeroKind::Integer, 1, 32);
  UnpackedWeight u = rampBlock(d);
  u.codes[0] = 0;   // int8 -128
  u.codes[1] = 255; // int8 127
  u.codes[2] = 128; // int8 0
  std::vector<uint8_t> bytes;
  std::string err;
  ASSERT_TRUE(findCodec(kGgufQ8_0Codec)->encode(d, u, bytes, &err)) << err;
  ASSERT_EQ(bytes.size(), 34u);
  EXPECT_EQ(bytes[2], 0x80);
  EXPECT_EQ(bytes[3], 0x7f);
  EXPECT_EQ(bytes[4], 0x00);
  EXPECT_EQ(bytes[5], uint8_t(3 - 128));
  std::vector<float> w(32);
  ASSERT_TRUE(findCodec(kGgufQ8_0Codec)
                  ->dequantizeRows(d, bytes.data(), bytes.size(), 0, 1,
                                   w.data(), &err));
  EXPECT_EQ(w[0], -256.0f);
  EXPECT_EQ(w[1], 254.0f);
  EXPECT_EQ(w[2], 0.0f);
}

TEST(GgufCodecErrors, SchemesAndShapes) {
  std::string why;
  const Codec *q4_1 = findCodec(kGgufQ4_1Codec);
  EXPECT_FALSE(
      q4_1->supports(ggufDesc(4, false, ZeroKind::Integer, 4, 64), &why));
  EXPECT_NE(why.find("GGUF Q4_1 holds float minimums"), std::string::npos)
      << why;
  EXPECT_FALSE(
      q4_1->supports(ggufDesc(4, false, ZeroKind::FloatMin, 4, 48), &why));
  EXPECT_NE(why.find("K = 48 is not a multiple of 32"), std::string::npos)
      << why;
  WeightDesc f32 = ggufDesc(4, true, ZeroKind::Integer, 4, 64);
  f32.scaleType = ScaleType::F32;
  EXPECT_FALSE(findCodec(kGgufQ4_0Codec)->supports(f32, &why));
  EXPECT_NE(why.find("f16 scales, not f32"), std::string::npos) << why;
  WeightDesc g64 = ggufDesc(8, true, ZeroKind::Integer, 4, 64);
  g64.groupSize = 64;
  EXPECT_FALSE(findCodec(kGgufQ8_0Codec)->supports(g64, &why));
  EXPECT_NE(why.find("groups of 32, not group size 64"), std::string::npos)
      << why;
  EXPECT_FALSE(
      findCodec(kGgufQ8_0Codec)
          ->supports(ggufDesc(4, true, ZeroKind::Integer, 4, 64), &why));
  EXPECT_NE(why.find("8-bit codes, not 4-bit"), std::string::npos) << why;
}

TEST(GgufCodecErrors, FloatMinimums) {
  std::string why;
  // Codecs holding integer zero points only reject float minimums.
  WeightDesc d = ggufDesc(4, false, ZeroKind::FloatMin, 4, 64);
  for (const char *name : {kPlainCodec, kGptqInt32Codec}) {
    EXPECT_FALSE(findCodec(name)->supports(d, &why)) << name;
    EXPECT_NE(why.find("float minimums (zero kind min) are not supported"),
              std::string::npos)
        << why;
  }
  // A symmetric weight has none.
  WeightDesc sym = d;
  sym.symmetric = true;
  EXPECT_FALSE(validateDesc(sym, &why));
  EXPECT_NE(why.find("a symmetric weight has no float minimums"),
            std::string::npos)
      << why;
  // The unpacked form carries mins, not zeros.
  UnpackedWeight u;
  u.codes.assign(4 * 64, 1);
  u.scales.assign(8, 0.5f);
  u.zeros.assign(8, 3);
  std::vector<uint8_t> out;
  const Codec *x86 = findCodec(kX86Tile16Codec);
  EXPECT_FALSE(x86->encode(d, u, out, &why));
  EXPECT_NE(why.find("zeros hold 8 values, expected 0 (float minimums)"),
            std::string::npos)
      << why;
  u.zeros.clear();
  u.mins.assign(7, -1.0f);
  EXPECT_FALSE(x86->encode(d, u, out, &why));
  EXPECT_NE(why.find("mins hold 7 values, expected 8"), std::string::npos)
      << why;
  // Mins on an integer-zero weight are an error too.
  WeightDesc integer = d;
  integer.zeroKind = ZeroKind::Integer;
  u.zeros.assign(8, 3);
  u.mins.assign(8, -1.0f);
  EXPECT_FALSE(x86->encode(integer, u, out, &why));
  EXPECT_NE(why.find("mins hold 8 values, expected 0"), std::string::npos)
      << why;
}

TEST(GgufCodecErrors, X86StoresTheMinimumItself) {
  // x86-tile16-v1 with float minimums: the offset slot holds m, so the
  // layout computes s * q + m for any m, not only multiples of s.
  WeightDesc d = ggufDesc(4, false, ZeroKind::FloatMin, 3, 64);
  UnpackedWeight u;
  for (int i = 0; i < 3 * 64; ++i)
    u.codes.push_back(uint8_t(i % 16));
  u.scales = {0.5f, 0.25f, 1.0f, 2.0f, 0.125f, 4.0f};
  u.mins = {-0.3125f, 1.75f, -3.0f, 0.0f, -0.0078125f, 100.0f};
  std::vector<uint8_t> packed;
  std::string err;
  const Codec *x86 = findCodec(kX86Tile16Codec);
  ASSERT_TRUE(x86->encode(d, u, packed, &err)) << err;
  std::vector<float> w(3 * 64);
  ASSERT_TRUE(x86->dequantizeRows(d, packed.data(), packed.size(), 0, 3,
                                  w.data(), &err))
      << err;
  for (int n = 0; n < 3; ++n)
    for (int k = 0; k < 64; ++k) {
      int g = n * 2 + k / 32;
      float product = u.scales[g] * float(u.codes[n * 64 + k]);
      EXPECT_EQ(w[n * 64 + k], product + u.mins[g]) << n << ", " << k;
    }
}

} // namespace
