//===- RunnableIsas.h - the fp32 kernels' ISAs this CPU runs ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// The ISAs of the x86 driver's fp32 SIMD kernels (attention, silu) that this
// CPU runs, for the tests that run each of them.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TEST_UNIT_X86_RUNNABLEISAS_H
#define LOWBIT_TEST_UNIT_X86_RUNNABLEISAS_H

#include "CpuFeatures.h"

#include <string>
#include <vector>

namespace lowbit::test {

/// AVX2 and AVX-512 where this CPU runs them; the others' names are
/// appended to \p skipped.
inline std::vector<lowbitrt::x86::X86Variant>
runnableIsas(std::string &skipped) {
  namespace rt = lowbitrt::x86;
  rt::CpuFeatures f = rt::detectCpuFeatures();
  std::vector<rt::X86Variant> isas;
  for (rt::X86Variant isa : {rt::X86Variant::AVX2, rt::X86Variant::AVX512}) {
    if (rt::supportsVariant(f, isa))
      isas.push_back(isa);
    else
      skipped += std::string(" ") + rt::variantName(isa);
  }
  return isas;
}

} // namespace lowbit::test

#endif // LOWBIT_TEST_UNIT_X86_RUNNABLEISAS_H
