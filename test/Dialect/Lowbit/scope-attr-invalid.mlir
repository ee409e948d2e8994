// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// expected-error @below {{parameter scope path '/work/models/m' is absolute; paths are relative to the IR file's directory (give absolute locations with --param-scope NAME=PATH)}}
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "/work/models/m">}} {}

// -----

// expected-error @below {{parameter scope path must not be empty}}
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "">}} {}

// -----

// expected-error @below {{unknown parameter scope format 'onnx' (supported: safetensors, gguf)}}
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"onnx", "m.onnx">}} {}

// -----

// expected-error @below {{parameter scope path '/m/model.gguf' is absolute; paths are relative to the IR file's directory (give absolute locations with --param-scope NAME=PATH)}}
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"gguf", "/m/model.gguf">}} {}

// -----

// expected-error @below {{lowbit.parameter_scopes: scope 'checkpoint' must be a #lowbit.scope, got "m"}}
module attributes {lowbit.parameter_scopes = {checkpoint = "m"}} {}

// -----

// expected-error @below {{lowbit.parameter_scopes must be a dictionary of #lowbit.scope}}
module attributes {lowbit.parameter_scopes = "m"} {}

// -----

module {
  // expected-error @below {{lowbit.parameter_scopes must be on a builtin.module}}
  func.func @f() attributes {lowbit.parameter_scopes = {}} {
    return
  }
}

// -----

// expected-error @below {{lowbit.tokenizer path '/m/tokenizer.json' is absolute; it must be relative to the 'checkpoint' scope's directory}}
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "m">}, lowbit.tokenizer = "/m/tokenizer.json"} {}

// -----

// expected-error @below {{lowbit.tokenizer needs a 'checkpoint' parameter scope to be relative to}}
module attributes {lowbit.tokenizer = "tokenizer.json"} {}

// -----

// expected-error @below {{lowbit.tokenizer must be a non-empty path relative to the 'checkpoint' scope's directory}}
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "m">}, lowbit.tokenizer = ""} {}

// -----

// expected-error @below {{lowbit.weights (a host path to the checkpoint) is no longer supported: re-import the model, which records a relative lowbit.parameter_scopes entry}}
module attributes {lowbit.weights = "/work/models/m"} {}
