//===- KernelsTests.cpp - unit tests of the fp32 CPU kernels ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Every kernel is checked against a naive double-precision reference written
/// here, on random shapes that include odd sizes, plus the structural
/// properties the executor relies on (prefill equals decode, results
/// independent of the thread count, errors reported instead of crashes).
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Kernels.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <vector>

using namespace lowbit::rt::kernels;

namespace {

//===----------------------------------------------------------------------===//
// Helpers and references
//===----------------------------------------------------------------------===//

std::vector<float> randomVector(size_t n, std::mt19937_64 &rng,
                                float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// Largest |a[i] - b[i]|.
template <typename A, typename B> double maxAbsDiff(const A &a, const B &b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

bool bitwiseEqual(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<double> refLinear(const std::vector<float> &x, int64_t T, int64_t K,
                              const std::vector<float> &w, int64_t N,
                              const float *bias) {
  std::vector<double> y(T * N);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double acc = bias ? bias[n] : 0.0;
      for (int64_t k = 0; k < K; ++k)
        acc += double(x[t * K + k]) * w[n * K + k];
      y[t * N + n] = acc;
    }
  return y;
}

/// Rotary with exact double angles.
std::vector<double> refRotary(const std::vector<float> &x, int64_t T, int64_t H,
                              int64_t Dh, const std::vector<int32_t> &pos,
                              double theta, RotaryStyle style) {
  std::vector<double> y(x.begin(), x.end());
  int64_t half = Dh / 2;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < half; ++i) {
        double angle = pos[t] * std::pow(theta, -2.0 * i / double(Dh));
        int64_t base = t * H * Dh + h * Dh;
        int64_t a = base + (style == RotaryStyle::HalfSplit ? i : 2 * i);
        int64_t b =
            base + (style == RotaryStyle::HalfSplit ? i + half : 2 * i + 1);
        double x1 = x[a], x2 = x[b];
        y[a] = x1 * std::cos(angle) - x2 * std::sin(angle);
        y[b] = x2 * std::cos(angle) + x1 * std::sin(angle);
      }
  return y;
}

/// Causal GQA attention of query t over keys/values 0..pos[t], where row j of
/// \p keys / \p values holds position j.
std::vector<double> refAttention(const std::vector<float> &q,
                                 const std::vector<float> &keys,
                                 const std::vector<float> &values,
                                 const std::vector<int32_t> &pos, int64_t T,
                                 int64_t H, int64_t Hkv, int64_t Dh) {
  std::vector<double> out(T * H * Dh, 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      int64_t kvh = h / (H / Hkv);
      std::vector<double> s(pos[t] + 1);
      for (int64_t j = 0; j <= pos[t]; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < Dh; ++d)
          dot +=
              double(q[(t * H + h) * Dh + d]) * keys[(j * Hkv + kvh) * Dh + d];
        s[j] = dot / std::sqrt(double(Dh));
      }
      double m = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double &e : s)
        sum += (e = std::exp(e - m));
      for (int64_t j = 0; j <= pos[t]; ++j)
        for (int64_t d = 0; d < Dh; ++d)
          out[(t * H + h) * Dh + d] +=
              s[j] / sum * values[(j * Hkv + kvh) * Dh + d];
    }
  return out;
}

std::vector<double> refSoftmax(const std::vector<float> &logits) {
  double m = -INFINITY;
  for (float l : logits)
    m = std::max(m, double(l));
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i)
    sum += (p[i] = std::exp(double(logits[i]) - m));
  for (double &x : p)
    x /= sum;
  return p;
}

//===----------------------------------------------------------------------===//
// ThreadPool
//===----------------------------------------------------------------------===//

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (unsigned threads : {1u, 2u, 3u, 5u}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.getNumThreads(), threads);
    for (int64_t n : {0, 1, 2, 7, 64, 1001}) {
      std::vector<std::atomic<int>> hits(n);
      pool.parallelFor(n, [&](int64_t begin, int64_t end) {
        EXPECT_LE(0, begin);
        EXPECT_LT(begin, end);
        EXPECT_LE(end, n);
        for (int64_t i = begin; i < end; ++i)
          hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(hits[i].load(), 1) << "n = " << n << ", i = " << i;
    }
  }
}

TEST(ThreadPool, PerThreadChunksAreContiguousAndFew) {
  for (unsigned threads : {1u, 2u, 3u, 5u}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 7, 38, 1001}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<int64_t> chunks{0};
      pool.parallelForPerThread(n, [&](int64_t begin, int64_t end) {
        EXPECT_LE(0, begin);
        EXPECT_LT(begin, end);
        EXPECT_LE(end, n);
        chunks.fetch_add(1);
        for (int64_t i = begin; i < end; ++i)
          hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(hits[i].load(), 1) << "n = " << n << ", i = " << i;
      // One chunk per thread at most (one in all when it runs inline).
      EXPECT_LE(chunks.load(), std::min<int64_t>(n, threads)) << "n = " << n;
    }
  }
}

TEST(ThreadPool, NestedLoopRunsInline) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  pool.parallelFor(8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      pool.parallelFor(10, [&](int64_t b, int64_t e) { total += e - b; });
  });
  EXPECT_EQ(total.load(), 80);
}

TEST(ThreadPool, ManyLoopsInSequence) {
  ThreadPool pool(4);
  int64_t sum = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<int64_t> v(37);
    pool.parallelFor(37, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        v[i] = i + round;
    });
    sum += std::accumulate(v.begin(), v.end(), int64_t(0));
  }
  EXPECT_EQ(sum, 200 * (36 * 37 / 2) + 37 * (199 * 200 / 2));
}

//===----------------------------------------------------------------------===//
// linear
//===----------------------------------------------------------------------===//

TEST(Linear, MatchesReference) {
  std::mt19937_64 rng(1);
  for (int64_t T : {1, 2, 7})
    for (int64_t K : {1, 5, 64, 172})
      for (int64_t N : {1, 3, 33})
        for (bool withBias : {false, true}) {
          auto x = randomVector(T * K, rng);
          auto w = randomVector(N * K, rng);
          auto b = randomVector(N, rng);
          std::vector<float> y(T * N, NAN);
          linear(x.data(), T, K, w.data(), N, withBias ? b.data() : nullptr,
                 y.data());
          auto ref = refLinear(x, T, K, w, N, withBias ? b.data() : nullptr);
          EXPECT_LT(maxAbsDiff(y, ref), 2e-6 * (K + 1))
              << "T=" << T << " K=" << K << " N=" << N << " bias=" << withBias;
        }
}

