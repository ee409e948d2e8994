//===- ParamStore.cpp - Named parameter tensors ---------------------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/ParamStore.h"

#include "JSONLimits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <set>

using namespace lowbit;
using llvm::StringRef;
using llvm::Twine;

static llvm::Error makeError(const Twine &message) {
  return llvm::make_error<llvm::StringError>(message.str(),
                                             llvm::inconvertibleErrorCode());
}

ParamStore::~ParamStore() = default;

//===----------------------------------------------------------------------===//
// SafetensorsStore
//===----------------------------------------------------------------------===//

SafetensorsStore::~SafetensorsStore() = default;

const TensorView *SafetensorsStore::lookup(StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsStore::names() const {
  std::vector<std::string> out;
  out.reserve(byName.size());
  for (const auto &kv : byName)
    out.push_back(kv.getKey().str());
  llvm::sort(out);
  return out;
}

llvm::Expected<std::unique_ptr<SafetensorsStore>>
SafetensorsStore::openDir(StringRef dir) {
  if (!llvm::sys::fs::is_directory(dir))
    return makeError(dir + ": not a directory");
  llvm::SmallString<256> single(dir);
  llvm::sys::path::append(single, "model.safetensors");
  if (llvm::sys::fs::exists(single))
    return openFile(single);
  llvm::SmallString<256> index(dir);
  llvm::sys::path::append(index, "model.safetensors.index.json");
  if (llvm::sys::fs::exists(index))
    return openIndex(index);
  return makeError(dir +
                   ": no model.safetensors or model.safetensors.index.json");
}

llvm::Expected<std::unique_ptr<SafetensorsStore>>
SafetensorsStore::openFile(StringRef file) {
  if (file.ends_with(".index.json"))
    return openIndex(file);
  llvm::Expected<std::unique_ptr<SafetensorsFile>> opened =
      SafetensorsFile::open(file);
  if (!opened)
    return opened.takeError();
  std::unique_ptr<SafetensorsStore> store(new SafetensorsStore());
  for (const TensorView &t : (*opened)->tensors())
    store->byName[t.name] = &t;
  store->shardFiles.push_back(std::move(*opened));
  return store;
}

/// A shard name from an index must stay inside the index's directory.
static bool isSafeShardName(StringRef shard) {
  if (shard.empty() || llvm::sys::path::is_absolute(shard))
    return false;
  for (auto it = llvm::sys::path::begin(shard),
            end = llvm::sys::path::end(shard);
       it != end; ++it)
    if (*it == "..")
      return false;
  return true;
}

llvm::Expected<std::unique_ptr<SafetensorsStore>>
SafetensorsStore::openIndex(StringRef indexPath) {
  auto bufferOrErr = llvm::MemoryBuffer::getFile(indexPath, /*IsText=*/true);
  if (!bufferOrErr)
    return makeError(indexPath +
                     ": cannot open: " + bufferOrErr.getError().message());
  StringRef text = (*bufferOrErr)->getBuffer();
  llvm::Expected<llvm::json::Value> root =
      detail::parseJSONObject(text, indexPath);
  if (!root)
    return root.takeError();
  const llvm::json::Object *object = root->getAsObject();
  const llvm::json::Value *mapValue = object->get("weight_map");
  if (!mapValue)
    return makeError(indexPath + ": missing 'weight_map'");
  const llvm::json::Object *weightMap = mapValue->getAsObject();
  if (!weightMap)
    return makeError(indexPath + ": 'weight_map' is not a JSON object");

  // Tensor -> shard, sorted for deterministic reports.
  std::vector<std::pair<std::string, std::string>> entries;
  std::set<std::string> shardNames;
  for (const auto &kv : *weightMap) {
    std::optional<StringRef> shard = kv.second.getAsString();
    if (!shard)
      return makeError(indexPath + ": weight_map entry for tensor '" +
                       StringRef(kv.first) + "' is not a string");
    entries.emplace_back(std::string(StringRef(kv.first)), shard->str());
    shardNames.insert(shard->str());
  }
  if (entries.empty())
    return makeError(indexPath + ": 'weight_map' lists no tensors");
  llvm::sort(entries);
  for (const std::string &shard : shardNames)
    if (!isSafeShardName(shard))
      return makeError(indexPath + ": shard '" + shard +
                       "' is not a file name inside the index's directory");

  StringRef dir = llvm::sys::path::parent_path(indexPath);
  std::unique_ptr<SafetensorsStore> store(new SafetensorsStore());
  std::map<std::string, const SafetensorsFile *> shardByName;
  llvm::StringMap<StringRef> shardOfTensor;
  for (const std::string &shard : shardNames) {
    llvm::SmallString<256> shardPath(dir);
    llvm::sys::path::append(shardPath, shard);
    if (!llvm::sys::fs::exists(shardPath))
      return makeError(indexPath + ": shard '" + shard + "' does not exist (" +
                       shardPath + ")");
    llvm::Expected<std::unique_ptr<SafetensorsFile>> opened =
        SafetensorsFile::open(shardPath);
    if (!opened)
      return makeError(indexPath + ": shard '" + shard +
                       "' is invalid: " + llvm::toString(opened.takeError()));
    for (const TensorView &t : (*opened)->tensors()) {
      auto inserted = shardOfTensor.try_emplace(t.name, StringRef(shard));
      if (!inserted.second)
        return makeError(indexPath + ": tensor '" + t.name +
                         "' is in two shards, '" + inserted.first->second +
                         "' and '" + shard + "'");
      store->byName[t.name] = &t;
    }
    shardByName[shard] = opened->get();
    store->shardFiles.push_back(std::move(*opened));
  }

  for (const auto &[tensor, shard] : entries) {
    if (shardByName[shard]->lookup(tensor))
      continue;
    auto actual = shardOfTensor.find(tensor);
    if (actual != shardOfTensor.end())
      return makeError(indexPath + ": tensor '" + tensor +
                       "' is listed in shard '" + shard +
                       "' but stored in shard '" + actual->second + "'");
    return makeError(indexPath + ": tensor '" + tensor +
                     "' is listed in shard '" + shard +
                     "' but not found there");
  }
  return store;
}

//===----------------------------------------------------------------------===//
// MemoryStore
//===----------------------------------------------------------------------===//

MemoryStore::MemoryStore() = default;
MemoryStore::~MemoryStore() = default;

llvm::Error MemoryStore::insert(OwnedTensor tensor, bool allowReplace) {
  if (tensor.name.empty())
    return makeError("cannot add a tensor with an empty name");
  if (!allowReplace && entries.count(tensor.name))
    return makeError("tensor '" + tensor.name + "' is already in the store");
  std::optional<uint64_t> needed = tensorByteSize(tensor.dtype, tensor.shape);
  if (!needed)
    return makeError("tensor '" + tensor.name + "': invalid shape " +
                     formatShape(tensor.shape));
  if (*needed != tensor.bytes.size())
    return makeError("tensor '" + tensor.name + "' has " +
                     Twine(uint64_t(tensor.bytes.size())) +
                     " bytes but shape " + formatShape(tensor.shape) + " of " +
                     dtypeName(tensor.dtype) + " needs " + Twine(*needed));
  auto entry = std::make_unique<Entry>();
  entry->tensor = std::move(tensor);
  entry->view = entry->tensor.view();
  std::string name = entry->tensor.name;
  entries[name] = std::move(entry);
  return llvm::Error::success();
}

llvm::Error MemoryStore::add(OwnedTensor tensor) {
  return insert(std::move(tensor), /*allowReplace=*/false);
}

llvm::Error MemoryStore::set(OwnedTensor tensor) {
  return insert(std::move(tensor), /*allowReplace=*/true);
}

const TensorView *MemoryStore::lookup(StringRef name) const {
  auto it = entries.find(name);
  return it == entries.end() ? nullptr : &it->second->view;
}

std::vector<std::string> MemoryStore::names() const {
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const auto &kv : entries)
    out.push_back(kv.first);
  return out;
}

llvm::Error
MemoryStore::writeTo(StringRef path,
                     const std::map<std::string, std::string> &metadata) const {
  std::vector<TensorView> views;
  views.reserve(entries.size());
  for (const auto &kv : entries)
    views.push_back(kv.second->view);
  return writeSafetensors(path, llvm::ArrayRef<TensorView>(views), metadata);
}

//===----------------------------------------------------------------------===//
// OverlayStore
//===----------------------------------------------------------------------===//

OverlayStore::OverlayStore(llvm::ArrayRef<const ParamStore *> layers)
    : layers(layers.begin(), layers.end()) {}

OverlayStore::~OverlayStore() = default;

const TensorView *OverlayStore::lookup(StringRef name) const {
  for (const ParamStore *layer : layers)
    if (const TensorView *view = layer->lookup(name))
      return view;
  return nullptr;
}

std::vector<std::string> OverlayStore::names() const {
  std::vector<std::string> out;
  for (const ParamStore *layer : layers) {
    std::vector<std::string> layerNames = layer->names();
    out.insert(out.end(), layerNames.begin(), layerNames.end());
  }
  llvm::sort(out);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}
