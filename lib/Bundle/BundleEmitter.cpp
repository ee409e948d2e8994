//===- BundleEmitter.cpp - lowering a model to a .lowbit bundle -----------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Bundle/BundleEmitter.h"
#include "lowbit/OpSemantics/OpSemantics.h"

#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Support/GgufTokenizer.h"

#include "lowbit/Dialect/Lowbit/IR/KernelExports.h"
#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbitrt/Bundle.h"
#include "lowbitrt/Codec.h"
#ifdef LOWBIT_HAVE_SIGNING
#include "lowbitrt/Signature.h"
#endif

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <limits>
#include <map>
#include <optional>

using namespace mlir;
using namespace mlir::lowbit;
namespace rt = ::lowbit::rt;

namespace lowbit {
namespace {

std::optional<llvm::json::Value> attrToJson(Attribute attr);

/// One op of the flattened program, with value ids (not yet buffers).
struct ProgramOp {
  llvm::json::Object fields;
  std::vector<int64_t> inputs;
  int64_t output = -1;
};

/// A value of the flattened program: `cols` elements of `dtype` per row.
struct ValueInfo {
  std::string dtype;
  int64_t cols = 0;
};

/// Collects the diagnostics emitted while the emitter runs, so they can be
/// returned as an llvm::Error.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext *ctx)
      : handler(ctx, [this](Diagnostic &diag) {
          if (diag.getSeverity() == DiagnosticSeverity::Error) {
            std::string loc;
            llvm::raw_string_ostream os(loc);
            os << diag.getLocation();
            messages +=
                (messages.empty() ? "" : "\n") + loc + ": " + diag.str();
          }
          return success();
        }) {}

  llvm::Error takeError(llvm::StringRef fallback) {
    return llvm::createStringError(messages.empty() ? fallback.str()
                                                    : messages);
  }

private:
  std::string messages;
  ScopedDiagnosticHandler handler;
};

/// Tensors of the module's parameter scopes.
struct ScopedParams {
  ParamResolver &resolver;
  ModuleOp module;

  FailureOr<const TensorView *>
  lookup(Operation *op, std::optional<StringRef> scope, StringRef name) const {
    if (!scope)
      return op->emitOpError("tensor '")
             << name << "' has neither a parameter scope nor inline data";
    llvm::Expected<const TensorView *> view =
        resolver.lookup(module, *scope, name);
    if (!view)
      return op->emitOpError(llvm::toString(view.takeError()));
    return *view;
  }
};

class Emitter {
public:
  Emitter(ModuleOp module, rt::BundleWriter &writer, BundleStats &stats)
      : module(module), store{ParamResolver::get(module.getContext()), module},
        writer(writer), stats(stats) {}

  LogicalResult buildProgram(llvm::json::Object &program,
                             llvm::json::Array &layers);

private:
  LogicalResult flatten(func::FuncOp fn, ArrayRef<int64_t> args,
                        SmallVectorImpl<int64_t> &results, unsigned depth);
  LogicalResult emitOp(Operation *op, llvm::DenseMap<Value, int64_t> &ids);
  template <typename SetWeight, typename Input>
  LogicalResult emitGraphOp(GraphOpInterface op, const rt::ops::OpDef &def,
                            ProgramOp &pop, SetWeight &setWeight, Input &input);
  FailureOr<std::string> floatTensor(Operation *user, Value v);
  FailureOr<std::string> quantizedTensor(DispatchOp op, KernelOp kernel,
                                         ProgramOp &pop,
                                         llvm::json::Array &layers);
  /// The bundle tensor of `pack` (written once however many ops read it)
  /// and the scheme fields of `pop`.
  FailureOr<std::string> packedTensor(PackOp pack, StringRef target,
                                      ProgramOp &pop,
                                      llvm::json::Array &layers);
  FailureOr<int64_t> newValue(Operation *op, Value v);
  void assignBuffers(int64_t outputValue, llvm::json::Object &program);

  ModuleOp module;
  ScopedParams store;
  rt::BundleWriter &writer;
  BundleStats &stats;

