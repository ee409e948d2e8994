// RUN: lowbit-opt %s -lowbit-translate-executables --mlir-elide-resource-strings-if-larger=64 | FileCheck %s
// RUN: lowbit-opt %s -lowbit-translate-executables -lowbit-translate-executables --mlir-elide-resource-strings-if-larger=64 | FileCheck %s
// RUN: lowbit-opt %s -lowbit-translate-executables | FileCheck %s --check-prefix=ELF

// The x86 code of the executable's kernels becomes one binary (translating
// again replaces it), each kernel records its entry points (lowbit.exports:
// decode and prefill tile per enabled ISA level); the dispatches are
// unchanged.
// CHECK: lowbit.executable @x86 target(#target) {
// CHECK-NEXT: lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul {{.*}} {lowbit.exports = [{batch_tile = 1 : i64, isa = "avx2", symbol = "lowbit_x86_b4_g32_sym_f32_k64_n32_bt1_avx2_fp32"}, {batch_tile = 4 : i64, isa = "avx2", symbol = "lowbit_x86_b4_g32_sym_f32_k64_n32_bt4_avx2_fp32"}]}
// CHECK-NEXT: lowbit.kernel @qmatmul_n32_k64_b8_gpc_a8 qmatmul
// CHECK-NEXT: lowbit.binary "x86-elf-so-v1" dense_resource<x86_x86_elf_so_v1{{(_1)?}}> : tensor<{{[0-9]+}}xui8>
// CHECK-NEXT: }
// CHECK: lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32(
// CHECK-NOT: lowbit.binary

// The blob is an ELF shared object exporting every kernel at the enabled ISA
// level (avx2 only here), decode and prefill tiles; the symbol names are in
// its dynamic string table.
// ELF: x86_x86_elf_so_v1: "0x010000007F454C46
// ELF-SAME: 6C6F776269745F7838365F62345F6733325F73796D5F6633325F6B36345F6E33325F6274315F61767832
module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
  lowbit.executable @x86 target(#lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>) {
    lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
    lowbit.kernel @qmatmul_n32_k64_b8_gpc_a8 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f16>, act_bits = 8
  }
  func.func @f(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
    %q = lowbit.qparam "w" : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>
    %p = lowbit.pack %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">
    %y = lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">) -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}
