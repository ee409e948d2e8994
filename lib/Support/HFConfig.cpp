//===- HFConfig.cpp - Hugging Face model configuration --------------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/HFConfig.h"

#include "JSONLimits.h"
#include "lowbit/Support/ParamStore.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace lowbit;
using llvm::StringRef;
using llvm::Twine;

static llvm::Error makeError(const Twine &message) {
  return llvm::make_error<llvm::StringError>(message.str(),
                                             llvm::inconvertibleErrorCode());
}

static constexpr StringRef kLlama = "LlamaForCausalLM";
static constexpr StringRef kMistral = "MistralForCausalLM";
static constexpr StringRef kQwen2 = "Qwen2ForCausalLM";
static constexpr StringRef kSupported[] = {kLlama, kMistral, kQwen2};

llvm::ArrayRef<StringRef> lowbit::supportedArchitectures() {
  return kSupported;
}

static std::string supportedList() {
  std::string out;
  for (StringRef arch : kSupported) {
    if (!out.empty())
      out += ", ";
    out += arch.str();
  }
  return out;
}

/// Dimensions above this are rejected as implausible (this also keeps every
/// shape product far from int64 overflow).
static constexpr int64_t kMaxDim = int64_t(1) << 24;
static constexpr int64_t kMaxLayers = 4096;

namespace {
/// Typed, validated access to the keys of one config object.
class ConfigReader {
public:
  ConfigReader(const llvm::json::Object &object, StringRef fileName)
      : object(object), fileName(fileName) {}

  llvm::Error error(const Twine &message) const {
    return makeError(fileName + ": " + message);
  }

  /// The value of `key`, or nullptr when absent or null.
  const llvm::json::Value *get(StringRef key) const {
    const llvm::json::Value *v = object.get(key);
    if (!v || v->kind() == llvm::json::Value::Null)
      return nullptr;
    return v;
  }

  static std::string describe(const llvm::json::Value &value) {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << value;
    os.flush();
    if (text.size() > 40)
      text = text.substr(0, 37) + "...";
    return text;
  }

  /// Reads a positive integer; `fallback` (when > 0) is used if absent.
  llvm::Error readPositive(StringRef key, int64_t &out, int64_t fallback,
                           int64_t limit = kMaxDim) const {
    const llvm::json::Value *v = get(key);
    if (!v) {
      if (fallback > 0) {
        out = fallback;
        return llvm::Error::success();
      }
      return error("missing required key '" + key + "'");
    }
    std::optional<int64_t> i = v->getAsInteger();
    if (!i || v->kind() != llvm::json::Value::Number)
      return error("'" + key + "' must be an integer, got " + describe(*v));
    if (*i <= 0)
      return error("'" + key + "' must be positive, got " + Twine(*i));
    if (*i > limit)
      return error("'" + key + "' is " + Twine(*i) + ", above the limit of " +
                   Twine(limit));
    out = *i;
    return llvm::Error::success();
  }

  /// Reads a positive finite number, `fallback` if absent.
  llvm::Error readPositiveReal(const llvm::json::Object &from, StringRef key,
                               double &out, double fallback) const {
    const llvm::json::Value *v = from.get(key);
    if (!v || v->kind() == llvm::json::Value::Null) {
      out = fallback;
      return llvm::Error::success();
    }
    std::optional<double> d = v->getAsNumber();
    if (!d)
      return error("'" + key + "' must be a number, got " + describe(*v));
    if (!std::isfinite(*d) || *d <= 0)
      return error("'" + key + "' must be positive, got " + describe(*v));
    out = *d;
    return llvm::Error::success();
  }

  llvm::Error readBool(StringRef key, bool &out, bool fallback) const {
    const llvm::json::Value *v = get(key);
    if (!v) {
      out = fallback;
      return llvm::Error::success();
    }
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return error("'" + key + "' must be true or false, got " + describe(*v));
    out = *b;
    return llvm::Error::success();
  }

  /// Reads a token id given as an integer or a list of integers.
  llvm::Error readTokenIds(StringRef key, std::vector<int64_t> &out) const {
    out.clear();
    const llvm::json::Value *v = get(key);
    if (!v)
      return llvm::Error::success();
    auto readOne = [&](const llvm::json::Value &item) -> llvm::Error {
      std::optional<int64_t> i = item.getAsInteger();
      if (!i || *i < 0)
        return error(
            "'" + key +
            "' must be a non-negative integer or a list of them, got " +
            describe(*v));
      out.push_back(*i);
      return llvm::Error::success();
    };
    if (const llvm::json::Array *list = v->getAsArray()) {
      for (const llvm::json::Value &item : *list)
        if (llvm::Error err = readOne(item))
          return err;
      return llvm::Error::success();
    }
    return readOne(*v);
  }

