// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @empty_name() {
  // expected-error @below {{parameter name must not be empty}}
  %q = lowbit.qparam "" : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f16>>
  return
}

// -----

func.func @codes_without_scales() {
  // expected-error @below {{inline quantized parameter needs both codes and scales}}
  %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui4>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f16>>
  return
}

// -----

func.func @missing_zeros() {
  // expected-error @below {{inline asymmetric parameter needs zeros}}
  %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui4>, scales = dense<1.0> : tensor<2x1xf16>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = false, scale_type = f16, zero_type = ui8>>
  return
}

// -----

func.func @missing_perm() {
  // expected-error @below {{inline act-order parameter needs perm}}
  %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui4>, scales = dense<1.0> : tensor<2x1xf16>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f16, act_order = true>>
  return
}

// -----

func.func @zeros_on_symmetric() {
  // expected-error @below {{has inline zeros but its scheme does not use them}}
  %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui4>, scales = dense<1.0> : tensor<2x1xf16>, zeros = dense<8> : tensor<2x1xui8>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f16>>
  return
}

// -----

func.func @codes_width() {
  // expected-error @below {{inline codes must be 'tensor<2x8xui4>', got 'tensor<2x8xui8>'}}
  %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x8xui8>, scales = dense<1.0> : tensor<2x1xf16>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f16>>
  return
}

// -----

// K = 10 with groups of 4 has 3 groups (the last one ragged), not 2.
func.func @ragged_groups() {
  // expected-error @below {{inline scales must be 'tensor<2x3xf32>', got 'tensor<2x2xf32>'}}
  %q = lowbit.qparam "w" {codes = dense<3> : tensor<2x10xui4>, scales = dense<1.0> : tensor<2x2xf32>} : !lowbit.qweight<2x10, #lowbit.scheme<bits = 4, group_size = 4, symmetric = true, scale_type = f32>>
  return
}

// -----

module attributes {lowbit.parameter_scopes = {rtn = #lowbit.scope<"safetensors", "q.safetensors">}} {
  func.func @unknown_scope() {
    // expected-error @below {{parameter 'w' references unknown scope 'gptq' (not in the module's lowbit.parameter_scopes)}}
    %q = lowbit.qparam "gptq"::"w" : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f16>>
    return
  }
}

// -----

module attributes {lowbit.parameter_scopes = {rtn = #lowbit.scope<"safetensors", "q.safetensors">}} {
  func.func @inline_and_scope() {
    // expected-error @below {{parameter 'w' has inline data and a scope ('rtn'); inline parameters have no scope}}
    %q = lowbit.qparam "rtn"::"w" {codes = dense<3> : tensor<2x8xui4>, scales = dense<1.0> : tensor<2x1xf16>} : !lowbit.qweight<2x8, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f16>>
    return
  }
}
