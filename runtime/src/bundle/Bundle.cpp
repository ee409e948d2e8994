//===- Bundle.cpp - Loading and validation of .lowbit bundles -------------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Memory-maps a bundle and validates it completely before handing out any
/// pointer into it. Validation runs in this order: magic and version, the
/// header checksum, the header fields, the tables checksum; then, from the
/// verified tables, strings, sections, tensors and code blobs; then the
/// contents in file order (the CRC-32C of the manifest, every tensor and
/// code blob, zero padding); and finally the manifest's JSON syntax. Every
/// offset and size is checked with arithmetic that cannot overflow, every
/// count is bounded before anything is allocated for it, and every range is
/// compared with the file size it must fit in.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Bundle.h"

#include "BundleFormat.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace lowbit::rt;
using namespace lowbit::rt::bundle;

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

namespace {

struct DTypeInfo {
  DType dtype;
  const char *name;
  uint64_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::Bytes, "bytes", 1}, {DType::F32, "f32", 4}, {DType::F16, "f16", 2},
    {DType::BF16, "bf16", 2},   {DType::F64, "f64", 8}, {DType::I64, "i64", 8},
    {DType::I32, "i32", 4},     {DType::I16, "i16", 2}, {DType::I8, "i8", 1},
    {DType::U8, "u8", 1},
};

const DTypeInfo *lookupDType(uint32_t code) {
  for (const DTypeInfo &info : kDTypes)
    if (static_cast<uint32_t>(info.dtype) == code)
      return &info;
  return nullptr;
}

} // namespace

std::string_view lowbit::rt::dtypeName(DType dtype) {
  const DTypeInfo *info = lookupDType(static_cast<uint32_t>(dtype));
  return info ? info->name : "?";
}

bool lowbit::rt::parseDType(std::string_view name, DType &dtype) {
  for (const DTypeInfo &info : kDTypes) {
    if (name == info.name) {
      dtype = info.dtype;
      return true;
    }
  }
  return false;
}

