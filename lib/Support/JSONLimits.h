//===- JSONLimits.h - Guards run before llvm::json::parse ------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// llvm::json::parse recurses once per nesting level and has no depth limit,
// so untrusted JSON (checkpoint headers, config files) is scanned first and
// rejected when it nests deeper than any legitimate file would.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_SUPPORT_JSONLIMITS_H
#define LOWBIT_LIB_SUPPORT_JSONLIMITS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

namespace lowbit {
namespace detail {

/// Deepest array/object nesting accepted in untrusted JSON.
constexpr unsigned kMaxJSONDepth = 64;

/// Returns true when `text` opens more than `maxDepth` nested arrays or
/// objects at some point (brackets inside strings are not counted).
inline bool jsonNestsDeeperThan(llvm::StringRef text, unsigned maxDepth) {
  unsigned depth = 0;
  bool inString = false;
  bool escaped = false;
  for (char c : text) {
    if (inString) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth)
        return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

/// Parses `text` as a JSON object, refusing input nested deeper than
/// kMaxJSONDepth (llvm::json::parse recurses without a limit). Errors are
/// prefixed with `name`.
inline llvm::Expected<llvm::json::Value>
parseJSONObject(llvm::StringRef text, const llvm::Twine &name) {
  if (jsonNestsDeeperThan(text, kMaxJSONDepth))
    return llvm::createStringError(name + ": JSON nests deeper than " +
                                   llvm::Twine(kMaxJSONDepth) + " levels");
  llvm::Expected<llvm::json::Value> root = llvm::json::parse(text);
  if (!root)
    return llvm::createStringError(
        name + ": not valid JSON: " + llvm::toString(root.takeError()));
  if (!root->getAsObject())
    return llvm::createStringError(name + ": not a JSON object");
  return root;
}

} // namespace detail
} // namespace lowbit

#endif // LOWBIT_LIB_SUPPORT_JSONLIMITS_H
