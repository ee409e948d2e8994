// RUN: lowbit-opt %s -split-input-file -lowbit-legalize-for-target | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -lowbit-legalize-for-target="target=x86 features=fma,avx2,f16c,fma" | FileCheck %s --check-prefix=FEAT

// Every op is legal for x86: the module records the target, with every
// feature by default and the requested ones sorted and deduplicated.
// CHECK: #target = #lowbit.target<"x86", features = ["avx2", "avx512bw", "avx512dq", "avx512f", "avx512vl", "avx512vnni", "avxvnni", "f16c", "fma"]>
// CHECK: module attributes {lowbit.target = #target}
// CHECK: lowbit.qmatmul
// FEAT: #target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>
// FEAT: module attributes {lowbit.target = #target}
module {
  func.func @f(%x: tensor<?x64xf32>, %ids: tensor<?xi32>) -> tensor<?x32xf32> {
    %t = lowbit.param "embed" : tensor<16x64xf32>
    %h = lowbit.embedding %t, %ids : (tensor<16x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
    %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, act_order = true>>
    %y = lowbit.qmatmul %h, %q {act_bits = 8 : i64} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = ui8, act_order = true>>) -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}

// -----

// Running again with the same target is a no-op; without options the
// recorded features are kept.
// CHECK: #target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>
// CHECK: module attributes {lowbit.target = #target}
// FEAT: module attributes {lowbit.target = #target}
module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
}
