//===- TokenizerTests.cpp - Tests of the tokenizer.json tokenizer ---------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Unit tests of lowbit::rt::Tokenizer: the real stories260k tokenizer against
/// its reference token files and golden prompts (skipped when the shared
/// models are absent), hand-made sentencepiece-style and byte-level
/// tokenizers, and the error paths of loading.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/ChatTemplate.h"
#include "lowbitrt/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

using lowbit::rt::ChatConfig;
using lowbit::rt::ChatMessage;
using lowbit::rt::ChatTemplate;
using lowbit::rt::parseChatConfig;
using lowbit::rt::Tokenizer;
using json = nlohmann::json;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::vector<int32_t> readInt32LE(const std::string &bytes) {
  std::vector<int32_t> out(bytes.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t v = 0;
    for (int b = 3; b >= 0; --b)
      v = (v << 8) | static_cast<unsigned char>(bytes[4 * i + b]);
    out[i] = static_cast<int32_t>(v);
  }
  return out;
}

/// The `tokens` tensor and the metadata `text` of a golden safetensors file
/// (8-byte little-endian header length, JSON header, data).
bool readGolden(const std::string &path, std::vector<int32_t> &tokens,
                std::string &text) {
  std::string file;
  if (!readFile(path, file) || file.size() < 8)
    return false;
  uint64_t headerLen = 0;
  for (int b = 7; b >= 0; --b)
    headerLen = (headerLen << 8) | static_cast<unsigned char>(file[b]);
  if (headerLen > file.size() - 8)
    return false;
  json header = json::parse(file.substr(8, headerLen), nullptr, false);
  if (!header.is_object() || !header.contains("tokens"))
    return false;
  const json &t = header["tokens"];
  if (t.value("dtype", "") != "I32")
    return false;
  size_t begin = t["data_offsets"][0].get<size_t>();
  size_t end = t["data_offsets"][1].get<size_t>();
  size_t base = 8 + headerLen;
  if (base + end > file.size() || begin > end)
    return false;
  tokens = readInt32LE(file.substr(base + begin, end - begin));
  text = header["__metadata__"].value("text", "");
  return true;
}

std::vector<std::string> splitLines(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    lines.push_back(line);
  return lines;
}

std::string streamDecode(const Tokenizer &tok,
                         const std::vector<int32_t> &ids) {
  std::string out;
  int32_t prev = -1;
  for (int32_t id : ids) {
    out += tok.decodeToken(prev, id);
    prev = id;
  }
  return out;
}

std::unique_ptr<Tokenizer> load(const json &j) {
  std::string err;
  auto tok = Tokenizer::fromJSON(j.dump(), err);
  EXPECT_TRUE(tok) << err;
  return tok;
}

/// The error message of loading `text`, or "" when it loads.
std::string loadError(const std::string &text) {
  std::string err;
  auto tok = Tokenizer::fromJSON(text, err);
  if (tok)
    return "";
  EXPECT_FALSE(err.empty());
  return err;
}

//===----------------------------------------------------------------------===//
// stories260k (the real model)
//===----------------------------------------------------------------------===//

class Stories260k : public ::testing::Test {
protected:
  void SetUp() override {
    const char *models = std::getenv("LOWBIT_SHARED_MODELS");
    if (!models || !*models)
      GTEST_SKIP() << "LOWBIT_SHARED_MODELS is not set";
    dir = std::string(models) + "/stories260k";
    std::string probe;
    if (!readFile(dir + "/tokenizer.json", probe))
      GTEST_SKIP() << dir << "/tokenizer.json not found";
    std::string err;
    tok = Tokenizer::fromFile(dir + "/tokenizer.json", err);
    ASSERT_TRUE(tok) << err;
  }

