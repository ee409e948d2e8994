//===- Calibration.h - calibration data and block-wise runs -----*- C++ -*-===//
//
// Calibration input (token files or text through the model's tokenizer, cut
// into rows, selected deterministically) and the block-by-block runner that
// quantization passes use: block i sees the activations produced by the
// already-quantized blocks before it.
//
// Memory: the runner keeps the block inputs of every calibration row
// (rows x seqLen x hidden floats) and, while a block runs, that block's
// outputs; the executor holds the weights it has loaded; observers hold
// their statistics (a K x K Hessian per input for GPTQ). Peak memory is
// therefore bounded by one block's weights and statistics plus two copies of
// one block's activations for the calibration set (see docs/calibration.md).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CALIBRATION_CALIBRATION_H
#define LOWBIT_CALIBRATION_CALIBRATION_H

#include "lowbit/Executor/Executor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace lowbit {
namespace rt {
class Tokenizer;
} // namespace rt

struct CalibrationOptions {
  /// A token file (`.bin`: int32 little-endian) or a UTF-8 text file.
  std::string path;
  /// Rows to use; 0 or more than available takes all rows.
  int64_t numSamples = 128;
  /// Tokens per row.
  int64_t seqLen = 256;
  /// Seed of the row selection when numSamples < available rows.
  uint64_t seed = 0;
  /// tokenizer.json for text files.
  std::string tokenizerPath;
};

struct CalibrationSet {
  int64_t seqLen = 0;
  std::vector<std::vector<int32_t>> rows;
  /// The tokens of the file and the whole rows of seqLen they make (rows
  /// holds all of them when numSamples is 0 or above this count).
  int64_t fileTokens = 0;
  int64_t availableRows = 0;
};

/// Reads and cuts calibration data. Token files are cut into consecutive
/// rows of seqLen (a trailing partial row is dropped); text is encoded whole
/// with BOS and cut the same way. With numSamples < rows, a seeded shuffle
/// picks the rows, kept in file order.
llvm::Expected<CalibrationSet> loadCalibration(const CalibrationOptions &opts);

/// What loadCalibration does once the files are read: `data` holds the
/// contents of opts.path (its extension picks tokens or text; errors name
/// opts.path) and `tokenizer` encodes text (null: a text file is an error).
/// Kept apart (CalibrationData.cpp, no MLIR) so that the calibration fuzzer
/// can call it on bytes in memory.
llvm::Expected<CalibrationSet> parseCalibration(llvm::StringRef data,
                                                const CalibrationOptions &opts,
                                                const rt::Tokenizer *tokenizer);

/// Runs the decoder blocks of a module (the functions @forward calls, in
/// order, each taking the previous block's hidden state) over a calibration
/// set, one block at a time.
class BlockwiseRunner {
public:
  static llvm::Expected<std::unique_ptr<BlockwiseRunner>>
  create(mlir::ModuleOp module, Executor &executor,
         const CalibrationSet &calib);

  unsigned numBlocks() const { return blocks.size(); }
  mlir::func::FuncOp block(unsigned i) const { return blocks[i]; }

  /// Runs block i on the current inputs of every row (the executor's linear
  /// observer sees every linear's input).
  llvm::Error runBlock(unsigned i);
  /// Block i in parts, each op running once per row: beginBlock, then
  /// runBlockTo for each point where statistics are taken (the executor's
  /// linear observer sees the linears before it, \p onStop receives the
  /// stop op's activation operands of each row; its weight operands, which
  /// the paused runs do not keep, are empty), then finishBlock, which runs
  /// the rest
  /// and makes the outputs the inputs of block i + 1. Weights a part has not
  /// read yet may change between parts (quantized in true-sequential order).
  /// Memory: per row, the values still used after the stop point.
  llvm::Error beginBlock(unsigned i);
  llvm::Error
  runBlockTo(mlir::Operation *stop,
             llvm::function_ref<void(llvm::ArrayRef<Tensor>)> onStop);
  llvm::Error finishBlock();
  /// Runs block i once more and makes its outputs the inputs of block i + 1.
  llvm::Error advance(unsigned i);

  /// The current inputs of the next block to run, one per row (after the
  /// last block: the last block's outputs).
  const std::vector<Tensor> &currentInputs() const { return hidden; }
  /// The calibration rows' tokens, one [S] tensor per row.
  const std::vector<Tensor> &rowTokens() const { return tokens; }

  /// Runs blocks i.. and the rest of @forward on each row r from the block
  /// input inputs[r] (saved from currentInputs() when block i was next),
  /// passing each row's logits [S, V] to onLogits; stops at the first error.
  /// With i == numBlocks(), runs only the rest of @forward. The runner's own
  /// state does not change.
  llvm::Error
  forwardFrom(unsigned i, llvm::ArrayRef<Tensor> inputs,
              llvm::function_ref<llvm::Error(size_t row, const Tensor &logits)>
                  onLogits);

private:
  BlockwiseRunner(Executor &executor) : executor(executor) {}
  llvm::Error run(unsigned i, std::vector<Tensor> *outputs);
  /// The arguments of block i for row r.
  llvm::SmallVector<Tensor> blockArgs(unsigned i, size_t r) const {
    return blockArgs(i, r, hidden[r]);
  }
  /// The same with block input \p h.
  llvm::SmallVector<Tensor> blockArgs(unsigned i, size_t r,
                                      const Tensor &h) const;

  Executor &executor;
  std::vector<mlir::func::FuncOp> blocks;
  /// @forward's call of the last block (its tail follows it).
  mlir::func::CallOp lastCall;
  /// For each block argument: -1 for the hidden state, else the index of the
  /// @forward argument passed (0 tokens, 1 positions).
  std::vector<std::vector<int>> argSources;
  std::vector<Tensor> hidden, tokens, positions;
  /// The rows' runs of the block begun by beginBlock.
  std::vector<Executor::PartialRun> parts;
};

} // namespace lowbit

#endif // LOWBIT_CALIBRATION_CALIBRATION_H
