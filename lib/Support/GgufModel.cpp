//===- GgufModel.cpp - Models stored as GGUF ------------------------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/GgufModel.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"

#include <cmath>
#include <cstring>

using namespace lowbit;
using llvm::StringRef;
using llvm::Twine;

static llvm::Error makeError(const Twine &message) {
  return llvm::make_error<llvm::StringError>(message.str(),
                                             llvm::inconvertibleErrorCode());
}

//===----------------------------------------------------------------------===//
// Configuration
//===----------------------------------------------------------------------===//

namespace {
/// Typed access to the `<arch>.` keys of one file.
class MetadataReader {
public:
  MetadataReader(const GgufFile &file, StringRef arch)
      : file(file), arch(arch) {}

  llvm::Error error(StringRef key, const Twine &message) const {
    return makeError(file.name() + ": metadata key '" + key + "': " + message);
  }

  /// A positive integer at `key` (prefixed by the architecture when
  /// `archKey`); `fallback` when absent, or an error when there is none.
  llvm::Error readPositive(StringRef suffix, int64_t &out,
                           std::optional<int64_t> fallback,
                           bool archKey = true) const {
    std::string key = archKey ? (arch + "." + suffix).str() : suffix.str();
    const GgufValue *value = file.lookupMetadata(key);
    if (!value) {
      if (!fallback)
        return makeError(file.name() + ": missing metadata key '" + key + "'");
      out = *fallback;
      return llvm::Error::success();
    }
    if (value->isArray())
      return error(key, "per-layer values (an array) are not supported");
    std::optional<int64_t> v = value->getAsInt64();
    if (!v || *v <= 0)
      return error(key, "must be a positive integer");
    out = *v;
    return llvm::Error::success();
  }

  llvm::Error readPositiveReal(StringRef suffix, double &out,
                               double fallback) const {
    std::string key = (arch + "." + suffix).str();
    const GgufValue *value = file.lookupMetadata(key);
    if (!value) {
      out = fallback;
      return llvm::Error::success();
    }
    std::optional<double> v = value->getAsDouble();
    if (!v || !(*v > 0) || !std::isfinite(*v))
      return error(key, "must be a positive finite number");
    out = *v;
    return llvm::Error::success();
  }

  /// A token id (non-negative integer), -1 when absent.
  llvm::Error readTokenId(StringRef key, int64_t &out) const {
    out = -1;
    const GgufValue *value = file.lookupMetadata(key);
    if (!value)
      return llvm::Error::success();
    std::optional<int64_t> v = value->getAsInt64();
    if (!v || *v < 0)
      return error(key, "must be a non-negative integer");
    out = *v;
    return llvm::Error::success();
  }

private:
  const GgufFile &file;
  StringRef arch;
};
} // namespace

