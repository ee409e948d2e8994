//===- CpuDevice.cpp - the HAL driver `cpu` ---------------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The portable device: a HostDevice (runtime/src/hal/HostDevice.h) whose
/// qmatmul dequantizes blocks of weight rows with the layout's codec
/// (lowbit::codec::Codec::dequantizeRows: the weights exactly as that
/// layout's kernels compute them) into the queue's scratch and multiplies
/// them with CBLAS. There is no per-target quantized kernel here and no code
/// blob is ever loaded: any qmatmul whose layout has a codec runs.
///
//===----------------------------------------------------------------------===//

#include "HostDevice.h"
#include "lowbitrt/Codec.h"

#include <cblas.h>

#include <algorithm>
#include <string>

using lowbit::hal::HostDevice;
using lowbit::hal::HostKernel;
using lowbit::hal::HostQMatmul;
using lowbit::hal::HostQueue;
using lowbit::hal::makeStatus;
using lowbit::hal::QMatmulArgs;
namespace codec = lowbit::codec;

namespace {

/// Weight rows dequantized at a time per thread.
constexpr int64_t kBlockRows = 16;

struct CpuQMatmul : HostQMatmul {
  const codec::Codec *codec = nullptr;
  codec::WeightDesc desc;
};

/// One qmatmul dispatch, split over `slots` threads; slot s owns a block of
/// scratch and a contiguous range of row blocks.
struct QMatmulJob {
  const CpuQMatmul *q;
  const float *x;
  int64_t T;
  const uint8_t *packed;
  uint64_t packedBytes;
  const float *bias;
  float *y;
  float *scratch;
  int64_t blocks, slots;
  /// Set by a failing slot (the codec rejected the data).
  bool failed[64];

  void runSlot(int64_t s) {
    const int64_t N = q->desc.N, K = q->desc.K;
    float *w = scratch + s * kBlockRows * K;
    failed[s] = false;
    for (int64_t b = s * blocks / slots; b < (s + 1) * blocks / slots; ++b) {
      const int64_t r0 = b * kBlockRows, r1 = std::min(N, r0 + kBlockRows);
      if (!q->codec->dequantizeRows(q->desc, packed, size_t(packedBytes), r0,
                                    r1, w, nullptr)) {
        failed[s] = true;
        return;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(T), int(r1 - r0),
                  int(K), 1.0f, x, int(K), w, int(K), 0.0f, y + r0, int(N));
      if (bias)
        for (int64_t t = 0; t < T; ++t)
          for (int64_t n = r0; n < r1; ++n)
            y[t * N + n] += bias[n];
    }
  }
};

constexpr int64_t kMaxSlots = 64;

class CpuDevice final : public HostDevice {
public:
  const char *name() const override { return "cpu"; }
  const char *description() const override { return "portable"; }

  bool supportsQMatmul(const lowbit_hal_op_desc &op) const override {
    if (!op.layout)
      return false;
    const codec::Codec *c = codec::findCodec(op.layout);
    return c && op.bits > 0 &&
           c->supports(lowbit::rt::ops::weightDescOf(op), nullptr);
  }

  lowbit_hal_status createQMatmul(lowbit_hal_executable *,
                                  const lowbit_hal_op_desc &op,
                                  std::unique_ptr<HostQMatmul> &out) override {
    const std::string ctx = op.context ? op.context : "qmatmul";
    auto q = std::make_unique<CpuQMatmul>();
    q->codec = codec::findCodec(op.layout);
    q->desc = lowbit::rt::ops::weightDescOf(op);
    int64_t bytes = q->codec->byteSize(q->desc);
    if (bytes < 0 || op.weight_bytes != static_cast<uint64_t>(bytes))
      return makeStatus(LOWBIT_HAL_FORMAT,
                        ctx + ": packed weight has " +
                            std::to_string(op.weight_bytes) +
                            " bytes, layout '" + op.layout +
                            "' of N = " + std::to_string(op.rows) +
                            ", K = " + std::to_string(op.cols) + " needs " +
                            std::to_string(bytes));
    out = std::move(q);
    return nullptr;
  }

  int64_t qmatmulScratchFloats(const HostKernel &kernel, int64_t maxRows,
                               unsigned threads) const override {
    const int64_t K = kernel.desc.cols;
    const int64_t slots = std::min<int64_t>(kMaxSlots, std::max(1u, threads));
    const int64_t perm =
        (kernel.desc.flags & LOWBIT_HAL_OP_HAS_PERM) ? maxRows * K : 0;
    return perm + slots * kBlockRows * K;
  }

  lowbit_hal_status runQMatmul(const HostKernel &kernel, const QMatmulArgs &a,
                               HostQueue &queue) const override {
    const auto &q = static_cast<const CpuQMatmul &>(*kernel.qmatmul);
    const int64_t K = q.desc.K, N = q.desc.N, T = a.T;
    if (T <= 0)
      return nullptr;
    float *scratch = queue.qmatmul.data();
    const float *x = a.x;
    if (a.perm) {
      // x'[t, j] = x[t, perm[j]]
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < K; ++j)
          scratch[t * K + j] = a.x[t * K + a.perm[j]];
      x = scratch;
      scratch += T * K;
    }
    QMatmulJob job;
    job.q = &q;
    job.x = x;
    job.T = T;
    job.packed = a.packed;
    job.packedBytes = a.packedBytes;
    job.bias = a.bias;
    job.y = a.y;
    job.scratch = scratch;
    job.blocks = (N + kBlockRows - 1) / kBlockRows;
    unsigned threads = queue.pool ? queue.pool->getNumThreads() : 1;
    job.slots = std::min<int64_t>({job.blocks, kMaxSlots, int64_t(threads)});
    if (job.slots <= 1) {
      job.slots = 1;
      job.runSlot(0);
    } else {
      QMatmulJob *jp = &job;
      queue.pool->parallelFor(job.slots, [jp](int64_t begin, int64_t end) {
        for (int64_t s = begin; s < end; ++s)
          jp->runSlot(s);
      });
    }
    for (int64_t s = 0; s < job.slots; ++s)
      if (job.failed[s])
        return makeStatus(LOWBIT_HAL_INTERNAL,
                          "qmatmul: the packed weight does not decode with "
                          "layout '" +
                              std::string(q.codec->name()) + "'");
    return nullptr;
  }
};

lowbit_hal_status createCpuDevice(const lowbit_hal_device_params *,
                                  lowbit_hal_device **out) {
  *out = new CpuDevice();
  return nullptr;
}

} // namespace

LOWBIT_HAL_DEFINE_DRIVER(cpu, createCpuDevice);
