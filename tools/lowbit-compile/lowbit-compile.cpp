//===- lowbit-compile.cpp - the lowbit compiler driver ----------*- C++ -*-===//
//
// lowbit-compile MODEL --method {none,rtn,gptq} --bits B --group-size G
//     [--sym] [--act-order] [--calib FILE] [--seed S] [--target x86]
//     [--emit bundle|quantized] -o OUT [--report FILE]
//
// Imports MODEL (a Hugging Face directory, a GGUF file, lowbit IR or a
// quantized model directory), quantizes its linear layers and writes either
//
// --emit bundle (default): OUT, a deployable .lowbit bundle for --target
// (docs/bundle-format.md, docs/bundle-manifest.md): the dequantizations are
// fused into lowbit.qmatmul, the weights repacked for the target's kernels,
// the kernels generated, and the dispatch program, config, tokenizer and
// provenance stored in the manifest; or
//
// --emit quantized: OUT/, a quantized model directory:
//   model.mlir          the quantized IR; its parameter scopes name
//                       params.safetensors and the original checkpoint by
//                       paths relative to OUT
//   params.safetensors  codes, scales, zero points and permutations
//   report.json         per-layer settings and reconstruction errors
// The directory is written under a temporary name and swapped into place, so
// a failure never leaves a half-written model (lowbit/Support/OutputFile.h).
// Identical inputs and options give byte-identical files.
//
// The tool is options, one pipeline string and the report: it validates the
// options, spells them out as one textual pass pipeline of the registered
// pipelines (lowbit-quantize-pipeline{...}, lowbit-to-bundle-pipeline{...};
// every option, defaults included, in a fixed order; --print-pipeline prints
// it), runs it with parsePassPipeline, and writes the report from what the
// passes recorded in the context (the output scope's per-layer report, the
// bundle's sizes). `lowbit-opt --pass-pipeline=<that string>` on the
// imported IR writes the same bundle: the bundle's provenance is built by
// lowbit-emit-bundle from the passes that ran, not from this command line.
// Tensors are read through the parameter scopes the IR records
// (--param-scope overrides them), as in lowbit-opt.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Executor/ModelLoader.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbit/InitAll.h"
#include "lowbit/Numerics/BudgetSearch.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Passes/Pipelines.h"
#include "lowbit/Quant/QuantSession.h"
#include "lowbit/Support/OutputFile.h"
#include "lowbit/Target/TargetRegistry.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <map>
#include <set>

using namespace llvm;

namespace {

cl::OptionCategory category("lowbit-compile options");
cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                               cl::desc("<model: HF dir, .gguf or lowbit IR>"),
                               cl::cat(category));
cl::opt<std::string> output("o", cl::Required,
                            cl::desc("Output bundle file (--emit bundle) or "
                                     "directory (--emit quantized)"),
                            cl::value_desc("path"), cl::cat(category));
cl::opt<std::string> method("method", cl::Required,
                            cl::desc("Quantization method: none, rtn or gptq"),
                            cl::cat(category));
cl::opt<std::string> targetName("target",
                                cl::desc("Target of the bundle (default x86)"),
                                cl::init("x86"), cl::cat(category));
cl::opt<unsigned> lmHeadBits(
    "lm-head-bits",
    cl::desc("Quantize the output projection (lm_head, or the tied "
             "embedding's use as one, whose lookup then reads the same "
             "table) by RTN to this many bits, in groups of --group-size "
             "(default 8 with --method rtn or gptq, 0 with --method none; "
             "0 keeps it in float)"),
    cl::init(0), cl::cat(category));
cl::opt<unsigned> embeddingBits(
    "embedding-bits",
    cl::desc("Quantize an untied token-embedding table (read only by "
             "lookups) by RTN to this many bits, in groups of --group-size "
             "(default 8 with --method rtn or gptq, 0 with --method none; "
             "0 keeps it in float). A tied table follows --lm-head-bits"),
    cl::init(0), cl::cat(category));
cl::opt<int64_t> lmHeadGroupSize(
    "lm-head-group-size",
    cl::desc("Group size of the output projection (0: --group-size)"),
    cl::init(0), cl::cat(category));
cl::opt<std::string> sensitivityPath(
    "sensitivity",
    cl::desc("Measure how much quantizing each weight alone costs the "
             "output (lowbit-sensitivity on --calib: a Hessian proxy per "
             "--search-bits x --search-group-sizes scheme, calibrated by one "
             "KL measurement per weight) and write it here (JSON)"),
    cl::cat(category));
cl::opt<std::string> plotPath(
    "plot",
    cl::desc("With --target-bpw: draw each weight's sensitivity, its chosen "
             "bits and the predicted KL-vs-bits curve of the search as an "
             "SVG file"),
    cl::cat(category));
cl::opt<double> targetBpw(
    "target-bpw",
    cl::desc("Mixed precision: choose bits and group size per weight "
             "(decoder linears and, unless --lm-head-bits fixes it, the "
             "output projection) from the sensitivity measurements so that "
             "their average bits per weight, as the target stores them (the "
             "schemes, with --emit quantized), is at most this, with the "
             "least predicted KL; needs --calib"),
    cl::init(0), cl::cat(category));
cl::list<unsigned> searchBits(
    "search-bits", cl::CommaSeparated,
    cl::desc("Code widths the sensitivity and the search consider (default "
             "2,3,4,8: the x86 kernels')"),
    cl::cat(category));
cl::list<int64_t> searchGroupSizes(
    "search-group-sizes", cl::CommaSeparated,
    cl::desc("Group sizes the sensitivity and the search consider (default "
             "32,64,128; -1 per-channel)"),
    cl::cat(category));
cl::opt<int64_t> sensitivityNSamples(
    "sensitivity-nsamples",
    cl::desc("Calibration rows of the sensitivity measurements (8)"),
    cl::init(8), cl::cat(category));
cl::opt<int64_t> sensitivitySeqLen(
    "sensitivity-seqlen",
    cl::desc("Calibration row length of the sensitivity measurements (128)"),
    cl::init(128), cl::cat(category));
cl::opt<unsigned> ggufRequantBits(
    "gguf-requant-bits",
    cl::desc("With --method none on a GGUF model: requantize linear weights "
             "of quantized types that no lowbit scheme reproduces exactly "
             "(Q5_0, Q5_1, k-quants) by RTN to this many bits, symmetric "
             "groups of 32, f16 scales (default 8; 0: read them dequantized "
             "to f32)"),
    cl::init(8), cl::cat(category));
