//===- KeepGgufQuants.cpp - lowbit-keep-gguf-quants -------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// Keeps the linear weights (and untied embedding tables) a GGUF file stores
// as Q4_0, Q4_1 or Q8_0 as they are quantized: each becomes a lowbit.qparam
// with the exact scheme, its codes, scales and minimums decoded from the GGUF
// blocks by the gguf-* codecs (runtime/include/lowbitrt/Codec.h).
//
//===----------------------------------------------------------------------===//

#include "QuantPassUtils.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Quant/QuantSession.h"
#include "lowbit/Support/Gguf.h"
#include "lowbit/Support/GgufModel.h"
#include "lowbit/Support/GgufQuants.h"

#include "lowbitrt/Codec.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"

#include <cstring>
#include <map>
#include <memory>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITKEEPGGUFQUANTS
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace codec = ::lowbit::codec;

namespace {

/// One opened gguf scope: the file, its configuration and its tensors by
/// Hugging Face name.
struct GgufScope {
  std::unique_ptr<::lowbit::GgufFile> file;
  ::lowbit::ModelConfig config;
  std::map<std::string, const ::lowbit::GgufTensor *, std::less<>> byHfName;
};

/// The lowbit scheme and codec of a GGUF type whose blocks map exactly, or
/// nullptr (and a null scheme) for the others.
const char *exactCodec(::lowbit::GgmlType type, MLIRContext *ctx,
                       SchemeAttr &scheme) {
  Type f16 = Float16Type::get(ctx);
  switch (type) {
  case ::lowbit::GgmlType::Q4_0:
    scheme = SchemeAttr::get(ctx, 4, 32, true, f16, Type(), false,
                             RotationAttr(), ZeroForm::ZeroPoint, 0);
    return codec::kGgufQ4_0Codec;
  case ::lowbit::GgmlType::Q4_1:
    scheme = SchemeAttr::get(ctx, 4, 32, false, f16, f16, false, RotationAttr(),
                             ZeroForm::Min, 0);
    return codec::kGgufQ4_1Codec;
  case ::lowbit::GgmlType::Q8_0:
    scheme = SchemeAttr::get(ctx, 8, 32, true, f16, Type(), false,
                             RotationAttr(), ZeroForm::ZeroPoint, 0);
    return codec::kGgufQ8_0Codec;
  default:
    scheme = {};
    return nullptr;
  }
}

/// Moves row blocks of `rowBytes` bytes from llama.cpp's q/k order to Hugging
/// Face order (GGUF row h*D + 2i + j -> row h*D + j*D/2 + i), as
/// unpermuteLlamaRows does for floats.
std::vector<uint8_t> unpermuteRows(const uint8_t *in, int64_t rows,
                                   size_t rowBytes, int64_t heads) {
  std::vector<uint8_t> out(size_t(rows) * rowBytes);
  int64_t headDim = rows / heads, half = headDim / 2;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(out.data() + (h * headDim + j * half + i) * rowBytes,
                    in + (h * headDim + 2 * i + j) * rowBytes, rowBytes);
  return out;
}

::lowbit::OwnedTensor rawTensor(std::string name, ::lowbit::DType dtype,
                                std::vector<int64_t> shape,
                                std::vector<uint8_t> bytes) {
  ::lowbit::OwnedTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes = std::move(bytes);
  return t;
}

/// f16 bit patterns of `values` (halves widened exactly, so this is exact).
std::vector<uint8_t> halfBytes(const std::vector<float> &values) {
  std::vector<uint8_t> bytes(2 * values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t h = codec::floatToHalf(values[i]);
    std::memcpy(bytes.data() + 2 * i, &h, 2);
  }
  return bytes;
}

struct KeepGgufQuantsPass
    : mlir::lowbit::impl::LowbitKeepGgufQuantsBase<KeepGgufQuantsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  /// Opened gguf scopes by name, for one run.
  using ScopeMap =
      std::map<std::string, std::unique_ptr<GgufScope>, std::less<>>;

