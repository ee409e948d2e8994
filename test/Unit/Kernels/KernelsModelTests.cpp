//===- KernelsModelTests.cpp - kernels on the stories260k model -*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Runs a Llama forward pass built from the kernels on the shared stories260k
/// model and compares it with the golden float64 logits (to 1e-4), with the
/// greedy generation from BOS (through the KV-cache decode path), and checks
/// dequantizeRows against the RTN reference weights. The tests skip when
/// LOWBIT_SHARED_MODELS does not point at the shared models.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Kernels.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

using namespace lowbit::rt::kernels;

namespace {

//===----------------------------------------------------------------------===//
// A minimal safetensors reader for the test files
//===----------------------------------------------------------------------===//

struct Tensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<char> bytes;

  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  template <typename T> std::vector<T> as() const {
    std::vector<T> out(bytes.size() / sizeof(T));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
  }
};

/// Parses the integers of the JSON array that starts at or after \p at.
std::vector<int64_t> parseIntArray(const std::string &s, size_t at) {
  std::vector<int64_t> out;
  size_t open = s.find('[', at), close = s.find(']', open);
  std::string body = s.substr(open + 1, close - open - 1);
  const char *p = body.c_str();
  char *end = nullptr;
  for (;;) {
    while (*p == ' ' || *p == ',' || *p == '\n')
      ++p;
    if (!*p)
      break;
    out.push_back(std::strtoll(p, &end, 10));
    p = end;
  }
  return out;
}

class SafetensorsFile {
public:
  bool load(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      return false;
    data.assign(std::istreambuf_iterator<char>(in), {});
    if (data.size() < 8)
      return false;
    uint64_t headerLen = 0;
    std::memcpy(&headerLen, data.data(), 8);
    header.assign(data.data() + 8, headerLen);
    dataStart = 8 + headerLen;
    return true;
  }

  /// The tensor called \p name; the header entries of tensors are flat
  /// objects, so the first '}' after the key closes the entry.
  std::optional<Tensor> get(const std::string &name) const {
    std::string key = "\"" + name + "\"";
    for (size_t at = header.find(key); at != std::string::npos;
         at = header.find(key, at + 1)) {
      size_t colon = header.find_first_not_of(" ", at + key.size());
      if (colon == std::string::npos || header[colon] != ':')
        continue;
      size_t open = header.find('{', colon), close = header.find('}', open);
      std::string entry = header.substr(open, close - open + 1);
      Tensor t;
      size_t dtypeKey = entry.find("\"dtype\"");
      size_t q1 = entry.find('"', entry.find(':', dtypeKey));
      t.dtype = entry.substr(q1 + 1, entry.find('"', q1 + 1) - q1 - 1);
      t.shape = parseIntArray(entry, entry.find("\"shape\""));
      std::vector<int64_t> offsets =
          parseIntArray(entry, entry.find("\"data_offsets\""));
      t.bytes.assign(data.begin() + dataStart + offsets[0],
                     data.begin() + dataStart + offsets[1]);
      return t;
    }
    return std::nullopt;
  }

private:
  std::vector<char> data;
  std::string header;
  size_t dataStart = 0;
};

/// The stories260k directory, or empty when the shared models are absent.
std::string modelDir() {
  const char *env = std::getenv("LOWBIT_SHARED_MODELS");
  if (!env || !*env)
    return "";
  std::string dir = std::string(env) + "/stories260k";
  if (!std::ifstream(dir + "/model.safetensors"))
    return "";
  return dir;
}

#define REQUIRE_MODEL(dir)                                                     \
  std::string dir = modelDir();                                                \
  if (dir.empty())                                                             \
  GTEST_SKIP() << "LOWBIT_SHARED_MODELS/stories260k not found"

//===----------------------------------------------------------------------===//
// A Llama built from the kernels
//===----------------------------------------------------------------------===//

