//===- Lowbit.h - lowbit dialect, attributes, types and ops -----*- C++ -*-===//
//
// Umbrella header for the lowbit dialect.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_LOWBIT_H
#define LOWBIT_DIALECT_LOWBIT_IR_LOWBIT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::lowbit {
/// The session KV cache written and read by `lowbit.attention`.
struct KVCacheResource : public SideEffects::Resource::Base<KVCacheResource> {
  llvm::StringRef getName() final { return "lowbit::KVCache"; }
};
} // namespace mlir::lowbit

#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h.inc"
#include "lowbit/Dialect/Lowbit/IR/LowbitEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitTypes.h.inc"

#define GET_OP_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h.inc"

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBIT_H
