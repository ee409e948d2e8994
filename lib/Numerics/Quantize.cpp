//===- Quantize.cpp - Group-wise integer weight quantization --------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Quantize.h"
#include "Messages.h"

#include "lowbit/Support/Safetensors.h"

#include "llvm/ADT/Twine.h"

#include <cassert>
#include <cmath>
#include <cstdio>
#include <limits>

using namespace lowbit;
using namespace lowbit::numerics;
using llvm::Twine;

using detail::formatNumber;
using detail::makeError;

const char *numerics::scaleTypeName(ScaleType type) {
  switch (type) {
  case ScaleType::F32:
    return "f32";
  case ScaleType::F16:
    return "f16";
  case ScaleType::BF16:
    return "bf16";
  }
  return "?";
}

llvm::Error numerics::validateQuantParams(const QuantParams &p) {
  const char *prefix = "invalid quantization parameters: ";
  if (p.bits < 2 || p.bits > 8)
    return makeError(Twine(prefix) + "bits must be between 2 and 8, got " +
                     Twine(p.bits));
  if (p.groupSize == 0 || p.groupSize < -1)
    return makeError(Twine(prefix) +
                     "groupSize must be positive or -1 (per-channel), got " +
                     Twine(p.groupSize));
  if (p.scaleType != ScaleType::F32 && p.scaleType != ScaleType::F16 &&
      p.scaleType != ScaleType::BF16)
    return makeError(Twine(prefix) + "unknown scale type " +
                     Twine(unsigned(p.scaleType)));
  if (p.superGroup != 0 &&
      (p.superGroup < 2 || p.groupSize < 0 || p.scaleType == ScaleType::F32))
    return makeError(Twine(prefix) +
                     "superGroup must be 0 or at least 2, with a positive "
                     "group size and f16 or bf16 super-block scales, got " +
                     Twine(p.superGroup) + " (group size " +
                     Twine(p.groupSize) + ", scale type " +
                     scaleTypeName(p.scaleType) + ")");
  if (!p.mseSearch)
    return llvm::Error::success();
  if (!std::isfinite(p.mseNorm) || p.mseNorm <= 0)
    return makeError(Twine(prefix) +
                     "mseNorm must be positive and finite, got " +
                     formatNumber(p.mseNorm));
  if (p.mseGrid <= 0)
    return makeError(Twine(prefix) + "mseGrid must be positive, got " +
                     Twine(p.mseGrid));
  if (!(p.mseMaxShrink > 0 && p.mseMaxShrink <= 1))
    return makeError(Twine(prefix) + "mseMaxShrink must be in (0, 1], got " +
                     formatNumber(p.mseMaxShrink));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// GroupQuantizer
//===----------------------------------------------------------------------===//

GroupQuantizer::GroupQuantizer(const QuantParams &params)
    : qp(params), maxQ(float(params.maxq())) {}

float GroupQuantizer::roundScale(float s) const {
  float lowest, highest, r;
  switch (qp.scaleType) {
  case ScaleType::F16:
    r = halfToFloat(floatToHalf(s));
    lowest = 0x1p-24f;  // smallest subnormal binary16
    highest = 65504.0f; // largest finite binary16
    break;
  case ScaleType::BF16:
    r = bf16ToFloat(floatToBF16(s));
    lowest = 0x1p-133f;    // smallest subnormal bfloat16
    highest = 0x1.fep127f; // largest finite bfloat16
    break;
  case ScaleType::F32:
  default:
    r = s;
    lowest = std::numeric_limits<float>::denorm_min();
    highest = std::numeric_limits<float>::max();
    break;
  }
  // Not std::clamp: a NaN (impossible for finite weights) must not survive.
  if (!(r >= lowest))
    return lowest;
  return r > highest ? highest : r;
}

float GroupQuantizer::highestScale() const {
  switch (qp.scaleType) {
  case ScaleType::F16:
    return 65504.0f;
  case ScaleType::BF16:
    return 0x1.fep127f;
  case ScaleType::F32:
  default:
    return std::numeric_limits<float>::max();
  }
}

void GroupQuantizer::snapSuperBlock(GroupParams *params, int64_t count) const {
  if (count <= 0)
    return;
  int64_t top = 0;
  for (int64_t g = 1; g < count; ++g)
    if (std::fabs(params[g].scale) > std::fabs(params[top].scale))
      top = g;
  const float d = roundScale(std::fabs(params[top].scale) / 127.0f);
  for (int64_t g = 0; g < count; ++g) {
    GroupParams &p = params[g];
    const float sign = p.scale < 0 ? -1.0f : 1.0f;
    float c = g == top
                  ? 127.0f
                  : std::min(roundHalfEven(std::fabs(p.scale) / d), 127.0f);
    c = std::max(c, 1.0f);
    const float snapped = sign * c * d; // exact: 8-bit c, 16-bit d
    if (!qp.symmetric)
      p.zero = std::min(
          std::max(roundHalfEven(p.zero * (p.scale / snapped)), 0.0f), maxQ);
    p.scale = snapped;
  }
}

llvm::Error GroupQuantizer::checkParams(GroupParams p, int64_t row,
                                        int64_t group) const {
  if (!p.overflow)
    return llvm::Error::success();
  return makeError("row " + Twine(row) + ", group " + Twine(group) +
                   ": the range of the group needs a scale above " +
                   formatNumber(highestScale()) + ", the largest " +
                   scaleTypeName(qp.scaleType) + " value, at " +
                   Twine(qp.bits) +
                   " bits (weights too large for this scale type: use "
                   "--scale-type f32 or fix the checkpoint)");
}

GroupParams GroupQuantizer::paramsForRange(float xmin, float xmax) const {
  GroupParams p;
  if (qp.symmetric && qp.symmetricExtreme) {
    // The signed extreme onto code 0: step = extreme / -2^(bits-1).
    const float zero = float(qp.symmetricZero());
    const float extreme = -xmin > xmax ? xmin : xmax;
    const float raw = std::fabs(extreme) / zero;
    p.overflow = !(raw <= highestScale());
    p.scale = extreme > 0 ? -roundScale(raw) : roundScale(raw);
    p.zero = zero;
    return p;
  }
  float raw = (xmax - xmin) / maxQ;
  p.overflow = !(raw <= highestScale());
  p.scale = roundScale(raw);
  if (qp.symmetric) {
    p.zero = float(qp.symmetricZero());
  } else {
    // -xmin / scale is in [0, maxq] up to rounding; clamping first keeps the
    // rounding exact even for a degenerate (subnormal) scale.
    float z = std::min(std::max(-xmin / p.scale, 0.0f), maxQ);
    p.zero = roundHalfEven(z);
  }
  return p;
}

double GroupQuantizer::rowError(const float *x, int64_t count,
                                GroupParams p) const {
  double sum = 0;
  if (qp.mseNorm == 2.0) {
    for (int64_t i = 0; i < count; ++i) {
      float d = fakeQuantize(x[i], p) - x[i];
      sum += double(d) * double(d);
    }
    return sum;
  }
  if (qp.mseNorm == 1.0) {
    for (int64_t i = 0; i < count; ++i)
      sum += std::fabs(double(fakeQuantize(x[i], p) - x[i]));
    return sum;
  }
  for (int64_t i = 0; i < count; ++i) {
    float d = std::fabs(fakeQuantize(x[i], p) - x[i]);
    sum += std::pow(double(d), qp.mseNorm);
  }
  return sum;
}

GroupParams GroupQuantizer::findRowParams(const float *x, int64_t count) const {
  // The range always includes 0.
  float xmin = 0.0f, xmax = 0.0f;
  for (int64_t i = 0; i < count; ++i) {
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  if (qp.symmetric && !qp.symmetricExtreme) {
    xmax = std::max(-xmin, xmax);
    if (xmin < 0)
      xmin = -xmax;
  }
  if (xmin == 0 && xmax == 0) {
    xmin = -1.0f;
    xmax = 1.0f;
  }
  if (!qp.mseSearch)
    return paramsForRange(xmin, xmax);

  // Shrink the range by p = 1 - i / grid and keep the least error (the first
  // one on ties). As in the reference, p is computed in double and the
  // products in float32.
  GroupParams best = paramsForRange(xmin, xmax);
  double bestErr = std::numeric_limits<double>::infinity();
  int steps = int(qp.mseMaxShrink * qp.mseGrid);
  for (int i = 0; i < steps; ++i) {
    float shrink = float(1.0 - double(i) / qp.mseGrid);
    GroupParams cand = paramsForRange(shrink * xmin, shrink * xmax);
    double err = rowError(x, count, cand);
    if (err < bestErr) {
      bestErr = err;
      best = cand;
    }
  }
  return best;
}

void GroupQuantizer::findParams(const float *X, int64_t rows, int64_t cols,
                                int64_t ld, GroupParams *out) const {
  for (int64_t r = 0; r < rows; ++r)
    out[r] = findRowParams(X + r * ld, cols);
}

//===----------------------------------------------------------------------===//
// QuantResult
//===----------------------------------------------------------------------===//

std::vector<int32_t> QuantResult::groupIndex() const {
  std::vector<int32_t> g(size_t(cols), 0);
  if (groupSize == -1)
    return g;
  if (perm.empty()) {
    for (int64_t k = 0; k < cols; ++k)
      g[k] = int32_t(k / groupSize);
    return g;
  }
  for (int64_t j = 0; j < cols; ++j)
    g[perm[j]] = int32_t(j / groupSize);
  return g;
}

llvm::Error numerics::validateQuantResult(const QuantResult &r) {
  const char *prefix = "inconsistent quantized tensor: ";
  if (r.bits < 2 || r.bits > 8)
    return makeError(Twine(prefix) + "bits " + Twine(r.bits) +
                     " is not in 2..8");
  if (r.groupSize == 0 || r.groupSize < -1)
    return makeError(Twine(prefix) + "group size " + Twine(r.groupSize) +
                     " is neither positive nor -1");
  if (r.rows <= 0 || r.cols <= 0)
    return makeError(Twine(prefix) + "shape [" + Twine(r.rows) + ", " +
                     Twine(r.cols) + "] is empty");
  uint64_t n = uint64_t(r.rows), k = uint64_t(r.cols),
           g = uint64_t(r.numGroups());
  if (r.codes.size() != n * k)
    return makeError(Twine(prefix) + Twine(r.codes.size()) +
                     " codes for shape [" + Twine(n) + ", " + Twine(k) + "]");
  if (r.scales.size() != n * g)
    return makeError(Twine(prefix) + Twine(r.scales.size()) +
                     " scales, expected " + Twine(n * g));
  uint64_t expectedZeros = r.symmetric ? 0 : n * g;
  if (r.zeros.size() != expectedZeros)
    return makeError(Twine(prefix) + Twine(r.zeros.size()) +
                     " zero points, expected " + Twine(expectedZeros) +
                     (r.symmetric ? " (symmetric)" : ""));
  unsigned maxq = (1u << r.bits) - 1u;
  for (size_t i = 0; i < r.codes.size(); ++i)
    if (r.codes[i] > maxq)
      return makeError(Twine(prefix) + "code " + Twine(unsigned(r.codes[i])) +
                       " at [" + Twine(i / k) + ", " + Twine(i % k) +
                       "] exceeds " + Twine(maxq));
  for (size_t i = 0; i < r.zeros.size(); ++i)
    if (r.zeros[i] > maxq)
      return makeError(Twine(prefix) + "zero point " +
                       Twine(unsigned(r.zeros[i])) + " at [" + Twine(i / g) +
                       ", " + Twine(i % g) + "] exceeds " + Twine(maxq));
  for (size_t i = 0; i < r.scales.size(); ++i)
    // Symmetric scales may carry a sign (QuantParams::symmetricExtreme).
    if (!(std::isfinite(r.scales[i]) &&
          (r.scales[i] > 0 || (r.symmetric && r.scales[i] < 0))))
      return makeError(
          Twine(prefix) + "scale " + formatNumber(r.scales[i]) + " at [" +
          Twine(i / g) + ", " + Twine(i % g) + "] is " +
          (r.symmetric ? "zero or not finite" : "not positive and finite"));
  if (r.perm.empty())
    return llvm::Error::success();
  if (r.perm.size() != k)
    return makeError(Twine(prefix) + "permutation has " + Twine(r.perm.size()) +
                     " entries for " + Twine(k) + " columns");
  std::vector<bool> seen(k, false);
  for (size_t j = 0; j < k; ++j) {
    int32_t c = r.perm[j];
    if (c < 0 || uint64_t(c) >= k || seen[c])
      return makeError(Twine(prefix) + "perm is not a permutation (entry " +
                       Twine(j) + " is " + Twine(c) + ")");
    seen[c] = true;
  }
  return llvm::Error::success();
}

std::vector<float> numerics::dequantize(const QuantResult &r) {
  std::vector<float> w(size_t(r.rows * r.cols));
  std::vector<int32_t> gIdx = r.groupIndex();
  int64_t G = r.numGroups();
  for (int64_t n = 0; n < r.rows; ++n) {
    const uint8_t *codes = r.codes.data() + n * r.cols;
    const float *scales = r.scales.data() + n * G;
    float *out = w.data() + n * r.cols;
    for (int64_t k = 0; k < r.cols; ++k) {
      int32_t g = gIdx[k];
      out[k] = dequantizeCode(float(codes[k]), scales[g], r.zeroPoint(n, g));
    }
  }
  return w;
}

std::vector<float> numerics::dequantize(const QuantResult &r,
                                        const QuantParams &params, int64_t N,
                                        int64_t K) {
  assert(r.rows == N && r.cols == K && r.bits == params.bits &&
         r.groupSize == params.groupSize && r.symmetric == params.symmetric &&
         "parameters do not match");
  (void)params;
  (void)N;
  (void)K;
  return dequantize(r);
}

//===----------------------------------------------------------------------===//
// RTN
//===----------------------------------------------------------------------===//

llvm::Error numerics::checkWeights(const float *W, int64_t N, int64_t K) {
  if (N <= 0 || K <= 0)
    return makeError("weight shape [" + Twine(N) + ", " + Twine(K) +
                     "] is empty");
  if (uint64_t(N) > uint64_t(std::numeric_limits<int64_t>::max()) / uint64_t(K))
    return makeError("weight shape [" + Twine(N) + ", " + Twine(K) +
                     "] is too large");
  for (int64_t i = 0, e = N * K; i < e; ++i)
    if (!std::isfinite(W[i]))
      return makeError("weight [" + Twine(i / K) + ", " + Twine(i % K) +
                       "] is not finite (" + formatNumber(W[i]) + ")");
  return llvm::Error::success();
}

llvm::Error numerics::rtnQuantize(const float *W, int64_t N, int64_t K,
                                  const QuantParams &params, QuantResult &out) {
  if (llvm::Error err = validateQuantParams(params))
    return err;
  if (llvm::Error err = checkWeights(W, N, K))
    return err;
  GroupQuantizer quantizer(params);
  int64_t G = params.numGroups(K);
  int64_t width = params.groupWidth(K);

  out = QuantResult();
  out.rows = N;
  out.cols = K;
  out.bits = params.bits;
  out.groupSize = params.groupSize;
  out.symmetric = params.symmetric;
  out.codes.resize(size_t(N * K));
  out.scales.resize(size_t(N * G));
  if (!params.symmetric)
    out.zeros.resize(size_t(N * G));

  std::vector<GroupParams> rowParams(static_cast<size_t>(G));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t g = 0; g < G; ++g) {
      int64_t k0 = g * width, k1 = std::min(K, k0 + width);
      rowParams[g] = quantizer.findRowParams(W + n * K + k0, k1 - k0);
      if (llvm::Error err = quantizer.checkParams(rowParams[g], n, g))
        return err;
    }
    if (params.superGroup > 0)
      for (int64_t g = 0; g < G; g += params.superGroup)
        quantizer.snapSuperBlock(rowParams.data() + g,
                                 std::min(params.superGroup, G - g));
    for (int64_t g = 0; g < G; ++g) {
      int64_t k0 = g * width, k1 = std::min(K, k0 + width);
      const float *x = W + n * K + k0;
      GroupParams p = rowParams[g];
      out.scales[n * G + g] = p.scale;
      if (!params.symmetric)
        out.zeros[n * G + g] = uint8_t(p.zero);
      uint8_t *codes = out.codes.data() + n * K + k0;
      for (int64_t k = 0; k < k1 - k0; ++k)
        codes[k] = quantizer.quantize(x[k], p);
    }
  }
  return llvm::Error::success();
}
