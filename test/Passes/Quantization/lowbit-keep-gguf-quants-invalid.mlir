// RUN: rm -rf %t && mkdir -p %t
// RUN: python3 %S/Inputs/make_gguf_model.py %t/m.gguf --types Q4_1 --layers 1
// RUN: python3 %S/Inputs/make_gguf_model.py %t/odd.gguf --types Q8_0 --layers 1 --head-dim 33
// RUN: echo "not a gguf file" > %t/bad.gguf
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics --param-scope checkpoint=%t/m.gguf --param-scope odd=%t/odd.gguf --param-scope bad=%t/bad.gguf -lowbit-keep-gguf-quants="output-params=%t/kept.safetensors"
// RUN: lowbit-opt %S/Inputs/keep-gguf-quants-no-output.mlir -verify-diagnostics --param-scope checkpoint=%t/m.gguf -lowbit-keep-gguf-quants
// RUN: not lowbit-opt %S/Inputs/keep-gguf-quants-no-output.mlir --param-scope checkpoint=%t/m.gguf -lowbit-keep-gguf-quants="scope=checkpoint output-params=%t/k.safetensors" 2>&1 | FileCheck %s --check-prefix=TAKEN
// RUN: not lowbit-opt %S/Inputs/keep-gguf-quants-no-output.mlir --param-scope checkpoint=%t/m.gguf -lowbit-keep-gguf-quants="output-params=%t/k.safetensors requant-bits=1" 2>&1 | FileCheck %s --check-prefix=BITS
// BITS: error: lowbit-keep-gguf-quants: requant-bits must be 0 or 2-8, got 1

// A weight the GGUF file does not have.
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"gguf", "m.gguf">}} {
  func.func @f(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
    // expected-error @below {{'lowbit.param' op tensor 'model.layers.7.self_attn.q_proj.weight' is not in the gguf scope 'checkpoint'}}
    %w = lowbit.param "checkpoint"::"model.layers.7.self_attn.q_proj.weight" : tensor<256x256xf32>
    %y = lowbit.linear %x, %w : (tensor<?x256xf32>, tensor<256x256xf32>) -> tensor<?x256xf32>
    return %y : tensor<?x256xf32>
  }
}

// -----

// A weight whose type is not the GGUF tensor's shape.
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"gguf", "m.gguf">}} {
  func.func @f(%x: tensor<?x256xf32>) -> tensor<?x128xf32> {
    // expected-error @below {{'lowbit.param' op weight 'model.layers.0.self_attn.q_proj.weight' has type 'tensor<128x256xf32>' but GGUF tensor 'blk.0.attn_q.weight' is [256, 256]}}
    %w = lowbit.param "checkpoint"::"model.layers.0.self_attn.q_proj.weight" : tensor<128x256xf32>
    %y = lowbit.linear %x, %w : (tensor<?x256xf32>, tensor<128x256xf32>) -> tensor<?x128xf32>
    return %y : tensor<?x128xf32>
  }
}

// -----

// Llama q rows that cannot be put back in Hugging Face order (head size 33).
module attributes {lowbit.parameter_scopes = {odd = #lowbit.scope<"gguf", "odd.gguf">}} {
  func.func @f(%x: tensor<?x256xf32>) -> tensor<?x132xf32> {
    // expected-error @below {{'lowbit.param' op weight 'model.layers.0.self_attn.q_proj.weight': 132 rows are not a multiple of twice the head count 4}}
    %w = lowbit.param "odd"::"model.layers.0.self_attn.q_proj.weight" : tensor<132x256xf32>
    %y = lowbit.linear %x, %w : (tensor<?x256xf32>, tensor<132x256xf32>) -> tensor<?x132xf32>
    return %y : tensor<?x132xf32>
  }
}

// -----

// A gguf scope that is not a GGUF file.
module attributes {lowbit.parameter_scopes = {bad = #lowbit.scope<"gguf", "bad.gguf">}} {
  func.func @f(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
    // expected-error @below {{bad.gguf: file is 16 bytes, too short for a GGUF header (24 bytes)}}
    %w = lowbit.param "bad"::"model.layers.0.self_attn.q_proj.weight" : tensor<256x256xf32>
    %y = lowbit.linear %x, %w : (tensor<?x256xf32>, tensor<256x256xf32>) -> tensor<?x256xf32>
    return %y : tensor<?x256xf32>
  }
}

// The output scope must not be an input scope.
// TAKEN: error: parameter scope 'checkpoint' is already recorded on the module (path 'm.gguf'); write to another scope with scope=NAME
