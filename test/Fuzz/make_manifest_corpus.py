#!/usr/bin/env python3
#===- make_manifest_corpus.py - seed corpus for ManifestFuzzer -------------===#
#
# Writes small manifests (docs/bundle-manifest.md) into corpus/manifest next
# to this script. ManifestFuzzer wraps each input in a bundle holding a fixed
# set of tensors, the ones listed in TENSORS below (keep the two in sync): a
# one-layer Llama-style model with vocab 32, hidden 16, 2 heads of 8, 1 KV
# head, intermediate 32, plus a packed 4-bit weight for a qmatmul down_proj
# and two i32 permutations (one valid, one not).
#
# The fp32 seeds are valid programs that load; the qmatmul seeds are valid up
# to the kernel choice and fail there because the fuzzer's bundle has no code
# blob (it must never dlopen fuzzer-made bytes); the bad_* seeds fail in
# validation at a known check. Deterministic: rerunning it rewrites the same
# bytes. Standard library only.
#
#===------------------------------------------------------------------------===#
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "manifest")

V, D, H, KVH, DH, I = 32, 16, 2, 1, 8, 32
L0 = "model.layers.0."

# name -> (dtype, shape); mirrored by kTensors in ManifestFuzzer.cpp.
TENSORS = {
    "model.embed_tokens.weight": ("f32", [V, D]),
    L0 + "input_layernorm.weight": ("f32", [D]),
    L0 + "self_attn.q_proj.weight": ("f32", [H * DH, D]),
    L0 + "self_attn.q_proj.bias": ("f32", [H * DH]),
    L0 + "self_attn.k_proj.weight": ("f32", [KVH * DH, D]),
    L0 + "self_attn.v_proj.weight": ("f32", [KVH * DH, D]),
    L0 + "self_attn.o_proj.weight": ("f32", [D, H * DH]),
    L0 + "post_attention_layernorm.weight": ("f32", [D]),
    L0 + "mlp.gate_proj.weight": ("f32", [I, D]),
    L0 + "mlp.up_proj.weight": ("f32", [I, D]),
    L0 + "mlp.down_proj.weight": ("f32", [D, I]),
    L0 + "mlp.down_proj.bias": ("f32", [D]),
    # N = 16, K = 32, 4 bits, one group of 32: one 16-row tile of 256 code
    # bytes + 64 bytes of scale headers (f32 symmetric or f16 asymmetric).
    L0 + "mlp.down_proj.qweight": ("bytes", [320]),
    L0 + "mlp.down_proj.perm": ("i32", [I]),
    L0 + "mlp.down_proj.perm_bad": ("i32", [I]),
    "model.norm.weight": ("f32", [D]),
    "lm_head.weight": ("f32", [V, D]),
}

# Buffers of the one-layer program.
TOK, POS, HID, X, Q, K, VV, QR, KR, ATT, O, H2, GATE, UP, ACT, DOWN, LOGITS = \
    range(17)
BUFFERS = ([{"dtype": "i32", "cols": 1}] * 2 +
           [{"dtype": "f32", "cols": c} for c in
            (D, D, H * DH, KVH * DH, KVH * DH, H * DH, KVH * DH, H * DH, D, D,
             I, I, I, D, V)])


def linear(x, out, name, bias=None):
    op = {"op": "linear", "in": [x], "out": out, "weight": name}
    if bias:
        op["bias"] = bias
    return op


def qmatmul(x, out, **over):
    op = {"op": "qmatmul", "in": [x], "out": out, "N": D, "K": I, "bits": 4,
          "group_size": 32, "symmetric": True, "scale_type": "f32",
          "weight": L0 + "mlp.down_proj.qweight",
          "bias": L0 + "mlp.down_proj.bias",
          "perm": L0 + "mlp.down_proj.perm", "path": "fp32",
          "kernels": [
              {"isa": "avx2", "batch_tile": 1,
               "symbol": "lowbit_x86_qmatmul_0_avx2_t1"},
              {"isa": "avx2", "batch_tile": 4,
               "symbol": "lowbit_x86_qmatmul_0_avx2_t4"},
              {"isa": "avx512", "batch_tile": 1,
               "symbol": "lowbit_x86_qmatmul_0_avx512_t1"}]}
    op.update(over)
    return op


