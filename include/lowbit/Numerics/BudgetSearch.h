//===- BudgetSearch.h - Schemes per weight under a bit budget ---*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Mixed precision: given, for each weight, the bits per weight and the
// estimated KL of each candidate scheme (lowbit-sensitivity), choose one
// scheme per weight that minimises the summed KL with the average bits per
// weight at most a target. The KL of several quantized weights is taken as
// the sum of their own KLs (the usual first-order assumption).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_BUDGETSEARCH_H
#define LOWBIT_NUMERICS_BUDGETSEARCH_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::numerics {

/// One candidate scheme of one weight.
struct SchemeCost {
  double bitsPerWeight = 0;
  /// Estimated KL of quantizing this weight alone with the scheme.
  double kl = 0;
};

/// The candidates of one weight of `numel` elements.
struct WeightCurve {
  std::string name;
  int64_t numel = 0;
  std::vector<SchemeCost> schemes;
};

/// The choice: one scheme index per weight.
struct BudgetChoice {
  std::vector<size_t> scheme;
  /// Average bits per weight over all the weights, and the summed KL.
  double bitsPerWeight = 0;
  double kl = 0;
};

/// Chooses one scheme per weight minimising the summed KL with the average
/// bits per weight (weighted by numel) at most `targetBitsPerWeight`: a
/// knapsack over the budget cut into 65,536 steps (each scheme's bits
/// rounded up to whole steps), then steps on the exact bit counts:
/// downgrades while over the budget, upgrades (most KL saved per bit) while
/// they fit, and pair exchanges (one weight up, another down) while one
/// lowers the KL and fits. Deterministic
/// (ties: the lower scheme index). Fails,
/// naming the weight, on an empty or non-finite curve, and when even the
/// cheapest scheme of every weight exceeds the target.
llvm::Expected<BudgetChoice> chooseSchemes(llvm::ArrayRef<WeightCurve> weights,
                                           double targetBitsPerWeight);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_BUDGETSEARCH_H
