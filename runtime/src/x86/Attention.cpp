//===- Attention.cpp - fp32 SIMD attention of the x86 driver ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Argument checks, cache writes, scratch and the parallel split of the x86
/// attention (Attention.h); the per-ISA task loops are in SimdAvx2.cpp and
/// SimdAvx512.cpp.
///
//===----------------------------------------------------------------------===//

#include "Attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace lowbitrt::x86;
using lowbit::rt::kernels::Status;
using lowbit::rt::kernels::ThreadPool;

/// Floats of scratch per slot: the scores of a group's heads, each row
/// padded to 16 floats, and one vector for a ragged end.
static int64_t slotFloats(int64_t maxCtx, int64_t group) {
  return group * ((std::max<int64_t>(maxCtx, 1) + 15) / 16 * 16) + 16;
}

static int64_t numSlots(int64_t tasks, unsigned threads) {
  if (threads <= 1)
    return 1;
  return std::min<int64_t>(tasks,
                           static_cast<int64_t>(threads) *
                               lowbit::rt::kernels::kAttentionSlotsPerThread);
}

bool lowbitrt::x86::isAvx512Attention(X86Variant isa) {
  return isa == X86Variant::AVX512 || isa == X86Variant::AVX512VNNI;
}

/// Floats of scratch of a decode sweep: every head's scores, a vector for a
/// ragged end, and the block partials.
static int64_t decodeFloats(int64_t maxCtx, int64_t H, int64_t Dh) {
  const int64_t ctx = std::max<int64_t>(maxCtx, 1);
  const int64_t blocks = (ctx + detail::kValueBlock - 1) / detail::kValueBlock;
  return H * ((ctx + 15) / 16 * 16) + 16 + blocks * H * Dh;
}

int64_t lowbitrt::x86::attentionScratchFloats(int64_t maxCtx, int64_t H,
                                              int64_t Hkv, int64_t Dh,
                                              unsigned threads) {
  const int64_t slots = threads <= 1
                            ? 1
                            : static_cast<int64_t>(threads) *
                                  lowbit::rt::kernels::kAttentionSlotsPerThread;
  const int64_t group = Hkv > 0 ? H / Hkv : 1;
  return std::max(slots * slotFloats(maxCtx, group),
                  decodeFloats(maxCtx, H, Dh));
}

