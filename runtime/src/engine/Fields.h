//===- Fields.h - typed access to manifest JSON objects ---------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Every manifest field is type-checked before it is read, so a manifest of
/// any shape gives either a valid program or an EngineError (status FORMAT)
/// naming the object and field at fault, never a crash or an exception of
/// the JSON library. Used by the engine (Model.cpp) and by target drivers for
/// the target-specific fields of a program op.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_ENGINE_FIELDS_H
#define LOWBITRT_ENGINE_FIELDS_H

#include "EngineError.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace lowbit::rt::engine {

/// Typed access to the fields of one JSON object; `ctx` prefixes messages.
class Fields {
public:
  using json = nlohmann::json;

  Fields(const json &obj, std::string ctx) : obj(obj), ctx(std::move(ctx)) {
    if (!obj.is_object())
      error(this->ctx + ": expected a JSON object");
  }

  const std::string &context() const { return ctx; }
  const json &object() const { return obj; }

  bool has(const char *key) const {
    auto it = obj.find(key);
    return it != obj.end() && !it->is_null();
  }

  const json &get(const char *key) const {
    auto it = obj.find(key);
    if (it == obj.end())
      error(ctx + ": missing field '" + key + "'");
    return *it;
  }

  int64_t integer(const char *key) const {
    const json &v = get(key);
    if (v.is_number_unsigned()) {
      if (v.get<uint64_t>() >
          static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        error(ctx + ": field '" + key + "' is out of range");
      return static_cast<int64_t>(v.get<uint64_t>());
    }
    if (!v.is_number_integer())
      error(ctx + ": field '" + key + "' must be an integer");
    return v.get<int64_t>();
  }

  /// An integer in [lo, hi].
  int64_t integer(const char *key, int64_t lo, int64_t hi) const {
    int64_t v = integer(key);
    if (v < lo || v > hi)
      error(ctx + ": field '" + key + "' = " + std::to_string(v) +
            " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) +
            "]");
    return v;
  }

  double number(const char *key) const {
    const json &v = get(key);
    if (!v.is_number())
      error(ctx + ": field '" + key + "' must be a number");
    double d = v.get<double>();
    if (!std::isfinite(d))
      error(ctx + ": field '" + key + "' must be finite");
    return d;
  }

  bool boolean(const char *key) const {
    const json &v = get(key);
    if (!v.is_boolean())
      error(ctx + ": field '" + key + "' must be a boolean");
    return v.get<bool>();
  }

  std::string string(const char *key) const {
    const json &v = get(key);
    if (!v.is_string())
      error(ctx + ": field '" + key + "' must be a string");
    return v.get<std::string>();
  }

  const json &array(const char *key) const {
    const json &v = get(key);
    if (!v.is_array())
      error(ctx + ": field '" + key + "' must be an array");
    return v;
  }

private:
  [[noreturn]] static void error(std::string msg) {
    throw EngineError(LOWBIT_RT_FORMAT, std::move(msg));
  }

  const json &obj;
  std::string ctx;
};

} // namespace lowbit::rt::engine

#endif // LOWBITRT_ENGINE_FIELDS_H
