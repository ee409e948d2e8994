//===- Sensitivity.cpp - lowbit-sensitivity ---------------------*- C++ -*-===//
//
// How much quantizing each weight alone costs the model's output, per
// candidate scheme: a Hessian proxy for every scheme, calibrated into a KL
// estimate by one measurement per tensor (see Passes.td).
//
//===----------------------------------------------------------------------===//

#include "QuantPassUtils.h"
#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Numerics/Gptq.h"
#include "lowbit/Numerics/Hessian.h"
#include "lowbit/Numerics/Quantize.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Support/OutputFile.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <cblas.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITSENSITIVITY
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
namespace numerics = ::lowbit::numerics;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// One candidate scheme.
struct Candidate {
  unsigned bits;
  int64_t groupSize;
  numerics::QuantParams params;
};

/// One weight and its results per candidate.
struct Entry {
  ::lowbit::LayerChoice layer;
  /// Index of its block; numBlocks for the output projection.
  unsigned block = 0;
  bool head = false;
  int64_t n = 0, k = 0;
  std::vector<double> proxy, measured;
  /// The rounded weight of each scheme to be measured (emptied once it is).
  std::vector<numerics::QuantResult> results;
};

/// Bits per weight of `c` on an [n, k] weight as the scheme stores it:
/// codes, one scale (and zero point) per group of the row.
double bitsPerWeight(const Candidate &c, int64_t k) {
  const numerics::QuantParams &p = c.params;
  double scaleBits = p.scaleType == numerics::ScaleType::F32 ? 32 : 16;
  double zeroBits = p.symmetric ? 0 : 8;
  int64_t groups = c.groupSize < 0 ? 1 : (k + c.groupSize - 1) / c.groupSize;
  if (p.superGroup > 0) {
    // 8-bit scale codes, one scale per super-block.
    int64_t supers = (groups + p.superGroup - 1) / p.superGroup;
    return c.bits +
           ((8 + zeroBits) * double(groups) + scaleBits * double(supers)) /
               double(k);
  }
  return c.bits + (scaleBits + zeroBits) * double(groups) / double(k);
}

/// Mean over tokens of the squared output error ||dW x||^2 of W [n, k]
/// rounded to `q`, from H = 2 X^T X / tokens: tr(dW H dW^T) / 2.
double proxyOf(const std::vector<float> &w, int64_t n, int64_t k,
               const std::vector<float> &h, const numerics::QuantResult &q,
               const Candidate &c) {
  std::vector<float> d = numerics::dequantize(q, c.params, n, k);
  for (size_t i = 0; i < d.size(); ++i)
    d[i] = w[i] - d[i];
  // Rows in chunks bound the product's memory.
  constexpr int64_t kRows = 1024;
  std::vector<float> dh(size_t(std::min(n, kRows) * k));
  double sum = 0;
  for (int64_t r0 = 0; r0 < n; r0 += kRows) {
    int64_t rows = std::min(kRows, n - r0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(k),
                int(k), 1.0f, d.data() + r0 * k, int(k), h.data(), int(k), 0.0f,
                dh.data(), int(k));
    for (int64_t i = 0; i < rows * k; ++i)
      sum += double(d[r0 * k + i]) * dh[i];
  }
  return sum / 2;
}

/// The float model's next-token distributions of one calibration row: the
/// probabilities p [T, V] and, per token, sum_j p_j log p_j.
struct Reference {
  std::vector<float> p;
  std::vector<double> plogp;
  int64_t t = 0, v = 0;
};

/// Reference distributions from logits [T, V].
Reference makeReference(const ::lowbit::Tensor &logits) {
  Reference r;
  r.t = logits.rows();
  r.v = logits.cols();
  r.p.resize(size_t(r.t * r.v));
  r.plogp.resize(size_t(r.t));
  for (int64_t i = 0; i < r.t; ++i) {
    const float *a = logits.f->data() + i * r.v;
    double m = *std::max_element(a, a + r.v), sum = 0;
    for (int64_t j = 0; j < r.v; ++j)
      sum += std::exp(a[j] - m);
    double lse = m + std::log(sum), h = 0;
    for (int64_t j = 0; j < r.v; ++j) {
      double lp = a[j] - lse, p = std::exp(lp);
      r.p[size_t(i * r.v + j)] = float(p);
      h += p * lp;
    }
    r.plogp[size_t(i)] = h;
  }
  return r;
}

