//===- NumericsTests.cpp - Quantization, Hessian and GPTQ tests -----------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/BudgetSearch.h"
#include "lowbit/Numerics/Gptq.h"
#include "lowbit/Numerics/Hessian.h"
#include "lowbit/Numerics/LinearAlgebra.h"
#include "lowbit/Numerics/Quantize.h"
#include "lowbit/Support/Safetensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <random>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace lowbit;
using namespace lowbit::numerics;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// The message of an error (consumes it); "" for success.
std::string errorText(llvm::Error err) {
  if (!err)
    return "";
  return llvm::toString(std::move(err));
}

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    std::string lowbitErr = errorText(expr);                                   \
    ASSERT_EQ(lowbitErr, "");                                                  \
  } while (0)

/// A small deterministic generator (splitmix64), the same on every platform.
class Rng {
public:
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return double(next() >> 11) * 0x1p-53; }
  /// Standard normal (Box-Muller).
  double normal() {
    double u = uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(1.0 - u)) *
           std::cos(6.283185307179586 * v);
  }
  std::vector<float> normals(size_t n, double scale = 1.0) {
    std::vector<float> out(n);
    for (float &x : out)
      x = float(normal() * scale);
    return out;
  }

private:
  uint64_t state;
};

bool sameBytes(const void *a, const void *b, size_t n) {
  return std::memcmp(a, b, n) == 0;
}

template <typename T>
bool sameBytes(const std::vector<T> &a, const std::vector<T> &b) {
  return a.size() == b.size() &&
         (a.empty() ||
          std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool sameResult(const QuantResult &a, const QuantResult &b) {
  return a.rows == b.rows && a.cols == b.cols && a.bits == b.bits &&
         a.groupSize == b.groupSize && a.symmetric == b.symmetric &&
         sameBytes(a.codes, b.codes) && sameBytes(a.scales, b.scales) &&
         sameBytes(a.zeros, b.zeros) && sameBytes(a.perm, b.perm);
}

QuantParams makeParams(unsigned bits, int64_t groupSize, bool symmetric) {
  QuantParams p;
  p.bits = bits;
  p.groupSize = groupSize;
  p.symmetric = symmetric;
  return p;
}

/// An independent, straightforward RTN: find_params of the GPTQ reference
/// written with libm rounding, one (row, group) at a time.
struct NaiveRtn {
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  std::vector<uint8_t> zeros;
};

/// Scale and zero point of values x[0..n) for range shrink `shrink` (1: the
/// plain min/max range).
void naiveParams(const float *x, int64_t n, unsigned bits, bool sym,
                 float shrink, float &scale, float &zero) {
  float maxq = float((1 << bits) - 1);
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::fmin(lo, x[i]);
    hi = std::fmax(hi, x[i]);
  }
  if (sym) {
    hi = std::fmax(std::fabs(lo), hi);
    if (lo < 0)
      lo = -hi;
  }
  if (lo == 0 && hi == 0) {
    lo = -1;
    hi = 1;
  }
  lo = shrink * lo;
  hi = shrink * hi;
  scale = (hi - lo) / maxq;
  zero = sym ? float(1 << (bits - 1)) : std::nearbyint(-lo / scale);
}

float naiveCode(float x, float scale, float zero, unsigned bits) {
  float maxq = float((1 << bits) - 1);
  float q = std::nearbyint(x / scale) + zero;
  return q < 0 ? 0 : (q > maxq ? maxq : q);
}

NaiveRtn naiveRtn(const std::vector<float> &W, int64_t N, int64_t K,
                  unsigned bits, int64_t groupSize, bool sym) {
  int64_t width = groupSize == -1 ? K : groupSize;
  int64_t G = (K + width - 1) / width;
  NaiveRtn r;
  r.codes.resize(size_t(N * K));
  r.scales.resize(size_t(N * G));
  if (!sym)
    r.zeros.resize(size_t(N * G));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g) {
      int64_t k0 = g * width, k1 = std::min(K, k0 + width);
      const float *x = W.data() + n * K + k0;
      float scale, zero;
      naiveParams(x, k1 - k0, bits, sym, 1.0f, scale, zero);
      r.scales[n * G + g] = scale;
      if (!sym)
        r.zeros[n * G + g] = uint8_t(zero);
      for (int64_t k = k0; k < k1; ++k)
        r.codes[n * K + k] = uint8_t(naiveCode(x[k - k0], scale, zero, bits));
    }
  return r;
}

/// Random weights with some structure: a few all-zero, all-positive,
/// all-negative, constant and outlier groups.
std::vector<float> tortureWeights(Rng &rng, int64_t N, int64_t K) {
  std::vector<float> W = rng.normals(size_t(N * K), 0.02);
  for (int64_t k = 0; k < K; ++k) {
    W[0 * K + k] = 0.0f;                     // an all-zero row
    W[1 * K + k] = std::fabs(W[1 * K + k]);  // all positive
    W[2 * K + k] = -std::fabs(W[2 * K + k]); // all negative
    W[3 * K + k] = 0.25f;                    // constant
  }
  W[4 * K + K / 2] = 3.0f; // an outlier
  // Ties: values exactly halfway between codes for a known scale.
  for (int64_t k = 0; k < K; ++k)
    W[5 * K + k] = (float(k % 16) - 7.5f) * 0.125f;
  return W;
}

std::string sharedModelDir() {
  const char *env = std::getenv("LOWBIT_SHARED_MODELS");
  if (!env || !*env)
    return "";
  llvm::SmallString<256> dir(env);
  llvm::sys::path::append(dir, "stories260k");
  return llvm::sys::fs::is_directory(dir) ? std::string(dir) : "";
}

/// Correlated calibration inputs: a low-rank common part, independent noise
/// and a few channels with much larger variance (as in LLM activations).
std::vector<float> correlatedInputs(Rng &rng, int64_t rows, int64_t K) {
  const int64_t rank = 8;
  std::vector<float> A = rng.normals(size_t(rank * K));
  std::vector<float> chanScale(size_t(K), 1.0f);
  for (int64_t k = 0; k < K; k += 37)
    chanScale[k] = 12.0f;
  std::vector<float> X(size_t(rows * K));
  std::vector<double> z(rank);
  for (int64_t r = 0; r < rows; ++r) {
    for (double &v : z)
      v = rng.normal();
    for (int64_t k = 0; k < K; ++k) {
      double v = 0.3 * rng.normal();
      for (int64_t l = 0; l < rank; ++l)
        v += z[l] * A[l * K + k];
      X[r * K + k] = float(v * chanScale[k]);
    }
  }
  return X;
}

std::vector<float> hessianOf(const std::vector<float> &X, int64_t K) {
  HessianAccumulator acc(K);
  acc.add(X.data(), int64_t(X.size()) / K);
  return acc.finalize();
}

//===----------------------------------------------------------------------===//
// Element-wise rounding
//===----------------------------------------------------------------------===//

TEST(NumericsRounding, RoundHalfEvenMatchesNearbyint) {
  // Every tie and its neighbours up to 2^12, and random values up to 2^22.
  for (int i = -8192; i <= 8192; ++i) {
    float t = float(i) * 0.5f;
    for (float v : {t, std::nextafter(t, -1e9f), std::nextafter(t, 1e9f)})
      ASSERT_EQ(roundHalfEven(v), std::nearbyint(v)) << v;
  }
  Rng rng(1);
  for (int i = 0; i < 200000; ++i) {
    float v = float((rng.uniform() * 2 - 1) * 0x1p22);
    ASSERT_EQ(roundHalfEven(v), std::nearbyint(v)) << v;
  }
  EXPECT_EQ(roundHalfEven(0x1p22f), 0x1p22f);
  EXPECT_EQ(roundHalfEven(-0x1p22f), -0x1p22f);
}