TEST(Linear, EmptyReductionGivesBias) {
  std::vector<float> bias = {1.5f, -2.0f, 0.25f};
  std::vector<float> y(6, NAN);
  linear(nullptr, 2, 0, nullptr, 3, bias.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{1.5f, -2.0f, 0.25f, 1.5f, -2.0f, 0.25f}));
  linear(nullptr, 2, 0, nullptr, 3, nullptr, y.data());
  EXPECT_EQ(y, std::vector<float>(6, 0.0f));
}

TEST(Linear, RowsAgreeAcrossBatchSizes) {
  // The decode path (GEMV) and the prefill path (GEMM) must agree to float
  // rounding.
  std::mt19937_64 rng(2);
  const int64_t T = 5, K = 96, N = 40;
  auto x = randomVector(T * K, rng);
  auto w = randomVector(N * K, rng);
  std::vector<float> all(T * N), one(N);
  linear(x.data(), T, K, w.data(), N, nullptr, all.data());
  for (int64_t t = 0; t < T; ++t) {
    linear(x.data() + t * K, 1, K, w.data(), N, nullptr, one.data());
    for (int64_t n = 0; n < N; ++n)
      EXPECT_NEAR(one[n], all[t * N + n], 1e-5);
  }
}

//===----------------------------------------------------------------------===//
// rmsNorm and elementwise kernels
//===----------------------------------------------------------------------===//

TEST(RmsNorm, MatchesReference) {
  std::mt19937_64 rng(3);
  for (int64_t T : {1, 3, 17})
    for (int64_t D : {1, 7, 64, 255}) {
      auto x = randomVector(T * D, rng, -3, 3);
      auto w = randomVector(D, rng, 0.5, 1.5);
      const float eps = 1e-5f;
      std::vector<float> y(T * D);
      rmsNorm(x.data(), T, D, w.data(), eps, y.data());
      std::vector<double> ref(T * D);
      for (int64_t t = 0; t < T; ++t) {
        double ss = 0;
        for (int64_t d = 0; d < D; ++d)
          ss += double(x[t * D + d]) * x[t * D + d];
        double inv = 1.0 / std::sqrt(ss / D + double(eps));
        for (int64_t d = 0; d < D; ++d)
          ref[t * D + d] = x[t * D + d] * inv * w[d];
      }
      // Only the final rounding to float separates the two.
      for (size_t i = 0; i < y.size(); ++i)
        EXPECT_NEAR(y[i], ref[i], 1e-6 * std::fabs(ref[i]) + 1e-30);
      // In place and on a pool: the same bits.
      ThreadPool pool(3);
      std::vector<float> inPlace = x;
      rmsNorm(inPlace.data(), T, D, w.data(), eps, inPlace.data(), &pool);
      EXPECT_TRUE(bitwiseEqual(inPlace, y));
    }
}

TEST(RmsNorm, ZeroRowUsesEps) {
  std::vector<float> x(8, 0.0f), w(8, 1.0f), y(8, NAN);
  rmsNorm(x.data(), 1, 8, w.data(), 1e-6f, y.data());
  EXPECT_EQ(y, std::vector<float>(8, 0.0f));
}

TEST(Elementwise, MatchReference) {
  std::mt19937_64 rng(4);
  for (int64_t n : {1, 13, 1000, 70001}) {
    auto a = randomVector(n, rng, -8, 8);
    auto b = randomVector(n, rng, -2, 2);
    std::vector<float> sum(n), silu(n), gelu(n);
    add(a.data(), b.data(), n, sum.data());
    siluMul(a.data(), b.data(), n, silu.data());
    geluTanhMul(a.data(), b.data(), n, gelu.data());
    for (int64_t i = 0; i < n; ++i) {
      double g = a[i], u = b[i];
      EXPECT_EQ(sum[i], a[i] + b[i]);
      double refSilu = g / (1 + std::exp(-g)) * u;
      EXPECT_NEAR(silu[i], refSilu, 1e-6 * std::fabs(refSilu) + 1e-30);
      double refGelu =
          0.5 * g *
          (1 + std::tanh(std::sqrt(2 / M_PI) * (g + 0.044715 * g * g * g))) * u;
      EXPECT_NEAR(gelu[i], refGelu, 1e-6 * std::fabs(refGelu) + 1e-30);
    }
    // Pools split elementwise work without changing a bit.
    ThreadPool pool(2);
    std::vector<float> sum2(n), silu2(n), gelu2(n);
    add(a.data(), b.data(), n, sum2.data(), &pool);
    siluMul(a.data(), b.data(), n, silu2.data(), &pool);
    geluTanhMul(a.data(), b.data(), n, gelu2.data(), &pool);
    EXPECT_TRUE(bitwiseEqual(sum, sum2));
    EXPECT_TRUE(bitwiseEqual(silu, silu2));
    EXPECT_TRUE(bitwiseEqual(gelu, gelu2));
  }
}

TEST(Elementwise, ExtremeGatesStayFinite) {
  std::vector<float> g = {-1e4f, -100.0f, 0.0f, 100.0f, 1e4f};
  std::vector<float> u(g.size(), 2.0f), out(g.size());
  siluMul(g.data(), u.data(), g.size(), out.data());
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 0.0f, 1e-30);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], 200.0f);
  EXPECT_EQ(out[4], 2e4f);
  geluTanhMul(g.data(), u.data(), g.size(), out.data());
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], 200.0f);
  EXPECT_EQ(out[4], 2e4f);
  for (float o : out)
    EXPECT_TRUE(std::isfinite(o));
}

//===----------------------------------------------------------------------===//
// embedding
//===----------------------------------------------------------------------===//

TEST(Embedding, CopiesRows) {
  std::mt19937_64 rng(5);
  const int64_t V = 11, D = 7;
  auto table = randomVector(V * D, rng);
  std::vector<int32_t> ids = {3, 0, 10, 3};
  std::vector<float> out(ids.size() * D);
  ASSERT_TRUE(
      embedding(table.data(), V, D, ids.data(), ids.size(), out.data()).ok());
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t d = 0; d < D; ++d)
      EXPECT_EQ(out[t * D + d], table[ids[t] * D + d]);
}

