// Errors of parameter scopes at pass time name the scope and the tensor or
// file. The checkpoint here holds one unrelated tensor.
// RUN: rm -rf %t && mkdir -p %t
// RUN: python3 -c "import json,struct,sys; h=json.dumps({'other': {'dtype': 'F32', 'shape': [1], 'data_offsets': [0, 4]}}).encode(); h+=b' '*(-len(h)%%8); open(sys.argv[1],'wb').write(struct.pack('<Q',len(h))+h+struct.pack('<f',1.0))" %t/ckpt.safetensors
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics --param-scope checkpoint=%t/ckpt.safetensors -lowbit-rtn-quantize="output-params=%t/q.safetensors"
// RUN: not lowbit-opt %s -split-input-file --param-scope checkpoint=%t/none.safetensors -lowbit-rtn-quantize="output-params=%t/q.safetensors" 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: not lowbit-opt %s --param-scope checkpoint 2>&1 | FileCheck %s --check-prefix=SPEC
// NOFILE: error: parameter scope 'checkpoint': {{.*}}none.safetensors: no such file or directory
// SPEC: error: --param-scope 'checkpoint': expected NAME=PATH (e.g. checkpoint=/models/m)

module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "ckpt.safetensors">}} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %t = lowbit.param "e" {value = dense<0.5> : tensor<8x4xf32>} : tensor<8x4xf32>
    %h = lowbit.embedding %t, %ids : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %o = call @layer0(%h, %pos) : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    return %o : tensor<?x4xf32>
  }
  func.func private @layer0(%h: tensor<?x4xf32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %w = lowbit.param "checkpoint"::"model.layers.0.mlp.up_proj.weight" : tensor<4x4xf32>
    // expected-error @below {{tensor 'model.layers.0.mlp.up_proj.weight' is not in parameter scope 'checkpoint' (ckpt.safetensors)}}
    %y = lowbit.linear %h, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}

// -----

// The output scope (default: the method name) must not be one the module
// already records from elsewhere.
// expected-error @below {{parameter scope 'rtn' is already recorded on the module (path 'old.safetensors'); write to another scope with scope=NAME}}
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"safetensors", "ckpt.safetensors">, rtn = #lowbit.scope<"safetensors", "old.safetensors">}} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %t = lowbit.param "e" {value = dense<0.5> : tensor<8x4xf32>} : tensor<8x4xf32>
    %h = lowbit.embedding %t, %ids : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %o = call @layer0(%h, %pos) : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    return %o : tensor<?x4xf32>
  }
  func.func private @layer0(%h: tensor<?x4xf32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %w = lowbit.param "checkpoint"::"model.layers.0.mlp.up_proj.weight" : tensor<4x4xf32>
    %y = lowbit.linear %h, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}

// -----

// A parameter with neither scope nor inline data cannot be quantized.
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %t = lowbit.param "e" {value = dense<0.5> : tensor<8x4xf32>} : tensor<8x4xf32>
    %h = lowbit.embedding %t, %ids : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %o = call @layer0(%h, %pos) : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    return %o : tensor<?x4xf32>
  }
  func.func private @layer0(%h: tensor<?x4xf32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %w = lowbit.param "model.layers.0.mlp.up_proj.weight" : tensor<4x4xf32>
    // expected-error @below {{weight 'model.layers.0.mlp.up_proj.weight' has neither a parameter scope nor inline data}}
    %y = lowbit.linear %h, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}
