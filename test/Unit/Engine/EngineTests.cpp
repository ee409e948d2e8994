//===- EngineTests.cpp - tests of the runtime's C API -----------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// Opens tiny bundles built in the test (TinyModel.h) through lowbit_rt.h and
// checks the logits against a reference forward pass on the dequantized
// weights, prefill/decode consistency, sampling, reset, context limits,
// the tokenizer calls, and that malformed manifests are rejected with a
// message naming the op and field.
//
//===----------------------------------------------------------------------===//

#include "TinyModel.h"

#include "lowbitrt/lowbit_rt.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

using namespace tiny;
using json = nlohmann::json;

namespace {

struct ModelHandle {
  lowbit_rt_model *model = nullptr;
  ~ModelHandle() { lowbit_rt_model_free(model); }
};

struct SessionHandle {
  lowbit_rt_session *session = nullptr;
  ~SessionHandle() { lowbit_rt_session_free(session); }
};

class EngineTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    const TinyModel &m = TinyModel::get();
    path = new std::string(m.write(m.manifest));
  }
  static void TearDownTestSuite() {
    std::remove(path->c_str());
    delete path;
    path = nullptr;
  }

  void SetUp() override {
    ASSERT_FALSE(TinyModel::get().kernelLib.empty());
    ASSERT_EQ(lowbit_rt_model_open(path->c_str(), &model.model), LOWBIT_RT_OK)
        << lowbit_rt_last_error();
  }

  lowbit_rt_session *newSession(int threads, int64_t maxBatch,
                                int64_t maxContext = 0) {
    lowbit_rt_session_options o{};
    o.threads = threads;
    o.max_batch = maxBatch;
    o.max_context = maxContext;
    lowbit_rt_session *s = nullptr;
    EXPECT_EQ(lowbit_rt_session_create(model.model, &o, &s), LOWBIT_RT_OK)
        << lowbit_rt_last_error();
    return s;
  }

  static std::string *path;
  ModelHandle model;
};

std::string *EngineTest::path = nullptr;

std::vector<int32_t> someTokens(int n, unsigned seed = 3) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, int(kVocab) - 1);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto &x : t)
    x = d(rng);
  return t;
}

TEST_F(EngineTest, Info) {
  lowbit_rt_model_info info;
  ASSERT_EQ(lowbit_rt_model_get_info(model.model, &info), LOWBIT_RT_OK);
  EXPECT_EQ(info.vocab_size, kVocab);
  EXPECT_EQ(info.hidden_size, kHidden);
  EXPECT_EQ(info.num_layers, kLayers);
  EXPECT_EQ(info.max_position_embeddings, kMaxPos);
  EXPECT_EQ(info.bos_token_id, 0);
  EXPECT_EQ(info.eos_token_id, 1);
  EXPECT_STREQ(info.isa, "avx2");
  EXPECT_STREQ(info.target, "x86");
}

