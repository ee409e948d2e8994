// RUN: lowbit-opt %s -split-input-file -lowbit-fuse-dequant-matmul -verify-diagnostics

// The pass only runs on IR that verifies: a linear whose dequantized weight
// does not match its input is reported by the verifier before the pass runs.
func.func @mismatched(%x: tensor<?x48xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>) -> tensor<?x32xf32> {
  %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>> -> tensor<32x64xf32>
  // expected-error @below {{input feature size 48 does not match weight K = 64}}
  %y = lowbit.linear %x, %w : (tensor<?x48xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
