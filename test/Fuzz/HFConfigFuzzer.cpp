//===- HFConfigFuzzer.cpp - libFuzzer target for config.json parsing ------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary text to parseHFConfigJSON. Accepted configs must satisfy
// the invariants the rest of the compiler relies on, and their expected
// tensor list must be well formed.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/HFConfig.h"
#include "lowbit/Support/ParamStore.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <cstdlib>

using namespace lowbit;

static void check(bool condition) {
  if (!condition)
    std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<ModelConfig> config = parseHFConfigJSON(text, "fuzz.json");
  if (!config) {
    std::string message = llvm::toString(config.takeError());
    check(llvm::StringRef(message).starts_with("fuzz.json: "));
    return 0;
  }
  const ModelConfig &c = *config;
  check(c.hiddenSize > 0 && c.intermediateSize > 0 && c.numLayers > 0);
  check(c.numHeads > 0 && c.numKVHeads > 0 && c.headDim > 0);
  check(c.numHeads % c.numKVHeads == 0);
  check(c.vocabSize > 0 && c.maxPositions > 0);
  check(c.rmsNormEps > 0 && c.ropeTheta > 0);
  check(c.hiddenAct == "silu");

  std::vector<ExpectedTensor> tensors = expectedTensors(c);
  check(tensors.size() >= size_t(2 + 9 * c.numLayers));
  for (const ExpectedTensor &t : tensors) {
    check(!t.name.empty() && !t.shape.empty());
    for (int64_t d : t.shape)
      check(d > 0);
  }
  // An empty store reports every required tensor as missing.
  if (c.numLayers <= 8) {
    MemoryStore empty;
    llvm::Error err = checkTensors(empty, c, "fuzz");
    check(bool(err));
    llvm::consumeError(std::move(err));
  }
  return 0;
}
