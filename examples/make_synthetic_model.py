#!/usr/bin/env python3
"""Write a deterministic synthetic Llama-family checkpoint in Hugging Face layout.

The output directory gets:
  config.json                  LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM
  model.safetensors            or model-0000i-of-0000N.safetensors + model.safetensors.index.json
  tokenizer.json               HF BPE, sentencepiece style, byte fallback (like stories260k)
  tokenizer_config.json, special_tokens_map.json, generation_config.json

The weights are random but shaped like a trained model's, so that quantization
error behaves plausibly:
  * linear weights are Student-t (4 dof) scaled to std 1/sqrt(effective fan-in),
    with log-normal per-row and per-column scale variation;
  * input_layernorm / post_attention_layernorm gains are near 1 except on 3-4
    fixed "outlier" channels (the same in every layer) whose gains are 10-30x,
    so the inputs of q/k/v/gate/up have outlier channels as in real LLMs (the
    weight columns reading them are damped so that, together, they carry at most
    1/3 of the pre-activation variance);
  * embeddings have a few large-magnitude dimensions;
  * lm_head (or, when tied, the embedding scale) is set so the logits have
    std ~ sqrt(ln V): softmax entropy is moderate, neither uniform nor one-hot.

Same arguments -> byte-identical files. Tensors are generated and streamed to
disk one chunk at a time, so a 1.1B-parameter model never sits in memory.

Usage:
  make_synthetic_model.py --out DIR [--preset tiny|small|1b] [--arch llama|mistral|qwen2]
      [--hidden H --intermediate I --layers L --heads NH --kv-heads NKV --head-dim D
       --vocab V --max-pos P] [--seed S] [--tied|--no-tied] [--dtype f32|f16|bf16]
      [--shards N] [--sliding-window W]
"""

import argparse
import json
import math
import os
import struct
import sys
import time
import zlib

import numpy as np

PRESETS = {
    # Same width as stories260k (K = 172 of down_proj gives ragged groups).
    "tiny": dict(hidden=64, intermediate=172, layers=2, heads=8, kv_heads=4,
                 vocab=512, max_pos=256, tied=True, dtype="f32"),
    "small": dict(hidden=256, intermediate=688, layers=4, heads=8, kv_heads=2,
                  vocab=2048, max_pos=1024, tied=False, dtype="f32"),
    # TinyLlama-1.1B shape.
    "1b": dict(hidden=2048, intermediate=5632, layers=22, heads=32, kv_heads=4,
               vocab=32000, max_pos=2048, tied=False, dtype="bf16"),
}
DEFAULTS = dict(hidden=64, intermediate=172, layers=2, heads=8, kv_heads=4,
                vocab=512, max_pos=256, tied=False, dtype="f32")

ARCH = {
    "llama": dict(cls="LlamaForCausalLM", model_type="llama", rope_theta=10000.0,
                  eps=1e-5, bias=False),
    "mistral": dict(cls="MistralForCausalLM", model_type="mistral", rope_theta=1000000.0,
                    eps=1e-5, bias=False),
    "qwen2": dict(cls="Qwen2ForCausalLM", model_type="qwen2", rope_theta=1000000.0,
                  eps=1e-6, bias=True),
}

ST_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16"}
TORCH_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
ITEMSIZE = {"f32": 4, "f16": 2, "bf16": 2}

CHUNK = 1 << 20  # elements generated per step


# ---------------------------------------------------------------------------
# Random numbers
# ---------------------------------------------------------------------------

def _t4_lower_quantile(p):
    """Quantile of Student-t with 4 dof for p in (0, 0.5] (closed form), float64."""
    p = np.asarray(p, dtype=np.float64)
    a = 4.0 * p * (1.0 - p)
    sa = np.sqrt(a)
    return -2.0 * np.sqrt(np.maximum(np.cos(np.arccos(sa) / 3.0) / sa - 1.0, 0.0))


