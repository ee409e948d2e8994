//===- Tokenizer.cpp - Hugging Face tokenizer.json tokenizer --------------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Loading of tokenizer.json and the encode/decode pipelines. The pipeline
/// follows the `tokenizers` library step by step:
///
///  1. split the raw text on the added tokens that are not `normalized`;
///  2. normalize every other piece, then split it on the `normalized` added
///     tokens (whose contents were normalized the same way);
///  3. pre-tokenize the remaining pieces into words;
///  4. run the BPE model on each word;
///  5. with `addBos`, prepend the template's leading special tokens.
///
/// Decoding maps ids to tokens and runs the decoder chain on the token list.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Tokenizer.h"

#include "TokenizerInternal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <unordered_set>

using json = nlohmann::json;

namespace lowbit::rt {
using namespace tok;

namespace {

//===----------------------------------------------------------------------===//
// Pipeline elements
//===----------------------------------------------------------------------===//

enum class SplitBehavior {
  Removed,
  Isolated,
  MergedWithPrevious,
  MergedWithNext,
  Contiguous
};

enum class PrependScheme { Always, First, Never };

/// One entry of `added_tokens`.
struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool singleWord = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
  /// What id-to-token gives: the normalized content for `normalized` tokens
  /// (as `tokenizers` 0.23 does), else the content.
  std::string display;
};

/// A string-or-regex pattern with its replacement, as used by the `Replace`
/// normalizer and decoder.
struct ReplaceRule {
  std::string literal;
  std::shared_ptr<Regex> regex;
  std::string content;

  std::string apply(std::string_view s) const {
    std::vector<std::pair<size_t, size_t>> matches;
    if (regex) {
      regex->findAll(s, matches);
    } else if (!literal.empty()) {
      for (size_t pos = s.find(literal); pos != std::string_view::npos;
           pos = s.find(literal, pos + literal.size()))
        matches.emplace_back(pos, pos + literal.size());
    }
    if (matches.empty())
      return std::string(s);
    std::string out;
    out.reserve(s.size());
    size_t prev = 0;
    for (auto [start, end] : matches) {
      out.append(s.substr(prev, start - prev));
      out += content;
      prev = end;
    }
    out.append(s.substr(prev));
    return out;
  }
};

struct NormalizerStep {
  enum Kind { Prepend, Replace, Identity, ByteLevel } kind;
  std::string prepend;
  ReplaceRule replace;
};

struct PreTokenizerStep {
  enum Kind { Split, ByteLevel, Metaspace } kind;
  /// Split (and Digits, which is a Split on \p{N}); ByteLevel's GPT-2 regex.
  std::shared_ptr<Regex> regex;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  bool addPrefixSpace = false;
  std::string replacement;
  PrependScheme scheme = PrependScheme::Always;
  bool split = true;
};

struct DecoderStep {
  enum Kind { Replace, ByteFallback, Fuse, Strip, ByteLevel, Metaspace } kind;
  ReplaceRule replace;
  std::string stripChar;
  size_t start = 0, stop = 0;
  std::string replacement;
  bool dropFirstReplacement = false;
};

/// A piece of text during pre-tokenization; `atOrigin` is set when it starts
/// at offset 0 of the input (what Metaspace's "first" scheme looks at).
struct Word {
  std::string text;
  bool atOrigin;
};

/// Leftmost-longest matcher over the added-token contents (what the
/// `tokenizers` library does with Aho-Corasick).
class AddedTrie {
public:
  struct Match {
    size_t start, end;
    size_t token;
  };

  void insert(std::string_view s, size_t token) {
    if (s.empty())
      return;
    int32_t node = 0;
    for (char c : s) {
      auto b = static_cast<unsigned char>(c);
      int32_t child = childOf(node, b);
      if (child < 0) {
        child = static_cast<int32_t>(nodes.size());
        nodes.emplace_back();
        nodes[node].children.emplace_back(b, child);
      }
      node = child;
    }
    // The first token with a given content wins.
    if (nodes[node].token < 0)
      nodes[node].token = static_cast<int64_t>(token);
    firstByte[static_cast<unsigned char>(s[0])] = true;
    any = true;
  }

  bool empty() const { return !any; }

  void findAll(std::string_view s, std::vector<Match> &out) const {
    for (size_t i = 0; i < s.size();) {
      if (!firstByte[static_cast<unsigned char>(s[i])]) {
        ++i;
        continue;
      }
      int32_t node = 0;
      int64_t best = -1;
      size_t bestEnd = 0;
      for (size_t j = i; j < s.size(); ++j) {
        node = childOf(node, static_cast<unsigned char>(s[j]));
        if (node < 0)
          break;
        if (nodes[node].token >= 0) {
          best = nodes[node].token;
          bestEnd = j + 1;
        }
      }
      if (best >= 0) {
        out.push_back(Match{i, bestEnd, static_cast<size_t>(best)});
        i = bestEnd;
      } else {
        ++i;
      }
    }
  }

private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int64_t token = -1;
  };

  int32_t childOf(int32_t node, unsigned char b) const {
    for (const auto &[byte, child] : nodes[node].children)
      if (byte == b)
        return child;
    return -1;
  }

  std::vector<Node> nodes = std::vector<Node>(1);
  std::array<bool, 256> firstByte{};
  bool any = false;
};

/// Start of the character that ends at `end` (a single byte when the bytes
/// before `end` are not well-formed UTF-8).
size_t lastCharStart(std::string_view s, size_t end) {
  for (size_t k = 2; k <= 4 && k <= end; ++k)
    if (utf8ValidLen(s, end - k) == k)
      return end - k;
  return end - 1;
}

