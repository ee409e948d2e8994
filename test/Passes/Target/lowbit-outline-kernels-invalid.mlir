// RUN: lowbit-opt %s -split-input-file -lowbit-outline-kernels -verify-diagnostics

// expected-error @below {{module has no 'lowbit.target' attribute (needed by -lowbit-outline-kernels); run -lowbit-legalize-for-target first}}
module {
  func.func @f(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32> {
    %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}

// -----

module attributes {lowbit.target = #lowbit.target<"x86">} {
  func.func @f(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32> {
    // expected-error @below {{'lowbit.qmatmul' op has no 'lowbit.layout' attribute; run -lowbit-select-layouts first}}
    %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}

// -----

module attributes {lowbit.target = #lowbit.target<"x86">} {
  func.func @f(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32> {
    // expected-error @below {{'lowbit.qmatmul' op weight has no lowbit.pack to '!lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">'; run -lowbit-materialize-packs first}}
    %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}

// -----

// A pack that does not dominate the matmul cannot feed its dispatch.
module attributes {lowbit.target = #lowbit.target<"x86">} {
  func.func @f(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32> {
    // expected-error @below {{'lowbit.qmatmul' op weight has no lowbit.pack to '!lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">'; run -lowbit-materialize-packs first}}
    %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
    %p = lowbit.pack %q : !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>> -> !lowbit.packed<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>, "x86-tile16-v1">
    return %y : tensor<?x32xf32>
  }
}