TEST(NumericsRounding, QuantizeCodeSaturates) {
  for (unsigned bits : {2u, 4u, 8u}) {
    float maxq = float((1u << bits) - 1);
    for (float zero : {0.0f, 1.0f, maxq}) {
      for (float x :
           {-1e30f, -1e6f, -3.0f, -0.5f, 0.0f, 0.5f, 2.5f, 1e6f, 1e30f}) {
        for (float scale : {1e-38f, 1e-3f, 0.5f, 1.0f}) {
          EXPECT_EQ(quantizeCode(x, scale, zero, maxq),
                    naiveCode(x, scale, zero, bits))
              << x << " " << scale << " " << zero;
        }
      }
      // A subnormal scale makes x / scale infinite.
      EXPECT_EQ(quantizeCode(1.0f, 1e-45f, zero, maxq), maxq);
      EXPECT_EQ(quantizeCode(-1.0f, 1e-45f, zero, maxq), 0.0f);
    }
  }
}

//===----------------------------------------------------------------------===//
// RTN against the stories260k references
//===----------------------------------------------------------------------===//

std::vector<std::string> linearLayerNames() {
  std::vector<std::string> names;
  for (int l = 0; l < 5; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char *s :
         {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
          "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"})
      names.push_back(p + s);
  }
  return names;
}

void checkRtnReference(const char *file, unsigned bits, int64_t groupSize) {
  std::string dir = sharedModelDir();
  if (dir.empty())
    GTEST_SKIP() << "LOWBIT_SHARED_MODELS is unset or has no stories260k "
                    "directory";
  auto model = SafetensorsFile::open(dir + "/model.safetensors");
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  auto ref = SafetensorsFile::open(dir + "/quant_refs/" + file);
  ASSERT_TRUE(bool(ref)) << llvm::toString(ref.takeError());

  QuantParams params = makeParams(bits, groupSize, /*symmetric=*/false);
  int layers = 0;
  for (const std::string &name : linearLayerNames()) {
    SCOPED_TRACE(name);
    const TensorView *w = (*model)->lookup(name + ".weight");
    ASSERT_NE(w, nullptr);
    ASSERT_EQ(w->shape.size(), 2u);
    int64_t N = w->shape[0], K = w->shape[1];
    auto weights = toF32(*w);
    ASSERT_TRUE(bool(weights)) << llvm::toString(weights.takeError());

    QuantResult result;
    ASSERT_OK(rtnQuantize(weights->data(), N, K, params, result));
    ASSERT_OK(validateQuantResult(result));
    int64_t G = result.numGroups();

    const TensorView *codes = (*ref)->lookup(name + ".qcodes");
    const TensorView *scales = (*ref)->lookup(name + ".scales");
    const TensorView *zeros = (*ref)->lookup(name + ".zeros");
    const TensorView *gIdx = (*ref)->lookup(name + ".g_idx");
    const TensorView *deq = (*ref)->lookup(name + ".weight");
    ASSERT_TRUE(codes && scales && zeros && gIdx && deq);
    ASSERT_EQ(codes->dtype, DType::U8);
    ASSERT_EQ(scales->dtype, DType::F32);
    ASSERT_EQ(zeros->dtype, DType::U8);
    ASSERT_EQ(gIdx->dtype, DType::I32);
    ASSERT_EQ(codes->shape, (std::vector<int64_t>{N, K}));
    ASSERT_EQ(scales->shape, (std::vector<int64_t>{N, G}));
    ASSERT_EQ(zeros->shape, (std::vector<int64_t>{N, G}));

    int64_t codeDiffs = 0;
    for (int64_t i = 0; i < N * K; ++i)
      codeDiffs += result.codes[i] != codes->data[i];
    EXPECT_EQ(codeDiffs, 0) << "codes differ";
    EXPECT_TRUE(sameBytes(result.scales.data(), scales->data, scales->nbytes))
        << "scales differ";
    EXPECT_TRUE(sameBytes(result.zeros.data(), zeros->data, zeros->nbytes))
        << "zero points differ";
    std::vector<int32_t> g = result.groupIndex();
    EXPECT_TRUE(sameBytes(g.data(), gIdx->data, gIdx->nbytes));
    std::vector<float> q = dequantize(result);
    EXPECT_TRUE(sameBytes(q.data(), deq->data, deq->nbytes))
        << "dequantized weights differ";
    ++layers;
  }
  EXPECT_EQ(layers, 35);
}

TEST(NumericsRtnReference, Stories260kW4G32) {
  checkRtnReference("rtn_w4_g32.safetensors", 4, 32);
}

TEST(NumericsRtnReference, Stories260kW3G64) {
  checkRtnReference("rtn_w3_g64.safetensors", 3, 64);
}

//===----------------------------------------------------------------------===//
// RTN against a naive implementation
//===----------------------------------------------------------------------===//

TEST(NumericsRtn, MatchesNaiveRaggedAndSymmetric) {
  Rng rng(7);
  struct Shape {
    int64_t N, K;
  };
  for (Shape s : {Shape{8, 172}, Shape{9, 64}, Shape{7, 1}, Shape{6, 300}}) {
    std::vector<float> W = tortureWeights(rng, s.N, s.K);
    for (unsigned bits : {2u, 3u, 4u, 8u})
      for (int64_t gs : {int64_t(-1), int64_t(1), int64_t(5), int64_t(32),
                         int64_t(64), int64_t(128), int64_t(1000)})
        for (bool sym : {false, true}) {
          SCOPED_TRACE(::testing::Message() << "K=" << s.K << " bits=" << bits
                                            << " gs=" << gs << " sym=" << sym);
          QuantResult r;
          ASSERT_OK(
              rtnQuantize(W.data(), s.N, s.K, makeParams(bits, gs, sym), r));
          ASSERT_OK(validateQuantResult(r));
          NaiveRtn ref = naiveRtn(W, s.N, s.K, bits, gs, sym);
          EXPECT_TRUE(sameBytes(r.codes, ref.codes));
          EXPECT_TRUE(sameBytes(r.scales, ref.scales));
          EXPECT_TRUE(sameBytes(r.zeros, ref.zeros));
          EXPECT_EQ(r.zeros.empty(), sym);
          EXPECT_TRUE(r.perm.empty());
          int64_t expectG = gs == -1 ? 1 : (s.K + gs - 1) / gs;
          EXPECT_EQ(r.numGroups(), expectG);
          // Dequantization: scale * (code - zero) with the group's values.
          std::vector<float> q = dequantize(r);
          int64_t width = gs == -1 ? s.K : gs;
          for (int64_t n = 0; n < s.N; ++n)
            for (int64_t k = 0; k < s.K; ++k) {
              int64_t g = k / width;
              float zero = sym ? float(1u << (bits - 1))
                               : float(ref.zeros[n * expectG + g]);
              float expect = ref.scales[n * expectG + g] *
                             (float(ref.codes[n * s.K + k]) - zero);
              ASSERT_EQ(q[n * s.K + k], expect);
            }
        }
  }
}

TEST(NumericsRtn, SymmetricFollowsReferenceRange) {
  // All-positive rows keep xmin = 0 in the reference's symmetric mode: the
  // scale is max / maxq and the zero point 2^(bits-1).
  std::vector<float> W = {0.5f, 1.0f, 1.5f, 3.0f};
  QuantResult r;
  ASSERT_OK(rtnQuantize(W.data(), 1, 4, makeParams(4, -1, true), r));
  EXPECT_EQ(r.scales[0], 3.0f / 15.0f);
  EXPECT_TRUE(r.zeros.empty());
  // 3.0 / 0.2 + 8 = 23 saturates at 15.
  EXPECT_EQ(r.codes[3], 15);
  // Mixed signs: xmax = max(|xmin|, xmax), xmin = -xmax.
  std::vector<float> V = {-2.0f, 1.0f};
  ASSERT_OK(rtnQuantize(V.data(), 1, 2, makeParams(4, -1, true), r));
  EXPECT_EQ(r.scales[0], 4.0f / 15.0f);
  EXPECT_EQ(r.codes[0], uint8_t(std::nearbyint(-2.0f / (4.0f / 15.0f)) + 8));
}