  const llvm::json::Object &object;
  StringRef fileName;
};
} // namespace

/// Maps `model_type` to an architecture for configs without "architectures".
static StringRef architectureForModelType(StringRef modelType) {
  if (modelType == "llama")
    return kLlama;
  if (modelType == "mistral")
    return kMistral;
  if (modelType == "qwen2")
    return kQwen2;
  return "";
}

static llvm::Error readArchitecture(const ConfigReader &r, std::string &out) {
  if (const llvm::json::Value *v = r.get("architectures")) {
    const llvm::json::Array *list = v->getAsArray();
    if (!list || list->empty())
      return r.error("'architectures' must be a non-empty list of strings");
    std::optional<StringRef> first = (*list)[0].getAsString();
    if (!first)
      return r.error("'architectures' must be a non-empty list of strings");
    if (!llvm::is_contained(kSupported, *first))
      return r.error("unsupported architecture '" + *first +
                     "' (supported: " + supportedList() + ")");
    out = first->str();
    return llvm::Error::success();
  }
  if (const llvm::json::Value *v = r.get("model_type")) {
    std::optional<StringRef> modelType = v->getAsString();
    StringRef arch = modelType ? architectureForModelType(*modelType) : "";
    if (arch.empty())
      return r.error("missing 'architectures' and unsupported model_type " +
                     ConfigReader::describe(*v) +
                     " (supported: " + supportedList() + ")");
    out = arch.str();
    return llvm::Error::success();
  }
  return r.error("missing required key 'architectures' (supported: " +
                 supportedList() + ")");
}

/// Reads rope_theta and rope_scaling, either at the top level or from the
/// newer "rope_parameters" object.
static llvm::Error readRope(const ConfigReader &r, ModelConfig &config) {
  const llvm::json::Object *params = nullptr;
  if (const llvm::json::Value *v = r.get("rope_parameters")) {
    params = v->getAsObject();
    if (!params)
      return r.error("'rope_parameters' must be an object");
  }
  const llvm::json::Object &thetaFrom =
      params && params->get("rope_theta") ? *params : r.object;
  if (llvm::Error err =
          r.readPositiveReal(thetaFrom, "rope_theta", config.ropeTheta, 1e4))
    return err;

  const llvm::json::Object *scaling = params;
  if (const llvm::json::Value *v = r.get("rope_scaling")) {
    scaling = v->getAsObject();
    if (!scaling)
      return r.error("'rope_scaling' must be an object or null");
  }
  config.ropeScaling = RopeScaling();
  if (!scaling)
    return llvm::Error::success();
  std::optional<StringRef> type = scaling->getString("rope_type");
  if (!type)
    type = scaling->getString("type");
  if (!type || *type == "default")
    return llvm::Error::success();
  if (*type != "linear" && *type != "llama3")
    return r.error("rope_scaling type '" + *type +
                   "' is not supported (supported: default, linear, llama3)");
  RopeScaling &rs = config.ropeScaling;
  rs.type = type->str();
  if (llvm::Error err =
          r.readPositiveReal(*scaling, "factor", rs.factor, /*fallback=*/0))
    return err;
  if (rs.factor <= 0)
    return r.error("rope_scaling of type '" + *type + "' needs a 'factor'");
  if (rs.type == "llama3") {
    if (llvm::Error err = r.readPositiveReal(*scaling, "low_freq_factor",
                                             rs.lowFreqFactor, 1.0))
      return err;
    if (llvm::Error err = r.readPositiveReal(*scaling, "high_freq_factor",
                                             rs.highFreqFactor, 4.0))
      return err;
    double original = 0;
    if (llvm::Error err = r.readPositiveReal(
            *scaling, "original_max_position_embeddings", original, 8192))
      return err;
    if (original != std::floor(original) || original > double(kMaxDim))
      return r.error("rope_scaling 'original_max_position_embeddings' must be "
                     "a positive integer");
    rs.originalMaxPositions = int64_t(original);
    if (rs.highFreqFactor <= rs.lowFreqFactor)
      return r.error("rope_scaling 'high_freq_factor' must exceed "
                     "'low_freq_factor'");
  }
  return llvm::Error::success();
}

