// RUN: rm -rf %t && mkdir -p %t
// RUN: python3 -c "import struct,sys; ids=[(7*i+3)%%16 for i in range(64)]; open(sys.argv[1],'wb').write(struct.pack('<64i',*ids))" %t/calib.bin
// RUN: lowbit-opt %s -lowbit-gptq-quantize="bits=4 group-size=4 calib=%t/calib.bin seqlen=8 nsamples=0" 2>/dev/null | FileCheck %s
// RUN: lowbit-opt %s -lowbit-gptq-quantize="bits=3 group-size=4 act-order=true calib=%t/calib.bin seqlen=8 nsamples=4 seed=1" 2>/dev/null | FileCheck %s --check-prefix=ACT
// RUN: lowbit-opt %s -lowbit-gptq-quantize="bits=3 group-size=4 act-order=true static-groups=true calib=%t/calib.bin seqlen=8" 2>/dev/null | FileCheck %s --check-prefix=STATIC
// RUN: lowbit-opt %s -lowbit-gptq-quantize="bits=4 group-size=-1 symmetric=true calib=%t/calib.bin seqlen=8 true-sequential=false" 2>/dev/null | FileCheck %s --check-prefix=SYM

// Determinism: the same options twice give identical IR.
// RUN: lowbit-opt %s -lowbit-gptq-quantize="bits=3 group-size=4 act-order=true calib=%t/calib.bin seqlen=8" -o %t/a.mlir 2>/dev/null
// RUN: lowbit-opt %s -lowbit-gptq-quantize="bits=3 group-size=4 act-order=true calib=%t/calib.bin seqlen=8" -o %t/b.mlir 2>/dev/null
// RUN: cmp %t/a.mlir %t/b.mlir

// A one-block model with attention (q/k/v, o) and a gated MLP (gate/up,
// down), weights inline; every block linear is quantized, the tied
// embedding / lm_head is not.

// CHECK: #[[S:.*]] = #lowbit.scheme<bits = 4, group_size = 4, symmetric = false, scale_type = f32, zero_type = ui8>
// CHECK-LABEL: func.func @forward
// CHECK-NOT: lowbit.qparam
// CHECK-LABEL: func.func private @layer0
// CHECK: lowbit.qparam "model.layers.0.self_attn.q_proj" {codes = {{.*}} : tensor<8x8xui4>, scales = {{.*}} : tensor<8x2xf32>, zeros = {{.*}} : tensor<8x2xui8>} : !lowbit.qweight<8x8, #[[S]]>
// CHECK-COUNT-3: lowbit.qparam "model.layers.0.{{(self_attn|mlp)}}.
// CHECK: lowbit.qparam "model.layers.0.mlp.up_proj"
// CHECK: lowbit.qparam "model.layers.0.mlp.down_proj" {{.*}} : tensor<8x3xf32>{{.*}} : !lowbit.qweight<8x12, #[[S]]>
// CHECK-NOT: lowbit.param "model.layers

// Act-order stores the permutation and says so in the scheme.
// ACT: #[[S:.*]] = #lowbit.scheme<bits = 3, group_size = 4, symmetric = false, scale_type = f32, zero_type = ui8, act_order = true>
// ACT-LABEL: func.func private @layer0
// ACT: lowbit.qparam "model.layers.0.self_attn.q_proj" {codes = {{.*}}, perm = dense<[{{[0-9, ]+}}]> : tensor<8xi32>, scales = {{.*}}} : !lowbit.qweight<8x8, #[[S]]>

// Static groups: act-order changes the visiting order only; groups stay in
// the original order, so nothing is permuted in storage.
// STATIC: #[[S:.*]] = #lowbit.scheme<bits = 3, group_size = 4, symmetric = false, scale_type = f32, zero_type = ui8>
// STATIC-LABEL: func.func private @layer0
// STATIC-NOT: perm =
// STATIC: !lowbit.qweight<8x8, #[[S]]>

// SYM: #[[S:.*]] = #lowbit.scheme<bits = 4, group_size = -1, symmetric = true, scale_type = f32>
// SYM: lowbit.qparam "model.layers.0.mlp.down_proj" {codes = {{.*}} : tensor<8x12xui4>, scales = {{.*}} : tensor<8x1xf32>} : !lowbit.qweight<8x12, #[[S]]>