TEST(Embedding, ReportsOutOfRangeIds) {
  const int64_t V = 4, D = 3;
  std::vector<float> table(V * D, 1.0f);
  for (int32_t bad : {4, -1, 1 << 30}) {
    std::vector<int32_t> ids = {0, bad};
    std::vector<float> out(2 * D, -7.0f);
    Status s = embedding(table.data(), V, D, ids.data(), 2, out.data());
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find(std::to_string(bad)), std::string::npos)
        << s.message();
    EXPECT_EQ(out, std::vector<float>(2 * D, -7.0f)) << "nothing is written";
  }
}

//===----------------------------------------------------------------------===//
// rotary
//===----------------------------------------------------------------------===//

TEST(Rotary, InvFreqMatchesFormula) {
  for (int64_t Dh : {2, 8, 64, 128}) {
    std::vector<double> inv(Dh / 2);
    computeRotaryInvFreq(Dh, 10000.0, inv.data());
    for (int64_t i = 0; i < Dh / 2; ++i)
      EXPECT_NEAR(inv[i], std::pow(10000.0, -2.0 * i / Dh),
                  1e-15 * std::pow(10000.0, -2.0 * i / Dh));
  }
}

TEST(Rotary, MatchesReferenceInBothStyles) {
  std::mt19937_64 rng(6);
  for (RotaryStyle style : {RotaryStyle::HalfSplit, RotaryStyle::Interleaved})
    for (int64_t Dh : {2, 8, 34, 64})
      for (int64_t H : {1, 3}) {
        const int64_t T = 9;
        std::vector<int32_t> pos(T);
        for (int64_t t = 0; t < T; ++t)
          pos[t] = static_cast<int32_t>(rng() % 200);
        auto x = randomVector(T * H * Dh, rng);
        auto ref = refRotary(x, T, H, Dh, pos, 10000.0, style);
        std::vector<float> y = x;
        rotary(y.data(), T, H, Dh, pos.data(), 10000.0, style);
        // Everything is double inside: only the final rounding remains.
        EXPECT_LT(maxAbsDiff(y, ref), 2e-7)
            << "Dh=" << Dh << " H=" << H << " style=" << int(style);
      }
}

TEST(Rotary, LongContextsStayExact) {
  // Float32 angles would be off by up to pos * 2^-24 rad here (~0.006 at
  // 100000); double angles keep the result within a float rounding.
  std::mt19937_64 rng(7);
  const int64_t T = 6, H = 2, Dh = 16;
  std::vector<int32_t> pos = {0, 1, 511, 4095, 32767, 100000};
  auto x = randomVector(T * H * Dh, rng);
  auto ref = refRotary(x, T, H, Dh, pos, 500000.0, RotaryStyle::HalfSplit);
  std::vector<float> y = x;
  rotary(y.data(), T, H, Dh, pos.data(), 500000.0, RotaryStyle::HalfSplit);
  EXPECT_LT(maxAbsDiff(y, ref), 2e-7);
}

TEST(Rotary, ExplicitFrequenciesMatchTheta) {
  std::mt19937_64 rng(20);
  const int64_t T = 4, H = 2, Dh = 8;
  std::vector<int32_t> pos = {3, 9, 27, 81};
  auto x = randomVector(T * H * Dh, rng);
  std::vector<double> inv(Dh / 2);
  computeRotaryInvFreq(Dh, 10000.0, inv.data());
  std::vector<float> viaTheta = x, viaFreq = x;
  rotary(viaTheta.data(), T, H, Dh, pos.data(), 10000.0,
         RotaryStyle::HalfSplit);
  rotary(viaFreq.data(), T, H, Dh, pos.data(), inv.data(),
         RotaryStyle::HalfSplit);
  EXPECT_TRUE(bitwiseEqual(viaTheta, viaFreq));
  // Halving every frequency (linear rope scaling by 2) equals halving the
  // positions.
  for (double &f : inv)
    f *= 0.5;
  std::vector<int32_t> halfPos = {0, 2, 4, 6};
  std::vector<int32_t> doublePos = {0, 4, 8, 12};
  std::vector<float> scaled = x, halved = x;
  rotary(scaled.data(), T, H, Dh, doublePos.data(), inv.data(),
         RotaryStyle::Interleaved);
  rotary(halved.data(), T, H, Dh, halfPos.data(), 10000.0,
         RotaryStyle::Interleaved);
  EXPECT_LT(maxAbsDiff(scaled, halved), 2e-7);
}

TEST(Rotary, StylesAreChannelPermutationsOfEachOther) {
  // Interleaved pair (2i, 2i+1) is HalfSplit pair (i, i + Dh/2) after the
  // permutation Hugging Face's Llama converter applies to q/k rows.
  std::mt19937_64 rng(8);
  const int64_t T = 5, H = 3, Dh = 12, half = Dh / 2;
  std::vector<int32_t> pos = {0, 3, 4, 90, 7};
  auto inter = randomVector(T * H * Dh, rng);
  std::vector<float> split(inter.size());
  for (int64_t r = 0; r < T * H; ++r)
    for (int64_t i = 0; i < half; ++i) {
      split[r * Dh + i] = inter[r * Dh + 2 * i];
      split[r * Dh + i + half] = inter[r * Dh + 2 * i + 1];
    }
  rotary(inter.data(), T, H, Dh, pos.data(), 10000.0, RotaryStyle::Interleaved);
  rotary(split.data(), T, H, Dh, pos.data(), 10000.0, RotaryStyle::HalfSplit);
  for (int64_t r = 0; r < T * H; ++r)
    for (int64_t i = 0; i < half; ++i) {
      EXPECT_EQ(split[r * Dh + i], inter[r * Dh + 2 * i]);
      EXPECT_EQ(split[r * Dh + i + half], inter[r * Dh + 2 * i + 1]);
    }
}

