//===- CtsDevice.cpp - driving one HAL device in the conformance suite ----===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "CtsDevice.h"

#include "gtest/gtest.h"

using namespace lowbit::cts;

std::string QMatmulCase::name() const {
  return "b" + std::to_string(bits) + "_g" +
         (groupSize < 0 ? std::string("pc") : std::to_string(groupSize)) +
         (symmetric ? "_sym" : "_asym") + (f16Scales ? "_f16" : "_f32") +
         (perm ? "_perm" : "") + (bias ? "_bias" : "");
}

std::vector<std::string> lowbit::cts::driverNames() {
  std::vector<std::string> names;
  for (int32_t i = 0; i < lowbit_hal_driver_count(); ++i)
    names.push_back(lowbit_hal_driver_get(i)->name);
  return names;
}

Device::Device(const std::string &name) : deviceName(name) {
  if (!check(lowbit_hal_device_create(name.c_str(), nullptr, &dev),
             "device_create")) {
    dev = nullptr;
    return;
  }
  EXPECT_EQ(dev->vtable->api_version, uint32_t(LOWBIT_HAL_API_VERSION));
  EXPECT_STREQ(v().name(dev), name.c_str());
  lowbit_hal_queue_options qo{};
  qo.threads = 2;
  if (!check(v().queue_create(dev, &qo, &queue), "queue_create") ||
      !check(v().fence_create(dev, &fence), "fence_create")) {
    lowbit_hal_device_destroy(dev);
    dev = nullptr;
  }
}

Device::~Device() {
  if (!dev)
    return;
  for (lowbit_hal_kernel *k : kernels)
    v().kernel_free(dev, k);
  for (auto &b : buffers)
    v().buffer_free(dev, b.first);
  if (exe)
    v().executable_free(dev, exe);
  v().fence_free(dev, fence);
  v().queue_free(dev, queue);
  lowbit_hal_device_destroy(dev);
}

bool Device::check(lowbit_hal_status s, const std::string &what) {
  if (!s)
    return true;
  ADD_FAILURE() << "device '" << deviceName << "': " << what << ": "
                << lowbit_hal_status_message(s);
  lowbit_hal_status_free(s);
  return false;
}

lowbit_hal_buffer *Device::upload(const void *data, uint64_t bytes) {
  lowbit_hal_buffer *b = nullptr;
  if (!check(v().buffer_allocate(dev, bytes, &b), "buffer_allocate"))
    return nullptr;
  buffers.emplace_back(b, bytes);
  if (data && bytes)
    check(v().copy_host_to_buffer(dev, queue, data, b, 0, bytes),
          "copy_host_to_buffer");
  else if (bytes) {
    std::vector<uint8_t> z(bytes, 0);
    check(v().copy_host_to_buffer(dev, queue, z.data(), b, 0, bytes),
          "copy_host_to_buffer");
    finish();
  }
  return b;
}

void Device::downloadBytes(lowbit_hal_buffer *b, void *dst, uint64_t bytes) {
  check(v().copy_buffer_to_host(dev, queue, b, 0, dst, bytes),
        "copy_buffer_to_host");
  finish();
}

bool Device::finish() {
  return check(v().queue_signal(dev, queue, fence), "queue_signal") &&
         check(v().fence_wait(dev, fence), "fence_wait");
}

bool Device::load(const CaseCode &code) {
  if (code.format.empty())
    return true;
  return check(v().executable_load(dev, code.format.c_str(), code.blob.data(),
                                   code.blob.size(), &exe),
               "executable_load");
}

lowbit_hal_kernel *Device::kernel(const lowbit_hal_op_desc &op) {
  lowbit_hal_kernel *k = nullptr;
  if (!check(v().kernel_create(dev, exe, &op, &k),
             std::string("kernel_create ") + (op.context ? op.context : "")))
    return nullptr;
  kernels.push_back(k);
  return k;
}

bool Device::dispatch(lowbit_hal_kernel *k,
                      const std::vector<lowbit_hal_buffer *> &bindings,
                      int64_t rows, int64_t cacheRows) {
  std::vector<lowbit_hal_binding> b;
  for (lowbit_hal_buffer *buf : bindings) {
    lowbit_hal_binding x{};
    x.buffer = buf;
    for (auto &known : buffers)
      if (known.first == buf)
        x.length = known.second;
    b.push_back(x);
  }
  lowbit_hal_push_constants pc{};
  pc.rows = rows;
  pc.cache_rows = cacheRows;
  if (!check(v().queue_reserve(dev, queue, k, rows, cacheRows),
             "queue_reserve"))
    return false;
  return check(v().dispatch(dev, queue, k, b.data(), int32_t(b.size()), &pc,
                            sizeof(pc)),
               "dispatch") &&
         finish();
}
