//===- GgufQuants.h - ggml tensor types and dequantization ------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// The ggml tensor types a GGUF file can hold (their numbers, names, block and
// byte sizes) and the conversion of whole blocks of the supported ones to
// float. Free of LLVM so that the runtime can use it too.
//
// Dequantization equals the reference of the `gguf` Python package
// (gguf.quants.dequantize) bit for bit: every value is computed in float with
// the same operations in the same order (the file is compiled with
// -ffp-contract=off so that no multiply-add is fused). Scales are binary16
// and may be NaN, infinite or subnormal; those propagate exactly as NumPy
// propagates them on the same machine.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_SUPPORT_GGUFQUANTS_H
#define LOWBIT_SUPPORT_GGUFQUANTS_H

#include <cstddef>
#include <cstdint>

namespace lowbit {

/// ggml's tensor types, numbered as in GGUF files (gaps are types ggml has
/// removed; they are rejected like unknown numbers).
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
};

/// Layout of one ggml type: `blockElems` elements are stored in `blockBytes`
/// bytes (1 and the element size for the plain types).
struct GgmlTypeTraits {
  GgmlType type;
  const char *name;
  uint32_t blockElems;
  uint32_t blockBytes;
  /// True when dequantizeGgmlBlocks converts this type.
  bool dequantizable;
};

/// The traits of type number `value`, or nullptr when ggml has no such type.
const GgmlTypeTraits *lookupGgmlType(uint32_t value);

/// The traits of a known type.
const GgmlTypeTraits &ggmlTypeTraits(GgmlType type);

/// Converts `numBlocks` consecutive blocks of `type` at `src` (unaligned is
/// fine) to `numBlocks * blockElems` floats at `out`. Returns false, writing
/// nothing, when the type is not dequantizable.
bool dequantizeGgmlBlocks(GgmlType type, const uint8_t *src, size_t numBlocks,
                          float *out);

/// IEEE binary16 bits to float, exactly as NumPy's astype(float32) does
/// (NaN payloads, signalling ones included, are kept).
float ggmlHalfToFloat(uint16_t bits);

} // namespace lowbit

#endif // LOWBIT_SUPPORT_GGUFQUANTS_H
