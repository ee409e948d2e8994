// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

func.func @layer(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{layer must be non-negative, got -1}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = -1 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @zero_heads(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{num_heads, num_kv_heads and head_dim must be positive}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 0 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @groups(%q: tensor<?x64xf32>, %k: tensor<?x24xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{num_heads 8 is not a multiple of num_kv_heads 3}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 3 : i64, head_dim = 8 : i64} : (tensor<?x64xf32>, tensor<?x24xf32>, tensor<?x24xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @window(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{sliding_window must be positive, got 0}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64, sliding_window = 0 : i64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @rank(%q: tensor<1x?x64xf32>, %k: tensor<?x32xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{query must be 2-D [T, heads * head_dim]}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<1x?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<1x?x64xf32>
  return
}

// -----

func.func @query_width(%q: tensor<?x48xf32>, %k: tensor<?x32xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{query width 48 must be num_heads * head_dim = 64}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<?x48xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x48xf32>
  return
}

// -----

func.func @kv_width(%q: tensor<?x64xf32>, %k: tensor<?x64xf32>, %pos: tensor<?xi32>) {
  // expected-error @below {{key and value width must be num_kv_heads * head_dim = 32}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @result(%q: tensor<4x64xf32>, %k: tensor<4x32xf32>, %pos: tensor<4xi32>) {
  // expected-error @below {{result type must match the query type}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @positions_rank(%q: tensor<4x64xf32>, %k: tensor<4x32xf32>, %pos: tensor<1x4xi32>) {
  // expected-error @below {{positions must be 1-D [T]}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<1x4xi32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @tokens(%q: tensor<4x64xf32>, %k: tensor<3x32xf32>, %pos: tensor<4xi32>) {
  // expected-error @below {{query, key, value and positions must have the same number of tokens}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<4x64xf32>, tensor<3x32xf32>, tensor<3x32xf32>, tensor<4xi32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @element(%q: tensor<4x64xf32>, %k: tensor<4x32xf16>, %pos: tensor<4xi32>) {
  // expected-error @below {{query, key and value must have the same element type}}
  %o = lowbit.attention %q, %k, %k, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64} : (tensor<4x64xf32>, tensor<4x32xf16>, tensor<4x32xf16>, tensor<4xi32>) -> tensor<4x64xf32>
  return
}
