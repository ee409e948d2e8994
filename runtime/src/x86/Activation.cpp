//===- Activation.cpp - fp32 SIMD activations of the x86 driver -*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The thread split of siluMulF32 (Activation.h); the per-ISA loops are in
/// SimdAvx2.cpp and SimdAvx512.cpp.
///
//===----------------------------------------------------------------------===//

#include "Activation.h"
#include "Attention.h"

using namespace lowbitrt::x86;

/// Elementwise work goes parallel only above this many elements (as the
/// op table's elementwise kernels).
static constexpr int64_t kMinParallel = 1 << 15;

void lowbitrt::x86::siluMulF32(X86Variant isa, const float *gate,
                               const float *up, int64_t n, float *out,
                               lowbit::rt::kernels::ThreadPool *pool) {
  if (n <= 0)
    return;
  auto *fn =
      isAvx512Attention(isa) ? detail::siluMulAvx512 : detail::siluMulAvx2;
  if (!pool || pool->getNumThreads() == 1 || n < kMinParallel) {
    fn(gate, up, n, out);
    return;
  }
  struct Work {
    void (*fn)(const float *, const float *, int64_t, float *);
    const float *gate, *up;
    float *out;
  } w{fn, gate, up, out};
  const Work *wp = &w;
  pool->parallelFor(n, [wp](int64_t begin, int64_t end) {
    wp->fn(wp->gate + begin, wp->up + begin, end - begin, wp->out + begin);
  });
}