cl::opt<unsigned> actBits("act-bits",
                          cl::desc("Quantize activations of quantized "
                                   "matmuls dynamically to this many bits "
                                   "(8: the x86 int8 path; default 0: "
                                   "float activations)"),
                          cl::init(0), cl::cat(category));
cl::opt<std::string> actFloat(
    "act-float",
    cl::desc("With --act-bits 8: quantized matmuls whose weight name (e.g. "
             "model.layers.0.self_attn.q_proj) this regular expression finds "
             "a match in keep float activations, e.g. "
             "'self_attn\\.[qkv]_proj'"),
    cl::cat(category));
cl::opt<unsigned> bits("bits", cl::desc("Code width, 2-8 (default 4)"),
                       cl::init(4), cl::cat(category));
cl::opt<int64_t> groupSize("group-size",
                           cl::desc("Group size along K, -1 per-channel "
                                    "(default 128)"),
                           cl::init(128), cl::cat(category));
cl::opt<bool> sym("sym", cl::desc("Symmetric (implicit zero points)"),
                  cl::cat(category));
cl::opt<bool> mse("mse", cl::desc("Search the clipping range (MSE)"),
                  cl::cat(category));
cl::opt<std::string>
    symGrid("sym-grid",
            cl::desc("Grid of --sym schemes: absmax (default; GPTQ's "
                     "reference: [-max|w|, max|w|] over 2^bits - 1 steps) or "
                     "extreme (each group's signed extreme weight on the "
                     "lowest code, step max|w| / 2^(bits-1), all 2^bits codes "
                     "used, signed scales; as llama.cpp's Q4_0)"),
            cl::init("absmax"), cl::cat(category));
cl::opt<std::string> scaleType("scale-type",
                               cl::desc("Scale type: f32 (default), f16, "
                                        "bf16"),
                               cl::init("f32"), cl::cat(category));
cl::opt<int64_t> superGroup(
    "super-group",
    cl::desc("0, or S >= 2: store the decoder linears' group scales as 8-bit "
             "codes under one --scale-type (f16 or bf16) scale per S groups "
             "of a row, as llama.cpp's k-quants do (e.g. --group-size 32 "
             "--super-group 8: 4-bit codes cost 4.3125 bits per weight "
             "symmetric instead of 4.5)"),
    cl::init(0), cl::cat(category));
cl::list<std::string> overrides(
    "override",
    cl::desc("Per-layer override REGEX[:bits=B][:group-size=G][:skip] "
             "(repeatable)"),
    cl::cat(category));
cl::opt<bool> actOrder("act-order", cl::desc("GPTQ act-order"),
                       cl::cat(category));
cl::opt<bool> staticGroups("static-groups",
                           cl::desc("GPTQ act-order with static groups"),
                           cl::cat(category));
cl::opt<std::string> calib("calib",
                           cl::desc("Calibration data: int32 tokens (.bin) "
                                    "or text"),
                           cl::cat(category));
cl::opt<int64_t> nsamples("nsamples", cl::desc("Calibration rows (128)"),
                          cl::init(128), cl::cat(category));
cl::opt<int64_t> seqlen("seqlen", cl::desc("Calibration row length (256)"),
                        cl::init(256), cl::cat(category));
cl::opt<uint64_t> seed("seed", cl::desc("Calibration row selection seed"),
                       cl::init(0), cl::cat(category));
cl::opt<double> damp("damp", cl::desc("GPTQ dampening (0.01)"), cl::init(0.01),
                     cl::cat(category));
cl::opt<int64_t> blockSize("block-size", cl::desc("GPTQ block size (128)"),
                           cl::init(128), cl::cat(category));
cl::opt<bool> noTrueSequential("no-true-sequential",
                               cl::desc("Quantize a block's layers at once"),
                               cl::cat(category));
cl::opt<std::string> emit("emit",
                          cl::desc("What to write: bundle (default) or "
                                   "quantized"),
                          cl::init("bundle"), cl::cat(category));
cl::opt<bool> printPipeline(
    "print-pipeline",
    cl::desc("Print the pass pipeline string that runs (lowbit-opt "
             "--pass-pipeline= accepts it; the output is still written)"),
    cl::cat(category));
cl::opt<std::string> reportPath("report",
                                cl::desc("Also write the JSON report here"),
                                cl::cat(category));
cl::opt<std::string> signKey(
    "sign",
    cl::desc("Sign the bundle's manifest and code with this Ed25519 private "
             "key (PEM, `openssl genpkey -algorithm ed25519`); runtimes with "
             "LOWBIT_TRUSTED_KEYS load only signed code"),
    cl::value_desc("KEY.pem"), cl::cat(category));
cl::list<std::string> paramScopes(
    "param-scope",
    cl::desc("NAME=PATH: read parameter scope NAME from PATH instead of the "
             "path the IR records (repeatable)"),
    cl::value_desc("NAME=PATH"), cl::cat(category));

[[noreturn]] void fail(const Twine &message) {
  WithColor::error(errs(), "lowbit-compile") << message << "\n";
  std::exit(1);
}

} // namespace

namespace {

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
}

/// Writes `value` to `path` through the atomic output helper.
Error writeJsonAtomically(StringRef path, json::Value value) {
  return lowbit::writeOutputFile(path, [&](raw_ostream &os) -> Error {
    os << formatv("{0:2}", value) << "\n";
    return Error::success();
  });
}

/// A scope name not yet recorded on the module: `base`, else `base2`, ...
std::string freeScopeName(mlir::ModuleOp module, StringRef base) {
  std::string name = base.str();
  for (int i = 2; mlir::lowbit::lookupParameterScope(module, name); ++i)
    name = (base + Twine(i)).str();
  return name;
}

/// Rewrites the module's scope paths for IR written into the directory
/// `dir`: `outputScope` becomes `outputFile` (beside the IR), every other
/// scope the path of its current location relative to `dir`.
Error rebaseScopes(mlir::ModuleOp module, StringRef outputScope,
                   StringRef outputFile, StringRef dir) {
  auto scopes = module->getAttrOfType<mlir::DictionaryAttr>(
      mlir::lowbit::kParameterScopesAttrName);
  if (!scopes)
    return Error::success();
  mlir::MLIRContext *ctx = module.getContext();
  lowbit::ParamResolver &resolver = lowbit::ParamResolver::get(ctx);
  SmallVector<mlir::NamedAttribute> rebased;
  for (mlir::NamedAttribute entry : scopes) {
    auto scope = cast<mlir::lowbit::ScopeAttr>(entry.getValue());
    std::string path;
    if (entry.getName().getValue() == outputScope) {
      path = outputFile.str();
    } else {
      Expected<std::string> location =
          resolver.resolvePath(module, entry.getName().getValue());
      if (!location)
        return location.takeError();
      Expected<std::string> rel = lowbit::makeRelativePath(*location, dir);
      if (!rel)
        return rel.takeError();
      path = *rel;
    }
    rebased.push_back(mlir::NamedAttribute(
        entry.getName(),
        mlir::lowbit::ScopeAttr::get(ctx, scope.getFormat(), path)));
  }
  module->setAttr(mlir::lowbit::kParameterScopesAttrName,
                  mlir::DictionaryAttr::get(ctx, rebased));
  return Error::success();
}

} // namespace

