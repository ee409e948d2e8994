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

#include "lowbitrt/Codec.h"

#include <cmath>
#include <random>
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

/// qembedding: the shape rule checks the packed table against its codec,
/// and the reference gathers rows exactly as the codec dequantizes them
/// (for x86-tile16, what the tied lm_head's qmatmul kernels compute).
TEST(OpTable, QuantizedEmbeddingGathersCodecRows) {
  const rtops::OpDef *def = rtops::opByName("qembedding");
  ASSERT_NE(def, nullptr);
  struct Case {
    const char *layout;
    bool symmetric, minZero;
    unsigned bits;
  };
  for (Case c : {Case{"x86-tile16-v1", false, false, 4},
                 Case{"x86-tile16-v1", true, false, 8},
                 Case{"x86-tile16-v1", false, true, 4},
                 Case{"gguf-q4_1-v1", false, true, 4},
                 Case{"plain-v1", false, false, 3}}) {
    SCOPED_TRACE(c.layout);
    const int64_t V = 40, D = 64; // V: two full 16-row tiles and a partial
    ::lowbit::codec::WeightDesc w;
    w.bits = c.bits;
    w.groupSize = 32;
    w.symmetric = c.symmetric;
    w.scaleType = ::lowbit::codec::ScaleType::F16;
    w.zeroKind = c.minZero ? ::lowbit::codec::ZeroKind::FloatMin
                           : ::lowbit::codec::ZeroKind::Integer;
    w.N = V;
    w.K = D;
    std::mt19937 rng(7);
    ::lowbit::codec::UnpackedWeight u;
    for (int64_t i = 0; i < V * D; ++i)
      u.codes.push_back(uint8_t(rng() % (1u << c.bits)));
    for (int64_t i = 0; i < V * 2; ++i) {
      u.scales.push_back(::lowbit::codec::halfToFloat(
          ::lowbit::codec::floatToHalf(0.01f + float(rng() % 100) * 1e-3f)));
      if (c.minZero)
        u.mins.push_back(::lowbit::codec::halfToFloat(
            ::lowbit::codec::floatToHalf(-float(rng() % 100) * 1e-2f)));
      else if (!c.symmetric)
        u.zeros.push_back(uint8_t(rng() % (1u << c.bits)));
    }
    const ::lowbit::codec::Codec *codec = ::lowbit::codec::findCodec(c.layout);
    ASSERT_NE(codec, nullptr);
    std::vector<uint8_t> packed;
    std::string error;
    ASSERT_TRUE(codec->encode(w, u, packed, &error)) << error;

    rtops::AttrValues attrs;
    auto setInt = [&](int i, int64_t v) {
      attrs[size_t(i)].present = true;
      attrs[size_t(i)].i = v;
    };
    setInt(0, V);
    setInt(1, D);
    setInt(2, c.bits);
    setInt(3, 32);
    attrs[4].present = true;
    attrs[4].b = c.symmetric;
    attrs[5].present = true;
    attrs[5].s = "f16";
    attrs[5].choice = 1;
    attrs[6].present = true;
    attrs[6].s = c.layout;
    if (c.minZero) {
      attrs[7].present = true;
      attrs[7].s = "min";
      attrs[7].choice = 1;
    }
    rtops::ShapeQuery q;
    q.attrs = &attrs;
    q.inCols[0] = 1;
    q.outCols = D;
    q.weights[0].present = true;
    q.weights[0].name = "lm_head.x86";
    q.weights[0].shape = {int64_t(packed.size())};
    q.weights[0].data = packed.data();
    q.weights[0].bytes = packed.size();
    q.desc.kind = def->kind;
    ASSERT_EQ(def->shape(q), "");
    EXPECT_EQ(q.wantOut, D);
    std::string layout = q.layout;
    q.desc.layout = layout.c_str();

    // Rows 0, 39 (the partial tile) and 17, gathered.
    int32_t ids[3] = {0, 39, 17};
    std::vector<float> out(3 * D, -1.0f);
    lowbit_hal_binding bind[3] = {};
    rtops::HostMemory memory[3];
    void *ptrs[3] = {packed.data(), ids, out.data()};
    uint64_t sizes[3] = {packed.size(), sizeof(ids), out.size() * 4};
    for (int i = 0; i < 3; ++i) {
      memory[i].data = static_cast<uint8_t *>(ptrs[i]);
      memory[i].size = sizes[i];
      bind[i].buffer = reinterpret_cast<lowbit_hal_buffer *>(&memory[i]);
      bind[i].length = sizes[i];
    }
    rtops::OpCall call;
    call.desc = &q.desc;
    call.rows = 3;
    call.bind = bind;
    ASSERT_TRUE(def->reference(call)) << call.error;
    std::vector<float> all(V * D);
    ASSERT_TRUE(codec->dequantizeRows(w, packed.data(), packed.size(), 0, V,
                                      all.data(), &error))
        << error;
    for (int t = 0; t < 3; ++t)
      for (int64_t k = 0; k < D; ++k)
        ASSERT_EQ(out[t * D + k], all[ids[t] * D + k])
            << "row " << ids[t] << " col " << k;
    // And the logical weight s * (q - z) (or s * q + m) within rounding:
    // x86-tile16 stores the offset -s * z in the scale type (f16 here).
    for (int64_t k = 0; k < D; ++k) {
      int64_t n = 39, g = k / 32;
      float s = u.scales[n * 2 + g];
      float z = c.minZero     ? 0.0f
                : c.symmetric ? float(1u << (c.bits - 1))
                              : float(u.zeros[n * 2 + g]);
      float want = c.minZero ? s * float(u.codes[n * D + k]) + u.mins[n * 2 + g]
                             : s * (float(u.codes[n * D + k]) - z);
      EXPECT_NEAR(out[D + k], want, 1e-6f + s * z * std::ldexp(1.0f, -11));
    }

    // A token outside the vocabulary is an error naming it.
    ids[1] = int32_t(V);
    call.error.clear();
    EXPECT_FALSE(def->reference(call));
    EXPECT_NE(call.error.find("token id 40 at position 1"), std::string::npos)
        << call.error;

    // A table of the wrong size, or an unknown codec, fails the shape rule.
    rtops::ShapeQuery bad = q;
    bad.desc = {};
    bad.weights[0].bytes = packed.size() - 1;
    EXPECT_NE(bad.weights[0].bytes, packed.size());
    std::string err = def->shape(bad);
    EXPECT_NE(err.find("bytes, codec"), std::string::npos) << err;
    attrs[6].s = "x86-tile17-v1";
    bad = q;
    bad.desc = {};
    err = def->shape(bad);
    EXPECT_NE(err.find("unknown weight codec 'x86-tile17-v1'"),
              std::string::npos)
        << err;
  }
}

} // namespace
