// --mlir-print-ir-after-all shows the IR after each lowbit pass.
// RUN: lowbit-opt %s -lowbit-fuse-dequant-matmul -cse --mlir-print-ir-after-all -o /dev/null 2>&1 | FileCheck %s

// CHECK: // -----// IR Dump After LowbitFuseDequantMatmul (lowbit-fuse-dequant-matmul)
// CHECK: lowbit.qmatmul
// CHECK: // -----// IR Dump After CSE (cse)
func.func @f(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>
  %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>> -> tensor<32x64xf32>
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
