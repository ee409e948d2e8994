//===- bundle_open_bench.cpp - checksum speed and bundle open time --------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// lowbit-bundle-bench: how much the integrity checks of bundle format
/// version 2 cost.
///
///  1. CRC-32C throughput on a 1 GiB buffer in memory: the SSE4.2 path that
///     the reader uses on x86-64 and the portable slicing-by-8 path.
///  2. The time to touch every page of the file through a fresh mapping (the
///     floor any reader that looks at all the bytes pays) and the time of
///     Bundle::open (map + validate + verify every checksum), on a bundle of
///     about 1 GiB written by BundleWriter (64 tensors of 16 MiB), with the
///     file in the page cache (just written).
///     Then both again with the file's pages evicted from the page cache
///     (posix_fadvise DONTNEED on this file only), i.e. read from the disk.
///  3. The same for the bundles named on the command line (e.g. a compiled
///     1.1B model).
///
/// usage: lowbit-bundle-bench [--dir DIR] [--keep] [BUNDLE...]
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Bundle.h"

#include "BundleFormat.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace lowbit::rt;
namespace fmt = lowbit::rt::bundle;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// CPU time of this thread, in seconds: unlike wall time, it does not count
/// the time the thread waits for a core on a loaded machine.
double cpuSeconds() {
  timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Timing {
  double wall = 1e30, cpu = 1e30;
};

/// The best of `reps` wall and thread-CPU timings of `f`, in seconds.
template <typename F> Timing best(int reps, F &&f) {
  Timing t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    double c0 = cpuSeconds();
    f();
    t.cpu = std::min(t.cpu, cpuSeconds() - c0);
    t.wall = std::min(t.wall, seconds(t0, Clock::now()));
  }
  return t;
}

/// Maps `path` and reads one byte of every page (what the kernel must do at
/// least for anything that looks at every byte).
void touchPages(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0)
    std::exit(1);
  size_t size = static_cast<size_t>(st.st_size);
  void *map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED)
    std::exit(1);
  volatile uint8_t sink = 0;
  const auto *p = static_cast<const uint8_t *>(map);
  for (size_t i = 0; i < size; i += 4096)
    sink = sink + p[i];
  ::munmap(map, size);
}

/// Drops the pages of `path` from the page cache (this file only), so that
/// the next read comes from the disk.
void evict(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    std::exit(1);
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

void benchOpen(const std::string &path) {
  std::string err;
  double mb = 0;
  Timing open = best(3, [&] {
    auto b = Bundle::open(path, err);
    if (!b) {
      std::fprintf(stderr, "error: %s\n", err.c_str());
      std::exit(1);
    }
    mb = b->size() / 1e6;
  });
  Timing touch = best(3, [&] { touchPages(path); });
  // From the disk: the file's pages are evicted before each run.
  Timing coldTouch, coldOpen;
  for (int i = 0; i < 2; ++i) {
    evict(path);
    Timing t = best(1, [&] { touchPages(path); });
    coldTouch.wall = std::min(coldTouch.wall, t.wall);
    coldTouch.cpu = std::min(coldTouch.cpu, t.cpu);
    evict(path);
    t = best(1, [&] { auto b = Bundle::open(path, err); });
    coldOpen.wall = std::min(coldOpen.wall, t.wall);
    coldOpen.cpu = std::min(coldOpen.cpu, t.cpu);
  }
  std::printf("%s: %.1f MB\n  touch every page: %7.1f ms wall, %7.1f ms "
              "CPU\n  Bundle::open:     %7.1f ms wall, %7.1f ms CPU (%.1f "
              "GB/s of CPU time)\n",
              path.c_str(), mb, touch.wall * 1e3, touch.cpu * 1e3,
              open.wall * 1e3, open.cpu * 1e3, mb / 1e3 / open.cpu);
  std::printf("  from disk (pages evicted first):\n"
              "  touch every page: %7.1f ms wall, %7.1f ms CPU\n"
              "  Bundle::open:     %7.1f ms wall, %7.1f ms CPU\n",
              coldTouch.wall * 1e3, coldTouch.cpu * 1e3, coldOpen.wall * 1e3,
              coldOpen.cpu * 1e3);
}

} // namespace

