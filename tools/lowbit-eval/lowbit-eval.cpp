//===- lowbit-eval.cpp - perplexity, KL and top-1 of a model ----*- C++ -*-===//
//
// lowbit-eval --model M --tokens FILE [--reference R] [--window 512] [--json]
// lowbit-eval --model M (--prompt TEXT | --ids 1,2,3) --dump-logits OUT
//
// M and R may be Hugging Face directories, GGUF files, lowbit IR files,
// quantized model directories (all run by the reference executor) or .lowbit
// bundles (run by the runtime through its C API, with the generated kernels).
//
// Evaluates a model on a token file (int32 little-endian) with the protocol
// of the shared models' README: non-overlapping windows, each run from
// position 0, every position but the last of a window predicting the next
// token. With --reference, also the mean KL(reference || model) in nats and
// the top-1 agreement with the reference.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Executor/Executor.h"
#include "lowbit/Executor/ModelLoader.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Support/GgufTokenizer.h"
#include "lowbit/Support/OutputFile.h"
#include "lowbit/Support/Safetensors.h"
#include "lowbitrt/Bundle.h"
#include "lowbitrt/Kernels.h"
#include "lowbitrt/Tokenizer.h"
#include "lowbitrt/lowbit_rt.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace llvm;
namespace kernels = lowbit::rt::kernels;

namespace {

[[noreturn]] void fail(const Twine &message) {
  WithColor::error(errs(), "lowbit-eval") << message << "\n";
  std::exit(1);
}

void check(Error err) {
  if (err)
    fail(toString(std::move(err)));
}

std::vector<int32_t> readTokens(StringRef path) {
  auto buffer = MemoryBuffer::getFile(path, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  if (!buffer)
    fail(path + ": " + buffer.getError().message());
  StringRef data = (*buffer)->getBuffer();
  if (data.size() % 4 != 0)
    fail(path + ": size " + Twine(data.size()) +
         " is not a multiple of 4 (expected int32 little-endian tokens)");
  std::vector<int32_t> tokens(data.size() / 4);
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] =
        static_cast<int32_t>(support::endian::read32le(data.data() + 4 * i));
  return tokens;
}

/// Bits per weight of a model's quantized weights (0: none), and of the
/// whole model where it is known (< 0: not).
struct BitsPerWeight {
  double quantized = 0.0;
  double model = -1.0;
  enum class Counted {
    /// Each component at its type's width (QWeightType::getBitsPerWeight),
    /// for models the reference executor runs.
    Scheme,
    /// As the bundle stores them (codes, scales, zero points or offsets,
    /// padding, permutations; the model figure adds the f32 tensors).
    Bundle,
  } counted = Counted::Scheme;
  const char *countedName() const {
    return counted == Counted::Bundle ? "bundle" : "scheme";
  }
};

/// As the bundle at `path` stores its weights: each quantized layer of the
/// manifest (its packed bytes, plus 4 bytes per column of an act-order
/// permutation) over N * K, and with the F32 tensors for the whole model.
BitsPerWeight bundleBitsPerWeight(StringRef path) {
  std::string err;
  std::unique_ptr<lowbit::rt::Bundle> b =
      lowbit::rt::Bundle::open(path.str(), err);
  if (!b)
    fail(err);
  Expected<json::Value> manifest =
      json::parse(StringRef(b->manifest().data(), b->manifest().size()));
  if (!manifest)
    fail(path + ": manifest: " + toString(manifest.takeError()));
  double qBits = 0.0, qWeights = 0.0, fBits = 0.0, fWeights = 0.0;
  if (const json::Object *root = manifest->getAsObject())
    if (const json::Array *layers = root->getArray("layers"))
      for (const json::Value &v : *layers) {
        const json::Object *layer = v.getAsObject();
        std::optional<int64_t> n =
            layer ? layer->getInteger("N") : std::nullopt;
        std::optional<int64_t> k =
            layer ? layer->getInteger("K") : std::nullopt;
        std::optional<int64_t> bytes =
            layer ? layer->getInteger("bytes") : std::nullopt;
        if (!n || !k || !bytes)
          fail(path + ": manifest: a quantized layer without N, K or bytes");
        qBits += 8.0 * double(*bytes);
        if (layer->getBoolean("act_order").value_or(false))
          qBits += 32.0 * double(*k);
        qWeights += double(*n) * double(*k);
      }
  for (const lowbit::rt::BundleTensor &t : b->tensors())
    if (t.dtype == lowbit::rt::DType::F32) {
      fBits += 8.0 * double(t.size);
      fWeights += double(t.size) / 4.0;
    }
  BitsPerWeight r;
  r.counted = BitsPerWeight::Counted::Bundle;
  r.quantized = qWeights > 0 ? qBits / qWeights : 0.0;
  if (qWeights + fWeights > 0)
    r.model = (qBits + fBits) / (qWeights + fWeights);
  return r;
}

/// The scheme bits per weight of the quantized weights of `module`.
BitsPerWeight schemeBitsPerWeight(mlir::ModuleOp module) {
  BitsPerWeight r;
  r.quantized = mlir::lowbit::getSchemeBitsPerWeight(module);
  return r;
}

/// A model run either by the reference executor or, for bundles, by the
/// runtime.
class Model {
public:
  ~Model() {
    lowbit_rt_session_free(session);
    lowbit_rt_model_free(bundle);
  }

