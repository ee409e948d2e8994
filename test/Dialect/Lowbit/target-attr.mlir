// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK: #target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>
// CHECK: module attributes {lowbit.target = #target}
module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
}

// -----

// No features.
// CHECK: #target = #lowbit.target<"cuda_sm80">
// CHECK: module attributes {lowbit.target = #target}
module attributes {lowbit.target = #lowbit.target<"cuda_sm80">} {
}
