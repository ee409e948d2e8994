//===- Executor.cpp - fp32 reference executor of lowbit IR ------*- C++ -*-===//

#include "lowbit/Executor/Executor.h"

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/Import/HFImporter.h"
#include "lowbit/OpSemantics/OpSemantics.h"
#include "lowbit/Params/ParamResolver.h"
#include "lowbit/Support/ParamStore.h"
#include "lowbit/Support/Safetensors.h"
#include "lowbitrt/Kernels.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace mlir;
using namespace mlir::lowbit;
namespace kernels = ::lowbit::rt::kernels;
namespace rtops = ::lowbit::rt::ops;

namespace lowbit {

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Tensor Tensor::floats(ArrayRef<int64_t> shape, std::vector<float> data) {
  Tensor t;
  t.shape.assign(shape.begin(), shape.end());
  t.f = std::make_shared<const std::vector<float>>(std::move(data));
  return t;
}

Tensor Tensor::ints(ArrayRef<int64_t> shape, std::vector<int32_t> data) {
  Tensor t;
  t.shape.assign(shape.begin(), shape.end());
  t.i = std::make_shared<const std::vector<int32_t>>(std::move(data));
  return t;
}

namespace {

/// An error located at `op`, naming it.
llvm::Error opError(Operation *op, const Twine &message) {
  std::string loc;
  llvm::raw_string_ostream os(loc);
  op->getLoc().print(os);
  return llvm::createStringError("%s: '%s': %s", loc.c_str(),
                                 op->getName().getStringRef().str().c_str(),
                                 message.str().c_str());
}

/// Converts a float elements attribute (dense or dense_resource f32) to f32.
llvm::Expected<std::vector<float>> elementsToF32(Operation *op,
                                                 ElementsAttr attr) {
  std::vector<float> out;
  out.reserve(attr.getNumElements());
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (isa<FloatType>(dense.getElementType())) {
      for (APFloat v : dense.getValues<APFloat>())
        out.push_back(static_cast<float>(v.convertToDouble()));
      return out;
    }
    if (isa<IntegerType>(dense.getElementType())) {
      bool isSigned = !dense.getElementType().isUnsignedInteger();
      for (APInt v : dense.getValues<APInt>())
        out.push_back(
            static_cast<float>(isSigned ? v.getSExtValue() : v.getZExtValue()));
      return out;
    }
  }
  if (auto resource = dyn_cast<DenseF32ResourceElementsAttr>(attr)) {
    std::optional<ArrayRef<float>> values = resource.tryGetAsArrayRef();
    if (!values)
      return opError(op, "inline resource blob is missing or malformed");
    out.assign(values->begin(), values->end());
    return out;
  }
  return opError(op, "unsupported inline elements attribute (use dense<...> "
                     "or an f32 dense_resource)");
}

llvm::Expected<std::vector<float>>
viewToF32(Operation *op, const TensorView &view, ArrayRef<int64_t> shape) {
  if (ArrayRef<int64_t>(view.shape) != shape) {
    std::string want, got;
    llvm::raw_string_ostream w(want), g(got);
    llvm::interleave(shape, w, "x");
    llvm::interleave(view.shape, g, "x");
    return opError(op, "tensor '" + view.name + "' has shape [" + got +
                           "] in the parameter store, the IR expects [" + want +
                           "]");
  }
  if (view.dtype == DType::U8 || view.dtype == DType::I8 ||
      view.dtype == DType::I32) {
    std::vector<float> out(view.numel());
    for (int64_t i = 0, e = view.numel(); i < e; ++i) {
      if (view.dtype == DType::U8)
        out[i] = view.data[i];
      else if (view.dtype == DType::I8)
        out[i] = static_cast<int8_t>(view.data[i]);
      else {
        int32_t v;
        std::memcpy(&v, view.data + 4 * i, 4);
        out[i] = static_cast<float>(v);
      }
    }
    return out;
  }
  llvm::Expected<std::vector<float>> values = toF32(view);
  if (!values)
    return opError(op, "tensor '" + view.name +
                           "': " + llvm::toString(values.takeError()));
  return values;
}

} // namespace

//===----------------------------------------------------------------------===//
// Impl
//===----------------------------------------------------------------------===//

