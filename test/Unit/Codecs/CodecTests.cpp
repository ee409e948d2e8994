//===- CodecTests.cpp - tests of lowbitrt_codecs --------------------------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "lowbitrt/Codec.h"
#include "lowbitrt/CodecX86Tile16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

using namespace lowbit::codec;

namespace {

const Codec &codec(const char *name) {
  const Codec *c = findCodec(name);
  EXPECT_NE(c, nullptr) << name;
  return *c;
}

WeightDesc desc(unsigned bits, int64_t g, bool sym, ScaleType st, int64_t N,
                int64_t K) {
  WeightDesc d;
  d.bits = bits;
  d.groupSize = g;
  d.symmetric = sym;
  d.scaleType = st;
  d.N = N;
  d.K = K;
  return d;
}

/// Random codes, scales already rounded to the scale type, zeros covering
/// 0 and 2^bits - 1 (the wrap-around of GPTQ's zero - 1).
UnpackedWeight randomWeight(const WeightDesc &d, std::mt19937 &rng) {
  UnpackedWeight w;
  int64_t ng = d.numGroups();
  std::uniform_int_distribution<int> code(0, (1 << d.bits) - 1);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  w.codes.resize(d.N * d.K);
  for (auto &c : w.codes)
    c = uint8_t(code(rng));
  w.scales.resize(d.N * ng);
  for (auto &s : w.scales)
    s = roundToScaleType(scale(rng), d.scaleType);
  if (!d.symmetric) {
    w.zeros.resize(d.N * ng);
    for (size_t i = 0; i < w.zeros.size(); ++i)
      w.zeros[i] = i == 0   ? 0
                   : i == 1 ? uint8_t((1 << d.bits) - 1)
                            : uint8_t(code(rng));
  }
  return w;
}

void expectSame(const UnpackedWeight &a, const UnpackedWeight &b,
                const std::string &what) {
  EXPECT_EQ(a.codes, b.codes) << what;
  EXPECT_EQ(a.zeros, b.zeros) << what;
  ASSERT_EQ(a.scales.size(), b.scales.size()) << what;
  for (size_t i = 0; i < a.scales.size(); ++i)
    ASSERT_EQ(a.scales[i], b.scales[i]) << what << " scale " << i;
}

std::string describe(const WeightDesc &d) {
  return "bits " + std::to_string(d.bits) + " g " +
         std::to_string(d.groupSize) + (d.symmetric ? " sym " : " asym ") +
         scaleTypeName(d.scaleType) + " N " + std::to_string(d.N) + " K " +
         std::to_string(d.K);
}

/// The GGUF block codecs hold one fixed scheme each (gguf-q4_0-v1: 4-bit,
/// groups of 32, symmetric, f16 scales, K a multiple of 32; ...).
bool isGgufCodec(const std::string &name) {
  return name.rfind("gguf-", 0) == 0;
}

/// Whether the GGUF codec `name` holds `d`.
bool ggufHolds(const std::string &name, const WeightDesc &d) {
  if (d.groupSize != 32 || d.scaleType != ScaleType::F16 || d.K % 32)
    return false;
  if (name == kGgufQ4_0Codec)
    return d.bits == 4 && d.symmetric;
  if (name == kGgufQ4_1Codec)
    return d.bits == 4 && !d.symmetric && d.zeroKind == ZeroKind::FloatMin;
  return d.bits == 8 && d.symmetric;
}

uint32_t word(const std::vector<uint8_t> &bytes, int64_t index) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + 4 * index, 4);
  return v;
}

} // namespace

//===----------------------------------------------------------------------===//
// Registry
//===----------------------------------------------------------------------===//