TEST(Rotary, PositionZeroIsIdentityAndPoolIsBitwiseStable) {
  std::mt19937_64 rng(9);
  const int64_t T = 300, H = 4, Dh = 64;
  auto x = randomVector(T * H * Dh, rng);
  std::vector<int32_t> zeros(T, 0), pos(T);
  std::iota(pos.begin(), pos.end(), 0);
  std::vector<float> y = x;
  rotary(y.data(), T, H, Dh, zeros.data(), 10000.0, RotaryStyle::HalfSplit);
  EXPECT_TRUE(bitwiseEqual(x, y));

  std::vector<float> serial = x, pooled = x;
  ThreadPool pool(3);
  rotary(serial.data(), T, H, Dh, pos.data(), 10000.0,
         RotaryStyle::Interleaved);
  rotary(pooled.data(), T, H, Dh, pos.data(), 10000.0, RotaryStyle::Interleaved,
         &pool);
  EXPECT_TRUE(bitwiseEqual(serial, pooled));
}

//===----------------------------------------------------------------------===//
// attention
//===----------------------------------------------------------------------===//

struct AttentionCase {
  int64_t T, H, Hkv, Dh;
};

TEST(Attention, PrefillMatchesReference) {
  std::mt19937_64 rng(10);
  for (AttentionCase c :
       {AttentionCase{1, 1, 1, 4}, AttentionCase{7, 4, 4, 8},
        AttentionCase{13, 8, 2, 16}, AttentionCase{33, 6, 3, 5},
        AttentionCase{20, 8, 1, 64}}) {
    auto q = randomVector(c.T * c.H * c.Dh, rng, -2, 2);
    auto k = randomVector(c.T * c.Hkv * c.Dh, rng, -2, 2);
    auto v = randomVector(c.T * c.Hkv * c.Dh, rng);
    std::vector<int32_t> pos(c.T);
    std::iota(pos.begin(), pos.end(), 0);
    KVCache cache(c.T + 3, c.Hkv, c.Dh);
    std::vector<float> out(q.size(), NAN);
    ASSERT_TRUE(attention(q.data(), k.data(), v.data(), pos.data(), c.T, c.H,
                          c.Hkv, c.Dh, cache, out.data())
                    .ok());
    auto ref = refAttention(q, k, v, pos, c.T, c.H, c.Hkv, c.Dh);
    EXPECT_LT(maxAbsDiff(out, ref), 1e-6)
        << "T=" << c.T << " H=" << c.H << " Hkv=" << c.Hkv << " Dh=" << c.Dh;
    // The cache now holds the new rows.
    EXPECT_TRUE(std::equal(k.begin(), k.end(), cache.k.begin()));
    EXPECT_TRUE(std::equal(v.begin(), v.end(), cache.v.begin()));
  }
}

TEST(Attention, PrefillEqualsSequentialDecode) {
  std::mt19937_64 rng(11);
  const int64_t T = 19, H = 8, Hkv = 2, Dh = 12, maxCtx = 32;
  auto q = randomVector(T * H * Dh, rng, -3, 3);
  auto k = randomVector(T * Hkv * Dh, rng, -3, 3);
  auto v = randomVector(T * Hkv * Dh, rng);
  std::vector<int32_t> pos(T);
  std::iota(pos.begin(), pos.end(), 0);

  KVCache prefillCache(maxCtx, Hkv, Dh);
  std::vector<float> prefill(q.size());
  ASSERT_TRUE(attention(q.data(), k.data(), v.data(), pos.data(), T, H, Hkv, Dh,
                        prefillCache, prefill.data())
                  .ok());

  KVCache decodeCache(maxCtx, Hkv, Dh);
  std::vector<float> decode(q.size());
  for (int64_t t = 0; t < T; ++t)
    ASSERT_TRUE(attention(q.data() + t * H * Dh, k.data() + t * Hkv * Dh,
                          v.data() + t * Hkv * Dh, pos.data() + t, 1, H, Hkv,
                          Dh, decodeCache, decode.data() + t * H * Dh)
                    .ok());
  EXPECT_TRUE(bitwiseEqual(prefill, decode));
  EXPECT_TRUE(bitwiseEqual(prefillCache.k, decodeCache.k));
  EXPECT_TRUE(bitwiseEqual(prefillCache.v, decodeCache.v));

  // Chunked prefill (8 + 11 tokens) gives the same bits as well.
  KVCache chunkCache(maxCtx, Hkv, Dh);
  std::vector<float> chunked(q.size());
  int64_t first = 8;
  ASSERT_TRUE(attention(q.data(), k.data(), v.data(), pos.data(), first, H, Hkv,
                        Dh, chunkCache, chunked.data())
                  .ok());
  ASSERT_TRUE(attention(q.data() + first * H * Dh, k.data() + first * Hkv * Dh,
                        v.data() + first * Hkv * Dh, pos.data() + first,
                        T - first, H, Hkv, Dh, chunkCache,
                        chunked.data() + first * H * Dh)
                  .ok());
  EXPECT_TRUE(bitwiseEqual(prefill, chunked));

  // And so does a pool of any size.
  for (unsigned threads : {2u, 3u, 7u}) {
    ThreadPool pool(threads);
    KVCache pooledCache(maxCtx, Hkv, Dh);
    std::vector<float> pooled(q.size());
    ASSERT_TRUE(attention(q.data(), k.data(), v.data(), pos.data(), T, H, Hkv,
                          Dh, pooledCache, pooled.data(), &pool)
                    .ok());
    EXPECT_TRUE(bitwiseEqual(prefill, pooled)) << threads << " threads";
  }
}

TEST(Attention, GroupedQueryEqualsReplicatedHeads) {
  // GQA with Hkv heads equals multi-head attention whose kv heads are the
  // GQA kv heads repeated H / Hkv times.
  std::mt19937_64 rng(12);
  const int64_t T = 10, H = 6, Hkv = 2, Dh = 8, group = H / Hkv;
  auto q = randomVector(T * H * Dh, rng, -2, 2);
  auto k = randomVector(T * Hkv * Dh, rng, -2, 2);
  auto v = randomVector(T * Hkv * Dh, rng);
  std::vector<float> kRep(T * H * Dh), vRep(T * H * Dh);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < Dh; ++d) {
        kRep[(t * H + h) * Dh + d] = k[(t * Hkv + h / group) * Dh + d];
        vRep[(t * H + h) * Dh + d] = v[(t * Hkv + h / group) * Dh + d];
      }
  std::vector<int32_t> pos(T);
  std::iota(pos.begin(), pos.end(), 0);
  KVCache gqaCache(T, Hkv, Dh), mhaCache(T, H, Dh);
  std::vector<float> gqa(q.size()), mha(q.size());
  ASSERT_TRUE(attention(q.data(), k.data(), v.data(), pos.data(), T, H, Hkv, Dh,
                        gqaCache, gqa.data())
                  .ok());
  ASSERT_TRUE(attention(q.data(), kRep.data(), vRep.data(), pos.data(), T, H, H,
                        Dh, mhaCache, mha.data())
                  .ok());
  EXPECT_TRUE(bitwiseEqual(gqa, mha));
}

