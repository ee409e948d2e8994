// Invalid uses of lowbit-rtn-quantize's embedding mode.
// RUN: lowbit-opt %s -lowbit-rtn-quantize="embedding bits=8" -verify-diagnostics

// A tied table is the output projection's (lm-head quantizes it); the
// embedding mode finds nothing to do and says so.
// expected-error @below {{embedding: @forward has no float embedding table read only by lookups (a tied table is quantized as the output projection, lm-head; already quantized?)}}
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
    %t = lowbit.param "model.embed_tokens.weight" {value = dense<0.5> : tensor<8x4xf32>} : tensor<8x4xf32>
    %h = lowbit.embedding %t, %ids : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %l = lowbit.linear %h, %t : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
    return %l : tensor<?x8xf32>
  }
}
