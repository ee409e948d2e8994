//===- Safetensors.cpp - Validated safetensors reader and writer ----------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/Safetensors.h"
#include "lowbit/Support/OutputFile.h"

#include "JSONLimits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace lowbit;
using llvm::StringRef;
using llvm::Twine;

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

namespace {
struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};
} // namespace

static constexpr DTypeInfo kDTypes[] = {
    {DType::Bool, "BOOL", 1},      {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},          {DType::U16, "U16", 2},
    {DType::I16, "I16", 2},        {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},      {DType::U32, "U32", 4},
    {DType::I32, "I32", 4},        {DType::F32, "F32", 4},
    {DType::U64, "U64", 8},        {DType::I64, "I64", 8},
    {DType::F64, "F64", 8},        {DType::F8E4M3, "F8_E4M3", 1},
    {DType::F8E5M2, "F8_E5M2", 1},
};

static const DTypeInfo &infoFor(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info;
  llvm_unreachable("DType missing from kDTypes");
}

StringRef lowbit::dtypeName(DType dtype) { return infoFor(dtype).name; }

size_t lowbit::dtypeSize(DType dtype) { return infoFor(dtype).size; }

std::optional<DType> lowbit::parseDType(StringRef name) {
  for (const DTypeInfo &info : kDTypes)
    if (name == info.name)
      return info.dtype;
  return std::nullopt;
}

bool lowbit::isFloatingPoint(DType dtype) {
  return dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F32 ||
         dtype == DType::F64;
}

//===----------------------------------------------------------------------===//
// Half-precision conversions
//===----------------------------------------------------------------------===//

static uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

static float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

float lowbit::halfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    float magnitude = float(mantissa) * 0x1p-24f;
    return bitsToFloat(floatBits(magnitude) | sign);
  }
  if (exponent == 0x1f) // Infinity or NaN; the payload is kept.
    return bitsToFloat(sign | 0x7f800000u | (mantissa << 13));
  return bitsToFloat(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

/// Shifts `value` right by `shift` (1..31) rounding to nearest, ties to even.
static uint32_t shiftRightRoundEven(uint32_t value, unsigned shift) {
  uint32_t kept = value >> shift;
  uint32_t rest = value & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (kept & 1u)))
    ++kept;
  return kept;
}

uint16_t lowbit::floatToHalf(float value) {
  uint32_t bits = floatBits(value);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) { // NaN: keep the top payload bits.
    uint16_t payload = uint16_t((magnitude >> 13) & 0x3ffu);
    if (payload == 0)
      payload = 0x200;
    return uint16_t(sign | 0x7c00u | payload);
  }
  if (magnitude >= 0x47800000u) // >= 2^16 (and infinity): overflow.
    return uint16_t(sign | 0x7c00u);
  uint32_t exponent = magnitude >> 23;
  if (magnitude < 0x38800000u) { // Below 2^-14: half subnormal or zero.
    if (exponent == 0)
      return sign; // Float zero/subnormal is far below half's range.
    uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    unsigned shift = 126 - exponent; // value * 2^24 = mantissa >> shift.
    if (shift > 24)
      return sign;
    return uint16_t(sign | shiftRightRoundEven(mantissa, shift));
  }
  // Normal half; a carry out of the mantissa correctly bumps the exponent
  // (up to infinity).
  uint32_t rebased = ((exponent - 127 + 15) << 23) | (magnitude & 0x7fffffu);
  return uint16_t(sign | shiftRightRoundEven(rebased, 13));
}

float lowbit::bf16ToFloat(uint16_t bits) {
  return bitsToFloat(uint32_t(bits) << 16);
}

uint16_t lowbit::floatToBF16(float value) {
  uint32_t bits = floatBits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) { // NaN: keep the top payload bits.
    uint16_t top = uint16_t(bits >> 16);
    if ((top & 0x7fu) == 0)
      top |= 0x40u;
    return top;
  }
  // The largest finite magnitudes round up to infinity, as they should.
  return uint16_t(shiftRightRoundEven(bits, 16));
}

