// A gated MLP whose three projections are 4-bit quantized weights (grouped,
// ragged last group: K = 40 with groups of 16), as the quantization passes
// write them. Run:
//   lowbit-opt examples/quantized-mlp.mlir -lowbit-fuse-dequant-matmul
// to fuse each lowbit.dequantize into its matmul (lowbit.qmatmul). The
// weights are tensors of the parameter scope `rtn` (docs/parameters.md); the
// file it names is not shipped, as fusion reads no tensors.
#w4g16 = #lowbit.scheme<bits = 4, group_size = 16, symmetric = false,
                        scale_type = f16, zero_type = ui8>
module attributes {lowbit.parameter_scopes = {
    rtn = #lowbit.scope<"safetensors", "quantized-mlp.safetensors">}} {
func.func @mlp(%x: tensor<?x24xf32>) -> tensor<?x24xf32> {
  %qg = lowbit.qparam "rtn"::"mlp.gate_proj" : !lowbit.qweight<40x24, #w4g16>
  %qu = lowbit.qparam "rtn"::"mlp.up_proj" : !lowbit.qweight<40x24, #w4g16>
  %qd = lowbit.qparam "rtn"::"mlp.down_proj" : !lowbit.qweight<24x40, #w4g16>
  %wg = lowbit.dequantize %qg : !lowbit.qweight<40x24, #w4g16> -> tensor<40x24xf32>
  %wu = lowbit.dequantize %qu : !lowbit.qweight<40x24, #w4g16> -> tensor<40x24xf32>
  %wd = lowbit.dequantize %qd : !lowbit.qweight<24x40, #w4g16> -> tensor<24x40xf32>
  %g = lowbit.linear %x, %wg : (tensor<?x24xf32>, tensor<40x24xf32>) -> tensor<?x40xf32>
  %u = lowbit.linear %x, %wu : (tensor<?x24xf32>, tensor<40x24xf32>) -> tensor<?x40xf32>
  %a = lowbit.gated_act silu %g, %u : tensor<?x40xf32>
  %y = lowbit.linear %a, %wd : (tensor<?x40xf32>, tensor<24x40xf32>) -> tensor<?x24xf32>
  %r = lowbit.add %x, %y : tensor<?x24xf32>
  return %r : tensor<?x24xf32>
}
}
