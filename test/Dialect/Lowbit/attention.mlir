// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// Grouped-query attention (8 query heads share 4 KV heads).
// CHECK-LABEL: func.func @gqa
// CHECK: lowbit.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {head_dim = 8 : i64, layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x64xf32>
func.func @gqa(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %pos: tensor<?xi32>) -> tensor<?x64xf32> {
  %o = lowbit.attention %q, %k, %v, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Mistral-style sliding window and an explicit softmax scale.
// CHECK-LABEL: func.func @window
// CHECK: scale = 1.250000e-01 : f32, sliding_window = 4096 : i64
func.func @window(%q: tensor<1x64xf32>, %k: tensor<1x64xf32>, %v: tensor<1x64xf32>, %pos: tensor<1xi32>) -> tensor<1x64xf32> {
  %o = lowbit.attention %q, %k, %v, %pos {layer = 3 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, head_dim = 16 : i64, scale = 0.125 : f32, sliding_window = 4096 : i64} : (tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>, tensor<1xi32>) -> tensor<1x64xf32>
  return %o : tensor<1x64xf32>
}

// -----

// The op reads and writes the KV cache, so CSE must not merge two of them.
// RUN: lowbit-opt %s -split-input-file -cse | FileCheck %s --check-prefix=CSE
// CSE-LABEL: func.func @not_cse
// CSE-COUNT-2: lowbit.attention
func.func @not_cse(%q: tensor<1x64xf32>, %pos: tensor<1xi32>) -> (tensor<1x64xf32>, tensor<1x64xf32>) {
  %a = lowbit.attention %q, %q, %q, %pos {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, head_dim = 16 : i64} : (tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>, tensor<1xi32>) -> tensor<1x64xf32>
  %b = lowbit.attention %q, %q, %q, %pos {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, head_dim = 16 : i64} : (tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x64xf32>, tensor<1xi32>) -> tensor<1x64xf32>
  return %a, %b : tensor<1x64xf32>, tensor<1x64xf32>
}
