//===- X86KernelTests.cpp - x86 kernel generator tests ----------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// Repack/unpack round trips, determinism of the generated code, CPU feature
// detection, and every generated qmatmul variant (bits x symmetry x group x
// ISA x path x batch tile) against a double-precision reference. Variants
// whose ISA this CPU lacks are compiled but not run; the skipped ISAs are
// printed.
//
//===----------------------------------------------------------------------===//

#include "CpuFeatures.h"
#include "KernelGen.h"
#include "Repack.h"
#include "X86Driver.h"
#include "lowbitrt/Kernels.h"
#include "lowbitrt/X86KernelABI.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

using namespace lowbit::x86;
namespace rt = lowbitrt::x86;

namespace {

/// A shared object loaded from memory through a memfd.
class LoadedLibrary {
public:
  explicit LoadedLibrary(const std::vector<char> &bytes) {
    fd = memfd_create("lowbit-x86-test", 0);
    if (fd < 0)
      return;
    if (write(fd, bytes.data(), bytes.size()) != ssize_t(bytes.size()))
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
  bool ok() const { return handle != nullptr; }
  lowbit_x86_qmatmul_fn get(const std::string &name) const {
    return reinterpret_cast<lowbit_x86_qmatmul_fn>(dlsym(handle, name.c_str()));
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

struct QuantWeights {
  std::vector<uint8_t> codes, zeros;
  std::vector<float> scales;
};

QuantWeights randomWeights(const PackedLayout &l, std::mt19937 &rng) {
  QuantWeights w;
  int64_t ng = l.numGroups();
  std::uniform_int_distribution<int> code(0, (1 << l.bits) - 1);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  w.codes.resize(l.N * l.K);
  for (auto &c : w.codes)
    c = uint8_t(code(rng));
  w.scales.resize(l.N * ng);
  for (auto &s : w.scales)
    s = scale(rng);
  if (l.superGroup > 0) {
    // On the super-block grid: s = d * c with an f16 d and 8-bit codes c
    // (some negative), the first group of each super-block at |c| = 127.
    std::uniform_int_distribution<int> c8(-127, 127);
    for (int64_t n = 0; n < l.N; ++n)
      for (int64_t g0 = 0; g0 < ng; g0 += l.superGroup) {
        float d = halfToFloat(floatToHalf(scale(rng) / 127.0f));
        for (int64_t g = g0; g < std::min(ng, g0 + l.superGroup); ++g) {
          int c = g == g0 ? 127 : c8(rng);
          w.scales[n * ng + g] = d * float(c == 0 ? 1 : c);
        }
      }
  }
  if (!l.symmetric) {
    w.zeros.resize(l.N * ng);
    for (auto &z : w.zeros)
      z = uint8_t(code(rng));
  }
  return w;
}

std::vector<uint8_t> pack(const PackedLayout &l, const QuantWeights &w) {
  llvm::Expected<std::vector<uint8_t>> p =
      repack(l, w.codes, w.scales, w.zeros);
  EXPECT_TRUE(bool(p)) << llvm::toString(p.takeError());
  return p ? std::move(*p) : std::vector<uint8_t>();
}

//===----------------------------------------------------------------------===//
// Repack
//===----------------------------------------------------------------------===//

TEST(X86Repack, RoundTrip) {
  std::mt19937 rng(1);
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (int64_t g : {32, 64, 128, -1})
      for (bool sym : {true, false})
        for (ScaleType st : {ScaleType::F32, ScaleType::F16})
          for (auto [K, N] :
               {std::pair<int64_t, int64_t>{172, 37}, {256, 16}, {40, 5}}) {
            auto l = PackedLayout::get(bits, g, sym, st, K, N);
            ASSERT_TRUE(bool(l));
            QuantWeights w = randomWeights(*l, rng);
            std::vector<uint8_t> p = pack(*l, w);
            ASSERT_EQ(int64_t(p.size()), l->totalBytes());
            EXPECT_EQ(l->tileBytes() % 64, 0);
            std::vector<uint8_t> codes, zeros;
            std::vector<float> scales;
            llvm::Error e = unpack(*l, p, codes, scales, zeros);
            ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
            EXPECT_EQ(codes, w.codes) << bits << " " << g;
            EXPECT_EQ(zeros, w.zeros) << bits << " " << g;
            for (size_t i = 0; i < scales.size(); ++i) {
              float want = st == ScaleType::F32
                               ? w.scales[i]
                               : halfToFloat(floatToHalf(w.scales[i]));
              ASSERT_EQ(scales[i], want);
            }
            // Deterministic bytes.
            EXPECT_EQ(pack(*l, w), p);
          }
}

TEST(X86Repack, SuperBlockRoundTrip) {
  std::mt19937 rng(3);
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (bool sym : {true, false})
      for (auto [K, G, S] : {std::tuple<int64_t, int64_t, int64_t>{172, 32, 4},
                             {256, 32, 8},
                             {320, 64, 2}}) {
        auto l = PackedLayout::get(bits, G, sym, ScaleType::F16, K, 37, S);
        ASSERT_TRUE(bool(l)) << llvm::toString(l.takeError());
        EXPECT_EQ(l->tileBytes() % 64, 0);
        QuantWeights w = randomWeights(*l, rng);
        std::vector<uint8_t> p = pack(*l, w);
        ASSERT_EQ(int64_t(p.size()), l->totalBytes());
        std::vector<uint8_t> codes, zeros;
        std::vector<float> scales;
        llvm::Error e = unpack(*l, p, codes, scales, zeros);
        ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
        EXPECT_EQ(codes, w.codes);
        EXPECT_EQ(zeros, w.zeros);
        EXPECT_EQ(scales, w.scales); // exact products, exactly recovered
        // The kernels' weights: s * q + s * -z, each rounded to f32.
        auto eff = effectiveWeights(*l, p);
        ASSERT_TRUE(bool(eff));
        const int64_t ng = l->numGroups();
        for (int64_t n = 0; n < l->N; ++n)
          for (int64_t k = 0; k < K; ++k) {
            float sc = w.scales[n * ng + k / G];
            float z =
                sym ? float(1u << (bits - 1)) : float(w.zeros[n * ng + k / G]);
            float m = sc * -z;
            float want = sc * float(w.codes[n * K + k]) + m;
            ASSERT_EQ((*eff)[n * K + k], want) << n << " " << k;
          }
        // Stored bits: codes, an 8-bit code (and zero byte) per group and an
        // f16 d per super-block and row, plus tile padding.
        EXPECT_EQ(pack(*l, w), p);
      }
  // Scales off the grid are rejected, naming the row and groups.
  auto l = PackedLayout::get(4, 32, true, ScaleType::F16, 128, 16, 4);
  ASSERT_TRUE(bool(l));
  QuantWeights w = randomWeights(*l, rng);
  w.scales[4 + 1] *= 1.001f; // row 1, group 1
  auto bad = repack(*l, w.codes, w.scales, w.zeros);
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError())
                .find("scales of row 1, groups 0 to 3 are not on an 8-bit "
                      "super-block grid"),
            std::string::npos);
  // bf16 and f32 super-block scales have no x86 layout.
  for (ScaleType st : {ScaleType::F32, ScaleType::BF16}) {
    auto none = PackedLayout::get(4, 32, true, st, 128, 16, 4);
    EXPECT_FALSE(bool(none));
    llvm::consumeError(none.takeError());
  }
}

TEST(X86Repack, Errors) {
  EXPECT_FALSE(bool(PackedLayout::get(5, 32, true, ScaleType::F32, 64, 4)));
  llvm::consumeError(
      PackedLayout::get(5, 32, true, ScaleType::F32, 64, 4).takeError());
  auto l = PackedLayout::get(4, 32, true, ScaleType::F32, 64, 4);
  ASSERT_TRUE(bool(l));
  std::vector<uint8_t> codes(64 * 4, 16); // 16 does not fit 4 bits.
  std::vector<float> scales(2 * 4, 1.0f);
  auto p = repack(*l, codes, scales, {});
  ASSERT_FALSE(bool(p));
  EXPECT_NE(llvm::toString(p.takeError()).find("exceeds 4 bits"),
            std::string::npos);
}

TEST(X86Repack, HalfConversion) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f,
                  1e-3f, 0.1f})
    EXPECT_NEAR(halfToFloat(floatToHalf(f)), f, std::fabs(f) * 1e-3f + 1e-8f);
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);
  EXPECT_EQ(floatToHalf(5.9604645e-08f), 0x0001);
}

