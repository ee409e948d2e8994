//===- Model.cpp - manifest parsing and program validation ------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Reads the manifest of docs/bundle-manifest.md. Every field is
/// type-checked before it is read (Fields.h), so a manifest of any shape
/// gives either a valid Program or an EngineError naming the op and field at
/// fault, never a crash or an exception of the JSON library. The generic
/// parts of a qmatmul op are checked here; its target-specific fields go to
/// the device that binds it (lowbitrt/hal.h). Then every op is placed on a
/// device (the primary one if it supports the op, else `cpu`), bound to a
/// kernel there, and the copies between devices are planned
/// (docs/runtime-hal.md).
///
//===----------------------------------------------------------------------===//

#include "Model.h"

#include "Fields.h"
#include "ManifestChecks.h"

#ifdef LOWBITRT_HAVE_SIGNING
#include "lowbitrt/Signature.h"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

using namespace lowbit::rt;
using namespace lowbit::rt::engine;
using json = nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string &msg,
                       lowbit_rt_status status = LOWBIT_RT_FORMAT) {
  throw EngineError(status, msg);
}

/// Dimensions are bounded so products of a few of them cannot overflow.
constexpr int64_t kMaxDim = int64_t(1) << 31;

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Validates one op at a time against the buffers and tensors.
class ProgramParser {
public:
  ProgramParser(Model &model) : model(model), prog(model.program) {}

  void parse(const json &programJson);

private:
  Model &model;
  Program &prog;

  int bufferId(const json &v, const std::string &ctx, const char *what) const {
    if (!v.is_number_integer())
      fail(ctx + ": " + what + " buffer id must be an integer");
    int64_t id = v.get<int64_t>();
    if (id < 0 || id >= static_cast<int64_t>(prog.buffers.size()))
      fail(ctx + ": " + what + " buffer id " + std::to_string(id) +
           " is out of range [0, " + std::to_string(prog.buffers.size()) + ")");
    return static_cast<int>(id);
  }

  /// Requires buffer `id` to be f32 (or i32) with `cols` columns (if >= 0).
  void expectBuffer(int id, bool isInt, int64_t cols, const std::string &ctx,
                    const std::string &what) const {
    const BufferDesc &b = prog.buffers[static_cast<size_t>(id)];
    if (b.isInt != isInt)
      fail(ctx + ": " + what + " buffer " + std::to_string(id) + " must be " +
           (isInt ? "i32" : "f32"));
    if (cols >= 0 && b.cols != cols)
      fail(ctx + ": " + what + " buffer " + std::to_string(id) + " has " +
           std::to_string(b.cols) + " columns, expected " +
           std::to_string(cols));
  }

  int64_t cols(int id) const { return prog.buffers[size_t(id)].cols; }

  /// The tensor named by field `key`, checked for dtype and shape.
  const BundleTensor &tensor(const Fields &f, const char *key, DType dtype,
                             const std::vector<int64_t> &shape) const {
    std::string name = f.string(key);
    const BundleTensor *t = model.bundle->tensor(name);
    if (!t)
      fail(f.context() + ": field '" + key + "': tensor '" + name +
           "' is not in the bundle");
    if (t->dtype != dtype)
      fail(f.context() + ": tensor '" + name + "' has dtype " +
           std::string(dtypeName(t->dtype)) + ", expected " +
           std::string(dtypeName(dtype)));
    if (t->shape != shape)
      fail(f.context() + ": tensor '" + name + "' has shape " +
           shapeString(t->shape) + ", expected " + shapeString(shape));
    return *t;
  }

  const float *f32Tensor(const Fields &f, const char *key,
                         const std::vector<int64_t> &shape) const {
    return reinterpret_cast<const float *>(
        tensor(f, key, DType::F32, shape).data);
  }

  void parseQMatmul(const Fields &f, Op &op);
};

