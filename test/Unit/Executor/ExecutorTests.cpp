//===- ExecutorTests.cpp - reference executor vs golden outputs -*- C++ -*-===//

#include "lowbit/Executor/Executor.h"
#include "lowbit/Executor/ModelLoader.h"
#include "lowbit/Support/Safetensors.h"
#include "lowbitrt/Kernels.h"

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>

using namespace lowbit;

namespace {

std::string modelDir() {
  const char *root = std::getenv("LOWBIT_SHARED_MODELS");
  if (!root)
    return "";
  std::string dir = std::string(root) + "/stories260k";
  return llvm::sys::fs::is_directory(dir) ? dir : "";
}

#define REQUIRE_MODEL()                                                        \
  std::string dir = modelDir();                                                \
  if (dir.empty())                                                             \
    GTEST_SKIP() << "stories260k not found (set LOWBIT_SHARED_MODELS to the "  \
                    "shared/models directory)";

std::vector<int32_t> positions(size_t n, int32_t start = 0) {
  std::vector<int32_t> pos(n);
  for (size_t i = 0; i < n; ++i)
    pos[i] = start + static_cast<int32_t>(i);
  return pos;
}

struct Golden {
  std::vector<int32_t> tokens;
  std::vector<float> logits;
};

Golden readGolden(const std::string &path) {
  Golden g;
  auto file = SafetensorsFile::open(path);
  EXPECT_TRUE(bool(file)) << (file ? "" : llvm::toString(file.takeError()));
  if (!file)
    return g;
  const TensorView *tokens = (*file)->lookup("tokens");
  const TensorView *logits = (*file)->lookup("logits");
  EXPECT_TRUE(tokens && logits);
  g.tokens.resize(tokens->numel());
  std::memcpy(g.tokens.data(), tokens->data, tokens->nbytes);
  auto values = toF32(*logits);
  EXPECT_TRUE(bool(values));
  g.logits = *values;
  return g;
}

class ExecutorGoldenTest : public ::testing::TestWithParam<const char *> {};

TEST_P(ExecutorGoldenTest, MatchesGoldenLogits) {
  REQUIRE_MODEL();
  Golden g = readGolden(dir + "/golden/" + GetParam() + ".safetensors");
  ASSERT_FALSE(g.tokens.empty());
  auto model = loadModel(dir);
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  auto exec = Executor::create(*model->module);
  ASSERT_TRUE(bool(exec)) << llvm::toString(exec.takeError());
  std::vector<float> logits;
  ASSERT_FALSE(
      bool((*exec)->forward(g.tokens, positions(g.tokens.size()), logits)));
  ASSERT_EQ(logits.size(), g.logits.size());
  double maxDiff = 0;
  for (size_t i = 0; i < logits.size(); ++i)
    maxDiff = std::max(maxDiff, std::abs(double(logits[i]) - g.logits[i]));
  EXPECT_LE(maxDiff, 1e-4) << GetParam();
  RecordProperty("max_abs_diff", std::to_string(maxDiff));
}

INSTANTIATE_TEST_SUITE_P(Stories260k, ExecutorGoldenTest,
                         ::testing::Values("golden_short_prompt",
                                           "golden_mixed_bytes",
                                           "golden_eval_window0"));

TEST(ExecutorTest, IncrementalDecodeEqualsFullSequence) {
  REQUIRE_MODEL();
  Golden g = readGolden(dir + "/golden/golden_mixed_bytes.safetensors");
  auto model = loadModel(dir);
  ASSERT_TRUE(bool(model));
  auto exec = Executor::create(*model->module);
  ASSERT_TRUE(bool(exec));
  std::vector<float> full, step;
  ASSERT_FALSE(
      bool((*exec)->forward(g.tokens, positions(g.tokens.size()), full)));
  (*exec)->reset();
  int64_t v = (*exec)->vocabSize();
  // A prefill of the first 5 tokens, then one token at a time.
  size_t prefill = 5;
  ASSERT_FALSE(bool(
      (*exec)->forward(llvm::ArrayRef<int32_t>(g.tokens).take_front(prefill),
                       positions(prefill), step)));
  double maxDiff = 0;
  for (size_t i = 0; i < prefill * v; ++i)
    maxDiff = std::max(maxDiff, std::abs(double(step[i]) - full[i]));
  for (size_t t = prefill; t < g.tokens.size(); ++t) {
    ASSERT_FALSE(
        bool((*exec)->forward({g.tokens[t]}, {static_cast<int32_t>(t)}, step)));
    for (int64_t j = 0; j < v; ++j)
      maxDiff = std::max(maxDiff, std::abs(double(step[j]) - full[t * v + j]));
  }
  // Not bit-exact: BLAS takes a GEMV path for one token and a GEMM path for
  // many, which round differently (observed ~1.4e-5 on logits of magnitude
  // ~10).
  EXPECT_LE(maxDiff, 5e-5);
}

TEST(ExecutorTest, GreedyFromBosReproducesGolden) {
  REQUIRE_MODEL();
  auto buffer =
      llvm::MemoryBuffer::getFile(dir + "/golden/greedy_from_bos.json");
  ASSERT_TRUE(bool(buffer));
  auto json = llvm::json::parse((*buffer)->getBuffer());
  ASSERT_TRUE(bool(json));
  const llvm::json::Array *expected = json->getAsObject()->getArray("tokens");
  ASSERT_TRUE(expected && expected->size() > 1);

  auto model = loadModel(dir);
  ASSERT_TRUE(bool(model));
  auto exec = Executor::create(*model->module);
  ASSERT_TRUE(bool(exec));
  int64_t v = (*exec)->vocabSize();
  std::vector<int32_t> generated = {
      static_cast<int32_t>(*(*expected)[0].getAsInteger())};
  std::vector<float> logits;
  while (generated.size() < expected->size()) {
    int32_t pos = static_cast<int32_t>(generated.size() - 1);
    ASSERT_FALSE(bool((*exec)->forward({generated.back()}, {pos}, logits)));
    generated.push_back(rt::kernels::argmax(logits.data(), v));
  }
  for (size_t i = 0; i < expected->size(); ++i)
    ASSERT_EQ(generated[i], *(*expected)[i].getAsInteger()) << "at " << i;
}

TEST(ExecutorTest, PositionOutsideContextIsAnError) {
  REQUIRE_MODEL();
  auto model = loadModel(dir);
  ASSERT_TRUE(bool(model));
  ExecutorOptions options;
  options.maxContext = 8;
  auto exec = Executor::create(*model->module, options);
  ASSERT_TRUE(bool(exec));
  std::vector<float> logits;
  llvm::Error err = (*exec)->forward({1}, {8}, logits);
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("outside the context"),
            std::string::npos);
  // An out-of-vocabulary token names the embedding op.
  err = (*exec)->forward({100000}, {0}, logits);
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("model.embed_tokens"),
            std::string::npos);
}

