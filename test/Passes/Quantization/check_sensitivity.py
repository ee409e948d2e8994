#!/usr/bin/env python3
"""Checks a lowbit-sensitivity report (format lowbit-sensitivity-v1).

usage: check_sensitivity.py REPORT --weights N --candidates C
           [--measured all|anchor|none] [--min-spearman R] [--min-across R]

Every weight has C schemes with their bits per weight (bits + 16 bits of f16
scale per group, ragged last group included), a positive proxy that does
not grow with the bits at a fixed group size, and, when measured, KL values;
the validation block (measure=all) must reach the given rank correlations.
Prints "ok" and the validation figures.
"""
import argparse
import json
import math
import sys

ap = argparse.ArgumentParser()
ap.add_argument("report")
ap.add_argument("--weights", type=int, required=True)
ap.add_argument("--candidates", type=int, required=True)
ap.add_argument("--measured", default="anchor")
ap.add_argument("--min-spearman", type=float, default=0.0)
ap.add_argument("--min-across", type=float, default=0.0)
a = ap.parse_args()
r = json.load(open(a.report))


def fail(msg):
    sys.exit("check_sensitivity: " + msg)


if r.get("format") != "lowbit-sensitivity-v1":
    fail("format %r" % r.get("format"))
if len(r["candidates"]) != a.candidates:
    fail("%d candidates" % len(r["candidates"]))
if len(r["layers"]) != a.weights:
    fail("%d weights, expected %d" % (len(r["layers"]), a.weights))
heads = [t for t in r["layers"] if t["output_projection"]]
if len(heads) != 1 or heads[0] is not r["layers"][-1]:
    fail("the output projection must be the last entry, once")
for t in r["layers"]:
    n, k = t["shape"]
    if len(t["schemes"]) != a.candidates:
        fail(t["name"] + ": scheme count")
    by_group = {}
    for s in t["schemes"]:
        g = s["group_size"]
        groups = 1 if g < 0 else -(-k // g)
        want = s["bits"] + 16.0 * groups / k
        if abs(s["bits_per_weight"] - want) > 1e-9:
            fail("%s: %s bits per weight, expected %s" %
                 (t["name"], s["bits_per_weight"], want))
        if not (s["proxy"] > 0):
            fail(t["name"] + ": proxy must be positive")
        by_group.setdefault(g, []).append((s["bits"], s["proxy"]))
        m = s["measured_kl"]
        is_anchor = (s["bits"], g) == (r["anchor"]["bits"],
                                       r["anchor"]["group_size"])
        if a.measured == "all" or (a.measured == "anchor" and is_anchor):
            if m is None or m < 0:
                fail("%s: %d bits g%d not measured" % (t["name"], s["bits"], g))
        elif m is not None:
            fail("%s: %d bits g%d measured unasked" % (t["name"], s["bits"], g))
        if a.measured != "none" and (s["predicted_kl"] is None
                                     or not math.isfinite(s["predicted_kl"])):
            fail(t["name"] + ": no predicted KL")
    for g, pts in by_group.items():
        pts.sort()
        for (b0, p0), (b1, p1) in zip(pts, pts[1:]):
            if p1 > p0 * 1.0001:
                fail("%s g%d: proxy grows from %d to %d bits" %
                     (t["name"], g, b0, b1))
v = r.get("validation")
if a.measured == "all":
    if not v:
        fail("no validation block")
    if v["spearman_predicted_vs_measured"] < a.min_spearman:
        fail("Spearman %.3f < %.3f" % (v["spearman_predicted_vs_measured"],
                                       a.min_spearman))
    if v["spearman_across_weights_min"] < a.min_across:
        fail("Spearman across weights %.3f < %.3f" %
             (v["spearman_across_weights_min"], a.min_across))
    print("ok spearman %.3f proxy %.3f across mean %.3f min %.3f" % (
        v["spearman_predicted_vs_measured"], v["spearman_proxy_vs_measured"],
        v["spearman_across_weights_mean"], v["spearman_across_weights_min"]))
else:
    if v:
        fail("validation without measure=all")
    print("ok")