  std::vector<ValueInfo> values;
  std::vector<ProgramOp> ops;
  llvm::StringSet<> tensors;
  std::map<int64_t, llvm::json::Object> kvCaches;
  llvm::json::Array *layerList = nullptr;
};

/// Copies a float tensor (stored, or inline in the IR) into f32 values.
FailureOr<std::vector<float>>
loadFloats(Operation *op, std::optional<StringRef> scope, StringRef name,
           std::optional<ElementsAttr> inlineValue, const ScopedParams &store,
           int64_t expected) {
  std::vector<float> out;
  if (inlineValue) {
    auto dense = dyn_cast<DenseElementsAttr>(*inlineValue);
    if (!dense || !isa<FloatType>(dense.getElementType()))
      return op->emitOpError("inline value of '")
             << name << "' is not a dense float constant";
    for (const APFloat &v : dense.getValues<APFloat>()) {
      APFloat f = v;
      bool lost;
      f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
      out.push_back(f.convertToFloat());
    }
  } else {
    FailureOr<const TensorView *> found = store.lookup(op, scope, name);
    if (failed(found))
      return failure();
    const TensorView *view = *found;
    llvm::Expected<std::vector<float>> values = toF32(*view);
    if (!values)
      return op->emitOpError(llvm::toString(values.takeError()));
    out = std::move(*values);
  }
  if (static_cast<int64_t>(out.size()) != expected)
    return op->emitOpError("tensor '") << name << "' has " << out.size()
                                       << " elements, expected " << expected;
  return out;
}

/// Copies an integer tensor (stored as U8/I32/I64, or inline) into int64s.
FailureOr<std::vector<int64_t>>
loadInts(Operation *op, std::optional<StringRef> scope, StringRef name,
         std::optional<ElementsAttr> inlineValue, const ScopedParams &store,
         int64_t expected) {
  std::vector<int64_t> out;
  if (inlineValue) {
    auto dense = dyn_cast<DenseElementsAttr>(*inlineValue);
    if (!dense || !isa<IntegerType>(dense.getElementType()))
      return op->emitOpError("inline value of '")
             << name << "' is not a dense integer constant";
    bool isUnsigned = dense.getElementType().isUnsignedInteger();
    for (const APInt &v : dense.getValues<APInt>())
      out.push_back(isUnsigned ? static_cast<int64_t>(v.getZExtValue())
                               : v.getSExtValue());
  } else {
    FailureOr<const TensorView *> found = store.lookup(op, scope, name);
    if (failed(found))
      return failure();
    const TensorView *view = *found;
    int64_t n = view->numel();
    out.resize(n);
    switch (view->dtype) {
    case DType::U8:
      for (int64_t i = 0; i < n; ++i)
        out[i] = view->data[i];
      break;
    case DType::I32:
      for (int64_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, view->data + 4 * i, 4);
        out[i] = v;
      }
      break;
    case DType::I64:
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(&out[i], view->data + 8 * i, 8);
      break;
    default:
      return op->emitOpError("tensor '")
             << name << "' has dtype " << dtypeName(view->dtype)
             << ", expected U8, I32 or I64";
    }
  }
  if (static_cast<int64_t>(out.size()) != expected)
    return op->emitOpError("tensor '") << name << "' has " << out.size()
                                       << " elements, expected " << expected;
  return out;
}

std::vector<uint8_t> floatBytes(const std::vector<float> &values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  if (!values.empty())
    std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

FailureOr<int64_t> Emitter::newValue(Operation *op, Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() < 1)
    return op->emitOpError("result must be a ranked tensor with a token "
                           "dimension");
  int64_t cols = 1;
  for (int64_t d : type.getShape().drop_front()) {
    if (ShapedType::isDynamic(d))
      return op->emitOpError("only the first (token) dimension may be "
                             "dynamic");
    cols *= d;
  }
  ValueInfo info;
  if (type.getElementType().isF32())
    info.dtype = "f32";
  else if (type.getElementType().isInteger(32))
    info.dtype = "i32";
  else
    return op->emitOpError("values of element type ")
           << type.getElementType() << " are not supported in bundles";
  info.cols = cols;
  values.push_back(info);
  return static_cast<int64_t>(values.size() - 1);
}

FailureOr<std::string> Emitter::floatTensor(Operation *user, Value v) {
  auto param = v.getDefiningOp<ParamOp>();
  if (!param)
    return user->emitOpError("operand must be a lowbit.param weight");
  std::string name = param.getName().str();
  if (tensors.contains(name))
    return name;
  RankedTensorType type = param.getType();
  FailureOr<std::vector<float>> values =
      loadFloats(param, param.getScope(), name, param.getValue(), store,
                 type.getNumElements());
  if (failed(values))
    return failure();
  stats.floatWeightBytes += values->size() * sizeof(float);
  stats.floatWeights += static_cast<int64_t>(values->size());
  std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
  writer.addTensor(name, rt::DType::F32, shape, floatBytes(*values));
  tensors.insert(name);
  return name;
}

FailureOr<std::string> Emitter::quantizedTensor(DispatchOp op, KernelOp kernel,
                                                ProgramOp &pop,
                                                llvm::json::Array &layers) {
  auto pack = op.getWeight().getDefiningOp<PackOp>();
  if (!pack)
    return op.emitOpError("weight must be a lowbit.pack");
  if (pack.getType() != kernel.getPackedType())
    return op.emitOpError("weight type ")
           << pack.getType() << " does not match kernel @"
           << kernel.getSymName() << " (" << kernel.getPackedType() << ")";
  auto executable = cast<ExecutableOp>(kernel->getParentOp());
  return packedTensor(pack, executable.getTarget().getName(), pop, layers);
}

