// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-opt %s -lowbit-gptq-quantize -verify-diagnostics
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/none.bin" 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: printf 'abc' > %t/odd.bin
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/odd.bin" 2>&1 | FileCheck %s --check-prefix=ODD
// RUN: printf 'abcdefgh' > %t/short.bin
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/short.bin seqlen=8" 2>&1 | FileCheck %s --check-prefix=SHORT
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/short.bin damp=1.5" 2>&1 | FileCheck %s --check-prefix=DAMP
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/short.bin static-groups=true" 2>&1 | FileCheck %s --check-prefix=STATIC
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/short.bin block-size=0" 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/short.bin bits=9" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/short.bin group-size=0" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/short.bin seqlen=1" 2>&1 | FileCheck %s --check-prefix=SEQ
// RUN: not lowbit-opt %s -lowbit-gptq-quantize="calib=%t/short.bin override=nothing_matches" 2>&1 | FileCheck %s --check-prefix=REGEX
// NOFILE: error: {{.*}}none.bin: {{.*}}o such file or directory
// ODD: error: {{.*}}odd.bin: size 3 is not a multiple of 4 (expected int32 little-endian tokens)
// SHORT: error: {{.*}}short.bin: 2 tokens, fewer than one row of 8
// DAMP: error: damp must be in [0, 1), got 1.5{{0*}}e+00
// STATIC: error: static-groups only applies with act-order
// BLOCK: error: block size must be positive, got 0
// BITS: error: bits must be in [2, 8], got 9
// GROUP: error: group size must be -1 (per-channel) or positive, got 0
// SEQ: error: calibration sequence length must be at least 2, got 1
// REGEX: error: override regex 'nothing_matches' matches no linear layer inside the decoder blocks

// expected-error @below {{GPTQ needs calibration data: pass calib=FILE (int32 tokens .bin or text)}}
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %t = lowbit.param "model.embed_tokens.weight" {value = dense<0.5> : tensor<8x4xf32>} : tensor<8x4xf32>
    %h = lowbit.embedding %t, %ids : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %o = call @layer0(%h, %pos) : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    return %o : tensor<?x4xf32>
  }
  func.func private @layer0(%h: tensor<?x4xf32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %w = lowbit.param "model.layers.0.mlp.up_proj.weight" {value = dense<1.0> : tensor<4x4xf32>} : tensor<4x4xf32>
    %y = lowbit.linear %h, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}
