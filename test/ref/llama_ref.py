#!/usr/bin/env python3
"""NumPy reference forward pass for Hugging Face Llama / Mistral / Qwen2 checkpoints.

Computes in float64 by default. Reads config.json and model.safetensors (or a
sharded checkpoint through model.safetensors.index.json) with F32/F16/BF16/F64
tensors; the safetensors reader is self-contained (numpy has no bfloat16).

Follows transformers' modeling_llama / modeling_mistral / modeling_qwen2:
  embedding -> L x [RMSNorm -> GQA attention with rotary (rotate_half
  convention) -> residual -> RMSNorm -> SiLU-gated MLP -> residual]
  -> RMSNorm -> lm_head (tied to the embedding when tie_word_embeddings).
Qwen2 adds q/k/v biases; Mistral (and Qwen2 with use_sliding_window) may use a
sliding attention window.

Module use:
    from llama_ref import LlamaRef
    m = LlamaRef("/path/to/model")
    logits = m.forward([1, 2, 3])         # float64 [T, vocab]
    ids = m.generate([1], 16)             # greedy, returns prompt + new ids

CLI:
    llama_ref.py MODEL_DIR --tokens 1,2,3 [--out logits.npy]
    llama_ref.py MODEL_DIR --text "Once upon a time" [--no-bos] [--out logits.npy]
    llama_ref.py MODEL_DIR --tokens 1 --generate 32
Without --out a JSON summary is printed (add --print-logits for all logits).
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

_NP_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
    "BF16": np.dtype("<u2"),  # decoded below
}


def _bf16_to_f32(a):
    return (np.asarray(a).astype(np.uint32) << np.uint32(16)).view(np.float32)


def open_safetensors(path):
    """{name: (raw array, safetensors dtype)} for a .safetensors file, where the raw
    arrays are read-only memory maps (BF16 stays as uint16 bit patterns), and the
    file's __metadata__ dict. Nothing is read into memory."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    meta = header.pop("__metadata__", {}) or {}
    data_start = 8 + n
    size = os.path.getsize(path)
    raw = np.memmap(path, dtype=np.uint8, mode="r") if size > data_start else None
    out = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _NP_DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        shape = tuple(info["shape"])
        b, e = info["data_offsets"]
        npdt = _NP_DTYPES[dt]
        count = int(np.prod(shape, dtype=np.int64))
        if e - b != count * npdt.itemsize or data_start + e > size:
            raise ValueError(f"{path}: tensor {name}: bad data_offsets {b},{e}")
        if count == 0:
            arr = np.zeros(shape, dtype=npdt)
        else:
            arr = raw[data_start + b:data_start + e].view(npdt).reshape(shape)
        out[name] = (arr, dt)
    return out, meta


def decode(raw, st_dtype):
    """Raw array from open_safetensors -> numeric array (BF16 -> float32)."""
    return _bf16_to_f32(raw) if st_dtype == "BF16" else raw


def read_safetensors(path):
    """{name: array} (BF16 decoded to float32) and the metadata dict of a file."""
    t, meta = open_safetensors(path)
    return {k: decode(a, dt) for k, (a, dt) in t.items()}, meta