//===----------------------------------------------------------------------===//
// CPU features
//===----------------------------------------------------------------------===//

TEST(X86CpuFeatures, Detect) {
  rt::CpuFeatures f = rt::detectCpuFeatures();
  std::printf("[ info ] cpu features: %s\n", f.describe().c_str());
  for (bool int8 : {false, true}) {
    std::string ranked;
    for (rt::X86Variant v : rt::rankVariants(f, int8))
      ranked += std::string(" ") + rt::variantName(v);
    std::printf("[ info ] %s variants, best first:%s\n", int8 ? "int8" : "fp32",
                ranked.c_str());
  }
  // Consistency: AVX-512 VNNI implies AVX-512 in the ranking.
  if (rt::supportsVariant(f, rt::X86Variant::AVX512VNNI)) {
    EXPECT_TRUE(rt::supportsVariant(f, rt::X86Variant::AVX512));
  }
  if (rt::supportsVariant(f, rt::X86Variant::AVX512)) {
    EXPECT_TRUE(rt::supportsVariant(f, rt::X86Variant::AVX2));
  }
}

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

struct Case {
  KernelKey key;
  std::vector<uint8_t> packed;
  std::vector<float> W; // Effective weights [N, K].
};

/// Checks one kernel on B rows, full range and a split range, with and
/// without bias. Returns the largest error relative to the bound.
double checkKernel(lowbit_x86_qmatmul_fn fn, const Case &c, int64_t B,
                   std::mt19937 &rng, double *relRms) {
  const KernelKey &k = c.key;
  int64_t K = k.K, N = k.N;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(B * K), bias(N);
  for (auto &v : x)
    v = nd(rng);
  // A few outliers, as real activations have.
  for (int64_t i = 0; i < B; ++i)
    x[i * K + (i * 7) % K] *= 8.0f;
  for (auto &v : bias)
    v = nd(rng);

  int qmax = 127;
  if (k.path == ArithPath::Int8 && k.bits == 8 &&
      (k.isa == Isa::AVX2 || k.isa == Isa::AVX512))
    qmax = 63;
  auto l = *k.layout();

  double worst = 0, errSq = 0, refSq = 0;
  for (bool withBias : {false, true}) {
    std::vector<float> y(B * N, NAN);
    const float *bp = withBias ? bias.data() : nullptr;
    // Split N at a tile boundary and at an unaligned row.
    int64_t cut1 = std::min<int64_t>(N, 16), cut2 = std::min<int64_t>(N, 21);
    fn(x.data(), B, c.packed.data(), bp, y.data(), 0, cut1);
    fn(x.data(), B, c.packed.data(), bp, y.data(), cut1, cut2);
    fn(x.data(), B, c.packed.data(), bp, y.data(), cut2, N);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t n = 0; n < N; ++n) {
        double ref = withBias ? bias[n] : 0.0, mag = 0, bound = 0;
        for (int64_t g = 0; g < l.numGroups(); ++g) {
          int64_t k0 = g * l.groupCols(), len = l.groupLen(g);
          for (int64_t blk = 0; blk < len; blk += kBlockCols) {
            double amax = 0, wsum = 0;
            for (int64_t i = blk; i < std::min(len, blk + kBlockCols); ++i) {
              double xv = x[b * K + k0 + i], wv = c.W[n * K + k0 + i];
              ref += xv * wv;
              mag += std::fabs(xv * wv);
              amax = std::max(amax, std::fabs(xv));
              wsum += std::fabs(wv);
            }
            if (k.path == ArithPath::Int8)
              bound += amax / (2.0 * qmax) * wsum;
          }
        }
        // f32 rounding allowance (fp32 path: ~1e-4 relative to sum |x W|).
        bound += 1e-4 * mag + 1e-6;
        double got = y[b * N + n];
        double err = std::fabs(got - ref);
        if (!(err <= bound)) {
          ADD_FAILURE() << k.symbolName() << " B=" << B << " b=" << b
                        << " n=" << n << " got " << got << " want " << ref
                        << " bound " << bound;
          return 1e9;
        }
        worst = std::max(worst, err / bound);
        errSq += err * err;
        refSq += (ref - (withBias ? bias[n] : 0.0)) *
                 (ref - (withBias ? bias[n] : 0.0));
      }
    }
  }
  *relRms = std::sqrt(errSq / std::max(refSq, 1e-30));
  return worst;
}

