//===- KernelLevelTests.cpp - the kernel-level passes and x86 -----*- C++
//-*-===//
//
// Part of the lowbit project.
//
// The x86 code blob produced by -lowbit-translate-executables (kernels taken
// from lowbit.kernel ops) must be byte-identical to what X86Target::serialize
// produces from the lowbit.qmatmul ops of the same module, which bundles use.
//
//===----------------------------------------------------------------------===//

#include "lowbit/InitAll.h"
#include "lowbit/Target/TargetRegistry.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "gtest/gtest.h"

#include <string>

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// Two identical layers (one kernel each for up and down after dedup), an
/// 8-bit per-channel f16 W8A8 matmul with a bias, a 3-bit ragged one, and an
/// asymmetric weight whose zero type (i8 instead of ui8) is a different
/// kernel in the IR but the same x86 specialisation.
constexpr const char *kModel = R"mlir(
func.func @f(%x: tensor<?x64xf32>, %b: tensor<48xf32>) -> (tensor<?x64xf32>, tensor<?x48xf32>, tensor<?x40xf32>, tensor<?x96xf32>) {
  %q0 = lowbit.qparam "l0.up" : !lowbit.qweight<96x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
  %u0 = lowbit.qmatmul %x, %q0 : (tensor<?x64xf32>, !lowbit.qweight<96x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>) -> tensor<?x96xf32>
  %d0 = lowbit.qparam "l0.down" : !lowbit.qweight<64x96, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
  %y0 = lowbit.qmatmul %u0, %d0 : (tensor<?x96xf32>, !lowbit.qweight<64x96, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>) -> tensor<?x64xf32>
  %q1 = lowbit.qparam "l1.up" : !lowbit.qweight<96x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
  %u1 = lowbit.qmatmul %y0, %q1 : (tensor<?x64xf32>, !lowbit.qweight<96x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>) -> tensor<?x96xf32>
  %d1 = lowbit.qparam "l1.down" : !lowbit.qweight<64x96, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
  %y1 = lowbit.qmatmul %u1, %d1 : (tensor<?x96xf32>, !lowbit.qweight<64x96, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>) -> tensor<?x64xf32>
  %q8 = lowbit.qparam "w8" : !lowbit.qweight<48x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>>
  %y8 = lowbit.qmatmul %y1, %q8, %b {act_bits = 8 : i64} : (tensor<?x64xf32>, !lowbit.qweight<48x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>>, tensor<48xf32>) -> tensor<?x48xf32>
  %q3 = lowbit.qparam "w3" : !lowbit.qweight<40x48, #lowbit.scheme<bits = 3, group_size = 32, symmetric = true, scale_type = f32>>
  %y3 = lowbit.qmatmul %y8, %q3 : (tensor<?x48xf32>, !lowbit.qweight<40x48, #lowbit.scheme<bits = 3, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x40xf32>
  %qz = lowbit.qparam "wz" : !lowbit.qweight<96x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = i8>>
  %yz = lowbit.qmatmul %x, %qz : (tensor<?x64xf32>, !lowbit.qweight<96x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = i8>>) -> tensor<?x96xf32>
  return %y1, %y8, %y3, %yz : tensor<?x64xf32>, tensor<?x48xf32>, tensor<?x40xf32>, tensor<?x96xf32>
}
)mlir";

class KernelLevelTest : public ::testing::Test {
protected:
  KernelLevelTest() {
    ::lowbit::registerAllTargets(targets);
    DialectRegistry registry;
    ::lowbit::registerAllDialects(registry);
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
    ::lowbit::registerAllPasses();
  }

  /// Runs the kernel-level pipeline up to and including translation.
  LogicalResult runChain(ModuleOp module, llvm::StringRef legalizeOptions) {
    PassManager pm(&ctx);
    std::string pipeline =
        "lowbit-legalize-for-target{" + legalizeOptions.str() +
        "},lowbit-select-layouts,lowbit-materialize-packs,"
        "lowbit-outline-kernels,lowbit-translate-executables";
    if (failed(parsePassPipeline(pipeline, pm)))
      return failure();
    return pm.run(module);
  }

  /// The bytes of the module's only x86 binary (empty when there is none).
  std::vector<uint8_t> getBinary(ModuleOp module) {
    std::vector<uint8_t> bytes;
    module.walk([&](BinaryOp binary) {
      EXPECT_EQ(binary.getFormat(), "x86-elf-so-v1");
      std::optional<llvm::ArrayRef<uint8_t>> data = binary.getBytes();
      EXPECT_TRUE(data.has_value());
      if (data)
        bytes.assign(data->begin(), data->end());
    });
    return bytes;
  }

  static bool contains(const std::vector<uint8_t> &bytes,
                       llvm::StringRef text) {
    llvm::StringRef haystack(reinterpret_cast<const char *>(bytes.data()),
                             bytes.size());
    return haystack.contains(text);
  }

  ::lowbit::TargetRegistry targets;
  MLIRContext ctx;
};

TEST_F(KernelLevelTest, TranslationMatchesSerializeByteForByte) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(kModel, &ctx);
  ASSERT_TRUE(module);
  const ::lowbit::TargetBackend &x86 = llvm::cantFail(targets.lookup("x86"));
  ::lowbit::TargetCode expected;
  ASSERT_TRUE(succeeded(x86.serialize(*module, expected)));
  ASSERT_FALSE(expected.bytes.empty());

  ASSERT_TRUE(succeeded(runChain(*module, "target=x86")));
  // 2 identical layers -> up and down once; W8A8; 3-bit; zero type i8.
  auto executables = llvm::to_vector(module->getOps<ExecutableOp>());
  ASSERT_EQ(executables.size(), 1u);
  EXPECT_EQ(llvm::range_size(executables[0].getBodyBlock().getOps<KernelOp>()),
            5u);
  size_t dispatches = 0;
  module->walk([&](DispatchOp) { ++dispatches; });
  EXPECT_EQ(dispatches, 7u);
  std::vector<uint8_t> actual = getBinary(*module);
  EXPECT_EQ(actual.size(), expected.bytes.size());
  EXPECT_TRUE(actual == expected.bytes);
}

TEST_F(KernelLevelTest, TranslationHonoursTargetFeatures) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(kModel, &ctx);
  ASSERT_TRUE(module);
  ASSERT_TRUE(
      succeeded(runChain(*module, "target=x86 features=avx2,f16c,fma")));
  std::vector<uint8_t> bytes = getBinary(*module);
  ASSERT_FALSE(bytes.empty());
  EXPECT_TRUE(
      contains(bytes, "lowbit_x86_b4_g32_asym_f32_k64_n96_bt1_avx2_fp32"));
  EXPECT_TRUE(contains(bytes, "_bt4_avx2_"));
  EXPECT_FALSE(contains(bytes, "_avx512"));
  EXPECT_FALSE(contains(bytes, "_avxvnni_"));
}

} // namespace
