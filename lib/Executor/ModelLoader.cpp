//===- ModelLoader.cpp - open a model for execution -------------*- C++ -*-===//

#include "lowbit/Executor/ModelLoader.h"

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Import/HFImporter.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

namespace lowbit {

static std::unique_ptr<MLIRContext> makeContext() {
  auto ctx = std::make_unique<MLIRContext>();
  ctx->loadDialect<mlir::lowbit::LowbitDialect, func::FuncDialect>();
  return ctx;
}

/// Resolves `p` relative to `base` unless it is absolute.
static std::string resolve(StringRef base, StringRef p) {
  if (llvm::sys::path::is_absolute(p))
    return p.str();
  SmallString<256> out(base);
  llvm::sys::path::append(out, p);
  return std::string(out);
}

llvm::Expected<LoadedModel> loadModel(StringRef path,
                                      StringRef weightsOverride) {
  LoadedModel model;
  model.context = makeContext();
  MLIRContext *ctx = model.context.get();

  SmallString<256> configPath(path), irPath(path);
  llvm::sys::path::append(configPath, "config.json");
  llvm::sys::path::append(irPath, kModelIRFile);
  bool isDir = llvm::sys::fs::is_directory(path);

  std::string irDir;
  if (isDir && llvm::sys::fs::exists(configPath) &&
      !llvm::sys::fs::exists(irPath)) {
    // A Hugging Face checkpoint: import it.
    auto module =
        importHFModel(ctx, weightsOverride.empty() ? path : weightsOverride);
    if (!module)
      return module.takeError();
    model.module = std::move(*module);
  } else {
    std::string file = isDir ? std::string(irPath) : path.str();
    if (!llvm::sys::fs::exists(file))
      return llvm::createStringError(
          "%s: not a Hugging Face model directory (no config.json), a lowbit "
          "IR file or a quantized model directory (no %s)",
          path.str().c_str(), kModelIRFile.data());
    llvm::SourceMgr sourceMgr;
    std::string diagText;
    llvm::raw_string_ostream diagStream(diagText);
    SourceMgrDiagnosticHandler handler(sourceMgr, ctx, diagStream);
    model.module =
        parseSourceFile<ModuleOp>(file, sourceMgr, ParserConfig(ctx));
    if (!model.module)
      return llvm::createStringError("%s: cannot parse lowbit IR:\n%s",
                                     file.c_str(), diagText.c_str());
    irDir = std::string(llvm::sys::path::parent_path(file));
    if (irDir.empty())
      irDir = ".";
  }

  ModuleOp module = *model.module;
  // Parameters written by quantization passes live next to the IR.
  if (!irDir.empty()) {
    SmallString<256> params(irDir);
    llvm::sys::path::append(params, kQuantizedParamsFile);
    if (llvm::sys::fs::exists(params)) {
      auto store = SafetensorsStore::openFile(params);
      if (!store)
        return store.takeError();
      model.stores.push_back(std::move(*store));
    }
  }
  // The original checkpoint.
  std::string weights = weightsOverride.str();
  if (weights.empty())
    if (auto attr = module->getAttrOfType<StringAttr>(attrs::kWeights))
      weights = irDir.empty() ? attr.str() : resolve(irDir, attr.getValue());
  if (!weights.empty()) {
    auto store = llvm::sys::fs::is_directory(weights)
                     ? SafetensorsStore::openDir(weights)
                     : SafetensorsStore::openFile(weights);
    if (!store)
      return store.takeError();
    model.stores.push_back(std::move(*store));
  }
  if (auto attr = module->getAttrOfType<StringAttr>(attrs::kTokenizer))
    model.tokenizerPath =
        irDir.empty() ? attr.str() : resolve(irDir, attr.getValue());
  if (!model.tokenizerPath.empty() &&
      !llvm::sys::fs::exists(model.tokenizerPath))
    model.tokenizerPath.clear();

  std::vector<const ParamStore *> layers;
  for (auto &s : model.stores)
    layers.push_back(s.get());
  model.overlay = std::make_unique<OverlayStore>(layers);
  return model;
}

} // namespace lowbit