struct KernelParam {
  unsigned bits;
  ArithPath path;
};

class X86Kernels : public ::testing::TestWithParam<KernelParam> {};

TEST_P(X86Kernels, AgainstReference) {
  KernelParam p = GetParam();
  rt::CpuFeatures feats = rt::detectCpuFeatures();
  std::mt19937 rng(42 + p.bits);
  std::vector<Case> cases;
  std::vector<KernelKey> keys;
  // (K, G): ragged last groups (172 with 32/64), a K that is not a multiple
  // of 16 or 32 with one group per row, and an exact multiple.
  const std::pair<int64_t, int64_t> shapes[] = {
      {172, 32}, {172, 64}, {256, 128}, {200, -1}};
  for (auto [K, G] : shapes)
    for (int64_t S : {0, 4})
      for (bool sym : {true, false})
        for (Isa isa : {Isa::AVX2, Isa::AVXVNNI, Isa::AVX512, Isa::AVX512VNNI})
          // Batch tiles as the x86 target generates them: 1 for decode, and
          // the prefill tile of the ISA (4 for 256-bit, 8 for 512-bit ISAs).
          for (unsigned bt :
               {1u, (isa == Isa::AVX512 || isa == Isa::AVX512VNNI) ? 8u : 4u}) {
            KernelKey key;
            key.bits = p.bits;
            key.groupSize = G;
            key.symmetric = sym;
            key.scaleType =
                (K == 256 && !sym) ? ScaleType::F16 : ScaleType::F32;
            // Super-block scales (f16 only) on the ragged 172 / 32 shape: 6
            // groups, super-blocks of 4 and 2.
            if (S > 0 && (K != 172 || G != 32))
              continue;
            if (S > 0)
              key.scaleType = ScaleType::F16;
            key.superGroup = S;
            key.K = K;
            key.N = 37;
            key.batchTile = bt;
            key.isa = isa;
            key.path = p.path;
            // ISAs this CPU lacks run as emulated code (same code shape,
            // portable IR) so the generator's logic is still checked, on fewer
            // shapes to bound compile time. fp32 kernels of the VNNI ISAs are
            // the same code as those of their base ISA, so they are not
            // emulated separately.
            key.emulate = !rt::supportsVariant(feats, toVariant(isa));
            if (key.emulate &&
                (K == 256 || (G == 32 && bt > 1) ||
                 (p.path == ArithPath::FP32 &&
                  (isa == Isa::AVXVNNI || isa == Isa::AVX512VNNI))))
              continue;
            keys.push_back(key);
          }
  auto lib = buildKernelLibrary(keys);
  ASSERT_TRUE(bool(lib)) << llvm::toString(lib.takeError());
  LoadedLibrary loaded(*lib);
  ASSERT_TRUE(loaded.ok()) << dlerror();

  std::set<std::string> emulated;
  double worstAll = 0, rmsAll = 0;
  int ran = 0;
  for (const KernelKey &key : keys) {
    auto fn = loaded.get(key.symbolName());
    ASSERT_NE(fn, nullptr) << key.symbolName();
    if (key.emulate)
      emulated.insert(isaName(key.isa).str());
    Case c;
    c.key = key;
    auto l = *key.layout();
    QuantWeights w = randomWeights(l, rng);
    c.packed = pack(l, w);
    auto eff = effectiveWeights(l, c.packed);
    ASSERT_TRUE(bool(eff));
    c.W = std::move(*eff);
    // Batch sizes: the tile, a remainder, and more than one 32-row chunk.
    for (int64_t B : {int64_t(1), int64_t(key.batchTile + 1), int64_t(35)}) {
      double rms = 0;
      double worst = checkKernel(fn, c, B, rng, &rms);
      if (worst >= 1e9)
        return;
      worstAll = std::max(worstAll, worst);
      rmsAll = std::max(rmsAll, rms);
      ++ran;
    }
  }
  std::string sk;
  for (const std::string &s : emulated)
    sk += " " + s;
  std::printf("[ info ] %u-bit %s: %d kernel runs, worst error / bound %.3f, "
              "worst relative RMS error %.2e; ISAs not run natively (this CPU "
              "lacks them; ran emulated):%s\n",
              p.bits, pathName(p.path).str().c_str(), ran, worstAll, rmsAll,
              sk.empty() ? " none" : sk.c_str());
}