TEST(Codecs, Registry) {
  std::vector<std::string> names = codecNames();
  EXPECT_EQ(names, (std::vector<std::string>{"gguf-q4_0-v1", "gguf-q4_1-v1",
                                             "gguf-q8_0-v1", "gptq-int32-v1",
                                             "plain-v1", "x86-tile16-v1"}));
  for (const std::string &n : names) {
    const Codec *c = findCodec(n);
    ASSERT_NE(c, nullptr) << n;
    EXPECT_EQ(std::string(c->name()), n);
    EXPECT_EQ(findCodec(n), c); // Singletons.
  }
  EXPECT_EQ(findCodec("x86-tile16"), nullptr);
  EXPECT_EQ(findCodec("x86-tile16-v2"), nullptr);
  EXPECT_EQ(findCodec(""), nullptr);
}

TEST(Codecs, ScaleTypes) {
  ScaleType t;
  ASSERT_TRUE(parseScaleType("bf16", t));
  EXPECT_EQ(t, ScaleType::BF16);
  EXPECT_FALSE(parseScaleType("f64", t));
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);
  EXPECT_EQ(floatToBFloat16(1.0f), 0x3f80);
  // 1 + 2^-8 is a tie between bf16 1.0 and 1 + 2^-7: rounds to even.
  EXPECT_EQ(floatToBFloat16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(floatToBFloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(floatToBFloat16(NAN))));
  EXPECT_EQ(bfloat16ToFloat(0xc000), -2.0f);
}

//===----------------------------------------------------------------------===//
// supports() and byteSize()
//===----------------------------------------------------------------------===//

TEST(Codecs, SupportsRejectsBadDescs) {
  struct Bad {
    WeightDesc d;
    const char *reason;
  } bads[] = {
      {desc(9, 32, true, ScaleType::F32, 64, 64), "unsupported bit width 9"},
      {desc(1, 32, true, ScaleType::F32, 64, 64), "unsupported bit width 1"},
      {desc(4, 0, true, ScaleType::F32, 64, 64), "invalid group size 0"},
      {desc(4, -2, true, ScaleType::F32, 64, 64), "invalid group size -2"},
      {desc(4, 32, true, ScaleType::F32, 64, 0), "invalid shape K = 0"},
      {desc(4, 32, true, ScaleType::F32, -1, 64), "invalid shape"},
      {desc(4, 32, true, ScaleType::F32, 64, (int64_t(1) << 31) + 1),
       "invalid shape"},
  };
  for (const std::string &name : codecNames()) {
    const Codec &c = codec(name.c_str());
    for (const Bad &b : bads) {
      std::string why;
      EXPECT_FALSE(c.supports(b.d, &why)) << name << " " << describe(b.d);
      EXPECT_NE(why.find(b.reason), std::string::npos) << name << ": " << why;
      EXPECT_EQ(c.byteSize(b.d), -1) << name;
      EXPECT_FALSE(c.supports(b.d, nullptr)); // A null reason is allowed.
    }
  }
  std::string why;
  // Codec-specific limits.
  EXPECT_FALSE(codec(kX86Tile16Codec)
                   .supports(desc(5, 32, true, ScaleType::F32, 16, 64), &why));
  EXPECT_NE(why.find("expected 2, 3, 4 or 8"), std::string::npos) << why;
  EXPECT_FALSE(codec(kX86Tile16Codec)
                   .supports(desc(4, 32, true, ScaleType::BF16, 16, 64), &why));
  EXPECT_NE(why.find("bf16"), std::string::npos) << why;
  EXPECT_TRUE(codec(kPlainCodec)
                  .supports(desc(5, 32, true, ScaleType::BF16, 16, 64), &why));
  EXPECT_FALSE(codec(kGptqInt32Codec)
                   .supports(desc(4, 32, true, ScaleType::F16, 32, 48), &why));
  EXPECT_NE(why.find("K = 48 is not a multiple of 32"), std::string::npos)
      << why;
  EXPECT_FALSE(codec(kGptqInt32Codec)
                   .supports(desc(4, 32, true, ScaleType::F16, 37, 64), &why));
  EXPECT_NE(why.find("N = 37 is not a multiple of 32"), std::string::npos)
      << why;
  EXPECT_FALSE(codec(kGptqInt32Codec)
                   .supports(desc(6, 32, true, ScaleType::F16, 32, 64), &why));
  EXPECT_NE(why.find("unsupported bit width 6"), std::string::npos) << why;
}