FailureOr<std::string> Emitter::packedTensor(PackOp pack, StringRef target,
                                             ProgramOp &pop,
                                             llvm::json::Array &layers) {
  auto param = pack.getInput().getDefiningOp<QParamOp>();
  if (!param)
    return pack.emitOpError("input must be a lowbit.qparam");
  QWeightType type = param.getType();
  PackedType packedType = pack.getType();
  SchemeAttr scheme = packedType.getScheme();
  std::string name = param.getName().str();
  std::string packedName = name + "." + target.str();
  int64_t n = packedType.getN(), k = packedType.getK();
  int64_t groups = type.getScalesType().getShape()[1];

  std::string scaleType;
  llvm::raw_string_ostream(scaleType) << scheme.getScaleType();
  pop.fields["N"] = n;
  pop.fields["K"] = k;
  pop.fields["bits"] = static_cast<int64_t>(scheme.getBits());
  pop.fields["group_size"] = scheme.getGroupSize();
  pop.fields["symmetric"] = scheme.getSymmetric();
  pop.fields["scale_type"] = scaleType;
  // The weight codec of the packed tensor (runtime/include/lowbitrt/Codec.h).
  std::string layout = packedType.getLayout().str();
  pop.fields["layout"] = layout;
  if (scheme.hasSuperGroups())
    pop.fields["super_group"] = scheme.getSuperGroup();
  if (type.getPermType())
    pop.fields["perm"] = name + ".perm";
  if (tensors.contains(packedName))
    return packedName;

  FailureOr<std::vector<int64_t>> codes =
      loadInts(param, param.getScope(), name + ".qcodes", param.getCodes(),
               store, n * k);
  if (failed(codes))
    return failure();
  FailureOr<std::vector<float>> scales =
      loadFloats(param, param.getScope(), name + ".scales", param.getScales(),
                 store, n * groups);
  if (failed(scales))
    return failure();
  std::vector<uint8_t> zeros;
  std::vector<float> mins;
  if (scheme.hasMinZero()) {
    // zero_form = min: the zeros tensor holds float minimums (W = s * q + m).
    FailureOr<std::vector<float>> m =
        loadFloats(param, param.getScope(), name + ".zeros", param.getZeros(),
                   store, n * groups);
    if (failed(m))
      return failure();
    mins = std::move(*m);
  } else if (type.getZerosType()) {
    FailureOr<std::vector<int64_t>> z =
        loadInts(param, param.getScope(), name + ".zeros", param.getZeros(),
                 store, n * groups);
    if (failed(z))
      return failure();
    for (int64_t v : *z) {
      if (v < 0 || v >= (int64_t(1) << scheme.getBits()))
        return param.emitOpError("tensor '")
               << name << ".zeros' holds " << v << ", outside the "
               << scheme.getBits() << "-bit code range";
      zeros.push_back(static_cast<uint8_t>(v));
    }
  }
  std::vector<int64_t> perm;
  if (type.getPermType()) {
    FailureOr<std::vector<int64_t>> p = loadInts(
        param, param.getScope(), name + ".perm", param.getPerm(), store, k);
    if (failed(p))
      return failure();
    std::vector<bool> seen(k, false);
    for (int64_t c : *p) {
      if (c < 0 || c >= k || seen[c])
        return param.emitOpError("tensor '")
               << name << ".perm' is not a permutation of [0, " << k << ")";
      seen[c] = true;
    }
    perm = std::move(*p);
  }

  // Codes in quantization order: column j holds original column perm[j].
  std::vector<uint8_t> packedCodes(n * k);
  int64_t maxCode = (int64_t(1) << scheme.getBits()) - 1;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < k; ++j) {
      int64_t v = (*codes)[r * k + (perm.empty() ? j : perm[j])];
      if (v < 0 || v > maxCode)
        return param.emitOpError("tensor '")
               << name << ".qcodes' holds " << v << ", outside the "
               << scheme.getBits() << "-bit code range";
      packedCodes[r * k + j] = static_cast<uint8_t>(v);
    }
  }
  const codec::Codec *codec = codec::findCodec(layout);
  if (!codec)
    return pack.emitOpError("unknown weight codec '") << layout << "'";
  codec::WeightDesc desc;
  desc.bits = scheme.getBits();
  desc.groupSize = scheme.getGroupSize();
  desc.symmetric = scheme.getSymmetric();
  desc.zeroKind = scheme.hasMinZero() ? codec::ZeroKind::FloatMin
                                      : codec::ZeroKind::Integer;
  desc.superGroup = scheme.getSuperGroup();
  desc.N = n;
  desc.K = k;
  if (!codec::parseScaleType(scaleType, desc.scaleType))
    return pack.emitOpError("scale type '")
           << scaleType << "' has no weight codec storage";
  codec::UnpackedWeight unpacked;
  unpacked.codes = std::move(packedCodes);
  unpacked.scales = std::move(*scales);
  unpacked.zeros = std::move(zeros);
  unpacked.mins = std::move(mins);
  std::vector<uint8_t> packed;
  std::string error;
  if (!codec->encode(desc, unpacked, packed, &error))
    return pack.emitOpError("weight codec ") << layout << ": " << error;

  int64_t packedBytes = static_cast<int64_t>(packed.size());
  stats.quantizedWeightBytes += packed.size();
  stats.layers.push_back({name, packed.size(), packed.size(), n * k});
  writer.addTensor(packedName, rt::DType::Bytes, {packedBytes},
                   std::move(packed));
  tensors.insert(packedName);
  if (!perm.empty()) {
    std::vector<uint8_t> bytes(4 * k);
    for (int64_t j = 0; j < k; ++j) {
      int32_t v = static_cast<int32_t>(perm[j]);
      std::memcpy(bytes.data() + 4 * j, &v, 4);
    }
    writer.addTensor(name + ".perm", rt::DType::I32, {k}, std::move(bytes));
    stats.quantizedWeightBytes += 4 * k;
    stats.layers.back().bytes += 4 * k;
  }
  layers.push_back(
      llvm::json::Object{{"name", name},
                         {"tensor", packedName},
                         {"N", n},
                         {"K", k},
                         {"bits", static_cast<int64_t>(scheme.getBits())},
                         {"group_size", scheme.getGroupSize()},
                         {"symmetric", scheme.getSymmetric()},
                         {"scale_type", scaleType},
                         {"layout", layout},
                         {"act_order", scheme.getActOrder()},
                         {"bytes", packedBytes}});
  return packedName;
}