llvm::Expected<ModelConfig> lowbit::parseHFConfigJSON(StringRef text,
                                                      StringRef nameForErrors) {
  llvm::Expected<llvm::json::Value> root =
      detail::parseJSONObject(text, nameForErrors);
  if (!root)
    return root.takeError();
  const llvm::json::Object *object = root->getAsObject();
  ConfigReader r(*object, nameForErrors);

  ModelConfig config;
  if (llvm::Error err = readArchitecture(r, config.architecture))
    return err;
  bool isLlama = config.architecture == kLlama;
  bool isMistral = config.architecture == kMistral;
  bool isQwen2 = config.architecture == kQwen2;

  // Sizes have no defaults here: a config without them is not a real model.
  if (llvm::Error err = r.readPositive("hidden_size", config.hiddenSize, 0))
    return err;
  if (llvm::Error err =
          r.readPositive("intermediate_size", config.intermediateSize, 0))
    return err;
  if (llvm::Error err =
          r.readPositive("num_hidden_layers", config.numLayers, 0, kMaxLayers))
    return err;
  if (llvm::Error err =
          r.readPositive("num_attention_heads", config.numHeads, 0))
    return err;
  if (llvm::Error err = r.readPositive("vocab_size", config.vocabSize, 0))
    return err;
  if (llvm::Error err = r.readPositive("num_key_value_heads", config.numKVHeads,
                                       config.numHeads))
    return err;
  if (config.numHeads % config.numKVHeads != 0)
    return r.error("num_attention_heads (" + Twine(config.numHeads) +
                   ") is not a multiple of num_key_value_heads (" +
                   Twine(config.numKVHeads) + ")");
  if (!r.get("head_dim") && config.hiddenSize % config.numHeads != 0)
    return r.error("hidden_size (" + Twine(config.hiddenSize) +
                   ") is not a multiple of num_attention_heads (" +
                   Twine(config.numHeads) + ") and head_dim is not given");
  if (llvm::Error err = r.readPositive("head_dim", config.headDim,
                                       config.hiddenSize / config.numHeads))
    return err;
  if (config.numHeads * config.headDim > kMaxDim)
    return r.error("num_attention_heads * head_dim is above the limit of " +
                   Twine(kMaxDim));
  int64_t defaultPositions = isQwen2 ? 32768 : isMistral ? 131072 : 2048;
  if (llvm::Error err = r.readPositive("max_position_embeddings",
                                       config.maxPositions, defaultPositions))
    return err;

  if (llvm::Error err =
          r.readPositiveReal(*object, "rms_norm_eps", config.rmsNormEps, 1e-6))
    return err;
  if (llvm::Error err = readRope(r, config))
    return err;
  if (llvm::Error err =
          r.readBool("tie_word_embeddings", config.tieWordEmbeddings, false))
    return err;

  // Biases, as each architecture's modeling code creates them.
  if (isLlama) {
    bool attentionBias = false, mlpBias = false;
    if (llvm::Error err = r.readBool("attention_bias", attentionBias, false))
      return err;
    if (llvm::Error err = r.readBool("mlp_bias", mlpBias, false))
      return err;
    config.attentionBias = config.outputProjBias = attentionBias;
    config.mlpBias = mlpBias;
  } else if (isQwen2) {
    config.attentionBias = true;
  }

  // Sliding window: Mistral uses it whenever set; Qwen2 only on request.
  bool useWindow = isMistral;
  if (isQwen2)
    if (llvm::Error err = r.readBool("use_sliding_window", useWindow, false))
      return err;
  if (useWindow && r.get("sliding_window"))
    if (llvm::Error err = r.readPositive("sliding_window", config.slidingWindow,
                                         0, INT64_MAX))
      return err;

  config.hiddenAct = "silu";
  if (const llvm::json::Value *v = r.get("hidden_act")) {
    std::optional<StringRef> act = v->getAsString();
    if (!act || (*act != "silu" && *act != "swish"))
      return r.error("unsupported hidden_act " + ConfigReader::describe(*v) +
                     " (only \"silu\" is supported)");
  }

  std::vector<int64_t> bos;
  if (llvm::Error err = r.readTokenIds("bos_token_id", bos))
    return err;
  if (llvm::Error err = r.readTokenIds("eos_token_id", config.eosIds))
    return err;
  config.bosId = bos.empty() ? -1 : bos.front();
  config.eosId = config.eosIds.empty() ? -1 : config.eosIds.front();

  const llvm::json::Value *dtype = r.get("torch_dtype");
  if (!dtype)
    dtype = r.get("dtype");
  if (dtype) {
    std::optional<StringRef> str = dtype->getAsString();
    if (!str)
      return r.error("'torch_dtype' must be a string, got " +
                     ConfigReader::describe(*dtype));
    config.torchDtype = str->str();
  }
  return config;
}

