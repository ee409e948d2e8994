//===- LowbitDialect.cpp - lowbit dialect registration ----------*- C++ -*-===//

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

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