TEST_F(EngineTest, PrefillMatchesReference) {
  std::vector<int32_t> tokens = someTokens(10);
  std::vector<float> want = TinyModel::get().reference(tokens);
  // Chunks of 4 rows (4 + 4 + 2), two threads.
  SessionHandle s{newSession(2, 4)};
  std::vector<float> all(tokens.size() * kVocab);
  ASSERT_EQ(lowbit_rt_prefill(s.session, tokens.data(), 10, all.data()),
            LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  EXPECT_EQ(lowbit_rt_session_position(s.session), 10);
  double worst = 0;
  for (size_t i = 0; i < all.size(); ++i)
    worst = std::max(worst, std::fabs(double(all[i]) - want[i]) /
                                (1.0 + std::fabs(double(want[i]))));
  EXPECT_LT(worst, 1e-4);
  const float *last = lowbit_rt_logits(s.session);
  ASSERT_NE(last, nullptr);
  for (int64_t v = 0; v < kVocab; ++v)
    EXPECT_EQ(last[v], all[size_t(9 * kVocab + v)]);
}

// Without all_logits, the ops after the last attention run on each step's
// last row only: the last logits still match the reference and the same row
// of an all_logits prefill, and decoding continues from the full KV cache.
TEST_F(EngineTest, PrefillOfLastLogitsOnly) {
  std::vector<int32_t> tokens = someTokens(13, 3);
  std::vector<float> want = TinyModel::get().reference(tokens);
  // Chunks of 4 rows (4 + 4 + 2), two threads; the last two tokens decoded.
  SessionHandle s{newSession(2, 4)}, all{newSession(2, 4)};
  std::vector<float> rows(10 * kVocab);
  ASSERT_EQ(lowbit_rt_prefill(all.session, tokens.data(), 10, rows.data()),
            LOWBIT_RT_OK);
  ASSERT_EQ(lowbit_rt_prefill(s.session, tokens.data(), 10, nullptr),
            LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  const float *last = lowbit_rt_logits(s.session);
  ASSERT_NE(last, nullptr);
  for (int64_t v = 0; v < kVocab; ++v) {
    const double w = want[9 * kVocab + size_t(v)];
    EXPECT_NEAR(last[v], w, 1e-4 * (1 + std::fabs(w))) << "logit " << v;
    EXPECT_NEAR(last[v], rows[size_t(9 * kVocab + v)],
                1e-5 * (1 + std::fabs(w)))
        << "logit " << v;
  }
  for (size_t i = 10; i < tokens.size(); ++i) {
    ASSERT_EQ(lowbit_rt_decode(s.session, tokens[i]), LOWBIT_RT_OK);
    const float *l = lowbit_rt_logits(s.session);
    for (int64_t v = 0; v < kVocab; ++v)
      ASSERT_NEAR(l[v], want[i * kVocab + size_t(v)],
                  1e-4 * (1 + std::fabs(want[i * kVocab + size_t(v)])))
          << "token " << i << " logit " << v;
  }
}

TEST_F(EngineTest, DecodeMatchesPrefill) {
  std::vector<int32_t> tokens = someTokens(12, 5);
  std::vector<float> want = TinyModel::get().reference(tokens);
  SessionHandle s{newSession(2, 8)};
  ASSERT_EQ(lowbit_rt_prefill(s.session, tokens.data(), 3, nullptr),
            LOWBIT_RT_OK);
  for (size_t i = 3; i < tokens.size(); ++i) {
    ASSERT_EQ(lowbit_rt_decode(s.session, tokens[i]), LOWBIT_RT_OK)
        << lowbit_rt_last_error();
    const float *l = lowbit_rt_logits(s.session);
    for (int64_t v = 0; v < kVocab; ++v)
      ASSERT_NEAR(l[v], want[i * kVocab + size_t(v)],
                  1e-4 * (1 + std::fabs(want[i * kVocab + size_t(v)])))
          << "token " << i << " logit " << v;
  }
  EXPECT_EQ(lowbit_rt_session_position(s.session), 12);
}

TEST_F(EngineTest, ThreadCountDoesNotChangeResults) {
  std::vector<int32_t> tokens = someTokens(9, 11);
  std::vector<float> a(tokens.size() * kVocab), b(a.size());
  SessionHandle s1{newSession(1, 64)}, s2{newSession(2, 64)};
  ASSERT_EQ(lowbit_rt_prefill(s1.session, tokens.data(), 9, a.data()),
            LOWBIT_RT_OK);
  ASSERT_EQ(lowbit_rt_prefill(s2.session, tokens.data(), 9, b.data()),
            LOWBIT_RT_OK);
  EXPECT_EQ(a, b);
}

std::vector<int32_t> generate(lowbit_rt_session *s, uint64_t seed, int n) {
  std::vector<int32_t> out;
  std::vector<int32_t> prompt = {0, 5, 9};
  EXPECT_EQ(lowbit_rt_prefill(s, prompt.data(), 3, nullptr), LOWBIT_RT_OK);
  lowbit_rt_sampling p{};
  p.temperature = 1.5f;
  p.top_k = 20;
  p.top_p = 0.95f;
  p.seed = seed;
  for (int i = 0; i < n; ++i) {
    int32_t tok = -1;
    EXPECT_EQ(lowbit_rt_sample(s, &p, &tok), LOWBIT_RT_OK);
    EXPECT_GE(tok, 0);
    EXPECT_LT(tok, kVocab);
    out.push_back(tok);
    EXPECT_EQ(lowbit_rt_decode(s, tok), LOWBIT_RT_OK);
  }
  return out;
}

TEST_F(EngineTest, SamplingIsDeterministicAndResetRestarts) {
  SessionHandle s1{newSession(2, 16)}, s2{newSession(1, 4)};
  std::vector<int32_t> a = generate(s1.session, 1234, 12);
  std::vector<int32_t> b = generate(s2.session, 1234, 12);
  EXPECT_EQ(a, b);
  // Reset forgets the context and reseeds at the next sample.
  ASSERT_EQ(lowbit_rt_reset(s1.session), LOWBIT_RT_OK);
  EXPECT_EQ(lowbit_rt_session_position(s1.session), 0);
  EXPECT_EQ(lowbit_rt_logits(s1.session), nullptr);
  int32_t tok;
  EXPECT_EQ(lowbit_rt_sample(s1.session, nullptr, &tok),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_EQ(generate(s1.session, 1234, 12), a);
  // Some other seed gives some other sequence.
  ASSERT_EQ(lowbit_rt_reset(s1.session), LOWBIT_RT_OK);
  bool differs = false;
  for (uint64_t seed = 1; seed < 5 && !differs; ++seed) {
    differs = generate(s1.session, seed, 12) != a;
    ASSERT_EQ(lowbit_rt_reset(s1.session), LOWBIT_RT_OK);
  }
  EXPECT_TRUE(differs);
}

TEST_F(EngineTest, GreedyIsArgmax) {
  SessionHandle s{newSession(1, 8)};
  std::vector<int32_t> prompt = someTokens(5);
  ASSERT_EQ(lowbit_rt_prefill(s.session, prompt.data(), 5, nullptr),
            LOWBIT_RT_OK);
  const float *l = lowbit_rt_logits(s.session);
  int32_t best = 0;
  for (int32_t v = 1; v < kVocab; ++v)
    if (l[v] > l[best])
      best = v;
  int32_t tok = -1;
  lowbit_rt_sampling p{};
  p.temperature = 0.0f;
  ASSERT_EQ(lowbit_rt_sample(s.session, &p, &tok), LOWBIT_RT_OK);
  EXPECT_EQ(tok, best);
}

// Without max_context the KV caches start small and double with copies; the
// logits match a session whose caches are allocated at once, through
// prefill chunks and decode steps that cross every doubling, and the context
// still ends at max_position_embeddings.
TEST_F(EngineTest, GrowingCacheMatchesFullCache) {
  SessionHandle grow{newSession(2, 4)};
  SessionHandle full{newSession(2, 4, kMaxPos)};
  std::vector<int32_t> t = someTokens(int(kMaxPos), 11);
  ASSERT_EQ(lowbit_rt_prefill(grow.session, t.data(), 10, nullptr),
            LOWBIT_RT_OK);
  ASSERT_EQ(lowbit_rt_prefill(full.session, t.data(), 10, nullptr),
            LOWBIT_RT_OK);
  for (int64_t i = 10; i < kMaxPos; ++i) {
    ASSERT_EQ(lowbit_rt_decode(grow.session, t[size_t(i)]), LOWBIT_RT_OK)
        << "position " << i << ": " << lowbit_rt_last_error();
    ASSERT_EQ(lowbit_rt_decode(full.session, t[size_t(i)]), LOWBIT_RT_OK);
    const float *a = lowbit_rt_logits(grow.session);
    const float *b = lowbit_rt_logits(full.session);
    for (int64_t v = 0; v < kVocab; ++v)
      ASSERT_EQ(a[v], b[v]) << "position " << i << ", logit " << v;
  }
  EXPECT_EQ(lowbit_rt_decode(grow.session, 1), LOWBIT_RT_CONTEXT_FULL);
  // After a reset the grown caches are reused from position 0.
  ASSERT_EQ(lowbit_rt_reset(grow.session), LOWBIT_RT_OK);
  ASSERT_EQ(lowbit_rt_reset(full.session), LOWBIT_RT_OK);
  std::vector<float> la(size_t(5 * kVocab)), lb(size_t(5 * kVocab));
  ASSERT_EQ(lowbit_rt_prefill(grow.session, t.data(), 5, la.data()),
            LOWBIT_RT_OK);
  ASSERT_EQ(lowbit_rt_prefill(full.session, t.data(), 5, lb.data()),
            LOWBIT_RT_OK);
  EXPECT_EQ(la, lb);
}

// A max_context whose KV cache exceeds the memory available is refused
// before anything is allocated, with the sizes in the message.
TEST_F(EngineTest, MaxContextBeyondMemory) {
  lowbit_rt_session_options o{};
  o.max_context = (int64_t(1) << 31) - 1;
  lowbit_rt_session *s = nullptr;
  EXPECT_EQ(lowbit_rt_session_create(model.model, &o, &s),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  std::string err = lowbit_rt_last_error();
  EXPECT_NE(err.find("kv cache of 2147483647 positions needs"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("MiB are available"), std::string::npos) << err;
}

TEST_F(EngineTest, ContextFull) {
  SessionHandle s{newSession(1, 4, 8)};
  std::vector<int32_t> t = someTokens(6);
  ASSERT_EQ(lowbit_rt_prefill(s.session, t.data(), 6, nullptr), LOWBIT_RT_OK);
  EXPECT_EQ(lowbit_rt_prefill(s.session, t.data(), 3, nullptr),
            LOWBIT_RT_CONTEXT_FULL);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("max_context"),
            std::string::npos);
  EXPECT_EQ(lowbit_rt_session_position(s.session), 6);
  EXPECT_EQ(lowbit_rt_decode(s.session, 3), LOWBIT_RT_OK);
  EXPECT_EQ(lowbit_rt_decode(s.session, 4), LOWBIT_RT_OK);
  EXPECT_EQ(lowbit_rt_decode(s.session, 5), LOWBIT_RT_CONTEXT_FULL);
  EXPECT_EQ(lowbit_rt_session_position(s.session), 8);
}

TEST_F(EngineTest, BadArguments) {
  SessionHandle s{newSession(1, 4)};
  EXPECT_EQ(lowbit_rt_decode(s.session, int32_t(kVocab)),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("48"), std::string::npos);
  EXPECT_EQ(lowbit_rt_decode(s.session, -1), LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_EQ(lowbit_rt_session_position(s.session), 0);
  EXPECT_EQ(lowbit_rt_prefill(nullptr, nullptr, 0, nullptr),
            LOWBIT_RT_INVALID_ARGUMENT);
  lowbit_rt_session_options o{};
  o.threads = -1;
  lowbit_rt_session *bad = nullptr;
  EXPECT_EQ(lowbit_rt_session_create(model.model, &o, &bad),
            LOWBIT_RT_INVALID_ARGUMENT);
  // No tokenizer in this bundle.
  int64_t n = 0;
  EXPECT_EQ(lowbit_rt_tokenize(model.model, "ab", 2, 1, nullptr, 0, &n),
            LOWBIT_RT_UNSUPPORTED);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("tokenizer"),
            std::string::npos);
}

TEST_F(EngineTest, TruncateKeepsThePrefix) {
  std::vector<int32_t> tokens = someTokens(10, 17);
  std::vector<int32_t> other = someTokens(4, 19);
  SessionHandle a{newSession(1, 4)}, b{newSession(1, 4)};
  // a: tokens[0..6) + other, by truncating a longer context.
  ASSERT_EQ(lowbit_rt_prefill(a.session, tokens.data(), 10, nullptr),
            LOWBIT_RT_OK);
  EXPECT_EQ(lowbit_rt_session_truncate(a.session, 11),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_EQ(lowbit_rt_session_truncate(a.session, -1),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_EQ(lowbit_rt_session_position(a.session), 10);
  ASSERT_EQ(lowbit_rt_session_truncate(a.session, 6), LOWBIT_RT_OK);
  EXPECT_EQ(lowbit_rt_session_position(a.session), 6);
  EXPECT_EQ(lowbit_rt_logits(a.session), nullptr);
  int32_t tok = 0;
  EXPECT_NE(lowbit_rt_sample(a.session, nullptr, &tok), LOWBIT_RT_OK);
  ASSERT_EQ(lowbit_rt_prefill(a.session, other.data(), 4, nullptr),
            LOWBIT_RT_OK);
  // b: the same context from scratch.
  std::vector<int32_t> want(tokens.begin(), tokens.begin() + 6);
  want.insert(want.end(), other.begin(), other.end());
  ASSERT_EQ(lowbit_rt_prefill(b.session, want.data(), 10, nullptr),
            LOWBIT_RT_OK);
  const float *la = lowbit_rt_logits(a.session);
  const float *lb = lowbit_rt_logits(b.session);
  ASSERT_TRUE(la && lb);
  for (int64_t v = 0; v < kVocab; ++v)
    EXPECT_EQ(la[v], lb[v]) << v;
  EXPECT_EQ(lowbit_rt_session_truncate(nullptr, 0), LOWBIT_RT_INVALID_ARGUMENT);
}

TEST(EngineOpen, MissingFileIsIO) {
  lowbit_rt_model *m = nullptr;
  EXPECT_EQ(lowbit_rt_model_open("/nonexistent/x.lowbit", &m), LOWBIT_RT_IO);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("/nonexistent/x.lowbit"),
            std::string::npos);
  EXPECT_EQ(m, nullptr);
}

TEST(EngineOpen, NotABundleIsFormat) {
  std::string p = ::testing::TempDir() + "engine-not-a-bundle.lowbit";
  FILE *f = std::fopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("hello", f);
  std::fclose(f);
  lowbit_rt_model *m = nullptr;
  EXPECT_EQ(lowbit_rt_model_open(p.c_str(), &m), LOWBIT_RT_FORMAT);
  std::remove(p.c_str());
}

/// Opens `manifest` (with tensor overrides / code format); returns the status
/// and the error message.
std::pair<lowbit_rt_status, std::string>
tryOpen(const json &manifest,
        const std::map<std::string, Tensor> &overrides = {},
        const std::string &codeFormat = "x86-elf-so-v1") {
  std::string p = TinyModel::get().write(manifest, overrides, codeFormat);
  lowbit_rt_model *m = nullptr;
  lowbit_rt_status st = lowbit_rt_model_open(p.c_str(), &m);
  std::string msg = st == LOWBIT_RT_OK ? "" : lowbit_rt_last_error();
  lowbit_rt_model_free(m);
  std::remove(p.c_str());
  return {st, msg};
}

/// Index of the first op named `name`.
size_t opIndex(const json &manifest, const std::string &name) {
  const json &ops = manifest["program"]["ops"];
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i]["op"] == name)
      return i;
  return 0;
}

void expectRejected(const std::pair<lowbit_rt_status, std::string> &r,
                    lowbit_rt_status want,
                    std::initializer_list<const char *> mentions) {
  EXPECT_EQ(r.first, want) << r.second;
  for (const char *m : mentions)
    EXPECT_NE(r.second.find(m), std::string::npos)
        << "'" << m << "' not in: " << r.second;
}

TEST(EngineManifest, Rejections) {
  const TinyModel &tm = TinyModel::get();
  ASSERT_FALSE(tm.kernelLib.empty());
  const json base = tm.manifest;
  const size_t qm = opIndex(base, "qmatmul");
  const std::string qmCtx = "op " + std::to_string(qm) + " (qmatmul)";

  // The unmodified manifest opens.
  EXPECT_EQ(tryOpen(base).first, LOWBIT_RT_OK) << tryOpen(base).second;

  json m = base;
  m["program"]["ops"][3]["op"] = "frobnicate";
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT,
                 {"op 3 (frobnicate)", "unknown op 'frobnicate'"});

  m = base;
  m["program"]["ops"][2]["in"][0] = 99;
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT, {"op 2", "99", "out of range"});

  m = base;
  m["program"]["ops"][2]["out"] = m["program"]["ops"][2]["in"][0];
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT, {"op 2", "also an input"});

  m = base;
  m["program"]["ops"][qm]["weight"] = "no.such.tensor";
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT,
                 {qmCtx.c_str(), "no.such.tensor"});

  m = base;
  m["program"]["ops"][1]["weight"] = "l0.q";
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT, {"op 1 (rms_norm)", "l0.q"});

  // A packed weight one tile row short.
  Tensor shortQ = tm.tensor("l0.q");
  shortQ.bytes.resize(shortQ.bytes.size() - 64);
  shortQ.shape = {int64_t(shortQ.bytes.size())};
  expectRejected(tryOpen(base, {{"l0.q", shortQ}}), LOWBIT_RT_FORMAT,
                 {qmCtx.c_str(), "'l0.q'", "bytes"});

  // A layout the x86 device declines (a real codec, but not x86's) falls
  // back to the cpu device, which checks the weight against that codec: the
  // x86-packed bytes have the wrong size for it.
  m = base;
  m["program"]["ops"][qm]["layout"] = "gptq-int32-v1";
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT,
                 {qmCtx.c_str(), "layout 'gptq-int32-v1'", "needs"});
  // Manifests written before `layout` existed hold the x86 layout.
  m = base;
  for (json &op : m["program"]["ops"])
    op.erase("layout");
  EXPECT_EQ(tryOpen(m).first, LOWBIT_RT_OK) << tryOpen(m).second;

  // A perm with a repeated entry.
  Tensor perm = tm.tensor("l0.gate.perm");
  int32_t first;
  std::memcpy(&first, perm.bytes.data(), 4);
  std::memcpy(perm.bytes.data() + 4, &first, 4);
  expectRejected(tryOpen(base, {{"l0.gate.perm", perm}}), LOWBIT_RT_FORMAT,
                 {"(qmatmul)", "l0.gate.perm", "permutation"});

  expectRejected(tryOpen(base, {}, "x86-elf-so-v9"), LOWBIT_RT_UNSUPPORTED,
                 {"x86-elf-so-v9"});

  m = base;
  m["format"] = "lowbit-manifest-v2";
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT, {"lowbit-manifest-v2"});

  // A target this runtime has no driver for (LOWBITRT_DRIVERS).
  m = base;
  m["target"] = "cuda";
  expectRejected(tryOpen(m), LOWBIT_RT_UNSUPPORTED,
                 {"target 'cuda' is not supported", "available: x86"});

  m = base;
  m["program"]["kv_cache"].erase(1);
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT, {"(attention)", "kv_cache"});

  m = base;
  m["program"]["ops"][qm]["kernels"][0]["symbol"] = "lowbit_x86_missing";
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT,
                 {qmCtx.c_str(), "lowbit_x86_missing"});

  m = base;
  for (json &k : m["program"]["ops"][qm]["kernels"])
    k["isa"] = "avx512vnni";
  // Only where the CPU lacks AVX512-VNNI (the kernels are AVX2 code, so the
  // symbols still resolve).
  auto r = tryOpen(m);
  if (r.first != LOWBIT_RT_OK)
    expectRejected(r, LOWBIT_RT_UNSUPPORTED, {qmCtx.c_str(), "this CPU"});

  m = base;
  m["program"]["ops"][qm]["N"] = 48;
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT, {qmCtx.c_str(), "columns"});

  m = base;
  m["program"]["output"] = 2;
  expectRejected(tryOpen(m), LOWBIT_RT_FORMAT, {"output"});
}