namespace {

/// Times the passes of the pipeline (quantization vs the rest) and notes
/// whether a quantization pass is the one that failed.
struct PassTimer : public mlir::PassInstrumentation {
  static bool isQuantization(mlir::Pass *pass) {
    return pass->getArgument().ends_with("-quantize");
  }
  void runBeforePass(mlir::Pass *pass, mlir::Operation *) override {
    started = std::chrono::steady_clock::now();
  }
  void runAfterPass(mlir::Pass *pass, mlir::Operation *) override {
    (isQuantization(pass) ? quantizeSeconds : otherSeconds) +=
        secondsSince(started);
  }
  void runAfterPassFailed(mlir::Pass *pass, mlir::Operation *) override {
    quantizationFailed = isQuantization(pass);
  }
  std::chrono::steady_clock::time_point started;
  double quantizeSeconds = 0, otherSeconds = 0;
  bool quantizationFailed = false;
};

/// Whether the module reads parameters from a GGUF file.
bool hasGgufScope(mlir::ModuleOp module) {
  auto scopes = module->getAttrOfType<mlir::DictionaryAttr>(
      mlir::lowbit::kParameterScopesAttrName);
  if (!scopes)
    return false;
  return llvm::any_of(scopes, [](mlir::NamedAttribute entry) {
    auto scope = dyn_cast<mlir::lowbit::ScopeAttr>(entry.getValue());
    return scope && scope.getFormat() == "gguf";
  });
}

/// The textual pipeline for the command line: lowbit-quantize-pipeline
/// (unless nothing is quantized), lowbit-keep-gguf-quants (--method none on
/// a GGUF model: its Q4_0/Q4_1/Q8_0 weights are kept as they are) and, for
/// --emit bundle, lowbit-to-bundle-pipeline, every option spelled out.
std::string buildPipeline(StringRef outScope, StringRef outParams,
                          bool keepGguf, unsigned headBits, int64_t headGroup,
                          unsigned tableBits,
                          ArrayRef<std::string> chosenOverrides) {
  SmallVector<std::string> elements;
  if (method != "none" || headBits != 0 || tableBits != 0) {
    mlir::lowbit::QuantizePipelineOptions q;
    q.method = method;
    q.bits = bits;
    q.groupSize = groupSize;
    q.symmetric = sym;
    q.symGrid = symGrid;
    q.mse = mse;
    q.scaleType = scaleType;
    q.superGroup = superGroup;
    std::vector<std::string> overrideList(overrides.begin(), overrides.end());
    overrideList.insert(overrideList.end(), chosenOverrides.begin(),
                        chosenOverrides.end());
    q.overrides = ArrayRef<std::string>(overrideList);
    q.lmHeadBits = headBits;
    q.lmHeadGroupSize = headGroup;
    q.embeddingBits = tableBits;
    // One in-memory output scope, named after the method, that
    // --emit quantized saves as params.safetensors.
    q.scope = outScope.str();
    q.outputParams = outParams.str();
    q.writeParams = false;
    if (method == "gptq") {
      q.calib = calib;
      q.numSamples = nsamples;
      q.seqLen = seqlen;
      q.seed = seed;
      q.damp = damp;
      q.blockSize = blockSize;
      q.actOrder = actOrder;
      q.staticGroups = staticGroups;
      q.trueSequential = !noTrueSequential;
    }
    elements.push_back(mlir::lowbit::printPipelineElement(q));
  }
  if (keepGguf)
    elements.push_back(("lowbit-keep-gguf-quants{output-params=" + outParams +
                        " requant-bits=" + Twine(ggufRequantBits) +
                        " scope=" + outScope + " write-params=false}")
                           .str());
  if (emit == "bundle") {
    mlir::lowbit::ToBundlePipelineOptions b;
    b.target = targetName;
    b.output = output;
    b.actBits = actBits;
    b.actFloat = actFloat;
    b.signKey = signKey;
    elements.push_back(mlir::lowbit::printPipelineElement(b));
  }
  return "builtin.module(" + join(elements, ", ") + ")";
}

/// Adds each quantized weight's scheme bits per weight to its report entry
/// and returns their total (mlir::lowbit::getSchemeBitsPerWeight).
double addSchemeBits(mlir::ModuleOp module, std::vector<json::Value> &entries) {
  llvm::StringMap<double> perWeight;
  const double total = mlir::lowbit::getSchemeBitsPerWeight(module, &perWeight);
  for (json::Value &entry : entries)
    if (json::Object *obj = entry.getAsObject())
      if (std::optional<StringRef> name = obj->getString("name")) {
        auto it = perWeight.find(*name);
        if (it != perWeight.end())
          (*obj)["scheme_bits_per_weight"] = it->getValue();
      }
  return total;
}

/// The schemes the budget search chose: per-layer overrides and the output
/// projection's bits and group (0 when it stays as --lm-head-bits says).
struct MixedPrecision {
  std::vector<std::string> overrides;
  unsigned headBits = 0;
  int64_t headGroup = 0;
  json::Object report;
};

/// The SVG of --plot: per weight, a bar of its predicted KL at the anchor
/// scheme (log scale) coloured by the bits chosen for it; below, the least
/// predicted KL the search finds at each budget between the cheapest and
/// the richest mix, with the chosen budget marked. Deterministic text.
std::string plotSvg(ArrayRef<lowbit::numerics::WeightCurve> curves,
                    ArrayRef<double> anchorKl, ArrayRef<unsigned> chosenBits,
                    ArrayRef<std::pair<double, double>> frontier,
                    double chosenBpw, double chosenKl, StringRef counted) {
  const double width = 960, panel = 300, left = 80, right = 20, top = 40;
  const double plotW = width - left - right;
  std::string svg;
  raw_string_ostream os(svg);
  auto num = [](double v) { return formatv("{0:f2}", v).str(); };
  auto escape = [](StringRef text) {
    std::string out;
    for (char c : text)
      out += c == '<'   ? "&lt;"
             : c == '>' ? "&gt;"
             : c == '&' ? "&amp;"
                        : std::string(1, c);
    return out;
  };
  const double height = top + panel + 80 + panel + 60;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
     << "\" height=\"" << height << "\" font-family=\"sans-serif\" "
     << "font-size=\"12\">\n";
  os << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  os << "<text x=\"" << left << "\" y=\"20\" font-size=\"15\">Sensitivity "
     << "and chosen bits per weight (bits counted " << escape(counted)
     << ")</text>\n";
  // Panel 1: bars on a log10 axis.
  auto logOf = [](double v) { return std::log10(std::max(v, 1e-12)); };
  double lo = INFINITY, hi = -INFINITY;
  for (double v : anchorKl) {
    lo = std::min(lo, logOf(v));
    hi = std::max(hi, logOf(v));
  }
  lo = std::floor(lo);
  hi = std::max(std::ceil(hi), lo + 1);
  const double y0 = top + panel;
  const double barW = plotW / double(std::max<size_t>(curves.size(), 1));
  auto colour = [](unsigned bits) {
    switch (bits) {
    case 2:
      return "#d62728";
    case 3:
      return "#ff7f0e";
    case 4:
      return "#1f77b4";
    case 5:
    case 6:
      return "#9467bd";
    default:
      return "#2ca02c";
    }
  };
  for (size_t w = 0; w < curves.size(); ++w) {
    double h = (logOf(anchorKl[w]) - lo) / (hi - lo) * panel;
    os << "<rect class=\"layer\" x=\"" << num(left + w * barW) << "\" y=\""
       << num(y0 - h) << "\" width=\"" << num(std::max(barW - 1, 1.0))
       << "\" height=\"" << num(h) << "\" fill=\"" << colour(chosenBits[w])
       << "\"><title>" << escape(curves[w].name) << ": " << chosenBits[w]
       << " bits, predicted KL at the anchor " << formatv("{0:e2}", anchorKl[w])
       << "</title></rect>\n";
  }
  auto axes = [&](double yTop, double yBottom, StringRef xLabel,
                  StringRef yLabel) {
    os << "<line class=\"axis\" x1=\"" << left << "\" y1=\"" << num(yBottom)
       << "\" x2=\"" << num(left + plotW) << "\" y2=\"" << num(yBottom)
       << "\" stroke=\"black\"/>\n";
    os << "<line class=\"axis\" x1=\"" << left << "\" y1=\"" << num(yTop)
       << "\" x2=\"" << left << "\" y2=\"" << num(yBottom)
       << "\" stroke=\"black\"/>\n";
    os << "<text class=\"axis-label\" x=\"" << num(left + plotW / 2)
       << "\" y=\"" << num(yBottom + 35) << "\" text-anchor=\"middle\">"
       << xLabel << "</text>\n";
    os << "<text class=\"axis-label\" x=\"20\" y=\""
       << num((yTop + yBottom) / 2)
       << "\" text-anchor=\"middle\" transform=\"rotate(-90 20 "
       << num((yTop + yBottom) / 2) << ")\">" << yLabel << "</text>\n";
  };
  axes(top, y0, "weight (program order; colour: chosen bits)",
       "predicted KL at the anchor (log10)");
  for (double t = lo; t <= hi; t += 1)
    os << "<text x=\"" << num(left - 5) << "\" y=\""
       << num(y0 - (t - lo) / (hi - lo) * panel + 4)
       << "\" text-anchor=\"end\">1e" << int(t) << "</text>\n";
  double legendX = left + plotW - 260;
  static constexpr unsigned kLegendBits[] = {2, 3, 4, 8};
  for (auto [i, bits] : llvm::enumerate(kLegendBits)) {
    os << "<rect x=\"" << num(legendX + i * 65) << "\" y=\"28\" width=\"10\" "
       << "height=\"10\" fill=\"" << colour(bits) << "\"/><text x=\""
       << num(legendX + i * 65 + 14) << "\" y=\"37\">" << bits
       << " bits</text>\n";
  }
  // Panel 2: the search's frontier.
  const double top2 = y0 + 80, y2 = top2 + panel;
  double bLo = INFINITY, bHi = -INFINITY, kLo = INFINITY, kHi = -INFINITY;
  for (auto [b, k] : frontier) {
    bLo = std::min(bLo, b);
    bHi = std::max(bHi, b);
    kLo = std::min(kLo, logOf(k));
    kHi = std::max(kHi, logOf(k));
  }
  kLo = std::floor(kLo);
  kHi = std::max(std::ceil(kHi), kLo + 1);
  if (!(bHi > bLo))
    bHi = bLo + 1;
  auto px = [&](double b) { return left + (b - bLo) / (bHi - bLo) * plotW; };
  auto py = [&](double k) {
    return y2 - (logOf(k) - kLo) / (kHi - kLo) * panel;
  };
  axes(top2, y2, "bits per weight", "least predicted KL (log10)");
  os << "<polyline class=\"frontier\" fill=\"none\" stroke=\"#1f77b4\" "
     << "stroke-width=\"2\" points=\"";
  for (auto [b, k] : frontier)
    os << num(px(b)) << "," << num(py(k)) << " ";
  os << "\"/>\n";
  for (auto [b, k] : frontier)
    os << "<circle class=\"frontier-point\" cx=\"" << num(px(b)) << "\" cy=\""
       << num(py(k)) << "\" r=\"3\" fill=\"#1f77b4\"/>\n";
  os << "<circle class=\"chosen\" cx=\"" << num(px(chosenBpw)) << "\" cy=\""
     << num(py(chosenKl)) << "\" r=\"6\" fill=\"none\" stroke=\"#d62728\" "
     << "stroke-width=\"2\"><title>chosen: "
     << formatv("{0:f3} bits per weight, predicted KL {1:f5}", chosenBpw,
                chosenKl)
     << "</title></circle>\n";
  for (double t = kLo; t <= kHi; t += 1)
    os << "<text x=\"" << num(left - 5) << "\" y=\""
       << num(py(std::pow(10, t)) + 4) << "\" text-anchor=\"end\">1e" << int(t)
       << "</text>\n";
  for (int i = 0; i <= 4; ++i) {
    double b = bLo + (bHi - bLo) * i / 4;
    os << "<text x=\"" << num(px(b)) << "\" y=\"" << num(y2 + 16)
       << "\" text-anchor=\"middle\">" << num(b) << "</text>\n";
  }
  os << "</svg>\n";
  return svg;
}

/// Runs lowbit-sensitivity on `module` (the IR is not changed), writing its
/// results to `path`, and, with --target-bpw, chooses a scheme per weight.
std::optional<MixedPrecision>
chooseMixedPrecision(mlir::ModuleOp module, StringRef path, bool includeHead,
                     const lowbit::TargetBackend *target) {
  mlir::lowbit::LowbitSensitivityOptions o;
  std::vector<unsigned> bitList(searchBits.begin(), searchBits.end());
  std::vector<int64_t> groupList(searchGroupSizes.begin(),
                                 searchGroupSizes.end());
  if (bitList.empty())
    bitList = {2, 3, 4, 8};
  if (groupList.empty())
    groupList = {32, 64, 128};
  o.bits.assign(bitList.begin(), bitList.end());
  o.groupSizes.assign(groupList.begin(), groupList.end());
  // The anchor: the widest group of the narrowest code above 2 bits.
  o.anchorBits =
      bitList.size() > 1 && bitList[0] == 2 ? bitList[1] : bitList[0];
  o.anchorGroupSize = *llvm::max_element(groupList);
  if (llvm::is_contained(groupList, -1))
    o.anchorGroupSize = -1;
  o.symmetric = sym;
  o.symGrid = symGrid;
  o.scaleType = scaleType;
  o.superGroup = superGroup;
  o.lmHead = includeHead;
  // Rounded as the method will round them.
  o.rounding = method == "gptq" ? "gptq" : "rtn";
  o.actOrder = actOrder;
  o.damp = damp;
  o.calib = calib;
  o.numSamples = sensitivityNSamples;
  o.seqLen = sensitivitySeqLen;
  o.seed = seed;
  o.report = path.str();
  errs() << "lowbit-compile: measuring sensitivity (" << bitList.size() << " x "
         << groupList.size() << " schemes per weight)\n";
  mlir::PassManager pm(module.getContext());
  pm.addPass(mlir::lowbit::createLowbitSensitivity(o));
  if (mlir::failed(pm.run(module)))
    fail("the sensitivity measurement failed");
  if (targetBpw == 0)
    return std::nullopt;

  auto buffer = MemoryBuffer::getFile(path);
  if (!buffer)
    fail(path + ": " + buffer.getError().message());
  Expected<json::Value> parsed = json::parse((*buffer)->getBuffer());
  if (!parsed)
    fail(path + ": " + toString(parsed.takeError()));
  const json::Array *layers = parsed->getAsObject()
                                  ? parsed->getAsObject()->getArray("layers")
                                  : nullptr;
  if (!layers)
    fail(path + ": no layers");
  // Bits per weight as the target stores each scheme (layout padding,
  // scale widths), or as the scheme does without a target; schemes the
  // target has no kernel for are left out of the search.
  lowbit::codec::ScaleType codecScale =
      scaleType == "f16"    ? lowbit::codec::ScaleType::F16
      : scaleType == "bf16" ? lowbit::codec::ScaleType::BF16
                            : lowbit::codec::ScaleType::F32;
  std::set<std::string> excluded;
  std::vector<lowbit::numerics::WeightCurve> curves;
  std::vector<const json::Object *> entries;
  std::vector<std::vector<std::pair<unsigned, int64_t>>> schemes;
  for (const json::Value &v : *layers) {
    const json::Object *t = v.getAsObject();
    const json::Array *shape = t ? t->getArray("shape") : nullptr;
    const json::Array *list = t ? t->getArray("schemes") : nullptr;
    if (!shape || shape->size() != 2 || !list)
      fail(path + ": malformed entry");
    lowbit::numerics::WeightCurve c;
    c.name = t->getString("name").value_or("").str();
    const int64_t n = (*shape)[0].getAsInteger().value_or(0);
    const int64_t k = (*shape)[1].getAsInteger().value_or(0);
    c.numel = n * k;
    std::vector<std::pair<unsigned, int64_t>> ids;
    for (const json::Value &sv : *list) {
      const json::Object *sch = sv.getAsObject();
      const unsigned b = unsigned(sch->getInteger("bits").value_or(0));
      const int64_t g = sch->getInteger("group_size").value_or(0);
      std::optional<double> bpw = sch->getNumber("bits_per_weight");
      if (target) {
        lowbit::codec::WeightDesc desc;
        desc.bits = b;
        desc.groupSize = g;
        desc.symmetric = sym;
        desc.scaleType = codecScale;
        // The output projection keeps plain scales (so does per-channel).
        const bool head = t->getBoolean("output_projection").value_or(false);
        desc.superGroup = g > 0 && !head ? int64_t(superGroup) : 0;
        desc.N = n;
        desc.K = k;
        bpw = target->getStoredBitsPerWeight(desc);
        if (!bpw) {
          excluded.insert(formatv("{0} bits, group {1}", b, g).str());
          continue;
        }
        // GPTQ's act-order stores one int32 permutation entry per column
        // (decoder linears only; the output projection is RTN).
        // (Super-block scales fix the groups first: no permutation.)
        if (actOrder && method == "gptq" && !head && desc.superGroup == 0)
          *bpw += 32.0 / double(n);
      }
      c.schemes.push_back(
          {bpw.value_or(0), sch->getNumber("predicted_kl").value_or(NAN)});
      ids.push_back({b, g});
    }
    curves.push_back(std::move(c));
    entries.push_back(t);
    schemes.push_back(std::move(ids));
  }
  auto choice = lowbit::numerics::chooseSchemes(curves, targetBpw);
  if (!choice)
    fail("--target-bpw: " + toString(choice.takeError()));

  MixedPrecision mp;
  json::Array chosen;
  std::map<std::string, int> counts;
  for (size_t w = 0; w < curves.size(); ++w) {
    auto [b, g] = schemes[w][choice->scheme[w]];
    const json::Object *t = entries[w];
    bool head = t->getBoolean("output_projection").value_or(false);
    if (head) {
      mp.headBits = b;
      mp.headGroup = g;
    } else {
      mp.overrides.push_back(
          "^" + Regex::escape(t->getString("weight").value_or("")) +
          "$:bits=" + std::to_string(b) + ":group-size=" + std::to_string(g));
    }
    ++counts[std::to_string(b) + " bits " +
             (g < 0 ? std::string("per channel") : "g" + std::to_string(g))];
    const lowbit::numerics::SchemeCost &sc =
        curves[w].schemes[choice->scheme[w]];
    chosen.push_back(json::Object{{"name", curves[w].name},
                                  {"bits", b},
                                  {"group_size", g},
                                  {"bits_per_weight", sc.bitsPerWeight},
                                  {"predicted_kl", sc.kl}});
  }
  std::string summary;
  for (const auto &[scheme, count] : counts)
    summary +=
        (summary.empty() ? "" : ", ") + std::to_string(count) + " at " + scheme;
  std::string countedAs = target
                              ? "as " + target->getName().str() + " stores them"
                              : std::string("as the schemes store them");
  errs() << formatv("lowbit-compile: mixed precision for {0} bits per "
                    "weight ({1}): {2} weights at {3:f3} ({4}); predicted KL "
                    "{5:f5}\n",
                    double(targetBpw), countedAs, curves.size(),
                    choice->bitsPerWeight, summary, choice->kl);
  if (!excluded.empty())
    errs() << "lowbit-compile: left out of the search (no " << target->getName()
           << " kernel): " << join(excluded, "; ") << "\n";
  json::Array excludedList;
  for (const std::string &e : excluded)
    excludedList.push_back(e);
  mp.report = json::Object{{"target_bits_per_weight", double(targetBpw)},
                           {"bits_counted", countedAs},
                           {"bits_per_weight", choice->bitsPerWeight},
                           {"predicted_kl", choice->kl},
                           {"excluded_schemes", std::move(excludedList)},
                           {"weights", std::move(chosen)}};
  if (!plotPath.empty()) {
    // The frontier: the search at 24 budgets from the cheapest mix to the
    // richest.
    double cheapest = 0, richest = 0, total = 0;
    for (const lowbit::numerics::WeightCurve &c : curves) {
      double lo = INFINITY, hi = 0;
      for (const lowbit::numerics::SchemeCost &sc : c.schemes) {
        lo = std::min(lo, sc.bitsPerWeight);
        hi = std::max(hi, sc.bitsPerWeight);
      }
      cheapest += lo * double(c.numel);
      richest += hi * double(c.numel);
      total += double(c.numel);
    }
    std::vector<std::pair<double, double>> frontier;
    for (int i = 0; i < 24; ++i) {
      double target =
          (cheapest + (richest - cheapest) * double(i) / 23.0) / total;
      auto point = lowbit::numerics::chooseSchemes(curves, target * (1 + 1e-9));
      if (!point)
        fail("--plot: " + toString(point.takeError()));
      frontier.push_back({point->bitsPerWeight, point->kl});
    }
    std::vector<double> anchorKl;
    std::vector<unsigned> chosenBits;
    const json::Object *root = parsed->getAsObject();
    const json::Object *anchor = root->getObject("anchor");
    for (size_t w = 0; w < curves.size(); ++w) {
      double kl = NAN;
      for (const json::Value &sv : *entries[w]->getArray("schemes")) {
        const json::Object *sch = sv.getAsObject();
        if (anchor && sch->getInteger("bits") == anchor->getInteger("bits") &&
            sch->getInteger("group_size") == anchor->getInteger("group_size"))
          kl = sch->getNumber("measured_kl").value_or(NAN);
      }
      anchorKl.push_back(kl);
      chosenBits.push_back(schemes[w][choice->scheme[w]].first);
    }
    if (Error e = lowbit::writeOutputFile(
            plotPath, plotSvg(curves, anchorKl, chosenBits, frontier,
                              choice->bitsPerWeight, choice->kl, countedAs)))
      fail("--plot: " + toString(std::move(e)));
  }
  return mp;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "lowbit-compile: quantize a causal LM and "
                              "compile it into a deployable bundle\n");
  if (emit != "quantized" && emit != "bundle")
    fail("--emit must be bundle or quantized, got '" + emit + "'");
  if (method != "none" && method != "rtn" && method != "gptq")
    fail("--method must be none, rtn or gptq, got '" + method + "'");
  if (method == "none" && emit == "quantized" && lmHeadBits == 0 &&
      embeddingBits == 0)
    fail("--method none quantizes nothing; use --emit bundle");
  if (embeddingBits != 0 && (embeddingBits < 2 || embeddingBits > 8))
    fail("--embedding-bits must be 0 or 2-8, got " + Twine(embeddingBits));
  if (ggufRequantBits != 0 && (ggufRequantBits < 2 || ggufRequantBits > 8))
    fail("--gguf-requant-bits must be 0 or 2-8, got " + Twine(ggufRequantBits));
  if (actBits != 0 && actBits != 8)
    fail("--act-bits must be 0 (float activations) or 8, got " +
         Twine(actBits));
  if (symGrid != "absmax" && symGrid != "extreme")
    fail("--sym-grid must be absmax or extreme, got '" + Twine(symGrid) + "'");
  if (symGrid == "extreme" && !sym)
    fail("--sym-grid extreme applies to symmetric schemes only: add --sym");
  if (symGrid == "extreme" && method == "none" && lmHeadBits == 0 &&
      embeddingBits == 0)
    fail("--sym-grid extreme: --method none with no --lm-head-bits quantizes "
         "nothing with it");
  if (actBits != 0 && emit != "bundle")
    fail("--act-bits only applies to --emit bundle");
  if (!actFloat.empty() && actBits == 0)
    fail("--act-float only applies with --act-bits 8");
  if (std::string why; !actFloat.empty() && !Regex(actFloat).isValid(why))
    fail("--act-float '" + actFloat +
         "' is not a valid regular expression: " + why);
  if (targetBpw < 0 || (targetBpw > 0 && targetBpw < 2))
    fail(formatv("--target-bpw must be at least 2 bits per weight, got {0}",
                 double(targetBpw))
             .str());
  if ((targetBpw > 0 || !sensitivityPath.empty()) && calib.empty())
    fail("--target-bpw and --sensitivity measure on calibration data: pass "
         "--calib");
  if (!plotPath.empty() && targetBpw == 0)
    fail("--plot draws the search of --target-bpw; pass it");
  if (!plotPath.empty())
    if (Error e = lowbit::checkOutputFile(plotPath))
      fail("--plot: " + toString(std::move(e)));
  if (targetBpw > 0 && method == "none")
    fail("--target-bpw chooses schemes for --method rtn or gptq");
  if (targetBpw > 0 && !overrides.empty())
    fail("--target-bpw chooses every layer's scheme: drop --override");
  if (!signKey.empty() && emit != "bundle")
    fail("--sign only applies to --emit bundle");
  // The key is read when the bundle is written; a missing one is reported
  // now, not after the compile.
  if (!signKey.empty() && sys::fs::access(signKey, sys::fs::AccessMode::Exist))
    fail("--sign: " + signKey + ": no such file");