/// The GPT-2 pre-tokenization regex used by ByteLevel with `use_regex`.
const char *const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+)"
    R"(|\s+(?!\S)|\s+)";

/// Splits `s` according to `matches` and `behavior`, appending the non-empty
/// pieces to `out` (the `tokenizers` split semantics).
void splitWord(std::string_view s, bool atOrigin,
               const std::vector<std::pair<size_t, size_t>> &matches,
               SplitBehavior behavior, bool invert, std::vector<Word> &out) {
  struct Segment {
    size_t start, end;
    bool isMatch;
  };
  std::vector<Segment> segments;
  size_t prev = 0;
  for (auto [start, end] : matches) {
    if (prev != start)
      segments.push_back({prev, start, false});
    segments.push_back({start, end, true});
    prev = end;
  }
  if (prev != s.size())
    segments.push_back({prev, s.size(), false});
  if (invert)
    for (Segment &seg : segments)
      seg.isMatch = !seg.isMatch;

  std::vector<Segment> pieces;
  switch (behavior) {
  case SplitBehavior::Removed:
    for (const Segment &seg : segments)
      if (!seg.isMatch)
        pieces.push_back(seg);
    break;
  case SplitBehavior::Isolated:
    pieces = segments;
    break;
  case SplitBehavior::MergedWithPrevious: {
    bool previousMatch = false;
    for (const Segment &seg : segments) {
      if (seg.isMatch && !previousMatch && !pieces.empty())
        pieces.back().end = seg.end;
      else
        pieces.push_back(seg);
      previousMatch = seg.isMatch;
    }
    break;
  }
  case SplitBehavior::MergedWithNext: {
    bool previousMatch = false;
    for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
      if (it->isMatch && !previousMatch && !pieces.empty())
        pieces.back().start = it->start;
      else
        pieces.push_back(*it);
      previousMatch = it->isMatch;
    }
    std::reverse(pieces.begin(), pieces.end());
    break;
  }
  case SplitBehavior::Contiguous: {
    bool previousMatch = false;
    for (const Segment &seg : segments) {
      if (seg.isMatch == previousMatch && !pieces.empty())
        pieces.back().end = seg.end;
      else
        pieces.push_back(seg);
      previousMatch = seg.isMatch;
    }
    break;
  }
  }
  for (const Segment &p : pieces)
    if (p.end > p.start)
      out.push_back(Word{std::string(s.substr(p.start, p.end - p.start)),
                         atOrigin && p.start == 0});
}

//===----------------------------------------------------------------------===//
// JSON helpers (all throw TokenizerError naming the element)
//===----------------------------------------------------------------------===//

[[noreturn]] void fail(const std::string &msg) { throw TokenizerError(msg); }

const json *findMember(const json &obj, const char *key) {
  if (!obj.is_object())
    return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return nullptr;
  return &*it;
}

bool getBool(const json &obj, const char *key, bool def,
             const std::string &where) {
  const json *v = findMember(obj, key);
  if (!v)
    return def;
  if (!v->is_boolean())
    fail(where + "." + key + ": expected a boolean");
  return v->get<bool>();
}

std::string getString(const json &obj, const char *key, const std::string &def,
                      const std::string &where) {
  const json *v = findMember(obj, key);
  if (!v)
    return def;
  if (!v->is_string())
    fail(where + "." + key + ": expected a string");
  return v->get<std::string>();
}

int64_t getInt(const json &obj, const char *key, int64_t def,
               const std::string &where) {
  const json *v = findMember(obj, key);
  if (!v)
    return def;
  if (!v->is_number_integer())
    fail(where + "." + key + ": expected an integer");
  return v->get<int64_t>();
}

const json &getArray(const json &obj, const char *key,
                     const std::string &where) {
  const json *v = findMember(obj, key);
  if (!v || !v->is_array())
    fail(where + "." + key + ": expected an array");
  return *v;
}

std::string typeOf(const json &obj, const std::string &where) {
  if (!obj.is_object())
    fail(where + ": expected an object");
  const json *t = findMember(obj, "type");
  if (!t || !t->is_string())
    fail(where + ": missing 'type'");
  return t->get<std::string>();
}

/// Parses a `pattern` member: {"String": s} or {"Regex": r}.
void parsePattern(const json &obj, const std::string &where,
                  std::string &literal, std::shared_ptr<Regex> &regex) {
  const json *p = findMember(obj, "pattern");
  if (!p || !p->is_object())
    fail(where + ".pattern: expected {\"String\": ...} or {\"Regex\": ...}");
  if (const json *s = findMember(*p, "String")) {
    if (!s->is_string())
      fail(where + ".pattern.String: expected a string");
    literal = s->get<std::string>();
  } else if (const json *r = findMember(*p, "Regex")) {
    if (!r->is_string())
      fail(where + ".pattern.Regex: expected a string");
    regex = std::make_shared<Regex>(r->get<std::string>(), /*literal=*/false,
                                    where + ".pattern");
  } else {
    fail(where + ".pattern: expected {\"String\": ...} or {\"Regex\": ...}");
  }
}

/// Reads the replacement character of Metaspace (one character).
std::string getReplacementChar(const json &obj, const std::string &where) {
  std::string r = getString(obj, "replacement", "\xE2\x96\x81", where);
  if (r.empty() || utf8ValidLen(r, 0) != r.size())
    fail(where + ".replacement: expected a single character");
  return r;
}

