//===- Attention.cpp - fp32 SIMD attention of the x86 driver ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Argument checks, cache writes, scratch and the parallel split of the x86
/// attention (Attention.h); the per-ISA task loops are in AttentionAvx2.cpp
/// and AttentionAvx512.cpp.
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
  return std::min<int64_t>(tasks, static_cast<int64_t>(threads) *
                                      lowbit::rt::kernels::
                                          kAttentionSlotsPerThread);
}

bool lowbitrt::x86::isAvx512Attention(X86Variant isa) {
  return isa == X86Variant::AVX512 || isa == X86Variant::AVX512VNNI;
}

int64_t lowbitrt::x86::attentionScratchFloats(int64_t maxCtx, int64_t group,
                                              unsigned threads) {
  const int64_t slots =
      threads <= 1 ? 1
                   : static_cast<int64_t>(threads) *
                         lowbit::rt::kernels::kAttentionSlotsPerThread;
  return slots * slotFloats(maxCtx, group);
}

Status lowbitrt::x86::attentionF32(X86Variant isa, const AttentionArgs &a,
                                   ThreadPool *pool) {
  if (a.T <= 0)
    return Status::success();
  if (Status s = lowbit::rt::kernels::checkAttentionArgs(
          a.pos, a.T, a.H, a.Hkv, a.Dh, a.cache);
      !s)
    return s;
  const int32_t maxPos = *std::max_element(a.pos, a.pos + a.T);
  const int64_t group = a.H / a.Hkv;
  const unsigned threads = pool ? pool->getNumThreads() : 1;
  // Fewer (token, KV head) pairs than two per thread (a decode step of a
  // model with few KV heads): one query head per task, so the threads share
  // the work; each head's arithmetic is the same either way.
  const bool splitGroups =
      threads > 1 && a.T * a.Hkv < 2 * static_cast<int64_t>(threads);
  const int64_t headsPerTask = splitGroups ? 1 : group;
  const int64_t tasks = a.T * a.Hkv * (group / headsPerTask);
  const int64_t slots = numSlots(tasks, threads);
  const int64_t perSlot = slotFloats(static_cast<int64_t>(maxPos) + 1, group);
  if (!a.scratch || a.scratchFloats < slots * perSlot)
    return Status::error("attention scratch of " +
                         std::to_string(a.scratchFloats) +
                         " floats is smaller than the " +
                         std::to_string(slots * perSlot) + " needed");

  const int64_t kvRow = a.Hkv * a.Dh;
  for (int64_t t = 0; t < a.T; ++t) {
    const size_t dst = static_cast<size_t>(a.pos[t] * kvRow);
    std::memcpy(a.cache.k + dst, a.k + t * kvRow,
                sizeof(float) * static_cast<size_t>(kvRow));
    std::memcpy(a.cache.v + dst, a.v + t * kvRow,
                sizeof(float) * static_cast<size_t>(kvRow));
  }

  struct Slots {
    detail::AttentionJob job;
    void (*tasksFn)(const detail::AttentionJob &, int64_t, int64_t, float *);
    float *scratch;
    int64_t tasks, slots;
    void run(int64_t slot) const {
      tasksFn(job, slot * tasks / slots, (slot + 1) * tasks / slots,
              scratch + slot * job.slotFloats);
    }
  } work;
  detail::AttentionJob &job = work.job;
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
  work.tasksFn = isAvx512Attention(isa) ? detail::attentionTasksAvx512
                                        : detail::attentionTasksAvx2;
  work.scratch = a.scratch;
  work.tasks = tasks;
  work.slots = slots;

  // Each slot is a contiguous range of tasks with its own scratch; a task's
  // result does not depend on its slot. Small problems run on the caller.
  const int64_t macs = a.T * a.H * (static_cast<int64_t>(maxPos) + 1) * a.Dh;
  if (slots == 1 || macs < lowbit::rt::kernels::kMinParallelAttentionMacs) {
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
