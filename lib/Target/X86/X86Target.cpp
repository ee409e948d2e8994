//===- X86Target.cpp - the x86 compiler target ----------------------------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The x86 TargetBackend. Quantized matmuls get kernels generated per
/// specialisation by KernelGen; the float graph ops run on the runtime's x86
/// kernel library. serialize() returns one ELF shared object (format
/// "x86-elf-so-v1") exporting, for every distinct lowbit.qmatmul
/// specialisation, one symbol per ISA level and batch tile, named and called
/// as runtime/include/lowbitrt/X86KernelABI.h describes. At the kernel level
/// serializeExecutable() builds the same library from the lowbit.kernel ops
/// of a lowbit.executable, for the ISA levels its target features allow.
///
//===----------------------------------------------------------------------===//

#include "KernelGen.h"

#include "lowbit/Dialect/Lowbit/IR/KernelExports.h"
#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbit/OpSemantics/OpSemantics.h"
#include "lowbit/Target/TargetRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <set>
#include <tuple>

using namespace mlir;
using namespace mlir::lowbit;
namespace x86 = ::lowbit::x86;

namespace {

/// The format tag shared with the runtime's x86 loader. Bump the version when
/// the symbol naming, the kernel C ABI or the packed weight layout change
/// (LOWBIT_X86_KERNEL_ABI_VERSION in X86KernelABI.h).
constexpr const char *kX86Format = "x86-elf-so-v1";

/// The packed weight layout the generated kernels read (Repack.h), by its
/// codec name (runtime/include/lowbitrt/Codec.h).
constexpr const char *kX86Layout = "x86-tile16-v1";

/// Features a #lowbit.target<"x86"> may list, sorted; each ISA level is
/// generated when all of its features are listed (see isaFeatures).
constexpr llvm::StringRef kFeatures[] = {"avx2",    "avx512bw", "avx512dq",
                                         "avx512f", "avx512vl", "avx512vnni",
                                         "avxvnni", "f16c",     "fma"};

/// ISA levels every specialisation is generated for; the runtime picks the
/// best one the CPU supports.
constexpr x86::Isa kIsas[] = {x86::Isa::AVX2, x86::Isa::AVXVNNI,
                              x86::Isa::AVX512, x86::Isa::AVX512VNNI};

/// Batch rows per register tile for multi-row (prefill) calls: 256-bit ISAs
/// have registers for 4 rows, 512-bit ones for 8. Decode uses tile 1.
unsigned getPrefillBatchTile(x86::Isa isa) {
  return (isa == x86::Isa::AVX512 || isa == x86::Isa::AVX512VNNI) ? 8 : 4;
}

/// The target features an ISA level's kernels use (KernelGen's
/// target-features).
std::vector<llvm::StringRef> isaFeatures(x86::Isa isa) {
  std::vector<llvm::StringRef> features = {"avx2", "f16c", "fma"};
  if (isa == x86::Isa::AVXVNNI)
    features.push_back("avxvnni");
  if (isa == x86::Isa::AVX512 || isa == x86::Isa::AVX512VNNI)
    features.insert(features.end(),
                    {"avx512bw", "avx512dq", "avx512f", "avx512vl"});
  if (isa == x86::Isa::AVX512VNNI)
    features.push_back("avx512vnni");
  return features;
}

/// The ISA levels whose features `target` lists, in kIsas order.
std::vector<x86::Isa> getEnabledIsas(TargetAttr target) {
  std::vector<x86::Isa> isas;
  for (x86::Isa isa : kIsas)
    if (llvm::all_of(isaFeatures(isa),
                     [&](llvm::StringRef f) { return target.hasFeature(f); }))
      isas.push_back(isa);
  return isas;
}

/// Whether the kernel generator can handle weights quantized under `scheme`.
bool isSupportedScheme(SchemeAttr scheme, std::string &reason) {
  llvm::raw_string_ostream os(reason);
  unsigned bits = scheme.getBits();
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
    os << bits << "-bit weights are not supported (supported: 2, 3, 4, 8)";
    return false;
  }
  Type scaleType = scheme.getScaleType();
  if (!scaleType.isF32() && !scaleType.isF16()) {
    os << "scale type " << scaleType << " is not supported (supported: f32, "
       << "f16)";
    return false;
  }
  if (scheme.hasMinZero()) {
    // The layout stores the offset of each group in the scale type: the
    // minimum goes there unchanged when the scale type holds it exactly.
    Type minType = scheme.getZeroType();
    if (minType != scaleType && !scaleType.isF32()) {
      os << "minimum type " << minType << " is not exactly representable in "
         << "the scale type " << scaleType;
      return false;
    }
  } else if (!scheme.getSymmetric() &&
             !isa<IntegerType>(scheme.getZeroType())) {
    os << "zero type " << scheme.getZeroType()
       << " is not supported (asymmetric schemes need an integer zero type)";
    return false;
  }
  if (scheme.hasSuperGroups() && !scaleType.isF16()) {
    os << "super-block scales need f16 super-block scales on x86, got "
       << scaleType;
    return false;
  }
  // Act-order weights are fine: the bundle stores their columns in
  // quantization order and the program gathers the activations to match.
  if (scheme.getRotation()) {
    os << "rotated weights are not supported (fold the rotation first)";
    return false;
  }
  return true;
}

