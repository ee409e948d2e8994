//===- ManifestChecksTests.cpp - cross-op manifest checks -------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// Manifests whose ops each pass the per-op checks but disagree with each
// other or with the config (issue 11.6). Before checkProgramConsistency each
// of these opened with LOWBIT_RT_OK and then computed garbage or failed in
// the middle of a generation; now each is LOWBIT_RT_FORMAT at open, naming
// the ops and values.
//
//===----------------------------------------------------------------------===//

#include "TinyModel.h"
#include "lowbitrt/lowbit_rt.h"

#include "gtest/gtest.h"

#include <cstdio>

using namespace tiny;
using json = nlohmann::json;

namespace {

std::pair<lowbit_rt_status, std::string>
tryOpen(const json &manifest,
        const std::map<std::string, Tensor> &overrides = {}) {
  std::string p = TinyModel::get().write(manifest, overrides);
  lowbit_rt_model *m = nullptr;
  lowbit_rt_status st = lowbit_rt_model_open(p.c_str(), &m);
  std::string msg = st == LOWBIT_RT_OK ? "" : lowbit_rt_last_error();
  lowbit_rt_model_free(m);
  std::remove(p.c_str());
  return {st, msg};
}

void expectFormat(const std::pair<lowbit_rt_status, std::string> &r,
                  std::initializer_list<const char *> mentions) {
  EXPECT_EQ(r.first, LOWBIT_RT_FORMAT) << r.second;
  for (const char *m : mentions)
    EXPECT_NE(r.second.find(m), std::string::npos)
        << "'" << m << "' not in: " << r.second;
}

/// Indices of the ops named `name`.
std::vector<size_t> opsNamed(const json &manifest, const std::string &name) {
  std::vector<size_t> out;
  const json &ops = manifest["program"]["ops"];
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i]["op"] == name)
      out.push_back(i);
  return out;
}

TEST(ManifestChecks, ConsistentManifestOpens) {
  EXPECT_EQ(tryOpen(TinyModel::get().manifest).first, LOWBIT_RT_OK);
}

TEST(ManifestChecks, RotaryHeadSizeVsAttention) {
  json m = TinyModel::get().manifest;
  size_t rot = opsNamed(m, "rotary")[0];
  size_t att = opsNamed(m, "attention")[0];
  m["program"]["ops"][rot]["head_dim"] = kHeadDim / 2;
  std::string attCtx = "op " + std::to_string(att) + " (attention)";
  std::string rotCtx = "op " + std::to_string(rot) + " (rotary)";
  expectFormat(tryOpen(m), {attCtx.c_str(), "q comes from", rotCtx.c_str(),
                            "head_dim 4", "head_dim 8"});
  // The k side.
  m = TinyModel::get().manifest;
  m["program"]["ops"][opsNamed(m, "rotary")[1]]["head_dim"] = kHeadDim * 2;
  expectFormat(tryOpen(m), {"k comes from", "head_dim 16"});
}

TEST(ManifestChecks, EmbeddingVsConfig) {
  const TinyModel &tm = TinyModel::get();
  // A table with fewer rows than the vocabulary: token ids in [40, 48) were
  // accepted by the session and failed in the kernel mid-generation.
  Tensor small = tm.tensor("embed");
  small.shape = {kVocab - 8, kHidden};
  small.bytes.resize(size_t((kVocab - 8) * kHidden * 4));
  expectFormat(tryOpen(tm.manifest, {{"embed", small}}),
               {"op 0 (embedding)", "40 rows", "vocab_size is 48"});
  json m = tm.manifest;
  m["program"]["ops"][0]["in"] = {m["program"]["inputs"]["positions"]};
  expectFormat(tryOpen(m), {"op 0 (embedding)", "not the program's tokens"});
}

TEST(ManifestChecks, PositionsBuffers) {
  json m = TinyModel::get().manifest;
  const json tokens = m["program"]["inputs"]["tokens"];
  size_t att = opsNamed(m, "attention")[1];
  m["program"]["ops"][att]["in"][3] = tokens;
  expectFormat(tryOpen(m), {"(attention)", "positions buffer",
                            "not the program's positions buffer"});
  m = TinyModel::get().manifest;
  m["program"]["ops"][opsNamed(m, "rotary")[0]]["in"][1] = tokens;
  expectFormat(tryOpen(m), {"(rotary)", "not the program's positions"});
}

TEST(ManifestChecks, KVCachesAndAttention) {
  // The second layer's attention on the first layer's cache: both appended
  // their keys at the same rows.
  json m = TinyModel::get().manifest;
  std::vector<size_t> att = opsNamed(m, "attention");
  m["program"]["ops"][att[1]]["layer"] = 0;
  std::string first = "op " + std::to_string(att[0]) + " (attention)";
  expectFormat(tryOpen(m),
               {"kv_cache of layer 0 is already used by", first.c_str()});

  // A cache no attention op uses.
  m = TinyModel::get().manifest;
  m["program"]["kv_cache"].push_back(
      {{"layer", 7}, {"num_kv_heads", kKVHeads}, {"head_dim", kHeadDim}});
  expectFormat(tryOpen(m), {"kv_cache 2 (layer 7) is used by no attention"});

  // Attention against the config.
  m = TinyModel::get().manifest;
  m["config"]["num_attention_heads"] = kHeads * 2;
  expectFormat(tryOpen(m), {"num_heads 4", "num_attention_heads 8"});
  m = TinyModel::get().manifest;
  m["config"]["num_key_value_heads"] = 1;
  expectFormat(tryOpen(m), {"num_kv_heads 2", "num_key_value_heads 1"});
  m = TinyModel::get().manifest;
  m["config"]["head_dim"] = 4;
  expectFormat(tryOpen(m), {"head_dim 8", "config head_dim 4"});
  m = TinyModel::get().manifest;
  m["config"]["num_hidden_layers"] = 1;
  expectFormat(tryOpen(m), {"layer 1 is not below config num_hidden_layers 1"});
  // Absent config fields are not checked.
  m = TinyModel::get().manifest;
  m["config"].erase("head_dim");
  m["config"].erase("num_attention_heads");
  EXPECT_EQ(tryOpen(m).first, LOWBIT_RT_OK);
}

TEST(ManifestChecks, Dataflow) {
  // The logits buffer replaced by a fresh one no op writes.
  json m = TinyModel::get().manifest;
  m["program"]["buffers"].push_back({{"dtype", "f32"}, {"cols", kVocab}});
  m["program"]["output"] = m["program"]["buffers"].size() - 1;
  expectFormat(tryOpen(m), {"output buffer", "not written by any op"});

  // The first rms_norm reading a buffer nothing has written yet.
  m = TinyModel::get().manifest;
  size_t norm = opsNamed(m, "rms_norm")[0];
  int h2 = -1;
  for (const json &op : m["program"]["ops"])
    if (op["op"] == "add") {
      h2 = op["out"].get<int>();
      break;
    }
  ASSERT_GE(h2, 0);
  m["program"]["ops"][norm]["in"] = {h2};
  std::string ctx = "op " + std::to_string(norm) +
                    " (rms_norm): input buffer " + std::to_string(h2) +
                    " is read before any op writes it";
  expectFormat(tryOpen(m), {ctx.c_str()});
}

} // namespace
