#!/usr/bin/env python3
"""Writes a small random llama model as GGUF, quantized by the `gguf` package.

    make_gguf_model.py OUT.gguf [--types mixed|Q4_0|Q4_1|Q8_0] [--hidden H]
                                [--layers L] [--seed S] [--head-dim D]

The tensors are written as llama.cpp's converter writes them: the q/k
projection rows permuted per head (convert_hf_to_gguf.py, LlamaModel), then
quantized with gguf.quants.quantize. `--types Q4_1` stores every linear weight
(and the tied embedding) in that type, norms in F32; `mixed` (the default)
mixes types whose blocks lowbit keeps (Q4_0, Q4_1, Q8_0) with types it reads
dequantized (F16, Q5_0, Q6_K, F32), so a test sees both.
"""

import argparse

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize

MIXED = {
    "token_embd": T.Q8_0,
    "attn_q": T.Q4_1,
    "attn_k": T.Q4_0,
    "attn_v": T.Q8_0,
    "attn_output": T.Q6_K,
    "ffn_gate": T.Q4_1,
    "ffn_up": T.Q5_0,
    "ffn_down": T.Q4_0,
}


def llama_cpp_permute(w, n_head):
    """The q/k row order of llama.cpp's convert_hf_to_gguf.py (LlamaModel)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--types", default="mixed")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--head-dim", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    hidden, heads, kv_heads, layers, vocab = a.hidden, 4, 2, a.layers, 512
    ffn = 2 * hidden
    head_dim = a.head_dim or hidden // heads

    w = gguf.GGUFWriter(a.out, arch="llama")
    w.add_block_count(layers)
    w.add_context_length(256)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(head_dim)
    if a.head_dim:
        w.add_key_length(head_dim)
    w.add_vocab_size(vocab)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def type_of(role):
        if a.types == "mixed":
            return MIXED[role]
        return T[a.types]

    def add(name, role, shape, permute_heads=0, scale=None):
        x = rng.standard_normal(shape).astype(np.float32)
        x *= scale if scale is not None else 1.0 / np.sqrt(shape[-1])
        if permute_heads and shape[0] % (2 * permute_heads) == 0:
            x = llama_cpp_permute(x, permute_heads)
        if role is None:
            w.add_tensor(name, x)
            return
        qtype = type_of(role)
        if qtype == T.F16:
            w.add_tensor(name, x.astype(np.float16))
        elif qtype == T.Q6_K:
            # gguf.quants cannot quantize k-quants: random 6-bit codes and
            # sub-block scales under a small f16 super-block scale d.
            rows, cols = shape
            raw = rng.integers(0, 256, size=(rows, cols // 256, 210),
                               dtype=np.uint8)
            raw[..., 192:208] = rng.integers(-32, 32, size=16).astype(np.int8).view(np.uint8)
            raw[..., 208:210] = np.frombuffer(
                np.float16(0.002).tobytes(), dtype=np.uint8)
            w.add_tensor(name, raw.reshape(rows, -1), raw_dtype=qtype)
        else:
            w.add_tensor(name, quantize(x, qtype), raw_dtype=qtype)

    add("token_embd.weight", "token_embd", (vocab, hidden), scale=1.0)
    for i in range(layers):
        b = f"blk.{i}."
        add(b + "attn_norm.weight", None, (hidden,), scale=0.1)
        add(b + "ffn_norm.weight", None, (hidden,), scale=0.1)
        add(b + "attn_q.weight", "attn_q", (heads * head_dim, hidden), heads)
        add(b + "attn_k.weight", "attn_k", (kv_heads * head_dim, hidden),
            kv_heads)
        add(b + "attn_v.weight", "attn_v", (kv_heads * head_dim, hidden))
        add(b + "attn_output.weight", None if a.head_dim else "attn_output",
            (hidden, heads * head_dim))
        add(b + "ffn_gate.weight", "ffn_gate", (ffn, hidden))
        add(b + "ffn_up.weight", "ffn_up", (ffn, hidden))
        add(b + "ffn_down.weight", "ffn_down", (hidden, ffn))
    add("output_norm.weight", None, (hidden,), scale=0.1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