TEST(Codecs, ByteSizeByHand) {
  // x86: 4 bits, g 32, K 64: 2 blocks of 64 * 4 bytes of codes, 2 groups x
  // 16 rows of f32 scales (128 bytes) -> 640 bytes per 16-row tile.
  EXPECT_EQ(
      codec(kX86Tile16Codec).byteSize(desc(4, 32, true, ScaleType::F32, 4, 64)),
      640);
  // Asymmetric f16, N 17 (two tiles), K 96 g 64 (ragged: groups of 64 and
  // 32 columns, 3 blocks of 192 bytes of 3-bit codes = 576), scales and
  // offsets 2 groups x 16 x 2 bytes x 2 = 128: 704 per tile.
  EXPECT_EQ(codec(kX86Tile16Codec)
                .byteSize(desc(3, 64, false, ScaleType::F16, 17, 96)),
            2 * 704);
  // Group 40 pads to 64 columns: K 80 -> groups 40 + 40 -> 128 padded
  // columns, 4 blocks of 128 bytes (2 bits) = 512, + 2 x 16 x 4 = 640.
  EXPECT_EQ(codec(kX86Tile16Codec)
                .byteSize(desc(2, 40, true, ScaleType::F32, 16, 80)),
            640);
  // plain: N*K codes + N*G scales (+ N*G zeros).
  EXPECT_EQ(
      codec(kPlainCodec).byteSize(desc(4, 64, false, ScaleType::F16, 5, 96)),
      5 * 96 + 5 * 2 * 2 + 5 * 2);
  EXPECT_EQ(
      codec(kPlainCodec).byteSize(desc(8, -1, true, ScaleType::F32, 3, 10)),
      30 + 12);
  // gptq: qweight 96/32*4 x 64 words, qzeros 2 x 64/32*4 words, f16 scales
  // 2 x 64, g_idx 96 words.
  EXPECT_EQ(codec(kGptqInt32Codec)
                .byteSize(desc(4, 64, true, ScaleType::F16, 64, 96)),
            4 * 12 * 64 + 4 * 2 * 8 + 2 * 2 * 64 + 4 * 96);
  // An overflowing size is -1, not a wrapped number.
  WeightDesc huge =
      desc(8, 1, false, ScaleType::F32, int64_t(1) << 31, int64_t(1) << 31);
  for (const std::string &name : codecNames())
    EXPECT_EQ(codec(name.c_str()).byteSize(huge), -1) << name;
}

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST(Codecs, RoundTripEveryCodec) {
  std::mt19937 rng(7);
  const std::pair<int64_t, int64_t> shapes[] = {
      {37, 256}, // N not a multiple of 16 (x86 padding rows).
      {64, 96},  // Every codec; ragged for g 64.
      {5, 40},   // Tiny, groups padded to 64 columns by x86.
  };
  std::map<std::string, int> checked;
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (int64_t g : {32, 64, 128, -1})
      for (bool sym : {true, false})
        for (ScaleType st : {ScaleType::F32, ScaleType::F16, ScaleType::BF16})
          for (auto [N, K] : shapes) {
            WeightDesc d = desc(bits, g, sym, st, N, K);
            UnpackedWeight w = randomWeight(d, rng);
            std::vector<std::string> names = codecNames();
            for (size_t ci = 0; ci < names.size(); ++ci) {
              const Codec &c = codec(names[ci].c_str());
              std::string what = names[ci] + " " + describe(d);
              std::string why;
              if (!c.supports(d, &why)) {
                EXPECT_FALSE(why.empty()) << what;
                // Everything but x86's bf16 and gptq's shape limits fits.
                bool expected =
                    (names[ci] == kX86Tile16Codec && st == ScaleType::BF16) ||
                    (names[ci] == kGptqInt32Codec &&
                     (N % 32 != 0 || K % 32 != 0)) ||
                    (isGgufCodec(names[ci]) && !ggufHolds(names[ci], d));
                EXPECT_TRUE(expected) << what << ": " << why;
                continue;
              }
              std::vector<uint8_t> bytes;
              std::string err;
              ASSERT_TRUE(c.encode(d, w, bytes, &err)) << what << ": " << err;
              ASSERT_EQ(int64_t(bytes.size()), c.byteSize(d)) << what;
              UnpackedWeight back;
              ASSERT_TRUE(c.decode(d, bytes.data(), bytes.size(), back, &err))
                  << what << ": " << err;
              expectSame(back, w, what);
              // Deterministic bytes.
              std::vector<uint8_t> again;
              ASSERT_TRUE(c.encode(d, back, again, &err)) << what;
              EXPECT_EQ(again, bytes) << what;
              ++checked[names[ci]];
            }
          }
  // Every codec ran on its part of the grid: gptq on (64, 96) with f32,
  // f16 and bf16 scales, x86 on every shape with f32 and f16, plain on all,
  // Q4_0 and Q8_0 on their scheme with K = 256 and 96 (Q4_1 needs float
  // minimums: GgufCodecs.*).
  EXPECT_EQ(checked[kGptqInt32Codec], 4 * 4 * 2 * 3);
  EXPECT_EQ(checked[kPlainCodec], 4 * 4 * 2 * 3 * 3);
  EXPECT_EQ(checked[kX86Tile16Codec], 4 * 4 * 2 * 2 * 3);
  EXPECT_EQ(checked[kGgufQ4_0Codec], 2);
  EXPECT_EQ(checked[kGgufQ8_0Codec], 2);
  EXPECT_EQ(checked[kGgufQ4_1Codec], 0);
}

