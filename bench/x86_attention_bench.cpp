//===- x86_attention_bench.cpp - decode attention vs read bandwidth -------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// lowbit-x86-attention-bench: one decode step of the x86 driver's fp32
// attention (runtime/src/x86/Attention.h) over a model's worth of layers,
// each with its own KV cache, so the caches stream from DRAM as in a real
// decode (30 SmolLM2-shaped layers of 1024 positions are 47 MB, above a
// 32 MB LLC). Per position and thread count it prints the time per token
// (all layers), the K/V bytes read per token, the bandwidth that makes, and
// its fraction of the read bandwidth measured in the same run by a
// streaming sum over the same caches (the physical bound of a step that
// reads every cached key and value once).
//
//   lowbit-x86-attention-bench [--heads 9,3,64] [--layers 30]
//     [--positions 256,512,1024] [--threads 1,2] [--isa avx2|avx512]
//     [--reps R]
//
//===----------------------------------------------------------------------===//

#include "Attention.h"
#include "ReadProbe.h"

#include "lowbitrt/Kernels.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace rt = lowbitrt::x86;
namespace kn = lowbit::rt::kernels;

namespace {

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<int64_t> parseList(const char *s) {
  std::vector<int64_t> v;
  for (const char *p = s; *p;) {
    char *end = nullptr;
    long long x = std::strtoll(p, &end, 10);
    if (end == p) {
      std::fprintf(stderr, "error: bad number list '%s'\n", s);
      std::exit(2);
    }
    v.push_back(x);
    p = *end == ',' ? end + 1 : end;
  }
  return v;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

using lowbit::bench::readSum;

struct Layer {
  std::vector<float> k, v;
  kn::KVCacheView view;
};

} // namespace

int main(int argc, char **argv) {
  std::vector<int64_t> heads = {9, 3, 64}, positions = {256, 512, 1024},
                       threadList = {1, 2};
  int64_t numLayers = 30, reps = 7;
  rt::X86Variant isa = rt::X86Variant::AVX512;
  rt::CpuFeatures features = rt::detectCpuFeatures();
  if (!rt::supportsVariant(features, isa))
    isa = rt::X86Variant::AVX2;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--heads")
      heads = parseList(next());
    else if (a == "--layers")
      numLayers = parseList(next()).at(0);
    else if (a == "--positions")
      positions = parseList(next());
    else if (a == "--threads")
      threadList = parseList(next());
    else if (a == "--reps")
      reps = parseList(next()).at(0);
    else if (a == "--isa") {
      std::string v = next();
      if (v == "avx2")
        isa = rt::X86Variant::AVX2;
      else if (v == "avx512")
        isa = rt::X86Variant::AVX512;
      else {
        std::fprintf(stderr, "error: --isa takes avx2 or avx512\n");
        return 2;
      }
    } else {
      std::fprintf(stderr,
                   "usage: %s [--heads H,Hkv,Dh] [--layers L] "
                   "[--positions P,...] [--threads T,...] [--isa avx2|avx512] "
                   "[--reps R]\n",
                   argv[0]);
      return 2;
    }
  }
  if (heads.size() != 3 || heads[0] <= 0 || heads[1] <= 0 || heads[2] <= 0 ||
      heads[0] % heads[1] != 0 || numLayers <= 0 || reps <= 0) {
    std::fprintf(stderr, "error: bad --heads, --layers or --reps\n");
    return 2;
  }
  if (!rt::supportsVariant(features, isa)) {
    std::fprintf(stderr, "error: this CPU does not run %s\n",
                 rt::variantName(isa));
    return 2;
  }
  const int64_t H = heads[0], Hkv = heads[1], Dh = heads[2];
  const int64_t maxCtx =
      *std::max_element(positions.begin(), positions.end()) + 1;
  const int64_t kvCols = Hkv * Dh;

  // Caches filled with random keys and values (scores of a few units).
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<Layer> layers(numLayers);
  for (Layer &l : layers) {
    l.k.resize(maxCtx * kvCols);
    l.v.resize(maxCtx * kvCols);
    for (float &f : l.k)
      f = 0.2f * dist(rng);
    for (float &f : l.v)
      f = dist(rng);
    l.view = {l.k.data(), l.v.data(), maxCtx, Hkv, Dh};
  }
  std::vector<float> q(H * Dh), k(kvCols), v(kvCols), out(H * Dh);
  for (float &f : q)
    f = dist(rng);
  for (float &f : k)
    f = 0.2f * dist(rng);
  for (float &f : v)
    f = dist(rng);

  std::printf("x86 fp32 decode attention (%s): %" PRId64 " layers, %" PRId64
              " query / %" PRId64 " KV heads, Dh %" PRId64 "\n",
              rt::variantName(isa), numLayers, H, Hkv, Dh);
  std::printf("%8s %4s | %10s %10s %8s %8s %6s\n", "position", "thr",
              "ms/token", "KV MB/tok", "GB/s", "read", "%read");
  std::atomic<uint64_t> sink{0};
  for (int64_t threads : threadList) {
    kn::ThreadPool pool(static_cast<unsigned>(threads));
    std::vector<float> scratch(static_cast<size_t>(
        rt::attentionScratchFloats(maxCtx, H, Hkv, Dh, pool.getNumThreads())));
    for (int64_t p : positions) {
      const int32_t pos = static_cast<int32_t>(p);
      const size_t kvBytes = size_t(p + 1) * kvCols * 4 * 2;
      std::vector<double> stepMs, readGbps;
      for (int64_t r = 0; r < reps; ++r) {
        double t0 = now();
        for (Layer &l : layers) {
          rt::AttentionArgs a;
          a.q = q.data();
          a.k = k.data();
          a.v = v.data();
          a.pos = &pos;
          a.T = 1;
          a.H = H;
          a.Hkv = Hkv;
          a.Dh = Dh;
          a.cache = l.view;
          a.out = out.data();
          a.scratch = scratch.data();
          a.scratchFloats = static_cast<int64_t>(scratch.size());
          if (!rt::attentionF32(isa, a, &pool)) {
            std::fprintf(stderr, "error: attention failed\n");
            return 1;
          }
        }
        stepMs.push_back((now() - t0) * 1e3);
        // The bound: the same rows streamed by a plain sum, split over the
        // same threads.
        t0 = now();
        for (Layer &l : layers)
          pool.parallelFor(2 * threads, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
              const float *base = (i % 2 ? l.v.data() : l.k.data());
              size_t part = size_t(p + 1) * kvCols / threads;
              sink += readSum(base + (i / 2) * part, part * 4);
            }
          });
        readGbps.push_back(double(kvBytes) * numLayers / (now() - t0) / 1e9);
      }
      double ms = median(stepMs), read = median(readGbps);
      double mb = double(kvBytes) * numLayers / 1e6;
      double gbps = mb / ms;
      std::printf("%8" PRId64 " %4" PRId64
                  " | %10.3f %10.1f %8.2f %8.2f %5.0f%%\n",
                  p, threads, ms, mb, gbps, read, 100.0 * gbps / read);
    }
  }
  std::printf("(ms/token: median of %" PRId64
              " decode steps over all layers; read = a streaming sum over the "
              "same cache rows with the same threads, same run)\n",
              reps);
  return sink.load() == 42 ? 3 : 0;
}
