//===- Pipelines.h - options of the registered pipelines --------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The options of `lowbit-quantize-pipeline` and `lowbit-to-bundle-pipeline`
/// (passes/Pipelines.cpp). A tool builds the textual pipeline it runs from
/// them: `print` spells out every option, defaults included, in a fixed
/// (sorted) order, and `lowbit-opt --pass-pipeline=` runs the same text.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_PASSES_PIPELINES_H
#define LOWBIT_PASSES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir::lowbit {

/// lowbit-quantize-pipeline{method=rtn|gptq|none ...}: the method's pass with
/// the shared options, then (lm-head-bits > 0) lowbit-rtn-quantize{lm-head}
/// on the output projection into the same scope.
struct QuantizePipelineOptions
    : public PassPipelineOptions<QuantizePipelineOptions> {
  static constexpr llvm::StringLiteral kName = "lowbit-quantize-pipeline";

  Option<std::string> method{
      *this, "method",
      llvm::cl::desc("quantization method: rtn, gptq or none (none: only "
                     "the output projection, with lm-head-bits)"),
      llvm::cl::init("rtn")};
  Option<unsigned> bits{*this, "bits", llvm::cl::desc("code width, 2 to 8"),
                        llvm::cl::init(4)};
  Option<int64_t> groupSize{
      *this, "group-size",
      llvm::cl::desc("group length along K, or -1 for per-channel"),
      llvm::cl::init(128)};
  Option<bool> symmetric{*this, "symmetric",
                         llvm::cl::desc("implicit zero points"),
                         llvm::cl::init(false)};
  Option<std::string> symGrid{
      *this, "sym-grid",
      llvm::cl::desc("symmetric grid: absmax (GPTQ's reference) or extreme "
                     "(the signed extreme on code 0, as llama.cpp's Q4_0)"),
      llvm::cl::init("absmax")};
  Option<bool> mse{*this, "mse", llvm::cl::desc("search the clipping range"),
                   llvm::cl::init(false)};
  Option<std::string> scaleType{*this, "scale-type",
                                llvm::cl::desc("f32, f16 or bf16"),
                                llvm::cl::init("f32")};
  ListOption<std::string> overrides{
      *this, "override",
      llvm::cl::desc("per-layer overrides REGEX[:bits=B][:group-size=G]"
                     "[:skip]")};
  Option<std::string> only{*this, "only",
                           llvm::cl::desc("quantize only weights matching "
                                          "this regex")};
  Option<int64_t> superGroup{
      *this, "super-group",
      llvm::cl::desc("0, or S >= 2: group scales as 8-bit codes under one "
                     "scale per S groups (the method's super-group; the "
                     "output projection and embedding keep plain scales)"),
      llvm::cl::init(0)};
  Option<unsigned> lmHeadBits{
      *this, "lm-head-bits",
      llvm::cl::desc("also quantize the output projection by RTN to this "
                     "many bits, with group-size, symmetric, mse and "
                     "scale-type (0: keep it in float)"),
      llvm::cl::init(0)};
  Option<int64_t> lmHeadGroupSize{
      *this, "lm-head-group-size",
      llvm::cl::desc("group size of the output projection (0: group-size)"),
      llvm::cl::init(0)};
  Option<unsigned> embeddingBits{
      *this, "embedding-bits",
      llvm::cl::desc("also quantize the untied token-embedding table (read "
                     "only by lookups) by RTN to this many bits, with "
                     "group-size, symmetric, mse and scale-type (0: keep it "
                     "in float)"),
      llvm::cl::init(0)};
  Option<std::string> scope{
      *this, "scope",
      llvm::cl::desc("output parameter scope (default: the method name; "
                     "rtn for method=none)")};
  Option<std::string> outputParams{
      *this, "output-params",
      llvm::cl::desc("safetensors file of the output scope, relative to the "
                     "IR file's directory")};
  Option<bool> writeParams{*this, "write-params",
                           llvm::cl::desc("save the output scope when the "
                                          "passes end"),
                           llvm::cl::init(true)};
  Option<std::string> report{
      *this, "report",
      llvm::cl::desc("JSON file for the method's per-layer report")};
  Option<std::string> calib{*this, "calib",
                            llvm::cl::desc("gptq: calibration data")};
  Option<int64_t> numSamples{*this, "nsamples",
                             llvm::cl::desc("gptq: calibration rows"),
                             llvm::cl::init(128)};
  Option<int64_t> seqLen{*this, "seqlen",
                         llvm::cl::desc("gptq: tokens per calibration row"),
                         llvm::cl::init(256)};
  Option<uint64_t> seed{*this, "seed",
                        llvm::cl::desc("gptq: seed of the row selection"),
                        llvm::cl::init(0)};
  Option<double> damp{*this, "damp",
                      llvm::cl::desc("gptq: dampening, as a fraction of the "
                                     "mean Hessian diagonal"),
                      llvm::cl::init(0.01)};
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("gptq: columns per lazy-update "
                                           "block"),
                            llvm::cl::init(128)};
  Option<bool> actOrder{*this, "act-order", llvm::cl::desc("gptq: act-order"),
                        llvm::cl::init(false)};
  Option<bool> staticGroups{*this, "static-groups",
                            llvm::cl::desc("gptq: act-order with static "
                                           "groups"),
                            llvm::cl::init(false)};
  Option<bool> trueSequential{*this, "true-sequential",
                              llvm::cl::desc("gptq: quantize the layers of a "
                                             "block one group after another"),
                              llvm::cl::init(true)};
};

/// lowbit-to-bundle-pipeline{target=x86 output=FILE act-bits=N act-float=RE}.
struct ToBundlePipelineOptions
    : public PassPipelineOptions<ToBundlePipelineOptions> {
  static constexpr llvm::StringLiteral kName = "lowbit-to-bundle-pipeline";

  Option<std::string> target{*this, "target",
                             llvm::cl::desc("target of the bundle"),
                             llvm::cl::init("x86")};
  Option<std::string> output{*this, "output",
                             llvm::cl::desc("bundle file to write")};
  Option<unsigned> actBits{*this, "act-bits",
                           llvm::cl::desc("0 (float activations) or 8"),
                           llvm::cl::init(0)};
  Option<std::string> actFloat{
      *this, "act-float",
      llvm::cl::desc("with act-bits=8: quantized matmuls whose weight name "
                     "this regular expression finds a match in keep float "
                     "activations")};
  Option<std::string> signKey{
      *this, "sign-key",
      llvm::cl::desc("Ed25519 private key (PEM) that signs the code sections; "
                     "empty: unsigned")};
};

/// `Options::kName` followed by every option of `options` (sorted, defaults
/// included): one element of a textual pass pipeline.
template <typename Options>
std::string printPipelineElement(const Options &options) {
  std::string printed;
  llvm::raw_string_ostream os(printed);
  options.print(os);
  // An empty list option prints nothing between its neighbours' spaces:
  // drop the doubled space (outside nested braces, where values live).
  std::string text(Options::kName);
  int depth = 0;
  for (char c : printed) {
    if (c == ' ' && depth == 1 && !text.empty() && text.back() == ' ')
      continue;
    depth += c == '{' ? 1 : c == '}' ? -1 : 0;
    text += c;
  }
  return text;
}

} // namespace mlir::lowbit

#endif // LOWBIT_PASSES_PIPELINES_H