TEST(EngineManifest, WrongTypesAreFormatErrors) {
  const json base = TinyModel::get().manifest;
  const size_t qm = opIndex(base, "qmatmul");
  std::vector<std::pair<std::string, json>> cases = {
      {"/program/ops/" + std::to_string(qm) + "/N", "32"},
      {"/program/ops/" + std::to_string(qm) + "/symmetric", 1},
      {"/program/ops/" + std::to_string(qm) + "/kernels", json::object()},
      {"/program/ops/1/eps", "tiny"},
      {"/program/ops/1/in", 3},
      {"/program/ops/1/op", 7},
      {"/program/ops/0", json::array()},
      {"/program/ops", json::object()},
      {"/program/buffers/0", json::array()},
      {"/program/buffers/3/cols", 1.5},
      {"/program/inputs", nullptr},
      {"/config", 5},
      {"/config/vocab_size", -3},
      {"/config/eos_token_id", "eos"},
      {"/format", nullptr},
      {"/program/ops/1/weight", json::array({1})},
  };
  for (const auto &[ptr, value] : cases) {
    json m = base;
    m[json::json_pointer(ptr)] = value;
    auto r = tryOpen(m);
    EXPECT_EQ(r.first, LOWBIT_RT_FORMAT) << ptr << ": " << r.second;
    EXPECT_FALSE(r.second.empty()) << ptr;
  }
}