int main(int argc, char **argv) {
  std::string dir = "/tmp";
  bool keep = false;
  std::vector<std::string> bundles;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--keep")
      keep = true;
    else if (a == "-h" || a == "--help") {
      std::printf("usage: %s [--dir DIR] [--keep] [BUNDLE...]\n", argv[0]);
      return 0;
    } else
      bundles.push_back(a);
  }

  // 1. Checksum throughput.
  const size_t kBytes = size_t(1) << 30;
  std::vector<uint8_t> buf(kBytes);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < kBytes; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&buf[i], &x, 8);
  }
  uint32_t crc = 0;
  Timing hw = best(5, [&] { crc = fmt::crc32c(0, buf.data(), kBytes); });
  const size_t kPortableBytes = kBytes / 4;
  uint32_t crcSw = 0;
  Timing sw = best(
      3, [&] { crcSw = fmt::crc32cPortable(0, buf.data(), kPortableBytes); });
  // Memory bandwidth for comparison: a plain 64-bit sum of the buffer.
  uint64_t sum = 0;
  Timing read = best(5, [&] {
    uint64_t acc[4] = {};
    for (size_t i = 0; i < kBytes; i += 32)
      for (int k = 0; k < 4; ++k) {
        uint64_t v;
        std::memcpy(&v, &buf[i + 8 * k], 8);
        acc[k] += v;
      }
    sum = acc[0] + acc[1] + acc[2] + acc[3];
  });
  if (fmt::crc32c(0, buf.data(), kPortableBytes) != crcSw) {
    std::fprintf(stderr, "error: the two CRC-32C paths disagree\n");
    return 1;
  }
  auto line = [](const char *what, size_t bytes, Timing t) {
    std::printf("%-34s %7.1f ms wall (%6.0f MB/s), %7.1f ms CPU (%6.0f "
                "MB/s)\n",
                what, t.wall * 1e3, bytes / 1e6 / t.wall, t.cpu * 1e3,
                bytes / 1e6 / t.cpu);
  };
#if defined(__x86_64__)
  bool sse42 = __builtin_cpu_supports("sse4.2");
#else
  bool sse42 = false;
#endif
  line(sse42 ? "crc32c sse4.2, 1 GiB:" : "crc32c, 1 GiB:", kBytes, hw);
  line("crc32c portable, 256 MiB:", kPortableBytes, sw);
  line("64-bit sum (memory read), 1 GiB:", kBytes, read);
  std::printf("(crc %08x, sum %016llx)\n", crc,
              static_cast<unsigned long long>(sum));

  // 2. A 1 GiB bundle written by BundleWriter.
  {
    BundleWriter w;
    std::string manifest = "{\"tensors\": 64}";
    w.setManifest(manifest);
    const size_t kTensor = 16u << 20;
    for (int i = 0; i < 64; ++i)
      w.addTensor("layers." + std::to_string(i) + ".weight", DType::Bytes,
                  {static_cast<int64_t>(kTensor)},
                  buf.data() + (size_t(i) * kTensor) % kBytes, kTensor);
    std::string path = dir + "/lowbit-bundle-bench.lowbit";
    std::string err;
    auto t0 = Clock::now();
    if (!w.write(path, err)) {
      std::fprintf(stderr, "error: %s\n", err.c_str());
      return 1;
    }
    std::printf("wrote %s in %.0f ms\n", path.c_str(),
                seconds(t0, Clock::now()) * 1e3);
    benchOpen(path);
    if (!keep)
      ::unlink(path.c_str());
  }

  // 3. Bundles from the command line.
  for (const std::string &path : bundles)
    benchOpen(path);
  return 0;
}
