// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{kernel @k needs positive n and k, got n = 0, k = 64}}
  lowbit.kernel @k qmatmul n = 0, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{layout codec 'tile16' must be a versioned name such as "x86-tile16-v1"}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "tile16", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-error @below {{attribute 'act_bits' failed to satisfy constraint: 64-bit signless integer attribute whose minimum value is 2 whose maximum value is 8}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, act_bits = 16
}

// -----

// expected-error @below {{'lowbit.kernel' op expects parent op 'lowbit.executable'}}
lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>

// -----

lowbit.executable @x86 target(#lowbit.target<"x86">) {
  // expected-note @below {{see existing symbol definition here}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
  // expected-error @below {{redefinition of symbol named 'k'}}
  lowbit.kernel @k qmatmul n = 16, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}
