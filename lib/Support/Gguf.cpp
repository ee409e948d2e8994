//===- Gguf.cpp - Validated GGUF reader -----------------------------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/Gguf.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>
#include <limits>

using namespace lowbit;
using llvm::StringRef;
using llvm::Twine;

static llvm::Error makeError(const Twine &message) {
  return llvm::make_error<llvm::StringError>(message.str(),
                                             llvm::inconvertibleErrorCode());
}

//===----------------------------------------------------------------------===//
// Value types
//===----------------------------------------------------------------------===//

namespace {
struct ValueTypeInfo {
  const char *name;
  uint32_t size; // Bytes of a scalar; 0 for STRING and ARRAY.
};
} // namespace

static constexpr ValueTypeInfo kValueTypes[] = {
    {"UINT8", 1},  {"INT8", 1},    {"UINT16", 2},  {"INT16", 2},  {"UINT32", 4},
    {"INT32", 4},  {"FLOAT32", 4}, {"BOOL", 1},    {"STRING", 0}, {"ARRAY", 0},
    {"UINT64", 8}, {"INT64", 8},   {"FLOAT64", 8},
};

static bool isKnownValueType(uint32_t value) {
  return value < std::size(kValueTypes);
}

StringRef lowbit::ggufValueTypeName(GgufValueType type) {
  return kValueTypes[uint32_t(type)].name;
}

static uint32_t scalarSize(GgufValueType type) {
  return kValueTypes[uint32_t(type)].size;
}

static bool isSignedType(GgufValueType type) {
  return type == GgufValueType::Int8 || type == GgufValueType::Int16 ||
         type == GgufValueType::Int32 || type == GgufValueType::Int64;
}

static bool isUnsignedType(GgufValueType type) {
  return type == GgufValueType::UInt8 || type == GgufValueType::UInt16 ||
         type == GgufValueType::UInt32 || type == GgufValueType::UInt64;
}

/// Sign-extends the `size`-byte payload of a signed integer.
static int64_t signExtend(uint64_t bits, uint32_t size) {
  unsigned shift = 64 - 8 * size;
  return int64_t(bits << shift) >> shift;
}

static uint64_t readLE(const uint8_t *p, uint32_t size) {
  uint64_t value = 0;
  for (uint32_t i = 0; i < size; ++i)
    value |= uint64_t(p[i]) << (8 * i);
  return value;
}

std::optional<uint64_t> GgufValue::getAsUInt64() const {
  if (isUnsignedType(valueType))
    return bits;
  if (isSignedType(valueType)) {
    int64_t v = signExtend(bits, scalarSize(valueType));
    if (v >= 0)
      return uint64_t(v);
  }
  return std::nullopt;
}

std::optional<int64_t> GgufValue::getAsInt64() const {
  if (isSignedType(valueType))
    return signExtend(bits, scalarSize(valueType));
  if (isUnsignedType(valueType) &&
      bits <= uint64_t(std::numeric_limits<int64_t>::max()))
    return int64_t(bits);
  return std::nullopt;
}

std::optional<double> GgufValue::getAsDouble() const {
  if (valueType == GgufValueType::Float32) {
    float f;
    uint32_t b = uint32_t(bits);
    std::memcpy(&f, &b, sizeof(f));
    return double(f);
  }
  if (valueType == GgufValueType::Float64) {
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    return d;
  }
  return std::nullopt;
}

std::optional<bool> GgufValue::getAsBool() const {
  if (valueType != GgufValueType::Bool)
    return std::nullopt;
  return bits != 0;
}

std::optional<StringRef> GgufValue::getAsString() const {
  if (valueType != GgufValueType::String)
    return std::nullopt;
  return string;
}

