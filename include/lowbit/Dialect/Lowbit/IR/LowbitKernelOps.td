//===- LowbitKernelOps.td - lowbit kernel level ------------*- tablegen -*-===//
//
// The kernel level of the lowbit dialect: the target attribute, packed
// weights, and executables holding kernel specialisations that dispatches
// call. Modelled on IREE's HAL dialect (hal.executable, hal.executable.export,
// #hal.executable.target, stream.cmd.dispatch).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_LOWBITKERNELOPS_TD
#define LOWBIT_DIALECT_LOWBIT_IR_LOWBITKERNELOPS_TD

include "lowbit/Dialect/Lowbit/IR/LowbitTypes.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// TargetAttr
//===----------------------------------------------------------------------===//

def Lowbit_TargetAttr : Lowbit_Attr<"Target", "target"> {
  let summary = "a compilation target and the CPU/GPU features it may use";
  let description = [{
    Names a registered compiler target (`lib/Target/<Name>`) and the
    features its generated code may assume. The name is a lowercase
    identifier (`[a-z][a-z0-9_]*`); features are lowercase strings
    (`[a-z0-9_.+-]`), sorted and unique so equal targets print and compare
    equal. Which features a target accepts is the target's business:
    `-lowbit-legalize-for-target` rejects features the target does not know,
    and the target's translation honours them (x86 generates kernels only for
    the ISA levels whose features are all listed).

    `-lowbit-legalize-for-target` records the target on the module as the
    `lowbit.target` attribute; every `lowbit.executable` carries its own.

    Example:

    ```mlir
    #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>
    ```
  }];
  let parameters = (ins
    StringRefParameter<"target name">:$name,
    OptionalArrayRefParameter<"::mlir::StringAttr", "sorted feature names">:$features
  );
  let assemblyFormat = [{
    `<` $name (`,` `features` `=` `[` $features^ `]`)? `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Whether `feature` is listed.
    bool hasFeature(::llvm::StringRef feature) const;
  }];
}

//===----------------------------------------------------------------------===//
// PackedType
//===----------------------------------------------------------------------===//

def Lowbit_PackedType : Lowbit_Type<"Packed", "packed"> {
  let summary = "a quantized weight packed into a target layout";
  let description = [{
    The quantized weight `[N, K]` of `!lowbit.qweight<N x K, #scheme>`
    stored in the layout codec `layout`, the bytes a target's kernels read.
    A codec name is versioned (`<name>-v<N>`, e.g. `"x86-tile16-v1"`) and
    defined once in the codec library (`runtime/include/lowbitrt/Codec.h`);
    the version changes whenever the bytes do.

    The columns of a packed act-order weight are in quantization order
    (column `j` holds input channel `perm[j]`); the permutation travels with
    the value, and the kernel that consumes it gathers its activations with
    it (see `lowbit.pack`).

    Example:

    ```mlir
    !lowbit.packed<172x64, #lowbit.scheme<bits = 4, group_size = 32,
        symmetric = true, scale_type = f32>, "x86-tile16-v1">
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "[N, K]">:$shape,
    "::mlir::lowbit::SchemeAttr":$scheme,
    StringRefParameter<"versioned layout codec name">:$layout
  );
  let assemblyFormat =
      "`<` custom<Shape>($shape) `,` qualified($scheme) `,` $layout `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getN() const { return getShape()[0]; }
    int64_t getK() const { return getShape()[1]; }
    /// The unpacked quantized weight type with the same shape and scheme.
    ::mlir::lowbit::QWeightType getQWeightType() const;
  }];
}

//===----------------------------------------------------------------------===//
// PackOp
//===----------------------------------------------------------------------===//

