// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// expected-error @below {{a plain hadamard rotation takes no seed (got 3); use randomized_hadamard}}
func.func @f() attributes {lowbit.rot = #lowbit.rotation<kind = hadamard, seed = 3>} {
  return
}

// -----

// expected-error @below {{expected ::mlir::lowbit::RotationKind to be one of: hadamard, randomized_hadamard}}
// expected-error @below {{failed to parse Lowbit_RotationAttr parameter 'kind'}}
func.func @f() attributes {lowbit.rot = #lowbit.rotation<kind = givens>} {
  return
}
