//===- ChatTemplate.h - native rendering of chat templates ------*- C++ -*-===//
//
// Part of the lowbit runtime. This header does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Chat templates without a Jinja engine. A Hugging Face `chat_template` is a
/// Jinja program; the runtime recognises the template *family* from its text
/// and renders conversations natively, byte for byte as the published
/// templates of that family do (test/Unit/Tokenizer/check_chat_templates.py
/// compares with the Jinja output):
///
///  * `chatml`: `<|im_start|>ROLE\nCONTENT<|im_end|>\n` per message,
///    `<|im_start|>assistant\n` as the generation prompt. A default system
///    prompt written in the template (SmolLM2, Qwen2: a literal
///    `'<|im_start|>system\n...<|im_end|>\n'` emitted when the first message
///    is not a system message) is recognised and rendered the same way.
///  * `llama2`: `BOS[INST] <<SYS>>\nSYSTEM\n<</SYS>>\n\nUSER [/INST] ASSISTANT
///    EOS...` (contents stripped, user/assistant turns alternating, starting
///    with a user turn); the generation prompt is implicit (`[/INST]`).
///  * `llama3`: `BOS` then `<|start_header_id|>ROLE<|end_header_id|>\n\n
///    CONTENT<|eot_id|>` per message (contents trimmed),
///    `<|start_header_id|>assistant<|end_header_id|>\n\n` as the generation
///    prompt.
///  * `none`: the contents concatenated, no markup (base models).
///
/// No exception escapes this API.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_CHATTEMPLATE_H
#define LOWBITRT_CHATTEMPLATE_H

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::rt {

enum class ChatFamily { None, ChatML, Llama2, Llama3 };

/// One turn of a conversation ("system", "user", "assistant", ...).
struct ChatMessage {
  std::string role;
  std::string content;
};

/// The chat-related fields of a Hugging Face `tokenizer_config.json`.
struct ChatConfig {
  /// `chat_template`: a string, or the `template` of the entry named
  /// "default" of a list of {"name", "template"} objects.
  std::optional<std::string> chatTemplate;
  /// `bos_token` / `eos_token` texts (a string or {"content": string});
  /// empty when absent or null.
  std::string bosToken, eosToken;
  /// `add_bos_token` / `add_eos_token` when set (a boolean; null = unset).
  std::optional<bool> addBosToken, addEosToken;
};

/// Parses the text of a `tokenizer_config.json` object. Fields other than
/// the five above are ignored. Returns false and sets `err` (naming the
/// field) for invalid JSON, a non-object, or a field of the wrong type.
bool parseChatConfig(std::string_view json, ChatConfig &out, std::string &err);

class ChatTemplate {
public:
  /// The family names accepted by fromName(), comma-separated.
  static const char *knownFamilies();

  /// The family called `name` ("chatml", "llama2", "llama3", "none"), in its
  /// plain form (no default system prompt). `bosToken`/`eosToken` are the
  /// texts the template writes for BOS/EOS (llama2, llama3).
  static std::optional<ChatTemplate>
  fromName(std::string_view name, std::string bosToken, std::string eosToken);

  /// Recognises the family of a Jinja `chat_template`. Returns nullopt and
  /// sets `err` (naming the known families) when the text matches none of
  /// them, or matches a family but uses a variant this renderer does not
  /// reproduce (say, Llama-3.1's dated system header).
  static std::optional<ChatTemplate> recognize(std::string_view jinja,
                                               std::string bosToken,
                                               std::string eosToken,
                                               std::string &err);

  ChatFamily family() const { return fam; }
  /// "chatml", "llama2", "llama3" or "none".
  const char *name() const;
  /// The default system prompt of a chatml template (empty optional: none).
  const std::optional<std::string> &defaultSystem() const { return sys; }

  /// Renders `messages`, then the generation prompt if `addGenerationPrompt`.
  /// Returns false and sets `err` when the family cannot render them (llama2:
  /// turns that do not alternate user/assistant, as the template raises).
  bool render(const std::vector<ChatMessage> &messages,
              bool addGenerationPrompt, std::string &out,
              std::string &err) const;

  /// Whether the rendered text begins with the BOS it needs itself (llama2,
  /// llama3): the caller then must not add the tokenizer's BOS prefix. False
  /// for chatml (no BOS, as in `apply_chat_template`) and for `none` (whose
  /// caller adds the tokenizer's usual prefix).
  bool writesBos() const {
    return fam == ChatFamily::Llama2 || fam == ChatFamily::Llama3;
  }

  /// The token text that ends an assistant turn ("<|im_end|>", "<|eot_id|>",
  /// the EOS text for llama2; empty for none).
  std::string endOfTurnToken() const;

private:
  ChatFamily fam = ChatFamily::None;
  std::string bos, eos;
  std::optional<std::string> sys;
};

} // namespace lowbit::rt

#endif // LOWBITRT_CHATTEMPLATE_H
