//===- BundleTests.cpp - Tests of the .lowbit bundle format ---------------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Round trips, determinism, alignment, writer atomicity, a large mmap, a
/// table of corrupted files that must each be rejected with their own error,
/// and the integrity guarantee of format version 2: one changed byte
/// anywhere, or a truncation anywhere, is rejected with an error that names
/// the damaged part. Corruptions edit the bytes through the layout constants
/// of BundleFormat.h and, where the point is to reach a check behind the
/// header and table checksums, recompute those checksums.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Bundle.h"

#include "BundleFormat.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

using namespace lowbit::rt;
namespace fmt = lowbit::rt::bundle;

namespace {

/// A fresh directory under the test temp dir, removed (with its files) at
/// the end of the test.
class TempDir {
public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "lowbit-bundle-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const char *made = ::mkdtemp(buf.data());
    path = made ? made : "";
  }
  ~TempDir() {
    for (const std::string &f : files())
      ::unlink((path + "/" + f).c_str());
    ::chmod(path.c_str(), 0700);
    ::rmdir(path.c_str());
  }
  std::string file(const std::string &name) const { return path + "/" + name; }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    if (DIR *d = ::opendir(path.c_str())) {
      while (dirent *e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
          out.push_back(e->d_name);
      ::closedir(d);
    }
    return out;
  }
  std::string path;
};

std::vector<uint8_t> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
}

/// memcmp that accepts null pointers for empty ranges.
bool sameBytes(const void *a, const void *b, size_t n) {
  return n == 0 || std::memcmp(a, b, n) == 0;
}

const char *const kManifest =
    R"({"model": {"arch": "llama", "layers": 2}, "program": []})";

/// Deterministic pseudo-random bytes.
std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> out(n);
  uint32_t x = seed * 2654435761u + 1;
  for (uint8_t &b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return out;
}

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

/// A small bundle with one tensor of every dtype, a scalar, an empty tensor
/// and two code blobs.
struct Sample {
  std::vector<TensorSpec> tensors;
  std::vector<std::pair<std::string, std::string>> codeTags;
  std::vector<std::vector<uint8_t>> codeBytes;

  Sample() {
    uint32_t seed = 1;
    auto add = [&](std::string name, DType dtype, std::vector<int64_t> shape) {
      uint64_t n = dtypeSize(dtype);
      for (int64_t d : shape)
        n *= static_cast<uint64_t>(d);
      tensors.push_back(
          {std::move(name), dtype, std::move(shape), pattern(n, seed++)});
    };
    add("w0", DType::F32, {3, 5});
    add("w1", DType::F16, {7});
    add("layers.0.norm", DType::BF16, {2, 2, 3});
    add("scalar", DType::F64, {});
    add("ids", DType::I64, {2});
    add("idx32", DType::I32, {4, 1});
    add("s16", DType::I16, {5});
    add("q8", DType::I8, {65});
    add("u8", DType::U8, {64});
    add("empty", DType::F32, {0, 4});
    add("packed.x86", DType::Bytes, {100});
    codeTags = {{"x86", "x86-elf-so-v1"}, {"cuda", "cuda-ptx-v1"}};
    codeBytes = {pattern(333, 90), pattern(64, 91)};
  }

  /// Fills `w`; with `owned`, the writer gets copies instead of references.
  void fill(BundleWriter &w, bool owned) const {
    w.setManifest(kManifest);
    for (const TensorSpec &t : tensors) {
      if (owned)
        w.addTensor(t.name, t.dtype, t.shape, t.bytes);
      else
        w.addTensor(t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size());
    }
    for (size_t i = 0; i < codeTags.size(); ++i) {
      if (owned)
        w.addCode(codeTags[i].first, codeTags[i].second, codeBytes[i]);
      else
        w.addCode(codeTags[i].first, codeTags[i].second, codeBytes[i].data(),
                  codeBytes[i].size());
    }
  }

  std::vector<uint8_t> bytes() const {
    BundleWriter w;
    fill(w, /*owned=*/false);
    std::vector<uint8_t> out;
    std::string err;
    EXPECT_TRUE(w.writeToBuffer(out, err)) << err;
    return out;
  }

  void check(const Bundle &b) const {
    EXPECT_EQ(b.formatVersion(), kBundleFormatVersion);
    EXPECT_EQ(b.manifest(), kManifest);
    ASSERT_EQ(b.tensors().size(), tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorSpec &want = tensors[i];
      const BundleTensor &got = b.tensors()[i];
      SCOPED_TRACE(want.name);
      EXPECT_EQ(got.name, want.name);
      EXPECT_EQ(got.dtype, want.dtype);
      EXPECT_EQ(got.shape, want.shape);
      ASSERT_EQ(got.size, want.bytes.size());
      EXPECT_TRUE(sameBytes(got.data, want.bytes.data(), got.size));
      EXPECT_EQ(got.offset % kBundleAlignment, 0u);
      EXPECT_EQ(got.data, b.data() + got.offset);
      EXPECT_EQ(b.tensor(want.name), &got);
    }
    ASSERT_EQ(b.codes().size(), codeTags.size());
    for (size_t i = 0; i < codeTags.size(); ++i) {
      const BundleCode &got = b.codes()[i];
      EXPECT_EQ(got.target, codeTags[i].first);
      EXPECT_EQ(got.format, codeTags[i].second);
      ASSERT_EQ(got.size, codeBytes[i].size());
      EXPECT_TRUE(sameBytes(got.data, codeBytes[i].data(), got.size));
      EXPECT_EQ(got.offset % kBundleAlignment, 0u);
      EXPECT_EQ(b.code(codeTags[i].first), &got);
    }
    EXPECT_EQ(b.tensor("missing"), nullptr);
    EXPECT_EQ(b.code("vulkan"), nullptr);
  }
};

/// Validates `bytes` from an exactly sized heap copy (so that a sanitizer
/// sees any read past the end). Returns the error, or "" when it loads.
std::string loadError(const std::vector<uint8_t> &bytes) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size()]);
  if (!bytes.empty())
    std::memcpy(copy.get(), bytes.data(), bytes.size());
  std::string err;
  auto b = Bundle::fromMemory(bytes.empty() ? nullptr : copy.get(),
                              bytes.size(), err, "b.lowbit");
  if (b) {
    EXPECT_TRUE(err.empty());
    return "";
  }
  EXPECT_FALSE(err.empty());
  return err;
}

