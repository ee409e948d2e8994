//===- CalibrationData.cpp - reading and cutting calibration data -*- C++
//-*-===//
//
// loadCalibration and parseCalibration: token or text files cut into rows.
// No MLIR here, so the calibration fuzzer (test/Fuzz/CalibrationFuzzer.cpp)
// builds this file alone.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Calibration/Calibration.h"

#include "lowbit/Support/GgufTokenizer.h"
#include "lowbitrt/Kernels.h"
#include "lowbitrt/Tokenizer.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <numeric>

namespace lowbit {

static llvm::Error checkOptions(const CalibrationOptions &opts) {
  if (opts.seqLen < 2)
    return llvm::createStringError("calibration sequence length must be at "
                                   "least 2, got %lld",
                                   static_cast<long long>(opts.seqLen));
  if (opts.numSamples < 0)
    return llvm::createStringError("calibration sample count must be "
                                   "non-negative");
  return llvm::Error::success();
}

static bool isTokenFile(const CalibrationOptions &opts) {
  return llvm::sys::path::extension(opts.path) == ".bin";
}

llvm::Expected<CalibrationSet>
parseCalibration(llvm::StringRef data, const CalibrationOptions &opts,
                 const rt::Tokenizer *tokenizer) {
  if (llvm::Error err = checkOptions(opts))
    return std::move(err);
  std::vector<int32_t> ids;
  if (isTokenFile(opts)) {
    if (data.size() % 4 != 0)
      return llvm::createStringError(
          "%s: size %zu is not a multiple of 4 (expected int32 "
          "little-endian tokens)",
          opts.path.c_str(), data.size());
    ids.resize(data.size() / 4);
    for (size_t i = 0; i < ids.size(); ++i)
      ids[i] = static_cast<int32_t>(
          llvm::support::endian::read32le(data.data() + 4 * i));
  } else {
    if (!tokenizer)
      return llvm::createStringError(
          "%s: a text calibration file needs the model's tokenizer.json",
          opts.path.c_str());
    std::string err;
    if (!tokenizer->encode(data, /*addBos=*/true, ids, err))
      return llvm::createStringError("%s: cannot tokenize: %s",
                                     opts.path.c_str(), err.c_str());
  }
  int64_t available = static_cast<int64_t>(ids.size()) / opts.seqLen;
  if (available == 0)
    return llvm::createStringError("%s: %zu tokens, fewer than one row of %lld",
                                   opts.path.c_str(), ids.size(),
                                   static_cast<long long>(opts.seqLen));
  std::vector<int64_t> picked(available);
  std::iota(picked.begin(), picked.end(), 0);
  if (opts.numSamples > 0 && opts.numSamples < available) {
    // Fisher-Yates with the runtime's seeded generator, then file order.
    uint64_t state = opts.seed;
    for (int64_t i = available - 1; i > 0; --i) {
      uint64_t r = rt::kernels::nextRandom(state);
      std::swap(picked[i], picked[r % static_cast<uint64_t>(i + 1)]);
    }
    picked.resize(opts.numSamples);
    std::sort(picked.begin(), picked.end());
  }
  CalibrationSet set;
  set.seqLen = opts.seqLen;
  set.fileTokens = static_cast<int64_t>(ids.size());
  set.availableRows = available;
  for (int64_t row : picked)
    set.rows.emplace_back(ids.begin() + row * opts.seqLen,
                          ids.begin() + (row + 1) * opts.seqLen);
  return set;
}

llvm::Expected<CalibrationSet> loadCalibration(const CalibrationOptions &opts) {
  if (llvm::Error err = checkOptions(opts))
    return std::move(err);
  auto buffer = llvm::MemoryBuffer::getFile(opts.path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError("%s: %s", opts.path.c_str(),
                                   buffer.getError().message().c_str());
  std::unique_ptr<rt::Tokenizer> tok;
  if (!isTokenFile(opts)) {
    if (opts.tokenizerPath.empty())
      return llvm::createStringError(
          "%s: a text calibration file needs the model's tokenizer.json",
          opts.path.c_str());
    // A tokenizer.json (with its tokenizer_config.json), or a GGUF file's
    // tokenizer metadata.
    llvm::Expected<TokenizerTexts> texts =
        loadTokenizerTexts(opts.tokenizerPath);
    if (!texts)
      return texts.takeError();
    std::string err;
    tok = rt::Tokenizer::fromJSON(texts->tokenizerJSON, err, texts->configJSON);
    if (!tok)
      return llvm::createStringError("%s: %s", opts.tokenizerPath.c_str(),
                                     err.c_str());
  }
  return parseCalibration((*buffer)->getBuffer(), opts, tok.get());
}

} // namespace lowbit
