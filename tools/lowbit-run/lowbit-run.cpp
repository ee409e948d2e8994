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
///
/// Tokenizes the prompt (with BOS), prefills it, then samples and decodes up
/// to N tokens, stopping early at EOS or when the context is full. Without
/// --json the generated text is streamed to stdout and the timings go to
/// stderr; with --json one JSON object is printed on stdout. Either way the
/// reason generation stopped ("eos", "length" or "context_full") is
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
};

void usage(FILE *out) {
  std::fprintf(out,
               "usage: lowbit-run MODEL.lowbit --prompt TEXT -n N [--json]\n"
               "         [--threads T] [--temperature F] [--top-k K]\n"
               "         [--top-p P] [--seed S] [--max-context C]\n"
               "         [--device D]   (D: %s; default: the bundle's "
               "target)\n"
               "         [--no-native-code] [--trusted-keys K.pem[:K2.pem]]\n",
               lowbit_rt_available_devices());
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
  if (!o.havePrompt)
    die("--prompt is required");
  if (o.numTokens < 0)
    die("-n is required");
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
  lowbit_rt_device_info dev;
  check(lowbit_rt_model_get_device(model, &dev), "device info");

  if (o.maxContext > info.max_position_embeddings)
    die("--max-context " + std::to_string(o.maxContext) +
        " exceeds the model's max_position_embeddings " +
        std::to_string(info.max_position_embeddings));

  lowbit_rt_session_options so{};
  so.threads = o.threads;
  so.max_context = o.maxContext;
  lowbit_rt_session *session = nullptr;
  check(lowbit_rt_session_create(model, &so, &session), "session");

  int64_t n = 0;
  lowbit_rt_status st = lowbit_rt_tokenize(model, o.prompt.data(),
                                           o.prompt.size(), 1, nullptr, 0, &n);
  if (st != LOWBIT_RT_INVALID_ARGUMENT && st != LOWBIT_RT_OK)
    check(st, "tokenize");
  std::vector<int32_t> prompt(static_cast<size_t>(n));
  check(lowbit_rt_tokenize(model, o.prompt.data(), o.prompt.size(), 1,
                           prompt.data(), n, &n),
        "tokenize");
  if (prompt.empty())
    die("the prompt encodes to no tokens");

  lowbit_rt_sampling sp{};
  sp.temperature = o.temperature;
  sp.top_k = o.topK;
  sp.top_p = o.topP;
  sp.seed = o.seed;

  std::string text;
  std::vector<char> piece(256);
  int32_t prev = prompt.back();
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
    text.append(piece.data(), len);
    if (!o.json) {
      std::fwrite(piece.data(), 1, len, stdout);
      std::fflush(stdout);
    }
    prev = id;
  };

  auto t0 = std::chrono::steady_clock::now();
  double ttft = 0.0, decodeMs = 0.0;
  int64_t generated = 0;
  // Why generation stopped: "length" (n tokens), "eos" or "context_full".
  const char *stopReason = "length";
  std::string contextFull;
  if (o.numTokens > 0) {
    check(lowbit_rt_prefill(session, prompt.data(), n, nullptr), "prefill");
    int32_t tok = 0;
    check(lowbit_rt_sample(session, &sp, &tok), "sample");
    ttft = msSince(t0);
    bool isEos = tok == info.eos_token_id;
    if (!isEos) {
      ++generated;
      emit(tok);
    } else {
      stopReason = "eos";
    }
    auto t1 = std::chrono::steady_clock::now();
    while (!isEos && generated < o.numTokens) {
      st = lowbit_rt_decode(session, tok);
      if (st == LOWBIT_RT_CONTEXT_FULL) {
        stopReason = "context_full";
        contextFull = lowbit_rt_last_error();
        break;
      }
      check(st, "decode");
      check(lowbit_rt_sample(session, &sp, &tok), "sample");
      if (tok == info.eos_token_id) {
        stopReason = "eos";
        break;
      }
      ++generated;
      emit(tok);
    }
    decodeMs = msSince(t1);
  }
  // Mean time per output token after the first.
  double tpot = generated > 1 ? decodeMs / double(generated - 1) : 0.0;
  double tokS = tpot > 0.0 ? 1000.0 / tpot : 0.0;

  if (o.json) {
    nlohmann::json j;
    j["text"] = text;
    j["ttft_ms"] = ttft;
    j["tpot_ms"] = tpot;
    j["tok_s"] = tokS;
    j["prompt_tokens"] = n;
    j["generated_tokens"] = generated;
    j["isa"] = info.isa;
    j["device"] = dev.device;
    j["stop_reason"] = stopReason;
    j["threads"] = o.threads
                       ? o.threads
                       : int(std::max(1u, std::thread::hardware_concurrency()));
    std::string out =
        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("\n");
    std::fflush(stdout);
  }
  if (!contextFull.empty())
    std::fprintf(stderr,
                 "lowbit-run: stopped after %lld of %lld tokens: the context "
                 "is full (%s)\n",
                 static_cast<long long>(generated),
                 static_cast<long long>(o.numTokens), contextFull.c_str());
  else if (std::strcmp(stopReason, "eos") == 0)
    std::fprintf(stderr,
                 "lowbit-run: stopped after %lld of %lld tokens: end of "
                 "sequence\n",
                 static_cast<long long>(generated),
                 static_cast<long long>(o.numTokens));
  if (!o.json) {
    std::fprintf(stderr, "TTFT %.2f ms, TPOT %.2f ms, %.2f tok/s\n", ttft, tpot,
                 tokS);
  }
  lowbit_rt_session_free(session);
  lowbit_rt_model_free(model);
  return 0;
}
