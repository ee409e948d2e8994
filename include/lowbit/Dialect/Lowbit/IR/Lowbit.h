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
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringMap.h"

#include <memory>

namespace mlir::lowbit {
/// Module attribute mapping scope names to `#lowbit.scope` storage.
inline constexpr llvm::StringLiteral kParameterScopesAttrName =
    "lowbit.parameter_scopes";
/// Module attribute naming the tokenizer: a path relative to the directory
/// of the `checkpoint` scope.
inline constexpr llvm::StringLiteral kTokenizerAttrName = "lowbit.tokenizer";
/// The scope the importer records for the original checkpoint.
inline constexpr llvm::StringLiteral kCheckpointScope = "checkpoint";
/// Attribute of the pre-scope importer, rejected with a hint to re-import.
inline constexpr llvm::StringLiteral kLegacyWeightsAttrName = "lowbit.weights";

/// The `#lowbit.scope` named `scope` on the module enclosing `op` (or `op`
/// itself), or null.
class ScopeAttr;
ScopeAttr lookupParameterScope(Operation *op, StringRef scope);

/// The bits per weight of the quantized weights under \p root (its
/// lowbit.qparam ops, each name once) by their schemes
/// (QWeightType::getBitsPerWeight): each one's into \p perWeight when
/// given, and the total over all of their weights returned (0 without any).
double getSchemeBitsPerWeight(Operation *root,
                              llvm::StringMap<double> *perWeight = nullptr);

/// The session KV cache written and read by `lowbit.attention`.
struct KVCacheResource : public SideEffects::Resource::Base<KVCacheResource> {
  llvm::StringRef getName() final { return "lowbit::KVCache"; }
};

/// Whether `name` is a versioned tag such as a layout codec ("x86-tile16-v1")
/// or a binary format ("x86-elf-so-v1"): lowercase [a-z0-9] words joined by
/// '-', ending in "-v<N>" with N a positive integer.
bool isVersionedTag(llvm::StringRef name);

/// Discardable attributes of the kernel level: the module's target and the
/// layout chosen for a qmatmul's weight (checked by the dialect).
inline constexpr llvm::StringLiteral kTargetAttrName = "lowbit.target";
inline constexpr llvm::StringLiteral kLayoutAttrName = "lowbit.layout";

/// Verifies the kernel-level discardable attributes (kTargetAttrName,
/// kLayoutAttrName); called by LowbitDialect::verifyOperationAttribute.
mlir::LogicalResult verifyKernelLevelAttribute(mlir::Operation *op,
                                               mlir::NamedAttribute attr);
} // namespace mlir::lowbit

#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h.inc"
#include "lowbit/Dialect/Lowbit/IR/LowbitEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitTypes.h.inc"

#include "lowbit/Dialect/Lowbit/IR/LowbitInterfaces.h.inc"

#define GET_OP_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h.inc"

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBIT_H
