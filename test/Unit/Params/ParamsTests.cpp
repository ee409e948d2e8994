//===- ParamsTests.cpp - parameter scopes and their resolver ----*- C++ -*-===//
//
// The resolver opens each scope once per context: two quantization passes
// and the executor share one SafetensorsStore for the checkpoint, and the
// passes' outputs stay in memory for the next pass. A second context reads
// the saved outputs through the scopes the printed IR records.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Executor/Executor.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Support/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "gtest/gtest.h"

#include <cmath>
#include <fstream>

using namespace lowbit;

namespace {

TEST(ParamsTest, RelativePaths) {
  auto rel = makeRelativePath("/a/b/c.safetensors", "/a/d/e");
  ASSERT_TRUE(bool(rel)) << llvm::toString(rel.takeError());
  EXPECT_EQ(*rel, "../../b/c.safetensors");
  rel = makeRelativePath("/a/b", "/a/b");
  ASSERT_TRUE(bool(rel));
  EXPECT_EQ(*rel, ".");
  rel = makeRelativePath("/a/b/m", "/a/b");
  ASSERT_TRUE(bool(rel));
  EXPECT_EQ(*rel, "m");
}

TEST(ParamsTest, ScopeOverridesNeedNameAndPath) {
  ParamResolverConfig config;
  EXPECT_FALSE(bool(parseScopeOverrides({"checkpoint=/m"}, config)));
  EXPECT_EQ(config.overrides["checkpoint"], "/m");
  llvm::Error err = parseScopeOverrides({"checkpoint"}, config);
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("expected NAME=PATH"),
            std::string::npos);
}

/// A one-block model: embedding [16, 8] (tied lm_head), an attention-like
/// projection and an MLP projection, weights in `ckpt.safetensors`.
const char *kModel = R"mlir(
module attributes {lowbit.config = {max_position_embeddings = 64 : i64}, lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "ckpt.safetensors">}} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
    %t = lowbit.param "checkpoint"::"model.embed_tokens.weight" : tensor<16x8xf32>
    %h = lowbit.embedding %t, %ids : (tensor<16x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %o = call @layer0(%h, %pos) : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %l = lowbit.linear %o, %t : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
  func.func private @layer0(%h: tensor<?x8xf32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
    %w = lowbit.param "checkpoint"::"model.layers.0.self_attn.o_proj.weight" : tensor<8x8xf32>
    %a = lowbit.linear %h, %w : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
    %w2 = lowbit.param "checkpoint"::"model.layers.0.mlp.up_proj.weight" : tensor<8x8xf32>
    %m = lowbit.linear %a, %w2 : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
    %r = lowbit.add %h, %m : tensor<?x8xf32>
    return %r : tensor<?x8xf32>
  }
}
)mlir";

class ScopesTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("lowbit-params", dir));
    std::vector<OwnedTensor> tensors;
    auto add = [&](const char *name, int64_t n, int64_t k, float seed) {
      std::vector<float> v(n * k);
      for (int64_t i = 0; i < n * k; ++i)
        v[i] = std::sin(seed + 0.37f * static_cast<float>(i));
      tensors.push_back(OwnedTensor::fromF32(name, {n, k}, v));
    };
    add("model.embed_tokens.weight", 16, 8, 0.1f);
    add("model.layers.0.self_attn.o_proj.weight", 8, 8, 0.7f);
    add("model.layers.0.mlp.up_proj.weight", 8, 8, 1.3f);
    ASSERT_FALSE(bool(writeSafetensors(path("ckpt.safetensors"), tensors, {})));
    std::ofstream calib(path("calib.bin"), std::ios::binary);
    for (int32_t i = 0; i < 64; ++i) {
      int32_t t = (7 * i + 3) % 16;
      calib.write(reinterpret_cast<const char *>(&t), 4);
    }
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string path(llvm::StringRef name) const {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }

  /// A context with the lowbit dialect whose resolver is relative to dir.
  std::unique_ptr<mlir::MLIRContext> makeContext() {
    auto ctx = std::make_unique<mlir::MLIRContext>();
    ctx->loadDialect<mlir::lowbit::LowbitDialect, mlir::func::FuncDialect>();
    ParamResolverConfig config;
    config.baseDir = std::string(dir);
    ParamResolver::get(ctx.get()).configure(config);
    return ctx;
  }

  /// RTN on the MLP, then GPTQ on the rest.
  mlir::LogicalResult quantize(mlir::ModuleOp module, bool write) {
    mlir::PassManager pm(module.getContext());
    mlir::lowbit::LowbitRtnQuantizeOptions rtn;
    rtn.bits = 4;
    rtn.groupSize = 4;
    rtn.only = "mlp\\.";
    rtn.outputParams = "q-rtn.safetensors";
    rtn.writeParams = write;
    pm.addPass(mlir::lowbit::createLowbitRtnQuantize(rtn));
    mlir::lowbit::LowbitGptqQuantizeOptions gptq;
    gptq.bits = 4;
    gptq.groupSize = 4;
    gptq.calib = path("calib.bin");
    gptq.seqLen = 8;
    gptq.numSamples = 0;
    gptq.outputParams = "q-gptq.safetensors";
    gptq.writeParams = write;
    pm.addPass(mlir::lowbit::createLowbitGptqQuantize(gptq));
    return pm.run(module);
  }

  std::vector<float> run(mlir::ModuleOp module) {
    auto exec = Executor::create(module);
    EXPECT_TRUE(bool(exec)) << llvm::toString(exec.takeError());
    std::vector<float> logits;
    EXPECT_FALSE(bool((*exec)->forward({1, 5, 9, 2}, {0, 1, 2, 3}, logits)));
    return logits;
  }

  llvm::SmallString<128> dir;
};

