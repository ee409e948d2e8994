//===- SimdAvx512.cpp - x86 fp32 SIMD kernels, AVX-512 ----------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The attention kernel of AttentionImpl.h and the activations of
/// VecMath.h on 16-float zmm vectors. This
/// file is compiled with -mavx512f (runtime/src/x86/CMakeLists.txt) and runs
/// only on CPUs (and OSes) the driver found to support it.
///
//===----------------------------------------------------------------------===//

#include "Activation.h"
#include "AttentionImpl.h"

#include <immintrin.h>

namespace {
/// 16 floats in a zmm register.
struct VecAvx512 {
  using Reg = __m512;
  static constexpr int kWidth = 16;
  /// Accumulators of up to 4 heads x 4 chunks, the chunks and a
  /// broadcast fit the 32 registers.
  static constexpr int kMaxChunks = 4;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float f) { return _mm512_set1_ps(f); }
  static Reg load(const float *p) { return _mm512_loadu_ps(p); }
  static void store(float *p, Reg r) { _mm512_storeu_ps(p, r); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static Reg min(Reg a, Reg b) { return _mm512_min_ps(a, b); }
  static Reg div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  static Reg round(Reg r) {
    return _mm512_roundscale_ps(r,
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  /// r * 2^n (n integral).
  static Reg scale2(Reg r, Reg n) { return _mm512_scalef_ps(r, n); }
  static float reduceAdd(Reg r) { return _mm512_reduce_add_ps(r); }
  static float reduceMax(Reg r) { return _mm512_reduce_max_ps(r); }
  /// Lane i = the sum of r[i]: pairs of vectors folded together by 256-bit
  /// halves, then by 128-bit quarters, then within quarters (the same
  /// additions for every lane).
  static Reg transposeSum(const Reg *r) {
    // The tree below leaves the sum of its input x in lane 4 (x % 4) +
    // x / 4, so input x is r[4 (x % 4) + x / 4].
    auto in = [r](int x) { return r[4 * (x % 4) + x / 4]; };
    // Level 1: t[i] holds inputs 2i and 2i+1 folded by 256-bit halves
    // (quarters 0+2 and 1+3 of each).
    __m512 t[8];
    for (int i = 0; i < 8; ++i) {
      const __m512 a = in(2 * i), b = in(2 * i + 1);
      t[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44),
                           _mm512_shuffle_f32x4(a, b, 0xEE));
    }
    // Level 2: each input folded to a 128-bit quarter, 4 per register.
    __m512 u[4];
    for (int i = 0; i < 4; ++i) {
      const __m512 a = t[2 * i], b = t[2 * i + 1];
      u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88),
                           _mm512_shuffle_f32x4(a, b, 0xDD));
    }
    // Levels 3-4: within quarters, as the 256-bit hadd tree.
    const __m512 v0 = _mm512_add_ps(_mm512_unpacklo_ps(u[0], u[1]),
                                    _mm512_unpackhi_ps(u[0], u[1]));
    const __m512 v1 = _mm512_add_ps(_mm512_unpacklo_ps(u[2], u[3]),
                                    _mm512_unpackhi_ps(u[2], u[3]));
    const __m512 w = _mm512_add_ps(
        _mm512_castpd_ps(
            _mm512_unpacklo_pd(_mm512_castps_pd(v0), _mm512_castps_pd(v1))),
        _mm512_castpd_ps(
            _mm512_unpackhi_pd(_mm512_castps_pd(v0), _mm512_castps_pd(v1))));
    return w;
  }
};
} // namespace

void lowbitrt::x86::detail::attentionTasksAvx512(const AttentionJob &job,
                                                 int64_t begin, int64_t end,
                                                 float *scratch) {
  AttentionKernel<VecAvx512>::runTasks(job, begin, end, scratch);
}

void lowbitrt::x86::detail::attentionDecodeAvx512(const DecodeSweep &d,
                                                  DecodePhase phase,
                                                  int64_t block) {
  AttentionKernel<VecAvx512>::decodePhase(d, phase, block);
}

void lowbitrt::x86::detail::siluMulAvx512(const float *gate, const float *up,
                                          int64_t n, float *out) {
  VecMath<VecAvx512>::siluMulRange(gate, up, n, out);
}