class T4Sampler:
    """Fast Student-t(4) sampler: inverse CDF through a 2^16-entry table with
    linear interpolation; the two extreme bins use the exact closed form.
    Output is scaled to unit variance (t4 has variance 2)."""

    NB = 1 << 16

    def __init__(self):
        nb = self.NB
        p = np.arange(nb + 1, dtype=np.float64) / nb
        q = np.empty(nb + 1)
        half = nb // 2
        q[1:half + 1] = _t4_lower_quantile(p[1:half + 1])
        q[half:nb] = -q[half:0:-1]
        q[0] = q[1]
        q[nb] = q[nb - 1]  # bins 0 and nb-1 are recomputed exactly
        q /= math.sqrt(2.0)
        self.T = q.astype(np.float32)
        self.D = np.append(np.diff(q), 0.0).astype(np.float32)
        self.u = np.empty(CHUNK, np.float32)
        self.idx = np.empty(CHUNK, np.intp)
        self.tmp = np.empty(CHUNK, np.float32)

    def fill(self, rng, out):
        """Fill the float32 vector `out` with unit-variance t4 samples."""
        for s in range(0, out.shape[0], CHUNK):
            self._fill(rng, out[s:s + CHUNK])
        return out

    def _fill(self, rng, out):
        n = out.shape[0]
        u, idx, tmp = self.u[:n], self.idx[:n], self.tmp[:n]
        rng.random(out=u, dtype=np.float32)  # [0, 1), 24-bit resolution
        np.multiply(u, np.float32(self.NB), out=out)
        np.copyto(idx, out, casting="unsafe")  # floor (values >= 0)
        np.subtract(out, idx, out=out, casting="unsafe")  # fractional part
        self.D.take(idx, out=tmp)
        np.multiply(tmp, out, out=tmp)
        self.T.take(idx, out=out)
        np.add(out, tmp, out=out)
        lo_thr = np.float32(1.0 / self.NB)
        hi_thr = np.float32(1.0 - 1.0 / self.NB)
        lo = np.flatnonzero(u < lo_thr)
        if lo.size:
            out[lo] = (_t4_lower_quantile(u[lo].astype(np.float64) + 2.0 ** -26)
                       / math.sqrt(2.0)).astype(np.float32)
        hi = np.flatnonzero(u >= hi_thr)
        if hi.size:
            out[hi] = (-_t4_lower_quantile(1.0 - u[hi].astype(np.float64))
                       / math.sqrt(2.0)).astype(np.float32)
        return out


