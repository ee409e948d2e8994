//===- BundleWriter.cpp - Writing of .lowbit bundles ----------------------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Lays out and writes a bundle. The layout is a pure function of the inputs
/// (no timestamps, no host-dependent values, zero padding), so identical
/// inputs give identical bytes. Sections are streamed after a placeholder for
/// the header and tables; the CRC-32C of the manifest and of each tensor and
/// code blob is computed as it is written, and the final header and tables,
/// with their own checksums, are written over the placeholder at the end.
/// Files are written through lowbitrt/OutputFile.h: under a temporary name
/// next to the destination, renamed into place only once complete and
/// flushed; devices and FIFOs are written directly.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Bundle.h"
#include "lowbitrt/OutputFile.h"

#include "BundleFormat.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace lowbit::rt;
using namespace lowbit::rt::bundle;

namespace {

/// A tensor or code blob to be written. `bytes` is either referenced or,
/// when `owned` is non-empty, points into `owned` (vectors keep their buffer
/// when moved, so the pointer survives the writer's vectors growing).
struct Blob {
  std::string name;
  /// The dtype for tensors; the format tag goes in `format` for code blobs.
  DType dtype = DType::Bytes;
  std::vector<int64_t> shape;
  std::string format;
  const uint8_t *bytes = nullptr;
  uint64_t size = 0;
  std::vector<uint8_t> owned;
};

/// Where serialized bytes go: a file or a memory buffer.
class Sink {
public:
  virtual ~Sink() = default;
  /// Appends `n` bytes.
  virtual bool append(const uint8_t *data, uint64_t n, std::string &err) = 0;
  /// Overwrites `n` already appended bytes at `offset`.
  virtual bool patch(uint64_t offset, const uint8_t *data, uint64_t n,
                     std::string &err) = 0;
};

class BufferSink : public Sink {
public:
  explicit BufferSink(std::vector<uint8_t> &out) : out(out) {}
  bool append(const uint8_t *data, uint64_t n, std::string &) override {
    out.insert(out.end(), data, data + n);
    return true;
  }
  bool patch(uint64_t offset, const uint8_t *data, uint64_t n,
             std::string &) override {
    std::memcpy(out.data() + offset, data, n);
    return true;
  }

private:
  std::vector<uint8_t> &out;
};

/// A seekable OutputFile (the temporary of a regular file).
class FileSink : public Sink {
public:
  explicit FileSink(OutputFile &out) : out(out) {}
  bool append(const uint8_t *data, uint64_t n, std::string &err) override {
    return out.write(data, n, err);
  }
  bool patch(uint64_t offset, const uint8_t *data, uint64_t n,
             std::string &err) override {
    return out.pwrite(offset, data, n, err);
  }

private:
  OutputFile &out;
};

/// Checks a name or tag the way the reader will.
bool checkString(const std::string &s, uint32_t maxLength,
                 const std::string &what, std::string &err) {
  if (s.empty())
    err = what + " is empty";
  else if (s.size() > maxLength)
    err = what + " is " + std::to_string(s.size()) +
          " bytes long (the limit is " + std::to_string(maxLength) + ")";
  else if (s.find('\0') != std::string::npos)
    err = what + " contains a NUL byte";
  else
    return true;
  return false;
}

} // namespace

struct BundleWriter::Impl {
  std::string manifest;
  bool hasManifest = false;
  std::vector<Blob> tensors;
  std::vector<Blob> codes;
  /// The signature record, or empty (no `signature` section).
  std::vector<uint8_t> signature;

  bool validate(std::string &err) const;
  bool emit(Sink &sink, std::string &err) const;
};

