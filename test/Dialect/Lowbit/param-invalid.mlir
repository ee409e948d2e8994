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

// -----

module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "m">}} {
  func.func @unknown_scope() {
    // expected-error @below {{parameter 'w' references unknown scope 'rtn' (not in the module's lowbit.parameter_scopes)}}
    %w = lowbit.param "rtn"::"w" : tensor<4xf32>
    return
  }
}

// -----

func.func @no_scopes_at_all() {
  // expected-error @below {{parameter 'w' references unknown scope 'checkpoint' (not in the module's lowbit.parameter_scopes)}}
  %w = lowbit.param "checkpoint"::"w" : tensor<4xf32>
  return
}

// -----

module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "m">}} {
  func.func @inline_and_scope() {
    // expected-error @below {{parameter 'w' has inline data and a scope ('checkpoint'); inline parameters have no scope}}
    %w = lowbit.param "checkpoint"::"w" {value = dense<1.0> : tensor<4xf32>} : tensor<4xf32>
    return
  }
}

// -----

func.func @empty_scope() {
  // expected-error @below {{parameter 'w' has an empty scope}}
  %w = lowbit.param ""::"w" : tensor<4xf32>
  return
}
