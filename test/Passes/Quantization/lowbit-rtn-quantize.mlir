// RUN: lowbit-opt %s -split-input-file -lowbit-rtn-quantize="bits=4 group-size=2" | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -lowbit-rtn-quantize="bits=3 group-size=-1 symmetric=true scale-type=f16" | FileCheck %s --check-prefix=SYM
// RUN: lowbit-opt %s -split-input-file -lowbit-rtn-quantize="bits=4 group-size=2 override=down_proj:skip override=up_proj:bits=8:group-size=4" | FileCheck %s --check-prefix=OVR
// RUN: lowbit-opt %s -split-input-file -lowbit-rtn-quantize="lm-head bits=8 group-size=-1 symmetric=true" | FileCheck %s --check-prefix=HEAD
// RUN: lowbit-opt %s -split-input-file -lowbit-rtn-quantize="bits=3 group-size=-1 symmetric=true sym-grid=extreme scale-type=f16" | FileCheck %s --check-prefix=EXT
// RUN: lowbit-opt %s -split-input-file -lowbit-rtn-quantize="bits=4 group-size=2 symmetric=true scale-type=f16 super-group=2" | FileCheck %s --check-prefix=SG

// A tiny model with inline weights: the linears inside the block are
// quantized (inline results), the tied embedding / lm_head stays float.
//
// up_proj row 0 is [0.0, 1.5, -1.0, 3.0]; with 4 bits and groups of 2:
//   group 0 [0, 1.5]:  range [0, 1.5], scale 0.1, zero 0, codes 0 15
//   group 1 [-1, 3]:   range [-1, 3], scale 4/15, zero round(3.75) = 4,
//                      codes round(-3.75) + 4 = 0, round(11.25) + 4 = 15
// down_proj has K = 3: groups of 2 leave a ragged last group of 1.

// CHECK: #[[S:.*]] = #lowbit.scheme<bits = 4, group_size = 2, symmetric = false, scale_type = f32, zero_type = ui8>
// CHECK-LABEL: func.func @forward
// CHECK: lowbit.param "model.embed_tokens.weight"
// CHECK-NOT: lowbit.qparam
// CHECK: lowbit.linear %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
// CHECK-LABEL: func.func private @layer0
// CHECK: %[[Q:.*]] = lowbit.qparam "model.layers.0.mlp.up_proj" {codes = dense<{{\[\[}}0, 15, 0, 15], {{.*}}> : tensor<3x4xui4>, scales = dense<{{\[\[}}1.000000e-01, 0.266666681], {{.*}}> : tensor<3x2xf32>, zeros = dense<{{\[\[}}0, 4], {{.*}}> : tensor<3x2xui8>} : !lowbit.qweight<3x4, #[[S]]>
// CHECK: %[[W:.*]] = lowbit.dequantize %[[Q]] : {{.*}} -> tensor<3x4xf32>
// CHECK: lowbit.linear %arg0, %[[W]]
// CHECK: lowbit.qparam "model.layers.0.mlp.down_proj" {{.*}} : tensor<4x2xf32>{{.*}} : !lowbit.qweight<4x3, #[[S]]>
// CHECK-NOT: lowbit.param

// Symmetric per-channel 3-bit with f16 scales: row 0 has max |w| = 3, so
// the scale is 6/7 (0.856933 in f16) and the implicit zero is 4; 3 / scale
// = 3.5 rounds to even (4) and clamps to 7.
// SYM: #[[S:.*]] = #lowbit.scheme<bits = 3, group_size = -1, symmetric = true, scale_type = f16>
// SYM-LABEL: func.func private @layer0
// SYM: lowbit.qparam "model.layers.0.mlp.up_proj" {codes = dense<{{\[\[}}4, 6, 3, 7], {{.*}}> : tensor<3x4xui3>, scales = dense<{{\[\[}}8.569330e-01], {{.*}}> : tensor<3x1xf16>} : !lowbit.qweight<3x4, #[[S]]>

// sym-grid=extreme, 3 bits (zero 4): each row's signed extreme lands on code
// 0, step = extreme / -4. Row 0 [0, 1.5, -1, 3]: extreme 3, scale -0.75,
// codes 4, 2, round(1.33) + 4 = 5, 0. Row 1 [0.25, -0.5, 0.75, -1]: extreme
// -1, scale 0.25, codes 5, 2, 7, 0. Row 2 [2, 2, -2, 0.125]: a tie goes to
// the positive end, scale -0.5, codes 0, 0, 8 clamped to 7, 4.
// EXT: #[[S:.*]] = #lowbit.scheme<bits = 3, group_size = -1, symmetric = true, scale_type = f16>
// EXT-LABEL: func.func private @layer0
// EXT: lowbit.qparam "model.layers.0.mlp.up_proj" {codes = dense<{{\[\[}}4, 2, 5, 0], [5, 2, 7, 0], [0, 0, 7, 4]]> : tensor<3x4xui3>, scales = dense<{{\[\[}}-7.500000e-01], [2.500000e-01], [-5.000000e-01]]> : tensor<3x1xf16>} : !lowbit.qweight<3x4, #[[S]]>

