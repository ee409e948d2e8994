// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @mismatch(%g: tensor<?x172xf32>, %u: tensor<?x64xf32>) {
  // expected-error @below {{failed to verify that all of {gate, up, result} have same type}}
  %a = "lowbit.gated_act"(%g, %u) {kind = 0 : i32} : (tensor<?x172xf32>, tensor<?x64xf32>) -> tensor<?x172xf32>
  return
}

// -----

func.func @kind(%g: tensor<?x172xf32>) {
  // expected-error @below {{expected string or keyword containing one of the following enum values for attribute 'kind' [silu, gelu, gelu_tanh]}}
  %a = lowbit.gated_act relu %g, %g : tensor<?x172xf32>
  return
}