TEST(Attention, PositionsNeedNotBeContiguousInOneCall) {
  // Tokens may arrive in any order; each sees the cache rows up to its own
  // position, all written before any score is computed.
  std::mt19937_64 rng(13);
  const int64_t T = 4, H = 2, Hkv = 1, Dh = 4;
  auto q = randomVector(T * H * Dh, rng);
  auto k = randomVector(T * Hkv * Dh, rng);
  auto v = randomVector(T * Hkv * Dh, rng);
  std::vector<int32_t> order = {2, 0, 3, 1};
  // Sorted copies for the reference: row j of keys holds position j.
  std::vector<float> keys(k.size()), values(v.size());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < Hkv * Dh; ++d) {
      keys[order[t] * Hkv * Dh + d] = k[t * Hkv * Dh + d];
      values[order[t] * Hkv * Dh + d] = v[t * Hkv * Dh + d];
    }
  KVCache cache(8, Hkv, Dh);
  std::vector<float> out(q.size());
  ASSERT_TRUE(attention(q.data(), k.data(), v.data(), order.data(), T, H, Hkv,
                        Dh, cache, out.data())
                  .ok());
  auto ref = refAttention(q, keys, values, order, T, H, Hkv, Dh);
  EXPECT_LT(maxAbsDiff(out, ref), 1e-6);
}

TEST(Attention, ReportsBadArgumentsWithoutTouchingTheCache) {
  const int64_t H = 4, Hkv = 2, Dh = 4, maxCtx = 5;
  std::vector<float> q(2 * H * Dh, 1.0f), k(2 * Hkv * Dh, 1.0f),
      v(2 * Hkv * Dh, 1.0f), out(2 * H * Dh, -3.0f);
  KVCache cache(maxCtx, Hkv, Dh);
  std::vector<int32_t> tooFar = {4, 5};
  Status s = attention(q.data(), k.data(), v.data(), tooFar.data(), 2, H, Hkv,
                       Dh, cache, out.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("position 5"), std::string::npos) << s.message();
  std::vector<int32_t> negative = {-1, 0};
  EXPECT_FALSE(attention(q.data(), k.data(), v.data(), negative.data(), 2, H,
                         Hkv, Dh, cache, out.data())
                   .ok());
  std::vector<int32_t> fine = {0, 1};
  EXPECT_FALSE(attention(q.data(), k.data(), v.data(), fine.data(), 2, 3, Hkv,
                         Dh, cache, out.data())
                   .ok())
      << "3 query heads do not group over 2 kv heads";
  EXPECT_FALSE(attention(q.data(), k.data(), v.data(), fine.data(), 2, H, 1, Dh,
                         cache, out.data())
                   .ok())
      << "the cache was built for 2 kv heads";
  KVCache empty;
  EXPECT_FALSE(attention(q.data(), k.data(), v.data(), fine.data(), 2, H, Hkv,
                         Dh, empty, out.data())
                   .ok());
  EXPECT_EQ(cache.k, std::vector<float>(maxCtx * Hkv * Dh, 0.0f));
  EXPECT_EQ(cache.v, std::vector<float>(maxCtx * Hkv * Dh, 0.0f));
  EXPECT_EQ(out, std::vector<float>(2 * H * Dh, -3.0f));
}

TEST(Attention, LargeScoresAreStable) {
  // Scores near 1e4 overflow a naive exp; the max-subtracted softmax must
  // pick the dominant key exactly.
  const int64_t H = 1, Hkv = 1, Dh = 4;
  std::vector<float> q = {100, 100, 100, 100};
  std::vector<float> k = {10, 10, 10, 10, 50, 50, 50, 50};
  std::vector<float> v = {1, 2, 3, 4, 5, 6, 7, 8};
  KVCache cache(2, Hkv, Dh);
  std::vector<int32_t> pos = {0, 1};
  std::vector<float> q2(2 * Dh);
  std::copy(q.begin(), q.end(), q2.begin());
  std::copy(q.begin(), q.end(), q2.begin() + Dh);
  std::vector<float> out(2 * Dh);
  ASSERT_TRUE(attention(q2.data(), k.data(), v.data(), pos.data(), 2, H, Hkv,
                        Dh, cache, out.data())
                  .ok());
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
}

/// A view of \p cache's storage.
KVCacheView viewOfCache(KVCache &cache) {
  return KVCacheView{cache.k.data(), cache.v.data(), cache.maxCtx,
                     cache.numKVHeads, cache.headDim};
}

TEST(AttentionF32, MatchesTheDoubleReference) {
  // Prefill (T over the 256-row chunk too), GQA, odd head dims.
  std::mt19937_64 rng(14);
  for (AttentionCase c :
       {AttentionCase{1, 1, 1, 4}, AttentionCase{13, 8, 2, 16},
        AttentionCase{33, 6, 3, 5}, AttentionCase{300, 9, 3, 64}}) {
    auto q = randomVector(c.T * c.H * c.Dh, rng, -2, 2);
    auto k = randomVector(c.T * c.Hkv * c.Dh, rng, -2, 2);
    auto v = randomVector(c.T * c.Hkv * c.Dh, rng);
    std::vector<int32_t> pos(c.T);
    std::iota(pos.begin(), pos.end(), 0);
    KVCache cache(c.T + 3, c.Hkv, c.Dh);
    std::vector<float> out(q.size(), NAN);
    ASSERT_TRUE(attentionF32(q.data(), k.data(), v.data(), pos.data(), c.T, c.H,
                             c.Hkv, c.Dh, viewOfCache(cache), out.data())
                    .ok());
    auto ref = refAttention(q, k, v, pos, c.T, c.H, c.Hkv, c.Dh);
    EXPECT_LT(maxAbsDiff(out, ref), 2e-6)
        << "T=" << c.T << " H=" << c.H << " Hkv=" << c.Hkv << " Dh=" << c.Dh;
    EXPECT_TRUE(std::equal(k.begin(), k.end(), cache.k.begin()));
    EXPECT_TRUE(std::equal(v.begin(), v.end(), cache.v.begin()));
  }
}

