// RUN: lowbit-opt %s -split-input-file -lowbit-materialize-packs | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -lowbit-materialize-packs -lowbit-materialize-packs | FileCheck %s

// One pack per quantized parameter and layout, right after the parameter,
// even when two matmuls share it; running twice adds nothing.
// CHECK-LABEL: func.func @shared
// CHECK: %[[Q:.*]] = lowbit.qparam "w"
// CHECK-NEXT: lowbit.pack %[[Q]] : !lowbit.qweight<32x64, #scheme> -> !lowbit.packed<32x64, #scheme, "x86-tile16-v1">
// CHECK-NOT: lowbit.pack %
// CHECK: lowbit.qmatmul %{{.*}}, %[[Q]] {lowbit.layout = "x86-tile16-v1"}
// CHECK: lowbit.qmatmul %{{.*}}, %[[Q]] {act_bits = 8 : i64, lowbit.layout = "x86-tile16-v1"}
// CHECK: %[[Q2:.*]] = lowbit.qparam "w2"
// CHECK-NEXT: lowbit.pack %[[Q2]] : !lowbit.qweight<32x64, #scheme1> -> !lowbit.packed<32x64, #scheme1, "x86-tile16-v1">
// CHECK-NOT: lowbit.pack %
func.func @shared(%x: tensor<?x64xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
  %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
  %z = lowbit.qmatmul %x, %q {act_bits = 8 : i64, lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
  %q2 = lowbit.qparam "w2" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 2, group_size = 16, symmetric = true, scale_type = f16>>
  %u = lowbit.qmatmul %x, %q2 {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 2, group_size = 16, symmetric = true, scale_type = f16>>) -> tensor<?x32xf32>
  return %y, %z, %u : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// A weight that is a block argument is packed at the start of the block.
// CHECK-LABEL: func.func @argument
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[Q:.*]]: !lowbit.qweight
// CHECK-NEXT: lowbit.pack %[[Q]]
// CHECK-NEXT: lowbit.qmatmul %[[X]], %[[Q]]
func.func @argument(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32> {
  %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// A tied table: the lookup reads the pack the output projection's dispatch
// will read (one pack), and loses its layout attribute.
// CHECK-LABEL: func.func @tied_table
// CHECK: %[[Q:.*]] = lowbit.qparam "lm_head"
// CHECK-NEXT: %[[P:.*]] = lowbit.pack %[[Q]]
// CHECK-NOT: lowbit.pack %
// CHECK: lowbit.qembedding %[[P]], %{{.*}} : (!lowbit.packed<512x64, #scheme, "x86-tile16-v1">, tensor<?xi32>)
// CHECK: lowbit.qmatmul %{{.*}}, %[[Q]] {lowbit.layout = "x86-tile16-v1"}
func.func @tied_table(%ids: tensor<?xi32>) -> tensor<?x512xf32> {
  %q = lowbit.qparam "lm_head" : !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>
  %h = lowbit.qembedding %q, %ids {lowbit.layout = "x86-tile16-v1"} : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, tensor<?xi32>) -> tensor<?x64xf32>
  %y = lowbit.qmatmul %h, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>) -> tensor<?x512xf32>
  return %y : tensor<?x512xf32>
}
