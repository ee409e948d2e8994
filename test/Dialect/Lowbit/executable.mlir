// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// An executable with two kernels (one W8A8) and a binary; dispatches with
// and without a bias.

// CHECK: lowbit.executable @x86 target(#target) {
// CHECK-NEXT: lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #scheme
// CHECK-NEXT: lowbit.kernel @qmatmul_n32_k64_b8_gpc_a8 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #scheme1, act_bits = 8
// CHECK-NEXT: lowbit.binary "x86-elf-so-v1" dense<[127, 69, 76, 70]> : tensor<4xui8>
// CHECK-NEXT: }
// CHECK-LABEL: func.func @f
// CHECK: %[[P:.*]] = lowbit.pack
// CHECK: lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32(%{{.*}}, %[[P]]) : (tensor<?x64xf32>, !lowbit.packed<32x64, #scheme, "x86-tile16-v1">) -> tensor<?x32xf32>
// CHECK: lowbit.dispatch @x86::@qmatmul_n32_k64_b8_gpc_a8(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<2x64xf32>, !lowbit.packed<32x64, #scheme1, "x86-tile16-v1">, tensor<32xf32>) -> tensor<2x32xf32>
lowbit.executable @x86 target(#lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>) {
  lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
  lowbit.kernel @qmatmul_n32_k64_b8_gpc_a8 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>, act_bits = 8
  lowbit.binary "x86-elf-so-v1" dense<[127, 69, 76, 70]> : tensor<4xui8>
}
func.func @f(%x: tensor<?x64xf32>, %x2: tensor<2x64xf32>, %b: tensor<32xf32>) -> (tensor<?x32xf32>, tensor<2x32xf32>) {
  %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
  %p = lowbit.pack %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">
  %y = lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x32xf32>
  %q8 = lowbit.qparam "w8" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>>
  %p8 = lowbit.pack %q8 : !lowbit.qweight<32x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>, "x86-tile16-v1">
  %z = lowbit.dispatch @x86::@qmatmul_n32_k64_b8_gpc_a8(%x2, %p8, %b) : (tensor<2x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>, "x86-tile16-v1">, tensor<32xf32>) -> tensor<2x32xf32>
  return %y, %z : tensor<?x32xf32>, tensor<2x32xf32>
}

// -----

// An empty executable, and a binary held as a dense_resource blob.
// CHECK: lowbit.executable @empty target(#target) {
// CHECK-NEXT: }
// CHECK: lowbit.executable @blob target(#target) {
// CHECK: lowbit.binary "x86-elf-so-v1" dense_resource<blob> : tensor<4xui8>
lowbit.executable @empty target(#lowbit.target<"x86">) {
}
lowbit.executable @blob target(#lowbit.target<"x86">) {
  lowbit.kernel @k qmatmul n = 16, k = 32, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 2, group_size = 16, symmetric = true, scale_type = f32>
  lowbit.binary "x86-elf-so-v1" dense_resource<blob> : tensor<4xui8>
}
{-#
  dialect_resources: {
    builtin: {
      blob: "0x010000007F454C46"
    }
  }
#-}