struct Executor::Impl {
  ModuleOp module;
  ParamResolver &params;
  func::FuncOp entryFn;
  int64_t vocab = 0;
  int64_t maxCtx = 0;
  kernels::ThreadPool pool;
  std::map<int64_t, kernels::KVCache> caches;
  /// Scratch of the op table's reference implementations.
  std::vector<double> scratch;
  /// Loaded (and dequantized) weights, by defining op.
  llvm::DenseMap<Operation *, Tensor> weightCache;
  LinearObserver observer;
  bool floatAccumulation = false;

  Impl(ModuleOp module, unsigned threads)
      : module(module), params(ParamResolver::get(module.getContext())),
        pool(threads) {}

  /// Tensor `key` of `scope`, or an error naming the op.
  llvm::Expected<const TensorView *>
  lookup(Operation *op, std::optional<StringRef> scope, StringRef key) {
    if (!scope)
      return opError(op, "tensor '" + key +
                             "' has neither a parameter scope nor inline data");
    llvm::Expected<const TensorView *> view =
        params.lookup(module, *scope, key);
    if (!view)
      return opError(op, llvm::toString(view.takeError()));
    return view;
  }

  llvm::Expected<Tensor> loadParam(ParamOp op);
  llvm::Expected<Tensor>
  loadComponent(Operation *op, std::optional<StringRef> scope, StringRef name,
                std::optional<ElementsAttr> inlineValue, RankedTensorType type);
  llvm::Expected<Tensor> dequantize(QParamOp op);
  llvm::Expected<Tensor> weightOf(Value v, llvm::DenseMap<Value, Tensor> &env);
  llvm::Error matmul(Operation *op, const Tensor &x, const Tensor &w,
                     const Tensor *bias, RankedTensorType resultType,
                     Tensor &out);
  llvm::Error runOp(Operation *op, llvm::DenseMap<Value, Tensor> &env);
  llvm::Error runGraphOp(GraphOpInterface op, const rtops::OpDef &def,
                         llvm::DenseMap<Value, Tensor> &env);
  llvm::Error run(func::FuncOp fn, ArrayRef<Tensor> args,
                  SmallVectorImpl<Tensor> &results, unsigned depth,
                  Operation *stop = nullptr);
  /// Binds fn's arguments to `args` in `env`.
  llvm::Error bind(func::FuncOp fn, ArrayRef<Tensor> args, unsigned depth,
                   llvm::DenseMap<Value, Tensor> &env);
  /// Runs one op of a body (a call runs its callee).
  llvm::Error runStep(Operation *op, llvm::DenseMap<Value, Tensor> &env,
                      unsigned depth);
  /// Runs fn's body from `from` up to `stop` (not included) or its return
  /// (`returned` set, results in `results`).
  llvm::Error runOps(func::FuncOp fn, Block::iterator from, Operation *stop,
                     llvm::DenseMap<Value, Tensor> &env,
                     SmallVectorImpl<Tensor> &results, unsigned depth,
                     bool &returned);
};

llvm::Expected<Tensor> Executor::Impl::loadParam(ParamOp op) {
  auto it = weightCache.find(op);
  if (it != weightCache.end())
    return it->second;
  ArrayRef<int64_t> shape = op.getType().getShape();
  llvm::Expected<std::vector<float>> values = [&] {
    if (std::optional<ElementsAttr> value = op.getValue())
      return elementsToF32(op, *value);
    llvm::Expected<const TensorView *> view =
        lookup(op, op.getScope(), op.getName());
    if (!view)
      return llvm::Expected<std::vector<float>>(view.takeError());
    return viewToF32(op, **view, shape);
  }();
  if (!values)
    return values.takeError();
  Tensor t = Tensor::floats(shape, std::move(*values));
  weightCache[op] = t;
  return t;
}

llvm::Expected<Tensor> Executor::Impl::loadComponent(
    Operation *op, std::optional<StringRef> scope, StringRef name,
    std::optional<ElementsAttr> inlineValue, RankedTensorType type) {
  llvm::Expected<std::vector<float>> values = [&] {
    if (inlineValue)
      return elementsToF32(op, *inlineValue);
    llvm::Expected<const TensorView *> view = lookup(op, scope, name);
    if (!view)
      return llvm::Expected<std::vector<float>>(view.takeError());
    return viewToF32(op, **view, type.getShape());
  }();
  if (!values)
    return values.takeError();
  return Tensor::floats(type.getShape(), std::move(*values));
}

