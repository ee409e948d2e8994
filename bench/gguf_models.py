#!/usr/bin/env python3
"""GGUF <-> Hugging Face conversions for bench/e2e_vs_llamacpp.py.

  hf_to_gguf(hf_dir, out, ...)     a Llama HF checkpoint (f16/bf16/f32
                                   safetensors) -> an F16 GGUF as llama.cpp's
                                   convert script writes it (q/k rows
                                   permuted, norms in F32), with a small
                                   byte-level BPE vocabulary of the model's
                                   size, or the tokenizer of --tokenizer-from
                                   GGUF (same vocabulary size)
  gguf_to_hf(gguf, out_dir)        a Llama GGUF of any type the `gguf`
                                   package dequantizes -> an HF directory of
                                   the dequantized weights in F32 (q/k
                                   permutation undone), config.json from the
                                   metadata; no tokenizer (the benchmark feeds
                                   token ids)

Command line (the synthetic 1.1B model of the benchmark):
  gguf_models.py hf2gguf HF_DIR OUT.gguf [--tokenizer-from SMOL.gguf]
  gguf_models.py gguf2hf IN.gguf OUT_DIR

Outputs are written to a temporary name and renamed. Only the `gguf` and
`numpy` packages are needed.
"""

import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

# HF name (within model.layers.N.) -> GGUF name (within blk.N.).
LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
TOP_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


