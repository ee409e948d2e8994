//===- VecMath.h - vector math of the x86 fp32 kernels ----------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Elementwise vector math shared by the x86 driver's fp32 kernels, written
/// once over a vector type V (see AttentionImpl.h for what V provides, plus
/// `div`) and instantiated by SimdAvx2.cpp and SimdAvx512.cpp. The same
/// rules hold as for AttentionImpl.h: include only from those two files and
/// use no library templates here.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_X86_VECMATH_H
#define LOWBITRT_X86_VECMATH_H

#include <cstdint>

namespace lowbitrt::x86::detail {

template <class V> struct VecMath {
  using Reg = typename V::Reg;
  static constexpr int64_t W = V::kWidth;

  /// e^x: Cephes' expf, a degree-6 polynomial on |r| <= ln2/2 after
  /// x = n ln2 + r; within 2 ulp of expf up to ln(FLT_MAX) = 88.72 and +inf
  /// above (x is clamped to 89, so n <= 129), like expf; below -87.3 a
  /// weight of nothing (under 2^-125) instead of expf's denormals.
  static Reg exp(Reg x) {
    x = V::max(x, V::set1(-87.3365447f));
    x = V::min(x, V::set1(89.0f));
    Reg n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
    // ln 2 in two parts, so n * C1 is exact.
    x = V::fma(n, V::set1(-0.693359375f), x);
    x = V::fma(n, V::set1(2.12194440e-4f), x);
    Reg p = V::set1(1.9875691500e-4f);
    p = V::fma(p, x, V::set1(1.3981999507e-3f));
    p = V::fma(p, x, V::set1(8.3334519073e-3f));
    p = V::fma(p, x, V::set1(4.1665795894e-2f));
    p = V::fma(p, x, V::set1(1.6666665459e-1f));
    p = V::fma(p, x, V::set1(5.0000001201e-1f));
    p = V::fma(p, V::mul(x, x), V::add(x, V::set1(1.0f)));
    return V::scale2(p, n);
  }

  /// silu(g) * u = g / (1 + e^-g) * u.
  static Reg siluMul(Reg g, Reg u) {
    const Reg one = V::set1(1.0f);
    const Reg e = exp(V::sub(V::zero(), g));
    return V::mul(V::div(g, V::add(one, e)), u);
  }

  /// out[i] = silu(gate[i]) * up[i] for i in [0, n); the ragged end goes
  /// through the same vector code (padded with zeros).
  static void siluMulRange(const float *gate, const float *up, int64_t n,
                           float *out) {
    int64_t i = 0;
    for (; i + W <= n; i += W)
      V::store(out + i, siluMul(V::load(gate + i), V::load(up + i)));
    if (i < n) {
      float g[W], u[W], o[W];
      for (int64_t j = 0; j < W; ++j) {
        g[j] = i + j < n ? gate[i + j] : 0.0f;
        u[j] = i + j < n ? up[i + j] : 0.0f;
      }
      V::store(o, siluMul(V::load(g), V::load(u)));
      for (int64_t j = 0; i + j < n; ++j)
        out[i + j] = o[j];
    }
  }
};

} // namespace lowbitrt::x86::detail

#endif // LOWBITRT_X86_VECMATH_H
