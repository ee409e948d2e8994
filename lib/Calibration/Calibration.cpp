//===- Calibration.cpp - calibration data and block-wise runs ---*- C++ -*-===//

#include "lowbit/Calibration/Calibration.h"

#include "lowbit/Import/HFImporter.h"
#include "lowbitrt/Kernels.h"
#include "lowbitrt/Tokenizer.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <numeric>

using namespace mlir;

namespace lowbit {

llvm::Expected<std::unique_ptr<BlockwiseRunner>>
BlockwiseRunner::create(ModuleOp module, Executor &executor,
                        const CalibrationSet &calib) {
  std::unique_ptr<BlockwiseRunner> runner(new BlockwiseRunner(executor));
  func::FuncOp entry = executor.entry();
  Block &body = entry.getBody().front();
  Value previous;
  func::CallOp first;
  for (auto call : entry.getOps<func::CallOp>()) {
    auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
    if (!callee || callee.isExternal() || call.getNumResults() != 1)
      return llvm::createStringError(
          "calibration: @forward must call decoder blocks that return one "
          "hidden state (call to @%s)",
          call.getCallee().str().c_str());
    std::vector<int> sources;
    for (auto [i, operand] : llvm::enumerate(call.getOperands())) {
      if (auto arg = dyn_cast<BlockArgument>(operand);
          arg && arg.getOwner() == &body) {
        sources.push_back(static_cast<int>(arg.getArgNumber()));
        continue;
      }
      if (i == 0 && (!previous || operand == previous)) {
        sources.push_back(-1);
        continue;
      }
      return llvm::createStringError(
          "calibration: blocks must be chained (@%s takes a value that is "
          "neither the previous block's output nor an argument of @forward)",
          call.getCallee().str().c_str());
    }
    if (!first)
      first = call;
    previous = call.getResult(0);
    runner->lastCall = call;
    runner->blocks.push_back(callee);
    runner->argSources.push_back(std::move(sources));
  }
  if (!first)
    return llvm::createStringError("calibration: @forward calls no blocks");

  // Run the part of @forward before the first block (the embedding) on
  // every row.
  for (const std::vector<int32_t> &row : calib.rows) {
    int64_t t = row.size();
    std::vector<int32_t> pos(t);
    std::iota(pos.begin(), pos.end(), 0);
    Tensor tok = Tensor::ints({t}, row), p = Tensor::ints({t}, pos);
    SmallVector<Tensor> operands;
    executor.reset();
    if (llvm::Error err = executor.runUntil(entry, {tok, p}, first, operands))
      return std::move(err);
    runner->hidden.push_back(operands[0]);
    runner->tokens.push_back(tok);
    runner->positions.push_back(p);
  }
  // The embedding table is not needed again during calibration.
  executor.forgetWeightsIn(entry);
  return runner;
}

SmallVector<Tensor> BlockwiseRunner::blockArgs(unsigned i, size_t r,
                                               const Tensor &h) const {
  SmallVector<Tensor> args;
  for (int source : argSources[i])
    args.push_back(source < 0 ? h : source == 0 ? tokens[r] : positions[r]);
  return args;
}

llvm::Error BlockwiseRunner::run(unsigned i, std::vector<Tensor> *outputs) {
  for (size_t r = 0; r < hidden.size(); ++r) {
    SmallVector<Tensor> results;
    executor.reset();
    if (llvm::Error err = executor.run(blocks[i], blockArgs(i, r), results))
      return err;
    if (outputs)
      (*outputs)[r] = results[0];
  }
  return llvm::Error::success();
}

llvm::Error BlockwiseRunner::runBlock(unsigned i) { return run(i, nullptr); }

llvm::Error BlockwiseRunner::beginBlock(unsigned i) {
  parts.clear();
  for (size_t r = 0; r < hidden.size(); ++r) {
    auto part = executor.start(blocks[i], blockArgs(i, r));
    if (!part)
      return part.takeError();
    parts.push_back(std::move(*part));
  }
  return llvm::Error::success();
}

llvm::Error
BlockwiseRunner::runBlockTo(Operation *stop,
                            llvm::function_ref<void(ArrayRef<Tensor>)> onStop) {
  if (parts.empty())
    return llvm::createStringError("calibration: runBlockTo before "
                                   "beginBlock");
  SmallVector<Tensor> operands;
  for (Executor::PartialRun &part : parts) {
    // A row's KV cache lives within one part: attention runs once per row.
    executor.reset();
    if (llvm::Error err = executor.resume(part, stop))
      return err;
    operands.clear();
    for (Value v : stop->getOperands())
      operands.push_back(part.values.lookup(v));
    onStop(operands);
  }
  return llvm::Error::success();
}

llvm::Error BlockwiseRunner::finishBlock() {
  if (parts.empty())
    return llvm::createStringError("calibration: finishBlock before "
                                   "beginBlock");
  for (size_t r = 0; r < parts.size(); ++r) {
    SmallVector<Tensor> results;
    executor.reset();
    if (llvm::Error err = executor.resume(parts[r], nullptr, &results))
      return err;
    hidden[r] = results[0];
  }
  parts.clear();
  return llvm::Error::success();
}

llvm::Error BlockwiseRunner::forwardFrom(
    unsigned i, ArrayRef<Tensor> inputs,
    llvm::function_ref<llvm::Error(size_t, const Tensor &)> onLogits) {
  if (i > blocks.size() || inputs.size() != hidden.size())
    return llvm::createStringError(
        "calibration: forwardFrom(%u) with %zu inputs (%zu blocks, %zu "
        "rows)",
        i, inputs.size(), blocks.size(), hidden.size());
  func::FuncOp entry = executor.entry();
  for (size_t r = 0; r < inputs.size(); ++r) {
    executor.reset();
    Tensor h = inputs[r];
    for (unsigned b = i; b < blocks.size(); ++b) {
      SmallVector<Tensor> results;
      if (llvm::Error err =
              executor.run(blocks[b], blockArgs(b, r, h), results))
        return err;
      h = results[0];
    }
    // The rest of @forward, resumed after the last block's call.
    Executor::PartialRun tail;
    tail.fn = entry;
    Block &body = entry.getBody().front();
    tail.values[body.getArgument(0)] = tokens[r];
    tail.values[body.getArgument(1)] = positions[r];
    tail.values[lastCall.getResult(0)] = h;
    // Resumed at once: the op after the call may be a weight op.
    tail.next = lastCall->getNextNode();
    SmallVector<Tensor> logits;
    if (llvm::Error err = executor.resume(tail, nullptr, &logits))
      return err;
    if (llvm::Error err = onLogits(r, logits[0]))
      return err;
  }
  return llvm::Error::success();
}

llvm::Error BlockwiseRunner::advance(unsigned i) {
  std::vector<Tensor> outputs(hidden.size());
  if (llvm::Error err = run(i, &outputs))
    return err;
  hidden = std::move(outputs);
  return llvm::Error::success();
}

} // namespace lowbit
