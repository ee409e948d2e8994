//===- SupportTests.cpp - Safetensors, stores and HF config tests ---------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/HFConfig.h"
#include "lowbit/Support/ParamStore.h"
#include "lowbit/Support/Safetensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>

using namespace lowbit;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// The message of an error (consumes it); "" for success.
std::string errorText(llvm::Error err) {
  if (!err)
    return "";
  return llvm::toString(std::move(err));
}

template <typename T> std::string errorText(llvm::Expected<T> &value) {
  if (value)
    return "";
  return llvm::toString(value.takeError());
}

template <typename T> std::string errorText(llvm::Expected<T> &&value) {
  return errorText(value);
}

#define EXPECT_OK(expr)                                                        \
  do {                                                                         \
    std::string lowbitErr = errorText(expr);                                   \
    EXPECT_EQ(lowbitErr, "");                                                  \
  } while (0)

#define ASSERT_EXPECTED(var)                                                   \
  ASSERT_TRUE(bool(var)) << llvm::toString(var.takeError())

/// Little-endian float bytes.
std::string f32Bytes(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) {
    char b[4];
    std::memcpy(b, &v, 4);
    out.append(b, 4);
  }
  return out;
}

/// A raw safetensors file: u64 header length, header, data.
std::string rawFile(const std::string &header, const std::string &data) {
  std::string out(8, '\0');
  llvm::support::endian::write64le(&out[0], header.size());
  return out + header + data;
}

class SupportTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("lowbit-support-test", dir);
    ASSERT_FALSE(ec) << ec.message();
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string path(llvm::StringRef name) const {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }

  std::string writeBytes(llvm::StringRef name, const std::string &bytes) {
    std::string p = path(name);
    std::ofstream os(p, std::ios::binary);
    os.write(bytes.data(), std::streamsize(bytes.size()));
    return p;
  }

  std::string readBytes(llvm::StringRef p) {
    auto buf = llvm::MemoryBuffer::getFile(p);
    if (!buf)
      return "<unreadable>";
    return (*buf)->getBuffer().str();
  }

  /// Opens `bytes` written as `name`, expecting failure; returns the message.
  std::string openError(const std::string &bytes,
                        llvm::StringRef name = "bad.safetensors") {
    std::string p = writeBytes(name, bytes);
    auto file = SafetensorsFile::open(p);
    if (file)
      return "<opened successfully>";
    std::string msg = llvm::toString(file.takeError());
    // Every message starts with the path.
    EXPECT_EQ(msg.rfind(p + ": ", 0), 0u) << msg;
    return msg;
  }

  /// Opens a file whose header is `header` and data is `data`.
  std::string headerError(const std::string &header, const std::string &data) {
    return openError(rawFile(header, data));
  }

  llvm::SmallString<256> dir;
};

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

TEST(DTypeTest, NamesAndSizes) {
  for (DType d :
       {DType::Bool, DType::U8, DType::I8, DType::U16, DType::I16, DType::F16,
        DType::BF16, DType::U32, DType::I32, DType::F32, DType::U64, DType::I64,
        DType::F64, DType::F8E4M3, DType::F8E5M2}) {
    std::optional<DType> parsed = parseDType(dtypeName(d));
    ASSERT_TRUE(parsed.has_value()) << dtypeName(d).str();
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::I64), 8u);
  EXPECT_EQ(dtypeSize(DType::F8E4M3), 1u);
  EXPECT_EQ(dtypeName(DType::F8E5M2), "F8_E5M2");
  EXPECT_FALSE(parseDType("f32").has_value());
  EXPECT_FALSE(parseDType("Q4_0").has_value());
  EXPECT_EQ(tensorByteSize(DType::F32, {2, 3}), std::optional<uint64_t>(24));
  EXPECT_EQ(tensorByteSize(DType::F32, {}), std::optional<uint64_t>(4));
  EXPECT_EQ(tensorByteSize(DType::F32, {0, 5}), std::optional<uint64_t>(0));
  EXPECT_FALSE(tensorByteSize(DType::F32, {-1}).has_value());
  EXPECT_FALSE(tensorByteSize(DType::F32, {int64_t(1) << 40, int64_t(1) << 40})
                   .has_value());
  EXPECT_EQ(formatShape({4, 64}), "[4, 64]");
  EXPECT_EQ(formatShape({}), "[]");
}

//===----------------------------------------------------------------------===//
// Half-precision conversions
//===----------------------------------------------------------------------===//

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float floatOf(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

TEST(HalfTest, KnownValues) {
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0xc000), -2.0f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(bitsOf(halfToFloat(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isinf(halfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));

  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.0f), 0x7bff); // Below the midpoint to 2^16.
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // Tie rounds to even: infinity.
  EXPECT_EQ(floatToHalf(1e10f), 0x7c00);
  EXPECT_EQ(floatToHalf(-INFINITY), 0xfc00);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(1e-10f), 0x0000);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
  // Ties to even in the normal range: 1 + 2^-11 -> 1, 1 + 3 * 2^-11 -> 1 +
  // 2^-9.
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(floatToHalf(1.0f + 1.5f * std::ldexp(1.0f, -11)), 0x3c01);
  // Subnormals: 2^-25 is a tie between 0 and 2^-24, 3 * 2^-25 between 1, 2.
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(floatToHalf(std::ldexp(3.0f, -25)), 0x0002);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25) * 1.01f), 0x0001);
  // Largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)), 0x0400);
  uint16_t nan = floatToHalf(NAN);
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
}

TEST(HalfTest, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h)
    ASSERT_EQ(floatToHalf(halfToFloat(uint16_t(h))), h) << std::hex << h;
}

TEST(HalfTest, RoundsToNearest) {
  // For a sample of float bit patterns, the result must be the nearest half
  // (ties to even), checked in double against the two neighbours.
  for (uint64_t b = 0; b < 0x100000000ull; b += 65521) {
    float f = floatOf(uint32_t(b));
    if (std::isnan(f))
      continue;
    uint16_t h = floatToHalf(f);
    double got = halfToFloat(h);
    double x = f;
    if (std::fabs(x) >= 65520.0) {
      ASSERT_TRUE(std::isinf(got)) << x;
      continue;
    }
    // Neighbours of h with the same sign.
    uint16_t mag = h & 0x7fff;
    double err = std::fabs(got - x);
    for (int delta : {-1, 1}) {
      int n = int(mag) + delta;
      if (n < 0 || n >= 0x7c00)
        continue;
      double other = halfToFloat(uint16_t((h & 0x8000) | n));
      double otherErr = std::fabs(other - x);
      ASSERT_LE(err, otherErr) << x;
      if (err == otherErr) {
        ASSERT_EQ(mag & 1, 0) << "tie not to even for " << x;
      }
    }
  }
}