llvm::Expected<ModelConfig> lowbit::parseHFConfig(StringRef path) {
  auto bufferOrErr = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!bufferOrErr)
    return makeError(path +
                     ": cannot open: " + bufferOrErr.getError().message());
  return parseHFConfigJSON((*bufferOrErr)->getBuffer(), path);
}

//===----------------------------------------------------------------------===//
// Expected tensors
//===----------------------------------------------------------------------===//

std::vector<ExpectedTensor> lowbit::expectedTensors(const ModelConfig &config) {
  const int64_t h = config.hiddenSize;
  const int64_t inter = config.intermediateSize;
  const int64_t qDim = config.numHeads * config.headDim;
  const int64_t kvDim = config.numKVHeads * config.headDim;
  std::vector<ExpectedTensor> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({std::move(name), std::move(shape), false});
  };
  auto addLinear = [&](const std::string &prefix, int64_t outDim, int64_t inDim,
                       bool bias) {
    add(prefix + ".weight", {outDim, inDim});
    if (bias)
      add(prefix + ".bias", {outDim});
  };

  add("model.embed_tokens.weight", {config.vocabSize, h});
  for (int64_t i = 0; i < config.numLayers; ++i) {
    std::string layer = "model.layers." + std::to_string(i) + ".";
    add(layer + "input_layernorm.weight", {h});
    addLinear(layer + "self_attn.q_proj", qDim, h, config.attentionBias);
    addLinear(layer + "self_attn.k_proj", kvDim, h, config.attentionBias);
    addLinear(layer + "self_attn.v_proj", kvDim, h, config.attentionBias);
    addLinear(layer + "self_attn.o_proj", h, qDim, config.outputProjBias);
    add(layer + "post_attention_layernorm.weight", {h});
    addLinear(layer + "mlp.gate_proj", inter, h, config.mlpBias);
    addLinear(layer + "mlp.up_proj", inter, h, config.mlpBias);
    addLinear(layer + "mlp.down_proj", h, inter, config.mlpBias);
  }
  add("model.norm.weight", {h});
  out.push_back({"lm_head.weight",
                 {config.vocabSize, h},
                 /*optional=*/config.tieWordEmbeddings});
  return out;
}

/// Buffers some exporters save that carry no learned parameters.
static bool isIgnoredTensor(StringRef name) {
  return name.ends_with("rotary_emb.inv_freq");
}

llvm::Error lowbit::checkTensors(const ParamStore &store,
                                 const ModelConfig &config,
                                 StringRef dirForErrors) {
  std::vector<std::string> problems;
  llvm::StringSet<> known;
  for (const ExpectedTensor &expected : expectedTensors(config)) {
    known.insert(expected.name);
    const TensorView *view = store.lookup(expected.name);
    if (!view) {
      if (!expected.optional)
        problems.push_back("missing tensor '" + expected.name +
                           "' (expected shape " + formatShape(expected.shape) +
                           ")");
      continue;
    }
    if (view->shape != expected.shape)
      problems.push_back("tensor '" + expected.name + "' has shape " +
                         formatShape(view->shape) + " but the config implies " +
                         formatShape(expected.shape));
    if (view->dtype != DType::F32 && view->dtype != DType::F16 &&
        view->dtype != DType::BF16)
      problems.push_back("tensor '" + expected.name + "' has dtype " +
                         dtypeName(view->dtype).str() +
                         ", expected F32, F16 or BF16");
  }
  for (const std::string &name : store.names())
    if (!known.contains(name) && !isIgnoredTensor(name))
      problems.push_back("unexpected tensor '" + name + "'");

  if (problems.empty())
    return llvm::Error::success();
  constexpr size_t kMaxListed = 10;
  std::string message;
  llvm::raw_string_ostream os(message);
  os << dirForErrors << ": " << problems.size()
     << (problems.size() == 1 ? " problem" : " problems")
     << " with the checkpoint tensors for " << config.architecture << " ("
     << config.numLayers << " layers, hidden " << config.hiddenSize << ")";
  for (size_t i = 0; i < problems.size() && i < kMaxListed; ++i)
    os << "\n  " << problems[i];
  if (problems.size() > kMaxListed)
    os << "\n  ... and " << (problems.size() - kMaxListed) << " more";
  os.flush();
  return makeError(message);
}
