//===- QuantPassUtils.h - helpers shared by quantization passes -*- C++ -*-===//

#ifndef LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H
#define LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H

#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Quant/QuantSession.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace lowbit {

/// Seconds since `start` (progress lines).
inline double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

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

/// The float output projection of @forward (the last linear with a float
/// parameter weight): the `lm_head` linear, or a tied embedding table used
/// as one, whose quantized parameter is then named "lm_head" (the lookup
/// then reads it too: QuantSession's shareTiedTable).
inline llvm::Expected<std::vector<LayerChoice>>
selectOutputProjection(mlir::ModuleOp module,
                       const numerics::QuantParams &params) {
  auto entry = module.lookupSymbol<mlir::func::FuncOp>(attrs::kEntry);
  if (!entry)
    return llvm::createStringError("lm-head: the module has no @%s",
                                   attrs::kEntry.data());
  mlir::lowbit::LinearOp head = findFloatOutputProjection(module);
  if (!head)
    return llvm::createStringError("lm-head: @forward has no float output "
                                   "projection (already quantized?)");
  LayerChoice layer;
  layer.op = head;
  layer.weight = head.getWeight().getDefiningOp<mlir::lowbit::ParamOp>();
  layer.weightName = layer.weight.getName().str();
  bool tied = !layer.weight->hasOneUse();
  llvm::StringRef name = layer.weightName;
  name.consume_back(".weight");
  layer.name = tied ? "lm_head" : name.str();
  layer.block = entry;
  layer.params = params;
  return std::vector<LayerChoice>{std::move(layer)};
}

/// The float token-embedding tables of @forward that only lookups read (an
/// untied embedding), each a LayerChoice without a linear (`op` null),
/// named like RTN's layers (the weight name without `.weight`).
inline llvm::Expected<std::vector<LayerChoice>>
selectEmbeddingTables(mlir::ModuleOp module,
                      const numerics::QuantParams &params) {
  auto entry = module.lookupSymbol<mlir::func::FuncOp>(attrs::kEntry);
  if (!entry)
    return llvm::createStringError("embedding: the module has no @%s",
                                   attrs::kEntry.data());
  std::vector<LayerChoice> layers;
  for (mlir::lowbit::ParamOp table : findFloatEmbeddingTables(module)) {
    LayerChoice layer;
    layer.weight = table;
    layer.weightName = table.getName().str();
    llvm::StringRef name = layer.weightName;
    name.consume_back(".weight");
    layer.name = name.str();
    layer.block = entry;
    layer.params = params;
    layers.push_back(std::move(layer));
  }
  if (layers.empty())
    return llvm::createStringError(
        "embedding: @forward has no float embedding table read only by "
        "lookups (a tied table is quantized as the output projection, "
        "lm-head; already quantized?)");
  return layers;
}

/// Fails unless a calibration file was given to the calibration pass
/// `method` (checked before any other work).
inline llvm::Error requireCalibration(llvm::StringRef method,
                                      llvm::StringRef calib) {
  if (calib.empty())
    return llvm::createStringError("%s needs calibration data: pass "
                                   "calib=FILE (int32 tokens .bin or text)",
                                   method.str().c_str());
  return llvm::Error::success();
}

/// The calibration rows of a calibration pass (`progress` names it in the
/// warning printed when the file holds fewer rows than asked for): the file
/// `calib` (tokens or text through the module's tokenizer), cut into rows
/// of `seqLen` tokens, which must fit the model's positions.
inline llvm::Expected<CalibrationSet>
loadPassCalibration(mlir::ModuleOp module, llvm::StringRef progress,
                    llvm::StringRef calib, int64_t numSamples, int64_t seqLen,
                    uint64_t seed) {
  // Calibration rows run from position 0: longer rows than the model's
  // positions are an error.
  if (auto config = module->getAttrOfType<mlir::DictionaryAttr>(attrs::kConfig))
    if (auto maxPos =
            config.getAs<mlir::IntegerAttr>("max_position_embeddings"))
      if (seqLen > maxPos.getInt())
        return llvm::createStringError(
            "seqlen %lld exceeds the model's max_position_embeddings %lld",
            static_cast<long long>(seqLen),
            static_cast<long long>(maxPos.getInt()));
  CalibrationOptions options;
  options.path = calib.str();
  options.numSamples = numSamples;
  options.seqLen = seqLen;
  options.seed = seed;
  auto tokenizer =
      ParamResolver::get(module.getContext()).getTokenizerPath(module);
  if (!tokenizer)
    return tokenizer.takeError();
  options.tokenizerPath = *tokenizer;
  auto set = loadCalibration(options);
  if (!set)
    return set.takeError();
  // Reported like the progress lines (lowbit-compile shows no MLIR
  // warnings).
  if (numSamples > set->availableRows)
    llvm::errs() << progress << ": warning: nsamples " << numSamples << ": "
                 << calib << " has " << set->fileTokens
                 << " tokens, enough for " << set->availableRows << " rows of "
                 << seqLen << "; using " << set->rows.size() << " rows\n";
  return set;
}

/// Options of the quantization passes that say where results go.
inline constexpr llvm::StringLiteral kOutputOptions[] = {
    "output-params", "report", "scope", "write-params"};

} // namespace lowbit

#endif // LOWBIT_PASSES_QUANTIZATION_QUANTPASSUTILS_H
