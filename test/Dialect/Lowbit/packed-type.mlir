// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @packed
// CHECK-SAME: !lowbit.packed<172x64, #scheme, "x86-tile16-v1">
func.func @packed(%p: !lowbit.packed<172x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  return
}

// -----

// Act-order and a multi-digit version.
// CHECK-LABEL: func.func @act_order
// CHECK-SAME: !lowbit.packed<64x172, #scheme, "x86-tile16-v12">
func.func @act_order(%p: !lowbit.packed<64x172, #lowbit.scheme<bits = 3, group_size = 64, symmetric = false, scale_type = f16, zero_type = ui8, act_order = true>, "x86-tile16-v12">) {
  return
}
