// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// Defaults (seed 0, side input) are elided when printed.
// CHECK-LABEL: func.func @plain
// CHECK-SAME: lowbit.rot = #lowbit.rotation<kind = hadamard>
func.func @plain() attributes {lowbit.rot = #lowbit.rotation<kind = hadamard, seed = 0, side = input>} {
  return
}

// -----

// CHECK-LABEL: func.func @randomized
// CHECK-SAME: #lowbit.rotation<kind = randomized_hadamard, seed = 1234, side = output>
func.func @randomized() attributes {lowbit.rot = #lowbit.rotation<kind = randomized_hadamard, seed = 1234, side = output>} {
  return
}
