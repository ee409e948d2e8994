//===- TargetTests.cpp - target registry and the x86 target -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "lowbit/InitAll.h"
#include "lowbit/Target/TargetRegistry.h"
#include "lowbitrt/Codec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "gtest/gtest.h"

#include <algorithm>

using namespace mlir;

namespace {

class TargetTest : public ::testing::Test {
protected:
  TargetTest() {
    ::lowbit::registerAllTargets(targets);
    DialectRegistry registry;
    ::lowbit::registerAllDialects(registry);
    for (const ::lowbit::TargetBackend *t : targets.targets())
      t->getDependentDialects(registry);
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
  }

  const ::lowbit::TargetBackend &x86() {
    return llvm::cantFail(targets.lookup("x86"));
  }

  /// Parses `body` (the ops of a func taking %x: tensor<?x64xf32>) and
  /// returns the module.
  OwningOpRef<ModuleOp> parse(llvm::StringRef body) {
    std::string text =
        "func.func @f(%x: tensor<?x64xf32>) -> tensor<?x96xf32> {\n" +
        body.str() + "\n}\n";
    return parseSourceString<ModuleOp>(text, &ctx);
  }

  /// A module with one qmatmul whose weight is 96x64 under `scheme`.
  OwningOpRef<ModuleOp> qmatmulModule(llvm::StringRef scheme,
                                      llvm::StringRef attrs = "") {
    std::string type = "!lowbit.qweight<96x64, " + scheme.str() + ">";
    return parse("%q = lowbit.qparam \"w\" : " + type + "\n" +
                 "%y = lowbit.qmatmul %x, %q " + attrs.str() +
                 " : (tensor<?x64xf32>, " + type + ") -> tensor<?x96xf32>\n" +
                 "return %y : tensor<?x96xf32>");
  }

  /// isLegal on the module's lowbit.qmatmul.
  bool qmatmulLegal(ModuleOp module, std::string &reason) {
    Operation *matmul = nullptr;
    module.walk([&](Operation *op) {
      if (op->getName().getStringRef() == "lowbit.qmatmul")
        matmul = op;
    });
    EXPECT_NE(matmul, nullptr);
    return matmul && x86().isLegal(matmul, reason);
  }