TEST(AttentionF32, DecodeStepsAndShuffledPositionsReadTheCache) {
  std::mt19937_64 rng(15);
  const int64_t T = 19, H = 8, Hkv = 2, Dh = 12, maxCtx = 32;
  auto q = randomVector(T * H * Dh, rng, -3, 3);
  auto k = randomVector(T * Hkv * Dh, rng, -3, 3);
  auto v = randomVector(T * Hkv * Dh, rng);
  std::vector<int32_t> pos(T);
  std::iota(pos.begin(), pos.end(), 0);
  auto ref = refAttention(q, k, v, pos, T, H, Hkv, Dh);
  // Prefill of 7 tokens, then single-token steps.
  KVCache cache(maxCtx, Hkv, Dh);
  std::vector<float> out(q.size(), NAN);
  const int64_t first = 7;
  ASSERT_TRUE(attentionF32(q.data(), k.data(), v.data(), pos.data(), first, H,
                           Hkv, Dh, viewOfCache(cache), out.data())
                  .ok());
  for (int64_t t = first; t < T; ++t)
    ASSERT_TRUE(attentionF32(q.data() + t * H * Dh, k.data() + t * Hkv * Dh,
                             v.data() + t * Hkv * Dh, pos.data() + t, 1, H, Hkv,
                             Dh, viewOfCache(cache), out.data() + t * H * Dh)
                    .ok());
  EXPECT_LT(maxAbsDiff(out, ref), 2e-6);

  // Tokens in any order within one call.
  std::vector<int32_t> order = {2, 0, 3, 1};
  const int64_t n = 4;
  std::vector<float> keys(n * Hkv * Dh), values(n * Hkv * Dh);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t d = 0; d < Hkv * Dh; ++d) {
      keys[order[t] * Hkv * Dh + d] = k[t * Hkv * Dh + d];
      values[order[t] * Hkv * Dh + d] = v[t * Hkv * Dh + d];
    }
  KVCache shuffled(8, Hkv, Dh);
  std::vector<float> got(n * H * Dh);
  ASSERT_TRUE(attentionF32(q.data(), k.data(), v.data(), order.data(), n, H,
                           Hkv, Dh, viewOfCache(shuffled), got.data())
                  .ok());
  std::vector<float> qn(q.begin(), q.begin() + n * H * Dh);
  EXPECT_LT(
      maxAbsDiff(got, refAttention(qn, keys, values, order, n, H, Hkv, Dh)),
      2e-6);
}

TEST(AttentionF32, ReportsBadArgumentsWithoutTouchingTheCache) {
  const int64_t H = 4, Hkv = 2, Dh = 4, maxCtx = 5;
  std::vector<float> q(2 * H * Dh, 1.0f), k(2 * Hkv * Dh, 1.0f),
      v(2 * Hkv * Dh, 1.0f), out(2 * H * Dh, -3.0f);
  KVCache cache(maxCtx, Hkv, Dh);
  std::vector<int32_t> tooFar = {4, 5};
  Status s = attentionF32(q.data(), k.data(), v.data(), tooFar.data(), 2, H,
                          Hkv, Dh, viewOfCache(cache), out.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("position 5"), std::string::npos) << s.message();
  std::vector<int32_t> fine = {0, 1};
  EXPECT_FALSE(attentionF32(q.data(), k.data(), v.data(), fine.data(), 2, 3,
                            Hkv, Dh, viewOfCache(cache), out.data())
                   .ok());
  EXPECT_EQ(cache.k, std::vector<float>(maxCtx * Hkv * Dh, 0.0f));
  EXPECT_EQ(out, std::vector<float>(2 * H * Dh, -3.0f));
}

//===----------------------------------------------------------------------===//
// dequantizeRows
//===----------------------------------------------------------------------===//

struct QuantCase {
  int64_t N, K, groupSize;
  int bits;
  bool symmetric, actOrder;
};

TEST(Dequantize, MatchesReference) {
  std::mt19937_64 rng(14);
  for (QuantCase c : {QuantCase{5, 172, 32, 4, false, false},
                      QuantCase{5, 172, 32, 4, true, false},
                      QuantCase{3, 172, 64, 3, false, true},
                      QuantCase{7, 172, 32, 2, true, true},
                      QuantCase{4, 64, -1, 8, false, false},
                      QuantCase{4, 63, -1, 4, true, true},
                      QuantCase{2, 10, 128, 4, false, false},
                      QuantCase{3, 9, 1, 1, false, false}}) {
    const int64_t G =
        c.groupSize == -1 ? 1 : (c.K + c.groupSize - 1) / c.groupSize;
    std::vector<uint8_t> codes(c.N * c.K);
    for (uint8_t &q : codes)
      q = static_cast<uint8_t>(rng() % (1u << c.bits));
    auto scales = randomVector(c.N * G, rng, 0.001f, 0.1f);
    std::vector<float> zeros(c.N * G);
    for (float &z : zeros)
      z = static_cast<float>(rng() % (1u << c.bits));
    // Act-order: groups follow the column order of a random permutation.
    std::vector<int32_t> gIdx(c.K);
    if (c.actOrder) {
      std::vector<int64_t> perm(c.K);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      for (int64_t i = 0; i < c.K; ++i)
        gIdx[perm[i]] =
            static_cast<int32_t>(c.groupSize == -1 ? 0 : i / c.groupSize);
    }
    std::vector<float> w(c.N * c.K, NAN);
    ASSERT_TRUE(dequantizeRows(codes.data(), scales.data(),
                               c.symmetric ? nullptr : zeros.data(),
                               c.actOrder ? gIdx.data() : nullptr, c.N, c.K,
                               c.groupSize, c.bits, w.data())
                    .ok());
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t k = 0; k < c.K; ++k) {
        int64_t g =
            c.actOrder ? gIdx[k] : (c.groupSize == -1 ? 0 : k / c.groupSize);
        double zero = c.symmetric ? std::ldexp(1.0, c.bits - 1)
                                  : double(zeros[n * G + g]);
        double ref = double(scales[n * G + g]) * (codes[n * c.K + k] - zero);
        EXPECT_NEAR(w[n * c.K + k], ref, 1e-7 * std::fabs(ref))
            << "n=" << n << " k=" << k << " K=" << c.K
            << " group=" << c.groupSize;
      }
    ThreadPool pool(2);
    std::vector<float> pooled(w.size());
    ASSERT_TRUE(dequantizeRows(codes.data(), scales.data(),
                               c.symmetric ? nullptr : zeros.data(),
                               c.actOrder ? gIdx.data() : nullptr, c.N, c.K,
                               c.groupSize, c.bits, pooled.data(), &pool)
                    .ok());
    EXPECT_TRUE(bitwiseEqual(w, pooled));
  }
}