def tensor_rng(seed, name):
    """An independent, order-independent random stream per (seed, tensor name)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


# ---------------------------------------------------------------------------
# Model description
# ---------------------------------------------------------------------------

class Model:
    def __init__(self, a):
        self.a = a
        self.arch = ARCH[a.arch]
        self.H, self.I, self.L = a.hidden, a.intermediate, a.layers
        self.NH, self.NKV, self.D = a.heads, a.kv_heads, a.head_dim
        self.V = a.vocab
        self.seed = a.seed
        rng = tensor_rng(a.seed, "__model__")
        H = self.H
        n_out = 3 if H < 128 else 4
        n_out = min(n_out, max(H // 16, 1))
        perm = rng.permutation(H)
        # Channels with large norm gains (the same in every layer, as in real LLMs).
        self.outlier_ch = np.sort(perm[:n_out])
        # Embedding dimensions with large magnitude.
        n_emb = min(3, max(H // 32, 1))
        self.emb_big = np.sort(perm[n_out:n_out + n_emb])
        self.emb_big_mult = rng.uniform(4.0, 8.0, size=n_emb)
        self.emb_col = np.ones(H)
        self.emb_col[self.emb_big] = self.emb_big_mult
        self.emb_std = 1.0 / math.sqrt(np.sum(self.emb_col ** 2))  # rows of norm ~1
        self._norm_cache = {}

    # Norm weights are tiny and are needed both when written and when scaling the
    # linear layers that read them, so they are computed on demand and memoized.
    def norm_weight(self, name):
        w = self._norm_cache.get(name)
        if w is None:
            rng = tensor_rng(self.seed, name)
            w = np.exp(rng.normal(0.0, 0.1, size=self.H))
            if name == "model.norm.weight":
                if self.a.tied:
                    # lm_head == embedding (row RMS ~ 1/sqrt(H)): the final norm's
                    # gains set the logit scale to std ~ sqrt(ln V).
                    # The final norm damps the embedding's large dims (else those few
                    # dims would dominate every logit).
                    col, std = self.emb_col, self.emb_std
                    w /= col
                    w *= self.logit_std() / (std * math.sqrt(np.sum((w * col) ** 2)))
            else:
                w[self.outlier_ch] *= rng.uniform(10.0, 30.0, size=self.outlier_ch.size)
            self._norm_cache[name] = w
        return w

    def input_col_damping(self, g, col):
        """Extra column factor for the outlier input channels of a linear layer that
        reads a norm with gains g: the outlier channels keep their 10-30x larger
        activations, but together they contribute at most 1/3 of the pre-activation
        variance (else narrow models would only see those few channels). Their weight
        columns end up smaller than the rest, so their quantization error, multiplied
        by large activations, matters most -- the salient-channel effect."""
        mask = np.zeros(self.H, dtype=bool)
        mask[self.outlier_ch] = True
        e = (g * col) ** 2
        so, sn = e[mask].sum(), e[~mask].sum()
        d = np.ones(self.H)
        if so > 0.5 * sn:
            d[mask] = math.sqrt(0.5 * sn / so)
        return d

    def specs(self):
        """(name, shape) in HF state_dict order."""
        H, I, NH, NKV, D, V = self.H, self.I, self.NH, self.NKV, self.D, self.V
        out = [("model.embed_tokens.weight", (V, H))]
        for l in range(self.L):
            p = f"model.layers.{l}."
            out.append((p + "self_attn.q_proj.weight", (NH * D, H)))
            if self.arch["bias"]:
                out.append((p + "self_attn.q_proj.bias", (NH * D,)))
            out.append((p + "self_attn.k_proj.weight", (NKV * D, H)))
            if self.arch["bias"]:
                out.append((p + "self_attn.k_proj.bias", (NKV * D,)))
            out.append((p + "self_attn.v_proj.weight", (NKV * D, H)))
            if self.arch["bias"]:
                out.append((p + "self_attn.v_proj.bias", (NKV * D,)))
            out.append((p + "self_attn.o_proj.weight", (H, NH * D)))
            out.append((p + "mlp.gate_proj.weight", (I, H)))
            out.append((p + "mlp.up_proj.weight", (I, H)))
            out.append((p + "mlp.down_proj.weight", (H, I)))
            out.append((p + "input_layernorm.weight", (H,)))
            out.append((p + "post_attention_layernorm.weight", (H,)))
        out.append(("model.norm.weight", (H,)))
        if not self.a.tied:
            out.append(("lm_head.weight", (V, H)))
        return out

    def logit_std(self):
        return math.sqrt(math.log(self.V))

    def linear_plan(self, name, shape):
        """std, row scale, column scale for a 2-D tensor."""
        rng = tensor_rng(self.seed, name + "#scales")
        out_f, in_f = shape
        row = np.exp(rng.normal(0.0, 0.2, size=out_f))
        row /= np.sqrt(np.mean(row ** 2))
        col = np.exp(rng.normal(0.0, 0.2, size=in_f))
        col /= np.sqrt(np.mean(col ** 2))
        if name == "model.embed_tokens.weight" or name == "lm_head.weight":
            row = np.ones(out_f)  # per-token scale stays uniform
            col = np.ones(in_f)
        parts = name.split(".")
        if name == "model.embed_tokens.weight":
            col, std = self.emb_col.copy(), self.emb_std
        elif name == "lm_head.weight":
            g = self.norm_weight("model.norm.weight")
            std = self.logit_std() / math.sqrt(np.sum(g ** 2))
        else:
            l = int(parts[2])
            proj = parts[4]
            if proj in ("q_proj", "k_proj", "v_proj"):
                g = self.norm_weight(f"model.layers.{l}.input_layernorm.weight")
                col *= self.input_col_damping(g, col)
                std = 1.0 / math.sqrt(np.sum((g * col) ** 2))
            elif proj in ("gate_proj", "up_proj"):
                g = self.norm_weight(f"model.layers.{l}.post_attention_layernorm.weight")
                col *= self.input_col_damping(g, col)
                std = 1.0 / math.sqrt(np.sum((g * col) ** 2))
            else:  # o_proj, down_proj: write into the residual stream
                std = 1.0 / math.sqrt(in_f * 2.0 * self.L)
        return std, row, col

    def generate(self, name, shape, sampler):
        """Yield float32 chunks (flattened, row-major) of tensor `name`."""
        if len(shape) == 1:
            if name.endswith("norm.weight"):
                yield self.norm_weight(name).astype(np.float32)
                return
            # q/k/v bias (qwen2)
            rng = tensor_rng(self.seed, name)
            buf = np.empty(shape[0], np.float32)
            sampler.fill(rng, buf)
            buf *= np.float32(0.3 if ".k_proj." in name else 0.1)
            yield buf
            return
        out_f, in_f = shape
        std, row, col = self.linear_plan(name, shape)
        rng = tensor_rng(self.seed, name)
        colf = (col * std).astype(np.float32)
        rowf = row.astype(np.float32)
        rows_per = max(1, CHUNK // in_f)
        buf = np.empty(rows_per * in_f, np.float32)
        for r0 in range(0, out_f, rows_per):
            r1 = min(out_f, r0 + rows_per)
            n = (r1 - r0) * in_f
            b = sampler.fill(rng, buf[:n])
            m = b.reshape(r1 - r0, in_f)
            np.multiply(m, colf, out=m)
            np.multiply(m, rowf[r0:r1, None], out=m)
            yield b


# ---------------------------------------------------------------------------
# Encoding and safetensors writing
# ---------------------------------------------------------------------------

class Encoder:
    def __init__(self, dtype):
        self.dtype = dtype
        self.u32 = np.empty(CHUNK, np.uint32)
        self.u16 = np.empty(CHUNK, np.uint16)

    def bytes(self, x):
        """float32 vector -> little-endian bytes in the target dtype."""
        if self.dtype == "f32":
            return x.astype("<f4", copy=False).tobytes()
        if self.dtype == "f16":
            return x.astype("<f2").tobytes()
        # bf16: round to nearest even on the float32 bit pattern (values are finite).
        n = x.shape[0]
        if n > self.u32.shape[0]:
            self.u32 = np.empty(n, np.uint32)
            self.u16 = np.empty(n, np.uint16)
        v = x.view(np.uint32)
        t = self.u32[:n]
        np.right_shift(v, np.uint32(16), out=t)
        np.bitwise_and(t, np.uint32(1), out=t)
        np.add(t, np.uint32(0x7FFF), out=t)
        np.add(t, v, out=t)
        np.right_shift(t, np.uint32(16), out=t)
        h = self.u16[:n]
        np.copyto(h, t, casting="unsafe")
        return h.astype("<u2", copy=False).tobytes()


def safetensors_header(entries, dtype):
    """entries: [(name, shape)] in data order. Returns (header bytes, total data bytes)."""
    hdr = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape in entries:
        nbytes = int(np.prod(shape)) * ITEMSIZE[dtype]
        hdr[name] = {"dtype": ST_DTYPE[dtype], "shape": list(shape),
                     "data_offsets": [off, off + nbytes]}
        off += nbytes
    js = json.dumps(hdr, separators=(",", ":")).encode()
    js += b" " * ((-len(js)) % 8)  # pad to 8-byte alignment like the reference writer
    return struct.pack("<Q", len(js)) + js, off


def write_safetensors(path, entries, model, dtype, sampler, encoder):
    # Like safetensors' own writer for single-dtype files: data sorted by name.
    entries = sorted(entries, key=lambda e: e[0])
    header, total = safetensors_header(entries, dtype)
    written = 0
    with open(path, "wb") as f:
        f.write(header)
        for name, shape in entries:
            for chunk in model.generate(name, shape, sampler):
                data = encoder.bytes(chunk)
                f.write(data)
                written += len(data)
    assert written == total, (path, written, total)
    return total


def split_shards(entries, n, itemsize):
    """Split the state_dict-ordered entries into n contiguous non-empty shards,
    minimizing the largest shard (HF splits sequentially in state_dict order)."""
    if n > len(entries):
        raise SystemExit(f"--shards {n} exceeds the number of tensors ({len(entries)})")
    sizes = [int(np.prod(s)) * itemsize for _, s in entries]

    def pack(cap):
        groups, cur, cur_sz = [], [], 0
        for i, sz in enumerate(sizes):
            remaining_after = len(sizes) - i  # tensors from i on
            need_new = cur and (cur_sz + sz > cap or
                                remaining_after == n - len(groups) - 1)
            if need_new:
                groups.append(cur)
                cur, cur_sz = [], 0
            cur.append(i)
            cur_sz += sz
        groups.append(cur)
        return groups

    lo, hi = max(sizes), sum(sizes)
    while lo < hi:
        mid = (lo + hi) // 2
        if len(pack(mid)) <= n:
            hi = mid
        else:
            lo = mid + 1
    groups = pack(lo)
    # pack() never produces more than n groups at the optimum; force exactly n.
    while len(groups) < n:
        k = max((g for g in groups if len(g) > 1), key=lambda g: sum(sizes[i] for i in g))
        j = groups.index(k)
        groups[j:j + 1] = [k[:len(k) // 2], k[len(k) // 2:]]
    return [[entries[i] for i in g] for g in groups]


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

# Base characters roughly in English frequency order (sentencepiece puts the
# single characters after the merged pieces, as stories260k does).
BASE_CHARS = ("▁etaonihsrdlucmwfgypbvk.,TSIAHMBWLOD\"'!?-JCxjNEPRKGqFYzVUZQX"
              "0123456789:;()/$&%*+éñ")
# Letter frequencies used to grow the merges (word-like pieces).
LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
LETTER_W = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8,
                     2.4, 2.4, 2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07])


def build_vocab(V, seed):
    room = V - 259
    # Single characters (at most 2/3 of the room, so small vocabularies still get
    # merges), then merges fill the rest.
    chars = list(dict.fromkeys(BASE_CHARS))[:room - room // 3]
    # Keep a useful minimum of single characters, then merges fill the rest.
    n_merges = room - len(chars)
    rng = tensor_rng(seed, "__tokenizer__")
    present = set(chars)
    merged = []  # list of (a, b)
    # Merges are word-like: built from '▁' and letters only (digits and
    # punctuation stay single characters, as in sentencepiece vocabularies).
    letters = [c for c in LETTERS if c in present]
    if n_merges and not letters:
        raise SystemExit(f"--vocab {V} leaves no letters to merge")
    upper = [c.upper() for c in letters if c.upper() in present]
    if letters:
        lw = LETTER_W[[LETTERS.index(c) for c in letters]]
        lcdf = np.cumsum(lw / lw.sum())
        lcdf[-1] = 1.0

    def letter():
        return letters[min(int(np.searchsorted(lcdf, rng.random(), side="right")),
                           len(letters) - 1)]

    lefts, rights = [], []  # merged pieces usable on each side
    attempts = 0
    while len(merged) < n_merges:
        attempts += 1
        if attempts > 1000 * (n_merges + 10):
            raise SystemExit("could not build enough merges")
        r = rng.random()
        if r < 0.3 and "▁" in present:
            a = "▁"
        elif r < 0.55 or not lefts:
            a = letter()
        else:
            a = lefts[int(rng.random() ** 1.5 * len(lefts))]
        r = rng.random()
        if a == "▁" and upper and r < 0.15:
            b = upper[min(int(rng.random() ** 2 * len(upper)), len(upper) - 1)]
        elif r < 0.75 or not rights:
            b = letter()
        else:
            b = rights[int(rng.random() ** 1.5 * len(rights))]
        s = a + b
        if s in present or len(s) > 16:
            continue
        present.add(s)
        merged.append((a, b))
        lefts.append(s)
        if not s.startswith("▁"):
            rights.append(s)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for i in range(256):
        vocab[f"<0x{i:02X}>"] = 3 + i
    for a, b in merged:
        vocab[a + b] = len(vocab)
    for c in chars:
        vocab[c] = len(vocab)
    assert len(vocab) == V, (len(vocab), V)
    merges = [f"{a} {b}" for a, b in merged]
    return vocab, merges


def tokenizer_json(V, seed):
    vocab, merges = build_vocab(V, seed)
    special = lambda i, c: {"id": i, "content": c, "single_word": False, "lstrip": False,
                            "rstrip": False, "normalized": False, "special": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


# ---------------------------------------------------------------------------
# Config files
# ---------------------------------------------------------------------------

def config_json(a):
    ar = ARCH[a.arch]
    cfg = {
        "architectures": [ar["cls"]],
        "model_type": ar["model_type"],
        "hidden_size": a.hidden,
        "intermediate_size": a.intermediate,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads,
        "head_dim": a.head_dim,
        "vocab_size": a.vocab,
        "max_position_embeddings": a.max_pos,
        "rms_norm_eps": ar["eps"],
        "rope_theta": ar["rope_theta"],
        "rope_scaling": None,
        "hidden_act": "silu",
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "tie_word_embeddings": bool(a.tied),
        "torch_dtype": TORCH_DTYPE[a.dtype],
        "use_cache": True,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    if a.arch == "llama":
        cfg.update(attention_bias=False, mlp_bias=False, pretraining_tp=1)
    elif a.arch == "mistral":
        cfg["sliding_window"] = a.sliding_window
    else:  # qwen2: q/k/v biases are implied by the architecture
        cfg.update(use_sliding_window=False, sliding_window=a.max_pos,
                   max_window_layers=a.layers)
    return cfg


def write_json(path, obj, ensure_ascii=True):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=ensure_ascii)
        f.write("\n")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--preset", choices=sorted(PRESETS))
    p.add_argument("--arch", choices=sorted(ARCH), default="llama")
    p.add_argument("--hidden", type=int)
    p.add_argument("--intermediate", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--kv-heads", type=int)
    p.add_argument("--head-dim", type=int, help="default hidden/heads")
    p.add_argument("--vocab", type=int)
    p.add_argument("--max-pos", type=int)
    p.add_argument("--seed", type=int, default=0)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tied", dest="tied", action="store_true", default=None)
    g.add_argument("--no-tied", dest="tied", action="store_false")
    p.add_argument("--dtype", choices=sorted(ST_DTYPE))
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--sliding-window", type=int, default=None,
                   help="mistral only: attention window (default none)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    base = dict(DEFAULTS)
    if a.preset:
        base.update(PRESETS[a.preset])
    for k, v in base.items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    if a.head_dim is None:
        if a.hidden % a.heads:
            p.error("--hidden must be divisible by --heads (or pass --head-dim)")
        a.head_dim = a.hidden // a.heads
    if a.heads % a.kv_heads:
        p.error("--heads must be a multiple of --kv-heads")
    if a.head_dim % 2:
        p.error("head_dim must be even (rotary embedding)")
    if a.shards < 1:
        p.error("--shards must be >= 1")
    if a.vocab < 260:
        p.error(f"--vocab {a.vocab} is too small: need >= 260 (3 specials, 256 bytes, '\u2581')")
    if a.sliding_window is not None and a.arch != "mistral":
        p.error("--sliding-window only applies to --arch mistral")
    for k in ("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab", "max_pos"):
        if getattr(a, k) < 1:
            p.error(f"--{k.replace('_', '-')} must be positive")
    return a


def main(argv=None):
    a = parse_args(argv)
    t0 = time.time()
    os.makedirs(a.out, exist_ok=True)
    model = Model(a)
    specs = model.specs()
    sampler, encoder = T4Sampler(), Encoder(a.dtype)

    groups = split_shards(specs, a.shards, ITEMSIZE[a.dtype]) if a.shards > 1 else None
    tok = tokenizer_json(a.vocab, a.seed)
    for stale in os.listdir(a.out):  # do not leave a previous layout behind
        if stale.startswith("model") and (stale.endswith(".safetensors") or
                                          stale.endswith(".index.json")):
            os.remove(os.path.join(a.out, stale))
    if a.shards == 1:
        total = write_safetensors(os.path.join(a.out, "model.safetensors"), specs, model,
                                  a.dtype, sampler, encoder)
    else:
        weight_map, total = {}, 0
        for i, grp in enumerate(groups):
            fname = f"model-{i + 1:05d}-of-{a.shards:05d}.safetensors"
            total += write_safetensors(os.path.join(a.out, fname), grp, model, a.dtype,
                                       sampler, encoder)
            for name, _ in grp:
                weight_map[name] = fname
        write_json(os.path.join(a.out, "model.safetensors.index.json"),
                   {"metadata": {"total_size": total},
                    "weight_map": dict(sorted(weight_map.items()))})

    write_json(os.path.join(a.out, "config.json"), config_json(a))
    write_json(os.path.join(a.out, "generation_config.json"),
               {"bos_token_id": 1, "eos_token_id": 2, "do_sample": False,
                "max_length": a.max_pos})
    write_json(os.path.join(a.out, "tokenizer_config.json"), {
        "tokenizer_class": "LlamaTokenizerFast", "add_bos_token": True,
        "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<unk>", "pad_token": None, "legacy": True,
        "clean_up_tokenization_spaces": False, "model_max_length": a.max_pos})
    write_json(os.path.join(a.out, "special_tokens_map.json"),
               {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})
    write_json(os.path.join(a.out, "tokenizer.json"), tok, ensure_ascii=False)
    if not a.quiet:
        n_params = sum(int(np.prod(s)) for _, s in specs)
        print(f"wrote {a.out}: {a.arch}, {n_params:,} parameters, {a.dtype}, "
              f"{total / 2**20:.1f} MiB of tensors in {a.shards} file(s), "
              f"{time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
