//===- Attention.cpp - causal GQA attention with a KV cache -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The reference attention kernel. Each (token, head) pair is an independent
/// task computed entirely in double, so results do not depend on how tasks
/// are spread over threads, nor on whether the keys of earlier positions were
/// written by this call (prefill) or by earlier ones (decode).
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Kernels.h"

#include "Parallel.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

using namespace lowbit::rt::kernels;

Status lowbit::rt::kernels::checkAttentionArgs(const int32_t *pos, int64_t T,
                                               int64_t H, int64_t Hkv,
                                               int64_t Dh,
                                               const KVCacheView &cache) {
  if (H <= 0 || Hkv <= 0 || Dh <= 0)
    return Status::error("attention needs positive head counts and head "
                         "dimension, got H = " +
                         std::to_string(H) + ", Hkv = " + std::to_string(Hkv) +
                         ", Dh = " + std::to_string(Dh));
  if (H % Hkv != 0)
    return Status::error("query heads " + std::to_string(H) +
                         " are not a multiple of kv heads " +
                         std::to_string(Hkv));
  if (cache.numKVHeads != Hkv || cache.headDim != Dh)
    return Status::error("kv cache holds " + std::to_string(cache.numKVHeads) +
                         " heads of " + std::to_string(cache.headDim) +
                         " channels, attention needs " + std::to_string(Hkv) +
                         " heads of " + std::to_string(Dh));
  if (cache.maxCtx < 0 || !cache.k || !cache.v)
    return Status::error("kv cache storage is smaller than maxCtx = " +
                         std::to_string(cache.maxCtx) + " rows");
  for (int64_t t = 0; t < T; ++t)
    if (pos[t] < 0 || pos[t] >= cache.maxCtx)
      return Status::error("position " + std::to_string(pos[t]) + " of token " +
                           std::to_string(t) + " is outside the kv cache [0, " +
                           std::to_string(cache.maxCtx) + ")");
  return Status::success();
}

/// Stores k[t] and v[t] ([T, kvRow] each) at cache row pos[t].
static void writeCacheRows(const float *k, const float *v, const int32_t *pos,
                           int64_t T, int64_t kvRow, const KVCacheView &cache) {
  for (int64_t t = 0; t < T; ++t) {
    size_t dst = static_cast<size_t>(pos[t] * kvRow);
    std::memcpy(cache.k + dst, k + t * kvRow,
                sizeof(float) * static_cast<size_t>(kvRow));
    std::memcpy(cache.v + dst, v + t * kvRow,
                sizeof(float) * static_cast<size_t>(kvRow));
  }
}

/// Tasks (token, head pairs) are spread over this many slots per thread; each
/// slot owns a scratch row, so the split balances the uneven causal rows
/// without any allocation.
static constexpr int64_t kSlotsPerThread = kAttentionSlotsPerThread;

/// The number of scratch slots for \p tasks tasks on \p pool.
static int64_t numSlots(int64_t tasks, const ThreadPool *pool) {
  if (!pool || pool->getNumThreads() == 1 || tasks < 4)
    return 1;
  return std::min<int64_t>(tasks, static_cast<int64_t>(pool->getNumThreads()) *
                                      kSlotsPerThread);
}

int64_t lowbit::rt::kernels::attentionScratchSize(int64_t maxCtx, int64_t Dh,
                                                  const ThreadPool *pool,
                                                  int64_t H, int64_t Hkv) {
  int64_t slots =
      pool ? static_cast<int64_t>(pool->getNumThreads()) * kSlotsPerThread : 1;
  const int64_t ctx = std::max<int64_t>(maxCtx, 1);
  const int64_t dh = std::max<int64_t>(Dh, 0);
  const int64_t heads = std::max<int64_t>(H, 1);
  const int64_t group = Hkv > 0 ? std::max<int64_t>(heads / Hkv, 1) : 1;
  const int64_t reference = ctx + dh;
  // Floats, in doubles: a group's scores per slot, or every head's scores
  // and the partials of 64-key blocks.
  const int64_t grouped = (group * (ctx + 32) + 1) / 2;
  const int64_t sweep =
      (heads * (ctx + 32) + (ctx + 63) / 64 * heads * dh + 1) / 2;
  return std::max(slots * std::max(reference, grouped), sweep);
}