/// A decoder block run in parts (start / resume) computes what one run()
/// computes, bit for bit, and picks up weight ops replaced between parts.
TEST(ExecutorTest, RunInPartsEqualsOneRun) {
  REQUIRE_MODEL();
  auto model = loadModel(dir);
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  mlir::ModuleOp module = *model->module;
  auto exec = Executor::create(module);
  ASSERT_TRUE(bool(exec)) << llvm::toString(exec.takeError());
  mlir::func::FuncOp entry = (*exec)->entry();
  auto calls = entry.getOps<mlir::func::CallOp>();
  ASSERT_FALSE(calls.empty());
  mlir::func::CallOp call = *calls.begin();
  auto block = module.lookupSymbol<mlir::func::FuncOp>(call.getCallee());
  ASSERT_TRUE(block);

  std::vector<int32_t> ids = {1, 403, 407, 261, 378, 11, 260, 493};
  Tensor tok = Tensor::ints({8}, ids), pos = Tensor::ints({8}, positions(8));
  llvm::SmallVector<Tensor> args;
  (*exec)->reset();
  ASSERT_FALSE(bool((*exec)->runUntil(entry, {tok, pos}, call, args)));

  // The block's linears, in program order: q k v o gate up down.
  std::vector<mlir::lowbit::LinearOp> linears(
      block.getOps<mlir::lowbit::LinearOp>().begin(),
      block.getOps<mlir::lowbit::LinearOp>().end());
  ASSERT_EQ(linears.size(), 7u);
  auto runWhole = [&](llvm::SmallVector<Tensor> &out) {
    (*exec)->reset();
    return (*exec)->run(block, args, out);
  };
  llvm::SmallVector<Tensor> whole;
  ASSERT_FALSE(bool(runWhole(whole)));

  auto part = (*exec)->start(block, args);
  ASSERT_TRUE(bool(part)) << llvm::toString(part.takeError());
  for (int stopAt : {3, 4, 6}) {
    mlir::Operation *stop = linears[stopAt];
    llvm::SmallVector<Tensor> expected;
    (*exec)->reset();
    ASSERT_FALSE(bool((*exec)->runUntil(block, args, stop, expected)));
    (*exec)->reset();
    ASSERT_FALSE(bool((*exec)->resume(*part, stop)));
    Tensor input = part->values.lookup(linears[stopAt].getInput());
    ASSERT_TRUE(input.f);
    EXPECT_EQ(*input.f, *expected[0].f) << "input of linear " << stopAt;
    // Only what the rest reads is kept: no weights, nothing before.
    EXPECT_FALSE(part->values.count(linears[0].getResult()));
    EXPECT_FALSE(part->values.count(linears[stopAt].getWeight()));
  }
  // Resuming at a point already passed is an error, not a silent rerun.
  EXPECT_TRUE(bool(llvm::errorToBool((*exec)->resume(*part, linears[4]))));

  // A run cannot stop at a weight op (passes may replace those).
  mlir::Operation *oldWeight = linears[6].getWeight().getDefiningOp();
  auto fresh = (*exec)->start(block, args);
  ASSERT_TRUE(bool(fresh));
  llvm::Error atWeight = (*exec)->resume(*fresh, oldWeight);
  ASSERT_TRUE(bool(atWeight));
  EXPECT_NE(llvm::toString(std::move(atWeight)).find("defines a weight"),
            std::string::npos);

  // Replace down_proj's weight op as quantizing it would (a new op before
  // the resume point, the old one erased), here by the next block's
  // down_proj weight (same shape, other values): the rest of the run
  // computes the new op and equals one run of the rewritten block.
  auto nextBlock = module.lookupSymbol<mlir::func::FuncOp>(
      (*std::next(calls.begin())).getCallee());
  ASSERT_TRUE(nextBlock);
  std::vector<mlir::lowbit::LinearOp> nextLinears(
      nextBlock.getOps<mlir::lowbit::LinearOp>().begin(),
      nextBlock.getOps<mlir::lowbit::LinearOp>().end());
  mlir::Operation *otherWeight = nextLinears.back().getWeight().getDefiningOp();
  mlir::OpBuilder b(linears[6]);
  mlir::Operation *newWeight = b.clone(*otherWeight);
  oldWeight->getResult(0).replaceAllUsesWith(newWeight->getResult(0));
  (*exec)->forgetWeight(oldWeight);
  oldWeight->erase();
  llvm::SmallVector<Tensor> parts;
  (*exec)->reset();
  ASSERT_FALSE(bool((*exec)->resume(*part, nullptr, &parts)));
  EXPECT_TRUE(part->finished);
  llvm::SmallVector<Tensor> rewritten;
  ASSERT_FALSE(bool(runWhole(rewritten)));
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(*parts[0].f, *rewritten[0].f);
  EXPECT_NE(*parts[0].f, *whole[0].f) << "the new weight was not used";
  // A finished run does not resume.
  EXPECT_TRUE(llvm::errorToBool((*exec)->resume(*part, nullptr)));
}

