//===- X86AttentionTests.cpp - the x86 driver's fp32 attention --*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// attentionF32 (runtime/src/x86/Attention.h) on each ISA this CPU runs,
// against the double-precision reference kernels::attention: head layouts
// with KV groups of 1 to 8 heads, head dimensions with and without a ragged
// vector end, prefill and decode; bitwise equality between prefill and
// token-by-token decode and between thread counts; the cache rows it writes;
// and the errors it shares with the reference. An ISA this CPU lacks is
// reported as skipped.
//
//===----------------------------------------------------------------------===//

#include "Attention.h"
#include "RunnableIsas.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace rt = lowbitrt::x86;
namespace kn = lowbit::rt::kernels;

namespace {

struct Shape {
  int64_t H, Hkv, Dh;
};

/// A KV cache with its storage, viewed as kernels::KVCacheView.
struct Cache {
  std::vector<float> k, v;
  kn::KVCacheView view;
  Cache(int64_t maxCtx, int64_t Hkv, int64_t Dh)
      : k(maxCtx * Hkv * Dh, 0.0f), v(maxCtx * Hkv * Dh, 0.0f) {
    view.k = k.data();
    view.v = v.data();
    view.maxCtx = maxCtx;
    view.numKVHeads = Hkv;
    view.headDim = Dh;
  }
};

std::vector<float> randomVector(size_t n, std::mt19937 &rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(n);
  for (float &f : x)
    f = dist(rng);
  return x;
}

/// Runs attentionF32 of \p isa on T tokens at \p pos.
kn::Status runF32(rt::X86Variant isa, const Shape &s, const float *q,
                  const float *k, const float *v, const int32_t *pos, int64_t T,
                  Cache &cache, float *out, kn::ThreadPool *pool) {
  const unsigned threads = pool ? pool->getNumThreads() : 1;
  std::vector<float> scratch(static_cast<size_t>(rt::attentionScratchFloats(
      cache.view.maxCtx, s.H, s.Hkv, s.Dh, threads)));
  rt::AttentionArgs a;
  a.q = q;
  a.k = k;
  a.v = v;
  a.pos = pos;
  a.T = T;
  a.H = s.H;
  a.Hkv = s.Hkv;
  a.Dh = s.Dh;
  a.cache = cache.view;
  a.out = out;
  a.scratch = scratch.data();
  a.scratchFloats = static_cast<int64_t>(scratch.size());
  return rt::attentionF32(isa, a, pool);
}

using lowbit::test::runnableIsas;

/// Random queries, keys and values of T tokens at positions 0..T-1, with the
/// reference's output of a prefill of all T at once and the cache it wrote
/// (maxCtx rows).
/// Scores are a few units, so the softmax is neither flat nor one-hot.
struct Problem {
  int64_t T, qCols, kvCols;
  std::vector<float> q, k, v, want;
  std::vector<int32_t> pos;
  kn::KVCache refCache;
  Problem(const Shape &s, int64_t T, int64_t maxCtx, unsigned seed)
      : T(T), qCols(s.H * s.Dh), kvCols(s.Hkv * s.Dh), pos(T),
        refCache(maxCtx, s.Hkv, s.Dh) {
    std::mt19937 rng(seed);
    q = randomVector(T * qCols, rng, 1.5f);
    k = randomVector(T * kvCols, rng, 1.5f);
    v = randomVector(T * kvCols, rng, 1.0f);
    for (int64_t t = 0; t < T; ++t)
      pos[t] = static_cast<int32_t>(t);
    want.resize(T * qCols);
    ok = bool(kn::attention(q.data(), k.data(), v.data(), pos.data(), T, s.H,
                            s.Hkv, s.Dh, refCache, want.data()));
  }
  /// Whether the reference ran.
  bool ok = false;
};

class X86Attention : public ::testing::TestWithParam<Shape> {};

TEST_P(X86Attention, PrefillThenDecodeAgainstReference) {
  const Shape s = GetParam();
  std::string skipped;
  std::vector<rt::X86Variant> isas = runnableIsas(skipped);
  if (isas.empty())
    GTEST_SKIP() << "this CPU runs neither AVX2+FMA nor AVX-512";
  if (!skipped.empty())
    std::printf("[ note ] not run (this CPU lacks them):%s\n", skipped.c_str());

  const int64_t prefill = 37, decode = 6, maxCtx = 64;
  const int64_t T = prefill + decode;
  const Problem pr(s, T, maxCtx,
                   static_cast<unsigned>(s.H * 100 + s.Hkv * 10 + s.Dh));
  ASSERT_TRUE(pr.ok);
  const int64_t qCols = pr.qCols, kvCols = pr.kvCols;
  const std::vector<float> &q = pr.q, &k = pr.k, &v = pr.v, &want = pr.want;
  const std::vector<int32_t> &pos = pr.pos;
  const kn::KVCache &refCache = pr.refCache;

  kn::ThreadPool pool2(2);
  for (rt::X86Variant isa : isas) {
    SCOPED_TRACE(rt::variantName(isa));
    // Prefill of `prefill` tokens then `decode` single-token steps, on one
    // thread; the same on two threads; and all T tokens at once.
    auto stepwise = [&](kn::ThreadPool *pool, std::vector<float> &got,
                        Cache &cache) {
      ASSERT_TRUE(bool(runF32(isa, s, q.data(), k.data(), v.data(), pos.data(),
                              prefill, cache, got.data(), pool)));
      for (int64_t t = prefill; t < T; ++t)
        ASSERT_TRUE(
            bool(runF32(isa, s, q.data() + t * qCols, k.data() + t * kvCols,
                        v.data() + t * kvCols, pos.data() + t, 1, cache,
                        got.data() + t * qCols, pool)));
    };
    std::vector<float> got1(T * qCols), got2(T * qCols), gotAll(T * qCols);
    Cache c1(maxCtx, s.Hkv, s.Dh), c2(maxCtx, s.Hkv, s.Dh),
        cAll(maxCtx, s.Hkv, s.Dh);
    stepwise(nullptr, got1, c1);
    stepwise(&pool2, got2, c2);
    ASSERT_TRUE(bool(runF32(isa, s, q.data(), k.data(), v.data(), pos.data(), T,
                            cAll, gotAll.data(), &pool2)));

    // Bitwise: a task's result depends neither on its thread nor on
    // whether earlier rows came from this call.
    EXPECT_EQ(0, std::memcmp(got1.data(), got2.data(), got1.size() * 4));
    EXPECT_EQ(0, std::memcmp(got1.data(), gotAll.data(), got1.size() * 4));
    // The cache rows written are the inputs, as in the reference.
    EXPECT_EQ(0, std::memcmp(c1.k.data(), refCache.k.data(), T * kvCols * 4));
    EXPECT_EQ(0, std::memcmp(c1.v.data(), refCache.v.data(), T * kvCols * 4));

    // Against the double reference: outputs are convex mixtures of values
    // of magnitude ~1, so an absolute bound is the meaningful one.
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_TRUE(std::isfinite(got1[i])) << "element " << i;
      worst = std::max(worst, std::fabs(double(got1[i]) - want[i]));
    }
    EXPECT_LT(worst, 2e-5) << "worst absolute error " << worst;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, X86Attention,
    ::testing::Values(Shape{9, 3, 64},   // SmolLM2: groups of 3
                      Shape{4, 4, 80},   // multi-head, 80 = 5 x 16
                      Shape{8, 1, 36},   // multi-query, ragged end (36)
                      Shape{16, 2, 128}, // groups of 8 (two blocks of 4)
                      Shape{5, 5, 7}),   // narrower than a vector
    [](const ::testing::TestParamInfo<Shape> &info) {
      return "H" + std::to_string(info.param.H) + "_Hkv" +
             std::to_string(info.param.Hkv) + "_Dh" +
             std::to_string(info.param.Dh);
    });

/// A long row whose scores span far below the max: the exp of the tail
/// vanishes instead of turning into NaN or a negative weight.
TEST(X86AttentionEdge, LongRowWithPeakedScores) {
  std::string skipped;
  std::vector<rt::X86Variant> isas = runnableIsas(skipped);
  if (isas.empty())
    GTEST_SKIP() << "this CPU runs neither AVX2+FMA nor AVX-512";
  const Shape s{2, 1, 16};
  const int64_t T = 1, maxCtx = 300;
  std::mt19937 rng(7);
  kn::KVCache refCache(maxCtx, s.Hkv, s.Dh);
  // Earlier rows through the reference's cache (any writer will do).
  std::vector<float> kAll = randomVector(maxCtx * s.Dh, rng, 8.0f);
  std::vector<float> vAll = randomVector(maxCtx * s.Dh, rng, 1.0f);
  refCache.k = kAll;
  refCache.v = vAll;
  std::vector<float> q = randomVector(s.H * s.Dh, rng, 8.0f);
  int32_t pos = static_cast<int32_t>(maxCtx - 1);
  std::vector<float> want(s.H * s.Dh);
  ASSERT_TRUE(bool(kn::attention(q.data(), kAll.data() + pos * s.Dh,
                                 vAll.data() + pos * s.Dh, &pos, T, s.H, s.Hkv,
                                 s.Dh, refCache, want.data())));
  for (rt::X86Variant isa : isas) {
    SCOPED_TRACE(rt::variantName(isa));
    Cache cache(maxCtx, s.Hkv, s.Dh);
    std::copy(kAll.begin(), kAll.end(), cache.k.begin());
    std::copy(vAll.begin(), vAll.end(), cache.v.begin());
    std::vector<float> got(s.H * s.Dh);
    ASSERT_TRUE(bool(runF32(isa, s, q.data(), kAll.data() + pos * s.Dh,
                            vAll.data() + pos * s.Dh, &pos, T, cache,
                            got.data(), nullptr)));
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 2e-5) << "element " << i;
  }
}

