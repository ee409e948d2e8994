//===- ThreadPool.cpp - data-parallel loops for the kernels -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A fixed pool of workers that run one parallelFor at a time. The caller
/// publishes a job and bumps an atomic generation counter; workers and the
/// caller then claim chunks of the index range from an atomic counter. The
/// caller returns once every worker has checked out of the generation, so
/// the job (which lives on the caller's stack) is never used after return.
///
/// A decode step issues a few hundred loops of tens of microseconds each,
/// with short serial ops between them, so waking sleeping threads through
/// the kernel for each loop would cost as much as the loops. Workers
/// therefore spin (with a pause hint) for up to kSpinNanos after a loop,
/// watching the generation, before they sleep on a condition variable; the
/// caller likewise spins before sleeping while it waits for the workers. A
/// caller notifies only when a worker sleeps, and a worker only when the
/// caller sleeps (sequentially consistent counters, checked again under
/// the mutex, so no wake-up is lost).
///
/// Workers are POSIX threads with at least kMinWorkerStack bytes of stack:
/// the generated x86 qmatmul kernels keep up to ~600 KB of activation scratch
/// on the stack, and the default stack size of a thread depends on the
/// process's RLIMIT_STACK.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Kernels.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <pthread.h>
#include <thread>

using namespace lowbit::rt::kernels;

/// The least stack a worker thread gets.
static constexpr size_t kMinWorkerStack = size_t(8) << 20;

/// How long a worker (or the waiting caller) spins before it sleeps.
static constexpr int64_t kSpinNanos = 200 * 1000;

/// A spin-wait hint to the CPU (a pause on x86).
static inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// Spins until \p done() or kSpinNanos pass; true when done.
template <typename Pred> static bool spinUntil(Pred done) {
  auto start = std::chrono::steady_clock::now();
  for (unsigned i = 1;; ++i) {
    if (done())
      return true;
    cpuRelax();
    // The clock is read every 64 rounds (a pause is ~10-140 cycles).
    if (i % 64 == 0 && std::chrono::steady_clock::now() - start >
                           std::chrono::nanoseconds(kSpinNanos))
      return done();
  }
}

struct ThreadPool::Impl {
  /// Serializes parallelFor calls from different threads.
  std::mutex submitMutex;

  /// Sleeping workers wait on workAvailable, a sleeping caller on workDone.
  std::mutex mutex;
  std::condition_variable workAvailable;
  std::condition_variable workDone;
  std::atomic<uint64_t> generation{0};
  std::atomic<unsigned> pendingWorkers{0};
  std::atomic<unsigned> sleepingWorkers{0};
  std::atomic<bool> callerSleeping{false};
  std::atomic<bool> stopping{false};

  /// The current job, written before `generation` is bumped and valid while
  /// pendingWorkers > 0.
  const std::function<void(int64_t, int64_t)> *job = nullptr;
  int64_t jobSize = 0;
  int64_t chunkSize = 1;
  std::atomic<int64_t> nextChunk{0};

  std::vector<pthread_t> workers;
  /// The thread whose parallelFor is running, if any.
  std::atomic<std::thread::id> activeCaller{};

  /// Claims and runs chunks of the current job until none is left.
  void runChunks() {
    int64_t numChunks = (jobSize + chunkSize - 1) / chunkSize;
    for (;;) {
      int64_t c = nextChunk.fetch_add(1, std::memory_order_relaxed);
      if (c >= numChunks)
        return;
      int64_t begin = c * chunkSize;
      int64_t end = std::min(jobSize, begin + chunkSize);
      (*job)(begin, end);
    }
  }

  /// Waits for a generation other than \p seen; false when stopping.
  bool waitForWork(uint64_t seen) {
    auto ready = [&] { return stopping.load() || generation.load() != seen; };
    if (!spinUntil(ready)) {
      std::unique_lock<std::mutex> lock(mutex);
      sleepingWorkers.fetch_add(1);
      workAvailable.wait(lock, ready);
      sleepingWorkers.fetch_sub(1);
    }
    return !stopping.load();
  }

