//===- X86ActivationTests.cpp - the x86 driver's fp32 silu ------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// siluMulF32 (runtime/src/x86/Activation.h) on each ISA this CPU runs,
// against the double-precision reference kernels::siluMul: random gates and
// the edges of exp's range (large negative gates, where exp(-g) overflows,
// signed zeros, infinities, NaN), lengths with a ragged vector end, and
// bitwise equality between one thread and a parallel split. An ISA this
// CPU lacks is reported as skipped.
//
//===----------------------------------------------------------------------===//

#include "Activation.h"
#include "RunnableIsas.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace rt = lowbitrt::x86;
namespace kn = lowbit::rt::kernels;

namespace {

using lowbit::test::runnableIsas;

/// Gates: normal(0, 4), then the edges, repeated to \p n.
std::vector<float> gates(int64_t n, std::mt19937 &rng) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> edges = {
      -1000.0f, -100.0f, -88.8f, -88.3f, -87.0f, -20.0f,  -1e-30f, -0.0f, 0.0f,
      1e-30f,   20.0f,   87.0f,  88.8f,  100.0f, 1000.0f, inf,     -inf};
  std::normal_distribution<float> dist(0.0f, 4.0f);
  std::vector<float> g(n);
  for (int64_t i = 0; i < n; ++i)
    g[i] = i % 5 == 4 ? edges[(i / 5) % edges.size()] : dist(rng);
  return g;
}

TEST(X86Activation, SiluMulMatchesReference) {
  std::string skipped;
  std::vector<rt::X86Variant> isas = runnableIsas(skipped);
  if (!skipped.empty())
    std::printf("not run on this CPU:%s\n", skipped.c_str());
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t n : {1, 7, 8, 15, 16, 17, 33, 1000, 1003}) {
    std::vector<float> g = gates(n, rng), u(n);
    for (float &f : u)
      f = dist(rng);
    std::vector<float> want(n);
    kn::siluMul(g.data(), u.data(), n, want.data(), nullptr);
    for (rt::X86Variant isa : isas) {
      std::vector<float> got(n, -7.0f);
      rt::siluMulF32(isa, g.data(), u.data(), n, got.data(), nullptr);
      for (int64_t i = 0; i < n; ++i) {
        SCOPED_TRACE(std::string(rt::variantName(isa)) + " n " +
                     std::to_string(n) + " i " + std::to_string(i) + " gate " +
                     std::to_string(g[i]));
        if (std::isnan(want[i])) {
          EXPECT_TRUE(std::isnan(got[i])) << got[i];
          continue;
        }
        if (std::isinf(want[i])) {
          EXPECT_EQ(got[i], want[i]);
          continue;
        }
        // A few ulp of the result, and absolute 1e-30 where exp(-g) leaves
        // the float range (the reference's result is then below 1e-37).
        EXPECT_NEAR(got[i], want[i], 1e-6 * std::fabs(want[i]) + 1e-30);
      }
    }
  }
}

TEST(X86Activation, SiluMulNaNPropagates) {
  std::string skipped;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> g = {nan, 1.0f, nan}, u = {1.0f, nan, 0.0f}, out(3);
  for (rt::X86Variant isa : runnableIsas(skipped)) {
    rt::siluMulF32(isa, g.data(), u.data(), 3, out.data(), nullptr);
    for (float f : out)
      EXPECT_TRUE(std::isnan(f)) << rt::variantName(isa);
  }
}

TEST(X86Activation, SiluMulThreadSplitIsBitwiseEqual) {
  std::string skipped;
  std::mt19937 rng(11);
  const int64_t n = 100003; // Above the parallel threshold, ragged end.
  std::vector<float> g = gates(n, rng), u(n);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float &f : u)
    f = dist(rng);
  kn::ThreadPool pool(2);
  for (rt::X86Variant isa : runnableIsas(skipped)) {
    std::vector<float> one(n), two(n);
    rt::siluMulF32(isa, g.data(), u.data(), n, one.data(), nullptr);
    rt::siluMulF32(isa, g.data(), u.data(), n, two.data(), &pool);
    for (int64_t i = 0; i < n; ++i)
      if (std::isnan(one[i]))
        EXPECT_TRUE(std::isnan(two[i]));
      else
        ASSERT_EQ(one[i], two[i]) << rt::variantName(isa) << " i " << i;
  }
}

} // namespace
