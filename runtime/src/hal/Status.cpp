//===- Status.cpp - HAL status values and op tables -------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// lowbit_hal_status objects (allocated only on failure) and the binding
/// counts of the op kinds of lowbitrt/hal.h (from lowbitrt/OpTable.h).
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/OpTable.h"
#include "lowbitrt/hal.h"

#include <cstdlib>
#include <cstring>
#include <new>

struct lowbit_hal_status_s {
  lowbit_hal_status_code code;
  char *message;
  /// The static out-of-memory status is never freed.
  bool isStatic;
};

namespace {
char kOutOfMemoryMessage[] = "out of memory";
lowbit_hal_status_s kOutOfMemory{LOWBIT_HAL_OUT_OF_MEMORY, kOutOfMemoryMessage,
                                 true};
} // namespace

extern "C" lowbit_hal_status lowbit_hal_make_status(lowbit_hal_status_code code,
                                                    const char *message) {
  if (code == LOWBIT_HAL_OK)
    code = LOWBIT_HAL_INTERNAL;
  auto *s = new (std::nothrow) lowbit_hal_status_s{code, nullptr, false};
  if (!s)
    return &kOutOfMemory;
  const char *m = message ? message : "";
  size_t n = std::strlen(m);
  s->message = static_cast<char *>(std::malloc(n + 1));
  if (!s->message) {
    delete s;
    return &kOutOfMemory;
  }
  std::memcpy(s->message, m, n + 1);
  return s;
}

extern "C" lowbit_hal_status_code
lowbit_hal_status_code_of(lowbit_hal_status status) {
  return status ? status->code : LOWBIT_HAL_OK;
}

extern "C" const char *lowbit_hal_status_message(lowbit_hal_status status) {
  return status ? status->message : "";
}

extern "C" void lowbit_hal_status_free(lowbit_hal_status status) {
  if (!status || status->isStatic)
    return;
  std::free(status->message);
  delete status;
}

extern "C" int lowbit_hal_op_binding_count(lowbit_hal_op_kind kind) {
  const lowbit::rt::ops::OpDef *def = lowbit::rt::ops::opByKind(kind);
  return def ? def->numBindings : -1;
}
