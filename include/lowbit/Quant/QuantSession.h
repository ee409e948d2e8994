//===- QuantSession.h - shared state of quantization passes -----*- C++ -*-===//
//
// What the weight-quantization passes (RTN, GPTQ, ...) share: the parameter
// stores they read and write, the selection of layers with per-layer
// overrides, the IR rewrite from a float weight to a quantized parameter, and
// the per-layer report. lowbit-opt gives every pass its own session built
// from pass options; lowbit-compile hands one session to its whole pipeline.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_QUANT_QUANTSESSION_H
#define LOWBIT_QUANT_QUANTSESSION_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Numerics/Quantize.h"
#include "lowbit/Support/ParamStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Regex.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lowbit {

class Executor;

/// `REGEX[:bits=B][:group-size=G][:skip]`, matched (search) against the
/// Hugging Face weight name, e.g. `mlp\.down_proj:bits=8`.
struct LayerOverride {
  std::string pattern;
  std::optional<unsigned> bits;
  std::optional<int64_t> groupSize;
  bool skip = false;
  /// Set when the override selected at least one layer.
  bool matched = false;
};

/// Parses override strings; an error names the malformed one.
llvm::Expected<std::vector<LayerOverride>>
parseOverrides(llvm::ArrayRef<std::string> specs);

/// A linear layer chosen for quantization.
struct LayerChoice {
  mlir::lowbit::LinearOp op;
  mlir::lowbit::ParamOp weight;
  /// The weight's tensor name, e.g. `model.layers.0.mlp.up_proj.weight`.
  std::string weightName;
  /// The name of the quantized parameter: weightName without `.weight`.
  std::string name;
  /// The decoder block (function) the layer is in.
  mlir::func::FuncOp block;
  numerics::QuantParams params;
};

/// Selects the linear layers inside decoder blocks (the functions @forward
/// calls), in call order and then program order; embeddings and lm_head stay
/// in full precision. Overrides apply in order (later ones win). Fails with
/// an error naming the option when an override matches no layer or produces
/// an invalid scheme.
llvm::Expected<std::vector<LayerChoice>>
selectLayers(mlir::ModuleOp module, const numerics::QuantParams &defaults,
             std::vector<LayerOverride> &overrides);

/// Validates bits / group size and a scale type name ("f32", "f16",
/// "bf16"), producing a QuantParams.
llvm::Expected<numerics::QuantParams>
makeQuantParams(unsigned bits, int64_t groupSize, bool symmetric, bool mse,
                llvm::StringRef scaleType);

class QuantSession {
public:
  /// Opens the checkpoint the module records (`lowbit.weights`), or
  /// `weightsOverride`. Modules whose weights are all inline need none.
  static llvm::Expected<std::unique_ptr<QuantSession>>
  open(mlir::ModuleOp module, llvm::StringRef weightsOverride = "");
  ~QuantSession();

  mlir::ModuleOp getModule() const { return module; }
  /// Quantized outputs first, then the checkpoint.
  const ParamStore &store() const { return *overlay; }
  const MemoryStore &outputs() const { return *outputStore; }

  /// The float weight of a layer, [N, K] row-major.
  llvm::Expected<std::vector<float>> loadWeight(const LayerChoice &layer);

  /// Replaces the layer's float weight with a quantized parameter holding
  /// `result` (inline attributes when the weight was inline, output-store
  /// tensors otherwise) followed by lowbit.dequantize.
  /// Quantizes the layer by round-to-nearest with its params, reports it
  /// (method "rtn", shape, relative weight-space error) and applies it.
  llvm::Error quantizeRtn(LayerChoice &layer);

  llvm::Error applyQuantized(LayerChoice &layer,
                             const numerics::QuantResult &result);

  /// The reference executor on the module (created on first use).
  llvm::Expected<Executor *> getExecutor(int64_t maxContext);

  void addReport(llvm::json::Object entry) {
    report.push_back(std::move(entry));
  }
  llvm::ArrayRef<llvm::json::Value> reportEntries() const { return report; }

  /// Writes the output tensors (when any) to `paramsPath` and the report to
  /// `reportPath` ("" skips either). Both are written atomically.
  llvm::Error
  writeOutputs(llvm::StringRef paramsPath, llvm::StringRef reportPath,
               const std::map<std::string, std::string> &metadata = {}) const;

private:
  QuantSession() = default;

  mlir::ModuleOp module;
  std::unique_ptr<ParamStore> checkpoint;
  std::unique_ptr<MemoryStore> outputStore;
  std::unique_ptr<OverlayStore> overlay;
  std::unique_ptr<Executor> exec;
  std::vector<llvm::json::Value> report;
};

} // namespace lowbit

#endif // LOWBIT_QUANT_QUANTSESSION_H
