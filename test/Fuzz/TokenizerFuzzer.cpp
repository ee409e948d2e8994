//===- TokenizerFuzzer.cpp - libFuzzer target for the tokenizer -----------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// libFuzzer target for lowbit::rt::Tokenizer. The first input byte picks a
/// mode:
///
///  - 0, 1: the input is fed as text to one of two fixed tokenizers (a
///    sentencepiece-style one with byte fallback and a Llama-3 style
///    byte-level one). Besides not crashing, decoding must give the text back
///    when it contains no special-token or "▁" characters, and the streamed
///    pieces must concatenate to the exact input bytes;
///  - 2: the rest is a tokenizer.json, a NUL byte and a text: the JSON is
///    loaded and, when it loads, the text is encoded and decoded;
///  - 3: the rest is read as int32 ids and decoded by both fixed tokenizers.
///
/// Build (stand-alone):
///   clang++-22 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
///     -Iruntime/include test/Fuzz/TokenizerFuzzer.cpp \
///     runtime/src/tokenizer/Tokenizer.cpp \
///     runtime/src/tokenizer/TokenizerBPE.cpp \
///     runtime/src/tokenizer/TokenizerText.cpp -lpcre2-8 -o tokenizer-fuzzer
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using lowbit::rt::Tokenizer;
using json = nlohmann::json;

namespace {

const char *const kMeta = "\xE2\x96\x81"; // ▁

const char *const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const char *const kWords[] = {"the", " the", "and", " a", "in",  "ing", "er",
                              " on", "ou",   "he",  " w", "was", " s",  "it"};

/// Adds the merges that build `word` character by character.
void addWordMerges(const std::vector<std::string> &chars, json &vocab,
                   json &merges) {
  std::string prefix = chars[0];
  for (size_t i = 1; i < chars.size(); ++i) {
    std::string merged = prefix + chars[i];
    if (!vocab.contains(merged)) {
      vocab[merged] = vocab.size();
      merges.push_back(prefix + " " + chars[i]);
    }
    prefix = merged;
  }
}

std::vector<std::string> utf8Chars(const std::string &s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = 1;
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xF0)
      n = 4;
    else if (c >= 0xE0)
      n = 3;
    else if (c >= 0xC0)
      n = 2;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

json addedTokens(const std::vector<std::pair<std::string, int>> &tokens) {
  json added = json::array();
  for (const auto &[content, id] : tokens)
    added.push_back({{"id", id},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  return added;
}

std::unique_ptr<Tokenizer> makeSentencePiece() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  char name[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = vocab.size();
  }
  vocab[kMeta] = vocab.size();
  for (char c = 33; c < 127; ++c)
    vocab[std::string(1, c)] = vocab.size();
  json merges = json::array();
  for (const char *w : kWords) {
    std::string word = w;
    std::vector<std::string> chars;
    for (char c : word)
      chars.push_back(c == ' ' ? std::string(kMeta) : std::string(1, c));
    addWordMerges(chars, vocab, merges);
  }
  json j = {
      {"added_tokens", addedTokens({{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}})},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", kMeta}},
          {{"type", "Replace"},
           {"pattern", {{"String", " "}}},
           {"content", kMeta}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens",
         {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"},
           {"pattern", {{"String", kMeta}}},
           {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merges}}}};
  std::string err;
  auto tok = Tokenizer::fromJSON(j.dump(), err);
  if (!tok) {
    std::fprintf(stderr, "fixed sentencepiece tokenizer: %s\n", err.c_str());
    std::abort();
  }
  return tok;
}

std::unique_ptr<Tokenizer> makeByteLevel() {
  // GPT-2 bytes_to_unicode.
  std::string byteChar[256];
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    bool self = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                (b >= 0xAE && b <= 0xFF);
    int cp = self ? b : next++;
    if (cp < 0x80) {
      byteChar[b] = std::string(1, static_cast<char>(cp));
    } else {
      byteChar[b] += static_cast<char>(0xC0 | (cp >> 6));
      byteChar[b] += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  json vocab = json::object();
  for (int b = 0; b < 256; ++b)
    vocab[byteChar[b]] = b;
  json merges = json::array();
  for (const char *w : kWords) {
    std::vector<std::string> chars;
    for (const char *p = w; *p; ++p)
      chars.push_back(byteChar[static_cast<unsigned char>(*p)]);
    addWordMerges(chars, vocab, merges);
  }
  int bot = static_cast<int>(vocab.size());
  json added =
      addedTokens({{"<|begin_of_text|>", bot}, {"<|eot_id|>", bot + 1}});
  added.push_back({{"id", bot + 2},
                   {"content", "FOO"},
                   {"lstrip", true},
                   {"rstrip", true},
                   {"single_word", true},
                   {"normalized", false},
                   {"special", false}});
  json j = {{"added_tokens", added},
            {"pre_tokenizer",
             {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"},
                 {"pattern", {{"Regex", kLlama3Pattern}}},
                 {"behavior", "Isolated"},
                 {"invert", false}},
                {{"type", "ByteLevel"},
                 {"add_prefix_space", false},
                 {"use_regex", false}}}}}},
            {"post_processor",
             {{"type", "TemplateProcessing"},
              {"single", "<|begin_of_text|> $A:0"},
              {"special_tokens",
               {{"<|begin_of_text|>",
                 {{"id", "<|begin_of_text|>"}, {"ids", {bot}}}}}}}},
            {"decoder", {{"type", "ByteLevel"}}},
            {"model",
             {{"type", "BPE"},
              {"ignore_merges", true},
              {"vocab", vocab},
              {"merges", merges}}}};
  std::string err;
  auto tok = Tokenizer::fromJSON(j.dump(), err);
  if (!tok) {
    std::fprintf(stderr, "fixed byte-level tokenizer: %s\n", err.c_str());
    std::abort();
  }
  return tok;
}

