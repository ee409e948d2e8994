//===- lowbit-run.cpp - generate text with a .lowbit bundle -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// lowbit-run model.lowbit --prompt TEXT -n N [--json] [--threads T]
///   [--temperature F] [--top-k K] [--top-p P] [--seed S] [--max-context C]
///   [--device D] [--no-native-code] [--trusted-keys K.pem[:K2.pem...]]
/// lowbit-run model.lowbit --chat [--prompt TEXT] [--system TEXT]
///   [--template chatml|llama2|llama3|none] [-n N] [--print-prompt]
///   [--print-prompt-tokens] [...]
///
/// Tokenizes the prompt (with the BOS prefix the tokenizer config asks for:
/// add_bos_token, else the tokenizer's post-processor), prefills it, then
/// samples and decodes up to N tokens, stopping early at an EOS or when the
/// context is full.
///
/// --chat formats the conversation with the model's chat template (the
/// bundle's tokenizer_config chat_template, recognised by family; --template
/// overrides it) and prints only the assistant's reply, stopping at EOS or at
/// the template's end-of-turn token. With --prompt it answers once; without,
/// it reads one user turn per line of stdin and answers each, keeping the
/// conversation and its KV cache (see usage()); its JSON (one object per
/// turn) adds `template` and `cached_tokens` (context tokens reused from the
/// previous turn; `prompt_tokens` counts those prefilled). Without
/// --json the generated text is streamed to stdout and the timings go to
/// stderr; with --json one JSON object is printed on stdout. Either way the
/// reason generation stopped ("eos", "end_of_turn", "length" or
/// "context_full") is
/// reported: `stop_reason` in the JSON, and a line on stderr when it is not
/// "length". --max-context above the model's max_position_embeddings is an
/// error; without it the runtime's KV cache grows with the context. --device
/// picks the runtime device ("x86", "cpu", ...; default: the bundle's target).
/// --no-native-code never loads the bundle's code blob (everything runs on
/// "cpu"); --trusted-keys loads it only if the bundle is signed by one of
/// these Ed25519 public keys (both also come from LOWBIT_NO_NATIVE_CODE /
/// LOWBIT_TRUSTED_KEYS). Uses only the runtime's C API.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/lowbit_rt.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

struct Options {
  std::string model;
  std::string prompt;
  bool havePrompt = false;
  long long numTokens = -1;
  bool json = false;
  int threads = 0;
  float temperature = 0.0f;
  long long topK = 0;
  float topP = 1.0f;
  unsigned long long seed = 0;
  long long maxContext = 0;
  std::string device;
  bool noNativeCode = false;
  std::string trustedKeys;
  // Chat.
  bool chat = false;
  std::string system;
  bool haveSystem = false;
  std::string templateName;
  bool printPrompt = false;
  bool printPromptTokens = false;
};

/// Reply length in chat mode without -n.
constexpr long long kDefaultChatTokens = 512;

