//===- LowbitTypes.td - lowbit types -----------------------*- tablegen -*-===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_LOWBITTYPES_TD
#define LOWBIT_DIALECT_LOWBIT_IR_LOWBITTYPES_TD

include "lowbit/Dialect/Lowbit/IR/LowbitAttrs.td"

def Lowbit_QWeightType : Lowbit_Type<"QWeight", "qweight"> {
  let summary = "a quantized weight matrix";
  let description = [{
    A logical `[N, K]` weight (N outputs, K inputs) quantized under a
    `#lowbit.scheme`. The value stands for its codes, scales, zero points
    and act-order permutation together; how they are laid out in memory is
    a storage codec chosen by a later target, not part of the type.

    Its components, as tensors, are:
    * codes: `tensor<N x K x ui<bits>>`;
    * scales: `tensor<N x G x scale_type>` with `G` groups;
    * zeros: `tensor<N x G x zero_type>` (asymmetric schemes only);
    * perm: `tensor<K x i32>` (act-order only).

    Example:

    ```mlir
    !lowbit.qweight<172x64, #lowbit.scheme<bits = 4, group_size = 32,
        symmetric = true, scale_type = f16>>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "[N, K]">:$shape,
    "::mlir::lowbit::SchemeAttr":$scheme
  );
  let assemblyFormat = "`<` custom<Shape>($shape) `,` qualified($scheme) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getN() const { return getShape()[0]; }
    int64_t getK() const { return getShape()[1]; }
    int64_t getNumGroups() const { return getScheme().getNumGroups(getK()); }
    /// Tensor types of the components.
    ::mlir::RankedTensorType getCodesType() const;
    ::mlir::RankedTensorType getScalesType() const;
    /// Null for symmetric schemes.
    ::mlir::RankedTensorType getZerosType() const;
    /// Null unless the scheme uses act-order.
    ::mlir::RankedTensorType getPermType() const;
    /// Bits per weight of the scheme: every component above at its element
    /// type's width (codes at `bits`, scales at the scale type's, zero
    /// points or minimums at the zero type's, the permutation at 32), over
    /// N * K. A target's storage codec may store more (padding, wider
    /// offsets): bundles report that separately.
    double getBitsPerWeight() const;
  }];
}

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBITTYPES_TD
