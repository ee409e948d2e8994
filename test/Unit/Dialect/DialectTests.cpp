//===- DialectTests.cpp - C++ API of the lowbit dialect ---------*- C++ -*-===//

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::lowbit;

namespace {

class LowbitDialectTest : public ::testing::Test {
protected:
  LowbitDialectTest() { ctx.loadDialect<LowbitDialect>(); }

  SchemeAttr scheme(unsigned bits, int64_t group, bool sym, Type zero = {},
                    bool actOrder = false, int64_t superGroup = 0,
                    Type scale = {}) {
    return SchemeAttr::getChecked(
        [&] { return emitError(UnknownLoc::get(&ctx)); }, &ctx, bits, group,
        sym, scale ? scale : Type(Float16Type::get(&ctx)), zero, actOrder,
        RotationAttr(), ZeroForm::ZeroPoint, superGroup);
  }

  MLIRContext ctx;
};

TEST_F(LowbitDialectTest, NumGroupsHandlesRaggedAndPerChannel) {
  SchemeAttr g32 = scheme(4, 32, /*sym=*/true);
  ASSERT_TRUE(g32);
  EXPECT_EQ(g32.getNumGroups(172), 6); // 5 x 32 + 12
  EXPECT_EQ(g32.getNumGroups(64), 2);
  EXPECT_EQ(g32.getNumGroups(1), 1);
  SchemeAttr perChannel = scheme(4, -1, true);
  ASSERT_TRUE(perChannel);
  EXPECT_TRUE(perChannel.isPerChannel());
  EXPECT_EQ(perChannel.getNumGroups(4096), 1);
  EXPECT_EQ(scheme(3, 64, true).getMaxCode(), 7);
}

TEST_F(LowbitDialectTest, InvalidSchemesAreRejectedWithDiagnostics) {
  std::string message;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  EXPECT_FALSE(scheme(9, 32, true));
  EXPECT_EQ(message, "bits must be in [2, 8], got 9");
  EXPECT_FALSE(scheme(4, 0, true));
  EXPECT_EQ(message, "group size must be -1 (per-channel) or positive, got 0");
  EXPECT_FALSE(scheme(4, 32, /*sym=*/false));
  EXPECT_EQ(message, "an asymmetric scheme needs a zero type");
}

TEST_F(LowbitDialectTest, QWeightComponentTypes) {
  auto u8 = IntegerType::get(&ctx, 8, IntegerType::Unsigned);
  SchemeAttr s = scheme(3, 64, /*sym=*/false, u8, /*actOrder=*/true);
  ASSERT_TRUE(s);
  auto type = QWeightType::get(&ctx, ArrayRef<int64_t>{64, 172}, s);
  EXPECT_EQ(type.getN(), 64);
  EXPECT_EQ(type.getK(), 172);
  EXPECT_EQ(type.getNumGroups(), 3);
  auto codes = type.getCodesType();
  EXPECT_EQ(codes.getShape(), ArrayRef<int64_t>({64, 172}));
  EXPECT_TRUE(codes.getElementType().isUnsignedInteger(3));
  EXPECT_EQ(type.getScalesType().getShape(), ArrayRef<int64_t>({64, 3}));
  EXPECT_TRUE(type.getScalesType().getElementType().isF16());
  ASSERT_TRUE(type.getZerosType());
  EXPECT_EQ(type.getZerosType().getElementType(), u8);
  ASSERT_TRUE(type.getPermType());
  EXPECT_EQ(type.getPermType().getShape(), ArrayRef<int64_t>({172}));
  // 3-bit codes, an f16 scale and a u8 zero point per row and group (3
  // groups), and an i32 permutation entry per column.
  EXPECT_DOUBLE_EQ(type.getBitsPerWeight(),
                   (64.0 * 172 * 3 + 64.0 * 3 * (16 + 8) + 172.0 * 32) /
                       (64.0 * 172));

  auto symType =
      QWeightType::get(&ctx, ArrayRef<int64_t>{8, 8}, scheme(4, -1, true));
  EXPECT_FALSE(symType.getZerosType());
  EXPECT_FALSE(symType.getPermType());
  // Per channel: one f16 scale per row of 8 weights.
  EXPECT_DOUBLE_EQ(symType.getBitsPerWeight(), 4.0 + 16.0 / 8);
}

TEST_F(LowbitDialectTest, SuperGroupSchemes) {
  auto u8 = IntegerType::get(&ctx, 8, IntegerType::Unsigned);
  // Asymmetric 4-bit g32 with 8-bit scale codes under an f16 scale per 8
  // groups; K = 576 has 18 groups, so 3 super-blocks per row (8 + 8 + 2).
  SchemeAttr s = scheme(4, 32, /*sym=*/false, u8, false, /*superGroup=*/8);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s.hasSuperGroups());
  auto type = QWeightType::get(&ctx, ArrayRef<int64_t>{16, 576}, s);
  // The scales tensor holds the exact f32 products.
  EXPECT_TRUE(type.getScalesType().getElementType().isF32());
  EXPECT_DOUBLE_EQ(type.getBitsPerWeight(),
                   (16.0 * 576 * 4 + 16.0 * 18 * (8 + 8) + 16.0 * 3 * 16) /
                       (16.0 * 576));
  // Symmetric g32 S = 8 on K = 256: 4 + 8/32 + 16/256.
  auto sym = QWeightType::get(&ctx, ArrayRef<int64_t>{16, 256},
                              scheme(4, 32, true, {}, false, 8));
  EXPECT_DOUBLE_EQ(sym.getBitsPerWeight(), 4.3125);

  std::string message;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  EXPECT_FALSE(scheme(4, 32, true, {}, false, 1));
  EXPECT_EQ(message,
            "super_group must be 0 (plain scales) or at least 2 groups, got 1");
  EXPECT_FALSE(scheme(4, -1, true, {}, false, 8));
  EXPECT_EQ(message, "super_group needs a positive group size (a per-channel "
                     "scheme has one scale per row)");
  EXPECT_FALSE(scheme(4, 32, true, {}, /*actOrder=*/true, 8));
  EXPECT_EQ(message, "super_group does not combine with act_order");
  EXPECT_FALSE(scheme(4, 32, true, {}, false, 8, Float32Type::get(&ctx)));
  EXPECT_EQ(message, "super_group needs f16 or bf16 super-block scales "
                     "(their products with 8-bit codes are exact in f32), "
                     "got 'f32'");
  EXPECT_FALSE(scheme(4, 32, false, Float16Type::get(&ctx), false, 8));
  EXPECT_EQ(message, "super_group needs integer zero points (zero_form = "
                     "zero_point and an integer zero type)");
}

} // namespace
