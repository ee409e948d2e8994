// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @odd_head_dim(%q: tensor<?x63xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{head_dim must be positive and even, got 7}}
  %y = lowbit.rotary rotate_half %q, %pos {head_dim = 7 : i64, theta = 10000.0 : f64} : tensor<?x63xf32>, tensor<?xi32>
  return
}

// -----

func.func @rank(%q: tensor<2x?x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{input must be 2-D [T, heads * head_dim], got rank 3}}
  %y = lowbit.rotary rotate_half %q, %pos {head_dim = 8 : i64, theta = 10000.0 : f64} : tensor<2x?x64xf32>, tensor<?xi32>
  return
}

// -----

func.func @width(%q: tensor<?x60xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{input width 60 is not a multiple of head_dim 8}}
  %y = lowbit.rotary rotate_half %q, %pos {head_dim = 8 : i64, theta = 10000.0 : f64} : tensor<?x60xf32>, tensor<?xi32>
  return
}

// -----

func.func @positions(%q: tensor<4x64xf32>, %pos: tensor<5xi32>) {
  // expected-error @below {{positions must be [T] matching the input rows}}
  %y = lowbit.rotary rotate_half %q, %pos {head_dim = 8 : i64, theta = 10000.0 : f64} : tensor<4x64xf32>, tensor<5xi32>
  return
}

// -----

func.func @theta(%q: tensor<?x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{theta must be positive}}
  %y = lowbit.rotary rotate_half %q, %pos {head_dim = 8 : i64, theta = -1.0 : f64} : tensor<?x64xf32>, tensor<?xi32>
  return
}

// -----

func.func @style(%q: tensor<?x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{expected string or keyword containing one of the following enum values for attribute 'style' [rotate_half, interleaved]}}
  %y = lowbit.rotary neox %q, %pos {head_dim = 8 : i64, theta = 10000.0 : f64} : tensor<?x64xf32>, tensor<?xi32>
  return
}
