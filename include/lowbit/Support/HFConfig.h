//===- HFConfig.h - Hugging Face model configuration ------------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Parsing and validation of a Hugging Face `config.json` for the decoder-only
// architectures lowbit imports, and the tensor names and shapes such a
// checkpoint must contain.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_SUPPORT_HFCONFIG_H
#define LOWBIT_SUPPORT_HFCONFIG_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

class ParamStore;

/// RoPE frequency scaling (`rope_scaling` in config.json).
struct RopeScaling {
  /// "" when absent or "default"; otherwise "linear" or "llama3".
  std::string type;
  double factor = 1.0;
  /// llama3 only.
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositions = 0;
};

/// The model hyper-parameters lowbit needs, with Hugging Face's defaults
/// applied for keys the file leaves out.
struct ModelConfig {
  /// "LlamaForCausalLM", "MistralForCausalLM" or "Qwen2ForCausalLM".
  std::string architecture;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t vocabSize = 0;
  int64_t maxPositions = 0;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  bool tieWordEmbeddings = false;
  /// q/k/v projections have biases (always for Qwen2).
  bool attentionBias = false;
  /// o_proj has a bias (Llama/Mistral with attention_bias; never Qwen2).
  bool outputProjBias = false;
  /// gate/up/down projections have biases (Llama `mlp_bias`).
  bool mlpBias = false;
  /// Sliding-window attention span, 0 when attention is full.
  int64_t slidingWindow = 0;
  RopeScaling ropeScaling;
  /// -1 when absent. When the file gives a list, the first entry.
  int64_t bosId = -1;
  int64_t eosId = -1;
  /// Every end-of-sequence id the file lists.
  std::vector<int64_t> eosIds;
  std::string hiddenAct = "silu";
  /// `torch_dtype` (or `dtype`), "" when absent.
  std::string torchDtype;
};

/// The architectures parseHFConfig accepts.
llvm::ArrayRef<llvm::StringRef> supportedArchitectures();

/// Reads and validates `path` (a config.json).
llvm::Expected<ModelConfig> parseHFConfig(llvm::StringRef path);

/// Validates config JSON text; `nameForErrors` prefixes every message.
llvm::Expected<ModelConfig> parseHFConfigJSON(llvm::StringRef text,
                                              llvm::StringRef nameForErrors);

/// One tensor a checkpoint should contain, in Hugging Face layout
/// (linear weights are [out, in]).
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  /// May be absent (lm_head.weight when embeddings are tied).
  bool optional = false;
};

/// All tensors of a checkpoint for `config`, in a fixed order (embedding,
/// layers in order, final norm, lm_head).
std::vector<ExpectedTensor> expectedTensors(const ModelConfig &config);

/// Checks `store` against expectedTensors(config): missing tensors, shape
/// mismatches, non-floating-point dtypes and unexpected tensors (a few known
/// buffers such as `rotary_emb.inv_freq` are ignored). All problems are
/// collected into one error, prefixed by `dirForErrors`, listing up to ten.
llvm::Error checkTensors(const ParamStore &store, const ModelConfig &config,
                         llvm::StringRef dirForErrors);

} // namespace lowbit

#endif // LOWBIT_SUPPORT_HFCONFIG_H
