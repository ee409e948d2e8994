//===- Quantize.h - Group-wise integer weight quantization ------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// The arithmetic of weight quantization shared by the RTN and GPTQ passes.
//
// Weights W are float32, row-major [N, K] (N outputs, K inputs, the PyTorch
// layout of a linear layer). Each row is cut into groups of `groupSize`
// consecutive inputs (the last one may be shorter), or is one group when
// `groupSize == -1` (per-channel). Every (row, group) has a scale and an
// integer zero point, and
//
//   code = clamp(round(w / scale) + zero, 0, 2^bits - 1)      (ties to even)
//   w'   = scale * (code - zero)
//
// Scales and zero points are found as in the GPTQ reference quantizer
// ("Quantizer.find_params"), in float32 arithmetic throughout, so that the
// results are bit-identical to a float32 PyTorch/NumPy implementation:
//
//   asymmetric: xmin = min(min(x), 0), xmax = max(max(x), 0)
//   symmetric:  xmax = max(|xmin|, xmax); xmin = -xmax when xmin < 0
//   both zero:  xmin = -1, xmax = +1
//   scale = (xmax - xmin) / maxq
//   zero  = round(-xmin / scale)   (asymmetric) or 2^(bits-1) (symmetric)
//
// Optionally (GPTQ's `mse` option) the range is shrunk by p = 1 - i/grid for
// i in [0, maxShrink * grid) and the p with the least sum |w' - w|^norm is
// kept, per row.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_QUANTIZE_H
#define LOWBIT_NUMERICS_QUANTIZE_H

#include "llvm/Support/Error.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace lowbit::numerics {

/// The type scales are stored in. Scales are rounded to this type before the
/// zero points and codes are computed, so dequantizing with the stored scales
/// is exactly what the quantizer optimized.
enum class ScaleType : uint8_t { F32, F16, BF16 };

/// Name of a scale type ("f32", "f16", "bf16").
const char *scaleTypeName(ScaleType type);

/// How weights are quantized.
struct QuantParams {
  /// Code width, 2..8. Codes are stored one per byte.
  unsigned bits = 4;
  /// Inputs per group; -1 for one group per row (per-channel).
  int64_t groupSize = 128;
  /// Symmetric: implicit zero point 2^(bits-1), no stored zeros.
  bool symmetric = false;
  /// Symmetric grid. false (GPTQ's reference): the range [-max|w|, max|w|]
  /// over 2^bits - 1 steps, so the codes' extremes are never used both.
  /// true ("extreme", as llama.cpp's Q4_0 / Q8_0): the group's signed
  /// extreme weight lands on code 0, step = extreme / -2^(bits-1), so the
  /// step is max|w| / 2^(bits-1) and all 2^bits codes are used; the scale
  /// then carries the extreme's sign (negative for a positive extreme).
  bool symmetricExtreme = false;
  /// Search a shrunk range minimizing sum |w' - w|^mseNorm per row.
  bool mseSearch = false;
  double mseNorm = 2.4;
  int mseGrid = 100;
  /// Largest shrink tried is mseMaxShrink (p goes down to 1 - mseMaxShrink).
  double mseMaxShrink = 0.8;
  ScaleType scaleType = ScaleType::F32;
  /// 0, or S >= 2: the group scales of every S consecutive groups of a row
  /// (a super-block) are d * c with one d (rounded to scaleType) and 8-bit
  /// signed codes c in [-127, 127]; see GroupQuantizer::snapSuperBlock.
  /// Needs groupSize > 0.
  int64_t superGroup = 0;

  /// Largest code, 2^bits - 1.
  unsigned maxq() const { return (1u << bits) - 1u; }
  /// The zero point of symmetric schemes, 2^(bits-1).
  unsigned symmetricZero() const { return 1u << (bits - 1); }
  bool perChannel() const { return groupSize == -1; }
  /// Columns per group for a row of K inputs (K for per-channel).
  int64_t groupWidth(int64_t K) const {
    return perChannel() ? K : std::min<int64_t>(groupSize, K);
  }
  /// Groups per row: ceil(K / groupSize), or 1 for per-channel.
  int64_t numGroups(int64_t K) const {
    return perChannel() ? 1 : (K + groupSize - 1) / groupSize;
  }
};

