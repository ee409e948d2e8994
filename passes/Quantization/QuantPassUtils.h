//===- QuantPassUtils.h - helpers shared by quantization passes -*- C++ -*-===//

#ifndef LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H
#define LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H

#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Quant/QuantSession.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace lowbit {

/// Emits `err` on `op` and returns failure.
inline mlir::LogicalResult emitErr(mlir::Operation *op, llvm::Error err) {
  op->emitError() << llvm::toString(std::move(err));
  return mlir::failure();
}

/// `pass` in the canonical form provenance records (ParamResolver::Step):
/// its textual form, which spells out every option with defaults in a fixed
/// (sorted) order, without the options in `dropped` (where results go, not
/// how they are made) and with the values of the options in `files`
/// reduced to their base name (the file's contents are identified by hash).
inline std::string
canonicalPassText(mlir::Pass &pass, llvm::ArrayRef<llvm::StringLiteral> dropped,
                  llvm::ArrayRef<llvm::StringLiteral> files) {
  std::string text;
  llvm::raw_string_ostream os(text);
  pass.printAsTextualPipeline(os);
  llvm::StringRef all(text);
  size_t open = all.find('{');
  if (open == llvm::StringRef::npos || !all.ends_with("}"))
    return text;
  // Split `k=v k=v ...` at the spaces outside braces and quotes.
  llvm::StringRef body = all.slice(open + 1, all.size() - 1);
  llvm::SmallVector<llvm::StringRef> options;
  int depth = 0;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i <= body.size(); ++i) {
    char c = i < body.size() ? body[i] : ' ';
    if (c == '"')
      quoted = !quoted;
    else if (!quoted && c == '{')
      ++depth;
    else if (!quoted && c == '}')
      --depth;
    else if (!quoted && depth == 0 && c == ' ') {
      if (i > start)
        options.push_back(body.slice(start, i));
      start = i + 1;
    }
  }
  std::string out = all.take_front(open).str();
  llvm::raw_string_ostream result(out);
  result << '{';
  bool first = true;
  for (llvm::StringRef option : options) {
    auto [key, value] = option.split('=');
    if (llvm::is_contained(dropped, key))
      continue;
    result << (first ? "" : " ") << key << '=';
    first = false;
    if (llvm::is_contained(files, key) && !value.empty())
      result << llvm::sys::path::filename(value);
    else
      result << value;
  }
  result << '}';
  return out;
}

/// Options of the quantization passes that say where results go.
inline constexpr llvm::StringLiteral kOutputOptions[] = {
    "output-params", "report", "scope", "write-params"};

} // namespace lowbit

#endif // LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H
