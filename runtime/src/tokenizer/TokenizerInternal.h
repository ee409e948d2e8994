//===- TokenizerInternal.h - Tokenizer building blocks ----------*- C++ -*-===//
//
// Part of the lowbit runtime. This header does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Building blocks of the tokenizer shared by its source files: UTF-8 helpers,
/// the GPT-2 byte-to-unicode alphabet, a PCRE2 regex wrapper and the BPE
/// model. Everything here may throw (std::bad_alloc, TokenizerError); the
/// public Tokenizer methods catch at the boundary.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_TOKENIZER_TOKENIZERINTERNAL_H
#define LOWBITRT_TOKENIZER_TOKENIZERINTERNAL_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lowbit::rt::tok {

/// An error while loading or running the tokenizer; the message names the
/// offending element.
class TokenizerError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

//===----------------------------------------------------------------------===//
// UTF-8
//===----------------------------------------------------------------------===//

/// Length of the well-formed UTF-8 character starting at `s[i]`, or 0 when
/// the bytes there do not form one.
size_t utf8ValidLen(std::string_view s, size_t i);

/// Length of the "character" starting at `s[i]` as the tokenizer sees it: a
/// well-formed UTF-8 character, or a single byte when the bytes are invalid.
inline size_t utf8CharLen(std::string_view s, size_t i) {
  size_t n = utf8ValidLen(s, i);
  return n ? n : 1;
}

/// Appends the UTF-8 encoding of `cp` to `out`.
void appendUtf8(std::string &out, uint32_t cp);

/// Decodes the well-formed character of length `len` at `s[i]`.
uint32_t decodeUtf8(std::string_view s, size_t i, size_t len);

/// Returns `bytes` with every maximal ill-formed subsequence replaced by
/// U+FFFD (the same convention as Rust's `String::from_utf8_lossy`).
std::string utf8Lossy(std::string_view bytes);

//===----------------------------------------------------------------------===//
// Byte-level alphabet
//===----------------------------------------------------------------------===//

/// The GPT-2 `bytes_to_unicode` table: each byte maps to one printable
/// code point, and back.
struct ByteLevelAlphabet {
  std::string byteToUtf8[256];
  std::unordered_map<uint32_t, uint8_t> codepointToByte;
};
const ByteLevelAlphabet &byteLevelAlphabet();

/// Maps every byte of `text` to its byte-level character.
std::string byteLevelEncode(std::string_view text);

//===----------------------------------------------------------------------===//
// Regex
//===----------------------------------------------------------------------===//

/// Rewrites `\s`, `\S`, `\w` and `\W` in a regex so that PCRE2 gives them
/// Oniguruma's Unicode meaning (the engine `tokenizers` runs pre-tokenizer
/// regexes with): `\s` is exactly White_Space (PCRE2 adds U+180E), and `\w`
/// includes marks but not most of \p{N}. `\W` inside a character class is
/// left alone.
std::string onigCompatiblePattern(std::string_view pattern);

/// A compiled PCRE2 pattern (UTF + UCP, JIT when available), with `\s` and
/// `\w` meaning what they mean to Oniguruma (see onigCompatiblePattern).
/// Invalid UTF-8 in a subject is allowed and never matched. Matching is
/// thread-safe.
class Regex {
public:
  /// Compiles `pattern`, or the literal string when `literal` is set.
  /// Throws TokenizerError naming `what` when the pattern is invalid.
  Regex(const std::string &pattern, bool literal, const std::string &what);
  ~Regex();
  Regex(const Regex &) = delete;
  Regex &operator=(const Regex &) = delete;

  /// Appends the [start, end) byte ranges of all non-empty, non-overlapping
  /// matches in `subject`, left to right. Throws TokenizerError when PCRE2
  /// gives up (match or depth limit).
  void findAll(std::string_view subject,
               std::vector<std::pair<size_t, size_t>> &out) const;

  /// Whether the pattern matches at exactly `offset` (anchored).
  bool matchesAt(std::string_view subject, size_t offset) const;

private:
  struct Code;
  std::unique_ptr<Code> code;
};

//===----------------------------------------------------------------------===//
// BPE model
//===----------------------------------------------------------------------===//

/// The `model` section of a tokenizer.json of type BPE.
class BPEModel {
public:
  /// Token string to id.
  std::unordered_map<std::string, int32_t> vocab;
  /// Id to token string ("" for ids not in the vocabulary).
  std::vector<std::string> idToToken;

  int32_t unkId = -1;
  bool fuseUnk = false;
  bool byteFallback = false;
  bool ignoreMerges = false;
  std::string continuingSubwordPrefix;
  std::string endOfWordSuffix;
  /// Id of `<0xNN>` for every byte, -1 where absent.
  int32_t byteIds[256];

  /// Records a merge of `a` and `b` (in that order) with `rank`.
  void addMerge(int32_t a, int32_t b, int32_t rank, int32_t merged);

  /// Appends the ids of one pre-tokenized word.
  void tokenize(std::string_view word, std::vector<int32_t> &out) const;

  std::optional<int32_t> find(std::string_view token) const {
    auto it = vocab.find(std::string(token));
    if (it == vocab.end())
      return std::nullopt;
    return it->second;
  }

private:
  struct MergeInfo {
    int32_t rank;
    int32_t merged;
  };
  static uint64_t pairKey(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
  }
  std::unordered_map<uint64_t, MergeInfo> merges;
};

} // namespace lowbit::rt::tok

#endif // LOWBITRT_TOKENIZER_TOKENIZERINTERNAL_H
