//===- Repack.cpp - x86 quantized weight layout -----------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "Repack.h"

#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <cstring>

using namespace llvm;

namespace lowbit::x86 {

//===----------------------------------------------------------------------===//
// f16 conversion
//===----------------------------------------------------------------------===//

uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) // Inf or NaN.
    return sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u);
  if (absx >= 0x477ff000u) // Rounds to >= 65520: overflow to Inf.
    return sign | 0x7c00u;
  if (absx < 0x38800000u) { // Subnormal half (or zero).
    if (absx < 0x33000000u)
      return sign;
    uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
    int shift = 113 - int(absx >> 23) + 13; // 126 - exp + 1 ... in [14, 24].
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1)))
      ++half;
    return sign | half;
  }
  uint32_t half = ((absx >> 13) - (112u << 10));
  uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
    ++half;
  return sign | half;
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0x1f) {
    x = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {
      float v = std::ldexp(float(mant), -24);
      return sign ? -v : v;
    }
  } else {
    x = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

//===----------------------------------------------------------------------===//
// PackedLayout
//===----------------------------------------------------------------------===//

Expected<PackedLayout> PackedLayout::get(unsigned bits, int64_t groupSize,
                                         bool symmetric, ScaleType scaleType,
                                         int64_t K, int64_t N) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    return createStringError("unsupported bit width %u (expected 2, 3, 4 or 8)",
                             bits);
  if (groupSize == 0 || groupSize < -1)
    return createStringError("invalid group size %lld", (long long)groupSize);
  if (K <= 0 || N <= 0)
    return createStringError("invalid shape K = %lld, N = %lld", (long long)K,
                             (long long)N);
  PackedLayout l;
  l.bits = bits;
  l.groupSize = groupSize;
  l.symmetric = symmetric;
  l.scaleType = scaleType;
  l.K = K;
  l.N = N;
  return l;
}

int64_t PackedLayout::groupLen(int64_t g) const {
  return std::min(groupCols(), K - g * groupCols());
}

int64_t PackedLayout::groupPadLen(int64_t g) const {
  return alignTo(groupLen(g), kBlockCols);
}

int64_t PackedLayout::groupPadBegin(int64_t g) const {
  // All groups but the last have groupCols() columns.
  return g * alignTo(groupCols(), kBlockCols);
}

int64_t PackedLayout::paddedK() const {
  int64_t ng = numGroups();
  return groupPadBegin(ng - 1) + groupPadLen(ng - 1);
}

int64_t PackedLayout::tileBytes() const {
  int64_t headers = (symmetric ? 1 : 2) * numGroups() * kTileRows * scaleSize();
  return alignTo(codesBytes() + headers, 64);
}

//===----------------------------------------------------------------------===//
// Code placement
//===----------------------------------------------------------------------===//

namespace {
/// Where the code of tile row r, padded column kp lives inside a tile: up to
/// two (byte, shift, width) pieces, low bits first.
struct CodePlace {
  int64_t byte[2];
  unsigned shift[2];
  unsigned width[2];
  unsigned pieces;
};
} // namespace

static CodePlace placeCode(const PackedLayout &l, int64_t r, int64_t kp) {
  int64_t block = kp / kBlockCols;
  int64_t col = kp % kBlockCols;
  int64_t quad = col / 4;
  int64_t lane = r * 4 + col % 4;
  int64_t base = block * l.blockBytes();
  CodePlace p;
  p.pieces = 1;
  switch (l.bits) {
  case 8:
    p.byte[0] = base + quad * 64 + lane;
    p.shift[0] = 0;
    p.width[0] = 8;
    break;
  case 4:
    p.byte[0] = base + (quad / 2) * 64 + lane;
    p.shift[0] = 4 * (quad % 2);
    p.width[0] = 4;
    break;
  case 2:
    p.byte[0] = base + (quad / 4) * 64 + lane;
    p.shift[0] = 2 * (quad % 4);
    p.width[0] = 2;
    break;
  default: // 3 bits: 2-bit plane + 1-bit plane.
    p.byte[0] = base + (quad / 4) * 64 + lane;
    p.shift[0] = 2 * (quad % 4);
    p.width[0] = 2;
    p.byte[1] = base + 128 + lane;
    p.shift[1] = quad;
    p.width[1] = 1;
    p.pieces = 2;
    break;
  }
  return p;
}

static void storeScale(const PackedLayout &l, uint8_t *dst, float v) {
  if (l.scaleType == ScaleType::F32) {
    std::memcpy(dst, &v, 4);
  } else {
    uint16_t h = floatToHalf(v);
    std::memcpy(dst, &h, 2);
  }
}

