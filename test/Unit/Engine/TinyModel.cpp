//===- TinyModel.cpp - a tiny llama-like bundle for engine tests -*- C++
//-*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "TinyModel.h"

#include "KernelGen.h"
#include "Repack.h"
#include "lowbitrt/Kernels.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>
#include <random>
#include <unistd.h>

using namespace tiny;
using namespace lowbit;
using json = nlohmann::json;
namespace k = lowbit::rt::kernels;

namespace {

/// One quantized matmul of the model.
struct QSpec {
  const char *name;
  int64_t N, K;
  unsigned bits;
  int64_t group;
  bool symmetric;
  x86::ScaleType scaleType;
  bool perm;
  bool bias;
};

const QSpec kSpecs[] = {
    {"q", 32, 32, 4, 32, true, x86::ScaleType::F32, false, true},
    {"k", 16, 32, 8, -1, true, x86::ScaleType::F32, false, false},
    {"v", 16, 32, 8, -1, true, x86::ScaleType::F32, false, false},
    {"o", 32, 32, 4, 32, true, x86::ScaleType::F32, false, false},
    // Ragged N (40 is not a multiple of 16) and act-order.
    {"gate", kInter, 32, 4, 32, false, x86::ScaleType::F16, true, false},
    {"up", kInter, 32, 2, 32, true, x86::ScaleType::F32, false, false},
    // A ragged last group (40 = 32 + 8).
    {"down", 32, kInter, 3, 32, true, x86::ScaleType::F32, false, false},
};

x86::KernelKey keyOf(const QSpec &s, unsigned tile) {
  x86::KernelKey key;
  key.bits = s.bits;
  key.groupSize = s.group;
  key.symmetric = s.symmetric;
  key.scaleType = s.scaleType;
  key.K = s.K;
  key.N = s.N;
  key.batchTile = tile;
  key.isa = x86::Isa::AVX2;
  key.path = x86::ArithPath::FP32;
  return key;
}

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<float> asFloats(const Tensor &t) {
  std::vector<float> v(t.bytes.size() / 4);
  std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  return v;
}

std::vector<int32_t> asInts(const Tensor &t) {
  std::vector<int32_t> v(t.bytes.size() / 4);
  std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  return v;
}

TinyModel build() {
  TinyModel m;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  auto randomF32 = [&](std::vector<int64_t> shape, float scale, float offset) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (float &x : v)
      x = offset + scale * nd(rng);
    return Tensor{rt::DType::F32, shape, bytesOf(v)};
  };

  // Kernels: one library for every distinct key, tiles 1 and 4.
  std::vector<x86::KernelKey> keys;
  std::vector<std::string> seen;
  for (const QSpec &s : kSpecs)
    for (unsigned tile : {1u, 4u}) {
      x86::KernelKey key = keyOf(s, tile);
      if (std::find(seen.begin(), seen.end(), key.symbolName()) != seen.end())
        continue;
      seen.push_back(key.symbolName());
      keys.push_back(key);
    }
  auto lib = x86::buildKernelLibrary(keys);
  if (!lib) {
    ADD_FAILURE() << llvm::toString(lib.takeError());
    return m;
  }
  m.kernelLib = std::move(*lib);

  auto add = [&](std::string name, Tensor t) {
    m.tensors.emplace_back(std::move(name), std::move(t));
  };
  add("embed", randomF32({kVocab, kHidden}, 1.0f, 0.0f));

  json buffers = json::array();
  auto buffer = [&](const char *dtype, int64_t cols) {
    buffers.push_back({{"dtype", dtype}, {"cols", cols}});
    return static_cast<int>(buffers.size() - 1);
  };
  const int tokens = buffer("i32", 1), positions = buffer("i32", 1);
  const int h = buffer("f32", kHidden), xn = buffer("f32", kHidden);
  const int q = buffer("f32", kHeads * kHeadDim);
  const int kb = buffer("f32", kKVHeads * kHeadDim);
  const int v = buffer("f32", kKVHeads * kHeadDim);
  const int qr = buffer("f32", kHeads * kHeadDim);
  const int kr = buffer("f32", kKVHeads * kHeadDim);
  const int att = buffer("f32", kHeads * kHeadDim);
  const int o = buffer("f32", kHidden), h2 = buffer("f32", kHidden);
  const int gate = buffer("f32", kInter), up = buffer("f32", kInter);
  const int act = buffer("f32", kInter);
  const int logits = buffer("f32", kVocab);