  /// Encodes `data/<name>.txt` (as is) with BOS and compares with the first
  /// ids of `data/<name>_tokens.bin`.
  void checkTokenFile(const std::string &name, size_t expectedTotal) {
    std::string text, bin;
    ASSERT_TRUE(readFile(dir + "/data/" + name + ".txt", text));
    ASSERT_TRUE(readFile(dir + "/data/" + name + "_tokens.bin", bin));
    std::vector<int32_t> ref = readInt32LE(bin);
    ASSERT_EQ(ref.size(), 32768u);

    auto start = std::chrono::steady_clock::now();
    std::vector<int32_t> ids;
    std::string err;
    ASSERT_TRUE(tok->encode(text, /*addBos=*/true, ids, err)) << err;
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    std::cout << "[ info ] encoded " << name << ".txt (" << text.size()
              << " bytes) into " << ids.size() << " ids in " << ms << " ms\n";
#ifdef LOWBIT_SANITIZE
    EXPECT_LT(ms, 10000.0); // ASan + UBSan: ~5x slower
#else
    EXPECT_LT(ms, 1000.0);
#endif
    EXPECT_EQ(ids.size(), expectedTotal);
    ASSERT_GE(ids.size(), ref.size());
    size_t mismatches = 0, first = ref.size();
    for (size_t i = 0; i < ref.size(); ++i)
      if (ids[i] != ref[i] && mismatches++ == 0)
        first = i;
    EXPECT_EQ(mismatches, 0u) << "first mismatch at " << first;
    // BOS only at index 0.
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 1);
    // The whole text round-trips.
    EXPECT_EQ(tok->decode(ids), text);
  }

  std::string dir;
  std::unique_ptr<Tokenizer> tok;
};

TEST_F(Stories260k, Basics) {
  EXPECT_EQ(tok->bosId(), 1);
  EXPECT_EQ(tok->eosId(), 2);
  EXPECT_EQ(tok->unkId(), 0);
  EXPECT_EQ(tok->vocabSize(), 512);
  EXPECT_EQ(tok->tokenToId("<0x0A>"), std::optional<int32_t>(13));
  EXPECT_EQ(tok->idToToken(13), "<0x0A>");
  EXPECT_EQ(tok->bosPrefix(), std::vector<int32_t>{1});
  EXPECT_TRUE(tok->isSpecial(1));
  EXPECT_FALSE(tok->isSpecial(13));
  EXPECT_EQ(tok->encode("", true), std::vector<int32_t>{1});
  EXPECT_EQ(tok->encode("", false), std::vector<int32_t>{});
}

TEST_F(Stories260k, EvalTokens) { checkTokenFile("eval", 32825); }

TEST_F(Stories260k, CalibTokens) { checkTokenFile("calib", 32805); }

TEST_F(Stories260k, ParagraphRoundTrip) {
  for (const char *name : {"eval", "calib"}) {
    std::string text;
    ASSERT_TRUE(readFile(dir + "/data/" + name + ".txt", text));
    size_t n = 0;
    for (const std::string &line : splitLines(text)) {
      std::vector<int32_t> ids = tok->encode(line, true);
      ASSERT_EQ(tok->decode(ids), line);
      ASSERT_EQ(streamDecode(*tok, ids), line);
      ++n;
    }
    EXPECT_GT(n, 300u);
  }
}

TEST_F(Stories260k, GoldenPrompts) {
  for (const char *name : {"golden_short_prompt", "golden_mixed_bytes"}) {
    SCOPED_TRACE(name);
    std::vector<int32_t> golden;
    std::string text;
    ASSERT_TRUE(
        readGolden(dir + "/golden/" + name + ".safetensors", golden, text));
    ASSERT_FALSE(text.empty());
    // The golden prompts start with BOS.
    EXPECT_EQ(tok->encode(text, true), golden);
    EXPECT_EQ(tok->decode(golden), text);
    EXPECT_EQ(streamDecode(*tok, golden), text);
  }
}

TEST_F(Stories260k, GoldenEvalWindowAndGreedyText) {
  std::vector<int32_t> golden;
  std::string text;
  ASSERT_TRUE(readGolden(dir + "/golden/golden_eval_window0.safetensors",
                         golden, text));
  std::string eval;
  ASSERT_TRUE(readFile(dir + "/data/eval.txt", eval));
  std::vector<int32_t> ids = tok->encode(eval, true);
  ASSERT_GE(ids.size(), golden.size());
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + golden.size()),
            golden);

  std::string greedyText;
  ASSERT_TRUE(readFile(dir + "/golden/greedy_from_bos.json", greedyText));
  json greedy = json::parse(greedyText);
  std::vector<int32_t> greedyIds = greedy["tokens"].get<std::vector<int32_t>>();
  EXPECT_EQ(tok->decode(greedyIds), greedy["text"].get<std::string>());
  EXPECT_EQ(streamDecode(*tok, greedyIds), greedy["text"].get<std::string>());
}

