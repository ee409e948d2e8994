// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @empty_name() {
  // expected-error @below {{parameter name must not be empty}}
  %w = lowbit.param "" : tensor<4xf32>
  return
}

// -----

func.func @value_type() {
  // expected-error @below {{inline value type 'tensor<2xf32>' does not match result type 'tensor<4xf32>'}}
  %w = lowbit.param "w" {value = dense<1.0> : tensor<2xf32>} : tensor<4xf32>
  return
}

// -----

func.func @dynamic() {
  // expected-error @below {{result #0 must be statically shaped tensor of any type values}}
  %w = lowbit.param "w" : tensor<?x4xf32>
  return
}