/// Byte offsets of the tables of a bundle written by BundleWriter.
struct Layout {
  explicit Layout(const std::vector<uint8_t> &f) {
    sections = fmt::kHeaderSize;
    uint32_t s = fmt::readU32(&f[fmt::kHdrSectionCount]);
    tensors = sections + s * fmt::kSectionEntrySize;
    codes = tensors +
            fmt::readU32(&f[fmt::kHdrTensorCount]) * fmt::kTensorEntrySize;
    dims = codes + fmt::readU32(&f[fmt::kHdrCodeCount]) * fmt::kCodeEntrySize;
    strings = dims + fmt::readU32(&f[fmt::kHdrDimCount]) * fmt::kDimEntrySize;
  }
  uint64_t section(int i) const {
    return sections + i * fmt::kSectionEntrySize;
  }
  uint64_t tensor(int i) const { return tensors + i * fmt::kTensorEntrySize; }
  uint64_t code(int i) const { return codes + i * fmt::kCodeEntrySize; }
  uint64_t sections, tensors, codes, dims, strings;
};

/// Recomputes the tables checksum (when the tables fit in the file) and then
/// the header checksum.
void fixCrc(std::vector<uint8_t> &f) {
  uint64_t tablesSize = fmt::readU64(&f[fmt::kHdrTablesSize]);
  if (tablesSize <= f.size() - fmt::kHeaderSize)
    fmt::writeU32(&f[fmt::kHdrTablesCrc], fmt::tablesCrc(f.data(), tablesSize));
  fmt::writeU32(&f[fmt::kHdrHeaderCrc], fmt::headerCrc(f.data()));
}

} // namespace

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST(Bundle, DTypes) {
  for (DType d : {DType::Bytes, DType::F32, DType::F16, DType::BF16, DType::F64,
                  DType::I64, DType::I32, DType::I16, DType::I8, DType::U8}) {
    DType parsed;
    ASSERT_TRUE(parseDType(dtypeName(d), parsed)) << dtypeName(d);
    EXPECT_EQ(parsed, d);
    EXPECT_GT(dtypeSize(d), 0u);
  }
  DType parsed;
  EXPECT_FALSE(parseDType("f8", parsed));
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::Bytes), 1u);
}

TEST(Bundle, RoundTripFile) {
  TempDir dir;
  Sample sample;
  BundleWriter w;
  sample.fill(w, /*owned=*/false);
  std::string err;
  std::string path = dir.file("model.lowbit");
  ASSERT_TRUE(w.write(path, err)) << err;
  EXPECT_EQ(dir.files(), std::vector<std::string>{"model.lowbit"});

  auto b = Bundle::open(path, err);
  ASSERT_TRUE(b) << err;
  sample.check(*b);
  // A mapping is page aligned, so the data pointers are aligned too.
  for (const BundleTensor &t : b->tensors())
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % kBundleAlignment, 0u)
        << t.name;
  for (const BundleCode &c : b->codes())
    EXPECT_EQ(reinterpret_cast<uintptr_t>(c.data) % kBundleAlignment, 0u)
        << c.target;
  EXPECT_TRUE(b->verify(err)) << err;

  // The file and the in-memory serialization are the same bytes.
  std::vector<uint8_t> buffer;
  ASSERT_TRUE(w.writeToBuffer(buffer, err)) << err;
  EXPECT_EQ(readFile(path), buffer);
  EXPECT_EQ(b->size(), buffer.size());
  EXPECT_EQ(0, std::memcmp(b->data(), buffer.data(), buffer.size()));

  // Writing again replaces the file atomically.
  BundleWriter w2;
  w2.setManifest("{}");
  ASSERT_TRUE(w2.write(path, err)) << err;
  auto b2 = Bundle::open(path, err);
  ASSERT_TRUE(b2) << err;
  EXPECT_EQ(b2->manifest(), "{}");
  EXPECT_TRUE(b2->tensors().empty());
  EXPECT_EQ(dir.files(), std::vector<std::string>{"model.lowbit"});
  // The first mapping still sees the old contents.
  sample.check(*b);
}

TEST(Bundle, RoundTripMemory) {
  Sample sample;
  std::vector<uint8_t> bytes = sample.bytes();
  std::string err;
  auto b = Bundle::fromMemory(bytes.data(), bytes.size(), err);
  ASSERT_TRUE(b) << err;
  sample.check(*b);
}

TEST(Bundle, EmptyBundle) {
  BundleWriter w;
  w.setManifest(" {\"a\": [1, 2]} \n");
  std::vector<uint8_t> bytes;
  std::string err;
  ASSERT_TRUE(w.writeToBuffer(bytes, err)) << err;
  auto b = Bundle::fromMemory(bytes.data(), bytes.size(), err);
  ASSERT_TRUE(b) << err;
  EXPECT_EQ(b->manifest(), " {\"a\": [1, 2]} \n");
  EXPECT_TRUE(b->tensors().empty());
  EXPECT_TRUE(b->codes().empty());
}

TEST(Bundle, Deterministic) {
  Sample sample;
  BundleWriter byRef, byCopy;
  sample.fill(byRef, false);
  sample.fill(byCopy, true);
  std::vector<uint8_t> a, b, c;
  std::string err;
  ASSERT_TRUE(byRef.writeToBuffer(a, err)) << err;
  ASSERT_TRUE(byCopy.writeToBuffer(b, err)) << err;
  ASSERT_TRUE(byRef.writeToBuffer(c, err)) << err;
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);

  TempDir dir;
  ASSERT_TRUE(byRef.write(dir.file("1.lowbit"), err)) << err;
  ASSERT_TRUE(byCopy.write(dir.file("2.lowbit"), err)) << err;
  EXPECT_EQ(readFile(dir.file("1.lowbit")), a);
  EXPECT_EQ(readFile(dir.file("2.lowbit")), a);
}

