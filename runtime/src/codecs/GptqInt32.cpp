//===- GptqInt32.cpp - codec gptq-int32-v1 ----------------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// The tensors of one GPTQ (AutoGPTQ / GPTQModel checkpoint format "v1")
// quantized linear layer, concatenated in this order, all little-endian:
//
//   qweight  int32 [K / 32 * bits, N]   codes packed along K
//   qzeros   int32 [G, N / 32 * bits]   (zero - 1) mod 2^bits packed along N
//
// K and N must be multiples of 32 (as in AutoGPTQ's QuantLinear); bits 2, 3,
// 4 or 8.
//   scales   scale type [G, N]          (f16 in the checkpoints)
//   g_idx    int32 [K]                  k / groupCols (no act-order)
//
// Packing along an axis: the values v[0], v[1], ... of one column of qweight
// (one row of qzeros) form a little-endian bit stream, value i at bits
// [i * bits, (i + 1) * bits); word j holds stream bits [32 j, 32 j + 32).
// For bits 2, 4 and 8 this is AutoGPTQ's `word |= v[i] << (bits * i)`; for
// bits 3 it is its 10 + 1 + 10 + 1 + 10 layout of 32 values in 3 words.
//
// Zero points are stored minus one (AutoGPTQ's `zeros -= 1` before packing,
// undone by `zeros + 1` in its kernels), wrapping modulo 2^bits so that zero 0
// is stored as 2^bits - 1. Symmetric weights store 2^(bits-1) - 1 everywhere,
// as the checkpoints do.
//
//===----------------------------------------------------------------------===//

#include "CodecImpl.h"

using namespace lowbit::codec;
using namespace lowbit::codec::detail;

namespace {

/// The byte offsets of the four tensors.
struct GptqLayout {
  int64_t qweightRows, qzerosCols, numGroups;
  int64_t qweightOffset, qzerosOffset, scalesOffset, gIdxOffset, total;
};

/// Reads value i (of `bits` bits) of the bit stream whose 32-bit words are
/// at data + wordOffset(j).
template <typename WordAt>
unsigned readStream(const WordAt &wordAt, int64_t i, unsigned bits) {
  int64_t bit = i * bits;
  int64_t word = bit / 32;
  unsigned shift = unsigned(bit % 32);
  uint64_t v = loadU32(wordAt(word));
  if (shift + bits > 32)
    v |= uint64_t(loadU32(wordAt(word + 1))) << 32;
  return unsigned(v >> shift) & ((1u << bits) - 1);
}

/// ORs value `v` into the bit stream as value i.
template <typename WordAt>
void writeStream(const WordAt &wordAt, int64_t i, unsigned bits, unsigned v) {
  int64_t bit = i * bits;
  int64_t word = bit / 32;
  unsigned shift = unsigned(bit % 32);
  uint64_t wide = uint64_t(v) << shift;
  uint8_t *lo = wordAt(word);
  storeU32(lo, loadU32(lo) | uint32_t(wide));
  if (shift + bits > 32) {
    uint8_t *hi = wordAt(word + 1);
    storeU32(hi, loadU32(hi) | uint32_t(wide >> 32));
  }
}

class GptqInt32Codec final : public Codec {
public:
  const char *name() const override { return kGptqInt32Codec; }

  bool supports(const WeightDesc &d, std::string *why) const override {
    if (!validateDesc(d, why) || !rejectFloatMin(d, why) ||
        !rejectSuperGroups(d, why))
      return false;
    if (d.bits != 2 && d.bits != 3 && d.bits != 4 && d.bits != 8)
      return fail(why, "unsupported bit width " + std::to_string(d.bits) +
                           " (expected 2, 3, 4 or 8)");
    // AutoGPTQ's QuantLinear requires both dimensions to be multiples of 32
    // (qweight has K / 32 * bits rows, qzeros N / 32 * bits columns).
    if (d.K % 32 != 0)
      return fail(why, "K = " + std::to_string(d.K) +
                           " is not a multiple of 32 (qweight packs along K "
                           "into int32 rows)");
    if (d.N % 32 != 0)
      return fail(why, "N = " + std::to_string(d.N) +
                           " is not a multiple of 32 (qzeros packs along N "
                           "into int32 columns)");
    return true;
  }

  static bool layout(const WeightDesc &d, GptqLayout &l) {
    l.numGroups = d.numGroups();
    l.qweightRows = d.K * d.bits / 32;
    l.qzerosCols = d.N * d.bits / 32;
    l.qweightOffset = 0;
    int64_t ss = scaleTypeBytes(d.scaleType);
    return mulAdd(4 * l.qweightRows, d.N, 0, l.qzerosOffset) &&
           mulAdd(4 * l.numGroups, l.qzerosCols, l.qzerosOffset,
                  l.scalesOffset) &&
           mulAdd(ss * l.numGroups, d.N, l.scalesOffset, l.gIdxOffset) &&
           mulAdd(4, d.K, l.gIdxOffset, l.total);
  }

  int64_t byteSize(const WeightDesc &d) const override {
    GptqLayout l;
    if (!supports(d, nullptr) || !layout(d, l))
      return -1;
    return l.total;
  }