#if defined(__FLT16_MAX__) && !defined(__clang__)
TEST(HalfTest, MatchesCompilerFloat16) {
  for (uint64_t b = 0; b < 0x100000000ull; b += 4099) {
    float f = floatOf(uint32_t(b));
    if (std::isnan(f))
      continue;
    _Float16 ref = static_cast<_Float16>(f);
    uint16_t refBits;
    std::memcpy(&refBits, &ref, 2);
    ASSERT_EQ(floatToHalf(f), refBits) << f;
  }
}
#endif

TEST(BF16Test, ConversionsAndRounding) {
  EXPECT_EQ(bf16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bf16ToFloat(0xc000), -2.0f);
  EXPECT_EQ(floatToBF16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBF16(floatOf(0x3f808000)), 0x3f80); // Tie to even.
  EXPECT_EQ(floatToBF16(floatOf(0x3f818000)), 0x3f82); // Tie to even.
  EXPECT_EQ(floatToBF16(floatOf(0x3f808001)), 0x3f81);
  EXPECT_EQ(floatToBF16(floatOf(0x7f7fffff)), 0x7f80); // Rounds to infinity.
  EXPECT_EQ(floatToBF16(-INFINITY), 0xff80);
  uint16_t nan = floatToBF16(floatOf(0x7f800001)); // Payload below bf16.
  EXPECT_TRUE(std::isnan(bf16ToFloat(nan)));
  for (uint32_t h = 0; h < 0x10000; ++h)
    ASSERT_EQ(floatToBF16(bf16ToFloat(uint16_t(h))), h) << std::hex << h;
}

// NaN and infinities are rejected in every dtype, naming the tensor and the
// first bad element (flat and per dimension); finite extremes pass.
TEST(ConvertTest, ReadAsF32RejectsNonFinite) {
  auto tensor = [](DType dtype, std::vector<int64_t> shape,
                   std::vector<uint8_t> bytes) {
    OwnedTensor t;
    t.name = "w";
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.bytes = std::move(bytes);
    return t;
  };
  float nan = std::numeric_limits<float>::quiet_NaN();
  float inf = std::numeric_limits<float>::infinity();
  OwnedTensor f = OwnedTensor::fromF32("w", {2, 3}, {0, 1, 2, 3, nan, inf});
  auto v = toF32(f.view());
  EXPECT_EQ(errorText(v), "tensor 'w': element 4 [1, 1] is NaN (non-finite "
                          "weights are rejected)");
  f = OwnedTensor::fromF32("w", {3}, {-inf, 0, 0});
  v = toF32(f.view());
  EXPECT_EQ(errorText(v), "tensor 'w': element 0 [0] is -Inf (non-finite "
                          "weights are rejected)");
  f = OwnedTensor::fromF32(
      "w", {2},
      {std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()});
  EXPECT_TRUE(bool(toF32(f.view())));
  // F16: 0x7c00 = +Inf, 0x7e00 = NaN, 0x7bff = 65504 (finite).
  OwnedTensor h = tensor(DType::F16, {3}, {0xff, 0x7b, 0x00, 0x7c, 0, 0});
  v = toF32(h.view());
  EXPECT_EQ(errorText(v), "tensor 'w': element 1 [1] is +Inf (non-finite "
                          "weights are rejected)");
  h = tensor(DType::F16, {1}, {0x00, 0x7e});
  v = toF32(h.view());
  EXPECT_NE(errorText(v).find("element 0 [0] is NaN"), std::string::npos);
  // BF16: 0xff80 = -Inf, 0x7fc0 = NaN, 0x7f7f (finite).
  OwnedTensor b =
      tensor(DType::BF16, {2, 2}, {0x7f, 0x7f, 0, 0, 0, 0, 0x80, 0xff});
  v = toF32(b.view());
  EXPECT_EQ(errorText(v), "tensor 'w': element 3 [1, 1] is -Inf (non-finite "
                          "weights are rejected)");
  b = tensor(DType::BF16, {1}, {0xc0, 0x7f});
  float out[1];
  EXPECT_NE(errorText(readAsF32(b.view(), out)).find("is NaN"),
            std::string::npos);
}

TEST(ConvertTest, ReadAsF32) {
  OwnedTensor half;
  half.name = "h";
  half.dtype = DType::F16;
  half.shape = {3};
  for (uint16_t v : {uint16_t(0x3c00), uint16_t(0xc000), uint16_t(0x3800)}) {
    half.bytes.push_back(uint8_t(v & 0xff));
    half.bytes.push_back(uint8_t(v >> 8));
  }
  auto values = toF32(half.view());
  ASSERT_EXPECTED(values);
  EXPECT_EQ(*values, (std::vector<float>{1.0f, -2.0f, 0.5f}));

  OwnedTensor bf = half;
  bf.dtype = DType::BF16;
  bf.bytes = {0x80, 0x3f, 0x00, 0xc0, 0x00, 0x3f};
  values = toF32(bf.view());
  ASSERT_EXPECTED(values);
  EXPECT_EQ(*values, (std::vector<float>{1.0f, -2.0f, 0.5f}));

  OwnedTensor f = OwnedTensor::fromF32("f", {2}, {1.5f, -3.25f});
  float out[2];
  EXPECT_OK(readAsF32(f.view(), out));
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], -3.25f);

  OwnedTensor ints;
  ints.name = "ids";
  ints.dtype = DType::I32;
  ints.shape = {1};
  ints.bytes = {1, 0, 0, 0};
  auto bad = toF32(ints.view());
  EXPECT_EQ(errorText(bad),
            "tensor 'ids': cannot convert I32 to F32 (supported: F32, F16, "
            "BF16)");

  OwnedTensor mismatched = OwnedTensor::fromF32("m", {3}, {1.0f, 2.0f});
  auto mismatchedValues = toF32(mismatched.view());
  std::string msg = errorText(mismatchedValues);
  EXPECT_NE(msg.find("do not match shape [3]"), std::string::npos) << msg;
}

//===----------------------------------------------------------------------===//
// SafetensorsFile: valid files
//===----------------------------------------------------------------------===//