  json ops = json::array(), layers = json::array(), caches = json::array();
  ops.push_back(
      {{"op", "embedding"}, {"in", {tokens}}, {"out", h}, {"table", "embed"}});
  auto qmatmul = [&](int layer, const QSpec &s, int in, int out) {
    std::string base = "l" + std::to_string(layer) + "." + s.name;
    auto l = *x86::PackedLayout::get(s.bits, s.group, s.symmetric, s.scaleType,
                                     s.K, s.N);
    std::uniform_int_distribution<int> code(0, (1 << s.bits) - 1);
    std::uniform_real_distribution<float> scale(0.02f, 0.08f);
    std::vector<uint8_t> codes(size_t(s.N * s.K)), zeros;
    std::vector<float> scales(size_t(s.N * l.numGroups()));
    for (auto &c : codes)
      c = uint8_t(code(rng));
    for (auto &sc : scales)
      sc = scale(rng) / float(1 << (s.bits - 1));
    if (!s.symmetric) {
      zeros.resize(scales.size());
      for (auto &z : zeros)
        z = uint8_t(code(rng));
    }
    auto packed = x86::repack(l, codes, scales, zeros);
    EXPECT_TRUE(bool(packed));
    auto eff = x86::effectiveWeights(l, *packed);
    EXPECT_TRUE(bool(eff));
    m.effective[base] = *eff;
    int64_t size = int64_t(packed->size());
    add(base, Tensor{rt::DType::Bytes, {size}, std::move(*packed)});
    json op = {
        {"op", "qmatmul"},
        {"in", {in}},
        {"out", out},
        {"weight", base},
        {"N", s.N},
        {"K", s.K},
        {"bits", s.bits},
        {"group_size", s.group},
        {"symmetric", s.symmetric},
        {"scale_type", s.scaleType == x86::ScaleType::F16 ? "f16" : "f32"},
        {"layout", "x86-tile16-v1"},
        {"path", "fp32"}};
    if (s.bias) {
      add(base + ".bias", randomF32({s.N}, 0.1f, 0.0f));
      op["bias"] = base + ".bias";
    }
    if (s.perm) {
      std::vector<int32_t> perm(size_t(s.K));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      add(base + ".perm", Tensor{rt::DType::I32, {s.K}, bytesOf(perm)});
      op["perm"] = base + ".perm";
    }
    json kernels = json::array();
    for (unsigned tile : {1u, 4u})
      kernels.push_back({{"isa", "avx2"},
                         {"batch_tile", tile},
                         {"symbol", keyOf(s, tile).symbolName()}});
    op["kernels"] = kernels;
    ops.push_back(op);
    layers.push_back({{"name", base},
                      {"tensor", base},
                      {"N", s.N},
                      {"K", s.K},
                      {"bits", s.bits},
                      {"group_size", s.group},
                      {"symmetric", s.symmetric},
                      {"scale_type", op["scale_type"]},
                      {"act_order", s.perm},
                      {"bytes", size}});
  };

