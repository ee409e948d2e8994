// RUN: lowbit-opt %s -lowbit-legalize-for-target="act-bits=8" | FileCheck %s
// RUN: lowbit-opt %s -lowbit-legalize-for-target | FileCheck %s --check-prefix=FLOAT

// act-bits=8 puts every quantized matmul on the int8 path before checking
// legality; without it the matmuls keep float activations.
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} {act_bits = 8 : i64}
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} {act_bits = 8 : i64}
// FLOAT-NOT: act_bits
module {
  func.func @f(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
    %q = lowbit.qparam "w" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x64xf32>
    %q2 = lowbit.qparam "w2" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f32>>
    %z = lowbit.qmatmul %y, %q2 : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
    return %z : tensor<?x32xf32>
  }
}