TEST_F(SupportTest, OpensValidFile) {
  std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("b.weight":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("a.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},)"
      R"("empty":{"dtype":"I8","shape":[0,3],"data_offsets":[16,16]}})"
      "   ";
  std::string data = f32Bytes({1.0f, 2.0f, 3.0f, 4.0f});
  std::string p = writeBytes("ok.safetensors", rawFile(header, data));
  auto file = SafetensorsFile::open(p);
  ASSERT_EXPECTED(file);
  SafetensorsFile &f = **file;
  EXPECT_EQ(f.name(), p);
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "a.weight");
  EXPECT_EQ(f.tensors()[1].name, "b.weight");
  EXPECT_EQ(f.tensors()[2].name, "empty");
  EXPECT_EQ(f.metadata().at("format"), "pt");

  const TensorView *a = f.lookup("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(a->numel(), 2);
  EXPECT_EQ(a->nbytes, 8u);
  auto values = toF32(*a);
  ASSERT_EXPECTED(values);
  EXPECT_EQ(*values, (std::vector<float>{1.0f, 2.0f}));
  values = toF32(*f.lookup("b.weight"));
  ASSERT_EXPECTED(values);
  EXPECT_EQ(*values, (std::vector<float>{3.0f, 4.0f}));
  EXPECT_EQ(f.lookup("empty")->numel(), 0);
  EXPECT_EQ(f.lookup("missing"), nullptr);
}

TEST_F(SupportTest, OpensEmptyAndScalarFiles) {
  auto empty = SafetensorsFile::open(writeBytes("e", rawFile("{}", "")));
  ASSERT_EXPECTED(empty);
  EXPECT_TRUE((*empty)->tensors().empty());
  EXPECT_TRUE((*empty)->metadata().empty());

  auto scalar = SafetensorsFile::open(
      writeBytes("s", rawFile(R"({"s":{"dtype":"F32","shape":[],)"
                              R"("data_offsets":[0,4]}})",
                              f32Bytes({7.0f}))));
  ASSERT_EXPECTED(scalar);
  EXPECT_EQ((*scalar)->lookup("s")->numel(), 1);
}

TEST_F(SupportTest, OpensInMemoryBuffer) {
  std::string bytes =
      rawFile(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
              f32Bytes({5.0f}));
  auto file = SafetensorsFile::openBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "mem"), "in-memory");
  ASSERT_EXPECTED(file);
  EXPECT_EQ((*file)->lookup("x")->numel(), 1);

  auto bad = SafetensorsFile::openBuffer(
      llvm::MemoryBuffer::getMemBufferCopy("abc", "mem"), "in-memory");
  EXPECT_EQ(errorText(bad), "in-memory: file is 3 bytes, too short for the "
                            "8-byte header length");
}

//===----------------------------------------------------------------------===//
// SafetensorsFile: validation errors
//===----------------------------------------------------------------------===//

TEST_F(SupportTest, RejectsTruncatedFile) {
  std::string msg = openError(std::string("\x10\x00\x00", 3));
  EXPECT_NE(msg.find("file is 3 bytes, too short"), std::string::npos) << msg;
  msg = openError("");
  EXPECT_NE(msg.find("file is 0 bytes"), std::string::npos) << msg;
}

TEST_F(SupportTest, RejectsHeaderLengthPastEOF) {
  std::string bytes = rawFile("{}", "");
  llvm::support::endian::write64le(&bytes[0], 1000);
  std::string msg = openError(bytes);
  EXPECT_NE(msg.find("header length 1000 runs past the end of the file (10 "
                     "bytes)"),
            std::string::npos)
      << msg;
  // A length near 2^64 must not wrap around.
  llvm::support::endian::write64le(&bytes[0], ~uint64_t(0));
  msg = openError(bytes);
  EXPECT_NE(msg.find("runs past the end"), std::string::npos) << msg;
}

TEST_F(SupportTest, RejectsBadJSON) {
  std::string msg = headerError(R"({"a": {"dtype": "F32",)", "");
  EXPECT_NE(msg.find("header is not valid JSON"), std::string::npos) << msg;
  msg = headerError("[1, 2]", "");
  EXPECT_NE(msg.find("header is not a JSON object"), std::string::npos) << msg;
  msg = headerError(std::string(100, '[') + std::string(100, ']'), "");
  EXPECT_NE(msg.find("nests deeper than 64 levels"), std::string::npos) << msg;
  msg = headerError("{\"\xff\": 1}", "");
  EXPECT_NE(msg.find("header is not valid JSON"), std::string::npos) << msg;
}

TEST_F(SupportTest, RejectsUnknownDType) {
  std::string msg = headerError(
      R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}})", "x");
  EXPECT_NE(msg.find(": tensor 'w': unknown dtype 'Q4'"), std::string::npos)
      << msg;
  msg =
      headerError(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,1]}})", "x");
  EXPECT_NE(msg.find("tensor 'w': field 'dtype' is not a string"),
            std::string::npos)
      << msg;
}

TEST_F(SupportTest, RejectsMissingFields) {
  std::string msg =
      headerError(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "1234");
  EXPECT_NE(msg.find("tensor 'w': missing field 'dtype'"), std::string::npos);
  msg = headerError(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "1234");
  EXPECT_NE(msg.find("tensor 'w': missing field 'shape'"), std::string::npos);
  msg = headerError(R"({"w":{"dtype":"F32","shape":[1]}})", "1234");
  EXPECT_NE(msg.find("tensor 'w': missing field 'data_offsets'"),
            std::string::npos);
  msg = headerError(R"({"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
                    "");
  EXPECT_NE(msg.find("a tensor has an empty name"), std::string::npos) << msg;
  msg = headerError(R"({"w":[1,2]})", "");
  EXPECT_NE(msg.find("tensor 'w': entry is not a JSON object"),
            std::string::npos);
  msg = headerError(
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", "1234");
  EXPECT_NE(msg.find("not an array of two integers"), std::string::npos);
  msg = headerError(
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})", "1234");
  EXPECT_NE(msg.find("must be non-negative integers"), std::string::npos);
}

TEST_F(SupportTest, RejectsOffsetsMismatch) {
  std::string p =
      writeBytes("model.safetensors",
                 rawFile(R"({"model.norm.weight":{"dtype":"F32","shape":[4],)"
                         R"("data_offsets":[0,12]}})",
                         std::string(12, '\0')));
  auto file = SafetensorsFile::open(p);
  EXPECT_EQ(errorText(file),
            p + ": tensor 'model.norm.weight': data_offsets span 12 bytes but "
                "shape [4] of F32 needs 16");
}

TEST_F(SupportTest, RejectsOffsetsOutOfRange) {
  std::string msg =
      headerError(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                  std::string(8, '\0'));
  EXPECT_NE(msg.find("tensor 'w': data_offsets end 16 is past the end of the "
                     "data section (8 bytes)"),
            std::string::npos)
      << msg;
  msg = headerError(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})",
                    std::string(8, '\0'));
  EXPECT_NE(msg.find("tensor 'w': data_offsets [8, 4] end before they begin"),
            std::string::npos)
      << msg;
  msg = headerError(R"({"w":{"dtype":"F32","shape":[1],)"
                    R"("data_offsets":[18446744073709551612,)"
                    R"(18446744073709551615]}})",
                    std::string(8, '\0'));
  EXPECT_NE(msg.find("past the end of the data section"), std::string::npos)
      << msg;
}

