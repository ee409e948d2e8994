//===- SimdAvx2.cpp - x86 fp32 SIMD kernels, AVX2 + FMA ---------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The attention kernel of AttentionImpl.h and the activations of VecMath.h
/// on 8-float ymm vectors. This file is compiled with -mavx2 -mfma
/// (runtime/src/x86/CMakeLists.txt) and runs only on CPUs the driver found to
/// support both.
///
//===----------------------------------------------------------------------===//

#include "Activation.h"
#include "AttentionImpl.h"

#include <immintrin.h>

namespace {
/// 8 floats in a ymm register.
struct VecAvx2 {
  using Reg = __m256;
  static constexpr int kWidth = 8;
  /// Accumulators of up to 4 heads x 2 chunks, the chunks and a
  /// broadcast fit the 16 registers.
  static constexpr int kMaxChunks = 2;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg set1(float f) { return _mm256_set1_ps(f); }
  static Reg load(const float *p) { return _mm256_loadu_ps(p); }
  static void store(float *p, Reg r) { _mm256_storeu_ps(p, r); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static Reg min(Reg a, Reg b) { return _mm256_min_ps(a, b); }
  static Reg div(Reg a, Reg b) { return _mm256_div_ps(a, b); }
  static Reg round(Reg r) {
    return _mm256_round_ps(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  /// r * 2^n for integral n in [-126, 129], overflowing to +inf: two
  /// multiplications by 2^(n/2) and 2^(n - n/2), each built in the exponent
  /// field.
  static Reg scale2(Reg r, Reg n) {
    const Reg n1 = _mm256_floor_ps(_mm256_mul_ps(n, _mm256_set1_ps(0.5f)));
    const Reg n2 = _mm256_sub_ps(n, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    auto pow2 = [&](Reg e) {
      return _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(e), bias), 23));
    };
    return _mm256_mul_ps(_mm256_mul_ps(r, pow2(n1)), pow2(n2));
  }
  static float reduceAdd(Reg r) {
    __m128 s =
        _mm_add_ps(_mm256_castps256_ps128(r), _mm256_extractf128_ps(r, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  /// Lane i = the sum of r[i]: pairwise within 128-bit halves (two hadds),
  /// then the halves added.
  static Reg transposeSum(const Reg *r) {
    __m256 a =
        _mm256_hadd_ps(_mm256_hadd_ps(r[0], r[1]), _mm256_hadd_ps(r[2], r[3]));
    __m256 b =
        _mm256_hadd_ps(_mm256_hadd_ps(r[4], r[5]), _mm256_hadd_ps(r[6], r[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20),
                         _mm256_permute2f128_ps(a, b, 0x31));
  }
  static float reduceMax(Reg r) {
    __m128 s =
        _mm_max_ps(_mm256_castps256_ps128(r), _mm256_extractf128_ps(r, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};
} // namespace

void lowbitrt::x86::detail::attentionTasksAvx2(const AttentionJob &job,
                                               int64_t begin, int64_t end,
                                               float *scratch) {
  AttentionKernel<VecAvx2>::runTasks(job, begin, end, scratch);
}

void lowbitrt::x86::detail::attentionDecodeAvx2(const DecodeSweep &d,
                                                DecodePhase phase,
                                                int64_t block) {
  AttentionKernel<VecAvx2>::decodePhase(d, phase, block);
}

void lowbitrt::x86::detail::siluMulAvx2(const float *gate, const float *up,
                                        int64_t n, float *out) {
  VecMath<VecAvx2>::siluMulRange(gate, up, n, out);
}
