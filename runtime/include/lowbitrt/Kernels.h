//===- Kernels.h - fp32 CPU reference kernels -------------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The fp32 CPU kernel library of the lowbit runtime. The compiler's reference
/// executor interprets the lowbit graph IR with these kernels and must match
/// Hugging Face Llama logits to about 1e-4, so several kernels accumulate in
/// double precision even though every tensor they read and write is float32.
///
/// Conventions:
///  - all tensors are dense and row-major; activations are [T, features] for
///    T tokens;
///  - kernels never allocate unless documented (the allocating attention()
///    overload and rotary() with a head dimension above 1024 use per-call
///    scratch buffers);
///  - kernels that can fail on bad input (out-of-range ids or positions,
///    inconsistent shapes) return a Status and then leave their outputs
///    unwritten; the others assume valid shapes and pointers;
///  - every kernel that takes a ThreadPool splits its work over independent
///    output rows or elements only, never over a reduction, so its results are
///    bitwise identical for every thread count (including no pool at all).
///
/// Matrix products go through CBLAS (OpenBLAS in this project). OpenBLAS runs
/// its own thread pool, sized by OPENBLAS_NUM_THREADS (or
/// openblas_set_num_threads), which is independent of ThreadPool; avoid
/// calling linear() from inside ThreadPool tasks or the two pools will
/// oversubscribe the cores. OpenBLAS partitions GEMM over output rows and
/// columns, not over K, so linear() is also deterministic across BLAS thread
/// counts, but its T == 1 path (GEMV) may round differently from the T > 1
/// path (GEMM) at the last-bit level.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_KERNELS_H
#define LOWBITRT_KERNELS_H

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lowbit::rt::kernels {

//===----------------------------------------------------------------------===//
// Status
//===----------------------------------------------------------------------===//

/// Outcome of a kernel that validates its input. A default-constructed Status
/// is a success; a failure carries a lowercase message naming the offending
/// values.
class [[nodiscard]] Status {
public:
  Status() = default;

  /// Returns a success.
  static Status success() { return Status(); }
  /// Returns a failure with \p message.
  static Status error(std::string message) {
    Status s;
    s.failed = true;
    s.msg = std::move(message);
    return s;
  }

  /// True on success.
  bool ok() const { return !failed; }
  explicit operator bool() const { return ok(); }
  /// The failure message; empty on success.
  const std::string &message() const { return msg; }

private:
  bool failed = false;
  std::string msg;
};

//===----------------------------------------------------------------------===//
// ThreadPool
//===----------------------------------------------------------------------===//

/// A small fixed-size pool of worker threads for data-parallel loops. The
/// calling thread takes part in every loop, so a pool of N threads starts
/// N - 1 workers; a pool of one thread runs everything inline. Concurrent
/// parallelFor calls from different threads are serialized; a parallelFor
/// issued from inside a task of the same pool runs inline. After a loop the
/// workers spin for up to 200 microseconds before they sleep, so the next
/// loop of a decode step starts without a kernel wake-up (an idle pool
/// costs no CPU after that).
class ThreadPool {
public:
  /// Creates a pool of \p numThreads threads in all (0 = one per hardware
  /// thread).
  explicit ThreadPool(unsigned numThreads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  /// Number of threads that run a loop, the caller included.
  unsigned getNumThreads() const;

  /// Calls \p fn(begin, end) on disjoint chunks covering [0, n) and returns
  /// when all are done. Workers are started with at least 8 MiB of stack.
  /// A lambda capturing more than 16 bytes makes the std::function allocate;
  /// hot loops capture one pointer to a struct instead. Chunks may run in any
  /// order on any thread, so \p fn must only write state owned by its own
  /// indices.
  void parallelFor(int64_t n,
                   const std::function<void(int64_t begin, int64_t end)> &fn);

  /// parallelFor in one contiguous chunk per thread instead of a few: for
  /// loops whose chunks pay a fixed cost each (a kernel that prepares all
  /// its input rows per call, a prefetched stream that restarts).
  void parallelForPerThread(
      int64_t n, const std::function<void(int64_t begin, int64_t end)> &fn);

private:
  /// Runs \p fn over [0, n) in chunks of ceil(n / targetChunks).
  void run(int64_t n, int64_t targetChunks,
           const std::function<void(int64_t begin, int64_t end)> &fn);

  struct Impl;
  std::unique_ptr<Impl> impl;
};

//===----------------------------------------------------------------------===//
// Dense layers
//===----------------------------------------------------------------------===//

/// y[T, N] = x[T, K] * w[N, K]^T (+ bias[N]) in float32 through CBLAS
/// (sgemm, or sgemv when T == 1). \p bias may be null.
void linear(const float *x, int64_t T, int64_t K, const float *w, int64_t N,
            const float *bias, float *y);

/// Hugging Face Llama RMSNorm over rows of length D:
/// y = x * rsqrt(mean(x^2) + eps) * w. The sum of squares and the scaling are
/// computed in double; \p y may alias \p x.
void rmsNorm(const float *x, int64_t T, int64_t D, const float *w, float eps,
             float *y, ThreadPool *pool = nullptr);

/// out = a + b, elementwise; \p out may alias either input.
void add(const float *a, const float *b, int64_t n, float *out,
         ThreadPool *pool = nullptr);

/// out = silu(gate) * up = gate / (1 + exp(-gate)) * up, elementwise, in
/// double; \p out may alias either input.
void siluMul(const float *gate, const float *up, int64_t n, float *out,
             ThreadPool *pool = nullptr);

/// out = gelu_tanh(gate) * up with
/// gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))), the
/// "gelu_pytorch_tanh" of Hugging Face, elementwise in double; \p out may
/// alias either input.
void geluTanhMul(const float *gate, const float *up, int64_t n, float *out,
                 ThreadPool *pool = nullptr);

/// Copies row ids[t] of \p table [V, D] to row t of \p out [T, D]. Fails,
/// writing nothing, if any id is outside [0, V).
Status embedding(const float *table, int64_t V, int64_t D, const int32_t *ids,
                 int64_t T, float *out);

//===----------------------------------------------------------------------===//
// Rotary position embedding
//===----------------------------------------------------------------------===//

/// How the Dh channels of a head are paired for rotation.
enum class RotaryStyle {
  /// Hugging Face rotate_half: channel i pairs with i + Dh/2.
  HalfSplit,
  /// Original Llama / GPT-J: channel 2i pairs with 2i + 1.
  Interleaved,
};

/// Writes the Dh/2 inverse frequencies of the default rope,
/// invFreq[i] = 1 / theta^(2i / Dh), in double.
void computeRotaryInvFreq(int64_t Dh, double theta, double *invFreq);

/// Rotates every head of \p x [T, H * Dh] in place by the angles
/// pos[t] * invFreq[i] for the channel pairs chosen by \p style; pair i uses
/// frequency i in both styles. Dh must be even. Angles, cos/sin and the
/// rotation are evaluated in double and only the result is rounded to float32
/// (Hugging Face uses float32 angles; see Kernels.cpp for why double is the
/// better match for a float64 reference). \p invFreq [Dh/2] allows scaled
/// ropes (e.g. Llama 3 rope_scaling); the overload taking \p theta uses
/// computeRotaryInvFreq.
void rotary(float *x, int64_t T, int64_t H, int64_t Dh, const int32_t *pos,
            const double *invFreq, RotaryStyle style,
            ThreadPool *pool = nullptr);
void rotary(float *x, int64_t T, int64_t H, int64_t Dh, const int32_t *pos,
            double theta, RotaryStyle style, ThreadPool *pool = nullptr);

//===----------------------------------------------------------------------===//
// Attention with a KV cache
//===----------------------------------------------------------------------===//

/// The keys and values of one layer for positions [0, maxCtx).
struct KVCache {
  int64_t maxCtx = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  /// [maxCtx, numKVHeads * headDim] each.
  std::vector<float> k, v;

  KVCache() = default;
  /// Allocates a zeroed cache.
  KVCache(int64_t maxCtx, int64_t numKVHeads, int64_t headDim)
      : maxCtx(maxCtx), numKVHeads(numKVHeads), headDim(headDim),
        k(static_cast<size_t>(maxCtx * numKVHeads * headDim), 0.0f),
        v(static_cast<size_t>(maxCtx * numKVHeads * headDim), 0.0f) {}

  /// Floats per cached position.
  int64_t rowSize() const { return numKVHeads * headDim; }
};

/// A KV cache in memory owned elsewhere (a device buffer of the engine):
/// \p k and \p v hold [maxCtx, numKVHeads * headDim] floats each.
struct KVCacheView {
  float *k = nullptr;
  float *v = nullptr;
  int64_t maxCtx = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
};

/// Causal grouped-query attention with a KV cache.
///
/// First stores k[t] and v[t] [T, Hkv * Dh] at cache row pos[t] for every t.
/// Then query t, head h ([T, H * Dh]) attends to cache rows 0..pos[t] of KV
/// head h / (H / Hkv) with scale 1/sqrt(Dh) and a max-subtracted softmax;
/// scores, softmax and the weighted sum of values are computed in double.
/// Rows below pos[t] that this call does not write must have been written by
/// earlier calls, so a prefill of T tokens and T single-token decode steps
/// give the same result.
///
/// Fails, touching neither the cache nor \p out, if a position is outside
/// [0, maxCtx), if H is not a multiple of Hkv, or if the cache was not built
/// for Hkv heads of Dh channels.
///
/// This form allocates its scratch (attentionScratchSize() doubles) per
/// call; the overload below takes it from the caller.
Status attention(const float *q, const float *k, const float *v,
                 const int32_t *pos, int64_t T, int64_t H, int64_t Hkv,
                 int64_t Dh, KVCache &cache, float *out,
                 ThreadPool *pool = nullptr);

/// Attention work is split into this many scratch slots per thread of the
/// pool (contiguous task ranges, which balances the uneven causal rows).
constexpr int64_t kAttentionSlotsPerThread = 4;

/// Attention calls of fewer multiply-adds (T * H * (max pos + 1) * Dh) run
/// on the caller: waking the pool costs more than they do.
constexpr int64_t kMinParallelAttentionMacs = int64_t(1) << 17;

/// The number of doubles of scratch attention() needs for query positions
/// below \p maxCtx, head dimension \p Dh, run on \p pool (null: inline).
/// A buffer of this size serves every call with the same pool, a cache of at
/// most \p maxCtx rows and at most \p Dh channels per head. With the head
/// counts \p H and \p Hkv it is also enough for drivers' fp32 kernels: per
/// slot group * (maxCtx + 32) floats (group = H / Hkv), or in all H *
/// (maxCtx + 32) + ceil(maxCtx / 64) * H * Dh floats, whichever is more.
int64_t attentionScratchSize(int64_t maxCtx, int64_t Dh, const ThreadPool *pool,
                             int64_t H = 1, int64_t Hkv = 1);

/// The argument checks of attention(): positive head counts, H a multiple of
/// Hkv, a cache of Hkv heads of Dh channels with storage, and every pos[t]
/// in [0, maxCtx). Drivers' own attention kernels share them.
Status checkAttentionArgs(const int32_t *pos, int64_t T, int64_t H, int64_t Hkv,
                          int64_t Dh, const KVCacheView &cache);

/// attention() on a cache view, with caller-provided scratch (see below).
Status attention(const float *q, const float *k, const float *v,
                 const int32_t *pos, int64_t T, int64_t H, int64_t Hkv,
                 int64_t Dh, const KVCacheView &cache, float *out,
                 ThreadPool *pool, double *scratch, int64_t scratchSize);

/// attention() with caller-provided scratch of \p scratchSize doubles (at
/// least attentionScratchSize(maxPos + 1, Dh, pool), maxPos the largest of
/// \p pos). Never allocates; the results are bitwise identical to those of
/// the allocating form. Fails, touching nothing, if the scratch is too small.
Status attention(const float *q, const float *k, const float *v,
                 const int32_t *pos, int64_t T, int64_t H, int64_t Hkv,
                 int64_t Dh, KVCache &cache, float *out, ThreadPool *pool,
                 double *scratch, int64_t scratchSize);

/// attention() computed in float through BLAS, for callers that trade the
/// reference's double accumulation for speed (the calibration executor):
/// per query head, scores = Q K^T / sqrt(Dh) and out = softmax(scores) V are
/// two sgemm calls over cache rows 0..max(pos), the causal mask and a
/// max-subtracted softmax applied in float between them. Same contract as
/// attention() (writes k and v to the cache first, reads rows 0..pos[t],
/// fails touching nothing on bad arguments); agrees with it to float
/// rounding (about 1e-6 relative). Masked scores are zeros multiplied into
/// the value rows of the chunk's later positions, so a non-finite value in
/// those rows also reaches earlier queries (0 * Inf), where attention() keeps
/// it out. Allocates a
/// scratch of at most 256 query rows by max(pos) + 1 floats per call; BLAS
/// chooses its own threads.
Status attentionF32(const float *q, const float *k, const float *v,
                    const int32_t *pos, int64_t T, int64_t H, int64_t Hkv,
                    int64_t Dh, const KVCacheView &cache, float *out);

//===----------------------------------------------------------------------===//
// Dequantization
//===----------------------------------------------------------------------===//

/// Reference dequantization of a [N, K] weight stored as one unpacked code
/// per byte: w[n, k] = scales[n, g] * (codes[n, k] - zero[n, g]) in float32,
/// where g = gIdx[k] if \p gIdx is given (act-order) and k / groupSize
/// otherwise. \p groupSize -1 means one group per row (per channel). The
/// scales and zeros have G = ceil(K / groupSize) columns (1 per channel).
/// \p zeros null means symmetric: zero = 2^(bits-1). Fails, writing nothing,
/// on bits outside [1, 8], a bad group size, a code >= 2^bits or a gIdx entry
/// outside [0, G).
Status dequantizeRows(const uint8_t *codes, const float *scales,
                      const float *zeros, const int32_t *gIdx, int64_t N,
                      int64_t K, int64_t groupSize, int bits, float *w,
                      ThreadPool *pool = nullptr);

//===----------------------------------------------------------------------===//
// Evaluation utilities
//===----------------------------------------------------------------------===//

/// Index of the largest logit; the first one on ties. NaNs are ignored;
/// returns 0 if every logit is NaN and -1 if V <= 0.
int32_t argmax(const float *logits, int64_t V);

/// log(sum_i exp(logits[i])) in double, max-subtracted.
double logSumExp(const float *logits, int64_t V);

/// Negative log-likelihood -log softmax(logits)[target] in nats, in double.
/// Returns NaN if \p target is outside [0, V).
double logSoftmaxNLL(const float *logits, int64_t V, int32_t target);

/// KL(p_ref || p) in nats, where p_ref = softmax(refLogits) and
/// p = softmax(logits), computed stably in double.
double klDivergence(const float *refLogits, const float *logits, int64_t V);

//===----------------------------------------------------------------------===//
// Sampling
//===----------------------------------------------------------------------===//

/// Token sampling settings, applied in the Hugging Face order: temperature,
/// then top-k, then top-p.
struct SamplingParams {
  /// <= 0 selects greedy decoding (argmax).
  float temperature = 0.0f;
  /// Keep only the k most likely tokens; <= 0 (or >= V) disables it and 1 is
  /// greedy.
  int64_t topK = 0;
  /// Keep the smallest set of most likely tokens whose probability reaches
  /// topP (at least one token); >= 1 disables it.
  float topP = 1.0f;
};

/// Scratch storage for sample(); reuse it across calls to avoid allocation.
struct SampleCandidate {
  float logit;
  int32_t id;
  double weight;
};

/// Advances the splitmix64 generator \p state and returns 64 random bits.
/// Any seed is a valid initial state.
uint64_t nextRandom(uint64_t &state);

/// A uniform double in [0, 1) with 53 random bits, drawn from \p state.
double nextUniform(uint64_t &state);

/// Draws a token id from \p logits [V] according to \p params. Greedy
/// selection (temperature <= 0 or topK == 1) returns argmax() and does not
/// advance \p rngState; every other call draws exactly one nextUniform(). The
/// result depends only on the inputs and \p rngState. NaN and -inf logits are
/// never sampled. \p scratch grows to V entries at most and is reused, so
/// calls with a warm scratch do not allocate.
int32_t sample(const float *logits, int64_t V, const SamplingParams &params,
               uint64_t &rngState, std::vector<SampleCandidate> &scratch);

} // namespace lowbit::rt::kernels

#endif // LOWBITRT_KERNELS_H
