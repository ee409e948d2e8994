//===- RtnQuantize.cpp - lowbit-rtn-quantize --------------------*- C++ -*-===//
//
// Round-to-nearest weight quantization of the linear layers in decoder
// blocks.
//
//===----------------------------------------------------------------------===//

#include "QuantPassUtils.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Support/OutputFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/Support/JSON.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITRTNQUANTIZE
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {

/// The float output projection of @forward (the last linear with a float
/// parameter weight): the `lm_head` linear, or a tied embedding table used
/// as one, whose quantized parameter is then named "lm_head" (the lookup
/// then reads it too: QuantSession's shareTiedTable).
llvm::Expected<std::vector<::lowbit::LayerChoice>>
selectOutputProjection(ModuleOp module,
                       const ::lowbit::numerics::QuantParams &params) {
  auto entry = module.lookupSymbol<func::FuncOp>(::lowbit::attrs::kEntry);
  if (!entry)
    return llvm::createStringError("lm-head: the module has no @%s",
                                   ::lowbit::attrs::kEntry.data());
  mlir::lowbit::LinearOp head = ::lowbit::findFloatOutputProjection(module);
  if (!head)
    return llvm::createStringError("lm-head: @forward has no float output "
                                   "projection (already quantized?)");
  ::lowbit::LayerChoice layer;
  layer.op = head;
  layer.weight = head.getWeight().getDefiningOp<mlir::lowbit::ParamOp>();
  layer.weightName = layer.weight.getName().str();
  bool tied = !layer.weight->hasOneUse();
  llvm::StringRef name = layer.weightName;
  name.consume_back(".weight");
  layer.name = tied ? "lm_head" : name.str();
  layer.block = entry;
  layer.params = params;
  return std::vector<::lowbit::LayerChoice>{std::move(layer)};
}

struct RtnQuantizePass
    : mlir::lowbit::impl::LowbitRtnQuantizeBase<RtnQuantizePass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    if (lmHead && (!only.empty() || !overrides.empty()))
      return module.emitError("lm-head quantizes only the output projection; "
                              "'only' and 'override' do not apply to it");
    auto params = ::lowbit::makeQuantParams(bits, groupSize, symmetric, mse,
                                            scaleType, symGrid);
    if (!params)
      return ::lowbit::emitErr(module, params.takeError());
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
    auto layers =
        lmHead ? selectOutputProjection(module, *params)
               : ::lowbit::selectLayers(module, *params, *overrideList, only);
    if (!layers)
      return ::lowbit::emitErr(module, layers.takeError());
    if (llvm::Error err = (*session)->checkOutputFile(*layers))
      return ::lowbit::emitErr(module, std::move(err));

    for (::lowbit::LayerChoice &layer : *layers)
      if (llvm::Error err = (*session)->quantizeRtn(layer))
        return ::lowbit::emitErr(layer.op, std::move(err));
    if (llvm::Error err = (*session)->finish(writeParams, report))
      return ::lowbit::emitErr(module, std::move(err));
    ::lowbit::ParamResolver::get(&getContext())
        .recordStep(
            {::lowbit::canonicalPassText(*this, ::lowbit::kOutputOptions, {}),
             {}});
    return success();
  }
};

} // namespace
