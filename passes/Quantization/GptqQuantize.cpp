//===- GptqQuantize.cpp - lowbit-gptq-quantize ------------------*- C++ -*-===//
//
// GPTQ on calibration data, block by block and, inside a block, in
// true-sequential order.
//
//===----------------------------------------------------------------------===//

#include "QuantPassUtils.h"
#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbit/Numerics/Gptq.h"
#include "lowbit/Numerics/Hessian.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Support/OutputFile.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITGPTQQUANTIZE
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
namespace numerics = ::lowbit::numerics;

namespace {

/// Left out of the provenance: where results go, and run-in-parts, which
/// changes how the statistics are computed, not what they are.
constexpr llvm::StringLiteral kProvenanceDropped[] = {
    "output-params", "report", "run-in-parts", "scope", "write-params"};

struct GptqQuantizePass
    : mlir::lowbit::impl::LowbitGptqQuantizeBase<GptqQuantizePass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run();
};

/// Layers of one block split into the groups quantized together: with
/// true-sequential, the layers reading the same input (q/k/v, gate/up) form
/// a group, in program order; otherwise the whole block is one group.
std::vector<std::vector<::lowbit::LayerChoice *>>
sequentialGroups(std::vector<::lowbit::LayerChoice *> &layers,
                 bool trueSequential) {
  std::vector<std::vector<::lowbit::LayerChoice *>> groups;
  if (!trueSequential) {
    if (!layers.empty())
      groups.push_back(layers);
    return groups;
  }
  llvm::MapVector<Value, std::vector<::lowbit::LayerChoice *>> byInput;
  for (::lowbit::LayerChoice *layer : layers)
    byInput[layer->op.getInput()].push_back(layer);
  for (auto &entry : byInput)
    groups.push_back(entry.second);
  return groups;
}

