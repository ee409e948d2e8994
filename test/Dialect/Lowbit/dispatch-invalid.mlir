// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}
func.func @flat(%x: tensor<?x64xf32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{kernel reference @k must be @executable::@kernel}}
  %y = lowbit.dispatch @k(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x32xf32>
  return
}

// -----

func.func @other() {
  return
}
func.func @not_executable(%x: tensor<?x64xf32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{'@other' does not name a lowbit.executable}}
  %y = lowbit.dispatch @other::@k(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x32xf32>
  return
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}
func.func @missing(%x: tensor<?x64xf32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{kernel @x86::@nope is not a lowbit.kernel of executable @x86}}
  %y = lowbit.dispatch @x86::@nope(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x32xf32>
  return
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}
func.func @scheme(%x: tensor<?x64xf32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{weight type '!lowbit.packed<32x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">' does not match kernel @x86::@k, which expects '!lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">'}}
  %y = lowbit.dispatch @x86::@k(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x32xf32>
  return
}

// -----

func.func @k_mismatch(%x: tensor<?x48xf32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{input feature size 48 does not match weight K = 64}}
  %y = lowbit.dispatch @x86::@k(%x, %p) : (tensor<?x48xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x32xf32>
  return
}

// -----

func.func @n_mismatch(%x: tensor<?x64xf32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{result feature size 16 does not match weight N = 32}}
  %y = lowbit.dispatch @x86::@k(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x16xf32>
  return
}

// -----

func.func @rank(%x: tensor<?x64xf32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{result rank 3 does not match input rank 2}}
  %y = lowbit.dispatch @x86::@k(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<1x?x32xf32>
  return
}

// -----

func.func @rows(%x: tensor<2x64xf32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{result dimension 0 (3) does not match input dimension (2)}}
  %y = lowbit.dispatch @x86::@k(%x, %p) : (tensor<2x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<3x32xf32>
  return
}

// -----

func.func @scalar(%x: tensor<f32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{input must have rank >= 1}}
  %y = lowbit.dispatch @x86::@k(%x, %p) : (tensor<f32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<f32>
  return
}

// -----

func.func @bias(%x: tensor<?x64xf32>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">, %b: tensor<16xf32>) {
  // expected-error @below {{bias must be [N] = [32], got 'tensor<16xf32>'}}
  %y = lowbit.dispatch @x86::@k(%x, %p, %b) : (tensor<?x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">, tensor<16xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @f16(%x: tensor<?x64xf16>, %p: !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) {
  // expected-error @below {{operand #0 must be ranked tensor of 32-bit float values, but got 'tensor<?x64xf16>'}}
  %y = lowbit.dispatch @x86::@k(%x, %p) : (tensor<?x64xf16>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x32xf32>
  return
}