//===----------------------------------------------------------------------===//
// TensorView / OwnedTensor
//===----------------------------------------------------------------------===//

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::optional<uint64_t> lowbit::tensorByteSize(DType dtype,
                                               llvm::ArrayRef<int64_t> shape) {
  const uint64_t kMax = uint64_t(std::numeric_limits<int64_t>::max());
  uint64_t product = dtypeSize(dtype);
  bool hasZero = false;
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    if (d == 0) {
      hasZero = true;
      continue;
    }
    if (product > kMax / uint64_t(d))
      return std::nullopt;
    product *= uint64_t(d);
  }
  return hasZero ? 0 : product;
}

std::string lowbit::formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      out += ", ";
    out += std::to_string(shape[i]);
  }
  out += "]";
  return out;
}

OwnedTensor OwnedTensor::fromF32(StringRef name, llvm::ArrayRef<int64_t> shape,
                                 llvm::ArrayRef<float> values) {
  OwnedTensor t;
  t.name = name.str();
  t.dtype = DType::F32;
  t.shape.assign(shape.begin(), shape.end());
  t.bytes.resize(values.size() * sizeof(float));
  for (size_t i = 0; i < values.size(); ++i)
    llvm::support::endian::write32le(t.bytes.data() + 4 * i,
                                     floatBits(values[i]));
  return t;
}

TensorView OwnedTensor::view() const {
  TensorView v;
  v.name = name;
  v.dtype = dtype;
  v.shape = shape;
  v.data = bytes.data();
  v.nbytes = bytes.size();
  return v;
}

static llvm::Error makeError(const Twine &message) {
  return llvm::make_error<llvm::StringError>(message.str(),
                                             llvm::inconvertibleErrorCode());
}

llvm::Error lowbit::readAsF32(const TensorView &view, float *out) {
  size_t n = view.nbytes / std::max<size_t>(dtypeSize(view.dtype), 1);
  if (view.numel() < 0 || size_t(view.numel()) != n ||
      n * dtypeSize(view.dtype) != view.nbytes)
    return makeError("tensor '" + view.name + "': " + Twine(view.nbytes) +
                     " bytes do not match shape " + formatShape(view.shape) +
                     " of " + dtypeName(view.dtype));
  const uint8_t *p = view.data;
  // Non-finite values (an all-ones exponent) are found in the same pass by
  // OR-ing a per-element flag, which vectorises; only the error path looks
  // for the first one.
  bool nonFinite = false;
  switch (view.dtype) {
  case DType::F32:
    for (size_t i = 0; i < n; ++i) {
      uint32_t bits = llvm::support::endian::read32le(p + 4 * i);
      nonFinite |= (bits & 0x7f800000u) == 0x7f800000u;
      out[i] = bitsToFloat(bits);
    }
    break;
  case DType::F16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t bits = llvm::support::endian::read16le(p + 2 * i);
      nonFinite |= (bits & 0x7c00u) == 0x7c00u;
      out[i] = halfToFloat(bits);
    }
    break;
  case DType::BF16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t bits = llvm::support::endian::read16le(p + 2 * i);
      nonFinite |= (bits & 0x7f80u) == 0x7f80u;
      out[i] = bf16ToFloat(bits);
    }
    break;
  default:
    return makeError("tensor '" + view.name + "': cannot convert " +
                     dtypeName(view.dtype) +
                     " to F32 (supported: F32, F16, BF16)");
  }
  if (!nonFinite)
    return llvm::Error::success();
  size_t i = 0;
  while (i < n && std::isfinite(out[i]))
    ++i;
  // The element's index in every dimension, last fastest.
  std::string index;
  size_t rest = i;
  for (size_t d = view.shape.size(); d-- > 0;) {
    size_t dim = size_t(std::max<int64_t>(view.shape[d], 1));
    index = std::to_string(rest % dim) + (index.empty() ? "" : ", ") + index;
    rest /= dim;
  }
  return makeError("tensor '" + view.name + "': element " + Twine(i) + " [" +
                   index + "] is " +
                   (std::isnan(out[i]) ? "NaN"
                    : out[i] > 0       ? "+Inf"
                                       : "-Inf") +
                   " (non-finite weights are rejected)");
}

