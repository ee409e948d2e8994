// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @swiglu
// CHECK: lowbit.gated_act silu %{{.*}}, %{{.*}} : tensor<?x172xf32>
func.func @swiglu(%g: tensor<?x172xf32>, %u: tensor<?x172xf32>) -> tensor<?x172xf32> {
  %a = lowbit.gated_act silu %g, %u : tensor<?x172xf32>
  return %a : tensor<?x172xf32>
}

// -----

// CHECK-LABEL: func.func @geglu
// CHECK: lowbit.gated_act gelu %
// CHECK: lowbit.gated_act gelu_tanh %
func.func @geglu(%g: tensor<2x8xf16>, %u: tensor<2x8xf16>) -> tensor<2x8xf16> {
  %a = lowbit.gated_act gelu %g, %u : tensor<2x8xf16>
  %b = lowbit.gated_act gelu_tanh %a, %u : tensor<2x8xf16>
  return %b : tensor<2x8xf16>
}
