//===- lowbit-compile.cpp - the lowbit compiler driver ----------*- C++ -*-===//
//
// lowbit-compile MODEL --method {rtn,gptq} --bits B --group-size G [--sym]
//     [--act-order] [--calib FILE] [--seed S] --emit quantized -o OUT
//
// Imports MODEL (a Hugging Face directory or lowbit IR), quantizes its
// linear layers and writes OUT/, a quantized model directory:
//   model.mlir          the quantized IR (float tensors still reference the
//                       original checkpoint by absolute path)
//   params.safetensors  codes, scales, zero points and permutations
//   report.json         per-layer settings and reconstruction errors
// The directory is written under a temporary name and renamed into place, so
// a failure never leaves a half-written model. Identical inputs and options
// give byte-identical files.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Executor/ModelLoader.h"
#include "lowbit/InitAll.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Quant/QuantSession.h"

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
cl::opt<std::string> output("o", cl::Required, cl::desc("Output directory"),
                            cl::value_desc("dir"), cl::cat(category));
cl::opt<std::string> method("method", cl::Required,
                            cl::desc("Quantization method: rtn or gptq"),
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
cl::opt<std::string> emit("emit", cl::desc("What to write: quantized"),
                          cl::init("quantized"), cl::cat(category));
cl::opt<std::string> reportPath("report",
                                cl::desc("Also write the JSON report here"),
                                cl::cat(category));

[[noreturn]] void fail(const Twine &message) {
  WithColor::error(errs(), "lowbit-compile") << message << "\n";
  std::exit(1);
}

/// Writes the files of `dir` through a temporary sibling directory.
Error writeDirAtomically(StringRef dir,
                         function_ref<Error(StringRef tmpDir)> write) {
  SmallString<256> tmp(dir);
  tmp += ".tmp-" + std::to_string(sys::Process::getProcessId());
  sys::fs::remove_directories(tmp);
  if (std::error_code ec = sys::fs::create_directories(tmp))
    return createStringError("%s: %s", tmp.c_str(), ec.message().c_str());
  if (Error err = write(tmp)) {
    sys::fs::remove_directories(tmp);
    return err;
  }
  SmallString<256> old;
  if (sys::fs::exists(dir)) {
    old = dir;
    old += ".old-" + std::to_string(sys::Process::getProcessId());
    if (std::error_code ec = sys::fs::rename(dir, old))
      return createStringError("cannot replace %s: %s", dir.str().c_str(),
                               ec.message().c_str());
  }
  if (std::error_code ec = sys::fs::rename(tmp, dir))
    return createStringError("cannot create %s: %s", dir.str().c_str(),
                             ec.message().c_str());
  if (!old.empty())
    sys::fs::remove_directories(old);
  return Error::success();
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "lowbit-compile: quantize a causal LM\n");
  if (emit != "quantized")
    fail("--emit " + emit + " is not supported yet (supported: quantized)");
  if (method != "rtn" && method != "gptq")
    fail("--method must be rtn or gptq, got '" + method + "'");
  auto start = std::chrono::steady_clock::now();

  errs() << "lowbit-compile: loading " << modelPath << "\n";
  auto model = lowbit::loadModel(modelPath);
  if (!model)
    fail(toString(model.takeError()));
  mlir::MLIRContext *ctx = model->context.get();
  mlir::DialectRegistry registry;
  lowbit::registerAllDialects(registry);
  ctx->appendDialectRegistry(registry);
  mlir::ModuleOp module = *model->module;

  auto session = lowbit::QuantSession::open(module);
  if (!session)
    fail(toString(session.takeError()));

  mlir::PassManager pm(ctx);
  // Options both methods share.
  auto setCommon = [&](auto &o) {
    o.bits = bits;
    o.groupSize = groupSize;
    o.symmetric = sym;
    o.mse = mse;
    o.scaleType = scaleType;
    o.overrides.assign(overrides.begin(), overrides.end());
  };
  if (method == "rtn") {
    mlir::lowbit::LowbitRtnQuantizeOptions o;
    setCommon(o);
    pm.addPass(mlir::lowbit::createRtnQuantizePass(o, session->get()));
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
    pm.addPass(mlir::lowbit::createGptqQuantizePass(o, session->get()));
  }
  errs() << "lowbit-compile: quantizing with " << method << " (" << bits
         << " bits, group " << groupSize << ")\n";
  if (mlir::failed(pm.run(module)))
    fail("quantization failed");
  if (mlir::failed(mlir::verify(module)))
    fail("internal error: the quantized IR does not verify");

  // Provenance, in the IR and the parameter file (no timestamps: outputs are
  // reproducible).
  std::string options;
  for (int i = 1; i < argc; ++i) {
    StringRef arg = argv[i];
    if (arg == "-o" || arg.starts_with("-o=") || arg.starts_with("--o=")) {
      i += arg == "-o";
      continue;
    }
    options += (options.empty() ? "" : " ") + arg.str();
  }
  std::map<std::string, std::string> metadata = {
      {"format", "lowbit-quantized-v1"},
      {"method", method},
      {"options", options},
  };
  mlir::Builder b(ctx);
  module->setAttr("lowbit.quantization",
                  b.getDictionaryAttr(
                      {b.getNamedAttr("method", b.getStringAttr(method)),
                       b.getNamedAttr("options", b.getStringAttr(options))}));

  Error err = writeDirAtomically(output, [&](StringRef dir) -> Error {
    SmallString<256> ir(dir), params(dir), report(dir);
    sys::path::append(ir, lowbit::kModelIRFile);
    sys::path::append(params, lowbit::kQuantizedParamsFile);
    sys::path::append(report, "report.json");
    if (Error e = (*session)->writeOutputs(params, report, metadata))
      return e;
    std::error_code ec;
    raw_fd_ostream os(ir, ec);
    if (ec)
      return createStringError("%s: %s", ir.c_str(), ec.message().c_str());
    module->print(os);
    os << "\n";
    os.close();
    if (os.has_error())
      return createStringError("%s: write failed", ir.c_str());
    return Error::success();
  });
  if (err)
    fail(toString(std::move(err)));
  if (!reportPath.empty()) {
    SmallString<256> report(output);
    sys::path::append(report, "report.json");
    if (std::error_code ec = sys::fs::copy_file(report, reportPath))
      fail(reportPath + ": " + ec.message());
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  errs() << formatv("lowbit-compile: wrote {0} ({1} layers, {2:f2} s)\n",
                    output, (*session)->reportEntries().size(), secs);
  return 0;
}
