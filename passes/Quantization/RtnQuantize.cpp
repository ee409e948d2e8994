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

struct RtnQuantizePass
    : mlir::lowbit::impl::LowbitRtnQuantizeBase<RtnQuantizePass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    if (lmHead && embedding)
      return module.emitError("lm-head and embedding are exclusive: one pass "
                              "quantizes the output projection, another the "
                              "embedding table");
    if (lmHead && (!only.empty() || !overrides.empty()))
      return module.emitError("lm-head quantizes only the output projection; "
                              "'only' and 'override' do not apply to it");
    if (embedding && (!only.empty() || !overrides.empty()))
      return module.emitError("embedding quantizes only the embedding table; "
                              "'only' and 'override' do not apply to it");
    auto params = ::lowbit::makeQuantParams(bits, groupSize, symmetric, mse,
                                            scaleType, symGrid, superGroup);
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
    auto layers = lmHead ? ::lowbit::selectOutputProjection(module, *params)
                  : embedding ? ::lowbit::selectEmbeddingTables(module, *params)
                              : ::lowbit::selectLayers(module, *params,
                                                       *overrideList, only);
    if (!layers)
      return ::lowbit::emitErr(module, layers.takeError());
    if (llvm::Error err = (*session)->checkOutputFile(*layers))
      return ::lowbit::emitErr(module, std::move(err));

    for (::lowbit::LayerChoice &layer : *layers)
      if (llvm::Error err = (*session)->quantizeRtn(layer))
        return ::lowbit::emitErr(layer.op ? layer.op.getOperation()
                                          : layer.weight.getOperation(),
                                 std::move(err));
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