TEST_F(SupportTest, RejectsOverlap) {
  std::string msg =
      headerError(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  std::string(12, '\0'));
  EXPECT_NE(msg.find("tensor 'b': bytes [4, 12) overlap tensor 'a' at [0, 8)"),
            std::string::npos)
      << msg;
  // Identical ranges overlap too.
  msg = headerError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                    std::string(4, '\0'));
  EXPECT_NE(msg.find("overlap tensor 'a'"), std::string::npos) << msg;
}

TEST_F(SupportTest, RejectsHoles) {
  std::string msg =
      headerError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                  std::string(8, '\0'));
  EXPECT_NE(msg.find("data bytes [0, 4) are not covered by any tensor"),
            std::string::npos)
      << msg;
  msg = headerError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                    std::string(6, '\0'));
  EXPECT_NE(msg.find("data bytes [4, 6) at the end are not covered"),
            std::string::npos)
      << msg;
}

TEST_F(SupportTest, RejectsBadShapes) {
  std::string msg = headerError(
      R"({"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]}})", "");
  EXPECT_NE(msg.find("tensor 'w': shape dimension 1 is -3, must be "
                     "non-negative"),
            std::string::npos)
      << msg;
  msg = headerError(
      R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,0]}})", "");
  EXPECT_NE(msg.find("shape dimension 0 is not a non-negative integer"),
            std::string::npos)
      << msg;
  msg = headerError(R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,0]}})",
                    "");
  EXPECT_NE(msg.find("field 'shape' is not an array"), std::string::npos);
  // 2^32 * 2^32 elements overflow 64 bits.
  msg = headerError(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],)"
                    R"("data_offsets":[0,0]}})",
                    "");
  EXPECT_NE(msg.find("tensor 'w': shape [4294967296, 4294967296]... of F32 "
                     "overflows"),
            std::string::npos)
      << msg;
  // A zero dimension does not hide an overflowing product.
  msg = headerError(R"({"w":{"dtype":"F32","shape":[0,4294967296,)"
                    R"(4294967296],"data_offsets":[0,0]}})",
                    "");
  EXPECT_NE(msg.find("overflows"), std::string::npos) << msg;
  msg = headerError(R"({"w":{"dtype":"F32","shape":[18446744073709551615],)"
                    R"("data_offsets":[0,0]}})",
                    "");
  EXPECT_NE(msg.find("is too large"), std::string::npos) << msg;
}