llvm::Expected<ModelConfig> lowbit::modelConfigFromGguf(const GgufFile &file) {
  const GgufValue *archValue = file.lookupMetadata("general.architecture");
  if (!archValue)
    return makeError(file.name() +
                     ": missing metadata key 'general.architecture'");
  std::optional<StringRef> arch = archValue->getAsString();
  if (!arch)
    return makeError(file.name() +
                     ": metadata key 'general.architecture': not a string");
  ModelConfig c;
  if (*arch == "llama")
    c.architecture = "LlamaForCausalLM";
  else if (*arch == "qwen2")
    c.architecture = "Qwen2ForCausalLM";
  else
    return makeError(file.name() +
                     ": metadata key 'general.architecture': architecture '" +
                     *arch + "' is not supported (supported: llama, qwen2)");

  MetadataReader r(file, *arch);
  if (llvm::Error err = r.readPositive("embedding_length", c.hiddenSize, {}))
    return err;
  if (llvm::Error err =
          r.readPositive("feed_forward_length", c.intermediateSize, {}))
    return err;
  if (llvm::Error err = r.readPositive("block_count", c.numLayers, {}))
    return err;
  if (llvm::Error err = r.readPositive("attention.head_count", c.numHeads, {}))
    return err;
  if (llvm::Error err =
          r.readPositive("attention.head_count_kv", c.numKVHeads, c.numHeads))
    return err;
  if (c.hiddenSize % c.numHeads != 0)
    return makeError(file.name() + ": embedding_length " + Twine(c.hiddenSize) +
                     " is not a multiple of head_count " + Twine(c.numHeads));
  if (c.numHeads % c.numKVHeads != 0)
    return makeError(file.name() + ": head_count " + Twine(c.numHeads) +
                     " is not a multiple of head_count_kv " +
                     Twine(c.numKVHeads));
  if (llvm::Error err = r.readPositive("attention.key_length", c.headDim,
                                       c.hiddenSize / c.numHeads))
    return err;
  int64_t valueLength = 0, ropeDims = 0;
  if (llvm::Error err =
          r.readPositive("attention.value_length", valueLength, c.headDim))
    return err;
  if (valueLength != c.headDim)
    return r.error((*arch + ".attention.value_length").str(),
                   Twine(valueLength) + " differs from the key length " +
                       Twine(c.headDim) + " (not supported)");
  if (llvm::Error err =
          r.readPositive("rope.dimension_count", ropeDims, c.headDim))
    return err;
  if (ropeDims != c.headDim)
    return r.error((*arch + ".rope.dimension_count").str(),
                   "rotary embedding on " + Twine(ropeDims) + " of " +
                       Twine(c.headDim) + " head dimensions is not supported");
  const GgufValue *tokens = file.lookupMetadata("tokenizer.ggml.tokens");
  std::optional<int64_t> vocabFallback;
  if (tokens && tokens->isArray())
    vocabFallback = int64_t(tokens->size());
  if (llvm::Error err =
          r.readPositive("vocab_size", c.vocabSize, vocabFallback))
    return err;
  if (llvm::Error err = r.readPositive("context_length", c.maxPositions, {}))
    return err;
  if (llvm::Error err = r.readPositiveReal("attention.layer_norm_rms_epsilon",
                                           c.rmsNormEps, 1e-6))
    return err;
  if (llvm::Error err =
          r.readPositiveReal("rope.freq_base", c.ropeTheta, 10000.0))
    return err;
  std::string scalingKey = (*arch + ".rope.scaling.type").str();
  if (const GgufValue *scaling = file.lookupMetadata(scalingKey)) {
    std::optional<StringRef> type = scaling->getAsString();
    if (!type || (*type != "none" && !type->empty()))
      return r.error(scalingKey, "rope scaling '" +
                                     (type ? *type : StringRef("?")) +
                                     "' is not supported yet");
  }
  if (file.lookupMetadata((*arch + ".attention.sliding_window").str()))
    return r.error((*arch + ".attention.sliding_window").str(),
                   "sliding-window attention is not supported");
  c.tieWordEmbeddings = file.lookupTensor("output.weight") == nullptr;
  c.attentionBias = *arch == "qwen2";
  if (llvm::Error err = r.readTokenId("tokenizer.ggml.bos_token_id", c.bosId))
    return err;
  if (llvm::Error err = r.readTokenId("tokenizer.ggml.eos_token_id", c.eosId))
    return err;
  if (c.eosId >= 0)
    c.eosIds.push_back(c.eosId);
  return c;
}

//===----------------------------------------------------------------------===//
// Tensor names and layout
//===----------------------------------------------------------------------===//