PrependScheme getPrependScheme(const json &obj, const std::string &where) {
  const json *scheme = findMember(obj, "prepend_scheme");
  const json *legacy = findMember(obj, "add_prefix_space");
  if (legacy && !legacy->is_boolean())
    fail(where + ".add_prefix_space: expected a boolean");
  if (legacy && !legacy->get<bool>())
    return PrependScheme::Never;
  if (!scheme)
    return PrependScheme::Always;
  std::string s = scheme->is_string() ? scheme->get<std::string>() : "";
  if (s == "always")
    return PrependScheme::Always;
  if (s == "first")
    return PrependScheme::First;
  if (s == "never")
    return PrependScheme::Never;
  fail(where + ".prepend_scheme: expected \"always\", \"first\" or \"never\"");
}

} // namespace

//===----------------------------------------------------------------------===//
// Tokenizer::Impl
//===----------------------------------------------------------------------===//

struct Tokenizer::Impl {
  BPEModel model;
  std::vector<AddedToken> added;
  std::unordered_map<std::string, int32_t> addedByContent;
  std::unordered_map<int32_t, size_t> addedById;
  std::unordered_set<int32_t> specialIds;
  AddedTrie rawTrie, normalizedTrie;
  std::unique_ptr<Regex> wordCharRe, spaceRe;

  bool hasNormalizer = false;
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> preTokenizer;
  bool hasDecoder = false;
  std::vector<DecoderStep> decoder;

  bool hasTemplate = false;
  std::vector<int32_t> templatePrefix;
  std::vector<int32_t> prefix;
  int32_t bos = -1, eos = -1, size = 0;

  // Loading.
  void load(const json &root);
  void loadModel(const json &m);
  void loadAddedTokens(const json &arr);
  void parseNormalizer(const json &n, const std::string &where);
  void parsePreTokenizer(const json &p, const std::string &where);
  void parsePostProcessor(const json &p, const std::string &where);
  void parseDecoder(const json &d, const std::string &where);
  void applyConfig(std::string_view configJSON);

  // Encoding.
  std::string normalize(std::string_view s) const;
  template <typename Emit>
  void splitOnAdded(std::string_view s, const AddedTrie &trie,
                    Emit &&emit) const;
  void preTokenizeAndEncode(std::string_view s, bool atOrigin,
                            std::vector<int32_t> &ids) const;
  void encode(std::string_view text, bool addBos,
              std::vector<int32_t> &ids) const;

  // Decoding.
  const std::string *tokenOf(int32_t id) const;
  std::string runDecoder(std::vector<std::string> tokens, bool raw) const;

  bool isWordChar(std::string_view s, size_t pos) const {
    return pos < s.size() && wordCharRe->matchesAt(s, pos);
  }
  bool isSpaceChar(std::string_view s, size_t pos) const {
    return pos < s.size() && spaceRe->matchesAt(s, pos);
  }
};

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

void Tokenizer::Impl::load(const json &root) {
  if (!root.is_object())
    fail("tokenizer.json: the top level is not an object");
  const json *m = findMember(root, "model");
  if (!m || !m->is_object())
    fail("tokenizer.json: missing 'model'");
  loadModel(*m);
  if (const json *a = findMember(root, "added_tokens")) {
    if (!a->is_array())
      fail("added_tokens: expected an array");
    loadAddedTokens(*a);
  }

  // Ids must be reasonably dense; this bounds table sizes on hostile input.
  int64_t entries = int64_t(model.vocab.size()) + int64_t(added.size());
  int64_t limit = std::min<int64_t>(2 * entries + 65536, INT32_MAX - 1);
  int64_t maxId = -1;
  for (const auto &[token, id] : model.vocab)
    maxId = std::max<int64_t>(maxId, id);
  for (const AddedToken &t : added)
    maxId = std::max<int64_t>(maxId, t.id);
  if (maxId >= limit)
    fail("model.vocab/added_tokens: id " + std::to_string(maxId) +
         " is too large for " + std::to_string(entries) + " entries");
  size = static_cast<int32_t>(maxId + 1);
  model.idToToken.assign(size_t(maxId + 1), std::string());
  for (const auto &[token, id] : model.vocab)
    model.idToToken[size_t(id)] = token;

  if (const json *n = findMember(root, "normalizer")) {
    hasNormalizer = true;
    parseNormalizer(*n, "normalizer");
  }
  if (const json *p = findMember(root, "pre_tokenizer"))
    parsePreTokenizer(*p, "pre_tokenizer");
  if (const json *p = findMember(root, "post_processor"))
    parsePostProcessor(*p, "post_processor");
  if (const json *d = findMember(root, "decoder")) {
    hasDecoder = true;
    parseDecoder(*d, "decoder");
  }

  // Added-token matchers; normalized tokens match on their normalized form.
  for (size_t i = 0; i < added.size(); ++i) {
    AddedToken &t = added[i];
    t.display = t.normalized ? normalize(t.content) : t.content;
    if (t.normalized)
      normalizedTrie.insert(t.display, i);
    else
      rawTrie.insert(t.content, i);
  }
  // Rust's \w and \s (what `tokenizers` uses for single_word/lstrip/rstrip).
  try {
    wordCharRe = std::make_unique<Regex>(
        "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]", false,
        "word character regex");
  } catch (const TokenizerError &) {
    wordCharRe = std::make_unique<Regex>("\\w", false, "word character regex");
  }
  spaceRe = std::make_unique<Regex>("\\s", false, "whitespace regex");
}

