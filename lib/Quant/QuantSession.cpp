//===- QuantSession.cpp - shared state of quantization passes ---*- C++ -*-===//

#include "lowbit/Quant/QuantSession.h"

#include "lowbit/Executor/Executor.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbit/Support/OutputFile.h"
#include "lowbit/Support/Safetensors.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::lowbit;

namespace lowbit {

//===----------------------------------------------------------------------===//
// Options and layer selection
//===----------------------------------------------------------------------===//

llvm::Expected<numerics::QuantParams>
makeQuantParams(unsigned bits, int64_t groupSize, bool symmetric, bool mse,
                StringRef scaleType, StringRef symGrid, int64_t superGroup) {
  if (bits < 2 || bits > 8)
    return llvm::createStringError("bits must be in [2, 8], got %u", bits);
  if (groupSize == 0 || groupSize < -1)
    return llvm::createStringError(
        "group size must be -1 (per-channel) or positive, got %lld",
        static_cast<long long>(groupSize));
  numerics::QuantParams params;
  params.bits = bits;
  params.groupSize = groupSize;
  params.symmetric = symmetric;
  params.mseSearch = mse;
  if (symGrid == "extreme") {
    if (!symmetric)
      return llvm::createStringError(
          "sym-grid=extreme applies to symmetric schemes only (add "
          "symmetric / --sym)");
    params.symmetricExtreme = true;
  } else if (symGrid != "absmax") {
    return llvm::createStringError(
        "symmetric grid must be absmax or extreme, got '%s'",
        symGrid.str().c_str());
  }
  if (scaleType == "f32")
    params.scaleType = numerics::ScaleType::F32;
  else if (scaleType == "f16")
    params.scaleType = numerics::ScaleType::F16;
  else if (scaleType == "bf16")
    params.scaleType = numerics::ScaleType::BF16;
  else
    return llvm::createStringError(
        "scale type must be f32, f16 or bf16, got '%s'",
        scaleType.str().c_str());
  if (superGroup != 0) {
    if (superGroup < 2)
      return llvm::createStringError(
          "super-group must be 0 (plain scales) or at least 2 groups, got "
          "%lld",
          static_cast<long long>(superGroup));
    if (groupSize < 0)
      return llvm::createStringError(
          "super-group needs a positive group size (per-channel has one "
          "scale per row)");
    if (params.scaleType == numerics::ScaleType::F32)
      return llvm::createStringError(
          "super-group needs f16 or bf16 super-block scales (scale-type), "
          "got f32");
    params.superGroup = superGroup;
  }
  return params;
}

llvm::Expected<std::vector<LayerOverride>>
parseOverrides(ArrayRef<std::string> specs) {
  std::vector<LayerOverride> out;
  for (const std::string &spec : specs) {
    SmallVector<StringRef> parts;
    StringRef(spec).split(parts, ':');
    LayerOverride o;
    o.pattern = parts[0].str();
    std::string regexError;
    if (o.pattern.empty() || !llvm::Regex(o.pattern).isValid(regexError))
      return llvm::createStringError("override '%s': invalid regex '%s'%s%s",
                                     spec.c_str(), o.pattern.c_str(),
                                     regexError.empty() ? "" : ": ",
                                     regexError.c_str());
    for (StringRef field : llvm::drop_begin(parts)) {
      auto [key, value] = field.split('=');
      int64_t number;
      if (key == "skip" && value.empty()) {
        o.skip = true;
      } else if (key == "bits" && !value.getAsInteger(10, number)) {
        o.bits = static_cast<unsigned>(number);
      } else if (key == "group-size" && !value.getAsInteger(10, number)) {
        o.groupSize = number;
      } else {
        return llvm::createStringError(
            "override '%s': unknown field '%s' (expected bits=B, "
            "group-size=G or skip)",
            spec.c_str(), field.str().c_str());
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

llvm::Expected<std::vector<LayerChoice>>
selectLayers(ModuleOp module, const numerics::QuantParams &defaults,
             std::vector<LayerOverride> &overrides, StringRef only) {
  auto entry = module.lookupSymbol<func::FuncOp>(attrs::kEntry);
  if (!entry)
    return llvm::createStringError("module has no @forward function");
  std::optional<llvm::Regex> onlyRegex;
  if (!only.empty()) {
    std::string regexError;
    onlyRegex.emplace(only);
    if (!onlyRegex->isValid(regexError))
      return llvm::createStringError("only: invalid regex '%s': %s",
                                     only.str().c_str(), regexError.c_str());
  }
  bool onlyMatched = false;
  std::vector<LayerChoice> layers;
  for (auto call : entry.getOps<func::CallOp>()) {
    auto block = module.lookupSymbol<func::FuncOp>(call.getCallee());
    if (!block || block.isExternal())
      continue;
    for (LinearOp linear : block.getOps<LinearOp>()) {
      auto weight = linear.getWeight().getDefiningOp<ParamOp>();
      if (!weight)
        continue; // already quantized, or not a plain parameter
      LayerChoice layer;
      layer.op = linear;
      layer.weight = weight;
      layer.weightName = weight.getName().str();
      if (onlyRegex) {
        if (!onlyRegex->match(layer.weightName))
          continue;
        onlyMatched = true;
      }
      StringRef name = layer.weightName;
      name.consume_back(".weight");
      layer.name = name.str();
      layer.block = block;
      layer.params = defaults;
      bool skip = false;
      for (LayerOverride &o : overrides) {
        if (!llvm::Regex(o.pattern).match(layer.weightName))
          continue;
        o.matched = true;
        if (o.skip)
          skip = true;
        if (o.bits)
          layer.params.bits = *o.bits;
        if (o.groupSize)
          layer.params.groupSize = *o.groupSize;
      }
      if (skip)
        continue;
      // A per-channel override has one scale per row: no super-blocks.
      if (layer.params.groupSize < 0)
        layer.params.superGroup = 0;
      if (layer.params.bits < 2 || layer.params.bits > 8 ||
          layer.params.groupSize == 0 || layer.params.groupSize < -1)
        return llvm::createStringError(
            "layer '%s': overrides give bits %u and group size %lld; bits "
            "must be in [2, 8] and the group size -1 or positive",
            layer.weightName.c_str(), layer.params.bits,
            static_cast<long long>(layer.params.groupSize));
      layers.push_back(std::move(layer));
    }
  }
  if (onlyRegex && !onlyMatched)
    return llvm::createStringError(
        "only regex '%s' matches no float linear layer inside the decoder "
        "blocks",
        only.str().c_str());
  for (const LayerOverride &o : overrides)
    if (!o.matched)
      return llvm::createStringError(
          "override regex '%s' matches no linear layer inside the decoder "
          "blocks",
          o.pattern.c_str());
  return layers;
}

//===----------------------------------------------------------------------===//
// QuantSession
//===----------------------------------------------------------------------===//

QuantSession::~QuantSession() = default;

llvm::Expected<std::unique_ptr<QuantSession>>
QuantSession::open(ModuleOp module, StringRef scope, StringRef outputParams) {
  if (scope.empty())
    return llvm::createStringError("the output scope name must not be empty");
  std::unique_ptr<QuantSession> session(new QuantSession());
  session->module = module;
  session->scope = scope.str();
  session->outputParams = outputParams.str();
  // Reuse the scope when an earlier pass of this process wrote it.
  if (lookupParameterScope(module, scope)) {
    auto out = ParamResolver::get(module.getContext())
                   .openOutputScope(module, scope, outputParams);
    if (!out)
      return out.takeError();
    session->output = *out;
  }
  return session;
}

static llvm::Error needOutputFile() {
  return llvm::createStringError(
      "the quantized tensors of store-backed weights need a file: pass "
      "output-params=FILE");
}

llvm::Error QuantSession::checkOutputFile(ArrayRef<LayerChoice> layers) const {
  if (output || !outputParams.empty())
    return llvm::Error::success();
  for (const LayerChoice &layer : layers)
    if (!mlir::lowbit::ParamOp(layer.weight).getValue())
      return needOutputFile();
  return llvm::Error::success();
}

llvm::Expected<std::vector<float>>
QuantSession::loadWeight(const LayerChoice &layer) {
  ParamOp weight = layer.weight;
  auto type = weight.getType();
  if (std::optional<ElementsAttr> value = weight.getValue()) {
    auto dense = dyn_cast<DenseElementsAttr>(*value);
    if (!dense || !isa<FloatType>(dense.getElementType()))
      return llvm::createStringError(
          "weight '%s': only dense float inline values can be quantized",
          layer.weightName.c_str());
    std::vector<float> out;
    out.reserve(dense.getNumElements());
    for (APFloat v : dense.getValues<APFloat>())
      out.push_back(static_cast<float>(v.convertToDouble()));
    return out;
  }
  std::optional<StringRef> scopeName = weight.getScope();
  if (!scopeName)
    return llvm::createStringError(
        "weight '%s' has neither a parameter scope nor inline data",
        layer.weightName.c_str());
  llvm::Expected<const TensorView *> found =
      ParamResolver::get(module.getContext())
          .lookup(module, *scopeName, layer.weightName);
  if (!found)
    return found.takeError();
  const TensorView *view = *found;
  if (ArrayRef<int64_t>(view->shape) != type.getShape())
    return llvm::createStringError(
        "weight '%s' has shape %s in the store, the IR expects %s",
        layer.weightName.c_str(), formatShape(view->shape).c_str(),
        formatShape(type.getShape()).c_str());
  return toF32(*view);
}

/// Scales as a tensor of the scheme's scale type.
static OwnedTensor scalesTensor(const std::string &name,
                                ArrayRef<int64_t> shape, ArrayRef<float> scales,
                                numerics::ScaleType type) {
  OwnedTensor t;
  t.name = name;
  t.shape.assign(shape.begin(), shape.end());
  if (type == numerics::ScaleType::F32)
    return OwnedTensor::fromF32(name, shape, scales);
  t.dtype = type == numerics::ScaleType::F16 ? DType::F16 : DType::BF16;
  t.bytes.resize(scales.size() * 2);
  for (size_t i = 0; i < scales.size(); ++i) {
    uint16_t bits = type == numerics::ScaleType::F16 ? floatToHalf(scales[i])
                                                     : floatToBF16(scales[i]);
    std::memcpy(t.bytes.data() + 2 * i, &bits, 2);
  }
  return t;
}

llvm::Error QuantSession::quantizeRtn(LayerChoice &layer) {
  auto w = loadWeight(layer);
  if (!w)
    return w.takeError();
  int64_t n = layer.weight.getType().getDimSize(0);
  int64_t k = layer.weight.getType().getDimSize(1);
  numerics::QuantResult result;
  if (llvm::Error err =
          numerics::rtnQuantize(w->data(), n, k, layer.params, result))
    return err;
  // Relative weight-space error ||W - Q||^2 / ||W||^2.
  std::vector<float> q = numerics::dequantize(result, layer.params, n, k);
  double num = 0, den = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    double d = double((*w)[i]) - q[i];
    num += d * d;
    den += double((*w)[i]) * (*w)[i];
  }
  llvm::json::Object entry{{"name", layer.name},
                           {"method", "rtn"},
                           {"bits", layer.params.bits},
                           {"group_size", layer.params.groupSize},
                           {"shape", llvm::json::Array{n, k}},
                           {"weight_rel_error", den > 0 ? num / den : 0.0}};
  if (layer.params.symmetric)
    entry["sym_grid"] = layer.params.symmetricExtreme ? "extreme" : "absmax";
  addReport(std::move(entry));
  return applyQuantized(layer, result);
}

llvm::Error QuantSession::applyQuantized(LayerChoice &layer,
                                         const numerics::QuantResult &result) {
  MLIRContext *ctx = module.getContext();
  const numerics::QuantParams &p = layer.params;
  auto wType = layer.weight.getType();
  int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
  Type scaleType =
      p.scaleType == numerics::ScaleType::F32   ? Type(Float32Type::get(ctx))
      : p.scaleType == numerics::ScaleType::F16 ? Type(Float16Type::get(ctx))
                                                : Type(BFloat16Type::get(ctx));
  Type zeroType =
      p.symmetric ? Type() : IntegerType::get(ctx, 8, IntegerType::Unsigned);
  bool actOrder = !result.perm.empty();
  auto scheme = SchemeAttr::get(ctx, p.bits, p.groupSize, p.symmetric,
                                scaleType, zeroType, actOrder, RotationAttr(),
                                ZeroForm::ZeroPoint, p.superGroup);
  auto qType = QWeightType::get(ctx, wType.getShape(), scheme);
  int64_t g = qType.getNumGroups();
  if (result.codes.size() != static_cast<size_t>(n * k) ||
      result.scales.size() != static_cast<size_t>(n * g) ||
      result.zeros.size() != (p.symmetric ? 0 : static_cast<size_t>(n * g)) ||
      (actOrder && result.perm.size() != static_cast<size_t>(k)))
    return llvm::createStringError(
        "layer '%s': internal error: quantized tensors do not match the "
        "scheme",
        layer.weightName.c_str());

  // Keep the quantized parameter where the float one was.
  OpBuilder b(layer.weight);
  bool isInline = layer.weight.getValue().has_value();
  if (!isInline && !output) {
    if (outputParams.empty())
      return needOutputFile();
    auto out =
        ParamResolver::get(ctx).openOutputScope(module, scope, outputParams);
    if (!out)
      return out.takeError();
    output = *out;
  }
  auto qparam =
      QParamOp::create(b, layer.weight.getLoc(), qType,
                       isInline ? StringAttr() : b.getStringAttr(scope),
                       b.getStringAttr(layer.name), ElementsAttr(),
                       ElementsAttr(), ElementsAttr(), ElementsAttr());
  if (isInline) {
    // Inline model in, inline quantized parameter out.
    RankedTensorType codesType = qType.getCodesType();
    SmallVector<APInt> codes;
    for (uint8_t c : result.codes)
      codes.push_back(APInt(p.bits, c));
    qparam.setCodesAttr(DenseElementsAttr::get(codesType, codes));
    SmallVector<APFloat> scales;
    for (float s : result.scales) {
      APFloat v(s);
      bool lost;
      v.convert(cast<FloatType>(qType.getScalesType().getElementType())
                    .getFloatSemantics(),
                APFloat::rmNearestTiesToEven, &lost);
      scales.push_back(v);
    }
    qparam.setScalesAttr(DenseElementsAttr::get(qType.getScalesType(), scales));
    if (!p.symmetric) {
      SmallVector<APInt> zeros;
      for (uint8_t z : result.zeros)
        zeros.push_back(APInt(8, z));
      qparam.setZerosAttr(DenseElementsAttr::get(qType.getZerosType(), zeros));
    }
    if (actOrder)
      qparam.setPermAttr(DenseElementsAttr::get(
          qType.getPermType(), ArrayRef<int32_t>(result.perm)));
  } else {
    auto raw = [](std::string name, DType dtype, std::vector<int64_t> shape,
                  const void *data, size_t nbytes) {
      OwnedTensor t;
      t.name = std::move(name);
      t.dtype = dtype;
      t.shape = std::move(shape);
      t.bytes.assign(static_cast<const uint8_t *>(data),
                     static_cast<const uint8_t *>(data) + nbytes);
      return t;
    };
    SmallVector<OwnedTensor, 4> tensors;
    tensors.push_back(raw(layer.name + ".qcodes", DType::U8, {n, k},
                          result.codes.data(), result.codes.size()));
    // Super-block scales are stored as their exact f32 products.
    tensors.push_back(scalesTensor(
        layer.name + ".scales", {n, g}, result.scales,
        p.superGroup > 0 ? numerics::ScaleType::F32 : p.scaleType));
    if (!p.symmetric)
      tensors.push_back(raw(layer.name + ".zeros", DType::U8, {n, g},
                            result.zeros.data(), result.zeros.size()));
    if (actOrder)
      tensors.push_back(raw(layer.name + ".perm", DType::I32, {k},
                            result.perm.data(), 4 * result.perm.size()));
    for (OwnedTensor &t : tensors)
      if (llvm::Error err = output->store.set(std::move(t)))
        return err;
  }
  if (layer.op) {
    b.setInsertionPoint(layer.op);
    auto dequant =
        DequantizeOp::create(b, layer.op.getLoc(), wType, qparam.getResult());
    layer.op.getWeightMutable().assign(dequant.getResult());
    shareTiedTable(layer.weight, qparam);
  } else if (!shareTiedTable(layer.weight, qparam) ||
             !layer.weight->use_empty()) {
    // A lookup-only table: every reader must be a lookup.
    return llvm::createStringError(
        "embedding table '%s': internal error: read by an op other than "
        "lowbit.embedding",
        layer.weightName.c_str());
  }
  if (layer.weight->use_empty()) {
    if (exec)
      exec->forgetWeight(layer.weight);
    layer.weight->erase();
  }
  layer.weight = nullptr;
  return llvm::Error::success();
}

llvm::Expected<Executor *> QuantSession::getExecutor(int64_t maxContext) {
  if (!exec) {
    ExecutorOptions options;
    options.maxContext = maxContext;
    // Calibration statistics do not need the reference's double attention.
    options.floatAccumulation = true;
    auto created = Executor::create(module, options);
    if (!created)
      return created.takeError();
    exec = std::move(*created);
  }
  return exec.get();
}

void QuantSession::addReport(llvm::json::Object entry) {
  report.push_back(std::move(entry));
}

mlir::lowbit::LinearOp findFloatOutputProjection(mlir::ModuleOp module) {
  auto entry = module.lookupSymbol<mlir::func::FuncOp>(attrs::kEntry);
  mlir::lowbit::LinearOp head;
  if (!entry)
    return head;
  for (auto linear : entry.getOps<mlir::lowbit::LinearOp>())
    if (linear.getWeight().getDefiningOp<mlir::lowbit::ParamOp>())
      head = linear;
  return head;
}

llvm::SmallVector<mlir::lowbit::ParamOp>
findFloatEmbeddingTables(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::lowbit::ParamOp> tables;
  auto entry = module.lookupSymbol<mlir::func::FuncOp>(attrs::kEntry);
  if (!entry)
    return tables;
  for (auto embedding : entry.getOps<mlir::lowbit::EmbeddingOp>()) {
    auto table = embedding.getTable().getDefiningOp<mlir::lowbit::ParamOp>();
    if (!table || llvm::is_contained(tables, table) ||
        table.getType().getRank() != 2)
      continue;
    if (llvm::all_of(table->getUsers(), [](Operation *user) {
          return isa<mlir::lowbit::EmbeddingOp>(user);
        }))
      tables.push_back(table);
  }
  return tables;
}

llvm::Error writeReport(StringRef path, ArrayRef<llvm::json::Value> entries,
                        llvm::json::Object extra) {
  llvm::json::Array layers;
  for (const llvm::json::Value &v : entries)
    layers.push_back(v);
  llvm::json::Object root = std::move(extra);
  root["layers"] = std::move(layers);
  return writeOutputFile(path, [&](llvm::raw_ostream &os) -> llvm::Error {
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
    return llvm::Error::success();
  });
}

llvm::Error QuantSession::finish(bool save, StringRef reportPath) {
  if (output) {
    for (const llvm::json::Value &entry : report)
      output->report.push_back(entry);
  }
  if (save && output && output->store.size() > 0)
    if (llvm::Error err = output->store.writeTo(output->location))
      return err;
  if (!reportPath.empty())
    return writeReport(reportPath, report);
  return llvm::Error::success();
}

} // namespace lowbit

bool ::lowbit::shareTiedTable(ParamOp table, QParamOp q) {
  SmallVector<EmbeddingOp> lookups;
  for (Operation *user : table->getUsers())
    if (auto embedding = dyn_cast<EmbeddingOp>(user);
        embedding && embedding.getTable() == table.getResult())
      lookups.push_back(embedding);
  if (lookups.empty() || q.getType().getScheme().getActOrder())
    return false;
  OpBuilder b(q->getContext());
  b.setInsertionPointAfter(q);
  auto dequant =
      DequantizeOp::create(b, q.getLoc(), table.getType(), q.getResult());
  for (EmbeddingOp embedding : lookups)
    embedding.getTableMutable().assign(dequant.getResult());
  return true;
}
