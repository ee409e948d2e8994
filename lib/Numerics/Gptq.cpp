//===- Gptq.cpp - GPTQ weight quantization --------------------------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Gptq.h"
#include "Messages.h"

#include "lowbit/Numerics/Hessian.h"
#include "lowbit/Numerics/LinearAlgebra.h"

#include "llvm/ADT/Twine.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <string>
#include <thread>

using namespace lowbit::numerics;
using llvm::Twine;

using detail::formatNumber;
using detail::makeError;

llvm::Error lowbit::numerics::validateGptqParams(const GptqParams &p) {
  if (llvm::Error err = validateQuantParams(p.quant))
    return err;
  const char *prefix = "invalid GPTQ parameters: ";
  if (p.blockSize < 1)
    return makeError(Twine(prefix) + "blockSize must be positive, got " +
                     Twine(p.blockSize));
  if (!std::isfinite(p.dampPercent) || p.dampPercent < 0)
    return makeError(Twine(prefix) +
                     "dampPercent must be finite and non-negative, got " +
                     formatNumber(p.dampPercent));
  if (p.maxDampRetries < 0)
    return makeError(Twine(prefix) + "maxDampRetries must be >= 0, got " +
                     Twine(p.maxDampRetries));
  return llvm::Error::success();
}

namespace {

/// The inverse Hessian's upper Cholesky factor, and how it was obtained.
struct InverseFactor {
  /// [K, K] row-major; the upper triangle U with (H + damp I)^-1 = U^T U.
  std::vector<float> U;
  double dampPercent = 0;
  double damp = 0;
  int retries = 0;
};

} // namespace

/// Fills the lower triangle (row-major) of A with J Hp J, where Hp is H
/// permuted by `perm` (Hp[a, b] = H[perm[a], perm[b]], read from H's upper
/// triangle) with dead diagonal entries replaced by 1 and `damp` added to the
/// diagonal, and J reverses the order of rows and columns.
static void buildReversedHessian(const float *H, int64_t K,
                                 const std::vector<int32_t> &perm, double damp,
                                 std::vector<double> &A) {
  for (int64_t a = 0; a < K; ++a) {
    int64_t pa = perm[K - 1 - a];
    double *row = A.data() + a * K;
    for (int64_t b = 0; b <= a; ++b) {
      int64_t pb = perm[K - 1 - b];
      row[b] = double(pa <= pb ? H[pa * K + pb] : H[pb * K + pa]);
    }
    if (row[a] == 0)
      row[a] = 1;
    row[a] += damp;
  }
}

/// Computes U, the upper Cholesky factor of (Hp + damp I)^-1, in double,
/// increasing the dampening while Hp + damp I is not positive definite.
///
/// With J the reversal, if J Hp J = L L^T then Hp^-1 = U^T U for the upper
/// triangular U = J L^-1 J: one factorization and one triangular inverse
/// instead of factorizing, inverting and factorizing again.
static llvm::Error invertHessian(const float *H, int64_t K,
                                 const std::vector<int32_t> &perm,
                                 double meanDiag, const GptqParams &params,
                                 InverseFactor &out) {
  std::vector<double> A(size_t(K * K), 0.0), X;
  double percent = params.dampPercent;
  std::string failure;
  for (int attempt = 0; attempt <= params.maxDampRetries; ++attempt) {
    if (attempt > 0)
      percent = percent > 0 ? percent * 10 : 0.01;
    double damp = percent * meanDiag;
    buildReversedHessian(H, K, perm, damp, A);
    if (int64_t bad = choleskyLower(A.data(), K, params.threads)) {
      failure = ("non-positive pivot at column " + Twine(K - bad) +
                 " (in visiting order) with dampening " +
                 Twine(formatNumber(percent)) + " x mean(diag(H))")
                    .str();
      continue;
    }
    X.resize(size_t(K * K));
    invertLowerTriangular(A.data(), X.data(), K, params.threads);
    out.U.assign(size_t(K * K), 0.0f);
    bool finite = true;
    for (int64_t a = 0; a < K; ++a) {
      const double *src = X.data() + (K - 1 - a) * K;
      float *dst = out.U.data() + a * K;
      for (int64_t b = a; b < K; ++b) {
        float v = float(src[K - 1 - b]);
        finite &= std::isfinite(v);
        dst[b] = v;
      }
    }
    if (!finite) {
      failure = "H^-1 overflows float with dampening " + formatNumber(percent) +
                " x mean(diag(H))";
      continue;
    }
    out.dampPercent = percent;
    out.damp = damp;
    out.retries = attempt;
    return llvm::Error::success();
  }
  return makeError("gptq: the Hessian is not positive definite even after " +
                   Twine(params.maxDampRetries) +
                   " dampening increases (10x each): " + failure);
}

