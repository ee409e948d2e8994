//===- CtsBundle.cpp - a whole bundle on every driver against cpu -*- C++
//-*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The whole-bundle part of the conformance suite: the synthetic two-layer
/// bundle of test/Unit/Engine/TinyModel (every op kind, qmatmuls of 2/3/4/8
/// bits, act-order, f16 scales, ragged shapes) runs through the C API on
/// every driver of the registry (lowbit_rt_model_open_ex with the device
/// name) and on `cpu`: a prefill of 6 tokens (every position's logits) and 4
/// decode steps must give logits within 1e-4 max|logit| (fp32 dot products
/// in another order, through two layers) and the same argmax everywhere.
///
//===----------------------------------------------------------------------===//

#include "CtsDevice.h"
#include "TinyModel.h"
#include "lowbitrt/lowbit_rt.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdio>

using namespace lowbit::cts;

namespace {

class CtsBundle : public ::testing::TestWithParam<std::string> {};

/// Logits of the prefill (every row) then of each decode step.
std::vector<float> runBundle(const std::string &path, const std::string &dev,
                             const std::vector<int32_t> &prompt,
                             const std::vector<int32_t> &next) {
  lowbit_rt_model_options mo{};
  mo.device = dev.c_str();
  lowbit_rt_model *m = nullptr;
  if (lowbit_rt_model_open_ex(path.c_str(), &mo, &m) != LOWBIT_RT_OK) {
    ADD_FAILURE() << dev << ": " << lowbit_rt_last_error();
    return {};
  }
  lowbit_rt_device_info di;
  EXPECT_EQ(lowbit_rt_model_get_device(m, &di), LOWBIT_RT_OK);
  EXPECT_EQ(std::string(di.device), dev);
  lowbit_rt_session_options so{};
  so.threads = 2;
  lowbit_rt_session *s = nullptr;
  EXPECT_EQ(lowbit_rt_session_create(m, &so, &s), LOWBIT_RT_OK);
  const int64_t V = tiny::kVocab;
  std::vector<float> all(prompt.size() * size_t(V));
  EXPECT_EQ(
      lowbit_rt_prefill(s, prompt.data(), int64_t(prompt.size()), all.data()),
      LOWBIT_RT_OK);
  for (int32_t t : next) {
    EXPECT_EQ(lowbit_rt_decode(s, t), LOWBIT_RT_OK);
    const float *l = lowbit_rt_logits(s);
    all.insert(all.end(), l, l + V);
  }
  lowbit_rt_session_free(s);
  lowbit_rt_model_free(m);
  return all;
}

TEST_P(CtsBundle, TinyModelMatchesCpu) {
  const tiny::TinyModel &tm = tiny::TinyModel::get();
  ASSERT_FALSE(tm.kernelLib.empty());
  std::string path = tm.write(tm.manifest);
  const std::vector<int32_t> prompt = {0, 5, 17, 3, 44, 9};
  const std::vector<int32_t> next = {12, 30, 7, 2};
  std::vector<float> ref = runBundle(path, "cpu", prompt, next);
  std::vector<float> got = runBundle(path, GetParam(), prompt, next);
  std::remove(path.c_str());
  ASSERT_EQ(got.size(), ref.size());
  ASSERT_FALSE(ref.empty());
  const int64_t V = tiny::kVocab;
  double maxAbs = 0, maxDiff = 0;
  for (float x : ref)
    maxAbs = std::max(maxAbs, double(std::fabs(x)));
  int agree = 0, rows = int(ref.size() / size_t(V));
  for (int r = 0; r < rows; ++r) {
    const float *a = got.data() + r * V, *b = ref.data() + r * V;
    for (int64_t i = 0; i < V; ++i)
      maxDiff = std::max(maxDiff, double(std::fabs(a[i] - b[i])));
    agree += std::max_element(a, a + V) - a == std::max_element(b, b + V) - b;
  }
  std::printf("[ cts      ] %s vs cpu: max abs diff %.3g (max |logit| %.3g), "
              "argmax agreement %d/%d\n",
              GetParam().c_str(), maxDiff, maxAbs, agree, rows);
  EXPECT_LE(maxDiff, 1e-4 * maxAbs);
  EXPECT_EQ(agree, rows);
}

INSTANTIATE_TEST_SUITE_P(Registry, CtsBundle,
                         ::testing::ValuesIn(driverNames()),
                         [](const auto &info) { return info.param; });

} // namespace
