//===- Bundle.h - The .lowbit deployable bundle -----------------*- C++ -*-===//
//
// Part of the lowbit runtime. This header does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Reading and writing of `.lowbit` bundles: the single file the compiler
/// writes and the runtime loads. A bundle holds
///
///  - a manifest: one JSON object produced by the compiler (model config,
///    tokenizer, dispatch program, per-layer schemes, provenance). This
///    library only stores it and checks that it is a JSON object;
///  - a tensor table and the `weights` section: named tensors (dtype, shape)
///    whose bytes start at 64-byte aligned file offsets, so a memory-mapped
///    bundle hands out aligned pointers without copying;
///  - a code table and the `code` section: one blob per target (`x86`,
///    `cuda`, ...) with a format tag (`x86-elf-so-v1`, ...).
///
/// The byte layout is specified in docs/bundle-format.md.
///
/// Loading memory-maps the file and validates it completely before returning:
/// every count, offset, size and string is checked, and so is every byte:
/// against a CRC-32C (the header, the tables, the manifest, each tensor and
/// each code blob have their own) or, for the padding between them, against
/// zero. A truncated, corrupted or damaged file is rejected with an
/// error that names the offending part (`tensor 'w': checksum mismatch ...`)
/// instead of being read out of bounds or run with wrong weights. Checking
/// reads the whole file once, at about memory speed on x86-64 with SSE4.2
/// (80-145 ms of CPU time for a 1 GB bundle in the page cache; see
/// bench/RESULTS.md), which is about what the first inference step would
/// spend paging the weights in anyway.
///
/// Writing is deterministic (the same inputs give the same bytes) and atomic
/// (the file is written under a temporary name in the destination directory
/// and renamed into place).
///
/// No exception escapes this API: failures are reported through the `err`
/// argument. A loaded Bundle is immutable and safe to use from several
/// threads.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_BUNDLE_H
#define LOWBITRT_BUNDLE_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lowbit::rt {

/// The format version this library writes and the only one it reads.
/// Version 1 (CRC-32 of the header and tables only, section checksums on
/// request) is rejected; see docs/bundle-format.md for the version policy.
constexpr uint32_t kBundleFormatVersion = 2;
/// Alignment, in bytes, of every section, tensor and code blob in the file.
constexpr uint64_t kBundleAlignment = 64;

/// Element types of bundle tensors. The numeric values are stored in the file
/// and must never change.
enum class DType : uint32_t {
  /// Opaque bytes (packed or repacked kernel layouts); shape is `[nbytes]`
  /// or any shape whose element count is the byte count.
  Bytes = 0,
  F32 = 1,
  F16 = 2,
  BF16 = 3,
  F64 = 4,
  I64 = 5,
  I32 = 6,
  I16 = 7,
  I8 = 8,
  U8 = 9,
};

/// The lowercase name of `dtype` (`"f32"`, `"bytes"`, ...).
std::string_view dtypeName(DType dtype);
/// Parses a name printed by dtypeName(). Returns false for unknown names.
bool parseDType(std::string_view name, DType &dtype);
/// The size in bytes of one element (1 for DType::Bytes).
uint64_t dtypeSize(DType dtype);

/// A tensor of a loaded bundle. `name` and `data` point into the bundle's
/// memory and live as long as the Bundle.
struct BundleTensor {
  std::string_view name;
  DType dtype = DType::Bytes;
  std::vector<int64_t> shape;
  /// Offset of the first byte in the file (a multiple of kBundleAlignment).
  uint64_t offset = 0;
  /// Size in bytes: the product of `shape` times dtypeSize(dtype).
  uint64_t size = 0;
  const uint8_t *data = nullptr;
  /// CRC-32C of the data, as stored in the file and verified at load.
  uint32_t checksum = 0;
};

/// A per-target code blob of a loaded bundle.
struct BundleCode {
  /// The target name, e.g. "x86".
  std::string_view target;
  /// The blob's format tag, e.g. "x86-elf-so-v1".
  std::string_view format;
  uint64_t offset = 0;
  uint64_t size = 0;
  const uint8_t *data = nullptr;
  /// CRC-32C of the blob, as stored in the file and verified at load (a
  /// driver may use it as a cache key for what it builds from the blob).
  uint32_t checksum = 0;
};

/// A loaded, validated bundle.
class Bundle {
public:
  ~Bundle();
  Bundle(const Bundle &) = delete;
  Bundle &operator=(const Bundle &) = delete;

  /// Memory-maps and validates the bundle at `path`, checksums included
  /// (this reads every byte). Returns null and sets `err` (starting with
  /// `path`) on failure.
  static std::unique_ptr<Bundle> open(const std::string &path,
                                      std::string &err);

