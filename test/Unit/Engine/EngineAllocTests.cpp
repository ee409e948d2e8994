//===- EngineAllocTests.cpp - no allocation per decoded token ---*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// Replaces the global operator new of this test executable to count
// allocations, and checks that after a warm-up, decode steps and sampling
// (greedy and stochastic, one and two threads) allocate nothing when the
// session has a max_context: every buffer is allocated when the session is
// created. Without one, only the steps that double the KV cache allocate.
//
//===----------------------------------------------------------------------===//

#include "TinyModel.h"

#include "lowbitrt/lowbit_rt.h"

#include "gtest/gtest.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

static std::atomic<long> allocations{0};

void *operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void *p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc();
}
void *operator new[](std::size_t n) { return operator new(n); }
void *operator new(std::size_t n, const std::nothrow_t &) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void *operator new[](std::size_t n, const std::nothrow_t &t) noexcept {
  return operator new(n, t);
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }

namespace {

/// Decodes 40 tokens after a prompt of 4 and 3 warm-up steps; returns how
/// many of the 40 steps allocated (and their total allocations in
/// `*total`). `maxContext` 0 lets the KV cache grow.
void countAllocations(int threads, float temperature, int64_t maxContext,
                      int *stepsThatAllocated, long *total) {
  const tiny::TinyModel &tm = tiny::TinyModel::get();
  ASSERT_FALSE(tm.kernelLib.empty());
  std::string path = tm.write(tm.manifest);
  lowbit_rt_model *model = nullptr;
  ASSERT_EQ(lowbit_rt_model_open(path.c_str(), &model), LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  std::remove(path.c_str());
  lowbit_rt_session_options o{};
  o.threads = threads;
  o.max_batch = 8;
  o.max_context = maxContext;
  lowbit_rt_session *s = nullptr;
  ASSERT_EQ(lowbit_rt_session_create(model, &o, &s), LOWBIT_RT_OK);

  int32_t prompt[] = {0, 7, 3, 9};
  ASSERT_EQ(lowbit_rt_prefill(s, prompt, 4, nullptr), LOWBIT_RT_OK);
  lowbit_rt_sampling p{};
  p.temperature = temperature;
  p.top_k = 30;
  p.top_p = 0.9f;
  p.seed = 5;
  int32_t tok = 0;
  // Warm-up.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(lowbit_rt_sample(s, &p, &tok), LOWBIT_RT_OK);
    ASSERT_EQ(lowbit_rt_decode(s, tok), LOWBIT_RT_OK);
  }
  *stepsThatAllocated = 0;
  *total = 0;
  for (int i = 0; i < 40; ++i) {
    long before = allocations.load();
    ASSERT_EQ(lowbit_rt_sample(s, &p, &tok), LOWBIT_RT_OK);
    ASSERT_EQ(lowbit_rt_decode(s, tok), LOWBIT_RT_OK);
    long n = allocations.load() - before;
    *stepsThatAllocated += n > 0;
    *total += n;
  }
  EXPECT_EQ(lowbit_rt_session_position(s), 4 + 3 + 40);
  lowbit_rt_session_free(s);
  lowbit_rt_model_free(model);
}

/// With max_context set the caches are allocated at once: decoding and
/// sampling allocate nothing.
void checkNoAllocation(int threads, float temperature) {
  int steps = -1;
  long total = -1;
  countAllocations(threads, temperature, tiny::kMaxPos, &steps, &total);
  EXPECT_EQ(total, 0) << "allocations in 40 decode steps";
}

TEST(EngineAlloc, CounterWorks) {
  long before = allocations.load();
  // Stored through a volatile so the compiler cannot elide the pair.
  int *volatile p = new int(3);
  delete p;
  EXPECT_EQ(allocations.load() - before, 1);
}

TEST(EngineAlloc, GreedyOneThread) { checkNoAllocation(1, 0.0f); }
TEST(EngineAlloc, SampledTwoThreads) { checkNoAllocation(2, 0.8f); }
TEST(EngineAlloc, SampledFourThreads) { checkNoAllocation(4, 1.0f); }

// Without max_context the KV caches start at 16 rows and double: of the
// steps to positions 8..47 only the two that cross 16 and 32 rows allocate.
TEST(EngineAlloc, GrowingCacheAllocatesOnlyWhenDoubling) {
  int steps = -1;
  long total = -1;
  countAllocations(1, 0.0f, 0, &steps, &total);
  EXPECT_EQ(steps, 2) << total << " allocations in all";
}

} // namespace
