//===- OutlineKernels.cpp - lowbit-outline-kernels --------------*- C++ -*-===//
//
// Outlines every lowbit.qmatmul into a kernel of the target's executable
// (one kernel per distinct specialisation) and replaces it by a dispatch.
//
//===----------------------------------------------------------------------===//

#include "TargetPassUtils.h"

#include "lowbit/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITOUTLINEKERNELS
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// A readable, deterministic base name for a kernel; uniqued later.
std::string getKernelBaseName(KernelKind kind, int64_t n, int64_t k,
                              SchemeAttr scheme,
                              std::optional<int64_t> actBits) {
  std::string name;
  llvm::raw_string_ostream os(name);
  os << stringifyKernelKind(kind) << "_n" << n << "_k" << k << "_b"
     << scheme.getBits() << "_g";
  if (scheme.isPerChannel())
    os << "pc";
  else
    os << scheme.getGroupSize();
  if (actBits)
    os << "_a" << *actBits;
  return name;
}

struct LowbitOutlineKernelsPass
    : mlir::lowbit::impl::LowbitOutlineKernelsBase<LowbitOutlineKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<QMatmulOp> matmuls;
    module.walk([&](QMatmulOp op) { matmuls.push_back(op); });
    if (matmuls.empty())
      return;
    FailureOr<TargetAttr> target =
        getModuleTarget(module, "-lowbit-outline-kernels");
    if (failed(target))
      return signalPassFailure();

    // Find every pack first so nothing is created on failure.
    DominanceInfo dominance(module);
    SmallVector<PackOp> packs;
    for (QMatmulOp op : matmuls) {
      auto layout = op->getAttrOfType<StringAttr>(kLayoutAttrName);
      if (!layout) {
        op.emitOpError("has no '")
            << kLayoutAttrName
            << "' attribute; run -lowbit-select-layouts first";
        return signalPassFailure();
      }
      QWeightType type = op.getWeight().getType();
      auto packedType = PackedType::get(&getContext(), type.getShape(),
                                        type.getScheme(), layout.getValue());
      PackOp pack;
      for (Operation *user : op.getWeight().getUsers())
        if (auto p = dyn_cast<PackOp>(user);
            p && p.getType() == packedType &&
            dominance.dominates(p.getOperation(), op.getOperation())) {
          pack = p;
          break;
        }
      if (!pack) {
        op.emitOpError("weight has no lowbit.pack to ")
            << packedType << "; run -lowbit-materialize-packs first";
        return signalPassFailure();
      }
      packs.push_back(pack);
    }

    SymbolTable moduleSymbols(module);
    ExecutableOp executable =
        getOrCreateExecutable(module, moduleSymbols, *target);
    SymbolTable kernelSymbols(executable);
    OpBuilder builder(&getContext());
    for (auto [op, pack] : llvm::zip_equal(matmuls, packs)) {
      KernelOp kernel =
          getOrCreateKernel(executable, kernelSymbols, pack.getType(),
                            op.getActBitsAttr(), op.getLoc());
      auto ref =
          SymbolRefAttr::get(executable.getSymNameAttr(),
                             {FlatSymbolRefAttr::get(kernel.getSymNameAttr())});
      builder.setInsertionPoint(op);
      auto dispatch =
          DispatchOp::create(builder, op.getLoc(), op.getType(), ref,
                             op.getInput(), pack.getResult(), op.getBias());
      op.getResult().replaceAllUsesWith(dispatch.getResult());
      op.erase();
    }
  }

  /// The module's executable for `target`, named after it, created at the
  /// top of the module when missing.
  ExecutableOp getOrCreateExecutable(ModuleOp module, SymbolTable &symbols,
                                     TargetAttr target) {
    for (ExecutableOp existing : module.getOps<ExecutableOp>())
      if (existing.getTarget() == target)
        return existing;
    OpBuilder builder = OpBuilder::atBlockBegin(module.getBody());
    auto executable = ExecutableOp::create(builder, module.getLoc(),
                                           target.getName(), target);
    symbols.insert(executable); // renames it if the name is taken
    return executable;
  }

  /// The kernel of `executable` with this specialisation, created (with a
  /// unique name) when missing.
  KernelOp getOrCreateKernel(ExecutableOp executable, SymbolTable &symbols,
                             PackedType packed, IntegerAttr actBits,
                             Location loc) {
    std::optional<int64_t> bits;
    if (actBits)
      bits = actBits.getInt();
    for (KernelOp kernel : executable.getBodyBlock().getOps<KernelOp>())
      if (kernel.getKind() == KernelKind::QMatmul &&
          kernel.getPackedType() == packed && kernel.getActBits() == bits)
        return kernel;
    std::string base =
        getKernelBaseName(KernelKind::QMatmul, packed.getN(), packed.getK(),
                          packed.getScheme(), bits);
    std::string name = base;
    for (unsigned i = 1; symbols.lookup(name); ++i)
      name = base + "_" + std::to_string(i);
    OpBuilder builder = OpBuilder::atBlockEnd(&executable.getBodyBlock());
    auto kernel = KernelOp::create(
        builder, loc, name, KernelKind::QMatmul, packed.getN(), packed.getK(),
        packed.getLayout(), packed.getScheme(), actBits);
    symbols.insert(kernel);
    return kernel;
  }
};

} // namespace
