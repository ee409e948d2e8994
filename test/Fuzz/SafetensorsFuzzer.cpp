//===- SafetensorsFuzzer.cpp - libFuzzer target for the reader ------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to SafetensorsFile::openBuffer. Inputs that validate
// must be usable: every view lies inside the buffer, F32/F16/BF16 tensors
// convert, and writing the tensors back out gives a file that validates to
// the same tensors and re-serializes to the same bytes.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/Safetensors.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace lowbit;

static void check(bool condition) {
  if (!condition)
    std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  auto file = SafetensorsFile::openBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "fuzz"), "fuzz.safetensors");
  if (!file) {
    std::string message = llvm::toString(file.takeError());
    check(llvm::StringRef(message).starts_with("fuzz.safetensors: "));
    return 0;
  }

  llvm::ArrayRef<TensorView> tensors = (*file)->tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView &t = tensors[i];
    check((*file)->lookup(t.name) == &t);
    check(i == 0 || tensors[i - 1].name < t.name);
    check(t.numel() >= 0);
    check(uint64_t(t.numel()) * dtypeSize(t.dtype) == t.nbytes);
    if (t.dtype == DType::F32 || t.dtype == DType::F16 ||
        t.dtype == DType::BF16) {
      llvm::Expected<std::vector<float>> values = toF32(t);
      if (!values) {
        // The only reason to refuse a well-formed float tensor: a NaN/Inf.
        std::string message = llvm::toString(values.takeError());
        check(llvm::StringRef(message).contains(
            "(non-finite weights are rejected)"));
        continue;
      }
      check(values->size() == size_t(t.numel()));
    }
  }

  std::vector<TensorView> views(tensors.begin(), tensors.end());
  llvm::Expected<std::vector<uint8_t>> written =
      serializeSafetensors(views, (*file)->metadata());
  check(bool(written));
  llvm::StringRef writtenBytes(reinterpret_cast<const char *>(written->data()),
                               written->size());
  auto reread = SafetensorsFile::openBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(writtenBytes, "rewritten"),
      "rewritten");
  check(bool(reread));
  check((*reread)->metadata() == (*file)->metadata());
  check((*reread)->tensors().size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView &a = tensors[i];
    const TensorView &b = (*reread)->tensors()[i];
    check(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape);
    check(a.bytes() == b.bytes());
  }
  std::vector<TensorView> rereadViews((*reread)->tensors().begin(),
                                      (*reread)->tensors().end());
  llvm::Expected<std::vector<uint8_t>> again =
      serializeSafetensors(rereadViews, (*reread)->metadata());
  check(bool(again) && *again == *written);
  return 0;
}
