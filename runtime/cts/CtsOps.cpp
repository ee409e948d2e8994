//===- CtsOps.cpp - every op on every driver against cpu ---------*- C++
//-*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The op part of the conformance suite: for every driver of the registry
/// (the test is instantiated over lowbit_hal_driver_get, so a new driver is
/// picked up without touching this file), each op kind runs on small random
/// inputs through the HAL alone (buffers, copies, kernel_create, dispatch,
/// fences) and is compared with the `cpu` driver. Tolerances, per op:
///
///  - embedding: exact (a row copy).
///  - rms_norm, rotary, gated_act, add: |d - r| <= 1e-5 |r| + 1e-6. The
///    reference evaluates each element in double and rounds once; a device
///    computing in fp32 is allowed a few ulps of the inputs' magnitudes.
///  - linear, qmatmul: |d - r| <= 2 K eps32 sum_k |x_k w_k| + 1e-6 per
///    output, the textbook bound of an fp32 dot product of length K in any
///    summation order (w: the weights exactly as the layout's kernels
///    compute them, from the codec, so quantization is not in the error).
///  - attention: |d - r| <= 1e-4 max|v| + 1e-6: the reference's scores and
///    softmax are in double; an fp32 device errs by about Dh eps32 |q||k| in
///    each score, far below this for the unit-scale inputs used here.
///
/// A driver that answers supports_op = 0 for a case is not wrong (the
/// engine runs that op on cpu); the case is then reported and skipped.
///
//===----------------------------------------------------------------------===//

#include "CtsDevice.h"
#include "lowbitrt/Codec.h"

#include "gtest/gtest.h"

#include <cfloat>
#include <cmath>
#include <numeric>
#include <random>

using namespace lowbit::cts;
namespace codec = lowbit::codec;

namespace {

class CtsOps : public ::testing::TestWithParam<std::string> {};

std::vector<float> randn(size_t n, std::mt19937 &rng, float scale = 1.0f,
                         float offset = 0.0f) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = offset + scale * nd(rng);
  return v;
}

/// One input or output of a single-dispatch case.
struct Arg {
  std::vector<uint8_t> bytes; // inputs: the data; outputs: zeros
  bool present = true;
  bool output = false;
};

template <typename T> Arg in(const std::vector<T> &v) {
  Arg a;
  a.bytes.resize(v.size() * sizeof(T));
  std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  return a;
}
Arg out(size_t floats) {
  Arg a;
  a.bytes.assign(floats * 4, 0);
  a.output = true;
  return a;
}
Arg absent() {
  Arg a;
  a.present = false;
  return a;
}

/// Runs one dispatch of \p op on \p dev; returns the outputs in order, or
/// nothing when the device declines the op (\p declined set).
std::vector<std::vector<float>> run(Device &dev, const lowbit_hal_op_desc &op,
                                    const std::vector<Arg> &args, int64_t T,
                                    bool *declined = nullptr) {
  if (!dev.v().supports_op(dev.get(), &op)) {
    if (declined)
      *declined = true;
    return {};
  }
  lowbit_hal_kernel *k = dev.kernel(op);
  if (!k)
    return {};
  std::vector<lowbit_hal_buffer *> b;
  for (const Arg &a : args)
    b.push_back(a.present ? dev.upload(a.bytes.data(), a.bytes.size())
                          : nullptr);
  if (!dev.dispatch(k, b, T))
    return {};
  std::vector<std::vector<float>> outs;
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i].output)
      outs.push_back(dev.download<float>(b[i], args[i].bytes.size() / 4));
  return outs;
}

/// Compares \p got with \p ref elementwise within tol(i).
template <typename Tol>
void expectClose(const std::vector<float> &got, const std::vector<float> &ref,
                 Tol tol, const std::string &what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double t = tol(i);
    if (!(std::fabs(double(got[i]) - double(ref[i])) <= t) && bad++ < 5)
      ADD_FAILURE() << what << ": element " << i << ": device " << got[i]
                    << ", cpu " << ref[i] << " (tolerance " << t << ")";
  }
}

