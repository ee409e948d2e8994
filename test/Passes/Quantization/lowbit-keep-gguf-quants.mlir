// RUN: rm -rf %t && mkdir -p %t
// RUN: python3 %S/Inputs/make_gguf_model.py %t/m.gguf
// RUN: lowbit-opt %s --param-scope checkpoint=%t/m.gguf -lowbit-keep-gguf-quants="output-params=%t/kept.safetensors" | FileCheck %s
// RUN: python3 %S/check_gguf_kept.py %t/m.gguf %t/kept.safetensors | FileCheck %s --check-prefix=REF
// RUN: lowbit-opt %s --param-scope checkpoint=%t/m.gguf -lowbit-keep-gguf-quants="output-params=%t/req.safetensors requant-bits=8" | FileCheck %s --check-prefix=REQ
// RUN: python3 %S/check_gguf_kept.py %t/m.gguf %t/req.safetensors | FileCheck %s --check-prefix=REQREF

// The weights of a GGUF llama (Inputs/make_gguf_model.py, "mixed" types):
// Q4_1 q_proj and gate_proj, Q4_0 k_proj and down_proj, Q8_0 v_proj and
// embedding are kept with their exact schemes; Q6_K o_proj and Q5_0 up_proj
// stay float. The tied embedding gets a Q8_0 "lm_head" for the output
// projection, and the lookup reads it too (no float table is left).

// CHECK-DAG: #[[Q41:.*]] = #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>
// CHECK-DAG: #[[Q40:.*]] = #lowbit.scheme<bits = 4, group_size = 32, symmetric = true, scale_type = f16>
// CHECK-DAG: #[[Q80:.*]] = #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>
// CHECK: module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"gguf", "m.gguf">, gguf_blocks = #lowbit.scope<"safetensors", "{{.*}}kept.safetensors">}}
// CHECK-LABEL: func.func @forward
// CHECK: %[[H:.*]] = lowbit.qparam "gguf_blocks"::"lm_head" : !lowbit.qweight<512x256, #[[Q80]]>
// CHECK-NEXT: %[[E:.*]] = lowbit.dequantize %[[H]] : !lowbit.qweight<512x256, #[[Q80]]> -> tensor<512x256xf32>
// CHECK-NOT: model.embed_tokens.weight
// CHECK: lowbit.embedding %[[E]], %{{.*}}
// CHECK: %[[HW:.*]] = lowbit.dequantize %[[H]]
// CHECK: lowbit.linear %{{.*}}, %[[HW]]
// CHECK-LABEL: func.func private @layer0
// CHECK-DAG: lowbit.qparam "gguf_blocks"::"model.layers.0.self_attn.q_proj" : !lowbit.qweight<256x256, #[[Q41]]>
// CHECK-DAG: lowbit.qparam "gguf_blocks"::"model.layers.0.self_attn.k_proj" : !lowbit.qweight<128x256, #[[Q40]]>
// CHECK-DAG: lowbit.qparam "gguf_blocks"::"model.layers.0.self_attn.v_proj" : !lowbit.qweight<128x256, #[[Q80]]>
// CHECK-DAG: lowbit.param "checkpoint"::"model.layers.0.self_attn.o_proj.weight" : tensor<256x256xf32>
// CHECK-DAG: lowbit.qparam "gguf_blocks"::"model.layers.0.mlp.gate_proj" : !lowbit.qweight<512x256, #[[Q41]]>
// CHECK-DAG: lowbit.param "checkpoint"::"model.layers.0.mlp.up_proj.weight" : tensor<512x256xf32>
// CHECK-DAG: lowbit.qparam "gguf_blocks"::"model.layers.0.mlp.down_proj" : !lowbit.qweight<256x512, #[[Q40]]>
// CHECK-NOT: lowbit.param "checkpoint"::"model.layers.0.self_attn.q_proj.weight"

