//===- GgufQuants.cpp - ggml tensor types and dequantization --------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Block layouts follow ggml's documented structs (ggml-common.h); the float
// arithmetic follows the NumPy reference in gguf.quants step by step, each
// step rounded to float, in the reference's operand order. This file must be
// compiled with -ffp-contract=off (see CMakeLists.txt).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/GgufQuants.h"

#include <cmath>
#include <cstring>

using namespace lowbit;

namespace {
constexpr uint32_t kQK = 256; // Elements of a k-quant super-block.

constexpr GgmlTypeTraits kTypes[] = {
    {GgmlType::F32, "F32", 1, 4, true},
    {GgmlType::F16, "F16", 1, 2, true},
    {GgmlType::Q4_0, "Q4_0", 32, 2 + 16, true},
    {GgmlType::Q4_1, "Q4_1", 32, 2 + 2 + 16, true},
    {GgmlType::Q5_0, "Q5_0", 32, 2 + 4 + 16, true},
    {GgmlType::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, true},
    {GgmlType::Q8_0, "Q8_0", 32, 2 + 32, true},
    {GgmlType::Q8_1, "Q8_1", 32, 4 + 4 + 32, false},
    {GgmlType::Q2_K, "Q2_K", kQK, 2 + 2 + kQK / 16 + kQK / 4, true},
    {GgmlType::Q3_K, "Q3_K", kQK, 2 + kQK / 4 + kQK / 8 + 12, true},
    {GgmlType::Q4_K, "Q4_K", kQK, 2 + 2 + kQK / 2 + 12, true},
    {GgmlType::Q5_K, "Q5_K", kQK, 2 + 2 + kQK / 2 + kQK / 8 + 12, true},
    {GgmlType::Q6_K, "Q6_K", kQK, 2 + kQK / 2 + kQK / 4 + kQK / 16, true},
    {GgmlType::Q8_K, "Q8_K", kQK, 4 + kQK + kQK / 8, false},
    {GgmlType::IQ2_XXS, "IQ2_XXS", kQK, 2 + kQK / 4, false},
    {GgmlType::IQ2_XS, "IQ2_XS", kQK, 2 + kQK / 4 + kQK / 32, false},
    {GgmlType::IQ3_XXS, "IQ3_XXS", kQK, 2 + kQK / 4 + kQK / 8, false},
    {GgmlType::IQ1_S, "IQ1_S", kQK, 2 + kQK / 8 + kQK / 16, false},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 2 + 16, false},
    {GgmlType::IQ3_S, "IQ3_S", kQK, 2 + kQK / 4 + kQK / 8 + kQK / 32 + 4,
     false},
    {GgmlType::IQ2_S, "IQ2_S", kQK, 2 + kQK / 4 + kQK / 16, false},
    {GgmlType::IQ4_XS, "IQ4_XS", kQK, 2 + 2 + kQK / 2 + kQK / 64, false},
    {GgmlType::I8, "I8", 1, 1, false},
    {GgmlType::I16, "I16", 1, 2, false},
    {GgmlType::I32, "I32", 1, 4, false},
    {GgmlType::I64, "I64", 1, 8, false},
    {GgmlType::F64, "F64", 1, 8, false},
    {GgmlType::IQ1_M, "IQ1_M", kQK, kQK / 8 + kQK / 16 + kQK / 32, false},
    {GgmlType::BF16, "BF16", 1, 2, true},
    {GgmlType::TQ1_0, "TQ1_0", kQK, 2 + 4 * 13, false},
    {GgmlType::TQ2_0, "TQ2_0", kQK, 2 + 64, false},
    {GgmlType::MXFP4, "MXFP4", 32, 1 + 16, false},
    {GgmlType::NVFP4, "NVFP4", 64, 4 + 32, false},
    {GgmlType::Q1_0, "Q1_0", 128, 2 + 16, false},
};

float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint16_t load16(const uint8_t *p) { return uint16_t(p[0] | (p[1] << 8)); }

uint32_t load32(const uint8_t *p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
         (uint32_t(p[3]) << 24);
}

float loadHalf(const uint8_t *p) { return ggmlHalfToFloat(load16(p)); }

/// a + b where, when both are NaN, a's payload wins (quieted), as it does in
/// NumPy's `a + b` on x86. A compiler may swap the operands of a plain `+`
/// (it is commutative for every other value), so the NaN case is explicit.
/// Subtraction needs no such care: it is never reordered.
float addFirstNaN(float a, float b) { return std::isnan(a) ? a + a : a + b; }

//===----------------------------------------------------------------------===//
// 32-element blocks
//===----------------------------------------------------------------------===//

// Element j < 16 is the low nibble of qs[j], element j + 16 its high nibble.
unsigned nibble(const uint8_t *qs, unsigned j) {
  return j < 16 ? (qs[j] & 0x0fu) : (qs[j - 16] >> 4);
}