namespace {
/// Everything the parallel loop of attention() reads, so its lambda captures
/// one pointer (a std::function stores that without allocating).
struct AttentionJob {
  const float *q;
  const int32_t *pos;
  const float *cacheK;
  const float *cacheV;
  float *out;
  double *scratch;
  int64_t T, H, Dh, group, kvRow, qRow, slotStride, slots, tasks;
  double scale;

  /// Computes the tasks of slot \p slot with its own scratch row.
  void runSlot(int64_t slot) const {
    const int64_t begin = slot * tasks / slots;
    const int64_t end = (slot + 1) * tasks / slots;
    double *scores = scratch + slot * slotStride;
    double *acc = scores + (slotStride - Dh);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / H;
      const int64_t h = task % H;
      const int64_t kvOff = (h / group) * Dh;
      const float *qh = q + t * qRow + h * Dh;
      const int64_t len = static_cast<int64_t>(pos[t]) + 1;

      double maxScore = -INFINITY;
      for (int64_t j = 0; j < len; ++j) {
        const float *kj = cacheK + j * kvRow + kvOff;
        double dot = 0.0;
        for (int64_t d = 0; d < Dh; ++d)
          dot += static_cast<double>(qh[d]) * kj[d];
        scores[j] = dot * scale;
        maxScore = std::max(maxScore, scores[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j < len; ++j) {
        scores[j] = std::exp(scores[j] - maxScore);
        sum += scores[j];
      }

      std::fill(acc, acc + Dh, 0.0);
      for (int64_t j = 0; j < len; ++j) {
        const float *vj = cacheV + j * kvRow + kvOff;
        const double p = scores[j];
        for (int64_t d = 0; d < Dh; ++d)
          acc[d] += p * vj[d];
      }
      float *oh = out + t * qRow + h * Dh;
      const double inv = 1.0 / sum;
      for (int64_t d = 0; d < Dh; ++d)
        oh[d] = static_cast<float>(acc[d] * inv);
    }
  }
};
} // namespace

/// A view of \p cache, or one with null storage when its vectors are smaller
/// than maxCtx rows (rejected by checkAttentionArgs).
static KVCacheView viewOf(KVCache &cache) {
  KVCacheView view;
  view.maxCtx = cache.maxCtx;
  view.numKVHeads = cache.numKVHeads;
  view.headDim = cache.headDim;
  size_t needed = static_cast<size_t>(cache.maxCtx * cache.rowSize());
  if (cache.maxCtx >= 0 && cache.k.size() >= needed &&
      cache.v.size() >= needed) {
    view.k = cache.k.data();
    view.v = cache.v.data();
  }
  return view;
}

Status lowbit::rt::kernels::attention(const float *q, const float *k,
                                      const float *v, const int32_t *pos,
                                      int64_t T, int64_t H, int64_t Hkv,
                                      int64_t Dh, KVCache &cache, float *out,
                                      ThreadPool *pool) {
  if (T <= 0)
    return Status::success();
  if (Status s = checkAttentionArgs(pos, T, H, Hkv, Dh, viewOf(cache)); !s)
    return s;
  int32_t maxPos = *std::max_element(pos, pos + T);
  std::vector<double> scratch(
      static_cast<size_t>(attentionScratchSize(maxPos + 1, Dh, pool)));
  return attention(q, k, v, pos, T, H, Hkv, Dh, cache, out, pool,
                   scratch.data(), static_cast<int64_t>(scratch.size()));
}

Status lowbit::rt::kernels::attention(const float *q, const float *k,
                                      const float *v, const int32_t *pos,
                                      int64_t T, int64_t H, int64_t Hkv,
                                      int64_t Dh, KVCache &cache, float *out,
                                      ThreadPool *pool, double *scratch,
                                      int64_t scratchSize) {
  return attention(q, k, v, pos, T, H, Hkv, Dh, viewOf(cache), out, pool,
                   scratch, scratchSize);
}

Status lowbit::rt::kernels::attention(const float *q, const float *k,
                                      const float *v, const int32_t *pos,
                                      int64_t T, int64_t H, int64_t Hkv,
                                      int64_t Dh, const KVCacheView &cache,
                                      float *out, ThreadPool *pool,
                                      double *scratch, int64_t scratchSize) {
  if (T <= 0)
    return Status::success();
  if (Status s = checkAttentionArgs(pos, T, H, Hkv, Dh, cache); !s)
    return s;

  const int32_t maxPos = *std::max_element(pos, pos + T);
  const int64_t tasks = T * H;
  const int64_t slots = numSlots(tasks, pool);
  const int64_t slotStride = static_cast<int64_t>(maxPos) + 1 + Dh;
  if (!scratch || scratchSize < slots * slotStride)
    return Status::error("attention scratch of " + std::to_string(scratchSize) +
                         " doubles is smaller than the " +
                         std::to_string(slots * slotStride) + " needed");

  const int64_t kvRow = Hkv * Dh;
  const int64_t qRow = H * Dh;
  writeCacheRows(k, v, pos, T, kvRow, cache);

  AttentionJob job;
  job.q = q;
  job.pos = pos;
  job.cacheK = cache.k;
  job.cacheV = cache.v;
  job.out = out;
  job.scratch = scratch;
  job.T = T;
  job.H = H;
  job.Dh = Dh;
  job.group = H / Hkv;
  job.kvRow = kvRow;
  job.qRow = qRow;
  job.slotStride = slotStride;
  job.slots = slots;
  job.tasks = tasks;
  job.scale = 1.0 / std::sqrt(static_cast<double>(Dh));

  // Each slot is a contiguous range of (token, head) tasks with its own
  // scratch row; a task's result does not depend on its slot.
  // Small problems (decode steps of small models) run on the caller: waking
  // the pool costs more than they do. Same slots, same results.
  const int64_t work = tasks * (static_cast<int64_t>(maxPos) + 1) * Dh;
  if (slots == 1 || work < kMinParallelAttentionMacs) {
    for (int64_t s = 0; s < slots; ++s)
      job.runSlot(s);
    return Status::success();
  }
  const AttentionJob *jobPtr = &job;
  pool->parallelFor(slots, [jobPtr](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s)
      jobPtr->runSlot(s);
  });
  return Status::success();
}

