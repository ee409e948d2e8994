//===- ReadProbe.h - the benchmarks' read-bandwidth probe -------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// A streaming sum of 64-bit words: the plain read-bandwidth probe the
// benchmarks time beside the kernels they measure, over the same memory and
// with the same threads.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_BENCH_READPROBE_H
#define LOWBIT_BENCH_READPROBE_H

#include <cstddef>
#include <cstdint>

namespace lowbit::bench {

/// Sums the 64-bit words of [p, p + bytes) (four independent chains).
__attribute__((noinline)) inline uint64_t readSum(const void *p, size_t bytes) {
  const uint64_t *w = static_cast<const uint64_t *>(p);
  size_t n = bytes / 8;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    a += w[i];
    b ^= w[i + 1];
    c += w[i + 2];
    d ^= w[i + 3];
  }
  return a + b + c + d;
}

} // namespace lowbit::bench

#endif // LOWBIT_BENCH_READPROBE_H
