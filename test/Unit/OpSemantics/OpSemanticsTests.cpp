//===- OpSemanticsTests.cpp - the one table of graph op semantics -*- C++
//-*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The op table (lowbitrt/OpTable.h) is the only place that declares a graph
/// op's semantics; the compiler's ops reach it by name through
/// GraphOpInterface. These tests check that the two sides are linked by
/// name alone (every table op has a dialect op and the reverse), that every
/// entry is self-consistent (what the generic consumers rely on), and that
/// shape rules and reference implementations behave.
///
//===----------------------------------------------------------------------===//

#include "lowbit/OpSemantics/OpSemantics.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "gtest/gtest.h"

#include <set>

using namespace mlir;
using namespace mlir::lowbit;
namespace rtops = ::lowbit::rt::ops;

namespace {

TEST(OpTable, EntriesAreConsistent) {
  std::set<std::string> names;
  for (int k = 0; k < rtops::opCount(); ++k) {
    const rtops::OpDef *def = rtops::opByKind(k);
    ASSERT_NE(def, nullptr);
    SCOPED_TRACE(def->name);
    EXPECT_EQ(def->kind, k);
    EXPECT_TRUE(names.insert(def->name).second);
    EXPECT_EQ(rtops::opByName(def->name), def);
    EXPECT_EQ(lowbit_hal_op_binding_count(def->kind), def->numBindings);
    EXPECT_NE(def->shape, nullptr);
    // A reference implementation unless the kernel is the target's.
    EXPECT_EQ(def->reference == nullptr, def->targetKernel);
    // Every input, weight and the output is bound exactly once.
    std::vector<int> inputs(size_t(def->numInputs), 0);
    std::vector<int> weights(size_t(def->numWeights), 0);
    int outputs = 0, cacheK = 0, cacheV = 0;
    for (int b = 0; b < def->numBindings; ++b) {
      const rtops::BindingDef &bd = def->bindings[b];
      switch (bd.slot) {
      case rtops::Slot::Input:
        ASSERT_LT(bd.index, def->numInputs);
        ++inputs[bd.index];
        break;
      case rtops::Slot::Weight:
        ASSERT_LT(bd.index, def->numWeights);
        ++weights[bd.index];
        break;
      case rtops::Slot::Output:
        ++outputs;
        break;
      case rtops::Slot::CacheK:
        ++cacheK;
        break;
      case rtops::Slot::CacheV:
        ++cacheV;
        break;
      }
    }
    for (int n : inputs)
      EXPECT_EQ(n, 1);
    for (int n : weights)
      EXPECT_EQ(n, 1);
    EXPECT_EQ(outputs, 1);
    // An op binding a cache names it by an attribute, and the cache entry's
    // fields are attributes too.
    EXPECT_EQ(cacheK, def->cacheAttr ? 1 : 0);
    EXPECT_EQ(cacheV, def->cacheAttr ? 1 : 0);
    if (def->cacheAttr) {
      EXPECT_GE(def->attrIndex(def->cacheAttr), 0);
      EXPECT_GE(def->attrIndex("num_kv_heads"), 0);
      EXPECT_GE(def->attrIndex("head_dim"), 0);
    }
    std::set<std::string> attrNames;
    for (int a = 0; a < def->numAttrs; ++a)
      EXPECT_TRUE(attrNames.insert(def->attrs[a].name).second);
  }
  EXPECT_EQ(rtops::opByName("frobnicate"), nullptr);
  EXPECT_EQ(rtops::opByKind(rtops::opCount()), nullptr);
  EXPECT_EQ(lowbit_hal_op_binding_count(LOWBIT_HAL_OP_KIND_COUNT), -1);
}

/// The dialect and the table are linked by name only: every graph op of the
/// dialect has a table entry, and every table op with a portable reference
/// implementation has a graph op (the target-kernel op, qmatmul, is reached
/// through the kernel level instead).
TEST(OpTable, DialectAndTableAgree) {
  MLIRContext ctx;
  ctx.loadDialect<LowbitDialect>();
  std::set<std::string> graphOps;
  for (RegisteredOperationName name : ctx.getRegisteredOperations()) {
    if (name.getDialectNamespace() != "lowbit" ||
        !name.hasInterface<GraphOpInterface>())
      continue;
    std::string op = name.stripDialect().str();
    graphOps.insert(op);
    EXPECT_NE(rtops::opByName(op), nullptr)
        << "lowbit." << op << " has no op table entry";
  }
  for (int k = 0; k < rtops::opCount(); ++k) {
    const rtops::OpDef *def = rtops::opByKind(k);
    if (!def->targetKernel)
      EXPECT_TRUE(graphOps.count(def->name))
          << def->name << " has no lowbit graph op";
  }
  EXPECT_GE(graphOps.size(), 7u);
}

class OpSemanticsTest : public ::testing::Test {
protected:
  OpSemanticsTest() { ctx.loadDialect<LowbitDialect, func::FuncDialect>(); }

  /// The first op of @f in \p body.
  Operation *parseOp(StringRef body) {
    module = parseSourceString<ModuleOp>(body, &ctx);
    EXPECT_TRUE(module);
    if (!module)
      return nullptr;
    auto fn = module->lookupSymbol<func::FuncOp>("f");
    return &fn.getBody().front().front();
  }