INSTANTIATE_TEST_SUITE_P(All, X86Kernels,
                         ::testing::Values(KernelParam{4, ArithPath::FP32},
                                           KernelParam{4, ArithPath::Int8},
                                           KernelParam{8, ArithPath::FP32},
                                           KernelParam{8, ArithPath::Int8},
                                           KernelParam{2, ArithPath::FP32},
                                           KernelParam{2, ArithPath::Int8},
                                           KernelParam{3, ArithPath::FP32},
                                           KernelParam{3, ArithPath::Int8}),
                         [](const ::testing::TestParamInfo<KernelParam> &info) {
                           return "b" + std::to_string(info.param.bits) + "_" +
                                  pathName(info.param.path).str();
                         });

/// A 4-bit, group-32, f16-scale int8-path kernel key (emulated when the CPU
/// lacks \p isa).
KernelKey int8Key(Isa isa, bool symmetric, int64_t K, int64_t N,
                  unsigned batchTile) {
  KernelKey key;
  key.bits = 4;
  key.groupSize = 32;
  key.symmetric = symmetric;
  key.scaleType = ScaleType::F16;
  key.K = K;
  key.N = N;
  key.batchTile = batchTile;
  key.isa = isa;
  key.path = ArithPath::Int8;
  key.emulate = !rt::supportsVariant(rt::detectCpuFeatures(), toVariant(isa));
  return key;
}