void ProgramParser::parse(const json &programJson) {
  Fields p(programJson, "program");

  const json &buffers = p.array("buffers");
  for (size_t i = 0; i < buffers.size(); ++i) {
    Fields b(buffers[i], "program: buffer " + std::to_string(i));
    std::string dtype = b.string("dtype");
    if (dtype != "f32" && dtype != "i32")
      fail(b.context() + ": dtype '" + dtype + "' is not f32 or i32");
    BufferDesc d;
    d.isInt = dtype == "i32";
    d.cols = b.integer("cols", 1, kMaxDim);
    prog.buffers.push_back(d);
  }

  Fields inputs(p.get("inputs"), "program: inputs");
  prog.tokens = bufferId(inputs.get("tokens"), "program: inputs", "tokens");
  prog.positions =
      bufferId(inputs.get("positions"), "program: inputs", "positions");
  expectBuffer(prog.tokens, true, 1, "program: inputs", "tokens");
  expectBuffer(prog.positions, true, 1, "program: inputs", "positions");
  if (prog.tokens == prog.positions)
    fail("program: inputs: tokens and positions share buffer " +
         std::to_string(prog.tokens));
  prog.output = bufferId(p.get("output"), "program", "output");
  expectBuffer(prog.output, false, model.vocabSize, "program", "output");

  std::map<int64_t, int> cacheOfLayer;
  if (p.has("kv_cache")) {
    const json &caches = p.array("kv_cache");
    for (size_t i = 0; i < caches.size(); ++i) {
      Fields c(caches[i], "program: kv_cache " + std::to_string(i));
      CacheDesc d;
      d.layer = c.integer("layer", 0, kMaxDim);
      d.numKVHeads = c.integer("num_kv_heads", 1, 1 << 16);
      d.headDim = c.integer("head_dim", 1, 1 << 16);
      if (!cacheOfLayer.emplace(d.layer, static_cast<int>(i)).second)
        fail(c.context() + ": layer " + std::to_string(d.layer) +
             " has two kv_cache entries");
      prog.caches.push_back(d);
    }
  }

  const json &ops = p.array("ops");
  for (size_t i = 0; i < ops.size(); ++i) {
    std::string ctx = "op " + std::to_string(i);
    if (!ops[i].is_object())
      fail(ctx + ": expected a JSON object");
    auto kindIt = ops[i].find("op");
    if (kindIt == ops[i].end() || !kindIt->is_string())
      fail(ctx + ": missing string field 'op'");
    std::string name = kindIt->get<std::string>();
    ctx += " (" + name + ")";
    Fields f(ops[i], ctx);

    Op op;
    op.context = ctx;
    int wantIn = 0;
    if (name == "embedding") {
      op.kind = OpKind::Embedding, wantIn = 1;
    } else if (name == "rms_norm") {
      op.kind = OpKind::RmsNorm, wantIn = 1;
    } else if (name == "linear") {
      op.kind = OpKind::Linear, wantIn = 1;
    } else if (name == "qmatmul") {
      op.kind = OpKind::QMatmul, wantIn = 1;
    } else if (name == "rotary") {
      op.kind = OpKind::Rotary, wantIn = 2;
    } else if (name == "attention") {
      op.kind = OpKind::Attention, wantIn = 4;
    } else if (name == "gated_act") {
      op.kind = OpKind::GatedAct, wantIn = 2;
    } else if (name == "add") {
      op.kind = OpKind::Add, wantIn = 2;
    } else {
      fail(ctx + ": unknown op '" + name + "'");
    }

    const json &in = f.array("in");
    if (static_cast<int>(in.size()) != wantIn)
      fail(ctx + ": expected " + std::to_string(wantIn) + " inputs, got " +
           std::to_string(in.size()));
    op.numIn = wantIn;
    for (int j = 0; j < wantIn; ++j)
      op.in[size_t(j)] = bufferId(in[size_t(j)], ctx, "input");
    // `out` is one buffer id; a one-element array is accepted too.
    const json &outJson = f.get("out");
    if (outJson.is_array()) {
      if (outJson.size() != 1)
        fail(ctx + ": expected 1 output, got " +
             std::to_string(outJson.size()));
      op.out = bufferId(outJson[0], ctx, "output");
    } else {
      op.out = bufferId(outJson, ctx, "output");
    }
    for (int j = 0; j < wantIn; ++j)
      if (op.in[size_t(j)] == op.out)
        fail(ctx + ": output buffer " + std::to_string(op.out) +
             " is also an input");
    if (op.out == prog.tokens || op.out == prog.positions)
      fail(ctx + ": output buffer " + std::to_string(op.out) +
           " is a program input");

    const int x = op.in[0];
    switch (op.kind) {
    case OpKind::Embedding: {
      expectBuffer(x, true, 1, ctx, "tokens");
      expectBuffer(op.out, false, -1, ctx, "output");
      std::string name = f.string("table");
      const BundleTensor *t = model.bundle->tensor(name);
      if (!t)
        fail(ctx + ": field 'table': tensor '" + name +
             "' is not in the bundle");
      if (t->shape.size() != 2)
        fail(ctx + ": tensor '" + name + "' must have rank 2, has shape " +
             shapeString(t->shape));
      op.rows = t->shape[0];
      op.cols = cols(op.out);
      op.weight = f32Tensor(f, "table", {op.rows, op.cols});
      break;
    }
    case OpKind::RmsNorm: {
      expectBuffer(x, false, -1, ctx, "input");
      op.cols = cols(x);
      expectBuffer(op.out, false, op.cols, ctx, "output");
      op.weight = f32Tensor(f, "weight", {op.cols});
      // Checked as a double: a finite value above FLT_MAX would become an
      // infinite float eps (and the conversion is undefined behaviour).
      double eps = f.number("eps");
      if (!(eps >= 0.0))
        fail(ctx + ": field 'eps' must not be negative");
      if (eps > std::numeric_limits<float>::max())
        fail(ctx + ": field 'eps' is out of range for f32");
      op.eps = static_cast<float>(eps);
      break;
    }
    case OpKind::Linear:
      expectBuffer(x, false, -1, ctx, "input");
      expectBuffer(op.out, false, -1, ctx, "output");
      op.cols = cols(x);
      op.rows = cols(op.out);
      op.weight = f32Tensor(f, "weight", {op.rows, op.cols});
      if (f.has("bias"))
        op.bias = f32Tensor(f, "bias", {op.rows});
      break;
    case OpKind::QMatmul:
      parseQMatmul(f, op);
      break;
    case OpKind::Rotary: {
      expectBuffer(x, false, -1, ctx, "input");
      expectBuffer(op.in[1], true, 1, ctx, "positions");
      expectBuffer(op.out, false, cols(x), ctx, "output");
      std::string style = f.string("style");
      if (style == "rotate_half")
        op.style = kernels::RotaryStyle::HalfSplit;
      else if (style == "interleaved")
        op.style = kernels::RotaryStyle::Interleaved;
      else
        fail(ctx + ": unknown rotary style '" + style + "'");
      double theta = f.number("theta");
      if (!(theta > 0.0))
        fail(ctx + ": field 'theta' must be positive");
      op.theta = theta;
      op.headDim = f.integer("head_dim", 2, 1 << 16);
      if (op.headDim % 2 != 0 || cols(x) % op.headDim != 0)
        fail(ctx + ": head_dim " + std::to_string(op.headDim) +
             " must be even and divide the input's " + std::to_string(cols(x)) +
             " columns");
      op.numHeads = cols(x) / op.headDim;
      op.invFreq.resize(static_cast<size_t>(op.headDim / 2));
      kernels::computeRotaryInvFreq(op.headDim, theta, op.invFreq.data());
      break;
    }
    case OpKind::Attention: {
      int64_t layer = f.integer("layer");
      op.numHeads = f.integer("num_heads", 1, 1 << 16);
      op.numKVHeads = f.integer("num_kv_heads", 1, 1 << 16);
      op.headDim = f.integer("head_dim", 1, 1 << 16);
      if (op.numHeads % op.numKVHeads != 0)
        fail(ctx + ": num_heads " + std::to_string(op.numHeads) +
             " is not a multiple of num_kv_heads " +
             std::to_string(op.numKVHeads));
      int64_t qCols = op.numHeads * op.headDim;
      int64_t kvCols = op.numKVHeads * op.headDim;
      expectBuffer(op.in[0], false, qCols, ctx, "q");
      expectBuffer(op.in[1], false, kvCols, ctx, "k");
      expectBuffer(op.in[2], false, kvCols, ctx, "v");
      expectBuffer(op.in[3], true, 1, ctx, "positions");
      expectBuffer(op.out, false, qCols, ctx, "output");
      auto it = cacheOfLayer.find(layer);
      if (it == cacheOfLayer.end())
        fail(ctx + ": layer " + std::to_string(layer) +
             " has no kv_cache entry");
      const CacheDesc &c = prog.caches[size_t(it->second)];
      if (c.numKVHeads != op.numKVHeads || c.headDim != op.headDim)
        fail(ctx + ": kv_cache of layer " + std::to_string(layer) + " holds " +
             std::to_string(c.numKVHeads) + " heads of " +
             std::to_string(c.headDim) + ", the op needs " +
             std::to_string(op.numKVHeads) + " of " +
             std::to_string(op.headDim));
      op.cache = it->second;
      prog.maxHeadDim = std::max(prog.maxHeadDim, op.headDim);
      break;
    }
    case OpKind::GatedAct: {
      std::string kind = f.string("kind");
      if (kind == "silu")
        op.gelu = false;
      else if (kind == "gelu_tanh")
        op.gelu = true;
      else
        fail(ctx + ": unknown activation kind '" + kind + "'");
      [[fallthrough]];
    }
    case OpKind::Add:
      expectBuffer(op.in[0], false, -1, ctx, "first input");
      op.cols = cols(op.in[0]);
      expectBuffer(op.in[1], false, op.cols, ctx, "second input");
      expectBuffer(op.out, false, op.cols, ctx, "output");
      break;
    }
    prog.ops.push_back(std::move(op));
  }
}

