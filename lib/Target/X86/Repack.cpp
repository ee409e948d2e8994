//===- Repack.cpp - x86 quantized weight layout -----------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "Repack.h"

using namespace llvm;

namespace lowbit::x86 {

static const codec::Codec &x86Codec() {
  return *codec::findCodec(codec::kX86Tile16Codec);
}

Expected<PackedLayout> PackedLayout::get(unsigned bits, int64_t groupSize,
                                         bool symmetric, ScaleType scaleType,
                                         int64_t K, int64_t N,
                                         int64_t superGroup) {
  PackedLayout l;
  l.superGroup = superGroup;
  l.bits = bits;
  l.groupSize = groupSize;
  l.symmetric = symmetric;
  l.scaleType = scaleType;
  l.K = K;
  l.N = N;
  std::string why;
  if (!x86Codec().supports(l, &why))
    return createStringError(why);
  if (x86Codec().byteSize(l) < 0)
    return createStringError("packed size overflows");
  return l;
}

Expected<std::vector<uint8_t>> repack(const PackedLayout &l,
                                      ArrayRef<uint8_t> codes,
                                      ArrayRef<float> scales,
                                      ArrayRef<uint8_t> zeros) {
  codec::UnpackedWeight in;
  in.codes.assign(codes.begin(), codes.end());
  in.scales.assign(scales.begin(), scales.end());
  in.zeros.assign(zeros.begin(), zeros.end());
  std::vector<uint8_t> out;
  std::string error;
  if (!x86Codec().encode(l, in, out, &error))
    return createStringError(error);
  return out;
}

Error unpack(const PackedLayout &l, ArrayRef<uint8_t> packed,
             std::vector<uint8_t> &codes, std::vector<float> &scales,
             std::vector<uint8_t> &zeros) {
  codec::UnpackedWeight out;
  std::string error;
  if (!x86Codec().decode(l, packed.data(), packed.size(), out, &error))
    return createStringError(error);
  codes = std::move(out.codes);
  scales = std::move(out.scales);
  zeros = std::move(out.zeros);
  return Error::success();
}

Expected<std::vector<float>> effectiveWeights(const PackedLayout &l,
                                              ArrayRef<uint8_t> packed) {
  std::vector<float> w(size_t(l.N * l.K));
  std::string error;
  if (!x86Codec().dequantizeRows(l, packed.data(), packed.size(), 0, l.N,
                                 w.data(), &error))
    return createStringError(error);
  return w;
}

} // namespace lowbit::x86
