//===- LowbitAttrs.td - lowbit attributes and enums --------*- tablegen -*-===//
//
// The quantization scheme attribute and the enums used by lowbit ops.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_LOWBITATTRS_TD
#define LOWBIT_DIALECT_LOWBIT_IR_LOWBITATTRS_TD

include "lowbit/Dialect/Lowbit/IR/LowbitBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Lowbit_RotationKind : I32EnumAttr<"RotationKind",
    "orthogonal rotation folded into a quantized weight", [
      I32EnumAttrCase<"Hadamard", 0, "hadamard">,
      I32EnumAttrCase<"RandomizedHadamard", 1, "randomized_hadamard">
    ]> {
  let cppNamespace = "::mlir::lowbit";
  let genSpecializedAttr = 0;
}

def Lowbit_RotationSide : I32EnumAttr<"RotationSide",
    "which side of W = [out, in] a rotation applies to", [
      I32EnumAttrCase<"Input", 0, "input">,
      I32EnumAttrCase<"Output", 1, "output">,
      I32EnumAttrCase<"Both", 2, "both">
    ]> {
  let cppNamespace = "::mlir::lowbit";
  let genSpecializedAttr = 0;
}

def Lowbit_ZeroForm : I32EnumAttr<"ZeroForm",
    "how an asymmetric scheme's stored zero enters dequantization", [
      I32EnumAttrCase<"ZeroPoint", 0, "zero_point">,
      I32EnumAttrCase<"Min", 1, "min">
    ]> {
  let cppNamespace = "::mlir::lowbit";
  let genSpecializedAttr = 0;
}

def Lowbit_RotaryStyleAttr : I32EnumAttr<"RotaryStyle",
    "pairing of rotary-embedding dimensions", [
      I32EnumAttrCase<"RotateHalf", 0, "rotate_half">,
      I32EnumAttrCase<"Interleaved", 1, "interleaved">
    ]> {
  let cppNamespace = "::mlir::lowbit";
}

def Lowbit_GatedActKindAttr : I32EnumAttr<"GatedActKind",
    "activation applied to the gate of a gated MLP", [
      I32EnumAttrCase<"Silu", 0, "silu">,
      I32EnumAttrCase<"Gelu", 1, "gelu">,
      I32EnumAttrCase<"GeluTanh", 2, "gelu_tanh">
    ]> {
  let cppNamespace = "::mlir::lowbit";
}

//===----------------------------------------------------------------------===//
// RotationAttr
//===----------------------------------------------------------------------===//