  FailureOr<GgufScope *> openScope(ScopeMap &scopes, ModuleOp module,
                                   ParamOp param, StringRef scopeName) {
    auto it = scopes.find(scopeName);
    if (it != scopes.end())
      return it->second.get();
    ::lowbit::ParamResolver &resolver =
        ::lowbit::ParamResolver::get(module.getContext());
    llvm::Expected<std::string> path = resolver.resolvePath(module, scopeName);
    if (!path)
      return param.emitOpError("parameter scope '")
             << scopeName << "': " << llvm::toString(path.takeError());
    auto file = ::lowbit::GgufFile::open(*path);
    if (!file)
      return param.emitOpError("parameter scope '")
             << scopeName << "': " << llvm::toString(file.takeError());
    auto config = ::lowbit::modelConfigFromGguf(**file);
    if (!config)
      return param.emitOpError("parameter scope '")
             << scopeName << "': " << llvm::toString(config.takeError());
    auto scope = std::make_unique<GgufScope>();
    scope->file = std::move(*file);
    scope->config = std::move(*config);
    for (const ::lowbit::GgufTensor &t : scope->file->tensors())
      if (std::optional<std::string> hf = ::lowbit::hfTensorName(t.name))
        scope->byHfName.emplace(*hf, &t);
    GgufScope *raw = scope.get();
    scopes.emplace(scopeName.str(), std::move(scope));
    return raw;
  }

