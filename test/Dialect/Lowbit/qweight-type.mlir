// RUN: lowbit-opt %s | FileCheck %s
// RUN: lowbit-opt %s -mlir-print-op-generic | lowbit-opt | FileCheck %s

// A ragged shape (K = 172, groups of 32) is a legal quantized weight type.
// CHECK-LABEL: func.func private @ragged
// CHECK-SAME: !lowbit.qweight<64x172, #{{.*}}>
func.func private @ragged(!lowbit.qweight<64x172, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>>)
