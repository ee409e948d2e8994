//===- Codec.cpp - codec registry and shared checks -------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "CodecImpl.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace lowbit::codec;

//===----------------------------------------------------------------------===//
// Scale types and f16 / bf16
//===----------------------------------------------------------------------===//

const char *lowbit::codec::scaleTypeName(ScaleType type) {
  switch (type) {
  case ScaleType::F32:
    return "f32";
  case ScaleType::F16:
    return "f16";
  case ScaleType::BF16:
    return "bf16";
  }
  return "?";
}

bool lowbit::codec::parseScaleType(std::string_view name, ScaleType &type) {
  for (ScaleType t : {ScaleType::F32, ScaleType::F16, ScaleType::BF16})
    if (name == scaleTypeName(t)) {
      type = t;
      return true;
    }
  return false;
}

int64_t lowbit::codec::scaleTypeBytes(ScaleType type) {
  return type == ScaleType::F32 ? 4 : 2;
}

uint16_t lowbit::codec::floatToHalf(float f) {
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

float lowbit::codec::halfToFloat(uint16_t h) {
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

uint16_t lowbit::codec::floatToBFloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) // NaN: keep it quiet.
    return uint16_t((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return uint16_t(x >> 16);
}

float lowbit::codec::bfloat16ToFloat(uint16_t h) {
  uint32_t x = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

float lowbit::codec::roundToScaleType(float v, ScaleType type) {
  switch (type) {
  case ScaleType::F32:
    return v;
  case ScaleType::F16:
    return halfToFloat(floatToHalf(v));
  case ScaleType::BF16:
    return bfloat16ToFloat(floatToBFloat16(v));
  }
  return v;
}

//===----------------------------------------------------------------------===//
// WeightDesc and UnpackedWeight
//===----------------------------------------------------------------------===//

int64_t WeightDesc::numGroups() const {
  int64_t cols = groupCols();
  if (K <= 0 || cols <= 0)
    return 0;
  return (K + cols - 1) / cols;
}

int64_t WeightDesc::groupLen(int64_t g) const {
  return std::min(groupCols(), K - g * groupCols());
}

bool lowbit::codec::validateDesc(const WeightDesc &d, std::string *why) {
  if (d.bits < 2 || d.bits > 8)
    return detail::fail(why, "unsupported bit width " + std::to_string(d.bits) +
                                 " (expected 2 to 8)");
  if (d.groupSize == 0 || d.groupSize < -1)
    return detail::fail(why,
                        "invalid group size " + std::to_string(d.groupSize));
  // Bounds that keep every size computation in int64 range.
  constexpr int64_t kMaxDim = int64_t(1) << 31;
  if (d.K <= 0 || d.N <= 0 || d.K > kMaxDim || d.N > kMaxDim)
    return detail::fail(why, "invalid shape K = " + std::to_string(d.K) +
                                 ", N = " + std::to_string(d.N));
  if (d.scaleType != ScaleType::F32 && d.scaleType != ScaleType::F16 &&
      d.scaleType != ScaleType::BF16)
    return detail::fail(why, "invalid scale type");
  if (d.zeroKind != ZeroKind::Integer && d.zeroKind != ZeroKind::FloatMin)
    return detail::fail(why, "invalid zero kind");
  if (d.symmetric && d.zeroKind == ZeroKind::FloatMin)
    return detail::fail(why, "a symmetric weight has no float minimums");
  if (d.superGroup != 0 &&
      (d.superGroup < 2 || d.groupSize < 0 || d.scaleType == ScaleType::F32 ||
       d.zeroKind != ZeroKind::Integer))
    return detail::fail(
        why, "invalid super-block of " + std::to_string(d.superGroup) +
                 " groups (expected 0, or at least 2 with a positive group "
                 "size, f16 or bf16 scales and integer zero points)");
  return true;
}

bool lowbit::codec::validateUnpacked(const WeightDesc &d,
                                     const UnpackedWeight &in,
                                     std::string *error) {
  if (!validateDesc(d, error))
    return false;
  int64_t ng = d.numGroups();
  if (int64_t(in.codes.size()) != d.N * d.K)
    return detail::fail(
        error, "codes hold " + std::to_string(in.codes.size()) +
                   " values, expected N * K = " + std::to_string(d.N * d.K));
  if (int64_t(in.scales.size()) != d.N * ng)
    return detail::fail(error,
                        "scales hold " + std::to_string(in.scales.size()) +
                            " values, expected " + std::to_string(d.N * ng));
  bool mins = d.zeroKind == ZeroKind::FloatMin;
  int64_t wantZeros = d.symmetric || mins ? 0 : d.N * ng;
  if (int64_t(in.zeros.size()) != wantZeros)
    return detail::fail(error, "zeros hold " + std::to_string(in.zeros.size()) +
                                   " values, expected " +
                                   std::to_string(wantZeros) +
                                   (d.symmetric ? " (symmetric)"
                                    : mins      ? " (float minimums)"
                                                : ""));
  int64_t wantMins = mins ? d.N * ng : 0;
  if (int64_t(in.mins.size()) != wantMins)
    return detail::fail(error, "mins hold " + std::to_string(in.mins.size()) +
                                   " values, expected " +
                                   std::to_string(wantMins));
  unsigned maxCode = (1u << d.bits) - 1;
  for (size_t i = 0; i < in.codes.size(); ++i)
    if (in.codes[i] > maxCode)
      return detail::fail(error,
                          "code " + std::to_string(in.codes[i]) + " at [" +
                              std::to_string(int64_t(i) / d.K) + ", " +
                              std::to_string(int64_t(i) % d.K) + "] exceeds " +
                              std::to_string(d.bits) + " bits");
  for (size_t i = 0; i < in.zeros.size(); ++i)
    if (in.zeros[i] > maxCode)
      return detail::fail(error, "zero " + std::to_string(in.zeros[i]) +
                                     " at [" + std::to_string(int64_t(i) / ng) +
                                     ", " + std::to_string(int64_t(i) % ng) +
                                     "] exceeds " + std::to_string(d.bits) +
                                     " bits");
  return true;
}

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

namespace lowbit::codec::detail {

bool fail(std::string *error, std::string message) {
  if (error)
    *error = std::move(message);
  return false;
}

bool mulAdd(int64_t a, int64_t b, int64_t c, int64_t &r) {
  int64_t p;
  if (__builtin_mul_overflow(a, b, &p) || __builtin_add_overflow(p, c, &r))
    return false;
  return true;
}

bool rejectFloatMin(const WeightDesc &desc, std::string *why) {
  if (desc.zeroKind == ZeroKind::FloatMin)
    return fail(why, "float minimums (zero kind min) are not supported");
  return true;
}

bool rejectSuperGroups(const WeightDesc &desc, std::string *why) {
  if (desc.superGroup != 0)
    return fail(why, "super-block scales (super group " +
                         std::to_string(desc.superGroup) +
                         ") are not supported");
  return true;
}

bool checkEncoded(const Codec &codec, const WeightDesc &desc, size_t size,
                  std::string *error) {
  std::string why;
  if (!codec.supports(desc, &why))
    return fail(error, std::string(codec.name()) + ": " + why);
  int64_t want = codec.byteSize(desc);
  if (want < 0)
    return fail(error, std::string(codec.name()) + ": encoded size overflows");
  if (size != uint64_t(want))
    return fail(error, std::string(codec.name()) + ": encoded weight holds " +
                           std::to_string(size) + " bytes, expected " +
                           std::to_string(want) +
                           " for N = " + std::to_string(desc.N) +
                           ", K = " + std::to_string(desc.K));
  return true;
}

bool checkUnpacked(const Codec &codec, const WeightDesc &desc,
                   const UnpackedWeight &in, std::string *error) {
  std::string why;
  if (!codec.supports(desc, &why))
    return fail(error, std::string(codec.name()) + ": " + why);
  if (codec.byteSize(desc) < 0)
    return fail(error, std::string(codec.name()) + ": encoded size overflows");
  return validateUnpacked(desc, in, error);
}

bool checkRows(const Codec &codec, const WeightDesc &desc, size_t size,
               int64_t rowBegin, int64_t rowEnd, const float *out,
               std::string *error) {
  if (!checkEncoded(codec, desc, size, error))
    return false;
  if (rowBegin < 0 || rowBegin > rowEnd || rowEnd > desc.N)
    return fail(error, std::string(codec.name()) + ": row range [" +
                           std::to_string(rowBegin) + ", " +
                           std::to_string(rowEnd) + ") is not inside [0, " +
                           std::to_string(desc.N) + ")");
  if (!out && rowEnd > rowBegin)
    return fail(error, std::string(codec.name()) + ": null output buffer");
  return true;
}

} // namespace lowbit::codec::detail

//===----------------------------------------------------------------------===//
// Registry
//===----------------------------------------------------------------------===//

Codec::~Codec() = default;

/// Every codec, sorted by name.
static const Codec *const *allCodecs(size_t &count) {
  static const Codec *const codecs[] = {
      &detail::ggufQ4_0Codec(), &detail::ggufQ4_1Codec(),
      &detail::ggufQ8_0Codec(), &detail::gptqInt32Codec(),
      &detail::plainCodec(),    &detail::x86Tile16Codec(),
  };
  count = sizeof(codecs) / sizeof(codecs[0]);
  return codecs;
}

const Codec *lowbit::codec::findCodec(std::string_view name) {
  size_t count;
  const Codec *const *codecs = allCodecs(count);
  for (size_t i = 0; i < count; ++i)
    if (name == codecs[i]->name())
      return codecs[i];
  return nullptr;
}

std::vector<std::string> lowbit::codec::codecNames() {
  size_t count;
  const Codec *const *codecs = allCodecs(count);
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i)
    names.push_back(codecs[i]->name());
  std::sort(names.begin(), names.end());
  return names;
}
