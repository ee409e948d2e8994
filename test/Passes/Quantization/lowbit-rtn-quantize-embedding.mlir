// RUN: lowbit-opt %s -lowbit-rtn-quantize="embedding bits=8 group-size=-1 symmetric=true" | FileCheck %s
// RUN: lowbit-opt %s -lowbit-rtn-quantize="embedding bits=8 group-size=-1 symmetric=true" -lowbit-fuse-dequant-matmul | FileCheck %s --check-prefix=FUSED
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="embedding lm-head" 2>&1 | FileCheck %s --check-prefix=BOTH
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="embedding only=mlp" 2>&1 | FileCheck %s --check-prefix=ONLY
// RUN: not lowbit-opt %s -lowbit-rtn-quantize="embedding override=up_proj:bits=8" 2>&1 | FileCheck %s --check-prefix=ONLY
// BOTH: error: lm-head and embedding are exclusive: one pass quantizes the output projection, another the embedding table
// ONLY: error: embedding quantizes only the embedding table; 'only' and 'override' do not apply to it

// embedding: an untied token-embedding table (read only by lookups) is
// quantized and every lookup reads it through a dequantize; the output
// projection and the decoder linears stay float. Rows 0-3 of the table are
// 0.5 and rows 4-7 are -1.0: per-channel symmetric 8-bit (absmax grid) maps
// +-max|w| onto codes 1 and 255 around the implicit zero 128, so 0.5 is
// code 255 with scale 0.5 / 127 and -1.0 is code 1 with scale 1 / 127.
// CHECK: #[[S:.*]] = #lowbit.scheme<bits = 8, group_size = -1, symmetric = true, scale_type = f32>
// CHECK-LABEL: func.func @forward
// CHECK: %[[Q:.*]] = lowbit.qparam "model.embed_tokens" {codes = dense<{{\[\[}}255, 255, 255, 255], {{.*}}[1, 1, 1, 1]]> : tensor<8x4xui8>, {{.*}}} : !lowbit.qweight<8x4, #[[S]]>
// CHECK-NEXT: %[[T:.*]] = lowbit.dequantize %[[Q]]
// CHECK-NOT: lowbit.param "model.embed_tokens.weight"
// CHECK: lowbit.embedding %[[T]], %arg0
// CHECK: lowbit.embedding %[[T]], %arg1
// CHECK: lowbit.param "lm_head.weight"
// CHECK: lowbit.linear
// CHECK-LABEL: func.func private @layer0
// CHECK-NOT: lowbit.qparam
// After fusion both lookups read the quantized table directly.
// FUSED-LABEL: func.func @forward
// FUSED-COUNT-2: lowbit.qembedding
// FUSED-NOT: lowbit.embedding
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
    %t = lowbit.param "model.embed_tokens.weight" {value = dense<[[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0]]> : tensor<8x4xf32>} : tensor<8x4xf32>
    %h = lowbit.embedding %t, %ids : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %h2 = lowbit.embedding %t, %pos : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %s = lowbit.add %h, %h2 : tensor<?x4xf32>
    %o = call @layer0(%s, %pos) : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %w = lowbit.param "lm_head.weight" {value = dense<0.25> : tensor<8x4xf32>} : tensor<8x4xf32>
    %l = lowbit.linear %o, %w : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
    return %l : tensor<?x8xf32>
  }
  func.func private @layer0(%h: tensor<?x4xf32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %w = lowbit.param "model.layers.0.mlp.up_proj.weight" {value = dense<1.0> : tensor<4x4xf32>} : tensor<4x4xf32>
    %y = lowbit.linear %h, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}
