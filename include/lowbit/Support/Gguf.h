//===- Gguf.h - Validated GGUF reader ---------------------------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Reading of GGUF files (versions 2 and 3, little-endian), the format of
// llama.cpp and ggml:
//
//   u32 magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
//   metadata: { string key, u32 value type, value }*,
//   tensor infos: { string name, u32 n_dims, u64 dims[n_dims] (innermost
//                   first), u32 ggml type, u64 offset }*,
//   padding to `general.alignment` (default 32), then the data section;
//   tensor offsets are relative to it and multiples of the alignment.
//
// Strings are a u64 byte count followed by the bytes (no terminator).
// GgufFile memory-maps a file and validates all of it (see docs/gguf.md)
// before handing out anything: every problem is an llvm::Error whose message
// names the file and, where there is one, the metadata key or tensor.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_SUPPORT_GGUF_H
#define LOWBIT_SUPPORT_GGUF_H

#include "lowbit/Support/GgufQuants.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class MemoryBuffer;
} // namespace llvm

namespace lowbit {

/// Metadata value types, numbered as in GGUF files.
enum class GgufValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// The format's name of a value type ("UINT32", "ARRAY", ...).
llvm::StringRef ggufValueTypeName(GgufValueType type);

/// One metadata value. Strings and the elements of scalar arrays stay in the
/// mapped file; the value is valid while its GgufFile lives.
class GgufValue {
public:
  GgufValueType type() const { return valueType; }
  bool isArray() const { return valueType == GgufValueType::Array; }

  /// The value of an unsigned or non-negative signed integer (any width).
  std::optional<uint64_t> getAsUInt64() const;
  /// The value of a signed integer, or of an unsigned one up to INT64_MAX.
  std::optional<int64_t> getAsInt64() const;
  /// FLOAT32 or FLOAT64, as a double.
  std::optional<double> getAsDouble() const;
  std::optional<bool> getAsBool() const;
  std::optional<llvm::StringRef> getAsString() const;

  /// Arrays: the element type and count.
  GgufValueType elementType() const { return elemType; }
  uint64_t size() const { return count; }
  /// Element `i` of an array (i < size()).
  GgufValue operator[](uint64_t i) const;

  /// Scalar arrays: the raw little-endian element bytes.
  llvm::ArrayRef<uint8_t> rawElements() const { return raw; }

private:
  friend class GgufParser;
  GgufValueType valueType = GgufValueType::UInt8;
  uint64_t bits = 0;      // Scalars: the payload, zero-extended.
  llvm::StringRef string; // STRING.
  GgufValueType elemType = GgufValueType::UInt8; // ARRAY.
  uint64_t count = 0;                            // ARRAY.
  llvm::ArrayRef<uint8_t> raw;                   // ARRAY of scalars.
  std::vector<GgufValue> children;               // ARRAY of strings or arrays.
};

/// One tensor of a GGUF file.
struct GgufTensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  /// Dimensions as GGUF stores them: dims[0] is the innermost (contiguous).
  std::vector<uint64_t> dims;
  /// Offset in the data section and size in bytes.
  uint64_t offset = 0;
  uint64_t nbytes = 0;
  /// The bytes, in the mapped file.
  const uint8_t *data = nullptr;

  /// Product of the dimensions.
  uint64_t numElements() const;
  /// The shape in row-major order (outermost first), as NumPy and the
  /// safetensors format write it.
  std::vector<int64_t> shape() const;
};

/// Whether `path` names a GGUF file rather than a directory or another kind
/// of file: a regular file whose name ends in `.gguf` or that starts with
/// the GGUF magic. (Whether it is valid is for GgufFile::open to say.)
bool isGgufPath(llvm::StringRef path);

/// A validated, memory-mapped GGUF file.
class GgufFile {
public:
  /// Most dimensions of a tensor (ggml's GGML_MAX_DIMS).
  static constexpr uint32_t kMaxDims = 4;
  /// Deepest nesting of metadata arrays accepted.
  static constexpr unsigned kMaxArrayDepth = 8;
  static constexpr uint32_t kDefaultAlignment = 32;

  /// Maps `path` and validates it.
  static llvm::Expected<std::unique_ptr<GgufFile>> open(llvm::StringRef path);
  /// Validates an in-memory buffer; `name` is used in messages.
  static llvm::Expected<std::unique_ptr<GgufFile>>
  openBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef name);

  ~GgufFile();
  GgufFile(const GgufFile &) = delete;
  GgufFile &operator=(const GgufFile &) = delete;

  llvm::StringRef name() const { return fileName; }
  uint32_t version() const { return formatVersion; }
  uint32_t alignment() const { return dataAlignment; }
  /// Offset of the data section in the file.
  uint64_t dataOffset() const { return dataStart; }

  /// Metadata keys in file order.
  llvm::ArrayRef<std::string> metadataKeys() const { return keyOrder; }
  /// The value of `key`, or nullptr.
  const GgufValue *lookupMetadata(llvm::StringRef key) const;

  /// Tensors in file order.
  llvm::ArrayRef<GgufTensor> tensors() const { return tensorList; }
  /// The tensor called `tensorName`, or nullptr.
  const GgufTensor *lookupTensor(llvm::StringRef tensorName) const;

  /// Converts a tensor of this file to floats (`out` holds numElements());
  /// an error naming the file, the tensor and its type when the type is not
  /// one lowbit dequantizes.
  llvm::Error dequantize(const GgufTensor &tensor, float *out) const;
  /// Same, into a new vector.
  llvm::Expected<std::vector<float>> dequantize(const GgufTensor &tensor) const;

private:
  GgufFile() = default;
  friend class GgufParser;

  std::string fileName;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  uint32_t formatVersion = 0;
  uint32_t dataAlignment = kDefaultAlignment;
  uint64_t dataStart = 0;
  std::vector<std::string> keyOrder;
  llvm::StringMap<GgufValue> metadataMap;
  std::vector<GgufTensor> tensorList;
  llvm::StringMap<size_t> indexByName;
};

} // namespace lowbit

#endif // LOWBIT_SUPPORT_GGUF_H
