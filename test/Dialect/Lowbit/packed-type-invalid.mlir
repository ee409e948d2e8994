// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// expected-error @below {{layout codec 'x86-tile16' must be a versioned name such as "x86-tile16-v1"}}
func.func @unversioned(%p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16">) {
  return
}

// -----

// expected-error @below {{layout codec '' must be a versioned name such as "x86-tile16-v1"}}
func.func @empty(%p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "">) {
  return
}

// -----

// expected-error @below {{layout codec 'X86-Tile16-v1' must be a versioned name such as "x86-tile16-v1"}}
func.func @upper(%p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "X86-Tile16-v1">) {
  return
}

// -----

// expected-error @below {{quantized weight dimensions must be positive, got 0x64}}
func.func @shape(%p: !lowbit.packed<0x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  return
}

// -----

// expected-error @below {{bits must be in [2, 8], got 9}}
// expected-error @below {{failed to parse Lowbit_PackedType parameter 'scheme' which is to be a `::mlir::lowbit::SchemeAttr`}}
func.func @scheme(%p: !lowbit.packed<32x64, #lowbit.scheme<bits = 9, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  return
}
