//===- BudgetSearch.cpp - Schemes per weight under a bit budget -----------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/BudgetSearch.h"

#include <cmath>

using namespace lowbit::numerics;

namespace {

/// Total bits and KL of `choice`.
void evaluate(llvm::ArrayRef<WeightCurve> weights, BudgetChoice &choice,
              double &bits) {
  bits = 0;
  choice.kl = 0;
  for (size_t w = 0; w < weights.size(); ++w) {
    const SchemeCost &s = weights[w].schemes[choice.scheme[w]];
    bits += s.bitsPerWeight * double(weights[w].numel);
    choice.kl += s.kl;
  }
}

} // namespace

llvm::Expected<BudgetChoice>
lowbit::numerics::chooseSchemes(llvm::ArrayRef<WeightCurve> weights,
                                double targetBitsPerWeight) {
  if (weights.empty())
    return llvm::createStringError("budget search: no weights");
  double total = 0, cheapest = 0;
  for (const WeightCurve &c : weights) {
    if (c.schemes.empty() || c.numel <= 0)
      return llvm::createStringError("budget search: weight '%s' has no "
                                     "candidate scheme",
                                     c.name.c_str());
    double minBits = INFINITY;
    for (const SchemeCost &s : c.schemes) {
      if (!std::isfinite(s.kl) || !std::isfinite(s.bitsPerWeight) ||
          s.bitsPerWeight <= 0)
        return llvm::createStringError(
            "budget search: weight '%s' has a scheme without a finite KL "
            "estimate or bit cost",
            c.name.c_str());
      minBits = std::min(minBits, s.bitsPerWeight);
    }
    total += double(c.numel);
    cheapest += minBits * double(c.numel);
  }
  const double budget = targetBitsPerWeight * total;
  if (!(cheapest <= budget))
    return llvm::createStringError(
        "budget search: %.4g bits per weight is below the cheapest mix of "
        "the candidates, %.4g",
        targetBitsPerWeight, cheapest / total);

  // A knapsack over the budget in kSteps steps: each scheme's bits rounded
  // up to whole steps, the least summed KL per number of steps used, weight
  // by weight.
  constexpr int64_t kSteps = 1 << 16;
  const double unit = budget / double(kSteps);
  const size_t n = weights.size();
  // Rounding up adds less than one step per weight: that much slack keeps
  // mixes that fill the budget exactly (one scheme for every weight) in
  // reach; an answer over the exact budget is repaired below.
  const int64_t kUnits = kSteps + int64_t(n);
  std::vector<double> best(kUnits + 1, 0.0), next(kUnits + 1);
  std::vector<uint8_t> pick(n * size_t(kUnits + 1));
  for (size_t w = 0; w < n; ++w) {
    const WeightCurve &c = weights[w];
    if (c.schemes.size() > 255)
      return llvm::createStringError("budget search: weight '%s' has more "
                                     "than 255 candidate schemes",
                                     c.name.c_str());
    std::vector<int64_t> cost(c.schemes.size());
    for (size_t s = 0; s < c.schemes.size(); ++s)
      cost[s] =
          std::llround(c.schemes[s].bitsPerWeight * double(c.numel) / unit);
    for (int64_t u = 0; u <= kUnits; ++u) {
      double value = INFINITY;
      uint8_t arg = 0;
      for (size_t s = 0; s < c.schemes.size(); ++s)
        if (cost[s] <= u && best[u - cost[s]] + c.schemes[s].kl < value) {
          value = best[u - cost[s]] + c.schemes[s].kl;
          arg = uint8_t(s);
        }
      next[u] = value;
      pick[w * size_t(kUnits + 1) + size_t(u)] = arg;
    }
    std::swap(best, next);
  }
  BudgetChoice choice;
  choice.scheme.assign(n, 0);
  double bits = 0;
  if (std::isfinite(best[kUnits])) {
    int64_t u = kUnits;
    for (size_t w = n; w-- > 0;) {
      size_t s = pick[w * size_t(kUnits + 1) + size_t(u)];
      choice.scheme[w] = s;
      u -= int64_t(std::ceil(weights[w].schemes[s].bitsPerWeight *
                             double(weights[w].numel) / unit));
    }
  } else {
    // Rounding left no room: the cheapest mix, which fits.
    for (size_t w = 0; w < n; ++w)
      for (size_t s = 1; s < weights[w].schemes.size(); ++s)
        if (weights[w].schemes[s].bitsPerWeight <
            weights[w].schemes[choice.scheme[w]].bitsPerWeight)
          choice.scheme[w] = s;
  }
  evaluate(weights, choice, bits);

  // Rounding may overshoot the exact budget by a few steps: greedy
  // downgrades, the least KL added per bit saved, until it fits (the
  // cheapest mix fits, so this ends).
  while (bits > budget) {
    size_t bestW = 0, bestS = 0;
    double bestRate = INFINITY;
    for (size_t w = 0; w < n; ++w) {
      const WeightCurve &c = weights[w];
      const SchemeCost &now = c.schemes[choice.scheme[w]];
      for (size_t s = 0; s < c.schemes.size(); ++s) {
        double saved =
            (now.bitsPerWeight - c.schemes[s].bitsPerWeight) * double(c.numel);
        if (saved <= 0)
          continue;
        double rate = (c.schemes[s].kl - now.kl) / saved;
        if (rate < bestRate) {
          bestRate = rate;
          bestW = w;
          bestS = s;
        }
      }
    }
    choice.scheme[bestW] = bestS;
    evaluate(weights, choice, bits);
  }

  // Greedy upgrades: the largest KL saving per added bit that still fits.
  for (;;) {
    size_t bestW = 0, bestS = 0;
    double bestRate = 0;
    for (size_t w = 0; w < weights.size(); ++w) {
      const WeightCurve &c = weights[w];
      const SchemeCost &now = c.schemes[choice.scheme[w]];
      for (size_t s = 0; s < c.schemes.size(); ++s) {
        double addBits =
            (c.schemes[s].bitsPerWeight - now.bitsPerWeight) * double(c.numel);
        double saved = now.kl - c.schemes[s].kl;
        if (saved <= 0 || bits + std::max(addBits, 0.0) > budget)
          continue;
        double rate = addBits <= 0 ? INFINITY : saved / addBits;
        if (rate > bestRate) {
          bestRate = rate;
          bestW = w;
          bestS = s;
        }
      }
    }
    if (bestRate <= 0)
      break;
    choice.scheme[bestW] = bestS;
    evaluate(weights, choice, bits);
  }
  // Pair exchanges on the exact bit counts (one weight up, another down)
  // while one lowers the summed KL and fits: the rounded knapsack misses
  // mixes that use the budget exactly, such as one scheme for every weight.
  for (;;) {
    double bestGain = 0;
    size_t bw1 = 0, bs1 = 0, bw2 = 0, bs2 = 0;
    for (size_t w1 = 0; w1 < n; ++w1) {
      const WeightCurve &c1 = weights[w1];
      const SchemeCost &now1 = c1.schemes[choice.scheme[w1]];
      for (size_t s1 = 0; s1 < c1.schemes.size(); ++s1) {
        double add1 = (c1.schemes[s1].bitsPerWeight - now1.bitsPerWeight) *
                      double(c1.numel);
        double gain1 = now1.kl - c1.schemes[s1].kl;
        if (add1 <= 0 || gain1 <= 0)
          continue;
        for (size_t w2 = 0; w2 < n; ++w2) {
          if (w2 == w1)
            continue;
          const WeightCurve &c2 = weights[w2];
          const SchemeCost &now2 = c2.schemes[choice.scheme[w2]];
          for (size_t s2 = 0; s2 < c2.schemes.size(); ++s2) {
            double add2 = (c2.schemes[s2].bitsPerWeight - now2.bitsPerWeight) *
                          double(c2.numel);
            double gain = gain1 + now2.kl - c2.schemes[s2].kl;
            if (add2 < 0 && bits + add1 + add2 <= budget && gain > bestGain) {
              bestGain = gain;
              bw1 = w1;
              bs1 = s1;
              bw2 = w2;
              bs2 = s2;
            }
          }
        }
      }
    }
    if (bestGain <= 0)
      break;
    choice.scheme[bw1] = bs1;
    choice.scheme[bw2] = bs2;
    evaluate(weights, choice, bits);
  }
  choice.bitsPerWeight = bits / total;
  return choice;
}
