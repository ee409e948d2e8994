//===- TokenizeMain.cpp - lowbit-tokenize command line tool ---------------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Encodes or decodes with a tokenizer.json:
///
///   lowbit-tokenize --tokenizer F --encode TEXT [--bos]
///   lowbit-tokenize --tokenizer F --encode-file F [--bos]
///   lowbit-tokenize --tokenizer F --encode-batch F [--bos]
///   lowbit-tokenize --tokenizer F --decode "IDS" [--keep-special]
///   lowbit-tokenize --tokenizer F --decode-stream "IDS"
///   lowbit-tokenize --tokenizer F --decode-batch F [--stream] [--keep-special]
///
/// Encoding prints the ids separated by spaces and a newline; --encode-batch
/// reads texts separated by NUL bytes and prints one line per text. Decoding
/// prints the text exactly (no newline added); --decode-stream concatenates
/// the streaming pieces of decodeToken(). --decode-batch reads one id list per
/// line and prints each text followed by a NUL byte (with --stream, as
/// --decode-stream does). IDS are separated by spaces or commas.
///
///   lowbit-tokenize --chat-config CONFIG --chat-render CONVS
///                   [--template NAME] [--generation-prompt]
///
/// renders conversations with the chat template of CONFIG (a
/// tokenizer_config.json; --template forces a family): CONVS is a JSON list
/// of conversations, each a list of {"role", "content"} objects; each
/// rendering is printed followed by a NUL byte, or "!error: MESSAGE" for a
/// conversation the template rejects.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/ChatTemplate.h"
#include "lowbitrt/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

using lowbit::rt::Tokenizer;

static int usage() {
  std::cerr << "usage: lowbit-tokenize --tokenizer FILE\n"
               "         (--encode TEXT | --encode-file FILE | --encode-batch "
               "FILE | --decode IDS | --decode-stream IDS | --decode-batch "
               "FILE)\n"
               "         [--bos] [--keep-special] [--stream]\n"
               "       lowbit-tokenize --chat-config FILE --chat-render FILE\n"
               "         [--template NAME] [--generation-prompt]\n";
  return 2;
}

static bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

static bool parseIds(const std::string &text, std::vector<int32_t> &ids) {
  std::string s = text;
  for (char &c : s)
    if (c == ',')
      c = ' ';
  std::istringstream in(s);
  long long v;
  while (in >> v) {
    if (v < INT32_MIN || v > INT32_MAX)
      return false;
    ids.push_back(static_cast<int32_t>(v));
  }
  return in.eof();
}

static bool printIds(const Tokenizer &tok, std::string_view text, bool bos) {
  std::vector<int32_t> ids;
  std::string err;
  if (!tok.encode(text, bos, ids, err)) {
    std::cerr << "lowbit-tokenize: " << err << "\n";
    return false;
  }
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i)
      line += ' ';
    line += std::to_string(ids[i]);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  return true;
}

static bool readFile(const std::string &path, std::string &out);

