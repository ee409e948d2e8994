//===- EngineFallbackTests.cpp - ops a device declines run on cpu -*- C++
//-*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The engine's fallback plan (docs/runtime-hal.md): a test-only device
/// wraps the registry's x86 device, declines some op kinds in supports_op,
/// hides its buffers from the host (buffer_host_pointer = null, as a
/// discrete GPU would) and counts every copy and fence wait. The engine must
/// run the declined ops on cpu with the copies it planned at load, give the
/// logits of x86 alone (bit for bit: the same kernels run on the same
/// data), and copy exactly what the plan says per step. The wrapper is
/// never registered: it is handed to the engine through OpenOptions.
///
//===----------------------------------------------------------------------===//

#include "Model.h"
#include "TinyModel.h"
#include "lowbitrt/Codec.h"
#include "lowbitrt/hal.h"
#include "lowbitrt/lowbit_rt.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

using namespace lowbit::rt::engine;

namespace {

/// The wrapper: everything forwards to `inner` except supports_op (declines
/// the kinds in `declined`), buffer_host_pointer (null) and the counters.
struct Wrapper {
  lowbit_hal_device base; // first: the engine sees a lowbit_hal_device
  lowbit_hal_device *inner;
  std::set<lowbit_hal_op_kind> declined;
  int toDevice = 0, toHost = 0, deviceCopies = 0, waits = 0, dispatches = 0;