GgufValue GgufValue::operator[](uint64_t i) const {
  assert(isArray() && i < count && "array index out of range");
  if (elemType == GgufValueType::String || elemType == GgufValueType::Array)
    return children[size_t(i)];
  GgufValue element;
  element.valueType = elemType;
  uint32_t size = scalarSize(elemType);
  element.bits = readLE(raw.data() + i * size, size);
  return element;
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

uint64_t GgufTensor::numElements() const {
  uint64_t n = 1;
  for (uint64_t d : dims)
    n *= d; // Validated not to overflow when the file was opened.
  return n;
}

std::vector<int64_t> GgufTensor::shape() const {
  return std::vector<int64_t>(dims.rbegin(), dims.rend());
}

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

namespace lowbit {
/// Reads one file front to back; every message starts with the file name.
class GgufParser {
public:
  GgufParser(GgufFile &file)
      : file(file),
        base(reinterpret_cast<const uint8_t *>(file.buffer->getBufferStart())),
        size(file.buffer->getBufferSize()) {}

  llvm::Error parse();

private:
  llvm::Error fileError(const Twine &message) const {
    return makeError(file.fileName + ": " + message);
  }
  llvm::Error keyError(StringRef key, const Twine &message) const {
    return makeError(file.fileName + ": metadata key '" + key +
                     "': " + message);
  }
  llvm::Error tensorError(StringRef tensor, const Twine &message) const {
    return makeError(file.fileName + ": tensor '" + tensor + "': " + message);
  }

  uint64_t remaining() const { return size - pos; }

  /// Reads `n` (1..8) bytes little-endian; `what` names the field.
  llvm::Error readInt(uint32_t n, uint64_t &value, const Twine &what);
  llvm::Error readU32(uint32_t &value, const Twine &what) {
    uint64_t v = 0;
    if (llvm::Error err = readInt(4, v, what))
      return err;
    value = uint32_t(v);
    return llvm::Error::success();
  }
  llvm::Error readString(StringRef &value, const Twine &what);
  llvm::Error readValue(StringRef key, GgufValueType type, unsigned depth,
                        GgufValue &value);
  llvm::Error readTensorInfo(GgufTensor &tensor, size_t index);

  GgufFile &file;
  const uint8_t *base;
  uint64_t size;
  uint64_t pos = 0;
};
} // namespace lowbit

llvm::Error GgufParser::readInt(uint32_t n, uint64_t &value,
                                const Twine &what) {
  if (remaining() < n)
    return fileError("file ends at byte " + Twine(size) + " inside " + what);
  value = readLE(base + pos, n);
  pos += n;
  return llvm::Error::success();
}

llvm::Error GgufParser::readString(StringRef &value, const Twine &what) {
  uint64_t length = 0;
  if (llvm::Error err = readInt(8, length, "the length of " + what))
    return err;
  if (length > remaining())
    return fileError(what + " is " + Twine(length) + " bytes long, past the " +
                     "end of the file (" + Twine(remaining()) + " bytes left)");
  value = StringRef(reinterpret_cast<const char *>(base + pos), size_t(length));
  pos += length;
  return llvm::Error::success();
}

llvm::Error GgufParser::readValue(StringRef key, GgufValueType type,
                                  unsigned depth, GgufValue &value) {
  value.valueType = type;
  if (type == GgufValueType::String)
    return readString(value.string, "the string value of key '" + key + "'");
  if (type != GgufValueType::Array) {
    uint32_t n = scalarSize(type);
    if (llvm::Error err =
            readInt(n, value.bits, "the value of key '" + key + "'"))
      return err;
    if (type == GgufValueType::Bool && value.bits > 1)
      return keyError(key,
                      "BOOL value is " + Twine(value.bits) + ", not 0 or 1");
    return llvm::Error::success();
  }

  if (depth >= GgufFile::kMaxArrayDepth)
    return keyError(key, "arrays nest deeper than " +
                             Twine(GgufFile::kMaxArrayDepth) + " levels");
  uint32_t elemType = 0;
  if (llvm::Error err =
          readU32(elemType, "the array element type of key '" + key + "'"))
    return err;
  if (!isKnownValueType(elemType))
    return keyError(key, "unknown array element type " + Twine(elemType));
  value.elemType = GgufValueType(elemType);
  if (llvm::Error err =
          readInt(8, value.count, "the array length of key '" + key + "'"))
    return err;
  // The smallest encoding of one element bounds the count by the bytes left.
  uint32_t minBytes = value.elemType == GgufValueType::String ? 8
                      : value.elemType == GgufValueType::Array
                          ? 12
                          : scalarSize(value.elemType);
  if (value.count > remaining() / minBytes)
    return keyError(key, "array of " + Twine(value.count) + " " +
                             ggufValueTypeName(value.elemType) +
                             " elements does not fit in the " +
                             Twine(remaining()) + " bytes left in the file");
  if (value.elemType != GgufValueType::String &&
      value.elemType != GgufValueType::Array) {
    uint64_t bytes = value.count * minBytes;
    value.raw = llvm::ArrayRef<uint8_t>(base + pos, size_t(bytes));
    if (value.elemType == GgufValueType::Bool)
      for (uint64_t i = 0; i < value.count; ++i)
        if (value.raw[i] > 1)
          return keyError(key, "BOOL array element " + Twine(i) + " is " +
                                   Twine(unsigned(value.raw[i])) +
                                   ", not 0 or 1");
    pos += bytes;
    return llvm::Error::success();
  }
  value.children.resize(size_t(value.count));
  // Each nested array repeats its element type and count.
  for (GgufValue &child : value.children)
    if (llvm::Error err = readValue(key, value.elemType, depth + 1, child))
      return err;
  return llvm::Error::success();
}

llvm::Error GgufParser::readTensorInfo(GgufTensor &tensor, size_t index) {
  StringRef name;
  if (llvm::Error err = readString(name, "the name of tensor #" + Twine(index)))
    return err;
  if (name.empty())
    return fileError("tensor #" + Twine(index) + " has an empty name");
  tensor.name = name.str();
  uint32_t nDims = 0;
  if (llvm::Error err =
          readU32(nDims, "the dimension count of tensor '" + name + "'"))
    return err;
  if (nDims > GgufFile::kMaxDims)
    return tensorError(name, "has " + Twine(nDims) +
                                 " dimensions, more than the " +
                                 Twine(GgufFile::kMaxDims) + " ggml allows");
  const uint64_t kMax = uint64_t(std::numeric_limits<int64_t>::max());
  uint64_t elements = 1;
  bool hasZero = false;
  for (uint32_t i = 0; i < nDims; ++i) {
    uint64_t d = 0;
    if (llvm::Error err = readInt(
            8, d, "dimension " + Twine(i) + " of tensor '" + name + "'"))
      return err;
    if (d > kMax)
      return tensorError(name, "dimension " + Twine(i) + " (" + Twine(d) +
                                   ") is too large");
    tensor.dims.push_back(d);
    if (d == 0) {
      hasZero = true;
      continue;
    }
    if (elements > kMax / d)
      return tensorError(name, "element count overflows");
    elements *= d;
  }
  uint32_t typeNumber = 0;
  if (llvm::Error err =
          readU32(typeNumber, "the type of tensor '" + name + "'"))
    return err;
  const GgmlTypeTraits *traits = lookupGgmlType(typeNumber);
  if (!traits)
    return tensorError(name, "unknown ggml type " + Twine(typeNumber));
  tensor.type = traits->type;
  if (llvm::Error err =
          readInt(8, tensor.offset, "the data offset of tensor '" + name + "'"))
    return err;

  uint64_t rowLength = nDims ? tensor.dims[0] : 1;
  if (rowLength % traits->blockElems != 0)
    return tensorError(name, "row length " + Twine(rowLength) +
                                 " is not a multiple of the " + traits->name +
                                 " block size " + Twine(traits->blockElems));
  // elements / blockElems blocks of blockBytes each (blockElems divides
  // the row length, hence the element count).
  uint64_t blocks = hasZero ? 0 : elements / traits->blockElems;
  if (blocks > kMax / traits->blockBytes)
    return tensorError(name, "byte size of " + Twine(elements) + " " +
                                 traits->name + " elements overflows");
  tensor.nbytes = blocks * traits->blockBytes;
  if (tensor.offset % file.dataAlignment != 0)
    return tensorError(name, "data offset " + Twine(tensor.offset) +
                                 " is not a multiple of the alignment " +
                                 Twine(file.dataAlignment));
  return llvm::Error::success();
}

llvm::Error GgufParser::parse() {
  if (size < 24)
    return fileError("file is " + Twine(size) +
                     " bytes, too short for a GGUF header (24 bytes)");
  if (std::memcmp(base, "GGUF", 4) != 0)
    return fileError("not a GGUF file (the magic is not \"GGUF\")");
  pos = 4;
  uint32_t version = 0;
  if (llvm::Error err = readU32(version, "the version"))
    return err;
  if (version != 2 && version != 3) {
    if (llvm::byteswap(version) == 2 || llvm::byteswap(version) == 3)
      return fileError("big-endian GGUF files are not supported");
    return fileError("GGUF version " + Twine(version) +
                     " is not supported (only 2 and 3)");
  }
  file.formatVersion = version;
  uint64_t tensorCount = 0, kvCount = 0;
  if (llvm::Error err = readInt(8, tensorCount, "the tensor count"))
    return err;
  if (llvm::Error err = readInt(8, kvCount, "the metadata count"))
    return err;
  // Smallest encodings: a key/value pair 13 bytes (empty key, UINT8 value),
  // a tensor info 24 bytes (empty name, no dimension).
  if (kvCount > remaining() / 13)
    return fileError("metadata count " + Twine(kvCount) +
                     " does not fit in the " + Twine(remaining()) +
                     " bytes of the file");
  if (tensorCount > remaining() / 24)
    return fileError("tensor count " + Twine(tensorCount) +
                     " does not fit in the " + Twine(remaining()) +
                     " bytes of the file");

  file.keyOrder.reserve(size_t(kvCount));
  for (uint64_t i = 0; i < kvCount; ++i) {
    StringRef key;
    if (llvm::Error err = readString(key, "metadata key #" + Twine(i)))
      return err;
    if (key.empty())
      return fileError("metadata key #" + Twine(i) + " is empty");
    if (file.metadataMap.count(key))
      return keyError(key, "appears twice");
    uint32_t type = 0;
    if (llvm::Error err = readU32(type, "the value type of key '" + key + "'"))
      return err;
    if (!isKnownValueType(type))
      return keyError(key, "unknown value type " + Twine(type));
    GgufValue value;
    if (llvm::Error err = readValue(key, GgufValueType(type), 0, value))
      return err;
    file.keyOrder.push_back(key.str());
    file.metadataMap.try_emplace(key, std::move(value));
  }

  if (const GgufValue *alignment = file.lookupMetadata("general.alignment")) {
    if (alignment->type() != GgufValueType::UInt32)
      return keyError("general.alignment",
                      "must be a UINT32, not " +
                          ggufValueTypeName(alignment->type()));
    uint64_t a = *alignment->getAsUInt64();
    if (a == 0 || !llvm::isPowerOf2_64(a))
      return keyError("general.alignment", Twine(a) + " is not a power of two");
    file.dataAlignment = uint32_t(a);
  }

  file.tensorList.resize(size_t(tensorCount));
  for (uint64_t i = 0; i < tensorCount; ++i) {
    GgufTensor &tensor = file.tensorList[size_t(i)];
    if (llvm::Error err = readTensorInfo(tensor, size_t(i)))
      return err;
    if (!file.indexByName.try_emplace(tensor.name, size_t(i)).second)
      return tensorError(tensor.name, "appears twice");
  }

  // The data section starts at the next multiple of the alignment. A file
  // without tensors may end before it.
  uint64_t padded = llvm::alignTo(pos, file.dataAlignment);
  if (padded > size) {
    if (tensorCount != 0)
      return fileError("the data section would start at byte " + Twine(padded) +
                       ", past the end of the file (" + Twine(size) +
                       " bytes)");
    padded = size;
  }
  file.dataStart = padded;
  uint64_t dataSize = size - padded;

  // Every tensor inside the data section, none overlapping another.
  std::vector<size_t> order(file.tensorList.size());
  for (size_t i = 0; i < order.size(); ++i) {
    GgufTensor &tensor = file.tensorList[i];
    if (tensor.offset > dataSize || tensor.nbytes > dataSize - tensor.offset)
      return tensorError(
          tensor.name, "bytes [" + Twine(tensor.offset) + ", " +
                           Twine(tensor.offset) + " + " + Twine(tensor.nbytes) +
                           ") run past the end of the data section (" +
                           Twine(dataSize) + " bytes)");
    tensor.data = base + padded + tensor.offset;
    order[i] = i;
  }
  llvm::sort(order, [&](size_t a, size_t b) {
    const GgufTensor &x = file.tensorList[a], &y = file.tensorList[b];
    return std::tie(x.offset, x.nbytes, a) < std::tie(y.offset, y.nbytes, b);
  });
  const GgufTensor *furthest = nullptr; // The tensor reaching furthest.
  for (size_t index : order) {
    const GgufTensor &tensor = file.tensorList[index];
    if (tensor.nbytes == 0)
      continue;
    if (furthest && tensor.offset < furthest->offset + furthest->nbytes)
      return tensorError(tensor.name,
                         "bytes [" + Twine(tensor.offset) + ", " +
                             Twine(tensor.offset + tensor.nbytes) +
                             ") overlap tensor '" + furthest->name + "' at [" +
                             Twine(furthest->offset) + ", " +
                             Twine(furthest->offset + furthest->nbytes) + ")");
    if (!furthest ||
        tensor.offset + tensor.nbytes > furthest->offset + furthest->nbytes)
      furthest = &tensor;
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// GgufFile
//===----------------------------------------------------------------------===//

GgufFile::~GgufFile() = default;

llvm::Expected<std::unique_ptr<GgufFile>> GgufFile::open(StringRef path) {
  auto bufferOrErr = llvm::MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false,
      /*IsVolatile=*/false);
  if (!bufferOrErr)
    return makeError(path +
                     ": cannot open: " + bufferOrErr.getError().message());
  return openBuffer(std::move(*bufferOrErr), path);
}

llvm::Expected<std::unique_ptr<GgufFile>>
GgufFile::openBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                     StringRef name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->fileName = name.str();
  file->buffer = std::move(buffer);
  GgufParser parser(*file);
  if (llvm::Error err = parser.parse())
    return err;
  return file;
}

const GgufValue *GgufFile::lookupMetadata(StringRef key) const {
  auto it = metadataMap.find(key);
  return it == metadataMap.end() ? nullptr : &it->second;
}

const GgufTensor *GgufFile::lookupTensor(StringRef tensorName) const {
  auto it = indexByName.find(tensorName);
  return it == indexByName.end() ? nullptr : &tensorList[it->second];
}

llvm::Error GgufFile::dequantize(const GgufTensor &tensor, float *out) const {
  const GgmlTypeTraits &traits = ggmlTypeTraits(tensor.type);
  if (!traits.dequantizable)
    return makeError(fileName + ": tensor '" + tensor.name + "': type " +
                     traits.name +
                     " cannot be dequantized (supported: F32, F16, BF16, "
                     "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, "
                     "Q6_K)");
  dequantizeGgmlBlocks(tensor.type, tensor.data,
                       size_t(tensor.nbytes / traits.blockBytes), out);
  return llvm::Error::success();
}

llvm::Expected<std::vector<float>>
GgufFile::dequantize(const GgufTensor &tensor) const {
  std::vector<float> out;
  const GgmlTypeTraits &traits = ggmlTypeTraits(tensor.type);
  if (traits.dequantizable)
    out.resize(size_t(tensor.numElements()));
  if (llvm::Error err = dequantize(tensor, out.data()))
    return err;
  return out;
}

bool lowbit::isGgufPath(llvm::StringRef path) {
  if (llvm::sys::fs::is_directory(path))
    return false;
  if (path.ends_with(".gguf"))
    return true;
  if (!llvm::sys::fs::is_regular_file(path))
    return false;
  auto head = llvm::MemoryBuffer::getFileSlice(path, /*MapSize=*/4,
                                               /*Offset=*/0);
  return head && (*head)->getBuffer() == "GGUF";
}