static float loadScale(const PackedLayout &l, const uint8_t *src) {
  if (l.scaleType == ScaleType::F32) {
    float v;
    std::memcpy(&v, src, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, src, 2);
  return halfToFloat(h);
}

//===----------------------------------------------------------------------===//
// repack / unpack
//===----------------------------------------------------------------------===//

Expected<std::vector<uint8_t>> repack(const PackedLayout &l,
                                      ArrayRef<uint8_t> codes,
                                      ArrayRef<float> scales,
                                      ArrayRef<uint8_t> zeros) {
  int64_t ng = l.numGroups();
  if (int64_t(codes.size()) != l.N * l.K)
    return createStringError("codes hold %zu values, expected N * K = %lld",
                             codes.size(), (long long)(l.N * l.K));
  if (int64_t(scales.size()) != l.N * ng)
    return createStringError("scales hold %zu values, expected %lld",
                             scales.size(), (long long)(l.N * ng));
  if (l.symmetric ? !zeros.empty() : int64_t(zeros.size()) != l.N * ng)
    return createStringError("zeros hold %zu values, expected %lld",
                             zeros.size(),
                             (long long)(l.symmetric ? 0 : l.N * ng));
  unsigned maxCode = (1u << l.bits) - 1;
  std::vector<uint8_t> out(l.totalBytes(), 0);
  for (int64_t n = 0; n < l.N; ++n) {
    uint8_t *tile = out.data() + (n / kTileRows) * l.tileBytes();
    int64_t r = n % kTileRows;
    for (int64_t g = 0; g < ng; ++g) {
      int64_t len = l.groupLen(g), kp0 = l.groupPadBegin(g);
      for (int64_t i = 0; i < len; ++i) {
        unsigned q = codes[n * l.K + g * l.groupCols() + i];
        if (q > maxCode)
          return createStringError("code %u at [%lld, %lld] exceeds %u bits", q,
                                   (long long)n,
                                   (long long)(g * l.groupCols() + i), l.bits);
        CodePlace p = placeCode(l, r, kp0 + i);
        unsigned rest = q;
        for (unsigned j = 0; j < p.pieces; ++j) {
          tile[p.byte[j]] |= (rest & ((1u << p.width[j]) - 1)) << p.shift[j];
          rest >>= p.width[j];
        }
      }
      float s = scales[n * ng + g];
      storeScale(
          l, tile + l.scalesOffset() + (g * kTileRows + r) * l.scaleSize(), s);
      if (!l.symmetric) {
        float m = -s * float(zeros[n * ng + g]);
        storeScale(
            l, tile + l.offsetsOffset() + (g * kTileRows + r) * l.scaleSize(),
            m);
      }
    }
  }
  return out;
}

static Error checkPackedSize(const PackedLayout &l, ArrayRef<uint8_t> packed) {
  if (int64_t(packed.size()) != l.totalBytes())
    return createStringError("packed buffer holds %zu bytes, expected %lld",
                             packed.size(), (long long)l.totalBytes());
  return Error::success();
}

static unsigned readCode(const PackedLayout &l, const uint8_t *tile, int64_t r,
                         int64_t kp) {
  CodePlace p = placeCode(l, r, kp);
  unsigned q = 0, pos = 0;
  for (unsigned j = 0; j < p.pieces; ++j) {
    q |= ((tile[p.byte[j]] >> p.shift[j]) & ((1u << p.width[j]) - 1)) << pos;
    pos += p.width[j];
  }
  return q;
}

Error unpack(const PackedLayout &l, ArrayRef<uint8_t> packed,
             std::vector<uint8_t> &codes, std::vector<float> &scales,
             std::vector<uint8_t> &zeros) {
  if (Error e = checkPackedSize(l, packed))
    return e;
  int64_t ng = l.numGroups();
  codes.assign(l.N * l.K, 0);
  scales.assign(l.N * ng, 0.0f);
  zeros.assign(l.symmetric ? 0 : l.N * ng, 0);
  for (int64_t n = 0; n < l.N; ++n) {
    const uint8_t *tile = packed.data() + (n / kTileRows) * l.tileBytes();
    int64_t r = n % kTileRows;
    for (int64_t g = 0; g < ng; ++g) {
      int64_t len = l.groupLen(g), kp0 = l.groupPadBegin(g);
      for (int64_t i = 0; i < len; ++i)
        codes[n * l.K + g * l.groupCols() + i] =
            uint8_t(readCode(l, tile, r, kp0 + i));
      int64_t at = (g * kTileRows + r) * l.scaleSize();
      float s = loadScale(l, tile + l.scalesOffset() + at);
      scales[n * ng + g] = s;
      if (!l.symmetric) {
        float m = loadScale(l, tile + l.offsetsOffset() + at);
        double z = s != 0.0f ? std::nearbyint(-double(m) / double(s)) : 0.0;
        zeros[n * ng + g] = uint8_t(std::clamp(z, 0.0, 255.0));
      }
    }
  }
  return Error::success();
}

Expected<std::vector<float>> effectiveWeights(const PackedLayout &l,
                                              ArrayRef<uint8_t> packed) {
  if (Error e = checkPackedSize(l, packed))
    return std::move(e);
  int64_t ng = l.numGroups();
  std::vector<float> w(l.N * l.K);
  for (int64_t n = 0; n < l.N; ++n) {
    const uint8_t *tile = packed.data() + (n / kTileRows) * l.tileBytes();
    int64_t r = n % kTileRows;
    for (int64_t g = 0; g < ng; ++g) {
      int64_t at = (g * kTileRows + r) * l.scaleSize();
      float s = loadScale(l, tile + l.scalesOffset() + at);
      float m = l.symmetric ? s * -float(1u << (l.bits - 1))
                            : loadScale(l, tile + l.offsetsOffset() + at);
      int64_t len = l.groupLen(g), kp0 = l.groupPadBegin(g);
      for (int64_t i = 0; i < len; ++i)
        w[n * l.K + g * l.groupCols() + i] =
            s * float(readCode(l, tile, r, kp0 + i)) + m;
    }
  }
  return w;
}

} // namespace lowbit::x86