/// An op other than a weight that the rest of a paused run needs again is
/// an error (the run keeps only what it reads; it recomputes weights only).
TEST(ExecutorTest, RunInPartsRejectsChangedNonWeightOps) {
  REQUIRE_MODEL();
  auto model = loadModel(dir);
  ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
  mlir::ModuleOp module = *model->module;
  auto exec = Executor::create(module);
  ASSERT_TRUE(bool(exec));
  mlir::func::FuncOp entry = (*exec)->entry();
  mlir::func::CallOp call = *entry.getOps<mlir::func::CallOp>().begin();
  auto block = module.lookupSymbol<mlir::func::FuncOp>(call.getCallee());
  std::vector<int32_t> ids = {1, 403, 407, 261};
  llvm::SmallVector<Tensor> args;
  ASSERT_FALSE(bool((*exec)->runUntil(
      entry, {Tensor::ints({4}, ids), Tensor::ints({4}, positions(4))}, call,
      args)));
  std::vector<mlir::lowbit::LinearOp> linears(
      block.getOps<mlir::lowbit::LinearOp>().begin(),
      block.getOps<mlir::lowbit::LinearOp>().end());
  auto part = (*exec)->start(block, args);
  ASSERT_TRUE(bool(part));
  ASSERT_FALSE(bool((*exec)->resume(*part, linears[4]))); // gate_proj
  // Make up_proj read q_proj's output, computed and dropped before.
  linears[5].getInputMutable().assign(linears[0].getResult());
  llvm::Error err = (*exec)->resume(*part, nullptr);
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("only weights are recomputed"),
            std::string::npos);
  EXPECT_TRUE(part->finished);
}

