//===- Engine.cpp - the C API: models, sessions, interpreter ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Implements lowbitrt/lowbit_rt.h. A session allocates everything a step
/// needs when it is created (each program buffer for max_batch rows, the KV
/// caches, attention and target driver scratch, logits, sampling candidates),
/// so decoding and sampling allocate nothing. Every C++ exception stops at
/// the API boundary and becomes a status plus a thread-local message.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/lowbit_rt.h"

#include "Model.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <unistd.h>

using namespace lowbit::rt;
using namespace lowbit::rt::engine;

struct lowbit_rt_model {
  Model m;
};

namespace {

/// The last error message of this thread.
thread_local std::string lastError;

lowbit_rt_status setError(lowbit_rt_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

[[noreturn]] void fail(lowbit_rt_status status, std::string message) {
  throw EngineError(status, std::move(message));
}

/// Runs `fn`, turning exceptions into statuses.
template <typename Fn> lowbit_rt_status guarded(Fn &&fn) {
  try {
    fn();
    return LOWBIT_RT_OK;
  } catch (const EngineError &e) {
    return setError(e.status, e.message);
  } catch (const std::bad_alloc &) {
    return setError(LOWBIT_RT_INTERNAL, "out of memory");
  } catch (const std::exception &e) {
    return setError(LOWBIT_RT_INTERNAL,
                    std::string("internal error: ") + e.what());
  } catch (...) {
    return setError(LOWBIT_RT_INTERNAL, "internal error");
  }
}

#define CHECK_ARG(cond, msg)                                                   \
  do {                                                                         \
    if (!(cond))                                                               \
      return setError(LOWBIT_RT_INVALID_ARGUMENT, msg);                        \
  } while (false)

} // namespace

struct lowbit_rt_session {
  const Model *model = nullptr;
  std::unique_ptr<kernels::ThreadPool> pool;
  int64_t maxContext = 0;
  int64_t maxBatch = 0;
  int64_t position = 0;

  /// One of these per program buffer, maxBatch rows each.
  std::vector<std::unique_ptr<float[]>> f32;
  std::vector<std::unique_ptr<int32_t[]>> i32;
  std::vector<kernels::KVCache> caches;
  std::vector<double> attentionScratch;
  /// The target driver's scratch (TargetDriver::scratchFloats).
  std::vector<float> driverScratch;
  std::vector<float> logits;
  bool haveLogits = false;
  std::vector<kernels::SampleCandidate> sampleScratch;
  uint64_t rngState = 0;
  bool seeded = false;

