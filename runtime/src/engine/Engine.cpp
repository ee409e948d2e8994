//===- Engine.cpp - the C API: models, sessions, interpreter ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Implements lowbitrt/lowbit_rt.h on the HAL (lowbitrt/hal.h). A session
/// allocates everything a step needs when it is created: on each device of
/// the model's plan a queue and fence, each program buffer for max_batch
/// rows where the plan puts it, the KV caches, the queue's scratch; on the
/// host the logits and sampling candidates. A step uploads the tokens and
/// positions, dispatches every op on its device with the copies the plan
/// inserted, and reads back only the logits, so decoding and sampling
/// allocate nothing. Every C++ exception stops at the API boundary and
/// becomes a status plus a thread-local message.
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

namespace {
/// A device of a session: its queue and fence, and whether work was
/// submitted since the last wait.
struct SessionDevice {
  lowbit_hal_device *device = nullptr;
  const lowbit_hal_device_vtable *v = nullptr;
  lowbit_hal_queue *queue = nullptr;
  lowbit_hal_fence *fence = nullptr;
  bool dirty = false;
};

/// One planned copy, resolved to buffers: either `from`'s copy to the host
/// memory of the destination, or `to`'s copy from the host memory of the
/// source.
struct SessionTransfer {
  int buffer = 0;
  int from = 0;
  int to = 0;
  bool fromCopiesToHost = true;
  lowbit_hal_buffer *src = nullptr;
  lowbit_hal_buffer *dst = nullptr;
  void *host = nullptr;
  uint64_t rowBytes = 0;
};
} // namespace

struct lowbit_rt_session {
  const Model *model = nullptr;
  int64_t maxContext = 0;
  int64_t maxBatch = 0;
  int64_t position = 0;

  std::vector<SessionDevice> devices;
  /// Program buffer b on device d: buffers[b * devices.size() + d] (null
  /// where it does not live).
  std::vector<lowbit_hal_buffer *> buffers;
  /// K and V of each cache, on Model::cacheDevice.
  std::vector<lowbit_hal_buffer *> cacheK, cacheV;
  /// Every op's bindings, op i's from bindingStart[i].
  std::vector<lowbit_hal_binding> bindings;
  std::vector<size_t> bindingStart;
  /// Every op's copies, op i's in [transferStart[i], transferStart[i+1]).
  std::vector<SessionTransfer> transfers;
  std::vector<size_t> transferStart;
  /// Host staging of the positions of a step.
  std::vector<int32_t> positions;
  std::vector<float> logits;
  bool haveLogits = false;
  std::vector<kernels::SampleCandidate> sampleScratch;
  uint64_t rngState = 0;
  bool seeded = false;

  lowbit_rt_session() = default;
  lowbit_rt_session(const lowbit_rt_session &) = delete;
  lowbit_rt_session &operator=(const lowbit_rt_session &) = delete;
  ~lowbit_rt_session();

  lowbit_hal_buffer *buffer(int id, int device) const {
    return buffers[size_t(id) * devices.size() + size_t(device)];
  }

  /// Allocates the buffers, queues and bindings of the plan. Throws.
  void create(const lowbit_rt_session_options &o);

  /// Waits for the work submitted to every device but \p except (-1: all).
  void syncOthers(int except);

  /// Runs the program on `T` <= maxBatch tokens at positions
  /// [position, position + T). Throws EngineError.
  void step(const int32_t *tokens, int64_t T, float *allLogits);
};

lowbit_rt_session::~lowbit_rt_session() {
  auto freeBuf = [&](lowbit_hal_buffer *b, int d) {
    if (b)
      devices[size_t(d)].v->buffer_free(devices[size_t(d)].device, b);
  };
  const size_t nd = devices.size();
  for (size_t i = 0; i < buffers.size(); ++i)
    freeBuf(buffers[i], int(i % nd));
  for (size_t c = 0; c < cacheK.size(); ++c) {
    freeBuf(cacheK[c], model->cacheDevice[c]);
    freeBuf(cacheV[c], model->cacheDevice[c]);
  }
  for (SessionDevice &d : devices) {
    if (d.fence)
      d.v->fence_free(d.device, d.fence);
    if (d.queue)
      d.v->queue_free(d.device, d.queue);
  }
}

