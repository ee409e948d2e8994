//===- X86TargetDriver.cpp - the engine's x86 target driver -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The TargetDriver (runtime/src/engine/Driver.h) of target `x86`: loads the
/// kernel library of the bundle (KernelLibrary), checks the packed weight of
/// each qmatmul op against packedWeightBytes, resolves the kernels the op
/// lists and picks the best ISA variant this CPU runs (rankVariants), and
/// dispatches through runQMatmul.
///
//===----------------------------------------------------------------------===//

#include "CpuFeatures.h"
#include "Driver.h"
#include "Fields.h"
#include "X86Driver.h"

#include <algorithm>
#include <vector>

using lowbit::rt::Bundle;
using lowbit::rt::BundleCode;
using lowbit::rt::BundleTensor;
using lowbit::rt::DType;
using lowbit::rt::engine::EngineError;
using lowbit::rt::engine::Fields;
using lowbit::rt::engine::QMatmulOperands;
using lowbit::rt::engine::TargetDriver;
using lowbit::rt::kernels::ThreadPool;
using json = nlohmann::json;

namespace lowbitrt::x86 {

namespace {

[[noreturn]] void fail(const std::string &msg,
                       lowbit_rt_status status = LOWBIT_RT_FORMAT) {
  throw EngineError(status, msg);
}

class X86TargetDriver final : public TargetDriver {
public:
  const char *name() const override { return "x86"; }

  void load(const BundleCode *code, const Bundle &) override {
    // Without a code blob nothing is loaded; a qmatmul op is then rejected
    // when it is bound.
    if (!code)
      return;
    std::string err;
    bool unsupported = false;
    library = KernelLibrary::load(code->data, static_cast<size_t>(code->size),
                                  code->format, err, unsupported);
    if (!library)
      fail("code blob 'x86': " + err,
           unsupported ? LOWBIT_RT_UNSUPPORTED : LOWBIT_RT_FORMAT);
  }

  int bindQMatmul(const Fields &f, const Bundle &bundle,
                  const QMatmulOperands &operands) override;

  int64_t scratchFloats(int handle, int64_t maxRows) const override {
    const QMatmulCall &call = calls[static_cast<size_t>(handle)];
    // The gathered activations of an act-order permutation.
    return call.perm ? maxRows * call.K : 0;
  }

  void runQMatmul(int handle, const float *x, int64_t T, float *y,
                  float *scratch, ThreadPool *pool) const override {
    x86::runQMatmul(calls[static_cast<size_t>(handle)], x, T, y, scratch, pool);
  }

  std::string isaDescription() const override {
    if (chosenIsas.empty())
      return "none";
    std::string s;
    for (const std::string &isa : chosenIsas)
      s += (s.empty() ? "" : "+") + isa;
    return s;
  }

private:
  void chooseKernels(const Fields &f, QMatmulCall &call, bool int8Path);

  std::unique_ptr<KernelLibrary> library;
  CpuFeatures cpu = detectCpuFeatures();
  std::vector<QMatmulCall> calls;
  /// The variants chosen so far, in the order first chosen.
  std::vector<std::string> chosenIsas;
};

int X86TargetDriver::bindQMatmul(const Fields &f, const Bundle &bundle,
                                 const QMatmulOperands &operands) {
  const std::string &ctx = f.context();
  QMatmulCall call;
  call.N = operands.N;
  call.K = operands.K;
  call.bias = operands.bias;
  call.perm = operands.perm;

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
  shape.bits = static_cast<int>(f.integer("bits", 1, 64));
  shape.groupSize = f.integer("group_size");
  shape.symmetric = f.boolean("symmetric");
  std::string scaleType = f.string("scale_type");
  if (scaleType != "f32" && scaleType != "f16")
    fail(ctx + ": scale_type '" + scaleType + "' is not f32 or f16");
  shape.f16Scales = scaleType == "f16";
  shape.K = call.K;
  shape.N = call.N;
  std::string err;
  int64_t bytes = packedWeightBytes(shape, err);
  if (bytes < 0)
    fail(ctx + ": " + err);

  std::string weightName = f.string("weight");
  const BundleTensor *w = bundle.tensor(weightName);
  if (!w)
    fail(ctx + ": field 'weight': tensor '" + weightName +
         "' is not in the bundle");
  if (w->dtype != DType::Bytes && w->dtype != DType::U8 &&
      w->dtype != DType::I8)
    fail(ctx + ": packed weight '" + weightName + "' has dtype " +
         std::string(dtypeName(w->dtype)) + ", expected bytes");
  if (w->size != static_cast<uint64_t>(bytes))
    fail(ctx + ": packed weight '" + weightName + "' has " +
         std::to_string(w->size) +
         " bytes, the packed layout of N = " + std::to_string(call.N) +
         ", K = " + std::to_string(call.K) + " needs " + std::to_string(bytes));
  call.packed = w->data;

  std::string path = f.string("path");
  if (path != "fp32" && path != "int8")
    fail(ctx + ": path '" + path + "' is not fp32 or int8");
  chooseKernels(f, call, path == "int8");
  calls.push_back(call);
  return static_cast<int>(calls.size() - 1);
}

void X86TargetDriver::chooseKernels(const Fields &f, QMatmulCall &call,
                                    bool int8Path) {
  const std::string &ctx = f.context();
  if (!library)
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
    std::string isa = k.string("isa");
    Variant v;
    bool known = false;
    for (auto c : {X86Variant::AVX2, X86Variant::AVXVNNI, X86Variant::AVX512,
                   X86Variant::AVX512VNNI})
      if (isa == variantName(c))
        v.isa = c, known = true;
    if (!known)
      fail(k.context() + ": unknown isa '" + isa + "'");
    v.tile = k.integer("batch_tile", 1, 1 << 16);
    std::string symbol = k.string("symbol");
    v.fn = library->lookup(symbol);
    if (!v.fn)
      fail(k.context() + ": symbol '" + symbol +
           "' is not in the kernel library");
    variants.push_back(v);
  }

  for (X86Variant isa : rankVariants(cpu, int8Path)) {
    const Variant *gemv = nullptr, *gemm = nullptr;
    for (const Variant &v : variants) {
      if (v.isa != isa)
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
    std::string name = variantName(isa);
    if (std::find(chosenIsas.begin(), chosenIsas.end(), name) ==
        chosenIsas.end())
      chosenIsas.push_back(name);
    return;
  }
  fail(ctx + ": no kernel variant runs on this CPU (" + cpu.describe() + ")",
       LOWBIT_RT_UNSUPPORTED);
}

} // namespace

} // namespace lowbitrt::x86

LOWBIT_RT_DEFINE_DRIVER(x86, lowbitrt::x86::X86TargetDriver)
