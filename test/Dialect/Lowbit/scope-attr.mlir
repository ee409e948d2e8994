// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// Parameter scopes map names to relative storage locations; parameters
// reference tensors by scope and key, and the tokenizer is relative to the
// checkpoint scope's directory.
// CHECK: module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "../models/m">, rtn = #lowbit.scope<"safetensors", "q-rtn.safetensors">}, lowbit.tokenizer = "tokenizer.json"}
// CHECK: lowbit.param "checkpoint"::"model.embed_tokens.weight" : tensor<8x4xf32>
// CHECK: lowbit.qparam "rtn"::"model.layers.0.mlp.up_proj" : !lowbit.qweight<4x4, #scheme>
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "../models/m">, rtn = #lowbit.scope<"safetensors", "q-rtn.safetensors">}, lowbit.tokenizer = "tokenizer.json"} {
  func.func @f() -> (tensor<8x4xf32>, !lowbit.qweight<4x4, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>>) {
    %w = lowbit.param "checkpoint"::"model.embed_tokens.weight" : tensor<8x4xf32>
    %q = lowbit.qparam "rtn"::"model.layers.0.mlp.up_proj" : !lowbit.qweight<4x4, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>>
    return %w, %q : tensor<8x4xf32>, !lowbit.qweight<4x4, #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>>
  }
}

// -----

// A file path (here a shard index) is as valid as a directory.
// CHECK: #lowbit.scope<"safetensors", "ckpt/model.safetensors.index.json">
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "ckpt/model.safetensors.index.json">}} {}

// -----

// A GGUF file (a llama or qwen2 model) as a scope.
// CHECK: #lowbit.scope<"gguf", "models/SmolLM2-135M-Instruct.Q4_1.gguf">
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"gguf", "models/SmolLM2-135M-Instruct.Q4_1.gguf">}} {}