llvm::Expected<std::vector<float>> lowbit::toF32(const TensorView &view) {
  std::vector<float> out(view.nbytes /
                         std::max<size_t>(dtypeSize(view.dtype), 1));
  if (llvm::Error err = readAsF32(view, out.data()))
    return err;
  return out;
}

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

SafetensorsFile::~SafetensorsFile() = default;

llvm::Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(StringRef path) {
  auto bufferOrErr = llvm::MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false,
      /*IsVolatile=*/false);
  if (!bufferOrErr)
    return makeError(path +
                     ": cannot open: " + bufferOrErr.getError().message());
  return openBuffer(std::move(*bufferOrErr), path);
}

llvm::Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::openBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                            StringRef name) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->fileName = name.str();
  file->buffer = std::move(buffer);
  if (llvm::Error err = file->parse())
    return err;
  return file;
}

const TensorView *SafetensorsFile::lookup(StringRef tensorName) const {
  auto it = indexByName.find(tensorName);
  if (it == indexByName.end())
    return nullptr;
  return &tensorList[it->second];
}

namespace {
/// Validation state for one file; every message starts with the file name.
class HeaderParser {
public:
  HeaderParser(StringRef fileName, const uint8_t *data, uint64_t dataSize)
      : fileName(fileName), data(data), dataSize(dataSize) {}

  llvm::Error fileError(const Twine &message) const {
    return makeError(fileName + ": " + message);
  }
  llvm::Error tensorError(StringRef tensor, const Twine &message) const {
    return makeError(fileName + ": tensor '" + tensor + "': " + message);
  }

  /// Parses one tensor entry; on success fills `view`, `begin` and `end`.
  llvm::Error parseTensor(StringRef tensorName, const llvm::json::Value &value,
                          TensorView &view, uint64_t &begin, uint64_t &end);

private:
  StringRef fileName;
  const uint8_t *data;
  uint64_t dataSize;
};
} // namespace

