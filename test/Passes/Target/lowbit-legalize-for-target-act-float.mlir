// RUN: lowbit-opt %s -lowbit-legalize-for-target="act-bits=8 act-float=self_attn\.[qk]_proj" | FileCheck %s
// RUN: lowbit-opt %s -lowbit-legalize-for-target="act-bits=8 act-float=^model\.layers\.0\.mlp" | FileCheck %s --check-prefix=ANCHOR

// act-float keeps float activations on the quantized matmuls whose weight
// name the expression finds a match in (a search, like --override), also
// removing an act_bits an earlier run set (the q_proj below); every other
// one gets act_bits = 8.
// CHECK-LABEL: func.func @f
// CHECK: %[[Q:.*]] = lowbit.qmatmul %{{.*}}, %{{[^ ]*}} : (
// CHECK: %[[K:.*]] = lowbit.qmatmul %{{.*}}, %{{[^ ]*}} : (
// CHECK: %[[V:.*]] = lowbit.qmatmul %{{.*}}, %{{.*}} {act_bits = 8 : i64}
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} {act_bits = 8 : i64}
// ANCHOR-LABEL: func.func @f
// ANCHOR-COUNT-3: {act_bits = 8 : i64}
// ANCHOR: lowbit.qmatmul %{{.*}}, %{{[^ ]*}} : (
module {
  func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
    %wq = lowbit.qparam "model.layers.0.self_attn.q_proj" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %q = lowbit.qmatmul %x, %wq {act_bits = 8 : i64} : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x64xf32>
    %wk = lowbit.qparam "model.layers.0.self_attn.k_proj" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %k = lowbit.qmatmul %q, %wk : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x64xf32>
    %wv = lowbit.qparam "model.layers.0.self_attn.v_proj" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %v = lowbit.qmatmul %k, %wv : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x64xf32>
    %wd = lowbit.qparam "model.layers.0.mlp.down_proj" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %d = lowbit.qmatmul %v, %wd : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x64xf32>
    return %d : tensor<?x64xf32>
  }
}
