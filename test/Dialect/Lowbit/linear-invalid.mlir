// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @weight_rank(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @below {{weight must be 2-D [N, K], got rank 1}}
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @k_mismatch(%x: tensor<?x48xf32>, %w: tensor<32x64xf32>) {
  // expected-error @below {{input feature size 48 does not match weight K = 64}}
  %y = lowbit.linear %x, %w : (tensor<?x48xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @input_rank(%x: tensor<f32>, %w: tensor<32x64xf32>) {
  // expected-error @below {{input must have rank >= 1}}
  %y = lowbit.linear %x, %w : (tensor<f32>, tensor<32x64xf32>) -> tensor<32xf32>
  return
}

// -----

func.func @bias_shape(%x: tensor<?x64xf32>, %w: tensor<32x64xf32>, %b: tensor<64xf32>) {
  // expected-error @below {{bias must be [N] = [32], got 'tensor<64xf32>'}}
  %y = lowbit.linear %x, %w, %b : (tensor<?x64xf32>, tensor<32x64xf32>, tensor<64xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @bias_type(%x: tensor<?x64xf32>, %w: tensor<32x64xf32>, %b: tensor<32xf16>) {
  // expected-error @below {{bias element type 'f16' does not match result element type 'f32'}}
  %y = lowbit.linear %x, %w, %b : (tensor<?x64xf32>, tensor<32x64xf32>, tensor<32xf16>) -> tensor<?x32xf32>
  return
}

// -----

func.func @result_rank(%x: tensor<?x64xf32>, %w: tensor<32x64xf32>) {
  // expected-error @below {{result rank 3 does not match input rank 2}}
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<1x?x32xf32>
  return
}

// -----

func.func @result_rows(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>) {
  // expected-error @below {{result dimension 0 (5) does not match input dimension (4)}}
  %y = lowbit.linear %x, %w : (tensor<4x64xf32>, tensor<32x64xf32>) -> tensor<5x32xf32>
  return
}

// -----

func.func @result_n(%x: tensor<?x64xf32>, %w: tensor<32x64xf32>) {
  // expected-error @below {{result feature size 16 does not match weight N = 32}}
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @element(%x: tensor<?x64xf16>, %w: tensor<32x64xf16>) {
  // expected-error @below {{input element type 'f16' does not match result element type 'f32'}}
  %y = lowbit.linear %x, %w : (tensor<?x64xf16>, tensor<32x64xf16>) -> tensor<?x32xf32>
  return
}