  /// Requantizes `param`, a GGUF weight of a type without an exact scheme,
  /// from its dequantized values (the gguf scope's) by RTN to requantBits
  /// bits, symmetric groups of 32, f16 scales, through `session` (opened on
  /// first use, on the same output scope); `entry` gets the scheme.
  LogicalResult requantize(std::unique_ptr<::lowbit::QuantSession> &session,
                           ModuleOp module, LinearOp linear, ParamOp param,
                           StringRef weightName, llvm::json::Object &entry) {
    if (!session) {
      if (outputParams.empty())
        return module.emitError("lowbit-keep-gguf-quants: output-params is "
                                "needed to store the requantized weights "
                                "(scope '")
               << this->scope << "')";
      auto opened =
          ::lowbit::QuantSession::open(module, this->scope, outputParams);
      if (!opened)
        return ::lowbit::emitErr(module, opened.takeError());
      session = std::move(*opened);
    }
    auto params =
        ::lowbit::makeQuantParams(requantBits, 32, true, false, "f16");
    if (!params)
      return ::lowbit::emitErr(module, params.takeError());
    ::lowbit::LayerChoice layer;
    layer.op = linear;
    layer.weight = param;
    layer.weightName = weightName.str();
    StringRef base = weightName;
    base.consume_back(".weight");
    // As RTN names a tied table's use as the output projection.
    layer.name =
        !linear || param->hasOneUse() ? base.str() : std::string("lm_head");
    layer.params = *params;
    if (llvm::Error err = session->quantizeRtn(layer))
      return ::lowbit::emitErr(param, std::move(err));
    entry["name"] = layer.name;
    entry["requantized"] = "rtn";
    entry["bits"] = int64_t(requantBits);
    entry["group_size"] = int64_t(32);
    entry["note"] = "no exact lowbit scheme: requantized from the "
                    "dequantized values";
    if (!session->reportEntries().empty())
      if (const llvm::json::Object *rtn =
              session->reportEntries().back().getAsObject())
        if (std::optional<double> e = rtn->getNumber("weight_rel_error"))
          entry["weight_rel_error"] = *e;
    if (param->use_empty())
      param->erase();
    return success();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    if (requantBits != 0 && (requantBits < 2 || requantBits > 8))
      return module.emitError("lowbit-keep-gguf-quants: requant-bits must be "
                              "0 or 2-8, got ")
             << static_cast<unsigned>(requantBits);
    // The GGUF weights of linears, then the untied embedding tables (read
    // only by lookups; a null linear), which are kept the same way.
    SmallVector<std::pair<LinearOp, ParamOp>> weights;
    auto isGguf = [&](ParamOp param) {
      if (!param || param.getValue() || !param.getScope())
        return false;
      ScopeAttr scope = lookupParameterScope(module, *param.getScope());
      return scope && scope.getFormat() == "gguf";
    };
    module.walk([&](LinearOp linear) {
      auto param = linear.getWeight().getDefiningOp<ParamOp>();
      if (isGguf(param))
        weights.push_back({linear, param});
    });
    for (ParamOp table : ::lowbit::findFloatEmbeddingTables(module))
      if (isGguf(table))
        weights.push_back({LinearOp(), table});

    ::lowbit::ParamResolver &resolver = ::lowbit::ParamResolver::get(ctx);
    ::lowbit::ParamResolver::OutputScope *output = nullptr;
    ScopeMap scopes;
    std::unique_ptr<::lowbit::QuantSession> session;
    std::vector<llvm::json::Value> report;
    for (auto [linear, param] : weights) {
      StringRef scopeName = *param.getScope();
      FailureOr<GgufScope *> gguf = openScope(scopes, module, param, scopeName);
      if (failed(gguf))
        return failure();
      StringRef weightName = param.getName();
      auto found = (*gguf)->byHfName.find(weightName);
      if (found == (*gguf)->byHfName.end())
        return param.emitOpError("tensor '")
               << weightName << "' is not in the gguf scope '" << scopeName
               << "'";
      const ::lowbit::GgufTensor &tensor = *found->second;
      auto shape = param.getType().getShape();
      std::vector<int64_t> fileShape = tensor.shape();
      if (shape.size() != 2 ||
          fileShape != std::vector<int64_t>(shape.begin(), shape.end()))
        return param.emitOpError("weight '")
               << weightName << "' has type " << param.getType()
               << " but GGUF tensor '" << tensor.name << "' is ["
               << llvm::make_range(fileShape.begin(), fileShape.end()) << "]";
      const char *typeName = ::lowbit::ggmlTypeTraits(tensor.type).name;
      SchemeAttr scheme;
      const char *codecName = exactCodec(tensor.type, ctx, scheme);
      llvm::json::Object entry{{"name", weightName},
                               {"weight", weightName},
                               {"gguf_tensor", tensor.name},
                               {"gguf_type", typeName},
                               {"kept", codecName != nullptr}};
      const bool floatType = tensor.type == ::lowbit::GgmlType::F32 ||
                             tensor.type == ::lowbit::GgmlType::F16 ||
                             tensor.type == ::lowbit::GgmlType::BF16;
      if (!codecName && (floatType || requantBits == 0)) {
        entry["note"] = "no exact lowbit scheme: read dequantized to f32";
        report.push_back(std::move(entry));
        continue;
      }
      if (!codecName) {
        if (failed(
                requantize(session, module, linear, param, weightName, entry)))
          return failure();
        report.push_back(std::move(entry));
        continue;
      }
      int64_t n = shape[0], k = shape[1];
      codec::WeightDesc desc;
      desc.bits = scheme.getBits();
      desc.groupSize = 32;
      desc.symmetric = scheme.getSymmetric();
      desc.zeroKind = scheme.hasMinZero() ? codec::ZeroKind::FloatMin
                                          : codec::ZeroKind::Integer;
      desc.scaleType = codec::ScaleType::F16;
      desc.N = n;
      desc.K = k;
      // Llama's q/k rows are in llama.cpp's order: move whole rows of
      // blocks back, as the gguf scope moves the dequantized rows.
      const uint8_t *blocks = tensor.data;
      std::vector<uint8_t> reordered;
      bool llama = (*gguf)->config.architecture == "LlamaForCausalLM";
      int64_t heads = 0;
      if (llama && weightName.ends_with("q_proj.weight"))
        heads = (*gguf)->config.numHeads;
      else if (llama && weightName.ends_with("k_proj.weight"))
        heads = (*gguf)->config.numKVHeads;
      if (heads) {
        if (heads <= 0 || n % (2 * heads))
          return param.emitOpError("weight '")
                 << weightName << "': " << n
                 << " rows are not a multiple of twice the head count "
                 << heads;
        reordered = unpermuteRows(blocks, n, size_t(tensor.nbytes / n), heads);
        blocks = reordered.data();
      }
      codec::UnpackedWeight unpacked;
      std::string error;
      if (!codec::findCodec(codecName)->decode(desc, blocks, tensor.nbytes,
                                               unpacked, &error))
        return param.emitOpError("GGUF tensor '")
               << tensor.name << "': " << error;

      if (!output) {
        if (outputParams.empty())
          return module.emitError("lowbit-keep-gguf-quants: output-params is "
                                  "needed to store the kept weights (scope '")
                 << this->scope << "')";
        llvm::Expected<::lowbit::ParamResolver::OutputScope *> opened =
            resolver.openOutputScope(module, this->scope, outputParams);
        if (!opened)
          return ::lowbit::emitErr(module, opened.takeError());
        output = *opened;
      }
      bool tied = linear && !param->hasOneUse();
      StringRef base = weightName;
      base.consume_back(".weight");
      std::string name = tied ? std::string("lm_head") : base.str();
      int64_t groups = k / 32;
      if (!output->store.lookup(name + ".qcodes")) {
        SmallVector<::lowbit::OwnedTensor, 3> tensors;
        tensors.push_back(rawTensor(name + ".qcodes", ::lowbit::DType::U8,
                                    {n, k}, std::move(unpacked.codes)));
        tensors.push_back(rawTensor(name + ".scales", ::lowbit::DType::F16,
                                    {n, groups}, halfBytes(unpacked.scales)));
        if (scheme.hasMinZero())
          tensors.push_back(rawTensor(name + ".zeros", ::lowbit::DType::F16,
                                      {n, groups}, halfBytes(unpacked.mins)));
        for (::lowbit::OwnedTensor &t : tensors)
          if (llvm::Error err = output->store.set(std::move(t)))
            return ::lowbit::emitErr(param, std::move(err));
      }
      entry["name"] = name; // The quantized parameter, as RTN names it.
      entry["bits"] = int64_t(scheme.getBits());
      entry["group_size"] = int64_t(32);
      entry["shape"] = llvm::json::Array{n, k};
      report.push_back(std::move(entry));

      OpBuilder b(param);
      auto qType = QWeightType::get(ctx, shape, scheme);
      auto qparam = QParamOp::create(
          b, param.getLoc(), qType, b.getStringAttr(this->scope),
          b.getStringAttr(name), ElementsAttr(), ElementsAttr(), ElementsAttr(),
          ElementsAttr());
      if (linear) {
        b.setInsertionPoint(linear);
        auto dequant = DequantizeOp::create(b, linear.getLoc(), param.getType(),
                                            qparam.getResult());
        linear.getWeightMutable().assign(dequant.getResult());
      }
      // A tied table's lookups (or an untied table's: all its readers) read
      // the kept blocks too.
      ::lowbit::shareTiedTable(param, qparam);
      if (param->use_empty())
        param->erase();
    }
    if (!output && (session || (!report.empty() && !outputParams.empty()))) {
      // Only requantized weights (their session opened the scope), or none
      // kept at all: the report still goes to the output scope.
      llvm::Expected<::lowbit::ParamResolver::OutputScope *> opened =
          resolver.openOutputScope(module, this->scope, outputParams);
      if (!opened)
        return ::lowbit::emitErr(module, opened.takeError());
      output = *opened;
    }
    if (output) {
      for (llvm::json::Value &entry : report)
        output->report.push_back(std::move(entry));
      if (writeParams)
        if (llvm::Error err = output->store.writeTo(output->location))
          return ::lowbit::emitErr(module, std::move(err));
    }
    ::lowbit::ParamResolver::get(ctx).recordStep(
        {::lowbit::canonicalPassText(*this, ::lowbit::kOutputOptions, {}), {}});
    return success();
  }
};

} // namespace