void expectRel(const std::vector<float> &got, const std::vector<float> &ref,
               double rtol, double atol, const std::string &what) {
  expectClose(
      got, ref, [&](size_t i) { return rtol * std::fabs(ref[i]) + atol; },
      what);
}

lowbit_hal_op_desc desc(lowbit_hal_op_kind kind, const char *ctx) {
  lowbit_hal_op_desc d{};
  d.kind = kind;
  d.context = ctx;
  return d;
}

/// Runs a single-dispatch case on the device under test and on cpu and
/// compares all outputs with \p cmp.
template <typename Cmp>
void compareOne(const std::string &driver, const lowbit_hal_op_desc &op,
                const std::vector<Arg> &args, int64_t T, Cmp cmp) {
  Device dut(driver), ref("cpu");
  ASSERT_TRUE(dut.ok() && ref.ok());
  bool declined = false;
  auto got = run(dut, op, args, T, &declined);
  if (declined) {
    std::printf("[ cts      ] %s declines %s: runs on cpu\n", driver.c_str(),
                op.context);
    return;
  }
  auto want = run(ref, op, args, T);
  ASSERT_FALSE(want.empty()) << "cpu must run " << op.context;
  ASSERT_EQ(got.size(), want.size()) << op.context;
  for (size_t i = 0; i < got.size(); ++i)
    cmp(got[i], want[i], std::string(op.context) + " on " + driver);
}

TEST_P(CtsOps, Embedding) {
  std::mt19937 rng(1);
  const int64_t V = 20, D = 16, T = 5;
  lowbit_hal_op_desc op = desc(LOWBIT_HAL_OP_EMBEDDING, "embedding");
  op.rows = V;
  op.cols = D;
  std::vector<int32_t> ids = {3, 0, 19, 3, 7};
  compareOne(GetParam(), op, {in(randn(V * D, rng)), in(ids), out(T * D)}, T,
             [](auto &g, auto &r, auto w) { expectRel(g, r, 0, 0, w); });
}

/// A lookup in a packed table (x86-tile16, 20 rows: one full 16-row tile
/// and a partial one); the driver must keep the layout name the descriptor
/// pointed at when the kernel was created.
TEST_P(CtsOps, QuantizedEmbedding) {
  std::mt19937 rng(11);
  const int64_t V = 20, D = 64, T = 4;
  namespace codec = lowbit::codec;
  codec::WeightDesc w;
  w.bits = 4;
  w.groupSize = 32;
  w.symmetric = false;
  w.scaleType = codec::ScaleType::F16;
  w.N = V;
  w.K = D;
  codec::UnpackedWeight u;
  for (int64_t i = 0; i < V * D; ++i)
    u.codes.push_back(uint8_t(rng() % 16));
  for (int64_t i = 0; i < V * 2; ++i) {
    u.scales.push_back(0.01f * float(1 + rng() % 50));
    u.zeros.push_back(uint8_t(rng() % 16));
  }
  std::vector<uint8_t> packed;
  std::string error;
  ASSERT_TRUE(
      codec::findCodec(codec::kX86Tile16Codec)->encode(w, u, packed, &error))
      << error;
  std::string layout = codec::kX86Tile16Codec;
  lowbit_hal_op_desc op = desc(LOWBIT_HAL_OP_QEMBEDDING, "qembedding");
  op.rows = V;
  op.cols = D;
  op.bits = 4;
  op.group_size = 32;
  op.flags = LOWBIT_HAL_OP_F16_SCALES;
  op.layout = layout.c_str();
  op.weight_bytes = packed.size();
  std::vector<int32_t> ids = {19, 0, 17, 19};
  compareOne(GetParam(), op, {in(packed), in(ids), out(T * D)}, T,
             [](auto &g, auto &r, auto w) { expectRel(g, r, 0, 0, w); });
}

TEST_P(CtsOps, RmsNorm) {
  std::mt19937 rng(2);
  const int64_t D = 48, T = 3;
  lowbit_hal_op_desc op = desc(LOWBIT_HAL_OP_RMS_NORM, "rms_norm");
  op.cols = D;
  op.eps = 1e-5f;
  compareOne(GetParam(), op,
             {in(randn(T * D, rng)), in(randn(D, rng, 0.1f, 1.0f)), out(T * D)},
             T,
             [](auto &g, auto &r, auto w) { expectRel(g, r, 1e-5, 1e-6, w); });
}

