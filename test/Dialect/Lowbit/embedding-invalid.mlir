// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @table_rank(%t: tensor<512xf32>, %ids: tensor<?xi32>) {
  // expected-error @below {{table must be 2-D [V, D], got rank 1}}
  %h = lowbit.embedding %t, %ids : (tensor<512xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @result_rank(%t: tensor<512x64xf32>, %ids: tensor<?xi32>) {
  // expected-error @below {{result rank must be indices rank + 1 = 2, got 3}}
  %h = lowbit.embedding %t, %ids : (tensor<512x64xf32>, tensor<?xi32>) -> tensor<1x?x64xf32>
  return
}

// -----

func.func @token_dim(%t: tensor<512x64xf32>, %ids: tensor<4xi32>) {
  // expected-error @below {{result dimension 0 does not match indices dimension}}
  %h = lowbit.embedding %t, %ids : (tensor<512x64xf32>, tensor<4xi32>) -> tensor<5x64xf32>
  return
}

// -----

func.func @width(%t: tensor<512x64xf32>, %ids: tensor<?xi32>) {
  // expected-error @below {{result feature size 32 does not match embedding width 64}}
  %h = lowbit.embedding %t, %ids : (tensor<512x64xf32>, tensor<?xi32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @element(%t: tensor<512x64xf32>, %ids: tensor<?xi32>) {
  // expected-error @below {{result element type must match the table's}}
  %h = lowbit.embedding %t, %ids : (tensor<512x64xf32>, tensor<?xi32>) -> tensor<?x64xf16>
  return
}

// -----

func.func @float_ids(%t: tensor<512x64xf32>, %ids: tensor<?xf32>) {
  // expected-error @below {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %h = lowbit.embedding %t, %ids : (tensor<512x64xf32>, tensor<?xf32>) -> tensor<?x64xf32>
  return
}