TEST_F(SupportTest, RejectsBadMetadata) {
  std::string msg = headerError(R"({"__metadata__":{"format":1}})", "");
  EXPECT_NE(msg.find("__metadata__ entry 'format' is not a string"),
            std::string::npos)
      << msg;
  msg = headerError(R"({"__metadata__":"pt"})", "");
  EXPECT_NE(msg.find("__metadata__ is not a JSON object"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

std::vector<OwnedTensor> sampleTensors() {
  std::vector<OwnedTensor> tensors;
  tensors.push_back(OwnedTensor::fromF32("z.weight", {2, 2}, {1, 2, 3, 4}));
  OwnedTensor codes;
  codes.name = "a.qcodes";
  codes.dtype = DType::U8;
  codes.shape = {3};
  codes.bytes = {7, 8, 9};
  tensors.push_back(codes);
  OwnedTensor half;
  half.name = "m.scale";
  half.dtype = DType::F16;
  half.shape = {1};
  half.bytes = {0x00, 0x3c};
  tensors.push_back(half);
  tensors.push_back(OwnedTensor::fromF32("Upper", {1}, {5}));
  return tensors;
}

TEST_F(SupportTest, WriterRoundTrip) {
  std::vector<OwnedTensor> tensors = sampleTensors();
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"lowbit", "1"}};
  std::string p = path("out.safetensors");
  EXPECT_OK(writeSafetensors(p, tensors, meta));

  auto file = SafetensorsFile::open(p);
  ASSERT_EXPECTED(file);
  EXPECT_EQ((*file)->metadata(), meta);
  ASSERT_EQ((*file)->tensors().size(), tensors.size());
  for (const OwnedTensor &t : tensors) {
    const TensorView *v = (*file)->lookup(t.name);
    ASSERT_NE(v, nullptr) << t.name;
    EXPECT_EQ(v->dtype, t.dtype);
    EXPECT_EQ(v->shape, t.shape);
    EXPECT_EQ(std::vector<uint8_t>(v->data, v->data + v->nbytes), t.bytes);
  }

  // Header length is a multiple of 8, keys are sorted, data in name order.
  std::string bytes = readBytes(p);
  uint64_t headerLen = llvm::support::endian::read64le(bytes.data());
  EXPECT_EQ(headerLen % 8, 0u);
  std::string header = bytes.substr(8, headerLen);
  size_t upper = header.find("\"Upper\"");
  size_t meta0 = header.find("\"__metadata__\"");
  size_t a = header.find("\"a.qcodes\"");
  size_t z = header.find("\"z.weight\"");
  EXPECT_LT(upper, meta0);
  EXPECT_LT(meta0, a);
  EXPECT_LT(a, z);
  EXPECT_NE(header.find(R"("a.qcodes":{"data_offsets":[4,7],"dtype":"U8",)"
                        R"("shape":[3]})"),
            std::string::npos)
      << header;

  // No temporary file is left behind.
  std::error_code ec;
  int entries = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(SupportTest, WriterIsDeterministic) {
  std::vector<OwnedTensor> tensors = sampleTensors();
  std::map<std::string, std::string> meta = {{"k", "v"}};
  EXPECT_OK(writeSafetensors(path("one"), tensors, meta));
  std::reverse(tensors.begin(), tensors.end());
  EXPECT_OK(writeSafetensors(path("two"), tensors, meta));
  std::string one = readBytes(path("one"));
  EXPECT_EQ(one, readBytes(path("two")));

  std::vector<TensorView> views;
  for (const OwnedTensor &t : tensors)
    views.push_back(t.view());
  auto inMemory = serializeSafetensors(views, meta);
  ASSERT_EXPECTED(inMemory);
  EXPECT_EQ(std::string(inMemory->begin(), inMemory->end()), one);

  // Overwriting an existing file works (the rename replaces it).
  EXPECT_OK(writeSafetensors(path("one"), tensors, {}));
  EXPECT_NE(readBytes(path("one")), one);
}

TEST_F(SupportTest, WriterRejectsBadInput) {
  std::vector<OwnedTensor> dup = {OwnedTensor::fromF32("x", {1}, {1}),
                                  OwnedTensor::fromF32("x", {1}, {2})};
  std::string p = path("bad.safetensors");
  EXPECT_EQ(errorText(writeSafetensors(p, dup, {})),
            p + ": tensor 'x' is given twice");
  std::vector<OwnedTensor> wrong = {OwnedTensor::fromF32("w", {3}, {1, 2})};
  EXPECT_EQ(errorText(writeSafetensors(p, wrong, {})),
            p + ": tensor 'w' has 8 bytes but shape [3] of F32 needs 12");
  std::vector<OwnedTensor> reserved = {
      OwnedTensor::fromF32("__metadata__", {1}, {1})};
  EXPECT_NE(errorText(writeSafetensors(p, reserved, {})).find("__metadata__"),
            std::string::npos);
  EXPECT_FALSE(llvm::sys::fs::exists(p));

  // Unwritable destination: an error naming the path, nothing left behind.
  std::string missingDir = path("no/such/dir/out.safetensors");
  std::string msg =
      errorText(writeSafetensors(missingDir, sampleTensors(), {}));
  EXPECT_EQ(msg.rfind(missingDir + ": cannot write: directory", 0), 0u) << msg;
}

//===----------------------------------------------------------------------===//
// Parameter stores
//===----------------------------------------------------------------------===//

TEST_F(SupportTest, SafetensorsStoreSingleFile) {
  std::vector<OwnedTensor> tensors = sampleTensors();
  EXPECT_OK(writeSafetensors(path("model.safetensors"), tensors, {}));
  auto store = SafetensorsStore::openDir(dir);
  ASSERT_EXPECTED(store);
  EXPECT_EQ(
      (*store)->names(),
      (std::vector<std::string>{"Upper", "a.qcodes", "m.scale", "z.weight"}));
  EXPECT_TRUE((*store)->contains("m.scale"));
  EXPECT_EQ((*store)->lookup("nope"), nullptr);

  auto byFile = SafetensorsStore::openFile(path("model.safetensors"));
  ASSERT_EXPECTED(byFile);
  EXPECT_EQ((*byFile)->names().size(), 4u);

  auto empty = SafetensorsStore::openDir(path("missing"));
  EXPECT_NE(errorText(empty).find("not a directory"), std::string::npos);
  llvm::sys::fs::create_directory(path("emptydir"));
  empty = SafetensorsStore::openDir(path("emptydir"));
  EXPECT_EQ(errorText(empty),
            path("emptydir") +
                ": no model.safetensors or model.safetensors.index.json");
}

class ShardedTest : public SupportTest {
protected:
  void writeShards() {
    std::vector<OwnedTensor> one = {OwnedTensor::fromF32("a", {1}, {1}),
                                    OwnedTensor::fromF32("b", {2}, {2, 3})};
    std::vector<OwnedTensor> two = {OwnedTensor::fromF32("c", {1}, {4})};
    ASSERT_EQ(errorText(writeSafetensors(path("s-1.safetensors"), one, {})),
              "");
    ASSERT_EQ(errorText(writeSafetensors(path("s-2.safetensors"), two, {})),
              "");
  }
  std::string writeIndex(const std::string &weightMap) {
    return writeBytes("model.safetensors.index.json",
                      R"({"metadata":{"total_size":16},"weight_map":)" +
                          weightMap + "}");
  }
};

TEST_F(ShardedTest, OpensValidIndex) {
  writeShards();
  writeIndex(R"({"a":"s-1.safetensors","b":"s-1.safetensors",)"
             R"("c":"s-2.safetensors"})");
  auto store = SafetensorsStore::openDir(dir);
  ASSERT_EXPECTED(store);
  EXPECT_EQ((*store)->names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ((*store)->files().size(), 2u);
  auto c = toF32(*(*store)->lookup("c"));
  ASSERT_EXPECTED(c);
  EXPECT_EQ(*c, std::vector<float>{4.0f});
}

TEST_F(ShardedTest, RejectsMissingShard) {
  writeShards();
  std::string index = writeIndex(R"({"a":"s-1.safetensors",)"
                                 R"("c":"s-9.safetensors"})");
  auto store = SafetensorsStore::openDir(dir);
  std::string msg = errorText(store);
  EXPECT_EQ(msg.rfind(index + ": shard 's-9.safetensors' does not exist", 0),
            0u)
      << msg;
}

TEST_F(ShardedTest, RejectsTensorMissingFromShard) {
  writeShards();
  std::string index = writeIndex(R"({"a":"s-1.safetensors",)"
                                 R"("x":"s-2.safetensors"})");
  auto store = SafetensorsStore::openDir(dir);
  EXPECT_EQ(errorText(store),
            index + ": tensor 'x' is listed in shard 's-2.safetensors' but "
                    "not found there");
  writeIndex(R"({"a":"s-2.safetensors","b":"s-1.safetensors",)"
             R"("c":"s-2.safetensors"})");
  store = SafetensorsStore::openDir(dir);
  EXPECT_EQ(errorText(store),
            index + ": tensor 'a' is listed in shard 's-2.safetensors' but "
                    "stored in shard 's-1.safetensors'");
}

TEST_F(ShardedTest, RejectsTensorInTwoShards) {
  writeShards();
  std::vector<OwnedTensor> three = {OwnedTensor::fromF32("c", {1}, {9})};
  EXPECT_OK(writeSafetensors(path("s-3.safetensors"), three, {}));
  std::string index = writeIndex(R"({"a":"s-1.safetensors",)"
                                 R"("c":"s-2.safetensors",)"
                                 R"("d":"s-3.safetensors"})");
  auto store = SafetensorsStore::openDir(dir);
  EXPECT_EQ(errorText(store),
            index + ": tensor 'c' is in two shards, 's-2.safetensors' and "
                    "'s-3.safetensors'");
}

TEST_F(ShardedTest, RejectsMalformedIndex) {
  writeShards();
  std::string index = writeIndex(R"(["s-1.safetensors"])");
  EXPECT_EQ(errorText(SafetensorsStore::openDir(dir)),
            index + ": 'weight_map' is not a JSON object");
  writeIndex(R"({"a":1})");
  EXPECT_EQ(errorText(SafetensorsStore::openDir(dir)),
            index + ": weight_map entry for tensor 'a' is not a string");
  writeIndex(R"({"a":"../s-1.safetensors"})");
  EXPECT_NE(errorText(SafetensorsStore::openDir(dir))
                .find("is not a file name inside the index's directory"),
            std::string::npos);
  writeIndex(R"({})");
  EXPECT_EQ(errorText(SafetensorsStore::openDir(dir)),
            index + ": 'weight_map' lists no tensors");
  writeBytes("model.safetensors.index.json", R"({"metadata":{}})");
  EXPECT_EQ(errorText(SafetensorsStore::openDir(dir)),
            index + ": missing 'weight_map'");
  // A corrupt shard is reported with the shard's own message.
  writeBytes("s-2.safetensors", "short");
  writeIndex(R"({"c":"s-2.safetensors"})");
  std::string msg = errorText(SafetensorsStore::openFile(index));
  EXPECT_NE(msg.find("shard 's-2.safetensors' is invalid: "), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("too short"), std::string::npos) << msg;
}

TEST_F(SupportTest, MemoryAndOverlayStores) {
  MemoryStore mem;
  EXPECT_OK(mem.add(OwnedTensor::fromF32("w", {2}, {1, 2})));
  EXPECT_EQ(errorText(mem.add(OwnedTensor::fromF32("w", {1}, {3}))),
            "tensor 'w' is already in the store");
  EXPECT_EQ(errorText(mem.add(OwnedTensor::fromF32("bad", {4}, {1}))),
            "tensor 'bad' has 4 bytes but shape [4] of F32 needs 16");
  EXPECT_OK(mem.set(OwnedTensor::fromF32("w", {1}, {3})));
  EXPECT_OK(mem.add(OwnedTensor::fromF32("s", {1}, {4})));
  EXPECT_EQ(mem.size(), 2u);
  EXPECT_EQ(mem.lookup("w")->shape, std::vector<int64_t>{1});
  EXPECT_EQ(mem.names(), (std::vector<std::string>{"s", "w"}));

  std::string p = path("mem.safetensors");
  EXPECT_OK(mem.writeTo(p, {{"quantized", "rtn"}}));
  auto file = SafetensorsFile::open(p);
  ASSERT_EXPECTED(file);
  EXPECT_EQ((*file)->metadata().at("quantized"), "rtn");
  auto w = toF32(*(*file)->lookup("w"));
  ASSERT_EXPECTED(w);
  EXPECT_EQ(*w, std::vector<float>{3.0f});

  MemoryStore base;
  EXPECT_OK(base.add(OwnedTensor::fromF32("w", {1}, {100})));
  EXPECT_OK(base.add(OwnedTensor::fromF32("b", {1}, {200})));
  OverlayStore overlay({&mem, &base});
  EXPECT_EQ(overlay.lookup("w"), mem.lookup("w"));
  EXPECT_EQ(overlay.lookup("b"), base.lookup("b"));
  EXPECT_EQ(overlay.lookup("x"), nullptr);
  EXPECT_EQ(overlay.names(), (std::vector<std::string>{"b", "s", "w"}));
}

//===----------------------------------------------------------------------===//
// HF config
//===----------------------------------------------------------------------===//

constexpr const char *kLlamaConfig = R"({
  "architectures": ["LlamaForCausalLM"],
  "model_type": "llama",
  "hidden_size": 64,
  "intermediate_size": 172,
  "num_hidden_layers": 2,
  "num_attention_heads": 8,
  "num_key_value_heads": 4,
  "vocab_size": 512,
  "max_position_embeddings": 512,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "rope_scaling": null,
  "hidden_act": "silu",
  "tie_word_embeddings": true,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "torch_dtype": "float32"
})";

/// kLlamaConfig with `key` replaced or removed (value "" removes it).
std::string llamaWith(const std::string &key, const std::string &value) {
  std::string text = kLlamaConfig;
  std::string needle = "\"" + key + "\": ";
  size_t at = text.find(needle);
  if (at == std::string::npos) {
    if (value.empty())
      return text;
    return "{\"" + key + "\": " + value + ", " + text.substr(1);
  }
  size_t endOfLine = text.find('\n', at);
  std::string line = text.substr(at, endOfLine - at);
  bool hasComma = !line.empty() && line.back() == ',';
  if (value.empty()) {
    text.erase(at, endOfLine - at + 1);
    if (!hasComma) { // Removed the last key: drop the previous comma.
      size_t comma = text.rfind(',', at);
      text.erase(comma, 1);
    }
    return text;
  }
  text.replace(at, endOfLine - at,
               needle + value + (hasComma ? "," : std::string()));
  return text;
}

TEST(HFConfigTest, ParsesLlama) {
  auto config = parseHFConfigJSON(kLlamaConfig, "config.json");
  ASSERT_EXPECTED(config);
  EXPECT_EQ(config->architecture, "LlamaForCausalLM");
  EXPECT_EQ(config->hiddenSize, 64);
  EXPECT_EQ(config->intermediateSize, 172);
  EXPECT_EQ(config->numLayers, 2);
  EXPECT_EQ(config->numHeads, 8);
  EXPECT_EQ(config->numKVHeads, 4);
  EXPECT_EQ(config->headDim, 8);
  EXPECT_EQ(config->vocabSize, 512);
  EXPECT_EQ(config->maxPositions, 512);
  EXPECT_DOUBLE_EQ(config->rmsNormEps, 1e-5);
  EXPECT_DOUBLE_EQ(config->ropeTheta, 10000.0);
  EXPECT_TRUE(config->tieWordEmbeddings);
  EXPECT_FALSE(config->attentionBias);
  EXPECT_FALSE(config->outputProjBias);
  EXPECT_EQ(config->bosId, 1);
  EXPECT_EQ(config->eosId, 2);
  EXPECT_EQ(config->hiddenAct, "silu");
  EXPECT_EQ(config->torchDtype, "float32");
  EXPECT_EQ(config->ropeScaling.type, "");
}

TEST(HFConfigTest, AppliesDefaults) {
  std::string text = R"({"architectures": ["LlamaForCausalLM"],
    "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 1,
    "num_attention_heads": 4, "vocab_size": 100})";
  auto config = parseHFConfigJSON(text, "c");
  ASSERT_EXPECTED(config);
  EXPECT_EQ(config->numKVHeads, 4);
  EXPECT_EQ(config->headDim, 32);
  EXPECT_EQ(config->maxPositions, 2048);
  EXPECT_DOUBLE_EQ(config->rmsNormEps, 1e-6);
  EXPECT_DOUBLE_EQ(config->ropeTheta, 10000.0);
  EXPECT_FALSE(config->tieWordEmbeddings);
  EXPECT_EQ(config->bosId, -1);
  EXPECT_EQ(config->eosId, -1);

  // model_type is enough when "architectures" is absent.
  auto mistral = parseHFConfigJSON(
      R"({"model_type": "mistral", "hidden_size": 128, "intermediate_size": 256,
          "num_hidden_layers": 1, "num_attention_heads": 4,
          "num_key_value_heads": 2, "vocab_size": 100, "sliding_window": 4096,
          "eos_token_id": [2, 7], "head_dim": 64})",
      "c");
  ASSERT_EXPECTED(mistral);
  EXPECT_EQ(mistral->architecture, "MistralForCausalLM");
  EXPECT_EQ(mistral->maxPositions, 131072);
  EXPECT_EQ(mistral->slidingWindow, 4096);
  EXPECT_EQ(mistral->headDim, 64);
  EXPECT_EQ(mistral->eosId, 2);
  EXPECT_EQ(mistral->eosIds, (std::vector<int64_t>{2, 7}));
  std::vector<ExpectedTensor> tensors = expectedTensors(*mistral);
  EXPECT_EQ(tensors[2].name, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(tensors[2].shape, (std::vector<int64_t>{256, 128}));
  EXPECT_EQ(tensors[5].name, "model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(tensors[5].shape, (std::vector<int64_t>{128, 256}));
}

TEST(HFConfigTest, ParsesQwen2WithBiases) {
  auto config = parseHFConfigJSON(
      R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 1,
          "num_attention_heads": 4, "num_key_value_heads": 2,
          "vocab_size": 256, "tie_word_embeddings": true,
          "rope_theta": 1000000.0, "use_sliding_window": false,
          "sliding_window": 32768, "bos_token_id": null,
          "eos_token_id": 151643})",
      "qwen/config.json");
  ASSERT_EXPECTED(config);
  EXPECT_TRUE(config->attentionBias);
  EXPECT_FALSE(config->outputProjBias);
  EXPECT_EQ(config->maxPositions, 32768);
  EXPECT_EQ(config->slidingWindow, 0);
  EXPECT_DOUBLE_EQ(config->ropeTheta, 1e6);
  EXPECT_EQ(config->bosId, -1);
  EXPECT_EQ(config->eosId, 151643);

  std::vector<ExpectedTensor> tensors = expectedTensors(*config);
  std::map<std::string, std::vector<int64_t>> byName;
  for (const ExpectedTensor &t : tensors)
    byName[t.name] = t.shape;
  EXPECT_EQ(byName["model.layers.0.self_attn.q_proj.bias"],
            std::vector<int64_t>{64});
  EXPECT_EQ(byName["model.layers.0.self_attn.k_proj.bias"],
            std::vector<int64_t>{32});
  EXPECT_EQ(byName["model.layers.0.self_attn.v_proj.bias"],
            std::vector<int64_t>{32});
  EXPECT_EQ(byName.count("model.layers.0.self_attn.o_proj.bias"), 0u);
  EXPECT_EQ(tensors.size(), 1u + 12u + 1u + 1u);
  EXPECT_EQ(tensors.back().name, "lm_head.weight");
  EXPECT_TRUE(tensors.back().optional);
}