void usage(FILE *out) {
  std::fprintf(
      out,
      "usage: lowbit-run MODEL.lowbit --prompt TEXT -n N [--json]\n"
      "         [--threads T] [--temperature F] [--top-k K]\n"
      "         [--top-p P] [--seed S] [--max-context C]\n"
      "         [--device D]   (D: %s; default: the bundle's target)\n"
      "         [--no-native-code] [--trusted-keys K.pem[:K2.pem]]\n"
      "       lowbit-run MODEL.lowbit --chat [--prompt TEXT] [--system TEXT]\n"
      "         [--template chatml|llama2|llama3|none] [-n N]\n"
      "         [--print-prompt] [--print-prompt-tokens] [options above]\n"
      "\n"
      "The prompt gets the BOS the tokenizer config asks for (add_bos_token,\n"
      "else the tokenizer's post-processor). Generation stops at N tokens, at\n"
      "an end-of-sequence token, or when the context is full.\n"
      "\n"
      "--chat formats the conversation with the model's chat template (its\n"
      "tokenizer_config chat_template, recognised as one of the families\n"
      "chatml, llama2, llama3; --template forces a family, 'none' feeds the\n"
      "text as is) and prints only the assistant's reply, which ends at an\n"
      "end-of-sequence or end-of-turn token (<|im_end|>, <|eot_id|>, </s>) or\n"
      "after N tokens (default %lld). --system sets the system prompt. With\n"
      "--prompt it answers once. Without --prompt it reads one user turn per\n"
      "line of stdin until end of file, answering each; the conversation and\n"
      "its KV cache are kept across turns, and only the tokens that differ\n"
      "from the previous turn's context are prefilled. When a turn does not\n"
      "fit in the context (--max-context, else max_position_embeddings), the\n"
      "oldest user/assistant exchanges are dropped (the system prompt is\n"
      "kept) and the rest is prefilled again; a turn that does not fit alone\n"
      "is skipped with an error on stderr. A reply cut by a full context ends\n"
      "with stop_reason \"context_full\" and stays in the conversation.\n"
      "--print-prompt and --print-prompt-tokens write the formatted prompt\n"
      "and its token ids to stderr (with -n 0: a dry run).\n",
      lowbit_rt_available_devices(), kDefaultChatTokens);
}

[[noreturn]] void die(const std::string &msg) {
  std::fprintf(stderr, "lowbit-run: error: %s\n", msg.c_str());
  std::exit(1);
}

long long parseInt(const char *flag, const char *s, long long lo,
                   long long hi) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(s, &end, 10);
  if (errno || !*s || *end || v < lo || v > hi)
    die(std::string("invalid value '") + s + "' for " + flag +
        " (an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
        "])");
  return v;
}

float parseFloat(const char *flag, const char *s) {
  char *end = nullptr;
  errno = 0;
  float v = std::strtof(s, &end);
  if (errno || !*s || *end || v != v)
    die(std::string("invalid value '") + s + "' for " + flag);
  return v;
}

Options parseArgs(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        die("missing value for " + a);
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (a == "--prompt") {
      o.prompt = value();
      o.havePrompt = true;
    } else if (a == "-n") {
      o.numTokens = parseInt("-n", value(), 0, 1LL << 31);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--threads") {
      o.threads = int(parseInt("--threads", value(), 0, 4096));
    } else if (a == "--temperature") {
      o.temperature = parseFloat("--temperature", value());
    } else if (a == "--top-k") {
      o.topK = parseInt("--top-k", value(), 0, 1LL << 31);
    } else if (a == "--top-p") {
      o.topP = parseFloat("--top-p", value());
    } else if (a == "--seed") {
      o.seed = static_cast<unsigned long long>(
          parseInt("--seed", value(), 0, (1LL << 62)));
    } else if (a == "--device") {
      o.device = value();
      if (o.device.empty())
        die("empty value for --device (available: " +
            std::string(lowbit_rt_available_devices()) + ")");
    } else if (a == "--no-native-code") {
      o.noNativeCode = true;
    } else if (a == "--trusted-keys") {
      o.trustedKeys = value();
      if (o.trustedKeys.empty())
        die("empty value for --trusted-keys");
    } else if (a == "--max-context") {
      o.maxContext = parseInt("--max-context", value(), 0, 1LL << 31);
    } else if (a == "--chat") {
      o.chat = true;
    } else if (a == "--system") {
      o.system = value();
      o.haveSystem = true;
    } else if (a == "--template") {
      o.templateName = value();
      if (o.templateName.empty())
        die("empty value for --template (known: chatml, llama2, llama3, "
            "none)");
    } else if (a == "--print-prompt") {
      o.printPrompt = true;
    } else if (a == "--print-prompt-tokens") {
      o.printPromptTokens = true;
    } else if (!a.empty() && a[0] == '-') {
      usage(stderr);
      die("unknown option " + a);
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      usage(stderr);
      die("unexpected argument " + a);
    }
  }
  if (o.model.empty()) {
    usage(stderr);
    die("no model given");
  }
  if (!o.chat) {
    for (const char *flag : {"--system", "--template"})
      if ((!std::strcmp(flag, "--system") && o.haveSystem) ||
          (!std::strcmp(flag, "--template") && !o.templateName.empty()))
        die(std::string(flag) + " needs --chat");
    if (!o.havePrompt)
      die("--prompt is required (or --chat to read turns from stdin)");
    if (o.numTokens < 0)
      die("-n is required");
  } else if (o.numTokens < 0) {
    o.numTokens = kDefaultChatTokens;
  }
  return o;
}