void ProgramParser::parseQMatmul(const Fields &f, Op &op) {
  const std::string &ctx = f.context();
  const int64_t N = f.integer("N", 1, kMaxDim);
  const int64_t K = f.integer("K", 1, kMaxDim);
  expectBuffer(op.in[0], false, K, ctx, "input");
  expectBuffer(op.out, false, N, ctx, "output");
  op.rows = N;
  op.cols = K;

  if (f.has("bias"))
    op.bias = f32Tensor(f, "bias", {N});
  if (f.has("perm")) {
    const BundleTensor &t = tensor(f, "perm", DType::I32, {K});
    const int32_t *perm = reinterpret_cast<const int32_t *>(t.data);
    std::vector<bool> seen(static_cast<size_t>(K), false);
    for (int64_t j = 0; j < K; ++j) {
      int32_t v = perm[j];
      if (v < 0 || v >= K || seen[size_t(v)])
        fail(ctx + ": perm tensor '" + std::string(t.name) +
             "' is not a permutation of [0, " + std::to_string(K) +
             "): entry " + std::to_string(j) + " = " + std::to_string(v));
      seen[size_t(v)] = true;
    }
    op.perm = perm;
    prog.maxPermK = std::max(prog.maxPermK, K);
  }

  // The quantization scheme (what every device needs); the packed layout's
  // own checks are the device's.
  op.bits = static_cast<int>(f.integer("bits", 1, 64));
  op.groupSize = f.integer("group_size");
  op.symmetric = f.boolean("symmetric");
  std::string scaleType = f.string("scale_type");
  if (scaleType != "f32" && scaleType != "f16")
    fail(ctx + ": scale_type '" + scaleType + "' is not f32 or f16");
  op.f16Scales = scaleType == "f16";
  // Manifests without a `layout` field hold the layout of their target.
  if (f.has("layout"))
    op.layout = f.string("layout");
  else if (model.target == "x86")
    op.layout = "x86-tile16-v1";
  else
    fail(ctx + ": missing field 'layout'");

  std::string weightName = f.string("weight");
  const BundleTensor *w = model.bundle->tensor(weightName);
  if (!w)
    fail(ctx + ": field 'weight': tensor '" + weightName +
         "' is not in the bundle");
  if (w->dtype != DType::Bytes && w->dtype != DType::U8 &&
      w->dtype != DType::I8)
    fail(ctx + ": packed weight '" + weightName + "' has dtype " +
         std::string(dtypeName(w->dtype)) + ", expected bytes");
  op.packed = w->data;
  op.packedBytes = w->size;
  op.json = f.object().dump();
}