TEST(HFConfigTest, UnknownArchitectureListsSupported) {
  auto config = parseHFConfigJSON(
      llamaWith("architectures", R"(["GPT2LMHeadModel"])"), "config.json");
  EXPECT_EQ(errorText(config),
            "config.json: unsupported architecture 'GPT2LMHeadModel' "
            "(supported: LlamaForCausalLM, MistralForCausalLM, "
            "Qwen2ForCausalLM)");
  std::string noArch = llamaWith("architectures", "");
  noArch = noArch.replace(noArch.find("\"llama\""), 7, "\"gpt2\"");
  config = parseHFConfigJSON(noArch, "config.json");
  EXPECT_NE(errorText(config).find("unsupported model_type \"gpt2\""),
            std::string::npos);
}

TEST(HFConfigTest, ReportsBadValues) {
  struct Case {
    std::string key, value, message;
  };
  std::vector<Case> cases = {
      {"hidden_size", "", "config.json: missing required key 'hidden_size'"},
      {"vocab_size", "", "config.json: missing required key 'vocab_size'"},
      {"num_hidden_layers", "0",
       "config.json: 'num_hidden_layers' must be positive, got 0"},
      {"hidden_size", "\"64\"",
       "config.json: 'hidden_size' must be an integer, got \"64\""},
      {"num_key_value_heads", "3",
       "config.json: num_attention_heads (8) is not a multiple of "
       "num_key_value_heads (3)"},
      {"num_attention_heads", "12",
       "config.json: hidden_size (64) is not a multiple of "
       "num_attention_heads (12) and head_dim is not given"},
      {"hidden_act", "\"gelu\"",
       "config.json: unsupported hidden_act \"gelu\" (only \"silu\" is "
       "supported)"},
      {"rms_norm_eps", "-1",
       "config.json: 'rms_norm_eps' must be positive, got -1"},
      {"tie_word_embeddings", "1",
       "config.json: 'tie_word_embeddings' must be true or false, got 1"},
      {"eos_token_id", "\"</s>\"",
       "config.json: 'eos_token_id' must be a non-negative integer or a list "
       "of them, got \"</s>\""},
      {"rope_scaling", R"({"rope_type": "yarn", "factor": 4.0})",
       "config.json: rope_scaling type 'yarn' is not supported (supported: "
       "default, linear, llama3)"},
      {"vocab_size", "1000000000",
       "config.json: 'vocab_size' is 1000000000, above the limit of 16777216"},
  };
  for (const Case &c : cases) {
    auto config = parseHFConfigJSON(llamaWith(c.key, c.value), "config.json");
    EXPECT_EQ(errorText(config), c.message) << c.key << " = " << c.value;
  }
  EXPECT_NE(errorText(parseHFConfigJSON("{", "c")).find("c: not valid JSON"),
            std::string::npos);
  EXPECT_EQ(errorText(parseHFConfigJSON("[]", "c")), "c: not a JSON object");
  EXPECT_NE(errorText(parseHFConfigJSON(std::string(500, '['), "c"))
                .find("nests deeper"),
            std::string::npos);
}