void check(lowbit_rt_status s, const char *what) {
  if (s != LOWBIT_RT_OK)
    die(std::string(what) + ": " + lowbit_rt_status_name(s) + ": " +
        lowbit_rt_last_error());
}

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - t0)
      .count();
}

/// Calls `fill(ids, capacity, &n)` twice: for the count, then the ids.
template <typename Fill>
lowbit_rt_status getIds(Fill &&fill, std::vector<int32_t> &ids) {
  int64_t n = 0;
  lowbit_rt_status st = fill(nullptr, 0, &n);
  if (st != LOWBIT_RT_INVALID_ARGUMENT && st != LOWBIT_RT_OK)
    return st;
  ids.resize(static_cast<size_t>(n));
  st = fill(ids.data(), n, &n);
  if (st == LOWBIT_RT_OK)
    ids.resize(static_cast<size_t>(n));
  return st;
}

std::string idList(const std::vector<int32_t> &ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i)
    s += (i ? " " : "") + std::to_string(ids[i]);
  return s;
}

/// One generation: a prompt already prefilled (or to prefill), then tokens
/// sampled until a stop. Prints the text as it comes unless --json.
struct Generation {
  std::string text;
  std::vector<int32_t> tokens; // generated and fed to the model
  double ttftMs = 0.0, tpotMs = 0.0, tokS = 0.0;
  const char *stopReason = "length";
  std::string contextFull;
};

class Runner {
public:
  Runner(const Options &o, lowbit_rt_model *model, lowbit_rt_session *session,
         lowbit_rt_chat *chat)
      : o(o), model(model), session(session), chat(chat) {
    sp.temperature = o.temperature;
    sp.top_k = o.topK;
    sp.top_p = o.topP;
    sp.seed = o.seed;
    check(getIds(
              [&](int32_t *ids, int64_t cap, int64_t *n) {
                return lowbit_rt_model_eos_ids(model, ids, cap, n);
              },
              eosIds),
          "eos ids");
  }