/// The fp32 dot-product bound of linear/qmatmul for y = x w^T.
std::vector<double> dotBounds(const std::vector<float> &x,
                              const std::vector<float> &w, int64_t T, int64_t N,
                              int64_t K) {
  std::vector<double> b(size_t(T * N));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += std::fabs(double(x[size_t(t * K + k)]) * w[size_t(n * K + k)]);
      b[size_t(t * N + n)] = 2.0 * double(K) * FLT_EPSILON * s + 1e-6;
    }
  return b;
}

TEST_P(CtsOps, Linear) {
  for (bool bias : {false, true}) {
    std::mt19937 rng(3);
    const int64_t N = 24, K = 40, T = 5;
    lowbit_hal_op_desc op =
        desc(LOWBIT_HAL_OP_LINEAR, bias ? "linear+bias" : "linear");
    op.rows = N;
    op.cols = K;
    if (bias)
      op.flags |= LOWBIT_HAL_OP_HAS_BIAS;
    auto x = randn(T * K, rng), w = randn(N * K, rng);
    auto bounds = dotBounds(x, w, T, N, K);
    compareOne(GetParam(), op,
               {in(x), in(w), bias ? in(randn(N, rng)) : absent(), out(T * N)},
               T, [&](auto &g, auto &r, auto what) {
                 expectClose(
                     g, r, [&](size_t i) { return bounds[i]; }, what);
               });
  }
}

TEST_P(CtsOps, Rotary) {
  for (bool interleaved : {false, true}) {
    std::mt19937 rng(4);
    const int64_t H = 3, Dh = 8, T = 4;
    lowbit_hal_op_desc op =
        desc(LOWBIT_HAL_OP_ROTARY,
             interleaved ? "rotary interleaved" : "rotary half");
    op.num_heads = H;
    op.head_dim = Dh;
    op.theta = 10000.0;
    if (interleaved)
      op.flags |= LOWBIT_HAL_OP_ROTARY_INTERLEAVED;
    std::vector<int32_t> pos = {0, 1, 17, 300};
    compareOne(
        GetParam(), op, {in(randn(T * H * Dh, rng)), in(pos), out(T * H * Dh)},
        T, [](auto &g, auto &r, auto w) { expectRel(g, r, 1e-5, 1e-6, w); });
  }
}

TEST_P(CtsOps, GatedActAndAdd) {
  struct K {
    lowbit_hal_op_kind kind;
    uint32_t flags;
    const char *name;
  };
  for (K c : {K{LOWBIT_HAL_OP_GATED_ACT, 0, "gated_act silu"},
              K{LOWBIT_HAL_OP_GATED_ACT, LOWBIT_HAL_OP_GELU_TANH,
                "gated_act gelu_tanh"},
              K{LOWBIT_HAL_OP_ADD, 0, "add"}}) {
    std::mt19937 rng(5);
    const int64_t n = 37, T = 3;
    lowbit_hal_op_desc op = desc(c.kind, c.name);
    op.flags = c.flags;
    op.cols = n;
    compareOne(
        GetParam(), op,
        {in(randn(T * n, rng, 3.0f)), in(randn(T * n, rng)), out(T * n)}, T,
        [](auto &g, auto &r, auto w) { expectRel(g, r, 1e-5, 1e-6, w); });
  }
}