TEST(HFConfigTest, ParsesRopeScaling) {
  auto config = parseHFConfigJSON(
      llamaWith(
          "rope_scaling",
          R"({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 8192})"),
      "c");
  ASSERT_EXPECTED(config);
  EXPECT_EQ(config->ropeScaling.type, "llama3");
  EXPECT_DOUBLE_EQ(config->ropeScaling.factor, 8.0);
  EXPECT_EQ(config->ropeScaling.originalMaxPositions, 8192);

  // Newer configs keep theta in "rope_parameters".
  config = parseHFConfigJSON(
      llamaWith("rope_theta", "")
          .replace(1, 0, R"("rope_parameters": {"rope_type": "default",
                   "rope_theta": 500000.0}, )"),
      "c");
  ASSERT_EXPECTED(config);
  EXPECT_DOUBLE_EQ(config->ropeTheta, 500000.0);
  EXPECT_EQ(config->ropeScaling.type, "");
}

TEST_F(SupportTest, ParsesConfigFile) {
  std::string p = writeBytes("config.json", kLlamaConfig);
  auto config = parseHFConfig(p);
  ASSERT_EXPECTED(config);
  EXPECT_EQ(config->numLayers, 2);
  auto missing = parseHFConfig(path("nope.json"));
  EXPECT_EQ(errorText(missing).rfind(path("nope.json") + ": cannot open", 0),
            0u);
}

