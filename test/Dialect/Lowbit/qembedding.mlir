// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// A quantized table (the quantized level).
// CHECK-LABEL: func.func @quantized
// CHECK: lowbit.qembedding %{{.*}}, %{{.*}} : (!lowbit.qweight<512x64, #scheme>, tensor<?xi32>) -> tensor<?x64xf32>
func.func @quantized(%ids: tensor<?xi32>) -> tensor<?x64xf32> {
  %q = lowbit.qparam "lm_head" : !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>
  %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, tensor<?xi32>) -> tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}

// -----

// A packed table (the kernel level), float minimums, batched i64 ids.
// CHECK-LABEL: func.func @packed
// CHECK: lowbit.qembedding %{{.*}}, %{{.*}} : (!lowbit.packed<512x64, #scheme, "x86-tile16-v1">, tensor<2x?xi64>) -> tensor<2x?x64xf32>
func.func @packed(%ids: tensor<2x?xi64>) -> tensor<2x?x64xf32> {
  %q = lowbit.qparam "lm_head" : !lowbit.qweight<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>>
  %p = lowbit.pack %q : !lowbit.qweight<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>> -> !lowbit.packed<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>, "x86-tile16-v1">
  %h = lowbit.qembedding %p, %ids : (!lowbit.packed<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>, "x86-tile16-v1">, tensor<2x?xi64>) -> tensor<2x?x64xf32>
  return %h : tensor<2x?x64xf32>
}
