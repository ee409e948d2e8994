// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @no_bias
// CHECK: lowbit.linear %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
func.func @no_bias(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %w = lowbit.param "k_proj.weight" : tensor<32x64xf32>
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Qwen2-style q/k/v bias; a leading batch dimension.
// CHECK-LABEL: func.func @bias
// CHECK: lowbit.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x?x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<2x?x32xf32>
func.func @bias(%x: tensor<2x?x64xf32>) -> tensor<2x?x32xf32> {
  %w = lowbit.param "k_proj.weight" : tensor<32x64xf32>
  %b = lowbit.param "k_proj.bias" : tensor<32xf32>
  %y = lowbit.linear %x, %w, %b : (tensor<2x?x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<2x?x32xf32>
  return %y : tensor<2x?x32xf32>
}
