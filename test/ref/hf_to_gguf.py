#!/usr/bin/env python3
"""Writes a Hugging Face llama/qwen2 checkpoint as a GGUF file the way
llama.cpp's convert_hf_to_gguf.py does, with the `gguf` package.

    hf_to_gguf.py MODEL_DIR OUT.gguf [--type F32|F16|BF16|Q8_0|Q4_0|Q4_1|Q5_0|Q5_1]
        [--dequant-out DIR] [--tokenizer llama|gpt2|none] [--pre NAME]
        [--no-add-bos] [--add-eos] [--chat-template TEXT] [--set KEY=JSON ...]
        [--drop TENSOR ...] [--raw-type TENSOR=TYPE ...]

Tensors get llama.cpp's names; llama q/k rows are permuted per head as the
converter does. 2-D weights are stored as --type (default F32), 1-D tensors
(norms, biases) as F32, and
weights whose rows are not whole blocks as F16 (as llama.cpp does). With --dequant-out, DIR receives a Hugging Face
directory (config.json, tokenizer files, model.safetensors) holding the
weights exactly as they dequantize from the GGUF (gguf.quants), so the
GGUF and DIR describe the same float model.

The tokenizer metadata comes from MODEL_DIR/tokenizer.json:
  * --tokenizer llama: a sentencepiece vocabulary (tokens, scores,
    token_type) for a BPE model with byte fallback; a token's score is minus
    its id, as in a sentencepiece model whose pieces are listed by score.
  * --tokenizer gpt2: tokens, merges, token_type and tokenizer.ggml.pre.
--set adds or overrides metadata (a JSON value: int, float, string, bool or
list; `null` deletes the key), --drop leaves a tensor out and --raw-type
stores a tensor as zero bytes of another ggml type (IQ2_XXS, say), for
negative tests.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import decode, load_checkpoint  # noqa: E402

import gguf  # noqa: E402
from gguf import GGMLQuantizationType as Q  # noqa: E402
from gguf.constants import TokenType  # noqa: E402

NAMES = {
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    assert parts[:2] == ["model", "layers"], hf
    layer, part, suffix = parts[2], ".".join(parts[3:-1]), parts[-1]
    return f"blk.{layer}.{NAMES[part]}.{suffix}"


def llama_cpp_permute(w, n_head):
    """The q/k row order of llama.cpp's convert_hf_to_gguf.py (LlamaModel)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def llama_cpp_unpermute(w, n_head):
    return (w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def tokenizer_metadata(w, model_dir, kind, pre):
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    vocab = dict(tok["model"]["vocab"])
    for t in tok.get("added_tokens", []):
        vocab[t["content"]] = t["id"]
    n = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(n)]
    for t, i in vocab.items():
        tokens[i] = t
    added = {t["id"]: t for t in tok.get("added_tokens", [])}
    types = []
    for i, t in enumerate(tokens):
        if i in added:
            types.append(TokenType.CONTROL if added[i].get("special")
                         else TokenType.USER_DEFINED)
        elif kind == "llama" and len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
            types.append(TokenType.BYTE)
        else:
            types.append(TokenType.NORMAL)
    w.add_tokenizer_model(kind)
    w.add_token_list(tokens)
    w.add_token_types(types)
    if kind == "llama":
        w.add_token_scores([-float(i) for i in range(n)])
        unk = tok["model"].get("unk_token")
        if unk is not None and unk in vocab:
            w.add_unk_token_id(vocab[unk])
    else:
        w.add_tokenizer_pre(pre)
        merges = tok["model"].get("merges", [])
        merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
        w.add_token_merges(merges)
    cfg_path = os.path.join(model_dir, "tokenizer_config.json")
    cfg = {}
    if os.path.exists(cfg_path):
        with open(cfg_path, encoding="utf-8") as f:
            cfg = json.load(f)

    def content(v):
        return v["content"] if isinstance(v, dict) else v
    for key, add in (("bos_token", w.add_bos_token_id), ("eos_token", w.add_eos_token_id),
                     ("pad_token", w.add_pad_token_id)):
        name = content(cfg.get(key))
        if name is not None and name in vocab:
            add(vocab[name])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--type", default="F32")
    ap.add_argument("--dequant-out")
    ap.add_argument("--tokenizer", choices=["llama", "gpt2", "none"], default="llama")
    ap.add_argument("--pre", default="gpt-2")
    ap.add_argument("--no-add-bos", action="store_true")
    ap.add_argument("--add-eos", action="store_true")
    ap.add_argument("--chat-template")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--raw-type", action="append", default=[])
    args = ap.parse_args()

    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    arch = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}[cfg["architectures"][0]]
    qtype = Q[args.type]
    weights = load_checkpoint(args.model)
    heads, kv_heads = cfg["num_attention_heads"], cfg.get("num_key_value_heads",
                                                          cfg["num_attention_heads"])
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads

    w = gguf.GGUFWriter(args.out, arch=arch)
    w.add_name("test model")
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    if head_dim != cfg["hidden_size"] // heads:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(0 if qtype == Q.F32 else 1 if qtype == Q.F16 else 7)
    if args.tokenizer != "none":
        tokenizer_metadata(w, args.model, args.tokenizer, args.pre)
        w.add_add_bos_token(not args.no_add_bos)
        w.add_add_eos_token(args.add_eos)
    if args.chat_template:
        w.add_chat_template(args.chat_template)
    overrides = {}
    for spec in args.set:
        key, value = spec.split("=", 1)
        overrides[key] = json.loads(value)

    raw_types = dict(spec.split("=", 1) for spec in args.raw_type)
    deq = {}
    for hf in sorted(weights, key=lambda n: (n.count("."), n)):
        t = np.asarray(decode(*weights[hf]), dtype=np.float32)
        name = gguf_name(hf)
        if name in args.drop:
            continue
        perm = 0
        if arch == "llama" and hf.endswith("q_proj.weight"):
            perm = heads
        elif arch == "llama" and hf.endswith("k_proj.weight"):
            perm = kv_heads
        g = llama_cpp_permute(t, perm) if perm else t
        tq = qtype if t.ndim == 2 else Q.F32
        # Like llama.cpp, rows that are not whole blocks fall back to F16.
        if t.shape[-1] % gguf.GGML_QUANT_SIZES[tq][0]:
            tq = Q.F16
        if name in raw_types:
            rt = Q[raw_types[name]]
            block, size = gguf.GGML_QUANT_SIZES[rt]
            data = np.zeros((g.shape[0], g.shape[1] // block * size), np.uint8)
            w.add_tensor(name, data, raw_dtype=rt)
            continue
        if tq == Q.F32:
            data, back = g, g
        elif tq == Q.F16:
            data = g.astype(np.float16)
            back = data.astype(np.float32)
        else:
            data = gguf.quants.quantize(g, tq)
            back = gguf.quants.dequantize(data, tq).reshape(g.shape)
        w.add_tensor(name, data, raw_dtype=tq)
        deq[hf] = llama_cpp_unpermute(back, perm) if perm else back

    # Overrides are applied last so that they replace what was written above.
    for key, value in overrides.items():
        w.kv_data[0].pop(key, None)
        if value is None:
            continue
        if isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, int):
            w.add_uint32(key, value) if value >= 0 else w.add_int32(key, value)
        elif isinstance(value, float):
            w.add_float32(key, value)
        elif isinstance(value, str):
            w.add_string(key, value)
        else:
            w.add_array(key, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    if args.dequant_out:
        from safetensors.numpy import save_file
        os.makedirs(args.dequant_out, exist_ok=True)
        for f in ("config.json", "tokenizer.json", "tokenizer_config.json",
                  "special_tokens_map.json", "generation_config.json"):
            if os.path.exists(os.path.join(args.model, f)):
                shutil.copy(os.path.join(args.model, f), args.dequant_out)
        save_file({k: np.ascontiguousarray(v) for k, v in deq.items()},
                  os.path.join(args.dequant_out, "model.safetensors"))


if __name__ == "__main__":
    main()