/// A decode step over 400 keys (7 blocks of 64) on two threads, with
/// enough work to run the block sweeps in parallel: bitwise equal to one
/// thread and to the last row of a 400-token prefill (the per-task path),
/// and close to the reference.
TEST(X86AttentionEdge, LongDecodeMatchesPrefillBitwise) {
  std::string skipped;
  std::vector<rt::X86Variant> isas = runnableIsas(skipped);
  if (isas.empty())
    GTEST_SKIP() << "this CPU runs neither AVX2+FMA nor AVX-512";
  const Shape s{9, 3, 64};
  const int64_t T = 400, maxCtx = 512;
  const Problem pr(s, T, maxCtx, 11);
  ASSERT_TRUE(pr.ok);
  const int64_t qCols = pr.qCols, kvCols = pr.kvCols;
  const std::vector<float> &q = pr.q, &k = pr.k, &v = pr.v, &want = pr.want;
  const std::vector<int32_t> &pos = pr.pos;
  kn::ThreadPool pool2(2);
  const int64_t last = T - 1;
  for (rt::X86Variant isa : isas) {
    SCOPED_TRACE(rt::variantName(isa));
    Cache prefillCache(maxCtx, s.Hkv, s.Dh);
    std::vector<float> all(T * qCols);
    ASSERT_TRUE(bool(runF32(isa, s, q.data(), k.data(), v.data(), pos.data(), T,
                            prefillCache, all.data(), &pool2)));
    for (kn::ThreadPool *pool :
         {static_cast<kn::ThreadPool *>(nullptr), &pool2}) {
      Cache cache(maxCtx, s.Hkv, s.Dh);
      std::vector<float> got(qCols);
      // Rows 0..T-2 from the prefill, row T-1 written by the decode step.
      ASSERT_TRUE(bool(runF32(isa, s, q.data(), k.data(), v.data(), pos.data(),
                              last, cache, all.data(), pool)));
      ASSERT_TRUE(
          bool(runF32(isa, s, q.data() + last * qCols, k.data() + last * kvCols,
                      v.data() + last * kvCols, pos.data() + last, 1, cache,
                      got.data(), pool)));
      EXPECT_EQ(0,
                std::memcmp(got.data(), all.data() + last * qCols, qCols * 4))
          << (pool ? "2 threads" : "1 thread");
      for (int64_t i = 0; i < qCols; ++i)
        ASSERT_NEAR(got[i], want[last * qCols + i], 2e-5) << "element " << i;
    }
  }
}

