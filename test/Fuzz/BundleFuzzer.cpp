//===- BundleFuzzer.cpp - libFuzzer target for the bundle reader ----------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Feeds arbitrary bytes to lowbit::rt::Bundle::fromMemory twice: as they
/// are, and with every checksum recomputed (header, tables, manifest, each
/// tensor and code blob whose range lies in the input), so that mutations
/// reach the checks behind the checksums instead of stopping there. The
/// reader under test is the production one, checksum verification included;
/// no fuzzing-only mode skips it. A bundle that loads must be usable: every
/// tensor and code blob lies inside the input, sizes match shapes, lookups
/// find every entry, verify() agrees, the manifest parses as a JSON object,
/// and writing the contents back out with BundleWriter gives a bundle that
/// loads to the same contents and re-serializes to the same bytes.
///
/// Build (stand-alone):
///   clang++-22 -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
///     -Iruntime/include -Iruntime/src/bundle test/Fuzz/BundleFuzzer.cpp \
///     runtime/src/bundle/Bundle.cpp runtime/src/bundle/BundleWriter.cpp \
///     runtime/src/bundle/Crc32c.cpp -o bundle-fuzzer
/// Run:
///   ./bundle-fuzzer -dict=test/Fuzz/bundle.dict -max_total_time=60 \
///     corpus-dir test/Fuzz/corpus/bundle
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Bundle.h"

#include "BundleFormat.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace lowbit::rt;
namespace fmt = lowbit::rt::bundle;

