//===- HFImporter.cpp - Hugging Face checkpoint importer --------*- C++ -*-===//

#include "lowbit/Import/HFImporter.h"

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Support/ParamStore.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;

namespace lowbit {

namespace {

/// Emits the ops of one model into a module.
class ModelBuilder {
public:
  ModelBuilder(MLIRContext *ctx, const ModelConfig &config)
      : ctx(ctx), config(config), b(ctx), f32(b.getF32Type()),
        i32(b.getI32Type()) {}

  OwningOpRef<ModuleOp> build(StringRef checkpointPath, StringRef scopeFormat,
                              StringRef tokenizer);

private:
  /// `[?, width]` activations.
  RankedTensorType act(int64_t width) {
    return RankedTensorType::get({ShapedType::kDynamic, width}, f32);
  }
  Location loc(StringRef name) { return NameLoc::get(b.getStringAttr(name)); }
  Value param(StringRef name, ArrayRef<int64_t> shape) {
    return mlir::lowbit::ParamOp::create(
        b, loc(name), RankedTensorType::get(shape, f32),
        b.getStringAttr(mlir::lowbit::kCheckpointScope), b.getStringAttr(name),
        ElementsAttr());
  }
  Value linear(Value x, StringRef prefix, int64_t out, int64_t in,
               bool hasBias) {
    Value w = param((prefix + ".weight").str(), {out, in});
    Value bias = hasBias ? param((prefix + ".bias").str(), {out}) : Value();
    return mlir::lowbit::LinearOp::create(b, loc(prefix), act(out), x, w, bias);
  }
  Value rmsNorm(Value x, StringRef name) {
    Value w = param((name + ".weight").str(), {config.hiddenSize});
    return mlir::lowbit::RMSNormOp::create(
        b, loc(name), x.getType(), x, w,
        b.getF32FloatAttr(static_cast<float>(config.rmsNormEps)));
  }
  func::FuncOp buildLayer(ModuleOp module, int64_t layer);
  DictionaryAttr configAttr();

  MLIRContext *ctx;
  const ModelConfig &config;
  OpBuilder b;
  Type f32, i32;
};

} // namespace

DictionaryAttr ModelBuilder::configAttr() {
  SmallVector<NamedAttribute> entries;
  auto addInt = [&](StringRef key, int64_t value) {
    entries.push_back(b.getNamedAttr(key, b.getI64IntegerAttr(value)));
  };
  entries.push_back(
      b.getNamedAttr("architecture", b.getStringAttr(config.architecture)));
  addInt("hidden_size", config.hiddenSize);
  addInt("intermediate_size", config.intermediateSize);
  addInt("num_hidden_layers", config.numLayers);
  addInt("num_attention_heads", config.numHeads);
  addInt("num_key_value_heads", config.numKVHeads);
  addInt("head_dim", config.headDim);
  addInt("vocab_size", config.vocabSize);
  addInt("max_position_embeddings", config.maxPositions);
  addInt("bos_token_id", config.bosId);
  addInt("eos_token_id", config.eosId);
  entries.push_back(b.getNamedAttr("tie_word_embeddings",
                                   b.getBoolAttr(config.tieWordEmbeddings)));
  return b.getDictionaryAttr(entries);
}

func::FuncOp ModelBuilder::buildLayer(ModuleOp module, int64_t layer) {
  std::string prefix = "model.layers." + std::to_string(layer);
  int64_t hidden = config.hiddenSize, inter = config.intermediateSize;
  int64_t headDim = config.headDim;
  int64_t qWidth = config.numHeads * headDim;
  int64_t kvWidth = config.numKVHeads * headDim;
  auto posType = RankedTensorType::get({ShapedType::kDynamic}, i32);

  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(
      b, loc(prefix), "layer" + std::to_string(layer),
      b.getFunctionType({act(hidden), posType}, {act(hidden)}));
  fn.setPrivate();
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value h = body->getArgument(0), pos = body->getArgument(1);

  std::string attn = prefix + ".self_attn";
  Value x = rmsNorm(h, prefix + ".input_layernorm");
  Value q = linear(x, attn + ".q_proj", qWidth, hidden, config.attentionBias);
  Value k = linear(x, attn + ".k_proj", kvWidth, hidden, config.attentionBias);
  Value v = linear(x, attn + ".v_proj", kvWidth, hidden, config.attentionBias);
  auto rotary = [&](Value t, StringRef what) -> Value {
    return mlir::lowbit::RotaryOp::create(
        b, loc(attn + "." + what.str()), t.getType(),
        mlir::lowbit::RotaryStyleAttr::get(
            ctx, mlir::lowbit::RotaryStyle::RotateHalf),
        t, pos, b.getI64IntegerAttr(headDim),
        b.getF64FloatAttr(config.ropeTheta));
  };
  q = rotary(q, "rotary_q");
  k = rotary(k, "rotary_k");
  auto attnOp = mlir::lowbit::AttentionOp::create(
      b, loc(attn), act(qWidth), q, k, v, pos, layer, config.numHeads,
      config.numKVHeads, headDim, /*scale=*/nullptr,
      config.slidingWindow > 0 ? b.getI64IntegerAttr(config.slidingWindow)
                               : IntegerAttr());
  Value o =
      linear(attnOp, attn + ".o_proj", hidden, qWidth, config.outputProjBias);
  Value h1 = mlir::lowbit::AddOp::create(b, loc(prefix + ".residual1"),
                                         h.getType(), h, o);

  std::string mlp = prefix + ".mlp";
  Value x2 = rmsNorm(h1, prefix + ".post_attention_layernorm");
  Value gate = linear(x2, mlp + ".gate_proj", inter, hidden, config.mlpBias);
  Value up = linear(x2, mlp + ".up_proj", inter, hidden, config.mlpBias);
  Value act = mlir::lowbit::GatedActOp::create(
      b, loc(mlp + ".act"), gate.getType(),
      mlir::lowbit::GatedActKindAttr::get(ctx,
                                          mlir::lowbit::GatedActKind::Silu),
      gate, up);
  Value down = linear(act, mlp + ".down_proj", hidden, inter, config.mlpBias);
  Value h2 = mlir::lowbit::AddOp::create(b, loc(prefix + ".residual2"),
                                         h.getType(), h1, down);
  func::ReturnOp::create(b, loc(prefix), h2);
  return fn;
}

OwningOpRef<ModuleOp> ModelBuilder::build(StringRef checkpointPath,
                                          StringRef scopeFormat,
                                          StringRef tokenizer) {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc("model"));
  (*module)->setAttr(attrs::kConfig, configAttr());
  (*module)->setAttr(
      mlir::lowbit::kParameterScopesAttrName,
      b.getDictionaryAttr(b.getNamedAttr(
          mlir::lowbit::kCheckpointScope,
          mlir::lowbit::ScopeAttr::get(ctx, scopeFormat, checkpointPath))));
  if (!tokenizer.empty())
    (*module)->setAttr(attrs::kTokenizer, b.getStringAttr(tokenizer));