/// stories260k's config.json.
constexpr int64_t kHidden = 64, kInter = 172, kLayers = 5, kHeads = 8,
                  kKVHeads = 4, kHeadDim = 8, kVocab = 512, kMaxCtx = 512;
constexpr float kEps = 1e-5f;
constexpr double kTheta = 10000.0;

struct Layer {
  std::vector<float> inNorm, q, k, v, o, postNorm, gate, up, down;
};

class Llama {
public:
  bool load(const std::string &dir) {
    SafetensorsFile f;
    if (!f.load(dir + "/model.safetensors"))
      return false;
    auto get = [&](const std::string &name, std::vector<float> &out) {
      std::optional<Tensor> t = f.get(name);
      if (!t || t->dtype != "F32")
        return false;
      out = t->as<float>();
      return true;
    };
    bool ok = get("model.embed_tokens.weight", embed) &&
              get("model.norm.weight", finalNorm) &&
              get("lm_head.weight", lmHead);
    layers.resize(kLayers);
    for (int64_t l = 0; l < kLayers && ok; ++l) {
      std::string p = "model.layers." + std::to_string(l) + ".";
      Layer &L = layers[l];
      ok = get(p + "input_layernorm.weight", L.inNorm) &&
           get(p + "self_attn.q_proj.weight", L.q) &&
           get(p + "self_attn.k_proj.weight", L.k) &&
           get(p + "self_attn.v_proj.weight", L.v) &&
           get(p + "self_attn.o_proj.weight", L.o) &&
           get(p + "post_attention_layernorm.weight", L.postNorm) &&
           get(p + "mlp.gate_proj.weight", L.gate) &&
           get(p + "mlp.up_proj.weight", L.up) &&
           get(p + "mlp.down_proj.weight", L.down);
    }
    return ok;
  }

  /// A fresh KV cache per layer.
  std::vector<KVCache> newCache() const {
    return std::vector<KVCache>(kLayers, KVCache(kMaxCtx, kKVHeads, kHeadDim));
  }

  /// Logits [T, vocab] of \p ids at positions \p pos, using and extending
  /// \p cache.
  std::vector<float> forward(const std::vector<int32_t> &ids,
                             const std::vector<int32_t> &pos,
                             std::vector<KVCache> &cache,
                             ThreadPool *pool = nullptr) const {
    const int64_t T = static_cast<int64_t>(ids.size());
    std::vector<float> h(T * kHidden), xn(T * kHidden);
    std::vector<float> q(T * kHeads * kHeadDim), k(T * kKVHeads * kHeadDim),
        v(T * kKVHeads * kHeadDim), attn(T * kHeads * kHeadDim);
    std::vector<float> proj(T * kHidden), gate(T * kInter), up(T * kInter);
    EXPECT_TRUE(
        embedding(embed.data(), kVocab, kHidden, ids.data(), T, h.data()).ok());
    for (int64_t l = 0; l < kLayers; ++l) {
      const Layer &L = layers[l];
      rmsNorm(h.data(), T, kHidden, L.inNorm.data(), kEps, xn.data(), pool);
      linear(xn.data(), T, kHidden, L.q.data(), kHeads * kHeadDim, nullptr,
             q.data());
      linear(xn.data(), T, kHidden, L.k.data(), kKVHeads * kHeadDim, nullptr,
             k.data());
      linear(xn.data(), T, kHidden, L.v.data(), kKVHeads * kHeadDim, nullptr,
             v.data());
      rotary(q.data(), T, kHeads, kHeadDim, pos.data(), kTheta,
             RotaryStyle::HalfSplit, pool);
      rotary(k.data(), T, kKVHeads, kHeadDim, pos.data(), kTheta,
             RotaryStyle::HalfSplit, pool);
      EXPECT_TRUE(attention(q.data(), k.data(), v.data(), pos.data(), T, kHeads,
                            kKVHeads, kHeadDim, cache[l], attn.data(), pool)
                      .ok());
      linear(attn.data(), T, kHeads * kHeadDim, L.o.data(), kHidden, nullptr,
             proj.data());
      add(h.data(), proj.data(), T * kHidden, h.data(), pool);
      rmsNorm(h.data(), T, kHidden, L.postNorm.data(), kEps, xn.data(), pool);
      linear(xn.data(), T, kHidden, L.gate.data(), kInter, nullptr,
             gate.data());
      linear(xn.data(), T, kHidden, L.up.data(), kInter, nullptr, up.data());
      siluMul(gate.data(), up.data(), T * kInter, gate.data(), pool);
      linear(gate.data(), T, kInter, L.down.data(), kHidden, nullptr,
             proj.data());
      add(h.data(), proj.data(), T * kHidden, h.data(), pool);
    }
    rmsNorm(h.data(), T, kHidden, finalNorm.data(), kEps, xn.data(), pool);
    std::vector<float> logits(T * kVocab);
    linear(xn.data(), T, kHidden, lmHead.data(), kVocab, nullptr,
           logits.data());
    return logits;
  }

private:
  std::vector<float> embed, finalNorm, lmHead;
  std::vector<Layer> layers;
};