void Tokenizer::Impl::loadModel(const json &m) {
  const std::string where = "model";
  std::string type;
  if (const json *t = findMember(m, "type")) {
    if (!t->is_string())
      fail("model.type: expected a string");
    type = t->get<std::string>();
  } else if (findMember(m, "merges")) {
    type = "BPE";
  } else {
    fail("model: missing 'type'");
  }
  if (type != "BPE")
    fail("model: unsupported model type '" + type +
         "' (only BPE is supported)");

  const json *vocab = findMember(m, "vocab");
  if (!vocab)
    fail("model.vocab: missing");
  if (!vocab->is_object())
    fail("model.vocab: expected an object mapping tokens to ids");
  model.vocab.reserve(vocab->size());
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
        it->get<int64_t>() >= INT32_MAX)
      fail("model.vocab['" + it.key() + "']: expected a non-negative id");
    model.vocab[it.key()] = static_cast<int32_t>(it->get<int64_t>());
  }

  model.fuseUnk = getBool(m, "fuse_unk", false, where);
  model.byteFallback = getBool(m, "byte_fallback", false, where);
  model.ignoreMerges = getBool(m, "ignore_merges", false, where);
  model.continuingSubwordPrefix =
      getString(m, "continuing_subword_prefix", "", where);
  model.endOfWordSuffix = getString(m, "end_of_word_suffix", "", where);
  // `dropout` only matters for training: encoding here is deterministic.
  if (const json *d = findMember(m, "dropout"))
    if (!d->is_number())
      fail("model.dropout: expected a number or null");
  std::string unk = getString(m, "unk_token", "", where);
  if (!unk.empty())
    model.unkId = model.find(unk).value_or(-1);
  for (int b = 0; b < 256; ++b) {
    static const char *hex = "0123456789ABCDEF";
    std::string name = "<0x";
    name += hex[b >> 4];
    name += hex[b & 15];
    name += '>';
    model.byteIds[b] = model.find(name).value_or(-1);
  }

  const json *merges = findMember(m, "merges");
  if (!merges)
    return;
  if (!merges->is_array())
    fail("model.merges: expected an array");
  int32_t rank = 0;
  for (const json &entry : *merges) {
    std::string ctx = "model.merges[" + std::to_string(rank) + "]";
    std::string a, b;
    if (entry.is_string()) {
      const std::string &s = entry.get_ref<const std::string &>();
      size_t space = s.find(' ');
      if (space == std::string::npos)
        fail(ctx + ": expected \"a b\"");
      a = s.substr(0, space);
      b = s.substr(space + 1);
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
               entry[1].is_string()) {
      a = entry[0].get<std::string>();
      b = entry[1].get<std::string>();
    } else {
      fail(ctx + ": expected \"a b\" or [\"a\", \"b\"]");
    }
    auto idA = model.find(a), idB = model.find(b);
    if (!idA)
      fail(ctx + ": token '" + a + "' is not in the vocabulary");
    if (!idB)
      fail(ctx + ": token '" + b + "' is not in the vocabulary");
    std::string mergedText = a;
    const std::string &cont = model.continuingSubwordPrefix;
    if (!cont.empty() && b.compare(0, cont.size(), cont) == 0)
      mergedText += b.substr(cont.size());
    else
      mergedText += b;
    auto merged = model.find(mergedText);
    if (!merged)
      fail(ctx + ": merged token '" + mergedText +
           "' is not in the vocabulary");
    model.addMerge(*idA, *idB, rank, *merged);
    ++rank;
  }
}

void Tokenizer::Impl::loadAddedTokens(const json &arr) {
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string where = "added_tokens[" + std::to_string(i) + "]";
    const json &e = arr[i];
    if (!e.is_object())
      fail(where + ": expected an object");
    AddedToken t;
    int64_t id = getInt(e, "id", -1, where);
    if (id < 0 || id >= INT32_MAX)
      fail(where + ".id: expected a non-negative id");
    t.id = static_cast<int32_t>(id);
    if (!findMember(e, "content"))
      fail(where + ".content: missing");
    t.content = getString(e, "content", "", where);
    t.singleWord = getBool(e, "single_word", false, where);
    t.lstrip = getBool(e, "lstrip", false, where);
    t.rstrip = getBool(e, "rstrip", false, where);
    t.normalized = getBool(e, "normalized", true, where);
    t.special = getBool(e, "special", false, where);
    if (t.content.empty())
      continue;
    addedByContent.emplace(t.content, t.id);
    addedById[t.id] = added.size();
    if (t.special)
      specialIds.insert(t.id);
    added.push_back(std::move(t));
  }
}

void Tokenizer::Impl::parseNormalizer(const json &n, const std::string &where) {
  std::string type = typeOf(n, where);
  if (type == "Sequence") {
    const json &list = getArray(n, "normalizers", where);
    for (size_t i = 0; i < list.size(); ++i)
      parseNormalizer(list[i],
                      where + ".normalizers[" + std::to_string(i) + "]");
  } else if (type == "Prepend") {
    NormalizerStep step{NormalizerStep::Prepend, {}, {}};
    step.prepend = getString(n, "prepend", "", where);
    normalizer.push_back(std::move(step));
  } else if (type == "Replace") {
    NormalizerStep step{NormalizerStep::Replace, {}, {}};
    parsePattern(n, where, step.replace.literal, step.replace.regex);
    step.replace.content = getString(n, "content", "", where);
    normalizer.push_back(std::move(step));
  } else if (type == "NFC") {
    // Identity: input text is assumed to be in NFC already.
    normalizer.push_back(NormalizerStep{NormalizerStep::Identity, {}, {}});
  } else if (type == "ByteLevel") {
    normalizer.push_back(NormalizerStep{NormalizerStep::ByteLevel, {}, {}});
  } else {
    fail(where + ": unsupported normalizer type '" + type + "'");
  }
}

