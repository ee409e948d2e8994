//===- Pipelines.cpp - registered lowbit pass pipelines ---------*- C++ -*-===//
//
// lowbit-quantize-pipeline{method=rtn|gptq|none ...}: weight quantization by
// the named method (the method's pass with the shared options), then the
// output projection by RTN when lm-head-bits is set, and the untied
// embedding table when embedding-bits is.
// lowbit-to-bundle-pipeline{target=x86 output=FILE act-bits=N act-float=RE}:
// fuse
// dequantizations into matmuls, run the target's codegen pipeline, legalize
// for the target (setting act_bits), select layouts, materialize packs,
// outline kernels, translate the executables and emit the bundle.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Passes/Pipelines.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Target/TargetRegistry.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using mlir::lowbit::QuantizePipelineOptions;
using mlir::lowbit::ToBundlePipelineOptions;

namespace {

LogicalResult
buildQuantizePipeline(OpPassManager &pm, const QuantizePipelineOptions &o,
                      function_ref<LogicalResult(const Twine &)> error) {
  std::string scope =
      o.scope.empty()
          ? (o.method == "none" ? std::string("rtn") : o.method.getValue())
          : o.scope.getValue();
  auto setCommon = [&](auto &p) {
    p.bits = o.bits;
    p.groupSize = o.groupSize;
    p.symmetric = o.symmetric;
    p.symGrid = o.symGrid;
    p.mse = o.mse;
    p.scaleType = o.scaleType;
    p.superGroup = o.superGroup;
    p.overrides.assign(o.overrides.begin(), o.overrides.end());
    p.only = o.only;
    p.scope = scope;
    p.outputParams = o.outputParams;
    p.writeParams = o.writeParams;
    p.report = o.report;
  };
  if (o.method == "rtn") {
    mlir::lowbit::LowbitRtnQuantizeOptions p;
    setCommon(p);
    pm.addPass(mlir::lowbit::createLowbitRtnQuantize(p));
  } else if (o.method == "gptq") {
    mlir::lowbit::LowbitGptqQuantizeOptions p;
    setCommon(p);
    p.calib = o.calib;
    p.numSamples = o.numSamples;
    p.seqLen = o.seqLen;
    p.seed = o.seed;
    p.damp = o.damp;
    p.blockSize = o.blockSize;
    p.actOrder = o.actOrder;
    p.staticGroups = o.staticGroups;
    p.trueSequential = o.trueSequential;
    pm.addPass(mlir::lowbit::createLowbitGptqQuantize(p));
  } else if (o.method == "none") {
    if (o.lmHeadBits == 0 && o.embeddingBits == 0)
      return error("lowbit-quantize-pipeline: method=none quantizes nothing "
                   "without lm-head-bits or embedding-bits");
  } else {
    return error("lowbit-quantize-pipeline: unknown method '" + o.method +
                 "' (supported: rtn, gptq, none)");
  }
  // The output projection and the untied embedding table by RTN into the
  // same scope (plain scales); their layers go into the scope's report, not
  // the method's report file.
  auto addTablePass = [&](bool lmHead, unsigned bits, int64_t groupSize) {
    mlir::lowbit::LowbitRtnQuantizeOptions p;
    p.lmHead = lmHead;
    p.embedding = !lmHead;
    p.bits = bits;
    p.groupSize = groupSize;
    p.symmetric = o.symmetric;
    p.symGrid = o.symGrid;
    p.mse = o.mse;
    p.scaleType = o.scaleType;
    p.scope = scope;
    p.outputParams = o.outputParams;
    p.writeParams = o.writeParams;
    pm.addPass(mlir::lowbit::createLowbitRtnQuantize(p));
  };
  if (o.lmHeadBits != 0)
    addTablePass(/*lmHead=*/true, o.lmHeadBits,
                 o.lmHeadGroupSize != 0 ? o.lmHeadGroupSize : o.groupSize);
  if (o.embeddingBits != 0)
    addTablePass(/*lmHead=*/false, o.embeddingBits, o.groupSize);
  return success();
}

LogicalResult
buildToBundlePipeline(OpPassManager &pm, const ToBundlePipelineOptions &o,
                      function_ref<LogicalResult(const Twine &)> error) {
  if (o.output.empty())
    return error("lowbit-to-bundle-pipeline needs output=FILE");
  if (failed(mlir::lowbit::buildLowbitToKernelPipeline(pm, o.target, o.actBits,
                                                       o.actFloat, error)))
    return failure();
  mlir::lowbit::LowbitEmitBundleOptions emit;
  emit.target = o.target;
  emit.output = o.output;
  emit.signKey = o.signKey;
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
    StringRef actFloat, function_ref<LogicalResult(const Twine &)> error) {
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
  legalize.actFloat = actFloat.str();
  pm.addPass(createLowbitLegalizeForTarget(legalize));
  pm.addPass(createLowbitSelectLayouts());
  pm.addPass(createLowbitMaterializePacks());
  pm.addPass(createLowbitOutlineKernels());
  pm.addPass(createLowbitTranslateExecutables());
  return success();
}

void mlir::lowbit::registerLowbitPipelines() {
  registerPipeline<QuantizePipelineOptions>(
      QuantizePipelineOptions::kName,
      "quantize the linear weights with the named method (rtn, gptq, none) "
      "and optionally the output projection by RTN",
      buildQuantizePipeline);
  registerPipeline<ToBundlePipelineOptions>(
      ToBundlePipelineOptions::kName,
      "fuse dequantizations, run the target's codegen and emit a bundle",
      buildToBundlePipeline);
}
