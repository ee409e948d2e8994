//===- LowbitBase.td - lowbit dialect definition -----------*- tablegen -*-===//
//
// The lowbit dialect: model-level ops that LLMs are made of, and the
// quantized-level ops and attributes that describe low-bit weights.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_LOWBITBASE_TD
#define LOWBIT_DIALECT_LOWBIT_IR_LOWBITBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Lowbit_Dialect : Dialect {
  let name = "lowbit";
  let cppNamespace = "::mlir::lowbit";
  let summary = "Graph- and quantized-level IR for low-bit LLM compilation";
  let description = [{
    The `lowbit` dialect describes causal language models at two levels.

    At the graph level a model is a handful of coarse ops (embedding, RMS
    norm, linear, rotary embedding, attention with a KV cache, gated MLP
    activation, residual add) over ranked tensors. Weights are never stored
    in the IR: `lowbit.param` references a tensor by scope and key; the module
    records where each parameter scope is stored (`lowbit.parameter_scopes`,
    relative paths to memory-mapped safetensors), so a 70B model prints as a
    small module.

    At the quantized level linear weights become `lowbit.qparam` values of
    type `!lowbit.qweight`, whose `#lowbit.scheme` attribute describes the
    quantization completely (bits, groups, zero points, act-order,
    rotation). `lowbit.dequantize` and the fused `lowbit.qmatmul` consume
    them.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let dependentDialects = ["::mlir::func::FuncDialect"];
  // Module attributes `lowbit.parameter_scopes` and `lowbit.tokenizer`.
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Per-context state of the parameter resolver
    /// (lowbit/Params/ParamResolver.h), owned by the dialect so that it lives
    /// exactly as long as the context. Type-erased: the dialect library does
    /// not depend on the resolver's.
    std::shared_ptr<void> &getParamResolverSlot() { return paramResolverSlot; }

  private:
    std::shared_ptr<void> paramResolverSlot;

  public:
  }];
}

class Lowbit_Op<string mnemonic, list<Trait> traits = []>
    : Op<Lowbit_Dialect, mnemonic, traits>;

class Lowbit_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Lowbit_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class Lowbit_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Lowbit_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBITBASE_TD