void Tokenizer::Impl::parsePreTokenizer(const json &p,
                                        const std::string &where) {
  std::string type = typeOf(p, where);
  if (type == "Sequence") {
    const json &list = getArray(p, "pretokenizers", where);
    for (size_t i = 0; i < list.size(); ++i)
      parsePreTokenizer(list[i],
                        where + ".pretokenizers[" + std::to_string(i) + "]");
  } else if (type == "ByteLevel") {
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::ByteLevel;
    step.addPrefixSpace = getBool(p, "add_prefix_space", true, where);
    if (getBool(p, "use_regex", true, where))
      step.regex = std::make_shared<Regex>(kGpt2Pattern, false, where);
    preTokenizer.push_back(std::move(step));
  } else if (type == "Split") {
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Split;
    std::string literal;
    parsePattern(p, where, literal, step.regex);
    if (!step.regex)
      step.regex = std::make_shared<Regex>(literal, /*literal=*/true, where);
    std::string behavior = getString(p, "behavior", "", where);
    if (behavior == "Removed")
      step.behavior = SplitBehavior::Removed;
    else if (behavior == "Isolated")
      step.behavior = SplitBehavior::Isolated;
    else if (behavior == "MergedWithPrevious")
      step.behavior = SplitBehavior::MergedWithPrevious;
    else if (behavior == "MergedWithNext")
      step.behavior = SplitBehavior::MergedWithNext;
    else if (behavior == "Contiguous")
      step.behavior = SplitBehavior::Contiguous;
    else
      fail(where + ".behavior: unsupported split behavior '" + behavior + "'");
    step.invert = getBool(p, "invert", false, where);
    preTokenizer.push_back(std::move(step));
  } else if (type == "Metaspace") {
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Metaspace;
    step.replacement = getReplacementChar(p, where);
    step.scheme = getPrependScheme(p, where);
    step.split = getBool(p, "split", true, where);
    preTokenizer.push_back(std::move(step));
  } else if (type == "Digits") {
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Split;
    step.regex = std::make_shared<Regex>("\\p{N}", false, where);
    step.behavior = getBool(p, "individual_digits", false, where)
                        ? SplitBehavior::Isolated
                        : SplitBehavior::Contiguous;
    preTokenizer.push_back(std::move(step));
  } else {
    fail(where + ": unsupported pre-tokenizer type '" + type + "'");
  }
}

void Tokenizer::Impl::parsePostProcessor(const json &p,
                                         const std::string &where) {
  std::string type = typeOf(p, where);
  if (type == "Sequence") {
    const json &list = getArray(p, "processors", where);
    for (size_t i = 0; i < list.size(); ++i)
      parsePostProcessor(list[i],
                         where + ".processors[" + std::to_string(i) + "]");
  } else if (type == "ByteLevel") {
    // Only adjusts offsets.
  } else if (type == "TemplateProcessing") {
    if (hasTemplate)
      return; // The first template decides.
    hasTemplate = true;
    const json *single = findMember(p, "single");
    if (!single)
      fail(where + ".single: missing");
    const json *specials = findMember(p, "special_tokens");
    auto idsOf = [&](const std::string &name) {
      const json *entry =
          specials ? findMember(*specials, name.c_str()) : nullptr;
      if (!entry)
        fail(where + ".special_tokens: missing '" + name + "'");
      const json &ids = getArray(*entry, "ids", where + ".special_tokens");
      for (const json &id : ids) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
            id.get<int64_t>() >= INT32_MAX)
          fail(where + ".special_tokens['" + name + "'].ids: bad id");
        templatePrefix.push_back(static_cast<int32_t>(id.get<int64_t>()));
      }
    };
    if (single->is_string()) {
      // The short form: "<s> $A" (with optional ":type_id" suffixes).
      std::istringstream in(single->get<std::string>());
      std::string item;
      while (in >> item && item[0] != '$')
        idsOf(item.substr(0, item.rfind(':') == std::string::npos
                                 ? item.size()
                                 : item.rfind(':')));
    } else if (single->is_array()) {
      for (const json &item : *single) {
        if (findMember(item, "Sequence"))
          break;
        const json *sp = findMember(item, "SpecialToken");
        if (!sp)
          fail(where + ".single: expected SpecialToken or Sequence items");
        idsOf(getString(*sp, "id", "", where + ".single.SpecialToken"));
      }
    } else {
      fail(where + ".single: expected a list or a string");
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    if (hasTemplate)
      return;
    hasTemplate = true;
    const json &cls = getArray(p, "cls", where);
    if (cls.size() != 2 || !cls[1].is_number_integer() ||
        cls[1].get<int64_t>() < 0 || cls[1].get<int64_t>() >= INT32_MAX)
      fail(where + ".cls: expected [token, id]");
    templatePrefix.push_back(static_cast<int32_t>(cls[1].get<int64_t>()));
  } else {
    fail(where + ": unsupported post-processor type '" + type + "'");
  }
}

void Tokenizer::Impl::parseDecoder(const json &d, const std::string &where) {
  std::string type = typeOf(d, where);
  DecoderStep step;
  if (type == "Sequence") {
    const json &list = getArray(d, "decoders", where);
    for (size_t i = 0; i < list.size(); ++i)
      parseDecoder(list[i], where + ".decoders[" + std::to_string(i) + "]");
    return;
  }
  if (type == "Replace") {
    step.kind = DecoderStep::Replace;
    parsePattern(d, where, step.replace.literal, step.replace.regex);
    step.replace.content = getString(d, "content", "", where);
  } else if (type == "ByteFallback") {
    step.kind = DecoderStep::ByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecoderStep::Fuse;
  } else if (type == "Strip") {
    step.kind = DecoderStep::Strip;
    step.stripChar = getString(d, "content", " ", where);
    if (step.stripChar.empty() ||
        utf8ValidLen(step.stripChar, 0) != step.stripChar.size())
      fail(where + ".content: expected a single character");
    int64_t start = getInt(d, "start", 0, where);
    int64_t stop = getInt(d, "stop", 0, where);
    if (start < 0 || stop < 0)
      fail(where + ": start and stop must be non-negative");
    step.start = size_t(std::min<int64_t>(start, INT32_MAX));
    step.stop = size_t(std::min<int64_t>(stop, INT32_MAX));
  } else if (type == "ByteLevel") {
    step.kind = DecoderStep::ByteLevel;
  } else if (type == "Metaspace") {
    step.kind = DecoderStep::Metaspace;
    step.replacement = getReplacementChar(d, where);
    step.dropFirstReplacement =
        getPrependScheme(d, where) != PrependScheme::Never;
  } else {
    fail(where + ": unsupported decoder type '" + type + "'");
  }
  decoder.push_back(std::move(step));
}

