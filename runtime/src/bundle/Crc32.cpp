//===- Crc32.cpp - CRC-32 for bundle checksums ----------------------------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// CRC-32 (IEEE, reflected) with the slicing-by-8 method: eight 256-entry
/// tables, built at compile time, let the loop consume eight bytes per step
/// (about 1-2 GB/s), enough to verify hundreds of MB of weights on load.
///
//===----------------------------------------------------------------------===//

#include "BundleFormat.h"

#include <array>

namespace lowbit::rt::bundle {
namespace {

using CrcTables = std::array<std::array<uint32_t, 256>, 8>;

/// Table k maps a byte b to the CRC of b followed by k zero bytes.
constexpr CrcTables makeTables() {
  CrcTables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int bit = 0; bit < 8; ++bit)
      c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    t[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; ++b)
    for (int k = 1; k < 8; ++k)
      t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  return t;
}

constexpr CrcTables kTables = makeTables();

static_assert(kTables[0][1] == 0x77073096u, "CRC-32 table");

} // namespace

uint32_t crc32(uint32_t crc, const void *data, size_t size) {
  const auto *p = static_cast<const uint8_t *>(data);
  uint32_t c = ~crc;
  for (; size >= 8; size -= 8, p += 8) {
    uint32_t lo = c ^ readU32(p);
    uint32_t hi = readU32(p + 4);
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^
        kTables[5][(lo >> 16) & 0xFF] ^ kTables[4][lo >> 24] ^
        kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
  }
  for (; size; --size, ++p)
    c = (c >> 8) ^ kTables[0][(c ^ *p) & 0xFF];
  return ~c;
}

uint32_t tableCrc(const uint8_t *file, uint64_t tablesSize) {
  uint32_t c = crc32(0, file, kHdrTableCrc);
  return crc32(c, file + kHeaderSize, tablesSize);
}

} // namespace lowbit::rt::bundle