/// ExecutorOptions::floatAccumulation computes attention in float
/// (kernels::attentionF32): within float rounding of the double reference,
/// and not the same bits.
TEST(ExecutorTest, FloatAccumulationAgreesWithTheReference) {
  REQUIRE_MODEL();
  auto model = loadModel(dir);
  ASSERT_TRUE(bool(model));
  Golden g = readGolden(dir + "/golden/golden_eval_window0.safetensors");
  ASSERT_FALSE(g.tokens.empty());
  ExecutorOptions fast;
  fast.floatAccumulation = true;
  auto ref = Executor::create(*model->module);
  auto flt = Executor::create(*model->module, fast);
  ASSERT_TRUE(bool(ref) && bool(flt));
  std::vector<float> a, b;
  ASSERT_FALSE(bool((*ref)->forward(g.tokens, positions(g.tokens.size()), a)));
  ASSERT_FALSE(bool((*flt)->forward(g.tokens, positions(g.tokens.size()), b)));
  ASSERT_EQ(a.size(), b.size());
  double maxDiff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    maxDiff = std::max(maxDiff, double(std::fabs(a[i] - b[i])));
  EXPECT_LT(maxDiff, 1e-4);
  EXPECT_GT(maxDiff, 0.0) << "the float path was not taken";
}

//===----------------------------------------------------------------------===//
// Quantized parameters on a tiny inline model (no shared files needed)
//===----------------------------------------------------------------------===//

