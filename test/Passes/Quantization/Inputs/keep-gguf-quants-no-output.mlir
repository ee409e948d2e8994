// A Q4_1 weight of a gguf scope, for lowbit-keep-gguf-quants-invalid.mlir:
// keeping it needs an output scope.
// expected-error @below {{lowbit-keep-gguf-quants: output-params is needed to store the kept weights (scope 'gguf_blocks')}}
module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"gguf", "m.gguf">}} {
  func.func @f(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
    %w = lowbit.param "checkpoint"::"model.layers.0.self_attn.q_proj.weight" : tensor<256x256xf32>
    %y = lowbit.linear %x, %w : (tensor<?x256xf32>, tensor<256x256xf32>) -> tensor<?x256xf32>
    return %y : tensor<?x256xf32>
  }
}