/// The manifest entry of a graph op, from its op table entry: the table's
/// name, the attributes of its schema, its weights (by the schema's field
/// names) and its activation inputs, in the table's order.
template <typename SetWeight, typename Input>
LogicalResult Emitter::emitGraphOp(GraphOpInterface op,
                                   const rt::ops::OpDef &def, ProgramOp &pop,
                                   SetWeight &setWeight, Input &input) {
  rt::ops::AttrValues attrs;
  std::string unsupported;
  std::string err = getOpAttrValues(op, def, std::nullopt, attrs, unsupported);
  if (!unsupported.empty())
    return op->emitOpError(unsupported) << " is not supported in bundles yet";
  if (!err.empty())
    return op->emitOpError("cannot be emitted: ") << err;
  if (def.targetKernel)
    return op->emitOpError("is emitted from the kernel level");
  pop.fields["op"] = def.name;
  for (int i = 0; i < def.numAttrs; ++i)
    if (attrs[size_t(i)].present)
      pop.fields[def.attrs[i].name] =
          attrToManifest(def.attrs[i], attrs[size_t(i)]);
  SmallVector<Value> weights = op.getSemanticWeights();
  // Last to first: the tensor order of earlier emitters, so bundles stay
  // byte-identical.
  for (int w = static_cast<int>(weights.size()) - 1; w >= 0; --w) {
    if (!weights[size_t(w)]) {
      if (!def.weights[w].optional)
        return op->emitOpError("has no ") << def.weights[w].name;
      continue;
    }
    if (failed(setWeight(def.weights[w].name, weights[size_t(w)])))
      return failure();
  }
  if (def.cacheAttr) {
    auto value = [&](const char *name) -> int64_t {
      int i = def.attrIndex(name);
      return i < 0 ? 0 : attrs[size_t(i)].i;
    };
    int64_t key = value(def.cacheAttr);
    llvm::json::Object cache{{def.cacheAttr, key},
                             {"num_kv_heads", value("num_kv_heads")},
                             {"head_dim", value("head_dim")}};
    auto [it, inserted] = kvCaches.try_emplace(key, cache);
    if (!inserted && it->second != cache)
      return op->emitOpError(def.cacheAttr)
             << " " << key << " is used by " << def.name
             << " ops of different shapes";
  }
  for (Value v : op.getSemanticInputs())
    if (failed(input(v)))
      return failure();
  return success();
}