llvm::Error lowbit::numerics::gptqQuantize(const float *W, int64_t N, int64_t K,
                                           const float *H,
                                           const GptqParams &params,
                                           QuantResult &out, GptqStats *stats) {
  if (llvm::Error err = validateGptqParams(params))
    return err;
  if (llvm::Error err = checkWeights(W, N, K))
    return err;
  if (K > int64_t(INT32_MAX))
    return makeError("gptq: " + Twine(K) +
                     " inputs exceed the int32 "
                     "permutation range");
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = i; j < K; ++j)
      if (!std::isfinite(H[i * K + j]))
        return makeError("gptq: Hessian entry [" + Twine(i) + ", " + Twine(j) +
                         "] is not finite (" + formatNumber(H[i * K + j]) +
                         ")");

  const QuantParams &qp = params.quant;
  GroupQuantizer quantizer(qp);
  const float maxq = quantizer.maxq();
  const bool perChannel = qp.perChannel();
  // Super-block scales are fixed before the sweep (all groups of a
  // super-block share d): static groups.
  const bool staticGroups =
      (params.staticGroups || qp.superGroup > 0) && !perChannel;
  const bool dynamicGroups = !perChannel && !staticGroups;
  const int64_t gs = qp.groupSize;
  const int64_t G = qp.numGroups(K);
  const int64_t width = qp.groupWidth(K);

  // Dead inputs, and the visiting order.
  std::vector<float> diag(static_cast<size_t>(K));
  std::vector<bool> dead(size_t(K), false);
  int64_t deadCount = 0;
  double diagSum = 0;
  for (int64_t i = 0; i < K; ++i) {
    diag[i] = H[i * K + i];
    if (diag[i] == 0) {
      dead[i] = true;
      diag[i] = 1;
      ++deadCount;
    }
    diagSum += double(diag[i]);
  }
  std::vector<int32_t> perm(static_cast<size_t>(K));
  std::iota(perm.begin(), perm.end(), 0);
  if (params.actOrder)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int32_t a, int32_t b) { return diag[a] > diag[b]; });

  InverseFactor inv;
  if (llvm::Error err =
          invertHessian(H, K, perm, diagSum / double(K), params, inv))
    return err;
  const float *Hinv = inv.U.data();

  out = QuantResult();
  out.rows = N;
  out.cols = K;
  out.bits = qp.bits;
  out.groupSize = qp.groupSize;
  out.symmetric = qp.symmetric;
  out.codes.assign(size_t(N * K), 0);
  out.scales.assign(size_t(N * G), 0.0f);
  if (!qp.symmetric)
    out.zeros.assign(size_t(N * G), 0);
  if (params.actOrder && dynamicGroups)
    out.perm = perm;

  // The working copy in visiting order, dead inputs zeroed. Per-channel and
  // static group parameters come from the original order.
  std::vector<float> Wp(size_t(N * K));
  std::vector<GroupParams> fixedParams(perChannel || staticGroups ? N * G : 0);
  {
    std::vector<float> row(static_cast<size_t>(K));
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k)
        row[k] = dead[k] ? 0.0f : W[n * K + k];
      if (!fixedParams.empty())
        for (int64_t g = 0; g < G; ++g) {
          int64_t k0 = g * width, k1 = std::min(K, k0 + width);
          fixedParams[n * G + g] =
              quantizer.findRowParams(row.data() + k0, k1 - k0);
        }
      if (qp.superGroup > 0)
        for (int64_t g = 0; g < G; g += qp.superGroup)
          quantizer.snapSuperBlock(fixedParams.data() + n * G + g,
                                   std::min(qp.superGroup, G - g));
      for (int64_t j = 0; j < K; ++j)
        Wp[n * K + j] = row[perm[j]];
    }
  }
  // The first group of each row whose range overflows the scale type (-1:
  // none); each row is written by one thread.
  std::vector<int64_t> overflowGroup(static_cast<size_t>(N), -1);
  auto storeParams = [&](int64_t n, int64_t g, GroupParams p) {
    if (p.overflow && overflowGroup[n] < 0)
      overflowGroup[n] = g;
    out.scales[n * G + g] = p.scale;
    if (!qp.symmetric)
      out.zeros[n * G + g] = uint8_t(p.zero);
  };
  for (int64_t i = 0; i < int64_t(fixedParams.size()); ++i)
    storeParams(i / G, i % G, fixedParams[i]);
  for (int64_t n = 0; n < N; ++n)
    if (overflowGroup[n] >= 0)
      return quantizer.checkParams(fixedParams[n * G + overflowGroup[n]], n,
                                   overflowGroup[n]);

  // The lazy-batch loop. Rows are independent given Hinv (a row's group
  // parameters depend on that row only), so each block runs row by row on
  // the row's slice of the block, which stays in L1, with the rows split
  // among threads.
  const int64_t B = std::min(params.blockSize, K);
  std::vector<float> Err(size_t(N * B));
  std::vector<GroupParams> current(dynamicGroups ? N : 0);
  std::vector<double> rowLoss(static_cast<size_t>(N), 0.0);
  auto quantizeRows = [&](int64_t i1, int64_t i2, int64_t n0, int64_t n1) {
    std::vector<float> groupBuf(dynamicGroups ? size_t(width) : 0);
    for (int64_t n = n0; n < n1; ++n) {
      float *w = Wp.data() + n * K;
      float *e = Err.data() + n * B;
      uint8_t *codes = out.codes.data() + n * K;
      double blockLoss = 0;
      for (int64_t c = i1; c < i2; ++c) {
        int32_t orig = perm[c];
        GroupParams p;
        if (dynamicGroups) {
          if (c % gs == 0) {
            // The group's columns as the unblocked algorithm would see them:
            // those past the block still lack this block's pending update.
            int64_t gEnd = std::min(K, c + gs);
            const float *src = w + c;
            if (gEnd > i2) {
              float *buf = groupBuf.data();
              std::copy(w + c, w + i2, buf);
              for (int64_t j = i2; j < gEnd; ++j) {
                float v = w[j];
                for (int64_t t = i1; t < c; ++t)
                  v -= e[t - i1] * Hinv[t * K + j];
                buf[j - c] = v;
              }
              src = buf;
            }
            current[n] = quantizer.findRowParams(src, gEnd - c);
            storeParams(n, c / gs, current[n]);
          }
          p = current[n];
        } else {
          p = fixedParams[n * G + (perChannel ? 0 : orig / gs)];
        }
        float x = w[c];
        float code = quantizeCode(x, p.scale, p.zero, maxq);
        codes[orig] = uint8_t(code);
        float diff = x - dequantizeCode(code, p.scale, p.zero);
        float err = diff / Hinv[c * K + c];
        blockLoss += double(err) * double(err);
        e[c - i1] = err;
        const float *h = Hinv + c * K;
        for (int64_t j = c + 1; j < i2; ++j)
          w[j] -= err * h[j];
      }
      rowLoss[n] += blockLoss;
    }
  };
  // Rows per thread: not worth a thread below ~1M multiply-adds.
  const int64_t parts = std::max<int64_t>(
      1, std::min<int64_t>(resolveThreads(params.threads),
                           N * B * B / 2 / (int64_t(1) << 20)));
  for (int64_t i1 = 0; i1 < K; i1 += B) {
    const int64_t i2 = std::min(i1 + B, K);
    if (parts == 1) {
      quantizeRows(i1, i2, 0, N);
    } else {
      std::vector<std::thread> pool;
      for (int64_t t = 1; t < parts; ++t)
        pool.emplace_back(quantizeRows, i1, i2, N * t / parts,
                          N * (t + 1) / parts);
      quantizeRows(i1, i2, 0, N / parts);
      for (std::thread &th : pool)
        th.join();
    }
    // The block's error on the later columns, in one product.
    if (i2 < K)
      gemmAccumulate(N, K - i2, i2 - i1, /*subtract=*/true,
                     MatrixRef<float>{Err.data(), B, 1},
                     MatrixRef<float>{Hinv + i1 * K + i2, K, 1}, Wp.data() + i2,
                     K, Triangle::Full, params.threads);
  }

  for (int64_t n = 0; n < N; ++n)
    if (overflowGroup[n] >= 0) {
      GroupParams p;
      p.overflow = true;
      return quantizer.checkParams(p, n, overflowGroup[n]);
    }

  if (stats) {
    *stats = GptqStats();
    double loss = 0;
    for (double l : rowLoss)
      loss += l;
    stats->loss = loss / 2;
    stats->dampPercent = inv.dampPercent;
    stats->damp = inv.damp;
    stats->dampRetries = inv.retries;
    stats->deadColumns = deadCount;
    std::vector<float> Q = dequantize(out);
    stats->relativeError =
        reconstructionError(W, Q.data(), N, K, H, params.threads);
  }
  return llvm::Error::success();
}
