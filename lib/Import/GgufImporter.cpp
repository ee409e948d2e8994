//===- GgufImporter.cpp - GGUF model importer -------------------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/GgufImporter.h"

#include "lowbit/Import/HFImporter.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Support/GgufModel.h"
#include "lowbit/Support/GgufTokenizer.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;

namespace lowbit {

llvm::Expected<OwningOpRef<ModuleOp>>
importGgufModel(MLIRContext *ctx, StringRef path, StringRef baseDir) {
  if (!llvm::sys::fs::exists(path))
    return llvm::createStringError("%s: no such file", path.str().c_str());
  llvm::Expected<std::unique_ptr<GgufStore>> store = GgufStore::open(path);
  if (!store)
    return store.takeError();
  const ModelConfig &config = (*store)->config();
  // GgufStore checked the name, type and shape of every tensor the file
  // has; what is left is a tensor the configuration needs but the file
  // lacks. (checkTensors would dequantize every tensor to check them.)
  llvm::StringSet<> present;
  for (const std::string &name : (*store)->names())
    present.insert(name);
  for (const ExpectedTensor &expected : expectedTensors(config))
    if (!expected.optional && !present.contains(expected.name))
      return llvm::createStringError(
          "%s: missing tensor '%s' (expected shape %s) for %s with %lld "
          "layers",
          path.str().c_str(), expected.name.c_str(),
          formatShape(expected.shape).c_str(), config.architecture.c_str(),
          static_cast<long long>(config.numLayers));
  // The tokenizer, when the file has one, must convert; the IR records the
  // file itself as the tokenizer (relative to the checkpoint's directory).
  std::string tokenizer;
  if (ggufHasTokenizer((*store)->file())) {
    llvm::Expected<GgufTokenizerJSON> converted =
        tokenizerFromGguf((*store)->file());
    if (!converted)
      return converted.takeError();
    tokenizer = llvm::sys::path::filename(path).str();
  }
  // Record the file relative to where the IR goes, so the IR holds no host
  // path.
  llvm::Expected<std::string> relPath = makeRelativePath(path, baseDir);
  if (!relPath)
    return relPath.takeError();
  return buildModelIR(ctx, config, /*store=*/nullptr, path, *relPath, tokenizer,
                      "gguf");
}

llvm::Expected<OwningOpRef<ModuleOp>>
importModel(MLIRContext *ctx, StringRef path, StringRef baseDir) {
  if (isGgufPath(path))
    return importGgufModel(ctx, path, baseDir);
  return importHFModel(ctx, path, baseDir);
}

} // namespace lowbit