void dequantQ4_0(const uint8_t *b, float *out) {
  float d = loadHalf(b);
  for (unsigned j = 0; j < 32; ++j)
    out[j] = d * float(int(nibble(b + 2, j)) - 8);
}

void dequantQ4_1(const uint8_t *b, float *out) {
  float d = loadHalf(b), m = loadHalf(b + 2);
  for (unsigned j = 0; j < 32; ++j) {
    float dq = d * float(nibble(b + 4, j));
    out[j] = addFirstNaN(dq, m);
  }
}

void dequantQ5_0(const uint8_t *b, float *out) {
  float d = loadHalf(b);
  uint32_t qh = load32(b + 2);
  for (unsigned j = 0; j < 32; ++j) {
    unsigned q = nibble(b + 6, j) | (((qh >> j) & 1u) << 4);
    out[j] = d * float(int(q) - 16);
  }
}

void dequantQ5_1(const uint8_t *b, float *out) {
  float d = loadHalf(b), m = loadHalf(b + 2);
  uint32_t qh = load32(b + 4);
  for (unsigned j = 0; j < 32; ++j) {
    unsigned q = nibble(b + 8, j) | (((qh >> j) & 1u) << 4);
    float dq = d * float(q);
    out[j] = addFirstNaN(dq, m);
  }
}

void dequantQ8_0(const uint8_t *b, float *out) {
  float d = loadHalf(b);
  for (unsigned j = 0; j < 32; ++j)
    out[j] = float(int8_t(b[2 + j])) * d;
}

//===----------------------------------------------------------------------===//
// k-quants (256-element super-blocks)
//===----------------------------------------------------------------------===//

void dequantQ2_K(const uint8_t *b, float *out) {
  const uint8_t *scales = b;  // 16: low nibble scale, high nibble min.
  const uint8_t *qs = b + 16; // 64: four 2-bit values per byte.
  float d = loadHalf(b + 80), dmin = loadHalf(b + 82);
  float dl[16], ml[16];
  for (unsigned s = 0; s < 16; ++s) {
    dl[s] = d * float(scales[s] & 0x0fu);
    ml[s] = dmin * float(scales[s] >> 4);
  }
  // Element e = (half * 4 + shift) * 32 + l reads qs[half * 32 + l].
  for (unsigned e = 0; e < kQK; ++e) {
    unsigned half = e / 128, shift = (e / 32) % 4, l = e % 32;
    unsigned q = (qs[half * 32 + l] >> (2 * shift)) & 3u;
    float dq = dl[e / 16] * float(q);
    out[e] = dq - ml[e / 16];
  }
}

void dequantQ3_K(const uint8_t *b, float *out) {
  const uint8_t *hmask = b;   // 32: bit e / 32 of byte e % 32.
  const uint8_t *qs = b + 32; // 64: low two bits, as in Q2_K.
  const uint8_t *sc = b + 96; // 12: sixteen 6-bit signed scales.
  float d = loadHalf(b + 108);
  float dl[16];
  for (unsigned i = 0; i < 16; ++i) {
    unsigned low = i < 8 ? (sc[i] & 0x0fu) : (sc[i - 8] >> 4);
    unsigned high = (sc[8 + i % 4] >> (2 * (i / 4))) & 3u;
    int scale = int(int8_t(uint8_t(low | (high << 4)))) - 32;
    dl[i] = d * float(scale);
  }
  for (unsigned e = 0; e < kQK; ++e) {
    unsigned half = e / 128, shift = (e / 32) % 4, l = e % 32;
    int low = int((qs[half * 32 + l] >> (2 * shift)) & 3u);
    // A clear mask bit subtracts 4.
    int high = ((hmask[l] >> (e / 32)) & 1u) ? 0 : 4;
    out[e] = dl[e / 16] * float(low - high);
  }
}

// The eight 6-bit scales and mins of Q4_K and Q5_K.
void unpackScaleMin(const uint8_t *p, unsigned *sc, unsigned *mn) {
  for (unsigned j = 0; j < 4; ++j) {
    sc[j] = p[j] & 0x3fu;
    mn[j] = p[4 + j] & 0x3fu;
    sc[4 + j] = (p[8 + j] & 0x0fu) | ((p[j] >> 2) & 0x30u);
    mn[4 + j] = (p[8 + j] >> 4) | ((p[4 + j] >> 2) & 0x30u);
  }
}

void dequantQ4_K(const uint8_t *b, float *out) {
  float d = loadHalf(b), dmin = loadHalf(b + 2);
  unsigned sc[8], mn[8];
  unsigned char const *qs = b + 16; // 128: sub-block 2c low, 2c+1 high.
  unpackScaleMin(b + 4, sc, mn);
  float ds[8], dm[8];
  for (unsigned s = 0; s < 8; ++s) {
    ds[s] = d * float(sc[s]);
    dm[s] = dmin * float(mn[s]);
  }
  for (unsigned e = 0; e < kQK; ++e) {
    unsigned s = e / 32, l = e % 32;
    unsigned q = (qs[(s / 2) * 32 + l] >> (4 * (s % 2))) & 0x0fu;
    float dq = ds[s] * float(q);
    out[e] = dq - dm[s];
  }
}