LogicalResult Emitter::emitOp(Operation *op,
                              llvm::DenseMap<Value, int64_t> &ids) {
  ProgramOp pop;
  auto input = [&](Value v) -> LogicalResult {
    auto it = ids.find(v);
    if (it == ids.end())
      return op->emitOpError("operand is not an activation of the program");
    pop.inputs.push_back(it->second);
    return success();
  };
  auto setWeight = [&](StringRef field, Value v) -> LogicalResult {
    FailureOr<std::string> name = floatTensor(op, v);
    if (failed(name))
      return failure();
    pop.fields[field] = *name;
    return success();
  };

  LogicalResult result =
      llvm::TypeSwitch<Operation *, LogicalResult>(op)
          .Case([&](DispatchOp d) -> LogicalResult {
            auto kernel = SymbolTable::lookupNearestSymbolFrom<KernelOp>(
                d, d.getKernel());
            if (!kernel)
              return d.emitOpError("unknown kernel ") << d.getKernel();
            if (kernel.getKind() != KernelKind::QMatmul)
              return d.emitOpError("kernel @")
                     << kernel.getSymName() << " is not a qmatmul kernel";
            pop.fields["op"] = "qmatmul";
            pop.fields["path"] = kernel.getActBits() ? "int8" : "fp32";
            if (d.getBias() && failed(setWeight("bias", d.getBias())))
              return failure();
            FailureOr<std::string> name =
                quantizedTensor(d, kernel, pop, *layerList);
            if (failed(name))
              return failure();
            pop.fields["weight"] = *name;
            // The entry points the target's translation recorded.
            if (auto exports =
                    kernel->getAttrOfType<ArrayAttr>(kExportsAttrName))
              pop.fields["kernels"] = *attrToJson(exports);
            return input(d.getInput());
          })
          .Case([&](QEmbeddingOp e) -> LogicalResult {
            auto pack = e.getTable().getDefiningOp<PackOp>();
            if (!pack)
              return e.emitOpError("quantized tables are emitted packed (run "
                                   "-lowbit-select-layouts and "
                                   "-lowbit-materialize-packs first)");
            auto target =
                e->getParentOfType<ModuleOp>()->getAttrOfType<TargetAttr>(
                    kTargetAttrName);
            if (!target)
              return e.emitOpError("the module has no target");
            pop.fields["op"] = "qembedding";
            FailureOr<std::string> name =
                packedTensor(pack, target.getName(), pop, *layerList);
            if (failed(name))
              return failure();
            pop.fields["weight"] = *name;
            if (pack.getType().getScheme().hasMinZero())
              pop.fields["zero_form"] = "min";
            return input(e.getIndices());
          })
          .Case([&](QMatmulOp q) {
            return q.emitOpError("quantized matmuls are emitted from the "
                                 "kernel level (run -lowbit-outline-kernels "
                                 "and -lowbit-translate-executables first)");
          })
          .Case([&](DequantizeOp d) {
            return d.emitOpError("standalone dequantization cannot be "
                                 "emitted (run -lowbit-fuse-dequant-matmul "
                                 "first)");
          })
          .Default([&](Operation *other) -> LogicalResult {
            // Every other graph op is written from its op table entry.
            if (const rt::ops::OpDef *def = lookupOpDef(other))
              return emitGraphOp(cast<GraphOpInterface>(other), *def, pop,
                                 setWeight, input);
            return other->emitOpError("is not supported in bundles");
          });
  if (failed(result))
    return failure();
  if (op->getNumResults() != 1)
    return op->emitOpError("expected one result");
  FailureOr<int64_t> out = newValue(op, op->getResult(0));
  if (failed(out))
    return failure();
  ids[op->getResult(0)] = *out;
  pop.output = *out;
  ops.push_back(std::move(pop));
  return success();
}

LogicalResult Emitter::flatten(func::FuncOp fn, ArrayRef<int64_t> args,
                               SmallVectorImpl<int64_t> &results,
                               unsigned depth) {
  if (depth > 16)
    return fn.emitOpError("call depth exceeds 16 (recursive module?)");
  if (fn.isExternal())
    return fn.emitOpError("has no body");
  Block &body = fn.getBody().front();
  if (body.getNumArguments() != args.size())
    return fn.emitOpError("expects ")
           << body.getNumArguments() << " arguments, got " << args.size();
  llvm::DenseMap<Value, int64_t> ids;
  for (auto [arg, id] : llvm::zip(body.getArguments(), args))
    ids[arg] = id;
  for (Operation &op : body) {
    // Weights are materialised where they are used.
    if (isa<ParamOp, QParamOp, PackOp>(op))
      continue;
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      results.clear();
      for (Value v : ret.getOperands()) {
        auto it = ids.find(v);
        if (it == ids.end())
          return ret.emitOpError("returns a value that is not an activation");
        results.push_back(it->second);
      }
      return success();
    }
    if (auto call = dyn_cast<func::CallOp>(op)) {
      auto callee = module.lookupSymbol<func::FuncOp>(call.getCalleeAttr());
      if (!callee)
        return call.emitOpError("unknown callee @") << call.getCallee();
      SmallVector<int64_t> callArgs, callResults;
      for (Value v : call.getOperands()) {
        auto it = ids.find(v);
        if (it == ids.end())
          return call.emitOpError("operand is not an activation");
        callArgs.push_back(it->second);
      }
      if (failed(flatten(callee, callArgs, callResults, depth + 1)))
        return failure();
      if (callResults.size() != call.getNumResults())
        return call.emitOpError("callee returns ")
               << callResults.size() << " values";
      for (auto [res, id] : llvm::zip(call.getResults(), callResults))
        ids[res] = id;
      continue;
    }
    if (failed(emitOp(&op, ids)))
      return failure();
  }
  return fn.emitOpError("has no return");
}

