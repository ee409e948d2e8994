//===- OpTable.cpp - the graph ops of bundle programs -----------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// One entry per graph op (lowbitrt/OpTable.h): schema, shape rule and
/// reference implementation on the portable kernels. Adding an op is adding
/// a function like the ones below and a line in buildTable()
/// (docs/adding-an-op.md).
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/OpTable.h"

#include "lowbitrt/Codec.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

using namespace lowbit::rt;
using namespace lowbit::rt::ops;
namespace codec = lowbit::codec;

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const AttrValue &attr(const ShapeQuery &q, int i) { return (*q.attrs)[i]; }

RoleDef role(const char *name, ValueType type, bool optional = false) {
  RoleDef r;
  r.name = name;
  r.type = type;
  r.optional = optional;
  return r;
}

AttrDef intAttr(const char *name, int64_t lo = INT64_MIN,
                int64_t hi = INT64_MAX, bool required = true) {
  AttrDef a;
  a.name = name;
  a.type = AttrType::Int;
  a.required = required;
  a.lo = lo;
  a.hi = hi;
  return a;
}

AttrDef numberAttr(const char *name) {
  AttrDef a;
  a.name = name;
  a.type = AttrType::Number;
  return a;
}

AttrDef boolAttr(const char *name) {
  AttrDef a;
  a.name = name;
  a.type = AttrType::Bool;
  return a;
}

AttrDef stringAttr(const char *name, const char *const *choices,
                   bool required = true) {
  AttrDef a;
  a.name = name;
  a.type = AttrType::String;
  a.choices = choices;
  a.required = required;
  return a;
}

BindingDef bind(Slot slot, int index = 0) {
  BindingDef b;
  b.slot = slot;
  b.index = static_cast<uint8_t>(index);
  return b;
}

/// Fills the table-independent parts of a definition.
OpDef makeOp(const char *name, lowbit_hal_op_kind kind,
             std::initializer_list<RoleDef> inputs,
             std::initializer_list<RoleDef> weights,
             std::initializer_list<AttrDef> attrs,
             std::initializer_list<BindingDef> bindings) {
  OpDef d;
  d.name = name;
  d.kind = kind;
  d.output = role("out", ValueType::F32);
  for (const RoleDef &r : inputs)
    d.inputs[d.numInputs++] = r;
  for (const RoleDef &r : weights)
    d.weights[d.numWeights++] = r;
  // The table is built once from the literals below; more attributes than
  // kMaxAttrs would be a bug in this file.
  assert(attrs.size() <= size_t(kMaxAttrs) && "raise kMaxAttrs");
  for (const AttrDef &a : attrs)
    if (d.numAttrs < kMaxAttrs)
      d.attrs[d.numAttrs++] = a;
  for (const BindingDef &b : bindings)
    d.bindings[d.numBindings++] = b;
  return d;
}

//===----------------------------------------------------------------------===//
// embedding: out[t] = table[ids[t]]
//===----------------------------------------------------------------------===//

std::string embeddingShape(ShapeQuery &q) {
  const WeightInfo &t = q.weights[0];
  if (t.shape.size() != 2)
    return "tensor '" + std::string(t.name) + "' must have rank 2, has shape " +
           shapeString(t.shape);
  q.desc.rows = t.shape[0];
  q.desc.cols = q.outCols;
  q.wantWeight[0] = {q.desc.rows, q.desc.cols};
  return "";
}