TEST(Bundle, Alignment) {
  // Sizes around the alignment boundary.
  BundleWriter w;
  w.setManifest("{\"x\": 1}");
  std::vector<std::vector<uint8_t>> data;
  for (int64_t n : {1, 63, 64, 65, 0, 127, 128, 129, 3}) {
    data.push_back(pattern(n, static_cast<uint32_t>(n)));
    w.addTensor("t" + std::to_string(data.size()), DType::U8, {n},
                data.back().data(), n);
  }
  w.addCode("a", "a-v1", data[1].data(), data[1].size());
  w.addCode("b", "b-v1", data[0].data(), data[0].size());
  std::vector<uint8_t> bytes;
  std::string err;
  ASSERT_TRUE(w.writeToBuffer(bytes, err)) << err;
  auto b = Bundle::fromMemory(bytes.data(), bytes.size(), err);
  ASSERT_TRUE(b) << err;
  uint64_t prevEnd = 0;
  for (size_t i = 0; i < b->tensors().size(); ++i) {
    const BundleTensor &t = b->tensors()[i];
    EXPECT_EQ(t.offset % 64, 0u) << t.name;
    EXPECT_GE(t.offset, prevEnd) << t.name;
    EXPECT_LT(t.offset - prevEnd, i ? 64u : ~0ull) << "padding < 64 bytes";
    prevEnd = t.offset + t.size;
    EXPECT_TRUE(sameBytes(t.data, data[i].data(), t.size));
  }
  for (const BundleCode &c : b->codes())
    EXPECT_EQ(c.offset % 64, 0u) << c.target;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

TEST(Bundle, WriterRejectsBadInputs) {
  struct Case {
    const char *expected;
    std::function<void(BundleWriter &)> build;
  };
  static const uint8_t data[64] = {};
  const Case cases[] = {
      {"no manifest was set", [](BundleWriter &) {}},
      {"manifest is not a JSON object",
       [](BundleWriter &w) { w.setManifest("[1, 2]"); }},
      {"manifest is not valid JSON",
       [](BundleWriter &w) { w.setManifest("{\"a\": }"); }},
      {"duplicate tensor 'w'",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addTensor("w", DType::U8, {4}, data, 4);
         w.addTensor("w", DType::U8, {4}, data, 4);
       }},
      {"tensor 'w': 12 bytes of data but shape [2, 2] x f32 needs 16",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addTensor("w", DType::F32, {2, 2}, data, 12);
       }},
      {"tensor name is empty",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addTensor("", DType::U8, {1}, data, 1);
       }},
      {"tensor name contains a NUL byte",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addTensor(std::string("a\0b", 3), DType::U8, {1}, data, 1);
       }},
      {"tensor 'w': negative dimension -1",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addTensor("w", DType::U8, {-1}, data, 1);
       }},
      {"tensor 'w': rank 9 exceeds the limit 8",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addTensor("w", DType::U8, std::vector<int64_t>(9, 1), data, 1);
       }},
      {"tensor 'w': byte size overflows 64 bits",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addTensor("w", DType::F32, {int64_t(1) << 62, 8}, data, 0);
       }},
      {"tensor 'w': unknown dtype code 77",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addTensor("w", static_cast<DType>(77), {1}, data, 1);
       }},
      {"tensor 'w': no data",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addTensor("w", DType::U8, {8}, nullptr, 8);
       }},
      {"duplicate code blob 'x86'",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addCode("x86", "x86-elf-so-v1", data, 8);
         w.addCode("x86", "x86-elf-so-v2", data, 8);
       }},
      {"format of code blob 'x86' is empty",
       [](BundleWriter &w) {
         w.setManifest("{}");
         w.addCode("x86", "", data, 8);
       }},
  };
  for (const Case &c : cases) {
    BundleWriter w;
    c.build(w);
    std::vector<uint8_t> out;
    std::string err;
    EXPECT_FALSE(w.writeToBuffer(out, err)) << c.expected;
    EXPECT_EQ(err, c.expected);
    EXPECT_TRUE(out.empty());
  }
}

TEST(Bundle, WriterFailureLeavesNoFile) {
  TempDir dir;
  std::string err;
  BundleWriter good;
  good.setManifest("{}");

  // A directory that does not exist.
  std::string missing = dir.file("no/such/dir/model.lowbit");
  EXPECT_FALSE(good.write(missing, err));
  EXPECT_NE(err.find(missing + ": cannot write: directory '"),
            std::string::npos)
      << err;
  EXPECT_TRUE(dir.files().empty());

  // Invalid contents: the temporary file is removed and an existing bundle
  // at the destination is left as it was.
  std::string path = dir.file("model.lowbit");
  ASSERT_TRUE(good.write(path, err)) << err;
  std::vector<uint8_t> before = readFile(path);
  BundleWriter bad;
  bad.setManifest("{}");
  bad.addTensor("w", DType::F32, {4}, nullptr, 3);
  EXPECT_FALSE(bad.write(path, err));
  EXPECT_EQ(err, path + ": tensor 'w': 3 bytes of data but shape [4] x f32 "
                        "needs 16");
  EXPECT_EQ(dir.files(), std::vector<std::string>{"model.lowbit"});
  EXPECT_EQ(readFile(path), before);

  // The destination is a directory: refused before anything is written.
  ASSERT_EQ(0, ::mkdir(dir.file("sub").c_str(), 0700));
  EXPECT_FALSE(good.write(dir.file("sub"), err));
  EXPECT_EQ(err, dir.file("sub") + ": cannot write: is a directory");
  ASSERT_EQ(0, ::rmdir(dir.file("sub").c_str()));
  EXPECT_EQ(dir.files(), std::vector<std::string>{"model.lowbit"});

  // An unwritable directory (permission bits do not stop root).
  if (::geteuid() != 0) {
    ASSERT_EQ(0, ::chmod(dir.path.c_str(), 0500));
    EXPECT_FALSE(good.write(dir.file("other.lowbit"), err));
    EXPECT_NE(err.find("Permission denied"), std::string::npos) << err;
    ASSERT_EQ(0, ::chmod(dir.path.c_str(), 0700));
    EXPECT_EQ(dir.files(), std::vector<std::string>{"model.lowbit"});
  }
}

//===----------------------------------------------------------------------===//
// Rejected files
//===----------------------------------------------------------------------===//

TEST(Bundle, EveryTruncationIsRejected) {
  // Every prefix, so every boundary between the header, the tables, the
  // manifest, each tensor, each code blob and the padding too.
  std::vector<uint8_t> bytes = Sample().bytes();
  ASSERT_EQ(loadError(bytes), "");
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    std::string err = loadError(prefix);
    ASSERT_FALSE(err.empty()) << "prefix of " << n << " bytes loaded";
    EXPECT_TRUE(err.find("too small for a bundle header") !=
                    std::string::npos ||
                err.find("file is truncated: the header says " +
                         std::to_string(bytes.size()) +
                         " bytes but the "
                         "file has " +
                         std::to_string(n)) != std::string::npos)
        << err;
  }
  // A truncated file on disk, with the path in the message.
  TempDir dir;
  std::string path = dir.file("model.lowbit");
  writeFile(path, std::vector<uint8_t>(bytes.begin(), bytes.end() - 10));
  std::string err;
  EXPECT_FALSE(Bundle::open(path, err));
  EXPECT_EQ(err, path + ": file is truncated: the header says " +
                     std::to_string(bytes.size()) + " bytes but the file has " +
                     std::to_string(bytes.size() - 10));
}