void Tokenizer::Impl::applyConfig(std::string_view configJSON) {
  // Resolve BOS/EOS; the template wins for BOS.
  static const char *const kBosNames[] = {"<s>", "<|begin_of_text|>", "<bos>",
                                          "<|startoftext|>"};
  static const char *const kEosNames[] = {"</s>",          "<|end_of_text|>",
                                          "<|endoftext|>", "<eos>",
                                          "<|eot_id|>",    "<|im_end|>"};
  auto lookup = [&](std::string_view name) -> int32_t {
    auto it = addedByContent.find(std::string(name));
    if (it != addedByContent.end())
      return it->second;
    return model.find(name).value_or(-1);
  };

  // A config token entry is a string or an object with `content`.
  auto configTokenId = [&](const json &config, const char *key) -> int32_t {
    const json *v = findMember(config, key);
    if (v && v->is_object())
      v = findMember(*v, "content");
    if (!v || !v->is_string())
      return -1;
    return lookup(v->get_ref<const std::string &>());
  };

  json config;
  bool haveConfig = false;
  if (!configJSON.empty()) {
    config = json::parse(configJSON.begin(), configJSON.end(), nullptr,
                         /*allow_exceptions=*/false);
    haveConfig = config.is_object();
  }
  int32_t configBos = haveConfig ? configTokenId(config, "bos_token") : -1;
  int32_t configEos = haveConfig ? configTokenId(config, "eos_token") : -1;
  const json *addBosSetting = nullptr;
  if (haveConfig) {
    addBosSetting = findMember(config, "add_bos_token");
    if (addBosSetting && !addBosSetting->is_boolean())
      addBosSetting = nullptr;
  }

  bool bosIsConventional = false;
  if (!templatePrefix.empty()) {
    bos = templatePrefix.front();
  } else if (configBos >= 0) {
    bos = configBos;
  } else {
    for (const char *name : kBosNames) {
      bos = lookup(name);
      if (bos >= 0)
        break;
    }
  }
  if (bos >= 0 && !hasTemplate) {
    const std::string *tok = tokenOf(bos);
    for (int i = 0; i < 3 && tok; ++i)
      bosIsConventional = bosIsConventional || *tok == kBosNames[i];
  }

  eos = configEos;
  for (const char *name : kEosNames) {
    if (eos >= 0)
      break;
    eos = lookup(name);
  }

  // An explicit add_bos_token decides, as transformers rebuilds the
  // post-processor from it; otherwise the template, else the BOS name.
  if (addBosSetting && !addBosSetting->get<bool>())
    prefix.clear();
  else if (hasTemplate && !templatePrefix.empty())
    prefix = templatePrefix;
  else if (bos >= 0 && (addBosSetting || (!hasTemplate && bosIsConventional)))
    prefix = {bos};
  else
    prefix.clear();
}

//===----------------------------------------------------------------------===//
// Encoding
//===----------------------------------------------------------------------===//

std::string Tokenizer::Impl::normalize(std::string_view s) const {
  std::string text(s);
  for (const NormalizerStep &step : normalizer) {
    switch (step.kind) {
    case NormalizerStep::Prepend:
      if (!text.empty())
        text.insert(0, step.prepend);
      break;
    case NormalizerStep::Replace:
      text = step.replace.apply(text);
      break;
    case NormalizerStep::Identity:
      break;
    case NormalizerStep::ByteLevel:
      text = byteLevelEncode(text);
      break;
    }
  }
  return text;
}

/// Splits `s` on the added tokens of `trie` as `tokenizers` does, calling
/// `emit(piece, addedId, offset)` for each non-empty piece (`addedId` -1 for
/// ordinary text).
template <typename Emit>
void Tokenizer::Impl::splitOnAdded(std::string_view s, const AddedTrie &trie,
                                   Emit &&emit) const {
  if (s.empty())
    return;
  if (trie.empty()) {
    emit(s, -1, 0);
    return;
  }
  std::vector<AddedTrie::Match> matches;
  trie.findAll(s, matches);
  size_t startOffset = 0;
  for (const AddedTrie::Match &m : matches) {
    const AddedToken &t = added[m.token];
    size_t start = m.start, stop = m.end;
    if (start < startOffset)
      continue; // Inside the whitespace an rstrip token already took.
    if (t.singleWord) {
      bool startSpace = start == 0 || !isWordChar(s.substr(0, start),
                                                  lastCharStart(s, start));
      bool stopSpace = stop == s.size() || !isWordChar(s, stop);
      if (!startSpace || !stopSpace)
        continue;
    }
    if (t.lstrip) {
      size_t newStart = start;
      while (newStart > 0) {
        size_t c = lastCharStart(s, newStart);
        if (!isSpaceChar(s.substr(0, newStart), c))
          break;
        newStart = c;
      }
      start = std::max(newStart, startOffset);
    }
    if (t.rstrip) {
      while (stop < s.size() && isSpaceChar(s, stop))
        stop += utf8CharLen(s, stop);
    }
    if (startOffset < start)
      emit(s.substr(startOffset, start - startOffset), -1, startOffset);
    emit(s.substr(start, stop - start), t.id, start);
    startOffset = stop;
  }
  if (startOffset < s.size())
    emit(s.substr(startOffset), -1, startOffset);
}

