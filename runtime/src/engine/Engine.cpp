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
/// host the logits and sampling candidates. The KV caches hold max_context
/// rows when the caller sets max_context; by default they start small and
/// double (with a device copy) when a step needs more rows, up to the
/// model's max_position_embeddings, so a model whose config allows millions
/// of positions costs only what the context uses. Every cache allocation is
/// checked against the memory available first. A step uploads the tokens and
/// positions, dispatches every op on its device with the copies the plan
/// inserted, and reads back only the logits, so sampling and decoding
/// allocate nothing (but for a step that doubles the KV caches). Every C++
/// exception stops at the API boundary and becomes a status plus a
/// thread-local message.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/lowbit_rt.h"

#include "Model.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
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
  /// The most positions of the context (the KV cache may hold fewer rows).
  int64_t maxContext = 0;
  /// The rows of the allocated KV caches (<= maxContext).
  int64_t cacheRows = 0;
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
  /// The ops from tailStart on come after the last op that mixes rows
  /// (attention): every one of them computes each row from the same row of
  /// its inputs. A step that returns only the last row's logits runs them
  /// on that row alone.
  size_t tailStart = 0;
  /// Per binding: the bytes of one row of its program buffer (inputs and
  /// outputs), 0 for weights and caches.
  std::vector<uint64_t> bindingRowBytes;
  /// The bindings of one tail op, moved to the last row (no allocation per
  /// step).
  std::vector<lowbit_hal_binding> lastRowBindings;
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

  /// Allocates every KV cache with \p rows rows (zeroed), copies the first
  /// `position` rows of the old caches, frees them and rebinds the attention
  /// ops. Throws EngineError, leaving the old caches in place.
  void resizeCaches(int64_t rows);

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
  // KV caches: allocated (and bound) by resizeCaches below.
  cacheK.assign(prog.caches.size(), nullptr);
  cacheV.assign(prog.caches.size(), nullptr);

  // Bindings: the model's constants plus this session's buffers.
  auto full = [&](int id, int d) {
    lowbit_hal_binding b{};
    b.buffer = buffer(id, d);
    b.length = uint64_t(maxBatch * prog.buffers[size_t(id)].cols) * 4;
    return b;
  };
  auto rowBytes = [&](int id) {
    return uint64_t(prog.buffers[size_t(id)].cols) * 4;
  };
  size_t maxOpBindings = 0;
  for (size_t i = 0; i < prog.ops.size(); ++i) {
    if (prog.ops[i].def->cacheAttr)
      tailStart = i + 1;
    maxOpBindings =
        std::max(maxOpBindings, size_t(prog.ops[i].def->numBindings));
  }
  lastRowBindings.resize(maxOpBindings);
  for (const Op &op : prog.ops) {
    bindingStart.push_back(bindings.size());
    // The op's binding order (lowbitrt/OpTable.h): its constants from the
    // model, its buffers and cache from this session.
    const int d = op.device;
    for (int k = 0; k < op.def->numBindings; ++k) {
      const ops::BindingDef &bd = op.def->bindings[k];
      lowbit_hal_binding b = op.constants[size_t(k)];
      uint64_t row = 0;
      switch (bd.slot) {
      case ops::Slot::Input:
        b = full(op.in[bd.index], d);
        row = rowBytes(op.in[bd.index]);
        break;
      case ops::Slot::Output:
        b = full(op.out, d);
        row = rowBytes(op.out);
        break;
      case ops::Slot::Weight:
        break;
      case ops::Slot::CacheK:
      case ops::Slot::CacheV:
        // Set by resizeCaches, which also grows the caches.
        b = lowbit_hal_binding{};
        break;
      }
      bindings.push_back(b);
      bindingRowBytes.push_back(row);
    }
    SessionDevice &sd = devices[size_t(d)];
    if (!op.def->cacheAttr)
      throwIfFailed(
          sd.v->queue_reserve(sd.device, sd.queue, op.kernel, maxBatch, 0),
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
  resizeCaches(cacheRows);
  positions.resize(size_t(maxBatch));
  logits.resize(static_cast<size_t>(m.vocabSize));
  sampleScratch.reserve(static_cast<size_t>(m.vocabSize));
}

/// The bytes of memory available for new allocations: MemAvailable of
/// /proc/meminfo, else the free physical pages; UINT64_MAX if unknown.
static uint64_t availableMemory() {
  if (FILE *f = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    unsigned long long kb = 0;
    bool found = false;
    while (!found && std::fgets(line, sizeof line, f))
      found = std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
    std::fclose(f);
    if (found)
      return uint64_t(kb) * 1024;
  }
  long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && size > 0)
    return uint64_t(pages) * uint64_t(size);
  return UINT64_MAX;
}

