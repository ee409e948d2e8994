//===- Executor.h - fp32 reference executor of lowbit IR --------*- C++ -*-===//
//
// Interprets lowbit graph and quantized IR on the CPU in fp32 (BLAS for
// matmuls, the runtime's reference kernels for everything else), with a KV
// cache for incremental decoding. It is the numerical reference every target
// is checked against and the engine calibration runs on.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_EXECUTOR_EXECUTOR_H
#define LOWBIT_EXECUTOR_EXECUTOR_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <vector>

namespace lowbit {

class ParamStore;

/// A dense row-major value: float data or int32 data (token ids, positions).
struct Tensor {
  llvm::SmallVector<int64_t, 4> shape;
  std::shared_ptr<const std::vector<float>> f;
  std::shared_ptr<const std::vector<int32_t>> i;

  int64_t numel() const;
  /// Rows when viewed as [numel / last dim, last dim].
  int64_t rows() const { return shape.empty() ? 1 : numel() / shape.back(); }
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }

  static Tensor floats(llvm::ArrayRef<int64_t> shape, std::vector<float> data);
  static Tensor ints(llvm::ArrayRef<int64_t> shape, std::vector<int32_t> data);
};

struct ExecutorOptions {
  /// KV-cache length; 0 takes max_position_embeddings from the module.
  int64_t maxContext = 0;
  /// Threads for the non-BLAS kernels; 0 picks the hardware concurrency.
  unsigned threads = 0;
  /// Accumulate in float where the reference uses double (attention through
  /// BLAS GEMMs: kernels::attentionF32). For calibration, where speed
  /// matters and float rounding does not; the FP reference of evaluations
  /// keeps double.
  bool floatAccumulation = false;
};

/// Receives the input activations [rows, K] of every lowbit.linear and
/// lowbit.qmatmul the executor runs (calibration statistics).
using LinearObserver = std::function<void(mlir::Operation *op, const float *x,
                                          int64_t rows, int64_t k)>;

class Executor {
public:
  /// Prepares to run `module` (as built by the importer: an entry function
  /// @forward(tokens, positions) -> logits). Weights are inline or read
  /// through the parameter scopes of the module's context
  /// (lowbit/Params/ParamResolver.h). The module must outlive the executor.
  static llvm::Expected<std::unique_ptr<Executor>>
  create(mlir::ModuleOp module, const ExecutorOptions &options = {});
  ~Executor();

  /// Runs the entry function on `tokens` at `positions` (same length),
  /// appending their keys and values to the KV cache; returns the logits
  /// [T, vocab] in `logits`.
  llvm::Error forward(llvm::ArrayRef<int32_t> tokens,
                      llvm::ArrayRef<int32_t> positions,
                      std::vector<float> &logits);

  /// Runs any function of the module (e.g. one decoder block) on `args`.
  llvm::Error run(mlir::func::FuncOp fn, llvm::ArrayRef<Tensor> args,
                  llvm::SmallVectorImpl<Tensor> &results);

  /// Runs `fn` up to (not including) `stop`, an op of its body, and returns
  /// the values of stop's operands.
  llvm::Error runUntil(mlir::func::FuncOp fn, llvm::ArrayRef<Tensor> args,
                       mlir::Operation *stop,
                       llvm::SmallVectorImpl<Tensor> &stopOperands);

  /// A run of one function stopped before an op of its body: the values
  /// that op and the ops after it read, and where the run resumes.
  struct PartialRun {
    mlir::func::FuncOp fn;
    llvm::DenseMap<mlir::Value, Tensor> values;
    /// The op the run resumes at (never one that defines a weight); null at
    /// the start of the body.
    mlir::Operation *next = nullptr;
    /// Set once the function has returned, or a part failed (the run is
    /// then unusable).
    bool finished = false;
  };

  /// Starts a resumable run of `fn` on `args` (no op runs yet).
  llvm::Expected<PartialRun> start(mlir::func::FuncOp fn,
                                   llvm::ArrayRef<Tensor> args);

  /// Runs `run`'s function from where it stopped up to (not including)
  /// `stop`, an op at or after run.next that does not define a weight, and
  /// keeps only the values `stop` and the ops after it read, weights
  /// excepted. With `stop` null it runs to the return and puts the results
  /// in `results`. A run in parts computes what one run() computes while
  /// each op runs once, so statistics can be taken at several points
  /// (calibration in true-sequential order). Between parts, passes may
  /// replace, insert or erase the ops that define weights (lowbit.param,
  /// qparam, dequantize) and nothing else: before resuming, the run computes
  /// the weight ops the rest reads; a non-weight op it would have to run
  /// again is an error.
  llvm::Error resume(PartialRun &run, mlir::Operation *stop,
                     llvm::SmallVectorImpl<Tensor> *results = nullptr);

  /// Forgets the KV cache (a new sequence starts at position 0).
  void reset();
  /// Drops cached weights so the next run reloads them from the store
  /// (after a pass rewrote parameters).
  void invalidateWeights();
  /// Makes `weightOp` (a lowbit.param or lowbit.qparam) evaluate to `value`
  /// until forgetWeight(weightOp): what-if runs with one weight replaced
  /// (sensitivity measurements) without touching the IR or the store.
  void overrideWeight(mlir::Operation *weightOp, Tensor value);
  /// Drops the cached weight of one parameter op (before it is erased).
  void forgetWeight(mlir::Operation *op);
  /// Drops the cached weights of every parameter op nested in `scope` (e.g.
  /// a decoder block calibration is done with).
  void forgetWeightsIn(mlir::Operation *scope);

  void setLinearObserver(LinearObserver observer);

  int64_t vocabSize() const;
  int64_t maxContext() const;
  mlir::func::FuncOp entry() const;

private:
  struct Impl;
  explicit Executor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace lowbit

#endif // LOWBIT_EXECUTOR_EXECUTOR_H