TEST(Codecs, RoundTripThroughEachOther) {
  // plain -> x86 -> gptq -> plain gives back the same plain bytes.
  std::mt19937 rng(11);
  const Codec &plain = codec(kPlainCodec), &x86 = codec(kX86Tile16Codec),
              &gptq = codec(kGptqInt32Codec);
  int chains = 0;
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (int64_t g : {32, 64, 128, -1})
      for (bool sym : {true, false})
        for (ScaleType st : {ScaleType::F32, ScaleType::F16})
          for (auto [N, K] : {std::pair<int64_t, int64_t>{64, 96}, {32, 160}}) {
            WeightDesc d = desc(bits, g, sym, st, N, K);
            std::string what = describe(d), err;
            std::vector<uint8_t> p0, x, q, p1;
            UnpackedWeight w = randomWeight(d, rng), a, b, c;
            ASSERT_TRUE(plain.encode(d, w, p0, &err)) << what << err;
            ASSERT_TRUE(plain.decode(d, p0.data(), p0.size(), a, &err));
            ASSERT_TRUE(x86.encode(d, a, x, &err)) << what << err;
            ASSERT_TRUE(x86.decode(d, x.data(), x.size(), b, &err));
            ASSERT_TRUE(gptq.encode(d, b, q, &err)) << what << err;
            ASSERT_TRUE(gptq.decode(d, q.data(), q.size(), c, &err));
            ASSERT_TRUE(plain.encode(d, c, p1, &err));
            EXPECT_EQ(p1, p0) << what;
            ++chains;
          }
  EXPECT_EQ(chains, 4 * 4 * 2 * 2 * 2);
}

//===----------------------------------------------------------------------===//
// dequantizeRows
//===----------------------------------------------------------------------===//