/// Replaces random nodes of the manifest with values of random types: the
/// loader must answer with a status, never crash.
TEST(EngineManifest, RandomMutationsNeverCrash) {
  const json base = TinyModel::get().manifest;
  std::mt19937 rng(99);
  const json values[] = {nullptr,
                         "x",
                         -1,
                         0,
                         1,
                         1e300,
                         -2.5,
                         true,
                         1000000000000LL,
                         json::array(),
                         json::object(),
                         json::array({0, 1})};
  int ok = 0;
  for (int iter = 0; iter < 150; ++iter) {
    json m = base;
    for (int j = 0; j < 1 + iter % 3; ++j) {
      // The leaves of the current document (earlier mutations change them).
      json flat = m.flatten();
      std::vector<std::string> pointers;
      for (auto it = flat.begin(); it != flat.end(); ++it)
        pointers.push_back(it.key());
      std::string ptr = pointers[rng() % pointers.size()];
      // Sometimes replace the parent container instead of the leaf.
      if (rng() % 4 == 0 && ptr.rfind('/') > 0)
        ptr = ptr.substr(0, ptr.rfind('/'));
      m[json::json_pointer(ptr)] = values[rng() % std::size(values)];
    }
    auto r = tryOpen(m);
    if (r.first == LOWBIT_RT_OK)
      ++ok;
    else
      EXPECT_FALSE(r.second.empty());
  }
  // Most mutations break something.
  EXPECT_LT(ok, 150);
}

