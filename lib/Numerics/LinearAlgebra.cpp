//===- LinearAlgebra.cpp - Deterministic dense kernels --------------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// The product follows the usual packed scheme (Goto & van de Geijn, "Anatomy
// of high-performance matrix multiplication"): blocks of B (kGemmKC x NC)
// and A (MC x kGemmKC) are copied into contiguous micro-panels and a
// register-blocked micro-kernel computes MR x NR tiles of A * B over one
// kGemmKC block. Threads take disjoint ranges of columns of C; since every
// element's operations are fixed by kGemmKC alone, neither the split nor the
// cache blocking (MC, NC) changes any result bit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/LinearAlgebra.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOWBIT_HAVE_X86_KERNELS 1
#endif

using namespace lowbit::numerics;

unsigned lowbit::numerics::resolveThreads(unsigned requested) {
  if (requested)
    return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {

//===----------------------------------------------------------------------===//
// Micro-kernels
//===----------------------------------------------------------------------===//

/// Register tiles of the micro-kernels: MR rows x NR columns of C. The
/// AVX-512 kernels use twice the columns of the AVX2 ones (two zmm per row),
/// so a broadcast of A feeds two FMAs there too. The tile shape does not
/// change any result bit (see the file comment).
template <typename T> struct Tile;
template <> struct Tile<float> {
  static constexpr int MR = 6;
  static constexpr int NR = 16;
  static constexpr int MRWide = 6;
  static constexpr int NRWide = 32;
};
template <> struct Tile<double> {
  static constexpr int MR = 6;
  static constexpr int NR = 8;
  static constexpr int MRWide = 6;
  static constexpr int NRWide = 16;
};

/// out[MR x NR] = sum over k < kc of Ap[k][i] * Bp[k][j], accumulated with
/// fma in increasing k from 0. Ap: kc x MR, Bp: kc x NR (NR-aligned rows).
template <typename T>
using KernelFn = void (*)(int64_t kc, const T *Ap, const T *Bp, T *out);

template <typename T, int MR, int NR>
void kernelPortable(int64_t kc, const T *Ap, const T *Bp, T *out) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k, Ap += MR, Bp += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j)
        acc[i][j] = std::fma(Ap[i], Bp[j], acc[i][j]);
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      out[i * NR + j] = acc[i][j];
}

#ifdef LOWBIT_HAVE_X86_KERNELS

