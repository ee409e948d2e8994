// RUN: lowbit-opt %s | FileCheck %s
// RUN: lowbit-opt %s -mlir-print-op-generic | lowbit-opt | FileCheck %s

// CHECK-LABEL: func.func @dequantize
// CHECK: %[[Q:.*]] = lowbit.qparam "w"
// CHECK: lowbit.dequantize %[[Q]] : !lowbit.qweight<32x64, #scheme> -> tensor<32x64xf32>
func.func @dequantize() -> tensor<32x64xf32> {
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>
  %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>> -> tensor<32x64xf32>
  return %w : tensor<32x64xf32>
}
