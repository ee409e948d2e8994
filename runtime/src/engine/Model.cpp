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
/// fault, never a crash or an exception of the JSON library. Each op is
/// validated by its entry of the op table (lowbitrt/OpTable.h): buffer
/// types, attribute schema, weights and shape rule; fields the table does
/// not declare (a qmatmul's kernel list) go to the device that binds it
/// (lowbitrt/hal.h). Then every op is placed on a
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

  /// Attribute \p def of the op's manifest object \p f.
  static void attribute(const Fields &f, const ops::AttrDef &def,
                        ops::AttrValue &v) {
    if (!def.required && !f.has(def.name))
      return;
    v.present = true;
    switch (def.type) {
    case ops::AttrType::Int:
      v.i = f.integer(def.name);
      break;
    case ops::AttrType::Number:
      v.f = f.number(def.name);
      break;
    case ops::AttrType::Bool:
      v.b = f.boolean(def.name);
      break;
    case ops::AttrType::String:
      v.s = f.string(def.name);
      break;
    }
    std::string err = ops::checkAttr(def, v);
    if (!err.empty())
      fail(f.context() + ": " + err);
  }

  /// The weight of \p role (a field naming a bundle tensor), checked for
  /// dtype; absent if the role is optional and the field is not there.
  void weight(const Fields &f, const ops::RoleDef &role, ops::WeightInfo &w,
              std::string &name) const {
    if (role.optional && !f.has(role.name))
      return;
    name = f.string(role.name);
    const BundleTensor *t = model.bundle->tensor(name);
    if (!t)
      fail(f.context() + ": field '" + role.name + "': tensor '" + name +
           "' is not in the bundle");
    const bool ok = role.type == ops::ValueType::F32 ? t->dtype == DType::F32
                    : role.type == ops::ValueType::I32
                        ? t->dtype == DType::I32
                        : (t->dtype == DType::Bytes || t->dtype == DType::U8 ||
                           t->dtype == DType::I8);
    if (!ok)
      fail(f.context() + ": tensor '" + name + "' has dtype " +
           std::string(dtypeName(t->dtype)) + ", expected " +
           ops::valueTypeName(role.type));
    w.present = true;
    w.name = name.c_str();
    w.shape = t->shape;
    w.data = t->data;
    w.bytes = t->size;
  }
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

    const ops::OpDef *def = ops::opByName(name);
    if (!def)
      fail(ctx + ": unknown op '" + name + "'");
    Op op;
    op.def = def;
    op.context = ctx;
    const int wantIn = def->numInputs;

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

    // The op's schema: buffer types (i32 inputs are [T] ids or positions),
    // attributes, weights; then its shape rule.
    auto isInt = [&](int j) {
      return def->inputs[j].type == ops::ValueType::I32;
    };
    for (int j = 0; j < wantIn; ++j)
      expectBuffer(op.in[size_t(j)], isInt(j), isInt(j) ? 1 : -1, ctx,
                   def->inputs[j].name);
    expectBuffer(op.out, false, -1, ctx, "output");
    ops::AttrValues attrs;
    for (int a = 0; a < def->numAttrs; ++a)
      attribute(f, def->attrs[a], attrs[size_t(a)]);
    ops::ShapeQuery q;
    std::string weightNames[ops::kMaxWeights];
    for (int w = 0; w < def->numWeights; ++w)
      weight(f, def->weights[w], q.weights[w], weightNames[w]);
    for (int j = 0; j < wantIn; ++j)
      q.inCols[j] = cols(op.in[size_t(j)]);
    q.outCols = cols(op.out);
    q.attrs = &attrs;
    q.target = model.target.c_str();
    q.desc.kind = def->kind;
    std::string err = def->shape(q);
    if (!err.empty())
      fail(ctx + ": " + err);
    for (int j = 0; j < wantIn; ++j)
      if (q.wantIn[j] >= 0)
        expectBuffer(op.in[size_t(j)], isInt(j), q.wantIn[j], ctx,
                     def->inputs[j].name);
    if (q.wantOut >= 0)
      expectBuffer(op.out, false, q.wantOut, ctx, "output");
    for (int w = 0; w < def->numWeights; ++w) {
      const ops::WeightInfo &wi = q.weights[w];
      if (!wi.present)
        continue;
      if (!q.wantWeight[w].empty() && wi.shape != q.wantWeight[w])
        fail(ctx + ": tensor '" + weightNames[w] + "' has shape " +
             shapeString(wi.shape) + ", expected " +
             shapeString(q.wantWeight[w]));
      op.weight[size_t(w)] = wi.data;
      op.weightBytes[size_t(w)] = wi.bytes;
    }
    if (def->cacheAttr) {
      int64_t layer = attrs[size_t(def->attrIndex(def->cacheAttr))].i;
      auto it = cacheOfLayer.find(layer);
      if (it == cacheOfLayer.end())
        fail(ctx + ": " + def->cacheAttr + " " + std::to_string(layer) +
             " has no kv_cache entry");
      const CacheDesc &c = prog.caches[size_t(it->second)];
      if (c.numKVHeads != q.desc.num_kv_heads || c.headDim != q.desc.head_dim)
        fail(ctx + ": kv_cache of layer " + std::to_string(layer) + " holds " +
             std::to_string(c.numKVHeads) + " heads of " +
             std::to_string(c.headDim) + ", the op needs " +
             std::to_string(q.desc.num_kv_heads) + " of " +
             std::to_string(q.desc.head_dim));
      op.cache = it->second;
    }
    op.desc = q.desc;
    op.layout = std::move(q.layout);
    if (def->deviceFields)
      op.json = f.object().dump();
    prog.ops.push_back(std::move(op));
  }
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

  // The HF tokenizer_config.json object (optional; only with a tokenizer):
  // its BOS/EOS/add_bos_token go to the tokenizer, its chat template to
  // lowbit_rt_chat_create().
  std::string tokenizerConfig;
  if (top.has("tokenizer_config")) {
    if (!top.has("tokenizer"))
      fail("manifest: field 'tokenizer_config' needs a 'tokenizer'");
    const json &cfg = top.get("tokenizer_config");
    if (!cfg.is_object())
      fail("manifest: field 'tokenizer_config' must be a JSON object");
    tokenizerConfig = cfg.dump();
    ChatConfig chat;
    std::string err;
    if (!parseChatConfig(tokenizerConfig, chat, err))
      fail("manifest: tokenizer_config: " + err);
    model.tokenizerConfig = std::move(chat);
  }

  if (top.has("tokenizer")) {
    const json &tok = top.get("tokenizer");
    if (!tok.is_object())
      fail("manifest: field 'tokenizer' must be a JSON object");
    std::string err;
    model.tokenizer = Tokenizer::fromJSON(tok.dump(), err, tokenizerConfig);
    if (!model.tokenizer)
      fail("manifest: tokenizer: " + err);
    if (model.bosId < 0)
      model.bosId = model.tokenizer->bosId();
    int32_t eos = model.tokenizer->eosId();
    // The config's eos_token also ends generation (besides config.json's
    // eos_token_id list); without a tokenizer_config, only when the list
    // is empty, as before.
    if (eos >= 0 &&
        (model.eosIds.empty() ||
         (model.tokenizerConfig && !model.tokenizerConfig->eosToken.empty() &&
          std::find(model.eosIds.begin(), model.eosIds.end(), eos) ==
              model.eosIds.end())))
      model.eosIds.push_back(eos);
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

/// The op's descriptor, pointing into \p op.
lowbit_hal_op_desc describe(const Op &op) {
  lowbit_hal_op_desc d = op.desc;
  d.layout = op.layout.empty() ? nullptr : op.layout.c_str();
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
                 "' (layout '" + op.layout + "', " +
                 std::to_string(op.desc.bits) + " bits)",
             LOWBIT_RT_UNSUPPORTED);
      op.device = fallbackDevice(model);
      ++model.fallbackOps;
    }
  }
  // A KV cache lives on one device: if any attention op of a cache falls
  // back, all of them do.
  model.cacheDevice.assign(prog.caches.size(), 0);
  for (const Op &op : prog.ops)
    if (op.def->cacheAttr && op.device != 0)
      model.cacheDevice[size_t(op.cache)] = op.device;
  for (Op &op : prog.ops)
    if (op.def->cacheAttr && op.device != model.cacheDevice[size_t(op.cache)]) {
      op.device = model.cacheDevice[size_t(op.cache)];
      ++model.fallbackOps;
    }

  // 2. Bind each op on its device, with its weights imported there.
  for (Op &op : prog.ops) {
    DeviceSlot &dev = model.devices[size_t(op.device)];
    lowbit_hal_op_desc d = describe(op);
    throwIfFailed(
        dev.v().kernel_create(dev.device, dev.executable, &d, &op.kernel));
    for (int i = 0; i < op.def->numBindings; ++i) {
      const ops::BindingDef &b = op.def->bindings[i];
      if (b.slot == ops::Slot::Weight)
        op.constants[size_t(i)] =
            constant(dev, op.weight[b.index], op.weightBytes[b.index]);
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
