//===- CalibrationFuzzer.cpp - libFuzzer target for calibration files -----===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to parseCalibration, the code behind
// `lowbit-compile --calib`. The first four bytes pick the options, the rest
// is the file:
//
//   byte 0: bit 0 set: a text file (`fuzz.txt`, encoded by the fixed
//           sentencepiece-style tokenizer calibration-tokenizer.json,
//           a byte-fallback BPE),
//           else a token file (`fuzz.bin`, int32 little-endian);
//   byte 1: the sequence length (0 and 1 are invalid);
//   byte 2: the sample count, as int8 (negative is invalid);
//   byte 3: the seed of the row selection.
//
// Errors must name the file (or the invalid option). A result must have the
// requested shape: rows of seqLen tokens, as many as asked for (or all rows),
// each a distinct row of the file in file order, and the same bytes give the
// same rows.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Calibration/Calibration.h"
#include "lowbitrt/Tokenizer.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace lowbit;

static void check(bool condition) {
  if (!condition)
    std::abort();
}

static std::unique_ptr<rt::Tokenizer> tokenizer;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  std::string err;
  tokenizer = rt::Tokenizer::fromFile(LOWBIT_CALIB_FUZZ_TOKENIZER, err);
  check(tokenizer != nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4)
    return 0;
  bool text = data[0] & 1;
  CalibrationOptions opts;
  opts.path = text ? "fuzz.txt" : "fuzz.bin";
  opts.seqLen = data[1];
  opts.numSamples = static_cast<int8_t>(data[2]);
  opts.seed = data[3];
  llvm::StringRef file(reinterpret_cast<const char *>(data + 4), size - 4);

  llvm::Expected<CalibrationSet> set =
      parseCalibration(file, opts, tokenizer.get());
  if (!set) {
    std::string message = llvm::toString(set.takeError());
    check(llvm::StringRef(message).starts_with(opts.path + ": ") ||
          llvm::StringRef(message).starts_with("calibration "));
    return 0;
  }
  check(opts.seqLen >= 2 && opts.numSamples >= 0);

  std::vector<int32_t> ids;
  if (text) {
    std::string err;
    check(tokenizer->encode(file, /*addBos=*/true, ids, err));
  } else {
    check(file.size() % 4 == 0);
    for (size_t i = 0; i < file.size(); i += 4)
      ids.push_back(static_cast<int32_t>(uint32_t(uint8_t(file[i])) |
                                         uint32_t(uint8_t(file[i + 1])) << 8 |
                                         uint32_t(uint8_t(file[i + 2])) << 16 |
                                         uint32_t(uint8_t(file[i + 3])) << 24));
  }
  int64_t available = static_cast<int64_t>(ids.size()) / opts.seqLen;
  int64_t expected = opts.numSamples > 0 && opts.numSamples < available
                         ? opts.numSamples
                         : available;
  check(set->seqLen == opts.seqLen);
  check(static_cast<int64_t>(set->rows.size()) == expected);
  // Each row is a row of the file, distinct and in file order: match the rows
  // greedily against the file's rows.
  int64_t next = 0;
  for (const std::vector<int32_t> &row : set->rows) {
    check(static_cast<int64_t>(row.size()) == opts.seqLen);
    while (next < available && !std::equal(row.begin(), row.end(),
                                           ids.begin() + next * opts.seqLen))
      ++next;
    check(next < available);
    ++next;
  }

  llvm::Expected<CalibrationSet> again =
      parseCalibration(file, opts, tokenizer.get());
  check(bool(again) && again->rows == set->rows);
  return 0;
}