TEST(X86AttentionEdge, RejectsWhatTheReferenceRejects) {
  std::string skipped;
  std::vector<rt::X86Variant> isas = runnableIsas(skipped);
  if (isas.empty())
    GTEST_SKIP() << "this CPU runs neither AVX2+FMA nor AVX-512";
  const Shape s{4, 2, 16};
  std::vector<float> q(s.H * s.Dh, 1.0f), kv(s.Hkv * s.Dh, 1.0f),
      out(s.H * s.Dh, 42.0f);
  for (rt::X86Variant isa : isas) {
    Cache cache(8, s.Hkv, s.Dh);
    int32_t bad = 8;
    kn::Status st = runF32(isa, s, q.data(), kv.data(), kv.data(), &bad, 1,
                           cache, out.data(), nullptr);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("position 8"), std::string::npos)
        << st.message();
    Shape odd{3, 2, 16};
    int32_t ok = 0;
    st = runF32(isa, odd, q.data(), kv.data(), kv.data(), &ok, 1, cache,
                out.data(), nullptr);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("not a multiple"), std::string::npos)
        << st.message();

    // Too little scratch: an error, and neither the cache nor the output
    // touched.
    rt::AttentionArgs a;
    a.q = q.data();
    a.k = kv.data();
    a.v = kv.data();
    a.pos = &ok;
    a.T = 1;
    a.H = s.H;
    a.Hkv = s.Hkv;
    a.Dh = s.Dh;
    a.cache = cache.view;
    a.out = out.data();
    float tiny[4];
    a.scratch = tiny;
    a.scratchFloats = 4;
    st = rt::attentionF32(isa, a, nullptr);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("scratch"), std::string::npos) << st.message();
    for (float f : cache.k)
      EXPECT_EQ(f, 0.0f);
    for (float f : out)
      EXPECT_EQ(f, 42.0f);
  }
}

/// The op table's attention scratch (kernels::attentionScratchSize with the
/// head counts, in doubles) holds attentionF32's.
TEST(X86AttentionEdge, OpTableScratchIsEnough) {
  const Shape shapes[] = {{9, 3, 64}, {4, 4, 80}, {8, 1, 36}, {32, 8, 128}};
  for (unsigned threads : {1u, 2u, 3u})
    for (const Shape &s : shapes)
      for (int64_t ctx : {1, 17, 64, 65, 2048}) {
        kn::ThreadPool pool(threads);
        EXPECT_GE(2 * kn::attentionScratchSize(ctx, s.Dh, &pool, s.H, s.Hkv),
                  rt::attentionScratchFloats(ctx, s.H, s.Hkv, s.Dh, threads))
            << threads << " threads, H " << s.H << "/" << s.Hkv << ", ctx "
            << ctx;
      }
}

} // namespace