const Tokenizer &fixedTokenizer(int which) {
  static std::unique_ptr<Tokenizer> sp = makeSentencePiece();
  static std::unique_ptr<Tokenizer> bl = makeByteLevel();
  return which == 0 ? *sp : *bl;
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

/// Strict UTF-8 validation (no overlongs, surrogates or values > U+10FFFF).
bool isValidUtf8(const std::string &s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      n = 2;
    else if (c == 0xE0)
      n = 3, lo = 0xA0;
    else if (c == 0xED)
      n = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF)
      n = 3;
    else if (c == 0xF0)
      n = 4, lo = 0x90;
    else if (c == 0xF4)
      n = 4, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3)
      n = 4;
    else
      return false;
    if (i + n > s.size())
      return false;
    for (size_t k = 1; k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
        return false;
    }
    i += n;
  }
  return true;
}

void check(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

void fuzzFixed(int which, const std::string &text) {
  const Tokenizer &tok = fixedTokenizer(which);
  std::vector<int32_t> ids;
  std::string err;
  check(tok.encode(text, /*addBos=*/true, ids, err), "encode failed");
  for (int32_t id : ids)
    check(id >= 0 && id < tok.vocabSize(), "id out of range");
  bool plain = text.find('<') == std::string::npos &&
               text.find(kMeta) == std::string::npos &&
               text.find("FOO") == std::string::npos;
  std::string decoded = tok.decode(ids);
  if (plain) {
    check(streamDecode(tok, ids) == text, "streamed text differs from input");
    if (isValidUtf8(text))
      check(decoded == text, "decode(encode(text)) differs from text");
  }
  (void)tok.decode(ids, /*skipSpecial=*/false);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  int mode = data[0] % 4;
  std::string rest(reinterpret_cast<const char *>(data) + 1, size - 1);
  switch (mode) {
  case 0:
  case 1:
    fuzzFixed(mode, rest);
    break;
  case 2: {
    size_t nul = rest.find('\0');
    std::string jsonText = rest.substr(0, nul);
    std::string text = nul == std::string::npos
                           ? "Hello, world! 123 \xF0\x9F\x98\x80"
                           : rest.substr(nul + 1);
    std::string err;
    auto tok = Tokenizer::fromJSON(jsonText, err);
    if (!tok) {
      check(!err.empty(), "load failed without a message");
      break;
    }
    std::vector<int32_t> ids;
    if (tok->encode(text, true, ids, err)) {
      (void)tok->decode(ids);
      (void)streamDecode(*tok, ids);
    }
    (void)tok->idToToken(tok->bosId());
    (void)tok->tokenToId(text);
    break;
  }
  case 3: {
    std::vector<int32_t> ids(rest.size() / 4);
    if (!ids.empty())
      std::memcpy(ids.data(), rest.data(), ids.size() * 4);
    for (int which = 0; which < 2; ++which) {
      const Tokenizer &tok = fixedTokenizer(which);
      (void)tok.decode(ids);
      (void)tok.decode(ids, false);
      (void)streamDecode(tok, ids);
    }
    break;
  }
  }
  return 0;
}
