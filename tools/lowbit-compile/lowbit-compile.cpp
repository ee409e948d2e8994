//===- lowbit-compile.cpp - the lowbit compiler driver ----------*- C++ -*-===//
//
// lowbit-compile MODEL --method {none,rtn,gptq} --bits B --group-size G
//     [--sym] [--act-order] [--calib FILE] [--seed S] [--target x86]
//     [--emit bundle|quantized] -o OUT [--report FILE]
//
// Imports MODEL (a Hugging Face directory, lowbit IR or a quantized model
// directory), quantizes its linear layers and writes either
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
// Quantization runs the registered passes (lowbit-rtn-quantize,
// lowbit-gptq-quantize) with their output scope kept in memory; tensors are
// read through the parameter scopes the IR records (--param-scope overrides
// them), as in lowbit-opt.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Bundle/BundleEmitter.h"
#include "lowbit/Executor/ModelLoader.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbit/InitAll.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Quant/QuantSession.h"
#include "lowbit/Support/OutputFile.h"
#include "lowbit/Target/TargetRegistry.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace llvm;

namespace {

cl::OptionCategory category("lowbit-compile options");
cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                               cl::desc("<model: HF directory or lowbit IR>"),
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
    cl::desc("Also quantize the output projection (lm_head, or the tied "
             "embedding's use as one) by RTN to this many bits, in groups of "
             "--group-size (default 0: keep it in float)"),
    cl::init(0), cl::cat(category));
cl::opt<unsigned> actBits("act-bits",
                          cl::desc("Quantize activations of quantized "
                                   "matmuls dynamically to this many bits "
                                   "(8: the x86 int8 path; default 0: "
                                   "float activations)"),
                          cl::init(0), cl::cat(category));
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
cl::opt<std::string> scaleType("scale-type",
                               cl::desc("Scale type: f32 (default), f16, "
                                        "bf16"),
                               cl::init("f32"), cl::cat(category));
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
    cl::desc("Print the pass pipeline that lowers the model to the kernel "
             "level (the bundle is still written)"),
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

/// The command line without the output path, with every argument naming an
/// existing file reduced to its base name, so provenance does not depend on
/// where the inputs live.
std::string sanitizedOptions(int argc, char **argv) {
  std::string options;
  for (int i = 1; i < argc; ++i) {
    StringRef arg = argv[i];
    // Where outputs go is not part of how they were made.
    // Nor is who signed them (the signature is outside the manifest).
    if (arg == "-o" || arg == "--o" || arg == "-report" || arg == "--report" ||
        arg == "-sign" || arg == "--sign") {
      ++i;
      continue;
    }
    if (arg.starts_with("-o=") || arg.starts_with("--o=") ||
        arg.starts_with("-report=") || arg.starts_with("--report=") ||
        arg.starts_with("-sign=") || arg.starts_with("--sign="))
      continue;
    std::string shown = arg.str();
    auto [flag, value] = arg.split('=');
    if (!value.empty() && sys::fs::exists(value))
      shown = (flag + "=" + sys::path::filename(value)).str();
    else if (sys::fs::exists(arg))
      shown = sys::path::filename(arg).str();
    options += (options.empty() ? "" : " ") + shown;
  }
  return options;
}

/// Hashes `path` (a file, or the .json/.safetensors/.mlir files of a
/// directory) into `inputs`, naming each entry `prefix/<file name>`.
Error hashInputs(StringRef path, StringRef prefix, json::Array &inputs) {
  std::vector<std::string> files;
  if (sys::fs::is_directory(path)) {
    std::error_code ec;
    for (sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
         it.increment(ec)) {
      StringRef name = sys::path::filename(it->path());
      if (sys::fs::is_regular_file(it->path()) &&
          (name.ends_with(".json") || name.ends_with(".safetensors") ||
           name.ends_with(".mlir")))
        files.push_back(it->path());
    }
    if (ec)
      return createStringError("%s: %s", path.str().c_str(),
                               ec.message().c_str());
    llvm::sort(files);
  } else {
    files.push_back(path.str());
  }
  for (const std::string &file : files) {
    Expected<std::string> hash = lowbit::hashFile(file);
    if (!hash)
      return hash.takeError();
    inputs.push_back(
        json::Object{{"file", (prefix + "/" + sys::path::filename(file)).str()},
                     {"blake3", *hash}});
  }
  return Error::success();
}

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