/// Assigns values to buffers by liveness: a value's buffer is free again
/// after its last use, an op's output never shares a buffer with its inputs,
/// and a buffer only holds values of one dtype and width. Rewrites the ops'
/// value ids into buffer ids.
void Emitter::assignBuffers(int64_t outputValue, llvm::json::Object &program) {
  int64_t numValues = values.size();
  constexpr int64_t kForever = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> lastUse(numValues, -1);
  for (int64_t i = 0, e = ops.size(); i < e; ++i)
    for (int64_t v : ops[i].inputs)
      lastUse[v] = i;
  lastUse[outputValue] = kForever;

  struct Buffer {
    std::string dtype;
    int64_t cols = 0;
    bool free = false;
  };
  std::vector<Buffer> buffers;
  std::vector<int64_t> bufferOf(numValues, -1);
  auto allocate = [&](int64_t v) {
    const ValueInfo &info = values[v];
    // A free buffer of the same dtype and width: every buffer keeps one
    // width, so the runtime reads each value's shape off its buffer.
    int64_t best = -1;
    for (int64_t b = 0, e = buffers.size(); b < e && best < 0; ++b)
      if (buffers[b].free && buffers[b].dtype == info.dtype &&
          buffers[b].cols == info.cols)
        best = b;
    if (best < 0) {
      buffers.push_back({info.dtype, info.cols, false});
      best = buffers.size() - 1;
    }
    buffers[best].free = false;
    bufferOf[v] = best;
  };
  // The program inputs (values 0 and 1) come first.
  allocate(0);
  allocate(1);
  for (int64_t i = 0, e = ops.size(); i < e; ++i) {
    allocate(ops[i].output);
    for (int64_t v : ops[i].inputs)
      if (lastUse[v] == i)
        buffers[bufferOf[v]].free = true;
    // A value nobody reads is dead right away.
    if (lastUse[ops[i].output] < 0)
      buffers[bufferOf[ops[i].output]].free = true;
  }

  llvm::json::Array opList;
  for (ProgramOp &op : ops) {
    llvm::json::Array in;
    for (int64_t v : op.inputs)
      in.push_back(bufferOf[v]);
    op.fields["in"] = std::move(in);
    op.fields["out"] = bufferOf[op.output];
    opList.push_back(std::move(op.fields));
  }
  llvm::json::Array bufferList;
  for (const Buffer &b : buffers)
    bufferList.push_back(
        llvm::json::Object{{"dtype", b.dtype}, {"cols", b.cols}});
  llvm::json::Array caches;
  for (auto &[layer, cache] : kvCaches)
    caches.push_back(std::move(cache));

  program["inputs"] =
      llvm::json::Object{{"tokens", bufferOf[0]}, {"positions", bufferOf[1]}};
  program["output"] = bufferOf[outputValue];
  program["buffers"] = std::move(bufferList);
  program["kv_cache"] = std::move(caches);
  program["ops"] = std::move(opList);
  stats.numOps = ops.size();
  stats.numBuffers = buffers.size();
}

LogicalResult Emitter::buildProgram(llvm::json::Object &program,
                                    llvm::json::Array &layers) {
  layerList = &layers;
  auto entry = module.lookupSymbol<func::FuncOp>(attrs::kEntry);
  if (!entry || entry.isExternal())
    return module.emitError("module has no @forward function");
  FunctionType fnType = entry.getFunctionType();
  auto isTokenVector = [](Type t) {
    auto rt = dyn_cast<RankedTensorType>(t);
    return rt && rt.getRank() == 1 && rt.getElementType().isInteger(32);
  };
  if (fnType.getNumInputs() != 2 || !isTokenVector(fnType.getInput(0)) ||
      !isTokenVector(fnType.getInput(1)) || fnType.getNumResults() != 1)
    return entry.emitOpError("must take (tokens, positions) as "
                             "tensor<?xi32> and return the logits");
  for (Value arg : entry.getArguments())
    if (failed(newValue(entry, arg)))
      return failure();
  SmallVector<int64_t> results;
  if (failed(flatten(entry, {0, 1}, results, 0)))
    return failure();
  if (results.size() != 1 || values[results[0]].dtype != "f32")
    return entry.emitOpError("must return one f32 logits tensor");
  if (results[0] < 2)
    return entry.emitOpError("must compute its logits");
  assignBuffers(results[0], program);
  return success();
}