// QuantParams::symmetricExtreme: the signed extreme of each group lands on
// code 0 (dequantizes to itself exactly), the step is max|w| / 2^(bits-1)
// with the extreme's sign, every other weight is within half a step (or one
// step where it is clamped at the top code: an opposite-signed weight of
// the same magnitude), and the squared error is below the absmax grid's.
TEST(NumericsRtn, SymmetricExtremeGrid) {
  Rng rng(23);
  for (unsigned bits : {2u, 3u, 4u, 8u})
    for (int64_t gs : {int64_t(-1), int64_t(1), int64_t(32), int64_t(5)}) {
      SCOPED_TRACE(::testing::Message() << "bits=" << bits << " gs=" << gs);
      const int64_t N = 8, K = 96;
      std::vector<float> W = tortureWeights(rng, N, K);
      QuantParams p = makeParams(bits, gs, true);
      p.symmetricExtreme = true;
      QuantResult r, absmax;
      ASSERT_OK(rtnQuantize(W.data(), N, K, p, r));
      ASSERT_OK(validateQuantResult(r));
      ASSERT_OK(
          rtnQuantize(W.data(), N, K, makeParams(bits, gs, true), absmax));
      const int64_t G = r.numGroups(), width = gs == -1 ? K : gs;
      const float zero = float(1u << (bits - 1)),
                  maxq = float((1u << bits) - 1);
      double errExt = 0, errAbs = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t g = 0; g < G; ++g) {
          const int64_t k0 = g * width, k1 = std::min(K, k0 + width);
          float ext = 0;
          for (int64_t k = k0; k < k1; ++k)
            if (std::fabs(W[n * K + k]) > std::fabs(ext) ||
                (std::fabs(W[n * K + k]) == std::fabs(ext) && W[n * K + k] > 0))
              ext = W[n * K + k];
          const float scale = r.scales[n * G + g];
          if (ext != 0) {
            EXPECT_EQ(std::fabs(scale), std::fabs(ext) / zero);
            EXPECT_EQ(scale > 0, ext < 0);
          }
          for (int64_t k = k0; k < k1; ++k) {
            const float w = W[n * K + k];
            const float code = float(r.codes[n * K + k]);
            const float deq = dequantizeCode(code, scale, zero);
            if (w == ext && ext != 0) {
              EXPECT_EQ(code, 0.0f) << "n " << n << " k " << k;
            }
            const float bound = (code == maxq ? 1.0f : 0.5f) * std::fabs(scale);
            EXPECT_LE(std::fabs(deq - w), bound * (1 + 1e-6f))
                << "n " << n << " k " << k;
            errExt += double(deq - w) * (deq - w);
            const float da = dequantizeCode(float(absmax.codes[n * K + k]),
                                            absmax.scales[n * G + g], zero);
            errAbs += double(da - w) * (da - w);
          }
        }
      if (gs != 1) {
        EXPECT_LT(errExt, errAbs);
      }
    }
  // Scales carry the sign only in symmetric results.
  QuantResult bad;
  ASSERT_OK(rtnQuantize(std::vector<float>{1.0f, -0.5f}.data(), 1, 2,
                        makeParams(4, -1, false), bad));
  bad.scales[0] = -bad.scales[0];
  llvm::Error e = validateQuantResult(bad);
  EXPECT_TRUE(bool(e));
  llvm::consumeError(std::move(e));
}

TEST(NumericsRtn, AllZeroGroupUsesUnitRange) {
  std::vector<float> W(10, 0.0f);
  QuantResult r;
  ASSERT_OK(rtnQuantize(W.data(), 2, 5, makeParams(4, -1, false), r));
  EXPECT_EQ(r.scales[0], 2.0f / 15.0f);
  EXPECT_EQ(r.zeros[0], uint8_t(std::nearbyint(1.0f / (2.0f / 15.0f))));
  for (float v : dequantize(r))
    EXPECT_EQ(v, 0.0f);
}

TEST(NumericsRtn, MseSearchMatchesNaive) {
  Rng rng(11);
  const int64_t N = 6, K = 100;
  std::vector<float> W = tortureWeights(rng, N, K);
  for (double norm : {2.0, 2.4})
    for (bool sym : {false, true})
      for (int64_t gs : {int64_t(-1), int64_t(32)}) {
        SCOPED_TRACE(::testing::Message()
                     << "norm=" << norm << " sym=" << sym << " gs=" << gs);
        QuantParams p = makeParams(3, gs, sym);
        p.mseSearch = true;
        p.mseNorm = norm;
        QuantResult r, plain;
        ASSERT_OK(rtnQuantize(W.data(), N, K, p, r));
        p.mseSearch = false;
        ASSERT_OK(rtnQuantize(W.data(), N, K, p, plain));
        int64_t width = gs == -1 ? K : gs, G = r.numGroups();
        for (int64_t n = 0; n < N; ++n)
          for (int64_t g = 0; g < G; ++g) {
            int64_t k0 = g * width, k1 = std::min(K, k0 + width);
            const float *x = W.data() + n * K + k0;
            auto error = [&](float scale, float zero) {
              double e = 0;
              for (int64_t k = 0; k < k1 - k0; ++k) {
                float d =
                    scale * (naiveCode(x[k], scale, zero, 3) - zero) - x[k];
                e += std::pow(std::fabs(double(d)), norm);
              }
              return e;
            };
            double best = std::numeric_limits<double>::infinity();
            float bestScale = 0, bestZero = 0;
            for (int i = 0; i < 80; ++i) {
              float scale, zero;
              naiveParams(x, k1 - k0, 3, sym, float(1.0 - i / 100.0), scale,
                          zero);
              double e = error(scale, zero);
              if (e < best) {
                best = e;
                bestScale = scale;
                bestZero = zero;
              }
            }
            ASSERT_EQ(r.scales[n * G + g], bestScale) << n << "," << g;
            if (!sym) {
              ASSERT_EQ(r.zeros[n * G + g], uint8_t(bestZero));
            }
            // Never worse than the plain min/max range.
            float plainZero = sym ? 4.0f : float(plain.zeros[n * G + g]);
            EXPECT_LE(best, error(plain.scales[n * G + g], plainZero));
          }
      }
}

TEST(NumericsRtn, ReducedPrecisionScales) {
  Rng rng(5);
  const int64_t N = 12, K = 96;
  std::vector<float> W = tortureWeights(rng, N, K);
  // A group so small its f16 scale would underflow to zero.
  for (int64_t k = 0; k < 32; ++k)
    W[6 * K + k] = 1e-12f * float(k);
  for (ScaleType type : {ScaleType::F16, ScaleType::BF16})
    for (bool sym : {false, true}) {
      SCOPED_TRACE(scaleTypeName(type));
      QuantParams p = makeParams(4, 32, sym);
      p.scaleType = type;
      QuantResult r;
      ASSERT_OK(rtnQuantize(W.data(), N, K, p, r));
      ASSERT_OK(validateQuantResult(r));
      int64_t G = r.numGroups();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t g = 0; g < G; ++g) {
          float s = r.scales[n * G + g];
          // Exactly representable in the storage type.
          float back = type == ScaleType::F16 ? halfToFloat(floatToHalf(s))
                                              : bf16ToFloat(floatToBF16(s));
          ASSERT_EQ(back, s);
          ASSERT_GT(s, 0.0f);
          // Zero point and codes are computed from the rounded scale.
          float zero = sym ? 8.0f : float(r.zeros[n * G + g]);
          const float *x = W.data() + n * K + g * 32;
          float lo = 0;
          for (int64_t k = 0; k < 32; ++k)
            lo = std::fmin(lo, x[k]);
          if (!sym && lo < 0) {
            ASSERT_EQ(zero, std::fmin(std::nearbyint(-lo / s), 15.0f));
          }
          for (int64_t k = 0; k < 32; ++k)
            ASSERT_EQ(r.codes[n * K + g * 32 + k],
                      uint8_t(naiveCode(x[k], s, zero, 4)));
        }
      // The tiny group got the smallest positive f16 scale (bf16 has the
      // range of float).
      if (type == ScaleType::F16)
        EXPECT_EQ(r.scales[6 * G], 0x1p-24f);
      else
        EXPECT_EQ(r.scales[6 * G], bf16ToFloat(floatToBF16(31e-12f / 15.0f)));
    }
}