std::optional<std::string> lowbit::hfTensorName(StringRef ggufName) {
  if (ggufName == "token_embd.weight")
    return std::string("model.embed_tokens.weight");
  if (ggufName == "output_norm.weight")
    return std::string("model.norm.weight");
  if (ggufName == "output.weight")
    return std::string("lm_head.weight");
  if (!ggufName.consume_front("blk."))
    return std::nullopt;
  auto [layer, rest] = ggufName.split('.');
  unsigned index;
  if (layer.empty() || layer.getAsInteger(10, index) ||
      layer != std::to_string(index))
    return std::nullopt;
  auto [part, suffix] = rest.rsplit('.');
  if (suffix != "weight" && suffix != "bias")
    return std::nullopt;
  static constexpr std::pair<const char *, const char *> kParts[] = {
      {"attn_norm", "input_layernorm"},
      {"ffn_norm", "post_attention_layernorm"},
      {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"},
      {"ffn_gate", "mlp.gate_proj"},
      {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
  };
  for (const auto &[gguf, hf] : kParts) {
    if (part != gguf)
      continue;
    // Norms have no bias.
    if (suffix == "bias" && StringRef(gguf).ends_with("norm"))
      return std::nullopt;
    return ("model.layers." + layer + "." + hf + "." + suffix).str();
  }
  return std::nullopt;
}

void lowbit::unpermuteLlamaRows(const float *in, float *out, int64_t rows,
                                int64_t cols, int64_t heads) {
  int64_t headDim = rows / heads, half = headDim / 2;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(out + (h * headDim + j * half + i) * cols,
                    in + (h * headDim + 2 * i + j) * cols,
                    size_t(cols) * sizeof(float));
}

//===----------------------------------------------------------------------===//
// GgufStore
//===----------------------------------------------------------------------===//

GgufStore::~GgufStore() = default;

/// The GGUF architecture name of a configuration modelConfigFromGguf made.
static StringRef archOf(const ModelConfig &c) {
  return c.architecture == "Qwen2ForCausalLM" ? "qwen2" : "llama";
}

llvm::Expected<std::unique_ptr<GgufStore>> GgufStore::open(StringRef path) {
  auto file = GgufFile::open(path);
  if (!file)
    return file.takeError();
  return create(std::move(*file));
}

llvm::Expected<std::unique_ptr<GgufStore>>
GgufStore::create(std::unique_ptr<GgufFile> file) {
  auto config = modelConfigFromGguf(*file);
  if (!config)
    return config.takeError();
  std::unique_ptr<GgufStore> store(new GgufStore());
  StringRef path = file->name();
  store->gguf = std::move(file);
  store->modelConfig = std::move(*config);
  const ModelConfig &c = store->modelConfig;
  bool llama = c.architecture == "LlamaForCausalLM";

  // Every layer of a model has tensors: a larger block_count is corrupt, and
  // would size the list of expected tensors below by an untrusted number.
  if (uint64_t(c.numLayers) > store->gguf->tensors().size())
    return makeError(path + ": metadata key '" + archOf(c) + ".block_count': " +
                     Twine(c.numLayers) + " layers, but the file has only " +
                     Twine(store->gguf->tensors().size()) + " tensors");
  std::map<std::string, std::vector<int64_t>> expected;
  for (const ExpectedTensor &t : expectedTensors(c))
    expected[t.name] = t.shape;
  for (const GgufTensor &t : store->gguf->tensors()) {
    auto fail = [&](const Twine &message) {
      return makeError(path + ": tensor '" + t.name + "': " + message);
    };
    std::optional<std::string> name = hfTensorName(t.name);
    if (!name)
      return fail("no Hugging Face counterpart for this tensor name");
    auto it = expected.find(*name);
    if (it == expected.end())
      return fail("'" + *name + "' is not a tensor of a " + c.architecture +
                  " with this configuration");
    if (t.shape() != it->second)
      return fail("shape " + formatShape(t.shape()) + " differs from " +
                  formatShape(it->second) + " that '" + *name +
                  "' has in this configuration");
    const GgmlTypeTraits &traits = ggmlTypeTraits(t.type);
    if (!traits.dequantizable)
      return fail(Twine("type ") + traits.name + " cannot be dequantized");
    Source source{&t, 0};
    if (llama && StringRef(*name).ends_with("q_proj.weight"))
      source.permuteHeads = c.numHeads;
    else if (llama && StringRef(*name).ends_with("k_proj.weight"))
      source.permuteHeads = c.numKVHeads;
    if (llama && (StringRef(*name).ends_with("q_proj.bias") ||
                  StringRef(*name).ends_with("k_proj.bias")))
      return fail("llama q/k biases are not supported");
    if (source.permuteHeads && (t.shape()[0] % (2 * source.permuteHeads)))
      return fail("rows are not a multiple of twice the head count");
    if (!store->sources.emplace(*name, source).second)
      return fail("a second tensor maps to '" + *name + "'");
  }
  return store;
}

const TensorView *GgufStore::lookup(StringRef name) const {
  auto source = sources.find(name);
  if (source == sources.end())
    return nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = loaded.find(name);
  if (it != loaded.end())
    return &it->second->view;
  const GgufTensor &t = *source->second.tensor;
  std::vector<float> values(size_t(t.numElements()));
  // Types and shapes were checked when the store was opened.
  llvm::cantFail(gguf->dequantize(t, values.data()));
  std::vector<int64_t> shape = t.shape();
  if (int64_t heads = source->second.permuteHeads) {
    std::vector<float> reordered(values.size());
    unpermuteLlamaRows(values.data(), reordered.data(), shape[0],
                       shape.size() > 1 ? shape[1] : 1, heads);
    values = std::move(reordered);
  }
  auto entry = std::make_unique<Loaded>();
  entry->tensor = OwnedTensor::fromF32(name, shape, values);
  entry->view = entry->tensor.view();
  const TensorView *view = &entry->view;
  loaded.emplace(name.str(), std::move(entry));
  return view;
}

std::vector<std::string> GgufStore::names() const {
  std::vector<std::string> out;
  out.reserve(sources.size());
  for (const auto &kv : sources)
    out.push_back(kv.first);
  return out;
}
