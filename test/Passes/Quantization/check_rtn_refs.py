#!/usr/bin/env python3
"""Compares lowbit RTN output tensors with a quant_refs file of the shared
model: codes, scales and zeros of every layer must be identical."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "ref"))
from llama_ref import read_safetensors  # noqa: E402

got, _ = read_safetensors(sys.argv[1])
ref, _ = read_safetensors(sys.argv[2])
layers = sorted(k[: -len(".qcodes")] for k in ref if k.endswith(".qcodes"))
bad = []
for name in layers:
    for ours, theirs in ((".qcodes", ".qcodes"), (".scales", ".scales"), (".zeros", ".zeros")):
        a, b = got.get(name + ours), ref[name + theirs]
        if a is None or a.shape != b.shape or not np.array_equal(a, b):
            bad.append(name + ours)
if bad:
    print(f"MISMATCH in {len(bad)} tensors, e.g. {bad[:5]}")
    sys.exit(1)
print(f"{len(layers)} layers: codes, scales and zeros identical")
