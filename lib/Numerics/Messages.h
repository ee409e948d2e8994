//===- Messages.h - error helpers private to lib/Numerics -------*- C++ -*-===//

#ifndef LOWBIT_LIB_NUMERICS_MESSAGES_H
#define LOWBIT_LIB_NUMERICS_MESSAGES_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdio>
#include <string>

namespace lowbit::numerics::detail {

inline llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(message);
}

/// A number for a message ("%g").
inline std::string formatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

} // namespace lowbit::numerics::detail

#endif // LOWBIT_LIB_NUMERICS_MESSAGES_H
