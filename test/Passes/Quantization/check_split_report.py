#!/usr/bin/env python3
"""Checks the per-layer reports of a chained quantization: every layer of
the first report has the first method and a name matching the first regex,
likewise for the second, and together they cover the expected count.
Prints 'ok' and the counts, or FAIL and exits 1."""
import json
import re
import sys

rtn_path, rtn_re, gptq_path, gptq_re, total = sys.argv[1:6]
problems = []
counts = []
for path, method, pattern in ((rtn_path, "rtn", rtn_re),
                              (gptq_path, "gptq", gptq_re)):
    layers = json.load(open(path))["layers"]
    counts.append(len(layers))
    for layer in layers:
        if layer["method"] != method:
            problems.append(f"{path}: {layer['name']} has method {layer['method']}")
        if not re.search(pattern, layer["name"]):
            problems.append(f"{path}: {layer['name']} does not match {pattern}")
if sum(counts) != int(total):
    problems.append(f"{sum(counts)} layers in all, expected {total}")
if problems:
    print("FAIL:", "; ".join(problems))
    sys.exit(1)
print(f"ok rtn {counts[0]} gptq {counts[1]}")