llvm::Expected<Tensor> Executor::Impl::dequantize(QParamOp op) {
  auto it = weightCache.find(op);
  if (it != weightCache.end())
    return it->second;
  QWeightType type = op.getType();
  SchemeAttr scheme = type.getScheme();
  std::string name = op.getName().str();
  auto codes = loadComponent(op, op.getScope(), name + ".qcodes", op.getCodes(),
                             type.getCodesType());
  if (!codes)
    return codes.takeError();
  auto scales = loadComponent(op, op.getScope(), name + ".scales",
                              op.getScales(), type.getScalesType());
  if (!scales)
    return scales.takeError();
  std::optional<Tensor> zeros, perm;
  if (RankedTensorType zt = type.getZerosType()) {
    auto z =
        loadComponent(op, op.getScope(), name + ".zeros", op.getZeros(), zt);
    if (!z)
      return z.takeError();
    zeros = *z;
  }
  int64_t n = type.getN(), k = type.getK();
  std::vector<int32_t> gIdx;
  if (RankedTensorType pt = type.getPermType()) {
    auto p = loadComponent(op, op.getScope(), name + ".perm", op.getPerm(), pt);
    if (!p)
      return p.takeError();
    // perm[j] is the original column quantized j-th; groups follow j.
    gIdx.assign(k, -1);
    int64_t g = scheme.isPerChannel() ? k : scheme.getGroupSize();
    for (int64_t j = 0; j < k; ++j) {
      int64_t col = static_cast<int64_t>((*p->f)[j]);
      if (col < 0 || col >= k || gIdx[col] != -1)
        return opError(op, "tensor '" + name +
                               ".perm' is not a permutation of [0, K)");
      gIdx[col] = static_cast<int32_t>(j / g);
    }
  }
  std::vector<uint8_t> codeBytes(codes->f->size());
  for (size_t i = 0; i < codeBytes.size(); ++i)
    codeBytes[i] = static_cast<uint8_t>((*codes->f)[i]);
  std::vector<float> w(n * k);
  if (scheme.hasMinZero()) {
    // zero_form = min: W = scale * q + min (GGUF Q4_1), in that order, each
    // step rounded to f32 as gguf.quants.dequantize computes it.
    int64_t ng = type.getNumGroups();
    int64_t maxCode = scheme.getMaxCode();
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < k; ++c) {
        int64_t g =
            gIdx.empty()
                ? (scheme.isPerChannel() ? 0 : c / scheme.getGroupSize())
                : gIdx[c];
        uint8_t q = codeBytes[r * k + c];
        if (q > maxCode)
          return opError(op, "tensor '" + name + ".qcodes': code " + Twine(q) +
                                 " does not fit in " + Twine(scheme.getBits()) +
                                 " bits");
        float product = (*scales->f)[r * ng + g] * static_cast<float>(q);
        w[r * k + c] = product + (*zeros->f)[r * ng + g];
      }
    }
    Tensor t = Tensor::floats({n, k}, std::move(w));
    weightCache[op] = t;
    return t;
  }
  kernels::Status status = kernels::dequantizeRows(
      codeBytes.data(), scales->f->data(), zeros ? zeros->f->data() : nullptr,
      gIdx.empty() ? nullptr : gIdx.data(), n, k, scheme.getGroupSize(),
      scheme.getBits(), w.data(), &pool);
  if (!status.ok())
    return opError(op, "tensor '" + name + "': " + status.message());
  Tensor t = Tensor::floats({n, k}, std::move(w));
  weightCache[op] = t;
  return t;
}

llvm::Error Executor::Impl::matmul(Operation *op, const Tensor &x,
                                   const Tensor &w, const Tensor *bias,
                                   RankedTensorType resultType, Tensor &out) {
  int64_t k = x.cols(), rows = x.rows();
  int64_t n = w.shape[0];
  if (w.shape[1] != k)
    return opError(op, "input has " + Twine(k) +
                           " features, weight K = " + Twine(w.shape[1]));
  if (observer)
    observer(op, x.f->data(), rows, k);
  std::vector<float> y(rows * n);
  kernels::linear(x.f->data(), rows, k, w.f->data(), n,
                  bias ? bias->f->data() : nullptr, y.data());
  SmallVector<int64_t> shape(x.shape.begin(), x.shape.end());
  shape.back() = n;
  out = Tensor::floats(shape, std::move(y));
  return llvm::Error::success();
}

