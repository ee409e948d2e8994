//===- DriverRegistry.cpp - the drivers built into the runtime --*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The table of target drivers, expanded from Drivers.inc, which
/// runtime/CMakeLists.txt generates from LOWBITRT_DRIVERS with one
/// LOWBIT_RT_DRIVER(<name>) line per driver. Each driver folder defines
/// `lowbitrtCreateDriver_<name>()` (LOWBIT_RT_DEFINE_DRIVER); nothing here
/// names a target, and there are no static constructors.
///
//===----------------------------------------------------------------------===//

#include "Driver.h"

using namespace lowbit::rt::engine;

namespace lowbit::rt::engine {
#define LOWBIT_RT_DRIVER(NAME)                                                 \
  std::unique_ptr<TargetDriver> lowbitrtCreateDriver_##NAME();
#include "Drivers.inc"
#undef LOWBIT_RT_DRIVER
} // namespace lowbit::rt::engine

namespace {

struct DriverEntry {
  const char *name;
  std::unique_ptr<TargetDriver> (*create)();
};

/// In LOWBITRT_DRIVERS order; the last entry is a null sentinel, so the
/// array is valid even for a runtime built without drivers.
constexpr DriverEntry kDrivers[] = {
#define LOWBIT_RT_DRIVER(NAME) {#NAME, &lowbitrtCreateDriver_##NAME},
#include "Drivers.inc"
#undef LOWBIT_RT_DRIVER
    {nullptr, nullptr},
};

} // namespace

std::string lowbit::rt::engine::availableDrivers() {
  std::string names;
  for (const DriverEntry &d : kDrivers)
    if (d.name)
      names += (names.empty() ? "" : ", ") + std::string(d.name);
  return names.empty() ? "none" : names;
}

std::unique_ptr<TargetDriver>
lowbit::rt::engine::createDriver(const std::string &target) {
  for (const DriverEntry &d : kDrivers)
    if (d.name && target == d.name)
      return d.create();
  return nullptr;
}
