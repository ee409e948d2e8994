#!/usr/bin/env python3
"""Checks logits dumped by `lowbit-eval --dump-logits` against the NumPy
float64 reference (llama_ref.py) on the same model and tokens.

    compare_logits.py MODEL_DIR DUMP.safetensors [--tol 1e-4]

Prints the max abs difference and exits 1 when it exceeds the tolerance.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import LlamaRef, read_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("dump")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    dump, _ = read_safetensors(args.dump)
    tokens = [int(t) for t in dump["tokens"]]
    got = dump["logits"].astype(np.float64)
    want = LlamaRef(args.model).forward(tokens)
    if got.shape != want.shape:
        print(f"FAIL: shape {got.shape} vs reference {want.shape}")
        return 1
    diff = float(np.max(np.abs(got - want)))
    status = "ok" if diff <= args.tol else "FAIL"
    print(f"{status}: max abs diff {diff:.3e} over {got.shape[0]} tokens "
          f"(tolerance {args.tol:g})")
    return 0 if diff <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