  static Wrapper *of(const lowbit_hal_device *d) {
    return reinterpret_cast<Wrapper *>(const_cast<lowbit_hal_device *>(d));
  }
  static const lowbit_hal_device_vtable &in(const lowbit_hal_device *d) {
    return *of(d)->inner->vtable;
  }
  static lowbit_hal_device *dev(const lowbit_hal_device *d) {
    return of(d)->inner;
  }
};

/// The counters outlive the model (which destroys the wrapper).
struct Counters {
  int toDevice = 0, toHost = 0, deviceCopies = 0, waits = 0, dispatches = 0;
};
Counters *gCounters = nullptr;

const lowbit_hal_device_vtable kWrapperVtable = {
    LOWBIT_HAL_API_VERSION,
    [](lowbit_hal_device *d) {
      Wrapper *w = Wrapper::of(d);
      lowbit_hal_device_destroy(w->inner);
      delete w;
    },
    [](const lowbit_hal_device *d) {
      return Wrapper::in(d).name(Wrapper::dev(d));
    },
    [](const lowbit_hal_device *d) {
      return Wrapper::in(d).description(Wrapper::dev(d));
    },
    [](const lowbit_hal_device *d, const lowbit_hal_op_desc *op) {
      if (Wrapper::of(d)->declined.count(op->kind))
        return 0;
      return Wrapper::in(d).supports_op(Wrapper::dev(d), op);
    },
    [](lowbit_hal_device *d, uint64_t bytes, lowbit_hal_buffer **out) {
      return Wrapper::in(d).buffer_allocate(Wrapper::dev(d), bytes, out);
    },
    [](lowbit_hal_device *d, const void *host, uint64_t bytes, uint32_t flags,
       lowbit_hal_buffer **out) {
      return Wrapper::in(d).buffer_import_host(Wrapper::dev(d), host, bytes,
                                               flags, out);
    },
    [](lowbit_hal_device *d, lowbit_hal_buffer *b) {
      Wrapper::in(d).buffer_free(Wrapper::dev(d), b);
    },
    // Not host-visible: every exchange with cpu goes through the copies.
    [](lowbit_hal_device *, lowbit_hal_buffer *) -> void * { return nullptr; },
    [](lowbit_hal_device *d, const char *format, const void *data,
       uint64_t size, lowbit_hal_executable **out) {
      return Wrapper::in(d).executable_load(Wrapper::dev(d), format, data, size,
                                            out);
    },
    [](lowbit_hal_device *d, lowbit_hal_executable *e) {
      Wrapper::in(d).executable_free(Wrapper::dev(d), e);
    },
    [](lowbit_hal_device *d, lowbit_hal_executable *e,
       const lowbit_hal_op_desc *op, lowbit_hal_kernel **out) {
      return Wrapper::in(d).kernel_create(Wrapper::dev(d), e, op, out);
    },
    [](lowbit_hal_device *d, lowbit_hal_kernel *k) {
      Wrapper::in(d).kernel_free(Wrapper::dev(d), k);
    },
    [](lowbit_hal_device *d, const lowbit_hal_queue_options *o,
       lowbit_hal_queue **out) {
      return Wrapper::in(d).queue_create(Wrapper::dev(d), o, out);
    },
    [](lowbit_hal_device *d, lowbit_hal_queue *q) {
      Wrapper::in(d).queue_free(Wrapper::dev(d), q);
    },
    [](lowbit_hal_device *d, lowbit_hal_queue *q, const lowbit_hal_kernel *k,
       int64_t rows, int64_t cache) {
      return Wrapper::in(d).queue_reserve(Wrapper::dev(d), q, k, rows, cache);
    },
    [](lowbit_hal_device *d, lowbit_hal_queue *q, const lowbit_hal_kernel *k,
       const lowbit_hal_binding *b, int32_t n, const void *push,
       uint32_t size) {
      ++gCounters->dispatches;
      return Wrapper::in(d).dispatch(Wrapper::dev(d), q, k, b, n, push, size);
    },
    [](lowbit_hal_device *d, lowbit_hal_queue *q, const void *src,
       lowbit_hal_buffer *dst, uint64_t off, uint64_t bytes) {
      ++gCounters->toDevice;
      return Wrapper::in(d).copy_host_to_buffer(Wrapper::dev(d), q, src, dst,
                                                off, bytes);
    },
    [](lowbit_hal_device *d, lowbit_hal_queue *q, lowbit_hal_buffer *src,
       uint64_t off, void *dst, uint64_t bytes) {
      ++gCounters->toHost;
      return Wrapper::in(d).copy_buffer_to_host(Wrapper::dev(d), q, src, off,
                                                dst, bytes);
    },
    [](lowbit_hal_device *d, lowbit_hal_queue *q, lowbit_hal_buffer *src,
       uint64_t so, lowbit_hal_buffer *dst, uint64_t dof, uint64_t bytes) {
      ++gCounters->deviceCopies;
      return Wrapper::in(d).copy_buffer(Wrapper::dev(d), q, src, so, dst, dof,
                                        bytes);
    },
    [](lowbit_hal_device *d, lowbit_hal_fence **out) {
      return Wrapper::in(d).fence_create(Wrapper::dev(d), out);
    },
    [](lowbit_hal_device *d, lowbit_hal_fence *f) {
      Wrapper::in(d).fence_free(Wrapper::dev(d), f);
    },
    [](lowbit_hal_device *d, lowbit_hal_queue *q, lowbit_hal_fence *f) {
      return Wrapper::in(d).queue_signal(Wrapper::dev(d), q, f);
    },
    [](lowbit_hal_device *d, lowbit_hal_fence *f) {
      ++gCounters->waits;
      return Wrapper::in(d).fence_wait(Wrapper::dev(d), f);
    },
};

lowbit_hal_device *makeWrapper(std::set<lowbit_hal_op_kind> declined) {
  auto *w = new Wrapper();
  w->base.vtable = &kWrapperVtable;
  lowbit_hal_status st = lowbit_hal_device_create("x86", nullptr, &w->inner);
  EXPECT_EQ(st, nullptr) << lowbit_hal_status_message(st);
  w->declined = std::move(declined);
  return &w->base;
}

struct Result {
  std::vector<float> prefill; // [6, V]
  std::vector<float> decode;  // [3, V]
  lowbit_rt_device_info info{};
  // Copies of info's strings, which the model owns (info.device and
  // info.fallback_device dangle once runModel frees the model).
  std::string device, fallbackDevice;
  Counters perDecodeStep;
  Counters prefillStep;
};

Result runModel(const std::string &path, lowbit_hal_device *primary,
                Counters &counters) {
  Result r;
  lowbit_rt_model *m = nullptr;
  OpenOptions o;
  o.primary = primary;
  lowbit_rt_status st = primary ? openModel(path.c_str(), o, &m)
                                : lowbit_rt_model_open(path.c_str(), &m);
  EXPECT_EQ(st, LOWBIT_RT_OK) << lowbit_rt_last_error();
  if (st != LOWBIT_RT_OK)
    return r;
  EXPECT_EQ(lowbit_rt_model_get_device(m, &r.info), LOWBIT_RT_OK);
  r.device = r.info.device ? r.info.device : "";
  r.fallbackDevice = r.info.fallback_device ? r.info.fallback_device : "";
  r.info.device = r.info.fallback_device = nullptr;
  lowbit_rt_session_options so{};
  so.threads = 2;
  lowbit_rt_session *s = nullptr;
  EXPECT_EQ(lowbit_rt_session_create(m, &so, &s), LOWBIT_RT_OK);
  const std::vector<int32_t> prompt = {0, 5, 17, 3, 44, 9};
  const int64_t V = tiny::kVocab;
  r.prefill.resize(prompt.size() * V);
  Counters before = counters;
  EXPECT_EQ(lowbit_rt_prefill(s, prompt.data(), int64_t(prompt.size()),
                              r.prefill.data()),
            LOWBIT_RT_OK);
  r.prefillStep.toDevice = counters.toDevice - before.toDevice;
  r.prefillStep.toHost = counters.toHost - before.toHost;
  for (int32_t t : {12, 30, 7}) {
    before = counters;
    EXPECT_EQ(lowbit_rt_decode(s, t), LOWBIT_RT_OK);
    r.perDecodeStep.toDevice = counters.toDevice - before.toDevice;
    r.perDecodeStep.toHost = counters.toHost - before.toHost;
    r.perDecodeStep.deviceCopies = counters.deviceCopies - before.deviceCopies;
    r.perDecodeStep.waits = counters.waits - before.waits;
    r.perDecodeStep.dispatches = counters.dispatches - before.dispatches;
    const float *l = lowbit_rt_logits(s);
    r.decode.insert(r.decode.end(), l, l + V);
  }
  lowbit_rt_session_free(s);
  lowbit_rt_model_free(m);
  return r;
}

/// Logits of a run whose attention went to cpu against the all-x86 run:
/// x86 computes attention in fp32 SIMD and cpu in double (both tested
/// against each other by lowbit-cts), so they agree to float rounding, not
/// bitwise. A misrouted or stale copy would differ by whole units.
void expectSameLogits(const std::vector<float> &got,
                      const std::vector<float> &want, const char *what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
  EXPECT_LT(worst, 1e-4) << what << ": worst logit difference " << worst;
}

class EngineFallback : public ::testing::Test {
protected:
  void SetUp() override {
    gCounters = &counters;
    const tiny::TinyModel &tm = tiny::TinyModel::get();
    ASSERT_FALSE(tm.kernelLib.empty());
    path = tm.write(tm.manifest);
    Counters none;
    gCounters = &none;
    x86 = runModel(path, nullptr, none);
    gCounters = &counters;
    ASSERT_FALSE(x86.decode.empty());
    EXPECT_EQ(x86.device, "x86");
    EXPECT_EQ(x86.info.fallback_ops, 0);
    EXPECT_EQ(x86.info.copies_per_step, 0);
    EXPECT_EQ(x86.fallbackDevice, "");
  }
  void TearDown() override {
    std::remove(path.c_str());
    gCounters = nullptr;
  }

