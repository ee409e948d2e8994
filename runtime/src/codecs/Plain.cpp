//===- Plain.cpp - codec plain-v1 -------------------------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// The unpacked logical form serialized: codes u8 [N, K], scales in the scale
// type [N, numGroups] (little-endian), zeros u8 [N, numGroups] when
// asymmetric. No padding, no header. The reference codec every other codec
// round-trips through.
//
//===----------------------------------------------------------------------===//

#include "CodecImpl.h"

using namespace lowbit::codec;
using namespace lowbit::codec::detail;

namespace {
class PlainCodec final : public Codec {
public:
  const char *name() const override { return kPlainCodec; }

  bool supports(const WeightDesc &d, std::string *why) const override {
    return validateDesc(d, why) && rejectFloatMin(d, why) &&
           rejectSuperGroups(d, why);
  }

  int64_t byteSize(const WeightDesc &d) const override {
    if (!supports(d, nullptr))
      return -1;
    int64_t cells = d.N * d.numGroups(), total;
    int64_t perCell = scaleTypeBytes(d.scaleType) + (d.symmetric ? 0 : 1);
    if (!mulAdd(cells, perCell, d.N * d.K, total))
      return -1;
    return total;
  }

  bool encode(const WeightDesc &d, const UnpackedWeight &in,
              std::vector<uint8_t> &out, std::string *error) const override {
    if (!checkUnpacked(*this, d, in, error))
      return false;
    out.assign(size_t(byteSize(d)), 0);
    uint8_t *p = out.data();
    std::memcpy(p, in.codes.data(), in.codes.size());
    p += in.codes.size();
    const int64_t ss = scaleTypeBytes(d.scaleType);
    for (float s : in.scales) {
      storeScale(d.scaleType, p, s);
      p += ss;
    }
    if (!in.zeros.empty())
      std::memcpy(p, in.zeros.data(), in.zeros.size());
    return true;
  }

  bool decode(const WeightDesc &d, const uint8_t *data, size_t size,
              UnpackedWeight &out, std::string *error) const override {
    if (!checkEncoded(*this, d, size, error))
      return false;
    const int64_t cells = d.N * d.numGroups();
    const int64_t ss = scaleTypeBytes(d.scaleType);
    const uint8_t *p = data;
    out.codes.assign(p, p + d.N * d.K);
    p += d.N * d.K;
    out.scales.resize(size_t(cells));
    for (int64_t i = 0; i < cells; ++i, p += ss)
      out.scales[size_t(i)] = loadScale(d.scaleType, p);
    if (d.symmetric)
      out.zeros.clear();
    else
      out.zeros.assign(p, p + cells);
    // The bytes may come from anywhere: reject codes and zeros that do not
    // fit the bit width, so a decoded weight always re-encodes.
    return validateUnpacked(d, out, error);
  }

  bool dequantizeRows(const WeightDesc &d, const uint8_t *data, size_t size,
                      int64_t rowBegin, int64_t rowEnd, float *out,
                      std::string *error) const override {
    if (!checkRows(*this, d, size, rowBegin, rowEnd, out, error))
      return false;
    const int64_t ng = d.numGroups(), cells = d.N * ng;
    const int64_t ss = scaleTypeBytes(d.scaleType);
    const uint8_t *codes = data;
    const uint8_t *scales = data + d.N * d.K;
    const uint8_t *zeros = scales + cells * ss;
    const unsigned maxCode = (1u << d.bits) - 1;
    for (int64_t n = rowBegin; n < rowEnd; ++n) {
      float *w = out + (n - rowBegin) * d.K;
      for (int64_t g = 0; g < ng; ++g) {
        float s = loadScale(d.scaleType, scales + (n * ng + g) * ss);
        unsigned z = d.symmetric ? d.symmetricZero() : zeros[n * ng + g];
        if (z > maxCode)
          return fail(error, std::string(name()) + ": zero " +
                                 std::to_string(z) + " at [" +
                                 std::to_string(n) + ", " + std::to_string(g) +
                                 "] exceeds " + std::to_string(d.bits) +
                                 " bits");
        int64_t k0 = g * d.groupCols(), len = d.groupLen(g);
        for (int64_t i = 0; i < len; ++i) {
          unsigned q = codes[n * d.K + k0 + i];
          if (q > maxCode)
            return fail(error, std::string(name()) + ": code " +
                                   std::to_string(q) + " at [" +
                                   std::to_string(n) + ", " +
                                   std::to_string(k0 + i) + "] exceeds " +
                                   std::to_string(d.bits) + " bits");
          w[k0 + i] = s * (float(int(q) - int(z)));
        }
      }
    }
    return true;
  }
};
} // namespace

const Codec &lowbit::codec::detail::plainCodec() {
  static const PlainCodec codec;
  return codec;
}
