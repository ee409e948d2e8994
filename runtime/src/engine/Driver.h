//===- Driver.h - the interface of runtime target drivers -------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The runtime side of a target (docs/adding-a-target.md): one folder
/// runtime/src/<name>/ per entry of the CMake list LOWBITRT_DRIVERS, which
/// defines `lowbitrtCreateDriver_<name>()` with LOWBIT_RT_DEFINE_DRIVER. The
/// engine creates one TargetDriver per loaded model, for the manifest's
/// `target`, and hands it everything target-specific:
///
///  - loading the bundle's code blob for the target (format tag check,
///    kernel library or module loading);
///  - binding each `qmatmul` program op: the fields the engine does not
///    check (packed weight layout and size, kernel list, ISA or device
///    choice) are validated here, after the engine has checked the generic
///    ones (buffer ids, N and K against the buffer columns, the bias and perm
///    tensors, perm being a permutation);
///  - running a bound op during a step.
///
/// The engine runs every other op itself on the CPU (runtime/src/kernels),
/// and the activations of a step live in host memory. runQMatmul therefore
/// takes host pointers today. A GPU driver (CUDA, Vulkan, Metal) fits the
/// same shape: load() creates the context and module and uploads the packed
/// weights, bindQMatmul() resolves the kernel and the device buffer of the
/// weight, runQMatmul() copies x in, launches and copies y back. When the
/// interpreter keeps activations on a device, this interface will gain
/// buffer hooks (allocate, upload, download, synchronize) next to these;
/// nothing here assumes the driver's memory is the host's beyond that.
///
/// Everything in this header is inline so a driver library does not link
/// the engine (the engine links the drivers).
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_ENGINE_DRIVER_H
#define LOWBITRT_ENGINE_DRIVER_H

#include "lowbitrt/Bundle.h"
#include "lowbitrt/lowbit_rt.h"

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

namespace lowbit::rt::kernels {
class ThreadPool;
} // namespace lowbit::rt::kernels

namespace lowbit::rt::engine {

class Fields;

/// A failure with the status the C API reports. Drivers throw it too: FORMAT
/// for a bundle that is malformed for the target, UNSUPPORTED for one this
/// runtime or machine cannot run (unknown format tag, no usable ISA).
class EngineError : public std::exception {
public:
  EngineError(lowbit_rt_status status, std::string message)
      : status(status), message(std::move(message)) {}
  const char *what() const noexcept override { return message.c_str(); }

  lowbit_rt_status status;
  std::string message;
};

/// The operands of a `qmatmul` op that the engine has already validated:
/// y[T, N] = x'[T, K] W^T (+ bias), with x'[t, j] = x[t, perm[j]] when a
/// permutation is given. Pointers point into the bundle (host memory).
struct QMatmulOperands {
  int64_t N = 0;
  int64_t K = 0;
  /// [N] f32, or null.
  const float *bias = nullptr;
  /// [K] i32, a permutation of [0, K), or null.
  const int32_t *perm = nullptr;
};

/// The runtime side of one target, for one loaded model. Not thread-safe
/// while loading; once the program is bound, runQMatmul may be called from
/// several sessions at once.
class TargetDriver {
public:
  virtual ~TargetDriver() = default;

  /// The target's lowercase name, equal to the manifest's `target` and to
  /// the LOWBITRT_DRIVERS entry.
  virtual const char *name() const = 0;

  /// Loads the bundle's code blob for this target. \p code is null when the
  /// bundle has none (a program without qmatmul ops needs none); a driver
  /// that needs code reports that when an op is bound. Throws EngineError:
  /// UNSUPPORTED for an unknown format tag, FORMAT for a blob that does not
  /// load.
  virtual void load(const BundleCode *code, const Bundle &bundle) = 0;

  /// Binds one `qmatmul` op: validates the target-specific fields of \p op
  /// (the op's JSON object; Fields::context() names the op for messages)
  /// against \p bundle and returns the handle of the bound op, an index
  /// into driver-owned state. Throws EngineError.
  virtual int bindQMatmul(const Fields &op, const Bundle &bundle,
                          const QMatmulOperands &operands) = 0;

  /// The floats of host scratch runQMatmul needs for bound op \p handle on
  /// up to \p maxRows rows (0: none). Sessions allocate the largest.
  virtual int64_t scratchFloats(int handle, int64_t maxRows) const = 0;

  /// Runs bound op \p handle on \p T rows of \p x [T, K] into \p y [T, N].
  /// \p scratch holds at least scratchFloats(handle, T) floats; \p pool
  /// (may be null) is the session's CPU thread pool. Must not allocate:
  /// decoding is allocation-free (test/Unit/Engine/EngineAllocTests.cpp).
  virtual void runQMatmul(int handle, const float *x, int64_t T, float *y,
                          float *scratch, kernels::ThreadPool *pool) const = 0;

  /// What lowbit_rt_model_info.isa reports once the program is bound: the
  /// instruction sets (or devices) chosen, e.g. "avx2" or "avx512+avxvnni";
  /// "none" when no op needed one.
  virtual std::string isaDescription() const = 0;
};

/// The drivers built into this runtime (LOWBITRT_DRIVERS), comma-separated
/// in list order, e.g. "x86".
std::string availableDrivers();

/// A new driver for \p target, or null when this runtime was built without
/// one (see availableDrivers()).
std::unique_ptr<TargetDriver> createDriver(const std::string &target);

} // namespace lowbit::rt::engine

/// Defines the factory of driver NAME, `lowbitrtCreateDriver_<NAME>()`, which
/// the engine's registry (DriverRegistry.cpp, expanding the generated
/// Drivers.inc) calls. Use once, at global scope, in runtime/src/<NAME>/.
#define LOWBIT_RT_DEFINE_DRIVER(NAME, CLASS)                                   \
  namespace lowbit::rt::engine {                                               \
  std::unique_ptr<TargetDriver> lowbitrtCreateDriver_##NAME();                 \
  std::unique_ptr<TargetDriver> lowbitrtCreateDriver_##NAME() {                \
    return std::make_unique<CLASS>();                                          \
  }                                                                            \
  }

#endif // LOWBITRT_ENGINE_DRIVER_H