llvm::Expected<Tensor>
Executor::Impl::weightOf(Value v, llvm::DenseMap<Value, Tensor> &env) {
  auto it = env.find(v);
  if (it == env.end())
    return llvm::createStringError("internal error: value used before "
                                   "definition");
  return it->second;
}

llvm::Error Executor::Impl::runOp(Operation *op,
                                  llvm::DenseMap<Value, Tensor> &env) {
  auto get = [&](Value v) -> const Tensor & { return env.find(v)->second; };
  for (Value operand : op->getOperands())
    if (!env.count(operand))
      return opError(op, "operand is not computed (unsupported producer)");

  return llvm::TypeSwitch<Operation *, llvm::Error>(op)
      .Case([&](ParamOp p) -> llvm::Error {
        auto t = loadParam(p);
        if (!t)
          return t.takeError();
        env[p] = *t;
        return llvm::Error::success();
      })
      .Case([&](QParamOp p) -> llvm::Error {
        // The quantized value is represented by its dequantized weight.
        auto t = dequantize(p);
        if (!t)
          return t.takeError();
        env[p] = *t;
        return llvm::Error::success();
      })
      .Case([&](DequantizeOp d) -> llvm::Error {
        env[d] = get(d.getInput());
        return llvm::Error::success();
      })
      .Case([&](QEmbeddingOp e) -> llvm::Error {
        // The quantized table's value is its dequantized tensor (see
        // QParamOp): the lookup is the embedding op's.
        if (!isa<QWeightType>(e.getTable().getType()))
          return opError(op, "packed tables run in bundles, not on the "
                             "reference executor");
        const Tensor &table = get(e.getTable());
        const Tensor &ids = get(e.getIndices());
        if (!table.f || !ids.i || table.shape.size() != 2)
          return opError(op, "expects a float [V, D] table and integer ids");
        const int64_t V = table.shape[0], D = table.shape[1];
        std::vector<float> out(static_cast<size_t>(ids.numel() * D));
        kernels::Status s = kernels::embedding(
            table.f->data(), V, D, ids.i->data(), ids.numel(), out.data());
        if (!s)
          return opError(op, "qembedding: " + s.message());
        SmallVector<int64_t> shape(ids.shape.begin(), ids.shape.end());
        shape.push_back(D);
        env[e] = Tensor::floats(shape, std::move(out));
        return llvm::Error::success();
      })
      .Case<LinearOp, QMatmulOp>([&](auto l) -> llvm::Error {
        // A quantized weight's value is its dequantized tensor (see QParamOp).
        if constexpr (std::is_same_v<decltype(l), QMatmulOp>)
          if (l.getActBits())
            return opError(op, "activation quantization (act_bits) is not "
                               "supported by the reference executor yet");
        const Tensor *bias = l.getBias() ? &get(l.getBias()) : nullptr;
        Tensor out;
        if (llvm::Error err = matmul(op, get(l.getInput()), get(l.getWeight()),
                                     bias, l.getType(), out))
          return err;
        env[l] = std::move(out);
        return llvm::Error::success();
      })
      .Default([&](Operation *) -> llvm::Error {
        // Every other graph op runs its op table entry's reference
        // implementation (lowbitrt/OpTable.h).
        if (const rtops::OpDef *def = lookupOpDef(op))
          return runGraphOp(cast<GraphOpInterface>(op), *def, env);
        return opError(op, "op is not supported by the reference executor");
      });
}