/// Summed KL(p || q) over the tokens of a row, q from logits [T, V]:
/// sum_j p_j log p_j - sum_j p_j b_j + logsumexp(b), one exp per logit.
double summedKl(const Reference &ref, const ::lowbit::Tensor &q) {
  double total = 0;
  for (int64_t i = 0; i < ref.t; ++i) {
    const float *b = q.f->data() + i * ref.v;
    const float *p = ref.p.data() + i * ref.v;
    double m = *std::max_element(b, b + ref.v), sum = 0, pb = 0;
    for (int64_t j = 0; j < ref.v; ++j) {
      sum += std::exp(double(b[j]) - m);
      pb += double(p[j]) * b[j];
    }
    total += std::max(ref.plogp[size_t(i)] - pb + m + std::log(sum), 0.0);
  }
  return total;
}

/// Ranks with ties averaged.
std::vector<double> ranks(const std::vector<double> &x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  llvm::stable_sort(order, [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]])
      ++j;
    for (size_t m = i; m <= j; ++m)
      r[order[m]] = (double(i) + double(j)) / 2;
    i = j + 1;
  }
  return r;
}

/// Spearman's rank correlation of x and y (NaN under 3 pairs).
double spearman(const std::vector<double> &x, const std::vector<double> &y) {
  if (x.size() < 3)
    return kNaN;
  std::vector<double> rx = ranks(x), ry = ranks(y);
  double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / rx.size();
  double my = std::accumulate(ry.begin(), ry.end(), 0.0) / ry.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : kNaN;
}

llvm::json::Value number(double v) {
  return std::isfinite(v) ? llvm::json::Value(v) : llvm::json::Value(nullptr);
}

struct SensitivityPass
    : mlir::lowbit::impl::LowbitSensitivityBase<SensitivityPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run();
};