def load_checkpoint(model_dir):
    """{name: (raw array, dtype)} of a HF checkpoint directory (single file or sharded)."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        files = [single]
    elif os.path.exists(index):
        with open(index) as f:
            wm = json.load(f)["weight_map"]
        files = [os.path.join(model_dir, fn) for fn in sorted(set(wm.values()))]
    else:
        raise FileNotFoundError(f"no model.safetensors or index in {model_dir}")
    tensors = {}
    for fn in files:
        t, _ = open_safetensors(fn)
        dup = set(t) & set(tensors)
        if dup:
            raise ValueError(f"tensor(s) stored twice: {sorted(dup)[:3]}")
        tensors.update(t)
    if files[0] != single:
        missing = set(wm) - set(tensors)
        if missing:
            raise ValueError(f"index names tensors not found in shards: {sorted(missing)[:3]}")
    return tensors


def _rope_inv_freq(cfg, head_dim):
    theta = float(cfg.get("rope_theta", 10000.0))
    rot_dim = int(head_dim * float(cfg.get("partial_rotary_factor", 1.0)))
    inv = 1.0 / theta ** (np.arange(0, rot_dim, 2, dtype=np.float64) / rot_dim)
    rs = cfg.get("rope_scaling")
    att = 1.0
    if rs:
        kind = rs.get("rope_type", rs.get("type", "default"))
        if kind == "default":
            pass
        elif kind == "linear":
            inv = inv / float(rs["factor"])
        elif kind == "llama3":
            factor = float(rs["factor"])
            lo, hi = float(rs["low_freq_factor"]), float(rs["high_freq_factor"])
            old = float(rs["original_max_position_embeddings"])
            lo_wl, hi_wl = old / lo, old / hi
            wl = 2 * math.pi / inv
            smooth = (old / wl - lo) / (hi - lo)
            scaled = np.where(wl > lo_wl, inv / factor, inv)
            mid = (wl <= lo_wl) & (wl >= hi_wl)
            inv = np.where(mid, (1 - smooth) * inv / factor + smooth * inv, scaled)
        else:
            raise NotImplementedError(f"rope_scaling type {kind!r}")
    return inv, att


def _rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


class KVCache:
    def __init__(self, n_layers):
        self.k = [None] * n_layers
        self.v = [None] * n_layers
        self.pos = 0


class LlamaRef:
    def __init__(self, model_dir, dtype=np.float64, cache_weights=None):
        """cache_weights: keep converted weights in memory between calls (default:
        only when they take < 2 GiB; otherwise each forward re-reads the memory maps)."""
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        self.cfg = cfg
        self.model_dir = model_dir
        self.dtype = np.dtype(dtype)
        self.model_type = cfg.get("model_type", "llama")
        if self.model_type not in ("llama", "mistral", "qwen2"):
            raise NotImplementedError(f"model_type {self.model_type!r}")
        if cfg.get("hidden_act", "silu") != "silu":
            raise NotImplementedError(f"hidden_act {cfg.get('hidden_act')!r}")
        self.H = cfg["hidden_size"]
        self.L = cfg["num_hidden_layers"]
        self.NH = cfg["num_attention_heads"]
        self.NKV = cfg.get("num_key_value_heads") or self.NH
        self.D = cfg.get("head_dim") or self.H // self.NH
        self.V = cfg["vocab_size"]
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        self.inv_freq, self.att_scale = _rope_inv_freq(cfg, self.D)
        self.windows = self._sliding_windows()
        self._raw = load_checkpoint(model_dir)
        if cache_weights is None:
            n = sum(int(np.prod(a.shape, dtype=np.int64)) for a, _ in self._raw.values())
            cache_weights = n * self.dtype.itemsize < 2 * 2**30
        self._cache = {} if cache_weights else None
        self.bos_token_id = cfg.get("bos_token_id", 1)
        self.eos_token_id = cfg.get("eos_token_id", 2)

    def _sliding_windows(self):
        cfg = self.cfg
        W = cfg.get("sliding_window")
        if self.model_type == "mistral":
            return [W] * self.L
        if self.model_type == "qwen2":
            lt = cfg.get("layer_types")
            if lt:
                return [W if t == "sliding_attention" else None for t in lt]
            if cfg.get("use_sliding_window") and W:
                mwl = cfg.get("max_window_layers", self.L)
                return [W if i >= mwl else None for i in range(self.L)]
        return [None] * self.L

    def has(self, name):
        return name in self._raw

    def w(self, name):
        if self._cache is not None and name in self._cache:
            return self._cache[name]
        if name not in self._raw:
            raise KeyError(f"tensor {name} not in checkpoint {self.model_dir}")
        a = np.asarray(decode(*self._raw[name]), dtype=self.dtype)
        if self._cache is not None:
            self._cache[name] = a
        return a

    def _lm_head(self):
        if self.tied or not self.has("lm_head.weight"):
            return self.w("model.embed_tokens.weight")
        return self.w("lm_head.weight")

    def _rms(self, x, name):
        var = np.mean(x * x, axis=-1, keepdims=True)
        return x / np.sqrt(var + self.eps) * self.w(name)

    def _linear(self, x, name, bias=False):
        y = x @ self.w(name + ".weight").T
        if bias or (self.model_type == "qwen2" and self.has(name + ".bias")):
            y = y + self.w(name + ".bias")
        return y

    def _rope(self, x, pos):
        # x: [T, heads, D]; HF rotate_half over the (first) rot_dim features.
        freqs = np.outer(pos.astype(np.float64), self.inv_freq)
        emb = np.concatenate([freqs, freqs], axis=-1)
        cos = (np.cos(emb) * self.att_scale).astype(self.dtype)[:, None, :]
        sin = (np.sin(emb) * self.att_scale).astype(self.dtype)[:, None, :]
        r = emb.shape[-1]
        xr = x[..., :r]
        out = xr * cos + _rotate_half(xr) * sin
        if r < x.shape[-1]:
            out = np.concatenate([out, x[..., r:]], axis=-1)
        return out

    def _attention(self, x, l, pos, cache):
        T = x.shape[0]
        p = f"model.layers.{l}.self_attn."
        bias = self.model_type == "qwen2" and self.has(p + "q_proj.bias")
        q = self._linear(x, p + "q_proj", bias).reshape(T, self.NH, self.D)
        k = self._linear(x, p + "k_proj", bias).reshape(T, self.NKV, self.D)
        v = self._linear(x, p + "v_proj", bias).reshape(T, self.NKV, self.D)
        q = self._rope(q, pos)
        k = self._rope(k, pos)
        if cache is not None:
            if cache.k[l] is not None:
                k = np.concatenate([cache.k[l], k], axis=0)
                v = np.concatenate([cache.v[l], v], axis=0)
            cache.k[l], cache.v[l] = k, v
        S = k.shape[0]
        kpos = np.arange(S) + (pos[0] - (S - T))
        allowed = kpos[None, :] <= pos[:, None]
        W = self.windows[l]
        if W:
            allowed &= kpos[None, :] > pos[:, None] - W
        g = self.NH // self.NKV
        qh = q.transpose(1, 0, 2).reshape(self.NKV, g * T, self.D)
        kh = k.transpose(1, 0, 2)  # [NKV, S, D]
        vh = v.transpose(1, 0, 2)
        scores = qh @ kh.transpose(0, 2, 1) / math.sqrt(self.D)  # [NKV, g*T, S]
        scores = scores.reshape(self.NKV, g, T, S)
        scores = np.where(allowed[None, None], scores, -np.inf)
        scores -= scores.max(axis=-1, keepdims=True)
        pr = np.exp(scores)
        pr /= pr.sum(axis=-1, keepdims=True)
        o = pr.reshape(self.NKV, g * T, S) @ vh  # [NKV, g*T, D]
        o = o.reshape(self.NH, T, self.D).transpose(1, 0, 2).reshape(T, self.NH * self.D)
        return self._linear(o, p + "o_proj")

    def _mlp(self, x, l):
        p = f"model.layers.{l}.mlp."
        gte = self._linear(x, p + "gate_proj")
        up = self._linear(x, p + "up_proj")
        return self._linear(gte / (1.0 + np.exp(-gte)) * up, p + "down_proj")

    def hidden_states(self, tokens, cache=None):
        """Final (normed) hidden states [T, H] for `tokens` (continuing `cache`)."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        if tokens.size == 0:
            raise ValueError("empty token list")
        if tokens.min() < 0 or tokens.max() >= self.V:
            raise ValueError(f"token id out of range [0, {self.V})")
        start = cache.pos if cache is not None else 0
        pos = np.arange(start, start + tokens.size)
        if self._cache is not None and "model.embed_tokens.weight" in self._cache:
            x = self._cache["model.embed_tokens.weight"][tokens]
        else:
            raw, dt = self._raw["model.embed_tokens.weight"]
            x = np.asarray(decode(raw[tokens], dt), dtype=self.dtype)
        for l in range(self.L):
            p = f"model.layers.{l}."
            x = x + self._attention(self._rms(x, p + "input_layernorm.weight"), l, pos, cache)
            x = x + self._mlp(self._rms(x, p + "post_attention_layernorm.weight"), l)
        if cache is not None:
            cache.pos += tokens.size
        return self._rms(x, "model.norm.weight")

    def forward(self, tokens, cache=None):
        """Logits [T, vocab] for `tokens` (positions continue from `cache` if given)."""
        return self.hidden_states(tokens, cache) @ self._lm_head().T

    def new_cache(self):
        return KVCache(self.L)

    def generate(self, prompt, n_new, stop_at_eos=False):
        """Greedy decoding with a KV cache; returns prompt + generated ids."""
        cache = self.new_cache()
        ids = [int(t) for t in prompt]
        logits = self.forward(ids, cache)
        for _ in range(n_new):
            nxt = int(np.argmax(logits[-1]))
            ids.append(nxt)
            if stop_at_eos and nxt == self.eos_token_id:
                break
            logits = self.forward([nxt], cache)
        return ids