// With requant-bits=8 the Q6_K o_proj and the Q5_0 up_proj are requantized
// from their dequantized values by RTN (8 bits, symmetric, groups of 32, f16
// scales: the Q8_0 scheme) instead of staying float; the rest is as above.
// REQ-DAG: #[[R8:.*]] = #lowbit.scheme<bits = 8, group_size = 32, symmetric = true, scale_type = f16>
// REQ-DAG: lowbit.qparam "gguf_blocks"::"model.layers.0.self_attn.o_proj" : !lowbit.qweight<256x256, #[[R8]]>
// REQ-DAG: lowbit.qparam "gguf_blocks"::"model.layers.0.mlp.up_proj" : !lowbit.qweight<512x256, #[[R8]]>
// REQ-NOT: lowbit.param "checkpoint"::"model.layers.0.self_attn.o_proj.weight"
// REQ-NOT: lowbit.param "checkpoint"::"model.layers.0.mlp.up_proj.weight"
// REQREF: model.layers.0.mlp.up_proj Q5_0 requantized to 8 bits within half a step
// REQREF: model.layers.0.self_attn.o_proj Q6_K requantized to 8 bits within half a step
// REQREF: 8 stored tensors checked

// The stored codes, scales and minimums dequantize to gguf.quants.dequantize
// of the file's blocks (q/k rows back in Hugging Face order), bit for bit.
// REF: lm_head Q8_0 exact
// REF: model.layers.0.mlp.down_proj Q4_0 exact
// REF: model.layers.0.mlp.gate_proj Q4_1 exact
// REF: model.layers.0.self_attn.k_proj Q4_0 exact
// REF: model.layers.0.self_attn.q_proj Q4_1 exact
// REF: model.layers.0.self_attn.v_proj Q8_0 exact
// REF: 6 stored tensors checked

module attributes {lowbit.parameter_scopes = {checkpoint = #lowbit.scope<"gguf", "m.gguf">}} {
  func.func @forward(%ids: tensor<?xi32>) -> tensor<?x512xf32> {
    %e = lowbit.param "checkpoint"::"model.embed_tokens.weight" : tensor<512x256xf32>
    %h = lowbit.embedding %e, %ids : (tensor<512x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
    %b = func.call @layer0(%h) : (tensor<?x256xf32>) -> tensor<?x256xf32>
    %logits = lowbit.linear %b, %e : (tensor<?x256xf32>, tensor<512x256xf32>) -> tensor<?x512xf32>
    return %logits : tensor<?x512xf32>
  }
  func.func private @layer0(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
    %wq = lowbit.param "checkpoint"::"model.layers.0.self_attn.q_proj.weight" : tensor<256x256xf32>
    %q = lowbit.linear %x, %wq : (tensor<?x256xf32>, tensor<256x256xf32>) -> tensor<?x256xf32>
    %wk = lowbit.param "checkpoint"::"model.layers.0.self_attn.k_proj.weight" : tensor<128x256xf32>
    %k = lowbit.linear %x, %wk : (tensor<?x256xf32>, tensor<128x256xf32>) -> tensor<?x128xf32>
    %wv = lowbit.param "checkpoint"::"model.layers.0.self_attn.v_proj.weight" : tensor<128x256xf32>
    %v = lowbit.linear %x, %wv : (tensor<?x256xf32>, tensor<128x256xf32>) -> tensor<?x128xf32>
    %wo = lowbit.param "checkpoint"::"model.layers.0.self_attn.o_proj.weight" : tensor<256x256xf32>
    %o = lowbit.linear %q, %wo : (tensor<?x256xf32>, tensor<256x256xf32>) -> tensor<?x256xf32>
    %wg = lowbit.param "checkpoint"::"model.layers.0.mlp.gate_proj.weight" : tensor<512x256xf32>
    %g = lowbit.linear %o, %wg : (tensor<?x256xf32>, tensor<512x256xf32>) -> tensor<?x512xf32>
    %wu = lowbit.param "checkpoint"::"model.layers.0.mlp.up_proj.weight" : tensor<512x256xf32>
    %u = lowbit.linear %o, %wu : (tensor<?x256xf32>, tensor<512x256xf32>) -> tensor<?x512xf32>
    %a = lowbit.gated_act silu %g, %u : tensor<?x512xf32>
    %wd = lowbit.param "checkpoint"::"model.layers.0.mlp.down_proj.weight" : tensor<256x512xf32>
    %d = lowbit.linear %a, %wd : (tensor<?x512xf32>, tensor<256x512xf32>) -> tensor<?x256xf32>
    return %d : tensor<?x256xf32>
  }
}