/// A lowbit.qmatmul specialisation, ordered so kernels come out in a
/// deterministic order.
using Spec = std::tuple<unsigned /*bits*/, int64_t /*group*/, bool /*sym*/,
                        x86::ScaleType, int64_t /*superGroup*/, int64_t /*K*/,
                        int64_t /*N*/, x86::ArithPath>;

Spec getSpec(SchemeAttr scheme, int64_t k, int64_t n, bool int8Activations) {
  x86::ScaleType scaleType =
      scheme.getScaleType().isF16() ? x86::ScaleType::F16 : x86::ScaleType::F32;
  x86::ArithPath path =
      int8Activations ? x86::ArithPath::Int8 : x86::ArithPath::FP32;
  return {scheme.getBits(),
          scheme.getGroupSize(),
          scheme.getSymmetric(),
          scaleType,
          scheme.getSuperGroup(),
          k,
          n,
          path};
}

Spec getSpec(QMatmulOp op) {
  auto type = cast<QWeightType>(op.getWeight().getType());
  return getSpec(type.getScheme(), type.getK(), type.getN(),
                 op.getActBits().has_value());
}

/// A kernel declaration describes the same specialisation as the qmatmul it
/// was outlined from.
Spec getSpec(KernelOp kernel) {
  return getSpec(kernel.getScheme(), kernel.getK(), kernel.getN(),
                 kernel.getActBits().has_value());
}

/// The kernels generated for one specialisation, in a fixed order: every
/// enabled ISA level, each with the decode tile 1 and its prefill tile.
llvm::Expected<std::vector<x86::KernelKey>>
getKernelKeys(const Spec &spec, llvm::ArrayRef<x86::Isa> isas = kIsas) {
  std::vector<x86::KernelKey> keys;
  for (x86::Isa isa : isas) {
    for (unsigned tile : {1u, getPrefillBatchTile(isa)}) {
      x86::KernelKey key;
      std::tie(key.bits, key.groupSize, key.symmetric, key.scaleType,
               key.superGroup, key.K, key.N, key.path) = spec;
      key.isa = isa;
      key.batchTile = tile;
      if (llvm::Error err = key.verify())
        return llvm::createStringError("x86 kernel %s cannot be generated: %s",
                                       key.symbolName().c_str(),
                                       llvm::toString(std::move(err)).c_str());
      keys.push_back(key);
    }
  }
  return keys;
}

/// Generates the shared object exporting every kernel of `specs` for every ISA
/// level of `isas`: the one code path behind serialize() and
/// serializeExecutable(), so both give the same bytes for the same kernels.
LogicalResult buildLibrary(Operation *anchor, const std::set<Spec> &specs,
                           llvm::ArrayRef<x86::Isa> isas,
                           std::vector<uint8_t> &out) {
  out.clear();
  // A module without quantized matmuls needs no generated code.
  if (specs.empty())
    return success();
  std::vector<x86::KernelKey> keys;
  for (const Spec &spec : specs) {
    llvm::Expected<std::vector<x86::KernelKey>> specKeys =
        getKernelKeys(spec, isas);
    if (!specKeys)
      return anchor->emitError(llvm::toString(specKeys.takeError()));
    keys.insert(keys.end(), specKeys->begin(), specKeys->end());
  }
  llvm::Expected<std::vector<char>> library = x86::buildKernelLibrary(keys);
  if (!library)
    return anchor->emitError("x86 kernel library generation failed: ")
           << llvm::toString(library.takeError());
  out.assign(library->begin(), library->end());
  return success();
}

