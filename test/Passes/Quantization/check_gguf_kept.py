#!/usr/bin/env python3
"""Checks the tensors lowbit-keep-gguf-quants stored against the `gguf` package.

    check_gguf_kept.py MODEL.gguf KEPT.safetensors

For every kept weight (NAME.qcodes, NAME.scales and, for Q4_1, NAME.zeros =
the minimums) it recomputes the weight the way gguf.quants.dequantize does
(Q4_0: d * (q - 8), Q4_1: (d * q) + m, Q8_0: (q - 128) * d, in float32) and
compares it bit for bit with gguf.quants.dequantize of the GGUF tensor, with
llama's q/k rows put back in Hugging Face order. A weight of another type
(requant-bits=B: RTN to B bits, symmetric groups of 32) is checked against
the same reference within RTN's bound: every value within half a step (d)
of the dequantized one, plus the f16 rounding of the scale over the codes. Prints one line
per tensor.
"""

import sys

import numpy as np
import gguf
from gguf.quants import dequantize
from safetensors.numpy import load_file

HF = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
      "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
      "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
      "ffn_down": "mlp.down_proj"}


def unpermute(w, n_head):
    """Inverse of llama.cpp's q/k permutation."""
    return (w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def main() -> None:
    reader = gguf.GGUFReader(sys.argv[1])
    kept = load_file(sys.argv[2])
    heads = int(reader.fields["llama.attention.head_count"].parts[-1][0])
    kv_heads = int(reader.fields["llama.attention.head_count_kv"].parts[-1][0])
    by_name = {}
    for t in reader.tensors:
        parts = t.name.split(".")
        if t.name == "token_embd.weight":
            by_name["lm_head"] = (t, 0)
        elif parts[0] == "blk" and parts[2] in HF:
            n = 0
            if parts[2] == "attn_q":
                n = heads
            elif parts[2] == "attn_k":
                n = kv_heads
            by_name[f"model.layers.{parts[1]}.{HF[parts[2]]}"] = (t, n)
    checked = 0
    for name in sorted({k.rsplit(".", 1)[0] for k in kept}):
        t, n_head = by_name[name]
        ref = dequantize(t.data, t.tensor_type).astype(np.float32)
        if n_head:
            ref = unpermute(ref, n_head)
        q = kept[name + ".qcodes"].astype(np.float32)
        d = np.repeat(kept[name + ".scales"].astype(np.float32), 32, axis=1)
        kind = t.tensor_type.name
        if kind not in ("Q4_0", "Q4_1", "Q8_0"):
            bits = int(q.max()).bit_length()
            w = (q - np.float32(1 << (bits - 1))) * d
            worst = float(np.max(np.abs(w - ref) / np.maximum(d, 1e-30)))
            # Half a step, plus the f16 rounding of the scale (relative
            # 2^-11) over codes up to 2^(bits-1) steps from the middle.
            ok = w.shape == ref.shape and worst <= 0.5 + 2.0 ** (bits - 12)
            print(name, kind, f"requantized to {bits} bits",
                  "within half a step" if ok else f"OFF ({worst:.3f} steps)")
            checked += 1
            continue
        if kind == "Q4_0":
            w = d * (q - np.float32(8))
        elif kind == "Q8_0":
            w = (q - np.float32(128)) * d
        else:
            m = np.repeat(kept[name + ".zeros"].astype(np.float32), 32, axis=1)
            w = (d * q) + m
        same = w.shape == ref.shape and np.array_equal(
            w.view(np.uint32), ref.view(np.uint32))
        print(name, kind, "exact" if same else "DIFFERENT")
        checked += 1
    print(checked, "stored tensors checked")


if __name__ == "__main__":
    main()