  // Pre-flight: the outputs can be written, checked before the work.
  if (Error e = emit == "quantized" ? lowbit::checkOutputDirectory(output)
                                    : lowbit::checkOutputFile(output))
    fail(toString(std::move(e)));
  if (!reportPath.empty())
    if (Error e = lowbit::checkOutputFile(reportPath))
      fail("--report: " + toString(std::move(e)));

  lowbit::TargetRegistry targets;
  mlir::DialectRegistry registry;
  lowbit::registerAllDialects(registry);
  lowbit::registerAllPasses();
  lowbit::registerAllTargets(targets, registry);
  const lowbit::TargetBackend *target = nullptr;
  if (emit == "bundle") {
    auto t = targets.lookup(targetName);
    if (!t)
      fail("--target: " + toString(t.takeError()));
    target = &*t;
  }

  auto start = std::chrono::steady_clock::now();
  json::Object timings;
  errs() << "lowbit-compile: loading " << modelPath << "\n";
  lowbit::ParamResolverConfig scopeConfig;
  if (Error err = lowbit::parseScopeOverrides(
          std::vector<std::string>(paramScopes.begin(), paramScopes.end()),
          scopeConfig))
    fail(toString(std::move(err)));
  auto model = lowbit::loadModel(modelPath, scopeConfig.overrides);
  if (!model)
    fail(toString(model.takeError()));
  mlir::MLIRContext *ctx = model->context.get();
  ctx->appendDialectRegistry(registry);
  mlir::ModuleOp module = *model->module;
  timings["load_s"] = secondsSince(start);