/// A NaN in one row's activations reaches every output of that row and no
/// other (symmetric and asymmetric weights, whose offset term adds the
/// block's activation sum): the int8 path takes a block's scale from max |x|
/// as an integer maximum of the bit patterns (a NaN ranks above +inf), so
/// the NaN becomes the block scale instead of being skipped as
/// llvm.vector.reduce.fmax would (it was once dropped, and its block's codes
/// were garbage), and the NaN lane's code is 0.
TEST(X86Kernels, Int8NaNActivationPropagates) {
  std::vector<KernelKey> keys;
  for (Isa isa : {Isa::AVX2, Isa::AVX512VNNI})
    for (unsigned bt : {1u, 4u})
      for (bool sym : {true, false})
        keys.push_back(int8Key(isa, sym, 96, 21, bt));
  auto lib = buildKernelLibrary(keys);
  ASSERT_TRUE(bool(lib)) << llvm::toString(lib.takeError());
  LoadedLibrary loaded(*lib);
  ASSERT_TRUE(loaded.ok()) << dlerror();
  std::mt19937 rng(7);
  for (const KernelKey &key : keys) {
    auto fn = loaded.get(key.symbolName());
    ASSERT_NE(fn, nullptr) << key.symbolName();
    auto l = *key.layout();
    std::vector<uint8_t> packed = pack(l, randomWeights(l, rng));
    const int64_t B = 3, K = key.K, N = key.N;
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(B * K), y(B * N, 0.0f);
    for (float &v : x)
      v = nd(rng);
    x[1 * K + 40] = std::numeric_limits<float>::quiet_NaN();
    fn(x.data(), B, packed.data(), nullptr, y.data(), 0, N);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t n = 0; n < N; ++n)
        EXPECT_EQ(std::isnan(y[b * N + n]), b == 1)
            << key.symbolName() << " row " << b << " output " << n << " = "
            << y[b * N + n];
  }
}

