//===- Attention.h - fp32 SIMD attention of the x86 driver ------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The x86 driver's attention: the op of kernels::attention (causal
/// grouped-query attention over a KV cache, same arguments, same cache
/// writes), computed in fp32 with AVX2/FMA or AVX-512 vectors instead of
/// the reference's scalar doubles. One task is one (token, KV head) pair:
/// the keys and values of that KV head are read once for all of its query
/// heads (a decode step on several threads with fewer KV heads than two per
/// thread splits the group, one query head per task, to keep the threads
/// busy). Scores are kept for the whole row, so the softmax is the exact
/// max-subtracted one (no online rescaling); exp is a vector polynomial
/// (Cephes' expf, within 2 ulp). A task's result does not depend on the
/// thread or slot that runs it, so prefill and decode, and any thread
/// count, give bitwise identical outputs.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_X86_ATTENTION_H
#define LOWBITRT_X86_ATTENTION_H

#include "CpuFeatures.h"

#include "lowbitrt/Kernels.h"

#include <cstdint>

namespace lowbitrt::x86 {

/// The operands of one attention call, resolved to host pointers.
struct AttentionArgs {
  const float *q = nullptr; ///< [T, H * Dh]
  const float *k = nullptr; ///< [T, Hkv * Dh], stored at cache row pos[t]
  const float *v = nullptr; ///< [T, Hkv * Dh]
  const int32_t *pos = nullptr;
  int64_t T = 0, H = 0, Hkv = 0, Dh = 0;
  lowbit::rt::kernels::KVCacheView cache;
  float *out = nullptr; ///< [T, H * Dh]
  /// Raw scratch of at least attentionScratchFloats() floats.
  float *scratch = nullptr;
  int64_t scratchFloats = 0;
};

/// The vector width attentionF32 uses for variant \p isa: the AVX-512
/// kernel for AVX512/AVX512VNNI, the AVX2+FMA one for AVX2/AVXVNNI.
bool isAvx512Attention(X86Variant isa);

/// Floats of scratch attentionF32 needs for query positions below
/// \p maxCtx, H query heads over Hkv KV heads of Dh channels and
/// \p threads threads. At most 2 * kernels::attentionScratchSize(maxCtx,
/// Dh, pool, H, Hkv), so the op table's attention scratch serves both
/// kernels.
int64_t attentionScratchFloats(int64_t maxCtx, int64_t H, int64_t Hkv,
                               int64_t Dh, unsigned threads);

/// Runs attention with the kernel of \p isa (which the CPU must support);
/// fails, touching nothing, on the arguments kernels::attention rejects or
/// a scratch smaller than attentionScratchFloats(maxPos + 1, ...).
lowbit::rt::kernels::Status attentionF32(X86Variant isa,
                                         const AttentionArgs &args,
                                         lowbit::rt::kernels::ThreadPool *pool);

namespace detail {
/// What a slot of the parallel loop reads (defined in Attention.cpp).
struct AttentionJob {
  const float *q;
  const int32_t *pos;
  const float *cacheK;
  const float *cacheV;
  float *out;
  int64_t H, Hkv, Dh, group, kvRow, qRow;
  /// Query heads per task (a divisor-free split of the group: the last
  /// split of a group may be smaller).
  int64_t headsPerTask;
  float scale;
  /// Floats of scratch per slot.
  int64_t slotFloats;
};
/// Keys per block of the blocked value sums (and per task of a decode
/// step's sweeps).
constexpr int64_t kValueBlock = 64;

/// One decode token (T = 1) as row sweeps over blocks of keys, each cache
/// row read whole (all KV heads) and contiguously: scores of every head per
/// block, then the softmax of every head, then every head's weighted values
/// per block into partials, then the partials added in block order. The
/// value sums are blocked the same way in the per-task path, so both give
/// the same bits.
struct DecodeSweep {
  const AttentionJob *job;
  /// Keys (pos + 1), the scores' row stride, and ceil(len / kValueBlock).
  int64_t len, sStride, blocks;
  float *scores;   ///< [H][sStride]
  float *tail;     ///< one vector
  float *partials; ///< [blocks][H][Dh]
};
enum class DecodePhase { Scores, Softmax, Values, Merge };

/// Runs tasks [begin, end) (task = (t * Hkv + kv head) * splits + split,
/// splits = ceil(group / headsPerTask)) with \p scratch of
/// job.slotFloats floats; one per ISA, each in its own translation unit
/// compiled for that ISA.
void attentionTasksAvx2(const AttentionJob &job, int64_t begin, int64_t end,
                        float *scratch);
void attentionTasksAvx512(const AttentionJob &job, int64_t begin, int64_t end,
                          float *scratch);
/// Runs \p phase of a decode sweep (block \p block for Scores and Values).
void attentionDecodeAvx2(const DecodeSweep &d, DecodePhase phase,
                         int64_t block);
void attentionDecodeAvx512(const DecodeSweep &d, DecodePhase phase,
                           int64_t block);
} // namespace detail

} // namespace lowbitrt::x86

#endif // LOWBITRT_X86_ATTENTION_H
