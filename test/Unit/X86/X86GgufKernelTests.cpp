//===- X86GgufKernelTests.cpp - x86 kernels on GGUF weights -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// The generated qmatmul kernels on weights kept in GGUF Q4_0, Q4_1 and Q8_0
// blocks (decoded by the gguf-* codecs, packed as x86-tile16-v1) against
// gguf.quants.dequantize + a float64 matmul (make_gguf_blocks.py): every ISA
// level (those this CPU lacks run emulated, as in X86KernelTests.cpp), fp32
// and int8 activations, decode and prefill tiles.
//
//===----------------------------------------------------------------------===//

#include "../Codecs/GgufBlocksRef.h"
#include "CpuFeatures.h"
#include "KernelGen.h"

#include "lowbitrt/X86KernelABI.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace lowbit::x86;
namespace codec = lowbit::codec;
namespace rt = lowbitrt::x86;

namespace {

class LoadedLibrary {
public:
  explicit LoadedLibrary(const std::vector<char> &bytes) {
    fd = memfd_create("lowbit-x86-gguf-test", 0);
    if (fd < 0 ||
        write(fd, bytes.data(), bytes.size()) != ssize_t(bytes.size()))
      return;
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
  ~LoadedLibrary() {
    if (handle)
      dlclose(handle);
    if (fd >= 0)
      close(fd);
  }
  lowbit_x86_qmatmul_fn get(const std::string &name) const {
    return handle ? reinterpret_cast<lowbit_x86_qmatmul_fn>(
                        dlsym(handle, name.c_str()))
                  : nullptr;
  }

private:
  int fd = -1;
  void *handle = nullptr;
};

rt::X86Variant toVariant(Isa isa) {
  switch (isa) {
  case Isa::AVX2:
    return rt::X86Variant::AVX2;
  case Isa::AVXVNNI:
    return rt::X86Variant::AVXVNNI;
  case Isa::AVX512:
    return rt::X86Variant::AVX512;
  case Isa::AVX512VNNI:
    return rt::X86Variant::AVX512VNNI;
  }
  return rt::X86Variant::AVX2;
}

class X86GgufKernels : public ::testing::TestWithParam<const char *> {};

TEST_P(X86GgufKernels, MatchGgufDequantizedMatmul) {
  if (lowbit::test::ggufBlocksDir().empty())
    GTEST_SKIP() << "LOWBIT_GGUF_BLOCKS_DIR is not set (run through CTest: "
                    "the gguf_blocks fixture writes the references)";
  lowbit::test::GgufBlocksRef ref;
  std::string err;
  ASSERT_TRUE(readGgufBlocksRef(GetParam(), ref, err)) << err;
  codec::WeightDesc d = ref.desc();

  // GGUF blocks -> unpacked -> the kernels' layout, no requantization.
  codec::UnpackedWeight u;
  ASSERT_TRUE(codec::findCodec(ref.codecName())
                  ->decode(d, ref.blocks.data(), ref.blocks.size(), u, &err))
      << err;
  std::vector<uint8_t> packed;
  ASSERT_TRUE(
      codec::findCodec(codec::kX86Tile16Codec)->encode(d, u, packed, &err))
      << err;

  rt::CpuFeatures feats = rt::detectCpuFeatures();
  std::vector<KernelKey> keys;
  for (ArithPath path : {ArithPath::FP32, ArithPath::Int8})
    for (Isa isa : {Isa::AVX2, Isa::AVXVNNI, Isa::AVX512, Isa::AVX512VNNI})
      for (unsigned bt :
           {1u, (isa == Isa::AVX512 || isa == Isa::AVX512VNNI) ? 8u : 4u}) {
        KernelKey key;
        key.bits = d.bits;
        key.groupSize = 32;
        key.symmetric = d.symmetric;
        key.scaleType = ScaleType::F16;
        key.K = ref.K;
        key.N = ref.N;
        key.batchTile = bt;
        key.isa = isa;
        key.path = path;
        key.emulate = !rt::supportsVariant(feats, toVariant(isa));
        // fp32 kernels of the VNNI levels are those of their base level.
        if (key.emulate && path == ArithPath::FP32 &&
            (isa == Isa::AVXVNNI || isa == Isa::AVX512VNNI))
          continue;
        keys.push_back(key);
      }
  auto lib = buildKernelLibrary(keys);
  ASSERT_TRUE(bool(lib)) << llvm::toString(lib.takeError());
  LoadedLibrary loaded(*lib);

  const int64_t N = ref.N, K = ref.K, B = ref.B;
  int ran = 0;
  for (const KernelKey &key : keys) {
    lowbit_x86_qmatmul_fn fn = loaded.get(key.symbolName());
    ASSERT_NE(fn, nullptr) << key.symbolName();
    std::vector<float> y(B * N, NAN);
    fn(ref.x.data(), B, packed.data(), nullptr, y.data(), 0, N);
    int qmax = (key.path == ArithPath::Int8 && d.bits == 8 &&
                (key.isa == Isa::AVX2 || key.isa == Isa::AVX512))
                   ? 63
                   : 127;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t n = 0; n < N; ++n) {
        // fp32: f32 rounding of the sums only (1e-5 of sum |x W|); int8:
        // plus the activation rounding, amax / (2 qmax) per 32-block.
        double mag = 0, bound = 0;
        for (int64_t k0 = 0; k0 < K; k0 += 32) {
          double amax = 0, wsum = 0;
          for (int64_t k = k0; k < k0 + 32; ++k) {
            double xv = ref.x[b * K + k], wv = ref.W[n * K + k];
            mag += std::fabs(xv * wv);
            amax = std::max(amax, std::fabs(xv));
            wsum += std::fabs(wv);
          }
          if (key.path == ArithPath::Int8)
            bound += amax / (2.0 * qmax) * wsum;
        }
        bound += 1e-5 * mag + 1e-30;
        double got = y[b * N + n], want = ref.y[b * N + n];
        ASSERT_LE(std::fabs(got - want), bound)
            << ref.type << " " << key.symbolName() << " b=" << b << " n=" << n
            << " got " << got << " want " << want;
      }
    ++ran;
  }
  EXPECT_EQ(ran, int(keys.size()));
}

INSTANTIATE_TEST_SUITE_P(Types, X86GgufKernels,
                         ::testing::Values("Q4_0", "Q4_1", "Q8_0"));

} // namespace