  /// Opens the model for windows of `window` tokens (0: the dump's single
  /// run). A window beyond the model's max_position_embeddings is an error
  /// when `explicitWindow`, else it is lowered to the positions with a note;
  /// window() is the window used.
  static std::unique_ptr<Model>
  open(StringRef path, StringRef what, int64_t window, bool explicitWindow,
       int threads,
       const std::map<std::string, std::string> &scopeOverrides = {});

  int64_t vocabSize() const { return vocab; }
  int64_t window() const { return win; }
  /// Read when asked (the bundle's manifest and tensors, or the IR's
  /// schemes): the reference model and --dump-logits never need it.
  BitsPerWeight bitsPerWeight() const {
    return bundle ? bundleBitsPerWeight(path)
                  : schemeBitsPerWeight(*loaded.module);
  }

  /// Runs `tokens` from position 0; `logits` gets [T, V].
  void run(ArrayRef<int32_t> tokens, std::vector<float> &logits) {
    if (session) {
      logits.resize(tokens.size() * vocab);
      if (lowbit_rt_reset(session) != LOWBIT_RT_OK ||
          lowbit_rt_prefill(session, tokens.data(), tokens.size(),
                            logits.data()) != LOWBIT_RT_OK)
        fail(name + ": " + lowbit_rt_last_error());
      return;
    }
    exec->reset();
    std::vector<int32_t> pos(tokens.size());
    for (size_t i = 0; i < pos.size(); ++i)
      pos[i] = static_cast<int32_t>(i);
    check(exec->forward(tokens, pos, logits));
  }

  /// Tokenizes `text` with BOS.
  std::vector<int32_t> tokenize(StringRef text) {
    std::vector<int32_t> ids;
    if (bundle) {
      int64_t n = 0;
      ids.resize(text.size() + 8);
      lowbit_rt_status st = lowbit_rt_tokenize(bundle, text.data(), text.size(),
                                               1, ids.data(), ids.size(), &n);
      if (st != LOWBIT_RT_OK)
        fail(name + ": cannot tokenize the prompt: " + lowbit_rt_last_error());
      ids.resize(n);
      return ids;
    }
    if (loaded.tokenizerPath.empty())
      fail("--prompt needs a tokenizer.json next to the model");
    llvm::Expected<lowbit::TokenizerTexts> texts =
        lowbit::loadTokenizerTexts(loaded.tokenizerPath);
    if (!texts)
      fail(toString(texts.takeError()));
    std::string err;
    auto tok = lowbit::rt::Tokenizer::fromJSON(texts->tokenizerJSON, err,
                                               texts->configJSON);
    if (!tok)
      fail(loaded.tokenizerPath + ": " + err);
    if (!tok->encode(text, /*addBos=*/true, ids, err))
      fail("cannot tokenize the prompt: " + err);
    return ids;
  }

private:
  Model() = default;

