// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @act_order(%q: !lowbit.qweight<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16, act_order = true>>, %ids: tensor<?xi32>) {
  // expected-error @below {{act-order tables are not supported (their columns are permuted)}}
  %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16, act_order = true>>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @result_rank(%q: !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, %ids: tensor<?xi32>) {
  // expected-error @below {{result rank must be indices rank + 1 = 2, got 3}}
  %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, tensor<?xi32>) -> tensor<1x?x64xf32>
  return
}

// -----

func.func @token_dim(%q: !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, %ids: tensor<4xi32>) {
  // expected-error @below {{result dimension 0 does not match indices dimension}}
  %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, tensor<4xi32>) -> tensor<5x64xf32>
  return
}

// -----

func.func @width(%q: !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, %ids: tensor<?xi32>) {
  // expected-error @below {{result feature size 32 does not match embedding width 64}}
  %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, tensor<?xi32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @float_table(%t: tensor<512x64xf32>, %ids: tensor<?xi32>) {
  // expected-error @below {{operand #0 must be}}
  %h = lowbit.qembedding %t, %ids : (tensor<512x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @float_ids(%q: !lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, %ids: tensor<?xf32>) {
  // expected-error @below {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %h = lowbit.qembedding %q, %ids : (!lowbit.qweight<512x64, #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>>, tensor<?xf32>) -> tensor<?x64xf32>
  return
}
