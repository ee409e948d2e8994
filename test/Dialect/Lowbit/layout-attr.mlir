// RUN: lowbit-opt %s | FileCheck %s
// RUN: lowbit-opt %s -mlir-print-op-generic | lowbit-opt | FileCheck %s

// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} {lowbit.layout = "x86-tile16-v1"}
func.func @layout(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32> {
  %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
