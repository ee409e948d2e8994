//===- gptq_bench.cpp - Hessian accumulation and GPTQ speed ---------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// GPTQ on one linear layer (default 4096 x 4096, w4 g128) with 128 x 2048
// calibration tokens: 262144 x 4096 structured random inputs, generated in
// chunks of 2048 rows (never all held at once) and fed to HessianAccumulator.
//
// Prints the wall time of the Hessian accumulation (generation excluded) and
// of the GPTQ solve, the Hessian throughput (whole run, and best 2048-row
// chunk), and, measured in the same run, the peak of OpenBLAS sgemm (4096^3,
// best of 3 before and 3 after the Hessian) — the reference the Hessian
// throughput is compared to (goal: >= 70%) — and of lowbit's own product.
//
// Flop convention: 2 per multiply-add. The Hessian computes the K(K+1)/2
// distinct entries of X^T X, K^2 rows flops (up to K rows); a product
// M x N x K counts 2 M N K.
//
//   lowbit-gptq-bench [--k=4096] [--n=4096] [--rows=262144] [--chunk=2048]
//                     [--bits=4] [--group-size=128] [--act-order]
//                     [--threads=0] [--skip-error]
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Gptq.h"
#include "lowbit/Numerics/Hessian.h"
#include "lowbit/Numerics/LinearAlgebra.h"
#include "lowbit/Numerics/Quantize.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace lowbit::numerics;

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

/// xorshift64*: cheap uniform floats in [-1, 1).
struct Fast {
  uint64_t s;
  float next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    uint64_t r = s * 0x2545f4914f6cdd1dull;
    return float(int32_t(r >> 32)) * 0x1p-31f;
  }
};

struct Options {
  int64_t K = 4096, N = 4096, rows = 128 * 2048, chunk = 2048;
  unsigned bits = 4;
  int64_t groupSize = 128;
  bool actOrder = false;
  unsigned threads = 0;
  bool skipError = false;
};

bool parse(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg(argv[i]);
    auto [key, value] = arg.split('=');
    bool bad = false;
    if (key == "--k")
      bad = value.getAsInteger(10, o.K);
    else if (key == "--n")
      bad = value.getAsInteger(10, o.N);
    else if (key == "--rows")
      bad = value.getAsInteger(10, o.rows);
    else if (key == "--chunk")
      bad = value.getAsInteger(10, o.chunk);
    else if (key == "--bits")
      bad = value.getAsInteger(10, o.bits);
    else if (key == "--group-size")
      bad = value.getAsInteger(10, o.groupSize);
    else if (key == "--act-order")
      o.actOrder = true;
    else if (key == "--threads")
      bad = value.getAsInteger(10, o.threads);
    else if (key == "--skip-error")
      o.skipError = true;
    else
      bad = true;
    if (bad) {
      llvm::errs() << "lowbit-gptq-bench: bad argument '" << arg << "'\n";
      return false;
    }
  }
  return o.K > 0 && o.N > 0 && o.rows > 0 && o.chunk > 0;
}