TEST(NumericsRtn, SuperBlockScales) {
  // 8-bit scale codes under one f16/bf16 scale per super-block of 4 groups
  // of 32 (K = 320: 10 groups, super-blocks of 4, 4 and 2).
  Rng rng(41);
  const int64_t N = 9, K = 320, S = 4;
  std::vector<float> W = tortureWeights(rng, N, K);
  for (ScaleType type : {ScaleType::F16, ScaleType::BF16})
    for (bool sym : {false, true})
      for (bool extreme : {false, true}) {
        if (extreme && !sym)
          continue;
        SCOPED_TRACE(std::string(scaleTypeName(type)) + (sym ? " sym" : "") +
                     (extreme ? " extreme" : ""));
        QuantParams p = makeParams(4, 32, sym);
        p.scaleType = type;
        p.symmetricExtreme = extreme;
        p.superGroup = S;
        QuantResult r;
        ASSERT_OK(rtnQuantize(W.data(), N, K, p, r));
        ASSERT_OK(validateQuantResult(r));
        const int64_t G = r.numGroups();
        for (int64_t n = 0; n < N; ++n)
          for (int64_t g0 = 0; g0 < G; g0 += S) {
            const int64_t g1 = std::min(G, g0 + S);
            float top = 0;
            for (int64_t g = g0; g < g1; ++g)
              top = std::max(top, std::fabs(r.scales[n * G + g]));
            // d = max |scale| / 127 exactly, in the super-block type.
            const float d = top / 127.0f;
            ASSERT_EQ(d * 127.0f, top);
            const float back = type == ScaleType::F16
                                   ? halfToFloat(floatToHalf(d))
                                   : bf16ToFloat(floatToBF16(d));
            ASSERT_EQ(back, d);
            for (int64_t g = g0; g < g1; ++g) {
              const float s = r.scales[n * G + g];
              const float c = s / d;
              ASSERT_EQ(c, std::nearbyint(c)) << n << " " << g;
              ASSERT_GE(std::fabs(c), 1.0f);
              ASSERT_LE(std::fabs(c), 127.0f);
              // Codes follow the snapped scale and the (moved) zero.
              const float zero = sym ? 8.0f : float(r.zeros[n * G + g]);
              const float *x = W.data() + n * K + g * 32;
              for (int64_t k = 0; k < 32; ++k)
                ASSERT_EQ(r.codes[n * K + g * 32 + k],
                          uint8_t(naiveCode(x[k], s, zero, 4)));
            }
          }
        // Close to plain f16 scales: the weight error grows by < 10%.
        QuantParams plain = p;
        plain.superGroup = 0;
        QuantResult q;
        ASSERT_OK(rtnQuantize(W.data(), N, K, plain, q));
        std::vector<float> a = dequantize(r), b = dequantize(q);
        double ea = 0, eb = 0;
        for (size_t i = 0; i < W.size(); ++i) {
          ea += double(a[i] - W[i]) * (a[i] - W[i]);
          eb += double(b[i] - W[i]) * (b[i] - W[i]);
        }
        EXPECT_LT(ea, 1.1 * eb);
      }
  // Invalid: per-channel, f32 super scales, a super-block of one group.
  for (auto [group, type, S1] :
       {std::tuple<int64_t, ScaleType, int64_t>{-1, ScaleType::F16, 4},
        {32, ScaleType::F32, 4},
        {32, ScaleType::F16, 1}}) {
    QuantParams p = makeParams(4, group, true);
    p.scaleType = type;
    p.superGroup = S1;
    QuantResult r;
    EXPECT_FALSE(errorText(rtnQuantize(W.data(), N, K, p, r)).empty());
  }
}

TEST(NumericsRtn, RejectsBadParameters) {
  std::vector<float> W(64, 0.5f);
  QuantResult r;
  auto run = [&](QuantParams p) {
    return errorText(rtnQuantize(W.data(), 2, 32, p, r));
  };
  EXPECT_NE(run(makeParams(1, 32, false)).find("bits must be between 2 and 8"),
            std::string::npos);
  EXPECT_NE(run(makeParams(9, 32, false)).find("got 9"), std::string::npos);
  EXPECT_NE(run(makeParams(4, 0, false))
                .find("groupSize must be positive or -1 (per-channel), got 0"),
            std::string::npos);
  EXPECT_NE(run(makeParams(4, -2, false)).find("got -2"), std::string::npos);
  QuantParams p = makeParams(4, 32, false);
  p.mseSearch = true;
  p.mseGrid = 0;
  EXPECT_NE(run(p).find("mseGrid must be positive"), std::string::npos);
  p.mseGrid = 100;
  p.mseMaxShrink = 1.5;
  EXPECT_NE(run(p).find("mseMaxShrink must be in (0, 1]"), std::string::npos);
  p.mseMaxShrink = 0.8;
  p.mseNorm = std::nan("");
  EXPECT_NE(run(p).find("mseNorm must be positive and finite"),
            std::string::npos);

  EXPECT_NE(errorText(rtnQuantize(W.data(), 0, 32, makeParams(4, 32, false), r))
                .find("weight shape [0, 32] is empty"),
            std::string::npos);
  W[37] = std::numeric_limits<float>::infinity();
  EXPECT_NE(run(makeParams(4, 32, false)).find("weight [1, 5] is not finite"),
            std::string::npos);
}