/// A one-linear "model" whose weight is an inline quantized parameter, so the
/// executor's dequantization (groups, ragged tail, zeros, act-order) is
/// checked against the scheme's formula computed here.
TEST(ExecutorTest, DequantizesInlineQuantizedWeights) {
  const char *ir = R"mlir(
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x2xf32> {
    %t = lowbit.param "emb" {value = dense<[[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]]> : tensor<5x5xf32>} : tensor<5x5xf32>
    %h = lowbit.embedding %t, %ids : (tensor<5x5xf32>, tensor<?xi32>) -> tensor<?x5xf32>
    %q = lowbit.qparam "w" {codes = dense<[[0, 1, 2, 3, 15], [4, 5, 6, 7, 8]]> : tensor<2x5xui4>, scales = dense<[[0.5, 0.25, 2.0], [1.0, 0.125, 4.0]]> : tensor<2x3xf32>, zeros = dense<[[1, 2, 3], [4, 5, 6]]> : tensor<2x3xui8>, perm = dense<[4, 3, 2, 1, 0]> : tensor<5xi32>} : !lowbit.qweight<2x5, #lowbit.scheme<bits = 4, group_size = 2, symmetric = false, scale_type = f32, zero_type = ui8, act_order = true>>
    %y = lowbit.qmatmul %h, %q : (tensor<?x5xf32>, !lowbit.qweight<2x5, #lowbit.scheme<bits = 4, group_size = 2, symmetric = false, scale_type = f32, zero_type = ui8, act_order = true>>) -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }
}
)mlir";
  mlir::MLIRContext ctx;
  ctx.loadDialect<mlir::lowbit::LowbitDialect, mlir::func::FuncDialect>();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(ir, &ctx);
  ASSERT_TRUE(module);
  auto exec = Executor::create(*module);
  ASSERT_TRUE(bool(exec)) << llvm::toString(exec.takeError());
  // One-hot rows select weight columns: logits[t][n] = W[n][t].
  std::vector<float> logits;
  ASSERT_FALSE(bool((*exec)->forward({0, 1, 2, 3, 4}, positions(5), logits)));
  int codes[2][5] = {{0, 1, 2, 3, 15}, {4, 5, 6, 7, 8}};
  float scales[2][3] = {{0.5f, 0.25f, 2.0f}, {1.0f, 0.125f, 4.0f}};
  int zeros[2][3] = {{1, 2, 3}, {4, 5, 6}};
  int perm[5] = {4, 3, 2, 1, 0};
  for (int n = 0; n < 2; ++n)
    for (int j = 0; j < 5; ++j) {
      int k = perm[j], g = j / 2; // column k is the j-th quantized
      float w = scales[n][g] * float(codes[n][k] - zeros[n][g]);
      EXPECT_FLOAT_EQ(logits[k * 2 + n], w) << "n=" << n << " k=" << k;
    }
}

/// zero_form = min (GGUF Q4_1): W = scale * q + min with f16 scales and
/// minimums, in that order, per group of 2 with a ragged last group.
TEST(ExecutorTest, DequantizesFloatMinimums) {
  const char *ir = R"mlir(
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x2xf32> {
    %t = lowbit.param "emb" {value = dense<[[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]]> : tensor<5x5xf32>} : tensor<5x5xf32>
    %h = lowbit.embedding %t, %ids : (tensor<5x5xf32>, tensor<?xi32>) -> tensor<?x5xf32>
    %q = lowbit.qparam "w" {codes = dense<[[0, 1, 2, 3, 15], [4, 5, 6, 7, 8]]> : tensor<2x5xui4>, scales = dense<[[0.5, 0.25, 2.0], [1.0, 0.125, 4.0]]> : tensor<2x3xf16>, zeros = dense<[[-1.5, 0.3, 7.0], [0.0, -0.0625, -100.0]]> : tensor<2x3xf16>} : !lowbit.qweight<2x5, #lowbit.scheme<bits = 4, group_size = 2, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>>
    %y = lowbit.qmatmul %h, %q : (tensor<?x5xf32>, !lowbit.qweight<2x5, #lowbit.scheme<bits = 4, group_size = 2, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>>) -> tensor<?x2xf32>
    return %y : tensor<?x2xf32>
  }
}
)mlir";
  mlir::MLIRContext ctx;
  ctx.loadDialect<mlir::lowbit::LowbitDialect, mlir::func::FuncDialect>();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(ir, &ctx);
  ASSERT_TRUE(module);
  auto exec = Executor::create(*module);
  ASSERT_TRUE(bool(exec)) << llvm::toString(exec.takeError());
  std::vector<float> logits;
  ASSERT_FALSE(bool((*exec)->forward({0, 1, 2, 3, 4}, positions(5), logits)));
  int codes[2][5] = {{0, 1, 2, 3, 15}, {4, 5, 6, 7, 8}};
  float scales[2][3] = {{0.5f, 0.25f, 2.0f}, {1.0f, 0.125f, 4.0f}};
  // The minimums as f16 stores them (0.3 is not a binary16 value).
  float mins[2][3] = {{-1.5f, 0.300048828125f, 7.0f},
                      {0.0f, -0.0625f, -100.0f}};
  for (int n = 0; n < 2; ++n)
    for (int k = 0; k < 5; ++k) {
      float product = scales[n][k / 2] * float(codes[n][k]);
      EXPECT_EQ(logits[k * 2 + n], product + mins[n][k / 2])
          << "n=" << n << " k=" << k;
    }
}

} // namespace