/// GQA attention: a prefill of T tokens, then a decode step at position T,
/// on the same caches of C rows. Returns false when \p device declines the
/// op (skipped).
static bool checkAttention(const std::string &device, int64_t H, int64_t Hkv,
                           int64_t Dh, int64_t C, int64_t T, unsigned seed) {
  lowbit_hal_op_desc op = desc(LOWBIT_HAL_OP_ATTENTION, "attention");
  op.num_heads = H;
  op.num_kv_heads = Hkv;
  op.head_dim = Dh;
  std::mt19937 rng(seed);
  auto q1 = randn(T * H * Dh, rng), k1 = randn(T * Hkv * Dh, rng),
       v1 = randn(T * Hkv * Dh, rng);
  auto q2 = randn(H * Dh, rng), k2 = randn(Hkv * Dh, rng),
       v2 = randn(Hkv * Dh, rng);
  std::vector<int32_t> p1(static_cast<size_t>(T)), p2 = {int32_t(T)};
  std::iota(p1.begin(), p1.end(), 0);
  double vmax = 0;
  for (float x : v1)
    vmax = std::max(vmax, double(std::fabs(x)));
  for (float x : v2)
    vmax = std::max(vmax, double(std::fabs(x)));

  auto steps = [&](Device &dev, bool &declined) {
    std::vector<std::vector<float>> outs;
    if (!dev.v().supports_op(dev.get(), &op)) {
      declined = true;
      return outs;
    }
    lowbit_hal_kernel *k = dev.kernel(op);
    if (!k)
      return outs;
    lowbit_hal_buffer *kc = dev.zeros(C * Hkv * Dh * 4),
                      *vc = dev.zeros(C * Hkv * Dh * 4);
    lowbit_hal_buffer *o1 = dev.zeros(T * H * Dh * 4);
    if (!dev.dispatch(k,
                      {dev.upload(q1), dev.upload(k1), dev.upload(v1),
                       dev.upload(p1), kc, vc, o1},
                      T, C))
      return outs;
    outs.push_back(dev.download<float>(o1, size_t(T * H * Dh)));
    lowbit_hal_buffer *o2 = dev.zeros(H * Dh * 4);
    if (!dev.dispatch(k,
                      {dev.upload(q2), dev.upload(k2), dev.upload(v2),
                       dev.upload(p2), kc, vc, o2},
                      1, C))
      return outs;
    outs.push_back(dev.download<float>(o2, size_t(H * Dh)));
    return outs;
  };
  Device dut(device), ref("cpu");
  EXPECT_TRUE(dut.ok() && ref.ok());
  if (!dut.ok() || !ref.ok())
    return true;
  bool declined = false, refDeclined = false;
  auto got = steps(dut, declined);
  if (declined)
    return false;
  auto want = steps(ref, refDeclined);
  EXPECT_EQ(want.size(), 2u);
  EXPECT_EQ(got.size(), 2u);
  if (want.size() != 2 || got.size() != 2)
    return true;
  expectRel(got[0], want[0], 0, 1e-4 * vmax + 1e-6, "attention prefill");
  expectRel(got[1], want[1], 0, 1e-4 * vmax + 1e-6, "attention decode");
  return true;
}

/// Small heads (narrower than any vector): 4 query heads over 2 KV heads.
TEST_P(CtsOps, AttentionPrefillAndDecode) {
  if (!checkAttention(GetParam(), 4, 2, 8, 16, 5, 6))
    GTEST_SKIP() << GetParam() << " declines attention: runs on cpu";
}

/// SmolLM2's heads (9 over 3, Dh 64) over 40 positions, long enough for a
/// device's vector and threaded paths.
TEST_P(CtsOps, AttentionModelHeads) {
  if (!checkAttention(GetParam(), 9, 3, 64, 48, 40, 16))
    GTEST_SKIP() << GetParam() << " declines attention: runs on cpu";
}

/// The qmatmul cases: bits 2/3/4/8 x sym/asym x g32/g128/per-channel, with
/// f32 and f16 scales, act-order permutations and biases spread over them so
/// each bit width sees both scale types and both with and without perm.
/// K = 160 gives g128 a ragged last group; N = 40 a ragged last row tile.
std::vector<QMatmulCase> qmatmulCases() {
  std::vector<QMatmulCase> cases;
  int i = 0;
  for (int bits : {2, 3, 4, 8})
    for (bool sym : {true, false})
      for (int64_t g : {int64_t(32), int64_t(128), int64_t(-1)}) {
        QMatmulCase c;
        c.bits = bits;
        c.symmetric = sym;
        c.groupSize = g;
        c.f16Scales = i % 2 == 1;
        c.perm = (i / 2) % 2 == 1;
        c.bias = i % 3 == 0;
        cases.push_back(c);
        ++i;
      }
  return cases;
}