TEST(Dequantize, RaggedLastGroupUsesItsOwnScale) {
  // K = 172 with groups of 32: columns 160..171 form the sixth group.
  const int64_t N = 1, K = 172, groupSize = 32;
  std::vector<uint8_t> codes(K, 9);
  std::vector<float> scales = {1, 2, 3, 4, 5, 6};
  std::vector<float> zeros = {8, 8, 8, 8, 8, 7};
  std::vector<float> w(K);
  ASSERT_TRUE(dequantizeRows(codes.data(), scales.data(), zeros.data(), nullptr,
                             N, K, groupSize, 4, w.data())
                  .ok());
  for (int64_t k = 0; k < K; ++k)
    EXPECT_EQ(w[k], k < 160 ? float(k / 32 + 1) : 12.0f) << "k=" << k;
}

TEST(Dequantize, ReportsBadInput) {
  std::vector<uint8_t> codes = {0, 1, 2, 16};
  std::vector<float> scales = {1, 1}, w(4, -5.0f);
  Status s = dequantizeRows(codes.data(), scales.data(), nullptr, nullptr, 2, 2,
                            -1, 4, w.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("code 16"), std::string::npos) << s.message();
  codes[3] = 15;
  std::vector<int32_t> badGroups = {0, 1};
  EXPECT_FALSE(dequantizeRows(codes.data(), scales.data(), nullptr,
                              badGroups.data(), 2, 2, -1, 4, w.data())
                   .ok())
      << "one group per channel, but gIdx names group 1";
  EXPECT_FALSE(dequantizeRows(codes.data(), scales.data(), nullptr, nullptr, 2,
                              2, 0, 4, w.data())
                   .ok());
  EXPECT_FALSE(dequantizeRows(codes.data(), scales.data(), nullptr, nullptr, 2,
                              2, -1, 9, w.data())
                   .ok());
  EXPECT_FALSE(dequantizeRows(codes.data(), scales.data(), nullptr, nullptr, 2,
                              2, -1, 0, w.data())
                   .ok());
  EXPECT_EQ(w, std::vector<float>(4, -5.0f));
  EXPECT_TRUE(dequantizeRows(codes.data(), scales.data(), nullptr, nullptr, 2,
                             2, -1, 4, w.data())
                  .ok());
  EXPECT_EQ(w, (std::vector<float>{-8, -7, -6, 7}));
}

//===----------------------------------------------------------------------===//
// Metrics
//===----------------------------------------------------------------------===//

TEST(Metrics, Argmax) {
  std::vector<float> l = {1, 5, 3, 5, -2};
  EXPECT_EQ(argmax(l.data(), l.size()), 1) << "first of the tied maxima";
  l[0] = NAN;
  EXPECT_EQ(argmax(l.data(), l.size()), 1);
  std::vector<float> allNan(3, NAN);
  EXPECT_EQ(argmax(allNan.data(), 3), 0);
  EXPECT_EQ(argmax(l.data(), 0), -1);
  std::vector<float> negInf = {-INFINITY, -INFINITY, -1e30f};
  EXPECT_EQ(argmax(negInf.data(), 3), 2);
}

TEST(Metrics, LogSoftmaxNLLMatchesReference) {
  std::mt19937_64 rng(15);
  for (int64_t V : {1, 2, 97, 512}) {
    for (float offset : {0.0f, 1e4f, -1e4f}) {
      auto l = randomVector(V, rng, -20, 20);
      for (float &x : l)
        x += offset;
      auto p = refSoftmax(l);
      for (int32_t target : {0, int32_t(V / 2), int32_t(V - 1)}) {
        double nll = logSoftmaxNLL(l.data(), V, target);
        // Large offsets leave only float32 rounding of the inputs.
        EXPECT_NEAR(nll, -std::log(p[target]), 1e-9 * (1 + std::fabs(nll)));
      }
    }
    auto l = randomVector(V, rng);
    EXPECT_TRUE(std::isnan(logSoftmaxNLL(l.data(), V, -1)));
    EXPECT_TRUE(std::isnan(logSoftmaxNLL(l.data(), V, int32_t(V))));
  }
}

TEST(Metrics, KLDivergenceMatchesReference) {
  std::mt19937_64 rng(16);
  for (int64_t V : {2, 17, 512}) {
    auto a = randomVector(V, rng, -10, 10);
    auto b = randomVector(V, rng, -10, 10);
    EXPECT_EQ(klDivergence(a.data(), a.data(), V), 0.0);
    auto pa = refSoftmax(a), pb = refSoftmax(b);
    double ref = 0;
    for (int64_t i = 0; i < V; ++i)
      ref += pa[i] * std::log(pa[i] / pb[i]);
    double kl = klDivergence(a.data(), b.data(), V);
    EXPECT_NEAR(kl, ref, 1e-10 * (1 + ref));
    EXPECT_GT(kl, 0.0);
    // Invariant under shifting either set of logits.
    std::vector<float> shifted = b;
    for (float &x : shifted)
      x += 1000.0f;
    EXPECT_NEAR(klDivergence(a.data(), shifted.data(), V), kl, 1e-3)
        << "float32 rounding of the shifted logits bounds the difference";
  }
}

