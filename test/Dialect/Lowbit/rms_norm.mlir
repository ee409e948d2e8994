// RUN: lowbit-opt %s | FileCheck %s
// RUN: lowbit-opt %s -mlir-print-op-generic | lowbit-opt | FileCheck %s

// CHECK-LABEL: func.func @norm
// CHECK: lowbit.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : tensor<?x64xf32>, tensor<64xf32>
func.func @norm(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = lowbit.param "model.norm.weight" : tensor<64xf32>
  %y = lowbit.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}
