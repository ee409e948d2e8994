//===- OpSemantics.h - graph ops onto the runtime's op table ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The compiler's view of the op table (runtime/include/lowbitrt/OpTable.h):
/// a graph op (mlir::lowbit::GraphOpInterface) is found in the table by its
/// semantics name, and its attributes become the table's values. The
/// reference executor, bundle emission and target legality use this instead
/// of switching on op classes (docs/adding-an-op.md).
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_OPSEMANTICS_OPSEMANTICS_H
#define LOWBIT_OPSEMANTICS_OPSEMANTICS_H

#include "lowbit/Dialect/Lowbit/IR/Lowbit.h"
#include "lowbitrt/OpTable.h"

#include "llvm/Support/JSON.h"

#include <optional>
#include <string>

namespace lowbit {

/// The table entry of \p op: null if it is not a graph op or the table has
/// no entry of its name.
const rt::ops::OpDef *lookupOpDef(mlir::Operation *op);

/// The attributes of \p op as the values of \p def's schema, checked against
/// it. Returns "" or the reason; `unsupported` is set (and "" returned) when
/// the op uses a feature the table cannot express (GraphOpInterface::
/// getSemanticAttrs).
std::string getOpAttrValues(mlir::lowbit::GraphOpInterface op,
                            const rt::ops::OpDef &def,
                            std::optional<int64_t> contextLength,
                            rt::ops::AttrValues &values,
                            std::string &unsupported);

/// The manifest value of a present attribute.
llvm::json::Value attrToManifest(const rt::ops::AttrDef &def,
                                 const rt::ops::AttrValue &value);

} // namespace lowbit

#endif // LOWBIT_OPSEMANTICS_OPSEMANTICS_H