/// Checks `params`: bits in 2..8, groupSize -1 or positive, a finite positive
/// mseNorm, mseGrid > 0 and mseMaxShrink in (0, 1].
llvm::Error validateQuantParams(const QuantParams &params);

//===----------------------------------------------------------------------===//
// Element-wise quantization
//===----------------------------------------------------------------------===//

/// Rounds `v` to the nearest integer, ties to even (what std::nearbyint does
/// in the default rounding mode, and what torch.round and np.round do), for
/// |v| <= 2^22; larger magnitudes must be clamped first. Branch-free and
/// vectorizable, unlike a call to nearbyintf. Relies on IEEE float
/// arithmetic in the default rounding mode: not for translation units built
/// with -ffast-math or -fassociative-math, which fold the two additions.
inline float roundHalfEven(float v) {
  // Adding 1.5 * 2^23 moves v into [2^23, 2^24), where the spacing of floats
  // is 1: the addition itself rounds v, ties to even (the constant is even).
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

/// The code of `x`: clamp(round(x / scale) + zero, 0, maxq), as a float
/// holding an integer. `scale` must be finite and nonzero (negative only on
/// the symmetric extreme grid), `zero` an integer in [0, maxq], `x` finite.
inline float quantizeCode(float x, float scale, float zero, float maxq) {
  // |x / scale| > 512 saturates the code either way (zero <= 255), and
  // clamping first keeps roundHalfEven in its exact range (and maps an
  // infinite quotient from a subnormal scale to the right end).
  float v = std::min(std::max(x / scale, -512.0f), 512.0f);
  float q = roundHalfEven(v) + zero;
  return std::min(std::max(q, 0.0f), maxq);
}

/// The value a code stands for: scale * (code - zero).
inline float dequantizeCode(float code, float scale, float zero) {
  return scale * (code - zero);
}

//===----------------------------------------------------------------------===//
// GroupQuantizer
//===----------------------------------------------------------------------===//

/// Scale and zero point of one row of one group. `zero` holds an integer in
/// [0, maxq].
struct GroupParams {
  float scale = 1.0f;
  float zero = 0.0f;
  /// The range needs a scale above the scale type's largest finite value;
  /// `scale` then holds that value. Quantizers reject such a group
  /// (GroupQuantizer::checkParams) rather than clamp it silently.
  bool overflow = false;
};

/// Finds scales and zero points (GPTQ's Quantizer.find_params) and quantizes
/// with them. Stateless apart from its parameters, which must be valid
/// (validateQuantParams).
class GroupQuantizer {
public:
  explicit GroupQuantizer(const QuantParams &params);

  const QuantParams &params() const { return qp; }
  /// Largest code, as a float.
  float maxq() const { return maxQ; }

  /// Parameters of one row of values x[0], x[1], ..., x[count - 1]
  /// (count >= 1, all finite).
  GroupParams findRowParams(const float *x, int64_t count) const;

  /// Parameters of `rows` rows of `cols` values each, row r starting at
  /// X + r * ld (typically X = W + n0 * K + k0 and ld = K for the rows
  /// n0.. and the columns k0..k0 + cols of W). Writes rows entries to `out`.
  void findParams(const float *X, int64_t rows, int64_t cols, int64_t ld,
                  GroupParams *out) const;

  /// The code of x under p.
  uint8_t quantize(float x, GroupParams p) const {
    return static_cast<uint8_t>(quantizeCode(x, p.scale, p.zero, maxQ));
  }
  /// x after quantization and dequantization under p.
  float fakeQuantize(float x, GroupParams p) const {
    return dequantizeCode(quantizeCode(x, p.scale, p.zero, maxQ), p.scale,
                          p.zero);
  }

  /// `s` rounded to the scale type, kept positive and finite (a scale below
  /// the type's smallest positive value becomes that value, one above its
  /// largest finite value becomes that value).
  float roundScale(float s) const;

  /// The largest finite value of the scale type.
  float highestScale() const;

  /// Puts the scales of `count` groups of one row, one super-block, on the
  /// super-block grid (QuantParams::superGroup): d = max |scale| / 127
  /// rounded to the scale type, each scale becomes d * c with c =
  /// round(scale / d) in [-127, 127] (never 0: a scale keeps its sign), and
  /// the group of largest |scale| gets |c| = 127 exactly, so d is
  /// max |d * c| / 127 and a codec can recover it from the products. An
  /// asymmetric group's zero point is moved to keep the same offset:
  /// round(zero * old / new), clamped to [0, maxq].
  void snapSuperBlock(GroupParams *params, int64_t count) const;

  /// An error naming row \p row and group \p group when
  /// \p p overflowed the scale type, else success.
  llvm::Error checkParams(GroupParams p, int64_t row, int64_t group) const;

private:
  /// The parameters of the range [xmin, xmax] (xmin <= 0 <= xmax).
  GroupParams paramsForRange(float xmin, float xmax) const;
  /// Sum of |fakeQuantize(x) - x|^norm over a row.
  double rowError(const float *x, int64_t count, GroupParams p) const;

  QuantParams qp;
  float maxQ;
};

//===----------------------------------------------------------------------===//
// Quantized tensors
//===----------------------------------------------------------------------===//

/// A quantized [rows, cols] weight.
///
/// Column k belongs to group groupIndex()[k]: k / groupSize without a
/// permutation; with one (act-order), groups are formed along the permuted
/// order, i.e. column perm[j] belongs to group j / groupSize.
struct QuantResult {
  int64_t rows = 0;
  int64_t cols = 0;
  unsigned bits = 0;
  /// As in QuantParams: -1 for per-channel.
  int64_t groupSize = -1;
  bool symmetric = false;
  /// Codes in the original column order, [rows, cols], each <= 2^bits - 1.
  std::vector<uint8_t> codes;
  /// [rows, numGroups()]
  std::vector<float> scales;
  /// [rows, numGroups()], empty when symmetric (zero point 2^(bits-1)).
  std::vector<uint8_t> zeros;
  /// Empty, or [cols]: perm[j] is the original column quantized j-th.
  std::vector<int32_t> perm;

  int64_t numGroups() const {
    return groupSize == -1 ? 1 : (cols + groupSize - 1) / groupSize;
  }
  /// The zero point of (row, group).
  float zeroPoint(int64_t row, int64_t group) const {
    return symmetric ? float(1u << (bits - 1))
                     : float(zeros[row * numGroups() + group]);
  }
  /// Group of every original column (the `g_idx` of GPTQ checkpoints).
  std::vector<int32_t> groupIndex() const;
};

/// Checks that the fields of `result` are consistent: sizes, codes and zero
/// points within range, positive finite scales, `perm` a permutation.
llvm::Error validateQuantResult(const QuantResult &result);

/// The dequantized weight [rows, cols]: scale * (code - zero) per element,
/// in float32. `result` must be consistent (validateQuantResult).
std::vector<float> dequantize(const QuantResult &result);

/// Same as dequantize(result), for callers that hold the parameters and
/// shape separately; they must agree with `result` (asserted).
std::vector<float> dequantize(const QuantResult &result,
                              const QuantParams &params, int64_t N, int64_t K);

/// Checks that W [N, K] has positive dimensions and finite values.
llvm::Error checkWeights(const float *W, int64_t N, int64_t K);

/// Round-to-nearest quantization of W [N, K] (row-major) with the scale and
/// zero point of every (row, group) found by GroupQuantizer. Fails on invalid
/// parameters, non-positive shapes or non-finite weights.
llvm::Error rtnQuantize(const float *W, int64_t N, int64_t K,
                        const QuantParams &params, QuantResult &out);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_QUANTIZE_H
