//===- CpuFeatures.h - x86 CPU feature detection ----------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Run-time detection of the x86 features the generated qmatmul kernels use
/// (cpuid for the CPU, xgetbv for the OS saving ymm/zmm state), and the
/// ranking of kernel variants. No LLVM.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_X86_CPUFEATURES_H
#define LOWBITRT_X86_CPUFEATURES_H

#include <string>
#include <vector>

namespace lowbitrt::x86 {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avxvnni = false;
  /// The OS saves ymm (XCR0 bits 1-2) and zmm/opmask state (bits 5-7).
  bool osYmm = false;
  bool osZmm = false;

  /// One line, e.g. "avx2 fma f16c avx512f ... (os: ymm zmm)".
  std::string describe() const;
};

/// Reads the features of the CPU this runs on (all false off x86-64).
CpuFeatures detectCpuFeatures();

/// Kernel ISA variants, named as in the kernel symbols.
enum class X86Variant { AVX2, AVXVNNI, AVX512, AVX512VNNI };

const char *variantName(X86Variant v);

/// Whether the CPU (and OS) can run kernels of a variant.
bool supportsVariant(const CpuFeatures &f, X86Variant v);

/// The variants the CPU can run, best first. For int8 kernels VNNI matters
/// most (avx512vnni, avxvnni, avx512, avx2); for fp32 kernels the vector
/// width does (avx512vnni, avx512, avxvnni, avx2).
std::vector<X86Variant> rankVariants(const CpuFeatures &f, bool int8Path);

} // namespace lowbitrt::x86

#endif // LOWBITRT_X86_CPUFEATURES_H
