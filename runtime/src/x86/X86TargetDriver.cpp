//===- X86TargetDriver.cpp - the HAL driver `x86` ---------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The HAL device (lowbitrt/hal.h) of target `x86`: a HostDevice (host
/// memory, the portable kernels for every op but qmatmul) whose executable
/// is the bundle's kernel library (KernelLibrary) and whose qmatmul kernels
/// are the generated ones: kernel_create checks the packed weight against
/// packedWeightBytes, resolves the kernels the op lists and picks the best
/// ISA variant this CPU runs (rankVariants); dispatch goes to runQMatmul.
///
//===----------------------------------------------------------------------===//

#include "Activation.h"
#include "Attention.h"
#include "CpuFeatures.h"
#include "EngineError.h"
#include "Fields.h"
#include "HostDevice.h"
#include "X86Driver.h"

#include <algorithm>
#include <cstring>
#include <vector>

using lowbit::hal::HostDevice;
using lowbit::hal::HostKernel;
using lowbit::hal::HostQMatmul;
using lowbit::hal::HostQueue;
using lowbit::hal::makeStatus;
using lowbit::hal::QMatmulArgs;
using lowbit::rt::engine::EngineError;
using lowbit::rt::engine::Fields;
using json = nlohmann::json;

namespace lowbitrt::x86 {

namespace {

/// The packed layout the generated kernels read (codec name).
constexpr const char *kLayout = "x86-tile16-v1";

[[noreturn]] void fail(const std::string &msg,
                       lowbit_rt_status status = LOWBIT_RT_FORMAT) {
  throw EngineError(status, msg);
}

struct X86Executable {
  std::unique_ptr<KernelLibrary> library;
};

/// attention on the fp32 SIMD kernel of ISA \p Isa (Attention.h), with the
/// bindings and scratch of the op table's reference implementation.
template <X86Variant Isa> bool attentionOp(lowbit::rt::ops::OpCall &c) {
  lowbit::rt::ops::AttentionOperands o;
  if (!lowbit::rt::ops::attentionOperands(c, o))
    return false;
  AttentionArgs a;
  a.q = o.q;
  a.k = o.k;
  a.v = o.v;
  a.pos = o.pos;
  a.T = c.rows;
  a.H = c.desc->num_heads;
  a.Hkv = c.desc->num_kv_heads;
  a.Dh = c.desc->head_dim;
  a.cache = o.cache;
  a.out = o.out;
  // The op table's scratch (doubles) is sized for this kernel too
  // (kernels::attentionScratchSize with the group).
  a.scratch = reinterpret_cast<float *>(c.scratch);
  a.scratchFloats = 2 * c.scratchSize;
  lowbit::rt::kernels::Status s = attentionF32(Isa, a, c.pool);
  if (!s) {
    c.error = "attention: " + s.message();
    return false;
  }
  return true;
}

/// gated_act silu (the op table's bindings: gate, up, out; [rows, cols]).
template <X86Variant Isa> bool siluMulOp(lowbit::rt::ops::OpCall &c) {
  const int64_t n = c.rows * c.desc->cols;
  const float *gate = c.get<const float>(0, n, "first input");
  const float *up = c.get<const float>(1, n, "second input");
  float *out = c.get<float>(2, n, "out");
  if (!c.error.empty())
    return false;
  siluMulF32(Isa, gate, up, n, out, c.pool);
  return true;
}

/// A bound qmatmul: the call without its operands (bound per dispatch).
struct X86QMatmul : HostQMatmul {
  QMatmulCall call;
};

class X86Device final : public HostDevice {
public:
  const char *name() const override { return "x86"; }
  const char *description() const override { return isa.c_str(); }

  bool supportsQMatmul(const lowbit_hal_op_desc &op) const override {
    return op.layout && std::strcmp(op.layout, kLayout) == 0 &&
           (op.bits == 2 || op.bits == 3 || op.bits == 4 || op.bits == 8);
  }

  lowbit::hal::HostOpFn
  hostKernel(const lowbit_hal_op_desc &op) const override {
    const bool wide = supportsVariant(cpu, X86Variant::AVX512);
    if (!wide && !supportsVariant(cpu, X86Variant::AVX2))
      return nullptr;
    if (op.kind == LOWBIT_HAL_OP_ATTENTION)
      return wide ? attentionOp<X86Variant::AVX512>
                  : attentionOp<X86Variant::AVX2>;
    if (op.kind == LOWBIT_HAL_OP_GATED_ACT &&
        !(op.flags & LOWBIT_HAL_OP_GELU_TANH))
      return wide ? siluMulOp<X86Variant::AVX512> : siluMulOp<X86Variant::AVX2>;
    return nullptr;
  }