TEST(NumericsQuantResult, GroupIndexAndValidation) {
  QuantResult r;
  r.rows = 2;
  r.cols = 5;
  r.bits = 3;
  r.groupSize = 2;
  r.codes = {0, 1, 2, 3, 4, 5, 6, 7, 0, 1};
  r.scales = {1, 2, 4, 1, 1, 1};
  r.zeros = {0, 1, 2, 0, 0, 0};
  r.perm = {4, 0, 3, 1, 2};
  // Column perm[j] is in group j / 2.
  EXPECT_EQ(r.groupIndex(), (std::vector<int32_t>{0, 1, 2, 1, 0}));
  ASSERT_OK(validateQuantResult(r));
  std::vector<float> q = dequantize(r);
  // Row 0: column 2 is in group 2 (scale 4, zero 2): 4 * (2 - 2) = 0;
  // column 3 in group 1 (scale 2, zero 1): 2 * (3 - 1) = 4.
  EXPECT_EQ(q[2], 0.0f);
  EXPECT_EQ(q[3], 4.0f);
  EXPECT_EQ(q[0], 0.0f);

  QuantResult bad = r;
  bad.perm = {4, 0, 3, 1, 1};
  EXPECT_NE(errorText(validateQuantResult(bad)).find("not a permutation"),
            std::string::npos);
  bad = r;
  bad.codes[3] = 8;
  EXPECT_NE(errorText(validateQuantResult(bad)).find("code 8 at [0, 3]"),
            std::string::npos);
  bad = r;
  bad.scales[1] = 0;
  EXPECT_NE(errorText(validateQuantResult(bad)).find("not positive"),
            std::string::npos);
  bad = r;
  bad.symmetric = true;
  EXPECT_NE(errorText(validateQuantResult(bad)).find("zero points"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// Dense kernels
//===----------------------------------------------------------------------===//

/// The documented order of operations of gemmAccumulate for one element:
/// fma partial sums over blocks of kGemmKC, each added to (or subtracted
/// from) c in CT.
template <typename T, typename CT>
CT specElement(CT c, int64_t K, bool subtract, const T *a, int64_t as,
               const T *b, int64_t bs) {
  for (int64_t k0 = 0; k0 < K; k0 += kGemmKC) {
    T acc = 0;
    for (int64_t k = k0; k < std::min(K, k0 + kGemmKC); ++k)
      acc = std::fma(a[k * as], b[k * bs], acc);
    c = subtract ? c - CT(acc) : c + CT(acc);
  }
  return c;
}

template <typename T, typename CT> void checkGemmSpec(uint64_t seed) {
  Rng rng(seed);
  struct Dims {
    int64_t M, N, K;
  };
  for (Dims d : {Dims{1, 1, 1}, Dims{7, 19, 3}, Dims{13, 40, 600},
                 Dims{150, 130, 257}, Dims{64, 300, 512}}) {
    std::vector<T> A(size_t(d.M * d.K)), B(size_t(d.K * d.N));
    for (T &x : A)
      x = T(rng.normal());
    for (T &x : B)
      x = T(rng.normal());
    std::vector<CT> C0(size_t(d.M * d.N));
    for (CT &x : C0)
      x = CT(rng.normal());
    for (Triangle tri : {Triangle::Full, Triangle::Upper, Triangle::Lower})
      for (bool subtract : {false, true}) {
        std::vector<CT> ref;
        for (unsigned threads : {1u, 2u, 3u}) {
          std::vector<CT> C = C0;
          // A given transposed (column strides), B row-major.
          std::vector<T> At(A.size());
          for (int64_t i = 0; i < d.M; ++i)
            for (int64_t k = 0; k < d.K; ++k)
              At[k * d.M + i] = A[i * d.K + k];
          gemmAccumulate(
              d.M, d.N, d.K, subtract, MatrixRef<T>{At.data(), 1, d.M},
              MatrixRef<T>{B.data(), d.N, 1}, C.data(), d.N, tri, threads);
          if (ref.empty()) {
            ref = C;
            for (int64_t i = 0; i < d.M; ++i)
              for (int64_t j = 0; j < d.N; ++j) {
                bool in = tri == Triangle::Full ||
                          (tri == Triangle::Upper && i <= j) ||
                          (tri == Triangle::Lower && i >= j);
                CT expect = in ? specElement<T, CT>(
                                     C0[i * d.N + j], d.K, subtract,
                                     A.data() + i * d.K, 1, B.data() + j, d.N)
                               : C0[i * d.N + j];
                ASSERT_EQ(C[i * d.N + j], expect)
                    << d.M << "x" << d.N << "x" << d.K << " at " << i << ","
                    << j << " tri " << int(tri);
              }
          }
          ASSERT_TRUE(sameBytes(C, ref)) << threads << " threads";
        }
      }
  }
}

TEST(NumericsLinearAlgebra, GemmFollowsSpecFloat) {
  checkGemmSpec<float, float>(31);
}
TEST(NumericsLinearAlgebra, GemmFollowsSpecFloatToDouble) {
  checkGemmSpec<float, double>(32);
}
TEST(NumericsLinearAlgebra, GemmFollowsSpecDouble) {
  checkGemmSpec<double, double>(33);
}

TEST(NumericsLinearAlgebra, CholeskyAndInverse) {
  Rng rng(34);
  for (int64_t n : {1, 5, 128, 129, 300}) {
    SCOPED_TRACE(n);
    // A = B B^T / n + I, well conditioned.
    std::vector<double> Bm(size_t(n * n));
    for (double &x : Bm)
      x = rng.normal();
    std::vector<double> A(size_t(n * n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = i == j ? 1.0 : 0.0;
        for (int64_t k = 0; k < n; ++k)
          s += Bm[i * n + k] * Bm[j * n + k] / double(n);
        A[i * n + j] = s;
      }
    std::vector<double> L = A;
    // The strict upper triangle must be neither read nor written.
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j)
        L[i * n + j] = 12345.0;
    ASSERT_EQ(choleskyLower(L.data(), n, 2), 0);
    double maxErr = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        if (j > i) {
          ASSERT_EQ(L[i * n + j], 12345.0);
          continue;
        }
        double s = 0;
        for (int64_t k = 0; k <= j; ++k)
          s += L[i * n + k] * L[j * n + k];
        maxErr = std::max(maxErr, std::fabs(s - A[i * n + j]));
      }
    EXPECT_LT(maxErr, 1e-12);
    std::vector<double> X(size_t(n * n));
    invertLowerTriangular(L.data(), X.data(), n, 2);
    maxErr = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        if (j > i) {
          ASSERT_EQ(X[i * n + j], 0.0);
          continue;
        }
        double s = 0;
        for (int64_t k = j; k <= i; ++k)
          s += L[i * n + k] * X[k * n + j];
        maxErr = std::max(maxErr, std::fabs(s - (i == j ? 1.0 : 0.0)));
      }
    EXPECT_LT(maxErr, 1e-12);
    // Same bits with one thread.
    std::vector<double> L1 = A, X1(size_t(n * n));
    ASSERT_EQ(choleskyLower(L1.data(), n, 1), 0);
    invertLowerTriangular(L1.data(), X1.data(), n, 1);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        ASSERT_EQ(L1[i * n + j], L[i * n + j]);
        ASSERT_EQ(X1[i * n + j], X[i * n + j]);
      }
  }
  // Not positive definite: the 1-based index of the failing pivot.
  std::vector<double> bad = {4, 0, 0, 2, 2, 0, 0, 3, -5};
  EXPECT_EQ(choleskyLower(bad.data(), 3), 3);
  std::vector<double> nan = {std::nan(""), 0, 0, 1};
  EXPECT_EQ(choleskyLower(nan.data(), 2), 1);
}

//===----------------------------------------------------------------------===//
// Hessian
//===----------------------------------------------------------------------===//

TEST(NumericsHessian, MatchesDoubleReference) {
  Rng rng(3);
  const int64_t K = 37, rows = 5000;
  std::vector<float> X = rng.normals(size_t(rows * K));
  HessianAccumulator acc(K, 256);
  // Uneven chunks.
  for (int64_t r = 0; r < rows;) {
    int64_t n = std::min<int64_t>(rows - r, 1 + int64_t(rng.next() % 700));
    acc.add(X.data() + r * K, n);
    r += n;
  }
  EXPECT_EQ(acc.rows(), rows);
  std::vector<float> H = acc.finalize();
  double maxRel = 0;
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) {
      double s = 0, norm = 0;
      for (int64_t r = 0; r < rows; ++r) {
        s += double(X[r * K + i]) * X[r * K + j];
        norm += std::fabs(double(X[r * K + i]) * X[r * K + j]);
      }
      s *= 2.0 / rows;
      norm *= 2.0 / rows;
      ASSERT_EQ(H[i * K + j], H[j * K + i]);
      maxRel = std::max(maxRel, std::fabs(H[i * K + j] - s) / norm);
    }
  EXPECT_LT(maxRel, 1e-6);
}

TEST(NumericsHessian, IndependentOfChunking) {
  Rng rng(4);
  const int64_t K = 70, rows = 3000;
  std::vector<float> X = rng.normals(size_t(rows * K));
  HessianAccumulator whole(K, 512), rowByRow(K, 512), chunked(K, 512);
  whole.add(X.data(), rows);
  for (int64_t r = 0; r < rows; ++r)
    rowByRow.add(X.data() + r * K, 1);
  for (int64_t r = 0; r < rows;) {
    int64_t n = std::min<int64_t>(rows - r, int64_t(rng.next() % 1300));
    chunked.add(X.data() + r * K, n);
    r += n;
  }
  std::vector<float> H = whole.finalize();
  EXPECT_TRUE(sameBytes(H, rowByRow.finalize()));
  EXPECT_TRUE(sameBytes(H, chunked.finalize()));
  // finalize() leaves the accumulator usable.
  HessianAccumulator split(K, 512);
  split.add(X.data(), 1000);
  (void)split.finalize();
  split.add(X.data() + 1000 * K, rows - 1000);
  EXPECT_TRUE(sameBytes(H, split.finalize()));
  std::vector<double> Hd = whole.finalizeDouble();
  for (size_t i = 0; i < H.size(); ++i)
    ASSERT_EQ(H[i], float(Hd[i]));
}

TEST(NumericsHessian, EmptyIsZero) {
  HessianAccumulator acc(5);
  EXPECT_EQ(acc.rows(), 0);
  for (float v : acc.finalize())
    EXPECT_EQ(v, 0.0f);
}

TEST(NumericsHessian, PrecisionVersusPlainFloat32) {
  // Rows with a large common mean: the float32 sum of a long stream loses
  // digits the block-wise double accumulation keeps.
  Rng rng(9);
  const int64_t K = 48, rows = 200000;
  std::vector<float> X(size_t(rows * K));
  for (float &x : X)
    x = float(3.0 + rng.normal());
  HessianAccumulator acc(K);
  acc.add(X.data(), rows);
  std::vector<float> H = acc.finalize();
  std::vector<float> plain(size_t(K * K));
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(K), int(rows),
              float(2.0 / rows), X.data(), int(K), 0.0f, plain.data(), int(K));
  std::vector<double> exact(size_t(K * K));
  std::vector<double> Xd(X.begin(), X.end());
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, int(K), int(rows),
              2.0 / rows, Xd.data(), int(K), 0.0, exact.data(), int(K));
  double errOurs = 0, errPlain = 0;
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = i; j < K; ++j) {
      double e = exact[i * K + j];
      errOurs = std::max(errOurs, std::fabs(H[i * K + j] - e) / std::fabs(e));
      errPlain =
          std::max(errPlain, std::fabs(plain[i * K + j] - e) / std::fabs(e));
    }
  std::printf("Hessian max relative error vs double: accumulator %.3g, one "
              "float32 ssyrk %.3g\n",
              errOurs, errPlain);
  EXPECT_LT(errOurs, 1e-6);
  EXPECT_LE(errOurs, errPlain);
}