  for (int layer = 0; layer < kLayers; ++layer) {
    std::string p = "l" + std::to_string(layer) + ".";
    add(p + "attn_norm", randomF32({kHidden}, 0.1f, 1.0f));
    add(p + "ffn_norm", randomF32({kHidden}, 0.1f, 1.0f));
    ops.push_back({{"op", "rms_norm"},
                   {"in", {h}},
                   {"out", xn},
                   {"weight", p + "attn_norm"},
                   {"eps", 1e-5}});
    qmatmul(layer, kSpecs[0], xn, q);
    qmatmul(layer, kSpecs[1], xn, kb);
    qmatmul(layer, kSpecs[2], xn, v);
    for (auto [in, out] : {std::pair{q, qr}, std::pair{kb, kr}})
      ops.push_back({{"op", "rotary"},
                     {"in", {in, positions}},
                     {"out", out},
                     {"style", "rotate_half"},
                     {"theta", 10000.0},
                     {"head_dim", kHeadDim}});
    ops.push_back({{"op", "attention"},
                   {"in", {qr, kr, v, positions}},
                   {"out", att},
                   {"layer", layer},
                   {"num_heads", kHeads},
                   {"num_kv_heads", kKVHeads},
                   {"head_dim", kHeadDim}});
    caches.push_back(
        {{"layer", layer}, {"num_kv_heads", kKVHeads}, {"head_dim", kHeadDim}});
    qmatmul(layer, kSpecs[3], att, o);
    ops.push_back({{"op", "add"}, {"in", {h, o}}, {"out", h2}});
    ops.push_back({{"op", "rms_norm"},
                   {"in", {h2}},
                   {"out", xn},
                   {"weight", p + "ffn_norm"},
                   {"eps", 1e-5}});
    qmatmul(layer, kSpecs[4], xn, gate);
    qmatmul(layer, kSpecs[5], xn, up);
    ops.push_back({{"op", "gated_act"},
                   {"in", {gate, up}},
                   {"out", act},
                   {"kind", "silu"}});
    qmatmul(layer, kSpecs[6], act, o);
    ops.push_back({{"op", "add"}, {"in", {h2, o}}, {"out", h}});
  }
  add("norm", randomF32({kHidden}, 0.1f, 1.0f));
  add("lm_head", randomF32({kVocab, kHidden}, 0.3f, 0.0f));
  add("lm_head.bias", randomF32({kVocab}, 0.1f, 0.0f));
  ops.push_back({{"op", "rms_norm"},
                 {"in", {h}},
                 {"out", xn},
                 {"weight", "norm"},
                 {"eps", 1e-5}});
  ops.push_back({{"op", "linear"},
                 {"in", {xn}},
                 {"out", logits},
                 {"weight", "lm_head"},
                 {"bias", "lm_head.bias"}});

  m.manifest = {
      {"format", "lowbit-manifest-v1"},
      {"compiler", {{"name", "engine-test"}, {"version", "0"}}},
      {"provenance", {{"method", "rtn"}, {"options", ""}, {"inputs", {}}}},
      {"target", "x86"},
      {"config",
       {{"architecture", "LlamaForCausalLM"},
        {"vocab_size", kVocab},
        {"hidden_size", kHidden},
        {"num_hidden_layers", kLayers},
        {"num_attention_heads", kHeads},
        {"num_key_value_heads", kKVHeads},
        {"head_dim", kHeadDim},
        {"intermediate_size", kInter},
        {"max_position_embeddings", kMaxPos},
        {"bos_token_id", 0},
        {"eos_token_id", 1}}},
      {"layers", layers},
      {"program",
       {{"inputs", {{"tokens", tokens}, {"positions", positions}}},
        {"output", logits},
        {"buffers", buffers},
        {"kv_cache", caches},
        {"ops", ops}}}};
  return m;
}

/// y = x' W^T (+ b) for one qmatmul of the reference.
void refQMatmul(const TinyModel &m, const std::string &base, const QSpec &s,
                const std::vector<float> &x, int64_t T, std::vector<float> &y) {
  std::vector<float> xp = x;
  if (s.perm) {
    std::vector<int32_t> perm = asInts(m.tensor(base + ".perm"));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < s.K; ++j)
        xp[size_t(t * s.K + j)] = x[size_t(t * s.K + perm[size_t(j)])];
  }
  std::vector<float> bias;
  if (s.bias)
    bias = asFloats(m.tensor(base + ".bias"));
  y.assign(size_t(T * s.N), 0.0f);
  k::linear(xp.data(), T, s.K, m.effective.at(base).data(), s.N,
            s.bias ? bias.data() : nullptr, y.data());
}

} // namespace

const TinyModel &TinyModel::get() {
  static const TinyModel model = build();
  return model;
}

const Tensor &TinyModel::tensor(const std::string &name) const {
  for (const auto &[n, t] : tensors)
    if (n == name)
      return t;
  static Tensor none;
  ADD_FAILURE() << "no tensor " << name;
  return none;
}

