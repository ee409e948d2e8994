#!/usr/bin/env python3
"""Checks that a bundle's embedding lookup reads the quantized table of its
tied output projection, with no float copy of the table.

    check_tied_table.py BUNDLE [--max-extra-bytes N] [--untied]

With --untied the lookup must instead read its own quantized table (an
untied embedding), distinct from the output projection's weight.

Reads the manifest (the bundle's JSON section) and checks that the program
has no float `embedding` op, that its first op is a `qembedding`, and that
the last `qmatmul` (the output projection) names the same packed tensor.
With --max-extra-bytes it also bounds the bundle's size beyond that table
and the other ops' packed weights as the manifest's `layers` list them. Prints one summary line.
"""

import argparse
import json
import os


def manifest(path: str) -> dict:
    data = open(path, "rb").read()
    start = data.find(b'{"')
    while start >= 0:
        try:
            obj, _ = json.JSONDecoder().raw_decode(data[start:].decode(
                "utf-8", errors="replace"))
            if isinstance(obj, dict) and "program" in obj:
                return obj
        except json.JSONDecodeError:
            pass
        start = data.find(b'{"', start + 1)
    raise SystemExit(f"{path}: no manifest with a program found")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bundle")
    ap.add_argument("--max-extra-bytes", type=int)
    ap.add_argument("--untied", action="store_true")
    a = ap.parse_args()
    m = manifest(a.bundle)
    ops = m["program"]["ops"]
    kinds = [op["op"] for op in ops]
    assert "embedding" not in kinds, "a float embedding table is still there"
    assert kinds[0] == "qembedding", kinds[:3]
    lookup = ops[0]
    head = [op for op in ops if op["op"] == "qmatmul"][-1]
    if a.untied:
        assert lookup["weight"] != head["weight"], lookup["weight"]
        line = (f"lookup reads its own quantized table {lookup['weight']} "
                f"({lookup['bits']}-bit, {lookup['layout']})")
    else:
        assert lookup["weight"] == head["weight"], (lookup["weight"],
                                                    head["weight"])
        line = (f"lookup and output projection share {lookup['weight']} "
                f"({lookup['bits']}-bit, {lookup['layout']})")
    if a.max_extra_bytes is not None:
        size = os.path.getsize(a.bundle)
        layers = m.get("layers", [])
        packed = sum(layer["bytes"] for layer in layers)
        extra = size - packed
        assert extra <= a.max_extra_bytes, (size, packed, extra)
        line += f"; bundle holds {extra} bytes beyond {packed} packed"
    print(line)


if __name__ == "__main__":
    main()
