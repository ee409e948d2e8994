//===- Tokenizer.h - Hugging Face tokenizer.json tokenizer ------*- C++ -*-===//
//
// Part of the lowbit runtime. This header does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A BPE tokenizer that reads the Hugging Face `tokenizer.json` format and
/// reproduces the `tokenizers` library's ids for the two BPE families used by
/// decoder-only LLMs:
///
///  * sentencepiece-style BPE with byte fallback (Llama-2, TinyLlama,
///    stories260k): `Prepend`/`Replace` normalizers or a `Metaspace`
///    pre-tokenizer, `<0xNN>` byte tokens, `fuse_unk`, and the
///    `Replace`/`ByteFallback`/`Fuse`/`Strip` decoder chain;
///  * byte-level BPE (GPT-2, Llama-3, Qwen2): `ByteLevel` and `Split`
///    pre-tokenizers (the file's regexes run with PCRE2 in UTF + UCP mode,
///    JIT-compiled, with `\s` and `\w` given the meaning they have in the
///    Oniguruma engine that `tokenizers` uses), `ignore_merges`, and the
///    `ByteLevel` decoder.
///
/// Added tokens (`added_tokens`) are split out of the text before
/// normalization exactly like the `tokenizers` library does (leftmost-longest
/// match, `lstrip`/`rstrip`/`single_word`/`normalized` honoured), so special
/// tokens written in the text become their ids.
///
/// Supported components (anything else is rejected when loading, with an
/// error naming the element):
///  - model: `BPE`;
///  - normalizer: `Sequence`, `Prepend`, `Replace`, `ByteLevel`, and `NFC`
///    (accepted as the identity: the input is assumed to be NFC already,
///    which holds for nearly all text);
///  - pre_tokenizer: `Sequence`, `ByteLevel`, `Split`, `Metaspace`, `Digits`;
///  - post_processor: `TemplateProcessing`, `ByteLevel`, `Sequence`,
///    `RobertaProcessing`, `BertProcessing`;
///  - decoder: `Sequence`, `Replace`, `ByteFallback`, `Fuse`, `Strip`,
///    `ByteLevel`, `Metaspace`.
///
/// Text that is not valid UTF-8 never fails: each invalid byte is treated as a
/// one-byte character that no regex matches, so byte-fallback models encode it
/// as its `<0xNN>` token and byte-level models as its byte symbol.
///
/// No exception escapes this API. Loading reports errors through the `err`
/// argument; all methods are `const` and safe to call from several threads.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_TOKENIZER_H
#define LOWBITRT_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::rt {

/// A loaded, immutable tokenizer.
class Tokenizer {
public:
  ~Tokenizer();
  Tokenizer(const Tokenizer &) = delete;
  Tokenizer &operator=(const Tokenizer &) = delete;

  /// Loads `path` (a `tokenizer.json`). When a `tokenizer_config.json` lies
  /// next to it, its `bos_token`, `eos_token` and `add_bos_token` are used as
  /// described at bosId(); a malformed config is ignored. Returns null and
  /// sets `err` on failure.
  static std::unique_ptr<Tokenizer> fromFile(const std::string &path,
                                             std::string &err);

  /// Loads a tokenizer from the text of a `tokenizer.json`, optionally with
  /// the text of a `tokenizer_config.json` (empty: none). Returns null and
  /// sets `err` on failure (invalid JSON, unsupported or malformed element).
  static std::unique_ptr<Tokenizer> fromJSON(std::string_view json,
                                             std::string &err,
                                             std::string_view configJSON = {});

  /// Encodes `text` (any bytes). With `addBos`, the special tokens that the
  /// post-processor's single-sequence template places *before* the text are
  /// prepended (for Llama-2/3 and stories260k: BOS); tokens the template
  /// places after the text (an EOS, say) are never added, since a prompt must
  /// stay open for generation. The config's `add_bos_token`, when set, wins
  /// over the template (`transformers` rebuilds the post-processor from it):
  /// false prepends nothing (SmolLM2), true prepends the template's prefix or
  /// else the BOS. With neither a setting nor a template, BOS is prepended
  /// when it is a conventional begin-of-sequence name (`<s>`, `<bos>`,
  /// `<|begin_of_text|>`); GPT-2 and Qwen2 therefore get none, as in
  /// `transformers`. Returns false and sets `err` only on an internal failure
  /// (a regex hitting its match limit).
  bool encode(std::string_view text, bool addBos, std::vector<int32_t> &ids,
              std::string &err) const;

  /// Convenience form of encode(); returns an empty vector on failure.
  std::vector<int32_t> encode(std::string_view text, bool addBos) const;

  /// Decodes ids like `tokenizers`' `decode`: ids are mapped to tokens
  /// (unknown ids are dropped, special added tokens too when `skipSpecial`),
  /// the decoder chain is applied and the pieces are concatenated. Invalid
  /// UTF-8 produced by byte tokens is replaced with U+FFFD, so the result is
  /// always valid UTF-8.
  std::string decode(const std::vector<int32_t> &ids,
                     bool skipSpecial = true) const;

  /// Streaming decode: the bytes that token `id` adds to the text when it
  /// follows token `prev` (`prev` < 0 at the start of the stream). The
  /// decoder's start-of-text rules apply when `prev` < 0 or is a special token
  /// (the sentencepiece leading space after BOS is stripped). Special tokens
  /// yield "". The pieces are raw bytes: a character split over several
  /// byte-fallback or byte-level tokens arrives in parts (each part may be
  /// invalid UTF-8 on its own), so buffer incomplete UTF-8 sequences before
  /// displaying. Concatenating the pieces of a stream gives decode()'s text,
  /// except that decode() replaces invalid UTF-8 with U+FFFD.
  std::string decodeToken(int32_t prev, int32_t id) const;

  /// The begin-of-sequence id, or -1 when there is none: the first special
  /// token of the post-processor template, else the config's `bos_token`,
  /// else a token named `<s>`, `<|begin_of_text|>`, `<bos>` or
  /// `<|startoftext|>`.
  int32_t bosId() const;

  /// The end-of-sequence id, or -1: the config's `eos_token`, else a token
  /// named `</s>`, `<|end_of_text|>`, `<|endoftext|>`, `<eos>`, `<|eot_id|>`
  /// or `<|im_end|>` (first found in that order).
  int32_t eosId() const;

  /// The id of the model's unknown token, or -1.
  int32_t unkId() const;

  /// One more than the largest id of the model vocabulary and the added
  /// tokens (the size an embedding table must have).
  int32_t vocabSize() const;

  /// The id of a token string (added tokens first, then the model vocabulary).
  std::optional<int32_t> tokenToId(std::string_view token) const;

  /// The token string of an id; empty when the id is unknown.
  std::string idToToken(int32_t id) const;

  /// Whether `id` is an added token marked `special`.
  bool isSpecial(int32_t id) const;

  /// The ids encode() prepends when `addBos` is set.
  const std::vector<int32_t> &bosPrefix() const;

private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace lowbit::rt

#endif // LOWBITRT_TOKENIZER_H
