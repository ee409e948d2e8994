//===- TranslateExecutables.cpp - lowbit-translate-executables --*- C++ -*-===//
//
// Generates the code of every lowbit.executable with its target's
// serializeExecutable hook and stores it as a lowbit.binary.
//
//===----------------------------------------------------------------------===//

#include "TargetPassUtils.h"

#include "lowbit/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITTRANSLATEEXECUTABLES
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

struct LowbitTranslateExecutablesPass
    : mlir::lowbit::impl::LowbitTranslateExecutablesBase<
          LowbitTranslateExecutablesPass> {
  LogicalResult initialize(MLIRContext *) override {
    targets = createAllTargetsRegistry();
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (ExecutableOp executable :
         llvm::to_vector(module.getOps<ExecutableOp>()))
      if (failed(translate(executable)))
        return signalPassFailure();
  }

  LogicalResult translate(ExecutableOp executable) {
    if (executable.getBodyBlock().getOps<KernelOp>().empty())
      return executable.emitOpError("executable @")
             << executable.getSymName() << " has no kernels to translate";
    FailureOr<const ::lowbit::TargetBackend *> backend =
        lookupTarget(executable, *targets, executable.getTarget().getName());
    if (failed(backend))
      return failure();
    ::lowbit::TargetCode code;
    if (failed((*backend)->serializeExecutable(executable, code)))
      return failure();
    if (code.bytes.empty())
      return executable.emitOpError("target ")
             << (*backend)->getName() << " produced no code for @"
             << executable.getSymName();

    auto type = RankedTensorType::get(
        {static_cast<int64_t>(code.bytes.size())},
        IntegerType::get(&getContext(), 8, IntegerType::Unsigned));
    // Resource keys are identifiers: "<executable>_<format>" with '-' -> '_'.
    std::string key = (executable.getSymName() + "_" + code.format).str();
    std::replace(key.begin(), key.end(), '-', '_');
    auto data = DenseUI8ResourceElementsAttr::get(
        type, key,
        HeapAsmResourceBlob::allocateAndCopyInferAlign<uint8_t>(code.bytes));
    if (BinaryOp old = executable.getBinary(code.format))
      old.erase();
    OpBuilder builder = OpBuilder::atBlockEnd(&executable.getBodyBlock());
    BinaryOp::create(builder, executable.getLoc(),
                     builder.getStringAttr(code.format),
                     cast<ElementsAttr>(data));
    return success();
  }

  std::shared_ptr<const ::lowbit::TargetRegistry> targets;
};

} // namespace
