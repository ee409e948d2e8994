//===- lowbit-cts.cpp - compare runtime devices on a bundle -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// lowbit-cts BUNDLE --prompt TEXT [--device D | --all] [--reference R]
///   [--decode N] [--threads T] [--max-diff X] [--min-agreement F]
///
/// The whole-bundle mode of the conformance suite (docs/runtime-hal.md):
/// runs the bundle on device D (--all: every device of this runtime) and on
/// the reference device R (default cpu) over the prompt (with BOS) and N
/// greedy decode steps that follow the reference's argmax, and prints one
/// JSON line per device with the largest absolute logit difference, the
/// largest |logit| and the argmax agreement over every position. Exits 1
/// if a device's difference exceeds --max-diff (default 1e-3 relative to
/// the largest |logit|) or its agreement is below --min-agreement (default
/// 1). Uses only the runtime's C API.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/lowbit_rt.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string &msg) {
  std::fprintf(stderr, "lowbit-cts: error: %s\n", msg.c_str());
  std::exit(2);
}

void check(lowbit_rt_status s, const std::string &what) {
  if (s != LOWBIT_RT_OK)
    die(what + ": " + lowbit_rt_status_name(s) + ": " + lowbit_rt_last_error());
}

struct Run {
  std::vector<float> logits; // [rows, V]
  int64_t V = 0;
  std::string description;
};

/// Prefill (every row's logits) then one decode step per entry of \p next.
Run run(const std::string &path, const std::string &device,
        const std::string &prompt, int threads, int decode,
        std::vector<int32_t> *follow) {
  lowbit_rt_model_options mo{};
  mo.device = device.c_str();
  lowbit_rt_model *m = nullptr;
  check(lowbit_rt_model_open_ex(path.c_str(), &mo, &m),
        "cannot open " + path + " on " + device);
  lowbit_rt_model_info info;
  check(lowbit_rt_model_get_info(m, &info), "model info");
  lowbit_rt_device_info di;
  check(lowbit_rt_model_get_device(m, &di), "device info");
  Run r;
  r.V = info.vocab_size;
  r.description = di.description;
  int64_t n = 0;
  lowbit_rt_status st =
      lowbit_rt_tokenize(m, prompt.data(), prompt.size(), 1, nullptr, 0, &n);
  if (st != LOWBIT_RT_OK && st != LOWBIT_RT_INVALID_ARGUMENT)
    check(st, "tokenize");
  std::vector<int32_t> ids(static_cast<size_t>(n));
  check(
      lowbit_rt_tokenize(m, prompt.data(), prompt.size(), 1, ids.data(), n, &n),
      "tokenize");
  lowbit_rt_session_options so{};
  so.threads = threads;
  lowbit_rt_session *s = nullptr;
  check(lowbit_rt_session_create(m, &so, &s), "session");
  r.logits.resize(size_t(n * r.V));
  check(lowbit_rt_prefill(s, ids.data(), n, r.logits.data()), "prefill");
  for (int i = 0; i < decode; ++i) {
    const float *l = lowbit_rt_logits(s);
    int32_t tok;
    if (follow->size() > size_t(i)) {
      tok = (*follow)[size_t(i)];
    } else {
      tok = int32_t(std::max_element(l, l + r.V) - l);
      follow->push_back(tok);
    }
    st = lowbit_rt_decode(s, tok);
    if (st == LOWBIT_RT_CONTEXT_FULL)
      break;
    check(st, "decode");
    const float *l2 = lowbit_rt_logits(s);
    r.logits.insert(r.logits.end(), l2, l2 + r.V);
  }
  lowbit_rt_session_free(s);
  lowbit_rt_model_free(m);
  return r;
}

double number(const char *flag, const char *s) {
  char *end = nullptr;
  double v = std::strtod(s, &end);
  if (!*s || *end || !(v >= 0))
    die(std::string("invalid value '") + s + "' for " + flag);
  return v;
}

} // namespace

int main(int argc, char **argv) {
  std::string path, prompt, reference = "cpu";
  std::vector<std::string> devices;
  bool all = false, havePrompt = false;
  int decode = 8, threads = 0;
  double maxDiff = -1, minAgreement = 1.0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--prompt")
      prompt = value(), havePrompt = true;
    else if (a == "--device")
      devices.push_back(value());
    else if (a == "--all")
      all = true;
    else if (a == "--reference")
      reference = value();
    else if (a == "--decode")
      decode = int(number("--decode", value()));
    else if (a == "--threads")
      threads = int(number("--threads", value()));
    else if (a == "--max-diff")
      maxDiff = number("--max-diff", value());
    else if (a == "--min-agreement")
      minAgreement = number("--min-agreement", value());
    else if (!a.empty() && a[0] == '-')
      die("unknown option " + a);
    else if (path.empty())
      path = a;
    else
      die("unexpected argument " + a);
  }
  if (path.empty() || !havePrompt)
    die("usage: lowbit-cts BUNDLE --prompt TEXT [--device D | --all] "
        "[--reference R] [--decode N] [--threads T] [--max-diff X] "
        "[--min-agreement F]");
  if (all) {
    std::string list = lowbit_rt_available_devices();
    size_t at = 0;
    while (at <= list.size()) {
      size_t comma = list.find(", ", at);
      std::string d = list.substr(
          at, comma == std::string::npos ? std::string::npos : comma - at);
      if (!d.empty())
        devices.push_back(d);
      if (comma == std::string::npos)
        break;
      at = comma + 2;
    }
  }
  if (devices.empty())
    die("no device given (--device D or --all)");

  std::vector<int32_t> follow;
  Run ref = run(path, reference, prompt, threads, decode, &follow);
  bool ok = true;
  for (const std::string &d : devices) {
    Run got = run(path, d, prompt, threads, decode, &follow);
    if (got.logits.size() != ref.logits.size())
      die(d + ": produced " + std::to_string(got.logits.size()) +
          " logits, the reference " + std::to_string(ref.logits.size()));
    const int64_t V = ref.V;
    const int64_t rows = int64_t(ref.logits.size()) / V;
    double diff = 0, maxAbs = 0;
    int64_t agree = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float *a = got.logits.data() + r * V;
      const float *b = ref.logits.data() + r * V;
      for (int64_t i = 0; i < V; ++i) {
        diff = std::max(diff, double(std::fabs(a[i] - b[i])));
        maxAbs = std::max(maxAbs, double(std::fabs(b[i])));
      }
      agree +=
          (std::max_element(a, a + V) - a) == (std::max_element(b, b + V) - b);
    }
    const double agreement = rows ? double(agree) / double(rows) : 1.0;
    const double limit = maxDiff >= 0 ? maxDiff : 1e-3 * maxAbs;
    const bool pass = diff <= limit && agreement >= minAgreement;
    ok = ok && pass;
    nlohmann::json j;
    j["device"] = d;
    j["description"] = got.description;
    j["reference"] = reference;
    j["positions"] = rows;
    j["max_abs_diff"] = diff;
    j["max_abs_logit"] = maxAbs;
    j["argmax_agreement"] = agreement;
    j["pass"] = pass;
    std::printf("%s\n", j.dump().c_str());
  }
  return ok ? 0 : 1;
}