/// runQMatmul splits N into one contiguous range of 16-row tiles per thread
/// (and runs products under 64K multiply-adds on the caller): with 1, 2 and
/// 3 threads, for the GEMV and the batched kernel, on a tile count that 2
/// and 3 do not divide, every output is written once and the bits equal one
/// kernel call over all rows.
TEST(X86Driver, ThreadSplitCoversEveryTile) {
  const Isa isa =
      rt::supportsVariant(rt::detectCpuFeatures(), rt::X86Variant::AVX512VNNI)
          ? Isa::AVX512VNNI
          : Isa::AVX2;
  // 38 tiles, the last one partial.
  std::vector<KernelKey> keys = {int8Key(isa, false, 128, 16 * 37 + 5, 1),
                                 int8Key(isa, false, 128, 16 * 37 + 5, 4)};
  auto lib = buildKernelLibrary(keys);
  ASSERT_TRUE(bool(lib)) << llvm::toString(lib.takeError());
  LoadedLibrary loaded(*lib);
  ASSERT_TRUE(loaded.ok()) << dlerror();
  auto l = *keys[0].layout();
  std::mt19937 rng(11);
  std::vector<uint8_t> packed = pack(l, randomWeights(l, rng));
  rt::QMatmulCall call;
  call.gemv = loaded.get(keys[0].symbolName());
  call.gemm = loaded.get(keys[1].symbolName());
  ASSERT_TRUE(call.gemv && call.gemm);
  call.packed = packed.data();
  call.N = keys[0].N;
  call.K = keys[0].K;
  for (int64_t T : {int64_t(1), int64_t(6)}) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(T * call.K), want(T * call.N);
    for (float &v : x)
      v = nd(rng);
    (T == 1 ? call.gemv : call.gemm)(x.data(), T, packed.data(), nullptr,
                                     want.data(), 0, call.N);
    for (unsigned threads : {1u, 2u, 3u}) {
      lowbit::rt::kernels::ThreadPool pool(threads);
      std::vector<float> y(T * call.N, NAN);
      rt::runQMatmul(call, x.data(), T, y.data(), nullptr, &pool);
      EXPECT_EQ(0, std::memcmp(y.data(), want.data(), y.size() * 4))
          << "T=" << T << " threads=" << threads;
    }
  }
}

TEST(X86KernelGen, Deterministic) {
  KernelKey key;
  key.bits = 4;
  key.groupSize = 64;
  key.K = 172;
  key.N = 40;
  key.batchTile = 4;
  key.isa = Isa::AVX512VNNI;
  key.path = ArithPath::Int8;
  KernelKey key2 = key;
  key2.isa = Isa::AVX2;
  key2.path = ArithPath::FP32;
  auto objOf = [&]() {
    llvm::LLVMContext ctx;
    auto m = generateKernelModule(ctx, {key, key2});
    EXPECT_TRUE(bool(m));
    auto o = compileToObject(**m);
    EXPECT_TRUE(bool(o));
    return *o;
  };
  EXPECT_EQ(objOf(), objOf());
  auto a = buildKernelLibrary({key, key2});
  auto b = buildKernelLibrary({key, key2});
  ASSERT_TRUE(bool(a) && bool(b));
  EXPECT_EQ(*a, *b);
}

TEST(X86KernelGen, Errors) {
  KernelKey key;
  key.bits = 5;
  key.K = 64;
  key.N = 16;
  llvm::LLVMContext ctx;
  auto m = generateKernelModule(ctx, {key});
  ASSERT_FALSE(bool(m));
  EXPECT_NE(llvm::toString(m.takeError()).find("bit width 5"),
            std::string::npos);
  key.bits = 4;
  key.batchTile = 0;
  auto m2 = generateKernelModule(ctx, {key});
  ASSERT_FALSE(bool(m2));
  llvm::consumeError(m2.takeError());
}

} // namespace