llvm::Error Executor::Impl::runGraphOp(GraphOpInterface graphOp,
                                       const rtops::OpDef &def,
                                       llvm::DenseMap<Value, Tensor> &env) {
  Operation *op = graphOp;
  rtops::AttrValues attrs;
  std::string unsupported;
  std::string err = getOpAttrValues(graphOp, def, maxCtx, attrs, unsupported);
  if (!unsupported.empty())
    return opError(op, unsupported +
                           " is not supported by the reference executor yet");
  if (!err.empty())
    return opError(op, err);
  SmallVector<Value> inputs = graphOp.getSemanticInputs();
  SmallVector<Value> weights = graphOp.getSemanticWeights();
  if (static_cast<int>(inputs.size()) != def.numInputs ||
      static_cast<int>(weights.size()) > def.numWeights ||
      op->getNumResults() != 1)
    return opError(op, "does not match its op table entry '" + Twine(def.name) +
                           "'");
  auto isInt = [&](int j) {
    return def.inputs[j].type == rtops::ValueType::I32;
  };

  // Every activation is [T, cols]; integer inputs are [T].
  const Tensor &first = env.find(inputs[0])->second;
  const int64_t rows = isInt(0) ? first.numel() : first.rows();
  rtops::ShapeQuery q;
  for (int j = 0; j < def.numInputs; ++j) {
    const Tensor &t = env.find(inputs[size_t(j)])->second;
    if (isInt(j) ? !t.i : !t.f)
      return opError(op, Twine(def.inputs[j].name) + " must be " +
                             (isInt(j) ? "integers" : "floats"));
    if ((isInt(j) ? t.numel() : t.rows()) != rows)
      return opError(op, Twine(def.inputs[j].name) + " must have " +
                             Twine(rows) + " rows");
    q.inCols[j] = isInt(j) ? 1 : t.cols();
  }
  auto resultType = dyn_cast<ShapedType>(op->getResult(0).getType());
  q.outCols = resultType && resultType.hasRank() && resultType.getRank() > 0
                  ? resultType.getShape().back()
                  : ShapedType::kDynamic;
  for (size_t w = 0; w < weights.size(); ++w) {
    if (!weights[w])
      continue;
    const Tensor &t = env.find(weights[w])->second;
    if (!t.f)
      return opError(op, Twine(def.weights[w].name) + " must be floats");
    rtops::WeightInfo &wi = q.weights[w];
    wi.present = true;
    wi.name = def.weights[w].name;
    wi.shape.assign(t.shape.begin(), t.shape.end());
    wi.data = t.f->data();
    wi.bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
  }
  q.attrs = &attrs;
  q.desc.kind = def.kind;
  err = def.shape(q);
  if (!err.empty())
    return opError(op, err);
  for (int j = 0; j < def.numInputs; ++j)
    if (q.wantIn[j] >= 0 && q.inCols[j] != q.wantIn[j])
      return opError(op, Twine(def.inputs[j].name) + " has " +
                             Twine(q.inCols[j]) + " columns, expected " +
                             Twine(q.wantIn[j]));
  const int64_t cols = q.wantOut >= 0 ? q.wantOut : q.outCols;
  if (ShapedType::isDynamic(cols) || cols <= 0)
    return opError(op, "the result's width is not static");
  for (size_t w = 0; w < weights.size(); ++w)
    if (q.weights[w].present && !q.wantWeight[w].empty() &&
        q.weights[w].shape != q.wantWeight[w])
      return opError(op, Twine(def.weights[w].name) +
                             " does not have the shape the op needs");
  if (def.targetKernel || !def.reference)
    return opError(op,
                   "'" + Twine(def.name) + "' has no reference implementation");

  std::vector<double> constants;
  if (def.prepare) {
    err = def.prepare(q.desc, constants);
    if (!err.empty())
      return opError(op, err);
  }
  if (def.scratchDoubles) {
    size_t n = static_cast<size_t>(def.scratchDoubles(q.desc, maxCtx, &pool));
    if (scratch.size() < n)
      scratch.resize(n);
  }
  kernels::KVCache *cache = nullptr;
  if (def.cacheAttr) {
    int64_t layer = attrs[size_t(def.attrIndex(def.cacheAttr))].i;
    auto [it, inserted] = caches.try_emplace(layer);
    if (inserted)
      it->second =
          kernels::KVCache(maxCtx, q.desc.num_kv_heads, q.desc.head_dim);
    cache = &it->second;
  }
  std::vector<float> out(static_cast<size_t>(rows * cols));

  // The bindings of the table's order, in host memory.
  lowbit_hal_binding bind[rtops::kMaxBindings] = {};
  rtops::HostMemory memory[rtops::kMaxBindings];
  rtops::OpCall call;
  auto setBinding = [&](int k, const void *data, size_t bytes) {
    memory[k].data = static_cast<uint8_t *>(const_cast<void *>(data));
    memory[k].size = bytes;
    bind[k].buffer = reinterpret_cast<lowbit_hal_buffer *>(&memory[k]);
    bind[k].length = bytes;
  };
  for (int k = 0; k < def.numBindings; ++k) {
    const rtops::BindingDef &b = def.bindings[k];
    switch (b.slot) {
    case rtops::Slot::Input: {
      const Tensor &t = env.find(inputs[b.index])->second;
      if (t.i)
        setBinding(k, t.i->data(), t.i->size() * sizeof(int32_t));
      else
        setBinding(k, t.f->data(), t.f->size() * sizeof(float));
      break;
    }
    case rtops::Slot::Weight:
      if (b.index < weights.size() && weights[b.index])
        setBinding(k, q.weights[b.index].data, q.weights[b.index].bytes);
      break;
    case rtops::Slot::Output:
      setBinding(k, out.data(), out.size() * sizeof(float));
      break;
    case rtops::Slot::CacheK:
    case rtops::Slot::CacheV: {
      if (!cache)
        return opError(op, "binds a KV cache but names none");
      std::vector<float> &c =
          b.slot == rtops::Slot::CacheK ? cache->k : cache->v;
      setBinding(k, c.data(), c.size() * sizeof(float));
      break;
    }
    }
  }
  call.desc = &q.desc;
  call.constants = constants.data();
  call.rows = rows;
  call.cacheRows = maxCtx;
  call.bind = bind;
  call.pool = &pool;
  call.scratch = scratch.data();
  call.scratchSize = static_cast<int64_t>(scratch.size());
  call.floatAccumulation = floatAccumulation;
  if (!def.reference(call))
    return opError(op, call.error);

  SmallVector<int64_t> shape(first.shape.begin(), first.shape.end());
  if (isInt(0))
    shape.push_back(cols);
  else
    shape.back() = cols;
  env[op->getResult(0)] = Tensor::floats(shape, std::move(out));
  return llvm::Error::success();
}

