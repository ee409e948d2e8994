#!/usr/bin/env python3
"""Checks a `lowbit-eval --json` result: n, and KL within a tolerance of a
value, of another result's KL (--same-as, e.g. a bundle against the reference
executor on the same quantized weights) or below a ceiling. Prints 'ok' and the figures, or FAIL and exits 1."""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("result")
ap.add_argument("--n", type=int)
ap.add_argument("--kl", type=float, help="expected KL (with --kl-tol)")
ap.add_argument("--kl-tol", type=float, default=0.001)
ap.add_argument("--kl-max", type=float, help="KL ceiling")
ap.add_argument("--same-as", help="another result whose KL and ppl must match")
ap.add_argument("--same-tol", type=float, default=0.002,
                help="tolerance on KL for --same-as (ppl: relative)")
args = ap.parse_args()
d = json.load(open(args.result))
problems = []
if args.n is not None and d["n"] != args.n:
    problems.append(f"n = {d['n']}, expected {args.n}")
if args.kl is not None and abs(d["kl"] - args.kl) > args.kl_tol:
    problems.append(f"kl = {d['kl']:.5f}, expected {args.kl} +- {args.kl_tol}")
if args.kl_max is not None and not d["kl"] <= args.kl_max:
    problems.append(f"kl = {d['kl']:.5f} above the ceiling {args.kl_max}")
if args.same_as is not None:
    o = json.load(open(args.same_as))
    if abs(d["kl"] - o["kl"]) > args.same_tol:
        problems.append(f"kl = {d['kl']:.5f}, {args.same_as} has {o['kl']:.5f} (tolerance {args.same_tol})")
    if abs(d["ppl"] - o["ppl"]) > args.same_tol * o["ppl"]:
        problems.append(f"ppl = {d['ppl']:.5f}, {args.same_as} has {o['ppl']:.5f}")
    if d["n"] != o["n"]:
        problems.append(f"n = {d['n']}, {args.same_as} has {o['n']}")
figures = f"ppl {d['ppl']:.4f} kl {d.get('kl', float('nan')):.5f} top1 {d.get('top1', float('nan')):.4f}"
if problems:
    print("FAIL:", "; ".join(problems), "|", figures)
    sys.exit(1)
print("ok", figures)