/// An optional integer token id: absent, null, an integer, or (for
/// `eos_token_id`) a list of integers.
std::vector<int32_t> tokenIds(const Fields &config, const char *key) {
  std::vector<int32_t> ids;
  if (!config.has(key))
    return ids;
  const json &v = config.get(key);
  auto one = [&](const json &e) {
    if (!e.is_number_integer() || e.get<int64_t>() < 0 ||
        e.get<int64_t>() > std::numeric_limits<int32_t>::max())
      fail(config.context() + ": field '" + key +
           "' must be a non-negative integer, a list of them, or null");
    ids.push_back(static_cast<int32_t>(e.get<int64_t>()));
  };
  if (v.is_array()) {
    for (const json &e : v)
      one(e);
  } else {
    one(v);
  }
  return ids;
}

} // namespace

namespace {
void addDevice(Model &model, lowbit_hal_device *dev);
void planAndBind(Model &model);
} // namespace

void lowbit::rt::engine::loadManifest(Model &model,
                                      const OpenOptions &options) {
  // A given primary device belongs to the model from here on, even if
  // loading fails.
  if (options.primary) {
    model.devices.emplace_back();
    model.devices.back().device = options.primary;
  }
  std::string_view text = model.bundle->manifest();
  json manifest = json::parse(text.begin(), text.end(), nullptr,
                              /*allow_exceptions=*/false);
  if (manifest.is_discarded())
    fail("manifest: invalid JSON");
  Fields top(manifest, "manifest");
  std::string format = top.string("format");
  if (format != "lowbit-manifest-v1")
    fail("manifest: format '" + format +
         "' is not supported (expected 'lowbit-manifest-v1')");

  Fields config(top.get("config"), "manifest: config");
  if (config.has("architecture"))
    model.architecture = config.string("architecture");
  model.vocabSize = config.integer("vocab_size", 1, kMaxDim);
  model.hiddenSize = config.integer("hidden_size", 1, kMaxDim);
  model.numLayers = config.integer("num_hidden_layers", 0, kMaxDim);
  model.maxPositions = config.integer("max_position_embeddings", 1, kMaxDim);
  for (const char *key : {"num_attention_heads", "num_key_value_heads",
                          "head_dim", "intermediate_size"})
    if (config.has(key))
      config.integer(key);
  std::vector<int32_t> bos = tokenIds(config, "bos_token_id");
  model.bosId = bos.empty() ? -1 : bos[0];
  model.eosIds = tokenIds(config, "eos_token_id");

  if (top.has("layers"))
    top.array("layers");

  if (top.has("tokenizer")) {
    const json &tok = top.get("tokenizer");
    if (!tok.is_object())
      fail("manifest: field 'tokenizer' must be a JSON object");
    std::string err;
    model.tokenizer = Tokenizer::fromJSON(tok.dump(), err);
    if (!model.tokenizer)
      fail("manifest: tokenizer: " + err);
    if (model.bosId < 0)
      model.bosId = model.tokenizer->bosId();
    if (model.eosIds.empty() && model.tokenizer->eosId() >= 0)
      model.eosIds.push_back(model.tokenizer->eosId());
  }

  model.target = top.string("target");
  model.kernels = model.bundle->code(model.target);
  model.noNativeCode = options.noNativeCode;
  model.trustedKeys = options.trustedKeys;
  if (options.noNativeCode && !options.device.empty() &&
      options.device != "cpu")
    fail("device '" + options.device +
             "' cannot be used without native code (no_native_code runs "
             "everything on 'cpu')",
         LOWBIT_RT_INVALID_ARGUMENT);
  if (!model.devices.empty()) {
    addDevice(model, nullptr);
  } else {
    const bool chosen = !options.device.empty() || options.noNativeCode;
    const std::string name =
        options.noNativeCode ? "cpu" : (chosen ? options.device : model.target);
    lowbit_hal_device *dev = nullptr;
    if (lowbit_hal_status st =
            lowbit_hal_device_create(name.c_str(), nullptr, &dev)) {
      lowbit_hal_status_code code = lowbit_hal_status_code_of(st);
      lowbit_hal_status_free(st);
      if (code != LOWBIT_HAL_UNSUPPORTED)
        throwIfFailed(lowbit_hal_make_status(code, "cannot create device"));
      fail(std::string(chosen ? "device" : "manifest: target") + " '" + name +
               "' is not supported by this runtime (available: " +
               lowbit_hal_driver_names() + ")",
           chosen ? LOWBIT_RT_INVALID_ARGUMENT : LOWBIT_RT_UNSUPPORTED);
    }
    addDevice(model, dev);
  }
  model.device = model.devices[0].v().name(model.devices[0].device);

  ProgramParser(model).parse(top.get("program"));
  checkProgramConsistency(model, config.object());
  planAndBind(model);
}

