// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @mismatch(%a: tensor<?x64xf32>, %b: tensor<?x32xf32>) {
  // expected-error @below {{failed to verify that all of {lhs, rhs, result} have same type}}
  %r = "lowbit.add"(%a, %b) : (tensor<?x64xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @integer(%a: tensor<4xi32>) {
  // expected-error @below {{operand #0 must be ranked tensor of floating-point values}}
  %r = lowbit.add %a, %a : tensor<4xi32>
  return
}