TEST_F(Stories260k, ByteFallbackPieces) {
  // "😀" is four byte tokens; streamed, each piece is one raw byte.
  std::vector<int32_t> ids = tok->encode("😀", false);
  ASSERT_EQ(ids.size(), 5u); // "▁" + 4 bytes
  std::string piece = tok->decodeToken(ids[1], ids[2]);
  EXPECT_EQ(piece, "\x9F");
  // Malformed UTF-8 encodes byte by byte and never crashes.
  std::string bad = "ab\xff\xfe\xc3(\xe2\x82 cd\xf0\x9f";
  ids = tok->encode(bad, true);
  EXPECT_EQ(streamDecode(*tok, ids), bad);
  EXPECT_EQ(tok->decode(ids),
            "ab\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD"
            " cd\xEF\xBF\xBD\xEF\xBF\xBD");
}

//===----------------------------------------------------------------------===//
// Hand-made sentencepiece-style tokenizer
//===----------------------------------------------------------------------===//

/// Vocabulary: <unk> <s> </s>, <0x00>..<0xFF> (ids 3..258), then
/// ▁ 259, a 260, b 261, c 262, ab 263, ▁a 264, ▁ab 265, bc 266.
json sentencepieceJSON() {
  json vocab = json::object();
  vocab["<unk>"] = 0;
  vocab["<s>"] = 1;
  vocab["</s>"] = 2;
  char name[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  const std::string meta = "\xE2\x96\x81"; // ▁
  int next = 259;
  for (const std::string &t :
       {meta, std::string("a"), std::string("b"), std::string("c"),
        std::string("ab"), meta + "a", meta + "ab", std::string("bc")})
    vocab[t] = next++;
  json added = json::array();
  int id = 0;
  for (const char *t : {"<unk>", "<s>", "</s>"})
    added.push_back({{"id", id++},
                     {"content", t},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"},
           {"pattern", {{"String", " "}}},
           {"content", "\xE2\x96\x81"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair", json::array()},
        {"special_tokens",
         {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"},
           {"pattern", {{"String", "\xE2\x96\x81"}}},
           {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", {"b c", "a b", "\xE2\x96\x81 a", "\xE2\x96\x81 ab"}}}}};
}

using Ids = std::vector<int32_t>;

TEST(SentencePieceStyle, MergesByRank) {
  auto tok = load(sentencepieceJSON());
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("abc", true), (Ids{1, 264, 266}));
  // "b c" (rank 0) beats "a b" (rank 1): ▁ ▁ a bc -> ▁ ▁a bc.
  EXPECT_EQ(tok->encode(" abc", true), (Ids{1, 259, 264, 266}));
  EXPECT_EQ(tok->encode(" ab", true), (Ids{1, 259, 265}));
  EXPECT_EQ(tok->encode("ab", false), (Ids{265}));
  EXPECT_EQ(tok->encode("a b c abc", true),
            (Ids{1, 264, 259, 261, 259, 262, 264, 266}));
  EXPECT_EQ(tok->encode(" ", true), (Ids{1, 259, 259}));
}

TEST(SentencePieceStyle, MergeArraysEqualMergeStrings) {
  json j = sentencepieceJSON();
  json arrays = json::array();
  for (const json &m : j["model"]["merges"]) {
    std::string s = m.get<std::string>();
    size_t sp = s.find(' ');
    arrays.push_back({s.substr(0, sp), s.substr(sp + 1)});
  }
  j["model"]["merges"] = arrays;
  auto tok = load(j);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode(" abc", true), (Ids{1, 259, 264, 266}));
}

TEST(SentencePieceStyle, ByteFallbackAndUnknown) {
  json j = sentencepieceJSON();
  auto tok = load(j);
  ASSERT_TRUE(tok);
  // é = C3 A9 -> <0xC3> <0xA9>.
  EXPECT_EQ(tok->encode("\xC3\xA9", true), (Ids{1, 259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok->decode({1, 259, 3 + 0xC3, 3 + 0xA9}), "\xC3\xA9");
  // A lone byte decodes to U+FFFD, or raw when streamed.
  EXPECT_EQ(tok->decode({3 + 0xC3}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok->decodeToken(260, 3 + 0xC3), "\xC3");
  // Malformed UTF-8 falls back to bytes.
  EXPECT_EQ(tok->encode("a\xFF"
                        "b",
                        false),
            (Ids{264, 3 + 0xFF, 261}));

  // Without byte fallback unknown characters become <unk>, fused or not.
  j["model"]["byte_fallback"] = false;
  tok = load(j);
  EXPECT_EQ(tok->encode("\xC3\xA9\xC3\xA9 a", true), (Ids{1, 259, 0, 264}));
  EXPECT_EQ(tok->encode("\xC3\xA9"
                        "a\xC3\xA9",
                        true),
            (Ids{1, 259, 0, 260, 0}));
  j["model"]["fuse_unk"] = false;
  tok = load(j);
  EXPECT_EQ(tok->encode("\xC3\xA9\xC3\xA9 a", true), (Ids{1, 259, 0, 0, 264}));
}

TEST(SentencePieceStyle, SpecialTokensInText) {
  auto tok = load(sentencepieceJSON());
  ASSERT_TRUE(tok);
  // Each piece around a special token gets its own "▁" prefix, as in HF.
  EXPECT_EQ(tok->encode("a<s>b", true), (Ids{1, 264, 1, 259, 261}));
  EXPECT_EQ(tok->encode("</s>", false), (Ids{2}));
  EXPECT_EQ(tok->decode({1, 264, 2, 261}), "ab");
  EXPECT_EQ(tok->decode({1, 264, 2, 261}, /*skipSpecial=*/false), "<s> a</s>b");
}

TEST(SentencePieceStyle, DecodeAndStream) {
  auto tok = load(sentencepieceJSON());
  ASSERT_TRUE(tok);
  Ids ids = tok->encode("ab  abc", true);
  EXPECT_EQ(tok->decode(ids), "ab  abc");
  EXPECT_EQ(tok->decodeToken(1, 265), "ab");   // leading space stripped
  EXPECT_EQ(tok->decodeToken(-1, 265), "ab");  // start of stream
  EXPECT_EQ(tok->decodeToken(265, 259), " ");  // mid-text space kept
  EXPECT_EQ(tok->decodeToken(259, 264), " a"); // "▁a" after "▁"
  EXPECT_EQ(tok->decodeToken(264, 1), "");     // special tokens are silent
  EXPECT_EQ(streamDecode(*tok, ids), "ab  abc");
  EXPECT_EQ(tok->decode({9999, -5, 264}), "a"); // unknown ids are dropped
}

TEST(SentencePieceStyle, LegacyMetaspace) {
  json j = sentencepieceJSON();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"},
                        {"replacement", "\xE2\x96\x81"},
                        {"add_prefix_space", true}};
  j["decoder"] = {{"type", "Metaspace"},
                  {"replacement", "\xE2\x96\x81"},
                  {"add_prefix_space", true}};
  auto tok = load(j);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("a b", true), (Ids{1, 264, 259, 261}));
  EXPECT_EQ(tok->encode("ab  abc", true), (Ids{1, 265, 259, 264, 266}));
  EXPECT_EQ(tok->decode({1, 265, 259, 264, 266}), "ab  abc");
}

TEST(SentencePieceStyle, LongTextIsFast) {
  auto tok = load(sentencepieceJSON());
  ASSERT_TRUE(tok);
  std::string text;
  for (int i = 0; i < 50000; ++i)
    text += (i % 7) ? "abc " : "\xC3\xA9 ";
  auto start = std::chrono::steady_clock::now();
  Ids ids = tok->encode(text, true);
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
#ifdef LOWBIT_SANITIZE
  // ASan + UBSan make this ~5x slower; 10 s still fails a quadratic encoder.
  const double limitMs = 10000.0;
#else
  const double limitMs = 1000.0;
#endif
  EXPECT_LT(ms, limitMs) << "encoding " << text.size() << " bytes";
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(SentencePieceStyle, NoTemplateBosRules) {
  json j = sentencepieceJSON();
  j["post_processor"] = nullptr;
  std::string err;
  // "<s>" is a conventional BOS: prepended without a template.
  auto tok = Tokenizer::fromJSON(j.dump(), err);
  ASSERT_TRUE(tok) << err;
  EXPECT_EQ(tok->bosId(), 1);
  EXPECT_EQ(tok->encode("ab", true), (Ids{1, 265}));
  // A config can turn it off.
  tok = Tokenizer::fromJSON(j.dump(), err, R"({"add_bos_token": false})");
  ASSERT_TRUE(tok) << err;
  EXPECT_EQ(tok->encode("ab", true), (Ids{265}));
  // And name other BOS/EOS tokens.
  tok = Tokenizer::fromJSON(
      j.dump(), err,
      R"({"bos_token": {"content": "</s>"}, "eos_token": "<unk>",
          "add_bos_token": true})");
  ASSERT_TRUE(tok) << err;
  EXPECT_EQ(tok->bosId(), 2);
  EXPECT_EQ(tok->eosId(), 0);
  EXPECT_EQ(tok->encode("ab", true), (Ids{2, 265}));
}

TEST(SentencePieceStyle, AddBosTokenOverridesTemplate) {
  // The template prepends <s>; an explicit add_bos_token decides, as
  // transformers rebuilds the post-processor from it.
  json j = sentencepieceJSON();
  std::string err;
  auto tok = Tokenizer::fromJSON(j.dump(), err);
  ASSERT_TRUE(tok) << err;
  EXPECT_EQ(tok->encode("ab", true), (Ids{1, 265}));
  tok = Tokenizer::fromJSON(j.dump(), err, R"({"add_bos_token": false})");
  ASSERT_TRUE(tok) << err;
  EXPECT_EQ(tok->encode("ab", true), (Ids{265}));
  EXPECT_TRUE(tok->bosPrefix().empty());
  EXPECT_EQ(tok->bosId(), 1);
  tok = Tokenizer::fromJSON(j.dump(), err, R"({"add_bos_token": true})");
  ASSERT_TRUE(tok) << err;
  EXPECT_EQ(tok->encode("ab", true), (Ids{1, 265}));
  // null means unset: the template decides.
  tok = Tokenizer::fromJSON(j.dump(), err, R"({"add_bos_token": null})");
  ASSERT_TRUE(tok) << err;
  EXPECT_EQ(tok->encode("ab", true), (Ids{1, 265}));
}

//===----------------------------------------------------------------------===//
// Chat templates (rendering is compared with Jinja by check_chat_templates.py)
//===----------------------------------------------------------------------===//

TEST(ChatTemplate, RecognizesFamilies) {
  std::string err;
  auto t = ChatTemplate::recognize(
      "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + "
      "m['content'] + '<|im_end|>\\n'}}{% endfor %}",
      "", "", err);
  ASSERT_TRUE(t) << err;
  EXPECT_STREQ(t->name(), "chatml");
  EXPECT_FALSE(t->defaultSystem());
  EXPECT_EQ(t->endOfTurnToken(), "<|im_end|>");
  // A default system prompt, with escapes and quotes.
  t = ChatTemplate::recognize(
      "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nIt\\'s "
      "\"me\"<|im_end|>\\n' }}{% endif %}<|im_end|>",
      "", "", err);
  ASSERT_TRUE(t) << err;
  ASSERT_TRUE(t->defaultSystem());
  EXPECT_EQ(*t->defaultSystem(), "It's \"me\"");
  t = ChatTemplate::recognize("<|start_header_id|>x<|eot_id|>", "<b>", "</b>",
                              err);
  ASSERT_TRUE(t) << err;
  EXPECT_STREQ(t->name(), "llama3");
  EXPECT_EQ(t->endOfTurnToken(), "<|eot_id|>");
  t = ChatTemplate::recognize("[INST] <<SYS>> [/INST]", "<s>", "</s>", err);
  ASSERT_TRUE(t) << err;
  EXPECT_STREQ(t->name(), "llama2");
  EXPECT_EQ(t->endOfTurnToken(), "</s>");
}

TEST(ChatTemplate, RejectsUnknownTemplates) {
  std::string err;
  for (const char *text :
       {"{{ messages[0].content }}", "[INST] {{ x }} [/INST]",
        "<|start_header_id|>Cutting Knowledge Date<|eot_id|>",
        "<|im_start|><|im_end|>[INST][/INST]"}) {
    EXPECT_FALSE(ChatTemplate::recognize(text, "", "", err)) << text;
    EXPECT_NE(err.find("known families: chatml, llama2, llama3, none"),
              std::string::npos)
        << err;
  }
  EXPECT_FALSE(ChatTemplate::fromName("vicuna", "", ""));
}

TEST(ChatTemplate, RendersFamilies) {
  std::vector<ChatMessage> conv = {{"system", "S"}, {"user", " hi "}};
  std::string out, err;
  auto t = ChatTemplate::fromName("chatml", "<s>", "</s>");
  ASSERT_TRUE(t && t->render(conv, true, out, err)) << err;
  EXPECT_EQ(out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n hi "
                 "<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_FALSE(t->writesBos());
  t = ChatTemplate::fromName("llama3", "<B>", "<E>");
  ASSERT_TRUE(t && t->render(conv, false, out, err)) << err;
  EXPECT_EQ(out, "<B><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
  EXPECT_TRUE(t->writesBos());
  t = ChatTemplate::fromName("llama2", "<s>", "</s>");
  conv.push_back({"assistant", "yo"});
  ASSERT_TRUE(t && t->render(conv, true, out, err)) << err;
  EXPECT_EQ(out, "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n hi [/INST] yo </s>");
  // Llama-2 turns must alternate, starting with the user.
  EXPECT_FALSE(t->render({{"assistant", "a"}}, true, out, err));
  EXPECT_NE(err.find("alternate"), std::string::npos) << err;
  t = ChatTemplate::fromName("none", "<s>", "</s>");
  ASSERT_TRUE(t && t->render(conv, true, out, err)) << err;
  EXPECT_EQ(out, "S hi yo");
}

TEST(ChatTemplate, ParsesConfig) {
  ChatConfig c;
  std::string err;
  ASSERT_TRUE(parseChatConfig(
      R"({"chat_template": [{"name": "tool_use", "template": "T"},
                            {"name": "default", "template": "D"}],
          "bos_token": {"content": "<s>"}, "eos_token": "</s>",
          "add_bos_token": false, "add_eos_token": null, "other": 1})",
      c, err))
      << err;
  EXPECT_EQ(c.chatTemplate.value_or(""), "D");
  EXPECT_EQ(c.bosToken, "<s>");
  EXPECT_EQ(c.eosToken, "</s>");
  EXPECT_EQ(c.addBosToken, std::optional<bool>(false));
  EXPECT_FALSE(c.addEosToken);
  EXPECT_FALSE(parseChatConfig(R"({"add_bos_token": 1})", c, err));
  EXPECT_EQ(err, "field 'add_bos_token' must be a boolean or null");
  EXPECT_FALSE(parseChatConfig(R"({"bos_token": {"id": 1}})", c, err));
  EXPECT_NE(err.find("'bos_token'"), std::string::npos);
  EXPECT_FALSE(parseChatConfig(R"({"chat_template": [{"name": 1}]})", c, err));
  EXPECT_NE(err.find("'chat_template'[0]"), std::string::npos);
  EXPECT_FALSE(parseChatConfig("[]", c, err));
  EXPECT_FALSE(parseChatConfig("{", c, err));
}

//===----------------------------------------------------------------------===//
// Hand-made byte-level tokenizer
//===----------------------------------------------------------------------===//

json byteLevelJSON(bool useRegex) {
  // Ġ (space) 0, a 1, Ġa 2, ÿ (byte FF) 3, Ã (C3) 4, © (A9) 5, b 6.
  json vocab = {{"\xC4\xA0", 0},
                {"a", 1},
                {"\xC4\xA0"
                 "a",
                 2},
                {"\xC3\xBF", 3},
                {"\xC3\x83", 4},
                {"\xC2\xA9", 5},
                {"b", 6}};
  return {{"added_tokens",
           {{{"id", 7},
             {"content", "<|endoftext|>"},
             {"special", true},
             {"normalized", false}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "ByteLevel"},
            {"add_prefix_space", false},
            {"trim_offsets", true},
            {"use_regex", useRegex}}},
          {"post_processor", {{"type", "ByteLevel"}, {"trim_offsets", true}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model",
           {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"\xC4\xA0 a"}}}}};
}

TEST(ByteLevel, EncodeDecode) {
  auto tok = load(byteLevelJSON(true));
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode(" a", false), (Ids{2}));
  EXPECT_EQ(tok->encode("a a", false), (Ids{1, 2}));
  EXPECT_EQ(tok->encode("\xC3\xA9", false), (Ids{4, 5})); // é = C3 A9
  EXPECT_EQ(tok->decode({4, 5}), "\xC3\xA9");
  EXPECT_EQ(tok->decode({4}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok->decodeToken(-1, 4), "\xC3");
  EXPECT_EQ(tok->decodeToken(4, 5), "\xA9");
  // Malformed UTF-8 maps byte by byte; the invalid byte is never matched by
  // the regex, so it forms its own word.
  EXPECT_EQ(tok->encode("a\xFF", false), (Ids{1, 3}));
  EXPECT_EQ(tok->encode("\xFF\xC3", false), (Ids{3, 4}));
  // Characters whose bytes are not in the vocabulary are dropped (no unk).
  EXPECT_EQ(tok->encode("xa", false), (Ids{1}));
  // GPT-2 style: no BOS without a template.
  EXPECT_EQ(tok->bosId(), -1);
  EXPECT_EQ(tok->eosId(), 7);
  EXPECT_EQ(tok->encode("a", true), (Ids{1}));
  EXPECT_EQ(tok->encode("a<|endoftext|> a", false), (Ids{1, 7, 2}));
  EXPECT_EQ(tok->decode({1, 7, 2}), "a a");
  EXPECT_EQ(tok->decode({1, 7, 2}, false), "a<|endoftext|> a");
}

TEST(ByteLevel, IgnoreMergesAndSplit) {
  json j = byteLevelJSON(false);
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern", {{"Regex", R"( ?\p{L}+|\s+)"}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"use_regex", false}}}}};
  j["model"]["vocab"]["ab"] = 8; // reachable only through ignore_merges
  auto tok = load(j);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("ab a", false), (Ids{1, 6, 2}));
  j["model"]["ignore_merges"] = true;
  tok = load(j);
  EXPECT_EQ(tok->encode("ab a", false), (Ids{8, 2}));
}

TEST(Regex, OnigurumaClassMeanings) {
  // \s is White_Space (PCRE2 alone also matches U+180E); \w includes marks
  // and the Latin-1 superscripts but not other numbers such as U+2460.
  json vocab = {{"a", 0},
                {"b", 1},
                {"\xE1\xA0\x8E", 2},  // U+180E MONGOLIAN VOWEL SEPARATOR
                {"\xCC\x81", 3},      // U+0301 COMBINING ACUTE ACCENT
                {"\xC2\xB2", 4},      // U+00B2 SUPERSCRIPT TWO
                {"\xE2\x91\xA0", 5}}; // U+2460 CIRCLED DIGIT ONE
  auto make = [&](const char *pattern) {
    json j = {{"pre_tokenizer",
               {{"type", "Split"},
                {"pattern", {{"Regex", pattern}}},
                {"behavior", "Removed"},
                {"invert", false}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}}}};
    return load(j);
  };
  auto space = make(R"(\s+)");
  ASSERT_TRUE(space);
  EXPECT_EQ(space->encode("a\xE1\xA0\x8E"
                          "b",
                          false),
            (Ids{0, 2, 1}));
  EXPECT_EQ(space->encode("a\xE2\x80\x83\xC2\x85"
                          "b",
                          false),
            (Ids{0, 1}));
  auto nonWord = make(R"(\W+)");
  ASSERT_TRUE(nonWord);
  EXPECT_EQ(nonWord->encode("a\xCC\x81\xC2\xB2\xE2\x91\xA0"
                            "b",
                            false),
            (Ids{0, 3, 4, 1}));
  auto inClass = make(R"([^\w\s]+)");
  ASSERT_TRUE(inClass);
  EXPECT_EQ(inClass->encode("a\xCC\x81\xE1\xA0\x8E\xE2\x91\xA0"
                            "b",
                            false),
            (Ids{0, 3, 1}));
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

TEST(TokenizerErrors, BadJSON) {
  EXPECT_NE(loadError("{not json").find("invalid JSON"), std::string::npos);
  EXPECT_NE(loadError("").find("invalid JSON"), std::string::npos);
  EXPECT_NE(loadError("[1, 2]").find("top level"), std::string::npos);
  EXPECT_NE(loadError("{}").find("model"), std::string::npos);
}

TEST(TokenizerErrors, UnsupportedModels) {
  for (const char *type : {"WordPiece", "Unigram", "WordLevel"}) {
    std::string err = loadError(std::string(R"({"model": {"type": ")") + type +
                                R"(", "vocab": {}}})");
    EXPECT_NE(err.find("unsupported model type '" + std::string(type) + "'"),
              std::string::npos)
        << err;
  }
}

TEST(TokenizerErrors, MissingOrBadVocabAndMerges) {
  EXPECT_NE(loadError(R"({"model": {"type": "BPE"}})").find("model.vocab"),
            std::string::npos);
  EXPECT_NE(loadError(R"({"model": {"type": "BPE", "vocab": [1]}})")
                .find("model.vocab"),
            std::string::npos);
  EXPECT_NE(loadError(R"({"model": {"type": "BPE", "vocab": {"a": -1}}})")
                .find("model.vocab['a']"),
            std::string::npos);
  std::string err = loadError(
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})");
  EXPECT_NE(err.find("model.merges[0]"), std::string::npos) << err;
  EXPECT_NE(err.find("'b'"), std::string::npos) << err;
  err = loadError(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1},
                                "merges": ["a b"]}})");
  EXPECT_NE(err.find("merged token 'ab'"), std::string::npos) << err;
  err = loadError(
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}})");
  EXPECT_NE(err.find("model.merges[0]"), std::string::npos) << err;
  err = loadError(R"({"model": {"type": "BPE", "vocab": {"a": 2000000000}}})");
  EXPECT_NE(err.find("too large"), std::string::npos) << err;
}