  std::string path;
  Counters counters;
  Result x86;
};

TEST_F(EngineFallback, AttentionOnCpu) {
  Result r = runModel(path, makeWrapper({LOWBIT_HAL_OP_ATTENTION}), counters);
  ASSERT_FALSE(r.decode.empty());
  expectSameLogits(r.prefill, x86.prefill, "prefill");
  expectSameLogits(r.decode, x86.decode, "decode");
  EXPECT_EQ(r.device, "x86");
  EXPECT_EQ(r.fallbackDevice, "cpu");
  EXPECT_EQ(r.info.fallback_ops, int(tiny::kLayers));
  // Per layer: q, k (rotated) and v go to cpu, the attention output comes
  // back; positions are uploaded to cpu from the host directly.
  EXPECT_EQ(r.info.copies_per_step, 4 * int(tiny::kLayers));
  // Through the device: 3 reads back per layer + the logits; 1 upload per
  // layer + tokens + positions. Identical for prefill and decode steps.
  EXPECT_EQ(r.perDecodeStep.toHost, 3 * int(tiny::kLayers) + 1);
  EXPECT_EQ(r.perDecodeStep.toDevice, 1 * int(tiny::kLayers) + 2);
  EXPECT_EQ(r.prefillStep.toHost, r.perDecodeStep.toHost);
  EXPECT_EQ(r.prefillStep.toDevice, r.perDecodeStep.toDevice);
  EXPECT_EQ(r.perDecodeStep.deviceCopies, 0);
  // Every op but attention ran on the wrapped device.
  const int ops = int(tiny::TinyModel::get().manifest["program"]["ops"].size());
  EXPECT_EQ(r.perDecodeStep.dispatches, ops - int(tiny::kLayers));
  // The device is waited on before cpu reads what it copied, and at the end.
  EXPECT_GE(r.perDecodeStep.waits, int(tiny::kLayers) + 1);
}

TEST_F(EngineFallback, EverythingButQMatmulOnCpu) {
  Result r =
      runModel(path,
               makeWrapper({LOWBIT_HAL_OP_EMBEDDING, LOWBIT_HAL_OP_RMS_NORM,
                            LOWBIT_HAL_OP_LINEAR, LOWBIT_HAL_OP_ROTARY,
                            LOWBIT_HAL_OP_ATTENTION, LOWBIT_HAL_OP_GATED_ACT,
                            LOWBIT_HAL_OP_ADD}),
               counters);
  ASSERT_FALSE(r.decode.empty());
  expectSameLogits(r.prefill, x86.prefill, "prefill");
  expectSameLogits(r.decode, x86.decode, "decode");
  const int ops = int(tiny::TinyModel::get().manifest["program"]["ops"].size());
  const int qmatmuls = 7 * int(tiny::kLayers);
  EXPECT_EQ(r.info.fallback_ops, ops - qmatmuls);
  // Per layer: the normed input once to the device for q/k/v, q k v back;
  // the attention output over and o back; the normed input over, gate and
  // up back; the activation over and down's output back: 11. The logits
  // come from cpu (lm_head is a linear), so the device reads back nothing
  // else.
  EXPECT_EQ(r.info.copies_per_step, 11 * int(tiny::kLayers));
  EXPECT_EQ(r.perDecodeStep.toHost + r.perDecodeStep.toDevice,
            r.info.copies_per_step + 2);
  EXPECT_EQ(r.perDecodeStep.dispatches, qmatmuls);
  EXPECT_EQ(r.perDecodeStep.deviceCopies, 0);
}

TEST_F(EngineFallback, NothingDeclinedNeedsNoCopies) {
  Result r = runModel(path, makeWrapper({}), counters);
  ASSERT_FALSE(r.decode.empty());
  EXPECT_EQ(r.decode, x86.decode);
  EXPECT_EQ(r.info.fallback_ops, 0);
  EXPECT_EQ(r.info.copies_per_step, 0);
  // Tokens and positions in, logits out: nothing else crosses.
  EXPECT_EQ(r.perDecodeStep.toDevice, 2);
  EXPECT_EQ(r.perDecodeStep.toHost, 1);
}

TEST(EngineDevice, CpuDeviceRunsTheBundleAndUnknownDevicesAreListed) {
  const tiny::TinyModel &tm = tiny::TinyModel::get();
  std::string path = tm.write(tm.manifest);
  lowbit_rt_model_options mo{};
  mo.device = "cpu";
  lowbit_rt_model *m = nullptr;
  ASSERT_EQ(lowbit_rt_model_open_ex(path.c_str(), &mo, &m), LOWBIT_RT_OK)
      << lowbit_rt_last_error();
  lowbit_rt_device_info di;
  ASSERT_EQ(lowbit_rt_model_get_device(m, &di), LOWBIT_RT_OK);
  EXPECT_EQ(std::string(di.device), "cpu");
  EXPECT_EQ(std::string(di.description), "portable");
  lowbit_rt_model_info info;
  ASSERT_EQ(lowbit_rt_model_get_info(m, &info), LOWBIT_RT_OK);
  EXPECT_EQ(std::string(info.target), "x86");
  lowbit_rt_model_free(m);

  mo.device = "tpu";
  EXPECT_EQ(lowbit_rt_model_open_ex(path.c_str(), &mo, &m),
            LOWBIT_RT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lowbit_rt_last_error())
                .find(std::string("device 'tpu' is not supported by this "
                                  "runtime (available: ") +
                      lowbit_rt_available_devices() + ")"),
            std::string::npos)
      << lowbit_rt_last_error();
  std::remove(path.c_str());
}

} // namespace

