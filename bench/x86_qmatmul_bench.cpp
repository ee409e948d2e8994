//===- x86_qmatmul_bench.cpp - generated x86 qmatmul benchmark --*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// Generates int4 qmatmul kernels (best ISA of this CPU, int8 and fp32 paths),
// loads them with dlopen from a memfd, and measures GEMV/GEMM on weights
// streamed from DRAM: each weight set is the packed matrix replicated over
// --gib GiB (default 0.5, 16x a 32 MiB LLC) and every call uses the next
// copy, as decode does.
//
// With --ggml-lib DIR (a directory holding libggml.so, libggml-base.so and
// libggml-cpu.so, e.g. from PyPI's libggml-python; see bench/x86_vs_ggml.py)
// it also measures ggml's CPU mul_mat on the same shapes, batches and thread
// counts in the same process: q4_0 and q4_K, each with ggml's repacking
// (CPU_REPACK buffer, as llama.cpp uses by default) and without, every call
// on the next of as many distinct matrices (graphs of several mul_mats).
//
// For every (shape, batch, threads) all variants and a read-bandwidth probe
// (a plain streaming sum over a weight set with the same thread split) are
// timed round-robin inside each repetition, so machine load hits them alike;
// figures are medians over repetitions. Prints one table and one JSON line
// (also written to --json FILE).
//
// Usage: lowbit-x86-bench [--quick] [--gib G] [--reps R] [--paths int8,fp32]
//                         [--groups 128,32] [--batches 1,8,32]
//                         [--threads 1,2] [--bt N] [--isa NAME]
//                         [--ggml-lib DIR] [--json FILE] [--dump-so FILE]
//
//===----------------------------------------------------------------------===//

#include "CpuFeatures.h"
#include "KernelGen.h"
#include "ReadProbe.h"
#include "Repack.h"
#include "lowbitrt/X86KernelABI.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <functional>
#include <immintrin.h>
#include <map>
#include <memory>
#include <mutex>
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

/// A minimal pool: run(fn) calls fn(i) for i in [0, n) on n threads (the
/// caller is thread 0) and returns when all are done. Idle workers spin
/// briefly, then sleep, so they do not take a core from other code measured
/// in between (ggml's own threads).
class SpinPool {
public:
  explicit SpinPool(int n) : n(n) {
    for (int i = 1; i < n; ++i)
      workers.emplace_back([this, i] { loop(i); });
  }
  ~SpinPool() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop.store(true);
    }
    cv.notify_all();
    for (auto &t : workers)
      t.join();
  }
  void run(const std::function<void(int)> &fn) {
    job = &fn;
    done.store(0, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu);
      gen.fetch_add(1, std::memory_order_release);
    }
    if (sleepers.load() > 0)
      cv.notify_all();
    fn(0);
    for (unsigned spins = 0; done.load(std::memory_order_acquire) != n - 1;)
      if (++spins > 4096)
        std::this_thread::yield();
      else
        __builtin_ia32_pause();
  }

private:
  void loop(int i) {
    uint64_t seen = 0;
    while (true) {
      uint64_t g;
      unsigned spins = 0;
      while ((g = gen.load(std::memory_order_acquire)) == seen) {
        if (stop.load(std::memory_order_relaxed))
          return;
        if (++spins < 20000) {
          __builtin_ia32_pause();
          continue;
        }
        std::unique_lock<std::mutex> lock(mu);
        sleepers.fetch_add(1);
        cv.wait(lock, [&] { return gen.load() != seen || stop.load(); });
        sleepers.fetch_sub(1);
      }
      seen = g;
      (*job)(i);
      done.fetch_add(1, std::memory_order_release);
    }
  }
  int n;
  std::vector<std::thread> workers;
  std::atomic<uint64_t> gen{0};
  std::atomic<int> done{0}, sleepers{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  const std::function<void(int)> *job = nullptr;
};

using lowbit::bench::readSum;

