// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @unversioned(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) {
  // expected-error @below {{'lowbit.layout' must be a versioned layout codec name such as "x86-tile16-v1", got "tile16"}}
  %y = lowbit.qmatmul %x, %q {lowbit.layout = "tile16"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
  return
}

// -----

func.func @not_qmatmul(%x: tensor<?x64xf32>) {
  // expected-error @below {{'lowbit.layout' is only valid on lowbit.qmatmul and lowbit.qembedding, not on 'lowbit.add'}}
  %y = lowbit.add %x, %x {lowbit.layout = "x86-tile16-v1"} : tensor<?x64xf32>
  return
}