namespace {

/// A qmatmul whose weight is stored in a layout x86 has no kernels for
/// (`layout: plain-v1`) falls back to cpu in production (no wrapper): the
/// engine plans it there, dequantizing with the plain codec, and the logits
/// stay those of x86 within fp32 summation-order error. A layout no device
/// knows is rejected naming the op.
TEST(EngineLayout, PlainLayoutFallsBackToCpu) {
  const tiny::TinyModel &tm = tiny::TinyModel::get();
  const lowbit::codec::Codec *x86 =
      lowbit::codec::findCodec(lowbit::codec::kX86Tile16Codec);
  const lowbit::codec::Codec *plain =
      lowbit::codec::findCodec(lowbit::codec::kPlainCodec);
  ASSERT_TRUE(x86 && plain);
  nlohmann::json m = tm.manifest;
  size_t qm = 0;
  for (size_t i = 0; i < m["program"]["ops"].size(); ++i)
    if (m["program"]["ops"][i]["op"] == "qmatmul") {
      qm = i;
      break;
    }
  nlohmann::json &op = m["program"]["ops"][qm];
  const std::string name = op["weight"];
  lowbit::codec::WeightDesc d;
  d.bits = op["bits"];
  d.groupSize = op["group_size"];
  d.symmetric = op["symmetric"];
  d.scaleType = op["scale_type"] == "f16" ? lowbit::codec::ScaleType::F16
                                          : lowbit::codec::ScaleType::F32;
  d.N = op["N"];
  d.K = op["K"];
  const tiny::Tensor &packed = tm.tensor(name);
  lowbit::codec::UnpackedWeight w;
  std::string err;
  ASSERT_TRUE(x86->decode(d, packed.bytes.data(), packed.bytes.size(), w, &err))
      << err;
  tiny::Tensor re = packed;
  ASSERT_TRUE(plain->encode(d, w, re.bytes, &err)) << err;
  re.shape = {int64_t(re.bytes.size())};
  op["layout"] = "plain-v1";
  std::string path = tm.write(m, {{name, re}});
  std::string basePath = tm.write(tm.manifest);

  Counters none;
  gCounters = &none;
  Result base = runModel(basePath, nullptr, none);
  Result r = runModel(path, nullptr, none);
  gCounters = nullptr;
  ASSERT_EQ(r.decode.size(), base.decode.size());
  ASSERT_FALSE(r.decode.empty());
  EXPECT_EQ(r.device, "x86");
  EXPECT_EQ(r.fallbackDevice, "cpu");
  EXPECT_EQ(r.info.fallback_ops, 1);
  // The normed input goes to cpu and the product comes back.
  EXPECT_EQ(r.info.copies_per_step, 2);
  double maxAbs = 0, maxDiff = 0;
  for (size_t i = 0; i < base.decode.size(); ++i) {
    maxAbs = std::max(maxAbs, double(std::fabs(base.decode[i])));
    maxDiff =
        std::max(maxDiff, double(std::fabs(base.decode[i] - r.decode[i])));
  }
  EXPECT_LE(maxDiff, 1e-4 * maxAbs);

  op["layout"] = "no-such-layout-v1";
  std::string bad = tm.write(m, {{name, re}});
  lowbit_rt_model *model = nullptr;
  EXPECT_EQ(lowbit_rt_model_open(bad.c_str(), &model), LOWBIT_RT_UNSUPPORTED);
  EXPECT_NE(std::string(lowbit_rt_last_error())
                .find("op " + std::to_string(qm) +
                      " (qmatmul): not supported by device 'cpu'"),
            std::string::npos)
      << lowbit_rt_last_error();
  for (const std::string &p : {path, basePath, bad})
    std::remove(p.c_str());
}

} // namespace
