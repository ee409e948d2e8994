//===- Hessian.cpp - Layer Hessians of calibration inputs -----------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Hessian.h"

#include "lowbit/Numerics/LinearAlgebra.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>

using namespace lowbit::numerics;

//===----------------------------------------------------------------------===//
// HessianAccumulator
//===----------------------------------------------------------------------===//

HessianAccumulator::HessianAccumulator(int64_t K, int64_t blockRows,
                                       unsigned threads)
    : K(K), blockRows(blockRows), threads(threads) {
  assert(K >= 1 && blockRows >= 1 && "empty Hessian accumulator");
  // Whole kGemmKC blocks: partial sums never straddle two blocks of rows.
  this->blockRows = (blockRows + kGemmKC - 1) / kGemmKC * kGemmKC;
  acc.assign(size_t(K * K), 0.0);
  pending.resize(size_t(this->blockRows * K));
}

void HessianAccumulator::accumulate(const float *X, int64_t rows,
                                    double *into) const {
  // X^T X: A = X^T (A[i, r] = X[r, i]), B = X.
  gemmAccumulate(K, K, rows, /*subtract=*/false, MatrixRef<float>{X, 1, K},
                 MatrixRef<float>{X, K, 1}, into, K, Triangle::Upper, threads);
}

void HessianAccumulator::add(const float *X, int64_t rows) {
  assert(rows >= 0 && "negative row count");
  if (rows <= 0)
    return;
  totalRows += rows;
  if (pendingRows > 0) {
    int64_t take = std::min(rows, blockRows - pendingRows);
    std::memcpy(pending.data() + pendingRows * K, X,
                size_t(take * K) * sizeof(float));
    pendingRows += take;
    X += take * K;
    rows -= take;
    if (pendingRows == blockRows) {
      accumulate(pending.data(), blockRows, acc.data());
      pendingRows = 0;
    }
  }
  // Whole blocks straight from the caller's memory.
  for (; rows >= blockRows; rows -= blockRows, X += blockRows * K)
    accumulate(X, blockRows, acc.data());
  if (rows > 0) {
    std::memcpy(pending.data(), X, size_t(rows * K) * sizeof(float));
    pendingRows = rows;
  }
}

/// 2/n (acc + X_p^T X_p) (X_p: the pending rows) as a full symmetric matrix
/// of T.
template <typename T>
static std::vector<T> symmetrize(const std::vector<double> &upper,
                                 int64_t totalRows, int64_t K) {
  std::vector<T> H(size_t(K * K), T(0));
  if (totalRows == 0)
    return H;
  double scale = 2.0 / double(totalRows);
  // In tiles, so that the transposed writes stay in cache.
  constexpr int64_t kTile = 64;
  for (int64_t i0 = 0; i0 < K; i0 += kTile)
    for (int64_t j0 = i0; j0 < K; j0 += kTile)
      for (int64_t i = i0; i < std::min(K, i0 + kTile); ++i)
        for (int64_t j = std::max(i, j0); j < std::min(K, j0 + kTile); ++j) {
          T t = T(upper[i * K + j] * scale);
          H[i * K + j] = t;
          H[j * K + i] = t;
        }
  return H;
}

std::vector<float> HessianAccumulator::finalize() const {
  if (pendingRows == 0)
    return symmetrize<float>(acc, totalRows, K);
  std::vector<double> sum = acc;
  accumulate(pending.data(), pendingRows, sum.data());
  return symmetrize<float>(sum, totalRows, K);
}

std::vector<double> HessianAccumulator::finalizeDouble() const {
  if (pendingRows == 0)
    return symmetrize<double>(acc, totalRows, K);
  std::vector<double> sum = acc;
  accumulate(pending.data(), pendingRows, sum.data());
  return symmetrize<double>(sum, totalRows, K);
}

//===----------------------------------------------------------------------===//
// Reconstruction error
//===----------------------------------------------------------------------===//

double lowbit::numerics::quadraticTrace(const float *W, const float *Q,
                                        int64_t N, int64_t K, const float *H,
                                        unsigned threads) {
  // tr(D H D^T) = sum_ij H_ij (D^T D)_ij, with the upper triangle of
  // G = D^T D accumulated in double over chunks of rows.
  constexpr int64_t kChunk = 256;
  std::vector<double> G(size_t(K * K), 0.0);
  std::vector<double> D(size_t(std::min(N, kChunk) * K));
  for (int64_t n0 = 0; n0 < N; n0 += kChunk) {
    int64_t rows = std::min(kChunk, N - n0);
    const float *w = W + n0 * K;
    if (Q) {
      const float *q = Q + n0 * K;
      for (int64_t i = 0; i < rows * K; ++i)
        D[i] = double(w[i]) - double(q[i]);
    } else {
      for (int64_t i = 0; i < rows * K; ++i)
        D[i] = double(w[i]);
    }
    gemmAccumulate(K, K, rows, /*subtract=*/false,
                   MatrixRef<double>{D.data(), 1, K},
                   MatrixRef<double>{D.data(), K, 1}, G.data(), K,
                   Triangle::Upper, threads);
  }
  double diag = 0, off = 0;
  for (int64_t i = 0; i < K; ++i) {
    diag += double(H[i * K + i]) * G[i * K + i];
    for (int64_t j = i + 1; j < K; ++j)
      off += double(H[i * K + j]) * G[i * K + j];
  }
  return diag + 2.0 * off;
}

double lowbit::numerics::reconstructionError(const float *W, const float *Q,
                                             int64_t N, int64_t K,
                                             const float *H, unsigned threads) {
  double num = quadraticTrace(W, Q, N, K, H, threads);
  double den = quadraticTrace(W, nullptr, N, K, H, threads);
  if (den == 0)
    return num == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return num / den;
}
