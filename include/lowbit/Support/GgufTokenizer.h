//===- GgufTokenizer.h - Tokenizers from GGUF metadata ----------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// A GGUF file carries its tokenizer as metadata (`tokenizer.ggml.*`), not as
// a Hugging Face tokenizer.json. This converts that metadata into the two
// objects the runtime tokenizer loads: a tokenizer.json and a
// tokenizer_config.json. The conversion follows the one `transformers` does
// for `from_pretrained(..., gguf_file=...)`, so both give the same ids:
//
//  * `tokenizer.ggml.model` "gpt2": byte-level BPE from `tokens` and
//    `merges`; the pre-tokenizer from `tokenizer.ggml.pre`;
//  * "llama": sentencepiece BPE with byte fallback; the merges are derived
//    from the vocabulary and `scores` (every split of a token into two
//    tokens, best score first).
//
// Tokens typed CONTROL, and the BOS/EOS/UNK/PAD tokens, become special
// added tokens, USER_DEFINED ones plain added tokens. `add_bos_token` and
// `add_eos_token` become the post-processor's template.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_SUPPORT_GGUFTOKENIZER_H
#define LOWBIT_SUPPORT_GGUFTOKENIZER_H

#include "lowbit/Support/Gguf.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <optional>

namespace lowbit {

struct GgufTokenizerJSON {
  /// A Hugging Face tokenizer.json object.
  llvm::json::Object tokenizer;
  /// A Hugging Face tokenizer_config.json object: `bos_token`, `eos_token`,
  /// `unk_token`, `pad_token` (strings, or null), `add_bos_token`,
  /// `add_eos_token` and, when the file has one, `chat_template`.
  llvm::json::Object tokenizerConfig;
};

/// Whether `file` describes a tokenizer (has `tokenizer.ggml.model`).
bool ggufHasTokenizer(const GgufFile &file);

/// The tokenizer of `file`, converted. Errors name the file and the metadata
/// key (and element) at fault: an unsupported tokenizer model or
/// pre-tokenizer, arrays of the wrong type or length, ids out of range,
/// tokens that are not UTF-8, merges of unknown tokens.
llvm::Expected<GgufTokenizerJSON> tokenizerFromGguf(const GgufFile &file);

/// The `tokenizer.ggml.pre` values tokenizerFromGguf() accepts, for messages
/// and documentation.
llvm::StringRef ggufSupportedPreTokenizers();

/// The tokenizer.json and tokenizer_config.json texts of the tokenizer at
/// `path`: a GGUF file (converted by tokenizerFromGguf), or a tokenizer.json
/// with, when one lies beside it, its tokenizer_config.json (else the config
/// text is empty). Errors name the file.
struct TokenizerTexts {
  std::string tokenizerJSON;
  std::string configJSON;
};
llvm::Expected<TokenizerTexts> loadTokenizerTexts(llvm::StringRef path);

} // namespace lowbit

#endif // LOWBIT_SUPPORT_GGUFTOKENIZER_H
