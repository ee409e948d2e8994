//===- QuantPassUtils.cpp - helpers shared by quantization passes ---------===//

#include "QuantPassUtils.h"

namespace lowbit {

llvm::Expected<PassSession> PassSession::get(mlir::ModuleOp module,
                                             QuantSession *external,
                                             llvm::StringRef weights) {
  PassSession s;
  if (external) {
    s.session = external;
    return s;
  }
  auto opened = QuantSession::open(module, weights);
  if (!opened)
    return opened.takeError();
  s.owned = std::move(*opened);
  s.session = s.owned.get();
  return s;
}

llvm::Error PassSession::finish(llvm::StringRef outputParams,
                                llvm::StringRef report) {
  if (!owned)
    return llvm::Error::success();
  if (owned->outputs().size() > 0 && outputParams.empty())
    return llvm::createStringError(
        "the quantized tensors of store-backed weights need a file: pass "
        "output-params=FILE");
  return owned->writeOutputs(owned->outputs().size() ? outputParams : "",
                             report);
}

} // namespace lowbit
