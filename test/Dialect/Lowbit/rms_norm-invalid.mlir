// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @weight(%x: tensor<?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @below {{weight must be [64] (the last input dimension), got 'tensor<32xf32>'}}
  %y = lowbit.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<32xf32>
  return
}

// -----

func.func @epsilon(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @below {{epsilon must be positive, got 0}}
  %y = lowbit.rms_norm %x, %w {epsilon = 0.0 : f32} : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

func.func @scalar(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @below {{input must have rank >= 1}}
  %y = lowbit.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : tensor<f32>, tensor<1xf32>
  return
}
