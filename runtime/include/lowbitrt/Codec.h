//===- Codec.h - packed weight layouts, defined once ------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Weight codecs: every byte layout a quantized weight is stored in (a
/// target's kernel layout, a checkpoint format, the plain reference form) is
/// one Codec, defined once in runtime/src/codecs/ (library lowbitrt_codecs:
/// C++17, no LLVM/MLIR, no exceptions thrown, no mutable global state). The
/// compiler packs with it, the runtime checks tensor sizes with it, and the
/// portable CPU path dequantizes with it.
///
/// The logical weight every codec holds is W = [N, K] (N output rows, K input
/// columns, grouped along K):
///
///   W[n, k] = scales[n, g(k)] * (codes[n, k] - zero[n, g(k)])
///
/// with unsigned codes in [0, 2^bits), g(k) = k / G (G = groupSize, or K when
/// groupSize is -1; the last group may be shorter: "ragged"), and, for
/// symmetric schemes, zero = 2^(bits-1) implicitly. Scales are stored in
/// `scaleType`; UnpackedWeight carries them as the float they round to.
///
/// Codecs (see docs/codecs.md for byte-level descriptions):
///
///  - "plain-v1": the unpacked logical form serialized, the reference codec
///    every other codec round-trips through: codes u8 [N, K], then scales in
///    the scale type [N, numGroups], then (asymmetric only) zeros u8
///    [N, numGroups]. Little-endian, no padding.
///  - "x86-tile16-v1": the layout the generated x86 qmatmul kernels read
///    (CodecX86Tile16.h; rows tiled by 16, groups padded to 32 columns, codes
///    in vpdpbusd-shaped quads, scales and m = -s * z offsets per tile).
///  - "gptq-int32-v1": the GPTQ (AutoGPTQ / GPTQModel "v1") checkpoint tensors
///    of one linear layer concatenated in this order: qweight int32
///    [K / 32 * bits, N] (codes packed along K, low bits first), qzeros int32
///    [numGroups, N / 32 * bits] (zeros packed along N, stored as zero - 1
///    modulo 2^bits: the historical AutoGPTQ convention), scales in the scale
///    type [numGroups, N] (f16 in real checkpoints), g_idx int32 [K]
///    (= k / G: act-order checkpoints are not representable). K and N must
///    be multiples of 32; bits 2, 3, 4, 8. 3-bit packs 32 values into 3 words
///    (10 + 1 + 10 + 1 + 10 bit fields).
///
/// How other checkpoint and exchange formats fit this interface:
///
///  - compressed-tensors "pack-quantized" (llm-compressor): weight_packed
///    int32 [N, K * bits / 32] packed along K per row, weight_scale [N, G],
///    optional weight_zero_point [N, G] (packed along N for asymmetric): a
///    codec with the same WeightDesc; bytes = concatenation in a documented
///    order, exactly as gptq-int32-v1 does.
///  - ONNX com.microsoft MatMulNBits: B uint8 [N, ceil(K / block), block *
///    bits / 8] (per-block padding), scales [N * nblocks], optional
///    zero_points uint8 packed [N, ceil(nblocks * bits / 8)]: a codec with
///    groupSize = block_size; the padding is part of byteSize().
///  - "gguf-q4_0-v1", "gguf-q4_1-v1", "gguf-q8_0-v1": GGUF's (ggml's) block
///    arrays, row by row, blocks of 32 weights along K (K a multiple of 32):
///      Q4_0 (18 bytes): f16 d, 16 bytes of nibbles (element j < 16 in the
///        low nibble of byte j, element j + 16 in its high nibble);
///        W = d * (q - 8): bits 4, groupSize 32, symmetric, F16 scales.
///      Q4_1 (20 bytes): f16 d, f16 m, 16 bytes of nibbles as Q4_0;
///        W = d * q + m: bits 4, groupSize 32, asymmetric with
///        zeroKind = FloatMin, F16 scales (the minimums are f16 as well).
///      Q8_0 (34 bytes): f16 d, 32 int8 q; W = q * d: bits 8, groupSize 32,
///        symmetric (code = q + 128, zero 128), F16 scales.
///    dequantizeRows computes what gguf.quants.dequantize computes, in its
///    operand order.
///
/// Float minimums: GGUF Q4_1 stores a minimum m instead of an integer zero
/// point, W = d * q + m, which is not scale * (q - integer zero). A WeightDesc
/// with zeroKind = FloatMin holds it: UnpackedWeight::mins ([N, numGroups],
/// as the float the stored value rounds to) replaces `zeros`. x86-tile16-v1
/// stores the minimum in its offset slot (it computes s * q + m anyway);
/// plain-v1 and gptq-int32-v1, which only hold integer zeros, reject it.
///
/// Versioning rule: a codec name ends in "-v<N>". Any change to the bytes a
/// codec writes or accepts for some WeightDesc (order, padding, rounding,
/// header) is a new codec with the suffix bumped; the old one stays
/// registered for as long as bundles or checkpoints that use it must load.
/// Adding support for WeightDescs the codec rejected before is not a change
/// of bytes and keeps the name.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_CODEC_H
#define LOWBITRT_CODEC_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::codec {

/// Storage type of scales (and of x86's zero offsets).
enum class ScaleType : uint8_t { F32, F16, BF16 };

/// "f32", "f16" or "bf16".
const char *scaleTypeName(ScaleType type);
/// Parses "f32", "f16" or "bf16"; false for anything else.
bool parseScaleType(std::string_view name, ScaleType &type);
/// Bytes per stored scale: 4 or 2.
int64_t scaleTypeBytes(ScaleType type);