TEST_F(ScopesTest, CheckpointOpenedOnceForTwoPassesAndExecutor) {
  auto ctx = makeContext();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(kModel, ctx.get());
  ASSERT_TRUE(module);
  ASSERT_TRUE(mlir::succeeded(quantize(*module, /*write=*/false)));
  std::vector<float> logits = run(*module);
  ASSERT_EQ(logits.size(), 4u * 16u);
  ParamResolver &resolver = ParamResolver::get(ctx.get());
  // Only the checkpoint came from disk; both output scopes are in memory.
  EXPECT_EQ(resolver.getNumOpened(), 1u);
  auto *rtn = resolver.getOutputScope(*module, "rtn");
  auto *gptq = resolver.getOutputScope(*module, "gptq");
  ASSERT_TRUE(rtn && gptq);
  EXPECT_TRUE(rtn->store.contains("model.layers.0.mlp.up_proj.qcodes"));
  EXPECT_FALSE(rtn->store.contains("model.layers.0.self_attn.o_proj.qcodes"));
  EXPECT_TRUE(gptq->store.contains("model.layers.0.self_attn.o_proj.qcodes"));
  EXPECT_FALSE(gptq->store.contains("model.layers.0.mlp.up_proj.qcodes"));
  EXPECT_FALSE(llvm::sys::fs::exists(path("q-rtn.safetensors")));
}

TEST_F(ScopesTest, SavedScopesAreFoundThroughThePrintedIR) {
  std::string printed;
  std::vector<float> expected;
  {
    auto ctx = makeContext();
    auto module = mlir::parseSourceString<mlir::ModuleOp>(kModel, ctx.get());
    ASSERT_TRUE(module);
    ASSERT_TRUE(mlir::succeeded(quantize(*module, /*write=*/true)));
    expected = run(*module);
    llvm::raw_string_ostream os(printed);
    module->print(os);
  }
  EXPECT_TRUE(llvm::sys::fs::exists(path("q-rtn.safetensors")));
  EXPECT_TRUE(llvm::sys::fs::exists(path("q-gptq.safetensors")));
  EXPECT_NE(printed.find("rtn = #lowbit.scope<\"safetensors\", "
                         "\"q-rtn.safetensors\">"),
            std::string::npos)
      << printed;
  auto ctx = makeContext();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(printed, ctx.get());
  ASSERT_TRUE(module);
  EXPECT_EQ(run(*module), expected);
  // checkpoint (the embedding), rtn and gptq.
  EXPECT_EQ(ParamResolver::get(ctx.get()).getNumOpened(), 3u);
}