/// --chat-render: see the file comment.
static int chatRender(const std::string &configPath,
                      const std::string &convsPath,
                      const std::string &templateName, bool generationPrompt) {
  using lowbit::rt::ChatConfig;
  using lowbit::rt::ChatMessage;
  using lowbit::rt::ChatTemplate;
  std::string configText, convsText, err;
  if (!readFile(configPath, configText) || !readFile(convsPath, convsText)) {
    std::cerr << "lowbit-tokenize: cannot read '" << configPath << "' or '"
              << convsPath << "'\n";
    return 1;
  }
  ChatConfig config;
  if (!lowbit::rt::parseChatConfig(configText, config, err)) {
    std::cerr << "lowbit-tokenize: " << configPath << ": " << err << "\n";
    return 1;
  }
  std::optional<ChatTemplate> tpl;
  if (!templateName.empty()) {
    tpl =
        ChatTemplate::fromName(templateName, config.bosToken, config.eosToken);
    if (!tpl) {
      std::cerr << "lowbit-tokenize: unknown template '" << templateName
                << "' (known: " << ChatTemplate::knownFamilies() << ")\n";
      return 1;
    }
  } else if (!config.chatTemplate) {
    std::cerr << "lowbit-tokenize: " << configPath << " has no chat_template\n";
    return 1;
  } else {
    tpl = ChatTemplate::recognize(*config.chatTemplate, config.bosToken,
                                  config.eosToken, err);
    if (!tpl) {
      std::cerr << "lowbit-tokenize: " << err << "\n";
      return 1;
    }
  }
  nlohmann::json convs = nlohmann::json::parse(convsText, nullptr, false);
  if (!convs.is_array()) {
    std::cerr << "lowbit-tokenize: " << convsPath
              << ": expected a JSON list of conversations\n";
    return 1;
  }
  std::string out;
  for (const nlohmann::json &conv : convs) {
    std::vector<ChatMessage> messages;
    for (const nlohmann::json &m : conv) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
          !m.contains("content") || !m["content"].is_string()) {
        std::cerr << "lowbit-tokenize: " << convsPath
                  << ": a message is not {\"role\": string, \"content\": "
                     "string}\n";
        return 1;
      }
      messages.push_back(
          {m["role"].get<std::string>(), m["content"].get<std::string>()});
    }
    std::string text;
    if (tpl->render(messages, generationPrompt, text, err))
      out += text;
    else
      out += "!error: " + err;
    out += '\0';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int main(int argc, char **argv) {
  std::string tokenizerPath, mode, arg;
  std::string chatConfig, chatRenderPath, templateName;
  bool generationPrompt = false;
  bool bos = false, keepSpecial = false, stream = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--generation-prompt") {
      generationPrompt = true;
    } else if (i + 1 < argc && a == "--chat-config") {
      chatConfig = argv[++i];
    } else if (i + 1 < argc && a == "--chat-render") {
      chatRenderPath = argv[++i];
    } else if (i + 1 < argc && a == "--template") {
      templateName = argv[++i];
    } else if (a == "--bos") {
      bos = true;
    } else if (a == "--keep-special") {
      keepSpecial = true;
    } else if (a == "--stream") {
      stream = true;
    } else if (i + 1 < argc &&
               (a == "--tokenizer" || a == "--encode" || a == "--encode-file" ||
                a == "--encode-batch" || a == "--decode" ||
                a == "--decode-stream" || a == "--decode-batch")) {
      if (a == "--tokenizer") {
        tokenizerPath = argv[++i];
      } else {
        if (!mode.empty())
          return usage();
        mode = a;
        arg = argv[++i];
      }
    } else {
      return usage();
    }
  }
  if (!chatRenderPath.empty() || !chatConfig.empty()) {
    if (chatRenderPath.empty() || chatConfig.empty() || !mode.empty())
      return usage();
    return chatRender(chatConfig, chatRenderPath, templateName,
                      generationPrompt);
  }
  if (tokenizerPath.empty() || mode.empty())
    return usage();

  std::string err;
  std::unique_ptr<Tokenizer> tok = Tokenizer::fromFile(tokenizerPath, err);
  if (!tok) {
    std::cerr << "lowbit-tokenize: " << err << "\n";
    return 1;
  }

  if (mode == "--encode")
    return printIds(*tok, arg, bos) ? 0 : 1;
  if (mode == "--encode-file" || mode == "--encode-batch") {
    std::string text;
    if (!readFile(arg, text)) {
      std::cerr << "lowbit-tokenize: cannot read '" << arg << "'\n";
      return 1;
    }
    if (mode == "--encode-file")
      return printIds(*tok, text, bos) ? 0 : 1;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\0', start);
      if (end == std::string::npos)
        end = text.size();
      if (!printIds(*tok, std::string_view(text).substr(start, end - start),
                    bos))
        return 1;
      start = end + 1;
    }
    return 0;
  }

  auto decode = [&](const std::string &list, bool streaming, std::string &out) {
    std::vector<int32_t> ids;
    if (!parseIds(list, ids)) {
      std::cerr << "lowbit-tokenize: bad id list '" << list << "'\n";
      return false;
    }
    if (!streaming) {
      out += tok->decode(ids, !keepSpecial);
      return true;
    }
    int32_t prev = -1;
    for (int32_t id : ids) {
      out += tok->decodeToken(prev, id);
      prev = id;
    }
    return true;
  };

  std::string out;
  if (mode == "--decode-batch") {
    std::ifstream in(arg);
    if (!in) {
      std::cerr << "lowbit-tokenize: cannot read '" << arg << "'\n";
      return 1;
    }
    std::string line;
    while (std::getline(in, line)) {
      if (!decode(line, stream, out))
        return 1;
      out += '\0';
    }
  } else if (!decode(arg, mode == "--decode-stream", out)) {
    return 1;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
