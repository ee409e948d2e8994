//===- AttentionImpl.h - the attention kernel, per vector type --*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The body of the x86 fp32 attention (Attention.h), written once over a
/// vector type V and instantiated by AttentionAvx2.cpp and
/// AttentionAvx512.cpp, each compiled for its ISA. V is defined in each of
/// those files inside an anonymous namespace, so every instantiation has
/// internal linkage and the linker cannot merge an AVX-512 copy into the
/// AVX2 path. V provides: `Reg`, `kWidth`, `kMaxChunks` (2 or 4: vectors
/// of channels one pass over the values accumulates, as the registers
/// allow), `zero()`, `set1(f)`, `load(p)`,
/// `store(p, r)`, `add`, `sub`, `mul`, `fma(a, b, c)` (a * b + c), `max`,
/// `round(r)` (to nearest), `scale2(r, n)` (r * 2^n, n integral),
/// `reduceAdd(r)` and `reduceMax(r)`.
///
/// Include only from those two files.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_X86_ATTENTIONIMPL_H
#define LOWBITRT_X86_ATTENTIONIMPL_H

#include "Attention.h"

#include <algorithm>
#include <cmath>

namespace lowbitrt::x86::detail {

template <class V> struct AttentionKernel {
  using Reg = typename V::Reg;
  static constexpr int64_t W = V::kWidth;

  /// e^x for x <= 0 (inputs are max-subtracted scores): Cephes' expf, a
  /// degree-6 polynomial on |r| <= ln2/2 after x = n ln2 + r; within 2 ulp
  /// of expf above -87.3, and below 2^-125 (a weight of nothing) below.
  static Reg exp(Reg x) {
    x = V::max(x, V::set1(-87.3365447f));
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

  /// q . k over Dh channels.
  static float dot(const float *q, const float *k, int64_t Dh) {
    Reg acc0 = V::zero(), acc1 = V::zero();
    int64_t d = 0;
    for (; d + 2 * W <= Dh; d += 2 * W) {
      acc0 = V::fma(V::load(q + d), V::load(k + d), acc0);
      acc1 = V::fma(V::load(q + d + W), V::load(k + d + W), acc1);
    }
    for (; d + W <= Dh; d += W)
      acc0 = V::fma(V::load(q + d), V::load(k + d), acc0);
    float s = V::reduceAdd(V::add(acc0, acc1));
    for (; d < Dh; ++d)
      s += q[d] * k[d];
    return s;
  }

  /// s[0..len) = exp(s - max s); returns the sum. \p tail holds W floats.
  static float softmaxNumerators(float *s, int64_t len, float *tail) {
    Reg m = V::set1(-INFINITY);
    int64_t j = 0;
    for (; j + W <= len; j += W)
      m = V::max(m, V::load(s + j));
    float maxScore = V::reduceMax(m);
    for (; j < len; ++j)
      maxScore = std::max(maxScore, s[j]);
    const Reg mv = V::set1(maxScore);
    Reg sum = V::zero();
    for (j = 0; j + W <= len; j += W) {
      Reg e = exp(V::sub(V::load(s + j), mv));
      V::store(s + j, e);
      sum = V::add(sum, e);
    }
    float total = V::reduceAdd(sum);
    if (j < len) {
      // The ragged end through the same vector exp, padded with the max.
      std::fill(tail, tail + W, maxScore);
      std::copy(s + j, s + len, tail);
      V::store(tail, exp(V::sub(V::load(tail), mv)));
      for (int64_t i = 0; j + i < len; ++i) {
        s[j + i] = tail[i];
        total += tail[i];
      }
    }
    return total;
  }

  /// Rows ahead of the one being read that the loops prefetch.
  static constexpr int64_t kPrefetchRows = 8;

  /// Prefetches the \p bytes at \p p, a cache line at a time.
  static void prefetch(const float *p, int64_t bytes) {
    const char *c = reinterpret_cast<const char *>(p);
    for (int64_t b = 0; b < bytes; b += 64)
      __builtin_prefetch(c + b);
  }

  /// out[i][c..c+NC*W) = sum_j p[i][j] * v_j[c..c+NC*W) for NH heads: each
  /// value vector is loaded once for the NH heads.
  template <int NH, int NC>
  static void weightedValues(const float *p, int64_t pStride,
                             const float *vBase, int64_t kvRow, int64_t len,
                             int64_t c, float *out, int64_t Dh) {
    Reg acc[NH][NC];
    for (int i = 0; i < NH; ++i)
      for (int n = 0; n < NC; ++n)
        acc[i][n] = V::zero();
    for (int64_t j = 0; j < len; ++j) {
      const float *vj = vBase + j * kvRow + c;
      if (j + kPrefetchRows < len)
        prefetch(vj + kPrefetchRows * kvRow, NC * W * 4);
      Reg x[NC];
      for (int n = 0; n < NC; ++n)
        x[n] = V::load(vj + n * W);
      for (int i = 0; i < NH; ++i) {
        const Reg pij = V::set1(p[i * pStride + j]);
        for (int n = 0; n < NC; ++n)
          acc[i][n] = V::fma(pij, x[n], acc[i][n]);
      }
    }
    for (int i = 0; i < NH; ++i)
      for (int n = 0; n < NC; ++n)
        V::store(out + i * Dh + c + n * W, acc[i][n]);
  }

  using ValuesFn = void (*)(const float *, int64_t, const float *, int64_t,
                            int64_t, int64_t, float *, int64_t);

  /// weightedValues<nh, nc> for 1 <= nh <= 4, 1 <= nc <= V::kMaxChunks.
  static ValuesFn valuesFn(int64_t nh, int64_t nc) {
    static_assert(V::kMaxChunks == 2 || V::kMaxChunks == 4,
                  "the table below has 2 or 4 chunk columns");
    static constexpr ValuesFn table[4][4] = {
        {weightedValues<1, 1>, weightedValues<1, 2>,
         weightedValues<1, V::kMaxChunks == 4 ? 3 : 2>,
         weightedValues<1, V::kMaxChunks == 4 ? 4 : 2>},
        {weightedValues<2, 1>, weightedValues<2, 2>,
         weightedValues<2, V::kMaxChunks == 4 ? 3 : 2>,
         weightedValues<2, V::kMaxChunks == 4 ? 4 : 2>},
        {weightedValues<3, 1>, weightedValues<3, 2>,
         weightedValues<3, V::kMaxChunks == 4 ? 3 : 2>,
         weightedValues<3, V::kMaxChunks == 4 ? 4 : 2>},
        {weightedValues<4, 1>, weightedValues<4, 2>,
         weightedValues<4, V::kMaxChunks == 4 ? 3 : 2>,
         weightedValues<4, V::kMaxChunks == 4 ? 4 : 2>}};
    return table[nh - 1][nc - 1];
  }

  /// One task: token t against KV head kvh, for \p nh of its query heads
  /// starting at \p h0 (within the group).
  static void runTask(const AttentionJob &job, int64_t t, int64_t kvh,
                      int64_t h0, int64_t nh, float *scratch) {
    const int64_t Dh = job.Dh, G = nh, kvRow = job.kvRow;
    const int64_t len = static_cast<int64_t>(job.pos[t]) + 1;
    const int64_t sStride = (len + W - 1) / W * W;
    float *s = scratch;                  // [G][sStride] scores
    float *tail = scratch + G * sStride; // W floats
    const int64_t head = kvh * job.group + h0;
    const float *q = job.q + t * job.qRow + head * Dh;
    const float *kBase = job.cacheK + kvh * Dh;
    const float *vBase = job.cacheV + kvh * Dh;
    float *out = job.out + t * job.qRow + head * Dh;

    // Scores: each key row is loaded once for the task's heads.
    for (int64_t j = 0; j < len; ++j) {
      const float *kj = kBase + j * kvRow;
      if (j + kPrefetchRows < len)
        prefetch(kj + kPrefetchRows * kvRow, Dh * 4);
      for (int64_t i = 0; i < G; ++i)
        s[i * sStride + j] = dot(q + i * Dh, kj, Dh) * job.scale;
    }
    // Probabilities: numerators scaled by 1 / sum (a pass over G * len
    // floats, against G * len * Dh multiply-adds for the values).
    for (int64_t i = 0; i < G; ++i) {
      float *si = s + i * sStride;
      const float r = 1.0f / softmaxNumerators(si, len, tail);
      const Reg rv = V::set1(r);
      int64_t j = 0;
      for (; j + W <= len; j += W)
        V::store(si + j, V::mul(V::load(si + j), rv));
      for (; j < len; ++j)
        si[j] *= r;
    }

    // Values: blocks of up to 4 heads and kMaxChunks vectors of channels
    // share each loaded value vector.
    const int64_t chunks = Dh / W, full = chunks * W;
    for (int64_t i0 = 0; i0 < G; i0 += 4) {
      const int64_t hb = std::min<int64_t>(4, G - i0);
      const float *si = s + i0 * sStride;
      float *oi = out + i0 * Dh;
      for (int64_t c = 0; c < chunks; c += V::kMaxChunks) {
        const int64_t nc = std::min<int64_t>(V::kMaxChunks, chunks - c);
        valuesFn(hb, nc)(si, sStride, vBase, kvRow, len, c * W, oi, Dh);
      }
      for (int64_t d = full; d < Dh; ++d)
        for (int64_t i = 0; i < hb; ++i) {
          float acc = 0.0f;
          for (int64_t j = 0; j < len; ++j)
            acc += si[i * sStride + j] * vBase[j * kvRow + d];
          oi[i * Dh + d] = acc;
        }
    }
  }

  static void runTasks(const AttentionJob &job, int64_t begin, int64_t end,
                       float *scratch) {
    // task = (t * Hkv + kv head) * splits + split; a split is
    // headsPerTask query heads of the KV head's group.
    const int64_t splits =
        (job.group + job.headsPerTask - 1) / job.headsPerTask;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t split = task % splits, tk = task / splits;
      const int64_t h0 = split * job.headsPerTask;
      runTask(job, tk / job.Hkv, tk % job.Hkv, h0,
              std::min(job.headsPerTask, job.group - h0), scratch);
    }
  }
};

} // namespace lowbitrt::x86::detail

#endif // LOWBITRT_X86_ATTENTIONIMPL_H
