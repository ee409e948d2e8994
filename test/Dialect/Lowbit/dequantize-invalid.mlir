// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @shape(%q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>) {
  // expected-error @below {{result shape [64, 32] does not match quantized weight shape [32, 64]}}
  %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>> -> tensor<64x32xf32>
  return
}

// -----

func.func @element(%q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>) {
  // expected-error @below {{result #0 must be ranked tensor of floating-point values}}
  %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>> -> tensor<32x64xi8>
  return
}
