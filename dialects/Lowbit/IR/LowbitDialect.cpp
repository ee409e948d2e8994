//===- LowbitDialect.cpp - lowbit dialect registration ----------*- C++ -*-===//

#include "lowbit/Dialect/Lowbit/IR/KernelExports.h"
#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::lowbit;

#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.cpp.inc"
#include "lowbit/Dialect/Lowbit/IR/LowbitEnums.cpp.inc"

//===----------------------------------------------------------------------===//
// Custom directives shared by attributes and types
//===----------------------------------------------------------------------===//

/// Parses a static shape such as `64x128` (no trailing `x`).
static ParseResult parseShape(AsmParser &parser,
                              SmallVectorImpl<int64_t> &shape) {
  return parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                   /*withTrailingX=*/false);
}

static void printShape(AsmPrinter &printer, ArrayRef<int64_t> shape) {
  llvm::interleave(shape, printer.getStream(), "x");
}

#define GET_ATTRDEF_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitTypes.cpp.inc"

namespace {
/// Prints schemes as `#scheme`, `#scheme1`, ... aliases so that quantized
/// weight types stay readable.
struct LowbitOpAsmInterface : public OpAsmDialectInterface {
  using OpAsmDialectInterface::OpAsmDialectInterface;

  AliasResult getAlias(Attribute attr, raw_ostream &os) const override {
    if (isa<SchemeAttr>(attr)) {
      os << "scheme";
      return AliasResult::OverridableAlias;
    }
    if (isa<TargetAttr>(attr)) {
      os << "target";
      return AliasResult::OverridableAlias;
    }
    return AliasResult::NoAlias;
  }
};
} // namespace

void LowbitDialect::initialize() {
  addInterfaces<LowbitOpAsmInterface>();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "lowbit/Dialect/Lowbit/IR/LowbitAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "lowbit/Dialect/Lowbit/IR/LowbitTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Module attributes
//===----------------------------------------------------------------------===//

LogicalResult LowbitDialect::verifyOperationAttribute(Operation *op,
                                                      NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kTargetAttrName || name == kLayoutAttrName)
    return verifyKernelLevelAttribute(op, attr);
  if (name == kExportsAttrName) {
    if (!isa<KernelOp>(op))
      return op->emitError() << name << " must be on a lowbit.kernel";
    auto exports = dyn_cast<ArrayAttr>(attr.getValue());
    if (!exports || exports.empty())
      return op->emitError()
             << name << " must be a non-empty array of dictionaries";
    for (Attribute entry : exports) {
      auto dict = dyn_cast<DictionaryAttr>(entry);
      auto isa = dict ? dict.getAs<StringAttr>("isa") : StringAttr();
      auto tile = dict ? dict.getAs<IntegerAttr>("batch_tile") : IntegerAttr();
      auto symbol = dict ? dict.getAs<StringAttr>("symbol") : StringAttr();
      if (!dict || dict.size() != 3 || !isa || isa.getValue().empty() ||
          !tile || !tile.getType().isInteger(64) || tile.getInt() < 1 ||
          !symbol || symbol.getValue().empty())
        return op->emitError()
               << name << " entry " << entry
               << " must be {batch_tile = <i64 >= 1>, isa = \"...\", symbol "
                  "= \"...\"}";
    }
    return success();
  }
  if (name == kLegacyWeightsAttrName)
    return op->emitError()
           << name
           << " (a host path to the checkpoint) is no longer supported: "
              "re-import the model, which records a relative "
           << kParameterScopesAttrName << " entry";
  if (name == kParameterScopesAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitError() << name << " must be on a builtin.module";
    auto scopes = dyn_cast<DictionaryAttr>(attr.getValue());
    if (!scopes)
      return op->emitError()
             << name << " must be a dictionary of #lowbit.scope";
    for (NamedAttribute entry : scopes) {
      if (entry.getName().getValue().empty())
        return op->emitError() << name << " has an empty scope name";
      if (!isa<ScopeAttr>(entry.getValue()))
        return op->emitError()
               << name << ": scope '" << entry.getName().getValue()
               << "' must be a #lowbit.scope, got " << entry.getValue();
    }
    return success();
  }
  if (name == kTokenizerAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitError() << name << " must be on a builtin.module";
    auto path = dyn_cast<StringAttr>(attr.getValue());
    if (!path || path.getValue().empty())
      return op->emitError()
             << name << " must be a non-empty path relative to the '"
             << kCheckpointScope << "' scope's directory";
    if (llvm::sys::path::is_absolute(path.getValue()))
      return op->emitError() << name << " path '" << path.getValue()
                             << "' is absolute; it must be relative to the '"
                             << kCheckpointScope << "' scope's directory";
    if (!lookupParameterScope(op, kCheckpointScope))
      return op->emitError() << name << " needs a '" << kCheckpointScope
                             << "' parameter scope to be relative to";
    return success();
  }
  return success();
}
