// RUN: lowbit-opt %s -split-input-file -lowbit-materialize-packs -verify-diagnostics

func.func @no_layout(%x: tensor<?x64xf32>, %q: !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32> {
  // expected-error @below {{'lowbit.qmatmul' op has no 'lowbit.layout' attribute; run -lowbit-select-layouts first}}
  %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f32>>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func @no_table_layout(%ids: tensor<?xi32>, %q: !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>) -> tensor<?x64xf32> {
  // expected-error @below {{'lowbit.qembedding' op has no 'lowbit.layout' attribute; run -lowbit-select-layouts first}}
  %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, tensor<?xi32>) -> tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}
