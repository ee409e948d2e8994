//===- QuantSession.h - shared state of quantization passes -----*- C++ -*-===//
//
// What the weight-quantization passes (RTN, GPTQ, ...) share: the selection
// of layers with per-layer overrides, reading float weights through the
// parameter scopes the IR records, the IR rewrite from a float weight to a
// quantized parameter of the pass's output scope, and the per-layer report.
// Each pass opens its own session from its options; what passes hand to each
// other travels through the IR and the context's ParamResolver
// (docs/parameters.md), never through a session pointer.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_QUANT_QUANTSESSION_H
#define LOWBIT_QUANT_QUANTSESSION_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Numerics/Quantize.h"
#include "lowbit/Params/ParamResolver.h"
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

/// A linear layer (or a lookup-only embedding table) chosen for
/// quantization.
struct LayerChoice {
  /// The linear reading the weight; null for an embedding table that only
  /// lowbit.embedding ops read (findFloatEmbeddingTables), whose lookups
  /// all read the quantized table.
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

/// Selects the float linear layers inside decoder blocks (the functions
/// @forward calls), in call order and then program order; embeddings and
/// lm_head stay in full precision, and layers already quantized (by an
/// earlier pass) are left alone. With a non-empty `only` regex, only weights
/// whose name it matches (search) are selected. Overrides apply in order
/// (later ones win). Fails with an error naming the option when `only` or an
/// override matches no layer or an override produces an invalid scheme.
llvm::Expected<std::vector<LayerChoice>>
selectLayers(mlir::ModuleOp module, const numerics::QuantParams &defaults,
             std::vector<LayerOverride> &overrides, llvm::StringRef only = "");

/// Validates bits / group size, a scale type name ("f32", "f16", "bf16")
/// and a symmetric grid name ("absmax", or "extreme", symmetric only; see
/// numerics::QuantParams::symmetricExtreme) and a super-group (0, or >= 2
/// with a positive group size and f16/bf16 scales; see
/// numerics::QuantParams::superGroup), producing a QuantParams.
llvm::Expected<numerics::QuantParams>
makeQuantParams(unsigned bits, int64_t groupSize, bool symmetric, bool mse,
                llvm::StringRef scaleType, llvm::StringRef symGrid = "absmax",
                int64_t superGroup = 0);

class QuantSession {
public:
  /// A session writing quantized tensors to the output scope `scope`, saved
  /// at `outputParams` (relative to the IR file's directory; an absolute
  /// path is recorded relative to it). The scope is recorded on the module
  /// when the first store-backed weight is quantized; quantizing inline
  /// weights gives inline results and needs no scope.
  static llvm::Expected<std::unique_ptr<QuantSession>>
  open(mlir::ModuleOp module, llvm::StringRef scope,
       llvm::StringRef outputParams);
  ~QuantSession();

  mlir::ModuleOp getModule() const { return module; }
  llvm::StringRef getScope() const { return scope; }

  /// Fails up front when some of `layers` are store-backed (their results
  /// go to the output scope) and no output-params file was given.
  llvm::Error checkOutputFile(llvm::ArrayRef<LayerChoice> layers) const;

  /// The float weight of a layer, [N, K] row-major.
  llvm::Expected<std::vector<float>> loadWeight(const LayerChoice &layer);

  /// Quantizes the layer by round-to-nearest with its params, reports it
  /// (method "rtn", shape, relative weight-space error) and applies it.
  llvm::Error quantizeRtn(LayerChoice &layer);

  /// Replaces the layer's float weight with a quantized parameter holding
  /// `result` (inline attributes when the weight was inline, tensors of the
  /// output scope otherwise) followed by lowbit.dequantize.
  llvm::Error applyQuantized(LayerChoice &layer,
                             const numerics::QuantResult &result);

  /// The reference executor on the module (created on first use).
  llvm::Expected<Executor *> getExecutor(int64_t maxContext);

  /// Adds a report entry; finish() also appends the entries to the output
  /// scope's report, for tools that run the pass and report on the scope.
  void addReport(llvm::json::Object entry);
  llvm::ArrayRef<llvm::json::Value> reportEntries() const { return report; }

  /// Appends the report to the output scope's; when `save`, writes the
  /// output scope (if any tensor went into it) to its location; writes this
  /// session's report to `reportPath` ("" skips it). Files are written
  /// atomically. Call once.
  llvm::Error finish(bool save, llvm::StringRef reportPath);

private:
  QuantSession() = default;

  mlir::ModuleOp module;
  std::string scope;
  std::string outputParams;
  /// The output scope, opened with the first store-backed result.
  ParamResolver::OutputScope *output = nullptr;
  std::unique_ptr<Executor> exec;
  std::vector<llvm::json::Value> report;
};

/// A tied embedding whose output projection was just quantized to `q`:
/// makes every lowbit.embedding that reads `table` read
/// `lowbit.dequantize q` instead (inserted right after `q`), so after
/// fusion the lookup and the output projection read one quantized table.
/// Returns whether an embedding was rewired.
bool shareTiedTable(mlir::lowbit::ParamOp table, mlir::lowbit::QParamOp q);

/// The float output projection of @forward: its last linear whose weight is
/// a lowbit.param (the `lm_head` linear, or a tied embedding table used as
/// one); null if there is none (e.g. already quantized) or no @forward.
mlir::lowbit::LinearOp findFloatOutputProjection(mlir::ModuleOp module);

/// The float token-embedding tables of @forward that only lowbit.embedding
/// ops read (an untied embedding; a tied table is the output projection's,
/// see findFloatOutputProjection), in program order.
llvm::SmallVector<mlir::lowbit::ParamOp>
findFloatEmbeddingTables(mlir::ModuleOp module);

/// Writes `entries` as `{"layers": [...]}` to `path`, atomically, with the
/// members of `extra` beside "layers".
llvm::Error writeReport(llvm::StringRef path,
                        llvm::ArrayRef<llvm::json::Value> entries,
                        llvm::json::Object extra = {});

} // namespace lowbit

#endif // LOWBIT_QUANT_QUANTSESSION_H