namespace {

void check(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

/// Checks that a loaded bundle only points into [data, data + size).
void checkLoaded(const Bundle &b, const uint8_t *data, size_t size) {
  check(b.formatVersion() == kBundleFormatVersion, "version");
  check(b.data() == data && b.size() == size, "image");
  auto inside = [&](const void *p, uint64_t n) {
    auto *q = static_cast<const uint8_t *>(p);
    return q >= data && uint64_t(q - data) <= size &&
           n <= size - uint64_t(q - data);
  };
  std::string_view manifest = b.manifest();
  check(inside(manifest.data(), manifest.size()), "manifest bounds");
  nlohmann::json j = nlohmann::json::parse(manifest, nullptr, false);
  check(!j.is_discarded() && j.is_object(), "manifest is a JSON object");

  for (const BundleTensor &t : b.tensors()) {
    check(inside(t.data, t.size), "tensor bounds");
    check(t.data == data + t.offset, "tensor offset");
    check(t.offset % kBundleAlignment == 0, "tensor alignment");
    check(inside(t.name.data(), t.name.size()), "tensor name bounds");
    check(!t.name.empty() && t.name.find('\0') == std::string_view::npos,
          "tensor name");
    check(t.shape.size() <= fmt::kMaxRank, "rank");
    uint64_t bytes = dtypeSize(t.dtype);
    check(bytes > 0, "dtype");
    for (int64_t d : t.shape) {
      check(d >= 0, "dimension");
      if (bytes && !__builtin_mul_overflow(bytes, uint64_t(d), &bytes))
        continue;
      // Overflow is only acceptable when another dimension is zero.
      check(t.size == 0, "shape overflow");
      bytes = 0;
    }
    check(bytes == t.size, "size = shape x dtype");
    check(b.tensor(t.name) == &t, "tensor lookup");
  }
  for (const BundleCode &c : b.codes()) {
    check(inside(c.data, c.size), "code bounds");
    check(c.offset % kBundleAlignment == 0, "code alignment");
    check(b.code(c.target) == &c, "code lookup");
  }
}

/// Writes the contents of `b` back out; the result must load to the same
/// contents and be a fixed point of writing.
void checkRewrite(const Bundle &b) {
  BundleWriter w;
  w.setManifest(std::string(b.manifest()));
  for (const BundleTensor &t : b.tensors())
    w.addTensor(std::string(t.name), t.dtype, t.shape, t.data, t.size);
  for (const BundleCode &c : b.codes())
    w.addCode(std::string(c.target), std::string(c.format), c.data, c.size);
  std::vector<uint8_t> bytes;
  std::string err;
  if (!w.writeToBuffer(bytes, err)) {
    std::fprintf(stderr, "rewrite failed: %s\n", err.c_str());
    std::abort();
  }
  auto again = Bundle::fromMemory(bytes.data(), bytes.size(), err);
  if (!again) {
    std::fprintf(stderr, "rewritten bundle does not load: %s\n", err.c_str());
    std::abort();
  }
  check(again->manifest() == b.manifest(), "rewritten manifest");
  check(again->tensors().size() == b.tensors().size(), "rewritten tensors");
  for (size_t i = 0; i < b.tensors().size(); ++i) {
    const BundleTensor &x = b.tensors()[i], &y = again->tensors()[i];
    check(x.name == y.name && x.dtype == y.dtype && x.shape == y.shape &&
              x.size == y.size &&
              (x.size == 0 || !std::memcmp(x.data, y.data, x.size)),
          "rewritten tensor");
  }
  check(again->codes().size() == b.codes().size(), "rewritten codes");
  for (size_t i = 0; i < b.codes().size(); ++i) {
    const BundleCode &x = b.codes()[i], &y = again->codes()[i];
    check(x.target == y.target && x.format == y.format && x.size == y.size &&
              (x.size == 0 || !std::memcmp(x.data, y.data, x.size)),
          "rewritten code");
  }
  std::vector<uint8_t> second;
  check(w.writeToBuffer(second, err) && second == bytes,
        "writing is deterministic");
}

void fuzzOnce(const uint8_t *data, size_t size) {
  std::string err;
  auto b = Bundle::fromMemory(data, size, err, "fuzz.lowbit");
  if (!b) {
    check(err.rfind("fuzz.lowbit: ", 0) == 0, "error names the input");
    return;
  }
  check(err.empty(), "no error on success");
  checkLoaded(*b, data, size);
  check(b->verify(err), "verify() agrees with loading");
  checkRewrite(*b);
}

/// Whether [offset, offset + n) lies inside a buffer of `size` bytes.
bool inBounds(uint64_t offset, uint64_t n, uint64_t size) {
  return offset <= size && n <= size - offset;
}

/// Recomputes, in place, every checksum of `f` that can be located: each
/// entry whose range lies in the buffer gets the CRC-32C of that range (the
/// manifest section only; other sections must store 0), then the tables and
/// the header get theirs. Returns false when the header or tables do not
/// fit, so there is nothing to fix.
bool fixChecksums(std::vector<uint8_t> &f) {
  uint64_t size = f.size();
  if (size < fmt::kHeaderSize)
    return false;
  uint8_t *p = f.data();
  uint64_t tablesSize = fmt::readU64(p + fmt::kHdrTablesSize);
  if (tablesSize > size - fmt::kHeaderSize)
    return false;
  uint64_t sections = fmt::readU32(p + fmt::kHdrSectionCount);
  uint64_t tensors = fmt::readU32(p + fmt::kHdrTensorCount);
  uint64_t codes = fmt::readU32(p + fmt::kHdrCodeCount);
  uint64_t dims = fmt::readU32(p + fmt::kHdrDimCount);
  uint64_t secTable = fmt::kHeaderSize;
  uint64_t tensorTable = secTable + sections * fmt::kSectionEntrySize;
  uint64_t codeTable = tensorTable + tensors * fmt::kTensorEntrySize;
  uint64_t strings =
      codeTable + codes * fmt::kCodeEntrySize + dims * fmt::kDimEntrySize;
  auto crcOf = [&](uint64_t offset, uint64_t n, uint8_t *field) {
    if (inBounds(offset, n, size))
      fmt::writeU32(field, fmt::crc32c(0, p + offset, n));
  };
  for (uint64_t i = 0; i < sections; ++i) {
    uint64_t e = secTable + i * fmt::kSectionEntrySize;
    if (!inBounds(e, fmt::kSectionEntrySize, size))
      break;
    uint64_t name = strings + fmt::readU32(p + e);
    uint32_t nameLength = fmt::readU32(p + e + 4);
    bool manifest = nameLength == 8 && inBounds(name, 8, size) &&
                    !std::memcmp(p + name, fmt::kManifestSection, 8);
    if (manifest)
      crcOf(fmt::readU64(p + e + 8), fmt::readU64(p + e + 16), p + e + 24);
  }
  for (uint64_t i = 0; i < tensors; ++i) {
    uint64_t e = tensorTable + i * fmt::kTensorEntrySize;
    if (!inBounds(e, fmt::kTensorEntrySize, size))
      break;
    crcOf(fmt::readU64(p + e + 24), fmt::readU64(p + e + 32), p + e + 20);
  }
  for (uint64_t i = 0; i < codes; ++i) {
    uint64_t e = codeTable + i * fmt::kCodeEntrySize;
    if (!inBounds(e, fmt::kCodeEntrySize, size))
      break;
    crcOf(fmt::readU64(p + e + 16), fmt::readU64(p + e + 24), p + e + 32);
  }
  fmt::writeU32(p + fmt::kHdrTablesCrc, fmt::tablesCrc(p, tablesSize));
  fmt::writeU32(p + fmt::kHdrHeaderCrc, fmt::headerCrc(p));
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzzOnce(data, size);

  // The same bytes with every checksum recomputed, when the tables fit.
  std::vector<uint8_t> fixed(data, data + size);
  if (fixChecksums(fixed))
    fuzzOnce(fixed.data(), fixed.size());
  return 0;
}