Status lowbit::rt::kernels::attentionF32(const float *q, const float *k,
                                         const float *v, const int32_t *pos,
                                         int64_t T, int64_t H, int64_t Hkv,
                                         int64_t Dh, const KVCacheView &cache,
                                         float *out) {
  if (T <= 0)
    return Status::success();
  if (Status s = checkAttentionArgs(pos, T, H, Hkv, Dh, cache); !s)
    return s;
  const int64_t kvRow = Hkv * Dh;
  const int64_t qRow = H * Dh;
  writeCacheRows(k, v, pos, T, kvRow, cache);
  // Queries in chunks of at most kChunk rows bound the scores buffer; each
  // chunk reads the cache rows up to its own largest position.
  constexpr int64_t kChunk = 256;
  const int64_t group = H / Hkv;
  const float scale = static_cast<float>(1.0 / std::sqrt(double(Dh)));
  std::vector<float> scores;
  for (int64_t t0 = 0; t0 < T; t0 += kChunk) {
    const int64_t rows = std::min(kChunk, T - t0);
    const int64_t L =
        static_cast<int64_t>(*std::max_element(pos + t0, pos + t0 + rows)) + 1;
    scores.resize(static_cast<size_t>(rows * L));
    for (int64_t h = 0; h < H; ++h) {
      const float *qh = q + t0 * qRow + h * Dh;
      const float *kh = cache.k + (h / group) * Dh;
      const float *vh = cache.v + (h / group) * Dh;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(L),
                  int(Dh), scale, qh, int(qRow), kh, int(kvRow), 0.0f,
                  scores.data(), int(L));
      for (int64_t r = 0; r < rows; ++r) {
        float *s = scores.data() + r * L;
        const int64_t len = static_cast<int64_t>(pos[t0 + r]) + 1;
        float maxScore = -INFINITY;
        for (int64_t j = 0; j < len; ++j)
          maxScore = std::max(maxScore, s[j]);
        float sum = 0.0f;
        for (int64_t j = 0; j < len; ++j)
          sum += (s[j] = std::exp(s[j] - maxScore));
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < len; ++j)
          s[j] *= inv;
        std::fill(s + len, s + L, 0.0f);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(Dh),
                  int(L), 1.0f, scores.data(), int(L), vh, int(kvRow), 0.0f,
                  out + t0 * qRow + h * Dh, int(qRow));
    }
  }
  return Status::success();
}