LogicalResult GptqQuantizePass::run() {
  ModuleOp module = getOperation();
  auto params = ::lowbit::makeQuantParams(bits, groupSize, symmetric, mse,
                                          scaleType, symGrid, superGroup);
  if (!params)
    return ::lowbit::emitErr(module, params.takeError());
  if (!(damp >= 0.0 && damp < 1.0))
    return module.emitError()
           << "damp must be in [0, 1), got " << static_cast<double>(damp);
  if (blockSize <= 0)
    return module.emitError() << "block size must be positive, got "
                              << static_cast<int64_t>(blockSize);
  if (staticGroups && !actOrder)
    return module.emitError() << "static-groups only applies with act-order";
  if (llvm::Error err = ::lowbit::requireCalibration("GPTQ", calib))
    return ::lowbit::emitErr(module, std::move(err));
  auto overrideList = ::lowbit::parseOverrides(overrides);
  if (!overrideList)
    return ::lowbit::emitErr(module, overrideList.takeError());
  // Pre-flight: an unwritable report fails now, not after quantizing.
  if (!report.empty())
    if (llvm::Error err = ::lowbit::checkOutputFile(report))
      return ::lowbit::emitErr(module, std::move(err));
  auto session = ::lowbit::QuantSession::open(module, scope, outputParams);
  if (!session)
    return ::lowbit::emitErr(module, session.takeError());
  auto layers = ::lowbit::selectLayers(module, *params, *overrideList, only);
  if (!layers)
    return ::lowbit::emitErr(module, layers.takeError());
  if (llvm::Error err = (*session)->checkOutputFile(*layers))
    return ::lowbit::emitErr(module, std::move(err));

  auto calibSet = ::lowbit::loadPassCalibration(module, "lowbit-gptq", calib,
                                                numSamples, seqLen, seed);
  if (!calibSet)
    return ::lowbit::emitErr(module, calibSet.takeError());

  auto exec = (*session)->getExecutor(seqLen);
  if (!exec)
    return ::lowbit::emitErr(module, exec.takeError());
  auto runner = ::lowbit::BlockwiseRunner::create(module, **exec, *calibSet);
  if (!runner)
    return ::lowbit::emitErr(module, runner.takeError());

  // Layers by block function.
  llvm::DenseMap<Operation *, std::vector<::lowbit::LayerChoice *>> byBlock;
  for (::lowbit::LayerChoice &layer : *layers)
    byBlock[layer.block].push_back(&layer);

  numerics::GptqParams gptq;
  gptq.dampPercent = damp;
  gptq.blockSize = blockSize;
  gptq.actOrder = actOrder;
  gptq.staticGroups = staticGroups;

  for (unsigned b = 0, e = (*runner)->numBlocks(); b < e; ++b) {
    auto start = std::chrono::steady_clock::now();
    double hessianSecs = 0, solveSecs = 0, forwardSecs = 0;
    // Times a run of the block, less the Hessian updates made during it.
    auto timed = [&](llvm::function_ref<llvm::Error()> fn) {
      auto t0 = std::chrono::steady_clock::now();
      double hessianBefore = hessianSecs;
      llvm::Error err = fn();
      forwardSecs += ::lowbit::secondsSince(t0) - (hessianSecs - hessianBefore);
      return err;
    };
    std::vector<::lowbit::LayerChoice *> &blockLayers =
        byBlock[(*runner)->block(b)];
    std::vector<std::vector<::lowbit::LayerChoice *>> groups =
        sequentialGroups(blockLayers, trueSequential);
    // When each group reads one input and the groups' first layers come in
    // program order (true-sequential on decoder blocks), the block runs once,
    // in parts: up to a group's first layer, whose input is the group's
    // statistic; the group is quantized; the run resumes with the quantized
    // weights. Otherwise every group runs the whole block.
    std::vector<mlir::lowbit::LinearOp> firsts;
    for (std::vector<::lowbit::LayerChoice *> &group : groups) {
      mlir::lowbit::LinearOp first = group.front()->op;
      Value input = first.getInput();
      for (::lowbit::LayerChoice *layer : group) {
        if (layer->op.getInput() != input) {
          first = nullptr;
          break;
        }
        if (layer->op->isBeforeInBlock(first))
          first = layer->op;
      }
      if (first && !firsts.empty() && !firsts.back()->isBeforeInBlock(first))
        first = nullptr;
      if (!first) {
        firsts.clear();
        break;
      }
      firsts.push_back(first);
    }
    const bool inParts = runInParts && !firsts.empty();
    if (inParts)
      if (llvm::Error err = timed([&] { return (*runner)->beginBlock(b); }))
        return ::lowbit::emitErr(module, std::move(err));
    for (auto [g, group] : llvm::enumerate(groups)) {
      // One Hessian per distinct input of the group's layers.
      llvm::MapVector<Value, std::unique_ptr<numerics::HessianAccumulator>>
          hessians;
      llvm::DenseMap<Operation *, Value> observed;
      for (::lowbit::LayerChoice *layer : group) {
        Value input = layer->op.getInput();
        if (!hessians.count(input)) {
          int64_t k = layer->op.getWeight().getType().getDimSize(1);
          hessians[input] = std::make_unique<numerics::HessianAccumulator>(k);
          observed[layer->op] = input;
        }
      }
      llvm::Error err = llvm::Error::success();
      if (inParts) {
        unsigned operand = firsts[g].getInputMutable().getOperandNumber();
        numerics::HessianAccumulator &h = *hessians.front().second;
        err = timed([&] {
          return (*runner)->runBlockTo(
              firsts[g], [&](ArrayRef<::lowbit::Tensor> in) {
                auto t0 = std::chrono::steady_clock::now();
                h.add(in[operand].f->data(), in[operand].rows());
                hessianSecs += ::lowbit::secondsSince(t0);
              });
        });
      } else {
        (*exec)->setLinearObserver(
            [&](Operation *op, const float *x, int64_t rows, int64_t k) {
              auto it = observed.find(op);
              if (it != observed.end()) {
                auto t0 = std::chrono::steady_clock::now();
                hessians[it->second]->add(x, rows);
                hessianSecs += ::lowbit::secondsSince(t0);
              }
            });
        err = timed([&] { return (*runner)->runBlock(b); });
        (*exec)->setLinearObserver(nullptr);
      }
      if (err)
        return ::lowbit::emitErr(module, std::move(err));

      for (::lowbit::LayerChoice *layer : group) {
        auto w = (*session)->loadWeight(*layer);
        if (!w)
          return ::lowbit::emitErr(layer->op, w.takeError());
        int64_t n = layer->weight.getType().getDimSize(0);
        int64_t k = layer->weight.getType().getDimSize(1);
        auto solveStart = std::chrono::steady_clock::now();
        std::vector<float> h = hessians[layer->op.getInput()]->finalize();
        gptq.quant = layer->params;
        numerics::QuantResult result;
        numerics::GptqStats stats;
        if (llvm::Error err = numerics::gptqQuantize(w->data(), n, k, h.data(),
                                                     gptq, result, &stats))
          return ::lowbit::emitErr(layer->op, std::move(err));
        solveSecs += ::lowbit::secondsSince(solveStart);
        llvm::json::Object entry{{"name", layer->name},
                                 {"method", "gptq"},
                                 {"bits", layer->params.bits},
                                 {"group_size", layer->params.groupSize},
                                 {"act_order", actOrder.getValue()},
                                 {"shape", llvm::json::Array{n, k}},
                                 {"rel_output_error", stats.relativeError},
                                 {"gptq_loss", stats.loss}};
        if (layer->params.symmetric)
          entry["sym_grid"] =
              layer->params.symmetricExtreme ? "extreme" : "absmax";
        (*session)->addReport(std::move(entry));
        if (llvm::Error err = (*session)->applyQuantized(*layer, result))
          return ::lowbit::emitErr(layer->op, std::move(err));
      }
    }
    if (llvm::Error err = timed([&] {
          return inParts ? (*runner)->finishBlock() : (*runner)->advance(b);
        }))
      return ::lowbit::emitErr(module, std::move(err));
    // Keep memory bounded by one block: its weights are not needed again.
    (*exec)->forgetWeightsIn((*runner)->block(b));
    // forward: the block's ops on every calibration row; solve: GPTQ on
    // each layer, from the Hessian's finalization to the quantized weight.
    llvm::errs() << llvm::formatv(
        "lowbit-gptq: block {0}/{1} quantized ({2} layers, {3:f2} s: forward "
        "{4:f2} s, hessian {5:f2} s, solve {6:f2} s)\n",
        b + 1, e, blockLayers.size(), ::lowbit::secondsSince(start),
        forwardSecs, hessianSecs, solveSecs);
  }
  if (llvm::Error err = (*session)->finish(writeParams, report))
    return ::lowbit::emitErr(module, std::move(err));
  llvm::SmallString<256> calibPath(calib);
  llvm::sys::fs::make_absolute(calibPath);
  ::lowbit::ParamResolver::get(&getContext())
      .recordStep(
          {::lowbit::canonicalPassText(*this, kProvenanceDropped, {"calib"}),
           {{"calib", calibPath.str().str()}}});
  return success();
}

} // namespace
