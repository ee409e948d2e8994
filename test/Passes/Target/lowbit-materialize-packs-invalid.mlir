// RUN: lowbit-opt %s -split-input-file -lowbit-materialize-packs -verify-diagnostics

func.func @no_layout(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32> {
  // expected-error @below {{'lowbit.qmatmul' op has no 'lowbit.layout' attribute; run -lowbit-select-layouts first}}
  %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