TEST_P(CtsOps, QMatmul) {
  const std::string driver = GetParam();
  const std::vector<QMatmulCase> cases = qmatmulCases();
  std::string err;
  std::vector<CaseCode> code = codeFor(driver, cases, err);
  ASSERT_EQ(code.size(), cases.size()) << err;
  std::vector<CaseCode> cpuCode = codeFor("cpu", cases, err);
  const codec::Codec *layout = codec::findCodec(codec::kX86Tile16Codec);
  ASSERT_NE(layout, nullptr);

  Device dut(driver), ref("cpu");
  ASSERT_TRUE(dut.ok() && ref.ok());
  ASSERT_TRUE(dut.load(code[0]));
  std::mt19937 rng(8);
  int ran = 0;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const QMatmulCase &c = cases[ci];
    SCOPED_TRACE(c.name());
    codec::WeightDesc wd;
    wd.bits = unsigned(c.bits);
    wd.groupSize = c.groupSize;
    wd.symmetric = c.symmetric;
    wd.scaleType = c.f16Scales ? codec::ScaleType::F16 : codec::ScaleType::F32;
    wd.N = c.N;
    wd.K = c.K;
    codec::UnpackedWeight uw;
    std::uniform_int_distribution<int> code01(0, (1 << c.bits) - 1);
    std::uniform_real_distribution<float> sc(0.02f, 0.08f);
    uw.codes.resize(size_t(c.N * c.K));
    for (auto &x : uw.codes)
      x = uint8_t(code01(rng));
    uw.scales.resize(size_t(c.N * wd.numGroups()));
    for (auto &s : uw.scales)
      s = codec::roundToScaleType(sc(rng) / float(1 << (c.bits - 1)),
                                  wd.scaleType);
    if (!c.symmetric) {
      uw.zeros.resize(uw.scales.size());
      for (auto &z : uw.zeros)
        z = uint8_t(code01(rng));
    }
    std::vector<uint8_t> packed;
    ASSERT_TRUE(layout->encode(wd, uw, packed, &err)) << err;
    std::vector<float> w(size_t(c.N * c.K));
    ASSERT_TRUE(layout->dequantizeRows(wd, packed.data(), packed.size(), 0, c.N,
                                       w.data(), &err))
        << err;

    for (int64_t T : {int64_t(1), int64_t(5)}) {
      lowbit_hal_op_desc op =
          desc(LOWBIT_HAL_OP_QMATMUL, ("qmatmul " + c.name()).c_str());
      std::string ctx = "qmatmul " + c.name() + " T=" + std::to_string(T);
      op.context = ctx.c_str();
      op.rows = c.N;
      op.cols = c.K;
      op.bits = c.bits;
      op.group_size = c.groupSize;
      op.layout = codec::kX86Tile16Codec;
      op.weight_bytes = packed.size();
      op.flags = (c.symmetric ? LOWBIT_HAL_OP_SYMMETRIC : 0) |
                 (c.f16Scales ? LOWBIT_HAL_OP_F16_SCALES : 0) |
                 (c.perm ? LOWBIT_HAL_OP_HAS_PERM : 0) |
                 (c.bias ? LOWBIT_HAL_OP_HAS_BIAS : 0);
      auto x = randn(size_t(T * c.K), rng);
      std::vector<int32_t> perm(size_t(c.K));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      std::vector<float> xp = x;
      if (c.perm)
        for (int64_t t = 0; t < T; ++t)
          for (int64_t j = 0; j < c.K; ++j)
            xp[size_t(t * c.K + j)] = x[size_t(t * c.K + perm[size_t(j)])];
      auto bounds = dotBounds(xp, w, T, c.N, c.K);
      std::vector<Arg> args = {
          in(x), in(packed), c.bias ? in(randn(size_t(c.N), rng)) : absent(),
          c.perm ? in(perm) : absent(), out(size_t(T * c.N))};
      bool declined = false;
      op.op_json = code[ci].opJson.c_str();
      op.op_json_size = code[ci].opJson.size();
      auto got = run(dut, op, args, T, &declined);
      if (declined) {
        std::printf("[ cts      ] %s declines %s: runs on cpu\n",
                    driver.c_str(), ctx.c_str());
        continue;
      }
      op.op_json = cpuCode[ci].opJson.c_str();
      op.op_json_size = cpuCode[ci].opJson.size();
      auto want = run(ref, op, args, T);
      ASSERT_EQ(got.size(), 1u);
      ASSERT_EQ(want.size(), 1u);
      expectClose(
          got[0], want[0], [&](size_t i) { return bounds[i]; }, ctx);
      ++ran;
    }
  }
  std::printf("[ cts      ] %s: %d qmatmul cases compared with cpu\n",
              driver.c_str(), ran);
  if (driver == "cpu" || driver == "x86") {
    EXPECT_EQ(ran, int(cases.size()) * 2) << driver << " must run every case";
  }
}