  std::string name;
  int64_t vocab = 0;
  int64_t win = 0;
  std::string path;
  lowbit::LoadedModel loaded;
  std::unique_ptr<lowbit::Executor> exec;
  lowbit_rt_model *bundle = nullptr;
  lowbit_rt_session *session = nullptr;
};

/// Whether `path` is a file starting with the bundle magic.
bool isBundle(StringRef path) {
  if (!sys::fs::is_regular_file(path))
    return false;
  auto buffer = MemoryBuffer::getFileSlice(path, 8, 0);
  return buffer && (*buffer)->getBuffer() == StringRef("\x89LOWBIT\n", 8);
}

/// Checks `window` against the model's positions (see Model::open).
int64_t checkWindow(StringRef name, int64_t window, bool explicitWindow,
                    int64_t maxPositions) {
  if (window <= maxPositions || maxPositions <= 0)
    return window;
  if (explicitWindow)
    fail("--window " + Twine(window) + " exceeds the " + name +
         "'s max_position_embeddings " + Twine(maxPositions));
  WithColor::note(errs(), "lowbit-eval")
      << "using a window of " << maxPositions << " (the " << name
      << "'s max_position_embeddings) instead of the default " << window
      << "\n";
  return maxPositions;
}

std::unique_ptr<Model>
Model::open(StringRef path, StringRef what, int64_t window, bool explicitWindow,
            int threads,
            const std::map<std::string, std::string> &scopeOverrides) {
  std::unique_ptr<Model> m(new Model());
  m->name = (what + " " + path).str();
  m->path = path.str();
  if (isBundle(path)) {
    if (lowbit_rt_model_open(path.str().c_str(), &m->bundle) != LOWBIT_RT_OK)
      fail(m->name + ": " + lowbit_rt_last_error());
    lowbit_rt_model_info info;
    if (lowbit_rt_model_get_info(m->bundle, &info) != LOWBIT_RT_OK)
      fail(m->name + ": " + lowbit_rt_last_error());
    m->vocab = info.vocab_size;
    window = m->win = checkWindow(m->name, window, explicitWindow,
                                  info.max_position_embeddings);
    lowbit_rt_session_options options = {};
    options.threads = threads;
    options.max_context = window > 0 ? window : 0;
    options.max_batch = 64;
    if (lowbit_rt_session_create(m->bundle, &options, &m->session) !=
        LOWBIT_RT_OK)
      fail(m->name + ": " + lowbit_rt_last_error());
    return m;
  }
  auto loaded = lowbit::loadModel(path, scopeOverrides);
  if (!loaded)
    fail(what + " " + path + ": " + toString(loaded.takeError()));
  m->loaded = std::move(*loaded);
  auto config =
      m->loaded.module->getOperation()->getAttrOfType<mlir::DictionaryAttr>(
          lowbit::attrs::kConfig);
  auto maxPos = config
                    ? config.getAs<mlir::IntegerAttr>("max_position_embeddings")
                    : mlir::IntegerAttr();
  window = m->win = checkWindow(m->name, window, explicitWindow,
                                maxPos ? maxPos.getInt() : 0);
  lowbit::ExecutorOptions options;
  options.maxContext = window;
  options.threads = threads;
  auto exec = lowbit::Executor::create(*m->loaded.module, options);
  if (!exec)
    fail(what + " " + path + ": " + toString(exec.takeError()));
  m->exec = std::move(*exec);
  m->vocab = m->exec->vocabSize();
  return m;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  cl::OptionCategory category("lowbit-eval options");
  cl::opt<std::string> modelPath(
      "model", cl::Required,
      cl::desc("Model: Hugging Face directory, GGUF file, lowbit IR file or "
               "quantized model directory"),
      cl::cat(category));
  cl::opt<std::string> tokensPath(
      "tokens", cl::desc("Evaluation tokens (int32 little-endian)"),
      cl::cat(category));
  cl::opt<std::string> referencePath(
      "reference", cl::desc("Reference model for KL divergence and top-1"),
      cl::cat(category));
  cl::opt<int64_t> window("window", cl::desc("Window length (default 512)"),
                          cl::init(512), cl::cat(category));
  cl::opt<bool> json("json", cl::desc("Print one JSON object"),
                     cl::cat(category));
  cl::opt<std::string> prompt("prompt",
                              cl::desc("Text whose logits --dump-logits writes "
                                       "(BOS is prepended)"),
                              cl::cat(category));
  cl::opt<std::string> ids("ids",
                           cl::desc("Comma-separated token ids for "
                                    "--dump-logits"),
                           cl::cat(category));
  cl::opt<std::string> dumpLogits(
      "dump-logits",
      cl::desc("Write tokens (I32 [T]) and logits (F32 [T, V]) as "
               "safetensors"),
      cl::value_desc("file"), cl::cat(category));
  cl::list<std::string> paramScopes(
      "param-scope",
      cl::desc("NAME=PATH: read parameter scope NAME of --model from PATH "
               "instead of the path its IR records (repeatable)"),
      cl::value_desc("NAME=PATH"), cl::cat(category));
  cl::opt<int> threads("num-threads",
                       cl::desc("Threads (default 0: one per hardware "
                                "thread)"),
                       cl::init(0), cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "lowbit-eval: perplexity, KL divergence and "
                              "top-1 agreement of a model\n");
  lowbit::ParamResolverConfig scopeConfig;
  check(lowbit::parseScopeOverrides(
      std::vector<std::string>(paramScopes.begin(), paramScopes.end()),
      scopeConfig));

  if (window < 2)
    fail("--window must be at least 2, got " + Twine(window));

  //===--- Logit dump
  //------------------------------------------------------===//
  if (!dumpLogits.empty()) {
    // Pre-flight: an unwritable output fails before the model is loaded.
    if (Error e = lowbit::checkOutputFile(dumpLogits))
      fail("--dump-logits: " + toString(std::move(e)));
    std::vector<int32_t> tokens;
    std::unique_ptr<Model> model = Model::open(modelPath, "model", 0, false,
                                               threads, scopeConfig.overrides);
    if (!ids.empty()) {
      SmallVector<StringRef> parts;
      StringRef(ids).split(parts, ',', -1, false);
      for (StringRef p : parts) {
        int32_t v;
        if (p.trim().getAsInteger(10, v))
          fail("--ids: '" + p + "' is not an integer");
        tokens.push_back(v);
      }
    } else if (!prompt.empty()) {
      tokens = model->tokenize(prompt);
    } else {
      fail("--dump-logits needs --prompt or --ids");
    }
    if (tokens.empty())
      fail("no tokens to run");
    std::vector<float> logits;
    model->run(tokens, logits);
    int64_t t = tokens.size(), v = model->vocabSize();
    lowbit::OwnedTensor tokTensor, logitTensor;
    tokTensor.name = "tokens";
    tokTensor.dtype = lowbit::DType::I32;
    tokTensor.shape = {t};
    tokTensor.bytes.resize(4 * t);
    std::memcpy(tokTensor.bytes.data(), tokens.data(), 4 * t);
    logitTensor = lowbit::OwnedTensor::fromF32("logits", {t, v}, logits);
    check(lowbit::writeSafetensors(dumpLogits, {tokTensor, logitTensor}, {}));
    return 0;
  }

  //===--- Perplexity
  //------------------------------------------------------===//
  if (tokensPath.empty())
    fail("--tokens is required (or --dump-logits)");
  std::vector<int32_t> tokens = readTokens(tokensPath);
  const bool explicitWindow = window.getNumOccurrences() > 0;
  std::unique_ptr<Model> model =
      Model::open(modelPath, "model", window, explicitWindow, threads,
                  scopeConfig.overrides);
  std::unique_ptr<Model> reference;
  if (!referencePath.empty()) {
    reference = Model::open(referencePath, "reference", model->window(),
                            explicitWindow, threads);
    if (reference->window() < model->window())
      model = Model::open(modelPath, "model", reference->window(),
                          explicitWindow, threads, scopeConfig.overrides);
  }
  const int64_t W = model->window();

  double nll = 0, kl = 0;
  int64_t n = 0, agree = 0;
  int64_t v = model->vocabSize();
  if (reference && reference->vocabSize() != v)
    fail("model and reference vocabularies differ (" + Twine(v) + " vs " +
         Twine(reference->vocabSize()) + ")");
  std::vector<float> logits, refLogits;
  for (size_t start = 0; start + 1 < tokens.size(); start += W) {
    size_t len = std::min<size_t>(W, tokens.size() - start);
    if (len < 2)
      break;
    ArrayRef<int32_t> win(tokens.data() + start, len);
    model->run(win, logits);
    if (reference)
      reference->run(win, refLogits);
    // A non-finite result (NaN/Inf logits, or logits so large that the
    // softmax overflows) is an error naming the token, never a "nan" in
    // the output.
    auto finite = [&](double x, const char *what, size_t t) {
      if (!std::isfinite(x))
        fail(Twine(what) + " is not finite (" + formatv("{0}", x) +
             ") at token " + Twine(start + t) + " of " + tokensPath +
             " (window from " + Twine(start) +
             "): the model's logits are NaN or too large");
    };
    for (size_t t = 0; t + 1 < len; ++t) {
      const float *row = logits.data() + t * v;
      double tokenNll = kernels::logSoftmaxNLL(row, v, win[t + 1]);
      finite(tokenNll, "the model's log-likelihood", t);
      nll += tokenNll;
      if (reference) {
        const float *refRow = refLogits.data() + t * v;
        double tokenKl = kernels::klDivergence(refRow, row, v);
        finite(tokenKl, "the KL divergence from the reference", t);
        kl += tokenKl;
        agree += kernels::argmax(refRow, v) == kernels::argmax(row, v);
      }
      ++n;
    }
  }
  if (n == 0)
    fail(tokensPath + ": fewer than 2 tokens");
  double ppl = std::exp(nll / n);
  if (!std::isfinite(ppl))
    fail("the perplexity overflows (mean negative log-likelihood " +
         formatv("{0}", nll / n) + ")");
  if (json) {
    json::Object obj{{"ppl", ppl}, {"n", n}, {"nll", nll / n}};
    if (reference) {
      obj["kl"] = kl / n;
      obj["top1"] = static_cast<double>(agree) / n;
    }
    const BitsPerWeight bpw = model->bitsPerWeight();
    if (bpw.quantized > 0 || bpw.model >= 0) {
      json::Object bits{{"counted", bpw.countedName()}};
      if (bpw.quantized > 0)
        bits["quantized_linears"] = bpw.quantized;
      if (bpw.model >= 0)
        bits["model"] = bpw.model;
      obj["bits_per_weight"] = std::move(bits);
    }
    outs() << formatv("{0}", json::Value(std::move(obj))) << "\n";
  } else {
    outs() << "positions   " << n << "\n";
    outs() << "perplexity  " << format("%.4f", ppl) << "\n";
    if (reference) {
      outs() << "KL          " << format("%.5f", kl / n) << " nats\n";
      outs() << "top-1       " << format("%.2f%%", 100.0 * agree / n) << "\n";
    }
    const BitsPerWeight bpw = model->bitsPerWeight();
    const bool stored = bpw.counted == BitsPerWeight::Counted::Bundle;
    if (bpw.quantized > 0)
      outs() << "bits/weight " << format("%.3f", bpw.quantized)
             << (stored ? " (quantized weights, as the bundle stores them)"
                        : " (quantized weights, the schemes' own)")
             << "\n";
    if (bpw.model >= 0)
      outs() << "bits/weight " << format("%.3f", bpw.model)
             << " (whole model, as the bundle stores it)\n";
  }
  return 0;
}