  /// Prefills `tokens` (after the context's first `keep` tokens), then
  /// generates up to `maxTokens`.
  Generation generate(const std::vector<int32_t> &tokens, size_t keep,
                      long long maxTokens) {
    Generation g;
    if (maxTokens <= 0)
      return g;
    auto t0 = std::chrono::steady_clock::now();
    check(lowbit_rt_session_truncate(session, int64_t(keep)), "truncate");
    check(lowbit_rt_prefill(session, tokens.data() + keep,
                            int64_t(tokens.size() - keep), nullptr),
          "prefill");
    int32_t tok = 0;
    check(lowbit_rt_sample(session, &sp, &tok), "sample");
    g.ttftMs = msSince(t0);
    int32_t prev = tokens.back();
    std::vector<char> piece(256);
    auto emit = [&](int32_t id) {
      size_t len = 0;
      lowbit_rt_status s = lowbit_rt_token_piece(model, prev, id, piece.data(),
                                                 piece.size(), &len);
      if (s == LOWBIT_RT_INVALID_ARGUMENT && len + 1 > piece.size()) {
        piece.resize(len + 1);
        s = lowbit_rt_token_piece(model, prev, id, piece.data(), piece.size(),
                                  &len);
      }
      check(s, "detokenize");
      g.text.append(piece.data(), len);
      if (!o.json) {
        std::fwrite(piece.data(), 1, len, stdout);
        std::fflush(stdout);
      }
      prev = id;
    };
    int64_t generated = 0;
    auto t1 = std::chrono::steady_clock::now();
    while (true) {
      if (const char *why = stopKind(tok)) {
        g.stopReason = why;
        break;
      }
      ++generated;
      emit(tok);
      if (generated >= maxTokens)
        break;
      lowbit_rt_status st = lowbit_rt_decode(session, tok);
      if (st == LOWBIT_RT_CONTEXT_FULL) {
        g.stopReason = "context_full";
        g.contextFull = lowbit_rt_last_error();
        break;
      }
      check(st, "decode");
      g.tokens.push_back(tok);
      check(lowbit_rt_sample(session, &sp, &tok), "sample");
    }
    double decodeMs = msSince(t1);
    // Mean time per output token after the first.
    g.tpotMs = generated > 1 ? decodeMs / double(generated - 1) : 0.0;
    g.tokS = g.tpotMs > 0.0 ? 1000.0 / g.tpotMs : 0.0;
    generatedCount = generated;
    return g;
  }

  /// "eos", "end_of_turn" or null.
  const char *stopKind(int32_t tok) const {
    if (chat) {
      lowbit_rt_stop_kind kind = LOWBIT_RT_STOP_NONE;
      check(lowbit_rt_chat_stop(chat, tok, &kind), "stop token");
      return kind == LOWBIT_RT_STOP_EOS           ? "eos"
             : kind == LOWBIT_RT_STOP_END_OF_TURN ? "end_of_turn"
                                                  : nullptr;
    }
    return std::find(eosIds.begin(), eosIds.end(), tok) != eosIds.end()
               ? "eos"
               : nullptr;
  }

  /// Reports a generation: JSON on stdout, or a newline after the streamed
  /// text and the timings on stderr.
  void report(const Generation &g, int64_t promptTokens, int64_t cachedTokens,
              const char *family) {
    lowbit_rt_model_info info;
    check(lowbit_rt_model_get_info(model, &info), "model info");
    lowbit_rt_device_info dev;
    check(lowbit_rt_model_get_device(model, &dev), "device info");
    if (o.json) {
      nlohmann::json j;
      j["text"] = g.text;
      j["ttft_ms"] = g.ttftMs;
      j["tpot_ms"] = g.tpotMs;
      j["tok_s"] = g.tokS;
      j["prompt_tokens"] = promptTokens;
      j["generated_tokens"] = generatedCount;
      j["isa"] = info.isa;
      j["device"] = dev.device;
      j["stop_reason"] = g.stopReason;
      j["threads"] =
          o.threads ? o.threads
                    : int(std::max(1u, std::thread::hardware_concurrency()));
      if (family) {
        j["template"] = family;
        j["cached_tokens"] = cachedTokens;
      }
      std::string out =
          j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::printf("%s\n", out.c_str());
    } else {
      std::printf("\n");
    }
    std::fflush(stdout);
    if (!g.contextFull.empty())
      std::fprintf(stderr,
                   "lowbit-run: stopped after %lld of %lld tokens: the "
                   "context is full (%s)\n",
                   static_cast<long long>(generatedCount),
                   static_cast<long long>(o.numTokens), g.contextFull.c_str());
    else if (std::strcmp(g.stopReason, "eos") == 0 ||
             std::strcmp(g.stopReason, "end_of_turn") == 0)
      std::fprintf(stderr,
                   "lowbit-run: stopped after %lld of %lld tokens: %s\n",
                   static_cast<long long>(generatedCount),
                   static_cast<long long>(o.numTokens),
                   std::strcmp(g.stopReason, "eos") == 0 ? "end of sequence"
                                                         : "end of turn");
    if (!o.json)
      std::fprintf(stderr, "TTFT %.2f ms, TPOT %.2f ms, %.2f tok/s\n", g.ttftMs,
                   g.tpotMs, g.tokS);
  }