std::string TinyModel::write(const json &manifest,
                             const std::map<std::string, Tensor> &overrides,
                             const std::string &codeFormat) const {
  static std::atomic<int> counter{0};
  rt::BundleWriter w;
  w.setManifest(manifest.dump());
  for (const auto &[name, t] : tensors) {
    auto it = overrides.find(name);
    const Tensor &use = it == overrides.end() ? t : it->second;
    w.addTensor(name, use.dtype, use.shape, use.bytes.data(), use.bytes.size());
  }
  w.addCode("x86", codeFormat, kernelLib.data(), kernelLib.size());
  std::string path = ::testing::TempDir() + "engine-test-" +
                     std::to_string(getpid()) + "-" +
                     std::to_string(counter++) + ".lowbit";
  std::string err;
  EXPECT_TRUE(w.write(path, err)) << err;
  return path;
}

std::vector<float> TinyModel::reference(const std::vector<int32_t> &ids) const {
  const int64_t T = int64_t(ids.size());
  std::vector<int32_t> pos(ids.size());
  std::iota(pos.begin(), pos.end(), 0);
  std::vector<float> embed = asFloats(tensor("embed"));
  std::vector<float> h(size_t(T * kHidden)), xn(h.size());
  EXPECT_TRUE(bool(
      k::embedding(embed.data(), kVocab, kHidden, ids.data(), T, h.data())));
  for (int layer = 0; layer < kLayers; ++layer) {
    std::string p = "l" + std::to_string(layer) + ".";
    std::vector<float> w = asFloats(tensor(p + "attn_norm"));
    k::rmsNorm(h.data(), T, kHidden, w.data(), 1e-5f, xn.data());
    std::vector<float> q, kk, v, o, gate, up, down;
    refQMatmul(*this, p + "q", kSpecs[0], xn, T, q);
    refQMatmul(*this, p + "k", kSpecs[1], xn, T, kk);
    refQMatmul(*this, p + "v", kSpecs[2], xn, T, v);
    k::rotary(q.data(), T, kHeads, kHeadDim, pos.data(), 10000.0,
              k::RotaryStyle::HalfSplit);
    k::rotary(kk.data(), T, kKVHeads, kHeadDim, pos.data(), 10000.0,
              k::RotaryStyle::HalfSplit);
    k::KVCache cache(kMaxPos, kKVHeads, kHeadDim);
    std::vector<float> att(q.size());
    EXPECT_TRUE(
        bool(k::attention(q.data(), kk.data(), v.data(), pos.data(), T, kHeads,
                          kKVHeads, kHeadDim, cache, att.data())));
    refQMatmul(*this, p + "o", kSpecs[3], att, T, o);
    k::add(h.data(), o.data(), T * kHidden, h.data());
    w = asFloats(tensor(p + "ffn_norm"));
    k::rmsNorm(h.data(), T, kHidden, w.data(), 1e-5f, xn.data());
    refQMatmul(*this, p + "gate", kSpecs[4], xn, T, gate);
    refQMatmul(*this, p + "up", kSpecs[5], xn, T, up);
    k::siluMul(gate.data(), up.data(), T * kInter, gate.data());
    refQMatmul(*this, p + "down", kSpecs[6], gate, T, down);
    k::add(h.data(), down.data(), T * kHidden, h.data());
  }
  std::vector<float> w = asFloats(tensor("norm"));
  k::rmsNorm(h.data(), T, kHidden, w.data(), 1e-5f, xn.data());
  std::vector<float> head = asFloats(tensor("lm_head"));
  std::vector<float> bias = asFloats(tensor("lm_head.bias"));
  std::vector<float> logits(size_t(T * kVocab));
  k::linear(xn.data(), T, kHidden, head.data(), kVocab, bias.data(),
            logits.data());
  return logits;
}

json tiny::tinyTokenizer() {
  json vocab = {{"<s>", 0}, {"</s>", 1}, {" ", 2}};
  for (int c = 0; c < 26; ++c)
    vocab[std::string(1, char('a' + c))] = 3 + c;
  vocab["ab"] = 29;
  return {{"version", "1.0"},
          {"added_tokens",
           {{{"id", 0},
             {"content", "<s>"},
             {"single_word", false},
             {"lstrip", false},
             {"rstrip", false},
             {"normalized", false},
             {"special", true}},
            {{"id", 1},
             {"content", "</s>"},
             {"single_word", false},
             {"lstrip", false},
             {"rstrip", false},
             {"normalized", false},
             {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", {{"type", "Fuse"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b"}}}}};
}