void Tokenizer::Impl::preTokenizeAndEncode(std::string_view s, bool atOrigin,
                                           std::vector<int32_t> &ids) const {
  std::vector<Word> words{Word{std::string(s), atOrigin}};
  std::vector<Word> next;
  std::vector<std::pair<size_t, size_t>> matches;
  for (const PreTokenizerStep &step : preTokenizer) {
    next.clear();
    for (Word &w : words) {
      matches.clear();
      switch (step.kind) {
      case PreTokenizerStep::Split:
        step.regex->findAll(w.text, matches);
        splitWord(w.text, w.atOrigin, matches, step.behavior, step.invert,
                  next);
        break;
      case PreTokenizerStep::ByteLevel: {
        if (step.addPrefixSpace && !w.text.empty() && w.text[0] != ' ')
          w.text.insert(0, " ");
        size_t first = next.size();
        if (step.regex) {
          step.regex->findAll(w.text, matches);
          splitWord(w.text, w.atOrigin, matches, SplitBehavior::Isolated, false,
                    next);
        } else {
          next.push_back(std::move(w));
        }
        for (size_t i = first; i < next.size(); ++i)
          next[i].text = byteLevelEncode(next[i].text);
        break;
      }
      case PreTokenizerStep::Metaspace: {
        const std::string &r = step.replacement;
        ReplaceRule spaces{" ", nullptr, r};
        std::string text = spaces.apply(w.text);
        bool startsWithR = text.compare(0, r.size(), r) == 0;
        if (!startsWithR &&
            (step.scheme == PrependScheme::Always ||
             (step.scheme == PrependScheme::First && w.atOrigin)))
          text.insert(0, r);
        if (step.split) {
          for (size_t pos = text.find(r); pos != std::string::npos;
               pos = text.find(r, pos + r.size()))
            matches.emplace_back(pos, pos + r.size());
          splitWord(text, w.atOrigin, matches, SplitBehavior::MergedWithNext,
                    false, next);
        } else {
          next.push_back(Word{std::move(text), w.atOrigin});
        }
        break;
      }
      }
    }
    words.swap(next);
  }
  for (const Word &w : words)
    model.tokenize(w.text, ids);
}

void Tokenizer::Impl::encode(std::string_view text, bool addBos,
                             std::vector<int32_t> &ids) const {
  ids.clear();
  if (addBos)
    ids = prefix;
  splitOnAdded(
      text, rawTrie, [&](std::string_view piece, int32_t id, size_t offset) {
        if (id >= 0) {
          ids.push_back(id);
          return;
        }
        bool atOrigin = offset == 0;
        std::string normalized =
            hasNormalizer ? normalize(piece) : std::string(piece);
        splitOnAdded(
            normalized, normalizedTrie,
            [&](std::string_view sub, int32_t subId, size_t subOffset) {
              if (subId >= 0)
                ids.push_back(subId);
              else
                preTokenizeAndEncode(sub, atOrigin && subOffset == 0, ids);
            });
      });
}

//===----------------------------------------------------------------------===//
// Decoding
//===----------------------------------------------------------------------===//

const std::string *Tokenizer::Impl::tokenOf(int32_t id) const {
  auto it = addedById.find(id);
  if (it != addedById.end())
    return &added[it->second].display;
  if (id >= 0 && size_t(id) < model.idToToken.size() &&
      !model.idToToken[size_t(id)].empty())
    return &model.idToToken[size_t(id)];
  return nullptr;
}

/// Parses a `<0xNN>` byte token.
static bool parseByteToken(const std::string &t, unsigned char &byte) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>')
    return false;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  int hi = hex(t[3]), lo = hex(t[4]);
  if (hi < 0 || lo < 0)
    return false;
  byte = static_cast<unsigned char>(hi * 16 + lo);
  return true;
}

/// Runs the decoder chain on `tokens`. With `raw`, bytes from byte tokens are
/// passed through unchanged instead of being repaired to valid UTF-8.
std::string Tokenizer::Impl::runDecoder(std::vector<std::string> tokens,
                                        bool raw) const {
  if (!hasDecoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i)
        out += ' ';
      out += tokens[i];
    }
    return out;
  }
  for (const DecoderStep &step : decoder) {
    switch (step.kind) {
    case DecoderStep::Replace:
      for (std::string &t : tokens)
        t = step.replace.apply(t);
      break;
    case DecoderStep::ByteFallback: {
      std::vector<std::string> out;
      out.reserve(tokens.size());
      std::string bytes;
      size_t count = 0;
      auto flush = [&] {
        if (!count)
          return;
        if (raw || utf8Lossy(bytes) == bytes) {
          out.push_back(bytes);
        } else {
          for (size_t i = 0; i < count; ++i)
            out.emplace_back("\xEF\xBF\xBD");
        }
        bytes.clear();
        count = 0;
      };
      for (std::string &t : tokens) {
        unsigned char byte;
        if (parseByteToken(t, byte)) {
          bytes += static_cast<char>(byte);
          ++count;
        } else {
          flush();
          out.push_back(std::move(t));
        }
      }
      flush();
      tokens.swap(out);
      break;
    }
    case DecoderStep::Fuse: {
      std::string all;
      for (const std::string &t : tokens)
        all += t;
      tokens.assign(1, std::move(all));
      break;
    }
    case DecoderStep::Strip: {
      const std::string &c = step.stripChar;
      for (std::string &t : tokens) {
        size_t begin = 0;
        for (size_t i = 0; i < step.start && t.compare(begin, c.size(), c) == 0;
             ++i)
          begin += c.size();
        size_t end = t.size();
        for (size_t i = 0; i < step.stop && end >= begin + c.size() &&
                           t.compare(end - c.size(), c.size(), c) == 0;
             ++i)
          end -= c.size();
        t = t.substr(begin, end - begin);
      }
      break;
    }
    case DecoderStep::ByteLevel: {
      const ByteLevelAlphabet &a = byteLevelAlphabet();
      std::string bytes;
      for (const std::string &t : tokens) {
        std::string mapped;
        bool all = true;
        for (size_t i = 0; i < t.size() && all;) {
          size_t len = utf8ValidLen(t, i);
          auto it = len ? a.codepointToByte.find(decodeUtf8(t, i, len))
                        : a.codepointToByte.end();
          if (it == a.codepointToByte.end())
            all = false;
          else
            mapped += static_cast<char>(it->second);
          i += len ? len : 1;
        }
        bytes += all ? mapped : t;
      }
      tokens.assign(1, raw ? bytes : utf8Lossy(bytes));
      break;
    }
    case DecoderStep::Metaspace: {
      const std::string &r = step.replacement;
      for (size_t i = 0; i < tokens.size(); ++i) {
        bool drop = i == 0 && step.dropFirstReplacement;
        ReplaceRule rule{r, nullptr, drop ? "" : " "};
        tokens[i] = rule.apply(tokens[i]);
      }
      break;
    }
    }
  }
  std::string out;
  for (const std::string &t : tokens)
    out += t;
  return out;
}

