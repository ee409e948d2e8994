// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @shape(%q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) {
  // expected-error @below {{packed shape [64, 32] does not match quantized weight shape [32, 64]}}
  %p = lowbit.pack %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>> -> !lowbit.packed<64x32, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">
  return
}

// -----

func.func @scheme(%q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) {
  // expected-error @below {{packed scheme #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f32> does not match quantized weight scheme #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>}}
  %p = lowbit.pack %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">
  return
}
