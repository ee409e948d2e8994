//===- Sampling.cpp - evaluation metrics and token sampling -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// argmax, log-softmax based metrics (NLL, KL divergence) and the sampler
/// with its splitmix64 generator. Everything probabilistic is computed in
/// double.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace lowbit::rt::kernels;

//===----------------------------------------------------------------------===//
// Metrics
//===----------------------------------------------------------------------===//

int32_t lowbit::rt::kernels::argmax(const float *logits, int64_t V) {
  if (V <= 0)
    return -1;
  int64_t best = -1;
  for (int64_t i = 0; i < V; ++i) {
    if (std::isnan(logits[i]))
      continue;
    if (best < 0 || logits[i] > logits[best])
      best = i;
  }
  return static_cast<int32_t>(best < 0 ? 0 : best);
}

double lowbit::rt::kernels::logSumExp(const float *logits, int64_t V) {
  double maxLogit = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < V; ++i)
    maxLogit = std::max(maxLogit, static_cast<double>(logits[i]));
  if (!std::isfinite(maxLogit))
    return maxLogit;
  double sum = 0.0;
  for (int64_t i = 0; i < V; ++i)
    sum += std::exp(static_cast<double>(logits[i]) - maxLogit);
  return maxLogit + std::log(sum);
}

double lowbit::rt::kernels::logSoftmaxNLL(const float *logits, int64_t V,
                                          int32_t target) {
  if (target < 0 || target >= V)
    return std::numeric_limits<double>::quiet_NaN();
  return logSumExp(logits, V) - static_cast<double>(logits[target]);
}

double lowbit::rt::kernels::klDivergence(const float *refLogits,
                                         const float *logits, int64_t V) {
  const double refLse = logSumExp(refLogits, V);
  const double lse = logSumExp(logits, V);
  double kl = 0.0;
  for (int64_t i = 0; i < V; ++i) {
    const double refLogProb = static_cast<double>(refLogits[i]) - refLse;
    const double refProb = std::exp(refLogProb);
    // Terms with p_ref = 0 contribute nothing, even where p = 0 too.
    if (refProb == 0.0)
      continue;
    const double logProb = static_cast<double>(logits[i]) - lse;
    kl += refProb * (refLogProb - logProb);
  }
  return kl;
}

//===----------------------------------------------------------------------===//
// Random numbers
//===----------------------------------------------------------------------===//

uint64_t lowbit::rt::kernels::nextRandom(uint64_t &state) {
  // splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
  // generators", 2014): a Weyl sequence followed by a 64-bit finalizer.
  state += 0x9e3779b97f4a7c15ULL;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double lowbit::rt::kernels::nextUniform(uint64_t &state) {
  return static_cast<double>(nextRandom(state) >> 11) * 0x1.0p-53;
}

//===----------------------------------------------------------------------===//
// sample
//===----------------------------------------------------------------------===//

/// Orders candidates by decreasing logit and then by increasing id: a strict
/// total order, so sorting gives the same sequence on every platform.
static bool moreLikely(const SampleCandidate &a, const SampleCandidate &b) {
  if (a.logit != b.logit)
    return a.logit > b.logit;
  return a.id < b.id;
}

int32_t lowbit::rt::kernels::sample(const float *logits, int64_t V,
                                    const SamplingParams &params,
                                    uint64_t &rngState,
                                    std::vector<SampleCandidate> &scratch) {
  if (V <= 0)
    return -1;
  if (!(params.temperature > 0.0f) || params.topK == 1)
    return argmax(logits, V);

  // Candidates: every token that can have a nonzero probability.
  scratch.clear();
  for (int64_t i = 0; i < V; ++i) {
    float l = logits[i];
    if (std::isnan(l) || l == -std::numeric_limits<float>::infinity())
      continue;
    scratch.push_back({l, static_cast<int32_t>(i), 0.0});
  }
  if (scratch.empty())
    return argmax(logits, V);

  const int64_t n = static_cast<int64_t>(scratch.size());
  const bool useTopK = params.topK > 0 && params.topK < n;
  const bool useTopP = params.topP < 1.0f;
  if (useTopK) {
    auto kth = scratch.begin() + params.topK;
    std::nth_element(scratch.begin(), kth, scratch.end(), moreLikely);
    scratch.erase(kth, scratch.end());
  }
  // Sorting is needed for top-p, and keeps the top-k prefix in a canonical
  // order (nth_element leaves it in an unspecified one).
  if (useTopK || useTopP)
    std::sort(scratch.begin(), scratch.end(), moreLikely);

  double maxLogit = -std::numeric_limits<double>::infinity();
  for (const SampleCandidate &c : scratch)
    maxLogit = std::max(maxLogit, static_cast<double>(c.logit));
  if (maxLogit == std::numeric_limits<double>::infinity()) {
    // An infinite logit takes all the mass: pick among the infinite ones.
    for (SampleCandidate &c : scratch)
      c.weight = std::isinf(c.logit) ? 1.0 : 0.0;
  } else {
    const double invTemp = 1.0 / static_cast<double>(params.temperature);
    for (SampleCandidate &c : scratch)
      c.weight = std::exp((static_cast<double>(c.logit) - maxLogit) * invTemp);
  }
  double total = 0.0;
  for (const SampleCandidate &c : scratch)
    total += c.weight;

  if (useTopP) {
    // Keep the shortest prefix whose probability reaches topP.
    const double threshold = static_cast<double>(params.topP) * total;
    double cumulative = 0.0;
    size_t keep = 0;
    while (keep < scratch.size()) {
      cumulative += scratch[keep].weight;
      ++keep;
      if (cumulative >= threshold)
        break;
    }
    scratch.resize(keep);
    total = cumulative;
  }

  const double u = nextUniform(rngState) * total;
  double cumulative = 0.0;
  for (const SampleCandidate &c : scratch) {
    cumulative += c.weight;
    if (u < cumulative)
      return c.id;
  }
  // Rounding can leave u just above the last partial sum.
  for (auto it = scratch.rbegin(); it != scratch.rend(); ++it)
    if (it->weight > 0.0)
      return it->id;
  return scratch.front().id;
}
