// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @rotate_half
// CHECK: lowbit.rotary rotate_half %{{.*}}, %{{.*}} {head_dim = 8 : i64, theta = 1.000000e+04 : f64} : tensor<?x64xf32>, tensor<?xi32>
func.func @rotate_half(%q: tensor<?x64xf32>, %pos: tensor<?xi32>) -> tensor<?x64xf32> {
  %y = lowbit.rotary rotate_half %q, %pos {head_dim = 8 : i64, theta = 10000.0 : f64} : tensor<?x64xf32>, tensor<?xi32>
  return %y : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @interleaved
// CHECK: lowbit.rotary interleaved {{.*}} theta = 5.000000e+05 : f64
func.func @interleaved(%k: tensor<3x32xf32>, %pos: tensor<3xi64>) -> tensor<3x32xf32> {
  %y = lowbit.rotary interleaved %k, %pos {head_dim = 16 : i64, theta = 500000.0 : f64} : tensor<3x32xf32>, tensor<3xi64>
  return %y : tensor<3x32xf32>
}
