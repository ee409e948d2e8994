#!/usr/bin/env python3
"""Checks the mixed-precision part of a lowbit-compile report (--target-bpw).

usage: check_mixed.py REPORT --target B --weights N [--stored]

The search's own figure is at most the target; every weight's chosen scheme
is the one its layer was quantized with (report layer entries: bits,
group_size); with --stored (a bundle), the bundle's bits per weight of the
quantized weights equals the search's figure, so the budget was counted as
the target stores the weights. Prints "ok", the bits and the mix.
"""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("report")
ap.add_argument("--target", type=float, required=True)
ap.add_argument("--weights", type=int, required=True)
ap.add_argument("--stored", action="store_true")
a = ap.parse_args()
r = json.load(open(a.report))
m = r.get("mixed_precision")


def fail(msg):
    sys.exit("check_mixed: " + msg)


if not m:
    fail("no mixed_precision in the report")
if abs(m["target_bits_per_weight"] - a.target) > 1e-9:
    fail("target %s" % m["target_bits_per_weight"])
if m["bits_per_weight"] > a.target + 1e-9:
    fail("%.4f bits per weight over the target" % m["bits_per_weight"])
if len(m["weights"]) != a.weights:
    fail("%d weights chosen" % len(m["weights"]))
layers = {l["name"]: l for l in r["layers"]}
mix = {}
for w in m["weights"]:
    layer = layers.get(w["name"])
    if not layer:
        fail(w["name"] + " was not quantized")
    if (layer.get("bits"), layer.get("group_size")) != (w["bits"],
                                                        w["group_size"]):
        fail("%s: quantized with %s bits g%s, chosen %d bits g%d" % (
            w["name"], layer.get("bits"), layer.get("group_size"), w["bits"],
            w["group_size"]))
    key = "%db g%d" % (w["bits"], w["group_size"])
    mix[key] = mix.get(key, 0) + 1
if a.stored:
    stored = r["bits_per_weight"]["quantized_linears"]
    if abs(stored - m["bits_per_weight"]) > 1e-6:
        fail("the bundle stores %.6f bits per weight, the search counted %.6f"
             % (stored, m["bits_per_weight"]))
print("ok %.3f" % m["bits_per_weight"],
      " ".join("%s:%d" % kv for kv in sorted(mix.items())))
