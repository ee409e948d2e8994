#!/usr/bin/env python3
"""Checks for the NumPy reference (llama_ref.py) and the synthetic model writer.

1. stories260k golden logits (golden/*.safetensors) match to <= 1e-4 max abs,
   greedy decoding from BOS reproduces golden/greedy_from_bos.json, the KV-cache
   path equals the full forward, and tokenizer.json reproduces the golden prompts.
   Needs $LOWBIT_SHARED_MODELS/stories260k (default /work/shared/models); skipped
   with a message when absent.
2. examples/make_synthetic_model.py: a tiny qwen2 model, sharded, bf16, runs in
   the reference with finite, non-degenerate logits; bf16/f16 files are the
   round-to-nearest-even images of the f32 file; the tokenizer loads with the
   configured vocab size; the same arguments give byte-identical files.

Plain script: prints what it checked, exits non-zero on failure.
"""

import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from llama_ref import LlamaRef, load_checkpoint, decode, read_safetensors  # noqa: E402

GEN = os.path.join(ROOT, "examples", "make_synthetic_model.py")
TOL = 1e-4
failures = []


def check(ok, what):
    print(("PASS  " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)
    return ok


def have_tokenizers():
    try:
        import tokenizers  # noqa: F401
        return True
    except ImportError:
        return False


def entropy(logits):
    lp = logits - logits.max(-1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(-1, keepdims=True))
    return -(np.exp(lp) * lp).sum(-1)


def test_stories(shared):
    d = os.path.join(shared, "stories260k")
    if not os.path.isfile(os.path.join(d, "config.json")):
        print(f"SKIP  stories260k golden checks: {d} not found "
              f"(set LOWBIT_SHARED_MODELS to the shared models directory)")
        return
    m = LlamaRef(d)
    goldens = sorted(glob.glob(os.path.join(d, "golden", "*.safetensors")))
    check(len(goldens) >= 3, f"found {len(goldens)} golden logit files")
    tok = None
    if have_tokenizers():
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    for f in goldens:
        g, meta = read_safetensors(f)
        toks = np.asarray(g["tokens"]).astype(np.int64)
        ref = np.asarray(g["logits"], dtype=np.float64)
        lg = m.forward(toks)
        err = float(np.abs(lg - ref).max())
        check(lg.shape == ref.shape and err <= TOL,
              f"{os.path.basename(f)}: T={toks.size} logits max abs diff {err:.3g} (<= {TOL})")
        text = meta.get("text")
        if tok is not None and text and not text.startswith("eval_tokens"):
            ids = tok.encode(text).ids
            check(ids == toks.tolist(),
                  f"{os.path.basename(f)}: tokenizer.json encodes the prompt text to the golden ids")
    # KV-cache path == full forward (positions continue across calls).
    g, _ = read_safetensors(os.path.join(d, "golden", "golden_short_prompt.safetensors"))
    toks = np.asarray(g["tokens"]).astype(np.int64)
    full = m.forward(toks)
    c = m.new_cache()
    inc = np.concatenate([m.forward(toks[:5], c)] + [m.forward([t], c) for t in toks[5:]])
    check(np.abs(inc - full).max() < 1e-9, "KV-cache incremental forward equals full forward")

    gp = os.path.join(d, "golden", "greedy_from_bos.json")
    if os.path.exists(gp):
        with open(gp) as fh:
            gr = json.load(fh)
        start = gr.get("start", [1])
        n_new = len(gr["tokens"]) - len(start)
        ids = m.generate(start, n_new)
        same = ids == gr["tokens"]
        first_bad = next((i for i, (a, b) in enumerate(zip(ids, gr["tokens"])) if a != b), None)
        check(same, f"greedy from BOS: {n_new} new tokens reproduce greedy_from_bos.json"
                    + ("" if same else f" (first mismatch at index {first_bad})"))
        if tok is not None and "text" in gr:
            check(tok.decode(ids) == gr["text"], "greedy text decodes to the golden text")


def sha_dir(d):
    out = {}
    for fn in sorted(os.listdir(d)):
        with open(os.path.join(d, fn), "rb") as f:
            out[fn] = hashlib.sha256(f.read()).hexdigest()
    return out


def gen(out, *args):
    subprocess.run([sys.executable, GEN, "--out", out, "--quiet", *args], check=True)


def bf16_rne_reference(x):
    """Independent bf16 rounding: pick the nearer of the two bf16 neighbours (exact in
    float64), ties to even mantissa."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    lo = (bits & 0xFFFF0000).astype(np.uint32)
    hi = (lo.astype(np.uint64) + 0x10000).astype(np.uint32)
    flo = lo.view(np.float32).astype(np.float64)
    fhi = hi.view(np.float32).astype(np.float64)
    xv = x.astype(np.float64)
    dlo, dhi = np.abs(xv - flo), np.abs(fhi - xv)
    even_lo = ((lo >> 16) & 1) == 0
    pick_lo = (dlo < dhi) | ((dlo == dhi) & even_lo)
    return np.where(pick_lo, flo, fhi)


def test_synthetic():
    if not os.path.exists(GEN):
        check(False, f"{GEN} exists")
        return
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        args = ["--preset", "tiny", "--arch", "qwen2", "--shards", "3", "--dtype", "bf16",
                "--seed", "7"]
        gen(a, *args)
        gen(b, *args)
        ha, hb = sha_dir(a), sha_dir(b)
        check(ha == hb and len(ha) >= 8,
              f"generator deterministic: {len(ha)} files byte-identical across two runs "
              f"(qwen2, 3 shards, bf16)")
        shards = sorted(f for f in ha if f.startswith("model-") and f.endswith(".safetensors"))
        check(shards == [f"model-{i:05d}-of-00003.safetensors" for i in (1, 2, 3)],
              f"shard files named like HF: {shards}")
        with open(os.path.join(a, "model.safetensors.index.json")) as f:
            idx = json.load(f)
        t = load_checkpoint(a)
        total = sum(raw.nbytes for raw, _ in t.values())
        check(set(idx["weight_map"]) == set(t) and idx["metadata"]["total_size"] == total,
              f"index.json weight_map covers all {len(t)} tensors, total_size {total}")
        with open(os.path.join(a, "config.json")) as f:
            cfg = json.load(f)
        check(cfg["architectures"] == ["Qwen2ForCausalLM"] and
              "model.layers.0.self_attn.q_proj.bias" in t and
              all(dt == "BF16" for _, dt in t.values()),
              "qwen2 config, q/k/v biases present, all tensors BF16")

        m = LlamaRef(a)
        rng = np.random.default_rng(0)
        toks = [1] + rng.integers(3, m.V, 47).tolist()
        lg = m.forward(toks)
        ent = entropy(lg)
        check(bool(np.isfinite(lg).all()), f"reference on synthetic qwen2/bf16/sharded: "
              f"logits {lg.shape} finite")
        check(0.1 * np.log(m.V) < ent.mean() < 0.95 * np.log(m.V) and
              len(set(lg.argmax(-1).tolist())) > 4,
              f"synthetic logits not degenerate: mean entropy {ent.mean():.2f} nats "
              f"(ln V = {np.log(m.V):.2f}), {len(set(lg.argmax(-1).tolist()))} distinct argmax")

        # Same model in f32 and f16: bf16/f16 files are RNE images of the f32 one.
        c, h = os.path.join(tmp, "c"), os.path.join(tmp, "h")
        gen(c, *[x if x != "bf16" else "f32" for x in args])
        gen(h, *[x if x != "bf16" else "f16" for x in args])
        tf, th = load_checkpoint(c), load_checkpoint(h)
        ok_b = ok_h = True
        for name, (raw, dt) in tf.items():
            x = np.asarray(raw, dtype=np.float32)
            ok_b &= np.array_equal(decode(*t[name]).astype(np.float64), bf16_rne_reference(x))
            ok_h &= np.array_equal(np.asarray(th[name][0]), x.astype(np.float16))
        check(ok_b, "bf16 tensors == round-to-nearest-even of the f32 tensors")
        # Exact ties (random weights almost never hit them) go to the even mantissa.
        sys.path.insert(0, os.path.dirname(GEN))
        import make_synthetic_model as msm
        ties = np.array([1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, -(1 + 2.0 ** -8), 3.0e-39,
                         1 + 2.0 ** -8 + 2.0 ** -20], dtype=np.float32)
        enc = np.frombuffer(msm.Encoder("bf16").bytes(ties.copy()), dtype="<u2")
        dec = decode(enc, "BF16").astype(np.float64)
        check(np.array_equal(dec, bf16_rne_reference(ties)) and dec[0] == 1.0 and
              dec[1] == 1 + 2.0 ** -6, "bf16 encoder rounds exact ties to even")
        check(ok_h, "f16 tensors == float16 rounding of the f32 tensors")

        # Linear weights are heavy-tailed; norms have outlier channels.
        w = np.asarray(tf["model.layers.0.mlp.up_proj.weight"][0], dtype=np.float64)
        z = (w - w.mean()) / w.std()
        kurt = float((z ** 4).mean())
        g = np.asarray(tf["model.layers.0.input_layernorm.weight"][0])
        n_big = int((g > 8 * np.median(g)).sum())
        check(kurt > 3.5 and 3 <= n_big <= 4,
              f"weights heavy-tailed (kurtosis {kurt:.1f} > 3) and input_layernorm has "
              f"{n_big} outlier channels")

        if have_tokenizers():
            from tokenizers import Tokenizer
            tk = Tokenizer.from_file(os.path.join(a, "tokenizer.json"))
            s = 'Tim said, "I have 3 red balls!" \U0001F600 Caf\u00e9.\nThe end.'
            enc = tk.encode(s)
            check(tk.get_vocab_size() == cfg["vocab_size"] and enc.ids[0] == 1 and
                  tk.decode(enc.ids) == s and tk.token_to_id("<0x0A>") == 13,
                  f"synthetic tokenizer.json: vocab {tk.get_vocab_size()} == config, "
                  f"BOS added, byte-fallback round trip")

        # Mistral with a sliding window shorter than the sequence, untied, f16.
        mm = os.path.join(tmp, "m")
        gen(mm, "--arch", "mistral", "--hidden", "48", "--intermediate", "100", "--layers",
            "2", "--heads", "6", "--kv-heads", "2", "--head-dim", "16", "--vocab", "300",
            "--dtype", "f16", "--sliding-window", "8", "--no-tied", "--seed", "3")
        m2 = LlamaRef(mm)
        lg2 = m2.forward([1] + rng.integers(3, 300, 23).tolist())
        check(bool(np.isfinite(lg2).all()) and m2.windows == [8, 8] and m2.D == 16,
              "reference on synthetic mistral (sliding window 8 < T, head_dim 16 != H/NH, f16)")


def main():
    shared = os.environ.get("LOWBIT_SHARED_MODELS", "/work/shared/models")
    test_stories(shared)
    test_synthetic()
    if failures:
        print(f"{len(failures)} check(s) FAILED")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