llvm::Error HeaderParser::parseTensor(StringRef tensorName,
                                      const llvm::json::Value &value,
                                      TensorView &view, uint64_t &begin,
                                      uint64_t &end) {
  const llvm::json::Object *entry = value.getAsObject();
  if (!entry)
    return tensorError(tensorName, "entry is not a JSON object");

  // dtype.
  const llvm::json::Value *dtypeValue = entry->get("dtype");
  if (!dtypeValue)
    return tensorError(tensorName, "missing field 'dtype'");
  std::optional<StringRef> dtypeStr = dtypeValue->getAsString();
  if (!dtypeStr)
    return tensorError(tensorName, "field 'dtype' is not a string");
  std::optional<DType> dtype = parseDType(*dtypeStr);
  if (!dtype)
    return tensorError(tensorName, "unknown dtype '" + *dtypeStr + "'");

  // shape: non-negative integers whose product (times the element size) fits.
  const llvm::json::Value *shapeValue = entry->get("shape");
  if (!shapeValue)
    return tensorError(tensorName, "missing field 'shape'");
  const llvm::json::Array *shapeArray = shapeValue->getAsArray();
  if (!shapeArray)
    return tensorError(tensorName, "field 'shape' is not an array");
  std::vector<int64_t> shape;
  shape.reserve(shapeArray->size());
  const uint64_t kMaxDim = uint64_t(std::numeric_limits<int64_t>::max());
  uint64_t nonZeroProduct = dtypeSize(*dtype);
  bool hasZero = false;
  for (size_t i = 0; i < shapeArray->size(); ++i) {
    const llvm::json::Value &dim = (*shapeArray)[i];
    std::optional<uint64_t> u = dim.getAsUINT64();
    if (!u) {
      std::optional<int64_t> s = dim.getAsInteger();
      if (s && *s < 0)
        return tensorError(tensorName, "shape dimension " + Twine(i) + " is " +
                                           Twine(*s) +
                                           ", must be non-negative");
      return tensorError(tensorName, "shape dimension " + Twine(i) +
                                         " is not a non-negative integer");
    }
    if (*u > kMaxDim)
      return tensorError(tensorName, "shape dimension " + Twine(i) + " (" +
                                         Twine(*u) + ") is too large");
    shape.push_back(int64_t(*u));
    if (*u == 0) {
      hasZero = true;
      continue;
    }
    // Keep even tensors with a zero dimension free of overflowing strides.
    if (nonZeroProduct > kMaxDim / *u)
      return tensorError(tensorName, "shape " + formatShape(shape) + "... of " +
                                         dtypeName(*dtype) +
                                         " overflows the addressable size");
    nonZeroProduct *= *u;
  }
  uint64_t needed = hasZero ? 0 : nonZeroProduct;

  // data_offsets.
  const llvm::json::Value *offsetsValue = entry->get("data_offsets");
  if (!offsetsValue)
    return tensorError(tensorName, "missing field 'data_offsets'");
  const llvm::json::Array *offsets = offsetsValue->getAsArray();
  if (!offsets || offsets->size() != 2)
    return tensorError(tensorName,
                       "field 'data_offsets' is not an array of two integers");
  std::optional<uint64_t> b = (*offsets)[0].getAsUINT64();
  std::optional<uint64_t> e = (*offsets)[1].getAsUINT64();
  if (!b || !e)
    return tensorError(tensorName,
                       "data_offsets must be non-negative integers");
  if (*b > *e)
    return tensorError(tensorName, "data_offsets [" + Twine(*b) + ", " +
                                       Twine(*e) + "] end before they begin");
  if (*e > dataSize)
    return tensorError(tensorName,
                       "data_offsets end " + Twine(*e) +
                           " is past the end of the data section (" +
                           Twine(dataSize) + " bytes)");
  if (*e - *b != needed)
    return tensorError(tensorName,
                       "data_offsets span " + Twine(*e - *b) +
                           " bytes but shape " + formatShape(shape) + " of " +
                           dtypeName(*dtype) + " needs " + Twine(needed));

  view.name = tensorName.str();
  view.dtype = *dtype;
  view.shape = std::move(shape);
  view.data = data + *b;
  view.nbytes = size_t(needed);
  begin = *b;
  end = *e;
  return llvm::Error::success();
}