//===----------------------------------------------------------------------===//
// Tokenizer
//===----------------------------------------------------------------------===//

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::fromJSON(std::string_view text,
                                               std::string &err,
                                               std::string_view configJSON) {
  try {
    json root;
    try {
      root = json::parse(text.begin(), text.end());
    } catch (const json::exception &e) {
      err = std::string("invalid JSON: ") + e.what();
      return nullptr;
    }
    auto impl = std::make_unique<Impl>();
    impl->load(root);
    impl->applyConfig(configJSON);
    err.clear();
    return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
  } catch (const std::bad_alloc &) {
    err = "out of memory while loading the tokenizer";
  } catch (const std::exception &e) {
    err = e.what();
  } catch (...) {
    err = "unknown error while loading the tokenizer";
  }
  return nullptr;
}

/// Reads a whole file; false when it cannot be opened or read.
static bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return false;
  out = ss.str();
  return true;
}

std::unique_ptr<Tokenizer> Tokenizer::fromFile(const std::string &path,
                                               std::string &err) {
  try {
    std::string text;
    if (!readFile(path, text)) {
      err = "cannot read tokenizer file '" + path + "'";
      return nullptr;
    }
    std::string config;
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (!readFile(dir + "/tokenizer_config.json", config))
      config.clear();
    auto tok = fromJSON(text, err, config);
    if (!tok)
      err = path + ": " + err;
    return tok;
  } catch (...) {
    err = "out of memory while loading '" + path + "'";
    return nullptr;
  }
}

bool Tokenizer::encode(std::string_view text, bool addBos,
                       std::vector<int32_t> &ids, std::string &err) const {
  try {
    impl->encode(text, addBos, ids);
    return true;
  } catch (const std::bad_alloc &) {
    err = "out of memory while encoding";
  } catch (const std::exception &e) {
    err = e.what();
  } catch (...) {
    err = "unknown error while encoding";
  }
  ids.clear();
  return false;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text,
                                       bool addBos) const {
  std::vector<int32_t> ids;
  std::string err;
  if (!encode(text, addBos, ids, err))
    ids.clear();
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids,
                              bool skipSpecial) const {
  try {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
      if (skipSpecial && impl->specialIds.count(id))
        continue;
      if (const std::string *t = impl->tokenOf(id))
        tokens.push_back(*t);
    }
    return impl->runDecoder(std::move(tokens), /*raw=*/false);
  } catch (...) {
    return std::string();
  }
}

std::string Tokenizer::decodeToken(int32_t prev, int32_t id) const {
  try {
    const std::string *tok = impl->tokenOf(id);
    if (!tok || impl->specialIds.count(id))
      return std::string();
    std::vector<std::string> tokens;
    const std::string *prevTok = impl->tokenOf(prev);
    if (prevTok && !impl->specialIds.count(prev))
      tokens.push_back(*prevTok);
    std::string before =
        tokens.empty() ? std::string() : impl->runDecoder(tokens, true);
    tokens.push_back(*tok);
    std::string after = impl->runDecoder(tokens, true);
    if (after.compare(0, before.size(), before) == 0)
      return after.substr(before.size());
    return impl->runDecoder({*tok}, true);
  } catch (...) {
    return std::string();
  }
}

int32_t Tokenizer::bosId() const { return impl->bos; }
int32_t Tokenizer::eosId() const { return impl->eos; }
int32_t Tokenizer::unkId() const { return impl->model.unkId; }
int32_t Tokenizer::vocabSize() const { return impl->size; }

std::optional<int32_t> Tokenizer::tokenToId(std::string_view token) const {
  try {
    auto it = impl->addedByContent.find(std::string(token));
    if (it != impl->addedByContent.end())
      return it->second;
    return impl->model.find(token);
  } catch (...) {
    return std::nullopt;
  }
}

std::string Tokenizer::idToToken(int32_t id) const {
  try {
    const std::string *t = impl->tokenOf(id);
    return t ? *t : std::string();
  } catch (...) {
    return std::string();
  }
}

bool Tokenizer::isSpecial(int32_t id) const {
  return impl->specialIds.count(id) != 0;
}

const std::vector<int32_t> &Tokenizer::bosPrefix() const {
  return impl->prefix;
}

} // namespace lowbit::rt
