//===- EngineError.h - the engine's internal error --------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The exception the engine throws internally while loading a manifest
/// (Fields.h) and running steps; it stops at the C API (Engine.cpp) and at
/// the HAL (a driver that uses Fields.h catches it and returns a
/// lowbit_hal_status). It never crosses either interface.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_ENGINE_ENGINEERROR_H
#define LOWBITRT_ENGINE_ENGINEERROR_H

#include "lowbitrt/lowbit_rt.h"

#include <exception>
#include <string>

namespace lowbit::rt::engine {

/// A failure with the status the C API reports.
class EngineError : public std::exception {
public:
  EngineError(lowbit_rt_status status, std::string message)
      : status(status), message(std::move(message)) {}
  const char *what() const noexcept override { return message.c_str(); }

  lowbit_rt_status status;
  std::string message;
};

} // namespace lowbit::rt::engine

#endif // LOWBITRT_ENGINE_ENGINEERROR_H