  bool encode(const WeightDesc &d, const UnpackedWeight &in,
              std::vector<uint8_t> &out, std::string *error) const override {
    if (!checkUnpacked(*this, d, in, error))
      return false;
    GptqLayout l;
    layout(d, l);
    out.assign(size_t(l.total), 0);
    uint8_t *base = out.data();
    const int64_t N = d.N, K = d.K, ng = l.numGroups;
    const unsigned mask = (1u << d.bits) - 1;
    for (int64_t n = 0; n < N; ++n) {
      // Column n of qweight: word j at row j.
      auto wordAt = [&](int64_t j) {
        return base + l.qweightOffset + 4 * (j * N + n);
      };
      for (int64_t k = 0; k < K; ++k)
        writeStream(wordAt, k, d.bits, in.codes[n * K + k]);
    }
    for (int64_t g = 0; g < ng; ++g) {
      // Row g of qzeros.
      auto wordAt = [&](int64_t j) {
        return base + l.qzerosOffset + 4 * (g * l.qzerosCols + j);
      };
      for (int64_t n = 0; n < N; ++n) {
        unsigned z = d.symmetric ? d.symmetricZero() : in.zeros[n * ng + g];
        writeStream(wordAt, n, d.bits, (z - 1) & mask);
      }
    }
    const int64_t ss = scaleTypeBytes(d.scaleType);
    for (int64_t g = 0; g < ng; ++g)
      for (int64_t n = 0; n < N; ++n)
        storeScale(d.scaleType, base + l.scalesOffset + (g * N + n) * ss,
                   in.scales[n * ng + g]);
    for (int64_t k = 0; k < K; ++k)
      storeU32(base + l.gIdxOffset + 4 * k, uint32_t(k / d.groupCols()));
    return true;
  }

  /// Checks g_idx and the zeros of a symmetric weight, the parts of the
  /// bytes that must agree with `d`.
  bool checkHeader(const WeightDesc &d, const GptqLayout &l,
                   const uint8_t *data, std::string *error) const {
    for (int64_t k = 0; k < d.K; ++k) {
      uint32_t got = loadU32(data + l.gIdxOffset + 4 * k);
      uint32_t want = uint32_t(k / d.groupCols());
      if (got != want)
        return fail(error, std::string(name()) + ": g_idx[" +
                               std::to_string(k) + "] is " +
                               std::to_string(int32_t(got)) + ", expected " +
                               std::to_string(want) +
                               " (act-order g_idx is not representable)");
    }
    return true;
  }

  unsigned readZero(const WeightDesc &d, const GptqLayout &l,
                    const uint8_t *data, int64_t g, int64_t n) const {
    auto wordAt = [&](int64_t j) {
      return data + l.qzerosOffset + 4 * (g * l.qzerosCols + j);
    };
    return (readStream(wordAt, n, d.bits) + 1) & ((1u << d.bits) - 1);
  }

  bool checkZero(const WeightDesc &d, unsigned z, int64_t n, int64_t g,
                 std::string *error) const {
    if (d.symmetric && z != d.symmetricZero())
      return fail(error, std::string(name()) + ": qzeros of row " +
                             std::to_string(n) + ", group " +
                             std::to_string(g) + " hold zero " +
                             std::to_string(z) + ", a symmetric weight needs " +
                             std::to_string(d.symmetricZero()));
    return true;
  }

  bool decode(const WeightDesc &d, const uint8_t *data, size_t size,
              UnpackedWeight &out, std::string *error) const override {
    if (!checkEncoded(*this, d, size, error))
      return false;
    GptqLayout l;
    layout(d, l);
    if (!checkHeader(d, l, data, error))
      return false;
    const int64_t N = d.N, K = d.K, ng = l.numGroups;
    const int64_t ss = scaleTypeBytes(d.scaleType);
    out.codes.assign(size_t(N * K), 0);
    out.scales.assign(size_t(N * ng), 0.0f);
    out.zeros.assign(d.symmetric ? 0 : size_t(N * ng), 0);
    for (int64_t n = 0; n < N; ++n) {
      auto wordAt = [&](int64_t j) {
        return data + l.qweightOffset + 4 * (j * N + n);
      };
      for (int64_t k = 0; k < K; ++k)
        out.codes[n * K + k] = uint8_t(readStream(wordAt, k, d.bits));
      for (int64_t g = 0; g < ng; ++g) {
        unsigned z = readZero(d, l, data, g, n);
        if (!checkZero(d, z, n, g, error))
          return false;
        if (!d.symmetric)
          out.zeros[n * ng + g] = uint8_t(z);
        out.scales[n * ng + g] =
            loadScale(d.scaleType, data + l.scalesOffset + (g * N + n) * ss);
      }
    }
    return true;
  }

  bool dequantizeRows(const WeightDesc &d, const uint8_t *data, size_t size,
                      int64_t rowBegin, int64_t rowEnd, float *out,
                      std::string *error) const override {
    if (!checkRows(*this, d, size, rowBegin, rowEnd, out, error))
      return false;
    GptqLayout l;
    layout(d, l);
    if (!checkHeader(d, l, data, error))
      return false;
    const int64_t N = d.N, K = d.K, ng = l.numGroups;
    const int64_t ss = scaleTypeBytes(d.scaleType);
    for (int64_t n = rowBegin; n < rowEnd; ++n) {
      auto wordAt = [&](int64_t j) {
        return data + l.qweightOffset + 4 * (j * N + n);
      };
      float *w = out + (n - rowBegin) * K;
      for (int64_t g = 0; g < ng; ++g) {
        unsigned z = readZero(d, l, data, g, n);
        if (!checkZero(d, z, n, g, error))
          return false;
        float s =
            loadScale(d.scaleType, data + l.scalesOffset + (g * N + n) * ss);
        int64_t k0 = g * d.groupCols(), len = d.groupLen(g);
        for (int64_t i = 0; i < len; ++i) {
          int q = int(readStream(wordAt, k0 + i, d.bits));
          w[k0 + i] = s * float(q - int(z));
        }
      }
    }
    return true;
  }
};
} // namespace

const Codec &lowbit::codec::detail::gptqInt32Codec() {
  static const GptqInt32Codec codec;
  return codec;
}