def llama_ops(style="rotate_half", act="silu", down=None, out_array=False):
    def out(b):
        return [b] if out_array else b
    rope = {"op": "rotary", "style": style, "theta": 10000.0, "head_dim": DH}
    return [
        {"op": "embedding", "in": [TOK], "out": out(HID),
         "table": "model.embed_tokens.weight"},
        {"op": "rms_norm", "in": [HID], "out": out(X), "eps": 1e-5,
         "weight": L0 + "input_layernorm.weight"},
        linear(X, out(Q), L0 + "self_attn.q_proj.weight",
               L0 + "self_attn.q_proj.bias"),
        linear(X, out(K), L0 + "self_attn.k_proj.weight"),
        linear(X, out(VV), L0 + "self_attn.v_proj.weight"),
        dict(rope, **{"in": [Q, POS], "out": out(QR)}),
        dict(rope, **{"in": [K, POS], "out": out(KR)}),
        {"op": "attention", "in": [QR, KR, VV, POS], "out": out(ATT),
         "layer": 0, "num_heads": H, "num_kv_heads": KVH, "head_dim": DH},
        linear(ATT, out(O), L0 + "self_attn.o_proj.weight"),
        {"op": "add", "in": [HID, O], "out": out(H2)},
        {"op": "rms_norm", "in": [H2], "out": out(X), "eps": 1e-5,
         "weight": L0 + "post_attention_layernorm.weight"},
        linear(X, out(GATE), L0 + "mlp.gate_proj.weight"),
        linear(X, out(UP), L0 + "mlp.up_proj.weight"),
        {"op": "gated_act", "in": [GATE, UP], "out": out(ACT), "kind": act},
        down if down else linear(ACT, out(DOWN), L0 + "mlp.down_proj.weight",
                                 L0 + "mlp.down_proj.bias"),
        {"op": "add", "in": [H2, DOWN], "out": out(HID)},
        {"op": "rms_norm", "in": [HID], "out": out(X), "eps": 1e-6,
         "weight": "model.norm.weight"},
        linear(X, out(LOGITS), "lm_head.weight"),
    ]


def config(**over):
    c = {"architecture": "LlamaForCausalLM", "vocab_size": V,
         "hidden_size": D, "num_hidden_layers": 1, "num_attention_heads": H,
         "num_key_value_heads": KVH, "head_dim": DH, "intermediate_size": I,
         "max_position_embeddings": 64, "bos_token_id": 1, "eos_token_id": 2}
    c.update(over)
    return c


def manifest(ops, cfg=None, kv=True, extra=None):
    program = {"inputs": {"tokens": TOK, "positions": POS}, "output": LOGITS,
               "buffers": BUFFERS, "ops": ops}
    if kv:
        program["kv_cache"] = [{"layer": 0, "num_kv_heads": KVH,
                                "head_dim": DH}]
    m = {"format": "lowbit-manifest-v1",
         "compiler": {"name": "lowbit-compile", "version": "0.1.0"},
         "target": "x86", "config": cfg or config(), "layers": [],
         "program": program}
    m.update(extra or {})
    return json.dumps(m, sort_keys=True, separators=(",", ":"))


# A byte-level BPE tokenizer.json small enough to keep the seed short.
TOKENIZER = {
    "version": "1.0", "added_tokens": [
        {"id": 1, "content": "<s>", "special": True},
        {"id": 2, "content": "</s>", "special": True}],
    "normalizer": None, "post_processor": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                      "trim_offsets": True, "use_regex": True},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "<s>": 1, "</s>": 2,
                                       "b": 3, "\u0120": 4, "ab": 5},
              "merges": ["a b"]}}

