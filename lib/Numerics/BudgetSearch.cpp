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

  // A knapsack over the budget in kUnits steps: each scheme's bits rounded
  // to the nearest step, the least summed KL per number of steps used,
  // weight by weight.
  constexpr int64_t kUnits = 1 << 16;
  const double unit = budget / double(kUnits);
  const size_t n = weights.size();
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
      u -= std::llround(weights[w].schemes[s].bitsPerWeight *
                        double(weights[w].numel) / unit);
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
  choice.bitsPerWeight = bits / total;
  return choice;
}
