// Invalid options are reported on the module, and the pass fails.
// RUN: lowbit-opt %s -lowbit-rtn-quantize="override=no_such_layer" -verify-diagnostics
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="bits=9" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="group-size=0" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="scale-type=f64" 2>&1 | FileCheck %s --check-prefix=SCALE
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="override=up_proj:bogus=1" 2>&1 | FileCheck %s --check-prefix=FIELD
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="override=up_proj:bits=1" 2>&1 | FileCheck %s --check-prefix=OVRBITS
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="override=(" 2>&1 | FileCheck %s --check-prefix=REGEX
// BITS: error: bits must be in [2, 8], got 9
// GROUP: error: group size must be -1 (per-channel) or positive, got 0
// SCALE: error: scale type must be f32, f16 or bf16, got 'f64'
// FIELD: error: override 'up_proj:bogus=1': unknown field 'bogus=1' (expected bits=B, group-size=G or skip)
// OVRBITS: error: layer 'model.layers.0.mlp.up_proj.weight': overrides give bits 1 and group size 128; bits must be in [2, 8] and the group size -1 or positive
// REGEX: error: override '(': invalid regex '('
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="only=attn" 2>&1 | FileCheck %s --check-prefix=ONLY
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="only=(" 2>&1 | FileCheck %s --check-prefix=ONLYRE
// ONLY: error: only regex 'attn' matches no float linear layer inside the decoder blocks
// ONLYRE: error: only: invalid regex '(': {{.+}}
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="lm-head only=mlp" 2>&1 | FileCheck %s --check-prefix=LMONLY
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="lm-head override=up_proj:bits=8" 2>&1 | FileCheck %s --check-prefix=LMONLY
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="lm-head" 2>&1 | FileCheck %s --check-prefix=LMNONE
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="sym-grid=extreme" 2>&1 | FileCheck %s --check-prefix=GRIDSYM
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="symmetric=true sym-grid=bogus" 2>&1 | FileCheck %s --check-prefix=GRID
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="super-group=1 scale-type=f16" 2>&1 | FileCheck %s --check-prefix=SG1
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="super-group=8" 2>&1 | FileCheck %s --check-prefix=SGF32
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="super-group=8 group-size=-1 scale-type=f16" 2>&1 | FileCheck %s --check-prefix=SGPC
// SG1: error: super-group must be 0 (plain scales) or at least 2 groups, got 1
// SGF32: error: super-group needs f16 or bf16 super-block scales (scale-type), got f32
// SGPC: error: super-group needs a positive group size (per-channel has one scale per row)
// GRIDSYM: error: sym-grid=extreme applies to symmetric schemes only (add symmetric / --sym)
// GRID: error: symmetric grid must be absmax or extreme, got 'bogus'
// LMONLY: error: lm-head quantizes only the output projection; 'only' and 'override' do not apply to it
// LMNONE: error: lm-head: @forward has no float output projection (already quantized?)

// expected-error @below {{override regex 'no_such_layer' matches no linear layer inside the decoder blocks}}
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