void lowbit_rt_session::create(const lowbit_rt_session_options &o) {
  const Model &m = *model;
  const Program &prog = m.program;
  const size_t nd = m.devices.size();
  devices.resize(nd);
  for (size_t d = 0; d < nd; ++d) {
    SessionDevice &sd = devices[d];
    sd.device = m.devices[d].device;
    sd.v = sd.device->vtable;
    lowbit_hal_queue_options qo{};
    qo.threads = o.threads;
    throwIfFailed(sd.v->queue_create(sd.device, &qo, &sd.queue),
                  "creating a queue");
    throwIfFailed(sd.v->fence_create(sd.device, &sd.fence), "creating a fence");
  }

  // Program buffers: maxBatch rows on every device of their plan.
  buffers.assign(prog.buffers.size() * nd, nullptr);
  for (size_t b = 0; b < prog.buffers.size(); ++b)
    for (size_t d = 0; d < nd; ++d)
      if (m.bufferPlan[b].devices & (1u << d))
        throwIfFailed(devices[d].v->buffer_allocate(
                          devices[d].device,
                          uint64_t(maxBatch * prog.buffers[b].cols) * 4,
                          &buffers[b * nd + d]),
                      "allocating buffer " + std::to_string(b));
  // KV caches: maxContext rows each, zeroed.
  cacheK.assign(prog.caches.size(), nullptr);
  cacheV.assign(prog.caches.size(), nullptr);
  for (size_t c = 0; c < prog.caches.size(); ++c) {
    SessionDevice &sd = devices[size_t(m.cacheDevice[c])];
    uint64_t bytes = uint64_t(maxContext * prog.caches[c].numKVHeads *
                              prog.caches[c].headDim) *
                     4;
    throwIfFailed(sd.v->buffer_allocate(sd.device, bytes, &cacheK[c]),
                  "allocating the kv cache");
    throwIfFailed(sd.v->buffer_allocate(sd.device, bytes, &cacheV[c]),
                  "allocating the kv cache");
  }

  // Bindings: the model's constants plus this session's buffers.
  auto full = [&](int id, int d) {
    lowbit_hal_binding b{};
    b.buffer = buffer(id, d);
    b.length = uint64_t(maxBatch * prog.buffers[size_t(id)].cols) * 4;
    return b;
  };
  for (const Op &op : prog.ops) {
    bindingStart.push_back(bindings.size());
    // The op's binding order (lowbitrt/OpTable.h): its constants from the
    // model, its buffers and cache from this session.
    const int d = op.device;
    for (int k = 0; k < op.def->numBindings; ++k) {
      const ops::BindingDef &bd = op.def->bindings[k];
      lowbit_hal_binding b = op.constants[size_t(k)];
      switch (bd.slot) {
      case ops::Slot::Input:
        b = full(op.in[bd.index], d);
        break;
      case ops::Slot::Output:
        b = full(op.out, d);
        break;
      case ops::Slot::Weight:
        break;
      case ops::Slot::CacheK:
      case ops::Slot::CacheV: {
        const CacheDesc &c = prog.caches[size_t(op.cache)];
        uint64_t bytes = uint64_t(maxContext * c.numKVHeads * c.headDim) * 4;
        b = lowbit_hal_binding{bd.slot == ops::Slot::CacheK
                                   ? cacheK[size_t(op.cache)]
                                   : cacheV[size_t(op.cache)],
                               0, bytes};
        break;
      }
      }
      bindings.push_back(b);
    }
    SessionDevice &sd = devices[size_t(d)];
    throwIfFailed(sd.v->queue_reserve(sd.device, sd.queue, op.kernel, maxBatch,
                                      maxContext),
                  op.context);

    transferStart.push_back(transfers.size());
    for (const Op::Transfer &t : op.transfers) {
      SessionTransfer st;
      st.buffer = t.buffer;
      st.from = t.from;
      st.to = t.to;
      st.src = buffer(t.buffer, t.from);
      st.dst = buffer(t.buffer, t.to);
      st.rowBytes = uint64_t(prog.buffers[size_t(t.buffer)].cols) * 4;
      SessionDevice &A = devices[size_t(t.from)], &B = devices[size_t(t.to)];
      if (void *h = B.v->buffer_host_pointer(B.device, st.dst)) {
        st.fromCopiesToHost = true;
        st.host = h;
      } else if (void *h2 = A.v->buffer_host_pointer(A.device, st.src)) {
        st.fromCopiesToHost = false;
        st.host = h2;
      } else {
        fail(LOWBIT_RT_UNSUPPORTED,
             op.context + ": neither device of a copy of buffer " +
                 std::to_string(t.buffer) + " is host-visible");
      }
      transfers.push_back(st);
    }
  }
  transferStart.push_back(transfers.size());
  positions.resize(size_t(maxBatch));
  logits.resize(static_cast<size_t>(m.vocabSize));
  sampleScratch.reserve(static_cast<size_t>(m.vocabSize));
}