void dequantQ5_K(const uint8_t *b, float *out) {
  float d = loadHalf(b), dmin = loadHalf(b + 2);
  unsigned sc[8], mn[8];
  unpackScaleMin(b + 4, sc, mn);
  const uint8_t *qh = b + 16; // 32: bit s of byte l is element s * 32 + l.
  const uint8_t *qs = b + 48; // 128: as in Q4_K.
  float ds[8], dm[8];
  for (unsigned s = 0; s < 8; ++s) {
    ds[s] = d * float(sc[s]);
    dm[s] = dmin * float(mn[s]);
  }
  for (unsigned e = 0; e < kQK; ++e) {
    unsigned s = e / 32, l = e % 32;
    unsigned q = ((qs[(s / 2) * 32 + l] >> (4 * (s % 2))) & 0x0fu) |
                 (((qh[l] >> s) & 1u) << 4);
    float dq = ds[s] * float(q);
    out[e] = dq - dm[s];
  }
}

void dequantQ6_K(const uint8_t *b, float *out) {
  const uint8_t *ql = b;       // 128: low nibbles, 64 elements per half.
  const uint8_t *qh = b + 128; // 64: high two bits, as in Q2_K.
  const uint8_t *sc = b + 192; // 16 signed 8-bit scales.
  float d = loadHalf(b + 208);
  float ds[16];
  for (unsigned s = 0; s < 16; ++s)
    ds[s] = d * float(int8_t(sc[s]));
  for (unsigned e = 0; e < kQK; ++e) {
    unsigned half = e / 128;
    unsigned low = (ql[half * 64 + e % 64] >> (4 * ((e / 64) % 2))) & 0x0fu;
    unsigned high = (qh[half * 32 + e % 32] >> (2 * ((e / 32) % 4))) & 3u;
    int q = int(low | (high << 4)) - 32;
    out[e] = ds[e / 16] * float(q);
  }
}

} // namespace

float lowbit::ggmlHalfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    float magnitude = float(mantissa) * 0x1p-24f;
    uint32_t magnitudeBits;
    std::memcpy(&magnitudeBits, &magnitude, sizeof(magnitudeBits));
    return bitsToFloat(magnitudeBits | sign);
  }
  if (exponent == 0x1f) // Infinity or NaN; the payload is kept, not quieted.
    return bitsToFloat(sign | 0x7f800000u | (mantissa << 13));
  return bitsToFloat(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

const GgmlTypeTraits *lowbit::lookupGgmlType(uint32_t value) {
  for (const GgmlTypeTraits &traits : kTypes)
    if (uint32_t(traits.type) == value)
      return &traits;
  return nullptr;
}

const GgmlTypeTraits &lowbit::ggmlTypeTraits(GgmlType type) {
  const GgmlTypeTraits *traits = lookupGgmlType(uint32_t(type));
  // Every enumerator has a row in kTypes.
  return *traits;
}

bool lowbit::dequantizeGgmlBlocks(GgmlType type, const uint8_t *src,
                                  size_t numBlocks, float *out) {
  const GgmlTypeTraits &traits = ggmlTypeTraits(type);
  if (!traits.dequantizable)
    return false;
  if (numBlocks == 0) // `out` may be null then (an empty vector's data()).
    return true;
  void (*block)(const uint8_t *, float *) = nullptr;
  switch (type) {
  case GgmlType::F32:
    std::memcpy(out, src, numBlocks * 4);
    return true;
  case GgmlType::F16:
    for (size_t i = 0; i < numBlocks; ++i)
      out[i] = loadHalf(src + 2 * i);
    return true;
  case GgmlType::BF16:
    for (size_t i = 0; i < numBlocks; ++i)
      out[i] = bitsToFloat(uint32_t(load16(src + 2 * i)) << 16);
    return true;
  case GgmlType::Q4_0:
    block = dequantQ4_0;
    break;
  case GgmlType::Q4_1:
    block = dequantQ4_1;
    break;
  case GgmlType::Q5_0:
    block = dequantQ5_0;
    break;
  case GgmlType::Q5_1:
    block = dequantQ5_1;
    break;
  case GgmlType::Q8_0:
    block = dequantQ8_0;
    break;
  case GgmlType::Q2_K:
    block = dequantQ2_K;
    break;
  case GgmlType::Q3_K:
    block = dequantQ3_K;
    break;
  case GgmlType::Q4_K:
    block = dequantQ4_K;
    break;
  case GgmlType::Q5_K:
    block = dequantQ5_K;
    break;
  case GgmlType::Q6_K:
    block = dequantQ6_K;
    break;
  default:
    return false;
  }
  for (size_t i = 0; i < numBlocks; ++i)
    block(src + i * traits.blockBytes, out + i * traits.blockElems);
  return true;
}
