//===- Activation.h - fp32 SIMD activations of the x86 driver ---*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The x86 driver's gated_act silu: out = silu(gate) * up elementwise, the
/// op of kernels::siluMul, computed in fp32 vectors (VecMath.h: Cephes' exp
/// within 2 ulp and an IEEE division) instead of the reference's scalar
/// double and libm exp. Within a few ulp of the reference; the result of an
/// element does not depend on the thread split.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_X86_ACTIVATION_H
#define LOWBITRT_X86_ACTIVATION_H

#include "CpuFeatures.h"

#include "lowbitrt/Kernels.h"

#include <cstdint>

namespace lowbitrt::x86 {

/// out[i] = silu(gate[i]) * up[i] for i in [0, n) with the kernel of \p isa
/// (which the CPU must support), on \p pool (null: inline).
void siluMulF32(X86Variant isa, const float *gate, const float *up, int64_t n,
                float *out, lowbit::rt::kernels::ThreadPool *pool);

namespace detail {
/// [0, n) of siluMulF32 on one thread; one per ISA, each in its own
/// translation unit compiled for that ISA.
void siluMulAvx2(const float *gate, const float *up, int64_t n, float *out);
void siluMulAvx512(const float *gate, const float *up, int64_t n, float *out);
} // namespace detail

} // namespace lowbitrt::x86

#endif // LOWBITRT_X86_ACTIVATION_H