TEST(NumericsHessian, IndependentOfThreads) {
  Rng rng(6);
  const int64_t K = 384, rows = 4100;
  std::vector<float> X = rng.normals(size_t(rows * K));
  std::vector<float> ref;
  for (unsigned threads : {1u, 2u, 3u, 7u}) {
    HessianAccumulator acc(K, 1024, threads);
    acc.add(X.data(), rows);
    std::vector<float> H = acc.finalize();
    if (ref.empty())
      ref = H;
    EXPECT_TRUE(sameBytes(H, ref)) << threads << " threads";
  }
  // The block size is a performance knob only.
  HessianAccumulator big(K, 4096, 2);
  big.add(X.data(), rows);
  EXPECT_TRUE(sameBytes(big.finalize(), ref));
}

TEST(NumericsHessian, ReconstructionError) {
  // H = I: the error is ||W - Q||^2 / ||W||^2.
  const int64_t N = 3, K = 4;
  std::vector<float> H(size_t(K * K), 0.0f);
  for (int64_t i = 0; i < K; ++i)
    H[i * K + i] = 1.0f;
  std::vector<float> W = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<float> Q = W;
  EXPECT_EQ(reconstructionError(W.data(), Q.data(), N, K, H.data()), 0.0);
  Q[5] += 1.0f;
  Q[11] -= 2.0f;
  double w2 = 0;
  for (float w : W)
    w2 += w * w;
  EXPECT_NEAR(reconstructionError(W.data(), Q.data(), N, K, H.data()), 5.0 / w2,
              1e-15);
  // Off-diagonal terms count twice; only the upper triangle is read.
  H[0 * K + 1] = 0.5f;
  H[1 * K + 0] = 1e9f;
  std::vector<float> D = {1, 1, 0, 0};
  std::vector<float> Z(4, 0.0f);
  EXPECT_EQ(quadraticTrace(D.data(), Z.data(), 1, K, H.data()), 3.0);
  EXPECT_EQ(quadraticTrace(D.data(), nullptr, 1, K, H.data()), 3.0);
}

//===----------------------------------------------------------------------===//
// GPTQ
//===----------------------------------------------------------------------===//

GptqParams makeGptq(unsigned bits, int64_t groupSize, bool sym = false,
                    bool actOrder = false, bool staticGroups = false) {
  GptqParams p;
  p.quant = makeParams(bits, groupSize, sym);
  p.actOrder = actOrder;
  p.staticGroups = staticGroups;
  return p;
}

struct GptqCase {
  unsigned bits;
  int64_t groupSize;
  bool sym, actOrder, staticGroups;
};

const GptqCase kCases[] = {
    {4, 32, false, false, false}, {4, 32, false, true, false},
    {4, 32, false, true, true},   {3, 64, false, false, false},
    {3, 64, true, true, false},   {4, -1, false, false, false},
    {4, -1, true, true, false},   {2, 32, false, true, false},
};

TEST(NumericsGptq, BeatsRtnOnCorrelatedData) {
  Rng rng(21);
  const int64_t N = 96, K = 200, rows = 4096;
  std::vector<float> X = correlatedInputs(rng, rows, K);
  std::vector<float> H = hessianOf(X, K);
  std::vector<float> W = rng.normals(size_t(N * K), 0.05);
  for (const GptqCase &c : kCases) {
    SCOPED_TRACE(::testing::Message()
                 << "bits=" << c.bits << " gs=" << c.groupSize
                 << " sym=" << c.sym << " act=" << c.actOrder
                 << " static=" << c.staticGroups);
    GptqParams p =
        makeGptq(c.bits, c.groupSize, c.sym, c.actOrder, c.staticGroups);
    QuantResult g, r;
    GptqStats stats;
    ASSERT_OK(gptqQuantize(W.data(), N, K, H.data(), p, g, &stats));
    ASSERT_OK(validateQuantResult(g));
    ASSERT_OK(rtnQuantize(W.data(), N, K, p.quant, r));
    std::vector<float> Qr = dequantize(r);
    double rtnErr = reconstructionError(W.data(), Qr.data(), N, K, H.data());
    std::vector<float> Qg = dequantize(g);
    double gptqErr = reconstructionError(W.data(), Qg.data(), N, K, H.data());
    EXPECT_EQ(stats.relativeError, gptqErr);
    std::printf("w%u g%lld sym=%d act=%d static=%d: relative error GPTQ "
                "%.5f RTN %.5f (ratio %.3f)\n",
                c.bits, (long long)c.groupSize, c.sym, c.actOrder,
                c.staticGroups, gptqErr, rtnErr, gptqErr / rtnErr);
    EXPECT_LT(gptqErr, 0.75 * rtnErr);
    EXPECT_EQ(stats.dampRetries, 0);
    EXPECT_EQ(stats.dampPercent, 0.01);
    EXPECT_GT(stats.loss, 0.0);
    // perm only when groups follow the act-order.
    bool expectPerm = c.actOrder && !c.staticGroups && c.groupSize != -1;
    EXPECT_EQ(!g.perm.empty(), expectPerm);
    // Fixed parameters equal RTN's.
    if (c.staticGroups || c.groupSize == -1) {
      EXPECT_TRUE(sameBytes(g.scales, r.scales));
      EXPECT_TRUE(sameBytes(g.zeros, r.zeros));
    }
  }
}

// A group whose range needs a scale above the scale type's largest value is
// an error naming the row and group (RTN and GPTQ, every grouping), never a
// silently clamped scale (65504 for f16, FLT_MAX for f32).
TEST(NumericsGptq, ScaleOverflowIsAnError) {
  Rng rng(24);
  const int64_t N = 6, K = 64;
  std::vector<float> H(size_t(K * K), 0.0f);
  for (int64_t i = 0; i < K; ++i)
    H[i * K + i] = 1.0f;
  std::vector<float> W = rng.normals(size_t(N * K), 0.1);
  W[4 * K + 40] = 2e6f; // row 4, group 1 of 32: 2e6 / 15 > 65504
  for (const GptqCase &c : kCases) {
    SCOPED_TRACE(::testing::Message()
                 << "bits=" << c.bits << " gs=" << c.groupSize
                 << " act=" << c.actOrder << " static=" << c.staticGroups);
    GptqParams p =
        makeGptq(c.bits, c.groupSize, c.sym, c.actOrder, c.staticGroups);
    p.quant.scaleType = ScaleType::F16;
    QuantResult r;
    std::string gptq =
        llvm::toString(gptqQuantize(W.data(), N, K, H.data(), p, r));
    EXPECT_NE(gptq.find("row 4, group "), std::string::npos) << gptq;
    EXPECT_NE(gptq.find("above 65504, the largest f16 value"),
              std::string::npos)
        << gptq;
    std::string rtn = llvm::toString(rtnQuantize(W.data(), N, K, p.quant, r));
    EXPECT_NE(
        rtn.find("row 4, group " +
                 std::to_string(c.groupSize == -1 ? 0 : 40 / c.groupSize)),
        std::string::npos)
        << rtn;
    // f32 scales hold it.
    p.quant.scaleType = ScaleType::F32;
    EXPECT_EQ(llvm::toString(gptqQuantize(W.data(), N, K, H.data(), p, r)), "");
    EXPECT_EQ(llvm::toString(rtnQuantize(W.data(), N, K, p.quant, r)), "");
  }
  // A finite range that overflows float itself is an error for f32 scales.
  std::vector<float> V = W;
  V[4 * K + 40] = 3e38f;
  V[4 * K + 41] = -3e38f;
  GptqParams p = makeGptq(4, 32);
  QuantResult r;
  std::string err = llvm::toString(rtnQuantize(V.data(), N, K, p.quant, r));
  EXPECT_NE(err.find("row 4, group 1: the range of the group needs a scale "
                     "above 3.40282e+38, the largest f32 value"),
            std::string::npos)
      << err;
  err = llvm::toString(gptqQuantize(V.data(), N, K, H.data(), p, r));
  EXPECT_NE(err.find("row 4, group 1:"), std::string::npos) << err;
}

