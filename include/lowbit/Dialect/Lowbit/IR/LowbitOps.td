//===- LowbitOps.td - lowbit operations --------------------*- tablegen -*-===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_LOWBITOPS_TD
#define LOWBIT_DIALECT_LOWBIT_IR_LOWBITOPS_TD

include "lowbit/Dialect/Lowbit/IR/LowbitInterfaces.td"
include "lowbit/Dialect/Lowbit/IR/LowbitTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

/// The per-session key/value cache that `lowbit.attention` reads and writes.
def Lowbit_KVCacheResource : Resource<"::mlir::lowbit::KVCacheResource">;

def Lowbit_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Lowbit_IndexTensor : RankedTensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def Lowbit_ParamOp : Lowbit_Op<"param", [Pure]> {
  let summary = "reference to an external weight tensor by scope and key";
  let description = [{
    Produces tensor `name` of the parameter scope `scope`, one of the scopes
    the enclosing module records in `lowbit.parameter_scopes` (see
    `#lowbit.scope`; e.g. `checkpoint`, the imported safetensors). Weights
    never live in the IR; only tiny test models may carry an inline `value`
    (a dense or `dense_resource` elements attribute of the result type), and
    a parameter with inline data has no scope. A parameter with neither is
    an unbound reference: it verifies (for IR-structure tests) but cannot
    be executed or compiled.

    Example:

    ```mlir
    %w = lowbit.param "checkpoint"::"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
    %b = lowbit.param "b" {value = dense<0.0> : tensor<64xf32>} : tensor<64xf32>
    ```
  }];
  let arguments = (ins OptionalAttr<StrAttr>:$scope, StrAttr:$name,
                       OptionalAttr<ElementsAttr>:$value);
  let results = (outs AnyStaticShapeTensor:$result);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

def Lowbit_QParamOp : Lowbit_Op<"qparam", [Pure]> {
  let summary = "reference to a quantized weight by scope and key";
  let description = [{
    Produces the quantized weight stored under `name` in the parameter scope
    `scope` (see `lowbit.param`): the tensors `<name>.qcodes`,
    `<name>.scales`, `<name>.zeros` (asymmetric schemes) and `<name>.perm`
    (act-order). Their types are given by the result type (see
    `!lowbit.qweight`). Tiny tests may carry the components inline as the
    `codes`, `scales`, `zeros` and `perm` elements attributes; an inline
    parameter has no scope.

    Example:

    ```mlir
    %q = lowbit.qparam "rtn"::"model.layers.0.mlp.up_proj" : !lowbit.qweight<172x64,
        #lowbit.scheme<bits = 4, group_size = 32, symmetric = false,
                       scale_type = f32, zero_type = i8>>
    ```
  }];
  let arguments = (ins OptionalAttr<StrAttr>:$scope, StrAttr:$name,
                       OptionalAttr<ElementsAttr>:$codes,
                       OptionalAttr<ElementsAttr>:$scales,
                       OptionalAttr<ElementsAttr>:$zeros,
                       OptionalAttr<ElementsAttr>:$perm);
  let results = (outs Lowbit_QWeightType:$result);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

def Lowbit_DequantizeOp : Lowbit_Op<"dequantize", [Pure]> {
  let summary = "expand a quantized weight to a float tensor";
  let description = [{
    Computes `W[n, k] = scale[n, g(k)] * (q[n, k] - zero[n, g(k)])` for the
    scheme of the operand (see `#lowbit.scheme`), undoing act-order so the
    result is in the original input-channel order. Rotations are not undone:
    a rotated weight dequantizes to the rotated matrix.

    Example:

    ```mlir
    %w = lowbit.dequantize %q : !lowbit.qweight<64x64, #s> -> tensor<64x64xf32>
    ```
  }];
  let arguments = (ins Lowbit_QWeightType:$input);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat =
      "$input attr-dict `:` qualified(type($input)) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Graph-level ops
//===----------------------------------------------------------------------===//

def Lowbit_EmbeddingOp : Lowbit_Op<"embedding", [Pure,
    DeclareOpInterfaceMethods<Lowbit_GraphOpInterface, ["getSemanticWeights"]>]> {
  let summary = "token embedding lookup";
  let description = [{
    Gathers rows of `table` (`[V, D]`) for integer `indices` of any shape;
    the result has shape `indices.shape + [D]`. An index outside `[0, V)` is
    a run-time error.

    Example:

    ```mlir
    %h = lowbit.embedding %table, %ids : (tensor<512x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Lowbit_FloatTensor:$table, Lowbit_IndexTensor:$indices);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = "$table `,` $indices attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lowbit_RMSNormOp : Lowbit_Op<"rms_norm",
    [Pure, AllTypesMatch<["input", "result"]>,
     DeclareOpInterfaceMethods<Lowbit_GraphOpInterface, ["getSemanticWeights",
                                                  "getSemanticAttrs"]>]> {
  let summary = "root-mean-square normalization over the last dimension";
  let description = [{
    `y = x / sqrt(mean(x^2, last dim) + epsilon) * weight`, with the mean
    computed in at least fp32 (as Hugging Face Llama does).

    Example:

    ```mlir
    %y = lowbit.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins Lowbit_FloatTensor:$input, Lowbit_FloatTensor:$weight,
                       F32Attr:$epsilon);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
  let hasVerifier = 1;
}

def Lowbit_LinearOp : Lowbit_Op<"linear", [Pure,
    DeclareOpInterfaceMethods<Lowbit_GraphOpInterface, ["getSemanticWeights"]>]> {
  let summary = "matrix multiplication with a weight, plus an optional bias";
  let description = [{
    `y = x * W^T (+ bias)` for `x = [..., K]`, `W = [N, K]` (the Hugging
    Face / PyTorch layout) and `bias = [N]`; `y = [..., N]`.

    Example:

    ```mlir
    %y = lowbit.linear %x, %w, %b : (tensor<?x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins Lowbit_FloatTensor:$input, Lowbit_FloatTensor:$weight,
                       Optional<Lowbit_FloatTensor>:$bias);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Lowbit_RotaryOp : Lowbit_Op<"rotary",
    [Pure, AllTypesMatch<["input", "result"]>,
     DeclareOpInterfaceMethods<Lowbit_GraphOpInterface, ["getSemanticAttrs"]>]> {
  let summary = "rotary position embedding";
  let description = [{
    Rotates each head of `input = [T, H * head_dim]` by the angles
    `positions[t] * theta^(-2i / head_dim)`. `rotate_half` pairs dimension
    `i` with `i + head_dim / 2` (Hugging Face Llama); `interleaved` pairs
    `2i` with `2i + 1` (GPT-J, original Meta checkpoints).

    Example:

    ```mlir
    %y = lowbit.rotary rotate_half %q, %pos {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x64xf32>, tensor<?xi32>
    ```
  }];
  let arguments = (ins Lowbit_RotaryStyleAttr:$style, Lowbit_FloatTensor:$input,
                       Lowbit_IndexTensor:$positions, I64Attr:$head_dim,
                       F64Attr:$theta);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = [{
    $style $input `,` $positions attr-dict `:` type($input) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Lowbit_AttentionOp : Lowbit_Op<"attention", [
    MemoryEffects<[MemRead<Lowbit_KVCacheResource>,
                   MemWrite<Lowbit_KVCacheResource>]>,
    DeclareOpInterfaceMethods<Lowbit_GraphOpInterface, ["getSemanticAttrs"]>]> {
  let summary = "causal grouped-query attention over a KV cache";
  let description = [{
    For `T` new tokens with rotated `query = [T, H * D]`, `key` and
    `value = [T, Hkv * D]` and their absolute `positions = [T]`:
    writes `key`/`value` row `t` into slot `positions[t]` of the cache of
    layer `layer`, then lets query `t` attend to cache slots
    `[max(0, positions[t] - sliding_window + 1), positions[t]]` with
    softmax scale `scale` (default `1/sqrt(D)`). Query head `h` uses KV head
    `h / (H / Hkv)`. The cache is session state, so the op reads and writes
    the `KVCacheResource`; prefill and decode are the same op with
    different `T`.

    Example:

    ```mlir
    %o = lowbit.attention %q, %k, %v, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64}
        : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Lowbit_FloatTensor:$query, Lowbit_FloatTensor:$key,
                       Lowbit_FloatTensor:$value,
                       Lowbit_IndexTensor:$positions,
                       I64Attr:$layer, I64Attr:$num_heads,
                       I64Attr:$num_kv_heads, I64Attr:$head_dim,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<I64Attr>:$sliding_window);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $positions attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Lowbit_GatedActOp : Lowbit_Op<"gated_act",
    [Pure, AllTypesMatch<["gate", "up", "result"]>,
     DeclareOpInterfaceMethods<Lowbit_GraphOpInterface, ["getSemanticAttrs"]>]> {
  let summary = "gated MLP activation";
  let description = [{
    `act(gate) * up` elementwise, as in SwiGLU (`silu`) and GeGLU (`gelu`,
    `gelu_tanh`) feed-forward blocks.

    Example:

    ```mlir
    %a = lowbit.gated_act silu %g, %u : tensor<?x172xf32>
    ```
  }];
  let arguments = (ins Lowbit_GatedActKindAttr:$kind, Lowbit_FloatTensor:$gate,
                       Lowbit_FloatTensor:$up);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = "$kind $gate `,` $up attr-dict `:` type($result)";
}

def Lowbit_AddOp : Lowbit_Op<"add",
    [Pure, Commutative, AllTypesMatch<["lhs", "rhs", "result"]>,
     DeclareOpInterfaceMethods<Lowbit_GraphOpInterface>]> {
  let summary = "residual addition";
  let description = [{
    Elementwise `lhs + rhs` of tensors of the same type (the residual
    connections of a transformer block).

    Example:

    ```mlir
    %h2 = lowbit.add %h, %o : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Lowbit_FloatTensor:$lhs, Lowbit_FloatTensor:$rhs);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Quantized-level ops
//===----------------------------------------------------------------------===//

def Lowbit_QMatmulOp : Lowbit_Op<"qmatmul", [Pure]> {
  let summary = "matrix multiplication with a quantized weight (fused dequantization)";
  let description = [{
    Same semantics as `lowbit.linear` applied to `lowbit.dequantize` of
    `weight`, without materializing the float weight. Targets lower this op
    to generated kernels specialized on the weight's scheme. An optional
    `act_bits` (8) requests dynamic per-token activation quantization
    (W8A8 paths); when absent the activations stay in float.

    Example:

    ```mlir
    %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<172x64, #s>) -> tensor<?x172xf32>
    ```
  }];
  let arguments = (ins Lowbit_FloatTensor:$input, Lowbit_QWeightType:$weight,
                       Optional<Lowbit_FloatTensor>:$bias,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntMinValue<2>, IntMaxValue<8>]>>:$act_bits);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

include "lowbit/Dialect/Lowbit/IR/LowbitKernelOps.td"

def Lowbit_QEmbeddingOp : Lowbit_Op<"qembedding", [Pure,
    DeclareOpInterfaceMethods<Lowbit_GraphOpInterface, ["getSemanticWeights",
                                                 "getSemanticAttrs"]>]> {
  let summary = "token embedding lookup in a quantized table";
  let description = [{
    Same semantics as `lowbit.embedding` of `lowbit.dequantize` of `table`
    (`[V, D]`), without materializing the float table: each looked-up row
    is dequantized when it is gathered. The table is a quantized weight at
    the quantized level and a packed one (`!lowbit.packed`, whose layout
    codec defines the row values) at the kernel level, so a tied embedding
    and the `lowbit.qmatmul` of its output projection read one table.
    Act-order tables are not supported (their columns are permuted).

    Example:

    ```mlir
    %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #s>, tensor<?xi32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins AnyTypeOf<[Lowbit_QWeightType, Lowbit_PackedType]>:$table,
                       Lowbit_IndexTensor:$indices);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = "$table `,` $indices attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The table's logical quantized weight type (of the packed weight at
    /// the kernel level).
    ::mlir::lowbit::QWeightType getQWeightType();
  }];
}

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBITOPS_TD