llvm::Error SafetensorsFile::parse() {
  const uint8_t *base =
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
  uint64_t size = buffer->getBufferSize();
  HeaderParser early(fileName, nullptr, 0);
  if (size < 8)
    return early.fileError("file is " + Twine(size) +
                           " bytes, too short for the 8-byte header length");
  uint64_t headerLen = llvm::support::endian::read64le(base);
  if (headerLen > size - 8)
    return early.fileError("header length " + Twine(headerLen) +
                           " runs past the end of the file (" + Twine(size) +
                           " bytes)");
  if (headerLen > kMaxHeaderBytes)
    return early.fileError("header length " + Twine(headerLen) +
                           " exceeds the limit of " + Twine(kMaxHeaderBytes) +
                           " bytes");

  StringRef headerText(reinterpret_cast<const char *>(base + 8),
                       size_t(headerLen));
  if (detail::jsonNestsDeeperThan(headerText, detail::kMaxJSONDepth))
    return early.fileError("header JSON nests deeper than " +
                           Twine(detail::kMaxJSONDepth) + " levels");
  llvm::Expected<llvm::json::Value> header = llvm::json::parse(headerText);
  if (!header)
    return early.fileError("header is not valid JSON: " +
                           llvm::toString(header.takeError()));
  const llvm::json::Object *root = header->getAsObject();
  if (!root)
    return early.fileError("header is not a JSON object");

  uint64_t dataStart = 8 + headerLen;
  uint64_t dataSize = size - dataStart;
  HeaderParser parser(fileName, base + dataStart, dataSize);

  // Visit keys in sorted order so that the first error reported and the
  // resulting tensor order do not depend on hashing.
  std::vector<StringRef> keys;
  keys.reserve(root->size());
  for (const auto &kv : *root)
    keys.push_back(StringRef(kv.first));
  llvm::sort(keys);

  struct Extent {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Extent> extents;
  for (StringRef key : keys) {
    const llvm::json::Value &value = *root->get(key);
    if (key == "__metadata__") {
      const llvm::json::Object *meta = value.getAsObject();
      if (!meta)
        return parser.fileError("__metadata__ is not a JSON object");
      for (const auto &kv : *meta) {
        std::optional<StringRef> str = kv.second.getAsString();
        if (!str)
          return parser.fileError("__metadata__ entry '" + StringRef(kv.first) +
                                  "' is not a string");
        metadataMap[std::string(StringRef(kv.first))] = str->str();
      }
      continue;
    }
    if (key.empty())
      return parser.fileError("a tensor has an empty name");
    TensorView view;
    uint64_t begin = 0, end = 0;
    if (llvm::Error err = parser.parseTensor(key, value, view, begin, end))
      return err;
    extents.push_back({begin, end, tensorList.size()});
    tensorList.push_back(std::move(view));
  }

  // The tensors must tile the data section exactly: no overlaps and, as the
  // format requires, no unindexed bytes.
  llvm::sort(extents, [](const Extent &a, const Extent &b) {
    return std::tie(a.begin, a.end, a.index) <
           std::tie(b.begin, b.end, b.index);
  });
  uint64_t covered = 0;
  const Extent *previous = nullptr;
  for (const Extent &ext : extents) {
    StringRef name = tensorList[ext.index].name;
    if (ext.begin < covered)
      return parser.tensorError(
          name, "bytes [" + Twine(ext.begin) + ", " + Twine(ext.end) +
                    ") overlap tensor '" + tensorList[previous->index].name +
                    "' at [" + Twine(previous->begin) + ", " +
                    Twine(previous->end) + ")");
    if (ext.begin > covered)
      return parser.fileError("data bytes [" + Twine(covered) + ", " +
                              Twine(ext.begin) +
                              ") are not covered by any tensor");
    covered = ext.end;
    previous = &ext;
  }
  if (covered != dataSize)
    return parser.fileError("data bytes [" + Twine(covered) + ", " +
                            Twine(dataSize) +
                            ") at the end are not covered by any tensor");

  for (size_t i = 0; i < tensorList.size(); ++i)
    indexByName[tensorList[i].name] = i;
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

namespace {
/// A header ready to write, plus the order in which tensor data follows it.
struct PreparedFile {
  std::string header; // Including the 8-byte length prefix and padding.
  std::vector<const TensorView *> order;
  uint64_t totalSize = 0;
};
} // namespace

static llvm::Error prepare(llvm::ArrayRef<TensorView> tensors,
                           const std::map<std::string, std::string> &metadata,
                           PreparedFile &out) {
  out.order.clear();
  for (const TensorView &t : tensors)
    out.order.push_back(&t);
  llvm::sort(out.order, [](const TensorView *a, const TensorView *b) {
    return a->name < b->name;
  });
  for (size_t i = 0; i < out.order.size(); ++i) {
    const TensorView &t = *out.order[i];
    if (t.name.empty())
      return makeError("cannot write a tensor with an empty name");
    if (!llvm::json::isUTF8(t.name))
      return makeError("tensor name '" + t.name + "' is not valid UTF-8");
    if (t.name == "__metadata__")
      return makeError("cannot write a tensor named '__metadata__'");
    if (i > 0 && out.order[i - 1]->name == t.name)
      return makeError("tensor '" + t.name + "' is given twice");
    std::optional<uint64_t> needed = tensorByteSize(t.dtype, t.shape);
    if (!needed)
      return makeError("tensor '" + t.name + "': invalid shape " +
                       formatShape(t.shape));
    if (*needed != t.nbytes)
      return makeError("tensor '" + t.name + "' has " + Twine(t.nbytes) +
                       " bytes but shape " + formatShape(t.shape) + " of " +
                       dtypeName(t.dtype) + " needs " + Twine(*needed));
    if (t.nbytes && !t.data)
      return makeError("tensor '" + t.name + "' has no data");
  }

  for (const auto &kv : metadata)
    if (!llvm::json::isUTF8(kv.first) || !llvm::json::isUTF8(kv.second))
      return makeError("metadata entry '" + kv.first + "' is not valid UTF-8");

  // Keys in sorted order: "__metadata__" sorts by its bytes like any name.
  std::string json;
  llvm::raw_string_ostream os(json);
  llvm::json::OStream j(os);
  bool metadataWritten = metadata.empty();
  auto writeMetadata = [&] {
    j.attributeObject("__metadata__", [&] {
      for (const auto &kv : metadata) // std::map: sorted.
        j.attribute(kv.first, kv.second);
    });
    metadataWritten = true;
  };
  uint64_t offset = 0;
  j.object([&] {
    for (const TensorView *t : out.order) {
      if (!metadataWritten && StringRef("__metadata__") < StringRef(t->name))
        writeMetadata();
      j.attributeObject(t->name, [&] {
        j.attributeArray("data_offsets", [&] {
          j.value(offset);
          j.value(offset + t->nbytes);
        });
        j.attribute("dtype", dtypeName(t->dtype));
        j.attributeArray("shape", [&] {
          for (int64_t d : t->shape)
            j.value(d);
        });
      });
      offset += t->nbytes;
    }
    if (!metadataWritten)
      writeMetadata();
  });
  os.flush();
  while (json.size() % 8 != 0)
    json.push_back(' ');

  out.header.assign(8, '\0');
  llvm::support::endian::write64le(&out.header[0], json.size());
  out.header += json;
  out.totalSize = out.header.size() + offset;
  return llvm::Error::success();
}

llvm::Expected<std::vector<uint8_t>> lowbit::serializeSafetensors(
    llvm::ArrayRef<TensorView> tensors,
    const std::map<std::string, std::string> &metadata) {
  PreparedFile prepared;
  if (llvm::Error err = prepare(tensors, metadata, prepared))
    return err;
  std::vector<uint8_t> bytes;
  bytes.reserve(prepared.totalSize);
  bytes.insert(bytes.end(), prepared.header.begin(), prepared.header.end());
  for (const TensorView *t : prepared.order)
    bytes.insert(bytes.end(), t->data, t->data + t->nbytes);
  return bytes;
}

llvm::Error
lowbit::writeSafetensors(StringRef path, llvm::ArrayRef<TensorView> tensors,
                         const std::map<std::string, std::string> &metadata) {
  PreparedFile prepared;
  if (llvm::Error err = prepare(tensors, metadata, prepared))
    return makeError(path + ": " + llvm::toString(std::move(err)));

  // Through the one output helper: a temporary next to `path`, every write
  // checked, fsync'ed and renamed; /dev/null and FIFOs are written directly.
  return writeOutputFile(path, [&](llvm::raw_ostream &os) -> llvm::Error {
    os.write(prepared.header.data(), prepared.header.size());
    for (const TensorView *t : prepared.order)
      os.write(reinterpret_cast<const char *>(t->data), t->nbytes);
    return llvm::Error::success();
  });
}

llvm::Error
lowbit::writeSafetensors(StringRef path, llvm::ArrayRef<OwnedTensor> tensors,
                         const std::map<std::string, std::string> &metadata) {
  std::vector<TensorView> views;
  views.reserve(tensors.size());
  for (const OwnedTensor &t : tensors)
    views.push_back(t.view());
  return writeSafetensors(path, llvm::ArrayRef<TensorView>(views), metadata);
}