  /// Runs the program on `T` <= maxBatch tokens at positions
  /// [position, position + T). Throws EngineError.
  void step(const int32_t *tokens, int64_t T, float *allLogits);
};

void lowbit_rt_session::step(const int32_t *tokens, int64_t T,
                             float *allLogits) {
  const Program &prog = model->program;
  const TargetDriver &driver = *model->driver;
  kernels::ThreadPool *tp = pool.get();
  std::copy(tokens, tokens + T, i32[size_t(prog.tokens)].get());
  int32_t *pos = i32[size_t(prog.positions)].get();
  for (int64_t t = 0; t < T; ++t)
    pos[t] = static_cast<int32_t>(position + t);

  auto F = [&](int id) { return f32[size_t(id)].get(); };
  auto I = [&](int id) { return i32[size_t(id)].get(); };
  auto opError = [&](size_t i, const char *name, const std::string &msg) {
    fail(LOWBIT_RT_INTERNAL,
         "op " + std::to_string(i) + " (" + name + "): " + msg);
  };

  for (size_t i = 0; i < prog.ops.size(); ++i) {
    const Op &op = prog.ops[i];
    float *out = F(op.out);
    switch (op.kind) {
    case OpKind::Embedding: {
      kernels::Status s =
          kernels::embedding(op.weight, op.rows, op.cols, I(op.in[0]), T, out);
      if (!s)
        fail(LOWBIT_RT_INVALID_ARGUMENT,
             "op " + std::to_string(i) + " (embedding): " + s.message());
      break;
    }
    case OpKind::RmsNorm:
      kernels::rmsNorm(F(op.in[0]), T, op.cols, op.weight, op.eps, out, tp);
      break;
    case OpKind::Linear:
      kernels::linear(F(op.in[0]), T, op.cols, op.weight, op.rows, op.bias,
                      out);
      break;
    case OpKind::QMatmul:
      driver.runQMatmul(op.qmatmul, F(op.in[0]), T, out, driverScratch.data(),
                        tp);
      break;
    case OpKind::Rotary: {
      const int64_t n = T * op.numHeads * op.headDim;
      std::copy(F(op.in[0]), F(op.in[0]) + n, out);
      kernels::rotary(out, T, op.numHeads, op.headDim, I(op.in[1]),
                      op.invFreq.data(), op.style, tp);
      break;
    }
    case OpKind::Attention: {
      kernels::Status s = kernels::attention(
          F(op.in[0]), F(op.in[1]), F(op.in[2]), I(op.in[3]), T, op.numHeads,
          op.numKVHeads, op.headDim, caches[size_t(op.cache)], out, tp,
          attentionScratch.data(),
          static_cast<int64_t>(attentionScratch.size()));
      if (!s)
        opError(i, "attention", s.message());
      break;
    }
    case OpKind::GatedAct:
      if (op.gelu)
        kernels::geluTanhMul(F(op.in[0]), F(op.in[1]), T * op.cols, out, tp);
      else
        kernels::siluMul(F(op.in[0]), F(op.in[1]), T * op.cols, out, tp);
      break;
    case OpKind::Add:
      kernels::add(F(op.in[0]), F(op.in[1]), T * op.cols, out, tp);
      break;
    }
  }

  const int64_t V = model->vocabSize;
  const float *logitsRows = F(prog.output);
  if (allLogits)
    std::copy(logitsRows, logitsRows + T * V, allLogits);
  std::copy(logitsRows + (T - 1) * V, logitsRows + T * V, logits.data());
  haveLogits = true;
  position += T;
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

const char *lowbit_rt_last_error(void) { return lastError.c_str(); }

const char *lowbit_rt_status_name(lowbit_rt_status status) {
  switch (status) {
  case LOWBIT_RT_OK:
    return "ok";
  case LOWBIT_RT_INVALID_ARGUMENT:
    return "invalid argument";
  case LOWBIT_RT_IO:
    return "i/o error";
  case LOWBIT_RT_FORMAT:
    return "format error";
  case LOWBIT_RT_UNSUPPORTED:
    return "unsupported";
  case LOWBIT_RT_CONTEXT_FULL:
    return "context full";
  case LOWBIT_RT_INTERNAL:
    return "internal error";
  }
  return "unknown status";
}

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//

lowbit_rt_status lowbit_rt_model_open(const char *path, lowbit_rt_model **out) {
  CHECK_ARG(path && out, "lowbit_rt_model_open: null argument");
  return guarded([&] {
    // Tell "cannot read" (IO) from "not a valid bundle" (FORMAT).
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      fail(LOWBIT_RT_IO, std::string(path) + ": " + std::strerror(errno));
    ::close(fd);
    auto model = std::make_unique<lowbit_rt_model>();
    std::string err;
    model->m.bundle = Bundle::open(path, err);
    if (!model->m.bundle)
      fail(LOWBIT_RT_FORMAT, err);
    try {
      loadManifest(model->m);
    } catch (const EngineError &e) {
      fail(e.status, std::string(path) + ": " + e.message);
    }
    *out = model.release();
  });
}

void lowbit_rt_model_free(lowbit_rt_model *model) { delete model; }

lowbit_rt_status lowbit_rt_model_get_info(const lowbit_rt_model *model,
                                          lowbit_rt_model_info *info) {
  CHECK_ARG(model && info, "lowbit_rt_model_get_info: null argument");
  const Model &m = model->m;
  info->vocab_size = m.vocabSize;
  info->hidden_size = m.hiddenSize;
  info->num_layers = m.numLayers;
  info->max_position_embeddings = m.maxPositions;
  info->bos_token_id = m.bosId;
  info->eos_token_id = m.eosIds.empty() ? -1 : m.eosIds[0];
  info->isa = m.isa.c_str();
  info->target = m.target.c_str();
  return LOWBIT_RT_OK;
}

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

/// The default prefill chunk.
static constexpr int64_t kDefaultMaxBatch = 64;

lowbit_rt_status lowbit_rt_session_create(const lowbit_rt_model *model,
                                          const lowbit_rt_session_options *opts,
                                          lowbit_rt_session **out) {
  CHECK_ARG(model && out, "lowbit_rt_session_create: null argument");
  lowbit_rt_session_options o{};
  if (opts)
    o = *opts;
  CHECK_ARG(o.threads >= 0 && o.max_context >= 0 && o.max_batch >= 0,
            "lowbit_rt_session_create: negative option");
  CHECK_ARG(o.max_context <= (int64_t(1) << 31) - 1 &&
                o.max_batch <= (int64_t(1) << 20),
            "lowbit_rt_session_create: max_context or max_batch too large");
  return guarded([&] {
    const Model &m = model->m;
    const Program &prog = m.program;
    auto s = std::make_unique<lowbit_rt_session>();
    s->model = &m;
    s->pool =
        std::make_unique<kernels::ThreadPool>(static_cast<unsigned>(o.threads));
    s->maxContext = o.max_context ? o.max_context : m.maxPositions;
    s->maxBatch = o.max_batch ? o.max_batch : kDefaultMaxBatch;
    s->maxBatch = std::min(s->maxBatch, s->maxContext);

    const size_t numBuffers = prog.buffers.size();
    s->f32.resize(numBuffers);
    s->i32.resize(numBuffers);
    for (size_t i = 0; i < numBuffers; ++i) {
      size_t n = static_cast<size_t>(s->maxBatch * prog.buffers[i].cols);
      if (prog.buffers[i].isInt)
        s->i32[i] = std::make_unique<int32_t[]>(n);
      else
        s->f32[i] = std::make_unique<float[]>(n);
    }
    s->caches.reserve(prog.caches.size());
    for (const CacheDesc &c : prog.caches)
      s->caches.emplace_back(s->maxContext, c.numKVHeads, c.headDim);
    if (prog.maxHeadDim > 0)
      s->attentionScratch.resize(
          static_cast<size_t>(kernels::attentionScratchSize(
              s->maxContext, prog.maxHeadDim, s->pool.get())));
    int64_t driverScratch = 0;
    for (const Op &op : prog.ops)
      if (op.kind == OpKind::QMatmul)
        driverScratch = std::max(
            driverScratch, m.driver->scratchFloats(op.qmatmul, s->maxBatch));
    s->driverScratch.resize(static_cast<size_t>(driverScratch));
    s->logits.resize(static_cast<size_t>(m.vocabSize));
    s->sampleScratch.reserve(static_cast<size_t>(m.vocabSize));
    *out = s.release();
  });
}

void lowbit_rt_session_free(lowbit_rt_session *session) { delete session; }

lowbit_rt_status lowbit_rt_reset(lowbit_rt_session *session) {
  CHECK_ARG(session, "lowbit_rt_reset: null session");
  session->position = 0;
  session->haveLogits = false;
  session->seeded = false;
  return LOWBIT_RT_OK;
}

int64_t lowbit_rt_session_position(const lowbit_rt_session *session) {
  return session ? session->position : -1;
}

/// Checks that `n` tokens fit and are in the vocabulary.
static lowbit_rt_status checkTokens(const lowbit_rt_session *s,
                                    const int32_t *tokens, int64_t n) {
  if (n > s->maxContext - s->position)
    return setError(LOWBIT_RT_CONTEXT_FULL,
                    "context full: " + std::to_string(s->position) + " + " +
                        std::to_string(n) + " tokens exceed max_context " +
                        std::to_string(s->maxContext));
  const int64_t V = s->model->vocabSize;
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      return setError(
          LOWBIT_RT_INVALID_ARGUMENT,
          "token " + std::to_string(i) + " = " + std::to_string(tokens[i]) +
              " is outside the vocabulary [0, " + std::to_string(V) + ")");
  return LOWBIT_RT_OK;
}

lowbit_rt_status lowbit_rt_prefill(lowbit_rt_session *session,
                                   const int32_t *tokens, int64_t n,
                                   float *all_logits) {
  CHECK_ARG(session, "lowbit_rt_prefill: null session");
  CHECK_ARG(n >= 0 && (tokens || n == 0),
            "lowbit_rt_prefill: null tokens or negative count");
  if (lowbit_rt_status st = checkTokens(session, tokens, n))
    return st;
  return guarded([&] {
    const int64_t V = session->model->vocabSize;
    for (int64_t done = 0; done < n;) {
      int64_t T = std::min(session->maxBatch, n - done);
      session->step(tokens + done, T,
                    all_logits ? all_logits + done * V : nullptr);
      done += T;
    }
  });
}

lowbit_rt_status lowbit_rt_decode(lowbit_rt_session *session, int32_t token) {
  CHECK_ARG(session, "lowbit_rt_decode: null session");
  if (lowbit_rt_status st = checkTokens(session, &token, 1))
    return st;
  return guarded([&] { session->step(&token, 1, nullptr); });
}

const float *lowbit_rt_logits(const lowbit_rt_session *session) {
  if (!session || !session->haveLogits)
    return nullptr;
  return session->logits.data();
}

lowbit_rt_status lowbit_rt_sample(lowbit_rt_session *session,
                                  const lowbit_rt_sampling *params,
                                  int32_t *token) {
  CHECK_ARG(session && token, "lowbit_rt_sample: null argument");
  if (!session->haveLogits)
    return setError(LOWBIT_RT_INVALID_ARGUMENT,
                    "lowbit_rt_sample: no logits yet (prefill or decode "
                    "first)");
  kernels::SamplingParams p;
  if (params) {
    p.temperature = params->temperature;
    p.topK = params->top_k;
    p.topP = params->top_p;
    if (!session->seeded) {
      session->rngState = params->seed;
      session->seeded = true;
    }
  }
  *token = kernels::sample(session->logits.data(), session->model->vocabSize, p,
                           session->rngState, session->sampleScratch);
  return LOWBIT_RT_OK;
}

//===----------------------------------------------------------------------===//
// Tokenizer
//===----------------------------------------------------------------------===//

static lowbit_rt_status noTokenizer(const char *fn) {
  return setError(LOWBIT_RT_UNSUPPORTED,
                  std::string(fn) + ": the bundle has no tokenizer");
}

/// Copies `text` to `buf` with a NUL, or reports the needed length.
static lowbit_rt_status copyText(const std::string &text, char *buf, size_t cap,
                                 size_t *lenOut, const char *fn) {
  *lenOut = text.size();
  if (!buf || cap < text.size() + 1)
    return setError(LOWBIT_RT_INVALID_ARGUMENT,
                    std::string(fn) + ": buffer of " + std::to_string(cap) +
                        " bytes is too small for " +
                        std::to_string(text.size() + 1));
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return LOWBIT_RT_OK;
}

lowbit_rt_status lowbit_rt_tokenize(const lowbit_rt_model *model,
                                    const char *text, size_t len, int add_bos,
                                    int32_t *ids, int64_t capacity,
                                    int64_t *n_out) {
  CHECK_ARG(model && (text || len == 0) && n_out,
            "lowbit_rt_tokenize: null argument");
  if (!model->m.tokenizer)
    return noTokenizer("lowbit_rt_tokenize");
  lowbit_rt_status st = LOWBIT_RT_OK;
  lowbit_rt_status g = guarded([&] {
    std::vector<int32_t> out;
    std::string err;
    if (!model->m.tokenizer->encode(std::string_view(text ? text : "", len),
                                    add_bos != 0, out, err))
      fail(LOWBIT_RT_INTERNAL, "lowbit_rt_tokenize: " + err);
    *n_out = static_cast<int64_t>(out.size());
    if (!ids || capacity < static_cast<int64_t>(out.size())) {
      st = setError(LOWBIT_RT_INVALID_ARGUMENT,
                    "lowbit_rt_tokenize: capacity " + std::to_string(capacity) +
                        " is below the " + std::to_string(out.size()) + " ids");
      return;
    }
    std::copy(out.begin(), out.end(), ids);
  });
  return g != LOWBIT_RT_OK ? g : st;
}

lowbit_rt_status lowbit_rt_detokenize(const lowbit_rt_model *model,
                                      const int32_t *ids, int64_t n, char *buf,
                                      size_t cap, size_t *len_out) {
  CHECK_ARG(model && (ids || n == 0) && n >= 0 && len_out,
            "lowbit_rt_detokenize: bad argument");
  if (!model->m.tokenizer)
    return noTokenizer("lowbit_rt_detokenize");
  lowbit_rt_status st = LOWBIT_RT_OK;
  lowbit_rt_status g = guarded([&] {
    std::string text =
        model->m.tokenizer->decode(std::vector<int32_t>(ids, ids + n));
    st = copyText(text, buf, cap, len_out, "lowbit_rt_detokenize");
  });
  return g != LOWBIT_RT_OK ? g : st;
}

lowbit_rt_status lowbit_rt_token_piece(const lowbit_rt_model *model,
                                       int32_t prev, int32_t id, char *buf,
                                       size_t cap, size_t *len_out) {
  CHECK_ARG(model && len_out, "lowbit_rt_token_piece: null argument");
  if (!model->m.tokenizer)
    return noTokenizer("lowbit_rt_token_piece");
  lowbit_rt_status st = LOWBIT_RT_OK;
  lowbit_rt_status g = guarded([&] {
    st = copyText(model->m.tokenizer->decodeToken(prev, id), buf, cap, len_out,
                  "lowbit_rt_token_piece");
  });
  return g != LOWBIT_RT_OK ? g : st;
}
