//===- BundleFormat.h - Byte layout of .lowbit bundles ----------*- C++ -*-===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Constants that describe the on-disk layout of a bundle (see
/// docs/bundle-format.md), little-endian field accessors and the CRC-32C used
/// for checksums. Private to the bundle library and its tests and fuzzer.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_BUNDLE_BUNDLEFORMAT_H
#define LOWBITRT_BUNDLE_BUNDLEFORMAT_H

#include <cstddef>
#include <cstdint>

namespace lowbit::rt::bundle {

//===----------------------------------------------------------------------===//
// Header
//===----------------------------------------------------------------------===//

/// "\x89LOWBIT\n": a high-bit byte and a newline catch 7-bit and text-mode
/// transfers, as in PNG.
constexpr uint8_t kMagic[8] = {0x89, 'L', 'O', 'W', 'B', 'I', 'T', '\n'};
constexpr uint64_t kHeaderSize = 64;

/// Byte offsets of the header fields.
enum HeaderField : uint64_t {
  kHdrMagic = 0,         // u8[8]
  kHdrVersion = 8,       // u32
  kHdrHeaderSize = 12,   // u32
  kHdrFileSize = 16,     // u64
  kHdrTablesSize = 24,   // u64
  kHdrSectionCount = 32, // u32
  kHdrTensorCount = 36,  // u32
  kHdrCodeCount = 40,    // u32
  kHdrDimCount = 44,     // u32
  kHdrStringBytes = 48,  // u32
  kHdrFlags = 52,        // u32
  kHdrTablesCrc = 56,    // u32: CRC-32C of the tables
  kHdrHeaderCrc = 60,    // u32: CRC-32C of header bytes [0, 60)
};

//===----------------------------------------------------------------------===//
// Tables (right after the header, in this order)
//===----------------------------------------------------------------------===//

/// Section entry: u32 name offset, u32 name length, u64 offset, u64 size,
/// u32 crc32c (of the section for `manifest`, 0 for `weights` and `code`),
/// u32 reserved.
constexpr uint64_t kSectionEntrySize = 32;
/// Tensor entry: u32 name offset, u32 name length, u32 dtype, u32 rank,
/// u32 first dim, u32 crc32c of the data, u64 offset, u64 size.
constexpr uint64_t kTensorEntrySize = 40;
/// Code entry: u32 target offset, u32 target length, u32 format offset,
/// u32 format length, u64 offset, u64 size, u32 crc32c of the blob,
/// u32 reserved.
constexpr uint64_t kCodeEntrySize = 40;
/// Dimension entry: i64.
constexpr uint64_t kDimEntrySize = 8;

//===----------------------------------------------------------------------===//
// Limits (enforced by the reader and the writer)
//===----------------------------------------------------------------------===//

constexpr uint32_t kMaxSections = 16;
constexpr uint32_t kMaxTensors = 1u << 20;
constexpr uint32_t kMaxCodes = 1024;
constexpr uint32_t kMaxRank = 8;
constexpr uint32_t kMaxStringBytes = 64u << 20;
/// Longest tensor name, in bytes.
constexpr uint32_t kMaxNameLength = 1024;
/// Longest section name, target name or format tag, in bytes.
constexpr uint32_t kMaxTagLength = 128;

constexpr const char *kManifestSection = "manifest";
constexpr const char *kWeightsSection = "weights";
constexpr const char *kCodeSection = "code";
/// Optional: the Ed25519 signature record (docs/bundle-format.md,
/// "Signature"), checksummed like the manifest.
constexpr const char *kSignatureSection = "signature";

/// The signature record: u32 algorithm, u32 reserved (0), the signer's
/// 32-byte public key, the 64-byte signature.
constexpr uint64_t kSignatureRecordSize = 104;
constexpr uint32_t kSignatureEd25519 = 1;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

inline uint32_t readU32(const uint8_t *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
         uint32_t(p[3]) << 24;
}

inline uint64_t readU64(const uint8_t *p) {
  return uint64_t(readU32(p)) | uint64_t(readU32(p + 4)) << 32;
}

inline void writeU32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = uint8_t(v >> (8 * i));
}

inline void writeU64(uint8_t *p, uint64_t v) {
  writeU32(p, uint32_t(v));
  writeU32(p + 4, uint32_t(v >> 32));
}

/// Rounds `v` up to a multiple of 64. `v` must be at most UINT64_MAX - 63.
constexpr uint64_t alignUp(uint64_t v) { return (v + 63) & ~uint64_t(63); }

/// Continues the CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, as in
/// iSCSI, ext4 and SSE4.2's crc32 instruction) `crc` over `size` bytes.
/// Start with 0; the result of one call can be passed to the next to
/// checksum data in pieces. Uses the crc32 instruction when the CPU has it.
uint32_t crc32c(uint32_t crc, const void *data, size_t size);
/// The same function without the instruction (for tests and benchmarks).
uint32_t crc32cPortable(uint32_t crc, const void *data, size_t size);

/// The checksum stored at kHdrHeaderCrc: the CRC-32C of header bytes
/// [0, 60).
inline uint32_t headerCrc(const uint8_t *file) {
  return crc32c(0, file, kHdrHeaderCrc);
}

/// The checksum stored at kHdrTablesCrc: the CRC-32C of the `tablesSize`
/// bytes after the header.
inline uint32_t tablesCrc(const uint8_t *file, uint64_t tablesSize) {
  return crc32c(0, file + kHeaderSize, tablesSize);
}

} // namespace lowbit::rt::bundle

#endif // LOWBITRT_BUNDLE_BUNDLEFORMAT_H