  void workerLoop() {
    uint64_t seen = 0;
    while (waitForWork(seen)) {
      seen = generation.load();
      runChunks();
      if (pendingWorkers.fetch_sub(1) == 1 && callerSleeping.load()) {
        std::lock_guard<std::mutex> lock(mutex);
        workDone.notify_one();
      }
    }
  }

  /// True on a thread that is already running a task of this pool: a worker,
  /// or the caller of the running parallelFor.
  bool insideLoop() const {
    std::thread::id self = std::this_thread::get_id();
    if (activeCaller.load(std::memory_order_relaxed) == self)
      return true;
    pthread_t me = pthread_self();
    for (pthread_t w : workers)
      if (pthread_equal(w, me))
        return true;
    return false;
  }

  static void *workerMain(void *arg) {
    static_cast<Impl *>(arg)->workerLoop();
    return nullptr;
  }
};

ThreadPool::ThreadPool(unsigned numThreads) : impl(std::make_unique<Impl>()) {
  if (numThreads == 0)
    numThreads = std::max(1u, std::thread::hardware_concurrency());
  impl->workers.reserve(numThreads - 1);
  pthread_attr_t attr;
  bool haveAttr = pthread_attr_init(&attr) == 0;
  if (haveAttr) {
    size_t stack = 0;
    if (pthread_attr_getstacksize(&attr, &stack) != 0 ||
        stack < kMinWorkerStack)
      pthread_attr_setstacksize(&attr, kMinWorkerStack);
  }
  // A worker that cannot be started only makes the pool smaller.
  for (unsigned i = 1; i < numThreads; ++i) {
    pthread_t thread;
    if (pthread_create(&thread, haveAttr ? &attr : nullptr, &Impl::workerMain,
                       impl.get()) != 0)
      break;
    impl->workers.push_back(thread);
  }
  if (haveAttr)
    pthread_attr_destroy(&attr);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl->mutex);
    impl->stopping.store(true);
  }
  impl->workAvailable.notify_all();
  for (pthread_t t : impl->workers)
    pthread_join(t, nullptr);
}

unsigned ThreadPool::getNumThreads() const {
  return static_cast<unsigned>(impl->workers.size()) + 1;
}

void ThreadPool::parallelFor(int64_t n,
                             const std::function<void(int64_t, int64_t)> &fn) {
  // A few chunks per thread balance uneven rows (e.g. causal attention)
  // without making chunks so small that claiming them dominates.
  run(n, static_cast<int64_t>(getNumThreads()) * 4, fn);
}

void ThreadPool::parallelForPerThread(
    int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  run(n, getNumThreads(), fn);
}

void ThreadPool::run(int64_t n, int64_t targetChunks,
                     const std::function<void(int64_t, int64_t)> &fn) {
  if (n <= 0)
    return;
  if (impl->workers.empty() || n == 1 || impl->insideLoop()) {
    fn(0, n);
    return;
  }

  std::lock_guard<std::mutex> submitLock(impl->submitMutex);
  impl->activeCaller.store(std::this_thread::get_id(),
                           std::memory_order_relaxed);
  impl->job = &fn;
  impl->jobSize = n;
  impl->chunkSize = std::max<int64_t>(1, (n + targetChunks - 1) / targetChunks);
  impl->nextChunk.store(0, std::memory_order_relaxed);
  impl->pendingWorkers.store(static_cast<unsigned>(impl->workers.size()));
  // Publishes the job (sequentially consistent: the workers' loads of the
  // generation acquire it).
  impl->generation.fetch_add(1);
  if (impl->sleepingWorkers.load() > 0) {
    std::lock_guard<std::mutex> lock(impl->mutex);
    impl->workAvailable.notify_all();
  }
  impl->runChunks();

  auto finished = [&] { return impl->pendingWorkers.load() == 0; };
  if (!spinUntil(finished)) {
    std::unique_lock<std::mutex> lock(impl->mutex);
    impl->callerSleeping.store(true);
    impl->workDone.wait(lock, finished);
    impl->callerSleeping.store(false);
  }
  impl->job = nullptr;
  impl->activeCaller.store(std::thread::id(), std::memory_order_relaxed);
}