/// Converts a config attribute into JSON (nested dictionaries and arrays
/// included); attributes JSON cannot hold are skipped.
std::optional<llvm::json::Value> attrToJson(Attribute attr) {
  if (auto b = dyn_cast<BoolAttr>(attr))
    return llvm::json::Value(b.getValue());
  if (auto i = dyn_cast<IntegerAttr>(attr))
    return llvm::json::Value(i.getInt());
  if (auto f = dyn_cast<FloatAttr>(attr))
    return llvm::json::Value(f.getValueAsDouble());
  if (auto s = dyn_cast<StringAttr>(attr))
    return llvm::json::Value(s.getValue().str());
  if (isa<UnitAttr>(attr))
    return llvm::json::Value(true);
  if (auto a = dyn_cast<ArrayAttr>(attr)) {
    llvm::json::Array arr;
    for (Attribute e : a)
      if (std::optional<llvm::json::Value> v = attrToJson(e))
        arr.push_back(std::move(*v));
    return llvm::json::Value(std::move(arr));
  }
  if (auto d = dyn_cast<DictionaryAttr>(attr)) {
    llvm::json::Object obj;
    for (NamedAttribute e : d)
      if (std::optional<llvm::json::Value> v = attrToJson(e.getValue()))
        obj[e.getName().getValue()] = std::move(*v);
    return llvm::json::Value(std::move(obj));
  }
  return std::nullopt;
}

/// The chat-related fields of the `tokenizer_config.json` beside the
/// tokenizer file (docs/bundle-manifest.md): `chat_template`, `bos_token`,
/// `eos_token`, `add_bos_token`, `add_eos_token`, type-checked as the
/// runtime does. None when there is no such file.
llvm::Expected<std::optional<llvm::json::Object>>
readTokenizerConfig(llvm::StringRef tokenizerPath) {
  llvm::SmallString<256> path(tokenizerPath);
  llvm::sys::path::remove_filename(path);
  llvm::sys::path::append(path, "tokenizer_config.json");
  if (!llvm::sys::fs::exists(path))
    return std::nullopt;
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError("%s: %s", path.c_str(),
                                   buffer.getError().message().c_str());
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return llvm::createStringError(path.str() + ": " +
                                   llvm::toString(json.takeError()));
  const llvm::json::Object *config = json->getAsObject();
  if (!config)
    return llvm::createStringError(path.str() + ": expected a JSON object");
  auto typeError = [&](llvm::StringRef key, llvm::StringRef expected) {
    return llvm::createStringError(path.str() + ": field '" + key +
                                   "' must be " + expected);
  };
  llvm::json::Object out;
  for (llvm::StringRef key : {"bos_token", "eos_token"}) {
    const llvm::json::Value *v = config->get(key);
    if (!v)
      continue;
    const llvm::json::Object *obj = v->getAsObject();
    bool ok = v->getAsNull() || v->getAsString() ||
              (obj && obj->getString("content"));
    if (!ok)
      return typeError(key, "a string, an object with a string 'content', "
                            "or null");
    out[key] = *v;
  }
  for (llvm::StringRef key : {"add_bos_token", "add_eos_token"}) {
    const llvm::json::Value *v = config->get(key);
    if (!v)
      continue;
    if (!v->getAsNull() && !v->getAsBoolean())
      return typeError(key, "a boolean or null");
    out[key] = *v;
  }
  if (const llvm::json::Value *v = config->get("chat_template")) {
    bool ok = v->getAsNull() || v->getAsString();
    if (const llvm::json::Array *list = v->getAsArray()) {
      ok = true;
      for (const llvm::json::Value &e : *list) {
        const llvm::json::Object *obj = e.getAsObject();
        ok = ok && obj && obj->getString("name") && obj->getString("template");
      }
    }
    if (!ok)
      return typeError("chat_template", "a string, a list of {\"name\", "
                                        "\"template\"} objects, or null");
    out["chat_template"] = *v;
  }
  return std::optional<llvm::json::Object>(std::move(out));
}

} // namespace

llvm::Expected<std::string> hashFile(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError("%s: %s", path.str().c_str(),
                                   buffer.getError().message().c_str());
  llvm::BLAKE3 hasher;
  hasher.update(llvm::arrayRefFromStringRef((*buffer)->getBuffer()));
  return llvm::toHex(hasher.final(), /*LowerCase=*/true);
}

