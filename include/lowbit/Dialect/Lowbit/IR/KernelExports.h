//===- KernelExports.h - the lowbit.exports kernel attribute ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `lowbit.exports` on a lowbit.kernel: the entry points a target's
/// translation generated for the kernel, an array of dictionaries
/// {isa = "<level>", batch_tile = <i64 >= 1>, symbol = "<name>"}. Recorded by
/// -lowbit-translate-executables (TargetBackend::serializeExecutable) and
/// copied into the bundle's dispatches as "kernels" by the bundle emitter.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_KERNELEXPORTS_H
#define LOWBIT_DIALECT_LOWBIT_IR_KERNELEXPORTS_H

#include "llvm/ADT/StringRef.h"

namespace mlir::lowbit {

inline constexpr llvm::StringLiteral kExportsAttrName = "lowbit.exports";

} // namespace mlir::lowbit

#endif // LOWBIT_DIALECT_LOWBIT_IR_KERNELEXPORTS_H
