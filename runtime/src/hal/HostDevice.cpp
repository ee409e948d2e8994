//===- HostDevice.cpp - the shared part of CPU HAL drivers ------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "HostDevice.h"

#include <algorithm>
#include <cstring>
#include <new>

using namespace lowbit::hal;
namespace kernels = lowbit::rt::kernels;

lowbit_hal_status lowbit::hal::makeStatus(lowbit_hal_status_code code,
                                          const std::string &message) {
  return lowbit_hal_make_status(code, message.c_str());
}

HostDevice::HostDevice() { lowbit_hal_device::vtable = HostDevice::vtable(); }

lowbit_hal_status HostDevice::loadExecutable(const char *format, const void *,
                                             uint64_t,
                                             lowbit_hal_executable **) {
  return makeStatus(LOWBIT_HAL_UNSUPPORTED,
                    std::string("device '") + name() +
                        "' loads no code blobs (format '" +
                        (format ? format : "") + "')");
}

void HostDevice::freeExecutable(lowbit_hal_executable *) {}

namespace {

HostDevice *dev(lowbit_hal_device *d) { return static_cast<HostDevice *>(d); }
const HostDevice *dev(const lowbit_hal_device *d) {
  return static_cast<const HostDevice *>(d);
}
HostBuffer *buf(lowbit_hal_buffer *b) {
  return reinterpret_cast<HostBuffer *>(b);
}
HostQueue *que(lowbit_hal_queue *q) { return reinterpret_cast<HostQueue *>(q); }
HostFence *fen(lowbit_hal_fence *f) { return reinterpret_cast<HostFence *>(f); }
const HostKernel *ker(const lowbit_hal_kernel *k) {
  return reinterpret_cast<const HostKernel *>(k);
}

lowbit_hal_status invalid(const std::string &msg) {
  return makeStatus(LOWBIT_HAL_INVALID_ARGUMENT, msg);
}

/// Checks a [offset, offset + bytes) range of \p b.
lowbit_hal_status checkRange(lowbit_hal_buffer *b, uint64_t offset,
                             uint64_t bytes, const char *what) {
  if (!b)
    return invalid(std::string(what) + ": null buffer");
  const HostBuffer *h = buf(b);
  if (offset > h->size || bytes > h->size - offset)
    return invalid(std::string(what) + ": range [" + std::to_string(offset) +
                   ", +" + std::to_string(bytes) + ") exceeds the buffer of " +
                   std::to_string(h->size) + " bytes");
  return nullptr;
}

void destroy(lowbit_hal_device *d) { delete dev(d); }
const char *name(const lowbit_hal_device *d) { return dev(d)->name(); }
const char *description(const lowbit_hal_device *d) {
  return dev(d)->description();
}

int supportsOp(const lowbit_hal_device *d, const lowbit_hal_op_desc *op) {
  if (!op || op->kind < 0 || op->kind >= LOWBIT_HAL_OP_KIND_COUNT)
    return 0;
  if (op->kind == LOWBIT_HAL_OP_QMATMUL)
    return dev(d)->supportsQMatmul(*op) ? 1 : 0;
  return 1;
}

lowbit_hal_status bufferAllocate(lowbit_hal_device *, uint64_t bytes,
                                 lowbit_hal_buffer **out) {
  if (!out)
    return invalid("buffer_allocate: null output");
  auto b = std::unique_ptr<HostBuffer>(new (std::nothrow) HostBuffer());
  if (!b)
    return makeStatus(LOWBIT_HAL_OUT_OF_MEMORY, "out of memory");
  // Zeroed, with the allocator's alignment (16 bytes: what the kernels
  // were tuned with when sessions held std::vector buffers).
  b->storage.reset(new (std::nothrow) uint8_t[bytes ? bytes : 1]());
  if (!b->storage)
    return makeStatus(LOWBIT_HAL_OUT_OF_MEMORY,
                      "cannot allocate " + std::to_string(bytes) + " bytes");
  b->data = b->storage.get();
  b->size = bytes;
  *out = reinterpret_cast<lowbit_hal_buffer *>(b.release());
  return nullptr;
}

lowbit_hal_status bufferImportHost(lowbit_hal_device *, const void *host,
                                   uint64_t bytes, uint32_t,
                                   lowbit_hal_buffer **out) {
  if (!out || (!host && bytes))
    return invalid("buffer_import_host: null argument");
  auto *b = new (std::nothrow) HostBuffer();
  if (!b)
    return makeStatus(LOWBIT_HAL_OUT_OF_MEMORY, "out of memory");
  // The host memory is the device's: no copy.
  b->data = static_cast<uint8_t *>(const_cast<void *>(host));
  b->size = bytes;
  *out = reinterpret_cast<lowbit_hal_buffer *>(b);
  return nullptr;
}

void bufferFree(lowbit_hal_device *, lowbit_hal_buffer *b) { delete buf(b); }

void *bufferHostPointer(lowbit_hal_device *, lowbit_hal_buffer *b) {
  return b ? buf(b)->data : nullptr;
}

lowbit_hal_status executableLoad(lowbit_hal_device *d, const char *format,
                                 const void *data, uint64_t size,
                                 lowbit_hal_executable **out) {
  if (!out || !format || (!data && size))
    return invalid("executable_load: null argument");
  return dev(d)->loadExecutable(format, data, size, out);
}

void executableFree(lowbit_hal_device *d, lowbit_hal_executable *e) {
  if (e)
    dev(d)->freeExecutable(e);
}

lowbit_hal_status kernelCreate(lowbit_hal_device *d, lowbit_hal_executable *exe,
                               const lowbit_hal_op_desc *op,
                               lowbit_hal_kernel **out) {
  if (!op || !out)
    return invalid("kernel_create: null argument");
  const std::string ctx = op->context ? op->context : "op";
  if (!supportsOp(d, op))
    return makeStatus(LOWBIT_HAL_UNSUPPORTED,
                      ctx + ": not supported by device '" + dev(d)->name() +
                          "'");
  auto k = std::make_unique<HostKernel>();
  k->desc = *op;
  // The pointers of the descriptor are only valid during this call.
  k->desc.layout = nullptr;
  k->desc.op_json = nullptr;
  k->desc.op_json_size = 0;
  k->desc.context = nullptr;
  switch (op->kind) {
  case LOWBIT_HAL_OP_ROTARY:
    if (op->head_dim < 2 || op->head_dim % 2 || !(op->theta > 0.0))
      return invalid(ctx + ": rotary needs an even head_dim and theta > 0");
    k->invFreq.resize(static_cast<size_t>(op->head_dim / 2));
    kernels::computeRotaryInvFreq(op->head_dim, op->theta, k->invFreq.data());
    break;
  case LOWBIT_HAL_OP_ATTENTION:
    if (op->num_heads <= 0 || op->num_kv_heads <= 0 || op->head_dim <= 0 ||
        op->num_heads % op->num_kv_heads)
      return invalid(ctx + ": attention heads " +
                     std::to_string(op->num_heads) + "/" +
                     std::to_string(op->num_kv_heads) + " are not valid");
    break;
  case LOWBIT_HAL_OP_QMATMUL:
    if (lowbit_hal_status s = dev(d)->createQMatmul(exe, *op, k->qmatmul))
      return s;
    break;
  default:
    break;
  }
  *out = reinterpret_cast<lowbit_hal_kernel *>(k.release());
  return nullptr;
}

void kernelFree(lowbit_hal_device *, lowbit_hal_kernel *k) {
  delete reinterpret_cast<HostKernel *>(k);
}

lowbit_hal_status queueCreate(lowbit_hal_device *,
                              const lowbit_hal_queue_options *options,
                              lowbit_hal_queue **out) {
  if (!out)
    return invalid("queue_create: null output");
  int32_t threads = options ? options->threads : 0;
  if (threads < 0)
    return invalid("queue_create: negative thread count");
  auto q = std::make_unique<HostQueue>();
  q->pool =
      std::make_unique<kernels::ThreadPool>(static_cast<unsigned>(threads));
  *out = reinterpret_cast<lowbit_hal_queue *>(q.release());
  return nullptr;
}

void queueFree(lowbit_hal_device *, lowbit_hal_queue *q) { delete que(q); }

lowbit_hal_status queueReserve(lowbit_hal_device *d, lowbit_hal_queue *q,
                               const lowbit_hal_kernel *k, int64_t maxRows,
                               int64_t cacheRows) {
  if (!q || !k || maxRows < 0 || cacheRows < 0)
    return invalid("queue_reserve: bad argument");
  HostQueue &queue = *que(q);
  const HostKernel &kernel = *ker(k);
  if (kernel.desc.kind == LOWBIT_HAL_OP_ATTENTION) {
    size_t n = static_cast<size_t>(kernels::attentionScratchSize(
        cacheRows, kernel.desc.head_dim, queue.pool.get()));
    if (queue.attention.size() < n)
      queue.attention.resize(n);
  } else if (kernel.desc.kind == LOWBIT_HAL_OP_QMATMUL) {
    size_t n = static_cast<size_t>(dev(d)->qmatmulScratchFloats(
        kernel, maxRows, queue.pool->getNumThreads()));
    if (queue.qmatmul.size() < n)
      queue.qmatmul.resize(n);
  }
  return nullptr;
}

lowbit_hal_status dispatchFn(lowbit_hal_device *d, lowbit_hal_queue *q,
                             const lowbit_hal_kernel *k,
                             const lowbit_hal_binding *bindings, int32_t count,
                             const void *push, uint32_t pushSize) {
  if (!q || !k || (!bindings && count))
    return invalid("dispatch: null argument");
  return dev(d)->dispatch(*que(q), *ker(k), bindings, count, push, pushSize);
}

lowbit_hal_status copyHostToBuffer(lowbit_hal_device *, lowbit_hal_queue *,
                                   const void *src, lowbit_hal_buffer *dst,
                                   uint64_t off, uint64_t bytes) {
  if (lowbit_hal_status s = checkRange(dst, off, bytes, "copy_host_to_buffer"))
    return s;
  if (bytes)
    std::memcpy(buf(dst)->data + off, src, bytes);
  return nullptr;
}

lowbit_hal_status copyBufferToHost(lowbit_hal_device *, lowbit_hal_queue *,
                                   lowbit_hal_buffer *src, uint64_t off,
                                   void *dst, uint64_t bytes) {
  if (lowbit_hal_status s = checkRange(src, off, bytes, "copy_buffer_to_host"))
    return s;
  if (bytes)
    std::memcpy(dst, buf(src)->data + off, bytes);
  return nullptr;
}

lowbit_hal_status copyBuffer(lowbit_hal_device *, lowbit_hal_queue *,
                             lowbit_hal_buffer *src, uint64_t srcOff,
                             lowbit_hal_buffer *dst, uint64_t dstOff,
                             uint64_t bytes) {
  if (lowbit_hal_status s = checkRange(src, srcOff, bytes, "copy_buffer"))
    return s;
  if (lowbit_hal_status s = checkRange(dst, dstOff, bytes, "copy_buffer"))
    return s;
  if (bytes)
    std::memmove(buf(dst)->data + dstOff, buf(src)->data + srcOff, bytes);
  return nullptr;
}

lowbit_hal_status fenceCreate(lowbit_hal_device *, lowbit_hal_fence **out) {
  if (!out)
    return invalid("fence_create: null output");
  *out = reinterpret_cast<lowbit_hal_fence *>(new HostFence());
  return nullptr;
}

void fenceFree(lowbit_hal_device *, lowbit_hal_fence *f) { delete fen(f); }

lowbit_hal_status queueSignal(lowbit_hal_device *, lowbit_hal_queue *q,
                              lowbit_hal_fence *f) {
  if (!q || !f)
    return invalid("queue_signal: null argument");
  // Work completes when it is submitted.
  fen(f)->signalled = true;
  return nullptr;
}

lowbit_hal_status fenceWait(lowbit_hal_device *, lowbit_hal_fence *f) {
  if (!f)
    return invalid("fence_wait: null fence");
  if (!fen(f)->signalled)
    return invalid("fence_wait: the fence was never signalled");
  fen(f)->signalled = false;
  return nullptr;
}

const lowbit_hal_device_vtable kVtable = {
    LOWBIT_HAL_API_VERSION,
    destroy,
    name,
    description,
    supportsOp,
    bufferAllocate,
    bufferImportHost,
    bufferFree,
    bufferHostPointer,
    executableLoad,
    executableFree,
    kernelCreate,
    kernelFree,
    queueCreate,
    queueFree,
    queueReserve,
    dispatchFn,
    copyHostToBuffer,
    copyBufferToHost,
    copyBuffer,
    fenceCreate,
    fenceFree,
    queueSignal,
    fenceWait,
};

} // namespace