/// The interface's own rules, for every driver.
TEST_P(CtsOps, InterfaceRules) {
  Device dev(GetParam());
  ASSERT_TRUE(dev.ok());
  // An unknown op kind is not supported.
  lowbit_hal_op_desc op = desc(LOWBIT_HAL_OP_KIND_COUNT, "unknown");
  EXPECT_EQ(dev.v().supports_op(dev.get(), &op), 0);
  // Wrong binding counts and too-small buffers are status errors.
  op = desc(LOWBIT_HAL_OP_ADD, "add");
  op.cols = 4;
  lowbit_hal_kernel *k = dev.kernel(op);
  ASSERT_NE(k, nullptr);
  lowbit_hal_buffer *small = dev.zeros(8);
  lowbit_hal_binding b[3] = {{small, 0, 8}, {small, 0, 8}, {small, 0, 8}};
  lowbit_hal_push_constants pc{2, 0};
  lowbit_hal_queue_options qo{};
  lowbit_hal_queue *q = nullptr;
  lowbit_hal_status st = dev.v().queue_create(dev.get(), &qo, &q);
  ASSERT_EQ(st, nullptr);
  st = dev.v().dispatch(dev.get(), q, k, b, 2, &pc, sizeof(pc));
  EXPECT_EQ(lowbit_hal_status_code_of(st), LOWBIT_HAL_INVALID_ARGUMENT);
  lowbit_hal_status_free(st);
  st = dev.v().dispatch(dev.get(), q, k, b, 3, &pc, sizeof(pc));
  EXPECT_EQ(lowbit_hal_status_code_of(st), LOWBIT_HAL_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lowbit_hal_status_message(st)).find("bytes"),
            std::string::npos);
  lowbit_hal_status_free(st);
  // Copies out of range are errors too.
  float x[4] = {};
  st = dev.v().copy_host_to_buffer(dev.get(), q, x, small, 4, 8);
  EXPECT_EQ(lowbit_hal_status_code_of(st), LOWBIT_HAL_INVALID_ARGUMENT);
  lowbit_hal_status_free(st);
  dev.v().queue_free(dev.get(), q);
  // An unknown code format is UNSUPPORTED.
  lowbit_hal_executable *exe = nullptr;
  st = dev.v().executable_load(dev.get(), "no-such-format-v1", x, sizeof(x),
                               &exe);
  EXPECT_EQ(lowbit_hal_status_code_of(st), LOWBIT_HAL_UNSUPPORTED);
  lowbit_hal_status_free(st);
}

INSTANTIATE_TEST_SUITE_P(Registry, CtsOps, ::testing::ValuesIn(driverNames()),
                         [](const auto &info) { return info.param; });

TEST(CtsRegistry, CpuIsLastAndUnknownNamesAreListed) {
  std::vector<std::string> names = driverNames();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.back(), "cpu");
  lowbit_hal_device *d = nullptr;
  lowbit_hal_status st = lowbit_hal_device_create("tpu", nullptr, &d);
  EXPECT_EQ(lowbit_hal_status_code_of(st), LOWBIT_HAL_UNSUPPORTED);
  EXPECT_NE(std::string(lowbit_hal_status_message(st))
                .find(std::string("available: ") + lowbit_hal_driver_names()),
            std::string::npos);
  lowbit_hal_status_free(st);
  EXPECT_EQ(d, nullptr);
}

} // namespace