llvm::Error emitBundle(ModuleOp module, llvm::StringRef targetName,
                       const BundleEmitOptions &options, llvm::StringRef path,
                       BundleStats *statsOut) {
  DiagnosticCollector diagnostics(module.getContext());
  BundleStats stats;
  rt::BundleWriter writer;
  Emitter emitter(module, writer, stats);

  llvm::json::Object manifest;
  manifest["format"] = "lowbit-manifest-v1";
  manifest["compiler"] = llvm::json::Object{{"name", "lowbit-compile"},
                                            {"version", kCompilerVersion}};
  manifest["provenance"] = llvm::json::Object(options.provenance);
  manifest["target"] = targetName.str();

  auto config = module->getAttrOfType<DictionaryAttr>(attrs::kConfig);
  if (!config)
    return llvm::createStringError("module has no " + attrs::kConfig +
                                   " attribute (import it with lowbit-import)");
  manifest["config"] = *attrToJson(config);

  llvm::Expected<std::string> tokenizer =
      ParamResolver::get(module.getContext()).getTokenizerPath(module);
  if (!tokenizer)
    return tokenizer.takeError();
  if (!tokenizer->empty() && isGgufPath(*tokenizer)) {
    // A GGUF model: its tokenizer metadata, converted to a tokenizer.json and
    // a tokenizer_config.json (docs/gguf.md).
    llvm::Expected<std::unique_ptr<GgufFile>> gguf = GgufFile::open(*tokenizer);
    if (!gguf)
      return gguf.takeError();
    llvm::Expected<GgufTokenizerJSON> converted = tokenizerFromGguf(**gguf);
    if (!converted)
      return converted.takeError();
    manifest["tokenizer"] = std::move(converted->tokenizer);
    manifest["tokenizer_config"] = std::move(converted->tokenizerConfig);
  } else if (!tokenizer->empty()) {
    auto buffer = llvm::MemoryBuffer::getFile(*tokenizer);
    if (!buffer)
      return llvm::createStringError("%s: %s", tokenizer->c_str(),
                                     buffer.getError().message().c_str());
    llvm::Expected<llvm::json::Value> json =
        llvm::json::parse((*buffer)->getBuffer());
    if (!json)
      return llvm::createStringError(*tokenizer + ": " +
                                     llvm::toString(json.takeError()));
    manifest["tokenizer"] = std::move(*json);
    llvm::Expected<std::optional<llvm::json::Object>> tokenizerConfig =
        readTokenizerConfig(*tokenizer);
    if (!tokenizerConfig)
      return tokenizerConfig.takeError();
    if (*tokenizerConfig)
      manifest["tokenizer_config"] = std::move(**tokenizerConfig);
  }

  llvm::json::Object program;
  llvm::json::Array layers;
  if (failed(emitter.buildProgram(program, layers)))
    return diagnostics.takeError("bundle program generation failed");
  manifest["layers"] = std::move(layers);
  manifest["program"] = std::move(program);

  // The code blobs of the translated executables (kept for the signature).
  struct SignedBlob {
    std::string target, format;
    ArrayRef<uint8_t> bytes;
  };
  std::vector<SignedBlob> codeBlobs;
  for (ExecutableOp executable : module.getOps<ExecutableOp>()) {
    if (executable.getTarget().getName() != targetName)
      return llvm::createStringError(
          "executable @" + executable.getSymName().str() + " is for target '" +
          executable.getTarget().getName().str() + "', not '" +
          targetName.str() + "'");
    auto binaries = executable.getBodyBlock().getOps<BinaryOp>();
    if (binaries.empty())
      return llvm::createStringError(
          "executable @" + executable.getSymName().str() +
          " has no lowbit.binary (run -lowbit-translate-executables first)");
    for (BinaryOp binary : binaries) {
      std::optional<ArrayRef<uint8_t>> bytes = binary.getBytes();
      if (!bytes)
        return llvm::createStringError(
            "executable @" + executable.getSymName().str() +
            ": the blob of lowbit.binary \"" + binary.getFormat().str() +
            "\" is not available");
      stats.codeBytes += bytes->size();
      codeBlobs.push_back({executable.getTarget().getName().str(),
                           binary.getFormat().str(), *bytes});
      writer.addCode(executable.getTarget().getName().str(),
                     binary.getFormat().str(),
                     std::vector<uint8_t>(bytes->begin(), bytes->end()));
    }
  }

  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(manifest));
  if (!options.signingKey.empty()) {
#ifdef LOWBIT_HAVE_SIGNING
    std::vector<rt::SignedCode> signedCodes;
    for (const SignedBlob &b : codeBlobs)
      signedCodes.push_back(
          {b.target, b.format, b.bytes.data(), b.bytes.size()});
    std::vector<uint8_t> record;
    std::string err;
    if (!rt::signBundle(options.signingKey, text, signedCodes, record, err))
      return llvm::createStringError("cannot sign the bundle: " + err);
    writer.setSignature(std::move(record));
#else
    return llvm::createStringError(
        "cannot sign the bundle: lowbit was built without signature support "
        "(OpenSSL 3, LOWBITRT_SIGNING)");
#endif
  }
  writer.setManifest(std::move(text));
  std::string err;
  if (!writer.write(path.str(), err)) {
    // The callers name the output: drop the writer's own "PATH: ".
    llvm::StringRef message(err);
    message.consume_front((path + ": ").str());
    return llvm::createStringError(message);
  }
  uint64_t size = 0;
  if (!llvm::sys::fs::file_size(path, size))
    stats.fileBytes = size;
  if (statsOut)
    *statsOut = std::move(stats);
  return llvm::Error::success();
}

} // namespace lowbit