bool BundleWriter::Impl::validate(std::string &err) const {
  if (!hasManifest) {
    err = "no manifest was set";
    return false;
  }
  size_t first = manifest.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || manifest[first] != '{') {
    err = "manifest is not a JSON object";
    return false;
  }
  if (!nlohmann::json::accept(manifest)) {
    err = "manifest is not valid JSON";
    return false;
  }
  if (tensors.size() > kMaxTensors || codes.size() > kMaxCodes) {
    err = "too many " +
          std::string(
              tensors.size() > kMaxTensors
                  ? "tensors (the limit is " + std::to_string(kMaxTensors)
                  : "code blobs (the limit is " + std::to_string(kMaxCodes)) +
          ")";
    return false;
  }

  std::unordered_map<std::string_view, size_t> seen;
  uint64_t stringBytes = 0;
  for (const Blob &t : tensors) {
    if (!checkString(t.name, kMaxNameLength, "tensor name", err))
      return false;
    std::string what = "tensor '" + t.name + "'";
    if (!seen.emplace(t.name, 0).second) {
      err = "duplicate " + what;
      return false;
    }
    stringBytes += t.name.size();
    if (dtypeSize(t.dtype) == 0) {
      err = what + ": unknown dtype code " +
            std::to_string(static_cast<uint32_t>(t.dtype));
      return false;
    }
    if (t.shape.size() > kMaxRank) {
      err = what + ": rank " + std::to_string(t.shape.size()) +
            " exceeds the limit " + std::to_string(kMaxRank);
      return false;
    }
    uint64_t bytes = dtypeSize(t.dtype);
    bool overflow = false, zero = false;
    for (int64_t dim : t.shape) {
      if (dim < 0) {
        err = what + ": negative dimension " + std::to_string(dim);
        return false;
      }
      zero |= dim == 0;
      overflow |= __builtin_mul_overflow(bytes, uint64_t(dim), &bytes);
    }
    if (zero)
      bytes = 0;
    if (overflow && !zero) {
      err = what + ": byte size overflows 64 bits";
      return false;
    }
    if (t.size != bytes) {
      std::string shape;
      for (int64_t dim : t.shape)
        shape += (shape.empty() ? "" : ", ") + std::to_string(dim);
      err = what + ": " + std::to_string(t.size) +
            " bytes of data but shape [" + shape + "] x " +
            std::string(dtypeName(t.dtype)) + " needs " + std::to_string(bytes);
      return false;
    }
    if (t.size && !t.bytes) {
      err = what + ": no data";
      return false;
    }
  }
  seen.clear();
  for (const Blob &c : codes) {
    if (!checkString(c.name, kMaxTagLength, "code target name", err) ||
        !checkString(c.format, kMaxTagLength,
                     "format of code blob '" + c.name + "'", err))
      return false;
    if (!seen.emplace(c.name, 0).second) {
      err = "duplicate code blob '" + c.name + "'";
      return false;
    }
    if (c.size && !c.bytes) {
      err = "code blob '" + c.name + "': no data";
      return false;
    }
    stringBytes += c.name.size() + c.format.size();
  }
  stringBytes += std::strlen(kManifestSection) + std::strlen(kWeightsSection) +
                 std::strlen(kCodeSection) +
                 (signature.empty() ? 0 : std::strlen(kSignatureSection));
  if (!signature.empty() && signature.size() != kSignatureRecordSize) {
    err = "signature record has " + std::to_string(signature.size()) +
          " bytes, expected " + std::to_string(kSignatureRecordSize);
    return false;
  }
  if (stringBytes > kMaxStringBytes) {
    err = "names take " + std::to_string(stringBytes) +
          " bytes (the limit is " + std::to_string(kMaxStringBytes) + ")";
    return false;
  }
  return true;
}

