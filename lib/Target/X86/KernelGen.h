//===- KernelGen.h - x86 qmatmul kernel generator ---------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Generates specialised x86 kernels for lowbit.qmatmul,
///   y[b, n] = sum_k x[b, k] * W[n, k] (+ bias[n]),
/// as LLVM IR (one function per KernelKey, built with IRBuilder from the
/// specialisation: static K/N/group shape, bits, scale type, batch tile, ISA
/// and arithmetic path), compiles it in-process with the X86 TargetMachine to
/// an ELF object and links that into a shared object the runtime can dlopen.
/// The C ABI of the generated symbols is documented in
/// runtime/include/lowbitrt/X86KernelABI.h; the weight layout in
/// runtime/include/lowbitrt/CodecX86Tile16.h (codec x86-tile16-v1).
///
/// Arithmetic paths:
///  - FP32: codes are widened to f32 in registers and multiplied with the f32
///    activations by FMA; per group the sum is scaled once
///    (s * sum(q x) + m * sum(x)). Error: f32 rounding only (~1e-6 relative
///    to sum |x| |W|).
///  - Int8: each activation row is quantized per block of 32 columns to int8
///    with a scale amax/127 (round to nearest even), dot products are integer
///    (vpdpbusd with AVX512-VNNI/AVX-VNNI, vpmaddubsw + vpmaddwd otherwise)
///    and each block's int32 sum is scaled by the activation scale, each
///    group's by the weight scale; the zero-point term uses the sum of the
///    quantized activations. Error: |x_k - x~_k| <= amax_block / 254, so
///    |y - y~| <= sum_blocks (amax / 254) * sum_k |W[n, k]| (we test against
///    this bound). Without VNNI, 8-bit weights quantize activations to
///    [-63, 63] instead (vpmaddubsw saturates at 16 bits), doubling the bound.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TARGET_X86_KERNELGEN_H
#define LOWBIT_TARGET_X86_KERNELGEN_H

#include "Repack.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace lowbit::x86 {

/// Instruction set levels a kernel can be generated for.
enum class Isa : uint8_t {
  AVX2,       ///< AVX2 + FMA + F16C (x86-64-v3), 256-bit.
  AVXVNNI,    ///< AVX2 + AVX-VNNI (VEX vpdpbusd), 256-bit.
  AVX512,     ///< AVX-512 F/BW/VL/DQ (x86-64-v4), 512-bit.
  AVX512VNNI, ///< AVX-512 + VNNI, 512-bit.
};

enum class ArithPath : uint8_t { FP32, Int8 };

llvm::StringRef isaName(Isa isa);
llvm::StringRef pathName(ArithPath path);

/// Everything a generated kernel is specialised on.
struct KernelKey {
  unsigned bits = 4;
  int64_t groupSize = 128; ///< -1: one group per row.
  bool symmetric = true;
  ScaleType scaleType = ScaleType::F32;
  /// 0, or the groups per super-block of 8-bit scale codes (f16 only).
  int64_t superGroup = 0;
  int64_t K = 0;
  int64_t N = 0;
  /// Batch rows computed together per weight tile (1 for decode GEMV).
  unsigned batchTile = 1;
  Isa isa = Isa::AVX2;
  ArithPath path = ArithPath::FP32;
  /// Testing aid: emit the ISA's code shape (vector width, VNNI or
  /// vpmaddubsw dot products) with portable IR and AVX2 features, so CPUs
  /// without the ISA can check the generator's logic. Adds "_emu" to the
  /// symbol. Not for production: it is several times slower.
  bool emulate = false;

  /// The exported symbol: lowbit_x86_b<bits>_g<G|pc>_<sym|asym>_<f32|f16>
  /// [_sg<S>]_k<K>_n<N>_bt<tile>_<isa>_<path>[_emu].
  std::string symbolName() const;
  /// The weight layout the kernel reads.
  llvm::Expected<PackedLayout> layout() const;
  /// Checks that the key can be generated.
  llvm::Error verify() const;
};

/// Emits one function per key into a new module (keys may mix ISAs: each
/// function carries its own target-cpu/target-features attributes).
llvm::Expected<std::unique_ptr<llvm::Module>>
generateKernelModule(llvm::LLVMContext &ctx, llvm::ArrayRef<KernelKey> keys);

/// Optimizes (O3) and compiles a generated module to an x86-64 ELF
/// relocatable object (PIC).
llvm::Expected<std::vector<char>> compileToObject(llvm::Module &module);

/// Links an ELF object into a shared object with a system linker (ld.lld,
/// ld.lld-22, ld.lld-14 or ld, first found on PATH).
llvm::Expected<std::vector<char>> linkSharedObject(llvm::ArrayRef<char> object);

/// generateKernelModule + compileToObject + linkSharedObject.
llvm::Expected<std::vector<char>>
buildKernelLibrary(llvm::ArrayRef<KernelKey> keys);

} // namespace lowbit::x86

#endif // LOWBIT_TARGET_X86_KERNELGEN_H