//===----------------------------------------------------------------------===//
// The plan
//===----------------------------------------------------------------------===//

lowbit_rt_status lowbit::rt::engine::toRtStatus(lowbit_hal_status_code code) {
  switch (code) {
  case LOWBIT_HAL_OK:
    return LOWBIT_RT_OK;
  case LOWBIT_HAL_INVALID_ARGUMENT:
    return LOWBIT_RT_INVALID_ARGUMENT;
  case LOWBIT_HAL_FORMAT:
    return LOWBIT_RT_FORMAT;
  case LOWBIT_HAL_UNSUPPORTED:
    return LOWBIT_RT_UNSUPPORTED;
  case LOWBIT_HAL_OUT_OF_MEMORY:
  case LOWBIT_HAL_INTERNAL:
    break;
  }
  return LOWBIT_RT_INTERNAL;
}

void lowbit::rt::engine::throwStatus(lowbit_hal_status status,
                                     const std::string &context) {
  lowbit_rt_status code = toRtStatus(lowbit_hal_status_code_of(status));
  std::string msg = lowbit_hal_status_message(status);
  lowbit_hal_status_free(status);
  throw EngineError(code, context.empty() ? msg : context + ": " + msg);
}

lowbit::rt::engine::Model::~Model() {
  for (const Op &op : program.ops)
    if (op.kernel)
      devices[size_t(op.device)].v().kernel_free(
          devices[size_t(op.device)].device, op.kernel);
  for (DeviceSlot &d : devices) {
    for (auto &imp : d.imported)
      d.v().buffer_free(d.device, imp.second);
    if (d.executable)
      d.v().executable_free(d.device, d.executable);
    lowbit_hal_device_destroy(d.device);
  }
}

