// RUN: lowbit-opt %s -split-input-file -lowbit-translate-executables -verify-diagnostics

// expected-error @below {{'lowbit.executable' op executable @x86 has no kernels to translate}}
lowbit.executable @x86 target(#lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>) {
}

// -----

// expected-error @below {{unknown target 'cuda' (available: x86)}}
lowbit.executable @cuda target(#lowbit.target<"cuda">) {
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "cuda-mma-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}

// -----

// expected-error @below {{'lowbit.executable' op target features of @x86 enable no x86 ISA level (the least, avx2, needs avx2, f16c and fma)}}
lowbit.executable @x86 target(#lowbit.target<"x86", features = ["avx2", "fma"]>) {
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>) {
  // expected-error @below {{'lowbit.kernel' op cannot be compiled for target x86: layout 'cuda-mma-v1' is not supported (supported: x86-tile16-v1)}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "cuda-mma-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>
}

// -----

lowbit.executable @x86 target(#lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>) {
  // expected-error @below {{'lowbit.kernel' op cannot be compiled for target x86: activation quantization to 4 bits is not supported (supported: 8)}}
  lowbit.kernel @k qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, act_bits = 4
}