TEST(Codecs, DequantizeRows) {
  std::mt19937 rng(3);
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (int64_t g : {32, 64, -1})
      for (bool sym : {true, false})
        for (ScaleType st : {ScaleType::F32, ScaleType::F16})
          for (auto [N, K] : {std::pair<int64_t, int64_t>{37, 96}, {64, 96}}) {
            WeightDesc d = desc(bits, g, sym, st, N, K);
            UnpackedWeight w = randomWeight(d, rng);
            int64_t ng = d.numGroups();
            // The logical weight, and x86's s * q + m with m = -s * z
            // rounded to the scale type like the kernels read it.
            std::vector<float> logical(N * K), x86Ref(N * K), tol(N * K);
            for (int64_t n = 0; n < N; ++n)
              for (int64_t k = 0; k < K; ++k) {
                int64_t gi = n * ng + k / d.groupCols();
                float s = w.scales[gi];
                int z = sym ? int(1u << (bits - 1)) : w.zeros[gi];
                int q = w.codes[n * K + k];
                logical[n * K + k] = s * float(q - z);
                float m =
                    sym ? s * -float(z) : roundToScaleType(-s * float(z), st);
                x86Ref[n * K + k] = s * float(q) + m;
                // x86 rounds m = -s * z to the scale type on its own.
                tol[n * K + k] =
                    1e-6f + 1e-3f * std::fabs(s) * float(1u << bits);
              }
            for (const std::string &name : codecNames()) {
              const Codec &c = codec(name.c_str());
              if (!c.supports(d, nullptr))
                continue;
              std::string what = name + " " + describe(d), err;
              std::vector<uint8_t> bytes;
              ASSERT_TRUE(c.encode(d, w, bytes, &err)) << what << err;
              const std::vector<float> &want =
                  name == kX86Tile16Codec ? x86Ref : logical;
              std::vector<float> all(N * K, -1.0f);
              ASSERT_TRUE(c.dequantizeRows(d, bytes.data(), bytes.size(), 0, N,
                                           all.data(), &err))
                  << what << err;
              for (int64_t i = 0; i < N * K; ++i) {
                ASSERT_EQ(all[i], want[i]) << what << " at " << i;
                // The layouts agree with the logical weight up to rounding.
                ASSERT_NEAR(all[i], logical[i], tol[i]) << what << " at " << i;
              }
              // A sub-range equals the same rows of the whole.
              std::vector<float> part((9 - 3) * K);
              ASSERT_TRUE(c.dequantizeRows(d, bytes.data(), bytes.size(), 3, 9,
                                           part.data(), &err));
              EXPECT_TRUE(
                  std::equal(part.begin(), part.end(), all.begin() + 3 * K))
                  << what;
              // Empty ranges are fine; bad ranges are errors.
              EXPECT_TRUE(c.dequantizeRows(d, bytes.data(), bytes.size(), N, N,
                                           nullptr, &err));
              EXPECT_FALSE(c.dequantizeRows(d, bytes.data(), bytes.size(), 0,
                                            N + 1, all.data(), &err));
              EXPECT_NE(err.find("row range [0, " + std::to_string(N + 1)),
                        std::string::npos)
                  << err;
              EXPECT_FALSE(c.dequantizeRows(d, bytes.data(), bytes.size(), 5, 4,
                                            all.data(), &err));
            }
          }
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

TEST(Codecs, DecodeRejectsWrongSizes) {
  WeightDesc d = desc(4, 32, false, ScaleType::F16, 32, 64);
  std::mt19937 rng(5);
  UnpackedWeight w = randomWeight(d, rng);
  for (const std::string &name : codecNames()) {
    if (isGgufCodec(name)) // One scheme each: GgufCodecs.*.
      continue;
    const Codec &c = codec(name.c_str());
    std::vector<uint8_t> bytes;
    std::string err;
    ASSERT_TRUE(c.encode(d, w, bytes, &err)) << name << err;
    for (size_t size : {bytes.size() - 1, bytes.size() + 1, size_t(0)}) {
      std::vector<uint8_t> other(size, 0);
      UnpackedWeight out;
      err.clear();
      EXPECT_FALSE(c.decode(d, other.data(), other.size(), out, &err)) << name;
      std::string want = name + ": encoded weight holds " +
                         std::to_string(size) + " bytes, expected " +
                         std::to_string(bytes.size());
      EXPECT_NE(err.find(want), std::string::npos) << err;
      std::vector<float> rows(d.K);
      EXPECT_FALSE(c.dequantizeRows(d, other.data(), other.size(), 0, 1,
                                    rows.data(), &err));
    }
    // Unsupported descs are errors, not crashes.
    UnpackedWeight out;
    WeightDesc bad = d;
    bad.bits = 9;
    EXPECT_FALSE(c.decode(bad, bytes.data(), bytes.size(), out, &err));
    EXPECT_NE(err.find("unsupported bit width 9"), std::string::npos) << err;
  }
}

TEST(Codecs, EncodeRejectsBadInput) {
  WeightDesc d = desc(4, 32, true, ScaleType::F32, 32, 64);
  std::mt19937 rng(9);
  for (const std::string &name : codecNames()) {
    if (isGgufCodec(name)) // One scheme each: GgufCodecs.*.
      continue;
    const Codec &c = codec(name.c_str());
    std::vector<uint8_t> out;
    std::string err;
    UnpackedWeight w = randomWeight(d, rng);
    w.codes[64 + 3] = 16; // Does not fit 4 bits.
    EXPECT_FALSE(c.encode(d, w, out, &err));
    EXPECT_NE(err.find("code 16 at [1, 3] exceeds 4 bits"), std::string::npos)
        << err;
    w = randomWeight(d, rng);
    w.scales.pop_back();
    EXPECT_FALSE(c.encode(d, w, out, &err));
    EXPECT_NE(err.find("scales hold 63 values, expected 64"), std::string::npos)
        << err;
    w = randomWeight(d, rng);
    w.zeros.assign(64, 1); // Symmetric: no zeros.
    EXPECT_FALSE(c.encode(d, w, out, &err));
    EXPECT_NE(err.find("zeros hold 64 values, expected 0"), std::string::npos)
        << err;
    WeightDesc asym = d;
    asym.symmetric = false;
    w = randomWeight(asym, rng);
    w.zeros[5] = 200;
    EXPECT_FALSE(c.encode(asym, w, out, &err));
    EXPECT_NE(err.find("zero 200 at [2, 1] exceeds 4 bits"), std::string::npos)
        << err;
  }
}

//===----------------------------------------------------------------------===//
// gptq-int32-v1 against AutoGPTQ's packing
//===----------------------------------------------------------------------===//

TEST(Codecs, GptqWordsByHand4Bit) {
  // 4 bits, K 32, N 32, one group. codes[n, k] = (n + k) % 16, zeros[n] =
  // n % 16, scales f16.
  WeightDesc d = desc(4, -1, false, ScaleType::F16, 32, 32);
  UnpackedWeight w;
  for (int n = 0; n < 32; ++n)
    for (int k = 0; k < 32; ++k)
      w.codes.push_back(uint8_t((n + k) % 16));
  for (int n = 0; n < 32; ++n) {
    w.scales.push_back(0.5f + n);
    w.zeros.push_back(uint8_t(n % 16));
  }
  std::vector<uint8_t> b;
  std::string err;
  ASSERT_TRUE(codec(kGptqInt32Codec).encode(d, w, b, &err)) << err;
  // qweight [32 / 32 * 4 = 4, 32]: word [r, n] holds k = 8r .. 8r + 7, k = 8r
  // in the low nibble.
  EXPECT_EQ(word(b, 0 * 32 + 0), 0x76543210u);
  EXPECT_EQ(word(b, 0 * 32 + 1), 0x87654321u);
  EXPECT_EQ(word(b, 1 * 32 + 0), 0xfedcba98u);
  EXPECT_EQ(word(b, 3 * 32 + 9), 0x87654321u); // (k 24..31 + 9) mod 16.
  // qzeros [1, 4] after 128 qweight words: (z - 1) mod 16 along N; zero 0
  // wraps to 15.
  EXPECT_EQ(word(b, 128 + 0), 0x6543210fu);
  EXPECT_EQ(word(b, 128 + 1), 0xedcba987u);
  EXPECT_EQ(word(b, 128 + 2), 0x6543210fu);
  // scales f16 [1, 32] after 4 qzeros words: 0.5 = 0x3800, 1.5 = 0x3e00.
  uint16_t h0, h1;
  std::memcpy(&h0, b.data() + 4 * 132, 2);
  std::memcpy(&h1, b.data() + 4 * 132 + 2, 2);
  EXPECT_EQ(h0, 0x3800);
  EXPECT_EQ(h1, 0x3e00);
  // g_idx [32] of zeros after 64 bytes of scales.
  ASSERT_EQ(b.size(), size_t(4 * 132 + 64 + 4 * 32));
  for (int k = 0; k < 32; ++k)
    EXPECT_EQ(word(b, 132 + 16 + k), 0u);
}

TEST(Codecs, GptqWordsSymmetricAndGroups) {
  // Symmetric 4-bit stores zero 8 - 1 = 7 in every nibble; g_idx = k / 32.
  WeightDesc d = desc(4, 32, true, ScaleType::F16, 32, 64);
  std::mt19937 rng(1);
  UnpackedWeight w = randomWeight(d, rng);
  std::vector<uint8_t> b;
  std::string err;
  ASSERT_TRUE(codec(kGptqInt32Codec).encode(d, w, b, &err)) << err;
  int64_t qzeros = 8 * 32; // After qweight [8, 32].
  for (int i = 0; i < 2 * 4; ++i)
    EXPECT_EQ(word(b, qzeros + i), 0x77777777u);
  int64_t gIdx = (int64_t(b.size()) - 4 * 64) / 4;
  for (int k = 0; k < 64; ++k)
    EXPECT_EQ(word(b, gIdx + k), uint32_t(k / 32));
  // A symmetric weight whose qzeros are not 7 is rejected by name.
  std::vector<uint8_t> bad = b;
  bad[4 * qzeros] = 0x76;
  UnpackedWeight out;
  EXPECT_FALSE(
      codec(kGptqInt32Codec).decode(d, bad.data(), bad.size(), out, &err));
  EXPECT_NE(err.find("qzeros of row 0, group 0 hold zero 7, a symmetric "
                     "weight needs 8"),
            std::string::npos)
      << err;
  // An act-order g_idx is rejected.
  bad = b;
  bad[4 * gIdx] = 1;
  EXPECT_FALSE(
      codec(kGptqInt32Codec).decode(d, bad.data(), bad.size(), out, &err));
  EXPECT_NE(err.find("g_idx[0] is 1, expected 0"), std::string::npos) << err;
}

TEST(Codecs, GptqWordsAutoGptqLoop) {
  // Expected words computed with AutoGPTQ's QuantLinear.pack loop (the
  // 10 + 1 + 10 + 1 + 10 3-bit branch and `word |= v << bits * i` for 2 and
  // 8 bits), transcribed in plain Python.
  {
    // 3 bits, K 32, N 32: codes[n, k] = (5k + 3n + 1) % 8, zeros[n] =
    // 3n % 8.
    WeightDesc d = desc(3, -1, false, ScaleType::F32, 32, 32);
    UnpackedWeight w;
    for (int n = 0; n < 32; ++n)
      for (int k = 0; k < 32; ++k)
        w.codes.push_back(uint8_t((5 * k + 3 * n + 1) % 8));
    for (int n = 0; n < 32; ++n) {
      w.scales.push_back(1.0f);
      w.zeros.push_back(uint8_t(3 * n % 8));
    }
    std::vector<uint8_t> b;
    std::string err;
    ASSERT_TRUE(codec(kGptqInt32Codec).encode(d, w, b, &err)) << err;
    EXPECT_EQ(word(b, 0 * 32 + 0), 0xf19d50f1u);
    EXPECT_EQ(word(b, 1 * 32 + 0), 0x50f19d50u);
    EXPECT_EQ(word(b, 2 * 32 + 0), 0x9d50f19du);
    EXPECT_EQ(word(b, 0 * 32 + 1), 0x8cea878cu);
    EXPECT_EQ(word(b, 1 * 32 + 1), 0x878cea87u);
    EXPECT_EQ(word(b, 2 * 32 + 1), 0xea878ceau);
    EXPECT_EQ(word(b, 96 + 0), 0x57873157u);
    EXPECT_EQ(word(b, 96 + 1), 0x31578731u);
    EXPECT_EQ(word(b, 96 + 2), 0x87315787u);
    UnpackedWeight back;
    ASSERT_TRUE(
        codec(kGptqInt32Codec).decode(d, b.data(), b.size(), back, &err));
    expectSame(back, w, "3-bit");
  }
  {
    // 2 bits: codes k % 4 -> 0xe4e4e4e4; 8 bits: 1, 2, 254, 255 ->
    // 0xfffe0201.
    for (unsigned bits : {2u, 8u}) {
      WeightDesc d = desc(bits, -1, true, ScaleType::F16, 32, 32);
      UnpackedWeight w;
      const uint8_t eight[] = {1, 2, 254, 255};
      for (int n = 0; n < 32; ++n)
        for (int k = 0; k < 32; ++k)
          w.codes.push_back(bits == 2 ? uint8_t(k % 4) : eight[k % 4]);
      w.scales.assign(32, 1.0f);
      std::vector<uint8_t> b;
      std::string err;
      ASSERT_TRUE(codec(kGptqInt32Codec).encode(d, w, b, &err)) << err;
      for (int r = 0; r < int(bits); ++r)
        EXPECT_EQ(word(b, r * 32 + 5), bits == 2 ? 0xe4e4e4e4u : 0xfffe0201u)
            << bits;
      // Symmetric zeros: 2 - 1 = 1 per 2-bit field, 128 - 1 per byte.
      EXPECT_EQ(word(b, bits * 32), bits == 2 ? 0x55555555u : 0x7f7f7f7fu);
    }
  }
}

//===----------------------------------------------------------------------===//
// x86-tile16-v1 layout facts
//===----------------------------------------------------------------------===//

TEST(Codecs, X86LayoutBytes) {
  // 4 bits, one row, K 32: quad c of the block holds columns 4c .. 4c + 3
  // in bytes 4r + j; quads 2c and 2c + 1 share chunk c (low / high nibble).
  WeightDesc d = desc(4, 32, true, ScaleType::F32, 1, 32);
  UnpackedWeight w;
  for (int k = 0; k < 32; ++k)
    w.codes.push_back(uint8_t(k % 16));
  w.scales = {0.25f};
  std::vector<uint8_t> b;
  std::string err;
  ASSERT_TRUE(codec(kX86Tile16Codec).encode(d, w, b, &err)) << err;
  ASSERT_EQ(b.size(), size_t(256 + 64));
  // Chunk 0: quad 0 (k 0..3) low, quad 1 (k 4..7) high.
  EXPECT_EQ(b[0], 0x40);
  EXPECT_EQ(b[3], 0x73);
  // Chunk 1 (byte 64): quad 2 (k 8..11) | quad 3 (k 12..15) << 4.
  EXPECT_EQ(b[64 + 1], 0xd9);
  // Row 0's scale at codesBytes, padding rows' scales zero.
  float s;
  std::memcpy(&s, b.data() + 256, 4);
  EXPECT_EQ(s, 0.25f);
  for (size_t i = 260; i < b.size(); ++i)
    EXPECT_EQ(b[i], 0) << i;
  X86Tile16Layout l(d);
  EXPECT_EQ(l.tileBytes(), 320);
  EXPECT_EQ(l.paddedK(), 32);
}