  /// Validates a bundle held in memory, checksums included; the memory must
  /// outlive the returned object and is not copied. Tensor pointers are
  /// 64-byte aligned only if `data` is. `name` prefixes error messages.
  static std::unique_ptr<Bundle> fromMemory(const uint8_t *data, size_t size,
                                            std::string &err,
                                            std::string_view name = "<memory>");

  /// Checks the contents against their checksums again (open() and
  /// fromMemory() already did): the manifest, every tensor and code blob,
  /// and the zero padding. Returns false and sets `err` naming the first
  /// part that does not match, e.g. when the memory was overwritten.
  bool verify(std::string &err) const;

  uint32_t formatVersion() const { return version; }
  /// The whole file.
  const uint8_t *data() const { return base; }
  uint64_t size() const { return fileSize; }

  /// The manifest's JSON text (a JSON object).
  std::string_view manifest() const { return manifestText; }

  /// All tensors in file-table order.
  const std::vector<BundleTensor> &tensors() const { return tensorList; }
  /// The tensor named `name`, or null.
  const BundleTensor *tensor(std::string_view name) const;

  /// All code blobs in file-table order.
  const std::vector<BundleCode> &codes() const { return codeList; }
  /// The code blob for `target`, or null.
  const BundleCode *code(std::string_view target) const;

  /// The signature record (section `signature`, docs/bundle-format.md):
  /// 104 bytes whose structure was checked at load, or empty if the bundle
  /// is not signed. Whether it verifies is checked by lowbitrt/Signature.h.
  std::string_view signature() const { return signatureRecord; }

private:
  Bundle() = default;
  friend class BundleReader;

  /// One section of the file.
  struct Section {
    std::string_view name;
    uint64_t offset = 0;
    uint64_t size = 0;
    uint32_t crc = 0;
  };

  std::string displayName;
  const uint8_t *base = nullptr;
  uint64_t fileSize = 0;
  /// Non-null when `base` is a mapping this object owns.
  void *mapping = nullptr;
  uint32_t version = 0;
  /// Where the tables end (the first byte not covered by the table
  /// checksum).
  uint64_t tablesEnd = 0;
  std::string_view manifestText;
  std::string_view signatureRecord;
  std::vector<Section> sections;
  std::vector<BundleTensor> tensorList;
  std::vector<BundleCode> codeList;
  std::unordered_map<std::string_view, size_t> tensorIndex;
  std::unordered_map<std::string_view, size_t> codeIndex;
};

/// Collects a manifest, tensors and code blobs and writes them as a bundle.
/// The `add*` methods only record their arguments; every check (names,
/// shapes, sizes, the manifest being a JSON object) happens in write(), which
/// reports the first problem. Tensors and blobs are laid out in the order
/// they were added.
class BundleWriter {
public:
  BundleWriter();
  ~BundleWriter();
  BundleWriter(const BundleWriter &) = delete;
  BundleWriter &operator=(const BundleWriter &) = delete;

  /// Sets the manifest, the text of a JSON object.
  void setManifest(std::string json);

  /// Adds a tensor whose bytes are referenced, not copied: `data` must stay
  /// valid until the last write call returns.
  void addTensor(std::string name, DType dtype, std::vector<int64_t> shape,
                 const void *data, uint64_t size);
  /// Adds a tensor that owns its bytes.
  void addTensor(std::string name, DType dtype, std::vector<int64_t> shape,
                 std::vector<uint8_t> bytes);

  /// Adds the code blob of `target` (referenced, as for addTensor()).
  void addCode(std::string target, std::string format, const void *data,
               uint64_t size);
  /// Adds a code blob that owns its bytes.
  void addCode(std::string target, std::string format,
               std::vector<uint8_t> bytes);

  /// Adds a signature record (section `signature`; kSignatureRecordSize
  /// bytes, from lowbit::rt::signBundle in lowbitrt/Signature.h); empty: no
  /// signature section, as before. The record must sign exactly the manifest
  /// and code blobs given to this writer.
  void setSignature(std::vector<uint8_t> record);

  /// Writes the bundle to `path` atomically: a temporary file in the same
  /// directory is written, flushed and renamed over `path`. On failure no
  /// file is left behind, `path` is untouched, and `err` says why.
  bool write(const std::string &path, std::string &err) const;

  /// Serializes the bundle into `out` (same bytes as write()).
  bool writeToBuffer(std::vector<uint8_t> &out, std::string &err) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

} // namespace lowbit::rt

#endif // LOWBITRT_BUNDLE_H