/// Quantizes the float output projection of @forward by RTN (`bits`, the
/// command line's group size, symmetry, range search and scale type). A tied
/// embedding keeps its float table for the lookup; the projection becomes
/// the quantized parameter "lm_head".
Error quantizeLmHead(mlir::ModuleOp module, StringRef scope,
                     StringRef outputParams, unsigned bits) {
  auto entry = module.lookupSymbol<mlir::func::FuncOp>(lowbit::attrs::kEntry);
  if (!entry)
    return createStringError("--lm-head-bits: the module has no @forward");
  mlir::lowbit::LinearOp head;
  for (auto linear : entry.getOps<mlir::lowbit::LinearOp>())
    if (linear.getWeight().getDefiningOp<mlir::lowbit::ParamOp>())
      head = linear;
  if (!head)
    return createStringError("--lm-head-bits: @forward has no float output "
                             "projection (already quantized?)");
  auto params = lowbit::makeQuantParams(bits, groupSize, sym, mse, scaleType);
  if (!params)
    return createStringError("--lm-head-bits: " + toString(params.takeError()));
  lowbit::LayerChoice layer;
  layer.op = head;
  layer.weight = head.getWeight().getDefiningOp<mlir::lowbit::ParamOp>();
  layer.weightName = layer.weight.getName().str();
  bool tied = !layer.weight->hasOneUse();
  StringRef name = layer.weightName;
  name.consume_back(".weight");
  layer.name = tied ? "lm_head" : name.str();
  layer.block = entry;
  layer.params = *params;
  auto session = lowbit::QuantSession::open(module, scope, outputParams);
  if (!session)
    return session.takeError();
  if (Error err = (*session)->quantizeRtn(layer))
    return err;
  return (*session)->finish(/*save=*/false, "");
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
  if (method == "none" && emit == "quantized" && lmHeadBits == 0)
    fail("--method none quantizes nothing; use --emit bundle");
  if (actBits != 0 && actBits != 8)
    fail("--act-bits must be 0 (float activations) or 8, got " +
         Twine(actBits));
  if (actBits != 0 && emit != "bundle")
    fail("--act-bits only applies to --emit bundle");
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
  lowbit::registerAllTargets(targets);
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
  mlir::DialectRegistry registry;
  lowbit::registerAllDialects(registry);
  if (target)
    target->getDependentDialects(registry);
  ctx->appendDialectRegistry(registry);
  mlir::ModuleOp module = *model->module;

  // The tensors quantized now go into one in-memory output scope (named
  // after the method) that the passes and --lm-head-bits share through the
  // IR; --emit quantized saves it as params.safetensors.
  std::string outScope =
      freeScopeName(module, method == "none" ? StringRef("rtn") : method);
  std::string outParams = "params-" + outScope + ".safetensors";
  timings["load_s"] = secondsSince(start);

  auto quantStart = std::chrono::steady_clock::now();
  if (method != "none") {
    mlir::PassManager pm(ctx);
    // Options both methods share.
    auto setCommon = [&](auto &o) {
      o.bits = bits;
      o.groupSize = groupSize;
      o.symmetric = sym;
      o.mse = mse;
      o.scaleType = scaleType;
      o.overrides.assign(overrides.begin(), overrides.end());
      o.scope = outScope;
      o.outputParams = outParams;
      o.writeParams = false;
    };
    if (method == "rtn") {
      mlir::lowbit::LowbitRtnQuantizeOptions o;
      setCommon(o);
      pm.addPass(mlir::lowbit::createLowbitRtnQuantize(o));
    } else {
      mlir::lowbit::LowbitGptqQuantizeOptions o;
      setCommon(o);
      o.calib = calib;
      o.numSamples = nsamples;
      o.seqLen = seqlen;
      o.seed = seed;
      o.damp = damp;
      o.blockSize = blockSize;
      o.actOrder = actOrder;
      o.staticGroups = staticGroups;
      o.trueSequential = !noTrueSequential;
      pm.addPass(mlir::lowbit::createLowbitGptqQuantize(o));
    }
    errs() << "lowbit-compile: quantizing with " << method << " (" << bits
           << " bits, group " << groupSize << ")\n";
    if (mlir::failed(pm.run(module)))
      fail("quantization failed");
    if (mlir::failed(mlir::verify(module)))
      fail("internal error: the quantized IR does not verify");
  }
  if (lmHeadBits != 0) {
    errs() << "lowbit-compile: quantizing the output projection with rtn ("
           << lmHeadBits << " bits, group " << groupSize << ")\n";
    if (Error err = quantizeLmHead(module, outScope, outParams, lmHeadBits))
      fail(toString(std::move(err)));
    if (mlir::failed(mlir::verify(module)))
      fail("internal error: the quantized IR does not verify");
  }
  timings["quantize_s"] = secondsSince(quantStart);
  lowbit::ParamResolver &resolver = lowbit::ParamResolver::get(ctx);
  lowbit::ParamResolver::OutputScope *outputs =
      mlir::lowbit::lookupParameterScope(module, outScope)
          ? resolver.getOutputScope(module, outScope)
          : nullptr;
  std::vector<json::Value> reportEntries;
  if (outputs)
    reportEntries = outputs->report;

  // Provenance, in the IR and the outputs (no timestamps or host paths:
  // outputs are reproducible).
  std::string options = sanitizedOptions(argc, argv);
  mlir::Builder b(ctx);
  module->setAttr("lowbit.quantization",
                  b.getDictionaryAttr(
                      {b.getNamedAttr("method", b.getStringAttr(method)),
                       b.getNamedAttr("options", b.getStringAttr(options))}));

  if (emit == "quantized") {
    std::map<std::string, std::string> metadata = {
        {"format", "lowbit-quantized-v1"},
        {"method", method},
        {"options", options},
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
          if (Error e = lowbit::writeReport(report, reportEntries))
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
      if (Error e = lowbit::writeReport(reportPath, reportEntries))
        fail(toString(std::move(e)));
    errs() << formatv("lowbit-compile: wrote {0} ({1} layers, {2:f2} s)\n",
                      output, reportEntries.size(), secondsSince(start));
    return 0;
  }

  //===--- Bundle ---------------------------------------------------------===//
  auto codegenStart = std::chrono::steady_clock::now();
  errs() << "lowbit-compile: lowering for target " << target->getName() << "\n";
  std::string pipeline;
  {
    // lowbit-to-bundle-pipeline up to the kernel level: legality (an illegal
    // op is reported on the op), act_bits, layouts, packs, kernels and the
    // target's code; the bundle is emitted below with provenance and stats.
    mlir::PassManager pm(ctx);
    if (mlir::failed(mlir::lowbit::buildLowbitToKernelPipeline(
            pm, target->getName(), actBits, [](const Twine &msg) {
              fail(msg);
              return mlir::failure();
            })))
      fail("cannot build the pipeline for target " + target->getName());
    raw_string_ostream os(pipeline);
    pm.printAsTextualPipeline(os);
    if (printPipeline)
      outs() << pipeline << "\n";
    if (mlir::failed(pm.run(module)))
      fail("the model cannot be compiled for target " + target->getName());
  }

  lowbit::BundleEmitOptions emitOptions;
  json::Array inputs;
  {
    SmallString<256> modelAbs;
    if (std::error_code ec = sys::fs::real_path(modelPath, modelAbs))
      fail(modelPath + ": " + ec.message());
    if (Error e = hashInputs(modelAbs, "model", inputs))
      fail(toString(std::move(e)));
    if (mlir::lowbit::lookupParameterScope(module,
                                           mlir::lowbit::kCheckpointScope)) {
      Expected<std::string> weights =
          resolver.resolvePath(module, mlir::lowbit::kCheckpointScope);
      if (!weights)
        fail(toString(weights.takeError()));
      SmallString<256> weightsAbs;
      if (std::error_code ec = sys::fs::real_path(*weights, weightsAbs))
        fail(*weights + ": " + ec.message());
      if (weightsAbs != modelAbs)
        if (Error e = hashInputs(weightsAbs, "weights", inputs))
          fail(toString(std::move(e)));
    }
    if (method == "gptq" && !calib.empty())
      if (Error e = hashInputs(calib, "calib", inputs))
        fail(toString(std::move(e)));
  }
  emitOptions.provenance = json::Object{
      {"method", method}, {"options", options}, {"inputs", std::move(inputs)}};
  emitOptions.signingKey = signKey;
  lowbit::BundleStats stats;
  // Tensors are read through the module's parameter scopes (those quantized
  // now from the in-memory output scope).
  if (Error err = lowbit::emitBundle(module, target->getName(), emitOptions,
                                     output, &stats))
    fail(output + ": " + toString(std::move(err)));
  timings["codegen_and_write_s"] = secondsSince(codegenStart);
  timings["total_s"] = secondsSince(start);

  if (!reportPath.empty()) {
    std::map<std::string, uint64_t> packedBytes(stats.layers.begin(),
                                                stats.layers.end());
    json::Array layers;
    for (const json::Value &entry : reportEntries) {
      json::Object obj = *entry.getAsObject();
      if (std::optional<StringRef> name = obj.getString("name")) {
        auto it = packedBytes.find(name->str());
        if (it != packedBytes.end())
          obj["packed_bytes"] = static_cast<int64_t>(it->second);
      }
      layers.push_back(std::move(obj));
    }
    json::Object report{
        {"format", "lowbit-compile-report-v1"},
        {"method", method},
        {"options", options},
        {"target", target->getName()},
        {"pipeline", pipeline},
        {"layers", std::move(layers)},
        {"sizes",
         json::Object{{"bundle_bytes", static_cast<int64_t>(stats.fileBytes)},
                      {"float_weight_bytes",
                       static_cast<int64_t>(stats.floatWeightBytes)},
                      {"quantized_weight_bytes",
                       static_cast<int64_t>(stats.quantizedWeightBytes)},
                      {"code_bytes", static_cast<int64_t>(stats.codeBytes)}}},
        {"program",
         json::Object{{"ops", stats.numOps}, {"buffers", stats.numBuffers}}},
        {"timings", std::move(timings)}};
    if (Error e = writeJsonAtomically(reportPath, std::move(report)))
      fail(toString(std::move(e)));
  }
  errs() << formatv("lowbit-compile: wrote {0} ({1} quantized layers, {2} "
                    "ops, {3:f1} MB, {4:f2} s)\n",
                    output, stats.layers.size(), stats.numOps,
                    stats.fileBytes / 1e6, secondsSince(start));
  return 0;
}
