#!/usr/bin/env python3
"""Checks of bench/e2e_vs_llamacpp.py and bench/gguf_models.py (CTest).

  check_e2e_vs_llamacpp.py args BUILD_DIR
      --help and argument errors of the benchmark; the HF -> F16 GGUF ->
      dequantized HF round trip of a tiny synthetic checkpoint (q/k row
      permutation undone, values within f16 rounding, config kept). Needs
      numpy and gguf (exit 77, skipped, without them).
  check_e2e_vs_llamacpp.py smoke BUILD_DIR
      the benchmark's --smoke configuration end to end with an extra
      `--method none` lowbit variant, whose KL against the FP32 reference
      must be ~0 (the same dequantized weights in float); llama.cpp's KL
      against that reference must be small (it runs the GGUF: a wrong
      conversion or token feed would show). No timing is asserted. Needs
      llama_cpp (exit 77, skipped, without it).
"""

import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPT = os.path.join(HERE, "e2e_vs_llamacpp.py")


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def run(*args, **kw):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True,
                          text=True, **kw)


def check_args(build):
    try:
        import numpy as np
        import gguf  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e} (pip install numpy gguf)")
        sys.exit(77)
    r = run("--help")
    if r.returncode != 0:
        fail(f"--help exited {r.returncode}: {r.stderr}")
    for opt in ("--prefill", "--decode", "--threads", "--lowbit-variant",
                "--lowbit-model", "--json", "--smoke", "llama-cpp-python"):
        if opt not in r.stdout:
            fail(f"--help does not mention {opt}")
    r = run("--lowbit-variant", "novalue")
    if r.returncode != 2 or "expected NAME=ARGS" not in r.stderr:
        fail(f"a bad --lowbit-variant was not rejected: {r.returncode} "
             f"{r.stderr}")
    r = run("--models", "nosuchmodel")
    if r.returncode != 2 or "unknown model 'nosuchmodel'" not in r.stderr:
        fail(f"an unknown model was not rejected: {r.returncode} {r.stderr}")
    r = run("--prefill", "0")
    if r.returncode != 2:
        fail(f"--prefill 0 was not rejected: {r.returncode} {r.stderr}")

    sys.path.insert(0, HERE)
    import gguf_models as gm
    from safetensors.numpy import load_file
    with tempfile.TemporaryDirectory() as tmp:
        hf = os.path.join(tmp, "hf")
        subprocess.run([sys.executable,
                        os.path.join(ROOT, "examples", "make_synthetic_model.py"),
                        "--out", hf, "--hidden", "64", "--intermediate", "128",
                        "--layers", "2", "--heads", "4", "--kv-heads", "2",
                        "--vocab", "300", "--dtype", "f32", "--no-tied",
                        "--quiet"], check=True)
        g = os.path.join(tmp, "m.gguf")
        gm.hf_to_gguf(hf, g)
        r = gguf.GGUFReader(g)
        names = {t.name: t for t in r.tensors}
        if "output.weight" not in names or len(names) != 3 + 2 * 9:
            fail(f"unexpected GGUF tensors: {sorted(names)}")
        src = load_file(os.path.join(hf, "model.safetensors"))
        # The GGUF holds q/k with llama.cpp's row permutation: rows of a
        # head alternate between its two rotary halves.
        q = np.asarray(names["blk.0.attn_q.weight"].data, dtype=np.float32)
        hq = src["model.layers.0.self_attn.q_proj.weight"]
        hd = 64 // 4
        if not np.allclose(q[1], hq[hd // 2], rtol=1e-3, atol=1e-3):
            fail("GGUF attn_q row 1 is not HF q_proj row head_dim/2")
        back = os.path.join(tmp, "back")
        gm.gguf_to_hf(g, back)
        got = load_file(os.path.join(back, "model.safetensors"))
        if set(got) != set(src):
            fail(f"round trip changed the tensor set: {set(got) ^ set(src)}")
        for k, a in src.items():
            want = a.astype(np.float16).astype(np.float32) if a.ndim == 2 else a
            if got[k].dtype != np.float32 or not np.array_equal(got[k], want):
                fail(f"round trip changed {k}")
        with open(os.path.join(hf, "config.json")) as f:
            c0 = json.load(f)
        with open(os.path.join(back, "config.json")) as f:
            c1 = json.load(f)
        for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                  "num_attention_heads", "num_key_value_heads", "vocab_size",
                  "rms_norm_eps", "rope_theta", "tie_word_embeddings"):
            if c0[k] != c1[k]:
                fail(f"round trip changed config {k}: {c0[k]} -> {c1[k]}")
        bad = os.path.join(tmp, "bad.gguf")
        with open(bad, "wb") as f:
            f.write(b"GGUF\x03\x00\x00\x00")
        try:
            gm.gguf_to_hf(bad, os.path.join(tmp, "bad"))
            fail("a truncated GGUF was accepted")
        except (ValueError, OSError, IndexError, KeyError):
            pass
    print("args and conversions: ok")


def check_smoke(build):
    try:
        import llama_cpp  # noqa: F401
    except Exception as e:
        print(f"skipped: llama_cpp not importable ({type(e).__name__}: {e}); "
              "pip install llama-cpp-python (see bench/e2e_vs_llamacpp.py)")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        r = run("--smoke", "--build", build, "--cache",
                os.path.join(tmp, "cache"), "--json", out,
                "--lowbit-variant", "none=--method none",
                "--lowbit-variant", "w4=--method rtn --bits 4 --group-size 32")
        print(r.stdout[-3000:])
        if r.returncode != 0:
            fail(f"--smoke exited {r.returncode}:\n{r.stderr[-3000:]}")
        with open(out) as f:
            res = json.load(f)
    if len(res["models"]) != 1:
        fail("expected one model")
    rows = res["models"][0]["rows"]
    engines = {row["engine"] for row in rows}
    if engines != {"llama.cpp", "lowbit none", "lowbit w4"}:
        fail(f"engines {engines}")
    for row in rows:
        for k in ("prefill_tok_s", "decode_tok_s", "peak_rss_mb"):
            if not (row[k] > 0 and math.isfinite(row[k])):
                fail(f"{row['engine']} {k} = {row[k]}")
        if not (0 <= row["top1"] <= 1 and row["kl"] >= -1e-6):
            fail(f"{row['engine']} kl {row['kl']} top1 {row['top1']}")
    by = {row["engine"]: row for row in rows}
    if by["lowbit none"]["kl"] > 1e-5 or by["lowbit none"]["top1"] != 1.0:
        fail(f"lowbit --method none is not the FP32 reference: "
             f"KL {by['lowbit none']['kl']}")
    if by["llama.cpp"]["kl"] > 0.05:
        fail(f"llama.cpp's KL vs the FP32 reference is {by['llama.cpp']['kl']}"
             ": the GGUF and the reference disagree")
    print(f"smoke: ok (KL llama.cpp {by['llama.cpp']['kl']:.2e}, "
          f"lowbit w4 {by['lowbit w4']['kl']:.2e})")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("args", "smoke"):
        sys.exit("usage: check_e2e_vs_llamacpp.py args|smoke BUILD_DIR")
    (check_args if sys.argv[1] == "args" else check_smoke)(sys.argv[2])


if __name__ == "__main__":
    main()