bool BundleWriter::Impl::emit(Sink &sink, std::string &err) const {
  if (!validate(err))
    return false;

  // Tables: sections, tensors, codes, dims, strings.
  uint64_t dimCount = 0;
  for (const Blob &t : tensors)
    dimCount += t.shape.size();
  std::string strings;
  auto addString = [&](const std::string &s, uint8_t *entry) {
    writeU32(entry, static_cast<uint32_t>(strings.size()));
    writeU32(entry + 4, static_cast<uint32_t>(s.size()));
    strings += s;
  };
  // The signature section exists only in signed bundles, so unsigned
  // bundles keep the bytes they always had.
  const uint32_t kSections = signature.empty() ? 3 : 4;
  uint64_t sectionTable = kHeaderSize;
  uint64_t tensorTable = sectionTable + kSections * kSectionEntrySize;
  uint64_t codeTable = tensorTable + tensors.size() * kTensorEntrySize;
  uint64_t dimTable = codeTable + codes.size() * kCodeEntrySize;
  uint64_t stringTable = dimTable + dimCount * kDimEntrySize;
  // Header and tables; the string table is appended last, once its size is
  // known; entries are filled in place before `head` grows.
  std::vector<uint8_t> head(stringTable);

  // Layout of the sections: manifest, weights, code, each item aligned.
  // Strings are appended in table order: section names first.
  const char *sectionNames[4] = {kManifestSection, kWeightsSection,
                                 kCodeSection, kSignatureSection};
  for (uint32_t s = 0; s < kSections; ++s)
    addString(sectionNames[s],
              head.data() + sectionTable + s * kSectionEntrySize);
  for (size_t i = 0; i < tensors.size(); ++i)
    addString(tensors[i].name,
              head.data() + tensorTable + i * kTensorEntrySize);
  for (size_t i = 0; i < codes.size(); ++i) {
    uint8_t *entry = head.data() + codeTable + i * kCodeEntrySize;
    addString(codes[i].name, entry);
    addString(codes[i].format, entry + 8);
  }
  head.insert(head.end(), strings.begin(), strings.end());
  uint64_t tablesEnd = head.size();

  uint64_t secOffset[4] = {}, secSize[4] = {};
  secOffset[0] = alignUp(tablesEnd);
  secSize[0] = manifest.size();
  // Item offsets: tensors, then code blobs.
  std::vector<uint64_t> tensorOffset(tensors.size()), codeOffset(codes.size());
  auto place = [](const std::vector<Blob> &items, uint64_t start,
                  std::vector<uint64_t> &offsets) {
    uint64_t cursor = start;
    for (size_t i = 0; i < items.size(); ++i) {
      offsets[i] = alignUp(cursor);
      cursor = offsets[i] + items[i].size;
    }
    return cursor - start;
  };
  secOffset[1] = alignUp(secOffset[0] + secSize[0]);
  secSize[1] = place(tensors, secOffset[1], tensorOffset);
  secOffset[2] = alignUp(secOffset[1] + secSize[1]);
  secSize[2] = place(codes, secOffset[2], codeOffset);
  uint64_t fileSize = secOffset[2] + secSize[2];
  if (!signature.empty()) {
    secOffset[3] = alignUp(fileSize);
    secSize[3] = signature.size();
    fileSize = secOffset[3] + secSize[3];
  }

  // Header and tables, without checksums for now.
  uint8_t *h = head.data();
  std::memcpy(h + kHdrMagic, kMagic, sizeof(kMagic));
  writeU32(h + kHdrVersion, kBundleFormatVersion);
  writeU32(h + kHdrHeaderSize, kHeaderSize);
  writeU64(h + kHdrFileSize, fileSize);
  writeU64(h + kHdrTablesSize, tablesEnd - kHeaderSize);
  writeU32(h + kHdrSectionCount, kSections);
  writeU32(h + kHdrTensorCount, static_cast<uint32_t>(tensors.size()));
  writeU32(h + kHdrCodeCount, static_cast<uint32_t>(codes.size()));
  writeU32(h + kHdrDimCount, static_cast<uint32_t>(dimCount));
  writeU32(h + kHdrStringBytes, static_cast<uint32_t>(strings.size()));
  for (uint32_t s = 0; s < kSections; ++s) {
    uint8_t *entry = h + sectionTable + s * kSectionEntrySize;
    writeU64(entry + 8, secOffset[s]);
    writeU64(entry + 16, secSize[s]);
  }
  uint64_t dim = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Blob &t = tensors[i];
    uint8_t *entry = h + tensorTable + i * kTensorEntrySize;
    writeU32(entry + 8, static_cast<uint32_t>(t.dtype));
    writeU32(entry + 12, static_cast<uint32_t>(t.shape.size()));
    writeU32(entry + 16, static_cast<uint32_t>(dim));
    writeU64(entry + 24, tensorOffset[i]);
    writeU64(entry + 32, t.size);
    for (int64_t d : t.shape)
      writeU64(h + dimTable + kDimEntrySize * dim++, static_cast<uint64_t>(d));
  }
  for (size_t i = 0; i < codes.size(); ++i) {
    uint8_t *entry = h + codeTable + i * kCodeEntrySize;
    writeU64(entry + 16, codeOffset[i]);
    writeU64(entry + 24, codes[i].size);
  }

  // Stream everything, checksumming the manifest and each tensor and code
  // blob as it goes by; padding is zero.
  static constexpr uint8_t kZeros[kBundleAlignment] = {};
  uint64_t pos = 0;
  auto put = [&](const uint8_t *data, uint64_t n) {
    pos += n;
    return sink.append(data, n, err);
  };
  auto padTo = [&](uint64_t offset) { return put(kZeros, offset - pos); };
  if (!put(head.data(), head.size()))
    return false;
  auto manifestBytes = reinterpret_cast<const uint8_t *>(manifest.data());
  if (!padTo(secOffset[0]) || !put(manifestBytes, manifest.size()))
    return false;
  // Only the manifest section has a checksum of its own.
  writeU32(h + sectionTable + 24, crc32c(0, manifestBytes, manifest.size()));
  for (uint32_t s = 1; s < 3; ++s) {
    if (!padTo(secOffset[s]))
      return false;
    bool isWeights = s == 1;
    const std::vector<Blob> &items = isWeights ? tensors : codes;
    const std::vector<uint64_t> &offsets =
        isWeights ? tensorOffset : codeOffset;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!padTo(offsets[i]) || !put(items[i].bytes, items[i].size))
        return false;
      uint32_t crc = crc32c(0, items[i].bytes, items[i].size);
      if (isWeights)
        writeU32(h + tensorTable + i * kTensorEntrySize + 20, crc);
      else
        writeU32(h + codeTable + i * kCodeEntrySize + 32, crc);
    }
  }

  if (!signature.empty()) {
    if (!padTo(secOffset[3]) || !put(signature.data(), signature.size()))
      return false;
    writeU32(h + sectionTable + 3 * kSectionEntrySize + 24,
             crc32c(0, signature.data(), signature.size()));
  }

  writeU32(h + kHdrTablesCrc, tablesCrc(h, tablesEnd - kHeaderSize));
  writeU32(h + kHdrHeaderCrc, headerCrc(h));
  return sink.patch(0, head.data(), head.size(), err);
}