/// The same with 256-bit loads, and optionally software prefetch 2 KiB ahead
/// (the kernels' own streaming pattern), so the probe is not weaker than
/// them.
template <bool Prefetch>
__attribute__((noinline, target("avx2"))) uint64_t readSumAvx2(const uint8_t *p,
                                                               size_t bytes) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t i = 0; i + 128 <= bytes; i += 128) {
    if (Prefetch) {
      __builtin_prefetch(p + i + 2048);
      __builtin_prefetch(p + i + 2048 + 64);
    }
    a = _mm256_add_epi64(a, _mm256_loadu_si256((const __m256i *)(p + i)));
    b = _mm256_xor_si256(b, _mm256_loadu_si256((const __m256i *)(p + i + 32)));
    c = _mm256_add_epi64(c, _mm256_loadu_si256((const __m256i *)(p + i + 64)));
    d = _mm256_xor_si256(d, _mm256_loadu_si256((const __m256i *)(p + i + 96)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
  alignas(32) uint64_t out[4];
  _mm256_store_si256((__m256i *)out, s);
  return out[0] + out[1] + out[2] + out[3];
}

template <typename T> T orDie(llvm::Expected<T> e) {
  if (!e) {
    llvm::errs() << "error: " << llvm::toString(e.takeError()) << "\n";
    std::exit(1);
  }
  return std::move(*e);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<int64_t> parseList(const char *s) {
  std::vector<int64_t> v;
  for (const char *p = s; *p;) {
    char *end;
    v.push_back(std::strtoll(p, &end, 10));
    p = *end == ',' ? end + 1 : end;
    if (end == p && *p)
      break;
  }
  return v;
}

/// Anonymous memory for a weight set, with huge pages when available.
struct Arena {
  uint8_t *p = nullptr;
  size_t bytes = 0;
  explicit Arena(size_t n) : bytes(n) {
    void *m = mmap(nullptr, n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      std::perror("mmap");
      std::exit(1);
    }
    madvise(m, n, MADV_HUGEPAGE);
    p = static_cast<uint8_t *>(m);
  }
  ~Arena() { munmap(p, bytes); }
};

//===----------------------------------------------------------------------===//
// ggml, loaded at run time (no build dependency). Only C API functions of
// ggml.h / ggml-backend.h / ggml-cpu.h / ggml-alloc.h with opaque pointers.
//===----------------------------------------------------------------------===//

struct GgmlInitParams {
  size_t memSize;
  void *memBuffer;
  bool noAlloc;
};
struct GgmlFeature {
  const char *name;
  const char *value;
};
enum : int { kGgmlF32 = 0, kGgmlQ4_0 = 2, kGgmlQ4_K = 12 };

struct Ggml {
  std::string why; // Non-empty when unavailable.
  std::vector<void *> libs;
  void *(*init)(GgmlInitParams);
  void (*freeCtx)(void *);
  size_t (*tensorOverhead)();
  size_t (*graphOverheadCustom)(size_t, bool);
  void *(*newTensor2d)(void *, int, int64_t, int64_t);
  void *(*mulMat)(void *, void *, void *);
  void *(*newGraphCustom)(void *, size_t, bool);
  void (*buildForwardExpand)(void *, void *);
  size_t (*quantizeChunk)(int, const float *, void *, int64_t, int64_t, int64_t,
                          const float *);
  size_t (*rowSize)(int, int64_t);
  const char *(*typeName)(int);
  const char *(*version)();
  void *(*cpuInit)();
  void (*setNThreads)(void *, int);
  void (*setThreadpool)(void *, void *);
  void (*threadpoolParamsInit)(void *, int);
  void *(*threadpoolNew)(void *);
  void (*threadpoolFree)(void *);
  void (*threadpoolPause)(void *);
  void *(*cpuBufferType)();
  void *(*allocCtxTensorsFromBuft)(void *, void *);
  void (*bufferFree)(void *);
  void (*tensorSet)(void *, const void *, size_t, size_t);
  void (*tensorGet)(const void *, void *, size_t, size_t);
  int (*graphCompute)(void *, void *);
  void *(*devByType)(int);
  void *(*devBackendReg)(void *);
  void *(*regGetProcAddress)(void *, const char *);
  const char *(*buftName)(void *);
  void (*backendFree)(void *);
  void (*logSet)(void (*)(int, const char *, void *), void *);

  void *backend = nullptr;
  void *repackBuft = nullptr;
  std::map<int, void *> pools;
  std::string features;

  bool load(const std::string &dir) {
    for (const char *n : {"libggml-base.so", "libggml-cpu.so", "libggml.so"}) {
      std::string p = dir + "/" + n;
      void *h = dlopen(p.c_str(), RTLD_NOW | RTLD_GLOBAL);
      if (!h) {
        why = std::string("dlopen failed: ") + dlerror();
        return false;
      }
      libs.push_back(h);
    }
    bool ok = true;
    auto sym = [&](auto &f, const char *name) {
      void *s = nullptr;
      for (void *h : libs)
        if ((s = dlsym(h, name)))
          break;
      if (!s) {
        if (ok)
          why = std::string("missing symbol ") + name;
        ok = false;
      }
      f = reinterpret_cast<std::remove_reference_t<decltype(f)>>(s);
    };
    sym(init, "ggml_init");
    sym(freeCtx, "ggml_free");
    sym(tensorOverhead, "ggml_tensor_overhead");
    sym(graphOverheadCustom, "ggml_graph_overhead_custom");
    sym(newTensor2d, "ggml_new_tensor_2d");
    sym(mulMat, "ggml_mul_mat");
    sym(newGraphCustom, "ggml_new_graph_custom");
    sym(buildForwardExpand, "ggml_build_forward_expand");
    sym(quantizeChunk, "ggml_quantize_chunk");
    sym(rowSize, "ggml_row_size");
    sym(typeName, "ggml_type_name");
    sym(version, "ggml_version");
    sym(cpuInit, "ggml_backend_cpu_init");
    sym(setNThreads, "ggml_backend_cpu_set_n_threads");
    sym(setThreadpool, "ggml_backend_cpu_set_threadpool");
    sym(threadpoolParamsInit, "ggml_threadpool_params_init");
    sym(threadpoolNew, "ggml_threadpool_new");
    sym(threadpoolFree, "ggml_threadpool_free");
    sym(threadpoolPause, "ggml_threadpool_pause");
    sym(cpuBufferType, "ggml_backend_cpu_buffer_type");
    sym(allocCtxTensorsFromBuft, "ggml_backend_alloc_ctx_tensors_from_buft");
    sym(bufferFree, "ggml_backend_buffer_free");
    sym(tensorSet, "ggml_backend_tensor_set");
    sym(tensorGet, "ggml_backend_tensor_get");
    sym(graphCompute, "ggml_backend_graph_compute");
    sym(devByType, "ggml_backend_dev_by_type");
    sym(devBackendReg, "ggml_backend_dev_backend_reg");
    sym(regGetProcAddress, "ggml_backend_reg_get_proc_address");
    sym(buftName, "ggml_backend_buft_name");
    sym(backendFree, "ggml_backend_free");
    sym(logSet, "ggml_log_set");
    if (!ok)
      return false;
    // Keep warnings and errors; drop the per-tensor repack messages.
    logSet(
        [](int level, const char *text, void *) {
          if (level == 3 || level == 4) // GGML_LOG_LEVEL_WARN, _ERROR
            std::fputs(text, stderr);
        },
        nullptr);
    backend = cpuInit();
    void *dev = devByType(0); // GGML_BACKEND_DEVICE_TYPE_CPU
    if (!backend || !dev) {
      why = "no ggml CPU backend";
      return false;
    }
    void *reg = devBackendReg(dev);
    using ExtraFn = void **(*)(void *);
    using FeatFn = GgmlFeature *(*)(void *);
    if (auto f = reinterpret_cast<FeatFn>(
            regGetProcAddress(reg, "ggml_backend_get_features")))
      for (GgmlFeature *ft = f(reg); ft && ft->name; ++ft)
        features += std::string(features.empty() ? "" : " ") + ft->name + "=" +
                    ft->value;
    if (auto f = reinterpret_cast<ExtraFn>(
            regGetProcAddress(reg, "ggml_backend_dev_get_extra_bufts")))
      for (void **bt = f(dev); bt && *bt; ++bt)
        if (std::string(buftName(*bt)) == "CPU_REPACK")
          repackBuft = *bt;
    return true;
  }

  /// A persistent threadpool per thread count, as llama.cpp uses.
  void useThreads(int t) {
    void *&pool = pools[t];
    if (!pool) {
      alignas(64) static unsigned char params[1 << 14];
      threadpoolParamsInit(params, t);
      pool = threadpoolNew(params);
    }
    setThreadpool(backend, pool);
    setNThreads(backend, t);
  }
  /// Lets the threadpool's workers sleep while other code is measured.
  void pauseThreads(int t) {
    if (pools[t] && t > 1)
      threadpoolPause(pools[t]);
  }
};

/// One ggml weight set: `copies` distinct [K, N] matrices of one type, and
/// per batch size the graphs multiplying chunks of them by x.
struct GgmlSet {
  Ggml *g;
  int type;
  bool repack;
  int64_t K, N;
  size_t matBytes = 0, copies = 0, perGraph = 0;
  void *wCtx = nullptr, *wBuf = nullptr;
  std::vector<void *> w;
  struct PerBatch {
    void *ctx = nullptr, *buf = nullptr, *x = nullptr;
    std::vector<void *> graphs, outs;
  };
  std::map<int64_t, PerBatch> perBatch;
  size_t next = 0;

  std::string name() const {
    return std::string("ggml ") + g->typeName(type) +
           (repack ? " repack" : " plain");
  }
  ~GgmlSet() {
    for (auto &[B, pb] : perBatch) {
      g->bufferFree(pb.buf);
      g->freeCtx(pb.ctx);
    }
    if (wBuf)
      g->bufferFree(wBuf);
    if (wCtx)
      g->freeCtx(wCtx);
  }
  bool setUp(const std::vector<float> &wf, size_t budget,
             const std::vector<int64_t> &batches) {
    matBytes = g->rowSize(type, K) * N;
    std::vector<uint8_t> q(matBytes);
    g->quantizeChunk(type, wf.data(), q.data(), 0, N, K, nullptr);
    copies = std::max<size_t>(2, budget / matBytes);
    GgmlInitParams wp{copies * g->tensorOverhead() + 4096, nullptr, true};
    wCtx = g->init(wp);
    for (size_t c = 0; c < copies; ++c)
      w.push_back(g->newTensor2d(wCtx, type, K, N));
    wBuf = g->allocCtxTensorsFromBuft(wCtx, repack ? g->repackBuft
                                                   : g->cpuBufferType());
    if (!wBuf)
      return false;
    for (void *t : w)
      g->tensorSet(t, q.data(), 0, matBytes);
    // Graphs of >= 64 MiB of weights each.
    perGraph = std::min(copies, std::max<size_t>(1, (64u << 20) / matBytes));
    size_t graphs = (copies + perGraph - 1) / perGraph;
    size_t graphNodes = 2 * perGraph + 8;
    for (int64_t B : batches) {
      PerBatch &pb = perBatch[B];
      GgmlInitParams ap{(copies + 2) * g->tensorOverhead() +
                            graphs * g->graphOverheadCustom(graphNodes, false) +
                            65536,
                        nullptr, true};
      pb.ctx = g->init(ap);
      pb.x = g->newTensor2d(pb.ctx, kGgmlF32, K, B);
      for (size_t gi = 0; gi < graphs; ++gi) {
        void *gr = g->newGraphCustom(pb.ctx, graphNodes, false);
        for (size_t c = gi * perGraph;
             c < std::min(copies, (gi + 1) * perGraph); ++c) {
          void *y = g->mulMat(pb.ctx, w[c], pb.x);
          pb.outs.push_back(y);
          g->buildForwardExpand(gr, y);
        }
        pb.graphs.push_back(gr);
      }
      pb.buf = g->allocCtxTensorsFromBuft(pb.ctx, g->cpuBufferType());
      if (!pb.buf)
        return false;
      std::vector<float> x(B * K);
      std::mt19937 rng{unsigned(B)};
      std::normal_distribution<float> nd;
      for (float &v : x)
        v = nd(rng);
      g->tensorSet(pb.x, x.data(), 0, x.size() * 4);
    }
    return true;
  }
  /// Runs graphs covering about `bytes` of weights; returns weight bytes.
  size_t run(int64_t B, size_t bytes) {
    PerBatch &pb = perBatch[B];
    size_t done = 0;
    do {
      g->graphCompute(g->backend, pb.graphs[next % pb.graphs.size()]);
      size_t first = (next % pb.graphs.size()) * perGraph;
      done += (std::min(copies, first + perGraph) - first) * matBytes;
      ++next;
    } while (done < bytes);
    return done;
  }
  std::vector<float> output(int64_t B) {
    std::vector<float> y(B * N);
    g->tensorGet(perBatch[B].outs[0], y.data(), 0, y.size() * 4);
    return y;
  }
};

struct Row {
  int64_t G, K, N, B;
  int threads;
  std::string variant; // "lowbit int8", "ggml q4_K repack", ...
  double gbps, readGbps, usPerCall, gflops;
};

} // namespace

int main(int argc, char **argv) {
  bool quick = false;
  double gib = 0.5;
  int reps = 5;
  unsigned btArg = 0;
  std::string isaArg, dumpSo, ggmlDir, jsonPath;
  std::vector<std::string> paths = {"int8", "fp32"};
  std::vector<int64_t> groups = {128, 32}, batches = {1, 8, 32},
                       threadCounts = {1, 2};
  std::vector<std::pair<int64_t, int64_t>> shapes = {
      {4096, 4096}, {4096, 11008}, {11008, 4096}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool more = i + 1 < argc;
    if (a == "--quick")
      quick = true;
    else if (a == "--gib" && more)
      gib = std::atof(argv[++i]);
    else if (a == "--reps" && more)
      reps = std::max(1, std::atoi(argv[++i]));
    else if ((a == "--paths" || a == "--path") && more) {
      paths.clear();
      std::string s = argv[++i];
      for (size_t p = 0; p <= s.size();) {
        size_t e = s.find(',', p);
        if (e == std::string::npos)
          e = s.size();
        paths.push_back(s.substr(p, e - p));
        p = e + 1;
      }
    } else if (a == "--groups" && more)
      groups = parseList(argv[++i]);
    else if (a == "--batches" && more)
      batches = parseList(argv[++i]);
    else if (a == "--threads" && more)
      threadCounts = parseList(argv[++i]);
    else if (a == "--shapes" && more) {
      // KxN,KxN,...
      shapes.clear();
      std::string s = argv[++i];
      for (size_t p = 0; p < s.size();) {
        size_t e = s.find(',', p);
        if (e == std::string::npos)
          e = s.size();
        std::string one = s.substr(p, e - p);
        size_t x = one.find('x');
        shapes.push_back({std::atoll(one.substr(0, x).c_str()),
                          std::atoll(one.substr(x + 1).c_str())});
        p = e + 1;
      }
    } else if (a == "--bt" && more)
      btArg = unsigned(std::atoi(argv[++i]));
    else if (a == "--isa" && more)
      isaArg = argv[++i];
    else if (a == "--ggml-lib" && more)
      ggmlDir = argv[++i];
    else if (a == "--json" && more)
      jsonPath = argv[++i];
    else if (a == "--dump-so" && more)
      dumpSo = argv[++i];
    else {
      std::fprintf(
          stderr,
          "usage: %s [--quick] [--gib G] [--reps R] [--paths int8,fp32]\n"
          "  [--groups 128,32] [--batches 1,8,32] [--threads 1,2]\n"
          "  [--shapes 4096x4096,...] [--bt N] [--isa avx2|avxvnni|avx512|"
          "avx512vnni]\n  [--ggml-lib DIR] [--json FILE] [--dump-so FILE]\n",
          argv[0]);
      return 2;
    }
  }
  if (quick) {
    groups = {128};
    shapes = {{4096, 4096}};
    reps = std::min(reps, 3);
  }

  rt::CpuFeatures feats = rt::detectCpuFeatures();
  std::vector<rt::X86Variant> ranked = rt::rankVariants(feats, true);
  if (ranked.empty()) {
    std::fprintf(stderr, "this CPU has no supported x86 kernel variant "
                         "(needs AVX2+FMA+F16C)\n");
    return 1;
  }
  Isa isa = Isa(int(ranked.front()));
  for (Isa cand : {Isa::AVX2, Isa::AVXVNNI, Isa::AVX512, Isa::AVX512VNNI})
    if (isaArg == isaName(cand).str())
      isa = cand;
  unsigned bigTile = btArg                                            ? btArg
                     : (isa == Isa::AVX512 || isa == Isa::AVX512VNNI) ? 8
                                                                      : 4;
  std::printf("cpu features: %s\nlowbit kernels: %s, batch tiles 1 (B=1) and "
              "%u (B>1), f16 scales, symmetric int4\n",
              feats.describe().c_str(), isaName(isa).str().c_str(), bigTile);

  // Generate every kernel in one library.
  std::vector<ArithPath> pathKinds;
  for (const std::string &p : paths)
    pathKinds.push_back(p == "fp32" ? ArithPath::FP32 : ArithPath::Int8);
  auto keyFor = [&](int64_t G, int64_t K, int64_t N, int64_t B,
                    ArithPath path) {
    KernelKey k;
    k.bits = 4;
    k.groupSize = G;
    k.symmetric = true;
    k.scaleType = ScaleType::F16;
    k.K = K;
    k.N = N;
    k.batchTile = B == 1 ? 1 : bigTile;
    k.isa = isa;
    k.path = path;
    return k;
  };
  std::vector<KernelKey> keys;
  for (int64_t G : groups)
    for (auto [K, N] : shapes)
      for (ArithPath path : pathKinds)
        for (unsigned bt : {1u, bigTile}) {
          KernelKey k = keyFor(G, K, N, bt, path);
          k.batchTile = bt;
          keys.push_back(k);
        }
  double t0 = now();
  std::vector<char> so = orDie(buildKernelLibrary(keys));
  std::printf("generated %zu kernels in %.2f s (%zu bytes of shared object)\n",
              keys.size(), now() - t0, so.size());
  if (!dumpSo.empty()) {
    if (FILE *f = std::fopen(dumpSo.c_str(), "wb")) {
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

  Ggml ggml;
  bool haveGgml = false;
  if (ggmlDir.empty())
    ggml.why = "no --ggml-lib given";
  else if ((haveGgml = ggml.load(ggmlDir)))
    std::printf("ggml %s from %s\nggml CPU backend features: %s\nggml "
                "repack buffer: %s\n",
                ggml.version(), ggmlDir.c_str(), ggml.features.c_str(),
                ggml.repackBuft ? "CPU_REPACK" : "none");
  if (!haveGgml)
    std::printf("ggml not available: %s\n", ggml.why.c_str());

  size_t budget = size_t(gib * (1ull << 30));
  std::mt19937 rng(7);
  std::vector<Row> rows;
  std::vector<std::string> variantOrder;

  std::printf("\n%-4s %-11s %-3s %-3s | %8s | %-20s %9s %9s %7s %8s\n", "G",
              "KxN", "B", "thr", "read", "variant", "us/call", "weight",
              "% read", "GFLOP/s");
  std::printf("%-4s %-11s %-3s %-3s | %8s | %-20s %9s %9s %7s %8s\n", "", "",
              "", "", "GB/s", "", "", "GB/s", "", "");
  for (auto [K, N] : shapes) {
    // lowbit weight sets, one per group size.
    struct LowbitSet {
      int64_t G;
      size_t bytes, stride, copies, next = 0;
      std::unique_ptr<Arena> arena;
    };
    std::vector<LowbitSet> sets;
    for (int64_t G : groups) {
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
      std::vector<uint8_t> packed = orDie(repack(l, codes, scales, {}));
      LowbitSet s;
      s.G = G;
      s.bytes = packed.size();
      s.stride = (packed.size() + 4095) & ~size_t(4095);
      s.copies = std::max<size_t>(2, budget / s.stride);
      s.arena = std::make_unique<Arena>(s.copies * s.stride);
      for (size_t c = 0; c < s.copies; ++c)
        std::memcpy(s.arena->p + c * s.stride, packed.data(), packed.size());
      sets.push_back(std::move(s));
    }
    // ggml weight sets.
    std::vector<std::unique_ptr<GgmlSet>> gsets;
    if (haveGgml) {
      std::vector<float> wf(N * K);
      std::normal_distribution<float> nd(0.f, 0.02f);
      for (float &v : wf)
        v = nd(rng);
      for (int type : {kGgmlQ4_0, kGgmlQ4_K}) {
        // q4_K blocks span 256 columns, q4_0 blocks 32.
        const int64_t block = type == kGgmlQ4_K ? 256 : 32;
        if (K % block != 0) {
          std::printf("ggml: %s skipped for K = %lld (not a multiple of its "
                      "%lld-column blocks)\n",
                      type == kGgmlQ4_K ? "q4_K" : "q4_0",
                      static_cast<long long>(K), static_cast<long long>(block));
          continue;
        }
        for (bool rp : {true, false}) {
          if (rp && !ggml.repackBuft)
            continue;
          auto s = std::make_unique<GgmlSet>();
          s->g = &ggml;
          s->type = type;
          s->repack = rp;
          s->K = K;
          s->N = N;
          if (!s->setUp(wf, budget, batches)) {
            std::printf("ggml: cannot set up %s\n", s->name().c_str());
            continue;
          }
          gsets.push_back(std::move(s));
        }
      }
      // Sanity check: repacked and plain results agree.
      ggml.useThreads(1);
      for (size_t i = 0; i + 1 < gsets.size(); i += 2)
        if (gsets[i]->repack && !gsets[i + 1]->repack) {
          gsets[i]->run(batches.front(), 1);
          gsets[i + 1]->run(batches.front(), 1);
          std::vector<float> a = gsets[i]->output(batches.front()),
                             b = gsets[i + 1]->output(batches.front());
          double num = 0, den = 0;
          for (size_t j = 0; j < a.size(); ++j) {
            num += double(a[j] - b[j]) * (a[j] - b[j]);
            den += double(b[j]) * b[j];
          }
          if (std::sqrt(num / std::max(den, 1e-30)) > 1e-2)
            std::printf("warning: %s and plain differ (rel. error %.3g)\n",
                        gsets[i]->name().c_str(), std::sqrt(num / den));
        }
      ggml.pauseThreads(1);
    }

    for (int64_t B : batches) {
      std::vector<float> x(B * K), y(B * N);
      std::normal_distribution<float> nd;
      for (auto &v : x)
        v = nd(rng);
      for (int64_t threadsL : threadCounts) {
        int threads = int(threadsL);
        SpinPool pool(threads);
        int64_t tiles = (N + kTileRows - 1) / kTileRows;
        auto rangeOf = [&](int i) {
          int64_t a = tiles * i / threads, b = tiles * (i + 1) / threads;
          return std::pair<int64_t, int64_t>(a * kTileRows,
                                             std::min(N, b * kTileRows));
        };
        // Bytes of weights streamed per timed repetition: a whole set at
        // batch 1, less at large batches (always >= 4x a 32 MiB LLC at the
        // default size).
        size_t perRep = budget / size_t(std::max<int64_t>(1, B / 8));
        if (quick)
          perRep = std::min<size_t>(perRep, 256u << 20);

        struct Item {
          std::string name;
          int64_t G;
          std::function<size_t()> run; // Returns weight bytes read.
          std::vector<double> gbps;
          double calls = 0;
        };
        std::vector<Item> items;
        std::atomic<uint64_t> sink{0};
        // Read probes over the first weight set: streaming sums with 64-bit
        // loads, 256-bit loads, and 256-bit loads with software prefetch;
        // read BW = the best of them.
        LowbitSet &ps = sets.front();
        constexpr int kProbes = 3;
        for (int kind = 0; kind < kProbes; ++kind)
          items.push_back({"read probe", 0, [&, kind]() {
                             size_t span = ps.copies * ps.stride;
                             size_t part = span / threads / 128 * 128;
                             pool.run([&](int i) {
                               const uint8_t *p = ps.arena->p + part * i;
                               sink += kind == 0   ? readSum(p, part)
                                       : kind == 1 ? readSumAvx2<false>(p, part)
                                                   : readSumAvx2<true>(p, part);
                             });
                             return part * threads;
                           }});
        for (LowbitSet &s : sets)
          for (ArithPath path : pathKinds) {
            KernelKey key = keyFor(s.G, K, N, B, path);
            auto fn = reinterpret_cast<lowbit_x86_qmatmul_fn>(
                dlsym(lib, key.symbolName().c_str()));
            if (!fn) {
              std::fprintf(stderr, "missing %s\n", key.symbolName().c_str());
              return 1;
            }
            LowbitSet *sp = &s;
            items.push_back(
                {"lowbit " + pathName(path).str(), s.G, [&, sp, fn]() {
                   size_t calls = std::max<size_t>(1, perRep / sp->bytes);
                   for (size_t c = 0; c < calls; ++c) {
                     const uint8_t *w =
                         sp->arena->p + (sp->next++ % sp->copies) * sp->stride;
                     pool.run([&](int i) {
                       auto [n0, n1] = rangeOf(i);
                       fn(x.data(), B, w, nullptr, y.data(), n0, n1);
                     });
                   }
                   return calls * sp->bytes;
                 }});
          }
        for (auto &gs : gsets) {
          GgmlSet *g = gs.get();
          items.push_back({g->name(), 0, [&, g]() {
                             ggml.useThreads(threads);
                             size_t done = g->run(B, perRep);
                             ggml.pauseThreads(threads);
                             return done;
                           }});
        }
        for (int r = 0; r < reps + 1; ++r)
          for (Item &it : items) {
            double a = now();
            size_t bytes = it.run();
            double t = now() - a;
            if (r == 0)
              continue; // Warm-up.
            it.gbps.push_back(double(bytes) / t / 1e9);
          }
        double readBw = 0;
        for (int kind = 0; kind < kProbes; ++kind)
          readBw = std::max(readBw, median(items[kind].gbps));
        for (size_t i = kProbes; i < items.size(); ++i) {
          Item &it = items[i];
          double gbps = median(it.gbps);
          // Per-call time of one matrix.
          double matBytes = 0;
          if (it.G) {
            for (LowbitSet &s : sets)
              if (s.G == it.G)
                matBytes = double(s.bytes);
          } else {
            matBytes = double(
                gsets[i - kProbes - sets.size() * pathKinds.size()]->matBytes);
          }
          double us = matBytes / (gbps * 1e9) * 1e6;
          rows.push_back(Row{it.G, K, N, B, threads, it.name, gbps, readBw, us,
                             2.0 * B * K * N / (us * 1e-6) / 1e9});
          if (std::find(variantOrder.begin(), variantOrder.end(), it.name) ==
              variantOrder.end())
            variantOrder.push_back(it.name);
        }
        // Print this (shape, B, threads) block: lowbit rows, then ggml rows.
        for (const Row &row : rows) {
          if (row.K != K || row.N != N || row.B != B || row.threads != threads)
            continue;
          char shape[32];
          std::snprintf(shape, sizeof(shape), "%lldx%lld", (long long)K,
                        (long long)N);
          std::printf("%-4s %-11s %-3lld %-3d | %8.1f | %-20s %9.1f %9.2f "
                      "%6.0f%% %8.1f\n",
                      row.G ? std::to_string(row.G).c_str() : "-", shape,
                      (long long)B, threads, row.readGbps, row.variant.c_str(),
                      row.usPerCall, row.gbps, 100.0 * row.gbps / row.readGbps,
                      row.gflops);
        }
        std::fflush(stdout);
        if (sink.load() == 42)
          std::printf(" ");
      }
    }
  }
  std::printf("\n(weight GB/s = packed weight bytes (codes + scales) read per "
              "second, medians of %d repetitions over %.2f GiB weight sets; "
              "read GB/s = the best of three streaming-sum probes (64-bit "
              "loads; 256-bit loads; 256-bit loads + software prefetch) over "
              "a weight set with the same threads, timed in the same "
              "repetitions)\n",
              reps, gib);

  // Summary: best lowbit vs best ggml per (shape, B, threads).
  std::printf("\nSummary: best lowbit (by weight GB/s) vs best ggml; ratio = "
              "GB/s ratio, speedup = ggml time per matrix / lowbit time per "
              "matrix\n%-11s %-3s %-3s | %-22s %7s %6s | %-20s %7s | %6s %7s\n",
              "KxN", "B", "thr", "best lowbit", "GB/s", "%read", "best ggml",
              "GB/s", "ratio", "speedup");
  std::string summaryJson;
  for (auto [K, N] : shapes)
    for (int64_t B : batches)
      for (int64_t thr : threadCounts) {
        const Row *bl = nullptr, *bg = nullptr;
        for (const Row &r : rows) {
          if (r.K != K || r.N != N || r.B != B || r.threads != thr)
            continue;
          bool isGgml = r.variant.rfind("ggml", 0) == 0;
          const Row *&best = isGgml ? bg : bl;
          if (!best || r.gbps > best->gbps)
            best = &r;
        }
        if (!bl)
          continue;
        char shape[32], lname[64];
        std::snprintf(shape, sizeof(shape), "%lldx%lld", (long long)K,
                      (long long)N);
        std::snprintf(lname, sizeof(lname), "%s g%lld", bl->variant.c_str(),
                      (long long)bl->G);
        double ratio = bg ? bl->gbps / bg->gbps : 0;
        double speedup = bg ? bg->usPerCall / bl->usPerCall : 0;
        char gb[32] = "-", rs[32] = "-", ss[32] = "-";
        if (bg) {
          std::snprintf(gb, sizeof(gb), "%.2f", bg->gbps);
          std::snprintf(rs, sizeof(rs), "%.2fx", ratio);
          std::snprintf(ss, sizeof(ss), "%.2fx", speedup);
        }
        std::printf("%-11s %-3lld %-3lld | %-22s %7.2f %5.0f%% | %-20s %7s | "
                    "%6s %7s\n",
                    shape, (long long)B, (long long)thr, lname, bl->gbps,
                    100 * bl->gbps / bl->readGbps,
                    bg ? bg->variant.c_str() : "n/a", gb, rs, ss);
        char line[512];
        std::snprintf(
            line, sizeof(line),
            "%s{\"K\":%lld,\"N\":%lld,\"batch\":%lld,\"threads\":%lld,"
            "\"best_lowbit\":\"%s\",\"lowbit_gbps\":%.3f,"
            "\"lowbit_frac_read_bw\":%.3f,\"best_ggml\":\"%s\","
            "\"ggml_gbps\":%.3f,\"ratio_vs_ggml\":%.3f,"
            "\"time_speedup_vs_ggml\":%.3f}",
            summaryJson.empty() ? "" : ",", (long long)K, (long long)N,
            (long long)B, (long long)thr, lname, bl->gbps,
            bl->gbps / bl->readGbps, bg ? bg->variant.c_str() : "",
            bg ? bg->gbps : 0.0, ratio, speedup);
        summaryJson += line;
      }
  if (!haveGgml)
    std::printf("(ggml not available: %s)\n", ggml.why.c_str());

  // One JSON line.
  std::string json = "{\"bench\":\"lowbit-x86-qmatmul\",\"cpu_features\":\"" +
                     feats.describe() + "\",\"isa\":\"" + isaName(isa).str() +
                     "\",\"big_batch_tile\":" + std::to_string(bigTile) +
                     ",\"gib_per_set\":" + std::to_string(gib) +
                     ",\"reps\":" + std::to_string(reps) + ",\"ggml\":";
  if (haveGgml)
    json += std::string("{\"version\":\"") + ggml.version() + "\",\"lib\":\"" +
            ggmlDir + "\",\"features\":\"" + ggml.features +
            "\",\"repack\":" + (ggml.repackBuft ? "true" : "false") + "}";
  else
    json += "{\"unavailable\":\"" + ggml.why + "\"}";
  json += ",\"results\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row &r = rows[i];
    char line[512];
    std::snprintf(line, sizeof(line),
                  "%s{\"variant\":\"%s\",\"group\":%lld,\"K\":%lld,\"N\":%lld,"
                  "\"batch\":%lld,\"threads\":%d,\"us_per_call\":%.2f,"
                  "\"weight_gbps\":%.3f,\"read_gbps\":%.3f,"
                  "\"frac_read_bw\":%.3f,\"gflops\":%.1f}",
                  i ? "," : "", r.variant.c_str(), (long long)r.G,
                  (long long)r.K, (long long)r.N, (long long)r.B, r.threads,
                  r.usPerCall, r.gbps, r.readGbps, r.gbps / r.readGbps,
                  r.gflops);
    json += line;
  }
  json += "],\"summary\":[" + summaryJson + "]}";
  std::printf("%s\n", json.c_str());
  if (!jsonPath.empty()) {
    if (FILE *f = std::fopen(jsonPath.c_str(), "w")) {
      std::fprintf(f, "%s\n", json.c_str());
      std::fclose(f);
    }
  }
  dlclose(lib);
  close(fd);
  return 0;
}