bool embeddingRef(OpCall &c) {
  const lowbit_hal_op_desc &d = *c.desc;
  const float *table = c.get<const float>(0, d.rows * d.cols, "table");
  const int32_t *ids = c.get<const int32_t>(1, c.rows, "ids");
  float *out = c.get<float>(2, c.rows * d.cols, "out");
  if (!c.error.empty())
    return false;
  kernels::Status s =
      kernels::embedding(table, d.rows, d.cols, ids, c.rows, out);
  if (!s) {
    c.error = "embedding: " + s.message();
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// qembedding: out[t] = dequant(packed)[ids[t]] (a quantized table, e.g. the
// one a tied lm_head's qmatmul reads)
//===----------------------------------------------------------------------===//

const char *const kScaleTypes[] = {"f32", "f16", nullptr};
const char *const kZeroForms[] = {"zero_point", "min", nullptr};

/// The scheme attributes qmatmul and qembedding share (bits, group_size,
/// symmetric, scale_type at indices 2 to 5) into the descriptor.
void schemeFromAttrs(ShapeQuery &q) {
  q.desc.bits = static_cast<int32_t>(attr(q, 2).i);
  q.desc.group_size = attr(q, 3).i;
  if (attr(q, 4).b)
    q.desc.flags |= LOWBIT_HAL_OP_SYMMETRIC;
  if (attr(q, 5).choice == 1)
    q.desc.flags |= LOWBIT_HAL_OP_F16_SCALES;
}

std::string qembeddingShape(ShapeQuery &q) {
  const int64_t V = attr(q, 0).i, D = attr(q, 1).i;
  q.desc.rows = V;
  q.desc.cols = D;
  q.wantOut = D;
  schemeFromAttrs(q);
  q.layout = attr(q, 6).s;
  if (attr(q, 7).present && attr(q, 7).choice == 1)
    q.desc.flags |= LOWBIT_HAL_OP_MIN_ZERO;
  if (attr(q, 8).present)
    q.desc.super_group = attr(q, 8).i;
  const WeightInfo &t = q.weights[0];
  q.desc.weight_bytes = t.bytes;
  // Unlike a qmatmul's (the target's kernels check theirs), the portable
  // reference decodes this table: check it against its codec here.
  const codec::Codec *c = codec::findCodec(q.layout);
  if (!c)
    return "unknown weight codec '" + q.layout + "'";
  codec::WeightDesc w = weightDescOf(q.desc);
  std::string why;
  if (!codec::validateDesc(w, &why) || !c->supports(w, &why))
    return "weight codec " + q.layout + ": " + why;
  int64_t bytes = c->byteSize(w);
  if (bytes < 0 || static_cast<uint64_t>(bytes) != t.bytes)
    return "tensor '" + std::string(t.name) + "' has " +
           std::to_string(t.bytes) + " bytes, codec " + q.layout + " needs " +
           std::to_string(bytes) + " for a " + std::to_string(V) + "x" +
           std::to_string(D) + " table";
  return "";
}

bool qembeddingRef(OpCall &c) {
  const lowbit_hal_op_desc &d = *c.desc;
  const uint8_t *table = c.get<const uint8_t>(0, d.weight_bytes, "table");
  const int32_t *ids = c.get<const int32_t>(1, c.rows, "ids");
  float *out = c.get<float>(2, c.rows * d.cols, "out");
  if (!c.error.empty())
    return false;
  const codec::Codec *codec = d.layout ? codec::findCodec(d.layout) : nullptr;
  if (!codec) {
    c.error = "qembedding: unknown weight codec";
    return false;
  }
  const codec::WeightDesc w = weightDescOf(d);
  for (int64_t t = 0; t < c.rows; ++t) {
    if (ids[t] < 0 || ids[t] >= d.rows) {
      c.error = "qembedding: token id " + std::to_string(ids[t]) +
                " at position " + std::to_string(t) +
                " is outside the vocabulary [0, " + std::to_string(d.rows) +
                ")";
      return false;
    }
    std::string error;
    if (!codec->dequantizeRows(w, table, d.weight_bytes, ids[t], ids[t] + 1,
                               out + t * d.cols, &error)) {
      c.error = "qembedding: " + error;
      return false;
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// rms_norm: out = x / rms(x) * weight
//===----------------------------------------------------------------------===//

std::string rmsNormShape(ShapeQuery &q) {
  q.desc.cols = q.inCols[0];
  q.wantOut = q.desc.cols;
  q.wantWeight[0] = {q.desc.cols};
  // Checked as a double: a finite value above FLT_MAX would become an
  // infinite float eps (and the conversion is undefined behaviour).
  double eps = attr(q, 0).f;
  if (!(eps >= 0.0))
    return "field 'eps' must not be negative";
  if (eps > std::numeric_limits<float>::max())
    return "field 'eps' is out of range for f32";
  q.desc.eps = static_cast<float>(eps);
  return "";
}

bool rmsNormRef(OpCall &c) {
  const lowbit_hal_op_desc &d = *c.desc;
  const float *x = c.get<const float>(0, c.rows * d.cols, "x");
  const float *w = c.get<const float>(1, d.cols, "weight");
  float *out = c.get<float>(2, c.rows * d.cols, "out");
  if (!c.error.empty())
    return false;
  kernels::rmsNorm(x, c.rows, d.cols, w, d.eps, out, c.pool);
  return true;
}

//===----------------------------------------------------------------------===//
// linear: out = x weight^T + bias
//===----------------------------------------------------------------------===//

std::string linearShape(ShapeQuery &q) {
  q.desc.cols = q.inCols[0];
  q.desc.rows = q.outCols;
  q.wantWeight[0] = {q.desc.rows, q.desc.cols};
  q.wantWeight[1] = {q.desc.rows};
  if (q.weights[1].present)
    q.desc.flags |= LOWBIT_HAL_OP_HAS_BIAS;
  return "";
}

bool linearRef(OpCall &c) {
  const lowbit_hal_op_desc &d = *c.desc;
  const float *x = c.get<const float>(0, c.rows * d.cols, "x");
  const float *w = c.get<const float>(1, d.rows * d.cols, "weight");
  const float *bias = c.get<const float>(2, d.rows, "bias", true);
  float *out = c.get<float>(3, c.rows * d.rows, "out");
  if (!c.error.empty())
    return false;
  kernels::linear(x, c.rows, d.cols, w, d.rows, bias, out);
  return true;
}

//===----------------------------------------------------------------------===//
// qmatmul: out = x dequant(packed)^T + bias (the target's kernels)
//===----------------------------------------------------------------------===//

std::string qmatmulShape(ShapeQuery &q) {
  const int64_t N = attr(q, 0).i, K = attr(q, 1).i;
  q.desc.rows = N;
  q.desc.cols = K;
  q.wantIn[0] = K;
  q.wantOut = N;
  q.wantWeight[1] = {N};
  q.wantWeight[2] = {K};
  if (q.weights[1].present)
    q.desc.flags |= LOWBIT_HAL_OP_HAS_BIAS;
  if (const WeightInfo &p = q.weights[2]; p.present) {
    if (p.shape != std::vector<int64_t>{K})
      return "tensor '" + std::string(p.name) + "' has shape " +
             shapeString(p.shape) + ", expected " + shapeString({K});
    const int32_t *perm = static_cast<const int32_t *>(p.data);
    std::vector<bool> seen(static_cast<size_t>(K), false);
    for (int64_t j = 0; j < K; ++j) {
      int32_t v = perm[j];
      if (v < 0 || v >= K || seen[size_t(v)])
        return "perm tensor '" + std::string(p.name) +
               "' is not a permutation of [0, " + std::to_string(K) +
               "): entry " + std::to_string(j) + " = " + std::to_string(v);
      seen[size_t(v)] = true;
    }
    q.desc.flags |= LOWBIT_HAL_OP_HAS_PERM;
  }
  // The quantization scheme (what every device needs); the packed layout's
  // own checks are the device's.
  schemeFromAttrs(q);
  // Manifests without a `layout` field hold the layout of their target.
  if (attr(q, 6).present)
    q.layout = attr(q, 6).s;
  else if (std::string_view(q.target) == "x86")
    q.layout = "x86-tile16-v1";
  else
    return "missing field 'layout'";
  if (attr(q, 7).present)
    q.desc.super_group = attr(q, 7).i;
  q.desc.weight_bytes = q.weights[0].bytes;
  return "";
}

//===----------------------------------------------------------------------===//
// rotary: rotate each head's channel pairs by position * inverse frequency
//===----------------------------------------------------------------------===//

const char *const kRotaryStyles[] = {"rotate_half", "interleaved", nullptr};

std::string rotaryShape(ShapeQuery &q) {
  const int64_t cols = q.inCols[0];
  q.wantOut = cols;
  if (attr(q, 0).choice == 1)
    q.desc.flags |= LOWBIT_HAL_OP_ROTARY_INTERLEAVED;
  double theta = attr(q, 1).f;
  if (!(theta > 0.0))
    return "field 'theta' must be positive";
  q.desc.theta = theta;
  q.desc.head_dim = attr(q, 2).i;
  if (q.desc.head_dim % 2 != 0 || cols % q.desc.head_dim != 0)
    return "head_dim " + std::to_string(q.desc.head_dim) +
           " must be even and divide the input's " + std::to_string(cols) +
           " columns";
  q.desc.num_heads = cols / q.desc.head_dim;
  q.desc.cols = cols;
  return "";
}

std::string rotaryPrepare(const lowbit_hal_op_desc &d,
                          std::vector<double> &constants) {
  if (d.head_dim < 2 || d.head_dim % 2 || !(d.theta > 0.0))
    return "rotary needs an even head_dim and theta > 0";
  constants.resize(static_cast<size_t>(d.head_dim / 2));
  kernels::computeRotaryInvFreq(d.head_dim, d.theta, constants.data());
  return "";
}

bool rotaryRef(OpCall &c) {
  const lowbit_hal_op_desc &d = *c.desc;
  const int64_t n = c.rows * d.num_heads * d.head_dim;
  const float *x = c.get<const float>(0, n, "x");
  const int32_t *pos = c.get<const int32_t>(1, c.rows, "positions");
  float *out = c.get<float>(2, n, "out");
  if (!c.error.empty())
    return false;
  if (out != x)
    std::copy(x, x + n, out);
  kernels::rotary(out, c.rows, d.num_heads, d.head_dim, pos, c.constants,
                  (d.flags & LOWBIT_HAL_OP_ROTARY_INTERLEAVED)
                      ? kernels::RotaryStyle::Interleaved
                      : kernels::RotaryStyle::HalfSplit,
                  c.pool);
  return true;
}

//===----------------------------------------------------------------------===//
// attention: causal grouped-query attention over the layer's KV cache
//===----------------------------------------------------------------------===//

std::string attentionShape(ShapeQuery &q) {
  lowbit_hal_op_desc &d = q.desc;
  d.num_heads = attr(q, 1).i;
  d.num_kv_heads = attr(q, 2).i;
  d.head_dim = attr(q, 3).i;
  if (d.num_heads % d.num_kv_heads != 0)
    return "num_heads " + std::to_string(d.num_heads) +
           " is not a multiple of num_kv_heads " +
           std::to_string(d.num_kv_heads);
  const int64_t qCols = d.num_heads * d.head_dim;
  const int64_t kvCols = d.num_kv_heads * d.head_dim;
  q.wantIn[0] = qCols;
  q.wantIn[1] = kvCols;
  q.wantIn[2] = kvCols;
  q.wantIn[3] = 1;
  q.wantOut = qCols;
  return "";
}

std::string attentionPrepare(const lowbit_hal_op_desc &d,
                             std::vector<double> &) {
  if (d.num_heads <= 0 || d.num_kv_heads <= 0 || d.head_dim <= 0 ||
      d.num_heads % d.num_kv_heads)
    return "attention heads " + std::to_string(d.num_heads) + "/" +
           std::to_string(d.num_kv_heads) + " are not valid";
  return "";
}

int64_t attentionScratch(const lowbit_hal_op_desc &d, int64_t cacheRows,
                         kernels::ThreadPool *pool) {
  return kernels::attentionScratchSize(cacheRows, d.head_dim, pool, d.num_heads,
                                       d.num_kv_heads);
}

bool attentionRef(OpCall &c) {
  const lowbit_hal_op_desc &d = *c.desc;
  AttentionOperands o;
  if (!attentionOperands(c, o))
    return false;
  kernels::Status s =
      c.floatAccumulation
          ? kernels::attentionF32(o.q, o.k, o.v, o.pos, c.rows, d.num_heads,
                                  d.num_kv_heads, d.head_dim, o.cache, o.out)
          : kernels::attention(o.q, o.k, o.v, o.pos, c.rows, d.num_heads,
                               d.num_kv_heads, d.head_dim, o.cache, o.out,
                               c.pool, c.scratch, c.scratchSize);
  if (!s) {
    c.error = "attention: " + s.message();
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// gated_act and add: elementwise on two [T, n] inputs
//===----------------------------------------------------------------------===//

const char *const kGatedActKinds[] = {"silu", "gelu_tanh", nullptr};

std::string elementwiseShape(ShapeQuery &q) {
  q.desc.cols = q.inCols[0];
  q.wantIn[1] = q.desc.cols;
  q.wantOut = q.desc.cols;
  return "";
}

std::string gatedActShape(ShapeQuery &q) {
  if (attr(q, 0).choice == 1)
    q.desc.flags |= LOWBIT_HAL_OP_GELU_TANH;
  return elementwiseShape(q);
}

template <bool IsAdd> bool elementwiseRef(OpCall &c) {
  const lowbit_hal_op_desc &d = *c.desc;
  const int64_t n = c.rows * d.cols;
  const float *a = c.get<const float>(0, n, "first input");
  const float *b = c.get<const float>(1, n, "second input");
  float *out = c.get<float>(2, n, "out");
  if (!c.error.empty())
    return false;
  if (IsAdd)
    kernels::add(a, b, n, out, c.pool);
  else if (d.flags & LOWBIT_HAL_OP_GELU_TANH)
    kernels::geluTanhMul(a, b, n, out, c.pool);
  else
    kernels::siluMul(a, b, n, out, c.pool);
  return true;
}

//===----------------------------------------------------------------------===//
// The table
//===----------------------------------------------------------------------===//

using VT = ValueType;

struct Table {
  OpDef ops[LOWBIT_HAL_OP_KIND_COUNT];
  Table();
};

Table::Table() {
  OpDef &emb = ops[LOWBIT_HAL_OP_EMBEDDING] =
      makeOp("embedding", LOWBIT_HAL_OP_EMBEDDING, {role("tokens", VT::I32)},
             {role("table", VT::F32)}, {},
             {bind(Slot::Weight, 0), bind(Slot::Input, 0), bind(Slot::Output)});
  emb.shape = embeddingShape;
  emb.reference = embeddingRef;

  OpDef &rms = ops[LOWBIT_HAL_OP_RMS_NORM] =
      makeOp("rms_norm", LOWBIT_HAL_OP_RMS_NORM, {role("input", VT::F32)},
             {role("weight", VT::F32)}, {numberAttr("eps")},
             {bind(Slot::Input, 0), bind(Slot::Weight, 0), bind(Slot::Output)});
  rms.shape = rmsNormShape;
  rms.reference = rmsNormRef;

  OpDef &lin = ops[LOWBIT_HAL_OP_LINEAR] =
      makeOp("linear", LOWBIT_HAL_OP_LINEAR, {role("input", VT::F32)},
             {role("weight", VT::F32), role("bias", VT::F32, true)}, {},
             {bind(Slot::Input, 0), bind(Slot::Weight, 0),
              bind(Slot::Weight, 1), bind(Slot::Output)});
  lin.shape = linearShape;
  lin.reference = linearRef;

  OpDef &qmm = ops[LOWBIT_HAL_OP_QMATMUL] = makeOp(
      "qmatmul", LOWBIT_HAL_OP_QMATMUL, {role("input", VT::F32)},
      {role("weight", VT::Bytes), role("bias", VT::F32, true),
       role("perm", VT::I32, true)},
      {intAttr("N", 1, kMaxDim), intAttr("K", 1, kMaxDim),
       intAttr("bits", 1, 64), intAttr("group_size"), boolAttr("symmetric"),
       stringAttr("scale_type", kScaleTypes),
       stringAttr("layout", nullptr, /*required=*/false),
       intAttr("super_group", 2, kMaxDim, /*required=*/false)},
      {bind(Slot::Input, 0), bind(Slot::Weight, 0), bind(Slot::Weight, 1),
       bind(Slot::Weight, 2), bind(Slot::Output)});
  qmm.shape = qmatmulShape;
  qmm.deviceFields = true;
  qmm.targetKernel = true;

  OpDef &rot = ops[LOWBIT_HAL_OP_ROTARY] =
      makeOp("rotary", LOWBIT_HAL_OP_ROTARY,
             {role("input", VT::F32), role("positions", VT::I32)}, {},
             {stringAttr("style", kRotaryStyles), numberAttr("theta"),
              intAttr("head_dim", 2, 1 << 16)},
             {bind(Slot::Input, 0), bind(Slot::Input, 1), bind(Slot::Output)});
  rot.shape = rotaryShape;
  rot.prepare = rotaryPrepare;
  rot.reference = rotaryRef;

  OpDef &att = ops[LOWBIT_HAL_OP_ATTENTION] = makeOp(
      "attention", LOWBIT_HAL_OP_ATTENTION,
      {role("q", VT::F32), role("k", VT::F32), role("v", VT::F32),
       role("positions", VT::I32)},
      {},
      {intAttr("layer"), intAttr("num_heads", 1, 1 << 16),
       intAttr("num_kv_heads", 1, 1 << 16), intAttr("head_dim", 1, 1 << 16)},
      {bind(Slot::Input, 0), bind(Slot::Input, 1), bind(Slot::Input, 2),
       bind(Slot::Input, 3), bind(Slot::CacheK), bind(Slot::CacheV),
       bind(Slot::Output)});
  att.cacheAttr = "layer";
  att.shape = attentionShape;
  att.prepare = attentionPrepare;
  att.scratchDoubles = attentionScratch;
  att.reference = attentionRef;

  OpDef &gat = ops[LOWBIT_HAL_OP_GATED_ACT] =
      makeOp("gated_act", LOWBIT_HAL_OP_GATED_ACT,
             {role("first input", VT::F32), role("second input", VT::F32)}, {},
             {stringAttr("kind", kGatedActKinds)},
             {bind(Slot::Input, 0), bind(Slot::Input, 1), bind(Slot::Output)});
  gat.shape = gatedActShape;
  gat.reference = elementwiseRef<false>;

  OpDef &add = ops[LOWBIT_HAL_OP_ADD] = makeOp(
      "add", LOWBIT_HAL_OP_ADD,
      {role("first input", VT::F32), role("second input", VT::F32)}, {}, {},
      {bind(Slot::Input, 0), bind(Slot::Input, 1), bind(Slot::Output)});
  add.shape = elementwiseShape;
  add.reference = elementwiseRef<true>;

  OpDef &qemb = ops[LOWBIT_HAL_OP_QEMBEDDING] = makeOp(
      "qembedding", LOWBIT_HAL_OP_QEMBEDDING, {role("tokens", VT::I32)},
      {role("weight", VT::Bytes)},
      {intAttr("N", 1, kMaxDim), intAttr("K", 1, kMaxDim),
       intAttr("bits", 2, 8), intAttr("group_size"), boolAttr("symmetric"),
       stringAttr("scale_type", kScaleTypes), stringAttr("layout", nullptr),
       stringAttr("zero_form", kZeroForms, /*required=*/false),
       intAttr("super_group", 2, kMaxDim, /*required=*/false)},
      {bind(Slot::Weight, 0), bind(Slot::Input, 0), bind(Slot::Output)});
  qemb.shape = qembeddingShape;
  qemb.reference = qembeddingRef;
}

const Table &table() {
  static const Table t;
  return t;
}

} // namespace

codec::WeightDesc lowbit::rt::ops::weightDescOf(const lowbit_hal_op_desc &d) {
  codec::WeightDesc w;
  w.bits = static_cast<unsigned>(d.bits);
  w.groupSize = d.group_size;
  w.symmetric = (d.flags & LOWBIT_HAL_OP_SYMMETRIC) != 0;
  w.scaleType = (d.flags & LOWBIT_HAL_OP_F16_SCALES) ? codec::ScaleType::F16
                                                     : codec::ScaleType::F32;
  w.zeroKind = (d.flags & LOWBIT_HAL_OP_MIN_ZERO) ? codec::ZeroKind::FloatMin
                                                  : codec::ZeroKind::Integer;
  w.superGroup = d.super_group;
  w.N = d.rows;
  w.K = d.cols;
  return w;
}

bool lowbit::rt::ops::attentionOperands(OpCall &c, AttentionOperands &o) {
  const lowbit_hal_op_desc &d = *c.desc;
  const int64_t T = c.rows, C = c.cacheRows;
  const int64_t qCols = d.num_heads * d.head_dim;
  const int64_t kvCols = d.num_kv_heads * d.head_dim;
  o.q = c.get<const float>(0, T * qCols, "q");
  o.k = c.get<const float>(1, T * kvCols, "k");
  o.v = c.get<const float>(2, T * kvCols, "v");
  o.pos = c.get<const int32_t>(3, T, "positions");
  o.cache.k = c.get<float>(4, C * kvCols, "k cache");
  o.cache.v = c.get<float>(5, C * kvCols, "v cache");
  o.cache.maxCtx = C;
  o.cache.numKVHeads = d.num_kv_heads;
  o.cache.headDim = d.head_dim;
  o.out = c.get<float>(6, T * qCols, "out");
  return c.error.empty();
}

const char *lowbit::rt::ops::valueTypeName(ValueType type) {
  switch (type) {
  case ValueType::F32:
    return "f32";
  case ValueType::I32:
    return "i32";
  case ValueType::Bytes:
    return "bytes";
  }
  return "?";
}

void *OpCall::fail(int i, uint64_t bytes, const char *what) {
  const lowbit_hal_binding &x = bind[i];
  if (!error.empty())
    return nullptr;
  if (!x.buffer)
    error = std::string("dispatch: binding ") + std::to_string(i) + " (" +
            what + ") is missing";
  else
    error = std::string("dispatch: binding ") + std::to_string(i) + " (" +
            what + ") of " + std::to_string(x.length) + " bytes at offset " +
            std::to_string(x.offset) + " does not hold the " +
            std::to_string(bytes) + " bytes needed";
  return nullptr;
}

int OpDef::attrIndex(std::string_view attr) const {
  for (int i = 0; i < numAttrs; ++i)
    if (attr == attrs[i].name)
      return i;
  return -1;
}

const OpDef *lowbit::rt::ops::opTable() { return table().ops; }
int lowbit::rt::ops::opCount() { return LOWBIT_HAL_OP_KIND_COUNT; }

const OpDef *lowbit::rt::ops::opByKind(int kind) {
  if (kind < 0 || kind >= LOWBIT_HAL_OP_KIND_COUNT)
    return nullptr;
  return &table().ops[kind];
}

const OpDef *lowbit::rt::ops::opByName(std::string_view name) {
  for (const OpDef &d : table().ops)
    if (name == d.name)
      return &d;
  return nullptr;
}

std::string lowbit::rt::ops::checkAttr(const AttrDef &def, AttrValue &value) {
  const std::string field = std::string("field '") + def.name + "'";
  switch (def.type) {
  case AttrType::Int:
    if (value.i < def.lo || value.i > def.hi)
      return field + " = " + std::to_string(value.i) + " is outside [" +
             std::to_string(def.lo) + ", " + std::to_string(def.hi) + "]";
    return "";
  case AttrType::Number:
    if (!std::isfinite(value.f))
      return field + " must be finite";
    return "";
  case AttrType::Bool:
    return "";
  case AttrType::String:
    if (!def.choices)
      return "";
    for (int c = 0; def.choices[c]; ++c)
      if (value.s == def.choices[c]) {
        value.choice = c;
        return "";
      }
    std::string list;
    for (int c = 0; def.choices[c]; ++c)
      list += std::string(c ? ", " : "") + def.choices[c];
    return field + " = '" + value.s + "' is not one of " + list;
  }
  return "";
}
