//===- RtnQuantize.cpp - lowbit-rtn-quantize --------------------*- C++ -*-===//
//
// Round-to-nearest weight quantization of the linear layers in decoder
// blocks.
//
//===----------------------------------------------------------------------===//

#include "QuantPassUtils.h"
#include "lowbit/Passes/Passes.h"

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
  RtnQuantizePass(const mlir::lowbit::LowbitRtnQuantizeOptions &options,
                  ::lowbit::QuantSession *session)
      : Base(options), external(session) {}

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    auto params =
        ::lowbit::makeQuantParams(bits, groupSize, symmetric, mse, scaleType);
    if (!params)
      return ::lowbit::emitErr(module, params.takeError());
    auto overrideList = ::lowbit::parseOverrides(overrides);
    if (!overrideList)
      return ::lowbit::emitErr(module, overrideList.takeError());
    auto session = ::lowbit::PassSession::get(module, external, weights);
    if (!session)
      return ::lowbit::emitErr(module, session.takeError());
    auto layers = ::lowbit::selectLayers(module, *params, *overrideList);
    if (!layers)
      return ::lowbit::emitErr(module, layers.takeError());

    for (::lowbit::LayerChoice &layer : *layers)
      if (llvm::Error err = (*session)->quantizeRtn(layer))
        return ::lowbit::emitErr(layer.op, std::move(err));
    if (llvm::Error err = session->finish(outputParams, report))
      return ::lowbit::emitErr(module, std::move(err));
    return success();
  }

  ::lowbit::QuantSession *external = nullptr;
};

} // namespace

std::unique_ptr<Pass>
mlir::lowbit::createRtnQuantizePass(const LowbitRtnQuantizeOptions &options,
                                    ::lowbit::QuantSession *session) {
  return std::make_unique<RtnQuantizePass>(options, session);
}
