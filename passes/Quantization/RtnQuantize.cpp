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

    for (::lowbit::LayerChoice &layer : *layers) {
      auto w = (*session)->loadWeight(layer);
      if (!w)
        return ::lowbit::emitErr(layer.op, w.takeError());
      int64_t n = layer.weight.getType().getDimSize(0);
      int64_t k = layer.weight.getType().getDimSize(1);
      ::lowbit::numerics::QuantResult result;
      if (llvm::Error err = ::lowbit::numerics::rtnQuantize(
              w->data(), n, k, layer.params, result))
        return ::lowbit::emitErr(layer.op, std::move(err));
      // Relative weight-space error ||W - Q||^2 / ||W||^2.
      std::vector<float> q =
          ::lowbit::numerics::dequantize(result, layer.params, n, k);
      double num = 0, den = 0;
      for (size_t i = 0; i < q.size(); ++i) {
        double d = double((*w)[i]) - q[i];
        num += d * d;
        den += double((*w)[i]) * (*w)[i];
      }
      (*session)->addReport(
          llvm::json::Object{{"name", layer.name},
                             {"method", "rtn"},
                             {"bits", layer.params.bits},
                             {"group_size", layer.params.groupSize},
                             {"shape", llvm::json::Array{n, k}},
                             {"weight_rel_error", den > 0 ? num / den : 0.0}});
      if (llvm::Error err = (*session)->applyQuantized(layer, result))
        return ::lowbit::emitErr(layer.op, std::move(err));
    }
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
