#!/usr/bin/env python3
"""Decode speed of x86 bundles, end to end through lowbit-run.

For stories260k (GPTQ w4 g32, when ../shared/models is present) and a
synthetic TinyLlama-shaped 1.1B model (RTN w4 g128; GPTQ gives the same
bundle layout and kernels, only slower to compile), compiles a 4-bit bundle
and an fp32 bundle (--method none) of the same checkpoint, then runs
`lowbit-run --json` with 1 and 2 threads and prints TTFT, TPOT, tokens/s,
the weight bytes read per decoded token, the effective GB/s, and the speedup
of the 4-bit bundle over the fp32 bundle measured in the same run. Prints a
table and, at the end, one JSON object.

usage: bench/decode_bench.py [--build build] [--work /tmp/lowbit-decode-bench]
           [--tokens 64] [--repeats 3] [--skip-1b]
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def bundle_tensors(path):
    """(name, dtype code, nbytes) of every tensor of a bundle (format v2)."""
    with open(path, "rb") as f:
        head = f.read(64)
        assert head[:8] == b"\x89LOWBIT\n", path
        assert struct.unpack_from("<I", head, 8)[0] == 2, path
        tables_size, = struct.unpack_from("<Q", head, 24)
        S, T, C, D, SB = struct.unpack_from("<IIIII", head, 32)
        tables = f.read(tables_size)
    strings = tables[32 * S + 40 * T + 40 * C + 8 * D:]
    dims = tables[32 * S + 40 * T + 40 * C:32 * S + 40 * T + 40 * C + 8 * D]
    out = []
    for i in range(T):
        no, nl, dt, rank, first, _, off = struct.unpack_from(
            "<IIIIIIQ", tables, 32 * S + 40 * i)
        n = 1
        for r in range(rank):
            n *= struct.unpack_from("<q", dims, 8 * (first + r))[0]
        size = {0: 1, 1: 4, 2: 2, 3: 2, 4: 8, 5: 8, 6: 4, 7: 2, 8: 1, 9: 1}[dt]
        out.append((strings[no:no + nl].decode(), dt, n * size))
    return out


def bytes_per_token(path):
    """Weight bytes one decode step reads: every tensor but the embedding
    table (of which it reads one row), unless that table is also the
    (float, tied) lm_head."""
    tensors = bundle_tensors(path)
    total = sum(b for n, _, b in tensors
                if not ("embed_tokens" in n and "lm_head" not in n))
    # A tied lm_head reads the embedding table.
    if not any("lm_head" in n for n, _, _ in tensors):
        total += sum(b for n, _, b in tensors if "embed_tokens" in n)
    return total


def decode(bin_dir, bundle, prompt, n, threads, repeats):
    results = []
    for _ in range(repeats):
        out = subprocess.run(
            [os.path.join(bin_dir, "lowbit-run"), bundle, "--prompt", prompt,
             "-n", str(n), "--threads", str(threads), "--json"],
            check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out))
    best = max(results, key=lambda r: r["tok_s"])
    return {
        "ttft_ms": statistics.median(r["ttft_ms"] for r in results),
        "tpot_ms": statistics.median(r["tpot_ms"] for r in results),
        "tok_s": statistics.median(r["tok_s"] for r in results),
        "tok_s_best": best["tok_s"],
        "generated": best["generated_tokens"],
        "isa": best["isa"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default="/tmp/lowbit-decode-bench")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-1b", action="store_true")
    args = ap.parse_args()
    bin_dir = os.path.join(args.build, "bin")
    os.makedirs(args.work, exist_ok=True)
    compile_ = os.path.join(bin_dir, "lowbit-compile")

    models = []
    shared = os.environ.get("LOWBIT_SHARED_MODELS",
                            os.path.join(os.path.dirname(ROOT), "shared", "models"))
    stories = os.path.join(shared, "stories260k")
    if os.path.isdir(stories):
        models.append(("stories260k", stories,
                       ["--method", "gptq", "--bits", "4", "--group-size", "32",
                        "--calib", os.path.join(stories, "data", "calib_tokens.bin")],
                       "Once upon a time"))
    else:
        print(f"stories260k skipped: {stories} not found", file=sys.stderr)
    if not args.skip_1b:
        syn = os.path.join(args.work, "syn1b")
        if not os.path.exists(os.path.join(syn, "config.json")):
            run([sys.executable, os.path.join(ROOT, "examples", "make_synthetic_model.py"),
                 "--out", syn, "--preset", "1b", "--quiet"])
        models.append(("synthetic-1.1b", syn,
                       ["--method", "rtn", "--bits", "4", "--group-size", "128"],
                       "Once upon a time"))

    rows = []
    for name, path, qargs, prompt in models:
        bundles = {}
        # w4 and w4a8 keep the output projection float (8-bit is
        # lowbit-compile's default for --method rtn; w4a8h8 spells it out).
        head0 = ["--lm-head-bits", "0"]
        for kind, cargs in (("w4", qargs + head0),
                            ("w4a8", qargs + head0 + ["--act-bits", "8"]),
                            ("w4a8h8", qargs + ["--act-bits", "8", "--lm-head-bits", "8"]),
                            ("fp32", ["--method", "none"])):
            out = os.path.join(args.work, f"{name}-{kind}.lowbit")
            if not os.path.exists(out):
                run([compile_, path, *cargs, "-o", out], stderr=subprocess.DEVNULL)
            bundles[kind] = out
        for threads in (1, 2):
            # The fp32 baseline of a 1B model reads 4.4 GB per token: fewer
            # tokens keep the run short without changing the per-token time.
            r = {k: decode(bin_dir, b, prompt,
                           min(args.tokens, 16) if k == "fp32" else args.tokens,
                           threads, args.repeats)
                 for k, b in bundles.items()}
            for kind in ("w4", "w4a8", "w4a8h8", "fp32"):
                bpt = bytes_per_token(bundles[kind])
                rows.append({
                    "model": name, "bundle": kind, "threads": threads,
                    "bundle_mb": os.path.getsize(bundles[kind]) / 1e6,
                    "weight_mb_per_token": bpt / 1e6,
                    "eff_gb_s": bpt * r[kind]["tok_s"] / 1e9,
                    "speedup_vs_fp32": r[kind]["tok_s"] / r["fp32"]["tok_s"],
                    **r[kind]})

    hdr = f"{'model':<16}{'bundle':<7}{'thr':>4}{'MB':>9}{'MB/tok':>9}{'TTFT ms':>9}{'TPOT ms':>9}{'tok/s':>9}{'GB/s':>7}{'vs fp32':>9}  isa"
    print(hdr)
    for r in rows:
        print(f"{r['model']:<16}{r['bundle']:<7}{r['threads']:>4}{r['bundle_mb']:>9.1f}"
              f"{r['weight_mb_per_token']:>9.1f}{r['ttft_ms']:>9.2f}{r['tpot_ms']:>9.3f}"
              f"{r['tok_s']:>9.1f}{r['eff_gb_s']:>7.2f}{r['speedup_vs_fp32']:>8.2f}x  {r['isa']}")
    print(json.dumps({"decode": rows}))


if __name__ == "__main__":
    main()
