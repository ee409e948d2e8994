//===- ChatTemplate.cpp - native rendering of chat templates --------------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//

#include "lowbitrt/ChatTemplate.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <new>

using namespace lowbit::rt;

namespace {

constexpr const char *kImStart = "<|im_start|>";
constexpr const char *kImEnd = "<|im_end|>";
constexpr const char *kStartHeader = "<|start_header_id|>";
constexpr const char *kEndHeader = "<|end_header_id|>";
constexpr const char *kEotId = "<|eot_id|>";

bool contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

/// Decodes the code point at `pos` of UTF-8 text (invalid bytes: one byte,
/// value 0xFFFFFFFF); sets `len`.
uint32_t codePointAt(std::string_view s, size_t pos, size_t &len) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  uint8_t b = byte(pos);
  len = 1;
  if (b < 0x80)
    return b;
  size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
  if (n == 0 || pos + n > s.size())
    return 0xFFFFFFFFu;
  uint32_t cp = b & (0xFF >> (n + 1));
  for (size_t i = 1; i < n; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80)
      return 0xFFFFFFFFu;
    cp = (cp << 6) | (byte(pos + i) & 0x3F);
  }
  len = n;
  return cp;
}

/// Python's str.isspace(), which Jinja's `trim` and str.strip() use.
bool isPySpace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 ||
         c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

/// Python's str.strip() on UTF-8 text.
std::string pyStrip(std::string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end) {
    size_t len;
    if (!isPySpace(codePointAt(s, begin, len)))
      break;
    begin += len;
  }
  // Scan forward for the end of the last non-space code point.
  size_t lastEnd = begin;
  for (size_t pos = begin; pos < end;) {
    size_t len;
    uint32_t cp = codePointAt(s, pos, len);
    pos += len;
    if (!isPySpace(cp))
      lastEnd = pos;
  }
  return std::string(s.substr(begin, lastEnd - begin));
}

/// The string literals of the Jinja tags of `jinja` (`{{ }}`, `{% %}`),
/// unescaped as Jinja does for the common escapes.
std::vector<std::string> stringLiterals(std::string_view jinja) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i + 1 < jinja.size()) {
    if (jinja[i] != '{' ||
        (jinja[i + 1] != '{' && jinja[i + 1] != '%' && jinja[i + 1] != '#')) {
      ++i;
      continue;
    }
    char open = jinja[i + 1];
    char close = open == '{' ? '}' : open;
    i += 2;
    if (open == '#') {
      size_t e = jinja.find("#}", i);
      i = e == std::string_view::npos ? jinja.size() : e + 2;
      continue;
    }
    while (i < jinja.size()) {
      char c = jinja[i];
      if (c == close && i + 1 < jinja.size() && jinja[i + 1] == '}') {
        i += 2;
        break;
      }
      if (c != '\'' && c != '"') {
        ++i;
        continue;
      }
      std::string lit;
      ++i;
      while (i < jinja.size() && jinja[i] != c) {
        if (jinja[i] == '\\' && i + 1 < jinja.size()) {
          char e = jinja[i + 1];
          switch (e) {
          case 'n':
            lit += '\n';
            break;
          case 't':
            lit += '\t';
            break;
          case 'r':
            lit += '\r';
            break;
          case '\\':
          case '\'':
          case '"':
            lit += e;
            break;
          default:
            lit += '\\';
            lit += e;
          }
          i += 2;
          continue;
        }
        lit += jinja[i++];
      }
      ++i;
      out.push_back(std::move(lit));
    }
  }
  return out;
}

std::string unknownTemplate(const std::string &why) {
  return "unrecognised chat template (" + why +
         "); known families: " + ChatTemplate::knownFamilies() +
         " (pass one with --template)";
}

} // namespace

const char *ChatTemplate::knownFamilies() {
  return "chatml, llama2, llama3, none";
}

std::optional<ChatTemplate> ChatTemplate::fromName(std::string_view name,
                                                   std::string bosToken,
                                                   std::string eosToken) {
  ChatTemplate t;
  if (name == "chatml")
    t.fam = ChatFamily::ChatML;
  else if (name == "llama2")
    t.fam = ChatFamily::Llama2;
  else if (name == "llama3")
    t.fam = ChatFamily::Llama3;
  else if (name == "none")
    t.fam = ChatFamily::None;
  else
    return std::nullopt;
  t.bos = std::move(bosToken);
  t.eos = std::move(eosToken);
  return t;
}