Status lowbitrt::x86::attentionF32(X86Variant isa, const AttentionArgs &a,
                                   ThreadPool *pool) {
  if (a.T <= 0)
    return Status::success();
  if (Status s = lowbit::rt::kernels::checkAttentionArgs(a.pos, a.T, a.H, a.Hkv,
                                                         a.Dh, a.cache);
      !s)
    return s;
  const int32_t maxPos = *std::max_element(a.pos, a.pos + a.T);
  const int64_t group = a.H / a.Hkv;
  const unsigned threads = pool ? pool->getNumThreads() : 1;
  const bool decode = a.T == 1;
  // Fewer (token, KV head) pairs than two per thread: one query head per
  // task, so the threads share the work; each head's arithmetic is the
  // same either way.
  const bool splitGroups =
      threads > 1 && a.T * a.Hkv < 2 * static_cast<int64_t>(threads);
  const int64_t headsPerTask = splitGroups ? 1 : group;
  const int64_t tasks = a.T * a.Hkv * (group / headsPerTask);
  const int64_t slots = numSlots(tasks, threads);
  const int64_t ctx = static_cast<int64_t>(maxPos) + 1;
  const int64_t perSlot = slotFloats(ctx, group);
  const int64_t need = decode ? decodeFloats(ctx, a.H, a.Dh) : slots * perSlot;
  if (!a.scratch || a.scratchFloats < need)
    return Status::error(
        "attention scratch of " + std::to_string(a.scratchFloats) +
        " floats is smaller than the " + std::to_string(need) + " needed");

  const int64_t kvRow = a.Hkv * a.Dh;
  for (int64_t t = 0; t < a.T; ++t) {
    const size_t dst = static_cast<size_t>(a.pos[t] * kvRow);
    std::memcpy(a.cache.k + dst, a.k + t * kvRow,
                sizeof(float) * static_cast<size_t>(kvRow));
    std::memcpy(a.cache.v + dst, a.v + t * kvRow,
                sizeof(float) * static_cast<size_t>(kvRow));
  }

  detail::AttentionJob job;
  job.q = a.q;
  job.pos = a.pos;
  job.cacheK = a.cache.k;
  job.cacheV = a.cache.v;
  job.out = a.out;
  job.H = a.H;
  job.Hkv = a.Hkv;
  job.Dh = a.Dh;
  job.group = group;
  job.headsPerTask = headsPerTask;
  job.kvRow = kvRow;
  job.qRow = a.H * a.Dh;
  job.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.Dh)));
  job.slotFloats = perSlot;
  const bool wide = isAvx512Attention(isa);

  // Small problems run on the caller: waking the pool costs more.
  const int64_t macs = a.T * a.H * ctx * a.Dh;
  const bool parallel =
      threads > 1 && macs >= lowbit::rt::kernels::kMinParallelAttentionMacs;

  if (decode) {
    detail::DecodeSweep d;
    d.job = &job;
    d.len = ctx;
    d.sStride = (ctx + 15) / 16 * 16;
    d.blocks = (ctx + detail::kValueBlock - 1) / detail::kValueBlock;
    d.scores = a.scratch;
    d.tail = d.scores + a.H * d.sStride;
    d.partials = d.tail + 16;
    auto phaseFn =
        wide ? detail::attentionDecodeAvx512 : detail::attentionDecodeAvx2;
    struct Sweep {
      const detail::DecodeSweep *d;
      void (*fn)(const detail::DecodeSweep &, detail::DecodePhase, int64_t);
      detail::DecodePhase phase;
    } sweep{&d, phaseFn, detail::DecodePhase::Scores};
    const Sweep *sw = &sweep;
    // Blocks of keys are the tasks of the two sweeps, one contiguous range
    // of blocks per thread (a prefetched stream each; 3-5% faster at 2
    // threads than the pool's 4 ranges per thread); the softmax and the
    // in-order merge run on the caller.
    for (detail::DecodePhase phase :
         {detail::DecodePhase::Scores, detail::DecodePhase::Values}) {
      sweep.phase = phase;
      if (parallel && d.blocks > 1)
        pool->parallelForPerThread(d.blocks, [sw](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b)
            sw->fn(*sw->d, sw->phase, b);
        });
      else
        for (int64_t b = 0; b < d.blocks; ++b)
          phaseFn(d, phase, b);
      if (phase == detail::DecodePhase::Scores)
        phaseFn(d, detail::DecodePhase::Softmax, 0);
    }
    phaseFn(d, detail::DecodePhase::Merge, 0);
    return Status::success();
  }

  struct Slots {
    const detail::AttentionJob *job;
    void (*tasksFn)(const detail::AttentionJob &, int64_t, int64_t, float *);
    float *scratch;
    int64_t tasks, slots;
    void run(int64_t slot) const {
      tasksFn(*job, slot * tasks / slots, (slot + 1) * tasks / slots,
              scratch + slot * job->slotFloats);
    }
  } work{&job, wide ? detail::attentionTasksAvx512 : detail::attentionTasksAvx2,
         a.scratch, tasks, slots};

  // Each slot is a contiguous range of tasks with its own scratch; a task's
  // result does not depend on its slot.
  if (slots == 1 || !parallel) {
    for (int64_t s = 0; s < slots; ++s)
      work.run(s);
    return Status::success();
  }
  const Slots *w = &work;
  pool->parallelFor(slots, [w](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s)
      w->run(s);
  });
  return Status::success();
}
