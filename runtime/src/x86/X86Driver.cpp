//===- X86Driver.cpp - runs generated x86 qmatmul kernels -------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "X86Driver.h"

#include "ElfCheck.h"

#include "lowbitrt/CodecX86Tile16.h"
#include "lowbitrt/Kernels.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace lowbitrt::x86;
using lowbit::rt::kernels::ThreadPool;

//===----------------------------------------------------------------------===//
// Packed layout size
//===----------------------------------------------------------------------===//

/// Rows per tile of the packed layout and of every kernel call range.
static constexpr int64_t kTileRows = LOWBIT_X86_TILE_ROWS;
static_assert(kTileRows == lowbit::codec::X86Tile16Layout::kTileRows,
              "the kernel ABI and the x86-tile16-v1 codec disagree on the "
              "row tile");

int64_t lowbitrt::x86::packedWeightBytes(const PackedShape &s,
                                         std::string &err) {
  lowbit::codec::WeightDesc desc;
  desc.bits = s.bits < 0 ? 0u : static_cast<unsigned>(s.bits);
  desc.groupSize = s.groupSize;
  desc.symmetric = s.symmetric;
  desc.scaleType = s.f16Scales ? lowbit::codec::ScaleType::F16
                               : lowbit::codec::ScaleType::F32;
  desc.superGroup = s.superGroup;
  desc.K = s.K;
  desc.N = s.N;
  const lowbit::codec::Codec &codec =
      *lowbit::codec::findCodec(kX86WeightLayout);
  if (!codec.supports(desc, &err))
    return -1;
  int64_t bytes = codec.byteSize(desc);
  if (bytes < 0)
    err = "packed size overflows";
  return bytes;
}

//===----------------------------------------------------------------------===//
// KernelLibrary
//===----------------------------------------------------------------------===//

KernelLibrary::~KernelLibrary() {
  if (handle)
    dlclose(handle);
  if (fd >= 0)
    close(fd);
}

std::unique_ptr<KernelLibrary>
KernelLibrary::load(const uint8_t *data, size_t size, std::string_view format,
                    std::string &err, bool &unsupported) {
  unsupported = false;
  if (format != kX86CodeFormat) {
    unsupported = true;
    err = "unsupported x86 code format '" + std::string(format) +
          "' (this runtime loads '" + kX86CodeFormat + "')";
    return nullptr;
  }
  // The loader trusts the headers it maps: check them against the blob's
  // size first, so a truncated or malformed blob is an error, not a SIGBUS
  // inside dlopen.
  if (!checkElfSharedObject(data, size, err)) {
    err = "malformed ELF shared object: " + err;
    return nullptr;
  }
  std::unique_ptr<KernelLibrary> lib(new KernelLibrary());
  lib->fd = memfd_create("lowbit-x86-kernels", MFD_CLOEXEC);
  if (lib->fd < 0) {
    err = std::string("memfd_create failed: ") + std::strerror(errno);
    return nullptr;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(lib->fd, data + done, size - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      err = std::string("writing the kernel library to a memfd failed: ") +
            std::strerror(errno);
      return nullptr;
    }
    done += static_cast<size_t>(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(lib->fd);
  lib->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle) {
    const char *msg = dlerror();
    err = std::string("cannot load the x86 kernel library: ") +
          (msg ? msg : "dlopen failed");
    return nullptr;
  }
  return lib;
}

lowbit_x86_qmatmul_fn KernelLibrary::lookup(const std::string &symbol) const {
  if (!handle)
    return nullptr;
  return reinterpret_cast<lowbit_x86_qmatmul_fn>(dlsym(handle, symbol.c_str()));
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

namespace {
/// The arguments of one threaded kernel call; the parallel loop captures a
/// pointer to it so the std::function it is wrapped in does not allocate.
struct Dispatch {
  lowbit_x86_qmatmul_fn fn;
  const float *x;
  int64_t T;
  const uint8_t *packed;
  const float *bias;
  float *y;
  int64_t N;

  void runTiles(int64_t beginTile, int64_t endTile) const {
    int64_t nBegin = beginTile * kTileRows;
    int64_t nEnd = std::min(N, endTile * kTileRows);
    if (nBegin < nEnd)
      fn(x, T, packed, bias, y, nBegin, nEnd);
  }
};
} // namespace

void lowbitrt::x86::runQMatmul(const QMatmulCall &call, const float *x,
                               int64_t T, float *y, float *permScratch,
                               ThreadPool *pool) {
  if (T <= 0)
    return;
  const float *in = x;
  if (call.perm) {
    const int64_t K = call.K;
    for (int64_t t = 0; t < T; ++t) {
      const float *src = x + t * K;
      float *dst = permScratch + t * K;
      for (int64_t j = 0; j < K; ++j)
        dst[j] = src[call.perm[j]];
    }
    in = permScratch;
  }
  Dispatch d{
      T == 1 ? call.gemv : call.gemm, in, T, call.packed, call.bias, y, call.N};
  const int64_t tiles = (call.N + kTileRows - 1) / kTileRows;
  // Waking the pool costs about a microsecond while its workers spin (they
  // do between the loops of a decode step): only products below 64K
  // multiply-adds (a few microseconds on one core) run on the caller. With
  // the earlier bound of 1M every per-layer GEMV of SmolLM2 (576 x 1536 and
  // smaller) ran on one thread; 2-thread decode went from 145 to 162 tok/s
  // (medians of 8 interleaved runs; 8K was no better).
  constexpr int64_t kMinParallelMacs = int64_t(1) << 16;
  if (!pool || pool->getNumThreads() == 1 || tiles == 1 ||
      T * call.N * call.K < kMinParallelMacs) {
    d.runTiles(0, tiles);
    return;
  }
  // One contiguous range of tiles per thread. A batched call prepares
  // (quantizes) all T activation rows for every range it is given: with the
  // pool's 4 ranges per thread, the 2-thread prefill of a 1.1B model spent
  // 22% more CPU time in the kernels than the 1-thread one. A GEMV streams
  // its range with software prefetch that restarts at every range: one
  // range per thread made 2-thread decode 6-11% faster (1.1B: 37.4-38.9 ->
  // 41.2-41.4 tok/s, SmolLM2: 181 -> 196; medians of interleaved runs).
  const Dispatch *dp = &d;
  pool->parallelForPerThread(
      tiles, [dp](int64_t begin, int64_t end) { dp->runTiles(begin, end); });
}
