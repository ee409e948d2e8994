//===- Parallel.h - kernel-side helpers for ThreadPool ----------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Private helpers shared by the kernel sources.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_KERNELS_PARALLEL_H
#define LOWBITRT_KERNELS_PARALLEL_H

#include "lowbitrt/Kernels.h"

#include <cstdint>

namespace lowbit::rt::kernels::detail {

/// Runs \p fn(begin, end) over [0, n), on \p pool when there is one and the
/// loop has at least \p minParallel iterations, inline otherwise. Callers
/// split only over independent outputs, so the result never depends on the
/// split.
template <typename Fn>
void parallelFor(ThreadPool *pool, int64_t n, int64_t minParallel, Fn &&fn) {
  if (n <= 0)
    return;
  if (!pool || pool->getNumThreads() == 1 || n < minParallel) {
    fn(int64_t(0), n);
    return;
  }
  pool->parallelFor(n, [&](int64_t begin, int64_t end) { fn(begin, end); });
}

/// Elementwise loops go parallel only above this many elements.
constexpr int64_t kMinParallelElements = 1 << 15;

} // namespace lowbit::rt::kernels::detail

#endif // LOWBITRT_KERNELS_PARALLEL_H
