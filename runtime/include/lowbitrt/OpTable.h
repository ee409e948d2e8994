//===- OpTable.h - one table of graph op semantics --------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Every graph op of a bundle's program (docs/bundle-manifest.md) is declared
/// once, here, by one OpDef: its manifest name and HAL kind, its activation
/// inputs and constant weights (with their types), its attribute schema, the
/// binding order of its dispatch (lowbitrt/hal.h), its shape rule, what a
/// kernel precomputes, and its reference implementation on the portable CPU
/// kernels (lowbitrt/Kernels.h). Everything that used to switch on the op
/// reads the table instead:
///  - the manifest parser (runtime/src/engine/Model.cpp) validates an op by
///    its schema and shape rule;
///  - the engine (Engine.cpp) binds an op's buffers by its binding order;
///  - host drivers (runtime/src/hal/HostDevice.cpp) dispatch through the
///    reference implementation (an indexed table: no string lookup per step);
///  - the compiler's reference executor runs the same reference
///    implementation, bundle emission writes an op's manifest entry from its
///    schema, and the x86 legality check asks the table.
/// A new graph op is one entry in runtime/src/ops/OpTable.cpp, its compiler
/// op definition and its per-target kernels (docs/adding-an-op.md).
///
/// LLVM-free: plain C++17.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_OPTABLE_H
#define LOWBITRT_OPTABLE_H

#include "lowbitrt/Codec.h"
#include "lowbitrt/Kernels.h"
#include "lowbitrt/hal.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::rt::ops {

constexpr int kMaxInputs = 4;
constexpr int kMaxWeights = 3;
constexpr int kMaxAttrs = 12;
constexpr int kMaxBindings = 8;

/// The element type of an input, output or weight.
enum class ValueType : uint8_t {
  F32,
  I32,
  /// An opaque byte blob (a packed weight; its layout is the codec's).
  Bytes,
};

const char *valueTypeName(ValueType type);

/// An activation input (`name` is its role in messages) or a constant weight
/// (`name` is the manifest field naming the bundle tensor).
struct RoleDef {
  const char *name = nullptr;
  ValueType type = ValueType::F32;
  bool optional = false;
};

enum class AttrType : uint8_t { Int, Number, Bool, String };

/// One attribute: a scalar field of the op's manifest object.
struct AttrDef {
  const char *name = nullptr;
  AttrType type = AttrType::Int;
  bool required = true;
  /// Int: the allowed range.
  int64_t lo = INT64_MIN;
  int64_t hi = INT64_MAX;
  /// String: the allowed values (null-terminated), or null for any.
  const char *const *choices = nullptr;
};

/// A parsed attribute; `choice` is the index into AttrDef::choices.
struct AttrValue {
  bool present = false;
  int64_t i = 0;
  double f = 0.0;
  bool b = false;
  std::string s;
  int choice = -1;
};
using AttrValues = std::array<AttrValue, kMaxAttrs>;

/// What a binding of the op's dispatch holds.
enum class Slot : uint8_t { Input, Weight, Output, CacheK, CacheV };
struct BindingDef {
  Slot slot = Slot::Input;
  uint8_t index = 0;
};

/// A weight as the bundle holds it.
struct WeightInfo {
  bool present = false;
  const char *name = "";
  std::vector<int64_t> shape;
  const void *data = nullptr;
  uint64_t bytes = 0;
};

/// The question and answer of a shape rule. The caller fills the inputs'
/// and output's widths (columns; every activation is [T, cols]), the
/// attributes, the weights and the target; the rule checks them and fills
/// the kernel descriptor, the widths it requires of the buffers (-1: any)
/// and the shapes it requires of the weights (empty: not checked).
struct ShapeQuery {
  int64_t inCols[kMaxInputs] = {};
  int64_t outCols = 0;
  const AttrValues *attrs = nullptr;
  WeightInfo weights[kMaxWeights];
  /// The bundle's target (for defaults of older manifests).
  const char *target = "";

  lowbit_hal_op_desc desc{};
  int64_t wantIn[kMaxInputs] = {-1, -1, -1, -1};
  int64_t wantOut = -1;
  std::vector<int64_t> wantWeight[kMaxWeights];
  /// qmatmul: the codec of the packed weight.
  std::string layout;
};

/// Host memory behind a lowbit_hal_binding of a reference implementation:
/// host drivers' buffers start with it (runtime/src/hal/HostDevice.h), and
/// the compiler's executor wraps its tensors in it.
struct HostMemory {
  uint8_t *data = nullptr;
  uint64_t size = 0;
};

