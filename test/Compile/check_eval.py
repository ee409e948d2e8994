#!/usr/bin/env python3
"""Checks a `lowbit-eval --json` result: n, and KL within a tolerance of a
value or below a ceiling. Prints 'ok' and the figures, or FAIL and exits 1."""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("result")
ap.add_argument("--n", type=int)
ap.add_argument("--kl", type=float, help="expected KL (with --kl-tol)")
ap.add_argument("--kl-tol", type=float, default=0.001)
ap.add_argument("--kl-max", type=float, help="KL ceiling")
args = ap.parse_args()
d = json.load(open(args.result))
problems = []
if args.n is not None and d["n"] != args.n:
    problems.append(f"n = {d['n']}, expected {args.n}")
if args.kl is not None and abs(d["kl"] - args.kl) > args.kl_tol:
    problems.append(f"kl = {d['kl']:.5f}, expected {args.kl} +- {args.kl_tol}")
if args.kl_max is not None and not d["kl"] <= args.kl_max:
    problems.append(f"kl = {d['kl']:.5f} above the ceiling {args.kl_max}")
figures = f"ppl {d['ppl']:.4f} kl {d.get('kl', float('nan')):.5f} top1 {d.get('top1', float('nan')):.4f}"
if problems:
    print("FAIL:", "; ".join(problems), "|", figures)
    sys.exit(1)
print("ok", figures)