TEST(Metrics, KLDivergenceHandlesInfiniteLogits) {
  std::vector<float> ref = {0, -INFINITY, 0}, p = {0, 0, -INFINITY};
  std::vector<float> same = {1, -INFINITY, 1};
  EXPECT_NEAR(klDivergence(ref.data(), same.data(), 3), 0.0, 1e-15);
  // p_ref(2) > 0 but p(2) == 0: infinite divergence.
  EXPECT_EQ(klDivergence(ref.data(), p.data(), 3), INFINITY);
  // p_ref(1) == 0 contributes nothing; the rest is KL((.5,.5)||(1/3,1/3)).
  std::vector<float> flat = {0, 0, 0};
  EXPECT_NEAR(klDivergence(ref.data(), flat.data(), 3), std::log(1.5), 1e-12);
}

//===----------------------------------------------------------------------===//
// Sampling
//===----------------------------------------------------------------------===//

TEST(Sampling, RandomNumbersAreSeededAndUniform) {
  uint64_t a = 42, b = 42, c = 43;
  for (int i = 0; i < 10; ++i) {
    uint64_t ra = nextRandom(a);
    EXPECT_EQ(ra, nextRandom(b));
    EXPECT_NE(ra, nextRandom(c));
  }
  uint64_t s = 7;
  double mean = 0;
  for (int i = 0; i < 100000; ++i) {
    double u = nextUniform(s);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    mean += u;
  }
  EXPECT_NEAR(mean / 100000, 0.5, 0.005);
}

TEST(Sampling, GreedyAndTopOneAreArgmax) {
  std::mt19937_64 rng(17);
  std::vector<SampleCandidate> scratch;
  for (int round = 0; round < 20; ++round) {
    auto l = randomVector(300, rng, -5, 5);
    int32_t best = argmax(l.data(), l.size());
    uint64_t state = 99;
    SamplingParams greedy;
    EXPECT_EQ(sample(l.data(), l.size(), greedy, state, scratch), best);
    EXPECT_EQ(state, 99u) << "greedy draws no random number";
    SamplingParams topOne;
    topOne.temperature = 1.5f;
    topOne.topK = 1;
    EXPECT_EQ(sample(l.data(), l.size(), topOne, state, scratch), best);
    SamplingParams tinyP;
    tinyP.temperature = 1.0f;
    tinyP.topP = 0.0f;
    EXPECT_EQ(sample(l.data(), l.size(), tinyP, state, scratch), best);
  }
}

TEST(Sampling, SeededSequencesAreReproducible) {
  std::mt19937_64 rng(18);
  auto l = randomVector(512, rng, -3, 3);
  SamplingParams p;
  p.temperature = 0.8f;
  p.topK = 40;
  p.topP = 0.9f;
  std::vector<SampleCandidate> scratch1, scratch2;
  auto run = [&](uint64_t seed, std::vector<SampleCandidate> &scratch) {
    std::vector<int32_t> ids;
    uint64_t state = seed;
    for (int i = 0; i < 64; ++i)
      ids.push_back(sample(l.data(), l.size(), p, state, scratch));
    return ids;
  };
  EXPECT_EQ(run(1234, scratch1), run(1234, scratch2));
  EXPECT_NE(run(1234, scratch1), run(4321, scratch1));
}

TEST(Sampling, TopKAndTopPRestrictTheSupport) {
  // Probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 at temperature 1.
  std::vector<float> l = {std::log(0.0625f), std::log(0.25f), std::log(0.5f),
                          std::log(0.0625f), std::log(0.125f)};
  std::vector<SampleCandidate> scratch;
  uint64_t state = 5;
  SamplingParams topK;
  topK.temperature = 1.0f;
  topK.topK = 2;
  SamplingParams topP;
  topP.temperature = 1.0f;
  topP.topP = 0.8f; // 0.5 + 0.25 < 0.8 <= 0.5 + 0.25 + 0.125
  std::map<int32_t, int> kCounts, pCounts;
  for (int i = 0; i < 4000; ++i) {
    ++kCounts[sample(l.data(), l.size(), topK, state, scratch)];
    ++pCounts[sample(l.data(), l.size(), topP, state, scratch)];
  }
  EXPECT_EQ(kCounts.size(), 2u);
  EXPECT_GT(kCounts[2], 0);
  EXPECT_GT(kCounts[1], 0);
  EXPECT_NEAR(kCounts[2] / 4000.0, 2.0 / 3.0, 0.03);
  EXPECT_EQ(pCounts.size(), 3u);
  EXPECT_EQ(pCounts.count(0) + pCounts.count(3), 0u);
  EXPECT_NEAR(pCounts[4] / 4000.0, 0.125 / 0.875, 0.03);
}

TEST(Sampling, TemperatureFollowsTheSoftmax) {
  std::vector<float> l = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f, -INFINITY, NAN};
  const int64_t V = l.size();
  for (float temperature : {0.5f, 1.0f, 2.0f}) {
    std::vector<float> scaled(V - 2);
    for (int64_t i = 0; i < V - 2; ++i)
      scaled[i] = l[i] / temperature;
    auto p = refSoftmax(scaled);
    SamplingParams params;
    params.temperature = temperature;
    std::vector<SampleCandidate> scratch;
    uint64_t state = 11;
    std::vector<int> counts(V, 0);
    const int draws = 40000;
    for (int i = 0; i < draws; ++i)
      ++counts[sample(l.data(), V, params, state, scratch)];
    for (int64_t i = 0; i < V - 2; ++i)
      EXPECT_NEAR(counts[i] / double(draws), p[i], 0.01)
          << "id " << i << " at temperature " << temperature;
    EXPECT_EQ(counts[5], 0) << "-inf is never drawn";
    EXPECT_EQ(counts[6], 0) << "NaN is never drawn";
  }
}

TEST(Sampling, WarmScratchIsReused) {
  std::mt19937_64 rng(19);
  auto l = randomVector(1000, rng);
  SamplingParams p;
  p.temperature = 1.0f;
  p.topP = 0.5f;
  std::vector<SampleCandidate> scratch;
  uint64_t state = 3;
  sample(l.data(), l.size(), p, state, scratch);
  const SampleCandidate *data = scratch.data();
  size_t capacity = scratch.capacity();
  for (int i = 0; i < 10; ++i)
    sample(l.data(), l.size(), p, state, scratch);
  EXPECT_EQ(scratch.data(), data);
  EXPECT_EQ(scratch.capacity(), capacity);
}

} // namespace