  std::string outScope =
      freeScopeName(module, method == "none" ? StringRef("rtn") : method);
  std::string outParams = "params-" + outScope + ".safetensors";
  bool keepGguf = method == "none" && hasGgufScope(module);
  if (ggufRequantBits.getNumOccurrences() && !keepGguf)
    fail("--gguf-requant-bits only applies to --method none on a GGUF model");
  // The output projection is the largest matrix of a small model and, when
  // tied, its float table is also the embedding's: quantized methods take
  // it to 8 bits unless told otherwise (an input whose projection is
  // already quantized keeps it as it is).
  const unsigned headBits =
      lmHeadBits.getNumOccurrences() ? unsigned(lmHeadBits)
      : method != "none" && lowbit::findFloatOutputProjection(module) ? 8u
                                                                      : 0u;
  // An untied embedding table likewise (only its rows are read, so this
  // is about size: never an f32 copy of a table the source stored smaller).
  const unsigned tableBits =
      embeddingBits.getNumOccurrences() ? unsigned(embeddingBits)
      : method != "none" && !lowbit::findFloatEmbeddingTables(module).empty()
          ? 8u
          : 0u;
  std::optional<MixedPrecision> mixed;
  if (targetBpw > 0 || !sensitivityPath.empty()) {
    SmallString<128> path(sensitivityPath);
    if (path.empty()) {
      if (std::error_code ec =
              sys::fs::createTemporaryFile("lowbit-sensitivity", "json", path))
        fail("cannot create a temporary file: " + ec.message());
    }
    // The output projection joins the search unless --lm-head-bits fixes
    // it (0: float).
    mixed = chooseMixedPrecision(
        module, path, headBits != 0 && !lmHeadBits.getNumOccurrences(), target);
    if (sensitivityPath.empty())
      sys::fs::remove(path);
    timings["sensitivity_s"] =
        secondsSince(start) - *timings.getNumber("load_s");
  }
  const unsigned chosenHeadBits =
      mixed && mixed->headBits ? mixed->headBits : headBits;
  std::string pipeline = buildPipeline(
      outScope, outParams, keepGguf, chosenHeadBits,
      mixed && mixed->headBits ? mixed->headGroup : int64_t(lmHeadGroupSize),
      tableBits,
      mixed ? ArrayRef<std::string>(mixed->overrides)
            : ArrayRef<std::string>());
  if (printPipeline)
    outs() << pipeline << "\n";
  FailureOr<mlir::OpPassManager> parsed =
      mlir::parsePassPipeline(pipeline, errs());
  if (mlir::failed(parsed))
    fail("cannot build the pipeline " + pipeline);
  mlir::PassManager pm(ctx);
  static_cast<mlir::OpPassManager &>(pm) = std::move(*parsed);
  auto timer = std::make_unique<PassTimer>();
  PassTimer &times = *timer;
  pm.addInstrumentation(std::move(timer));