  int64_t generatedCount = 0;

private:
  const Options &o;
  lowbit_rt_model *model;
  lowbit_rt_session *session;
  lowbit_rt_chat *chat;
  lowbit_rt_sampling sp{};
  std::vector<int32_t> eosIds;
};

void printPrompt(const Options &o, const std::string &text,
                 const std::vector<int32_t> &ids) {
  if (o.printPrompt)
    std::fprintf(
        stderr, "prompt: %s\n",
        nlohmann::json(text)
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
            .c_str());
  if (o.printPromptTokens)
    std::fprintf(stderr, "prompt tokens: %s\n", idList(ids).c_str());
}

/// The conversation of --chat and the tokens in the session's context.
class Conversation {
public:
  Conversation(const Options &o, lowbit_rt_chat *chat, int64_t contextLimit)
      : o(o), chat(chat), contextLimit(contextLimit) {
    if (o.haveSystem)
      messages.push_back({"system", o.system});
  }

  /// Answers one user turn; false (with a message on stderr) when the turn
  /// cannot fit in the context.
  bool turn(Runner &runner, const std::string &user, const char *family) {
    messages.push_back({"user", user});
    std::vector<int32_t> ids;
    while (true) {
      ids = tokenize();
      // The prompt and at least one reply token must fit.
      if (int64_t(ids.size()) < contextLimit)
        break;
      size_t first = o.haveSystem ? 1 : 0;
      if (messages.size() - first <= 1) {
        std::fprintf(stderr,
                     "lowbit-run: error: the turn's prompt is %zu tokens: "
                     "the context of %lld leaves no room for a reply; "
                     "skipped\n",
                     ids.size(), static_cast<long long>(contextLimit));
        messages.pop_back();
        return false;
      }
      // Drop the oldest exchange: a user turn and the replies after it.
      size_t end = first + 1;
      while (end < messages.size() - 1 && messages[end].first != "user")
        ++end;
      messages.erase(messages.begin() + long(first),
                     messages.begin() + long(end));
    }
    printPrompt(o, render(), ids);
    size_t keep = 0;
    while (keep < ids.size() && keep < cached.size() &&
           ids[keep] == cached[keep])
      ++keep;
    // At least one token is prefilled, for the logits.
    keep = std::min(keep, ids.size() - 1);
    Generation g = runner.generate(ids, keep, o.numTokens);
    cached = ids;
    cached.insert(cached.end(), g.tokens.begin(), g.tokens.end());
    messages.push_back({"assistant", g.text});
    runner.report(g, int64_t(ids.size() - keep), int64_t(keep), family);
    return true;
  }

private:
  std::vector<lowbit_rt_chat_message> view() const {
    std::vector<lowbit_rt_chat_message> v;
    for (const auto &m : messages)
      v.push_back({m.first.c_str(), m.second.c_str()});
    return v;
  }

  std::vector<int32_t> tokenize() const {
    std::vector<lowbit_rt_chat_message> v = view();
    std::vector<int32_t> ids;
    check(getIds(
              [&](int32_t *out, int64_t cap, int64_t *n) {
                return lowbit_rt_chat_tokenize(
                    chat, v.data(), int64_t(v.size()), 1, out, cap, n);
              },
              ids),
          "chat template");
    if (ids.empty())
      die("the chat prompt encodes to no tokens");
    return ids;
  }