/// One dispatch of a reference implementation: the op's descriptor and
/// precomputed constants, the rows T (and cache rows C), and the bindings
/// in the op's order, each buffer a HostMemory (null: an absent optional
/// operand).
struct OpCall {
  const lowbit_hal_op_desc *desc = nullptr;
  const double *constants = nullptr;
  int64_t rows = 0;
  int64_t cacheRows = 0;
  const lowbit_hal_binding *bind = nullptr;
  kernels::ThreadPool *pool = nullptr;
  /// Scratch of OpDef::scratchDoubles doubles.
  double *scratch = nullptr;
  int64_t scratchSize = 0;
  /// The caller accepts float accumulation where a reference accumulates in
  /// double (the calibration executor): attention then runs
  /// kernels::attentionF32. Results agree to float rounding, not bitwise.
  bool floatAccumulation = false;
  /// Why the call failed (set on failure only).
  std::string error;

  /// Binding \p i as \p elems elements of T: null (and `error` set) when it
  /// is missing or does not hold them, null without error when optional and
  /// absent. A few compares, inlined (dispatch is on the decode path); the
  /// message is built only on failure.
  template <typename T>
  [[gnu::always_inline]] inline T *get(int i, int64_t elems, const char *what,
                                       bool optional = false) {
    const lowbit_hal_binding &x = bind[i];
    const HostMemory *h = reinterpret_cast<const HostMemory *>(x.buffer);
    const uint64_t bytes = static_cast<uint64_t>(elems) * sizeof(T);
    if (!h && optional)
      return nullptr;
    if (__builtin_expect(!h || x.length < bytes || x.offset > h->size ||
                             x.length > h->size - x.offset,
                         0))
      return static_cast<T *>(fail(i, bytes, what));
    return reinterpret_cast<T *>(h->data + x.offset);
  }
  [[gnu::noinline]] void *fail(int i, uint64_t bytes, const char *what);
};

/// The declaration of one graph op.
struct OpDef {
  /// The manifest's `op` and the HAL kind.
  const char *name = nullptr;
  lowbit_hal_op_kind kind = LOWBIT_HAL_OP_KIND_COUNT;
  int numInputs = 0;
  RoleDef inputs[kMaxInputs];
  RoleDef output;
  int numWeights = 0;
  RoleDef weights[kMaxWeights];
  int numAttrs = 0;
  AttrDef attrs[kMaxAttrs];
  /// The dispatch's bindings, in order.
  int numBindings = 0;
  BindingDef bindings[kMaxBindings];
  /// The attribute naming the KV cache the op binds (Slot::CacheK/CacheV),
  /// or null. A cache entry holds this attribute and `num_kv_heads` and
  /// `head_dim`.
  const char *cacheAttr = nullptr;
  /// The driver's manifest fields travel with the op (lowbit_hal_op_desc::
  /// op_json).
  bool deviceFields = false;
  /// The kernel is the target's own (lowbit_hal_device_vtable::supports_op
  /// decides); null `reference` then.
  bool targetKernel = false;

  /// The shape rule: "" or the reason (the caller prefixes the op).
  std::string (*shape)(ShapeQuery &q) = nullptr;
  /// Precomputes constants when a kernel is created: "" or the reason.
  std::string (*prepare)(const lowbit_hal_op_desc &desc,
                         std::vector<double> &constants) = nullptr;
  /// Doubles of scratch a dispatch needs (null: none).
  int64_t (*scratchDoubles)(const lowbit_hal_op_desc &desc, int64_t cacheRows,
                            kernels::ThreadPool *pool) = nullptr;
  /// The reference implementation: false with `call.error` on failure.
  bool (*reference)(OpCall &call) = nullptr;

  /// The index of attribute \p attr in `attrs`, or -1.
  int attrIndex(std::string_view attr) const;
};

/// Every graph op, indexed by lowbit_hal_op_kind.
const OpDef *opTable();
int opCount();
/// The op of HAL kind \p kind (null if out of range).
const OpDef *opByKind(int kind);
/// The op named \p name in manifests (null if none).
const OpDef *opByName(std::string_view name);

/// The codec description of a qmatmul or qembedding descriptor: bits, group
/// size, symmetric / f16-scale / float-minimum flags, N = rows, K = cols.
codec::WeightDesc weightDescOf(const lowbit_hal_op_desc &op);

/// The operands of an attention dispatch, resolved to host pointers.
struct AttentionOperands {
  const float *q = nullptr;
  const float *k = nullptr;
  const float *v = nullptr;
  const int32_t *pos = nullptr;
  kernels::KVCacheView cache;
  float *out = nullptr;
};

/// Resolves the bindings of attention call \p c (sized by its rows and cache
/// rows); false with `c.error` set when one is missing or too small. The
/// reference implementation and drivers' own attention kernels use it.
bool attentionOperands(OpCall &c, AttentionOperands &ops);

/// Parses attribute \p def from a JSON-like scalar given by its type; used by
/// frontends that do not read JSON (the compiler). Returns "" or the reason.
std::string checkAttr(const AttrDef &def, AttrValue &value);

} // namespace lowbit::rt::ops

#endif // LOWBITRT_OPTABLE_H
