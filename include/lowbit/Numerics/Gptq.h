//===- Gptq.h - GPTQ weight quantization ------------------------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers"): columns are quantized one at a time
// and the quantization error of each is compensated on the columns not yet
// quantized, through the upper Cholesky factor of H^-1 (H = 2/n X^T X, see
// Hessian.h). Updates are applied lazily per block of columns, the trailing
// columns receiving each block's accumulated error in one matrix product.
//
// Differences from the reference implementation, all deliberate:
//  - when a group starts inside a block, its scale and zero point are found
//    on the fully error-updated columns (the reference reads the columns of
//    the current block before the block's own updates, and those past the
//    block before the block's pending update); the result is thus, up to
//    rounding, independent of the block size, as in the unblocked algorithm;
//  - per-channel parameters are found after dead inputs are zeroed;
//  - the act-order permutation is a stable sort;
//  - the inverse Hessian is computed in double, from the Cholesky factor of
//    the reversed Hessian (see invertHessian in Gptq.cpp);
//  - all dense products use the deterministic kernels of LinearAlgebra.h, so
//    results do not depend on the thread count.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_GPTQ_H
#define LOWBIT_NUMERICS_GPTQ_H

#include "lowbit/Numerics/Quantize.h"

#include "llvm/Support/Error.h"

#include <cstdint>

namespace lowbit::numerics {

/// How GPTQ runs.
struct GptqParams {
  QuantParams quant;
  /// Dampening: dampPercent * mean(diag(H)) is added to the diagonal (0.01 is
  /// the reference's 1%). When H is still not positive definite, the
  /// dampening is multiplied by 10 (or set to 0.01 when it was 0), up to
  /// maxDampRetries times, before giving up.
  double dampPercent = 0.01;
  int maxDampRetries = 3;
  /// Columns per lazy-update block.
  int64_t blockSize = 128;
  /// Quantize columns in order of decreasing H[i, i]. With groups (and not
  /// staticGroups), groups are formed along that order and the result holds
  /// the permutation.
  bool actOrder = false;
  /// Find every group's parameters upfront on the original weights (groups
  /// in the original column order, no permutation in the result even with
  /// actOrder, which then only changes the order columns are visited in).
  bool staticGroups = false;
  /// Threads for the dense kernels (0: all cores). Results do not depend on
  /// it.
  unsigned threads = 0;
};

/// What happened during gptqQuantize.
struct GptqStats {
  /// The reference's loss: sum over columns of (w - q)^2 / (2 Hinv[i, i]^2).
  double loss = 0;
  /// tr((W - Q) H (W - Q)^T) / tr(W H W^T) with the undamped H.
  double relativeError = 0;
  /// Dampening that was used, as a fraction of mean(diag(H)), and in
  /// absolute terms.
  double dampPercent = 0;
  double damp = 0;
  /// How many times the dampening had to be increased.
  int dampRetries = 0;
  /// Inputs with H[i, i] == 0 (their weights are zeroed before quantizing).
  int64_t deadColumns = 0;
};

/// Checks `params` (the quantizer's, and blockSize >= 1, a finite
/// dampPercent >= 0, maxDampRetries >= 0).
llvm::Error validateGptqParams(const GptqParams &params);

/// Quantizes W [N, K] (row-major) with GPTQ given the Hessian H [K, K] of the
/// layer's inputs (symmetric; only its upper triangle is read). The result
/// has codes in the original column order, scales and zero points by group,
/// and `perm` when actOrder and groups are formed along it (actOrder, a
/// group size, and not staticGroups). `stats`, when given, is filled in
/// (relativeError costs two N K^2 products in double).
///
/// Fails on invalid parameters, non-finite W or H, or an H that is not
/// positive definite even after the dampening retries. Deterministic: the
/// same inputs give bit-identical outputs, whatever the thread count.
llvm::Error gptqQuantize(const float *W, int64_t N, int64_t K, const float *H,
                         const GptqParams &params, QuantResult &out,
                         GptqStats *stats = nullptr);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_GPTQ_H
