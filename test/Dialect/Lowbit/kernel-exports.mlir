// RUN: lowbit-opt %s | FileCheck %s
// RUN: lowbit-opt %s | lowbit-opt | FileCheck %s

// The entry points a target's translation generated for a kernel.
// CHECK: lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #{{.*}} {lowbit.exports = [{batch_tile = 1 : i64, isa = "avx2", symbol = "k_bt1_avx2"}, {batch_tile = 4 : i64, isa = "avx2", symbol = "k_bt4_avx2"}]}
lowbit.executable @x86 target(#lowbit.target<"x86">) {
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32> {lowbit.exports = [{isa = "avx2", batch_tile = 1 : i64, symbol = "k_bt1_avx2"}, {isa = "avx2", batch_tile = 4 : i64, symbol = "k_bt4_avx2"}]}
}