def _tokenizer(model_dir):
    from tokenizers import Tokenizer  # optional dependency, only for --text / decode
    return Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))


def main(argv=None):
    ap = argparse.ArgumentParser(description="NumPy float64 reference forward for HF Llama-family models")
    ap.add_argument("model_dir")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--tokens", help="comma-separated token ids, e.g. 1,2,3")
    src.add_argument("--text", help="text to encode with the model's tokenizer.json (BOS added)")
    ap.add_argument("--no-bos", action="store_true", help="with --text: do not prepend BOS")
    ap.add_argument("--out", help="write logits [T, vocab] float32 to this .npy file")
    ap.add_argument("--out-f64", action="store_true", help="write float64 instead of float32")
    ap.add_argument("--generate", type=int, default=0, metavar="N",
                    help="greedy-generate N tokens after the prompt and print them as JSON")
    ap.add_argument("--stop-at-eos", action="store_true")
    ap.add_argument("--f32", action="store_true", help="compute in float32 (faster, for big models)")
    ap.add_argument("--print-logits", action="store_true", help="include all logits in the JSON")
    args = ap.parse_args(argv)

    if args.tokens is not None:
        tokens = [int(t) for t in args.tokens.replace(" ", "").split(",") if t != ""]
    else:
        enc = _tokenizer(args.model_dir).encode(args.text, add_special_tokens=not args.no_bos)
        tokens = enc.ids
    m = LlamaRef(args.model_dir, dtype=np.float32 if args.f32 else np.float64)

    if args.generate:
        ids = m.generate(tokens, args.generate, stop_at_eos=args.stop_at_eos)
        res = {"prompt": tokens, "tokens": ids}
        try:
            res["text"] = _tokenizer(args.model_dir).decode(ids)
        except Exception:  # tokenizer missing or tokenizers not installed
            pass
        print(json.dumps(res, ensure_ascii=False))
        return 0

    logits = m.forward(tokens)
    if args.out:
        np.save(args.out, logits if args.out_f64 else logits.astype(np.float32))
    if args.out and not args.print_logits:
        print(json.dumps({"tokens": tokens, "shape": list(logits.shape), "out": args.out}))
        return 0
    last = logits[-1]
    top = np.argsort(-last)[:10]
    lp = last - last.max()
    lp = lp - np.log(np.exp(lp).sum())
    res = {
        "tokens": tokens,
        "shape": list(logits.shape),
        "argmax": [int(i) for i in logits.argmax(-1)],
        "last_top10": [[int(i), float(last[i])] for i in top],
        "last_entropy": float(-(np.exp(lp) * lp).sum()),
    }
    if args.print_logits:
        res["logits"] = logits.tolist()
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
