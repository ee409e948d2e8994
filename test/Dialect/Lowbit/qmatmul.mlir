// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @ragged
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} : (tensor<?x172xf32>, !lowbit.qweight<64x172, #scheme>) -> tensor<?x64xf32>
func.func @ragged(%x: tensor<?x172xf32>) -> tensor<?x64xf32> {
  %q = lowbit.qparam "down_proj" : !lowbit.qweight<64x172, #lowbit.scheme<bits = 3, group_size = 64, symmetric = false, scale_type = f16, zero_type = ui8>>
  %y = lowbit.qmatmul %x, %q : (tensor<?x172xf32>, !lowbit.qweight<64x172, #lowbit.scheme<bits = 3, group_size = 64, symmetric = false, scale_type = f16, zero_type = ui8>>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// W8A8 request and a bias.
// CHECK-LABEL: func.func @w8a8_bias
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}}, %{{.*}} {act_bits = 8 : i64}
func.func @w8a8_bias(%x: tensor<?x64xf32>, %b: tensor<32xf32>) -> tensor<?x32xf32> {
  %q = lowbit.qparam "k_proj" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f32>>
  %y = lowbit.qmatmul %x, %q, %b {act_bits = 8 : i64} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f32>>, tensor<32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