TEST(NumericsGptq, SuperBlockScalesAreStaticGroups) {
  // GPTQ with super-block scales fixes the group parameters first (static
  // groups), snapped as RTN snaps them: with H = I it equals RTN.
  Rng rng(42);
  const int64_t N = 20, K = 256;
  std::vector<float> W = rng.normals(size_t(N * K), 0.1);
  std::vector<float> H(size_t(K * K), 0.0f);
  for (int64_t i = 0; i < K; ++i)
    H[i * K + i] = 1.0f;
  for (bool actOrder : {false, true}) {
    GptqParams p = makeGptq(4, 32, /*sym=*/false, actOrder);
    p.quant.scaleType = ScaleType::F16;
    p.quant.superGroup = 8;
    QuantResult g, r;
    ASSERT_OK(gptqQuantize(W.data(), N, K, H.data(), p, g));
    ASSERT_OK(rtnQuantize(W.data(), N, K, p.quant, r));
    EXPECT_TRUE(g.perm.empty());
    EXPECT_TRUE(sameResult(g, r)) << actOrder;
  }
}

TEST(NumericsGptq, IdentityHessianIsRtn) {
  // With H = I no error is propagated: GPTQ quantizes exactly like RTN.
  Rng rng(22);
  const int64_t N = 20, K = 100;
  std::vector<float> W = rng.normals(size_t(N * K), 0.1);
  std::vector<float> H(size_t(K * K), 0.0f);
  for (int64_t i = 0; i < K; ++i)
    H[i * K + i] = 1.0f;
  for (const GptqCase &c : kCases) {
    if (c.actOrder && !c.staticGroups && c.groupSize != -1)
      continue; // groups would follow the (identity) order anyway
    QuantResult g, r;
    GptqParams p =
        makeGptq(c.bits, c.groupSize, c.sym, c.actOrder, c.staticGroups);
    p.blockSize = 16;
    ASSERT_OK(gptqQuantize(W.data(), N, K, H.data(), p, g));
    ASSERT_OK(rtnQuantize(W.data(), N, K, p.quant, r));
    EXPECT_TRUE(sameResult(g, r)) << c.bits << " " << c.groupSize;
  }
}

TEST(NumericsGptq, DeterministicAndBlockSizeInvariant) {
  Rng rng(23);
  const int64_t N = 256, K = 320, rows = 2048;
  std::vector<float> X = correlatedInputs(rng, rows, K);
  std::vector<float> H = hessianOf(X, K);
  std::vector<float> W = rng.normals(size_t(N * K), 0.05);
  for (bool actOrder : {false, true}) {
    GptqParams p = makeGptq(4, 48, false, actOrder);
    QuantResult a, b;
    GptqStats sa, sb;
    ASSERT_OK(gptqQuantize(W.data(), N, K, H.data(), p, a, &sa));
    ASSERT_OK(gptqQuantize(W.data(), N, K, H.data(), p, b, &sb));
    EXPECT_TRUE(sameResult(a, b));
    EXPECT_EQ(sa.loss, sb.loss);
    EXPECT_EQ(sa.relativeError, sb.relativeError);
    for (unsigned threads : {1u, 2u, 3u}) {
      GptqParams pt = p;
      pt.threads = threads;
      QuantResult t;
      ASSERT_OK(gptqQuantize(W.data(), N, K, H.data(), pt, t));
      EXPECT_TRUE(sameResult(a, t)) << threads << " threads";
    }
    // Groups of 48 straddle blocks of 32 and 128; the group parameters see
    // the same (fully updated) weights whatever the block size, so results
    // differ by float rounding only.
    for (int64_t block : {int64_t(1), int64_t(32), int64_t(128), K}) {
      QuantResult c;
      GptqStats sc;
      p.blockSize = block;
      ASSERT_OK(gptqQuantize(W.data(), N, K, H.data(), p, c, &sc));
      int64_t flips = 0;
      for (size_t i = 0; i < c.codes.size(); ++i)
        flips += c.codes[i] != a.codes[i];
      double fraction = double(flips) / double(c.codes.size());
      std::printf("act=%d block %lld: %.4f%% codes differ from block 128, "
                  "relative error %.6f vs %.6f\n",
                  actOrder, (long long)block, 100 * fraction, sc.relativeError,
                  sa.relativeError);
      EXPECT_LT(fraction, 0.005);
      EXPECT_NEAR(sc.relativeError, sa.relativeError, 0.01 * sa.relativeError);
    }
  }
}

TEST(NumericsGptq, DeadInputs) {
  Rng rng(24);
  const int64_t N = 16, K = 64, rows = 512;
  std::vector<float> X = correlatedInputs(rng, rows, K);
  for (int64_t r = 0; r < rows; ++r) {
    X[r * K + 3] = 0.0f;
    X[r * K + 40] = 0.0f;
  }
  std::vector<float> H = hessianOf(X, K);
  std::vector<float> W = rng.normals(size_t(N * K), 0.05);
  W[3] = 100.0f; // would wreck the range if it were not zeroed
  for (bool actOrder : {false, true}) {
    QuantResult g;
    GptqStats stats;
    ASSERT_OK(gptqQuantize(W.data(), N, K, H.data(),
                           makeGptq(4, -1, false, actOrder), g, &stats));
    EXPECT_EQ(stats.deadColumns, 2);
    std::vector<float> Q = dequantize(g);
    for (int64_t n = 0; n < N; ++n) {
      EXPECT_EQ(Q[n * K + 3], 0.0f);
      EXPECT_EQ(Q[n * K + 40], 0.0f);
    }
    EXPECT_LT(stats.relativeError, 0.05);
  }
}

TEST(NumericsGptq, EdgeShapes) {
  // One input; fewer inputs than a group and a block; every input dead.
  std::vector<float> one = {0.3f}, H1 = {2.0f};
  QuantResult out;
  GptqStats stats;
  ASSERT_OK(
      gptqQuantize(one.data(), 1, 1, H1.data(), makeGptq(4, 128), out, &stats));
  ASSERT_OK(validateQuantResult(out));
  EXPECT_EQ(out.numGroups(), 1);
  Rng rng(25);
  std::vector<float> W = rng.normals(3 * 5, 0.1);
  std::vector<float> X = rng.normals(40 * 5);
  std::vector<float> H = hessianOf(X, 5);
  for (bool act : {false, true}) {
    GptqParams p = makeGptq(3, 128, false, act);
    p.blockSize = 2;
    ASSERT_OK(gptqQuantize(W.data(), 3, 5, H.data(), p, out, &stats));
    ASSERT_OK(validateQuantResult(out));
    EXPECT_LT(stats.relativeError, 0.1);
  }
  std::vector<float> zero(25, 0.0f);
  ASSERT_OK(
      gptqQuantize(W.data(), 3, 5, zero.data(), makeGptq(4, 2), out, &stats));
  EXPECT_EQ(stats.deadColumns, 5);
  EXPECT_EQ(stats.relativeError, 0.0);
  for (float v : dequantize(out))
    EXPECT_EQ(v, 0.0f);
}