/// How an asymmetric weight's stored zero enters the dequantization.
enum class ZeroKind : uint8_t {
  /// W = s * (q - z), integer z in [0, 2^bits) (UnpackedWeight::zeros).
  Integer,
  /// W = s * q + m, float m (UnpackedWeight::mins).
  FloatMin,
};

/// Logical description of one quantized weight W = [N, K] (the
/// #lowbit.scheme facts a layout needs).
struct WeightDesc {
  unsigned bits = 4;       // 2..8
  int64_t groupSize = 128; // -1: one group per row; a last shorter (ragged)
                           // group is legal
  bool symmetric = true;   // zero = 2^(bits-1) implicitly
  ScaleType scaleType = ScaleType::F32;
  int64_t N = 0, K = 0;
  /// Integer zero points or float minimums (asymmetric only).
  ZeroKind zeroKind = ZeroKind::Integer;
  /// 0, or S >= 2: every S consecutive groups of a row share one scale d
  /// (of scaleType, f16 or bf16) and each group's scale is d * c with an
  /// 8-bit signed code c in [-127, 127] (the #lowbit.scheme's super_group).
  /// UnpackedWeight::scales then hold the exact products d * c as f32, and
  /// the group of largest |scale| in each super-block has |c| = 127, so d =
  /// max |scale| / 127. Needs a positive groupSize and integer zeros.
  int64_t superGroup = 0;

  /// Columns per group: K when groupSize is -1.
  int64_t groupCols() const { return groupSize < 0 ? K : groupSize; }
  /// ceil(K / groupCols()); 0 for an invalid desc (K <= 0 or groupSize 0).
  int64_t numGroups() const;
  /// Real columns of group g (the last one may be shorter).
  int64_t groupLen(int64_t g) const;
  /// The implicit zero of symmetric schemes, 2^(bits-1).
  unsigned symmetricZero() const { return 1u << (bits - 1); }
};

/// The checks every codec makes: bits in [2, 8], groupSize -1 or positive,
/// 0 < N, K <= 2^31, no float minimums in a symmetric desc. False with a
/// lowercase reason naming the value.
bool validateDesc(const WeightDesc &desc, std::string *why);

/// The unpacked (logical) form:
/// W[n,k] = scales[n,g(k)] * (codes[n,k] - zero[n,g(k)]).
struct UnpackedWeight {
  std::vector<uint8_t> codes; // [N*K]
  std::vector<float> scales;  // [N*numGroups]
  std::vector<uint8_t> zeros; // [N*numGroups], empty when symmetric or
                              // FloatMin
  std::vector<float> mins;    // [N*numGroups] when FloatMin, else empty
};

/// Checks that `in` matches `desc`: vector sizes, codes and zeros below
/// 2^bits, zeros empty when symmetric. False with a message naming the first
/// offending vector (and element).
bool validateUnpacked(const WeightDesc &desc, const UnpackedWeight &in,
                      std::string *error);

class Codec {
public:
  virtual ~Codec();
  /// Versioned name, e.g. "x86-tile16-v1".
  virtual const char *name() const = 0;
  /// False (with a lowercase reason) when this layout cannot hold `desc`.
  virtual bool supports(const WeightDesc &desc, std::string *why) const = 0;
  /// Exact byte size of the encoded weight; -1 when unsupported or
  /// overflowing int64.
  virtual int64_t byteSize(const WeightDesc &desc) const = 0;
  /// Encodes `in` (checked with validateUnpacked). Scales are rounded to
  /// desc.scaleType. Deterministic: padding bytes are zero.
  virtual bool encode(const WeightDesc &desc, const UnpackedWeight &in,
                      std::vector<uint8_t> &out, std::string *error) const = 0;
  /// The inverse of encode; `size` must equal byteSize(desc). Scales come
  /// back as stored (rounded to the scale type).
  virtual bool decode(const WeightDesc &desc, const uint8_t *data, size_t size,
                      UnpackedWeight &out, std::string *error) const = 0;
  /// The float weights rows [rowBegin, rowEnd) exactly as this layout's
  /// kernels compute them (e.g. x86: s*q + m with m = -s*z stored in the
  /// scale type), into out[(rowEnd-rowBegin)*K].
  virtual bool dequantizeRows(const WeightDesc &desc, const uint8_t *data,
                              size_t size, int64_t rowBegin, int64_t rowEnd,
                              float *out, std::string *error) const = 0;
};

/// The codec called `name`, or nullptr. Codecs are stateless singletons.
const Codec *findCodec(std::string_view name);
/// Every codec name, sorted.
std::vector<std::string> codecNames();

/// The names of the built-in codecs.
constexpr const char *kPlainCodec = "plain-v1";
constexpr const char *kX86Tile16Codec = "x86-tile16-v1";
constexpr const char *kGptqInt32Codec = "gptq-int32-v1";
constexpr const char *kGgufQ4_0Codec = "gguf-q4_0-v1";
constexpr const char *kGgufQ4_1Codec = "gguf-q4_1-v1";
constexpr const char *kGgufQ8_0Codec = "gguf-q8_0-v1";

/// IEEE binary16 conversions (round to nearest even; NaN stays NaN).
uint16_t floatToHalf(float f);
float halfToFloat(uint16_t h);
/// bfloat16 conversions (round to nearest even; NaN stays NaN).
uint16_t floatToBFloat16(float f);
float bfloat16ToFloat(uint16_t h);
/// `v` rounded to `type` (identity for F32).
float roundToScaleType(float v, ScaleType type);

} // namespace lowbit::codec

#endif // LOWBITRT_CODEC_H
