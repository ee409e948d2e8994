#!/usr/bin/env python3
"""A/B decode speed of two lowbit builds on the same checkpoint, same run.

Each build compiles its own bundle of MODEL with the same options (the two
builds may write different bundle format versions), then `lowbit-run --json`
runs both bundles alternately, --rounds times per thread count, so machine
load hits them alike. Prints medians of tok/s, TTFT and TPOT per build, the
ratio new/base, and one JSON line.

usage: bench/ab_decode.py --base BUILD_DIR --new BUILD_DIR MODEL
           [--compile-args "--method rtn --bits 4 --group-size 32"]
           [--tokens 64] [--rounds 7] [--threads 1,2] [--work DIR]
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("model")
    ap.add_argument("--compile-args",
                    default="--method rtn --bits 4 --group-size 32")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--prompt", default="Once upon a time")
    ap.add_argument("--work", default="/tmp/lowbit-ab-decode")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)

    bundles = {}
    for tag, build in (("base", args.base), ("new", args.new)):
        out = os.path.join(args.work, tag + ".lowbit")
        run([os.path.join(build, "bin", "lowbit-compile"), args.model] +
            shlex.split(args.compile_args) + ["-o", out],
            stdout=subprocess.DEVNULL)
        bundles[tag] = (build, out)

    results = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        samples = {"base": [], "new": []}
        for r in range(args.rounds):
            # Alternate the order so neither build always runs first.
            order = ("base", "new") if r % 2 == 0 else ("new", "base")
            for tag in order:
                build, bundle = bundles[tag]
                p = run([os.path.join(build, "bin", "lowbit-run"), bundle,
                         "--prompt", args.prompt, "-n", str(args.tokens),
                         "--threads", str(threads), "--json"],
                        capture_output=True, text=True)
                samples[tag].append(json.loads(p.stdout))
        row = {}
        for tag in ("base", "new"):
            row[tag] = {
                k: statistics.median(s[k] for s in samples[tag])
                for k in ("tok_s", "ttft_ms", "tpot_ms")
            }
        row["ratio_tok_s"] = row["new"]["tok_s"] / row["base"]["tok_s"]
        results[threads] = row

    print(f"model: {args.model}  compile: {args.compile_args}  "
          f"tokens: {args.tokens}  rounds: {args.rounds}")
    print("| threads | base tok/s | new tok/s | new/base | base TPOT ms | "
          "new TPOT ms | base TTFT ms | new TTFT ms |")
    print("|---|---|---|---|---|---|---|---|")
    for threads, row in results.items():
        b, n = row["base"], row["new"]
        print(f"| {threads} | {b['tok_s']:.1f} | {n['tok_s']:.1f} | "
              f"{row['ratio_tok_s']:.3f} | {b['tpot_ms']:.3f} | "
              f"{n['tpot_ms']:.3f} | {b['ttft_ms']:.2f} | {n['ttft_ms']:.2f} |")
    print(json.dumps({"model": args.model, "compile_args": args.compile_args,
                      "results": results}))


if __name__ == "__main__":
    main()
