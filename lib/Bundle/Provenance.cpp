//===- Provenance.cpp - canonical provenance and bundle summaries ---------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Bundle/Provenance.h"
#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Params/ParamResolver.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <string>
#include <vector>

using namespace mlir;

namespace lowbit {
namespace {

/// Hashes `path` (a file, or the .json/.safetensors files of a directory)
/// into `inputs` as `prefix/<base name>`, skipping entries already there.
llvm::Error hashInputs(llvm::StringRef path, llvm::StringRef prefix,
                       llvm::json::Array &inputs, llvm::StringSet<> &seen) {
  std::vector<std::string> files;
  if (llvm::sys::fs::is_directory(path)) {
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
         it.increment(ec)) {
      llvm::StringRef name = llvm::sys::path::filename(it->path());
      if (llvm::sys::fs::is_regular_file(it->path()) &&
          (name.ends_with(".json") || name.ends_with(".safetensors")))
        files.push_back(it->path());
    }
    if (ec)
      return llvm::createStringError("%s: %s", path.str().c_str(),
                                     ec.message().c_str());
    llvm::sort(files);
  } else {
    files.push_back(path.str());
  }
  for (const std::string &file : files) {
    llvm::Expected<std::string> hash = hashFile(file);
    if (!hash)
      return hash.takeError();
    std::string name = (prefix + "/" + llvm::sys::path::filename(file)).str();
    if (!seen.insert(name + "\n" + *hash).second)
      continue;
    inputs.push_back(llvm::json::Object{{"file", name}, {"blake3", *hash}});
  }
  return llvm::Error::success();
}

} // namespace

llvm::Expected<llvm::json::Object> canonicalProvenance(ModuleOp module) {
  ParamResolver &resolver = ParamResolver::get(module.getContext());
  std::vector<ParamResolver::Step> steps = resolver.getSteps();
  llvm::json::Array passes, inputs;
  llvm::StringSet<> seen;
  for (const ParamResolver::Step &step : steps)
    passes.push_back(step.pass);
  if (auto scopes = module->getAttrOfType<DictionaryAttr>(
          mlir::lowbit::kParameterScopesAttrName)) {
    for (NamedAttribute entry : scopes) {
      llvm::StringRef scope = entry.getName().getValue();
      // Written in this process: its passes are listed above.
      if (resolver.getOutputScope(module, scope))
        continue;
      // Opening the scope (cached; emission reads it next) reports a missing
      // or unreadable location the way every reader does.
      if (llvm::Expected<const ParamStore *> store =
              resolver.getStore(module, scope);
          !store)
        return store.takeError();
      llvm::Expected<std::string> location =
          resolver.resolvePath(module, scope);
      if (!location)
        return location.takeError();
      if (llvm::Error err = hashInputs(*location, scope, inputs, seen))
        return std::move(err);
    }
  }
  for (const ParamResolver::Step &step : steps)
    for (const auto &[label, path] : step.inputs)
      if (llvm::Error err = hashInputs(path, label, inputs, seen))
        return std::move(err);
  return llvm::json::Object{{"passes", std::move(passes)},
                            {"inputs", std::move(inputs)}};
}

llvm::json::Object summarizeBundle(const BundleStats &stats) {
  llvm::json::Object packed, layerBits, layerWeights;
  uint64_t quantizedBytes = 0;
  int64_t quantizedWeights = 0;
  auto bitsPerWeight = [](uint64_t bytes, int64_t weights) {
    return weights > 0 ? 8.0 * double(bytes) / double(weights) : 0.0;
  };
  for (const QuantizedWeightStats &layer : stats.layers) {
    packed[layer.name] = static_cast<int64_t>(layer.packedBytes);
    layerBits[layer.name] = bitsPerWeight(layer.bytes, layer.weights);
    layerWeights[layer.name] = layer.weights;
    quantizedBytes += layer.bytes;
    quantizedWeights += layer.weights;
  }
  // Every stored weight counts: codes, scales, zero points, act-order
  // permutations and the float tensors (norms, unquantized matrices,
  // embedding tables), each tensor as often as the bundle stores it.
  llvm::json::Object bits{
      {"model", bitsPerWeight(quantizedBytes + stats.floatWeightBytes,
                              quantizedWeights + stats.floatWeights)},
      {"layers", std::move(layerBits)}};
  if (quantizedWeights > 0)
    bits["quantized_linears"] = bitsPerWeight(quantizedBytes, quantizedWeights);
  return llvm::json::Object{
      {"weights", llvm::json::Object{{"quantized", quantizedWeights},
                                     {"float", stats.floatWeights}}},
      {"bits_per_weight", std::move(bits)},
      {"sizes",
       llvm::json::Object{
           {"bundle_bytes", static_cast<int64_t>(stats.fileBytes)},
           {"float_weight_bytes", static_cast<int64_t>(stats.floatWeightBytes)},
           {"quantized_weight_bytes",
            static_cast<int64_t>(stats.quantizedWeightBytes)},
           {"code_bytes", static_cast<int64_t>(stats.codeBytes)}}},
      {"program", llvm::json::Object{{"ops", stats.numOps},
                                     {"buffers", stats.numBuffers}}},
      {"packed_bytes", std::move(packed)},
      {"layer_weights", std::move(layerWeights)}};
}

} // namespace lowbit
