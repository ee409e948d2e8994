//===- AttentionImpl.h - the attention kernel, per vector type --*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The body of the x86 fp32 attention (Attention.h), written once over a
/// vector type V and instantiated by SimdAvx2.cpp and
/// SimdAvx512.cpp, each compiled for its ISA. V is defined in each of
/// those files inside an anonymous namespace, so every instantiation has
/// internal linkage and the linker cannot merge an AVX-512 copy into the
/// AVX2 path. V provides: `Reg`, `kWidth`, `kMaxChunks` (2 or 4: vectors
/// of channels one pass over the values accumulates, as the registers
/// allow), `zero()`, `set1(f)`, `load(p)`,
/// `store(p, r)`, `add`, `sub`, `mul`, `div`, `fma(a, b, c)` (a * b + c),
/// `max`, `min`, `round(r)` (to nearest), `scale2(r, n)` (r * 2^n, n integral),
/// `reduceAdd(r)`, `reduceMax(r)` and `transposeSum(r)` (of kWidth vectors:
/// lane i = the sum of r[i]'s lanes, added in the same order for every
/// lane).
///
/// Include only from those two files, and use no library templates or
/// inline library functions here (<algorithm>, std::function, ...): their
/// out-of-line copies are merged across object files, so one compiled for
/// AVX-512 could end up called from generic code. Everything here is a
/// member of AttentionKernel<V>, whose V has internal linkage.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_X86_ATTENTIONIMPL_H
#define LOWBITRT_X86_ATTENTIONIMPL_H

#include "Attention.h"
#include "VecMath.h"

#include <cmath>

namespace lowbitrt::x86::detail {

template <class V> struct AttentionKernel {
  using Reg = typename V::Reg;
  static constexpr int64_t W = V::kWidth;

  /// min without <algorithm>: a library template instantiated here would be
  /// compiled for this file's ISA and could be the copy the linker keeps for
  /// every other caller (see the file comment).
  static int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

  /// e^x (VecMath.h; here x <= 0: max-subtracted scores).
  static Reg exp(Reg x) { return VecMath<V>::exp(x); }

  /// Scores of up to W keys for one query head: s[j] = scale * (q . k_j)
  /// for the n <= W keys k_j = k0 + j * kvRow. Each key's products over the
  /// NC full vectors of channels are summed into one vector (fused
  /// multiply-adds in channel order from zero), the W vectors are reduced
  /// together (V::transposeSum; missing keys repeat the last one), and the
  /// channels past the last full vector are added in order. A key's score
  /// depends only on its own row, so any split of the keys into groups
  /// (prefill tasks, decode blocks) gives the same bits. NC is a template
  /// argument up to 8 (the query's vectors stay in registers); 0 means a
  /// run-time count.
  template <int NC>
  static void scoreKeys(const float *q, const float *k0, int64_t kvRow,
                        int64_t n, float scale, float *s, int64_t Dh) {
    const int64_t nc = NC > 0 ? NC : Dh / W;
    Reg qv[NC > 0 ? NC : 1];
    if (NC > 0)
      for (int c = 0; c < NC; ++c)
        qv[c] = V::load(q + c * W);
    Reg part[W];
    for (int64_t j = 0; j < W; ++j) {
      const float *k = k0 + imin(j, n - 1) * kvRow;
      Reg a = V::zero();
      for (int64_t c = 0; c < nc; ++c) {
        if constexpr (NC > 0)
          a = V::fma(qv[c], V::load(k + c * W), a);
        else
          a = V::fma(V::load(q + c * W), V::load(k + c * W), a);
      }
      part[j] = a;
    }
    const Reg sums = V::transposeSum(part);
    const int64_t full = nc * W;
    if (n == W && full == Dh) {
      V::store(s, V::mul(sums, V::set1(scale)));
      return;
    }
    float lanes[W];
    V::store(lanes, sums);
    for (int64_t j = 0; j < n; ++j) {
      const float *k = k0 + j * kvRow;
      float t = lanes[j];
      for (int64_t d = full; d < Dh; ++d)
        t += q[d] * k[d];
      s[j] = t * scale;
    }
  }

  /// The scoreKeys for head dimension \p Dh: NC = Dh / W when that is 1 to
  /// 8, else the run-time count.
  using ScoresFn = void (*)(const float *, const float *, int64_t, int64_t,
                            float, float *, int64_t);
  static ScoresFn scoresFn(int64_t Dh) {
    static constexpr ScoresFn table[9] = {
        scoreKeys<0>, scoreKeys<1>, scoreKeys<2>, scoreKeys<3>, scoreKeys<4>,
        scoreKeys<5>, scoreKeys<6>, scoreKeys<7>, scoreKeys<8>};
    const int64_t nc = Dh / W;
    return nc >= 1 && nc <= 8 ? table[nc] : table[0];
  }

  /// s[0..len) = exp(s - max s); returns the sum. \p tail holds W floats.
  static float softmaxNumerators(float *s, int64_t len, float *tail) {
    Reg m = V::set1(-INFINITY);
    int64_t j = 0;
    for (; j + W <= len; j += W)
      m = V::max(m, V::load(s + j));
    float maxScore = V::reduceMax(m);
    for (; j < len; ++j)
      maxScore = s[j] > maxScore ? s[j] : maxScore;
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
      for (int64_t i = 0; i < W; ++i)
        tail[i] = j + i < len ? s[j + i] : maxScore;
      V::store(tail, exp(V::sub(V::load(tail), mv)));
      for (int64_t i = 0; j + i < len; ++i) {
        s[j + i] = tail[i];
        total += tail[i];
      }
    }
    return total;
  }