void lowbit_rt_session::syncOthers(int except) {
  for (size_t e = 0; e < devices.size(); ++e) {
    SessionDevice &sd = devices[e];
    if (int(e) == except || !sd.dirty)
      continue;
    throwIfFailed(sd.v->queue_signal(sd.device, sd.queue, sd.fence));
    throwIfFailed(sd.v->fence_wait(sd.device, sd.fence));
    sd.dirty = false;
  }
}

void lowbit_rt_session::step(const int32_t *tokens, int64_t T,
                             float *allLogits) {
  const Program &prog = model->program;
  const size_t nd = devices.size();
  for (int64_t t = 0; t < T; ++t)
    positions[size_t(t)] = static_cast<int32_t>(position + t);
  // Inputs: from the host to every device that reads them.
  for (size_t d = 0; d < nd; ++d) {
    SessionDevice &sd = devices[d];
    if (model->bufferPlan[size_t(prog.tokens)].devices & (1u << d))
      throwIfFailed(sd.v->copy_host_to_buffer(sd.device, sd.queue, tokens,
                                              buffer(prog.tokens, int(d)), 0,
                                              uint64_t(T) * 4));
    if (model->bufferPlan[size_t(prog.positions)].devices & (1u << d))
      throwIfFailed(sd.v->copy_host_to_buffer(
          sd.device, sd.queue, positions.data(), buffer(prog.positions, int(d)),
          0, uint64_t(T) * 4));
    sd.dirty = true;
  }

  lowbit_hal_push_constants pc{};
  pc.rows = T;
  pc.cache_rows = maxContext;
  for (size_t i = 0; i < prog.ops.size(); ++i) {
    const Op &op = prog.ops[i];
    for (size_t k = transferStart[i]; k < transferStart[i + 1]; ++k) {
      const SessionTransfer &t = transfers[k];
      const uint64_t bytes = t.rowBytes * uint64_t(T);
      if (t.fromCopiesToHost) {
        SessionDevice &A = devices[size_t(t.from)];
        throwIfFailed(A.v->copy_buffer_to_host(A.device, A.queue, t.src, 0,
                                               t.host, bytes),
                      op.context);
        A.dirty = true;
      } else {
        SessionDevice &B = devices[size_t(t.to)];
        throwIfFailed(B.v->copy_host_to_buffer(B.device, B.queue, t.host, t.dst,
                                               0, bytes),
                      op.context);
        B.dirty = true;
      }
    }
    if (nd > 1)
      syncOthers(op.device);
    SessionDevice &sd = devices[size_t(op.device)];
    const size_t b0 = bindingStart[i];
    const size_t nb =
        (i + 1 < bindingStart.size() ? bindingStart[i + 1] : bindings.size()) -
        b0;
    throwIfFailed(sd.v->dispatch(sd.device, sd.queue, op.kernel,
                                 bindings.data() + b0, int32_t(nb), &pc,
                                 sizeof(pc)),
                  op.context);
    sd.dirty = true;
  }

  // Only the logits come back.
  const int64_t V = model->vocabSize;
  SessionDevice &od = devices[size_t(model->outputDevice)];
  lowbit_hal_buffer *out = buffer(prog.output, model->outputDevice);
  if (allLogits)
    throwIfFailed(od.v->copy_buffer_to_host(od.device, od.queue, out, 0,
                                            allLogits, uint64_t(T * V) * 4));
  else
    throwIfFailed(od.v->copy_buffer_to_host(od.device, od.queue, out,
                                            uint64_t((T - 1) * V) * 4,
                                            logits.data(), uint64_t(V) * 4));
  od.dirty = true;
  syncOthers(-1);
  if (allLogits)
    std::copy(allLogits + (T - 1) * V, allLogits + T * V, logits.data());
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

lowbit_rt_status lowbit::rt::engine::openModel(const char *path,
                                               const OpenOptions &options,
                                               lowbit_rt_model **out) {
  // The model owns options.primary from here on, even on failure.
  auto model = std::make_unique<lowbit_rt_model>();
  if (options.primary) {
    model->m.devices.emplace_back();
    model->m.devices.back().device = options.primary;
  }
  OpenOptions rest = options;
  rest.primary = nullptr;
  return guarded([&] {
    // Tell "cannot read" (IO) from "not a valid bundle" (FORMAT).
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      fail(LOWBIT_RT_IO, std::string(path) + ": " + std::strerror(errno));
    ::close(fd);
    std::string err;
    model->m.bundle = Bundle::open(path, err);
    if (!model->m.bundle)
      fail(LOWBIT_RT_FORMAT, err);
    try {
      loadManifest(model->m, rest);
    } catch (const EngineError &e) {
      fail(e.status, std::string(path) + ": " + e.message);
    }
    *out = model.release();
  });
}

lowbit_rt_status lowbit_rt_model_open(const char *path, lowbit_rt_model **out) {
  CHECK_ARG(path && out, "lowbit_rt_model_open: null argument");
  return openModel(path, OpenOptions{}, out);
}

lowbit_rt_status lowbit_rt_model_open_ex(const char *path,
                                         const lowbit_rt_model_options *opts,
                                         lowbit_rt_model **out) {
  CHECK_ARG(path && out, "lowbit_rt_model_open_ex: null argument");
  OpenOptions o;
  if (opts && opts->device)
    o.device = opts->device;
  return openModel(path, o, out);
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

lowbit_rt_status lowbit_rt_model_get_device(const lowbit_rt_model *model,
                                            lowbit_rt_device_info *info) {
  CHECK_ARG(model && info, "lowbit_rt_model_get_device: null argument");
  const Model &m = model->m;
  info->device = m.device.c_str();
  info->description = m.isa.c_str();
  info->fallback_device = m.fallbackDevice.c_str();
  info->fallback_ops = m.fallbackOps;
  info->copies_per_step = m.transfersPerStep;
  return LOWBIT_RT_OK;
}

const char *lowbit_rt_available_devices(void) {
  return lowbit_hal_driver_names();
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
    auto s = std::make_unique<lowbit_rt_session>();
    s->model = &m;
    s->maxContext = o.max_context ? o.max_context : m.maxPositions;
    s->maxBatch = o.max_batch ? o.max_batch : kDefaultMaxBatch;
    s->maxBatch = std::min(s->maxBatch, s->maxContext);
    s->create(o);
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
