//===- Pipelines.cpp - registered lowbit pass pipelines ---------*- C++ -*-===//
//
// lowbit-quantize-pipeline{method=rtn|gptq ...}: weight quantization by the
// named method (the method's pass with the shared options).
// lowbit-to-bundle-pipeline{target=x86 output=FILE act-bits=N}: fuse
// dequantizations into matmuls, run the target's codegen pipeline, legalize
// for the target (setting act_bits), select layouts, materialize packs,
// outline kernels, translate the executables and emit the bundle.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Passes/Passes.h"
#include "lowbit/Target/TargetRegistry.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace {

struct QuantizePipelineOptions
    : public PassPipelineOptions<QuantizePipelineOptions> {
  Option<std::string> method{*this, "method",
                             llvm::cl::desc("quantization method: rtn or gptq"),
                             llvm::cl::init("rtn")};
  Option<unsigned> bits{*this, "bits", llvm::cl::desc("code width, 2 to 8"),
                        llvm::cl::init(4)};
  Option<int64_t> groupSize{
      *this, "group-size",
      llvm::cl::desc("group length along K, or -1 for per-channel"),
      llvm::cl::init(128)};
  Option<bool> symmetric{*this, "symmetric",
                         llvm::cl::desc("implicit zero points"),
                         llvm::cl::init(false)};
  Option<bool> mse{*this, "mse", llvm::cl::desc("search the clipping range"),
                   llvm::cl::init(false)};
  Option<std::string> scaleType{*this, "scale-type",
                                llvm::cl::desc("f32, f16 or bf16"),
                                llvm::cl::init("f32")};
  ListOption<std::string> overrides{
      *this, "override",
      llvm::cl::desc("per-layer overrides REGEX[:bits=B][:group-size=G]"
                     "[:skip]")};
  Option<std::string> only{*this, "only",
                           llvm::cl::desc("quantize only weights matching "
                                          "this regex")};
  Option<std::string> scope{
      *this, "scope",
      llvm::cl::desc("output parameter scope (default: the method name)")};
  Option<std::string> outputParams{
      *this, "output-params",
      llvm::cl::desc("safetensors file of the output scope, relative to the "
                     "IR file's directory")};
  Option<bool> writeParams{*this, "write-params",
                           llvm::cl::desc("save the output scope when the "
                                          "pass ends"),
                           llvm::cl::init(true)};
  Option<std::string> report{*this, "report",
                             llvm::cl::desc("JSON file for the report")};
  Option<std::string> calib{*this, "calib",
                            llvm::cl::desc("gptq: calibration data")};
  Option<int64_t> numSamples{*this, "nsamples",
                             llvm::cl::desc("gptq: calibration rows"),
                             llvm::cl::init(128)};
  Option<int64_t> seqLen{*this, "seqlen",
                         llvm::cl::desc("gptq: tokens per calibration row"),
                         llvm::cl::init(256)};
  Option<uint64_t> seed{*this, "seed",
                        llvm::cl::desc("gptq: seed of the row selection"),
                        llvm::cl::init(0)};
  Option<bool> actOrder{*this, "act-order", llvm::cl::desc("gptq: act-order"),
                        llvm::cl::init(false)};
};

struct ToBundlePipelineOptions
    : public PassPipelineOptions<ToBundlePipelineOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("target of the bundle"),
                             llvm::cl::init("x86")};
  Option<std::string> output{*this, "output",
                             llvm::cl::desc("bundle file to write")};
  Option<unsigned> actBits{*this, "act-bits",
                           llvm::cl::desc("0 (float activations) or 8"),
                           llvm::cl::init(0)};
};