TEST(EngineTokenizer, TokenizeDetokenizeAndPieces) {
  json m = TinyModel::get().manifest;
  m["tokenizer"] = tinyTokenizer();
  std::string p = TinyModel::get().write(m);
  ModelHandle h;
  ASSERT_EQ(lowbit_rt_model_open(p.c_str(), &h.model), LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  // LOWBIT_ENGINE_TEST_KEEP=path keeps this bundle (e.g. to try lowbit-run).
  if (const char *keep = std::getenv("LOWBIT_ENGINE_TEST_KEEP"))
    std::rename(p.c_str(), keep);
  else
    std::remove(p.c_str());

  const char *text = "ab cab";
  int64_t n = -1;
  EXPECT_EQ(lowbit_rt_tokenize(h.model, text, 6, 1, nullptr, 0, &n),
            LOWBIT_RT_INVALID_ARGUMENT);
  ASSERT_GT(n, 0);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  ASSERT_EQ(lowbit_rt_tokenize(h.model, text, 6, 1, ids.data(), n, &n),
            LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  EXPECT_EQ(ids.front(), 0); // BOS
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 29, 2, 5, 29}));

  size_t len = 0;
  char small[2];
  EXPECT_EQ(
      lowbit_rt_detokenize(h.model, ids.data(), n, small, sizeof(small), &len),
      LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_EQ(len, 6u);
  char buf[32];
  ASSERT_EQ(
      lowbit_rt_detokenize(h.model, ids.data(), n, buf, sizeof(buf), &len),
      LOWBIT_RT_OK);
  EXPECT_EQ(std::string(buf, len), text);
  EXPECT_EQ(buf[len], '\0');

  std::string streamed;
  int32_t prev = -1;
  for (int32_t id : ids) {
    ASSERT_EQ(lowbit_rt_token_piece(h.model, prev, id, buf, sizeof(buf), &len),
              LOWBIT_RT_OK);
    streamed.append(buf, len);
    prev = id;
  }
  EXPECT_EQ(streamed, text);
}

