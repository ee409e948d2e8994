// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @pack
// CHECK: %[[Q:.*]] = lowbit.qparam "w"
// CHECK: lowbit.pack %[[Q]] : !lowbit.qweight<32x64, #scheme> -> !lowbit.packed<32x64, #scheme, "x86-tile16-v1">
func.func @pack() -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, act_order = true>, "x86-tile16-v1"> {
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, act_order = true>>
  %p = lowbit.pack %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, act_order = true>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, act_order = true>, "x86-tile16-v1">
  return %p : !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, act_order = true>, "x86-tile16-v1">
}
