//===- CtsDevice.h - driving one HAL device in the conformance suite -*- C++
//-*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Helpers of the conformance suite (runtime/cts, docs/runtime-hal.md): a
/// device of the registry with a queue and fence, buffers filled from host
/// vectors through the HAL's copies (never through host pointers, so a
/// discrete device is driven the same way), one dispatch, and the results
/// read back. Failures are gtest failures naming the device and op.
///
/// Code providers: a driver whose kernels come from a code blob needs the
/// compiler to produce one for a qmatmul case. codeFor() asks the provider
/// table (CtsCode.cpp; `x86` builds the generated kernels with the x86
/// kernel generator); a driver without a provider gets no executable and the
/// scheme fields only, which is all `cpu` needs.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CTS_CTSDEVICE_H
#define LOWBIT_CTS_CTSDEVICE_H

#include "lowbitrt/hal.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace lowbit::cts {

/// A qmatmul case: the scheme and shapes its code is generated for.
struct QMatmulCase {
  int bits = 4;
  int64_t groupSize = 32;
  bool symmetric = true;
  bool f16Scales = false;
  bool perm = false;
  bool bias = false;
  int64_t N = 40;
  int64_t K = 160;
  std::string name() const;
};

/// What a driver needs besides the op to bind a qmatmul case.
struct CaseCode {
  /// Empty: no executable.
  std::string format;
  std::vector<char> blob;
  /// The op's manifest object (scheme fields + the driver's own).
  std::string opJson;
};

/// Builds the code of every case for driver \p driver at once (one library)
/// and returns one CaseCode per case, or an empty vector when the driver
/// has no provider (then each case gets no blob and the scheme fields).
std::vector<CaseCode> codeFor(const std::string &driver,
                              const std::vector<QMatmulCase> &cases,
                              std::string &error);

/// One device of the registry with a queue (2 threads) and a fence.
class Device {
public:
  explicit Device(const std::string &name);
  ~Device();
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;

  /// False (with a gtest failure) if the device could not be created.
  bool ok() const { return dev != nullptr; }
  const std::string &name() const { return deviceName; }
  lowbit_hal_device *get() const { return dev; }
  const lowbit_hal_device_vtable &v() const { return *dev->vtable; }

  /// A new buffer holding \p bytes of \p data (or zeros when data is null).
  lowbit_hal_buffer *upload(const void *data, uint64_t bytes);
  template <typename T> lowbit_hal_buffer *upload(const std::vector<T> &v) {
    return upload(v.data(), v.size() * sizeof(T));
  }
  lowbit_hal_buffer *zeros(uint64_t bytes) { return upload(nullptr, bytes); }
  /// \p n elements of \p buffer.
  template <typename T>
  std::vector<T> download(lowbit_hal_buffer *b, size_t n) {
    std::vector<T> out(n);
    downloadBytes(b, out.data(), n * sizeof(T));
    return out;
  }

  /// Loads a code blob (none when \p code.format is empty).
  bool load(const CaseCode &code);
  /// kernel_create; null with a gtest failure on error.
  lowbit_hal_kernel *kernel(const lowbit_hal_op_desc &op);
  /// queue_reserve + dispatch with whole-buffer bindings (null: absent).
  bool dispatch(lowbit_hal_kernel *k,
                const std::vector<lowbit_hal_buffer *> &bindings, int64_t rows,
                int64_t cacheRows = 0);
  /// Signals and waits the queue's fence.
  bool finish();

private:
  void downloadBytes(lowbit_hal_buffer *b, void *dst, uint64_t bytes);
  bool check(lowbit_hal_status s, const std::string &what);

  std::string deviceName;
  lowbit_hal_device *dev = nullptr;
  lowbit_hal_queue *queue = nullptr;
  lowbit_hal_fence *fence = nullptr;
  lowbit_hal_executable *exe = nullptr;
  std::vector<std::pair<lowbit_hal_buffer *, uint64_t>> buffers;
  std::vector<lowbit_hal_kernel *> kernels;
};

/// The names of every registered driver, in registry order.
std::vector<std::string> driverNames();

} // namespace lowbit::cts

#endif // LOWBIT_CTS_CTSDEVICE_H