class X86Target final : public ::lowbit::TargetBackend {
public:
  llvm::StringRef getName() const override { return "x86"; }

  void getDependentDialects(DialectRegistry &registry) const override {
    // serialize() works on lowbit-level IR; nothing beyond what lowbit IR
    // already uses.
    registry.insert<LowbitDialect, func::FuncDialect, arith::ArithDialect>();
  }

  bool isLegal(Operation *op, std::string &reason) const override {
    auto isSupportedActBits = [&](std::optional<int64_t> actBits) {
      if (actBits && *actBits != 8) {
        reason = "activation quantization to " + std::to_string(*actBits) +
                 " bits is not supported (supported: 8)";
        return false;
      }
      return true;
    };
    auto isSupportedLayout = [&](llvm::StringRef layout) {
      if (layout != kX86Layout) {
        reason = "layout '" + layout.str() +
                 "' is not supported (supported: " + kX86Layout + ")";
        return false;
      }
      return true;
    };
    return llvm::TypeSwitch<Operation *, bool>(op)
        .Case([&](QMatmulOp matmul) {
          auto type = cast<QWeightType>(matmul.getWeight().getType());
          if (!isSupportedScheme(type.getScheme(), reason))
            return false;
          if (auto layout = matmul->getAttrOfType<StringAttr>(kLayoutAttrName))
            if (!isSupportedLayout(layout.getValue()))
              return false;
          return isSupportedActBits(matmul.getActBits());
        })
        // A quantized table runs on the portable reference, which decodes
        // rows with the codec of its layout.
        .Case([&](QEmbeddingOp embedding) {
          SchemeAttr scheme = embedding.getQWeightType().getScheme();
          if (scheme.hasSuperGroups()) {
            reason = "a quantized table with super-block scales is not "
                     "supported (the portable lookup reads plain scales)";
            return false;
          }
          if (!isSupportedScheme(scheme, reason))
            return false;
          if (auto packed =
                  dyn_cast<PackedType>(embedding.getTable().getType()))
            return isSupportedLayout(packed.getLayout());
          if (auto layout =
                  embedding->getAttrOfType<StringAttr>(kLayoutAttrName))
            return isSupportedLayout(layout.getValue());
          return true;
        })
        // The kernel level: packed weights and the kernels reading them.
        .Case([&](PackOp pack) {
          PackedType type = pack.getType();
          return isSupportedScheme(type.getScheme(), reason) &&
                 isSupportedLayout(type.getLayout());
        })
        .Case([&](KernelOp kernel) {
          return isSupportedScheme(kernel.getScheme(), reason) &&
                 isSupportedLayout(kernel.getLayout()) &&
                 isSupportedActBits(kernel.getActBits());
        })
        .Case([&](ExecutableOp executable) {
          if (executable.getTarget().getName() != getName()) {
            reason = "executable @" + executable.getSymName().str() +
                     " is for target '" +
                     executable.getTarget().getName().str() + "'";
            return false;
          }
          return true;
        })
        .Case([&](BinaryOp binary) {
          if (binary.getFormat() != kX86Format) {
            reason = "binary format '" + binary.getFormat().str() +
                     "' is not supported (supported: " + kX86Format + ")";
            return false;
          }
          return true;
        })
        // Checked through the kernel it calls.
        .Case<DispatchOp>([](Operation *) { return true; })
        .Case([&](QParamOp param) {
          return isSupportedScheme(
              cast<QWeightType>(param.getType()).getScheme(), reason);
        })
        .Case([&](DequantizeOp) {
          reason = "standalone dequantization is not supported (fuse it into "
                   "lowbit.qmatmul)";
          return false;
        })
        .Case<ParamOp, ModuleOp, func::FuncOp, func::ReturnOp, func::CallOp,
              arith::ConstantOp>([](Operation *) { return true; })
        .Default([&](Operation *other) {
          // Graph ops of the op table (lowbitrt/OpTable.h) run on the
          // runtime's portable kernels, the table's reference
          // implementations; ops whose kernel is the target's own are
          // checked above, through the kernels they call.
          if (const ::lowbit::rt::ops::OpDef *def =
                  ::lowbit::lookupOpDef(other))
            if (!def->targetKernel && def->reference)
              return true;
          reason = "op '" + other->getName().getStringRef().str() +
                   "' is not supported";
          return false;
        });
  }