/// tinyTokenizer() with <|im_start|> (30) and <|im_end|> (31).
json chatTokenizer() {
  json t = tinyTokenizer();
  for (auto [id, content] :
       {std::pair<int, const char *>{30, "<|im_start|>"}, {31, "<|im_end|>"}})
    t["added_tokens"].push_back({{"id", id},
                                 {"content", content},
                                 {"single_word", false},
                                 {"lstrip", false},
                                 {"rstrip", false},
                                 {"normalized", false},
                                 {"special", true}});
  return t;
}

/// Opens the tiny model with `tokenizer` and `config` (null: none).
void openWith(ModelHandle &h, const json &tokenizer, const json &config) {
  json m = TinyModel::get().manifest;
  m["tokenizer"] = tokenizer;
  if (!config.is_null())
    m["tokenizer_config"] = config;
  std::string p = TinyModel::get().write(m);
  ASSERT_EQ(lowbit_rt_model_open(p.c_str(), &h.model), LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  std::remove(p.c_str());
}

struct ChatHandle {
  lowbit_rt_chat *chat = nullptr;
  ~ChatHandle() { lowbit_rt_chat_free(chat); }
};

const char *kChatML = "{% for m in messages %}{{'<|im_start|>' + m['role'] + "
                      "' ' + m['content'] + '<|im_end|>'}}{% endfor %}";

TEST(EngineChat, TemplateTokensAndStops) {
  ModelHandle h;
  openWith(h, chatTokenizer(),
           {{"chat_template", kChatML},
            {"add_bos_token", false},
            {"eos_token", {{"content", "</s>"}}}});
  ChatHandle c;
  ASSERT_EQ(lowbit_rt_chat_create(h.model, nullptr, &c.chat), LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  const char *family = nullptr;
  ASSERT_EQ(lowbit_rt_chat_get_family(c.chat, &family), LOWBIT_RT_OK);
  EXPECT_STREQ(family, "chatml");

  lowbit_rt_chat_message msgs[] = {{"user", "ab"}};
  char buf[128];
  size_t len = 0;
  ASSERT_EQ(lowbit_rt_chat_render(c.chat, msgs, 1, 0, buf, sizeof(buf), &len),
            LOWBIT_RT_OK);
  EXPECT_EQ(std::string(buf, len), "<|im_start|>user\nab<|im_end|>\n");
  EXPECT_EQ(lowbit_rt_chat_render(c.chat, msgs, 1, 1, buf, 4, &len),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_EQ(len, std::strlen("<|im_start|>user\nab<|im_end|>\n"
                             "<|im_start|>assistant\n"));
  // Special tokens become their ids; add_bos_token false: no BOS.
  int64_t n = 0;
  int32_t ids[64];
  ASSERT_EQ(lowbit_rt_chat_tokenize(c.chat, msgs, 1, 1, ids, 64, &n),
            LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  ASSERT_GT(n, 3);
  EXPECT_EQ(ids[0], 30);
  EXPECT_NE(std::find(ids, ids + n, 29), ids + n); // "ab"
  EXPECT_NE(std::find(ids, ids + n, 31), ids + n);
  EXPECT_EQ(std::count(ids, ids + n, 30), 2);
  EXPECT_EQ(lowbit_rt_chat_tokenize(c.chat, msgs, 1, 1, ids, 1, &n),
            LOWBIT_RT_INVALID_ARGUMENT);
  // The plain prompt has no BOS either.
  ASSERT_EQ(lowbit_rt_tokenize(h.model, "ab", 2, 1, ids, 64, &n), LOWBIT_RT_OK);
  EXPECT_EQ(std::vector<int32_t>(ids, ids + n), std::vector<int32_t>{29});

  lowbit_rt_stop_kind kind;
  ASSERT_EQ(lowbit_rt_chat_stop(c.chat, 31, &kind), LOWBIT_RT_OK);
  EXPECT_EQ(kind, LOWBIT_RT_STOP_END_OF_TURN);
  ASSERT_EQ(lowbit_rt_chat_stop(c.chat, 1, &kind), LOWBIT_RT_OK);
  EXPECT_EQ(kind, LOWBIT_RT_STOP_EOS);
  ASSERT_EQ(lowbit_rt_chat_stop(c.chat, 5, &kind), LOWBIT_RT_OK);
  EXPECT_EQ(kind, LOWBIT_RT_STOP_NONE);
  ASSERT_EQ(lowbit_rt_model_eos_ids(h.model, ids, 64, &n), LOWBIT_RT_OK);
  EXPECT_EQ(std::vector<int32_t>(ids, ids + n), std::vector<int32_t>{1});

  // Llama-2 rejects turns that do not alternate.
  ChatHandle l2;
  ASSERT_EQ(lowbit_rt_chat_create(h.model, "llama2", &l2.chat), LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  lowbit_rt_chat_message two[] = {{"user", "a"}, {"user", "b"}};
  EXPECT_EQ(lowbit_rt_chat_render(l2.chat, two, 2, 1, buf, sizeof(buf), &len),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("alternate"),
            std::string::npos);
  lowbit_rt_chat_message nul[] = {{"user", nullptr}};
  EXPECT_EQ(lowbit_rt_chat_render(c.chat, nul, 1, 1, buf, sizeof(buf), &len),
            LOWBIT_RT_INVALID_ARGUMENT);
  ChatHandle bad;
  EXPECT_EQ(lowbit_rt_chat_create(h.model, "vicuna", &bad.chat),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lowbit_rt_last_error())
                .find("known: chatml, llama2, llama3, none"),
            std::string::npos);
}

TEST(EngineChat, EosTokenJoinsTheEosIds) {
  ModelHandle h;
  openWith(h, chatTokenizer(),
           {{"chat_template", kChatML}, {"eos_token", "<|im_end|>"}});
  int64_t n = 0;
  int32_t ids[4];
  ASSERT_EQ(lowbit_rt_model_eos_ids(h.model, ids, 4, &n), LOWBIT_RT_OK);
  EXPECT_EQ(std::vector<int32_t>(ids, ids + n), (std::vector<int32_t>{1, 31}));
  EXPECT_EQ(lowbit_rt_model_eos_ids(h.model, ids, 1, &n),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_EQ(n, 2);
  ChatHandle c;
  ASSERT_EQ(lowbit_rt_chat_create(h.model, nullptr, &c.chat), LOWBIT_RT_OK);
  lowbit_rt_stop_kind kind;
  ASSERT_EQ(lowbit_rt_chat_stop(c.chat, 31, &kind), LOWBIT_RT_OK);
  EXPECT_EQ(kind, LOWBIT_RT_STOP_EOS);
}

TEST(EngineChat, NoOrUnknownTemplate) {
  ModelHandle h;
  openWith(h, chatTokenizer(), nullptr);
  ChatHandle c;
  EXPECT_EQ(lowbit_rt_chat_create(h.model, nullptr, &c.chat),
            LOWBIT_RT_UNSUPPORTED);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("no chat template"),
            std::string::npos);
  // No <|eot_id|> in this tokenizer.
  EXPECT_EQ(lowbit_rt_chat_create(h.model, "llama3", &c.chat),
            LOWBIT_RT_UNSUPPORTED);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("'<|eot_id|>'"),
            std::string::npos);
  // "none" needs nothing; the plain BOS rule applies (template: <s>).
  ASSERT_EQ(lowbit_rt_chat_create(h.model, "none", &c.chat), LOWBIT_RT_OK);
  lowbit_rt_chat_message msgs[] = {{"user", "ab"}};
  int64_t n = 0;
  int32_t ids[8];
  ASSERT_EQ(lowbit_rt_chat_tokenize(c.chat, msgs, 1, 1, ids, 8, &n),
            LOWBIT_RT_OK);
  EXPECT_EQ(std::vector<int32_t>(ids, ids + n), (std::vector<int32_t>{0, 29}));
  lowbit_rt_stop_kind kind;
  ASSERT_EQ(lowbit_rt_chat_stop(c.chat, 31, &kind), LOWBIT_RT_OK);
  EXPECT_EQ(kind, LOWBIT_RT_STOP_NONE);

  ModelHandle u;
  openWith(u, chatTokenizer(), {{"chat_template", "{{ messages }}"}});
  ChatHandle cu;
  EXPECT_EQ(lowbit_rt_chat_create(u.model, nullptr, &cu.chat),
            LOWBIT_RT_UNSUPPORTED);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("unrecognised"),
            std::string::npos);
}

TEST(EngineChat, ManifestTypeErrors) {
  json m = TinyModel::get().manifest;
  m["tokenizer"] = chatTokenizer();
  struct Case {
    json config;
    const char *message;
  } cases[] = {
      {json::array(), "field 'tokenizer_config' must be a JSON object"},
      {{{"add_bos_token", 1}}, "field 'add_bos_token' must be a boolean"},
      {{{"add_eos_token", "no"}}, "field 'add_eos_token' must be a boolean"},
      {{{"bos_token", 3}}, "field 'bos_token' must be a string"},
      {{{"chat_template", {{"a", 1}}}}, "field 'chat_template' must be"},
      {{{"chat_template", {{{"name", "default"}}}}},
       "field 'chat_template'[0] must be an object"},
  };
  for (const Case &c : cases) {
    m["tokenizer_config"] = c.config;
    std::string p = TinyModel::get().write(m);
    lowbit_rt_model *model = nullptr;
    EXPECT_EQ(lowbit_rt_model_open(p.c_str(), &model), LOWBIT_RT_FORMAT)
        << c.config.dump();
    EXPECT_NE(std::string(lowbit_rt_last_error()).find(c.message),
              std::string::npos)
        << lowbit_rt_last_error();
    lowbit_rt_model_free(model);
    std::remove(p.c_str());
  }
  // Without a tokenizer, a tokenizer_config is an error too.
  json bare = TinyModel::get().manifest;
  bare["tokenizer_config"] = json::object();
  std::string p = TinyModel::get().write(bare);
  lowbit_rt_model *model = nullptr;
  EXPECT_EQ(lowbit_rt_model_open(p.c_str(), &model), LOWBIT_RT_FORMAT);
  EXPECT_NE(std::string(lowbit_rt_last_error()).find("needs a 'tokenizer'"),
            std::string::npos);
  lowbit_rt_model_free(model);
  std::remove(p.c_str());
}

} // namespace
