// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// Every parameter of #lowbit.scheme round-trips, and defaults are elided.

// CHECK: #[[S:.*]] = #lowbit.scheme<bits = 4, group_size = 128, symmetric = false, scale_type = f16, zero_type = i8>
// CHECK-LABEL: func.func @asym_grouped
// CHECK: !lowbit.qweight<64x256, #[[S]]>
func.func @asym_grouped() -> !lowbit.qweight<64x256, #lowbit.scheme<bits = 4, group_size = 128, symmetric = false, scale_type = f16, zero_type = i8>> {
  %0 = lowbit.qparam "w" : !lowbit.qweight<64x256, #lowbit.scheme<bits = 4, group_size = 128, symmetric = false, scale_type = f16, zero_type = i8>>
  return %0 : !lowbit.qweight<64x256, #lowbit.scheme<bits = 4, group_size = 128, symmetric = false, scale_type = f16, zero_type = i8>>
}

// -----

// CHECK: #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = bf16>
// CHECK-LABEL: func.func @sym_per_channel
func.func @sym_per_channel() {
  %0 = lowbit.qparam "w" : !lowbit.qweight<16x16, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = bf16>>
  return
}

// -----

// Act-order, a float zero point (HQQ style) and the smallest width.
// CHECK: #lowbit.scheme<bits = 2, group_size = 64, symmetric = false, scale_type = f32, zero_type = f16, act_order = true>
// CHECK-LABEL: func.func @act_order_float_zero
func.func @act_order_float_zero() {
  %0 = lowbit.qparam "w" : !lowbit.qweight<8x172, #lowbit.scheme<bits = 2, group_size = 64, symmetric = false, scale_type = f32, zero_type = f16, act_order = true>>
  return
}

// -----

// A rotation nested in the scheme (QuIP incoherence processing).
// CHECK: #lowbit.scheme<bits = 3, group_size = -1, symmetric = true, scale_type = f16, rotation = <kind = randomized_hadamard, seed = 7, side = both>>
// CHECK-LABEL: func.func @rotated
func.func @rotated() {
  %0 = lowbit.qparam "w" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 3, group_size = -1, symmetric = true, scale_type = f16, rotation = #lowbit.rotation<kind = randomized_hadamard, seed = 7, side = both>>>
  return
}

// -----

// Unsigned and signed zero types wide enough for the codes.
// CHECK: #lowbit.scheme<bits = 8, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>
// CHECK: #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = si8>
// CHECK-LABEL: func.func @zero_types
func.func @zero_types() {
  %0 = lowbit.qparam "a" : !lowbit.qweight<4x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
  %1 = lowbit.qparam "b" : !lowbit.qweight<4x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = si8>>
  return
}

// -----

// A float minimum instead of a zero point (GGUF Q4_1: W = d * q + m); the
// default zero_form = zero_point is elided.
// CHECK: #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>
// CHECK: #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>
// CHECK-LABEL: func.func @zero_forms
func.func @zero_forms() {
  %0 = lowbit.qparam "q4_1" : !lowbit.qweight<4x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>>
  %1 = lowbit.qparam "zp" : !lowbit.qweight<4x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8, zero_form = zero_point>>
  return
}

// -----

// Super-block scales: printed when set, elided at the default 0.
// CHECK: #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, super_group = 8>
// CHECK: #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>
// CHECK-LABEL: func.func @super_groups
func.func @super_groups() {
  %0 = lowbit.qparam "sg" : !lowbit.qweight<4x256, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, super_group = 8>>
  %1 = lowbit.qparam "plain" : !lowbit.qweight<4x256, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16, super_group = 0>>
  return
}