/// Best of 3 of a square product of size n, in GFLOP/s.
template <typename Fn> double bestGflops(int64_t n, Fn &&run) {
  double best = 1e300;
  for (int r = 0; r < 3; ++r) {
    auto t0 = Clock::now();
    run();
    best = std::min(best, seconds(t0));
  }
  return 2.0 * double(n) * double(n) * double(n) / best / 1e9;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  if (!parse(argc, argv, o))
    return 2;
  const int64_t K = o.K, N = o.N;
  Fast rng{0x9e3779b97f4a7c15ull};

  // Peak references, same run: best of 3 before the Hessian and best of 3
  // after it (the machine may be shared: the best is the peak).
  const int64_t P = 4096;
  std::vector<float> PA(size_t(P * P)), PB(size_t(P * P)), PC(size_t(P * P));
  for (float &x : PA)
    x = rng.next();
  for (float &x : PB)
    x = rng.next();
  double sgemmPeak = 0, ownPeak = 0;
  auto measurePeaks = [&] {
    sgemmPeak =
        std::max(sgemmPeak, bestGflops(P, [&] {
                   cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                               int(P), int(P), int(P), 1.0f, PA.data(), int(P),
                               PB.data(), int(P), 0.0f, PC.data(), int(P));
                 }));
    ownPeak = std::max(ownPeak, bestGflops(P, [&] {
                         gemmAccumulate(
                             P, P, P, false, MatrixRef<float>{PA.data(), P, 1},
                             MatrixRef<float>{PB.data(), P, 1}, PC.data(), P,
                             Triangle::Full, o.threads);
                       }));
  };
  measurePeaks();

  // Calibration inputs: a rank-4 common part, uniform noise and every 61st
  // channel with 10x the scale, generated chunk by chunk.
  const int rank = 4;
  std::vector<float> mix(size_t(rank * K)), chanScale(size_t(K), 1.0f);
  for (float &x : mix)
    x = rng.next();
  for (int64_t k = 0; k < K; k += 61)
    chanScale[k] = 10.0f;
  std::vector<float> X(size_t(o.chunk * K));
  HessianAccumulator acc(K, HessianAccumulator::kDefaultBlockRows, o.threads);
  double genSeconds = 0, hessianSeconds = 0, bestChunkSeconds = 1e300;
  for (int64_t r0 = 0; r0 < o.rows; r0 += o.chunk) {
    int64_t rows = std::min(o.chunk, o.rows - r0);
    auto t0 = Clock::now();
    for (int64_t r = 0; r < rows; ++r) {
      float z[rank];
      for (float &v : z)
        v = rng.next();
      float *x = X.data() + r * K;
      for (int64_t k = 0; k < K; ++k) {
        float v = 0.5f * rng.next();
        for (int l = 0; l < rank; ++l)
          v += z[l] * mix[l * K + k];
        x[k] = v * chanScale[k];
      }
    }
    genSeconds += seconds(t0);
    t0 = Clock::now();
    acc.add(X.data(), rows);
    double chunkSeconds = seconds(t0);
    hessianSeconds += chunkSeconds;
    if (rows == o.chunk)
      bestChunkSeconds = std::min(bestChunkSeconds, chunkSeconds);
  }
  auto t0 = Clock::now();
  std::vector<float> H = acc.finalize();
  double finalizeSeconds = seconds(t0);
  X = std::vector<float>();
  measurePeaks();
  PA = PB = PC = std::vector<float>();

  // The OpenBLAS ssyrk of one chunk, for comparison (not used: its result
  // depends on the thread count).
  double ssyrkGflops;
  {
    std::vector<float> C(size_t(K * K));
    std::vector<float> Xc(size_t(o.chunk * K));
    for (float &x : Xc)
      x = rng.next();
    double best = 1e300;
    for (int r = 0; r < 3; ++r) {
      auto t1 = Clock::now();
      cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(K), int(o.chunk),
                  1.0f, Xc.data(), int(K), 0.0f, C.data(), int(K));
      best = std::min(best, seconds(t1));
    }
    ssyrkGflops = double(K) * double(K) * double(o.chunk) / best / 1e9;
  }

  std::vector<float> W(size_t(N * K));
  for (float &w : W)
    w = 0.02f * (rng.next() + rng.next() + rng.next());
  GptqParams params;
  params.quant.bits = o.bits;
  params.quant.groupSize = o.groupSize;
  params.actOrder = o.actOrder;
  params.threads = o.threads;
  QuantResult result;
  t0 = Clock::now();
  if (llvm::Error err =
          gptqQuantize(W.data(), N, K, H.data(), params, result, nullptr)) {
    llvm::errs() << "lowbit-gptq-bench: " << llvm::toString(std::move(err))
                 << "\n";
    return 1;
  }
  double gptqSeconds = seconds(t0);

  double gptqErr = -1, rtnErr = -1, errorSeconds = 0;
  if (!o.skipError) {
    t0 = Clock::now();
    std::vector<float> Q = dequantize(result);
    gptqErr =
        reconstructionError(W.data(), Q.data(), N, K, H.data(), o.threads);
    errorSeconds = seconds(t0);
    QuantResult rtn;
    if (llvm::Error err = rtnQuantize(W.data(), N, K, params.quant, rtn)) {
      llvm::errs() << llvm::toString(std::move(err)) << "\n";
      return 1;
    }
    Q = dequantize(rtn);
    rtnErr = reconstructionError(W.data(), Q.data(), N, K, H.data(), o.threads);
  }

  double hessianFlops = double(K) * double(K) * double(o.rows);
  double hessianGflops =
      hessianFlops / (hessianSeconds + finalizeSeconds) / 1e9;
  double bestChunkGflops =
      o.rows >= o.chunk
          ? double(K) * double(K) * double(o.chunk) / bestChunkSeconds / 1e9
          : hessianGflops;
  double ratio = hessianGflops / sgemmPeak;
  double bestRatio = bestChunkGflops / sgemmPeak;
  auto row = [](const char *what, double value, const char *unit) {
    std::printf("  %-46s %10.2f %s\n", what, value, unit);
  };
  std::printf("GPTQ benchmark: W %lld x %lld, w%u g%lld%s, X %lld x %lld "
              "(chunks of %lld), threads %u\n",
              (long long)N, (long long)K, o.bits, (long long)o.groupSize,
              o.actOrder ? " act-order" : "", (long long)o.rows, (long long)K,
              (long long)o.chunk, resolveThreads(o.threads));
  row("input generation (excluded)", genSeconds, "s");
  row("Hessian accumulation (add + finalize)", hessianSeconds + finalizeSeconds,
      "s");
  row("Hessian throughput, whole run (K^2 rows flops)", hessianGflops,
      "GFLOP/s");
  row("Hessian throughput, best 2048-row chunk", bestChunkGflops, "GFLOP/s");
  row("OpenBLAS sgemm peak (4096^3, best of 2 x 3)", sgemmPeak, "GFLOP/s");
  std::printf("  %-46s %10.1f %%   goal >= 70%%: %s\n",
              "Hessian (whole run) / sgemm peak", 100 * ratio,
              ratio >= 0.7 ? "met" : "NOT met");
  std::printf("  %-46s %10.1f %%\n", "Hessian (best chunk) / sgemm peak",
              100 * bestRatio);
  row("lowbit gemm (4096^3, best of 2 x 3)", ownPeak, "GFLOP/s");
  row("OpenBLAS ssyrk, one chunk (reference)", ssyrkGflops, "GFLOP/s");
  row("GPTQ solve (incl. H^-1 factor)", gptqSeconds, "s");
  if (!o.skipError) {
    row("reconstruction error (one evaluation)", errorSeconds, "s");
    std::printf("  %-46s %10.6f (RTN %.6f, ratio %.3f)\n",
                "relative output error, GPTQ", gptqErr, rtnErr,
                gptqErr / rtnErr);
  }
  std::printf(
      "{\"bench\": \"gptq\", \"n\": %lld, \"k\": %lld, \"rows\": %lld, "
      "\"threads\": %u, \"hessian_s\": %.4f, \"hessian_gflops\": %.2f, "
      "\"hessian_best_chunk_gflops\": %.2f, \"sgemm_peak_gflops\": %.2f, "
      "\"hessian_vs_peak\": %.4f, \"hessian_best_chunk_vs_peak\": %.4f, "
      "\"lowbit_gemm_gflops\": %.2f, \"openblas_ssyrk_gflops\": %.2f, "
      "\"gptq_s\": %.4f, \"rel_error_gptq\": %.6g, "
      "\"rel_error_rtn\": %.6g}\n",
      (long long)N, (long long)K, (long long)o.rows, resolveThreads(o.threads),
      hessianSeconds + finalizeSeconds, hessianGflops, bestChunkGflops,
      sgemmPeak, ratio, bestRatio, ownPeak, ssyrkGflops, gptqSeconds, gptqErr,
      rtnErr);
  return 0;
}