def tied_table(**over):
    table = {"op": "qembedding", "in": [TOK], "out": ACT, "N": D, "K": I,
             "bits": 4, "group_size": 32, "symmetric": True,
             "scale_type": "f32", "layout": "x86-tile16-v1",
             "weight": L0 + "mlp.down_proj.qweight"}
    table.update(over)
    ops = [table, qmatmul(ACT, DOWN, perm=None)]
    m = json.loads(manifest(ops, cfg=config(vocab_size=D, hidden_size=I,
                                            num_hidden_layers=0), kv=False))
    m["program"]["output"] = DOWN
    return json.dumps(m, sort_keys=True, separators=(",", ":"))


QLAYER = {"name": L0 + "mlp.down_proj", "tensor": L0 + "mlp.down_proj.qweight",
          "N": D, "K": I, "bits": 4, "group_size": 32, "symmetric": True,
          "scale_type": "f32", "act_order": True, "bytes": 320}

SEEDS = {
    # Valid fp32 programs (they load).
    "llama_fp32": manifest(llama_ops()),
    "llama_interleaved_gelu": manifest(
        llama_ops(style="interleaved", act="gelu_tanh", out_array=True),
        cfg=config(bos_token_id=None, eos_token_id=[2, 3])),
    "lm_head_only": manifest(
        [{"op": "embedding", "in": [TOK], "out": HID,
          "table": "model.embed_tokens.weight"},
         linear(HID, LOGITS, "lm_head.weight")],
        cfg=config(num_hidden_layers=0), kv=False),
    "tokenizer": manifest(
        [{"op": "embedding", "in": [TOK], "out": HID,
          "table": "model.embed_tokens.weight"},
         linear(HID, LOGITS, "lm_head.weight")],
        cfg=config(bos_token_id=None, eos_token_id=None), kv=False,
        extra={"tokenizer": TOKENIZER}),
    # qmatmul programs: valid up to the kernels, which need a code blob.
    "llama_qmatmul": manifest(llama_ops(down=qmatmul(ACT, DOWN)),
                              extra={"layers": [QLAYER]}),
    "qmatmul_int8_f16_asym": manifest(llama_ops(down=qmatmul(
        ACT, DOWN, symmetric=False, scale_type="f16", group_size=-1,
        path="int8", perm=None))),
    # A tied table: the lookup (qembedding) and the output projection
    # (qmatmul) read the same packed tensor; vocabulary 16, hidden 32.
    # Valid up to the kernels, like the qmatmul seeds.
    "tied_qembedding": tied_table(),
    # Invalid: fails in validation at a known place.
    "bad_qembedding_size": tied_table(bits=8),
    "bad_perm": manifest(llama_ops(down=qmatmul(
        ACT, DOWN, perm=L0 + "mlp.down_proj.perm_bad"))),
    "bad_packed_size": manifest(llama_ops(down=qmatmul(ACT, DOWN, bits=8))),
    "bad_missing_kv_cache": manifest(llama_ops(), kv=False),
    "bad_shape": manifest(llama_ops(down=linear(
        ACT, DOWN, L0 + "mlp.up_proj.weight"))),
    # Finite as a double, infinite as the f32 the kernel takes.
    "bad_eps_overflow": manifest(llama_ops()).replace(
        '"eps":1e-05', '"eps":1e+39', 1),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, text in sorted(SEEDS.items()):
        # Drop fields set to None by the overrides above.
        text = json.dumps(strip_none(json.loads(text)), sort_keys=True,
                          separators=(",", ":"))
        with open(os.path.join(OUT, name + ".json"), "w",
                  encoding="utf-8", newline="\n") as f:
            f.write(text)


def strip_none(v):
    """Removes the keys whose value is None from qmatmul overrides only."""
    if isinstance(v, dict):
        if v.get("op") == "qmatmul":
            v = {k: x for k, x in v.items() if x is not None}
        return {k: strip_none(x) for k, x in v.items()}
    if isinstance(v, list):
        return [strip_none(x) for x in v]
    return v


if __name__ == "__main__":
    main()
