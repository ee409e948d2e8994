// RUN: lowbit-opt %s -split-input-file -lowbit-select-layouts | FileCheck %s

// Every qmatmul gets the layout the module's target selects.
// CHECK-LABEL: func.func @f
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #scheme>)
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}}, %{{.*}} {act_bits = 8 : i64, lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<16x64, #scheme1>, tensor<16xf32>)
// CHECK: lowbit.linear
// CHECK-NOT: lowbit.layout
module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
  func.func @f(%x: tensor<?x64xf32>, %b: tensor<16xf32>, %w: tensor<8x64xf32>) -> (tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x8xf32>) {
    %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 3, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
    %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 3, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>) -> tensor<?x32xf32>
    %q8 = lowbit.qparam "w8" : !lowbit.qweight<16x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>>
    %z = lowbit.qmatmul %x, %q8, %b {act_bits = 8 : i64} : (tensor<?x64xf32>, !lowbit.qweight<16x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>>, tensor<16xf32>) -> tensor<?x16xf32>
    %l = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<8x64xf32>) -> tensor<?x8xf32>
    return %y, %z, %l : tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x8xf32>
  }
}

// -----

// A quantized table takes the layout of the qmatmul sharing it (a tied
// output projection); one no qmatmul shares gets the target's.
// CHECK-LABEL: func.func @tables
// CHECK: lowbit.qembedding %{{.*}}, %{{.*}} {lowbit.layout = "x86-tile16-v1"} : (!lowbit.qweight<512x64, #scheme>
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} {lowbit.layout = "x86-tile16-v1"}
// CHECK: lowbit.qembedding %{{.*}}, %{{.*}} {lowbit.layout = "x86-tile16-v1"} : (!lowbit.qweight<256x64, #scheme1>
module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
  func.func @tables(%ids: tensor<?xi32>) -> (tensor<?x512xf32>, tensor<?x64xf32>) {
    %q = lowbit.qparam "lm_head" : !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>
    %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, tensor<?xi32>) -> tensor<?x64xf32>
    %y = lowbit.qmatmul %h, %q : (tensor<?x64xf32>, !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>) -> tensor<?x512xf32>
    %q2 = lowbit.qparam "t" : !lowbit.qweight<256x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8>>
    %g = lowbit.qembedding %q2, %ids : (!lowbit.qweight<256x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8>>, tensor<?xi32>) -> tensor<?x64xf32>
    return %y, %g : tensor<?x512xf32>, tensor<?x64xf32>
  }
}