  SmallVector<func::FuncOp> layers;
  for (int64_t i = 0; i < config.numLayers; ++i)
    layers.push_back(buildLayer(*module, i));

  auto ids = RankedTensorType::get({ShapedType::kDynamic}, i32);
  auto logitsType = act(config.vocabSize);
  b.setInsertionPointToStart(module->getBody());
  auto fn = func::FuncOp::create(b, loc("model"), attrs::kEntry,
                                 b.getFunctionType({ids, ids}, {logitsType}));
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value tokens = body->getArgument(0), pos = body->getArgument(1);
  Value table =
      param("model.embed_tokens.weight", {config.vocabSize, config.hiddenSize});
  Value h = mlir::lowbit::EmbeddingOp::create(
      b, loc("model.embed_tokens"), act(config.hiddenSize), table, tokens);
  for (func::FuncOp layer : layers)
    h = func::CallOp::create(b, layer.getLoc(), layer, ValueRange{h, pos})
            .getResult(0);
  h = rmsNorm(h, "model.norm");
  Value head =
      config.tieWordEmbeddings
          ? table
          : param("lm_head.weight", {config.vocabSize, config.hiddenSize});
  Value logits = mlir::lowbit::LinearOp::create(b, loc("lm_head"), logitsType,
                                                h, head, Value());
  func::ReturnOp::create(b, loc("model"), logits);
  return module;
}

llvm::Expected<OwningOpRef<ModuleOp>>
buildModelIR(MLIRContext *ctx, const ModelConfig &config,
             const ParamStore *store, StringRef dirForErrors,
             StringRef checkpointPath, StringRef tokenizer,
             StringRef scopeFormat) {
  ctx->loadDialect<mlir::lowbit::LowbitDialect, func::FuncDialect>();
  if (store)
    if (llvm::Error err = checkTensors(*store, config, dirForErrors))
      return std::move(err);
  if (!config.ropeScaling.type.empty())
    return llvm::createStringError(
        "%s: rope_scaling type '%s' is not supported yet (supported: none)",
        dirForErrors.str().c_str(), config.ropeScaling.type.c_str());
  if (config.headDim % 2 != 0)
    return llvm::createStringError("%s: head_dim %lld must be even for rotary "
                                   "embeddings",
                                   dirForErrors.str().c_str(),
                                   static_cast<long long>(config.headDim));
  ModelBuilder builder(ctx, config);
  if (checkpointPath.empty() || llvm::sys::path::is_absolute(checkpointPath))
    return llvm::createStringError(
        "%s: internal error: the checkpoint path '%s' must be relative",
        dirForErrors.str().c_str(), checkpointPath.str().c_str());
  OwningOpRef<ModuleOp> module =
      builder.build(checkpointPath, scopeFormat, tokenizer);
  if (failed(verify(*module)))
    return llvm::createStringError(
        "%s: internal error: the imported IR does not verify",
        dirForErrors.str().c_str());
  return module;
}

llvm::Expected<OwningOpRef<ModuleOp>>
importHFModel(MLIRContext *ctx, StringRef dir, StringRef baseDir) {
  if (!llvm::sys::fs::is_directory(dir))
    return llvm::createStringError("%s: not a directory", dir.str().c_str());
  SmallString<256> configPath(dir);
  llvm::sys::path::append(configPath, "config.json");
  llvm::Expected<ModelConfig> config = parseHFConfig(configPath);
  if (!config)
    return config.takeError();
  llvm::Expected<std::unique_ptr<SafetensorsStore>> store =
      SafetensorsStore::openDir(dir);
  if (!store)
    return store.takeError();
  SmallString<256> tokenizerPath(dir);
  llvm::sys::path::append(tokenizerPath, "tokenizer.json");
  StringRef tokenizer =
      llvm::sys::fs::exists(tokenizerPath) ? "tokenizer.json" : "";
  // Record the checkpoint relative to where the IR goes, so the IR holds no
  // host path.
  llvm::Expected<std::string> relDir = makeRelativePath(dir, baseDir);
  if (!relDir)
    return relDir.takeError();
  return buildModelIR(ctx, *config, store->get(), dir, *relDir, tokenizer);
}

} // namespace lowbit
