//===- Safetensors.h - Validated safetensors reader and writer -*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Reading and writing of the safetensors checkpoint format:
//
//   [u64 little-endian header length N][N bytes of JSON header][data section]
//
// The header maps tensor names to {"dtype", "shape", "data_offsets"} and may
// hold a "__metadata__" object of string to string. Offsets are relative to
// the start of the data section.
//
// SafetensorsFile memory-maps a file and validates all of it before handing
// out views: every problem is reported as an llvm::Error whose message names
// the file and, where there is one, the tensor.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_SUPPORT_SAFETENSORS_H
#define LOWBIT_SUPPORT_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class MemoryBuffer;
} // namespace llvm

namespace lowbit {

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

/// Element types of the safetensors format (all of them byte-sized).
enum class DType : uint8_t {
  Bool,
  U8,
  I8,
  U16,
  I16,
  F16,
  BF16,
  U32,
  I32,
  F32,
  U64,
  I64,
  F64,
  F8E4M3,
  F8E5M2,
};

/// The name the format uses for `dtype` ("F32", "BF16", "F8_E4M3", ...).
llvm::StringRef dtypeName(DType dtype);

/// Parses a format name; std::nullopt for names this reader does not know.
std::optional<DType> parseDType(llvm::StringRef name);

/// Size of one element in bytes.
size_t dtypeSize(DType dtype);

/// True for F16, BF16, F32 and F64 (the types readAsF32 accepts, plus F64).
bool isFloatingPoint(DType dtype);

//===----------------------------------------------------------------------===//
// Half-precision conversions
//===----------------------------------------------------------------------===//

/// IEEE binary16 bits to float (exact).
float halfToFloat(uint16_t bits);
/// Float to IEEE binary16 bits, rounding to nearest even. Overflow gives
/// infinity; NaN stays NaN (payload truncated, quiet bit set).
/// halfToFloat followed by floatToHalf returns the original bits.
uint16_t floatToHalf(float value);
/// bfloat16 bits to float (exact).
float bf16ToFloat(uint16_t bits);
/// Float to bfloat16 bits, rounding to nearest even; NaN stays NaN.
/// bf16ToFloat followed by floatToBF16 returns the original bits.
uint16_t floatToBF16(float value);

//===----------------------------------------------------------------------===//
// Tensor views
//===----------------------------------------------------------------------===//

/// A tensor whose bytes live elsewhere (a mapped file or a MemoryStore).
/// `data` has no alignment guarantee: copy elements out with memcpy (or use
/// readAsF32) rather than casting it to a wider pointer type.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t nbytes = 0;

  /// Product of the shape (1 for a scalar).
  int64_t numel() const;
  llvm::ArrayRef<uint8_t> bytes() const { return {data, nbytes}; }
};

/// A tensor that owns its bytes, for writing.
struct OwnedTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  /// Builds an F32 tensor from values (size must equal the shape product).
  static OwnedTensor fromF32(llvm::StringRef name,
                             llvm::ArrayRef<int64_t> shape,
                             llvm::ArrayRef<float> values);
  /// A view of this tensor; valid while this object lives unchanged.
  TensorView view() const;
};

/// Bytes needed by a tensor of `shape` and `dtype`; std::nullopt when a
/// dimension is negative or the size (ignoring zero dimensions) does not fit
/// in int64_t.
std::optional<uint64_t> tensorByteSize(DType dtype,
                                       llvm::ArrayRef<int64_t> shape);

/// Formats a shape as "[4, 64]" for messages.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// Converts F32, F16 or BF16 elements to float. `out` must hold
/// `view.numel()` floats. Other dtypes give an error naming the tensor, and
/// so does a NaN or infinite element (with its index): every weight the
/// compiler, executor and bundle emitter read comes through here.
llvm::Error readAsF32(const TensorView &view, float *out);

/// Same as readAsF32, into a new vector.
llvm::Expected<std::vector<float>> toF32(const TensorView &view);

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

/// A validated, memory-mapped safetensors file.
class SafetensorsFile {
public:
  /// Largest JSON header accepted (the format's own readers use 100 MB).
  static constexpr uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;

  /// Maps `path` and validates it.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(llvm::StringRef path);

  /// Validates an in-memory buffer; `name` is used in messages.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  openBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef name);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  /// The path (or buffer name) given when opening.
  llvm::StringRef name() const { return fileName; }

  /// The tensor called `tensorName`, or nullptr.
  const TensorView *lookup(llvm::StringRef tensorName) const;

  /// All tensors, sorted by name.
  llvm::ArrayRef<TensorView> tensors() const { return tensorList; }

  /// The "__metadata__" entries (empty when absent).
  const std::map<std::string, std::string> &metadata() const {
    return metadataMap;
  }

private:
  SafetensorsFile() = default;
  llvm::Error parse();

  std::string fileName;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorView> tensorList;
  llvm::StringMap<size_t> indexByName;
  std::map<std::string, std::string> metadataMap;
};

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

/// Writes tensors to `path` atomically (through `path.tmp.<pid>` and a
/// rename). The output is deterministic: tensors sorted by name, data in that
/// order, header keys sorted, header padded with spaces to a multiple of 8.
/// Names must be unique, non-empty and not "__metadata__", and every tensor's
/// byte count must match its shape and dtype.
llvm::Error
writeSafetensors(llvm::StringRef path, llvm::ArrayRef<TensorView> tensors,
                 const std::map<std::string, std::string> &metadata);

/// Same, for tensors that own their bytes.
llvm::Error
writeSafetensors(llvm::StringRef path, llvm::ArrayRef<OwnedTensor> tensors,
                 const std::map<std::string, std::string> &metadata);

/// Serializes into memory (the exact bytes writeSafetensors writes).
llvm::Expected<std::vector<uint8_t>>
serializeSafetensors(llvm::ArrayRef<TensorView> tensors,
                     const std::map<std::string, std::string> &metadata);

} // namespace lowbit

#endif // LOWBIT_SUPPORT_SAFETENSORS_H