std::optional<ChatTemplate> ChatTemplate::recognize(std::string_view jinja,
                                                    std::string bosToken,
                                                    std::string eosToken,
                                                    std::string &err) {
  try {
    ChatTemplate t;
    t.bos = std::move(bosToken);
    t.eos = std::move(eosToken);
    bool chatml = contains(jinja, kImStart) && contains(jinja, kImEnd);
    bool llama3 = contains(jinja, kStartHeader) && contains(jinja, kEotId);
    bool llama2 = contains(jinja, "[INST]") && contains(jinja, "[/INST]");
    if (int(chatml) + int(llama3) + int(llama2) > 1) {
      err = unknownTemplate("it mixes the markers of several families");
      return std::nullopt;
    }
    if (chatml) {
      t.fam = ChatFamily::ChatML;
      // A default system prompt: a literal system turn the template emits
      // when the conversation has none.
      const std::string head = std::string(kImStart) + "system\n";
      const std::string tail = std::string(kImEnd) + "\n";
      for (const std::string &lit : stringLiterals(jinja)) {
        if (lit.size() <= head.size() + tail.size() ||
            lit.compare(0, head.size(), head) != 0 ||
            lit.compare(lit.size() - tail.size(), tail.size(), tail) != 0)
          continue;
        std::string content =
            lit.substr(head.size(), lit.size() - head.size() - tail.size());
        if (contains(content, kImStart) || contains(content, kImEnd))
          continue;
        if (t.sys && *t.sys != content) {
          err = unknownTemplate("a chatml template with several default "
                                "system prompts");
          return std::nullopt;
        }
        t.sys = std::move(content);
      }
      return t;
    }
    if (llama3) {
      if (contains(jinja, "Cutting Knowledge Date")) {
        err = unknownTemplate(
            "a llama3 template with the dated system header of Llama-3.1 and "
            "later, which this renderer does not reproduce");
        return std::nullopt;
      }
      t.fam = ChatFamily::Llama3;
      return t;
    }
    if (llama2) {
      if (!contains(jinja, "<<SYS>>")) {
        err = unknownTemplate("[INST] turns without a <<SYS>> block, as in "
                              "Mistral's templates, are not llama2");
        return std::nullopt;
      }
      t.fam = ChatFamily::Llama2;
      return t;
    }
    err = unknownTemplate("none of the markers <|im_start|>, "
                          "<|start_header_id|> or [INST] found");
    return std::nullopt;
  } catch (const std::bad_alloc &) {
    err = "out of memory while reading the chat template";
    return std::nullopt;
  }
}

const char *ChatTemplate::name() const {
  switch (fam) {
  case ChatFamily::ChatML:
    return "chatml";
  case ChatFamily::Llama2:
    return "llama2";
  case ChatFamily::Llama3:
    return "llama3";
  case ChatFamily::None:
    break;
  }
  return "none";
}

std::string ChatTemplate::endOfTurnToken() const {
  switch (fam) {
  case ChatFamily::ChatML:
    return kImEnd;
  case ChatFamily::Llama2:
    return eos;
  case ChatFamily::Llama3:
    return kEotId;
  case ChatFamily::None:
    break;
  }
  return std::string();
}

