//===- GgufImporter.cpp - GGUF model importer -------------------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/GgufImporter.h"

#include "lowbit/Import/HFImporter.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Support/GgufModel.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;

namespace lowbit {

bool isGgufPath(StringRef path) {
  if (llvm::sys::fs::is_directory(path))
    return false;
  if (path.ends_with(".gguf"))
    return true;
  if (!llvm::sys::fs::is_regular_file(path))
    return false;
  auto head = llvm::MemoryBuffer::getFileSlice(path, /*MapSize=*/4,
                                               /*Offset=*/0);
  return head && (*head)->getBuffer() == "GGUF";
}

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
  // Record the file relative to where the IR goes, so the IR holds no host
  // path.
  llvm::Expected<std::string> relPath = makeRelativePath(path, baseDir);
  if (!relPath)
    return relPath.takeError();
  return buildModelIR(ctx, config, /*store=*/nullptr, path, *relPath,
                      /*tokenizer=*/"", "gguf");
}

llvm::Expected<OwningOpRef<ModuleOp>>
importModel(MLIRContext *ctx, StringRef path, StringRef baseDir) {
  if (isGgufPath(path))
    return importGgufModel(ctx, path, baseDir);
  return importHFModel(ctx, path, baseDir);
}

} // namespace lowbit
