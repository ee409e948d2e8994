//===- HostDevice.h - the shared part of CPU HAL drivers --------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A base for drivers whose device is the host CPU (`cpu`, `x86`): buffers
/// are host memory (imports wrap the bundle's mapping without a copy),
/// copies are memcpy, work completes synchronously (fences are signalled at
/// once), a queue owns the session's thread pool and scratch, and every op
/// but `qmatmul` runs on the portable kernel library (runtime/src/kernels).
/// A driver derives from HostDevice and supplies the quantized matmul: which
/// ones it supports, how to bind one (with its executable), and how to run
/// it. Its C vtable (lowbit_hal_device_vtable) is HostDevice::vtable().
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_HAL_HOSTDEVICE_H
#define LOWBITRT_HAL_HOSTDEVICE_H

#include "lowbitrt/Kernels.h"
#include "lowbitrt/OpTable.h"
#include "lowbitrt/hal.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lowbit::hal {

/// A status with \p code and \p message (allocates; failure paths only).
lowbit_hal_status makeStatus(lowbit_hal_status_code code,
                             const std::string &message);

/// Host memory, owned or wrapped.
/// Its data and size are an ops::HostMemory, so the op table's reference
/// implementations read bindings directly.
struct HostBuffer : lowbit::rt::ops::HostMemory {
  /// Allocated by buffer_allocate (freed with the buffer).
  std::unique_ptr<uint8_t[]> storage;
};

/// What a driver keeps for a bound qmatmul (derive from it).
struct HostQMatmul {
  virtual ~HostQMatmul() = default;
};

/// A host implementation of a graph op: the op table's reference
/// implementation (OpDef::reference), or a driver's own with its contract.
using HostOpFn = bool (*)(lowbit::rt::ops::OpCall &call);

/// A bound op: the descriptor's sizes and the precomputed constants.
struct HostKernel {
  lowbit_hal_op_desc desc{};
  /// The op's definition (lowbitrt/OpTable.h).
  const lowbit::rt::ops::OpDef *def = nullptr;
  /// The codec name desc.layout points at (the caller's pointer is only
  /// valid during kernel_create).
  std::string layout;
  /// What OpDef::prepare precomputed (rotary: the Dh/2 inverse frequencies).
  std::vector<double> constants;
  /// qmatmul: the driver's state.
  std::unique_ptr<HostQMatmul> qmatmul;
  /// Every other op: what dispatch runs (HostDevice::hostKernel, else the
  /// reference implementation).
  HostOpFn run = nullptr;
};

/// A session's stream: its thread pool and scratch.
struct HostQueue {
  std::unique_ptr<lowbit::rt::kernels::ThreadPool> pool;
  /// Scratch of the reference implementations (OpDef::scratchDoubles).
  std::vector<double> scratch;
  /// qmatmul scratch (floats), sized by HostDevice::qmatmulScratchFloats.
  std::vector<float> qmatmul;
};

struct HostFence {
  bool signalled = false;
};

/// The operands of one qmatmul dispatch, resolved to host pointers.
struct QMatmulArgs {
  const float *x = nullptr;
  int64_t T = 0;
  const uint8_t *packed = nullptr;
  uint64_t packedBytes = 0;
  const float *bias = nullptr;
  const int32_t *perm = nullptr;
  float *y = nullptr;
};

class HostDevice : public lowbit_hal_device {
public:
  HostDevice();
  virtual ~HostDevice() = default;

  /// The vtable every HostDevice uses (forwarding to the virtuals below).
  static const lowbit_hal_device_vtable *vtable();

  virtual const char *name() const = 0;
  /// lowbit_hal_device_vtable::description.
  virtual const char *description() const = 0;

  /// supports_op for every kind but qmatmul is true.
  virtual bool supportsQMatmul(const lowbit_hal_op_desc &op) const = 0;

  /// executable_load; the default accepts no format.
  virtual lowbit_hal_status loadExecutable(const char *format, const void *data,
                                           uint64_t size,
                                           lowbit_hal_executable **out);
  virtual void freeExecutable(lowbit_hal_executable *executable);

  /// Binds one qmatmul op (already known to be supported).
  virtual lowbit_hal_status
  createQMatmul(lowbit_hal_executable *executable, const lowbit_hal_op_desc &op,
                std::unique_ptr<HostQMatmul> &out) = 0;
  /// Floats of queue scratch a qmatmul needs on \p maxRows rows with a pool
  /// of \p threads threads.
  virtual int64_t qmatmulScratchFloats(const HostKernel &kernel,
                                       int64_t maxRows,
                                       unsigned threads) const = 0;
  /// Runs a bound qmatmul; must not allocate on success.
  virtual lowbit_hal_status runQMatmul(const HostKernel &kernel,
                                       const QMatmulArgs &args,
                                       HostQueue &queue) const = 0;

  /// The driver's own implementation of graph op \p op (not qmatmul), or
  /// null (the default) for the op table's reference implementation. It
  /// takes the same bindings, attributes and scratch (OpDef::scratchDoubles)
  /// as the reference and must be tested against it (lowbit-cts runs both).
  virtual HostOpFn hostKernel(const lowbit_hal_op_desc &op) const {
    (void)op;
    return nullptr;
  }

  /// dispatch of any kernel (HostKernel::run, or runQMatmul for the
  /// target's own kernel).
  lowbit_hal_status dispatch(HostQueue &queue, const HostKernel &kernel,
                             const lowbit_hal_binding *bindings, int32_t count,
                             const void *push, uint32_t pushSize) const;
};

} // namespace lowbit::hal

#endif // LOWBITRT_HAL_HOSTDEVICE_H
