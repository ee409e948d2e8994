//===- ThreadPool.cpp - data-parallel loops for the kernels -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A fixed pool of workers that run one parallelFor at a time. The caller
/// publishes a job under a mutex and bumps a generation counter; workers and
/// the caller then claim chunks of the index range from an atomic counter.
/// The caller returns once every worker has checked out of the generation, so
/// the job (which lives on the caller's stack) is never used after return.
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
#include <condition_variable>
#include <mutex>
#include <pthread.h>
#include <thread>

using namespace lowbit::rt::kernels;

/// The least stack a worker thread gets.
static constexpr size_t kMinWorkerStack = size_t(8) << 20;

struct ThreadPool::Impl {
  /// Serializes parallelFor calls from different threads.
  std::mutex submitMutex;

  /// Guards everything below up to `workers`.
  std::mutex mutex;
  std::condition_variable workAvailable;
  std::condition_variable workDone;
  uint64_t generation = 0;
  unsigned pendingWorkers = 0;
  bool stopping = false;

  /// The current job; valid while pendingWorkers > 0.
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

  void workerLoop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        workAvailable.wait(lock,
                           [&] { return stopping || generation != seen; });
        if (stopping)
          return;
        seen = generation;
      }
      runChunks();
      std::lock_guard<std::mutex> lock(mutex);
      if (--pendingWorkers == 0)
        workDone.notify_one();
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
    impl->stopping = true;
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
  if (n <= 0)
    return;
  if (impl->workers.empty() || n == 1 || impl->insideLoop()) {
    fn(0, n);
    return;
  }

  std::lock_guard<std::mutex> submitLock(impl->submitMutex);
  impl->activeCaller.store(std::this_thread::get_id(),
                           std::memory_order_relaxed);
  // A few chunks per thread balance uneven rows (e.g. causal attention)
  // without making chunks so small that claiming them dominates.
  int64_t targetChunks = static_cast<int64_t>(getNumThreads()) * 4;
  {
    std::lock_guard<std::mutex> lock(impl->mutex);
    impl->job = &fn;
    impl->jobSize = n;
    impl->chunkSize =
        std::max<int64_t>(1, (n + targetChunks - 1) / targetChunks);
    impl->nextChunk.store(0, std::memory_order_relaxed);
    impl->pendingWorkers = static_cast<unsigned>(impl->workers.size());
    ++impl->generation;
  }
  impl->workAvailable.notify_all();
  impl->runChunks();

  std::unique_lock<std::mutex> lock(impl->mutex);
  impl->workDone.wait(lock, [&] { return impl->pendingWorkers == 0; });
  impl->job = nullptr;
  impl->activeCaller.store(std::thread::id(), std::memory_order_relaxed);
}
