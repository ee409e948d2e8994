// RUN: lowbit-opt %s -lowbit-legalize-for-target="act-bits=8 act-float=(q_proj" -verify-diagnostics

// expected-error @below {{act-float '(q_proj' is not a valid regular expression: parentheses not balanced}}
module {
  func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
    %wq = lowbit.qparam "model.layers.0.self_attn.q_proj" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %q = lowbit.qmatmul %x, %wq : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x64xf32>
    return %q : tensor<?x64xf32>
  }
}