  ::lowbit::TargetRegistry targets;
  MLIRContext ctx;
};

TEST_F(TargetTest, RegistryHoldsTheCMakeTargets) {
  std::vector<std::string> names = targets.names();
  EXPECT_NE(std::find(names.begin(), names.end(), "x86"), names.end());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  llvm::Expected<const ::lowbit::TargetBackend &> x86 = targets.lookup("x86");
  ASSERT_TRUE(bool(x86)) << llvm::toString(x86.takeError());
  EXPECT_EQ(x86->getName(), "x86");
}

TEST_F(TargetTest, UnknownTargetListsAvailableOnes) {
  llvm::Expected<const ::lowbit::TargetBackend &> t = targets.lookup("tpu");
  ASSERT_FALSE(bool(t));
  std::string message = llvm::toString(t.takeError());
  EXPECT_NE(message.find("unknown target 'tpu'"), std::string::npos) << message;
  EXPECT_NE(message.find("available: "), std::string::npos) << message;
  EXPECT_NE(message.find("x86"), std::string::npos) << message;
}

/// A minimal backend for registry checks.
class FakeTarget : public ::lowbit::TargetBackend {
public:
  explicit FakeTarget(std::string name, std::string codec = "")
      : name(std::move(name)), codec(std::move(codec)) {}
  llvm::StringRef getName() const override { return name; }
  bool isLegal(Operation *, std::string &) const override { return true; }
  LogicalResult serialize(ModuleOp, ::lowbit::TargetCode &) const override {
    return success();
  }
  FailureOr<std::string> selectLayout(Operation *op) const override {
    if (codec.empty())
      return ::lowbit::TargetBackend::selectLayout(op);
    return codec;
  }

private:
  std::string name;
  std::string codec;
};

TEST_F(TargetTest, RegistryRejectsDuplicateAndBadNames) {
  llvm::Error dup = targets.registerTarget(std::make_unique<FakeTarget>("x86"));
  ASSERT_TRUE(bool(dup));
  EXPECT_EQ(llvm::toString(std::move(dup)),
            "target 'x86' is already registered");
  llvm::Error upper =
      targets.registerTarget(std::make_unique<FakeTarget>("CUDA"));
  ASSERT_TRUE(bool(upper));
  llvm::consumeError(std::move(upper));
  ASSERT_FALSE(
      bool(targets.registerTarget(std::make_unique<FakeTarget>("aaa_fake"))));
  EXPECT_EQ(targets.names().front(), "aaa_fake");
}

TEST_F(TargetTest, X86AcceptsSupportedQMatmul) {
  for (llvm::StringRef scheme :
       {"#lowbit.scheme<bits = 4, group_size = 32, symmetric = true, "
        "scale_type = f16>",
        "#lowbit.scheme<bits = 2, group_size = -1, symmetric = false, "
        "scale_type = f32, zero_type = i8>",
        "#lowbit.scheme<bits = 8, group_size = 64, symmetric = true, "
        "scale_type = f32>",
        // Act-order: the bundle gathers activations into quantization order.
        "#lowbit.scheme<bits = 4, group_size = 32, symmetric = true, "
        "scale_type = f16, act_order = true>"}) {
    OwningOpRef<ModuleOp> module = qmatmulModule(scheme);
    ASSERT_TRUE(module) << scheme.str();
    std::string reason;
    EXPECT_TRUE(qmatmulLegal(*module, reason))
        << scheme.str() << ": " << reason;
    // The whole module (func, qparam, return) is legal too.
    module->walk([&](Operation *op) {
      std::string r;
      EXPECT_TRUE(x86().isLegal(op, r))
          << op->getName().getStringRef().str() << ": " << r;
    });
  }
}

TEST_F(TargetTest, X86RejectsUnsupportedSchemesWithReason) {
  struct Case {
    const char *scheme;
    const char *attrs;
    const char *reason;
  } cases[] = {
      {"#lowbit.scheme<bits = 4, group_size = 32, symmetric = true, "
       "scale_type = f16, rotation = #lowbit.rotation<kind = hadamard>>",
       "", "rotated weights are not supported"},
      {"#lowbit.scheme<bits = 5, group_size = 32, symmetric = true, "
       "scale_type = f16>",
       "", "5-bit weights are not supported (supported: 2, 3, 4, 8)"},
      {"#lowbit.scheme<bits = 4, group_size = 32, symmetric = true, "
       "scale_type = bf16>",
       "", "scale type bf16 is not supported"},
      {"#lowbit.scheme<bits = 4, group_size = 32, symmetric = false, "
       "scale_type = f16, zero_type = f16>",
       "", "zero type f16 is not supported"},
      {"#lowbit.scheme<bits = 4, group_size = 32, symmetric = true, "
       "scale_type = f16>",
       "{act_bits = 4 : i64}",
       "activation quantization to 4 bits is not supported"},
  };
  for (const Case &c : cases) {
    OwningOpRef<ModuleOp> module = qmatmulModule(c.scheme, c.attrs);
    ASSERT_TRUE(module) << c.scheme;
    std::string reason;
    EXPECT_FALSE(qmatmulLegal(*module, reason)) << c.scheme;
    EXPECT_NE(reason.find(c.reason), std::string::npos)
        << "got '" << reason << "', want '" << c.reason << "'";
  }
}

TEST_F(TargetTest, X86SerializeProducesDeterministicElf) {
  OwningOpRef<ModuleOp> module =
      qmatmulModule("#lowbit.scheme<bits = 4, group_size = 32, symmetric = "
                    "true, scale_type = f16>");
  ASSERT_TRUE(module);
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    diagnostics += diag.str() + "\n";
    return success();
  });
  ::lowbit::TargetCode first, second;
  ASSERT_TRUE(succeeded(x86().serialize(*module, first))) << diagnostics;
  EXPECT_EQ(first.target, "x86");
  EXPECT_EQ(first.format, "x86-elf-so-v1");
  ASSERT_GE(first.bytes.size(), 4u);
  EXPECT_EQ(first.bytes[0], 0x7f);
  EXPECT_EQ(first.bytes[1], 'E');
  EXPECT_EQ(first.bytes[2], 'L');
  EXPECT_EQ(first.bytes[3], 'F');
  // The library exports the decode AVX2 kernel of this specialisation (among
  // the other ISAs and batch tiles), named as in X86KernelABI.h.
  std::string bytes(first.bytes.begin(), first.bytes.end());
  EXPECT_NE(bytes.find("lowbit_x86_b4_g32_sym_f16_k64_n96_bt1_avx2_fp32"),
            std::string::npos);
  ASSERT_TRUE(succeeded(x86().serialize(*module, second))) << diagnostics;
  EXPECT_EQ(first.bytes, second.bytes);
}

TEST_F(TargetTest, X86SerializeRejectsIllegalModule) {
  OwningOpRef<ModuleOp> module = qmatmulModule(
      "#lowbit.scheme<bits = 4, group_size = 32, symmetric = true, "
      "scale_type = f16, rotation = #lowbit.rotation<kind = hadamard>>");
  ASSERT_TRUE(module);
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    diagnostics += diag.str() + "\n";
    return success();
  });
  ::lowbit::TargetCode code;
  EXPECT_TRUE(failed(x86().serialize(*module, code)));
  EXPECT_NE(diagnostics.find("cannot be compiled for target x86: rotated"),
            std::string::npos)
      << diagnostics;
}

/// The module's lowbit.qmatmul.
Operation *findQMatmul(ModuleOp module) {
  Operation *matmul = nullptr;
  module.walk([&](Operation *op) {
    if (op->getName().getStringRef() == "lowbit.qmatmul")
      matmul = op;
  });
  return matmul;
}