//===----------------------------------------------------------------------===//
// checkTensors
//===----------------------------------------------------------------------===//

/// A MemoryStore holding zero-filled tensors for every expected tensor.
void fillStore(MemoryStore &store, const ModelConfig &config,
               bool withOptional) {
  for (const ExpectedTensor &t : expectedTensors(config)) {
    if (t.optional && !withOptional)
      continue;
    OwnedTensor owned;
    owned.name = t.name;
    owned.dtype = DType::F16;
    owned.shape = t.shape;
    owned.bytes.resize(*tensorByteSize(DType::F16, t.shape));
    ASSERT_EQ(errorText(store.add(std::move(owned))), "");
  }
}

TEST(CheckTensorsTest, AcceptsCompleteCheckpoint) {
  auto config = parseHFConfigJSON(kLlamaConfig, "c");
  ASSERT_EXPECTED(config);
  MemoryStore store;
  fillStore(store, *config, /*withOptional=*/false);
  EXPECT_OK(checkTensors(store, *config, "model"));
  // Tied: lm_head may also be present; rotary buffers are ignored.
  EXPECT_OK(store.add(OwnedTensor::fromF32("lm_head.weight", {512, 64},
                                           std::vector<float>(512 * 64))));
  EXPECT_OK(store.add(OwnedTensor::fromF32(
      "model.layers.0.self_attn.rotary_emb.inv_freq", {4}, {1, 2, 3, 4})));
  EXPECT_OK(checkTensors(store, *config, "model"));

  // Untied: lm_head is required.
  MemoryStore untied;
  fillStore(untied, *config, /*withOptional=*/false);
  config->tieWordEmbeddings = false;
  EXPECT_EQ(errorText(checkTensors(untied, *config, "dir")),
            "dir: 1 problem with the checkpoint tensors for LlamaForCausalLM "
            "(2 layers, hidden 64)\n"
            "  missing tensor 'lm_head.weight' (expected shape [512, 64])");
}

TEST(CheckTensorsTest, ReportsAllProblems) {
  auto config = parseHFConfigJSON(kLlamaConfig, "c");
  ASSERT_EXPECTED(config);
  MemoryStore full;
  fillStore(full, *config, /*withOptional=*/true);
  MemoryStore store;
  for (const std::string &name : full.names()) {
    const TensorView *v = full.lookup(name);
    if (name == "model.norm.weight")
      continue; // Missing.
    OwnedTensor t;
    t.name = name;
    t.dtype = v->dtype;
    t.shape = v->shape;
    if (name == "model.layers.1.self_attn.k_proj.weight")
      t.shape = {64, 64};
    if (name == "model.layers.0.mlp.up_proj.weight")
      t.dtype = DType::I8;
    t.bytes.resize(*tensorByteSize(t.dtype, t.shape));
    EXPECT_OK(store.add(std::move(t)));
  }
  EXPECT_OK(store.add(OwnedTensor::fromF32("model.extra.weight", {1}, {0})));
  EXPECT_EQ(errorText(checkTensors(store, *config, "/models/x")),
            "/models/x: 4 problems with the checkpoint tensors for "
            "LlamaForCausalLM (2 layers, hidden 64)\n"
            "  tensor 'model.layers.0.mlp.up_proj.weight' has dtype I8, "
            "expected F32, F16 or BF16\n"
            "  tensor 'model.layers.1.self_attn.k_proj.weight' has shape "
            "[64, 64] but the config implies [32, 64]\n"
            "  missing tensor 'model.norm.weight' (expected shape [64])\n"
            "  unexpected tensor 'model.extra.weight'");

  // Many problems: ten are listed, then a count. Two layers of nine tensors,
  // the embedding and the final norm (lm_head is optional: tied).
  MemoryStore empty;
  std::string msg = errorText(checkTensors(empty, *config, "d"));
  EXPECT_EQ(msg.rfind("d: 20 problems", 0), 0u) << msg;
  EXPECT_NE(msg.find("\n  ... and 10 more"), std::string::npos) << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 11) << msg;
}

//===----------------------------------------------------------------------===//
// Real model (skipped when the shared models are not available)
//===----------------------------------------------------------------------===//

TEST(RealModelTest, Stories260k) {
  const char *root = std::getenv("LOWBIT_SHARED_MODELS");
  if (!root || !*root)
    GTEST_SKIP() << "LOWBIT_SHARED_MODELS is not set";
  llvm::SmallString<256> dir(root);
  llvm::sys::path::append(dir, "stories260k");
  if (!llvm::sys::fs::is_directory(dir))
    GTEST_SKIP() << dir.str().str() << " does not exist";

  llvm::SmallString<256> configPath(dir);
  llvm::sys::path::append(configPath, "config.json");
  auto config = parseHFConfig(configPath);
  ASSERT_EXPECTED(config);
  EXPECT_EQ(config->architecture, "LlamaForCausalLM");
  EXPECT_EQ(config->hiddenSize, 64);
  EXPECT_EQ(config->intermediateSize, 172);
  EXPECT_EQ(config->numLayers, 5);
  EXPECT_EQ(config->numHeads, 8);
  EXPECT_EQ(config->numKVHeads, 4);
  EXPECT_EQ(config->headDim, 8);
  EXPECT_EQ(config->vocabSize, 512);
  EXPECT_TRUE(config->tieWordEmbeddings);
  EXPECT_EQ(config->bosId, 1);
  EXPECT_EQ(config->eosId, 2);

  auto store = SafetensorsStore::openDir(dir);
  ASSERT_EXPECTED(store);
  EXPECT_OK(checkTensors(**store, *config, dir));
  const TensorView *embed = (*store)->lookup("model.embed_tokens.weight");
  const TensorView *head = (*store)->lookup("lm_head.weight");
  ASSERT_NE(embed, nullptr);
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(embed->dtype, DType::F32);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{512, 64}));
  // The README says lm_head equals the tied embedding.
  EXPECT_EQ(0, std::memcmp(embed->data, head->data, embed->nbytes));
  auto values = toF32(*embed);
  ASSERT_EXPECTED(values);
  for (float v : *values)
    ASSERT_TRUE(std::isfinite(v));
}

} // namespace
