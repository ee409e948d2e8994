//===- GgufBlocksRef.h - reader of make_gguf_blocks.py outputs --*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// The GGUF block references that make_gguf_blocks.py writes into
// $LOWBIT_GGUF_BLOCKS_DIR (the gguf_blocks CTest fixture): blocks quantized
// by gguf.quants, their dequantization by gguf.quants.dequantize, and a float64
// matmul with random activations. Shared by the codec and x86 kernel tests.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TEST_UNIT_CODECS_GGUFBLOCKSREF_H
#define LOWBIT_TEST_UNIT_CODECS_GGUFBLOCKSREF_H

#include "lowbitrt/Codec.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace lowbit::test {

struct GgufBlocksRef {
  std::string type; // "Q4_0", "Q4_1", "Q8_0"
  int64_t N = 0, K = 0, B = 0;
  std::vector<uint8_t> blocks;
  std::vector<float> W;  // gguf.quants.dequantize, [N, K]
  std::vector<float> x;  // [B, K]
  std::vector<double> y; // x @ W.T in float64, [B, N]

  /// The codec of this GGUF type and the WeightDesc it holds.
  const char *codecName() const {
    return type == "Q4_0"   ? codec::kGgufQ4_0Codec
           : type == "Q4_1" ? codec::kGgufQ4_1Codec
                            : codec::kGgufQ8_0Codec;
  }
  codec::WeightDesc desc() const {
    codec::WeightDesc d;
    d.bits = type == "Q8_0" ? 8 : 4;
    d.groupSize = 32;
    d.symmetric = type != "Q4_1";
    d.zeroKind =
        type == "Q4_1" ? codec::ZeroKind::FloatMin : codec::ZeroKind::Integer;
    d.scaleType = codec::ScaleType::F16;
    d.N = N;
    d.K = K;
    return d;
  }
};

/// The directory of the references, or "" when the fixture did not run.
inline std::string ggufBlocksDir() {
  const char *dir = std::getenv("LOWBIT_GGUF_BLOCKS_DIR");
  return dir ? dir : "";
}

/// Reads <dir>/<type>.bin; false with a message on a missing or short file.
inline bool readGgufBlocksRef(const std::string &type, GgufBlocksRef &ref,
                              std::string &error) {
  std::string path = ggufBlocksDir() + "/" + type + ".bin";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open";
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  size_t at = 0;
  auto take = [&](void *dst, size_t n) {
    if (at + n > bytes.size())
      return false;
    std::memcpy(dst, bytes.data() + at, n);
    at += n;
    return true;
  };
  ref.type = type;
  int64_t dims[3];
  if (!take(dims, sizeof(dims))) {
    error = path + ": short header";
    return false;
  }
  ref.N = dims[0];
  ref.K = dims[1];
  ref.B = dims[2];
  int64_t blockBytes = type == "Q4_0" ? 18 : type == "Q4_1" ? 20 : 34;
  ref.blocks.resize(size_t(ref.N * ref.K / 32 * blockBytes));
  ref.W.resize(size_t(ref.N * ref.K));
  ref.x.resize(size_t(ref.B * ref.K));
  ref.y.resize(size_t(ref.B * ref.N));
  if (!take(ref.blocks.data(), ref.blocks.size()) ||
      !take(ref.W.data(), 4 * ref.W.size()) ||
      !take(ref.x.data(), 4 * ref.x.size()) ||
      !take(ref.y.data(), 8 * ref.y.size()) || at != bytes.size()) {
    error = path + ": size does not match its header";
    return false;
  }
  return true;
}

} // namespace lowbit::test

#endif // LOWBIT_TEST_UNIT_CODECS_GGUFBLOCKSREF_H