uint64_t lowbit::rt::dtypeSize(DType dtype) {
  const DTypeInfo *info = lookupDType(static_cast<uint32_t>(dtype));
  return info ? info->size : 0;
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

namespace {

/// `s` for an error message: quoted, control bytes escaped, cut after 64
/// bytes, so names from a corrupted file print safely.
std::string quoted(std::string_view s) {
  std::string out = "'";
  size_t n = std::min<size_t>(s.size(), 64);
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
      const char *hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (n < s.size())
    out += "...";
  return out + "'";
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

std::string range(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

/// A byte range of the file owned by a named element, for overlap checks.
struct Extent {
  uint64_t begin;
  uint64_t end;
  std::string_view name;
};

} // namespace

namespace lowbit::rt {

/// Parses and validates a bundle image into a Bundle. A class (rather than
/// free functions) so that it can fill the Bundle's private members.
class BundleReader {
public:
  BundleReader(Bundle &b, std::string &err) : b(b), err(err) {}

  bool parse();

private:
  bool fail(const std::string &msg) {
    err = b.displayName + ": " + msg;
    return false;
  }
  bool mismatch(const std::string &what, uint32_t stored, uint32_t computed);

  bool parseHeader();
  bool readString(uint64_t entry, uint32_t maxLength, const std::string &what,
                  std::string_view &out);
  bool parseSections();
  bool parseTensors();
  bool parseCodes();
  bool checkOverlaps(std::vector<Extent> &extents, const char *kind);
  /// Checks that [offset, offset + bytes) is an aligned range inside the
  /// section `sec`; `what` names the element in errors.
  bool checkInSection(const std::string &what, uint64_t offset, uint64_t bytes,
                      const Bundle::Section &sec);
  bool parseManifest();

  Bundle &b;
  std::string &err;
  const uint8_t *base = nullptr;
  uint64_t size = 0;

  uint64_t tablesSize = 0;
  uint32_t sectionCount = 0, tensorCount = 0, codeCount = 0, dimCount = 0;
  uint32_t stringBytes = 0;
  /// File offsets of the tables.
  uint64_t sectionTable = 0, tensorTable = 0, codeTable = 0, dimTable = 0,
           stringTable = 0, tablesEnd = 0;
  const Bundle::Section *manifestSec = nullptr, *weightsSec = nullptr,
                        *codeSec = nullptr, *signatureSec = nullptr;
};

} // namespace lowbit::rt

bool BundleReader::parse() {
  base = b.base;
  size = b.fileSize;
  // The structure is read from the checksummed header and tables; the
  // contents are verified before the manifest is parsed.
  return parseHeader() && parseSections() && parseTensors() && parseCodes() &&
         b.verify(err) && parseManifest();
}

bool BundleReader::mismatch(const std::string &what, uint32_t stored,
                            uint32_t computed) {
  return fail(what + ": checksum mismatch (stored " + hex32(stored) +
              ", computed " + hex32(computed) + "; file damaged?)");
}

bool BundleReader::parseHeader() {
  size_t magicBytes = std::min<uint64_t>(size, sizeof(kMagic));
  if (magicBytes && std::memcmp(base, kMagic, magicBytes))
    return fail("not a lowbit bundle (bad magic)");
  if (size < kHeaderSize)
    return fail("file is too small for a bundle header (" +
                std::to_string(size) + " bytes, need " +
                std::to_string(kHeaderSize) + "; truncated?)");

  // The version comes first: it decides how the rest is laid out and
  // checksummed.
  b.version = readU32(base + kHdrVersion);
  if (b.version != kBundleFormatVersion) {
    std::string msg = "bundle format version " + std::to_string(b.version) +
                      " is not supported (this runtime reads version " +
                      std::to_string(kBundleFormatVersion) + ")";
    if (b.version < kBundleFormatVersion)
      msg += "; recompile the model with this version of lowbit-compile";
    else if (b.version <= 255)
      msg += "; it was written by a newer lowbit-compile";
    else
      msg += "; the header is damaged";
    return fail(msg);
  }
  uint32_t stored = readU32(base + kHdrHeaderCrc);
  uint32_t computed = headerCrc(base);
  if (stored != computed)
    return mismatch("header", stored, computed);

  uint32_t headerSize = readU32(base + kHdrHeaderSize);
  if (headerSize != kHeaderSize)
    return fail("header size " + std::to_string(headerSize) + " is not " +
                std::to_string(kHeaderSize));

  uint64_t declared = readU64(base + kHdrFileSize);
  if (declared > size)
    return fail("file is truncated: the header says " +
                std::to_string(declared) + " bytes but the file has " +
                std::to_string(size));
  if (declared < size)
    return fail("file has " + std::to_string(size) +
                " bytes but the header says " + std::to_string(declared));

  tablesSize = readU64(base + kHdrTablesSize);
  sectionCount = readU32(base + kHdrSectionCount);
  tensorCount = readU32(base + kHdrTensorCount);
  codeCount = readU32(base + kHdrCodeCount);
  dimCount = readU32(base + kHdrDimCount);
  stringBytes = readU32(base + kHdrStringBytes);
  auto overLimit = [&](const char *what, uint64_t n, uint64_t limit) {
    return fail(std::string(what) + " count " + std::to_string(n) +
                " exceeds the limit " + std::to_string(limit));
  };
  if (sectionCount > kMaxSections)
    return overLimit("section", sectionCount, kMaxSections);
  if (tensorCount > kMaxTensors)
    return overLimit("tensor", tensorCount, kMaxTensors);
  if (codeCount > kMaxCodes)
    return overLimit("code blob", codeCount, kMaxCodes);
  if (dimCount > uint64_t(tensorCount) * kMaxRank)
    return overLimit("dimension", dimCount, uint64_t(tensorCount) * kMaxRank);
  if (stringBytes > kMaxStringBytes)
    return fail("string table size " + std::to_string(stringBytes) +
                " exceeds the limit " + std::to_string(kMaxStringBytes));

  // The counts are bounded, so none of these sums can overflow.
  sectionTable = kHeaderSize;
  tensorTable = sectionTable + sectionCount * kSectionEntrySize;
  codeTable = tensorTable + tensorCount * kTensorEntrySize;
  dimTable = codeTable + codeCount * kCodeEntrySize;
  stringTable = dimTable + dimCount * kDimEntrySize;
  tablesEnd = stringTable + stringBytes;
  if (tablesSize != tablesEnd - kHeaderSize)
    return fail("tables size " + std::to_string(tablesSize) +
                " does not match the counts in the header (expected " +
                std::to_string(tablesEnd - kHeaderSize) + ")");
  if (tablesEnd > size)
    return fail("tables end at " + std::to_string(tablesEnd) +
                " past the end of the file (" + std::to_string(size) +
                " bytes)");
  if (uint32_t flags = readU32(base + kHdrFlags))
    return fail("unknown header flags " + hex32(flags));
  b.tablesEnd = tablesEnd;

  stored = readU32(base + kHdrTablesCrc);
  computed = tablesCrc(base, tablesSize);
  if (stored != computed)
    return mismatch("tables", stored, computed);
  return true;
}

bool BundleReader::readString(uint64_t entry, uint32_t maxLength,
                              const std::string &what, std::string_view &out) {
  uint32_t offset = readU32(base + entry);
  uint32_t length = readU32(base + entry + 4);
  if (offset > stringBytes || length > stringBytes - offset)
    return fail(what + " " + range(offset, uint64_t(offset) + length) +
                " is outside the string table (" + std::to_string(stringBytes) +
                " bytes)");
  if (length == 0)
    return fail(what + " is empty");
  if (length > maxLength)
    return fail(what + " is " + std::to_string(length) +
                " bytes long (the limit is " + std::to_string(maxLength) + ")");
  out = std::string_view(
      reinterpret_cast<const char *>(base) + stringTable + offset, length);
  if (out.find('\0') != std::string_view::npos)
    return fail(what + " " + quoted(out) + " contains a NUL byte");
  return true;
}

bool BundleReader::checkOverlaps(std::vector<Extent> &extents,
                                 const char *kind) {
  std::sort(extents.begin(), extents.end(),
            [](const Extent &x, const Extent &y) {
              return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
            });
  for (size_t i = 1; i < extents.size(); ++i) {
    const Extent &prev = extents[i - 1], &cur = extents[i];
    if (cur.begin < prev.end)
      return fail(std::string(kind) + " " + quoted(prev.name) + " " +
                  range(prev.begin, prev.end) + " and " + quoted(cur.name) +
                  " " + range(cur.begin, cur.end) + " overlap");
  }
  return true;
}

bool BundleReader::parseSections() {
  std::vector<Extent> extents;
  b.sections.reserve(sectionCount);
  for (uint32_t i = 0; i < sectionCount; ++i) {
    uint64_t entry = sectionTable + i * kSectionEntrySize;
    Bundle::Section sec;
    if (!readString(entry, kMaxTagLength,
                    "section " + std::to_string(i) + " name", sec.name))
      return false;
    sec.offset = readU64(base + entry + 8);
    sec.size = readU64(base + entry + 16);
    sec.crc = readU32(base + entry + 24);
    std::string what = "section " + quoted(sec.name);
    if (readU32(base + entry + 28))
      return fail(what + ": reserved field is not zero");

    if (sec.name != kManifestSection && sec.name != kWeightsSection &&
        sec.name != kCodeSection && sec.name != kSignatureSection)
      return fail("unknown " + what);
    // The tensors and code blobs carry their own checksums.
    if (sec.name != kManifestSection && sec.name != kSignatureSection &&
        sec.crc)
      return fail(what + ": checksum field is " + hex32(sec.crc) +
                  ", expected 0 (its items carry their own)");
    for (const Bundle::Section &other : b.sections)
      if (other.name == sec.name)
        return fail("duplicate " + what);

    if (sec.offset % kBundleAlignment)
      return fail(what + " offset " + std::to_string(sec.offset) +
                  " is not a multiple of " + std::to_string(kBundleAlignment));
    if (sec.offset < tablesEnd)
      return fail(what + " starts at " + std::to_string(sec.offset) +
                  ", inside the header and tables (which end at " +
                  std::to_string(tablesEnd) + ")");
    if (sec.offset > size)
      return fail(what + " starts at " + std::to_string(sec.offset) +
                  " past the end of the file (" + std::to_string(size) +
                  " bytes)");
    if (sec.size > size - sec.offset)
      return fail(what + " ends at " +
                  (sec.size > UINT64_MAX - sec.offset
                       ? std::string("more than 2^64")
                       : std::to_string(sec.offset + sec.size)) +
                  " past the end of the file (" + std::to_string(size) +
                  " bytes)");
    if (sec.size)
      extents.push_back({sec.offset, sec.offset + sec.size, sec.name});
    b.sections.push_back(sec);
  }
  // `sections` no longer grows, so pointers into it stay valid.
  for (const Bundle::Section &sec : b.sections) {
    if (sec.name == kManifestSection)
      manifestSec = &sec;
    else if (sec.name == kWeightsSection)
      weightsSec = &sec;
    else if (sec.name == kCodeSection)
      codeSec = &sec;
    else
      signatureSec = &sec;
  }
  if (signatureSec) {
    // Only the record's structure is checked here; whether the signature
    // verifies (and against which keys) is the loader's policy.
    const std::string what =
        std::string("section ") + quoted(kSignatureSection);
    if (signatureSec->size != kSignatureRecordSize)
      return fail(what + " has " + std::to_string(signatureSec->size) +
                  " bytes, expected " + std::to_string(kSignatureRecordSize));
    const uint8_t *rec = base + signatureSec->offset;
    if (readU32(rec) != kSignatureEd25519)
      return fail(what + ": unknown signature algorithm " +
                  std::to_string(readU32(rec)) + " (1 = Ed25519)");
    if (readU32(rec + 4))
      return fail(what + ": reserved field is not zero");
    b.signatureRecord = std::string_view(reinterpret_cast<const char *>(rec),
                                         signatureSec->size);
  }
  if (!manifestSec)
    return fail(std::string("missing section ") + quoted(kManifestSection));
  if (!weightsSec)
    return fail(std::string("missing section ") + quoted(kWeightsSection));
  if (!codeSec)
    return fail(std::string("missing section ") + quoted(kCodeSection));
  return checkOverlaps(extents, "sections");
}

bool BundleReader::checkInSection(const std::string &what, uint64_t offset,
                                  uint64_t bytes, const Bundle::Section &sec) {
  uint64_t secEnd = sec.offset + sec.size;
  if (offset % kBundleAlignment)
    return fail(what + " offset " + std::to_string(offset) +
                " is not a multiple of " + std::to_string(kBundleAlignment));
  if (offset < sec.offset || offset > secEnd || bytes > secEnd - offset)
    return fail(what + " " +
                range(offset, bytes > UINT64_MAX - offset ? UINT64_MAX
                                                          : offset + bytes) +
                " lies outside section " + quoted(sec.name) + " " +
                range(sec.offset, secEnd));
  return true;
}

bool BundleReader::parseTensors() {
  std::vector<Extent> extents;
  b.tensorList.reserve(tensorCount);
  b.tensorIndex.reserve(tensorCount);
  uint64_t nextDim = 0;
  for (uint32_t i = 0; i < tensorCount; ++i) {
    uint64_t entry = tensorTable + i * kTensorEntrySize;
    BundleTensor t;
    if (!readString(entry, kMaxNameLength,
                    "tensor " + std::to_string(i) + " name", t.name))
      return false;
    std::string what = "tensor " + quoted(t.name);
    uint32_t dtypeCode = readU32(base + entry + 8);
    uint32_t rank = readU32(base + entry + 12);
    uint32_t firstDim = readU32(base + entry + 16);
    t.checksum = readU32(base + entry + 20);
    t.offset = readU64(base + entry + 24);
    t.size = readU64(base + entry + 32);
    const DTypeInfo *info = lookupDType(dtypeCode);
    if (!info)
      return fail(what + ": unknown dtype code " + std::to_string(dtypeCode));
    t.dtype = info->dtype;
    if (rank > kMaxRank)
      return fail(what + ": rank " + std::to_string(rank) +
                  " exceeds the limit " + std::to_string(kMaxRank));
    if (firstDim != nextDim)
      return fail(what + ": shape starts at dimension entry " +
                  std::to_string(firstDim) + ", expected " +
                  std::to_string(nextDim));
    if (nextDim + rank > dimCount)
      return fail(what + ": shape runs past the end of the dimension table (" +
                  std::to_string(dimCount) + " entries)");
    nextDim += rank;

    // Element count times element size, refusing any overflow.
    uint64_t bytes = info->size;
    bool overflow = false;
    t.shape.resize(rank);
    for (uint32_t d = 0; d < rank; ++d) {
      auto dim = static_cast<int64_t>(
          readU64(base + dimTable + (firstDim + d) * kDimEntrySize));
      if (dim < 0)
        return fail(what + ": dimension " + std::to_string(d) +
                    " is negative (" + std::to_string(dim) + ")");
      t.shape[d] = dim;
      if (__builtin_mul_overflow(bytes, uint64_t(dim), &bytes))
        overflow = true;
    }
    std::string shapeText = "[";
    for (uint32_t d = 0; d < rank; ++d)
      shapeText += (d ? ", " : "") + std::to_string(t.shape[d]);
    shapeText += "]";
    bool hasZeroDim =
        std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end();
    if (overflow && !hasZeroDim)
      return fail(what + ": the byte size of shape " + shapeText + " x " +
                  info->name + " overflows 64 bits");
    if (hasZeroDim)
      bytes = 0;
    if (t.size != bytes)
      return fail(what + ": size " + std::to_string(t.size) +
                  " does not match shape " + shapeText + " x " + info->name +
                  " (" + std::to_string(bytes) + " bytes)");
    if (!checkInSection(what, t.offset, t.size, *weightsSec))
      return false;
    t.data = base + t.offset;
    if (!b.tensorIndex.emplace(t.name, i).second)
      return fail("duplicate " + what);
    if (t.size)
      extents.push_back({t.offset, t.offset + t.size, t.name});
    b.tensorList.push_back(std::move(t));
  }
  if (nextDim != dimCount)
    return fail("the dimension table has " + std::to_string(dimCount) +
                " entries but the tensors use " + std::to_string(nextDim));
  return checkOverlaps(extents, "tensors");
}

bool BundleReader::parseCodes() {
  std::vector<Extent> extents;
  b.codeList.reserve(codeCount);
  b.codeIndex.reserve(codeCount);
  for (uint32_t i = 0; i < codeCount; ++i) {
    uint64_t entry = codeTable + i * kCodeEntrySize;
    BundleCode c;
    std::string index = "code blob " + std::to_string(i);
    if (!readString(entry, kMaxTagLength, index + " target", c.target) ||
        !readString(entry + 8, kMaxTagLength, index + " format", c.format))
      return false;
    std::string what = "code blob " + quoted(c.target);
    c.offset = readU64(base + entry + 16);
    c.size = readU64(base + entry + 24);
    c.checksum = readU32(base + entry + 32);
    if (readU32(base + entry + 36))
      return fail(what + ": reserved field is not zero");
    if (!checkInSection(what, c.offset, c.size, *codeSec))
      return false;
    c.data = base + c.offset;
    if (!b.codeIndex.emplace(c.target, i).second)
      return fail("duplicate " + what);
    if (c.size)
      extents.push_back({c.offset, c.offset + c.size, c.target});
    b.codeList.push_back(c);
  }
  return checkOverlaps(extents, "code blobs");
}

bool BundleReader::parseManifest() {
  std::string_view text(reinterpret_cast<const char *>(base) +
                            manifestSec->offset,
                        manifestSec->size);
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{')
    return fail("manifest is not a JSON object");
  if (!nlohmann::json::accept(text.begin(), text.end()))
    return fail("manifest is not valid JSON");
  b.manifestText = text;
  return true;
}

//===----------------------------------------------------------------------===//
// Bundle
//===----------------------------------------------------------------------===//

Bundle::~Bundle() {
  if (mapping)
    ::munmap(mapping, fileSize);
}

std::unique_ptr<Bundle> Bundle::fromMemory(const uint8_t *data, size_t size,
                                           std::string &err,
                                           std::string_view name) {
  try {
    std::unique_ptr<Bundle> b(new Bundle());
    b->displayName = std::string(name);
    b->base = data;
    b->fileSize = data ? size : 0;
    if (!BundleReader(*b, err).parse())
      return nullptr;
    return b;
  } catch (const std::bad_alloc &) {
    err = std::string(name) + ": out of memory";
  } catch (const std::exception &e) {
    err = std::string(name) + ": " + e.what();
  }
  return nullptr;
}

std::unique_ptr<Bundle> Bundle::open(const std::string &path,
                                     std::string &err) {
  auto sysError = [&](const char *what) {
    err = path + ": " + what + ": " +
          std::error_code(errno, std::generic_category()).message();
    return nullptr;
  };
  try {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return sysError("cannot open");
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int saved = errno;
      ::close(fd);
      errno = saved;
      return sysError("cannot stat");
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      err = path + ": not a regular file";
      return nullptr;
    }
    auto size = static_cast<uint64_t>(st.st_size);
    if (size == 0 || size > SIZE_MAX) {
      ::close(fd);
      if (size)
        err = path + ": file is too large to map";
      else
        err = path + ": file is too small for a bundle header (0 bytes, need " +
              std::to_string(kHeaderSize) + "; truncated?)";
      return nullptr;
    }
    void *map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    ::close(fd);
    if (map == MAP_FAILED) {
      errno = saved;
      return sysError("cannot map");
    }
    std::unique_ptr<Bundle> b(new Bundle());
    b->mapping = map;
    b->base = static_cast<const uint8_t *>(map);
    b->fileSize = size;
    b->displayName = path;
    if (!BundleReader(*b, err).parse())
      return nullptr;
    return b;
  } catch (const std::bad_alloc &) {
    err = path + ": out of memory";
  } catch (const std::exception &e) {
    err = path + ": " + e.what();
  }
  return nullptr;
}

namespace {

/// The first non-zero byte of [p, p + n), or n.
uint64_t firstNonZero(const uint8_t *p, uint64_t n) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    if (word)
      break;
  }
  for (; i < n; ++i)
    if (p[i])
      return i;
  return n;
}

} // namespace

bool Bundle::verify(std::string &err) const {
  try {
    // Every byte after the tables is in the manifest, a tensor or a code
    // blob, each checked against its CRC-32C, or is padding, which must be
    // zero. One pass in file order, which is also the order in which the
    // kernel reads the file ahead.
    struct Part {
      uint64_t begin, end;
      uint32_t stored;
      /// 0: the manifest, 1: tensor `index`, 2: code blob `index`, 3: the
      /// signature record.
      int kind;
      size_t index;
    };
    std::vector<Part> parts;
    parts.reserve(1 + tensorList.size() + codeList.size());
    for (const Section &sec : sections)
      if (sec.name == bundle::kManifestSection)
        parts.push_back({sec.offset, sec.offset + sec.size, sec.crc, 0, 0});
      else if (sec.name == bundle::kSignatureSection)
        parts.push_back({sec.offset, sec.offset + sec.size, sec.crc, 3, 0});
    for (size_t i = 0; i < tensorList.size(); ++i) {
      const BundleTensor &t = tensorList[i];
      parts.push_back({t.offset, t.offset + t.size, t.checksum, 1, i});
    }
    for (size_t i = 0; i < codeList.size(); ++i) {
      const BundleCode &c = codeList[i];
      parts.push_back({c.offset, c.offset + c.size, c.checksum, 2, i});
    }
    std::stable_sort(
        parts.begin(), parts.end(), [](const Part &x, const Part &y) {
          return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
        });
    auto name = [&](const Part *p) -> std::string {
      if (!p)
        return "the tables";
      if (p->kind == 0)
        return "manifest";
      if (p->kind == 3)
        return "signature";
      if (p->kind == 1)
        return "tensor " + quoted(tensorList[p->index].name);
      return "code blob " + quoted(codeList[p->index].target);
    };
    auto padding = [&](uint64_t begin, uint64_t end, const Part *after) {
      uint64_t at = begin + firstNonZero(base + begin, end - begin);
      if (at == end)
        return true;
      err = displayName + ": padding " + range(begin, end) + " after " +
            name(after) + " is not zero (byte " + std::to_string(at) +
            "; file damaged?)";
      return false;
    };
    uint64_t pos = tablesEnd;
    const Part *prev = nullptr;
    for (const Part &p : parts) {
      if (p.begin > pos && !padding(pos, p.begin, prev))
        return false;
      uint32_t computed = bundle::crc32c(0, base + p.begin, p.end - p.begin);
      if (computed != p.stored) {
        err = displayName + ": " + name(&p) + ": checksum mismatch (stored " +
              hex32(p.stored) + ", computed " + hex32(computed) +
              "; file damaged?)";
        return false;
      }
      if (p.end >= pos) {
        pos = p.end;
        prev = &p;
      }
    }
    return padding(pos, fileSize, prev);
  } catch (const std::bad_alloc &) {
    err = displayName + ": out of memory";
  } catch (const std::exception &e) {
    err = displayName + ": " + e.what();
  }
  return false;
}

const BundleTensor *Bundle::tensor(std::string_view name) const {
  auto it = tensorIndex.find(name);
  return it == tensorIndex.end() ? nullptr : &tensorList[it->second];
}

const BundleCode *Bundle::code(std::string_view target) const {
  auto it = codeIndex.find(target);
  return it == codeIndex.end() ? nullptr : &codeList[it->second];
}