  std::string render() const {
    if (!o.printPrompt)
      return std::string();
    std::vector<lowbit_rt_chat_message> v = view();
    size_t len = 0;
    lowbit_rt_status st = lowbit_rt_chat_render(
        chat, v.data(), int64_t(v.size()), 1, nullptr, 0, &len);
    if (st != LOWBIT_RT_INVALID_ARGUMENT)
      check(st, "chat template");
    std::vector<char> buf(len + 1);
    check(lowbit_rt_chat_render(chat, v.data(), int64_t(v.size()), 1,
                                buf.data(), buf.size(), &len),
          "chat template");
    return std::string(buf.data(), len);
  }

  const Options &o;
  lowbit_rt_chat *chat;
  int64_t contextLimit;
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<int32_t> cached;
};

} // namespace

int main(int argc, char **argv) {
  Options o = parseArgs(argc, argv);

  lowbit_rt_model *model = nullptr;
  lowbit_rt_model_options mo{};
  mo.device = o.device.empty() ? nullptr : o.device.c_str();
  mo.no_native_code = o.noNativeCode ? 1 : 0;
  mo.trusted_keys = o.trustedKeys.empty() ? nullptr : o.trustedKeys.c_str();
  check(lowbit_rt_model_open_ex(o.model.c_str(), &mo, &model),
        "cannot open model");
  lowbit_rt_model_info info;
  check(lowbit_rt_model_get_info(model, &info), "model info");

  if (o.maxContext > info.max_position_embeddings)
    die("--max-context " + std::to_string(o.maxContext) +
        " exceeds the model's max_position_embeddings " +
        std::to_string(info.max_position_embeddings));

  lowbit_rt_chat *chat = nullptr;
  const char *family = nullptr;
  if (o.chat) {
    lowbit_rt_status st = lowbit_rt_chat_create(
        model, o.templateName.empty() ? nullptr : o.templateName.c_str(),
        &chat);
    if (st != LOWBIT_RT_OK)
      die(std::string("--chat: ") + lowbit_rt_last_error());
    check(lowbit_rt_chat_get_family(chat, &family), "chat template");
  }

  lowbit_rt_session_options so{};
  so.threads = o.threads;
  so.max_context = o.maxContext;
  lowbit_rt_session *session = nullptr;
  check(lowbit_rt_session_create(model, &so, &session), "session");
  Runner runner(o, model, session, chat);
  int status = 0;

  if (!o.chat) {
    std::vector<int32_t> prompt;
    check(getIds(
              [&](int32_t *ids, int64_t cap, int64_t *n) {
                return lowbit_rt_tokenize(model, o.prompt.data(),
                                          o.prompt.size(), 1, ids, cap, n);
              },
              prompt),
          "tokenize");
    if (prompt.empty())
      die("the prompt encodes to no tokens");
    printPrompt(o, o.prompt, prompt);
    Generation g = runner.generate(prompt, 0, o.numTokens);
    runner.report(g, int64_t(prompt.size()), 0, nullptr);
  } else {
    const int64_t contextLimit =
        o.maxContext ? o.maxContext : info.max_position_embeddings;
    Conversation conv(o, chat, contextLimit);
    if (o.havePrompt) {
      if (!conv.turn(runner, o.prompt, family))
        return 1;
    } else {
      // A terminal gets a prompt marker on stderr before each turn.
      const bool tty = isatty(STDIN_FILENO) != 0;
      std::string line;
      int c;
      bool any = false, skipped = false;
      if (tty)
        std::fprintf(stderr, "> ");
      while ((c = std::fgetc(stdin)) != EOF || any) {
        if (c != EOF && c != '\n') {
          line += char(c);
          any = true;
          continue;
        }
        if (!line.empty() && line.back() == '\r')
          line.pop_back();
        if (!line.empty() && !conv.turn(runner, line, family))
          skipped = true;
        line.clear();
        any = false;
        if (c == EOF)
          break;
        if (tty)
          std::fprintf(stderr, "> ");
      }
      if (skipped)
        status = 1;
    }
  }
  lowbit_rt_chat_free(chat);
  lowbit_rt_session_free(session);
  lowbit_rt_model_free(model);
  return status;
}
