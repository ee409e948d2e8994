//===- CpuFeatures.cpp - x86 CPU feature detection --------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "CpuFeatures.h"

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LOWBITRT_X86 1
#endif

namespace lowbitrt::x86 {

#ifdef LOWBITRT_X86
static uint64_t readXcr0() {
  uint32_t lo, hi;
  // xgetbv with ecx = 0; encoded as bytes so no -mxsave is needed.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

CpuFeatures detectCpuFeatures() {
  CpuFeatures f;
#ifdef LOWBITRT_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d))
    return f;
  unsigned maxLeaf = a;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return f;
  bool osxsave = c & (1u << 27);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  bool avx = c & (1u << 28);
  if (osxsave) {
    uint64_t xcr0 = readXcr0();
    f.osYmm = (xcr0 & 0x6) == 0x6;
    f.osZmm = f.osYmm && (xcr0 & 0xe0) == 0xe0;
  }
  if (maxLeaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
    __cpuid_count(7, 1, a, b, c, d);
    f.avxvnni = a & (1u << 4);
  }
  if (!avx || !f.osYmm) {
    f.avx2 = f.fma = f.f16c = f.avxvnni = false;
  }
  if (!f.osZmm)
    f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512vnni = false;
#endif
  return f;
}

std::string CpuFeatures::describe() const {
  std::string s;
  auto add = [&](bool on, const char *name) {
    if (!on)
      return;
    if (!s.empty())
      s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512dq, "avx512dq");
  add(avx512vnni, "avx512vnni");
  add(avxvnni, "avxvnni");
  s += " (os:";
  s += osYmm ? " ymm" : "";
  s += osZmm ? " zmm" : "";
  s += ")";
  return s;
}

const char *variantName(X86Variant v) {
  switch (v) {
  case X86Variant::AVX2:
    return "avx2";
  case X86Variant::AVXVNNI:
    return "avxvnni";
  case X86Variant::AVX512:
    return "avx512";
  case X86Variant::AVX512VNNI:
    return "avx512vnni";
  }
  return "unknown";
}

bool supportsVariant(const CpuFeatures &f, X86Variant v) {
  bool base = f.avx2 && f.fma && f.f16c;
  bool v4 = base && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (v) {
  case X86Variant::AVX2:
    return base;
  case X86Variant::AVXVNNI:
    return base && f.avxvnni;
  case X86Variant::AVX512:
    return v4;
  case X86Variant::AVX512VNNI:
    return v4 && f.avx512vnni;
  }
  return false;
}

std::vector<X86Variant> rankVariants(const CpuFeatures &f, bool int8Path) {
  static constexpr X86Variant int8Order[] = {
      X86Variant::AVX512VNNI, X86Variant::AVXVNNI, X86Variant::AVX512,
      X86Variant::AVX2};
  static constexpr X86Variant fp32Order[] = {
      X86Variant::AVX512VNNI, X86Variant::AVX512, X86Variant::AVXVNNI,
      X86Variant::AVX2};
  std::vector<X86Variant> out;
  for (X86Variant v : int8Path ? int8Order : fp32Order)
    if (supportsVariant(f, v))
      out.push_back(v);
  return out;
}

} // namespace lowbitrt::x86
