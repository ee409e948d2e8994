//===- LinearAlgebra.h - Deterministic dense kernels ------------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// The O(n^3) parts of Hessian accumulation and GPTQ: a packed, multithreaded
// matrix product and a Cholesky factorization and triangular inverse built
// on it.
//
// Unlike OpenBLAS (whose results change with its thread count: the tiling of
// the output depends on how it is split among threads, and its edge kernels
// sum in a different order), these kernels are bit-reproducible: every
// element of a product is accumulated as
//
//   for each block of kKC consecutive k, in increasing order:
//     acc = 0; for k in the block: acc = fma(a[i,k], b[k,j], acc)
//     c[i,j] = c[i,j] +/- acc          (in the type of C)
//
// whatever the number of threads and however the output is split. The
// AVX-512 and AVX2 kernels and the portable fallback (std::fma) perform the
// same operations on every element (only the register tile differs), so
// results also agree across x86-64 machines with AVX-512, with AVX2 only and
// without either (for testing every path on one machine, the environment
// variable LOWBIT_PORTABLE_KERNELS=1 forces the fallback and
// LOWBIT_GEMM_ISA=portable|avx2|avx512 caps the kernel family).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_LINEARALGEBRA_H
#define LOWBIT_NUMERICS_LINEARALGEBRA_H

#include <cstdint>

namespace lowbit::numerics {

/// Inner-dimension block of gemmAccumulate: partial sums over at most this
/// many k are formed in the input type before being added to C.
constexpr int64_t kGemmKC = 256;

/// The number of threads to use for `requested` (0: the hardware's).
unsigned resolveThreads(unsigned requested);

/// A strided, read-only matrix: element (i, j) is data[i * rowStride +
/// j * colStride]. Transposes are views with the strides swapped.
template <typename T> struct MatrixRef {
  const T *data;
  int64_t rowStride;
  int64_t colStride;
};

/// Which elements of C a product updates.
enum class Triangle : uint8_t {
  Full,
  /// Elements (i, j) with i <= j.
  Upper,
  /// Elements (i, j) with i >= j.
  Lower,
};

/// C += A * B (or C -= A * B when `subtract`), for A [M, K], B [K, N] and C
/// [M, N] row-major with leading dimension ldc, restricted to `triangle`.
/// See the file comment for the exact order of operations.
void gemmAccumulate(int64_t M, int64_t N, int64_t K, bool subtract,
                    MatrixRef<float> A, MatrixRef<float> B, float *C,
                    int64_t ldc, Triangle triangle = Triangle::Full,
                    unsigned threads = 0);
/// Float inputs, double C: each partial sum (over at most kKC products) is
/// formed in float and added to C in double.
void gemmAccumulate(int64_t M, int64_t N, int64_t K, bool subtract,
                    MatrixRef<float> A, MatrixRef<float> B, double *C,
                    int64_t ldc, Triangle triangle = Triangle::Full,
                    unsigned threads = 0);
void gemmAccumulate(int64_t M, int64_t N, int64_t K, bool subtract,
                    MatrixRef<double> A, MatrixRef<double> B, double *C,
                    int64_t ldc, Triangle triangle = Triangle::Full,
                    unsigned threads = 0);

/// Cholesky factorization A = L L^T in place, for A [n, n] row-major of which
/// only the lower triangle is read and written (L replaces it). Returns the
/// 1-based index of the first non-positive (or NaN) pivot, or 0 on success.
int64_t choleskyLower(double *A, int64_t n, unsigned threads = 0);

/// X = L^-1 for L [n, n] lower triangular (lower triangle read), into X
/// [n, n] row-major: lower triangle the inverse, strict upper triangle 0.
void invertLowerTriangular(const double *L, double *X, int64_t n,
                           unsigned threads = 0);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_LINEARALGEBRA_H