const lowbit_hal_device_vtable *HostDevice::vtable() { return &kVtable; }

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

namespace {
/// Resolves the bindings of one dispatch to host pointers, checking each
/// range holds at least the bytes the op reads or writes.
struct Operands {
  const lowbit_hal_binding *b;
  int32_t count;
  lowbit_hal_status error = nullptr;

  /// The checks are a few compares per binding (inlined: dispatch is on the
  /// decode path); the messages are built only on failure.
  template <typename T>
  [[gnu::always_inline]] inline T *get(int i, int64_t elems, const char *what,
                                       bool optional = false) {
    const lowbit_hal_binding &x = b[i];
    const HostBuffer *h = buf(x.buffer);
    const uint64_t bytes = static_cast<uint64_t>(elems) * sizeof(T);
    if (!h && optional)
      return nullptr;
    if (__builtin_expect(!h || x.length < bytes || x.offset > h->size ||
                             x.length > h->size - x.offset,
                         0))
      return fail<T>(i, bytes, what, optional);
    return reinterpret_cast<T *>(h->data + x.offset);
  }

  template <typename T>
  [[gnu::noinline]] T *fail(int i, uint64_t bytes, const char *what,
                            bool optional) {
    const lowbit_hal_binding &x = b[i];
    if (error || (!x.buffer && optional))
      return nullptr;
    if (!x.buffer)
      error = invalid(std::string("dispatch: binding ") + std::to_string(i) +
                      " (" + what + ") is missing");
    else
      error = invalid(std::string("dispatch: binding ") + std::to_string(i) +
                      " (" + what + ") of " + std::to_string(x.length) +
                      " bytes at offset " + std::to_string(x.offset) +
                      " does not hold the " + std::to_string(bytes) +
                      " bytes needed");
    return nullptr;
  }
};

lowbit_hal_status kernelError(const char *op, const std::string &msg) {
  return makeStatus(LOWBIT_HAL_INVALID_ARGUMENT, std::string(op) + ": " + msg);
}
} // namespace