TEST_F(ScopesTest, OverrideReplacesTheRecordedPath) {
  auto ctx = makeContext();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(kModel, ctx.get());
  ASSERT_TRUE(module);
  ASSERT_TRUE(llvm::sys::fs::create_directory(path("moved")) ==
              std::error_code());
  ASSERT_FALSE(llvm::sys::fs::rename(path("ckpt.safetensors"),
                                     path("moved/ckpt.safetensors")));
  ParamResolver &resolver = ParamResolver::get(ctx.get());
  auto missing = resolver.lookup(*module, "checkpoint", "lm_head.weight");
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(llvm::toString(missing.takeError())
                .find("parameter scope 'checkpoint': "),
            std::string::npos);
  ParamResolverConfig config = resolver.getConfig();
  config.overrides["checkpoint"] = path("moved/ckpt.safetensors");
  resolver.configure(config);
  auto found =
      resolver.lookup(*module, "checkpoint", "model.embed_tokens.weight");
  ASSERT_TRUE(bool(found)) << llvm::toString(found.takeError());
  auto absent = resolver.lookup(*module, "checkpoint", "lm_head.weight");
  ASSERT_FALSE(bool(absent));
  EXPECT_EQ(llvm::toString(absent.takeError()),
            "tensor 'lm_head.weight' is not in parameter scope 'checkpoint' "
            "(ckpt.safetensors)");
}

/// Writes a one-layer llama GGUF (hidden 32, vocabulary 4) holding only
/// token_embd.weight as Q8_0: row r has scale r + 1 and codes j - 16 + r.
void writeTinyGguf(const std::string &file) {
  std::string b;
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i)
      b.push_back(char(v >> (8 * i)));
  };
  auto u64 = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i)
      b.push_back(char(v >> (8 * i)));
  };
  auto str = [&](llvm::StringRef s) {
    u64(s.size());
    b += s.str();
  };
  const std::pair<const char *, uint32_t> kv[] = {
      {"llama.embedding_length", 32}, {"llama.feed_forward_length", 64},
      {"llama.block_count", 1},       {"llama.attention.head_count", 2},
      {"llama.context_length", 16},   {"llama.vocab_size", 4}};
  b += "GGUF";
  u32(3);
  u64(1);
  u64(1 + std::size(kv));
  str("general.architecture");
  u32(8);
  str("llama");
  for (auto [key, value] : kv) {
    str(key);
    u32(4);
    u32(value);
  }
  str("token_embd.weight");
  u32(2);
  u64(32);
  u64(4);
  u32(8); // Q8_0
  u64(0);
  while (b.size() % 32)
    b.push_back('\0');
  const uint16_t halves[] = {0x3c00, 0x4000, 0x4200, 0x4400}; // 1, 2, 3, 4
  for (int r = 0; r < 4; ++r) {
    b.push_back(char(halves[r] & 0xff));
    b.push_back(char(halves[r] >> 8));
    for (int j = 0; j < 32; ++j)
      b.push_back(char(int8_t(j - 16 + r)));
  }
  std::ofstream(file, std::ios::binary) << b;
}

TEST_F(ScopesTest, GgufScopeServesDequantizedTensors) {
  writeTinyGguf(path("m.gguf"));
  auto ctx = makeContext();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(
      R"mlir(module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"gguf", "m.gguf">}} {})mlir",
      ctx.get());
  ASSERT_TRUE(module);
  ParamResolver &resolver = ParamResolver::get(ctx.get());
  auto embed =
      resolver.lookup(*module, "checkpoint", "model.embed_tokens.weight");
  ASSERT_TRUE(bool(embed)) << llvm::toString(embed.takeError());
  EXPECT_EQ((*embed)->dtype, DType::F32);
  EXPECT_EQ((*embed)->shape, (std::vector<int64_t>{4, 32}));
  auto values = toF32(**embed);
  ASSERT_TRUE(bool(values)) << llvm::toString(values.takeError());
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 32; ++j)
      ASSERT_EQ((*values)[r * 32 + j], float((j - 16 + r) * (r + 1)))
          << r << ", " << j;
  // GGUF names are not served; the error names the scope's file.
  auto raw = resolver.lookup(*module, "checkpoint", "token_embd.weight");
  ASSERT_FALSE(bool(raw));
  EXPECT_EQ(llvm::toString(raw.takeError()),
            "tensor 'token_embd.weight' is not in parameter scope "
            "'checkpoint' (m.gguf)");

  // The recorded format decides, even when the path is overridden; a GGUF
  // that is not a model the store understands is an error naming the file.
  std::ofstream(path("bad.gguf"), std::ios::binary)
      << std::string("GGUF\3\0\0\0", 8) << std::string(16, '\0');
  ParamResolverConfig config = resolver.getConfig();
  config.overrides["checkpoint"] = path("bad.gguf");
  resolver.configure(config);
  auto bad = resolver.lookup(*module, "checkpoint", "model.norm.weight");
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "parameter scope 'checkpoint': " + path("bad.gguf") +
                ": missing metadata key 'general.architecture'");
}

} // namespace