llvm::Error Executor::Impl::run(func::FuncOp fn, ArrayRef<Tensor> args,
                                SmallVectorImpl<Tensor> &results,
                                unsigned depth, Operation *stop) {
  llvm::DenseMap<Value, Tensor> env;
  if (llvm::Error err = bind(fn, args, depth, env))
    return err;
  Block &body = fn.getBody().front();
  bool returned = false;
  if (llvm::Error err =
          runOps(fn, body.begin(), stop, env, results, depth, returned))
    return err;
  if (returned)
    return llvm::Error::success();
  results.clear();
  for (Value v : stop->getOperands()) {
    auto it = env.find(v);
    if (it == env.end())
      return opError(stop, "operand is not computed");
    results.push_back(it->second);
  }
  return llvm::Error::success();
}

llvm::Error Executor::Impl::bind(func::FuncOp fn, ArrayRef<Tensor> args,
                                 unsigned depth,
                                 llvm::DenseMap<Value, Tensor> &env) {
  // Calls are only one level deep in imported models; bound the depth so a
  // (verified but) recursive module cannot overflow the stack.
  if (depth > 16)
    return opError(fn, "call depth exceeds 16 (recursive module?)");
  if (fn.isExternal())
    return opError(fn, "function @" + fn.getSymName() + " has no body");
  Block &body = fn.getBody().front();
  if (args.size() != body.getNumArguments())
    return opError(fn, "expects " + Twine(body.getNumArguments()) +
                           " arguments, got " + Twine(args.size()));
  for (auto [arg, value] : llvm::zip(body.getArguments(), args))
    env[arg] = value;
  return llvm::Error::success();
}

llvm::Error Executor::Impl::runStep(Operation *op,
                                    llvm::DenseMap<Value, Tensor> &env,
                                    unsigned depth) {
  auto call = dyn_cast<func::CallOp>(op);
  if (!call)
    return runOp(op, env);
  auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      call, call.getCalleeAttr());
  if (!callee)
    return opError(op, "unknown callee @" + call.getCallee());
  SmallVector<Tensor> callArgs, callResults;
  for (Value v : call.getOperands()) {
    auto it = env.find(v);
    if (it == env.end())
      return opError(op, "operand is not computed");
    callArgs.push_back(it->second);
  }
  if (llvm::Error err = run(callee, callArgs, callResults, depth + 1))
    return err;
  for (auto [r, value] : llvm::zip(call.getResults(), callResults))
    env[r] = value;
  return llvm::Error::success();
}

