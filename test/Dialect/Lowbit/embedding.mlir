// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @tokens
// CHECK: lowbit.embedding %{{.*}}, %{{.*}} : (tensor<512x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
func.func @tokens(%ids: tensor<?xi32>) -> tensor<?x64xf32> {
  %t = lowbit.param "model.embed_tokens.weight" : tensor<512x64xf32>
  %h = lowbit.embedding %t, %ids : (tensor<512x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}

// -----

// Batched i64 ids.
// CHECK-LABEL: func.func @batched
// CHECK: lowbit.embedding {{.*}} : (tensor<512x64xbf16>, tensor<2x?xi64>) -> tensor<2x?x64xbf16>
func.func @batched(%t: tensor<512x64xbf16>, %ids: tensor<2x?xi64>) -> tensor<2x?x64xbf16> {
  %h = lowbit.embedding %t, %ids : (tensor<512x64xbf16>, tensor<2x?xi64>) -> tensor<2x?x64xbf16>
  return %h : tensor<2x?x64xbf16>
}
