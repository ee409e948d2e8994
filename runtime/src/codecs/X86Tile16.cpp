//===- X86Tile16.cpp - codec x86-tile16-v1 ----------------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// The layout read by the generated x86 qmatmul kernels; the byte-level
// description is in lowbitrt/CodecX86Tile16.h.
//
//===----------------------------------------------------------------------===//

#include "CodecImpl.h"
#include "lowbitrt/CodecX86Tile16.h"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace lowbit::codec;
using namespace lowbit::codec::detail;

static int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

//===----------------------------------------------------------------------===//
// X86Tile16Layout
//===----------------------------------------------------------------------===//

int64_t X86Tile16Layout::groupPadLen(int64_t g) const {
  return alignUp(groupLen(g), kBlockCols);
}

int64_t X86Tile16Layout::groupPadBegin(int64_t g) const {
  // All groups but the last have groupCols() columns.
  return g * alignUp(groupCols(), kBlockCols);
}

int64_t X86Tile16Layout::paddedK() const {
  int64_t ng = numGroups();
  return groupPadBegin(ng - 1) + groupPadLen(ng - 1);
}

int64_t X86Tile16Layout::tileBytes() const {
  return alignUp(
      superScalesOffset() + numSupers() * kTileRows * superScaleSize(), 64);
}

