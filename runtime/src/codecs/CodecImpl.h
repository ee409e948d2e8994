//===- CodecImpl.h - helpers shared by the codecs ---------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Private helpers of lowbitrt_codecs: error reporting, checked arithmetic,
/// scale storage and the argument checks every codec makes.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_CODECS_CODECIMPL_H
#define LOWBITRT_CODECS_CODECIMPL_H

#include "lowbitrt/Codec.h"

#include <cstring>

namespace lowbit::codec::detail {

/// Sets `*error` (when not null) and returns false.
bool fail(std::string *error, std::string message);

/// r = a * b + c without overflow (all non-negative); false on overflow.
bool mulAdd(int64_t a, int64_t b, int64_t c, int64_t &r);

/// Stores `v` rounded to `type` at `dst` (little-endian).
inline void storeScale(ScaleType type, uint8_t *dst, float v) {
  switch (type) {
  case ScaleType::F32:
    std::memcpy(dst, &v, 4);
    return;
  case ScaleType::F16: {
    uint16_t h = floatToHalf(v);
    std::memcpy(dst, &h, 2);
    return;
  }
  case ScaleType::BF16: {
    uint16_t h = floatToBFloat16(v);
    std::memcpy(dst, &h, 2);
    return;
  }
  }
}

/// Loads a value of `type` from `src`.
inline float loadScale(ScaleType type, const uint8_t *src) {
  if (type == ScaleType::F32) {
    float v;
    std::memcpy(&v, src, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, src, 2);
  return type == ScaleType::F16 ? halfToFloat(h) : bfloat16ToFloat(h);
}

inline void storeU32(uint8_t *dst, uint32_t v) { std::memcpy(dst, &v, 4); }
inline uint32_t loadU32(const uint8_t *src) {
  uint32_t v;
  std::memcpy(&v, src, 4);
  return v;
}

/// The checks before decode: `codec.supports(desc)` and size ==
/// byteSize(desc). False with a message naming the codec.
bool checkEncoded(const Codec &codec, const WeightDesc &desc, size_t size,
                  std::string *error);

/// The checks before encode: supports(desc) and validateUnpacked.
bool checkUnpacked(const Codec &codec, const WeightDesc &desc,
                   const UnpackedWeight &in, std::string *error);

/// The checks before dequantizeRows: checkEncoded, 0 <= rowBegin <= rowEnd
/// <= N and `out` not null for a non-empty range.
bool checkRows(const Codec &codec, const WeightDesc &desc, size_t size,
               int64_t rowBegin, int64_t rowEnd, const float *out,
               std::string *error);

/// The singletons (defined in each codec's file).
const Codec &plainCodec();
const Codec &x86Tile16Codec();
const Codec &gptqInt32Codec();
const Codec &ggufQ4_0Codec();
const Codec &ggufQ4_1Codec();
const Codec &ggufQ8_0Codec();

/// False with "float minimums are not supported" for a FloatMin desc: the
/// check of codecs that only hold integer zero points.
bool rejectFloatMin(const WeightDesc &desc, std::string *why);

/// False with a reason for a desc with super-block scales: the check of
/// codecs whose bytes hold plain group scales.
bool rejectSuperGroups(const WeightDesc &desc, std::string *why);

} // namespace lowbit::codec::detail

#endif // LOWBITRT_CODECS_CODECIMPL_H