LogicalResult
buildQuantizePipeline(OpPassManager &pm, const QuantizePipelineOptions &o,
                      function_ref<LogicalResult(const Twine &)> error) {
  auto setCommon = [&](auto &p) {
    p.bits = o.bits;
    p.groupSize = o.groupSize;
    p.symmetric = o.symmetric;
    p.mse = o.mse;
    p.scaleType = o.scaleType;
    p.overrides.assign(o.overrides.begin(), o.overrides.end());
    p.only = o.only;
    p.scope = o.scope.empty() ? o.method.getValue() : o.scope.getValue();
    p.outputParams = o.outputParams;
    p.writeParams = o.writeParams;
    p.report = o.report;
  };
  if (o.method == "rtn") {
    mlir::lowbit::LowbitRtnQuantizeOptions p;
    setCommon(p);
    pm.addPass(mlir::lowbit::createLowbitRtnQuantize(p));
    return success();
  }
  if (o.method == "gptq") {
    mlir::lowbit::LowbitGptqQuantizeOptions p;
    setCommon(p);
    p.calib = o.calib;
    p.numSamples = o.numSamples;
    p.seqLen = o.seqLen;
    p.seed = o.seed;
    p.actOrder = o.actOrder;
    pm.addPass(mlir::lowbit::createLowbitGptqQuantize(p));
    return success();
  }
  return error("lowbit-quantize-pipeline: unknown method '" + o.method +
               "' (supported: rtn, gptq)");
}

LogicalResult
buildToBundlePipeline(OpPassManager &pm, const ToBundlePipelineOptions &o,
                      function_ref<LogicalResult(const Twine &)> error) {
  if (o.output.empty())
    return error("lowbit-to-bundle-pipeline needs output=FILE");
  if (failed(mlir::lowbit::buildLowbitToKernelPipeline(pm, o.target, o.actBits,
                                                       error)))
    return failure();
  mlir::lowbit::LowbitEmitBundleOptions emit;
  emit.target = o.target;
  emit.output = o.output;
  pm.addPass(mlir::lowbit::createLowbitEmitBundle(emit));
  return success();
}

/// Registers `Options`-taking pipeline `arg` whose builder can fail.
template <typename Options>
void registerPipeline(
    StringRef arg, StringRef description,
    LogicalResult (*build)(OpPassManager &, const Options &,
                           function_ref<LogicalResult(const Twine &)>)) {
  registerPassPipeline(
      arg, description,
      [build](OpPassManager &pm, StringRef text,
              function_ref<LogicalResult(const Twine &)> error) {
        Options options;
        if (failed(options.parseFromString(text)))
          return failure();
        return build(pm, options, error);
      },
      [](function_ref<void(const detail::PassOptions &)> handler) {
        handler(Options());
      });
}

} // namespace

LogicalResult mlir::lowbit::buildLowbitToKernelPipeline(
    OpPassManager &pm, StringRef targetName, unsigned actBits,
    function_ref<LogicalResult(const Twine &)> error) {
  ::lowbit::TargetRegistry targets;
  ::lowbit::registerAllTargets(targets);
  auto target = targets.lookup(targetName);
  if (!target)
    return error("lowbit-to-bundle-pipeline: " +
                 llvm::toString(target.takeError()));
  if (actBits != 0 && actBits != 8)
    return error("lowbit-to-bundle-pipeline: act-bits must be 0 (float "
                 "activations) or 8, got " +
                 Twine(actBits));
  pm.addPass(createLowbitFuseDequantMatmul());
  target->buildCodegenPipeline(pm);
  LowbitLegalizeForTargetOptions legalize;
  legalize.target = targetName.str();
  legalize.actBits = actBits;
  pm.addPass(createLowbitLegalizeForTarget(legalize));
  pm.addPass(createLowbitSelectLayouts());
  pm.addPass(createLowbitMaterializePacks());
  pm.addPass(createLowbitOutlineKernels());
  pm.addPass(createLowbitTranslateExecutables());
  return success();
}

void mlir::lowbit::registerLowbitPipelines() {
  registerPipeline<QuantizePipelineOptions>(
      "lowbit-quantize-pipeline",
      "quantize the linear weights with the named method (rtn, gptq)",
      buildQuantizePipeline);
  registerPipeline<ToBundlePipelineOptions>(
      "lowbit-to-bundle-pipeline",
      "fuse dequantizations, run the target's codegen and emit a bundle",
      buildToBundlePipeline);
}
