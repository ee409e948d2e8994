//===- LowbitInterfaces.td - lowbit op interfaces ----------*- tablegen -*-===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_LOWBITINTERFACES_TD
#define LOWBIT_DIALECT_LOWBIT_IR_LOWBITINTERFACES_TD

include "mlir/IR/OpBase.td"

def Lowbit_GraphOpInterface : OpInterface<"GraphOpInterface"> {
  let cppNamespace = "::mlir::lowbit";
  let description = [{
    A graph op of bundle programs. Its semantics (manifest schema, shape
    rule, binding order and reference implementation) are declared once, in
    the runtime's op table (`runtime/include/lowbitrt/OpTable.h`), under the
    name `getSemanticsName()` (the op's mnemonic). The op maps itself onto
    that entry: its activation operands in the entry's input order, its
    constant weights in the entry's weight order, and its attributes under
    the entry's attribute names. The reference executor, bundle emission and
    target legality read ops through this interface and the table, never by
    op class (docs/adding-an-op.md).
  }];
  let methods = [
    InterfaceMethod<
      "The op's name in the op table and in bundle manifests.",
      "::llvm::StringRef", "getSemanticsName", (ins), [{}],
      [{ return $_op->getName().stripDialect(); }]>,
    InterfaceMethod<
      "The activation operands, in the table entry's input order.",
      "::llvm::SmallVector<::mlir::Value>", "getSemanticInputs">,
    InterfaceMethod<
      [{The constant weight operands, in the table entry's weight order (a
        null value for an absent optional weight).}],
      "::llvm::SmallVector<::mlir::Value>", "getSemanticWeights", (ins), [{}],
      [{ return {}; }]>,
    InterfaceMethod<
      [{Appends the op's attributes under the table entry's names
        (IntegerAttr, FloatAttr, BoolAttr or StringAttr). If the op uses a
        feature the table cannot express, sets `unsupported` to a phrase
        naming it (e.g. "sliding-window attention"). `contextLength` is the
        context the program runs with, if known (a sliding window at least
        that long is full attention).}],
      "void", "getSemanticAttrs",
      (ins "::llvm::SmallVectorImpl<::mlir::NamedAttribute> &":$attrs,
           "std::optional<int64_t>":$contextLength,
           "std::string &":$unsupported), [{}], [{ return; }]>,
  ];
}

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBITINTERFACES_TD