TEST(NumericsGptq, DampeningRetriesAndFailures) {
  const int64_t N = 2, K = 2;
  std::vector<float> W = {0.1f, -0.2f, 0.3f, 0.05f};
  QuantResult out;
  GptqStats stats;
  // Indefinite (eigenvalues 2.05, -0.05): 1% fails, 10% works.
  std::vector<float> H = {1.0f, 1.05f, 1.05f, 1.0f};
  ASSERT_OK(
      gptqQuantize(W.data(), N, K, H.data(), makeGptq(4, -1), out, &stats));
  EXPECT_EQ(stats.dampRetries, 1);
  EXPECT_DOUBLE_EQ(stats.dampPercent, 0.1);
  // Rank deficient (a single calibration row): 1% dampening suffices.
  std::vector<float> R = {1.0f, 2.0f, 2.0f, 4.0f};
  ASSERT_OK(
      gptqQuantize(W.data(), N, K, R.data(), makeGptq(4, -1), out, &stats));
  EXPECT_EQ(stats.dampRetries, 0);
  // Zero dampening retries from 1%.
  GptqParams none = makeGptq(4, -1);
  none.dampPercent = 0;
  ASSERT_OK(gptqQuantize(W.data(), N, K, R.data(), none, out, &stats));
  EXPECT_EQ(stats.dampRetries, 1);
  EXPECT_DOUBLE_EQ(stats.dampPercent, 0.01);
  // Negative definite: hopeless.
  std::vector<float> Neg = {-1.0f, 0.0f, 0.0f, -1.0f};
  std::string msg =
      errorText(gptqQuantize(W.data(), N, K, Neg.data(), makeGptq(4, -1), out));
  EXPECT_NE(msg.find("not positive definite even after 3 dampening "
                     "increases"),
            std::string::npos)
      << msg;
  // Non-finite Hessian.
  std::vector<float> Nan = {1.0f, std::nanf(""), std::nanf(""), 1.0f};
  msg =
      errorText(gptqQuantize(W.data(), N, K, Nan.data(), makeGptq(4, -1), out));
  EXPECT_NE(msg.find("Hessian entry [0, 1] is not finite"), std::string::npos)
      << msg;
}

TEST(NumericsGptq, RejectsBadParameters) {
  std::vector<float> W(4, 0.1f), H = {1, 0, 0, 1};
  QuantResult out;
  auto run = [&](GptqParams p) {
    return errorText(gptqQuantize(W.data(), 2, 2, H.data(), p, out));
  };
  GptqParams p = makeGptq(4, 32);
  p.blockSize = 0;
  EXPECT_NE(run(p).find("blockSize must be positive, got 0"),
            std::string::npos);
  p = makeGptq(4, 32);
  p.dampPercent = -0.1;
  EXPECT_NE(run(p).find("dampPercent must be finite and non-negative"),
            std::string::npos);
  p = makeGptq(4, 32);
  p.dampPercent = std::nan("");
  EXPECT_NE(run(p).find("dampPercent"), std::string::npos);
  EXPECT_NE(run(makeGptq(12, 32)).find("bits must be between 2 and 8"),
            std::string::npos);
  EXPECT_NE(run(makeGptq(4, 0)).find("groupSize"), std::string::npos);
  W[1] = std::nanf("");
  EXPECT_NE(run(makeGptq(4, 32)).find("weight [0, 1] is not finite"),
            std::string::npos);
}

} // namespace

//===----------------------------------------------------------------------===//
// chooseSchemes (mixed precision under a bit budget)
//===----------------------------------------------------------------------===//

namespace {

/// Weights with schemes at 2.5/3.5/4.5/8.5 bits per weight whose KL falls
/// about 4x per added bit, scaled per weight by a random sensitivity.
std::vector<lowbit::numerics::WeightCurve> randomCurves(std::mt19937_64 &rng,
                                                        int count) {
  std::uniform_real_distribution<double> sens(0.1, 10.0), size(1.0, 8.0);
  std::vector<lowbit::numerics::WeightCurve> curves;
  for (int w = 0; w < count; ++w) {
    lowbit::numerics::WeightCurve c;
    c.name = "w" + std::to_string(w);
    c.numel = int64_t(size(rng) * 1000);
    double s = sens(rng);
    for (double bpw : {2.5, 3.5, 4.5, 8.5})
      c.schemes.push_back({bpw, s * std::pow(4.0, -(bpw - 2.5))});
    curves.push_back(std::move(c));
  }
  return curves;
}

/// The best choice by enumerating every combination.
double bruteForce(llvm::ArrayRef<lowbit::numerics::WeightCurve> curves,
                  double target) {
  double total = 0;
  for (const auto &c : curves)
    total += double(c.numel);
  double best = INFINITY;
  std::vector<size_t> pick(curves.size(), 0);
  for (;;) {
    double bits = 0, kl = 0;
    for (size_t w = 0; w < curves.size(); ++w) {
      bits += curves[w].schemes[pick[w]].bitsPerWeight * curves[w].numel;
      kl += curves[w].schemes[pick[w]].kl;
    }
    if (bits <= target * total)
      best = std::min(best, kl);
    size_t w = 0;
    while (w < curves.size() && ++pick[w] == curves[w].schemes.size())
      pick[w++] = 0;
    if (w == curves.size())
      return best;
  }
}

} // namespace

TEST(BudgetSearch, FitsTheBudgetAndIsNearTheOptimum) {
  std::mt19937_64 rng(21);
  double worst = 1;
  for (int trial = 0; trial < 20; ++trial) {
    auto curves = randomCurves(rng, 7);
    for (double target : {2.7, 3.4, 3.5, 4.0, 4.5, 4.6, 6.0}) {
      auto choice = lowbit::numerics::chooseSchemes(curves, target);
      ASSERT_TRUE(bool(choice)) << llvm::toString(choice.takeError());
      EXPECT_LE(choice->bitsPerWeight, target + 1e-12);
      double optimum = bruteForce(curves, target);
      EXPECT_LE(choice->kl, optimum * 1.01 + 1e-15)
          << "trial " << trial << " target " << target;
      worst = std::max(worst, choice->kl / optimum);
      // Never worse than the best uniform scheme that fits.
      for (size_t s = 0; s < 4; ++s) {
        if (curves[0].schemes[s].bitsPerWeight > target)
          continue;
        double uniform = 0;
        for (const auto &c : curves)
          uniform += c.schemes[s].kl;
        EXPECT_LE(choice->kl, uniform + 1e-15);
      }
    }
  }
  RecordProperty("worst_ratio_to_optimum", std::to_string(worst));
}

TEST(BudgetSearch, SpendsBitsWhereTheyBuyTheMostKl) {
  // Two equal-size weights, one 100x more sensitive: at 5.5 bits on average
  // the sensitive one gets 8.5 bits and the other 2.5.
  std::vector<lowbit::numerics::WeightCurve> curves(2);
  for (int w = 0; w < 2; ++w) {
    curves[w].name = w ? "insensitive" : "sensitive";
    curves[w].numel = 1000;
    double s = w ? 0.01 : 1.0;
    for (double bpw : {2.5, 4.5, 8.5})
      curves[w].schemes.push_back({bpw, s * std::pow(4.0, -(bpw - 2.5))});
  }
  auto choice = lowbit::numerics::chooseSchemes(curves, 5.5);
  ASSERT_TRUE(bool(choice));
  EXPECT_EQ(choice->scheme, (std::vector<size_t>{2, 0}));
  EXPECT_DOUBLE_EQ(choice->bitsPerWeight, 5.5);
  // Deterministic.
  auto again = lowbit::numerics::chooseSchemes(curves, 5.5);
  ASSERT_TRUE(bool(again));
  EXPECT_EQ(again->scheme, choice->scheme);
}

TEST(BudgetSearch, ReportsImpossibleTargetsAndBadCurves) {
  std::mt19937_64 rng(22);
  auto curves = randomCurves(rng, 3);
  auto low = lowbit::numerics::chooseSchemes(curves, 2.4);
  ASSERT_FALSE(bool(low));
  EXPECT_NE(llvm::toString(low.takeError()).find("below the cheapest mix"),
            std::string::npos);
  curves[1].schemes[2].kl = NAN;
  auto nan = lowbit::numerics::chooseSchemes(curves, 4.0);
  ASSERT_FALSE(bool(nan));
  EXPECT_NE(llvm::toString(nan.takeError()).find("'w1'"), std::string::npos);
  curves[1].schemes.clear();
  EXPECT_FALSE(bool(lowbit::numerics::chooseSchemes(curves, 4.0)));
  EXPECT_FALSE(bool(lowbit::numerics::chooseSchemes({}, 4.0)));
}