  MLIRContext ctx;
  OwningOpRef<ModuleOp> module;
};

TEST_F(OpSemanticsTest, AttributesBecomeTableValues) {
  Operation *op = parseOp(R"mlir(
    func.func @f(%x: tensor<?x8xf32>, %p: tensor<?xi32>) -> tensor<?x8xf32> {
      %r = lowbit.rotary interleaved %x, %p {head_dim = 4 : i64, theta = 10000.0 : f64}
          : tensor<?x8xf32>, tensor<?xi32>
      return %r : tensor<?x8xf32>
    })mlir");
  ASSERT_TRUE(op);
  const rtops::OpDef *def = ::lowbit::lookupOpDef(op);
  ASSERT_NE(def, nullptr);
  EXPECT_STREQ(def->name, "rotary");
  rtops::AttrValues values;
  std::string unsupported;
  EXPECT_EQ(::lowbit::getOpAttrValues(cast<GraphOpInterface>(op), *def,
                                      std::nullopt, values, unsupported),
            "");
  EXPECT_EQ(unsupported, "");
  EXPECT_EQ(values[0].choice, 1); // style: interleaved
  EXPECT_EQ(values[1].f, 10000.0);
  EXPECT_EQ(values[2].i, 4);
  EXPECT_EQ(
      llvm::json::Value(::lowbit::attrToManifest(def->attrs[0], values[0])),
      llvm::json::Value("interleaved"));

  // The shape rule: 8 columns of head_dim 4 are 2 heads.
  rtops::ShapeQuery q;
  q.inCols[0] = 8;
  q.inCols[1] = 1;
  q.outCols = 8;
  q.attrs = &values;
  EXPECT_EQ(def->shape(q), "");
  EXPECT_EQ(q.desc.num_heads, 2);
  EXPECT_EQ(q.wantOut, 8);
  EXPECT_TRUE(q.desc.flags & LOWBIT_HAL_OP_ROTARY_INTERLEAVED);
  // ... and 6 columns are not.
  q.inCols[0] = 6;
  EXPECT_NE(def->shape(q).find("must be even and divide"), std::string::npos);
}

TEST_F(OpSemanticsTest, SchemaRejectsWhatTheTableDoesNotDeclare) {
  // gelu (erf) is a dialect kind without a kernel: the table's schema names
  // the kinds it implements.
  Operation *op = parseOp(R"mlir(
    func.func @f(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>) -> tensor<?x8xf32> {
      %r = lowbit.gated_act gelu %a, %b : tensor<?x8xf32>
      return %r : tensor<?x8xf32>
    })mlir");
  ASSERT_TRUE(op);
  const rtops::OpDef *def = ::lowbit::lookupOpDef(op);
  ASSERT_NE(def, nullptr);
  rtops::AttrValues values;
  std::string unsupported;
  std::string err = ::lowbit::getOpAttrValues(
      cast<GraphOpInterface>(op), *def, std::nullopt, values, unsupported);
  EXPECT_NE(err.find("field 'kind' = 'gelu' is not one of silu, gelu_tanh"),
            std::string::npos)
      << err;
}

TEST_F(OpSemanticsTest, UnsupportedFeaturesAreNamed) {
  Operation *op = parseOp(R"mlir(
    func.func @f(%q: tensor<?x8xf32>, %k: tensor<?x4xf32>, %v: tensor<?x4xf32>,
                 %p: tensor<?xi32>) -> tensor<?x8xf32> {
      %r = lowbit.attention %q, %k, %v, %p {layer = 0 : i64, num_heads = 2 : i64,
          num_kv_heads = 1 : i64, head_dim = 4 : i64, sliding_window = 16 : i64}
          : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xi32>)
          -> tensor<?x8xf32>
      return %r : tensor<?x8xf32>
    })mlir");
  ASSERT_TRUE(op);
  const rtops::OpDef *def = ::lowbit::lookupOpDef(op);
  ASSERT_NE(def, nullptr);
  auto graphOp = cast<GraphOpInterface>(op);
  rtops::AttrValues values;
  std::string unsupported;
  EXPECT_EQ(::lowbit::getOpAttrValues(graphOp, *def, std::nullopt, values,
                                      unsupported),
            "");
  EXPECT_EQ(unsupported, "sliding-window attention");
  // A window as long as the context is full attention.
  unsupported.clear();
  EXPECT_EQ(::lowbit::getOpAttrValues(graphOp, *def, 16, values, unsupported),
            "");
  EXPECT_EQ(unsupported, "");
  EXPECT_EQ(values[size_t(def->attrIndex("num_heads"))].i, 2);
}

/// The reference implementation through OpCall: bindings in the table's
/// order, a short binding reported by index and role.
TEST(OpTable, ReferenceImplementationChecksBindings) {
  const rtops::OpDef *add = rtops::opByName("add");
  ASSERT_NE(add, nullptr);
  float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40}, out[4] = {};
  lowbit_hal_op_desc desc{};
  desc.kind = LOWBIT_HAL_OP_ADD;
  desc.cols = 2;
  lowbit_hal_binding bind[3] = {};
  rtops::HostMemory memory[3];
  float *ptrs[3] = {a, b, out};
  rtops::OpCall call;
  for (int i = 0; i < 3; ++i) {
    memory[i].data = reinterpret_cast<uint8_t *>(ptrs[i]);
    memory[i].size = sizeof(a);
    bind[i].buffer = reinterpret_cast<lowbit_hal_buffer *>(&memory[i]);
    bind[i].length = sizeof(a);
  }
  call.desc = &desc;
  call.rows = 2;
  call.bind = bind;
  ASSERT_TRUE(add->reference(call)) << call.error;
  EXPECT_EQ(out[0], 11.0f);
  EXPECT_EQ(out[3], 44.0f);

  bind[1].length = 8;
  rtops::OpCall shortCall = call;
  shortCall.error.clear();
  EXPECT_FALSE(add->reference(shortCall));
  EXPECT_NE(shortCall.error.find("binding 1 (second input)"), std::string::npos)
      << shortCall.error;
}

} // namespace