// OVR: #[[S:.*]] = #lowbit.scheme<bits = 8, group_size = 4, symmetric = false
// OVR-LABEL: func.func private @layer0
// OVR: lowbit.qparam "model.layers.0.mlp.up_proj" {{.*}} : !lowbit.qweight<3x4, #[[S]]>
// OVR: lowbit.param "model.layers.0.mlp.down_proj.weight"
// OVR-NOT: lowbit.qparam

// super-group=2: both groups of a row share d = max |scale| / 127 in f16
// and each scale is d * c with an integer c (the products are stored in
// f32). up_proj row 0: the group scales are 0.1 ([0, 1.5]: the symmetric
// absmax range stays [0, 1.5], 15 steps) and 0.4 ([-1, 3]); d = f16(0.4 /
// 127) = 0.0031490326, so 0.4 becomes 127 d = 0.399927139 and 0.1 becomes
// round(0.1 / d) = 32 d = 0.100769043; codes follow the snapped scales
// (-1 / 0.399927 = -2.5005 rounds to -3: code 5).
// SG: #[[S:.*]] = #lowbit.scheme<bits = 4, group_size = 2, symmetric = true, scale_type = f16, super_group = 2>
// SG-LABEL: func.func private @layer0
// SG: lowbit.qparam "model.layers.0.mlp.up_proj" {codes = dense<{{\[\[}}8, 15, 5, 15], {{.*}}> : tensor<3x4xui4>, scales = dense<{{\[\[}}0.100769043, 0.399927139], {{.*}}> : tensor<3x2xf32>} : !lowbit.qweight<3x4, #[[S]]>

// lm-head: only the output projection, here the tied embedding's use as one
// (named lm_head; the lookup reads it too, through a second dequantize, and
// the float table is gone). Every value is 0.5:
// an all-positive row keeps the range [0, 0.5] (as in the reference
// quantizer), so every code is the largest, 255.
// HEAD: #[[S:.*]] = #lowbit.scheme<bits = 8, group_size = -1, symmetric = true
// HEAD-LABEL: func.func @forward
// HEAD: %[[Q:.*]] = lowbit.qparam "lm_head" {codes = dense<255> : tensor<8x4xui8>, {{.*}}} : !lowbit.qweight<8x4, #[[S]]>
// HEAD-NEXT: %[[T:.*]] = lowbit.dequantize %[[Q]]
// HEAD-NOT: lowbit.param "model.embed_tokens.weight"
// HEAD: lowbit.embedding %[[T]]
// HEAD: %[[W:.*]] = lowbit.dequantize %[[Q]]
// HEAD: lowbit.linear %{{.*}}, %[[W]]
// HEAD-LABEL: func.func private @layer0
// HEAD-NOT: lowbit.qparam
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
    %t = lowbit.param "model.embed_tokens.weight" {value = dense<0.5> : tensor<8x4xf32>} : tensor<8x4xf32>
    %h = lowbit.embedding %t, %ids : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %o = call @layer0(%h, %pos) : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
    %l = lowbit.linear %o, %t : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
    return %l : tensor<?x8xf32>
  }
  func.func private @layer0(%h: tensor<?x4xf32>, %pos: tensor<?xi32>) -> tensor<?x4xf32> {
    %w = lowbit.param "model.layers.0.mlp.up_proj.weight" {value = dense<[[0.0, 1.5, -1.0, 3.0], [0.25, -0.5, 0.75, -1.0], [2.0, 2.0, -2.0, 0.125]]> : tensor<3x4xf32>} : tensor<3x4xf32>
    %y = lowbit.linear %h, %w : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
    %w2 = lowbit.param "model.layers.0.mlp.down_proj.weight" {value = dense<[[0.5, -0.25, 1.0], [0.0, 0.1, -0.1], [1.0, 2.0, 3.0], [-3.0, -2.0, -1.0]]> : tensor<4x3xf32>} : tensor<4x3xf32>
    %z = lowbit.linear %y, %w2 : (tensor<?x3xf32>, tensor<4x3xf32>) -> tensor<?x4xf32>
    return %z : tensor<?x4xf32>
  }
}
