// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @by_name
// CHECK: %[[W:.*]] = lowbit.param "model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
// CHECK: return %[[W]]
func.func @by_name() -> tensor<64x64xf32> {
  %w = lowbit.param "model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
  return %w : tensor<64x64xf32>
}

// -----

// A reference by scope and key: the scope is one the module records.
// CHECK-LABEL: func.func @by_scope
// CHECK: lowbit.param "checkpoint"::"model.norm.weight" : tensor<64xf32>
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "m">}} {
  func.func @by_scope() -> tensor<64xf32> {
    %w = lowbit.param "checkpoint"::"model.norm.weight" : tensor<64xf32>
    return %w : tensor<64xf32>
  }
}

// -----

// Tiny test models may carry their values inline.
// CHECK-LABEL: func.func @inline_value
// CHECK: lowbit.param "w" {value = dense<{{\[\[}}1.000000e+00, 2.000000e+00]]> : tensor<1x2xf16>} : tensor<1x2xf16>
func.func @inline_value() -> tensor<1x2xf16> {
  %w = lowbit.param "w" {value = dense<[[1.0, 2.0]]> : tensor<1x2xf16>} : tensor<1x2xf16>
  return %w : tensor<1x2xf16>
}

// -----

// CHECK-LABEL: func.func @resource_value
// CHECK: lowbit.param "w" {value = dense_resource<blob1> : tensor<2xf32>}
func.func @resource_value() -> tensor<2xf32> {
  %w = lowbit.param "w" {value = dense_resource<blob1> : tensor<2xf32>} : tensor<2xf32>
  return %w : tensor<2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      blob1: "0x040000000000803F00000040"
    }
  }
#-}