struct Golden {
  std::vector<int32_t> tokens;
  std::vector<float> logits;
};

std::optional<Golden> loadGolden(const std::string &dir,
                                 const std::string &name) {
  SafetensorsFile f;
  if (!f.load(dir + "/golden/" + name + ".safetensors"))
    return std::nullopt;
  std::optional<Tensor> tokens = f.get("tokens"), logits = f.get("logits");
  if (!tokens || !logits)
    return std::nullopt;
  return Golden{tokens->as<int32_t>(), logits->as<float>()};
}

double maxAbsDiff(const std::vector<float> &a, const std::vector<float> &b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

class Stories260k : public ::testing::TestWithParam<const char *> {};

TEST_P(Stories260k, PrefillMatchesGoldenLogits) {
  REQUIRE_MODEL(dir);
  Llama model;
  ASSERT_TRUE(model.load(dir));
  std::optional<Golden> golden = loadGolden(dir, GetParam());
  ASSERT_TRUE(golden);
  const int64_t T = static_cast<int64_t>(golden->tokens.size());
  std::vector<int32_t> pos(T);
  for (int64_t t = 0; t < T; ++t)
    pos[t] = static_cast<int32_t>(t);
  ThreadPool pool(2);
  std::vector<KVCache> cache = model.newCache();
  std::vector<float> logits = model.forward(golden->tokens, pos, cache, &pool);
  ASSERT_EQ(logits.size(), golden->logits.size());
  double diff = maxAbsDiff(logits, golden->logits);
  std::printf("%s: max |logit - golden| = %.3g\n", GetParam(), diff);
  EXPECT_LT(diff, 1e-4) << GetParam();

  double kl = 0;
  for (int64_t t = 0; t < T; ++t)
    kl += klDivergence(golden->logits.data() + t * kVocab,
                       logits.data() + t * kVocab, kVocab);
  EXPECT_LT(kl / T, 1e-9);
}

INSTANTIATE_TEST_SUITE_P(Golden, Stories260k,
                         ::testing::Values("golden_short_prompt",
                                           "golden_mixed_bytes",
                                           "golden_eval_window0"));

TEST(Stories260kDecode, IncrementalDecodeMatchesGoldenLogits) {
  REQUIRE_MODEL(dir);
  Llama model;
  ASSERT_TRUE(model.load(dir));
  std::optional<Golden> golden = loadGolden(dir, "golden_mixed_bytes");
  ASSERT_TRUE(golden);
  std::vector<KVCache> cache = model.newCache();
  const int64_t T = static_cast<int64_t>(golden->tokens.size());
  // A 5-token prefill, then one token at a time.
  const int64_t prefill = 5;
  std::vector<int32_t> ids(golden->tokens.begin(),
                           golden->tokens.begin() + prefill);
  std::vector<int32_t> pos(prefill);
  for (int64_t t = 0; t < prefill; ++t)
    pos[t] = static_cast<int32_t>(t);
  std::vector<float> logits = model.forward(ids, pos, cache);
  for (int64_t t = prefill; t < T; ++t) {
    std::vector<float> step =
        model.forward({golden->tokens[t]}, {static_cast<int32_t>(t)}, cache);
    logits.insert(logits.end(), step.begin(), step.end());
  }
  EXPECT_LT(maxAbsDiff(logits, golden->logits), 1e-4);
}

TEST(Stories260kDecode, GreedyGenerationFromBos) {
  REQUIRE_MODEL(dir);
  Llama model;
  ASSERT_TRUE(model.load(dir));
  std::ifstream in(dir + "/golden/greedy_from_bos.json");
  ASSERT_TRUE(in);
  std::string json((std::istreambuf_iterator<char>(in)), {});
  std::vector<int64_t> expected = parseIntArray(json, json.find("\"tokens\""));
  ASSERT_GT(expected.size(), 1u);

  std::vector<KVCache> cache = model.newCache();
  std::vector<int64_t> generated = {expected[0]};
  SamplingParams greedy;
  std::vector<SampleCandidate> scratch;
  uint64_t rng = 0;
  for (size_t t = 0; t + 1 < expected.size(); ++t) {
    std::vector<float> logits =
        model.forward({static_cast<int32_t>(generated.back())},
                      {static_cast<int32_t>(t)}, cache);
    generated.push_back(sample(logits.data(), kVocab, greedy, rng, scratch));
  }
  EXPECT_EQ(generated, expected);
}

TEST(Stories260kQuantRefs, DequantizeRowsMatchesRtnWeights) {
  REQUIRE_MODEL(dir);
  for (const char *file : {"rtn_w4_g32", "rtn_w3_g64"}) {
    SafetensorsFile f;
    ASSERT_TRUE(f.load(dir + "/quant_refs/" + file + ".safetensors"));
    int bits = file[5] - '0';
    int64_t groupSize = std::atoi(file + 8);
    int checked = 0;
    for (int64_t l = 0; l < kLayers; ++l)
      for (const char *proj :
           {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
            "mlp.down_proj"}) {
        std::string p = "model.layers." + std::to_string(l) + "." + proj + ".";
        std::optional<Tensor> codes = f.get(p + "qcodes"),
                              scales = f.get(p + "scales"),
                              zeros = f.get(p + "zeros"),
                              gIdx = f.get(p + "g_idx"),
                              weight = f.get(p + "weight");
        ASSERT_TRUE(codes && scales && zeros && gIdx && weight) << p;
        const int64_t N = codes->shape[0], K = codes->shape[1];
        std::vector<uint8_t> zeroCodes = zeros->as<uint8_t>();
        std::vector<float> zeroValues(zeroCodes.begin(), zeroCodes.end());
        std::vector<uint8_t> q = codes->as<uint8_t>();
        std::vector<float> s = scales->as<float>();
        std::vector<int32_t> g = gIdx->as<int32_t>();
        // The groups here are plain k / groupSize; decode both ways.
        std::vector<float> viaGroups(N * K), viaGIdx(N * K);
        ASSERT_TRUE(dequantizeRows(q.data(), s.data(), zeroValues.data(),
                                   nullptr, N, K, groupSize, bits,
                                   viaGroups.data())
                        .ok())
            << p;
        ASSERT_TRUE(dequantizeRows(q.data(), s.data(), zeroValues.data(),
                                   g.data(), N, K, groupSize, bits,
                                   viaGIdx.data())
                        .ok())
            << p;
        std::vector<float> ref = weight->as<float>();
        EXPECT_EQ(viaGroups, ref) << file << " " << p;
        EXPECT_EQ(viaGIdx, ref) << file << " " << p;
        ++checked;
      }
    EXPECT_EQ(checked, 35);
  }
}

} // namespace