LogicalResult SensitivityPass::run() {
  ModuleOp module = getOperation();
  if (report.empty())
    return module.emitError("lowbit-sensitivity writes its results to "
                            "report=FILE; none was given");
  if (rounding != "rtn" && rounding != "gptq")
    return module.emitError()
           << "rounding must be rtn or gptq, got '" << rounding << "'";
  if (!(damp >= 0.0 && damp < 1.0))
    return module.emitError()
           << "damp must be in [0, 1), got " << static_cast<double>(damp);
  if (measure != "anchor" && measure != "all" && measure != "none")
    return module.emitError()
           << "measure must be anchor, all or none, got '" << measure << "'";
  std::vector<unsigned> bitList(bits.begin(), bits.end());
  if (bitList.empty())
    bitList = {2, 3, 4, 8};
  std::vector<int64_t> groupList(groupSizes.begin(), groupSizes.end());
  if (groupList.empty())
    groupList = {32, 64, 128};
  std::vector<Candidate> candidates;
  for (unsigned b : bitList)
    for (int64_t g : groupList) {
      // Per-channel candidates have one scale per row: no super-blocks.
      auto params = ::lowbit::makeQuantParams(b, g, symmetric, false, scaleType,
                                              symGrid, g > 0 ? superGroup : 0);
      if (!params)
        return ::lowbit::emitErr(module, params.takeError());
      for (const Candidate &c : candidates)
        if (c.bits == b && c.groupSize == g)
          return module.emitError() << "candidate " << b << " bits, group " << g
                                    << " is listed twice";
      candidates.push_back({b, g, *params});
    }
  int anchor = -1;
  for (auto [i, c] : llvm::enumerate(candidates))
    if (c.bits == anchorBits && c.groupSize == anchorGroupSize)
      anchor = int(i);
  if (anchor < 0 && measure != "none")
    return module.emitError()
           << "the anchor scheme (" << static_cast<unsigned>(anchorBits)
           << " bits, group " << static_cast<int64_t>(anchorGroupSize)
           << ") is not among the candidates";
  if (llvm::Error err = ::lowbit::checkOutputFile(report))
    return ::lowbit::emitErr(module, std::move(err));
  if (llvm::Error err =
          ::lowbit::requireCalibration("lowbit-sensitivity", calib))
    return ::lowbit::emitErr(module, std::move(err));
  auto calibSet = ::lowbit::loadPassCalibration(
      module, "lowbit-sensitivity", calib, numSamples, seqLen, seed);
  if (!calibSet)
    return ::lowbit::emitErr(module, calibSet.takeError());

  // An analysis: nothing is written to this scope.
  auto session = ::lowbit::QuantSession::open(module, "sensitivity", "");
  if (!session)
    return ::lowbit::emitErr(module, session.takeError());
  std::vector<::lowbit::LayerOverride> noOverrides;
  auto layers =
      ::lowbit::selectLayers(module, candidates.front().params, noOverrides);
  if (!layers)
    return ::lowbit::emitErr(module, layers.takeError());
  auto exec = (*session)->getExecutor(seqLen);
  if (!exec)
    return ::lowbit::emitErr(module, exec.takeError());
  auto runner = ::lowbit::BlockwiseRunner::create(module, **exec, *calibSet);
  if (!runner)
    return ::lowbit::emitErr(module, runner.takeError());
  const unsigned numBlocks = (*runner)->numBlocks();

  std::vector<Entry> entries;
  llvm::DenseMap<Operation *, unsigned> blockIndex;
  for (unsigned b = 0; b < numBlocks; ++b)
    blockIndex[(*runner)->block(b)] = b;
  for (::lowbit::LayerChoice &layer : *layers) {
    Entry e;
    e.layer = layer;
    e.block = blockIndex.lookup(layer.block);
    e.n = layer.weight.getType().getDimSize(0);
    e.k = layer.weight.getType().getDimSize(1);
    entries.push_back(std::move(e));
  }
  if (lmHead && ::lowbit::findFloatOutputProjection(module)) {
    auto head = ::lowbit::selectOutputProjection(module, candidates[0].params);
    if (!head)
      return ::lowbit::emitErr(module, head.takeError());
    Entry e;
    e.layer = head->front();
    e.block = numBlocks;
    e.head = true;
    e.n = e.layer.weight.getType().getDimSize(0);
    e.k = e.layer.weight.getType().getDimSize(1);
    entries.push_back(std::move(e));
  }
  if (entries.empty())
    return module.emitError("lowbit-sensitivity: no float linear weight to "
                            "measure");

  // One float run over the blocks: each block's input is saved (the
  // measurements start there) and its layers' Hessians give the proxies.
  // GPTQ rounding for the decoder linears when they will be quantized by
  // GPTQ (the output projection is always RTN); the results of the schemes
  // to be measured are kept for the measurements.
  numerics::GptqParams gptq;
  gptq.dampPercent = damp;
  gptq.actOrder = actOrder;
  auto proxies = [&](Entry &e, const std::vector<float> &h) -> llvm::Error {
    auto w = (*session)->loadWeight(e.layer);
    if (!w)
      return w.takeError();
    e.measured.assign(candidates.size(), kNaN);
    e.results.resize(candidates.size());
    for (auto [i, c] : llvm::enumerate(candidates)) {
      numerics::QuantResult q;
      // The output projection keeps plain scales (as the pipeline's RTN).
      numerics::QuantParams qp = c.params;
      if (e.head)
        qp.superGroup = 0;
      gptq.quant = qp;
      if (llvm::Error err =
              rounding == "gptq" && !e.head
                  ? numerics::gptqQuantize(w->data(), e.n, e.k, h.data(), gptq,
                                           q)
                  : numerics::rtnQuantize(w->data(), e.n, e.k, qp, q))
        return err;
      e.proxy.push_back(proxyOf(*w, e.n, e.k, h, q, c));
      if (measure == "all" || int(i) == anchor)
        e.results[i] = std::move(q);
    }
    return llvm::Error::success();
  };
  std::vector<std::vector<::lowbit::Tensor>> blockInputs(numBlocks + 1);
  auto start = std::chrono::steady_clock::now();
  for (unsigned b = 0; b < numBlocks; ++b) {
    blockInputs[b] = (*runner)->currentInputs();
    llvm::MapVector<Value, std::unique_ptr<numerics::HessianAccumulator>>
        hessians;
    llvm::DenseMap<Operation *, Value> observed;
    for (Entry &e : entries)
      if (e.block == b && !e.head) {
        Value input = e.layer.op.getInput();
        if (!hessians.count(input))
          hessians[input] = std::make_unique<numerics::HessianAccumulator>(e.k);
        observed[e.layer.op] = input;
      }
    (*exec)->setLinearObserver(
        [&](Operation *op, const float *x, int64_t rows, int64_t) {
          auto it = observed.find(op);
          if (it != observed.end())
            hessians[it->second]->add(x, rows);
        });
    llvm::Error err = (*runner)->advance(b);
    (*exec)->setLinearObserver(nullptr);
    if (err)
      return ::lowbit::emitErr(module, std::move(err));
    for (Entry &e : entries)
      if (e.block == b && !e.head) {
        std::vector<float> h = hessians[e.layer.op.getInput()]->finalize();
        if (llvm::Error err = proxies(e, h))
          return ::lowbit::emitErr(e.layer.op, std::move(err));
      }
  }
  blockInputs[numBlocks] = (*runner)->currentInputs();

  // The float model's logits (the reference of every measurement) and the
  // output projection's Hessian.
  std::vector<Reference> reference(blockInputs[0].size());
  {
    Entry *head = entries.back().head ? &entries.back() : nullptr;
    std::unique_ptr<numerics::HessianAccumulator> hHead;
    if (head) {
      hHead = std::make_unique<numerics::HessianAccumulator>(head->k);
      (*exec)->setLinearObserver(
          [&](Operation *op, const float *x, int64_t rows, int64_t) {
            if (op == head->layer.op.getOperation())
              hHead->add(x, rows);
          });
    }
    llvm::Error err =
        (*runner)->forwardFrom(numBlocks, blockInputs[numBlocks],
                               [&](size_t row, const ::lowbit::Tensor &logits) {
                                 reference[row] = makeReference(logits);
                                 return llvm::Error::success();
                               });
    (*exec)->setLinearObserver(nullptr);
    if (err)
      return ::lowbit::emitErr(module, std::move(err));
    if (head)
      if (llvm::Error err = proxies(*head, hHead->finalize()))
        return ::lowbit::emitErr(head->layer.op, std::move(err));
  }
  llvm::errs() << llvm::formatv("lowbit-sensitivity: proxies of {0} weights "
                                "x {1} schemes ({2:f1} s)\n",
                                entries.size(), candidates.size(),
                                ::lowbit::secondsSince(start));

  // Measurements: one weight replaced by its rounded value, the model run
  // from that weight's block on the saved inputs (the output projection, a
  // tied table also being the lookup, runs the whole model).
  auto measureOne = [&](Entry &e, size_t c) -> llvm::Error {
    (*exec)->overrideWeight(
        e.layer.weight,
        ::lowbit::Tensor::floats(
            {e.n, e.k}, numerics::dequantize(e.results[c], candidates[c].params,
                                             e.n, e.k)));
    e.results[c] = numerics::QuantResult();
    double total = 0;
    auto add = [&](size_t row, const ::lowbit::Tensor &logits) {
      total += summedKl(reference[row], logits);
      return llvm::Error::success();
    };
    llvm::Error err = llvm::Error::success();
    if (e.head) {
      const std::vector<::lowbit::Tensor> &tokens = (*runner)->rowTokens();
      for (size_t r = 0; r < tokens.size() && !err; ++r) {
        std::vector<int32_t> pos(tokens[r].numel());
        std::iota(pos.begin(), pos.end(), 0);
        std::vector<float> logits;
        (*exec)->reset();
        err = (*exec)->forward(*tokens[r].i, pos, logits);
        if (!err)
          err = add(r, ::lowbit::Tensor::floats(
                           {int64_t(pos.size()), (*exec)->vocabSize()},
                           std::move(logits)));
      }
    } else {
      err = (*runner)->forwardFrom(e.block, blockInputs[e.block], add);
    }
    (*exec)->forgetWeight(e.layer.weight);
    if (err)
      return err;
    int64_t tokens = 0;
    for (const Reference &r : reference)
      tokens += r.t;
    e.measured[c] = total / double(std::max<int64_t>(tokens, 1));
    return llvm::Error::success();
  };
  if (measure != "none") {
    start = std::chrono::steady_clock::now();
    size_t done = 0;
    for (Entry &e : entries) {
      for (size_t c = 0; c < candidates.size(); ++c)
        if (measure == "all" || int(c) == anchor)
          if (llvm::Error err = measureOne(e, c))
            return ::lowbit::emitErr(e.layer.op, std::move(err));
      if (++done % 10 == 0 || done == entries.size())
        llvm::errs() << llvm::formatv(
            "lowbit-sensitivity: measured {0}/{1} weights ({2:f1} s)\n", done,
            entries.size(), ::lowbit::secondsSince(start));
    }
  }

  // The report.
  std::vector<double> predictedAll, proxyAll, measuredAll;
  std::vector<llvm::json::Value> tensors;
  for (Entry &e : entries) {
    double gain = kNaN;
    if (anchor >= 0 && std::isfinite(e.measured[anchor]) && e.proxy[anchor] > 0)
      gain = e.measured[anchor] / e.proxy[anchor];
    llvm::json::Array schemes;
    for (auto [c, cand] : llvm::enumerate(candidates)) {
      double predicted = gain * e.proxy[c];
      llvm::json::Object s{{"bits", cand.bits},
                           {"group_size", cand.groupSize},
                           {"bits_per_weight", bitsPerWeight(cand, e.k)},
                           {"proxy", number(e.proxy[c])},
                           {"predicted_kl", number(predicted)},
                           {"measured_kl", number(e.measured[c])}};
      schemes.push_back(std::move(s));
      if (std::isfinite(e.measured[c]) && int(c) != anchor &&
          std::isfinite(predicted)) {
        predictedAll.push_back(predicted);
        proxyAll.push_back(e.proxy[c]);
        measuredAll.push_back(e.measured[c]);
      }
    }
    tensors.push_back(llvm::json::Object{
        {"name", e.layer.name},
        {"weight", e.layer.weightName},
        {"block", e.head ? llvm::json::Value(nullptr)
                         : llvm::json::Value(int64_t(e.block))},
        {"output_projection", e.head},
        {"shape", llvm::json::Array{e.n, e.k}},
        {"gain", number(gain)},
        {"schemes", std::move(schemes)}});
  }
  int64_t tokens = 0;
  for (const Reference &r : reference)
    tokens += r.t;
  llvm::json::Array candidateList;
  for (const Candidate &c : candidates)
    candidateList.push_back(
        llvm::json::Object{{"bits", c.bits}, {"group_size", c.groupSize}});
  llvm::json::Object extra{{"format", "lowbit-sensitivity-v1"},
                           {"calibration_tokens", tokens},
                           {"measure", measure.getValue()},
                           {"symmetric", symmetric.getValue()},
                           {"scale_type", scaleType.getValue()},
                           {"rounding", rounding.getValue()},
                           {"candidates", std::move(candidateList)}};
  if (anchor >= 0)
    extra["anchor"] =
        llvm::json::Object{{"bits", candidates[anchor].bits},
                           {"group_size", candidates[anchor].groupSize}};
  if (!measuredAll.empty()) {
    double rhoPredicted = spearman(predictedAll, measuredAll);
    double rhoProxy = spearman(proxyAll, measuredAll);
    // Per scheme, across the weights: does the prediction order the weights
    // as the measurements do (what a budget search relies on)?
    double minAcross = INFINITY, sumAcross = 0;
    int64_t schemesAcross = 0;
    for (size_t c = 0; c < candidates.size(); ++c) {
      if (int(c) == anchor)
        continue;
      std::vector<double> p, m;
      for (const Entry &e : entries) {
        double gain = e.measured[anchor] / e.proxy[anchor];
        if (std::isfinite(e.measured[c]) && std::isfinite(gain)) {
          p.push_back(gain * e.proxy[c]);
          m.push_back(e.measured[c]);
        }
      }
      double rho = spearman(p, m);
      if (std::isfinite(rho)) {
        minAcross = std::min(minAcross, rho);
        sumAcross += rho;
        ++schemesAcross;
      }
    }
    double meanAcross = schemesAcross ? sumAcross / schemesAcross : kNaN;
    extra["validation"] = llvm::json::Object{
        {"pairs", int64_t(measuredAll.size())},
        {"spearman_predicted_vs_measured", number(rhoPredicted)},
        {"spearman_proxy_vs_measured", number(rhoProxy)},
        {"spearman_across_weights_mean", number(meanAcross)},
        {"spearman_across_weights_min",
         number(schemesAcross ? minAcross : kNaN)}};
    llvm::errs() << llvm::formatv(
        "lowbit-sensitivity: predicted vs measured KL over {0} (weight, "
        "scheme) pairs: Spearman {1:f3} (raw proxy {2:f3}); across the "
        "weights per scheme: mean {3:f3}, min {4:f3}\n",
        measuredAll.size(), rhoPredicted, rhoProxy, meanAcross,
        schemesAcross ? minAcross : kNaN);
  }
  if (llvm::Error err =
          ::lowbit::writeReport(report, tensors, std::move(extra)))
    return ::lowbit::emitErr(module, std::move(err));
  return success();
}

} // namespace