  lowbit_hal_status loadExecutable(const char *format, const void *data,
                                   uint64_t size,
                                   lowbit_hal_executable **out) override {
    std::string err;
    bool unsupported = false;
    auto exe = std::make_unique<X86Executable>();
    exe->library = KernelLibrary::load(static_cast<const uint8_t *>(data),
                                       static_cast<size_t>(size), format, err,
                                       unsupported);
    if (!exe->library)
      return makeStatus(unsupported ? LOWBIT_HAL_UNSUPPORTED
                                    : LOWBIT_HAL_FORMAT,
                        "code blob 'x86': " + err);
    *out = reinterpret_cast<lowbit_hal_executable *>(exe.release());
    return nullptr;
  }

  void freeExecutable(lowbit_hal_executable *executable) override {
    delete reinterpret_cast<X86Executable *>(executable);
  }

  lowbit_hal_status createQMatmul(lowbit_hal_executable *executable,
                                  const lowbit_hal_op_desc &op,
                                  std::unique_ptr<HostQMatmul> &out) override {
    // Fields.h reports malformed fields with an EngineError; it stops here.
    try {
      out = bind(reinterpret_cast<X86Executable *>(executable), op);
      return nullptr;
    } catch (const EngineError &e) {
      return makeStatus(e.status == LOWBIT_RT_UNSUPPORTED
                            ? LOWBIT_HAL_UNSUPPORTED
                            : LOWBIT_HAL_FORMAT,
                        e.message);
    } catch (const std::bad_alloc &) {
      return makeStatus(LOWBIT_HAL_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception &e) {
      return makeStatus(LOWBIT_HAL_INTERNAL, e.what());
    }
  }

  int64_t qmatmulScratchFloats(const HostKernel &kernel, int64_t maxRows,
                               unsigned) const override {
    // The gathered activations of an act-order permutation.
    return (kernel.desc.flags & LOWBIT_HAL_OP_HAS_PERM)
               ? maxRows * kernel.desc.cols
               : 0;
  }

  lowbit_hal_status runQMatmul(const HostKernel &kernel, const QMatmulArgs &a,
                               HostQueue &queue) const override {
    QMatmulCall call = static_cast<const X86QMatmul &>(*kernel.qmatmul).call;
    call.packed = a.packed;
    call.bias = a.bias;
    call.perm = a.perm;
    x86::runQMatmul(call, a.x, a.T, a.y, queue.qmatmul.data(),
                    queue.pool.get());
    return nullptr;
  }

private:
  std::unique_ptr<X86QMatmul> bind(X86Executable *exe,
                                   const lowbit_hal_op_desc &op);
  void chooseKernels(const X86Executable *exe, const Fields &f,
                     QMatmulCall &call, bool int8Path);

  CpuFeatures cpu = detectCpuFeatures();
  /// The variants chosen so far, in the order first chosen.
  std::vector<std::string> chosenIsas;
  /// chosenIsas joined by '+' ("none" before any).
  std::string isa = "none";
};

std::unique_ptr<X86QMatmul> X86Device::bind(X86Executable *exe,
                                            const lowbit_hal_op_desc &op) {
  const std::string ctx = op.context ? op.context : "qmatmul";
  if (!op.op_json)
    fail(ctx + ": the x86 driver needs the op's fields");
  json fieldsJson = json::parse(op.op_json, op.op_json + op.op_json_size,
                                nullptr, /*allow_exceptions=*/false);
  Fields f(fieldsJson, ctx);

  auto q = std::make_unique<X86QMatmul>();
  QMatmulCall &call = q->call;
  call.N = op.rows;
  call.K = op.cols;

  // The packed layout (a lowbitrt/Codec.h name). Bundles written before the
  // manifest recorded it hold the only layout x86 bundles had.
  std::string layout =
      f.has("layout") ? f.string("layout") : std::string(kX86WeightLayout);
  if (layout != kX86WeightLayout)
    fail(ctx + ": weight layout '" + layout +
             "' is not read by the x86 driver (it reads '" + kX86WeightLayout +
             "')",
         LOWBIT_RT_UNSUPPORTED);

  PackedShape shape;
  shape.bits = op.bits;
  shape.groupSize = op.group_size;
  shape.symmetric = (op.flags & LOWBIT_HAL_OP_SYMMETRIC) != 0;
  shape.f16Scales = (op.flags & LOWBIT_HAL_OP_F16_SCALES) != 0;
  // Super-block scales (codec x86-tile16-v1 with WeightDesc::superGroup);
  // the kernels named below are generated for it.
  shape.superGroup = op.super_group;
  shape.K = call.K;
  shape.N = call.N;
  std::string err;
  int64_t bytes = packedWeightBytes(shape, err);
  if (bytes < 0)
    fail(ctx + ": " + err);
  std::string weightName = f.string("weight");
  if (op.weight_bytes != static_cast<uint64_t>(bytes))
    fail(ctx + ": packed weight '" + weightName + "' has " +
         std::to_string(op.weight_bytes) +
         " bytes, the packed layout of N = " + std::to_string(call.N) +
         ", K = " + std::to_string(call.K) + " needs " + std::to_string(bytes));

  std::string path = f.string("path");
  if (path != "fp32" && path != "int8")
    fail(ctx + ": path '" + path + "' is not fp32 or int8");
  chooseKernels(exe, f, call, path == "int8");
  return q;
}

void X86Device::chooseKernels(const X86Executable *exe, const Fields &f,
                              QMatmulCall &call, bool int8Path) {
  const std::string &ctx = f.context();
  if (!exe || !exe->library)
    fail(ctx + ": the bundle has no code blob for target 'x86'");
  struct Variant {
    X86Variant isa;
    int64_t tile;
    lowbit_x86_qmatmul_fn fn;
  };
  std::vector<Variant> variants;
  const json &list = f.array("kernels");
  if (list.empty())
    fail(ctx + ": field 'kernels' is empty");
  for (size_t i = 0; i < list.size(); ++i) {
    Fields k(list[i], ctx + ": kernels[" + std::to_string(i) + "]");
    std::string isaName = k.string("isa");
    Variant v;
    bool known = false;
    for (auto c : {X86Variant::AVX2, X86Variant::AVXVNNI, X86Variant::AVX512,
                   X86Variant::AVX512VNNI})
      if (isaName == variantName(c))
        v.isa = c, known = true;
    if (!known)
      fail(k.context() + ": unknown isa '" + isaName + "'");
    v.tile = k.integer("batch_tile", 1, 1 << 16);
    std::string symbol = k.string("symbol");
    v.fn = exe->library->lookup(symbol);
    if (!v.fn)
      fail(k.context() + ": symbol '" + symbol +
           "' is not in the kernel library");
    variants.push_back(v);
  }

  for (X86Variant candidate : rankVariants(cpu, int8Path)) {
    const Variant *gemv = nullptr, *gemm = nullptr;
    for (const Variant &v : variants) {
      if (v.isa != candidate)
        continue;
      // T == 1 takes the batch_tile 1 kernel (else the smallest tile), T > 1
      // the largest tile.
      if (!gemv || v.tile < gemv->tile)
        gemv = &v;
      if (!gemm || v.tile > gemm->tile)
        gemm = &v;
    }
    if (!gemv)
      continue;
    call.gemv = gemv->fn;
    call.gemm = gemm->fn;
    std::string chosen = variantName(candidate);
    if (std::find(chosenIsas.begin(), chosenIsas.end(), chosen) ==
        chosenIsas.end()) {
      chosenIsas.push_back(chosen);
      isa.clear();
      for (const std::string &s : chosenIsas)
        isa += (isa.empty() ? "" : "+") + s;
    }
    return;
  }
  fail(ctx + ": no kernel variant runs on this CPU (" + cpu.describe() + ")",
       LOWBIT_RT_UNSUPPORTED);
}

lowbit_hal_status createX86Device(const lowbit_hal_device_params *,
                                  lowbit_hal_device **out) {
  *out = new X86Device();
  return nullptr;
}

} // namespace

} // namespace lowbitrt::x86

LOWBIT_HAL_DEFINE_DRIVER(x86, lowbitrt::x86::createX86Device);
