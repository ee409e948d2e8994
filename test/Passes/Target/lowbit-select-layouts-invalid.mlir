// RUN: lowbit-opt %s -split-input-file -lowbit-select-layouts -verify-diagnostics

// expected-error @below {{module has no 'lowbit.target' attribute (needed by -lowbit-select-layouts); run -lowbit-legalize-for-target first}}
module {
}

// -----

// expected-error @below {{unknown target 'cuda' (available: x86)}}
module attributes {lowbit.target = #lowbit.target<"cuda">} {
}

// -----

// The target cannot pack what it cannot run.
module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
  func.func @f(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = bf16>>) -> tensor<?x32xf32> {
    // expected-error @below {{cannot be compiled for target x86: scale type bf16 is not supported (supported: f32, f16)}}
    %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = bf16>>) -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}

// -----

// Nor a quantized table it cannot decode.
module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
  func.func @table(%ids: tensor<?xi32>, %q: !lowbit.qweight<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = bf16>>) -> tensor<?x64xf32> {
    // expected-error @below {{cannot be compiled for target x86: scale type bf16 is not supported (supported: f32, f16)}}
    %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = bf16>>, tensor<?xi32>) -> tensor<?x64xf32>
    return %h : tensor<?x64xf32>
  }
}