static std::string mib(uint64_t bytes) {
  return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

void lowbit_rt_session::resizeCaches(int64_t rows) {
  const Model &m = *model;
  const Program &prog = m.program;
  // Check the size against the memory available before allocating (the old
  // caches stay allocated during the copy).
  uint64_t bytes = 0;
  for (const CacheDesc &c : prog.caches)
    bytes += 2 * uint64_t(rows) * uint64_t(c.numKVHeads * c.headDim) * 4;
  if (bytes) {
    uint64_t avail = availableMemory();
    if (bytes > avail)
      fail(rows > cacheRows && cacheRows ? LOWBIT_RT_INTERNAL
                                         : LOWBIT_RT_INVALID_ARGUMENT,
           "out of memory: a kv cache of " + std::to_string(rows) +
               " positions needs " + mib(bytes) + " (" +
               std::to_string(prog.caches.size()) + " layers) but only " +
               mib(avail) +
               " are available; set a smaller max_context (lowbit-run "
               "--max-context)");
  }
  const size_t nc = prog.caches.size();
  std::vector<lowbit_hal_buffer *> newK(nc, nullptr), newV(nc, nullptr);
  auto freeNew = [&] {
    for (size_t c = 0; c < nc; ++c) {
      const SessionDevice &sd = devices[size_t(m.cacheDevice[c])];
      if (newK[c])
        sd.v->buffer_free(sd.device, newK[c]);
      if (newV[c])
        sd.v->buffer_free(sd.device, newV[c]);
    }
  };
  for (size_t c = 0; c < nc; ++c) {
    SessionDevice &sd = devices[size_t(m.cacheDevice[c])];
    const uint64_t rowBytes =
        uint64_t(prog.caches[c].numKVHeads * prog.caches[c].headDim) * 4;
    lowbit_hal_status st =
        sd.v->buffer_allocate(sd.device, uint64_t(rows) * rowBytes, &newK[c]);
    if (!st)
      st =
          sd.v->buffer_allocate(sd.device, uint64_t(rows) * rowBytes, &newV[c]);
    // The rows already written move to the new caches.
    if (!st && position > 0 && cacheK[c])
      st = sd.v->copy_buffer(sd.device, sd.queue, cacheK[c], 0, newK[c], 0,
                             uint64_t(position) * rowBytes);
    if (!st && position > 0 && cacheV[c])
      st = sd.v->copy_buffer(sd.device, sd.queue, cacheV[c], 0, newV[c], 0,
                             uint64_t(position) * rowBytes);
    if (st) {
      freeNew();
      throwStatus(st, "allocating a kv cache of " + std::to_string(rows) +
                          " positions");
    }
    sd.dirty = true;
  }
  // Scratch for attention over `rows` rows.
  for (const Op &op : prog.ops)
    if (op.def->cacheAttr) {
      SessionDevice &sd = devices[size_t(op.device)];
      if (lowbit_hal_status st = sd.v->queue_reserve(
              sd.device, sd.queue, op.kernel, maxBatch, rows)) {
        freeNew();
        throwStatus(st, op.context);
      }
    }
  // The copies complete before the old caches go.
  for (SessionDevice &sd : devices)
    if (sd.dirty) {
      lowbit_hal_status st = sd.v->queue_signal(sd.device, sd.queue, sd.fence);
      if (!st)
        st = sd.v->fence_wait(sd.device, sd.fence);
      if (st) {
        freeNew();
        throwStatus(st, "copying the kv cache");
      }
      sd.dirty = false;
    }
  for (size_t c = 0; c < nc; ++c) {
    const SessionDevice &sd = devices[size_t(m.cacheDevice[c])];
    if (cacheK[c])
      sd.v->buffer_free(sd.device, cacheK[c]);
    if (cacheV[c])
      sd.v->buffer_free(sd.device, cacheV[c]);
    cacheK[c] = newK[c];
    cacheV[c] = newV[c];
  }
  cacheRows = rows;
  for (size_t i = 0; i < prog.ops.size(); ++i) {
    const Op &op = prog.ops[i];
    for (int k = 0; k < op.def->numBindings; ++k) {
      const ops::Slot slot = op.def->bindings[k].slot;
      if (slot != ops::Slot::CacheK && slot != ops::Slot::CacheV)
        continue;
      const CacheDesc &c = prog.caches[size_t(op.cache)];
      const uint64_t len = uint64_t(rows * c.numKVHeads * c.headDim) * 4;
      bindings[bindingStart[i] + size_t(k)] = lowbit_hal_binding{
          slot == ops::Slot::CacheK ? cacheK[size_t(op.cache)]
                                    : cacheV[size_t(op.cache)],
          0, len};
    }
  }
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
  // Grow the caches by doubling: a compare per step, a copy per doubling.
  if (position + T > cacheRows)
    resizeCaches(std::min(maxContext, std::max(position + T, 2 * cacheRows)));
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
  pc.cache_rows = cacheRows;
  // Without all_logits only the last row's logits are read: the tail (the
  // row-wise ops after the last attention) runs on that row alone.
  const bool lastRowOnly = !allLogits && T > 1;
  for (size_t i = 0; i < prog.ops.size(); ++i) {
    const Op &op = prog.ops[i];
    const bool lastRow = lastRowOnly && i >= tailStart;
    if (lastRow)
      pc.rows = 1;
    for (size_t k = transferStart[i]; k < transferStart[i + 1]; ++k) {
      const SessionTransfer &t = transfers[k];
      const uint64_t bytes = lastRow ? t.rowBytes : t.rowBytes * uint64_t(T);
      const uint64_t offset = lastRow ? t.rowBytes * uint64_t(T - 1) : 0;
      void *host = static_cast<char *>(t.host) + offset;
      if (t.fromCopiesToHost) {
        SessionDevice &A = devices[size_t(t.from)];
        throwIfFailed(A.v->copy_buffer_to_host(A.device, A.queue, t.src, offset,
                                               host, bytes),
                      op.context);
        A.dirty = true;
      } else {
        SessionDevice &B = devices[size_t(t.to)];
        throwIfFailed(B.v->copy_host_to_buffer(B.device, B.queue, host, t.dst,
                                               offset, bytes),
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
    const lowbit_hal_binding *bound = bindings.data() + b0;
    if (lastRow) {
      for (size_t k = 0; k < nb; ++k) {
        lowbit_hal_binding b = bound[k];
        if (const uint64_t row = bindingRowBytes[b0 + k]) {
          b.offset += row * uint64_t(T - 1);
          b.length = row;
        }
        lastRowBindings[k] = b;
      }
      bound = lastRowBindings.data();
    }
    throwIfFailed(sd.v->dispatch(sd.device, sd.queue, op.kernel, bound,
                                 int32_t(nb), &pc, sizeof(pc)),
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
  case LOWBIT_RT_UNTRUSTED:
    return "untrusted code";
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

namespace {
/// The code-loading policy of \p opts and the environment
/// (LOWBIT_NO_NATIVE_CODE, LOWBIT_TRUSTED_KEYS; lowbit_rt.h).
void applyTrustOptions(const lowbit_rt_model_options *opts, OpenOptions &o) {
  const char *noNative = std::getenv("LOWBIT_NO_NATIVE_CODE");
  o.noNativeCode = (opts && opts->no_native_code) ||
                   (noNative && *noNative && std::strcmp(noNative, "0") != 0);
  const char *keys = opts && opts->trusted_keys && *opts->trusted_keys
                         ? opts->trusted_keys
                         : std::getenv("LOWBIT_TRUSTED_KEYS");
  if (!keys)
    return;
  std::string list = keys;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos)
      end = list.size();
    if (end > start)
      o.trustedKeys.push_back(list.substr(start, end - start));
    start = end + 1;
  }
}
} // namespace

lowbit_rt_status lowbit_rt_model_open(const char *path, lowbit_rt_model **out) {
  CHECK_ARG(path && out, "lowbit_rt_model_open: null argument");
  OpenOptions o;
  applyTrustOptions(nullptr, o);
  return openModel(path, o, out);
}

lowbit_rt_status lowbit_rt_model_open_ex(const char *path,
                                         const lowbit_rt_model_options *opts,
                                         lowbit_rt_model **out) {
  CHECK_ARG(path && out, "lowbit_rt_model_open_ex: null argument");
  OpenOptions o;
  if (opts && opts->device)
    o.device = opts->device;
  applyTrustOptions(opts, o);
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
/// The first KV cache rows of a session without max_context (at least
/// max_batch); the caches double from there.
static constexpr int64_t kInitialCacheRows = 16;

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
    s->cacheRows =
        o.max_context
            ? s->maxContext
            : std::min(s->maxContext, std::max(s->maxBatch, kInitialCacheRows));
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

lowbit_rt_status lowbit_rt_session_truncate(lowbit_rt_session *session,
                                            int64_t n) {
  CHECK_ARG(session, "lowbit_rt_session_truncate: null session");
  if (n < 0 || n > session->position)
    return setError(LOWBIT_RT_INVALID_ARGUMENT,
                    "lowbit_rt_session_truncate: " + std::to_string(n) +
                        " is outside [0, " + std::to_string(session->position) +
                        "]");
  // The cache rows past `n` are overwritten by the next steps.
  session->position = n;
  session->haveLogits = false;
  return LOWBIT_RT_OK;
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

lowbit_rt_status lowbit_rt_model_eos_ids(const lowbit_rt_model *model,
                                         int32_t *ids, int64_t capacity,
                                         int64_t *n_out) {
  CHECK_ARG(model && n_out, "lowbit_rt_model_eos_ids: null argument");
  const std::vector<int32_t> &eos = model->m.eosIds;
  *n_out = static_cast<int64_t>(eos.size());
  if (!ids || capacity < *n_out)
    return setError(LOWBIT_RT_INVALID_ARGUMENT,
                    "lowbit_rt_model_eos_ids: capacity " +
                        std::to_string(capacity) + " is below the " +
                        std::to_string(eos.size()) + " ids");
  std::copy(eos.begin(), eos.end(), ids);
  return LOWBIT_RT_OK;
}

//===----------------------------------------------------------------------===//
// Chat
//===----------------------------------------------------------------------===//

struct lowbit_rt_chat {
  const Model *model = nullptr;
  ChatTemplate tpl;
  /// The family's end-of-turn token id (-1: none).
  int32_t endOfTurn = -1;
};

lowbit_rt_status lowbit_rt_chat_create(const lowbit_rt_model *model,
                                       const char *template_name,
                                       lowbit_rt_chat **out) {
  CHECK_ARG(model && out, "lowbit_rt_chat_create: null argument");
  const Model &m = model->m;
  if (!m.tokenizer)
    return noTokenizer("lowbit_rt_chat_create");
  return guarded([&] {
    const Tokenizer &tok = *m.tokenizer;
    // The texts the templates write for BOS/EOS.
    std::string bos, eos;
    if (m.tokenizerConfig) {
      bos = m.tokenizerConfig->bosToken;
      eos = m.tokenizerConfig->eosToken;
    }
    if (bos.empty() && m.bosId >= 0)
      bos = tok.idToToken(m.bosId);
    if (eos.empty() && !m.eosIds.empty())
      eos = tok.idToToken(m.eosIds[0]);
    std::optional<ChatTemplate> tpl;
    const std::string known = ChatTemplate::knownFamilies();
    if (template_name && *template_name) {
      tpl = ChatTemplate::fromName(template_name, bos, eos);
      if (!tpl)
        fail(LOWBIT_RT_INVALID_ARGUMENT,
             std::string("unknown chat template '") + template_name +
                 "' (known: " + known + ")");
    } else {
      if (!m.tokenizerConfig || !m.tokenizerConfig->chatTemplate)
        fail(LOWBIT_RT_UNSUPPORTED,
             "the bundle has no chat template (no tokenizer_config "
             "chat_template in its manifest); pick one of: " +
                 known);
      std::string err;
      tpl = ChatTemplate::recognize(*m.tokenizerConfig->chatTemplate, bos, eos,
                                    err);
      if (!tpl)
        fail(LOWBIT_RT_UNSUPPORTED, "the bundle's " + err);
    }
    auto chat = std::make_unique<lowbit_rt_chat>();
    chat->model = &m;
    chat->tpl = std::move(*tpl);
    std::string eot = chat->tpl.endOfTurnToken();
    if (!eot.empty()) {
      std::optional<int32_t> id = tok.tokenToId(eot);
      if (!id)
        fail(LOWBIT_RT_UNSUPPORTED,
             std::string("chat template '") + chat->tpl.name() +
                 "' ends turns with '" + eot +
                 "', which is not a token of this model's tokenizer");
      chat->endOfTurn = *id;
    }
    *out = chat.release();
  });
}

void lowbit_rt_chat_free(lowbit_rt_chat *chat) { delete chat; }

lowbit_rt_status lowbit_rt_chat_get_family(const lowbit_rt_chat *chat,
                                           const char **family) {
  CHECK_ARG(chat && family, "lowbit_rt_chat_get_family: null argument");
  *family = chat->tpl.name();
  return LOWBIT_RT_OK;
}

/// Renders messages, or fails with the status to return.
static std::string renderChat(const lowbit_rt_chat *chat,
                              const lowbit_rt_chat_message *messages, int64_t n,
                              int addGenerationPrompt, const char *fn) {
  std::vector<ChatMessage> conv;
  conv.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    if (!messages[i].role || !messages[i].content)
      fail(LOWBIT_RT_INVALID_ARGUMENT, std::string(fn) + ": message " +
                                           std::to_string(i) +
                                           " has a null role or content");
    conv.push_back({messages[i].role, messages[i].content});
  }
  std::string text, err;
  if (!chat->tpl.render(conv, addGenerationPrompt != 0, text, err))
    fail(LOWBIT_RT_INVALID_ARGUMENT, std::string(fn) + ": " + err);
  return text;
}

lowbit_rt_status lowbit_rt_chat_render(const lowbit_rt_chat *chat,
                                       const lowbit_rt_chat_message *messages,
                                       int64_t n, int add_generation_prompt,
                                       char *buf, size_t cap, size_t *len_out) {
  CHECK_ARG(chat && (messages || n == 0) && n >= 0 && len_out,
            "lowbit_rt_chat_render: bad argument");
  lowbit_rt_status st = LOWBIT_RT_OK;
  lowbit_rt_status g = guarded([&] {
    std::string text = renderChat(chat, messages, n, add_generation_prompt,
                                  "lowbit_rt_chat_render");
    st = copyText(text, buf, cap, len_out, "lowbit_rt_chat_render");
  });
  return g != LOWBIT_RT_OK ? g : st;
}

lowbit_rt_status lowbit_rt_chat_tokenize(const lowbit_rt_chat *chat,
                                         const lowbit_rt_chat_message *messages,
                                         int64_t n, int add_generation_prompt,
                                         int32_t *ids, int64_t capacity,
                                         int64_t *n_out) {
  CHECK_ARG(chat && (messages || n == 0) && n >= 0 && n_out,
            "lowbit_rt_chat_tokenize: bad argument");
  lowbit_rt_status st = LOWBIT_RT_OK;
  lowbit_rt_status g = guarded([&] {
    std::string text = renderChat(chat, messages, n, add_generation_prompt,
                                  "lowbit_rt_chat_tokenize");
    std::vector<int32_t> out;
    std::string err;
    bool addBos = chat->tpl.family() == ChatFamily::None;
    if (!chat->model->tokenizer->encode(text, addBos, out, err))
      fail(LOWBIT_RT_INTERNAL, "lowbit_rt_chat_tokenize: " + err);
    *n_out = static_cast<int64_t>(out.size());
    if (!ids || capacity < *n_out) {
      st = setError(LOWBIT_RT_INVALID_ARGUMENT,
                    "lowbit_rt_chat_tokenize: capacity " +
                        std::to_string(capacity) + " is below the " +
                        std::to_string(out.size()) + " ids");
      return;
    }
    std::copy(out.begin(), out.end(), ids);
  });
  return g != LOWBIT_RT_OK ? g : st;
}

lowbit_rt_status lowbit_rt_chat_stop(const lowbit_rt_chat *chat, int32_t token,
                                     lowbit_rt_stop_kind *kind) {
  CHECK_ARG(chat && kind, "lowbit_rt_chat_stop: null argument");
  const std::vector<int32_t> &eos = chat->model->eosIds;
  if (std::find(eos.begin(), eos.end(), token) != eos.end())
    *kind = LOWBIT_RT_STOP_EOS;
  else if (token >= 0 && token == chat->endOfTurn)
    *kind = LOWBIT_RT_STOP_END_OF_TURN;
  else
    *kind = LOWBIT_RT_STOP_NONE;
  return LOWBIT_RT_OK;
}