bool ChatTemplate::render(const std::vector<ChatMessage> &messages,
                          bool addGenerationPrompt, std::string &out,
                          std::string &err) const {
  try {
    out.clear();
    switch (fam) {
    case ChatFamily::None:
      for (const ChatMessage &m : messages)
        out += m.content;
      return true;
    case ChatFamily::ChatML:
      for (size_t i = 0; i < messages.size(); ++i) {
        if (i == 0 && sys && messages[0].role != "system")
          out += std::string(kImStart) + "system\n" + *sys + kImEnd + "\n";
        out += std::string(kImStart) + messages[i].role + "\n" +
               messages[i].content + kImEnd + "\n";
      }
      if (addGenerationPrompt)
        out += std::string(kImStart) + "assistant\n";
      return true;
    case ChatFamily::Llama3:
      for (size_t i = 0; i < messages.size(); ++i) {
        if (i == 0)
          out += bos;
        out += std::string(kStartHeader) + messages[i].role + kEndHeader +
               "\n\n" + pyStrip(messages[i].content) + kEotId;
      }
      if (addGenerationPrompt)
        out += std::string(kStartHeader) + "assistant" + kEndHeader + "\n\n";
      return true;
    case ChatFamily::Llama2: {
      size_t first = 0;
      const std::string *system = nullptr;
      if (!messages.empty() && messages[0].role == "system") {
        system = &messages[0].content;
        first = 1;
      }
      for (size_t i = first; i < messages.size(); ++i) {
        const ChatMessage &m = messages[i];
        bool userTurn = (i - first) % 2 == 0;
        if ((m.role == "user") != userTurn) {
          err = "llama2 chat template: conversation roles must alternate "
                "user/assistant/user/assistant/... (message " +
                std::to_string(i) + " is '" + m.role + "')";
          return false;
        }
        std::string content = m.content;
        if (i == first && system)
          content = "<<SYS>>\n" + *system + "\n<</SYS>>\n\n" + content;
        if (m.role == "user")
          out += bos + "[INST] " + pyStrip(content) + " [/INST]";
        else if (m.role == "assistant")
          out += " " + pyStrip(content) + " " + eos;
      }
      // The template has no generation prompt: `[/INST]` opens the reply.
      return true;
    }
    }
    return true;
  } catch (const std::bad_alloc &) {
    err = "out of memory while rendering the chat";
    return false;
  }
}

//===----------------------------------------------------------------------===//
// tokenizer_config.json
//===----------------------------------------------------------------------===//

bool lowbit::rt::parseChatConfig(std::string_view text, ChatConfig &out,
                                 std::string &err) {
  using json = nlohmann::json;
  try {
    out = ChatConfig();
    json j = json::parse(text.begin(), text.end(), nullptr,
                         /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      err = "invalid JSON";
      return false;
    }
    if (!j.is_object()) {
      err = "expected a JSON object";
      return false;
    }
    auto token = [&](const char *key, std::string &dst) {
      auto it = j.find(key);
      if (it == j.end() || it->is_null())
        return true;
      const json *v = &*it;
      if (v->is_object()) {
        auto c = v->find("content");
        if (c == v->end() || !c->is_string()) {
          err = std::string("field '") + key +
                "' must be a string or an object with a string 'content'";
          return false;
        }
        v = &*c;
      } else if (!v->is_string()) {
        err = std::string("field '") + key +
              "' must be a string, an object with a string 'content', or "
              "null";
        return false;
      }
      dst = v->get<std::string>();
      return true;
    };
    auto flag = [&](const char *key, std::optional<bool> &dst) {
      auto it = j.find(key);
      if (it == j.end() || it->is_null())
        return true;
      if (!it->is_boolean()) {
        err = std::string("field '") + key + "' must be a boolean or null";
        return false;
      }
      dst = it->get<bool>();
      return true;
    };
    if (!token("bos_token", out.bosToken) ||
        !token("eos_token", out.eosToken) ||
        !flag("add_bos_token", out.addBosToken) ||
        !flag("add_eos_token", out.addEosToken))
      return false;
    auto ct = j.find("chat_template");
    if (ct != j.end() && !ct->is_null()) {
      if (ct->is_string()) {
        out.chatTemplate = ct->get<std::string>();
      } else if (ct->is_array()) {
        for (size_t i = 0; i < ct->size(); ++i) {
          const json &e = (*ct)[i];
          auto name = e.is_object() ? e.find("name") : e.end();
          auto tpl = e.is_object() ? e.find("template") : e.end();
          if (!e.is_object() || name == e.end() || !name->is_string() ||
              tpl == e.end() || !tpl->is_string()) {
            err = "field 'chat_template'[" + std::to_string(i) +
                  "] must be an object with string 'name' and 'template'";
            return false;
          }
          if (*name == "default")
            out.chatTemplate = tpl->get<std::string>();
        }
      } else {
        err = "field 'chat_template' must be a string, a list of {\"name\", "
              "\"template\"} objects, or null";
        return false;
      }
    }
    return true;
  } catch (const std::bad_alloc &) {
    err = "out of memory while reading the tokenizer config";
  } catch (const std::exception &e) {
    err = e.what();
  }
  return false;
}