def Lowbit_RotationAttr : Lowbit_Attr<"Rotation", "rotation"> {
  let summary = "an orthogonal rotation folded into a weight";
  let description = [{
    Describes an orthogonal transform that was applied to a weight before
    quantization and must be undone (or applied to the activations) at run
    time: QuIP's incoherence processing and QuaRot/SpinQuant-style Hadamard
    rotations. `kind = hadamard` is the normalized Walsh-Hadamard transform;
    `randomized_hadamard` multiplies by random signs first, drawn from a
    counter-based generator seeded with `seed`, so the rotation is fully
    reproducible from the attribute. `side` says whether the input (K),
    output (N) or both dimensions of `W = [N, K]` were rotated.

    Example:

    ```mlir
    #lowbit.rotation<kind = randomized_hadamard, seed = 42, side = both>
    ```
  }];
  let parameters = (ins
    EnumParameter<Lowbit_RotationKind>:$kind,
    DefaultValuedParameter<"uint64_t", "0">:$seed,
    DefaultValuedParameter<"::mlir::lowbit::RotationSide",
                           "::mlir::lowbit::RotationSide::Input">:$side
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// SchemeAttr
//===----------------------------------------------------------------------===//

def Lowbit_SchemeAttr : Lowbit_Attr<"Scheme", "scheme"> {
  let summary = "complete description of a weight quantization scheme";
  let description = [{
    A weight `W = [N, K]` (N outputs, K inputs) is stored as unsigned codes
    `q` in `[0, 2^bits - 1]`, one scale per group and, unless symmetric, one
    zero point per group. Dequantization is

        W[n, k] = scale[n, g(k)] * (q[n, k] - zero[n, g(k)])

    where `g(k) = k / group_size` (or `g(perm^-1(k))` with act-order, see
    below) and, for symmetric schemes, `zero = 2^(bits-1)` implicitly.
    `group_size = -1` means one group per output channel. A group size that
    does not divide K is legal: the last group is shorter (ragged).

    Parameters:
    * `bits`: code width, 2 to 8.
    * `group_size`: group length along K, or -1 for per-channel.
    * `symmetric`: zero points are implicit (`2^(bits-1)`).
    * `scale_type`: element type of the scales (f32, f16 or bf16).
    * `zero_type`: element type of the stored zero points; required when
      asymmetric, absent when symmetric. An integer type must be wide enough
      for `bits`; a float type means a real-valued zero (HQQ style).
    * `act_order`: the quantizer visited input channels in a permuted order
      (GPTQ act-order); the permutation is stored with the weight and
      groups are formed along the permuted order.
    * `rotation`: an optional `#lowbit.rotation` folded into the weight.
    * `zero_form`: `zero_point` (default) is the formula above. `min` stores
      a float minimum `m` per group instead of a zero point, and
      dequantization is `W[n, k] = scale[n, g(k)] * q[n, k] + m[n, g(k)]`
      (GGUF Q4_1 and Q5_1: `d * q + m`, computed in that order). It needs an
      asymmetric scheme and a float `zero_type`, the type the minimums are
      stored in; the `zeros` tensor of the weight holds the minimums.
    * `super_group`: 0 (default), or S >= 2: the scales are themselves
      quantized, as llama.cpp's k-quants do, so small groups cost fewer
      bits. Along each output row, every S consecutive groups form a
      super-block with one scale `d` of type `scale_type` (f16 or bf16),
      and each group's
      scale is `d * c` with an 8-bit signed code `c` in [-127, 127] (the
      group of largest |scale| has |c| = 127, so `d = max |scale| / 127`).
      The `scales` tensor of the weight holds the products `d * c` as f32,
      which they equal exactly. Needs a positive group size, no act-order
      and, unless symmetric, integer zero points (`zero_form = zero_point`).
      Stored bits per weight: bits + 8 / G (+ zero bits / G) +
      width(scale_type) / (S * G).

    Example:

    ```mlir
    #lowbit.scheme<bits = 4, group_size = 128, symmetric = false,
                   scale_type = f16, zero_type = i8>
    // GGUF Q4_1: W = d * q + m, f16 d and m, blocks of 32.
    #lowbit.scheme<bits = 4, group_size = 32, symmetric = false,
                   scale_type = f16, zero_type = f16, zero_form = min>
    // 8-bit group scales under an f16 scale per 8 groups (256 weights):
    // 4 + 8/32 + 16/256 = 4.3125 bits per weight.
    #lowbit.scheme<bits = 4, group_size = 32, symmetric = true,
                   scale_type = f16, super_group = 8>
    ```
  }];
  let parameters = (ins
    "unsigned":$bits,
    "int64_t":$group_size,
    "bool":$symmetric,
    "::mlir::Type":$scale_type,
    OptionalParameter<"::mlir::Type">:$zero_type,
    DefaultValuedParameter<"bool", "false">:$act_order,
    OptionalParameter<"::mlir::lowbit::RotationAttr">:$rotation,
    DefaultValuedParameter<"::mlir::lowbit::ZeroForm",
                           "::mlir::lowbit::ZeroForm::ZeroPoint">:$zero_form,
    DefaultValuedParameter<"int64_t", "0">:$super_group
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True when the stored zero is a float minimum: W = scale * q + min.
    bool hasMinZero() const {
      return getZeroForm() == ::mlir::lowbit::ZeroForm::Min;
    }
    /// True when each output channel has a single group.
    bool isPerChannel() const { return getGroupSize() < 0; }
    /// Number of groups along an input dimension of size `k`.
    int64_t getNumGroups(int64_t k) const;
    /// Largest code value, `2^bits - 1`.
    int64_t getMaxCode() const { return (int64_t(1) << getBits()) - 1; }
    /// True when the group scales are 8-bit codes under super-block scales.
    bool hasSuperGroups() const { return getSuperGroup() > 0; }
  }];
}

//===----------------------------------------------------------------------===//
// ScopeAttr
//===----------------------------------------------------------------------===//

def Lowbit_ScopeAttr : Lowbit_Attr<"Scope", "scope"> {
  let summary = "where the tensors of a parameter scope are stored";
  let description = [{
    One entry of the module attribute `lowbit.parameter_scopes`, which maps
    scope names to storage: `lowbit.param "checkpoint"::"key"` reads tensor
    `key` of the scope named `checkpoint`. `format` says how the scope is
    stored (`safetensors`: one `.safetensors` file, a shard index
    `*.safetensors.index.json`, or a Hugging Face model directory; `gguf`: a
    llama or qwen2 `.gguf` file, whose tensors are served under their Hugging
    Face names, dequantized to f32 in Hugging Face layout). `path` is
    relative to the directory of the IR file being processed (the current
    directory for standard input); tools replace it with
    `--param-scope NAME=PATH`. Absolute paths are rejected so that printed
    IR never depends on the host.

    Example:

    ```mlir
    module attributes {lowbit.parameter_scopes = {
        checkpoint = #lowbit.scope<"safetensors", "../models/stories260k">,
        rtn = #lowbit.scope<"safetensors", "q-rtn.safetensors">}} {}
    ```
  }];
  let parameters = (ins StringRefParameter<"storage format">:$format,
                        StringRefParameter<"relative location">:$path);
  let assemblyFormat = "`<` $format `,` $path `>`";
  let genVerifyDecl = 1;
}

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBITATTRS_TD