  if (method != "none")
    errs() << "lowbit-compile: quantizing with " << method << " (" << bits
           << " bits, group " << groupSize << ")\n";
  if (chosenHeadBits != 0)
    errs() << "lowbit-compile: quantizing the output projection with rtn ("
           << chosenHeadBits << " bits, group "
           << (mixed && mixed->headGroup ? mixed->headGroup
               : lmHeadGroupSize != 0    ? int64_t(lmHeadGroupSize)
                                         : int64_t(groupSize))
           << ")\n";
  if (tableBits != 0)
    errs() << "lowbit-compile: quantizing the embedding table with rtn ("
           << tableBits << " bits, group " << groupSize << ")\n";
  if (target)
    errs() << "lowbit-compile: lowering for target " << target->getName()
           << "\n";
  if (mlir::failed(pm.run(module)))
    fail(times.quantizationFailed || !target
             ? Twine("quantization failed")
             : "the model cannot be compiled for target " + target->getName());
  timings["quantize_s"] = times.quantizeSeconds;

  // Everything below reads what the passes recorded in the context.
  lowbit::ParamResolver &resolver = lowbit::ParamResolver::get(ctx);
  lowbit::ParamResolver::OutputScope *outputs =
      mlir::lowbit::lookupParameterScope(module, outScope)
          ? resolver.getOutputScope(module, outScope)
          : nullptr;
  std::vector<json::Value> reportEntries;
  if (outputs)
    reportEntries = outputs->report;
  const double schemeBits = addSchemeBits(module, reportEntries);
  // Without quantized weights there is no scheme figure to state.
  json::Object schemeTotals;
  if (schemeBits > 0)
    schemeTotals["scheme_bits_per_weight"] =
        json::Object{{"quantized_linears", schemeBits}};
  if (mixed)
    schemeTotals["mixed_precision"] = std::move(mixed->report);
  if (keepGguf) {
    // What lowbit-keep-gguf-quants did with each linear weight of the GGUF.
    std::map<std::string, int> kept, requantized, dequantized;
    for (const json::Value &entry : reportEntries)
      if (const json::Object *obj = entry.getAsObject())
        if (std::optional<StringRef> type = obj->getString("gguf_type"))
          ++(obj->getBoolean("kept").value_or(false) ? kept
             : obj->getString("requantized")         ? requantized
                                             : dequantized)[type->str()];
    auto list = [](const std::map<std::string, int> &counts) {
      std::string text;
      for (const auto &[type, count] : counts)
        text += (text.empty() ? "" : ", ") + std::to_string(count) + " " + type;
      return text.empty() ? std::string("none") : text;
    };
    errs() << "lowbit-compile: GGUF weights kept as they are: " << list(kept);
    if (!requantized.empty())
      errs() << "; requantized from the dequantized values (rtn "
             << ggufRequantBits << "-bit, group 32): " << list(requantized);
    errs() << "; read dequantized to f32: " << list(dequantized) << "\n";
  }
  // The passes that quantized the model, in canonical form (as the bundle's
  // provenance lists them): no paths or command-line spellings.
  std::string passes;
  for (const lowbit::ParamResolver::Step &step : resolver.getSteps())
    passes += (passes.empty() ? "" : ", ") + step.pass;

