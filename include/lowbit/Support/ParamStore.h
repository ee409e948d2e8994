//===- ParamStore.h - Named parameter tensors -------------------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Weights never live in the IR: ops reference them by name and the importer,
// the reference executor and the passes resolve the names through a
// ParamStore. Stores are immutable through this interface, so lookups from
// several threads are safe once a store is built.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_SUPPORT_PARAMSTORE_H
#define LOWBIT_SUPPORT_PARAMSTORE_H

#include "lowbit/Support/Safetensors.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lowbit {

/// Read-only access to named tensors.
class ParamStore {
public:
  virtual ~ParamStore();

  /// The tensor called `name`, or nullptr. The view stays valid as long as
  /// the store lives (and, for MemoryStore, until the tensor is replaced).
  virtual const TensorView *lookup(llvm::StringRef name) const = 0;

  /// All tensor names, sorted.
  virtual std::vector<std::string> names() const = 0;

  bool contains(llvm::StringRef name) const { return lookup(name) != nullptr; }
};

//===----------------------------------------------------------------------===//
// SafetensorsStore
//===----------------------------------------------------------------------===//

/// Tensors of a memory-mapped checkpoint: one safetensors file or a sharded
/// checkpoint described by `model.safetensors.index.json`.
class SafetensorsStore : public ParamStore {
public:
  /// Opens a Hugging Face model directory: `model.safetensors` when present,
  /// else the shards listed in `model.safetensors.index.json`.
  static llvm::Expected<std::unique_ptr<SafetensorsStore>>
  openDir(llvm::StringRef dir);

  /// Opens one `.safetensors` file, or a shard index when `file` ends in
  /// `.index.json` (shards are resolved relative to the index's directory).
  static llvm::Expected<std::unique_ptr<SafetensorsStore>>
  openFile(llvm::StringRef file);

  /// Opens a shard index and every shard it names, checking that each tensor
  /// in the weight map is in its shard and that no tensor is in two shards.
  static llvm::Expected<std::unique_ptr<SafetensorsStore>>
  openIndex(llvm::StringRef indexPath);

  ~SafetensorsStore() override;

  const TensorView *lookup(llvm::StringRef name) const override;
  std::vector<std::string> names() const override;

  /// The opened files, in the order they were opened (shards sorted by name).
  llvm::ArrayRef<std::unique_ptr<SafetensorsFile>> files() const {
    return shardFiles;
  }

private:
  SafetensorsStore() = default;

  std::vector<std::unique_ptr<SafetensorsFile>> shardFiles;
  llvm::StringMap<const TensorView *> byName;
};

//===----------------------------------------------------------------------===//
// MemoryStore
//===----------------------------------------------------------------------===//

/// Tensors owned in memory, e.g. the outputs of a quantization pass.
class MemoryStore : public ParamStore {
public:
  MemoryStore();
  ~MemoryStore() override;
  MemoryStore(const MemoryStore &) = delete;
  MemoryStore &operator=(const MemoryStore &) = delete;

  /// Adds a tensor; an error if the name is taken or the bytes do not match
  /// the shape and dtype.
  llvm::Error add(OwnedTensor tensor);

  /// Adds or replaces a tensor (views of a replaced tensor become invalid).
  llvm::Error set(OwnedTensor tensor);

  const TensorView *lookup(llvm::StringRef name) const override;
  std::vector<std::string> names() const override;

  size_t size() const { return entries.size(); }

  /// Writes all tensors with writeSafetensors.
  llvm::Error
  writeTo(llvm::StringRef path,
          const std::map<std::string, std::string> &metadata = {}) const;

private:
  struct Entry {
    OwnedTensor tensor;
    TensorView view;
  };
  llvm::Error insert(OwnedTensor tensor, bool allowReplace);

  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries;
};

//===----------------------------------------------------------------------===//
// OverlayStore
//===----------------------------------------------------------------------===//

/// Looks names up in a list of stores; the first store holding a name wins.
/// Typical use: {quantized outputs, original checkpoint}. Does not own the
/// stores, which must outlive it.
class OverlayStore : public ParamStore {
public:
  explicit OverlayStore(llvm::ArrayRef<const ParamStore *> layers);
  ~OverlayStore() override;

  const TensorView *lookup(llvm::StringRef name) const override;
  /// The union of the layers' names, sorted, without duplicates.
  std::vector<std::string> names() const override;

private:
  std::vector<const ParamStore *> layers;
};

} // namespace lowbit

#endif // LOWBIT_SUPPORT_PARAMSTORE_H