llvm::Error Executor::Impl::runOps(func::FuncOp fn, Block::iterator from,
                                   Operation *stop,
                                   llvm::DenseMap<Value, Tensor> &env,
                                   SmallVectorImpl<Tensor> &results,
                                   unsigned depth, bool &returned) {
  returned = false;
  Block &body = fn.getBody().front();
  for (Operation &op : llvm::make_range(from, body.end())) {
    if (&op == stop)
      return llvm::Error::success();
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      results.clear();
      for (Value v : ret.getOperands())
        results.push_back(env.find(v)->second);
      returned = true;
      return llvm::Error::success();
    }
    if (llvm::Error err = runStep(&op, env, depth))
      return err;
  }
  if (stop)
    return opError(stop, "is not after the point the run stopped at");
  return opError(fn, "function has no return");
}

//===----------------------------------------------------------------------===//
// Executor
//===----------------------------------------------------------------------===//

Executor::Executor(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Executor::~Executor() = default;

llvm::Expected<std::unique_ptr<Executor>>
Executor::create(ModuleOp module, const ExecutorOptions &options) {
  auto entry = module.lookupSymbol<func::FuncOp>(attrs::kEntry);
  if (!entry)
    return llvm::createStringError("module has no @forward entry function");
  FunctionType type = entry.getFunctionType();
  auto logits = type.getNumResults() == 1
                    ? dyn_cast<RankedTensorType>(type.getResult(0))
                    : RankedTensorType();
  auto isIdVector = [](Type t) {
    auto tensor = dyn_cast<RankedTensorType>(t);
    return tensor && tensor.getRank() == 1 &&
           tensor.getElementType().isInteger(32);
  };
  if (type.getNumInputs() != 2 || !isIdVector(type.getInput(0)) ||
      !isIdVector(type.getInput(1)) || !logits || logits.getRank() != 2 ||
      ShapedType::isDynamic(logits.getDimSize(1)) ||
      !logits.getElementType().isF32())
    return llvm::createStringError(
        "@forward must take (tokens: tensor<?xi32>, positions: "
        "tensor<?xi32>) and return f32 logits [T, V]");
  auto impl = std::make_unique<Impl>(module, options.threads);
  impl->entryFn = entry;
  impl->vocab = logits.getDimSize(1);
  impl->maxCtx = options.maxContext;
  impl->floatAccumulation = options.floatAccumulation;
  if (impl->maxCtx <= 0) {
    auto config = module->getAttrOfType<DictionaryAttr>(attrs::kConfig);
    auto maxPos = config ? config.getAs<IntegerAttr>("max_position_embeddings")
                         : IntegerAttr();
    impl->maxCtx = maxPos ? maxPos.getInt() : 4096;
  }
  return std::unique_ptr<Executor>(new Executor(std::move(impl)));
}

llvm::Error Executor::forward(ArrayRef<int32_t> tokens,
                              ArrayRef<int32_t> positions,
                              std::vector<float> &logits) {
  if (tokens.size() != positions.size())
    return llvm::createStringError("%zu tokens but %zu positions",
                                   tokens.size(), positions.size());
  for (int32_t p : positions)
    if (p < 0 || p >= impl->maxCtx)
      return llvm::createStringError(
          "position %d is outside the context [0, %lld)", p,
          static_cast<long long>(impl->maxCtx));
  int64_t t = tokens.size();
  SmallVector<Tensor> args = {
      Tensor::ints({t}, std::vector<int32_t>(tokens.begin(), tokens.end())),
      Tensor::ints({t},
                   std::vector<int32_t>(positions.begin(), positions.end()))};
  SmallVector<Tensor> results;
  if (llvm::Error err = impl->run(impl->entryFn, args, results, 0))
    return err;
  logits = *results[0].f;
  return llvm::Error::success();
}

llvm::Error Executor::run(func::FuncOp fn, ArrayRef<Tensor> args,
                          SmallVectorImpl<Tensor> &results) {
  return impl->run(fn, args, results, 0);
}

llvm::Error Executor::runUntil(func::FuncOp fn, ArrayRef<Tensor> args,
                               Operation *stop,
                               SmallVectorImpl<Tensor> &stopOperands) {
  if (!stop || stop->getParentOp() != fn)
    return llvm::createStringError("runUntil: the stop op is not in the "
                                   "function's body");
  return impl->run(fn, args, stopOperands, 0, stop);
}

llvm::Expected<Executor::PartialRun> Executor::start(func::FuncOp fn,
                                                     ArrayRef<Tensor> args) {
  PartialRun state;
  state.fn = fn;
  if (llvm::Error err = impl->bind(fn, args, 0, state.values))
    return std::move(err);
  return state;
}

/// Ops that define weights: a run in parts keeps none of their values, so
/// passes may replace them between parts (quantizing a layer swaps its
/// lowbit.param for a lowbit.qparam and a lowbit.dequantize) and the next
/// part computes what is then there, from the executor's weight cache.
static bool isWeightOp(Operation *op) {
  return op && isa<ParamOp, QParamOp, DequantizeOp>(op);
}

llvm::Error Executor::resume(PartialRun &state, Operation *stop,
                             SmallVectorImpl<Tensor> *results) {
  if (state.finished)
    return opError(state.fn, "the run has returned or failed; start another");
  Block &body = state.fn.getBody().front();
  Block::iterator from = state.next ? state.next->getIterator() : body.begin();
  if (stop &&
      (stop->getBlock() != &body ||
       (state.next && stop != state.next && stop->isBeforeInBlock(state.next))))
    return opError(stop, "is not after the point the run of @" +
                             state.fn.getSymName() + " stopped at");
  if (isWeightOp(stop))
    return opError(stop, "defines a weight, which passes may replace: a run "
                         "cannot stop there");
  // From here on a failure leaves the run unusable.
  auto fail = [&](llvm::Error err) {
    state.finished = true;
    state.values.clear();
    return err;
  };
  // Catch up: weight ops before the resume point that the rest reads (the
  // run keeps no weights; passes may have inserted new ones), in program
  // order.
  llvm::SetVector<Operation *> needed;
  SmallVector<Value> worklist;
  for (Operation &op : llvm::make_range(from, body.end()))
    op.walk([&](Operation *nested) {
      for (Value v : nested->getOperands())
        worklist.push_back(v);
    });
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (state.values.count(v) || !def || def->getBlock() != &body ||
        !state.next || !def->isBeforeInBlock(state.next) || !needed.insert(def))
      continue;
    if (!isWeightOp(def))
      return fail(opError(def, "is needed again after the run of @" +
                                   state.fn.getSymName() +
                                   " stopped, but only weights are "
                                   "recomputed (was an op other than a "
                                   "weight changed between parts?)"));
    for (Value operand : def->getOperands())
      worklist.push_back(operand);
  }
  SmallVector<Operation *> catchUp(needed.begin(), needed.end());
  llvm::sort(catchUp,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  for (Operation *op : catchUp)
    if (llvm::Error err = impl->runStep(op, state.values, 0))
      return fail(std::move(err));

  SmallVector<Tensor> returned;
  bool done = false;
  if (llvm::Error err =
          impl->runOps(state.fn, from, stop, state.values, returned, 0, done))
    return fail(std::move(err));
  if (done) {
    state.finished = true;
    state.next = nullptr;
    state.values.clear();
    if (results)
      *results = std::move(returned);
    return llvm::Error::success();
  }
  state.next = stop;
  // Keep only what `stop` and the ops after it read, weights excepted.
  llvm::DenseMap<Value, Tensor> live;
  for (Operation &op : llvm::make_range(stop->getIterator(), body.end()))
    op.walk([&](Operation *nested) {
      for (Value v : nested->getOperands()) {
        auto it = state.values.find(v);
        if (it != state.values.end() && !isWeightOp(v.getDefiningOp()))
          live.try_emplace(v, it->second);
      }
    });
  state.values = std::move(live);
  return llvm::Error::success();
}

void Executor::reset() { impl->caches.clear(); }
void Executor::invalidateWeights() { impl->weightCache.clear(); }
void Executor::forgetWeight(Operation *op) { impl->weightCache.erase(op); }
void Executor::overrideWeight(Operation *op, Tensor value) {
  impl->weightCache[op] = std::move(value);
}
void Executor::forgetWeightsIn(Operation *scope) {
  scope->walk([&](Operation *op) { impl->weightCache.erase(op); });
}
void Executor::setLinearObserver(LinearObserver observer) {
  impl->observer = std::move(observer);
}
int64_t Executor::vocabSize() const { return impl->vocab; }
int64_t Executor::maxContext() const { return impl->maxCtx; }
func::FuncOp Executor::entry() const { return impl->entryFn; }

} // namespace lowbit
