// RUN: lowbit-opt %s -lowbit-legalize-for-target="act-float=q_proj" -verify-diagnostics

// act-float without act-bits=8 would change nothing: an error (the other
// bad cases: -act-float-nomatch-invalid.mlir, -act-float-regex-invalid.mlir).
// expected-error @below {{act-float 'q_proj' needs act-bits=8 (without it every quantized matmul keeps float activations)}}
module {
  func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
    %wq = lowbit.qparam "model.layers.0.self_attn.q_proj" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %q = lowbit.qmatmul %x, %wq : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x64xf32>
    return %q : tensor<?x64xf32>
  }
}
