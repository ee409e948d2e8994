// RUN: lowbit-opt %s -split-input-file -lowbit-fuse-dequant-matmul | FileCheck %s

// CHECK-LABEL: func.func @fuse
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>)
// CHECK: %[[Q:.*]] = lowbit.qparam "w"
// CHECK-NOT: lowbit.dequantize
// CHECK-NOT: lowbit.linear
// CHECK: %[[Y:.*]] = lowbit.qmatmul %[[X]], %[[Q]] : (tensor<?x64xf32>, !lowbit.qweight<32x64, #scheme>) -> tensor<?x32xf32>
// CHECK: return %[[Y]]
func.func @fuse(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>
  %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>> -> tensor<32x64xf32>
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// The bias is carried over.
// CHECK-LABEL: func.func @bias
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[B:.*]]: tensor<32xf32>)
// CHECK: lowbit.qmatmul %[[X]], %{{.*}}, %[[B]] :
func.func @bias(%x: tensor<?x64xf32>, %b: tensor<32xf32>) -> tensor<?x32xf32> {
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>
  %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>> -> tensor<32x64xf32>
  %y = lowbit.linear %x, %w, %b : (tensor<?x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// A dequantized weight with another user keeps its lowbit.dequantize; both
// linears are still fused.
// CHECK-LABEL: func.func @shared
// CHECK: %[[W:.*]] = lowbit.dequantize
// CHECK-COUNT-2: lowbit.qmatmul
// CHECK: return %{{.*}}, %{{.*}}, %[[W]]
func.func @shared(%x: tensor<?x64xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<32x64xf32>) {
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>
  %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>> -> tensor<32x64xf32>
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %z = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y, %z, %w : tensor<?x32xf32>, tensor<?x32xf32>, tensor<32x64xf32>
}

// -----

// A float weight that is not dequantized is left alone.
// CHECK-LABEL: func.func @float_weight
// CHECK: lowbit.linear
// CHECK-NOT: lowbit.qmatmul
func.func @float_weight(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %w = lowbit.param "w" : tensor<32x64xf32>
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// A tied table: the lookup and the output projection both read the
// quantized table, and the dequantize goes away.
// CHECK-LABEL: func.func @tied_embedding
// CHECK-SAME: (%[[IDS:.*]]: tensor<?xi32>)
// CHECK: %[[Q:.*]] = lowbit.qparam "lm_head"
// CHECK-NOT: lowbit.dequantize
// CHECK: %[[H:.*]] = lowbit.qembedding %[[Q]], %[[IDS]] : (!lowbit.qweight<512x64, #scheme>, tensor<?xi32>) -> tensor<?x64xf32>
// CHECK: lowbit.qmatmul %[[H]], %[[Q]]
func.func @tied_embedding(%ids: tensor<?xi32>) -> tensor<?x512xf32> {
  %q = lowbit.qparam "lm_head" : !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>
  %t = lowbit.dequantize %q : !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>> -> tensor<512x64xf32>
  %h = lowbit.embedding %t, %ids : (tensor<512x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  %y = lowbit.linear %h, %t : (tensor<?x64xf32>, tensor<512x64xf32>) -> tensor<?x512xf32>
  return %y : tensor<?x512xf32>
}

// -----

// An act-order table is not fused into a lookup (its columns are permuted).
// CHECK-LABEL: func.func @act_order_embedding
// CHECK: lowbit.dequantize
// CHECK: lowbit.embedding
func.func @act_order_embedding(%ids: tensor<?xi32>) -> tensor<?x64xf32> {
  %q = lowbit.qparam "t" : !lowbit.qweight<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16, act_order = true>>
  %t = lowbit.dequantize %q : !lowbit.qweight<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16, act_order = true>> -> tensor<512x64xf32>
  %h = lowbit.embedding %t, %ids : (tensor<512x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}