//===----------------------------------------------------------------------===//
// BundleWriter
//===----------------------------------------------------------------------===//

BundleWriter::BundleWriter() : impl(new Impl()) {}
BundleWriter::~BundleWriter() = default;

void BundleWriter::setManifest(std::string json) {
  impl->manifest = std::move(json);
  impl->hasManifest = true;
}

void BundleWriter::setSignature(std::vector<uint8_t> record) {
  impl->signature = std::move(record);
}

void BundleWriter::addTensor(std::string name, DType dtype,
                             std::vector<int64_t> shape, const void *data,
                             uint64_t size) {
  Blob t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes = static_cast<const uint8_t *>(data);
  t.size = size;
  impl->tensors.push_back(std::move(t));
}

void BundleWriter::addTensor(std::string name, DType dtype,
                             std::vector<int64_t> shape,
                             std::vector<uint8_t> bytes) {
  Blob t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.owned = std::move(bytes);
  t.bytes = t.owned.data();
  t.size = t.owned.size();
  impl->tensors.push_back(std::move(t));
}

void BundleWriter::addCode(std::string target, std::string format,
                           const void *data, uint64_t size) {
  Blob c;
  c.name = std::move(target);
  c.format = std::move(format);
  c.bytes = static_cast<const uint8_t *>(data);
  c.size = size;
  impl->codes.push_back(std::move(c));
}

void BundleWriter::addCode(std::string target, std::string format,
                           std::vector<uint8_t> bytes) {
  Blob c;
  c.name = std::move(target);
  c.format = std::move(format);
  c.owned = std::move(bytes);
  c.bytes = c.owned.data();
  c.size = c.owned.size();
  impl->codes.push_back(std::move(c));
}

bool BundleWriter::writeToBuffer(std::vector<uint8_t> &out,
                                 std::string &err) const {
  out.clear();
  try {
    BufferSink sink(out);
    if (impl->emit(sink, err))
      return true;
  } catch (const std::bad_alloc &) {
    err = "out of memory";
  } catch (const std::exception &e) {
    err = e.what();
  }
  out.clear();
  return false;
}

bool BundleWriter::write(const std::string &path, std::string &err) const {
  // Through the one output helper: a temporary next to `path`, every write
  // checked, fsync'ed and renamed; a device or FIFO is written directly (the
  // bundle is then built in memory, as it cannot be patched in place).
  try {
    OutputFile out;
    if (!out.open(path, err))
      return false;
    if (out.seekable()) {
      FileSink sink(out);
      if (!impl->emit(sink, err)) {
        if (err.compare(0, path.size() + 1, path + ":") != 0)
          err = path + ": " + err;
        return false;
      }
    } else {
      std::vector<uint8_t> bytes;
      BufferSink sink(bytes);
      if (!impl->emit(sink, err)) {
        err = path + ": " + err;
        return false;
      }
      if (!out.write(bytes.data(), bytes.size(), err))
        return false;
    }
    return out.commit(err);
  } catch (const std::bad_alloc &) {
    err = path + ": out of memory";
  } catch (const std::exception &e) {
    err = path + ": " + e.what();
  }
  return false;
}
