// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// expected-error @below {{lowbit.exports must be on a lowbit.kernel}}
lowbit.executable @x86 target(#lowbit.target<"x86">) attributes {lowbit.exports = [{isa = "avx2", batch_tile = 1 : i64, symbol = "s"}]} {
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{lowbit.exports must be a non-empty array of dictionaries}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32> {lowbit.exports = []}
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{lowbit.exports must be a non-empty array of dictionaries}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32> {lowbit.exports = "k_bt1_avx2"}
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{lowbit.exports entry {isa = "avx2", symbol = "s"} must be {batch_tile = <i64 >= 1>, isa = "...", symbol = "..."}}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32> {lowbit.exports = [{isa = "avx2", symbol = "s"}]}
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{lowbit.exports entry {batch_tile = 0 : i64, isa = "avx2", symbol = "s"} must be}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32> {lowbit.exports = [{isa = "avx2", batch_tile = 0 : i64, symbol = "s"}]}
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{lowbit.exports entry {batch_tile = 1 : i64, isa = "avx2", symbol = ""} must be}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32> {lowbit.exports = [{isa = "avx2", batch_tile = 1 : i64, symbol = ""}]}
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{lowbit.exports entry {batch_tile = 1 : i64, extra = 1 : i64, isa = "avx2", symbol = "s"} must be}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32> {lowbit.exports = [{isa = "avx2", batch_tile = 1 : i64, symbol = "s", extra = 1 : i64}]}
}