TEST(TokenizerErrors, UnsupportedComponents) {
  const char *model = R"("model": {"type": "BPE", "vocab": {"a": 0}})";
  struct Case {
    const char *component;
    const char *expected;
  } cases[] = {
      {R"("normalizer": {"type": "NFKC"})",
       "normalizer: unsupported normalizer type 'NFKC'"},
      {R"("normalizer": {"type": "Sequence",
           "normalizers": [{"type": "Lowercase"}]})",
       "normalizer.normalizers[0]: unsupported normalizer type 'Lowercase'"},
      {R"("pre_tokenizer": {"type": "Whitespace"})",
       "pre_tokenizer: unsupported pre-tokenizer type 'Whitespace'"},
      {R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [
           {"type": "Split", "pattern": {"Regex": "(unclosed"},
            "behavior": "Isolated", "invert": false}]})",
       "pre_tokenizer.pretokenizers[0].pattern: invalid regex"},
      {R"("pre_tokenizer": {"type": "Split", "pattern": {"String": " "},
           "behavior": "Sideways"})",
       "pre_tokenizer.behavior: unsupported split behavior 'Sideways'"},
      {R"("decoder": {"type": "WordPiece"})",
       "decoder: unsupported decoder type 'WordPiece'"},
      {R"("post_processor": {"type": "Magic"})",
       "post_processor: unsupported post-processor type 'Magic'"},
      {R"("post_processor": {"type": "TemplateProcessing",
           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}],
           "special_tokens": {}})",
       "post_processor.special_tokens: missing '<s>'"},
      {R"("normalizer": {"kind": "NFC"})", "normalizer: missing 'type'"},
      {R"("added_tokens": [{"id": "x", "content": "a"}])",
       "added_tokens[0].id"},
  };
  for (const Case &c : cases) {
    std::string err =
        loadError(std::string("{") + c.component + ", " + model + "}");
    EXPECT_NE(err.find(c.expected), std::string::npos)
        << "got: " << err << "\nexpected: " << c.expected;
  }
}

TEST(TokenizerErrors, MissingFile) {
  std::string err;
  EXPECT_FALSE(Tokenizer::fromFile("/nonexistent/tokenizer.json", err));
  EXPECT_NE(err.find("cannot read"), std::string::npos) << err;
}

} // namespace