  if (emit == "quantized") {
    mlir::Builder b(ctx);
    module->setAttr("lowbit.quantization",
                    b.getDictionaryAttr(
                        {b.getNamedAttr("method", b.getStringAttr(method)),
                         b.getNamedAttr("options", b.getStringAttr(passes))}));
    std::map<std::string, std::string> metadata = {
        {"format", "lowbit-quantized-v1"},
        {"method", method},
        {"options", passes},
    };
    Error err =
        lowbit::writeOutputDirectory(output, [&](StringRef dir) -> Error {
          SmallString<256> ir(dir), params(dir), report(dir);
          sys::path::append(ir, lowbit::kModelIRFile);
          sys::path::append(params, lowbit::kQuantizedParamsFile);
          sys::path::append(report, "report.json");
          if (outputs)
            if (Error e = outputs->store.writeTo(params, metadata))
              return e;
          if (Error e = lowbit::writeReport(report, reportEntries,
                                            json::Object(schemeTotals)))
            return e;
          // The IR in OUT names its scopes relative to OUT.
          if (Error e = rebaseScopes(module, outScope,
                                     lowbit::kQuantizedParamsFile, output))
            return e;
          return lowbit::writeOutputFile(ir, [&](raw_ostream &os) -> Error {
            module->print(os);
            os << "\n";
            return Error::success();
          });
        });
    if (err)
      fail(toString(std::move(err)));
    // The same bytes as OUT/report.json, written atomically (not copied in
    // place).
    if (!reportPath.empty())
      if (Error e = lowbit::writeReport(reportPath, reportEntries,
                                        json::Object(schemeTotals)))
        fail(toString(std::move(e)));
    errs() << formatv(
        "lowbit-compile: wrote {0} ({1} layers, quantized weights at {2:f3} "
        "bits per weight, {3:f2} s)\n",
        output, reportEntries.size(), schemeBits, secondsSince(start));
    return 0;
  }