__attribute__((target("avx2,fma"))) void
kernelAvx2(int64_t kc, const float *Ap, const float *Bp, float *out) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
         c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00,
         c51 = c00;
  for (int64_t k = 0; k < kc; ++k, Ap += 6, Bp += 16) {
    __m256 b0 = _mm256_load_ps(Bp), b1 = _mm256_load_ps(Bp + 8);
    __m256 a = _mm256_broadcast_ss(Ap + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(Ap + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(Ap + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(Ap + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(Ap + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(Ap + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  _mm256_store_ps(out + 0, c00);
  _mm256_store_ps(out + 8, c01);
  _mm256_store_ps(out + 16, c10);
  _mm256_store_ps(out + 24, c11);
  _mm256_store_ps(out + 32, c20);
  _mm256_store_ps(out + 40, c21);
  _mm256_store_ps(out + 48, c30);
  _mm256_store_ps(out + 56, c31);
  _mm256_store_ps(out + 64, c40);
  _mm256_store_ps(out + 72, c41);
  _mm256_store_ps(out + 80, c50);
  _mm256_store_ps(out + 88, c51);
}

__attribute__((target("avx2,fma"))) void
kernelAvx2(int64_t kc, const double *Ap, const double *Bp, double *out) {
  __m256d c00 = _mm256_setzero_pd(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
          c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00,
          c51 = c00;
  for (int64_t k = 0; k < kc; ++k, Ap += 6, Bp += 8) {
    __m256d b0 = _mm256_load_pd(Bp), b1 = _mm256_load_pd(Bp + 4);
    __m256d a = _mm256_broadcast_sd(Ap + 0);
    c00 = _mm256_fmadd_pd(a, b0, c00);
    c01 = _mm256_fmadd_pd(a, b1, c01);
    a = _mm256_broadcast_sd(Ap + 1);
    c10 = _mm256_fmadd_pd(a, b0, c10);
    c11 = _mm256_fmadd_pd(a, b1, c11);
    a = _mm256_broadcast_sd(Ap + 2);
    c20 = _mm256_fmadd_pd(a, b0, c20);
    c21 = _mm256_fmadd_pd(a, b1, c21);
    a = _mm256_broadcast_sd(Ap + 3);
    c30 = _mm256_fmadd_pd(a, b0, c30);
    c31 = _mm256_fmadd_pd(a, b1, c31);
    a = _mm256_broadcast_sd(Ap + 4);
    c40 = _mm256_fmadd_pd(a, b0, c40);
    c41 = _mm256_fmadd_pd(a, b1, c41);
    a = _mm256_broadcast_sd(Ap + 5);
    c50 = _mm256_fmadd_pd(a, b0, c50);
    c51 = _mm256_fmadd_pd(a, b1, c51);
  }
  _mm256_store_pd(out + 0, c00);
  _mm256_store_pd(out + 4, c01);
  _mm256_store_pd(out + 8, c10);
  _mm256_store_pd(out + 12, c11);
  _mm256_store_pd(out + 16, c20);
  _mm256_store_pd(out + 20, c21);
  _mm256_store_pd(out + 24, c30);
  _mm256_store_pd(out + 28, c31);
  _mm256_store_pd(out + 32, c40);
  _mm256_store_pd(out + 36, c41);
  _mm256_store_pd(out + 40, c50);
  _mm256_store_pd(out + 44, c51);
}

/// 6 x 32 floats: two zmm of C per row, 12 accumulators.
__attribute__((target("avx512f"))) void
kernelAvx512(int64_t kc, const float *Ap, const float *Bp, float *out) {
  __m512 c[6][2];
  for (int i = 0; i < 6; ++i)
    c[i][0] = c[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, Ap += 6, Bp += 32) {
    __m512 b0 = _mm512_load_ps(Bp), b1 = _mm512_load_ps(Bp + 16);
    for (int i = 0; i < 6; ++i) {
      __m512 a = _mm512_set1_ps(Ap[i]);
      c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
    }
  }
  for (int i = 0; i < 6; ++i) {
    _mm512_store_ps(out + 32 * i, c[i][0]);
    _mm512_store_ps(out + 32 * i + 16, c[i][1]);
  }
}

/// 6 x 16 doubles: two zmm of C per row, 12 accumulators.
__attribute__((target("avx512f"))) void
kernelAvx512(int64_t kc, const double *Ap, const double *Bp, double *out) {
  __m512d c[6][2];
  for (int i = 0; i < 6; ++i)
    c[i][0] = c[i][1] = _mm512_setzero_pd();
  for (int64_t k = 0; k < kc; ++k, Ap += 6, Bp += 16) {
    __m512d b0 = _mm512_load_pd(Bp), b1 = _mm512_load_pd(Bp + 8);
    for (int i = 0; i < 6; ++i) {
      __m512d a = _mm512_set1_pd(Ap[i]);
      c[i][0] = _mm512_fmadd_pd(a, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_pd(a, b1, c[i][1]);
    }
  }
  for (int i = 0; i < 6; ++i) {
    _mm512_store_pd(out + 16 * i, c[i][0]);
    _mm512_store_pd(out + 16 * i + 8, c[i][1]);
  }
}

#endif // LOWBIT_HAVE_X86_KERNELS

/// The micro-kernel family a product runs with.
enum class KernelIsa : uint8_t { Portable, Avx2, Avx512 };

/// The best family this CPU runs, capped by the environment (for tests of
/// every path on one machine): LOWBIT_PORTABLE_KERNELS=1 forces the portable
/// kernels, LOWBIT_GEMM_ISA=portable|avx2|avx512 caps the family.
KernelIsa selectIsa() {
  KernelIsa best = KernelIsa::Portable;
#ifdef LOWBIT_HAVE_X86_KERNELS
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    best = KernelIsa::Avx2;
    if (__builtin_cpu_supports("avx512f"))
      best = KernelIsa::Avx512;
  }
#endif
  const char *portable = std::getenv("LOWBIT_PORTABLE_KERNELS");
  if (portable && *portable && *portable != '0')
    return KernelIsa::Portable;
  if (const char *cap = std::getenv("LOWBIT_GEMM_ISA")) {
    std::string_view name(cap);
    KernelIsa limit = name == "portable" ? KernelIsa::Portable
                      : name == "avx2"   ? KernelIsa::Avx2
                                         : KernelIsa::Avx512;
    best = std::min(best, limit);
  }
  return best;
}

//===----------------------------------------------------------------------===//
// Packed product
//===----------------------------------------------------------------------===//

struct FreeDeleter {
  void operator()(void *p) const { std::free(p); }
};

/// `count` elements of T, 64-byte aligned.
template <typename T>
std::unique_ptr<T[], FreeDeleter> alignedBuffer(size_t count) {
  size_t bytes = (count * sizeof(T) + 63) / 64 * 64;
  return std::unique_ptr<T[], FreeDeleter>(
      static_cast<T *>(std::aligned_alloc(64, std::max<size_t>(bytes, 64))));
}

template <typename T, typename CT, int MR_, int NR_> struct Product {
  static constexpr int MR = MR_;
  static constexpr int NR = NR_;
  int64_t M, N, K;
  bool subtract;
  MatrixRef<T> A, B;
  CT *C;
  int64_t ldc;
  Triangle triangle;
  KernelFn<T> kernel;
};

/// Packs a kc x width slice (element (k, j) at src[k * kStride + j *
/// jStride], width <= W) into dst[k * W + j], zero padding j >= width.
/// Reads along whichever stride is contiguous.
template <typename T, int W>
void packPanel(const T *src, int64_t kStride, int64_t jStride, int64_t kc,
               int64_t width, T *dst) {
  if (jStride == 1 || kStride != 1) {
    for (int64_t k = 0; k < kc; ++k, dst += W) {
      const T *s = src + k * kStride;
      int64_t j = 0;
      for (; j < width; ++j)
        dst[j] = s[j * jStride];
      for (; j < W; ++j)
        dst[j] = T(0);
    }
    return;
  }
  // Contiguous along k: one source line at a time.
  for (int64_t j = 0; j < W; ++j) {
    if (j < width) {
      const T *s = src + j * jStride;
      for (int64_t k = 0; k < kc; ++k)
        dst[k * W + j] = s[k];
    } else {
      for (int64_t k = 0; k < kc; ++k)
        dst[k * W + j] = T(0);
    }
  }
}

/// Rows of C with work in columns [j0, j1) (j0 < j1).
template <typename P>
void rowRange(const P &p, int64_t j0, int64_t j1, int64_t &begin,
              int64_t &end) {
  begin = 0;
  end = p.M;
  if (p.triangle == Triangle::Upper)
    end = std::min(p.M, j1);
  else if (p.triangle == Triangle::Lower)
    begin = std::min(p.M, j0);
}

/// Computes the columns [n0, n1) of the product.
template <typename T, typename CT, int MR, int NR>
void productColumns(const Product<T, CT, MR, NR> &p, int64_t n0, int64_t n1) {
  constexpr int64_t KC = kGemmKC;
  constexpr int64_t MC = (sizeof(T) == 4 ? 32 : 16) * MR;
  constexpr int64_t NC = 4096 / int64_t(sizeof(T) / sizeof(float)) / NR * NR;
  auto Ap = alignedBuffer<T>(size_t(MC * KC));
  auto Bp = alignedBuffer<T>(size_t(KC * NC));
  auto tile = alignedBuffer<T>(size_t(MR * NR));
  const MatrixRef<T> A = p.A, B = p.B;

  for (int64_t jc = n0; jc < n1; jc += NC) {
    const int64_t nc = std::min(NC, n1 - jc);
    int64_t rowBegin, rowEnd;
    rowRange(p, jc, jc + nc, rowBegin, rowEnd);
    if (rowBegin >= rowEnd)
      continue;
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min(KC, p.K - pc);
      // B block [pc, pc + kc) x [jc, jc + nc) as NR-wide panels, zero padded.
      for (int64_t jr = 0; jr < nc; jr += NR)
        packPanel<T, NR>(B.data + pc * B.rowStride + (jc + jr) * B.colStride,
                         B.rowStride, B.colStride, kc,
                         std::min<int64_t>(NR, nc - jr), Bp.get() + jr * kc);
      for (int64_t ic = rowBegin; ic < rowEnd; ic += MC) {
        const int64_t mc = std::min(MC, rowEnd - ic);
        // A block [ic, ic + mc) x [pc, pc + kc) as MR-high panels.
        for (int64_t ir = 0; ir < mc; ir += MR)
          packPanel<T, MR>(A.data + (ic + ir) * A.rowStride + pc * A.colStride,
                           A.colStride, A.rowStride, kc,
                           std::min<int64_t>(MR, mc - ir), Ap.get() + ir * kc);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t j0 = jc + jr;
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t i0 = ic + ir;
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            if (p.triangle == Triangle::Upper && i0 > j0 + nr - 1)
              break; // this and all later tiles are below the diagonal
            if (p.triangle == Triangle::Lower && i0 + mr - 1 < j0)
              continue;
            // Fetch the C tile while the kernel runs.
            for (int64_t i = 0; i < mr; ++i) {
              const CT *c = p.C + (i0 + i) * p.ldc + j0;
              __builtin_prefetch(c, 1);
              __builtin_prefetch(c + nr - 1, 1);
            }
            p.kernel(kc, Ap.get() + ir * kc, Bp.get() + jr * kc, tile.get());
            const bool whole =
                p.triangle == Triangle::Full ||
                (p.triangle == Triangle::Upper && i0 + mr - 1 <= j0) ||
                (p.triangle == Triangle::Lower && i0 >= j0 + nr - 1);
            if (whole && nr == NR) {
              // The common case, with fixed bounds for the vectorizer.
              for (int64_t i = 0; i < mr; ++i) {
                CT *c = p.C + (i0 + i) * p.ldc + j0;
                const T *t = tile.get() + i * NR;
                if (p.subtract)
                  for (int j = 0; j < NR; ++j)
                    c[j] = c[j] - CT(t[j]);
                else
                  for (int j = 0; j < NR; ++j)
                    c[j] = c[j] + CT(t[j]);
              }
              continue;
            }
            for (int64_t i = 0; i < mr; ++i) {
              CT *c = p.C + (i0 + i) * p.ldc + j0;
              const T *t = tile.get() + i * NR;
              int64_t jBegin = 0, jEnd = nr;
              if (!whole) {
                if (p.triangle == Triangle::Upper)
                  jBegin = std::max<int64_t>(0, i0 + i - j0);
                else
                  jEnd = std::min<int64_t>(nr, i0 + i - j0 + 1);
              }
              if (p.subtract)
                for (int64_t j = jBegin; j < jEnd; ++j)
                  c[j] = c[j] - CT(t[j]);
              else
                for (int64_t j = jBegin; j < jEnd; ++j)
                  c[j] = c[j] + CT(t[j]);
            }
          }
        }
      }
    }
  }
}

template <typename T, typename CT, int MR, int NR>
void runTiled(int64_t M, int64_t N, int64_t K, bool subtract, MatrixRef<T> A,
              MatrixRef<T> B, CT *C, int64_t ldc, Triangle triangle,
              unsigned threads, KernelFn<T> kernel) {
  Product<T, CT, MR, NR> p{M, N, K, subtract, A, B, C, ldc, triangle, kernel};
  const int64_t panels = (N + NR - 1) / NR;
  // Work of each NR-column panel, in rows.
  std::vector<int64_t> work(static_cast<size_t>(panels));
  int64_t total = 0;
  for (int64_t q = 0; q < panels; ++q) {
    int64_t b, e;
    rowRange(p, q * NR, std::min(N, (q + 1) * NR), b, e);
    work[q] = std::max<int64_t>(0, e - b);
    total += work[q];
  }
  int64_t parts = std::min<int64_t>(resolveThreads(threads), panels);
  // Not worth a thread below a few million multiply-adds.
  if (double(total) * NR * double(K) < double(1 << 22))
    parts = 1;
  if (parts <= 1) {
    productColumns(p, 0, N);
    return;
  }
  // Contiguous panel ranges of about equal work.
  std::vector<int64_t> bounds(1, 0);
  int64_t acc = 0;
  for (int64_t q = 0; q < panels && int64_t(bounds.size()) < parts; ++q) {
    acc += work[q];
    if (acc * parts >= total * int64_t(bounds.size()))
      bounds.push_back(q + 1);
  }
  if (bounds.back() != panels)
    bounds.push_back(panels);
  std::vector<std::thread> pool;
  for (size_t t = 1; t + 1 < bounds.size(); ++t)
    pool.emplace_back([&p, &bounds, N, t] {
      productColumns(p, bounds[t] * NR, std::min(N, bounds[t + 1] * NR));
    });
  productColumns(p, 0, std::min(N, bounds[1] * NR));
  for (std::thread &th : pool)
    th.join();
}

template <typename T, typename CT>
void runProduct(int64_t M, int64_t N, int64_t K, bool subtract, MatrixRef<T> A,
                MatrixRef<T> B, CT *C, int64_t ldc, Triangle triangle,
                unsigned threads) {
  if (M <= 0 || N <= 0 || K <= 0)
    return;
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  constexpr int MRWide = Tile<T>::MRWide, NRWide = Tile<T>::NRWide;
  switch (selectIsa()) {
#ifdef LOWBIT_HAVE_X86_KERNELS
  case KernelIsa::Avx512:
    return runTiled<T, CT, MRWide, NRWide>(
        M, N, K, subtract, A, B, C, ldc, triangle, threads,
        static_cast<KernelFn<T>>(kernelAvx512));
  case KernelIsa::Avx2:
    return runTiled<T, CT, MR, NR>(M, N, K, subtract, A, B, C, ldc, triangle,
                                   threads,
                                   static_cast<KernelFn<T>>(kernelAvx2));
#endif
  default:
    return runTiled<T, CT, MR, NR>(M, N, K, subtract, A, B, C, ldc, triangle,
                                   threads, kernelPortable<T, MR, NR>);
  }
}

} // namespace

void lowbit::numerics::gemmAccumulate(int64_t M, int64_t N, int64_t K,
                                      bool subtract, MatrixRef<float> A,
                                      MatrixRef<float> B, float *C, int64_t ldc,
                                      Triangle triangle, unsigned threads) {
  runProduct(M, N, K, subtract, A, B, C, ldc, triangle, threads);
}

void lowbit::numerics::gemmAccumulate(int64_t M, int64_t N, int64_t K,
                                      bool subtract, MatrixRef<float> A,
                                      MatrixRef<float> B, double *C,
                                      int64_t ldc, Triangle triangle,
                                      unsigned threads) {
  runProduct(M, N, K, subtract, A, B, C, ldc, triangle, threads);
}

void lowbit::numerics::gemmAccumulate(int64_t M, int64_t N, int64_t K,
                                      bool subtract, MatrixRef<double> A,
                                      MatrixRef<double> B, double *C,
                                      int64_t ldc, Triangle triangle,
                                      unsigned threads) {
  runProduct(M, N, K, subtract, A, B, C, ldc, triangle, threads);
}

//===----------------------------------------------------------------------===//
// Cholesky factorization and triangular inverse
//===----------------------------------------------------------------------===//

/// Block size of the factorization and the inverse.
static constexpr int64_t kFactorBlock = 128;

/// Y = L^-1 for the w x w lower triangular block at L (leading dimension
/// ld), into Y (w x w, row-major, strict upper triangle 0), by forward
/// substitution.
static void invertSmallLower(const double *L, int64_t ld, int64_t w,
                             double *Y) {
  std::fill(Y, Y + w * w, 0.0);
  for (int64_t c = 0; c < w; ++c) {
    Y[c * w + c] = 1.0 / L[c * ld + c];
    for (int64_t r = c + 1; r < w; ++r) {
      double s = 0;
      for (int64_t k = c; k < r; ++k)
        s += L[r * ld + k] * Y[k * w + c];
      Y[r * w + c] = -s / L[r * ld + r];
    }
  }
}

int64_t lowbit::numerics::choleskyLower(double *A, int64_t n,
                                        unsigned threads) {
  // Right-looking blocked algorithm: factor a diagonal block, solve the
  // panel below it (as a product with the block's inverse), update the
  // trailing matrix with one product.
  std::vector<double> inv(size_t(kFactorBlock * kFactorBlock)), panel;
  for (int64_t j0 = 0; j0 < n; j0 += kFactorBlock) {
    const int64_t j1 = std::min(n, j0 + kFactorBlock), w = j1 - j0;
    // Diagonal block, unblocked.
    for (int64_t j = j0; j < j1; ++j) {
      double *rowJ = A + j * n;
      double d = rowJ[j];
      for (int64_t k = j0; k < j; ++k)
        d -= rowJ[k] * rowJ[k];
      if (!(d > 0))
        return j + 1;
      const double ljj = std::sqrt(d);
      rowJ[j] = ljj;
      for (int64_t i = j + 1; i < j1; ++i) {
        double *rowI = A + i * n;
        double s = rowI[j];
        for (int64_t k = j0; k < j; ++k)
          s -= rowI[k] * rowJ[k];
        rowI[j] = s / ljj;
      }
    }
    const int64_t m = n - j1;
    if (m == 0)
      break;
    // Panel: A21 <- A21 L11^-T.
    invertSmallLower(A + j0 * n + j0, n, w, inv.data());
    double *a21 = A + j1 * n + j0;
    panel.assign(size_t(m * w), 0.0);
    gemmAccumulate(m, w, w, /*subtract=*/false, MatrixRef<double>{a21, n, 1},
                   MatrixRef<double>{inv.data(), 1, w}, panel.data(), w,
                   Triangle::Full, threads);
    for (int64_t i = 0; i < m; ++i)
      std::copy(panel.data() + i * w, panel.data() + (i + 1) * w, a21 + i * n);
    // Trailing update: A22 -= A21 A21^T (lower triangle).
    gemmAccumulate(m, m, w, /*subtract=*/true, MatrixRef<double>{a21, n, 1},
                   MatrixRef<double>{a21, 1, n}, A + j1 * n + j1, n,
                   Triangle::Lower, threads);
  }
  return 0;
}

void lowbit::numerics::invertLowerTriangular(const double *L, double *X,
                                             int64_t n, unsigned threads) {
  // Solves L X = I by block rows, right-looking: X holds the right-hand
  // side, block row I is finalized as X_I = L_II^-1 RHS_I and immediately
  // removed from the right-hand side of the rows below (one product each).
  std::fill(X, X + n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    X[i * n + i] = 1.0;
  std::vector<double> inv(size_t(kFactorBlock * kFactorBlock)), T;
  for (int64_t i0 = 0; i0 < n; i0 += kFactorBlock) {
    const int64_t i1 = std::min(n, i0 + kFactorBlock), w = i1 - i0;
    // Block row I has nonzeros in columns [0, i1) only.
    invertSmallLower(L + i0 * n + i0, n, w, inv.data());
    T.assign(size_t(w * i1), 0.0);
    gemmAccumulate(w, i1, w, /*subtract=*/false,
                   MatrixRef<double>{inv.data(), w, 1},
                   MatrixRef<double>{X + i0 * n, n, 1}, T.data(), i1,
                   Triangle::Full, threads);
    for (int64_t r = 0; r < w; ++r)
      std::copy(T.data() + r * i1, T.data() + (r + 1) * i1, X + (i0 + r) * n);
    if (i1 < n)
      gemmAccumulate(n - i1, i1, w, /*subtract=*/true,
                     MatrixRef<double>{L + i1 * n + i0, n, 1},
                     MatrixRef<double>{X + i0 * n, n, 1}, X + i1 * n, n,
                     Triangle::Full, threads);
  }
}