int64_t X86Tile16Layout::totalBytes() const {
  int64_t total;
  if (!mulAdd(numTiles(), tileBytes(), 0, total))
    return -1;
  return total;
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

static CodePlace placeCode(const X86Tile16Layout &l, int64_t r, int64_t kp) {
  int64_t block = kp / X86Tile16Layout::kBlockCols;
  int64_t col = kp % X86Tile16Layout::kBlockCols;
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

static unsigned readCode(const X86Tile16Layout &l, const uint8_t *tile,
                         int64_t r, int64_t kp) {
  CodePlace p = placeCode(l, r, kp);
  unsigned q = 0, pos = 0;
  for (unsigned j = 0; j < p.pieces; ++j) {
    q |= ((tile[p.byte[j]] >> p.shift[j]) & ((1u << p.width[j]) - 1)) << pos;
    pos += p.width[j];
  }
  return q;
}

//===----------------------------------------------------------------------===//
// The codec
//===----------------------------------------------------------------------===//

namespace {
class X86Tile16Codec final : public Codec {
public:
  const char *name() const override { return kX86Tile16Codec; }

  bool supports(const WeightDesc &d, std::string *why) const override {
    if (!validateDesc(d, why))
      return false;
    if (d.bits != 2 && d.bits != 3 && d.bits != 4 && d.bits != 8)
      return fail(why, "unsupported bit width " + std::to_string(d.bits) +
                           " (expected 2, 3, 4 or 8)");
    if (d.scaleType == ScaleType::BF16)
      return fail(why, "scale type bf16 is not supported (expected f32 or "
                       "f16)");
    return true;
  }

  /// The super-block scale d and the codes of groups [g0, g1) of row n, from
  /// their scales (exact products d * c with max |c| = 127). False, naming
  /// the row and groups, when they are not on such a grid.
  static bool superCodes(const float *scales, int64_t n, int64_t g0, int64_t g1,
                         float &d, int8_t *codes, std::string *error) {
    float top = 0;
    for (int64_t g = g0; g < g1; ++g)
      top = std::max(top, std::fabs(scales[g]));
    d = top / 127.0f;
    bool ok = std::isfinite(d) && halfToFloat(floatToHalf(d)) == d;
    for (int64_t g = g0; ok && g < g1; ++g) {
      float c = d > 0 ? scales[g] / d : 0.0f;
      ok = c == std::nearbyint(c) && std::fabs(c) <= 127.0f &&
           c * d == scales[g];
      codes[g - g0] = ok ? int8_t(c) : 0;
    }
    if (!ok)
      return fail(error, "scales of row " + std::to_string(n) + ", groups " +
                             std::to_string(g0) + " to " +
                             std::to_string(g1 - 1) +
                             " are not on an 8-bit super-block grid (d * c, "
                             "f16 d = max |scale| / 127)");
    return true;
  }

  int64_t byteSize(const WeightDesc &d) const override {
    if (!supports(d, nullptr))
      return -1;
    return X86Tile16Layout(d).totalBytes();
  }

  bool encode(const WeightDesc &d, const UnpackedWeight &in,
              std::vector<uint8_t> &out, std::string *error) const override {
    if (!checkUnpacked(*this, d, in, error))
      return false;
    X86Tile16Layout l(d);
    constexpr int64_t kTileRows = X86Tile16Layout::kTileRows;
    const int64_t ng = l.numGroups(), tileBytes = l.tileBytes();
    const int64_t ss = l.scaleSize();
    out.assign(size_t(l.totalBytes()), 0);
    for (int64_t n = 0; n < l.N; ++n) {
      uint8_t *tile = out.data() + (n / kTileRows) * tileBytes;
      int64_t r = n % kTileRows;
      for (int64_t g = 0; g < ng; ++g) {
        int64_t len = l.groupLen(g), kp0 = l.groupPadBegin(g);
        const uint8_t *codes = in.codes.data() + n * l.K + g * l.groupCols();
        for (int64_t i = 0; i < len; ++i) {
          CodePlace p = placeCode(l, r, kp0 + i);
          unsigned rest = codes[i];
          for (unsigned j = 0; j < p.pieces; ++j) {
            tile[p.byte[j]] |= (rest & ((1u << p.width[j]) - 1)) << p.shift[j];
            rest >>= p.width[j];
          }
        }
        float s = in.scales[n * ng + g];
        int64_t at = (g * kTileRows + r) * ss;
        if (l.superGroup > 0) {
          // Codes and zero bytes; the super-block scales below.
          if (g % l.superGroup == 0) {
            int64_t g1 = std::min(ng, g + l.superGroup);
            float dScale;
            std::vector<int8_t> codes8(size_t(g1 - g));
            if (!superCodes(in.scales.data() + n * ng, n, g, g1, dScale,
                            codes8.data(), error))
              return false;
            for (int64_t j = g; j < g1; ++j)
              tile[l.scalesOffset() + j * kTileRows + r] =
                  uint8_t(codes8[j - g]);
            storeScale(l.scaleType,
                       tile + l.superScalesOffset() +
                           ((g / l.superGroup) * kTileRows + r) *
                               l.superScaleSize(),
                       dScale);
          }
          if (!l.symmetric)
            tile[l.offsetsOffset() + at] = in.zeros[n * ng + g];
          continue;
        }
        storeScale(l.scaleType, tile + l.scalesOffset() + at, s);
        if (!l.symmetric) {
          // The offset slot holds m = -s * z, or the float minimum itself.
          float m = l.zeroKind == ZeroKind::FloatMin
                        ? in.mins[n * ng + g]
                        : -s * float(in.zeros[n * ng + g]);
          storeScale(l.scaleType, tile + l.offsetsOffset() + at, m);
        }
      }
    }
    return true;
  }

  /// The scale d * c of group g, tile row r, of a super-block layout.
  static float superScale(const X86Tile16Layout &l, const uint8_t *tile,
                          int64_t r, int64_t g) {
    constexpr int64_t kTileRows = X86Tile16Layout::kTileRows;
    float c = float(int8_t(tile[l.scalesOffset() + g * kTileRows + r]));
    float dScale =
        loadScale(l.scaleType, tile + l.superScalesOffset() +
                                   ((g / l.superGroup) * kTileRows + r) *
                                       l.superScaleSize());
    return dScale * c;
  }

  bool decode(const WeightDesc &d, const uint8_t *data, size_t size,
              UnpackedWeight &out, std::string *error) const override {
    if (!checkEncoded(*this, d, size, error))
      return false;
    X86Tile16Layout l(d);
    constexpr int64_t kTileRows = X86Tile16Layout::kTileRows;
    const int64_t ng = l.numGroups(), tileBytes = l.tileBytes();
    out.codes.assign(size_t(l.N * l.K), 0);
    out.scales.assign(size_t(l.N * ng), 0.0f);
    bool mins = l.zeroKind == ZeroKind::FloatMin;
    out.zeros.assign(l.symmetric || mins ? 0 : size_t(l.N * ng), 0);
    out.mins.assign(mins ? size_t(l.N * ng) : 0, 0.0f);
    for (int64_t n = 0; n < l.N; ++n) {
      const uint8_t *tile = data + (n / kTileRows) * tileBytes;
      int64_t r = n % kTileRows;
      for (int64_t g = 0; g < ng; ++g) {
        int64_t len = l.groupLen(g), kp0 = l.groupPadBegin(g);
        uint8_t *codes = out.codes.data() + n * l.K + g * l.groupCols();
        for (int64_t i = 0; i < len; ++i)
          codes[i] = uint8_t(readCode(l, tile, r, kp0 + i));
        int64_t at = (g * kTileRows + r) * l.scaleSize();
        if (l.superGroup > 0) {
          out.scales[n * ng + g] = superScale(l, tile, r, g);
          if (!l.symmetric) {
            // Zero bytes past the code range decode clamped.
            unsigned z = tile[l.offsetsOffset() + at];
            out.zeros[n * ng + g] = uint8_t(std::min(z, (1u << l.bits) - 1u));
          }
          continue;
        }
        float s = loadScale(l.scaleType, tile + l.scalesOffset() + at);
        out.scales[n * ng + g] = s;
        if (mins) {
          out.mins[n * ng + g] =
              loadScale(l.scaleType, tile + l.offsetsOffset() + at);
        } else if (!l.symmetric) {
          float m = loadScale(l.scaleType, tile + l.offsetsOffset() + at);
          double z = s != 0.0f ? std::nearbyint(-double(m) / double(s)) : 0.0;
          // NaN (from a NaN scale or offset) decodes as zero 0.
          double maxZero = double((1u << l.bits) - 1);
          out.zeros[n * ng + g] = uint8_t(
              z >= 0.0 && z <= maxZero ? z : (z > maxZero ? maxZero : 0.0));
        }
      }
    }
    return true;
  }

  bool dequantizeRows(const WeightDesc &d, const uint8_t *data, size_t size,
                      int64_t rowBegin, int64_t rowEnd, float *out,
                      std::string *error) const override {
    if (!checkRows(*this, d, size, rowBegin, rowEnd, out, error))
      return false;
    X86Tile16Layout l(d);
    constexpr int64_t kTileRows = X86Tile16Layout::kTileRows;
    const int64_t ng = l.numGroups(), tileBytes = l.tileBytes();
    for (int64_t n = rowBegin; n < rowEnd; ++n) {
      const uint8_t *tile = data + (n / kTileRows) * tileBytes;
      int64_t r = n % kTileRows;
      float *w = out + (n - rowBegin) * l.K;
      for (int64_t g = 0; g < ng; ++g) {
        int64_t at = (g * kTileRows + r) * l.scaleSize();
        float s, m;
        if (l.superGroup > 0) {
          // s = d * c exactly; m = s * -z rounded to f32, as the kernels.
          s = superScale(l, tile, r, g);
          m = s * -float(l.symmetric ? l.symmetricZero()
                                     : tile[l.offsetsOffset() + at]);
        } else {
          s = loadScale(l.scaleType, tile + l.scalesOffset() + at);
          m = l.symmetric
                  ? s * -float(l.symmetricZero())
                  : loadScale(l.scaleType, tile + l.offsetsOffset() + at);
        }
        int64_t len = l.groupLen(g), kp0 = l.groupPadBegin(g);
        float *wg = w + g * l.groupCols();
        // Two roundings, no fused multiply-add: for GGUF Q4_1 (float
        // minimums) this is gguf's (d * q) + m bit for bit.
        for (int64_t i = 0; i < len; ++i) {
          float product = s * float(readCode(l, tile, r, kp0 + i));
          wg[i] = product + m;
        }
      }
    }
    return true;
  }
};
} // namespace

const Codec &lowbit::codec::detail::x86Tile16Codec() {
  static const X86Tile16Codec codec;
  return codec;
}