  //===--- Bundle report
  //---------------------------------------------------===//
  const json::Object *emitted = resolver.getOutput(output);
  if (!emitted)
    fail("internal error: lowbit-emit-bundle recorded nothing for " + output);
  timings["codegen_and_write_s"] = times.otherSeconds;
  timings["total_s"] = secondsSince(start);
  const json::Object *packed = emitted->getObject("packed_bytes");
  const json::Object *layerWeights = emitted->getObject("layer_weights");
  const json::Object *bitsPerWeight = emitted->getObject("bits_per_weight");
  const json::Object *layerBits =
      bitsPerWeight ? bitsPerWeight->getObject("layers") : nullptr;
  if (!reportPath.empty()) {
    json::Array layers;
    for (const json::Value &entry : reportEntries) {
      json::Object obj = *entry.getAsObject();
      if (std::optional<StringRef> name = obj.getString("name")) {
        if (const json::Value *bytes = packed ? packed->get(*name) : nullptr)
          obj["packed_bytes"] = *bytes;
        if (const json::Value *weights =
                layerWeights ? layerWeights->get(*name) : nullptr)
          obj["weights"] = *weights;
        if (const json::Value *bits =
                layerBits ? layerBits->get(*name) : nullptr)
          obj["bits_per_weight"] = *bits;
      }
      layers.push_back(std::move(obj));
    }
    json::Object report{{"format", "lowbit-compile-report-v1"},
                        {"method", method},
                        {"target", target->getName()},
                        {"pipeline", pipeline},
                        {"passes", passes},
                        {"layers", std::move(layers)},
                        {"timings", std::move(timings)}};
    for (StringRef key : {"sizes", "program", "weights"})
      if (const json::Value *value = emitted->get(key))
        report[key] = *value;
    if (bitsPerWeight) {
      // Totals here; each layer's figure is in its entry above.
      json::Object totals = *bitsPerWeight;
      totals.erase("layers");
      report["bits_per_weight"] = std::move(totals);
    }
    for (auto &[key, value] : schemeTotals)
      report[key] = value;
    if (Error e = writeJsonAtomically(reportPath, std::move(report)))
      fail(toString(std::move(e)));
  }
  const json::Object *sizes = emitted->getObject("sizes");
  const json::Object *program = emitted->getObject("program");
  auto bits = [&](StringRef key) {
    return bitsPerWeight ? bitsPerWeight->getNumber(key).value_or(0.0) : 0.0;
  };
  const size_t numQuantized = packed ? packed->size() : 0;
  std::string quantized = std::to_string(numQuantized) + " quantized layers";
  if (numQuantized)
    quantized +=
        formatv(" at {0:f3} bits per weight", bits("quantized_linears"));
  errs() << formatv(
      "lowbit-compile: wrote {0} ({1}, the whole model at {2:f3} bits per "
      "weight; {3} ops, {4:f1} MB, {5:f2} s)\n",
      output, quantized, bits("model"),
      program ? program->getInteger("ops").value_or(0) : 0,
      (sizes ? sizes->getInteger("bundle_bytes").value_or(0) : 0) / 1e6,
      secondsSince(start));
  return 0;
}