  LogicalResult serialize(ModuleOp module,
                          ::lowbit::TargetCode &out) const override {
    std::set<Spec> specs;
    WalkResult walk = module.walk([&](Operation *op) {
      std::string reason;
      if (!isLegal(op, reason)) {
        op->emitOpError("cannot be compiled for target x86: ") << reason;
        return WalkResult::interrupt();
      }
      if (auto matmul = dyn_cast<QMatmulOp>(op))
        specs.insert(getSpec(matmul));
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();

    out.target = getName().str();
    out.format = kX86Format;
    return buildLibrary(module, specs, kIsas, out.bytes);
  }

  llvm::ArrayRef<llvm::StringRef> getSupportedFeatures() const override {
    return kFeatures;
  }

  std::optional<double> getStoredBitsPerWeight(
      const ::lowbit::codec::WeightDesc &desc) const override {
    // The kernels' code widths (isLegal); the layout's own byte count.
    if (desc.bits != 2 && desc.bits != 3 && desc.bits != 4 && desc.bits != 8)
      return std::nullopt;
    const ::lowbit::codec::Codec *codec =
        ::lowbit::codec::findCodec(kX86Layout);
    int64_t bytes = codec ? codec->byteSize(desc) : -1;
    if (bytes < 0 || desc.N <= 0 || desc.K <= 0)
      return std::nullopt;
    return 8.0 * double(bytes) / (double(desc.N) * double(desc.K));
  }

  FailureOr<std::string> selectLayout(Operation *op) const override {
    if (!isa<QMatmulOp, QEmbeddingOp>(op))
      return op->emitOpError(
          "x86 selectLayout expects a lowbit.qmatmul or lowbit.qembedding");
    std::string reason;
    if (!isLegal(op, reason))
      return op->emitOpError("cannot be compiled for target x86: ") << reason;
    // One layout for every ISA level and arithmetic path (Repack.h).
    return std::string(kX86Layout);
  }

  LogicalResult serializeExecutable(Operation *op,
                                    ::lowbit::TargetCode &out) const override {
    auto executable = dyn_cast<ExecutableOp>(op);
    if (!executable)
      return op->emitOpError("x86 serializeExecutable expects a "
                             "lowbit.executable");
    std::string reason;
    if (!isLegal(executable, reason))
      return executable.emitOpError("cannot be compiled for target x86: ")
             << reason;
    std::vector<x86::Isa> isas = getEnabledIsas(executable.getTarget());
    if (isas.empty())
      return executable.emitOpError("target features of @")
             << executable.getSymName()
             << " enable no x86 ISA level (the least, avx2, needs avx2, "
                "f16c and fma)";
    std::set<Spec> specs;
    SmallVector<std::pair<KernelOp, ArrayAttr>> exports;
    Builder b(executable.getContext());
    for (KernelOp kernel : executable.getBodyBlock().getOps<KernelOp>()) {
      if (!isLegal(kernel, reason))
        return kernel.emitOpError("cannot be compiled for target x86: ")
               << reason;
      Spec spec = getSpec(kernel);
      specs.insert(spec);
      llvm::Expected<std::vector<x86::KernelKey>> keys =
          getKernelKeys(spec, isas);
      if (!keys)
        return kernel.emitOpError(llvm::toString(keys.takeError()));
      // The entry points of the kernel, in the order the runtime tries them.
      SmallVector<Attribute> entries;
      for (const x86::KernelKey &key : *keys)
        entries.push_back(b.getDictionaryAttr(
            {b.getNamedAttr("isa", b.getStringAttr(x86::isaName(key.isa))),
             b.getNamedAttr("batch_tile", b.getI64IntegerAttr(key.batchTile)),
             b.getNamedAttr("symbol", b.getStringAttr(key.symbolName()))}));
      exports.emplace_back(kernel, b.getArrayAttr(entries));
    }
    out.target = getName().str();
    out.format = kX86Format;
    if (failed(buildLibrary(executable, specs, isas, out.bytes)))
      return failure();
    for (auto [kernel, entries] : exports)
      kernel->setAttr(kExportsAttrName, entries);
    return success();
  }
};

} // namespace

LOWBIT_DEFINE_TARGET(x86, X86Target)