  /// Rows ahead of the one being read that the loops prefetch.
  static constexpr int64_t kPrefetchRows = 16;

  /// Prefetches the \p bytes at \p p into L2, a cache line at a time. On a
  /// 2-core Zen 4 EPYC, L2 prefetches (with the spread in decodeScores) took
  /// 30 SmolLM2-shaped decode layers at position 576 from 2.8-2.9 to 1.8-1.9
  /// ms per token on one thread: into L1, the bursts of misses stalled the
  /// loads behind them (bench/RESULTS.md). Prefill (rows written this step)
  /// measured the same either way.
  static void prefetch(const char *p, int64_t bytes) {
    for (int64_t b = 0; b < bytes; b += 64)
      __builtin_prefetch(p + b, 0, 2);
  }
  static void prefetch(const float *p, int64_t bytes) {
    prefetch(reinterpret_cast<const char *>(p), bytes);
  }

  /// out[i][c..c+NC*W) = sum_j p[i][j] * v_j[c..c+NC*W) over rows
  /// [j0, j1) for NH heads (prefetching rows below \p pfEnd); each value vector
  /// is loaded once for the NH heads. The sum is blocked: rows of each
  /// kValueBlock-aligned block are accumulated from zero, and the block sums
  /// are added in order to a total that starts at zero, so a range split at
  /// block boundaries and merged in order (decodeStep) gives the same bits.
  /// With \p prefetchRow the whole rows (\p rowBytes) ahead are prefetched,
  /// else the vectors read.
  template <int NH, int NC>
  static void weightedValues(const float *p, int64_t pStride,
                             const float *vBase, int64_t kvRow, int64_t j0,
                             int64_t j1, int64_t pfEnd, int64_t c, float *out,
                             int64_t Dh, int64_t rowBytes) {
    Reg total[NH][NC];
    for (int i = 0; i < NH; ++i)
      for (int n = 0; n < NC; ++n)
        total[i][n] = V::zero();
    const int64_t pfBytes = rowBytes > 0 ? rowBytes : NC * W * 4;
    const float *pfBase = rowBytes > 0 ? vBase : vBase + c;
    for (int64_t b0 = j0; b0 < j1;) {
      const int64_t b1 = imin(j1, (b0 / kValueBlock + 1) * kValueBlock);
      Reg acc[NH][NC];
      for (int i = 0; i < NH; ++i)
        for (int n = 0; n < NC; ++n)
          acc[i][n] = V::zero();
      for (int64_t j = b0; j < b1; ++j) {
        const float *vj = vBase + j * kvRow + c;
        if (j + kPrefetchRows < pfEnd)
          prefetch(pfBase + (j + kPrefetchRows) * kvRow, pfBytes);
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
          total[i][n] = V::add(total[i][n], acc[i][n]);
      b0 = b1;
    }
    for (int i = 0; i < NH; ++i)
      for (int n = 0; n < NC; ++n)
        V::store(out + i * Dh + c + n * W, total[i][n]);
  }

  using ValuesFn = void (*)(const float *, int64_t, const float *, int64_t,
                            int64_t, int64_t, int64_t, int64_t, float *,
                            int64_t, int64_t);

  /// weightedValues<nh, nc> for 1 <= nh <= 4, 1 <= nc <= V::kMaxChunks.
  static ValuesFn valuesFn(int64_t nh, int64_t nc) {
    static_assert(V::kMaxChunks == 2 || V::kMaxChunks == 4,
                  "the table below has 2 or 4 chunk columns");
    static constexpr ValuesFn table[4][4] = {
        {weightedValues<1, 1>, weightedValues<1, 2>, weightedValues < 1,
         V::kMaxChunks == 4 ? 3 : 2 >, weightedValues < 1,
         V::kMaxChunks == 4 ? 4 : 2 > },
        {weightedValues<2, 1>, weightedValues<2, 2>, weightedValues < 2,
         V::kMaxChunks == 4 ? 3 : 2 >, weightedValues < 2,
         V::kMaxChunks == 4 ? 4 : 2 > },
        {weightedValues<3, 1>, weightedValues<3, 2>, weightedValues < 3,
         V::kMaxChunks == 4 ? 3 : 2 >, weightedValues < 3,
         V::kMaxChunks == 4 ? 4 : 2 > },
        {weightedValues<4, 1>, weightedValues<4, 2>, weightedValues < 4,
         V::kMaxChunks == 4 ? 3 : 2 >, weightedValues < 4,
         V::kMaxChunks == 4 ? 4 : 2 > }};
    return table[nh - 1][nc - 1];
  }

  /// The weighted values of \p G heads sharing one KV head (probabilities
  /// p[i][j], stride \p pStride) over rows [j0, j1), all Dh channels, into
  /// out[i][0..Dh) (stride Dh); blocked as in weightedValues.
  static void groupValues(const float *p, int64_t pStride, int64_t G,
                          const float *vBase, int64_t kvRow, int64_t j0,
                          int64_t j1, int64_t pfEnd, float *out, int64_t Dh,
                          int64_t rowBytes) {
    const int64_t chunks = Dh / W, full = chunks * W;
    for (int64_t i0 = 0; i0 < G; i0 += 4) {
      const int64_t hb = imin(4, G - i0);
      const float *pi = p + i0 * pStride;
      float *oi = out + i0 * Dh;
      for (int64_t c = 0; c < chunks; c += V::kMaxChunks) {
        const int64_t nc = imin(V::kMaxChunks, chunks - c);
        valuesFn(hb, nc)(pi, pStride, vBase, kvRow, j0, j1, pfEnd, c * W, oi,
                         Dh, rowBytes);
        rowBytes = 0; // the first pass brought the rows in
      }
      // Channels past the last full vector, blocked the same way.
      for (int64_t d = full; d < Dh; ++d)
        for (int64_t i = 0; i < hb; ++i) {
          float total = 0.0f;
          for (int64_t b0 = j0; b0 < j1;) {
            const int64_t b1 = imin(j1, (b0 / kValueBlock + 1) * kValueBlock);
            float acc = 0.0f;
            for (int64_t j = b0; j < b1; ++j)
              acc += pi[i * pStride + j] * vBase[j * kvRow + d];
            total += acc;
            b0 = b1;
          }
          oi[i * Dh + d] = total;
        }
    }
  }

  /// s[0..len) = softmax(s[0..len)).
  static void softmax(float *s, int64_t len, float *tail) {
    const float r = 1.0f / softmaxNumerators(s, len, tail);
    const Reg rv = V::set1(r);
    int64_t j = 0;
    for (; j + W <= len; j += W)
      V::store(s + j, V::mul(V::load(s + j), rv));
    for (; j < len; ++j)
      s[j] *= r;
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

    // Scores, W keys at a time for all of the task's heads (the keys stay
    // in L1 between heads).
    const ScoresFn scores = scoresFn(Dh);
    for (int64_t j = 0; j < len; j += W) {
      for (int64_t r = j + kPrefetchRows; r < imin(len, j + kPrefetchRows + W);
           ++r)
        prefetch(kBase + r * kvRow, Dh * 4);
      for (int64_t i = 0; i < G; ++i)
        scores(q + i * Dh, kBase + j * kvRow, kvRow, imin(W, len - j),
               job.scale, s + i * sStride + j, Dh);
    }
    for (int64_t i = 0; i < G; ++i)
      softmax(s + i * sStride, len, tail);
    groupValues(s, sStride, G, vBase, kvRow, 0, len, len, out, Dh, 0);
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
              imin(job.headsPerTask, job.group - h0), scratch);
    }
  }

  //===--------------------------------------------------------------------===//
  // One decode token: row sweeps over blocks of keys (DecodeSweep)
  //===--------------------------------------------------------------------===//

  /// Scores of every head for the keys of block \p b: each cache row is
  /// read whole (all KV heads, contiguous) once.
  static void decodeScores(const DecodeSweep &d, int64_t b) {
    const AttentionJob &job = *d.job;
    const int64_t Dh = job.Dh, kvRow = job.kvRow;
    const int64_t j0 = b * kValueBlock;
    const int64_t j1 = imin(d.len, j0 + kValueBlock);
    const ScoresFn scores = scoresFn(Dh);
    // The rows kPrefetchRows ahead are prefetched a slice before each
    // head's scores rather than all at once: a step's W rows are
    // W * kvRow * 4 bytes, and a burst of that many misses stalled the
    // loads of the step.
    const char *kBytes = reinterpret_cast<const char *>(job.cacheK);
    const int64_t rowBytes = kvRow * 4, stepBytes = W * rowBytes;
    const int64_t endBytes = d.len * rowBytes;
    for (int64_t j = j0; j < j1; j += W) {
      const float *kj = job.cacheK + j * kvRow;
      const int64_t ahead = (j + kPrefetchRows) * rowBytes;
      for (int64_t kvh = 0, h = 0; kvh < job.Hkv; ++kvh)
        for (int64_t i = 0; i < job.group; ++i, ++h) {
          // Slice h of the step's bytes, from its first whole line.
          const int64_t from = (ahead + stepBytes * h / job.H + 63) / 64 * 64;
          const int64_t to =
              imin(endBytes, ahead + stepBytes * (h + 1) / job.H);
          if (from < to)
            prefetch(kBytes + from, to - from);
          scores(job.q + h * Dh, kj + kvh * Dh, kvRow, imin(W, j1 - j),
                 job.scale, d.scores + h * d.sStride + j, Dh);
        }
    }
  }

  /// Softmax of every head's row (serial: H * len floats).
  static void decodeSoftmax(const DecodeSweep &d) {
    for (int64_t h = 0; h < d.job->H; ++h)
      softmax(d.scores + h * d.sStride, d.len, d.tail);
  }

  /// The weighted values of block \p b for every head, into
  /// partials[b][H][Dh].
  static void decodeValues(const DecodeSweep &d, int64_t b) {
    const AttentionJob &job = *d.job;
    const int64_t Dh = job.Dh, kvRow = job.kvRow;
    const int64_t j0 = b * kValueBlock;
    const int64_t j1 = imin(d.len, j0 + kValueBlock);
    float *part = d.partials + b * job.H * Dh;
    for (int64_t kvh = 0; kvh < job.Hkv; ++kvh) {
      const int64_t h = kvh * job.group;
      // The first KV head's pass prefetches whole rows for the others.
      groupValues(d.scores + h * d.sStride, d.sStride, job.group,
                  job.cacheV + kvh * Dh, kvRow, j0, j1, d.len, part + h * Dh,
                  Dh, kvh == 0 ? kvRow * 4 : 0);
    }
  }

  /// Runs \p phase of a decode sweep (block \p block for Scores and
  /// Values): what attentionDecodeAvx2 / attentionDecodeAvx512 call.
  static void decodePhase(const DecodeSweep &d, DecodePhase phase,
                          int64_t block) {
    switch (phase) {
    case DecodePhase::Scores:
      return decodeScores(d, block);
    case DecodePhase::Softmax:
      return decodeSoftmax(d);
    case DecodePhase::Values:
      return decodeValues(d, block);
    case DecodePhase::Merge:
      return decodeMerge(d);
    }
  }

  /// out = the block partials added in block order, from zero (the same
  /// additions as weightedValues' total).
  static void decodeMerge(const DecodeSweep &d) {
    const int64_t n = d.job->H * d.job->Dh;
    float *out = d.job->out;
    for (int64_t i = 0; i < n; ++i)
      out[i] = 0.0f;
    for (int64_t b = 0; b < d.blocks; ++b) {
      const float *part = d.partials + b * n;
      for (int64_t i = 0; i < n; ++i)
        out[i] += part[i];
    }
  }
};

} // namespace lowbitrt::x86::detail

#endif // LOWBITRT_X86_ATTENTIONIMPL_H