namespace {

/// Appends \p dev (null: the one already last) to the model's devices and
/// loads the bundle's code blob
/// named after it, if there is one.
void addDevice(Model &model, lowbit_hal_device *dev) {
  if (dev) {
    model.devices.emplace_back();
    model.devices.back().device = dev;
  }
  DeviceSlot &slot = model.devices.back();
  dev = slot.device;
  const char *name = slot.v().name(dev);
  const BundleCode *code = model.bundle->code(name);
  // The code-loading policy: nothing is loaded without native code, and
  // with trusted keys only code whose signature verifies.
  if (code && model.noNativeCode)
    code = nullptr;
  if (code && !model.trustedKeys.empty() && !model.signatureVerified) {
    std::string err;
#ifdef LOWBITRT_HAVE_SIGNING
    if (!verifyBundleSignature(*model.bundle, model.trustedKeys, err))
#else
    err = "this runtime was built without signature support (OpenSSL)";
#endif
      fail("code blob '" + std::string(code->target) +
               "' is not loaded: trusted keys are set and " + err +
               " (run without native code: LOWBIT_NO_NATIVE_CODE=1 or "
               "lowbit-run --no-native-code)",
           LOWBIT_RT_UNTRUSTED);
    model.signatureVerified = true;
  }
  if (code)
    throwIfFailed(
        slot.v().executable_load(dev, std::string(code->format).c_str(),
                                 code->data, code->size, &slot.executable));
}

/// The binding of bundle memory [data, data + bytes) on device \p d,
/// imported once per device.
lowbit_hal_binding constant(DeviceSlot &d, const void *data, uint64_t bytes) {
  lowbit_hal_binding b{};
  if (!data)
    return b;
  for (auto &imp : d.imported)
    if (imp.first == data) {
      b.buffer = imp.second;
      b.length = bytes;
      return b;
    }
  lowbit_hal_buffer *buf = nullptr;
  throwIfFailed(d.v().buffer_import_host(d.device, data, bytes,
                                         LOWBIT_HAL_IMPORT_READ_ONLY, &buf),
                "importing the bundle's weights");
  d.imported.emplace_back(data, buf);
  b.buffer = buf;
  b.length = bytes;
  return b;
}

lowbit_hal_op_desc describe(const Op &op) {
  lowbit_hal_op_desc d{};
  switch (op.kind) {
  case OpKind::Embedding:
    d.kind = LOWBIT_HAL_OP_EMBEDDING;
    break;
  case OpKind::RmsNorm:
    d.kind = LOWBIT_HAL_OP_RMS_NORM;
    break;
  case OpKind::Linear:
    d.kind = LOWBIT_HAL_OP_LINEAR;
    break;
  case OpKind::QMatmul:
    d.kind = LOWBIT_HAL_OP_QMATMUL;
    break;
  case OpKind::Rotary:
    d.kind = LOWBIT_HAL_OP_ROTARY;
    break;
  case OpKind::Attention:
    d.kind = LOWBIT_HAL_OP_ATTENTION;
    break;
  case OpKind::GatedAct:
    d.kind = LOWBIT_HAL_OP_GATED_ACT;
    break;
  case OpKind::Add:
    d.kind = LOWBIT_HAL_OP_ADD;
    break;
  }
  d.rows = op.rows;
  d.cols = op.cols;
  d.eps = op.eps;
  d.theta = op.theta;
  d.num_heads = op.numHeads;
  d.num_kv_heads = op.numKVHeads;
  d.head_dim = op.headDim;
  d.bits = op.bits;
  d.group_size = op.groupSize;
  if (op.bias)
    d.flags |= LOWBIT_HAL_OP_HAS_BIAS;
  if (op.perm)
    d.flags |= LOWBIT_HAL_OP_HAS_PERM;
  if (op.kind == OpKind::QMatmul && op.symmetric)
    d.flags |= LOWBIT_HAL_OP_SYMMETRIC;
  if (op.f16Scales)
    d.flags |= LOWBIT_HAL_OP_F16_SCALES;
  if (op.kind == OpKind::Rotary &&
      op.style == kernels::RotaryStyle::Interleaved)
    d.flags |= LOWBIT_HAL_OP_ROTARY_INTERLEAVED;
  if (op.gelu)
    d.flags |= LOWBIT_HAL_OP_GELU_TANH;
  d.layout = op.layout.empty() ? nullptr : op.layout.c_str();
  d.weight_bytes = op.packedBytes;
  d.op_json = op.json.empty() ? nullptr : op.json.c_str();
  d.op_json_size = op.json.size();
  d.context = op.context.c_str();
  return d;
}

/// The index of the `cpu` fallback device, created on first use.
int fallbackDevice(Model &model) {
  if (model.devices.size() < 2) {
    lowbit_hal_device *dev = nullptr;
    throwIfFailed(lowbit_hal_device_create("cpu", nullptr, &dev),
                  "creating the fallback device 'cpu'");
    addDevice(model, dev);
    model.fallbackDevice = "cpu";
  }
  return 1;
}

void planAndBind(Model &model) {
  Program &prog = model.program;
  const bool primaryIsCpu = model.device == "cpu";

  // 1. The device of each op: the primary one if it supports the op.
  for (Op &op : prog.ops) {
    lowbit_hal_op_desc d = describe(op);
    const DeviceSlot &primary = model.devices[0];
    op.device = 0;
    if (!primary.v().supports_op(primary.device, &d)) {
      if (primaryIsCpu)
        fail(op.context + ": not supported by device '" + model.device +
                 "' (layout '" + op.layout + "', " + std::to_string(op.bits) +
                 " bits)",
             LOWBIT_RT_UNSUPPORTED);
      op.device = fallbackDevice(model);
      ++model.fallbackOps;
    }
  }
  // A KV cache lives on one device: if any attention op of a cache falls
  // back, all of them do.
  model.cacheDevice.assign(prog.caches.size(), 0);
  for (const Op &op : prog.ops)
    if (op.kind == OpKind::Attention && op.device != 0)
      model.cacheDevice[size_t(op.cache)] = op.device;
  for (Op &op : prog.ops)
    if (op.kind == OpKind::Attention &&
        op.device != model.cacheDevice[size_t(op.cache)]) {
      op.device = model.cacheDevice[size_t(op.cache)];
      ++model.fallbackOps;
    }

  // 2. Bind each op on its device, with its weights imported there.
  for (Op &op : prog.ops) {
    DeviceSlot &dev = model.devices[size_t(op.device)];
    lowbit_hal_op_desc d = describe(op);
    throwIfFailed(
        dev.v().kernel_create(dev.device, dev.executable, &d, &op.kernel));
    auto f32 = [](int64_t n) { return static_cast<uint64_t>(n) * 4; };
    switch (op.kind) {
    case OpKind::Embedding:
      op.constants[0] = constant(dev, op.weight, f32(op.rows * op.cols));
      break;
    case OpKind::RmsNorm:
      op.constants[1] = constant(dev, op.weight, f32(op.cols));
      break;
    case OpKind::Linear:
      op.constants[1] = constant(dev, op.weight, f32(op.rows * op.cols));
      op.constants[2] = constant(dev, op.bias, f32(op.rows));
      break;
    case OpKind::QMatmul:
      op.constants[1] = constant(dev, op.packed, op.packedBytes);
      op.constants[2] = constant(dev, op.bias, f32(op.rows));
      op.constants[3] = constant(dev, op.perm, f32(op.cols));
      break;
    default:
      break;
    }
  }
  model.isa = model.devices[0].v().description(model.devices[0].device);

  // 3. Where each buffer lives and the copies between devices: a buffer is
  // current on the devices in `valid`; an op reading it elsewhere gets a
  // copy first. Tokens and positions are uploaded from the host to every
  // device that reads them.
  const size_t numBuffers = prog.buffers.size();
  model.bufferPlan.assign(numBuffers, BufferPlan{});
  std::vector<unsigned> valid(numBuffers, 1u);
  for (const Op &op : prog.ops)
    for (int j = 0; j < op.numIn; ++j) {
      int b = op.in[size_t(j)];
      if (b == prog.tokens || b == prog.positions)
        model.bufferPlan[size_t(b)].devices |= 1u << op.device;
    }
  for (int b : {prog.tokens, prog.positions}) {
    model.bufferPlan[size_t(b)].devices |= 1u;
    valid[size_t(b)] = model.bufferPlan[size_t(b)].devices;
  }
  for (size_t b = 0; b < numBuffers; ++b)
    model.bufferPlan[b].devices |= valid[b];
  model.transfersPerStep = 0;
  for (Op &op : prog.ops) {
    const unsigned bit = 1u << op.device;
    for (int j = 0; j < op.numIn; ++j) {
      const size_t b = size_t(op.in[size_t(j)]);
      if (valid[b] & bit)
        continue;
      Op::Transfer t;
      t.buffer = int(b);
      t.from = (valid[b] & 1u) ? 0 : __builtin_ctz(valid[b]);
      t.to = op.device;
      op.transfers.push_back(t);
      ++model.transfersPerStep;
      valid[b] |= bit;
      model.bufferPlan[b].devices |= bit;
    }
    valid[size_t(op.out)] = bit;
    model.bufferPlan[size_t(op.out)].devices |= bit;
  }
  const unsigned out = valid[size_t(prog.output)];
  model.outputDevice = (out & 1u) ? 0 : __builtin_ctz(out);
}

} // namespace