module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
    %t = lowbit.param "model.embed_tokens.weight" {value = dense<[[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8], [0.9, 0.1, -0.1, 0.2, 0.3, -0.4, 0.5, 0.6], [-0.7, 0.8, 0.9, -1.0, 0.1, 0.2, -0.3, 0.4], [0.5, -0.6, 0.7, 0.8, -0.9, 1.0, 0.1, -0.2], [0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1.0], [-0.1, 0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8], [0.9, -1.0, 0.1, 0.2, -0.3, 0.4, 0.5, -0.6], [0.7, 0.8, -0.9, 1.0, 0.1, -0.2, 0.3, 0.4], [0.2, 0.1, 0.4, -0.3, 0.6, 0.5, -0.8, 0.7], [-0.9, 0.2, 0.1, 0.4, -0.3, 0.6, 0.5, 0.8], [0.7, 0.9, -0.2, 0.1, 0.4, 0.3, -0.6, 0.5], [0.8, -0.7, 0.9, 0.2, 0.1, -0.4, 0.3, 0.6], [-0.5, 0.8, 0.7, 0.9, -0.2, 0.1, 0.4, 0.3], [0.6, 0.5, -0.8, 0.7, 0.9, 0.2, -0.1, 0.4], [0.3, -0.6, 0.5, 0.8, 0.7, -0.9, 0.2, 0.1], [0.4, 0.3, 0.6, -0.5, 0.8, 0.7, 0.9, -0.2]]> : tensor<16x8xf32>} : tensor<16x8xf32>
    %h = lowbit.embedding %t, %ids : (tensor<16x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %o = call @layer0(%h, %pos) : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %l = lowbit.linear %o, %t : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
  func.func private @layer0(%h: tensor<?x8xf32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
    %n1 = lowbit.param "model.layers.0.input_layernorm.weight" {value = dense<[1.0, 1.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0]> : tensor<8xf32>} : tensor<8xf32>
    %x = lowbit.rms_norm %h, %n1 {epsilon = 1.0e-05 : f32} : tensor<?x8xf32>, tensor<8xf32>
    %wq = lowbit.param "model.layers.0.self_attn.q_proj.weight" {value = dense<[[0.3, -0.1, 0.2, 0.5, -0.4, 0.1, 0.0, 0.2], [0.1, 0.4, -0.3, 0.2, 0.1, -0.2, 0.3, 0.1], [-0.2, 0.1, 0.5, -0.1, 0.3, 0.2, -0.4, 0.1], [0.4, -0.3, 0.1, 0.2, -0.1, 0.5, 0.2, -0.3], [0.2, 0.2, -0.1, 0.4, 0.3, -0.5, 0.1, 0.2], [-0.3, 0.5, 0.2, -0.2, 0.1, 0.3, 0.4, -0.1], [0.5, -0.2, 0.3, 0.1, -0.3, 0.2, 0.1, 0.4], [0.1, 0.3, -0.4, 0.3, 0.2, 0.1, -0.2, 0.5]]> : tensor<8x8xf32>} : tensor<8x8xf32>
    %wk = lowbit.param "model.layers.0.self_attn.k_proj.weight" {value = dense<[[0.2, 0.1, -0.3, 0.4, 0.1, -0.2, 0.5, 0.3], [-0.1, 0.3, 0.2, -0.5, 0.4, 0.1, 0.2, -0.2], [0.4, -0.2, 0.1, 0.3, -0.3, 0.5, 0.1, 0.2], [0.3, 0.4, -0.2, 0.1, 0.2, -0.1, -0.4, 0.5]]> : tensor<4x8xf32>} : tensor<4x8xf32>
    %wv = lowbit.param "model.layers.0.self_attn.v_proj.weight" {value = dense<[[0.5, -0.4, 0.3, -0.2, 0.1, 0.2, -0.3, 0.4], [0.1, 0.2, 0.3, 0.4, -0.5, -0.4, 0.3, -0.2], [-0.3, 0.1, -0.2, 0.5, 0.4, 0.3, 0.2, 0.1], [0.2, -0.5, 0.4, -0.1, 0.3, 0.2, 0.1, -0.4]]> : tensor<4x8xf32>} : tensor<4x8xf32>
    %q = lowbit.linear %x, %wq : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
    %k = lowbit.linear %x, %wk : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
    %v = lowbit.linear %x, %wv : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
    %qr = lowbit.rotary rotate_half %q, %pos {head_dim = 4 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>, tensor<?xi32>
    %kr = lowbit.rotary rotate_half %k, %pos {head_dim = 4 : i64, theta = 1.0e+04 : f64} : tensor<?x4xf32>, tensor<?xi32>
    %a = lowbit.attention %qr, %kr, %v, %pos {layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 4 : i64} : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %wo = lowbit.param "model.layers.0.self_attn.o_proj.weight" {value = dense<[[0.2, -0.3, 0.1, 0.4, 0.5, -0.1, 0.2, 0.3], [0.4, 0.1, -0.2, 0.3, -0.4, 0.2, 0.5, 0.1], [-0.1, 0.5, 0.3, 0.2, 0.1, 0.4, -0.3, 0.2], [0.3, 0.2, 0.4, -0.5, 0.2, 0.1, 0.1, -0.4], [0.1, -0.4, 0.2, 0.1, 0.3, 0.5, 0.2, 0.3], [0.5, 0.3, -0.1, 0.2, -0.2, 0.3, 0.4, 0.1], [-0.2, 0.1, 0.5, 0.3, 0.4, -0.3, 0.1, 0.2], [0.3, 0.4, 0.2, -0.1, 0.1, 0.2, -0.5, 0.4]]> : tensor<8x8xf32>} : tensor<8x8xf32>
    %o = lowbit.linear %a, %wo : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
    %h1 = lowbit.add %h, %o : tensor<?x8xf32>
    %n2 = lowbit.param "model.layers.0.post_attention_layernorm.weight" {value = dense<1.0> : tensor<8xf32>} : tensor<8xf32>
    %x2 = lowbit.rms_norm %h1, %n2 {epsilon = 1.0e-05 : f32} : tensor<?x8xf32>, tensor<8xf32>
    %wg = lowbit.param "model.layers.0.mlp.gate_proj.weight" {value = dense<[[0.1, 0.2, -0.3, 0.4, -0.5, 0.1, 0.2, 0.3], [0.3, -0.2, 0.1, 0.5, 0.4, -0.3, 0.2, 0.1], [-0.4, 0.3, 0.2, 0.1, 0.2, 0.5, -0.1, 0.3], [0.2, 0.1, 0.4, -0.3, 0.1, 0.2, 0.3, -0.5], [0.5, -0.1, 0.2, 0.3, -0.2, 0.4, 0.1, 0.2], [0.1, 0.4, -0.5, 0.2, 0.3, 0.1, -0.2, 0.4], [-0.2, 0.3, 0.1, 0.1, 0.5, -0.4, 0.3, 0.2], [0.4, 0.2, 0.3, -0.1, -0.1, 0.3, 0.5, 0.1], [0.2, -0.5, 0.4, 0.2, 0.1, 0.1, 0.2, -0.3], [0.3, 0.1, -0.2, 0.4, 0.2, -0.1, 0.4, 0.5], [-0.1, 0.2, 0.5, 0.3, -0.4, 0.2, 0.1, 0.1], [0.5, 0.3, 0.1, -0.2, 0.3, 0.4, -0.3, 0.2]]> : tensor<12x8xf32>} : tensor<12x8xf32>
    %wu = lowbit.param "model.layers.0.mlp.up_proj.weight" {value = dense<[[0.2, 0.3, 0.1, -0.4, 0.5, 0.2, -0.1, 0.3], [-0.1, 0.4, 0.3, 0.2, -0.2, 0.1, 0.5, 0.2], [0.4, -0.2, 0.5, 0.1, 0.3, -0.3, 0.2, 0.1], [0.3, 0.1, -0.1, 0.5, 0.2, 0.4, -0.4, 0.2], [-0.5, 0.2, 0.2, 0.3, 0.1, 0.1, 0.3, -0.2], [0.1, -0.3, 0.4, 0.2, 0.5, -0.1, 0.2, 0.4], [0.2, 0.5, -0.2, 0.1, 0.4, 0.3, -0.1, 0.1], [0.4, 0.1, 0.3, -0.5, -0.1, 0.2, 0.1, 0.3], [-0.3, 0.2, 0.1, 0.4, 0.3, -0.2, 0.5, 0.1], [0.1, 0.4, -0.3, 0.2, 0.2, 0.5, 0.1, -0.1], [0.5, -0.1, 0.2, 0.1, -0.3, 0.2, 0.4, 0.3], [0.2, 0.3, 0.4, -0.2, 0.1, -0.5, 0.3, 0.2]]> : tensor<12x8xf32>} : tensor<12x8xf32>
    %g = lowbit.linear %x2, %wg : (tensor<?x8xf32>, tensor<12x8xf32>) -> tensor<?x12xf32>
    %u = lowbit.linear %x2, %wu : (tensor<?x8xf32>, tensor<12x8xf32>) -> tensor<?x12xf32>
    %m = lowbit.gated_act silu %g, %u : tensor<?x12xf32>
    %wd = lowbit.param "model.layers.0.mlp.down_proj.weight" {value = dense<[[0.1, -0.2, 0.3, 0.1, 0.2, -0.1, 0.4, 0.2, -0.3, 0.1, 0.2, 0.5], [0.3, 0.1, -0.1, 0.4, 0.2, 0.3, -0.2, 0.1, 0.5, 0.2, -0.4, 0.1], [-0.2, 0.4, 0.2, 0.1, -0.5, 0.2, 0.1, 0.3, 0.2, -0.1, 0.3, 0.2], [0.4, 0.2, 0.1, -0.3, 0.1, 0.5, 0.2, -0.2, 0.1, 0.3, 0.1, -0.4], [0.2, -0.1, 0.5, 0.2, 0.3, 0.1, -0.3, 0.4, 0.2, 0.1, -0.2, 0.3], [0.1, 0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.1, 0.3, 0.2, 0.4, -0.1], [-0.3, 0.2, 0.4, 0.1, 0.2, 0.3, 0.5, -0.1, -0.2, 0.4, 0.1, 0.2], [0.5, 0.1, 0.2, -0.1, 0.4, 0.2, 0.1, 0.3, 0.1, -0.5, 0.2, 0.3]]> : tensor<8x12xf32>} : tensor<8x12xf32>
    %d = lowbit.linear %m, %wd : (tensor<?x12xf32>, tensor<8x12xf32>) -> tensor<?x8xf32>
    %h2 = lowbit.add %h1, %d : tensor<?x8xf32>
    return %h2 : tensor<?x8xf32>
  }
}