TEST_F(TargetTest, PackWeightEncodesWithTheTargetsCodec) {
  OwningOpRef<ModuleOp> module =
      qmatmulModule("#lowbit.scheme<bits = 4, group_size = 32, symmetric = "
                    "false, scale_type = f16, zero_type = i8>");
  ASSERT_TRUE(module);
  Operation *matmul = findQMatmul(*module);
  ASSERT_NE(matmul, nullptr);
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    diagnostics += diag.str() + "\n";
    return success();
  });

  // A 96x64 asymmetric 4-bit weight with f16-exact scales.
  std::vector<uint8_t> codes(96 * 64), zeros(96 * 2);
  std::vector<float> scales(96 * 2);
  for (size_t i = 0; i < codes.size(); ++i)
    codes[i] = uint8_t((i * 7 + 3) % 16);
  for (size_t i = 0; i < scales.size(); ++i) {
    scales[i] = 0.0625f * float(i % 5 + 1);
    zeros[i] = uint8_t(i % 16);
  }
  ::lowbit::QuantizedWeight w;
  w.bits = 4;
  w.groupSize = 32;
  w.symmetric = false;
  w.scaleType = "f16";
  w.N = 96;
  w.K = 64;
  w.codes = codes;
  w.scales = scales;
  w.zeros = zeros;
  ::lowbit::codec::WeightDesc desc;
  desc.bits = 4;
  desc.groupSize = 32;
  desc.symmetric = false;
  desc.scaleType = ::lowbit::codec::ScaleType::F16;
  desc.N = 96;
  desc.K = 64;
  ::lowbit::codec::UnpackedWeight unpacked{codes, scales, zeros};

  // x86 packs with x86-tile16-v1: the codec's bytes, which decode back.
  FailureOr<std::string> x86Layout = x86().selectLayout(matmul);
  ASSERT_TRUE(succeeded(x86Layout));
  EXPECT_EQ(*x86Layout, "x86-tile16-v1");
  for (const char *codecName : {"x86-tile16-v1", "plain-v1", "gptq-int32-v1"}) {
    FakeTarget fake("fake", codecName);
    const ::lowbit::TargetBackend &target =
        std::string(codecName) == "x86-tile16-v1"
            ? x86()
            : static_cast<const ::lowbit::TargetBackend &>(fake);
    std::vector<uint8_t> packed, want;
    ASSERT_TRUE(succeeded(target.packWeight(matmul, w, packed)))
        << codecName << ": " << diagnostics;
    const ::lowbit::codec::Codec *codec = ::lowbit::codec::findCodec(codecName);
    ASSERT_NE(codec, nullptr);
    ASSERT_TRUE(codec->encode(desc, unpacked, want, nullptr));
    EXPECT_EQ(packed, want) << codecName;
    EXPECT_EQ(int64_t(packed.size()), codec->byteSize(desc)) << codecName;
    ::lowbit::codec::UnpackedWeight back;
    ASSERT_TRUE(
        codec->decode(desc, packed.data(), packed.size(), back, nullptr));
    EXPECT_EQ(back.codes, codes) << codecName;
    EXPECT_EQ(back.zeros, zeros) << codecName;
    EXPECT_EQ(back.scales, scales) << codecName;
  }

  // No codec, an unknown codec, a code out of range, an unsupported scale
  // type: errors on the op.
  std::vector<uint8_t> out;
  EXPECT_TRUE(failed(FakeTarget("fake").packWeight(matmul, w, out)));
  EXPECT_NE(diagnostics.find("target fake has no packed weight layout"),
            std::string::npos)
      << diagnostics;
  EXPECT_TRUE(failed(FakeTarget("fake", "nope-v1").packWeight(matmul, w, out)));
  EXPECT_NE(diagnostics.find("names the unknown weight codec 'nope-v1'"),
            std::string::npos)
      << diagnostics;
  codes[64 + 5] = 16;
  EXPECT_TRUE(failed(x86().packWeight(matmul, w, out)));
  EXPECT_NE(diagnostics.find("weight codec x86-tile16-v1: code 16 at [1, 5] "
                             "exceeds 4 bits"),
            std::string::npos)
      << diagnostics;
  codes[64 + 5] = 0;
  w.scaleType = "f8";
  EXPECT_TRUE(failed(x86().packWeight(matmul, w, out)));
  EXPECT_NE(diagnostics.find("scale type 'f8' has no weight codec storage"),
            std::string::npos)
      << diagnostics;
}

TEST_F(TargetTest, PackWeightChecksLegality) {
  OwningOpRef<ModuleOp> module = qmatmulModule(
      "#lowbit.scheme<bits = 4, group_size = 32, symmetric = true, "
      "scale_type = f16, rotation = #lowbit.rotation<kind = hadamard>>");
  ASSERT_TRUE(module);
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    diagnostics += diag.str() + "\n";
    return success();
  });
  std::vector<uint8_t> codes(96 * 64, 1), out;
  std::vector<float> scales(96 * 2, 1.0f);
  ::lowbit::QuantizedWeight w;
  w.scaleType = "f16";
  w.groupSize = 32;
  w.N = 96;
  w.K = 64;
  w.codes = codes;
  w.scales = scales;
  EXPECT_TRUE(failed(x86().packWeight(findQMatmul(*module), w, out)));
  EXPECT_NE(diagnostics.find("cannot be compiled for target x86: rotated"),
            std::string::npos)
      << diagnostics;
}

} // namespace
