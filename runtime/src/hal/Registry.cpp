//===- Registry.cpp - the drivers built into the runtime --------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The table of HAL drivers, expanded from Drivers.inc, which
/// runtime/CMakeLists.txt generates from LOWBITRT_DRIVERS with one
/// LOWBIT_HAL_DRIVER(<name>) line per driver (`cpu` last). Each driver folder
/// defines `lowbit_hal_driver_<name>` (LOWBIT_HAL_DEFINE_DRIVER); nothing
/// here names a driver, and there are no static constructors.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/hal.h"

#include <string>

#define LOWBIT_HAL_DRIVER(NAME)                                                \
  extern "C" const lowbit_hal_driver lowbit_hal_driver_##NAME;
#include "Drivers.inc"
#undef LOWBIT_HAL_DRIVER

namespace {

/// In LOWBITRT_DRIVERS order, `cpu` last.
const lowbit_hal_driver *const kDrivers[] = {
#define LOWBIT_HAL_DRIVER(NAME) &lowbit_hal_driver_##NAME,
#include "Drivers.inc"
#undef LOWBIT_HAL_DRIVER
};

constexpr int32_t kNumDrivers =
    static_cast<int32_t>(sizeof(kDrivers) / sizeof(kDrivers[0]));

} // namespace

extern "C" int32_t lowbit_hal_driver_count(void) { return kNumDrivers; }

extern "C" const lowbit_hal_driver *lowbit_hal_driver_get(int32_t index) {
  return index >= 0 && index < kNumDrivers ? kDrivers[index] : nullptr;
}

extern "C" const char *lowbit_hal_driver_names(void) {
  // Defined by Drivers.inc: the names joined by ", ".
  return LOWBIT_HAL_DRIVER_NAMES;
}

extern "C" lowbit_hal_status
lowbit_hal_device_create(const char *name,
                         const lowbit_hal_device_params *params,
                         lowbit_hal_device **out) {
  if (!name || !out)
    return lowbit_hal_make_status(LOWBIT_HAL_INVALID_ARGUMENT,
                                  "lowbit_hal_device_create: null argument");
  for (const lowbit_hal_driver *d : kDrivers) {
    if (std::string(d->name) != name)
      continue;
    if (d->api_version != LOWBIT_HAL_API_VERSION)
      return lowbit_hal_make_status(
          LOWBIT_HAL_INTERNAL,
          ("driver '" + std::string(name) + "' implements HAL API version " +
           std::to_string(d->api_version) + ", this runtime version " +
           std::to_string(LOWBIT_HAL_API_VERSION))
              .c_str());
    lowbit_hal_device_params p{};
    if (params)
      p = *params;
    lowbit_hal_device *dev = nullptr;
    if (lowbit_hal_status s = d->create(&p, &dev))
      return s;
    if (!dev || !dev->vtable ||
        dev->vtable->api_version != LOWBIT_HAL_API_VERSION) {
      if (dev && dev->vtable && dev->vtable->destroy)
        dev->vtable->destroy(dev);
      return lowbit_hal_make_status(
          LOWBIT_HAL_INTERNAL,
          ("driver '" + std::string(name) +
           "' created a device with another HAL API version")
              .c_str());
    }
    *out = dev;
    return nullptr;
  }
  return lowbit_hal_make_status(
      LOWBIT_HAL_UNSUPPORTED,
      ("device '" + std::string(name) +
       "' is not supported by this runtime (available: " +
       lowbit_hal_driver_names() + ")")
          .c_str());
}

extern "C" void lowbit_hal_device_destroy(lowbit_hal_device *device) {
  if (device)
    device->vtable->destroy(device);
}