def permute_qk(w, n_head):
    """llama.cpp's convert permutation of q/k rows (rotary halves ->
    interleaved pairs)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def unpermute_qk(w, n_head):
    """Inverse of permute_qk."""
    return (w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def hf_name_to_gguf(name):
    if name in TOP_NAMES:
        return TOP_NAMES[name]
    pre = "model.layers."
    if name.startswith(pre):
        idx, rest = name[len(pre):].split(".", 1)
        if rest in LAYER_NAMES:
            return f"blk.{int(idx)}.{LAYER_NAMES[rest]}"
    raise ValueError(f"unsupported tensor {name}")


def gguf_name_to_hf(name):
    for k, v in TOP_NAMES.items():
        if v == name:
            return k
    if name.startswith("blk."):
        idx, rest = name[4:].split(".", 1)
        for k, v in LAYER_NAMES.items():
            if v == rest:
                return f"model.layers.{int(idx)}.{k}"
    raise ValueError(f"unsupported tensor {name}")


def byte_level_vocab(n_vocab):
    """A minimal GPT-2 style byte-level BPE vocabulary of n_vocab tokens:
    <|endoftext|> (id 0, BOS/EOS), the 256 byte symbols, one merge ("Ġ t"),
    then unused filler tokens. Texts tokenize to (almost) one token per
    byte; the benchmark feeds token ids, so this only has to load."""
    bs = (list(range(ord("!"), ord("~") + 1)) +
          list(range(ord("¡"), ord("¬") + 1)) +
          list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_syms = [chr(c) for _, c in sorted(zip(bs, cs))]
    tokens = ["<|endoftext|>"] + byte_syms + ["Ġt"]
    types = [3] + [1] * 256 + [1]  # CONTROL, NORMAL
    if n_vocab < len(tokens):
        raise ValueError(f"vocabulary {n_vocab} < {len(tokens)}")
    while len(tokens) < n_vocab:
        tokens.append(f"<|unused_{len(tokens)}|>")
        types.append(5)  # UNUSED
    return tokens, types, ["Ġ t"]


def _read_hf_bf16_safe(hf_dir):
    """Like _read_hf, but reads bf16 tensors too (numpy has no bfloat16:
    they are widened to f32 from the raw bytes)."""
    files = sorted(f for f in os.listdir(hf_dir) if f.endswith(".safetensors"))
    if not files:
        raise ValueError(f"{hf_dir}: no .safetensors file")
    for fn in files:
        path = os.path.join(hf_dir, fn)
        with open(path, "rb") as fh:
            n, = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        base = 8 + n
        mm = np.memmap(path, dtype=np.uint8, mode="r")
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            raw = mm[base + a:base + b]
            dt = info["dtype"]
            if dt == "BF16":
                arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(
                    np.float32)
            elif dt == "F16":
                arr = raw.view(np.float16)
            elif dt == "F32":
                arr = raw.view(np.float32)
            else:
                raise ValueError(f"{path}: tensor {name} has dtype {dt}")
            yield name, arr.reshape(info["shape"])


def hf_to_gguf(hf_dir, out, tokenizer_from=None, name="synthetic"):
    import gguf
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "llama":
        raise ValueError(f"{hf_dir}: model_type {cfg.get('model_type')!r} "
                         "is not llama")
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    hidden = cfg["hidden_size"]
    head_dim = cfg.get("head_dim") or hidden // n_head
    vocab = cfg["vocab_size"]
    tmp = out + ".tmp"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name(name)
    w.add_context_length(cfg.get("max_position_embeddings", 2048))
    w.add_embedding_length(hidden)
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(cfg.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-5)))
    w.add_vocab_size(vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    if tokenizer_from:
        r = gguf.GGUFReader(tokenizer_from)
        toks = r.fields.get("tokenizer.ggml.tokens")
        if toks is None or len(toks.data) != vocab:
            raise ValueError(f"{tokenizer_from}: its vocabulary does not "
                             f"have {vocab} tokens")
        for key, fld in r.fields.items():
            if not key.startswith("tokenizer."):
                continue
            t = fld.types
            if t[0] == gguf.GGUFValueType.ARRAY:
                w.add_key_value(key, fld.contents(), t[0], sub_type=t[-1])
            else:
                w.add_key_value(key, fld.contents(), t[0])
    else:
        tokens, types, merges = byte_level_vocab(vocab)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("default")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_bos_token_id(0)
        w.add_eos_token_id(0)
        w.add_add_bos_token(False)
    tied = cfg.get("tie_word_embeddings", False)
    for hname, arr in _read_hf_bf16_safe(hf_dir):
        if tied and hname == "lm_head.weight":
            continue
        gname = hf_name_to_gguf(hname)
        if gname.endswith("attn_q.weight"):
            arr = permute_qk(arr, n_head)
        elif gname.endswith("attn_k.weight"):
            arr = permute_qk(arr, n_kv)
        if arr.ndim == 1:
            arr = np.ascontiguousarray(arr, dtype=np.float32)
        else:
            arr = np.ascontiguousarray(arr, dtype=np.float16)
        w.add_tensor(gname, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, out)


def _meta(r, key, default=None):
    f = r.fields.get(key)
    return f.contents() if f is not None else default


def gguf_to_hf(path, out_dir):
    import gguf
    from gguf.quants import dequantize
    r = gguf.GGUFReader(path)
    arch = _meta(r, "general.architecture")
    if arch != "llama":
        raise ValueError(f"{path}: architecture {arch!r} is not llama")
    p = "llama."
    n_head = int(_meta(r, p + "attention.head_count"))
    n_kv = int(_meta(r, p + "attention.head_count_kv", n_head))
    hidden = int(_meta(r, p + "embedding_length"))
    names = {t.name for t in r.tensors}
    emb = next(t for t in r.tensors if t.name == "token_embd.weight")
    vocab = int(_meta(r, p + "vocab_size", int(emb.shape[1])))
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": int(_meta(r, p + "feed_forward_length")),
        "num_hidden_layers": int(_meta(r, p + "block_count")),
        "num_attention_heads": n_head,
        "num_key_value_heads": n_kv,
        "head_dim": int(_meta(r, p + "rope.dimension_count",
                              hidden // n_head)),
        # Shortest decimal of the stored float32 (9.99e-06 -> 1e-05).
        "rms_norm_eps": float(np.format_float_positional(np.float32(_meta(
            r, p + "attention.layer_norm_rms_epsilon", 1e-5)))),
        "rope_theta": float(_meta(r, p + "rope.freq_base", 10000.0)),
        "max_position_embeddings": int(_meta(r, p + "context_length", 2048)),
        "vocab_size": vocab,
        "tie_word_embeddings": "output.weight" not in names,
        "bos_token_id": int(_meta(r, "tokenizer.ggml.bos_token_id", 1)),
        "eos_token_id": int(_meta(r, "tokenizer.ggml.eos_token_id", 2)),
        "torch_dtype": "float32",
    }
    # Header first (offsets from the shapes), then the data tensor by tensor.
    order = []
    offset = 0
    header = {"__metadata__": {"format": "pt", "source": os.path.basename(path)}}
    for t in r.tensors:
        shape = [int(d) for d in reversed(list(t.shape))]
        n = int(np.prod(shape)) * 4
        hname = gguf_name_to_hf(t.name)
        header[hname] = {"dtype": "F32", "shape": shape,
                         "data_offsets": [offset, offset + n]}
        order.append((hname, t, shape))
        offset += n
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)
    tmp = out_dir.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with open(os.path.join(tmp, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for hname, t, shape in order:
            a = dequantize(t.data, t.tensor_type).astype(np.float32)
            a = a.reshape(shape)
            if hname.endswith("q_proj.weight"):
                a = unpermute_qk(a, n_head)
            elif hname.endswith("k_proj.weight"):
                a = unpermute_qk(a, n_kv)
            f.write(np.ascontiguousarray(a).tobytes())
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("hf2gguf")
    a.add_argument("hf_dir")
    a.add_argument("out")
    a.add_argument("--tokenizer-from")
    b = sub.add_parser("gguf2hf")
    b.add_argument("gguf")
    b.add_argument("out_dir")
    args = ap.parse_args()
    try:
        if args.cmd == "hf2gguf":
            hf_to_gguf(args.hf_dir, args.out, args.tokenizer_from)
        else:
            gguf_to_hf(args.gguf, args.out_dir)
    except (ValueError, OSError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
