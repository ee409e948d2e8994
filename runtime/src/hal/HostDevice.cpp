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
  const lowbit::rt::ops::OpDef *def =
      op ? lowbit::rt::ops::opByKind(op->kind) : nullptr;
  if (!def)
    return 0;
  if (def->targetKernel)
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
  // The pointers of the descriptor are only valid during this call; the
  // layout is kept (qembedding's reference decodes rows with its codec).
  k->layout = op->layout ? op->layout : "";
  k->desc.layout = op->layout ? k->layout.c_str() : nullptr;
  k->desc.op_json = nullptr;
  k->desc.op_json_size = 0;
  k->desc.context = nullptr;
  k->def = lowbit::rt::ops::opByKind(op->kind);
  if (k->def->prepare) {
    std::string err = k->def->prepare(*op, k->constants);
    if (!err.empty())
      return invalid(ctx + ": " + err);
  }
  if (k->def->targetKernel) {
    if (lowbit_hal_status s = dev(d)->createQMatmul(exe, *op, k->qmatmul))
      return s;
  } else {
    k->run = dev(d)->hostKernel(*op);
    if (!k->run)
      k->run = k->def->reference;
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
  if (kernel.def->scratchDoubles) {
    size_t n = static_cast<size_t>(
        kernel.def->scratchDoubles(kernel.desc, cacheRows, queue.pool.get()));
    if (queue.scratch.size() < n)
      queue.scratch.resize(n);
  }
  if (kernel.def->targetKernel) {
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

lowbit_hal_status HostDevice::dispatch(HostQueue &queue,
                                       const HostKernel &kernel,
                                       const lowbit_hal_binding *bindings,
                                       int32_t count, const void *push,
                                       uint32_t pushSize) const {
  const lowbit_hal_op_desc &d = kernel.desc;
  const lowbit::rt::ops::OpDef &def = *kernel.def;
  if (count != def.numBindings)
    return invalid("dispatch: " + std::to_string(count) +
                   " bindings for an op that takes " +
                   std::to_string(def.numBindings));
  if (!push || pushSize < sizeof(lowbit_hal_push_constants))
    return invalid("dispatch: missing push constants");
  lowbit_hal_push_constants pc;
  std::memcpy(&pc, push, sizeof(pc));
  if (pc.rows < 0)
    return invalid("dispatch: negative row count");
  lowbit::rt::ops::OpCall call;
  call.desc = &d;
  call.constants = kernel.constants.data();
  call.rows = pc.rows;
  call.cacheRows = pc.cache_rows;
  call.bind = bindings;
  call.pool = queue.pool.get();
  call.scratch = queue.scratch.data();
  call.scratchSize = static_cast<int64_t>(queue.scratch.size());
  if (def.targetKernel) {
    QMatmulArgs a;
    a.T = pc.rows;
    a.x = call.get<const float>(0, pc.rows * d.cols, "x");
    a.packed = call.get<const uint8_t>(1, 0, "packed weight");
    a.packedBytes = bindings[1].length;
    a.bias = call.get<const float>(2, d.rows, "bias", true);
    a.perm = call.get<const int32_t>(3, d.cols, "perm", true);
    a.y = call.get<float>(4, pc.rows * d.rows, "out");
    if (!call.error.empty())
      return invalid(call.error);
    return runQMatmul(kernel, a, queue);
  }
  if (!kernel.run(call))
    return invalid(call.error);
  return nullptr;
}
