// RUN: lowbit-opt %s -split-input-file -lowbit-outline-kernels | FileCheck %s

// One kernel per distinct specialisation, in order of first use: the two
// identical 4-bit matmuls share one kernel, W8A8 is another, and a scheme
// that differs only in its zero type gets a uniqued name. A shared pack
// feeds two dispatches; biases are passed through.
// CHECK: module attributes {lowbit.target = #[[T:.*]]} {
// CHECK-NEXT: lowbit.executable @x86 target(#[[T]]) {
// CHECK-NEXT: lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #[[S:[a-z0-9]+]]{{$}}
// CHECK-NEXT: lowbit.kernel @qmatmul_n32_k64_b4_g32_a8 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #[[S]], act_bits = 8
// CHECK-NEXT: lowbit.kernel @qmatmul_n32_k64_b4_g32_1 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #[[SI8:[a-z0-9]+]]{{$}}
// CHECK-NEXT: }
// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[B:.*]]: tensor<32xf32>)
// CHECK: %[[Q:.*]] = lowbit.qparam "l0"
// CHECK-NEXT: %[[P:.*]] = lowbit.pack %[[Q]]
// CHECK-NEXT: %[[Y:.*]] = lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32(%[[X]], %[[P]]) : (tensor<?x64xf32>, !lowbit.packed<32x64, #[[S]], "x86-tile16-v1">) -> tensor<?x32xf32>
// CHECK-NEXT: %[[Z:.*]] = lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32_a8(%[[X]], %[[P]], %[[B]]) : (tensor<?x64xf32>, !lowbit.packed<32x64, #[[S]], "x86-tile16-v1">, tensor<32xf32>) -> tensor<?x32xf32>
// CHECK: %[[P1:.*]] = lowbit.pack
// CHECK-NEXT: lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32(%[[X]], %[[P1]])
// CHECK: %[[P2:.*]] = lowbit.pack
// CHECK-NEXT: lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32_1(%[[X]], %[[P2]]) : (tensor<?x64xf32>, !lowbit.packed<32x64, #[[SI8]], "x86-tile16-v1">)
// CHECK-NOT: lowbit.qmatmul
module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
  func.func @f(%x: tensor<?x64xf32>, %b: tensor<32xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
    %q = lowbit.qparam "l0" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
    %p = lowbit.pack %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>, "x86-tile16-v1">
    %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>) -> tensor<?x32xf32>
    %z = lowbit.qmatmul %x, %q, %b {act_bits = 8 : i64, lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>, tensor<32xf32>) -> tensor<?x32xf32>
    %q1 = lowbit.qparam "l1" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
    %p1 = lowbit.pack %q1 : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>, "x86-tile16-v1">
    %u = lowbit.qmatmul %x, %q1 {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>) -> tensor<?x32xf32>
    %q2 = lowbit.qparam "l2" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = i8>>
    %p2 = lowbit.pack %q2 : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = i8>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = i8>, "x86-tile16-v1">
    %v = lowbit.qmatmul %x, %q2 {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = i8>>) -> tensor<?x32xf32>
    return %y, %z, %u, %v : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
  }
}

// -----

// An existing executable of the same target receives the new kernels and
// existing ones are reused; a module without qmatmuls is left alone.
// CHECK: lowbit.executable @x86 target(#{{.*}}) {
// CHECK-NEXT: lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul
// CHECK-NEXT: lowbit.kernel @qmatmul_n16_k64_b8_gpc qmatmul n = 16, k = 64
// CHECK-NEXT: }
// CHECK-NOT: lowbit.executable
// CHECK: lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32(
// CHECK: lowbit.dispatch @x86::@qmatmul_n16_k64_b8_gpc(
module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
  lowbit.executable @x86 target(#lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>) {
    lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
  }
  func.func @g(%x: tensor<?x64xf32>) -> (tensor<?x32xf32>, tensor<?x16xf32>) {
    %q = lowbit.qparam "a" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %p = lowbit.pack %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">
    %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
    %q8 = lowbit.qparam "b" : !lowbit.qweight<16x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>>
    %p8 = lowbit.pack %q8 : !lowbit.qweight<16x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>> -> !lowbit.packed<16x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>, "x86-tile16-v1">
    %z = lowbit.qmatmul %x, %q8 {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<16x64, #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>>) -> tensor<?x16xf32>
    return %y, %z : tensor<?x32xf32>, tensor<?x16xf32>
  }
}

// -----

// CHECK-LABEL: func.func @nothing
// CHECK-NOT: lowbit.executable
module {
  func.func @nothing(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
    return %x : tensor<?x64xf32>
  }
}
