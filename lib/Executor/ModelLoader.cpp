//===- ModelLoader.cpp - open a model for execution -------------*- C++ -*-===//

#include "lowbit/Executor/ModelLoader.h"

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Import/GgufImporter.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbit/Params/ParamResolver.h"

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

llvm::Expected<LoadedModel>
loadModel(StringRef path,
          const std::map<std::string, std::string> &scopeOverrides) {
  LoadedModel model;
  model.context = makeContext();
  MLIRContext *ctx = model.context.get();

  SmallString<256> configPath(path), irPath(path);
  llvm::sys::path::append(configPath, "config.json");
  llvm::sys::path::append(irPath, kModelIRFile);
  bool isDir = llvm::sys::fs::is_directory(path);

  // Scope paths of an IR file are relative to its directory; an imported
  // checkpoint is recorded relative to the current directory.
  std::string baseDir;
  if (isGgufPath(path)) {
    // A GGUF file: import it.
    auto module = importGgufModel(ctx, path);
    if (!module)
      return module.takeError();
    model.module = std::move(*module);
  } else if (isDir && llvm::sys::fs::exists(configPath) &&
             !llvm::sys::fs::exists(irPath)) {
    // A Hugging Face checkpoint: import it.
    auto module = importHFModel(ctx, path);
    if (!module)
      return module.takeError();
    model.module = std::move(*module);
  } else {
    std::string file = isDir ? std::string(irPath) : path.str();
    if (!llvm::sys::fs::exists(file))
      return llvm::createStringError(
          "%s: not a Hugging Face model directory (no config.json), a GGUF "
          "file, a lowbit IR file or a quantized model directory (no %s)",
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
    baseDir = std::string(llvm::sys::path::parent_path(file));
    if (baseDir.empty())
      baseDir = ".";
  }
  ParamResolverConfig config;
  config.baseDir = baseDir;
  config.overrides = scopeOverrides;
  ParamResolver &resolver = ParamResolver::get(ctx);
  resolver.configure(std::move(config));

  llvm::Expected<std::string> tokenizer =
      resolver.getTokenizerPath(*model.module);
  if (!tokenizer)
    return tokenizer.takeError();
  model.tokenizerPath = *tokenizer;
  if (!model.tokenizerPath.empty() &&
      !llvm::sys::fs::exists(model.tokenizerPath))
    model.tokenizerPath.clear();
  return model;
}

} // namespace lowbit