TEST(Bundle, OpenErrors) {
  TempDir dir;
  std::string err;
  EXPECT_FALSE(Bundle::open(dir.file("none.lowbit"), err));
  EXPECT_EQ(err, dir.file("none.lowbit") +
                     ": cannot open: No such file or directory");
  EXPECT_FALSE(Bundle::open(dir.path, err));
  EXPECT_EQ(err, dir.path + ": not a regular file");
  writeFile(dir.file("empty.lowbit"), {});
  EXPECT_FALSE(Bundle::open(dir.file("empty.lowbit"), err));
  EXPECT_EQ(err, dir.file("empty.lowbit") +
                     ": file is too small for a bundle header (0 bytes, need "
                     "64; truncated?)");
  writeFile(dir.file("text.lowbit"), {'h', 'e', 'l', 'l', 'o'});
  EXPECT_FALSE(Bundle::open(dir.file("text.lowbit"), err));
  EXPECT_EQ(err, dir.file("text.lowbit") + ": not a lowbit bundle (bad magic)");
}

TEST(Bundle, Corruptions) {
  const std::vector<uint8_t> good = Sample().bytes();
  const Layout at(good);
  const uint64_t fileSize = good.size();
  // Section 1 is 'weights'; tensors 0 and 1 are "w0" (60 bytes) and "w1"
  // (14 bytes); tensor 3 is the scalar.
  const uint64_t weightsOffset = fmt::readU64(&good[at.section(1) + 8]);
  const uint64_t weightsSize = fmt::readU64(&good[at.section(1) + 16]);
  const uint64_t w0 = fmt::readU64(&good[at.tensor(0) + 24]);
  const uint64_t manifestOffset = fmt::readU64(&good[at.section(0) + 8]);
  const uint64_t manifestSize = fmt::readU64(&good[at.section(0) + 16]);
  auto fixManifestCrc = [&](std::vector<uint8_t> &f) {
    fmt::writeU32(&f[at.section(0) + 24],
                  fmt::crc32c(0, &f[manifestOffset], manifestSize));
  };
  auto u32 = [](std::vector<uint8_t> &f, uint64_t off, uint32_t v) {
    fmt::writeU32(&f[off], v);
  };
  auto u64 = [](std::vector<uint8_t> &f, uint64_t off, uint64_t v) {
    fmt::writeU64(&f[off], v);
  };
  auto str = [&](std::vector<uint8_t> &f, int entry, const char *text) {
    uint32_t off = fmt::readU32(&f[entry]);
    std::memcpy(&f[at.strings + off], text, std::strlen(text));
  };
  const std::string n = std::to_string(fileSize);

  struct Case {
    const char *name;
    std::function<void(std::vector<uint8_t> &)> corrupt;
    /// Recompute the table checksum after corrupting.
    bool fix;
    std::string expected;
  };
  const Case cases[] = {
      {"magic", [](auto &f) { f[1] = 'X'; }, false,
       "not a lowbit bundle (bad magic)"},
      {"future version", [&](auto &f) { u32(f, fmt::kHdrVersion, 3); }, true,
       "bundle format version 3 is not supported (this runtime reads version "
       "2); it was written by a newer lowbit-compile"},
      {"version 1", [&](auto &f) { u32(f, fmt::kHdrVersion, 1); }, false,
       "bundle format version 1 is not supported (this runtime reads version "
       "2); recompile the model with this version of lowbit-compile"},
      {"version 0", [&](auto &f) { u32(f, fmt::kHdrVersion, 0); }, true,
       "bundle format version 0 is not supported"},
      {"damaged version", [&](auto &f) { f[fmt::kHdrVersion + 3] ^= 0x40; },
       false,
       "bundle format version 1073741826 is not supported (this runtime "
       "reads version 2); the header is damaged"},
      {"header size", [&](auto &f) { u32(f, fmt::kHdrHeaderSize, 128); }, true,
       "header size 128 is not 64"},
      {"trailing bytes", [](auto &f) { f.resize(f.size() + 64); }, false,
       "file has " + std::to_string(fileSize + 64) +
           " bytes but the header says " + n},
      {"header checksum", [&](auto &f) { f[fmt::kHdrFlags] ^= 1; }, false,
       "header: checksum mismatch (stored 0x"},
      {"header checksum field",
       [&](auto &f) { f[fmt::kHdrHeaderCrc + 3] ^= 1; }, false,
       "header: checksum mismatch (stored 0x"},
      {"tables checksum", [&](auto &f) { f[at.tensor(2) + 30] ^= 1; }, false,
       "tables: checksum mismatch (stored 0x"},
      {"string checksum", [&](auto &f) { f[at.strings] ^= 0x20; }, false,
       "tables: checksum mismatch"},
      {"tables checksum field",
       [&](auto &f) {
         f[fmt::kHdrTablesCrc] ^= 4;
         u32(f, fmt::kHdrHeaderCrc, fmt::headerCrc(f.data()));
       },
       false, "tables: checksum mismatch"},
      {"huge tensor count",
       [&](auto &f) { u32(f, fmt::kHdrTensorCount, 0xFFFFFFFF); }, true,
       "tensor count 4294967295 exceeds the limit 1048576"},
      {"huge section count",
       [&](auto &f) { u32(f, fmt::kHdrSectionCount, 1000); }, true,
       "section count 1000 exceeds the limit 16"},
      {"huge code count", [&](auto &f) { u32(f, fmt::kHdrCodeCount, 5000); },
       true, "code blob count 5000 exceeds the limit 1024"},
      {"huge dim count",
       [&](auto &f) { u32(f, fmt::kHdrDimCount, 0x7FFFFFFF); }, true,
       "dimension count 2147483647 exceeds the limit 88"},
      {"huge string table",
       [&](auto &f) { u32(f, fmt::kHdrStringBytes, 0xFFFFFFFF); }, true,
       "string table size 4294967295 exceeds the limit 67108864"},
      {"tables size",
       [&](auto &f) {
         u64(f, fmt::kHdrTablesSize, fmt::readU64(&f[fmt::kHdrTablesSize]) + 8);
       },
       true, "does not match the counts in the header"},
      {"tables past the end",
       [&](auto &f) {
         u32(f, fmt::kHdrStringBytes, 1 << 20);
         u64(f, fmt::kHdrTablesSize, at.strings - 64 + (1 << 20));
       },
       true,
       "tables end at " + std::to_string(at.strings + (1 << 20)) +
           " past the end of the file (" + n + " bytes)"},
      {"flags", [&](auto &f) { u32(f, fmt::kHdrFlags, 4); }, true,
       "unknown header flags 0x00000004"},
      {"section past the end",
       [&](auto &f) { u64(f, at.section(1) + 16, fileSize); }, true,
       "section 'weights' ends at " + std::to_string(weightsOffset + fileSize) +
           " past the end of the file (" + n + " bytes)"},
      {"section size overflow",
       [&](auto &f) { u64(f, at.section(1) + 16, ~0ull - 63); }, true,
       "section 'weights' ends at more than 2^64 past the end of the file"},
      {"section starts past the end",
       [&](auto &f) {
         u64(f, at.section(2) + 8, fmt::alignUp(fileSize) + 6400);
       },
       true,
       "section 'code' starts at " +
           std::to_string(fmt::alignUp(fileSize) + 6400) +
           " past the end of the file (" + n + " bytes)"},
      {"section misaligned",
       [&](auto &f) { u64(f, at.section(0) + 8, manifestOffset + 8); }, true,
       "section 'manifest' offset " + std::to_string(manifestOffset + 8) +
           " is not a multiple of 64"},
      {"section inside the tables",
       [&](auto &f) { u64(f, at.section(0) + 8, 64); }, true,
       "section 'manifest' starts at 64, inside the header and tables"},
      {"sections overlap",
       [&](auto &f) { u64(f, at.section(0) + 8, weightsOffset); }, true,
       "sections 'manifest' [" + std::to_string(weightsOffset) + ", "},
      {"unknown section", [&](auto &f) { str(f, at.section(2), "cade"); }, true,
       "unknown section 'cade'"},
      {"section reserved", [&](auto &f) { u32(f, at.section(0) + 28, 1); },
       true, "section 'manifest': reserved field is not zero"},
      {"weights section checksum",
       [&](auto &f) { u32(f, at.section(1) + 24, 7); }, true,
       "section 'weights': checksum field is 0x00000007, expected 0"},
      {"code reserved", [&](auto &f) { u32(f, at.code(1) + 36, 1); }, true,
       "code blob 'cuda': reserved field is not zero"},
      {"duplicate section",
       [&](auto &f) {
         u32(f, at.section(2), fmt::readU32(&f[at.section(1)]));
         u32(f, at.section(2) + 4, 7);
       },
       true, "duplicate section 'weights'"},
      {"missing section",
       [&](auto &f) {
         // Drop the 'code' entry and grow the string table by as many
         // bytes, so that nothing after the tables moves.
         auto entry = f.begin() + at.section(2);
         f.erase(entry, entry + fmt::kSectionEntrySize);
         uint32_t strings = fmt::readU32(&f[fmt::kHdrStringBytes]);
         f.insert(f.begin() + (at.strings - fmt::kSectionEntrySize + strings),
                  fmt::kSectionEntrySize, 0);
         u32(f, fmt::kHdrSectionCount, 2);
         u32(f, fmt::kHdrStringBytes, strings + fmt::kSectionEntrySize);
       },
       true, "missing section 'code'"},
      {"name outside the strings",
       [&](auto &f) { u32(f, at.tensor(1), 0xFFFFFFF0); }, true,
       "tensor 1 name [4294967280, 4294967282) is outside the string table"},
      {"empty name", [&](auto &f) { u32(f, at.tensor(1) + 4, 0); }, true,
       "tensor 1 name is empty"},
      {"name with NUL",
       [&](auto &f) { f[at.strings + fmt::readU32(&f[at.tensor(1)]) + 1] = 0; },
       true, "tensor 1 name 'w\\x00' contains a NUL byte"},
      {"duplicate tensor names", [&](auto &f) { str(f, at.tensor(1), "w0"); },
       true, "duplicate tensor 'w0'"},
      {"unknown dtype", [&](auto &f) { u32(f, at.tensor(0) + 8, 42); }, true,
       "tensor 'w0': unknown dtype code 42"},
      {"rank too large", [&](auto &f) { u32(f, at.tensor(0) + 12, 9); }, true,
       "tensor 'w0': rank 9 exceeds the limit 8"},
      {"shape not packed", [&](auto &f) { u32(f, at.tensor(1) + 16, 0); }, true,
       "tensor 'w1': shape starts at dimension entry 0, expected 2"},
      {"negative dimension",
       [&](auto &f) { u64(f, at.dims, static_cast<uint64_t>(-3)); }, true,
       "tensor 'w0': dimension 0 is negative (-3)"},
      {"size overflow",
       [&](auto &f) {
         u64(f, at.dims, uint64_t(1) << 62);
         u64(f, at.dims + 8, 16);
       },
       true,
       "tensor 'w0': the byte size of shape [4611686018427387904, 16] x f32 "
       "overflows 64 bits"},
      {"size != shape x dtype", [&](auto &f) { u64(f, at.tensor(0) + 32, 56); },
       true,
       "tensor 'w0': size 56 does not match shape [3, 5] x f32 (60 "
       "bytes)"},
      {"shape != size", [&](auto &f) { u64(f, at.dims + 8, 6); }, true,
       "tensor 'w0': size 60 does not match shape [3, 6] x f32 (72 bytes)"},
      {"tensor offset out of range",
       [&](auto &f) { u64(f, at.tensor(0) + 24, fileSize + 64); }, true,
       "tensor 'w0' [" + std::to_string(fileSize + 64) + ", " +
           std::to_string(fileSize + 124) +
           ") lies outside section 'weights' [" +
           std::to_string(weightsOffset) + ", " +
           std::to_string(weightsOffset + weightsSize) + ")"},
      {"tensor offset in the manifest",
       [&](auto &f) { u64(f, at.tensor(0) + 24, manifestOffset); }, true,
       "lies outside section 'weights'"},
      {"tensor offset overflow",
       [&](auto &f) { u64(f, at.tensor(0) + 24, ~0ull - 63); }, true,
       "tensor 'w0' [18446744073709551552, 18446744073709551612) lies outside"},
      {"misaligned tensor", [&](auto &f) { u64(f, at.tensor(0) + 24, w0 + 4); },
       true,
       "tensor 'w0' offset " + std::to_string(w0 + 4) +
           " is not a multiple of 64"},
      {"overlapping tensors", [&](auto &f) { u64(f, at.tensor(1) + 24, w0); },
       true,
       "tensors 'w1' [" + std::to_string(w0) + ", " + std::to_string(w0 + 14) +
           ") and 'w0' [" + std::to_string(w0) + ", " +
           std::to_string(w0 + 60) + ") overlap"},
      {"code outside its section",
       [&](auto &f) { u64(f, at.code(0) + 16, w0); }, true,
       "code blob 'x86' [" + std::to_string(w0) + ", " +
           std::to_string(w0 + 333) + ") lies outside section 'code'"},
      {"duplicate code targets",
       [&](auto &f) {
         u32(f, at.code(1), fmt::readU32(&f[at.code(0)]));
         u32(f, at.code(1) + 4, 3);
       },
       true, "duplicate code blob 'x86'"},
      {"overlapping code blobs",
       [&](auto &f) {
         u64(f, at.code(1) + 16, fmt::readU64(&f[at.code(0) + 16]));
       },
       true, "code blobs 'cuda' ["},
      {"manifest not JSON",
       [&](auto &f) {
         uint64_t i = manifestOffset;
         while (f[i] != ':')
           ++i;
         f[i] = ';';
         fixManifestCrc(f);
       },
       true, "manifest is not valid JSON"},
      {"manifest not an object",
       [&](auto &f) {
         f[manifestOffset] = '[';
         fixManifestCrc(f);
       },
       true, "manifest is not a JSON object"},
      {"weights checksum", [&](auto &f) { f[w0 + 5] ^= 0x80; }, false,
       "tensor 'w0': checksum mismatch (stored 0x"},
      {"tensor checksum field", [&](auto &f) { u32(f, at.tensor(1) + 20, 0); },
       true, "tensor 'w1': checksum mismatch (stored 0x00000000, computed 0x"},
      {"empty tensor checksum", [&](auto &f) { u32(f, at.tensor(9) + 20, 1); },
       true,
       "tensor 'empty': checksum mismatch (stored 0x00000001, computed "
       "0x00000000; file damaged?)"},
      {"code checksum field", [&](auto &f) { u32(f, at.code(0) + 32, 0); },
       true, "code blob 'x86': checksum mismatch (stored 0x00000000"},
      {"manifest checksum", [&](auto &f) { f[manifestOffset + 3] = 'M'; },
       false, "manifest: checksum mismatch"},
      {"padding", [&](auto &f) { f[w0 + 60] = 1; }, false,
       "padding [" + std::to_string(w0 + 60) + ", " + std::to_string(w0 + 64) +
           ") after tensor 'w0' is not zero (byte " + std::to_string(w0 + 60) +
           "; file damaged?)"},
      {"padding after the tables", [&](auto &f) { f[manifestOffset - 1] = 1; },
       false, "padding ["},
      {"trailing padding",
       [&](auto &f) {
         // A longer file whose extra bytes are not zero.
         f.resize(f.size() + 64);
         f.back() = 9;
         u64(f, fmt::kHdrFileSize, f.size());
       },
       true,
       "padding [" + n + ", " + std::to_string(fileSize + 64) +
           ") after code blob 'cuda' is not zero (byte " +
           std::to_string(fileSize + 63) + "; file damaged?)"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<uint8_t> f = good;
    c.corrupt(f);
    if (c.fix)
      fixCrc(f);
    std::string err = loadError(f);
    EXPECT_EQ(err.rfind("b.lowbit: ", 0), 0u) << err;
    EXPECT_NE(err.find(c.expected), std::string::npos)
        << "error: " << err << "\nexpected: " << c.expected;
  }
}

TEST(Bundle, VerifySeesLaterDamage) {
  // open() and fromMemory() verify everything; verify() checks again, e.g.
  // after the memory was overwritten.
  std::vector<uint8_t> f = Sample().bytes();
  std::string err;
  auto b = Bundle::fromMemory(f.data(), f.size(), err);
  ASSERT_TRUE(b) << err;
  EXPECT_TRUE(b->verify(err)) << err;
  const BundleCode *x86 = b->code("x86");
  ASSERT_TRUE(x86);
  f[x86->offset + 100] ^= 0x10;
  EXPECT_FALSE(b->verify(err));
  EXPECT_EQ(err.rfind("<memory>: code blob 'x86': checksum mismatch (stored " +
                          std::string(""),
                      0),
            0u)
      << err;
  EXPECT_NE(err.find("; file damaged?)"), std::string::npos) << err;
}

/// A real version 1 file: the smallest bundle (manifest `{}`) as written by
/// the version 1 writer (the example of the version 1 specification; CRC-32
/// of the header and tables at offset 60, of each section in its entry).
std::vector<uint8_t> version1EmptyBundle() {
  static const uint8_t head[] = {
      0x89, 0x4c, 0x4f, 0x57, 0x42, 0x49, 0x54, 0x0a, 0x01, 0x00, 0x00, 0x00,
      0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x73, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x1f, 0x38, 0xf7, 0x2b, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
      0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x43, 0xbf, 0xa6, 0xa3, 0x00, 0x00, 0x00, 0x00,
      0x08, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00,
      0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 'm',  'a',  'n',  'i',  'f',  'e',  's',  't',
      'w',  'e',  'i',  'g',  'h',  't',  's',  'c',  'o',  'd',  'e'};
  std::vector<uint8_t> f(256, 0);
  std::memcpy(f.data(), head, sizeof(head));
  f[0xc0] = '{';
  f[0xc1] = '}';
  return f;
}

TEST(Bundle, RejectsVersion1) {
  std::vector<uint8_t> v1 = version1EmptyBundle();
  const std::string expected =
      "bundle format version 1 is not supported (this runtime reads version "
      "2); recompile the model with this version of lowbit-compile";
  EXPECT_EQ(loadError(v1), "b.lowbit: " + expected);
  TempDir dir;
  std::string path = dir.file("old.lowbit");
  writeFile(path, v1);
  std::string err;
  EXPECT_FALSE(Bundle::open(path, err));
  EXPECT_EQ(err, path + ": " + expected);
  // The same contents written today load.
  BundleWriter w;
  w.setManifest("{}");
  std::vector<uint8_t> v2;
  ASSERT_TRUE(w.writeToBuffer(v2, err)) << err;
  EXPECT_EQ(fmt::readU32(&v2[fmt::kHdrVersion]), 2u);
  EXPECT_EQ(loadError(v2), "");
}

namespace {

/// One part of a bundle and the words the error for a change inside it
/// must contain.
struct Region {
  uint64_t begin, end;
  std::string expected;
};

/// Cuts the bytes of `f` (which must load) into the parts an error can
/// name: header fields, tables, manifest, each tensor and code blob, and
/// the padding between them. The regions cover the file without gaps.
std::vector<Region> regionsOf(const std::vector<uint8_t> &f) {
  std::string err;
  auto b = Bundle::fromMemory(f.data(), f.size(), err);
  EXPECT_TRUE(b) << err;
  if (!b)
    return {};
  std::vector<Region> items;
  uint64_t manifest = static_cast<uint64_t>(
      reinterpret_cast<const uint8_t *>(b->manifest().data()) - f.data());
  items.push_back(
      {manifest, manifest + b->manifest().size(), "manifest: checksum"});
  for (const BundleTensor &t : b->tensors())
    if (t.size)
      items.push_back({t.offset, t.offset + t.size,
                       "tensor '" + std::string(t.name) + "': checksum"});
  for (const BundleCode &c : b->codes())
    if (c.size)
      items.push_back({c.offset, c.offset + c.size,
                       "code blob '" + std::string(c.target) + "': checksum"});
  std::sort(items.begin(), items.end(),
            [](const Region &x, const Region &y) { return x.begin < y.begin; });

  uint64_t tablesEnd = fmt::kHeaderSize + fmt::readU64(&f[fmt::kHdrTablesSize]);
  std::vector<Region> out = {
      {0, 8, "not a lowbit bundle (bad magic)"},
      {8, 12, "bundle format version"},
      {12, 64, "header: checksum mismatch"},
      {64, tablesEnd, "tables: checksum mismatch"},
  };
  uint64_t pos = tablesEnd;
  for (const Region &r : items) {
    if (r.begin > pos)
      out.push_back({pos, r.begin,
                     "padding [" + std::to_string(pos) + ", " +
                         std::to_string(r.begin) + ") after "});
    out.push_back(r);
    pos = r.end;
  }
  if (pos < f.size())
    out.push_back({pos, f.size(), "padding"});
  return out;
}

} // namespace

TEST(Bundle, EveryChangedByteIsRejected) {
  // A manifest, tensors of every dtype (an empty one too) and two code
  // blobs; every byte of the file is changed in turn, three ways.
  const std::vector<uint8_t> good = Sample().bytes();
  const std::vector<Region> regions = regionsOf(good);
  ASSERT_FALSE(regions.empty());
  uint64_t covered = 0;
  std::map<std::string, int> kinds;
  for (const Region &r : regions) {
    ASSERT_EQ(r.begin, covered) << r.expected;
    ASSERT_LT(r.begin, r.end) << r.expected;
    covered = r.end;
    ++kinds[r.expected.substr(0, r.expected.find_first_of("[:'("))];
  }
  ASSERT_EQ(covered, good.size());
  // Every kind of part is there: the header fields, the tables, the
  // manifest, 10 non-empty tensors, 2 code blobs, and padding.
  EXPECT_EQ(kinds["tensor "], 10);
  EXPECT_EQ(kinds["code blob "], 2);
  EXPECT_EQ(kinds["manifest"], 1);
  EXPECT_GE(kinds["padding "], 10);

  std::map<std::string, int> rejected;
  for (const Region &r : regions) {
    for (uint64_t at = r.begin; at < r.end; ++at) {
      for (uint8_t mask : {0x01, 0x80, 0xFF}) {
        std::vector<uint8_t> f = good;
        f[at] ^= mask;
        std::string err = loadError(f);
        ASSERT_FALSE(err.empty()) << "byte " << at << " ^ " << int(mask)
                                  << " in '" << r.expected << "' loaded";
        ASSERT_EQ(err.rfind("b.lowbit: " + r.expected, 0), 0u)
            << "byte " << at << " ^ " << int(mask) << "\nerror:    " << err
            << "\nexpected: b.lowbit: " << r.expected;
        ++rejected[r.expected];
      }
    }
  }
  EXPECT_EQ(rejected.size(), regions.size());
}

TEST(Bundle, DamageInLargeTensorsIsRejected) {
  // Tensors much larger than the checksum's interleaved blocks (3 x 8 KiB):
  // a change at the first, last and sampled positions of each is found.
  BundleWriter w;
  w.setManifest("{\"large\": true}");
  std::vector<std::vector<uint8_t>> data = {pattern(100000, 1),
                                            pattern(3 * 8192, 2),
                                            pattern(3 * 8192 + 3 * 256 + 9, 3)};
  for (size_t i = 0; i < data.size(); ++i)
    w.addTensor("t" + std::to_string(i), DType::U8,
                {static_cast<int64_t>(data[i].size())}, data[i].data(),
                data[i].size());
  w.addCode("x86", "x86-elf-so-v1", data[0].data(), 50000);
  std::vector<uint8_t> good;
  std::string err;
  ASSERT_TRUE(w.writeToBuffer(good, err)) << err;
  for (const Region &r : regionsOf(good)) {
    uint64_t n = r.end - r.begin;
    std::vector<uint64_t> at = {r.begin, r.end - 1};
    for (uint64_t k = 1; k < 64; ++k)
      at.push_back(r.begin + n * k / 64);
    for (uint64_t i : at) {
      std::vector<uint8_t> f = good;
      f[i] ^= 0x20;
      std::string e = loadError(f);
      EXPECT_EQ(e.rfind("b.lowbit: " + r.expected, 0), 0u)
          << "byte " << i << ": " << e << "\nexpected: " << r.expected;
    }
  }
}

TEST(Bundle, Crc32c) {
  // The standard check value of CRC-32C (iSCSI).
  EXPECT_EQ(fmt::crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(fmt::crc32cPortable(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(fmt::crc32c(0, nullptr, 0), 0u);
  // 32 zero bytes (RFC 3720, B.4).
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(fmt::crc32c(0, zeros.data(), zeros.size()), 0x8A9136AAu);
  // The hardware path (three interleaved streams, any alignment) and the
  // portable path agree, and so does checksumming in pieces.
  std::vector<uint8_t> data = pattern(3 * 3 * 8192 + 3 * 256 * 2 + 77, 7);
  for (size_t start : {0, 1, 3, 8, 13})
    for (size_t n : {0, 1, 7, 8, 9, 255, 767, 768, 769, 24575, 24576, 24577,
                     24576 + 768 + 5, 3 * 24576 + 11}) {
      if (start + n > data.size())
        continue;
      const uint8_t *p = data.data() + start;
      uint32_t whole = fmt::crc32c(0, p, n);
      EXPECT_EQ(whole, fmt::crc32cPortable(0, p, n)) << start << "+" << n;
      for (size_t split : {size_t(0), n / 3, n / 2, n})
        EXPECT_EQ(fmt::crc32c(fmt::crc32c(0, p, split), p + split, n - split),
                  whole);
    }
}

//===----------------------------------------------------------------------===//
// Large bundles and files made by other writers
//===----------------------------------------------------------------------===//

TEST(Bundle, LargeBundleOpensQuickly) {
  TempDir dir;
  constexpr int kTensors = 50;
  constexpr int64_t kElems = 1 << 20; // 4 MiB of f32 each, 200 MiB in all.
  std::vector<float> weights(kElems);
  for (int64_t i = 0; i < kElems; ++i)
    weights[i] = static_cast<float>(i);
  BundleWriter w;
  std::string manifest = "{\"layers\": [";
  for (int i = 0; i < kTensors; ++i) {
    w.addTensor("layers." + std::to_string(i) + ".weight", DType::F32,
                {1024, 1024}, weights.data(), kElems * 4);
    manifest += (i ? ", " : "") + std::to_string(i);
  }
  w.setManifest(manifest + "]}");
  std::string err;
  std::string path = dir.file("large.lowbit");
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  ASSERT_TRUE(w.write(path, err)) << err;
  auto t1 = Clock::now();
  auto b = Bundle::open(path, err);
  auto t2 = Clock::now();
  ASSERT_TRUE(b) << err;
  EXPECT_TRUE(b->verify(err)) << err;
  auto t3 = Clock::now();
  auto ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  std::printf("[ timing ] %.0f MiB bundle: write %.1f ms, open (checksums "
              "included) %.1f ms, verify again %.1f ms\n",
              b->size() / 1048576.0, ms(t1 - t0), ms(t2 - t1), ms(t3 - t2));
  ASSERT_EQ(b->tensors().size(), size_t(kTensors));
  const BundleTensor *last = b->tensor("layers.49.weight");
  ASSERT_TRUE(last);
  EXPECT_EQ(reinterpret_cast<const float *>(last->data)[kElems - 1],
            float(kElems - 1));
}

#ifdef LOWBIT_BUNDLE_CORPUS
/// The seed corpus is written by test/Fuzz/make_bundle_corpus.py, an
/// independent implementation of docs/bundle-format.md: its valid files must
/// load (checksums included) and its broken ones must not.
TEST(Bundle, PythonWrittenFiles) {
  std::string dir = LOWBIT_BUNDLE_CORPUS;
  DIR *d = ::opendir(dir.c_str());
  if (!d)
    GTEST_SKIP() << "no corpus at " << dir;
  std::vector<std::string> names;
  while (dirent *e = ::readdir(d))
    if (e->d_name[0] != '.')
      names.push_back(e->d_name);
  ::closedir(d);
  // The error each broken file must give (its start).
  std::map<std::string, std::string> expected = {
      {"bad_magic.lowbit", "not a lowbit bundle (bad magic)"},
      {"bad_version1.lowbit",
       "bundle format version 1 is not supported (this runtime reads "
       "version 2); recompile the model"},
      {"bad_truncated_header.lowbit", "file is too small for a bundle header"},
      {"bad_truncated_tables.lowbit", "file is truncated"},
      {"bad_truncated_data.lowbit", "file is truncated"},
      {"bad_version.lowbit", "bundle format version 3 is not supported"},
      {"bad_header_checksum.lowbit", "header: checksum mismatch"},
      {"bad_tables_checksum.lowbit", "tables: checksum mismatch"},
      {"bad_manifest_checksum.lowbit", "manifest: checksum mismatch"},
      {"bad_tensor_checksum.lowbit", "tensor 'w': checksum mismatch"},
      {"bad_code_checksum.lowbit", "code blob 'x86': checksum mismatch"},
      {"bad_padding.lowbit", "padding [592, 640) after tensor 'w'"},
      {"bad_huge_counts.lowbit", "tensor count 4294967295 exceeds the limit"},
      {"bad_section_past_end.lowbit", "section 'weights' ends at"},
      {"bad_tensor_out_of_range.lowbit",
       "tensor 'w' [1048576, 1048592) lies outside section 'weights'"},
      {"bad_misaligned.lowbit", "tensor 'w' offset 584 is not a multiple"},
      {"bad_overlap.lowbit",
       "tensors 'scales' [576, 582) and 'w' [576, 592) overlap"},
      {"bad_size_mismatch.lowbit", "tensor 'w': size 16 does not match"},
      {"bad_negative_dim.lowbit", "tensor 'w': dimension 0 is negative"},
      {"bad_dtype.lowbit", "tensor 'w': unknown dtype code 99"},
      {"bad_duplicate_names.lowbit", "duplicate tensor 'w'"},
      {"bad_code_outside.lowbit", "code blob 'x86' [0, 64) lies outside"},
      {"bad_manifest_json.lowbit", "manifest is not valid JSON"},
  };
  int valid = 0, bad = 0;
  for (const std::string &name : names) {
    std::string err;
    auto b = Bundle::open(dir + "/" + name, err);
    if (name.rfind("valid_", 0) == 0) {
      ASSERT_TRUE(b) << err;
      ++valid;
      // Both writers lay out the same contents identically.
      BundleWriter w;
      w.setManifest(std::string(b->manifest()));
      for (const BundleTensor &t : b->tensors())
        w.addTensor(std::string(t.name), t.dtype, t.shape, t.data, t.size);
      for (const BundleCode &c : b->codes())
        w.addCode(std::string(c.target), std::string(c.format), c.data, c.size);
      std::vector<uint8_t> bytes;
      ASSERT_TRUE(w.writeToBuffer(bytes, err)) << err;
      EXPECT_EQ(bytes, readFile(dir + "/" + name)) << name;
    } else if (name.rfind("bad_", 0) == 0) {
      EXPECT_FALSE(b) << name;
      std::printf("[ corpus ] %s\n", err.c_str());
      auto it = expected.find(name);
      if (it == expected.end()) {
        ADD_FAILURE() << "no expected error for " << name;
      } else {
        EXPECT_NE(err.find(dir + "/" + name + ": " + it->second),
                  std::string::npos)
            << err;
        expected.erase(it);
      }
      ++bad;
    }
  }
  EXPECT_EQ(valid, 3);
  EXPECT_EQ(bad, 23);
  for (const auto &[name, text] : expected)
    ADD_FAILURE() << "missing corpus file " << name;
}
#endif
