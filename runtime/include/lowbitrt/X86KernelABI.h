/*===- X86KernelABI.h - ABI of generated x86 qmatmul kernels ------*- C -*-===*\
|*                                                                            *|
|* Part of the lowbit project.                                                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The compiler's x86 kernel generator (lib/Target/X86/KernelGen.h) produces a
 * position-independent ELF shared object that exports one function per
 * specialisation, named
 *
 *   lowbit_x86_b<bits>_g<G|pc>_<sym|asym>_<f32|f16>_k<K>_n<N>_bt<tile>_
 *     <avx2|avxvnni|avx512|avx512vnni>_<fp32|int8>
 *
 * (G = group size, "pc" = one group per row; tile = batch rows per register
 * tile). Every symbol has the type lowbit_x86_qmatmul_fn below and computes,
 * for b in [0, B) and n in [nBegin, nEnd),
 *
 *   y[b * N + n] = sum_k x[b * K + k] * W[n, k] (+ bias[n] if bias != NULL)
 *
 * where W is the quantized weight in the packed layout x86-tile16-v1
 * documented in lowbitrt/CodecX86Tile16.h (rows tiled by 16; packed should be
 * 64-byte aligned for speed). Outputs outside [nBegin, nEnd) are not written,
 * so threads may split N into disjoint ranges; ranges aligned to 16 rows avoid
 * recomputing a shared tile. Requires 0 <= nBegin <= nEnd <= N; y must not
 * overlap x, packed or bias. B may be any positive value (B <= 0 writes
 * nothing). The kernel allocates nothing on the heap; its activation scratch
 * lives on the stack: at most 54 * paddedK + 188 * groups bytes (paddedK = K
 * with every group rounded up to 32 columns; about 600 KB for K = 11008), so
 * run it on threads with at least 1 MiB of stack for K <= 16384. It is
 * reentrant and keeps no state.
 *
 * A kernel must only be called when the CPU supports its ISA (see the
 * runtime's CpuFeatures): avx2 = AVX2+FMA+F16C; avxvnni = that + AVX-VNNI;
 * avx512 = AVX-512 F/BW/VL/DQ; avx512vnni = that + AVX512-VNNI, with the OS
 * saving the ymm/zmm state.
 */

#ifndef LOWBITRT_X86KERNELABI_H
#define LOWBITRT_X86KERNELABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this ABI and of the packed layout. */
#define LOWBIT_X86_KERNEL_ABI_VERSION 1

/* Row tile of the packed weight layout. */
#define LOWBIT_X86_TILE_ROWS 16

typedef void (*lowbit_x86_qmatmul_fn)(const float *x, int64_t B,
                                      const uint8_t *packed, const float *bias,
                                      float *y, int64_t nBegin, int64_t nEnd);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LOWBITRT_X86KERNELABI_H */
