// RUN: lowbit-opt %s -lowbit-legalize-for-target="act-bits=8 act-float=o_proj" -verify-diagnostics

// An expression that matches no quantized matmul's weight is an error, not
// a no-op (a typo would otherwise go unnoticed).
// expected-error @below {{act-float 'o_proj' matches no quantized matmul's weight name}}
module {
  func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
    %wq = lowbit.qparam "model.layers.0.self_attn.q_proj" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %q = lowbit.qmatmul %x, %wq : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x64xf32>
    return %q : tensor<?x64xf32>
  }
}