lowbit_hal_status HostDevice::dispatch(HostQueue &queue,
                                       const HostKernel &kernel,
                                       const lowbit_hal_binding *bindings,
                                       int32_t count, const void *push,
                                       uint32_t pushSize) const {
  const lowbit_hal_op_desc &d = kernel.desc;
  if (count != lowbit_hal_op_binding_count(d.kind))
    return invalid("dispatch: " + std::to_string(count) +
                   " bindings for an op that takes " +
                   std::to_string(lowbit_hal_op_binding_count(d.kind)));
  if (!push || pushSize < sizeof(lowbit_hal_push_constants))
    return invalid("dispatch: missing push constants");
  lowbit_hal_push_constants pc;
  std::memcpy(&pc, push, sizeof(pc));
  const int64_t T = pc.rows;
  if (T < 0)
    return invalid("dispatch: negative row count");
  kernels::ThreadPool *tp = queue.pool.get();
  Operands o{bindings, count};
  switch (d.kind) {
  case LOWBIT_HAL_OP_EMBEDDING: {
    const float *table = o.get<const float>(0, d.rows * d.cols, "table");
    const int32_t *ids = o.get<const int32_t>(1, T, "ids");
    float *out = o.get<float>(2, T * d.cols, "out");
    if (o.error)
      return o.error;
    kernels::Status s = kernels::embedding(table, d.rows, d.cols, ids, T, out);
    if (!s)
      return kernelError("embedding", s.message());
    return nullptr;
  }
  case LOWBIT_HAL_OP_RMS_NORM: {
    const float *x = o.get<const float>(0, T * d.cols, "x");
    const float *w = o.get<const float>(1, d.cols, "weight");
    float *out = o.get<float>(2, T * d.cols, "out");
    if (o.error)
      return o.error;
    kernels::rmsNorm(x, T, d.cols, w, d.eps, out, tp);
    return nullptr;
  }
  case LOWBIT_HAL_OP_LINEAR: {
    const float *x = o.get<const float>(0, T * d.cols, "x");
    const float *w = o.get<const float>(1, d.rows * d.cols, "weight");
    const float *bias = o.get<const float>(2, d.rows, "bias", true);
    float *out = o.get<float>(3, T * d.rows, "out");
    if (o.error)
      return o.error;
    kernels::linear(x, T, d.cols, w, d.rows, bias, out);
    return nullptr;
  }
  case LOWBIT_HAL_OP_QMATMUL: {
    QMatmulArgs a;
    a.T = T;
    a.x = o.get<const float>(0, T * d.cols, "x");
    a.packed = o.get<const uint8_t>(1, 0, "packed weight");
    a.packedBytes = bindings[1].length;
    a.bias = o.get<const float>(2, d.rows, "bias", true);
    a.perm = o.get<const int32_t>(3, d.cols, "perm", true);
    a.y = o.get<float>(4, T * d.rows, "out");
    if (o.error)
      return o.error;
    return runQMatmul(kernel, a, queue);
  }
  case LOWBIT_HAL_OP_ROTARY: {
    const int64_t n = T * d.num_heads * d.head_dim;
    const float *x = o.get<const float>(0, n, "x");
    const int32_t *pos = o.get<const int32_t>(1, T, "positions");
    float *out = o.get<float>(2, n, "out");
    if (o.error)
      return o.error;
    if (out != x)
      std::copy(x, x + n, out);
    kernels::rotary(out, T, d.num_heads, d.head_dim, pos, kernel.invFreq.data(),
                    (d.flags & LOWBIT_HAL_OP_ROTARY_INTERLEAVED)
                        ? kernels::RotaryStyle::Interleaved
                        : kernels::RotaryStyle::HalfSplit,
                    tp);
    return nullptr;
  }
  case LOWBIT_HAL_OP_ATTENTION: {
    const int64_t qCols = d.num_heads * d.head_dim;
    const int64_t kvCols = d.num_kv_heads * d.head_dim;
    const int64_t C = pc.cache_rows;
    const float *q = o.get<const float>(0, T * qCols, "q");
    const float *k = o.get<const float>(1, T * kvCols, "k");
    const float *v = o.get<const float>(2, T * kvCols, "v");
    const int32_t *pos = o.get<const int32_t>(3, T, "positions");
    kernels::KVCacheView cache;
    cache.k = o.get<float>(4, C * kvCols, "k cache");
    cache.v = o.get<float>(5, C * kvCols, "v cache");
    cache.maxCtx = C;
    cache.numKVHeads = d.num_kv_heads;
    cache.headDim = d.head_dim;
    float *out = o.get<float>(6, T * qCols, "out");
    if (o.error)
      return o.error;
    kernels::Status s =
        kernels::attention(q, k, v, pos, T, d.num_heads, d.num_kv_heads,
                           d.head_dim, cache, out, tp, queue.attention.data(),
                           static_cast<int64_t>(queue.attention.size()));
    if (!s)
      return kernelError("attention", s.message());
    return nullptr;
  }
  case LOWBIT_HAL_OP_GATED_ACT:
  case LOWBIT_HAL_OP_ADD: {
    const int64_t n = T * d.cols;
    const float *a = o.get<const float>(0, n, "first input");
    const float *b = o.get<const float>(1, n, "second input");
    float *out = o.get<float>(2, n, "out");
    if (o.error)
      return o.error;
    if (d.kind == LOWBIT_HAL_OP_ADD)
      kernels::add(a, b, n, out, tp);
    else if (d.flags & LOWBIT_HAL_OP_GELU_TANH)
      kernels::geluTanhMul(a, b, n, out, tp);
    else
      kernels::siluMul(a, b, n, out, tp);
    return nullptr;
  }
  case LOWBIT_HAL_OP_KIND_COUNT:
    break;
  }
  return invalid("dispatch: unknown op kind");
}
