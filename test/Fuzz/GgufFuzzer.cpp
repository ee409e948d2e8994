//===- GgufFuzzer.cpp - libFuzzer target for the GGUF reader --------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to GgufFile::openBuffer. Rejected inputs must give an
// error naming the file. Accepted ones must be usable: every tensor lies in
// the data section, aligned, with the byte size its type and dimensions
// need, no two overlap, every metadata value can be walked, and every tensor
// of a supported type dequantizes to numElements() floats. Files that also
// open as a model store (GgufStore) serve every name with the shape the
// configuration implies.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/Gguf.h"
#include "lowbit/Support/GgufModel.h"
#include "lowbit/Support/GgufTokenizer.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <vector>

using namespace lowbit;

static void check(bool condition) {
  if (!condition)
    std::abort();
}

/// Visits every element of `value`, checking the accessors agree with the
/// type; returns the number of values visited.
static uint64_t walk(const GgufValue &value, unsigned depth) {
  check(depth <= GgufFile::kMaxArrayDepth);
  switch (value.type()) {
  case GgufValueType::String:
    check(value.getAsString().has_value());
    return 1;
  case GgufValueType::Bool:
    check(value.getAsBool().has_value());
    return 1;
  case GgufValueType::Float32:
  case GgufValueType::Float64:
    check(value.getAsDouble().has_value());
    return 1;
  case GgufValueType::Array: {
    uint64_t visited = 1;
    for (uint64_t i = 0; i < value.size(); ++i) {
      GgufValue element = value[i];
      check(element.type() == value.elementType());
      visited += walk(element, depth + 1);
    }
    return visited;
  }
  default:
    check(value.getAsUInt64().has_value() || value.getAsInt64().has_value());
    return 1;
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  std::unique_ptr<llvm::MemoryBuffer> buffer =
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "fuzz");
  const uint8_t *begin =
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
  auto file = GgufFile::openBuffer(std::move(buffer), "fuzz.gguf");
  if (!file) {
    std::string message = llvm::toString(file.takeError());
    check(llvm::StringRef(message).starts_with("fuzz.gguf: "));
    return 0;
  }
  const GgufFile &f = **file;
  check(f.version() == 2 || f.version() == 3);
  check(f.alignment() != 0 && (f.alignment() & (f.alignment() - 1)) == 0);
  check(f.dataOffset() <= size);

  for (const std::string &key : f.metadataKeys()) {
    const GgufValue *value = f.lookupMetadata(key);
    check(value != nullptr);
    walk(*value, 0);
  }

  const uint8_t *dataSection = begin + f.dataOffset();
  for (const GgufTensor &t : f.tensors()) {
    check(f.lookupTensor(t.name) == &t);
    check(t.dims.size() <= GgufFile::kMaxDims);
    const GgmlTypeTraits &traits = ggmlTypeTraits(t.type);
    uint64_t elements = t.numElements();
    check(elements % traits.blockElems == 0);
    check(elements / traits.blockElems * traits.blockBytes == t.nbytes);
    check(t.offset % f.alignment() == 0);
    check(t.data == dataSection + t.offset);
    check(t.data + t.nbytes <= begin + size);
    for (const GgufTensor &other : f.tensors())
      check(&other == &t || t.nbytes == 0 || other.nbytes == 0 ||
            t.offset + t.nbytes <= other.offset ||
            other.offset + other.nbytes <= t.offset);
    llvm::Expected<std::vector<float>> values = f.dequantize(t);
    if (traits.dequantizable) {
      check(bool(values));
      check(values->size() == elements);
    } else {
      check(!values);
      llvm::consumeError(values.takeError());
    }
  }

  // The tokenizer conversion reads untrusted metadata too: it converts or
  // fails with a message naming the file.
  if (ggufHasTokenizer(f)) {
    llvm::Expected<GgufTokenizerJSON> tok = tokenizerFromGguf(f);
    if (!tok) {
      std::string message = llvm::toString(tok.takeError());
      check(llvm::StringRef(message).starts_with("fuzz.gguf: "));
    }
  }

  auto store = GgufStore::create(std::move(*file));
  if (!store) {
    std::string message = llvm::toString(store.takeError());
    check(llvm::StringRef(message).starts_with("fuzz.gguf: "));
    return 0;
  }
  std::map<std::string, std::vector<int64_t>> expected;
  for (const ExpectedTensor &t : expectedTensors((*store)->config()))
    expected[t.name] = t.shape;
  for (const std::string &name : (*store)->names()) {
    const TensorView *view = (*store)->lookup(name);
    check(view != nullptr && view->dtype == DType::F32);
    check(expected.count(name) && expected[name] == view->shape);
    check(uint64_t(view->numel()) * 4 == view->nbytes);
  }
  return 0;
}
