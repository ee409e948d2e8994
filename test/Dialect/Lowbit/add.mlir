// RUN: lowbit-opt %s | FileCheck %s
// RUN: lowbit-opt %s -mlir-print-op-generic | lowbit-opt | FileCheck %s

// CHECK-LABEL: func.func @residual
// CHECK: %[[R:.*]] = lowbit.add %arg0, %arg1 : tensor<?x64xf32>
// CHECK: return %[[R]]
func.func @residual(%h: tensor<?x64xf32>, %o: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = lowbit.add %h, %o : tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}