def Lowbit_PackOp : Lowbit_Op<"pack", [Pure]> {
  let summary = "pack a quantized weight into a target layout";
  let description = [{
    Converts the quantized weight `input` into the layout codec of the
    result type; the shape and scheme do not change. Act-order weights are
    packed in quantization order: column `j` of the packed weight is input
    channel `perm[j]` of `input`, and the consumer (a `lowbit.dispatch`)
    gathers its activations by `perm` before the product, as bundles do
    today. The value therefore means the same weight as `input`.

    `-lowbit-materialize-packs` inserts one pack per quantized parameter and
    layout right after the parameter; `-lowbit-outline-kernels` makes the
    dispatches read it.

    Example:

    ```mlir
    %p = lowbit.pack %q : !lowbit.qweight<172x64, #s> -> !lowbit.packed<172x64, #s, "x86-tile16-v1">
    ```
  }];
  let arguments = (ins Lowbit_QWeightType:$input);
  let results = (outs Lowbit_PackedType:$result);
  let assemblyFormat =
      "$input attr-dict `:` qualified(type($input)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Executables
//===----------------------------------------------------------------------===//

def Lowbit_KernelKindAttr : I32EnumAttr<"KernelKind",
    "the computation a lowbit.kernel specialises", [
      I32EnumAttrCase<"QMatmul", 0, "qmatmul">
    ]> {
  let cppNamespace = "::mlir::lowbit";
}

def Lowbit_ExecutableOp : Lowbit_Op<"executable", [
    IsolatedFromAbove, SymbolTable, Symbol, SingleBlock, NoTerminator,
    NoRegionArguments, HasParent<"::mlir::ModuleOp">]> {
  let summary = "the kernels of one target, compiled together";
  let description = [{
    A symbol table holding the `lowbit.kernel` declarations generated for
    one `#lowbit.target`, and, once the target's translation has run, the
    `lowbit.binary` holding their code. `lowbit.dispatch` ops call its
    kernels as `@executable::@kernel`. `-lowbit-outline-kernels` creates one
    executable per target; `-lowbit-translate-executables` serializes it.

    Example:

    ```mlir
    lowbit.executable @x86 target(#lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>) {
      lowbit.kernel @qmatmul_n172_k64_b4 qmatmul n = 172, k = 64,
          layout = "x86-tile16-v1", scheme = #scheme
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, Lowbit_TargetAttr:$target);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $sym_name `target` `(` qualified($target) `)` attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::llvm::StringRef":$name,
                   "::mlir::lowbit::TargetAttr":$target)>
  ];
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    /// The binary of format `format`, or null.
    ::mlir::lowbit::BinaryOp getBinary(::llvm::StringRef format);
  }];
}

def Lowbit_KernelOp : Lowbit_Op<"kernel", [
    Symbol, HasParent<"::mlir::lowbit::ExecutableOp">]> {
  let summary = "one kernel specialisation of an executable";
  let description = [{
    Declares a kernel that computes `kind` for one static specialisation:
    for `qmatmul`, `y[..., n] = sum_k x[..., k] * W[n, k] (+ bias[n])` with
    `W` an `[n, k]` weight under `scheme`, packed in `layout`, and, with
    `act_bits`, activations quantized dynamically per token (W8A8). This is
    the specialisation key of the target's generator: kernels differing in
    any of these are different code, equal ones are one kernel.

    The kernel's signature follows from the key: `(tensor<... x k x f32>,
    !lowbit.packed<n x k, scheme, layout>[, tensor<n x f32>]) ->
    tensor<... x n x f32>`; the bias is optional at every call. How many
    ISA levels and batch tiles a kernel is generated for is the target's
    choice at translation (x86: every ISA level the executable's target
    features allow, each with a decode and a prefill tile).

    Example:

    ```mlir
    lowbit.kernel @qmatmul_n172_k64_b4 qmatmul n = 172, k = 64,
        layout = "x86-tile16-v1", scheme = #scheme, act_bits = 8
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, Lowbit_KernelKindAttr:$kind,
                       I64Attr:$n, I64Attr:$k, StrAttr:$layout,
                       Lowbit_SchemeAttr:$scheme,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntMinValue<2>, IntMaxValue<8>]>>:$act_bits);
  let assemblyFormat = [{
    $sym_name $kind `n` `=` $n `,` `k` `=` $k `,` `layout` `=` $layout `,`
    `scheme` `=` qualified($scheme) (`,` `act_bits` `=` $act_bits^)? attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The type of the packed weight operand of its dispatches.
    ::mlir::lowbit::PackedType getPackedType();
  }];
}

def Lowbit_BinaryOp : Lowbit_Op<"binary", [
    HasParent<"::mlir::lowbit::ExecutableOp">]> {
  let summary = "the code of an executable's kernels for its target";
  let description = [{
    The blob the target's translation produced for the kernels of the
    enclosing executable (x86: an ELF shared object exporting every kernel
    at every ISA level and batch tile), tagged with its versioned `format`,
    the tag the runtime driver's loader dispatches on (`"x86-elf-so-v1"`).
    The bytes are a 1-D `ui8` elements attribute, normally a
    `dense_resource` blob so the IR prints small
    (`--mlir-elide-resource-strings-if-larger`). An executable holds at most
    one binary per format.

    Example:

    ```mlir
    lowbit.binary "x86-elf-so-v1" dense_resource<x86_elf> : tensor<17928xui8>
    ```
  }];
  let arguments = (ins StrAttr:$format, ElementsAttr:$data);
  let assemblyFormat = "$format $data attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The bytes, or nothing when `data` does not hold them (an elided or
    /// missing resource blob).
    std::optional<::llvm::ArrayRef<uint8_t>> getBytes();
  }];
}

//===----------------------------------------------------------------------===//
// DispatchOp
//===----------------------------------------------------------------------===//

def Lowbit_DispatchOp : Lowbit_Op<"dispatch", [
    Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "call a kernel of an executable";
  let description = [{
    Runs the kernel `@executable::@kernel` on `input`, the packed `weight`
    and an optional `bias`. The operand and result types must match the
    kernel's signature (see `lowbit.kernel`). For `qmatmul` kernels the
    result is exactly that of the `lowbit.qmatmul` the dispatch replaced; for
    act-order weights the activations are gathered by the weight's
    permutation first, since the packed columns are in quantization order.

    Example:

    ```mlir
    %y = lowbit.dispatch @x86::@qmatmul_n172_k64_b4(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<172x64, #scheme, "x86-tile16-v1">) -> tensor<?x172xf32>
    ```
  }];
  let arguments = (ins SymbolRefAttr:$kernel,
                       RankedTensorOf<[F32]>:$input,
                       Lowbit_PackedType:$weight,
                       Optional<RankedTensorOf<[F32]>>:$bias);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $kernel `(` $input `,` $weight (`,` $bias^)? `)` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBITKERNELOPS_TD
