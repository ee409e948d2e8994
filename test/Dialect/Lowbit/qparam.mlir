// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @by_name
// CHECK: lowbit.qparam "model.layers.0.mlp.down_proj" : !lowbit.qweight<64x172, #scheme>
func.func @by_name() {
  %q = lowbit.qparam "model.layers.0.mlp.down_proj" : !lowbit.qweight<64x172, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
  return
}

// -----

// Inline components: codes [N, K] of ui<bits>, scales and zeros [N, G] with a
// ragged last group (K = 5, group 2 -> 3 groups), perm [K] for act-order.
// CHECK-LABEL: func.func @inline_asym_act_order
// CHECK: lowbit.qparam "w" {codes = dense<{{.*}}> : tensor<2x5xui4>, perm = dense<[4, 3, 2, 1, 0]> : tensor<5xi32>, scales = dense<{{.*}}> : tensor<2x3xf32>, zeros = dense<{{.*}}> : tensor<2x3xui8>}
func.func @inline_asym_act_order() {
  %q = lowbit.qparam "w" {codes = dense<[[0, 1, 2, 3, 15], [4, 5, 6, 7, 8]]> : tensor<2x5xui4>, scales = dense<0.5> : tensor<2x3xf32>, zeros = dense<8> : tensor<2x3xui8>, perm = dense<[4, 3, 2, 1, 0]> : tensor<5xi32>} : !lowbit.qweight<2x5, #lowbit.scheme<bits = 4, group_size = 2, symmetric = false, scale_type = f32, zero_type = ui8, act_order = true>>
  return
}

// -----

// CHECK-LABEL: func.func @inline_sym_per_channel
// CHECK: scales = dense<2.500000e-01> : tensor<2x1xf16>
func.func @inline_sym_per_channel() {
  %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui3>, scales = dense<0.25> : tensor<2x1xf16>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 3, group_size = -1, symmetric = true, scale_type = f16>>
  return
}
