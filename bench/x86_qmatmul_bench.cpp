//===- x86_qmatmul_bench.cpp - generated x86 qmatmul benchmark --*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// Generates int4 qmatmul kernels (best ISA of this CPU), loads them with
// dlopen from a memfd, and measures GEMV/GEMM on weights streamed from DRAM:
// the packed matrices are replicated over >= 1 GiB (--gib) and every call
// uses the next copy, as decode does. A read-bandwidth probe over the same
// buffer with the same thread split runs in the same process right before
// each kernel measurement. Prints one table and one JSON line.
//
// Usage: lowbit-x86-bench [--quick] [--gib G] [--reps R] [--path int8|fp32]
//                         [--isa NAME] [--dump-so FILE]
//
//===----------------------------------------------------------------------===//

#include "CpuFeatures.h"
#include "KernelGen.h"
#include "Repack.h"
#include "lowbitrt/X86KernelABI.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <functional>
#include <random>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace lowbit::x86;
namespace rt = lowbitrt::x86;

namespace {

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// A minimal spinning pool: run(fn) calls fn(i) for i in [0, n) on n threads
/// (the caller is thread 0) and returns when all are done.
class SpinPool {
public:
  explicit SpinPool(int n) : n(n) {
    for (int i = 1; i < n; ++i)
      workers.emplace_back([this, i] { loop(i); });
  }
  ~SpinPool() {
    stop.store(true);
    for (auto &t : workers)
      t.join();
  }
  void run(const std::function<void(int)> &fn) {
    job = &fn;
    done.store(0, std::memory_order_relaxed);
    gen.fetch_add(1, std::memory_order_release);
    fn(0);
    for (unsigned spins = 0; done.load(std::memory_order_acquire) != n - 1;)
      relax(spins);
  }

private:
  /// Spins briefly, then yields so an oversubscribed machine still makes
  /// progress.
  static void relax(unsigned &spins) {
    if (++spins < 4096)
      __builtin_ia32_pause();
    else
      std::this_thread::yield();
  }
  void loop(int i) {
    uint64_t seen = 0;
    while (true) {
      uint64_t g;
      for (unsigned spins = 0;
           (g = gen.load(std::memory_order_acquire)) == seen;) {
        if (stop.load(std::memory_order_relaxed))
          return;
        relax(spins);
      }
      seen = g;
      (*job)(i);
      done.fetch_add(1, std::memory_order_release);
    }
  }
  int n;
  std::vector<std::thread> workers;
  std::atomic<uint64_t> gen{0};
  std::atomic<int> done{0};
  std::atomic<bool> stop{false};
  const std::function<void(int)> *job = nullptr;
};

/// Sums 64-bit words (the read-bandwidth probe).
__attribute__((noinline)) uint64_t readSum(const uint8_t *p, size_t bytes) {
  const uint64_t *w = reinterpret_cast<const uint64_t *>(p);
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

std::vector<char> dumpOrDie(llvm::Expected<std::vector<char>> e) {
  if (!e) {
    llvm::errs() << "error: " << llvm::toString(e.takeError()) << "\n";
    std::exit(1);
  }
  return std::move(*e);
}

struct Result {
  int64_t G, K, N, B;
  int threads;
  std::string isa, path;
  double gbps, probe, gflops, usPerCall;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  bool quick = false;
  double gib = 1.0;
  int reps = 5;
  std::string pathArg = "int8", isaArg, dumpSo;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--gib" && i + 1 < argc)
      gib = std::atof(argv[++i]);
    else if (a == "--reps" && i + 1 < argc)
      reps = std::atoi(argv[++i]);
    else if (a == "--path" && i + 1 < argc)
      pathArg = argv[++i];
    else if (a == "--isa" && i + 1 < argc)
      isaArg = argv[++i];
    else if (a == "--dump-so" && i + 1 < argc)
      dumpSo = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: %s [--quick] [--gib G] [--reps R] [--path int8|fp32]"
                   " [--isa avx2|avxvnni|avx512|avx512vnni] [--dump-so FILE]\n",
                   argv[0]);
      return 2;
    }
  }
  ArithPath path = pathArg == "fp32" ? ArithPath::FP32 : ArithPath::Int8;
  rt::CpuFeatures feats = rt::detectCpuFeatures();
  std::vector<rt::X86Variant> ranked =
      rt::rankVariants(feats, path == ArithPath::Int8);
  if (ranked.empty()) {
    std::fprintf(stderr, "this CPU has no supported x86 kernel variant "
                         "(needs AVX2+FMA+F16C)\n");
    return 1;
  }
  Isa isa = Isa(int(ranked.front()));
  for (Isa cand : {Isa::AVX2, Isa::AVXVNNI, Isa::AVX512, Isa::AVX512VNNI})
    if (isaArg == isaName(cand).str())
      isa = cand;
  unsigned bigTile = (isa == Isa::AVX512 || isa == Isa::AVX512VNNI) ? 8 : 4;
  std::printf("cpu: %s\nkernels: %s %s, f16 scales, symmetric int4\n",
              feats.describe().c_str(), isaName(isa).str().c_str(),
              pathName(path).str().c_str());

  std::vector<int64_t> groups = {128, 32};
  std::vector<std::pair<int64_t, int64_t>> shapes = {
      {4096, 4096}, {4096, 11008}, {11008, 4096}};
  std::vector<int64_t> batches = {1, 8, 32};
  std::vector<int> threadCounts = {1, 2};
  if (quick) {
    groups = {128};
    shapes = {{4096, 4096}};
  }

  // Generate every kernel in one library.
  std::vector<KernelKey> keys;
  for (int64_t G : groups)
    for (auto [K, N] : shapes)
      for (unsigned bt : {1u, bigTile}) {
        KernelKey k;
        k.bits = 4;
        k.groupSize = G;
        k.symmetric = true;
        k.scaleType = ScaleType::F16;
        k.K = K;
        k.N = N;
        k.batchTile = bt;
        k.isa = isa;
        k.path = path;
        keys.push_back(k);
      }
  double t0 = now();
  std::vector<char> so = dumpOrDie(buildKernelLibrary(keys));
  std::printf("generated %zu kernels in %.2f s (%zu bytes of shared object)\n",
              keys.size(), now() - t0, so.size());
  if (!dumpSo.empty()) {
    FILE *f = std::fopen(dumpSo.c_str(), "wb");
    if (f) {
      std::fwrite(so.data(), 1, so.size(), f);
      std::fclose(f);
    }
  }
  if (!rt::supportsVariant(feats, rt::X86Variant(int(isa)))) {
    std::printf("this CPU cannot run %s kernels; generated only\n",
                isaName(isa).str().c_str());
    return 0;
  }
  int fd = memfd_create("lowbit-x86-bench", 0);
  if (fd < 0 || write(fd, so.data(), so.size()) != ssize_t(so.size())) {
    std::perror("memfd");
    return 1;
  }
  std::string soPath = "/proc/self/fd/" + std::to_string(fd);
  void *lib = dlopen(soPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }

  size_t bufBytes = size_t(gib * (1ull << 30));
  uint8_t *buf =
      static_cast<uint8_t *>(mmap(nullptr, bufBytes, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (buf == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  madvise(buf, bufBytes, MADV_HUGEPAGE);

  std::mt19937 rng(7);
  std::vector<Result> results;
  std::printf("\n%5s %6s %6s %3s %3s | %9s %9s %7s %9s %9s\n", "G", "K", "N",
              "B", "thr", "us/call", "weight GB/s", "read GB/s", "% read",
              "GFLOP/s");
  for (int64_t G : groups) {
    for (auto [K, N] : shapes) {
      auto l = *PackedLayout::get(4, G, true, ScaleType::F16, K, N);
      int64_t ng = l.numGroups();
      std::vector<uint8_t> codes(N * K);
      std::vector<float> scales(N * ng);
      std::uniform_int_distribution<int> cd(0, 15);
      std::uniform_real_distribution<float> sd(0.001f, 0.01f);
      for (auto &c : codes)
        c = uint8_t(cd(rng));
      for (auto &s : scales)
        s = sd(rng);
      std::vector<uint8_t> packed = *repack(l, codes, scales, {});
      size_t stride = (packed.size() + 4095) & ~size_t(4095);
      size_t copies = bufBytes / stride;
      for (size_t c = 0; c < copies; ++c)
        std::memcpy(buf + c * stride, packed.data(), packed.size());
      size_t span = copies * stride;

      for (int64_t B : batches) {
        std::vector<float> x(B * K), y(B * N);
        std::normal_distribution<float> nd;
        for (auto &v : x)
          v = nd(rng);
        KernelKey key;
        key.bits = 4;
        key.groupSize = G;
        key.scaleType = ScaleType::F16;
        key.K = K;
        key.N = N;
        key.batchTile = B == 1 ? 1 : bigTile;
        key.isa = isa;
        key.path = path;
        auto fn = reinterpret_cast<lowbit_x86_qmatmul_fn>(
            dlsym(lib, key.symbolName().c_str()));
        if (!fn) {
          std::fprintf(stderr, "missing %s\n", key.symbolName().c_str());
          return 1;
        }
        for (int threads : threadCounts) {
          SpinPool pool(threads);
          int64_t tiles = (N + kTileRows - 1) / kTileRows;
          auto rangeOf = [&](int i) {
            int64_t t0 = tiles * i / threads, t1 = tiles * (i + 1) / threads;
            return std::pair<int64_t, int64_t>(t0 * kTileRows,
                                               std::min(N, t1 * kTileRows));
          };
          // Calls per repetition: all copies at batch 1, fewer when slow.
          size_t calls = copies;
          if (B > 1)
            calls = std::max<size_t>(copies / size_t(B / 2), 8);
          if (quick)
            calls = std::min<size_t>(calls, 64);
          std::vector<double> kernelT, probeT;
          std::atomic<uint64_t> sink{0};
          for (int r = 0; r < reps + 1; ++r) {
            // Probe: each thread reads its share of the same bytes.
            double p0 = now();
            pool.run([&](int i) {
              uint64_t s = 0;
              size_t part = span / threads;
              s += readSum(buf + part * i, part);
              sink += s;
            });
            double pt = now() - p0;
            double k0 = now();
            for (size_t c = 0; c < calls; ++c) {
              const uint8_t *w = buf + (c % copies) * stride;
              pool.run([&](int i) {
                auto [n0, n1] = rangeOf(i);
                fn(x.data(), B, w, nullptr, y.data(), n0, n1);
              });
            }
            double kt = now() - k0;
            if (r == 0)
              continue; // Warm-up.
            probeT.push_back(pt);
            kernelT.push_back(kt);
          }
          double kBest = *std::min_element(kernelT.begin(), kernelT.end());
          double kMed = median(kernelT);
          double pBest = *std::min_element(probeT.begin(), probeT.end());
          double perCall = kMed / double(calls);
          double gbps = double(packed.size()) * calls / kMed / 1e9;
          double probe = double(span) / pBest / 1e9;
          Result res{G,
                     K,
                     N,
                     B,
                     threads,
                     isaName(isa).str(),
                     pathName(path).str(),
                     gbps,
                     probe,
                     2.0 * B * K * N / perCall / 1e9,
                     perCall * 1e6};
          (void)kBest;
          results.push_back(res);
          std::printf(
              "%5lld %6lld %6lld %3lld %3d | %9.1f %11.1f %9.1f %7.0f%% "
              "%9.1f\n",
              (long long)G, (long long)K, (long long)N, (long long)B, threads,
              res.usPerCall, res.gbps, res.probe, 100.0 * res.gbps / res.probe,
              res.gflops);
          std::fflush(stdout);
          if (sink.load() == 42)
            std::printf(" ");
        }
      }
    }
  }
  std::printf("\n(weight GB/s counts packed bytes incl. f16 scales; medians of "
              "%d repetitions; read GB/s = best read probe over the same "
              "%.2f GiB buffer with the same threads, in the same run)\n",
              reps, gib);
  // One JSON line.
  std::string json = "{\"bench\":\"lowbit-x86-qmatmul\",\"cpu\":\"" +
                     feats.describe() + "\",\"results\":[";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result &r = results[i];
    char line[512];
    std::snprintf(line, sizeof(line),
                  "%s{\"bits\":4,\"group\":%lld,\"K\":%lld,\"N\":%lld,"
                  "\"batch\":%lld,\"threads\":%d,\"isa\":\"%s\","
                  "\"path\":\"%s\",\"us_per_call\":%.2f,"
                  "\"weight_gbps\":%.2f,\"read_gbps\":%.2f,"
                  "\"frac_read_bw\":%.3f,\"gflops\":%.1f}",
                  i ? "," : "", (long long)r.G, (long long)r.K, (long long)r.N,
                  (long long)r.B, r.threads, r.isa.c_str(), r.path.c_str(),
                  r.usPerCall, r.gbps, r.probe, r.gbps / r.probe, r.gflops);
    json += line;
  }
  json += "]}";
  std::printf("%s\n", json.c_str());
  munmap(buf, bufBytes);
  dlclose(lib);
  close(fd);
  return 0;
}
