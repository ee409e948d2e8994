#!/usr/bin/env python3
"""Checks the structure of a lowbit-compile --plot SVG.

usage: check_plot.py PLOT.svg --weights N

A well-formed SVG with one bar (class "layer") per weight, each with a
title naming the weight and its chosen bits; the frontier polyline with its
points; the chosen budget marked once; four axis labels. Prints "ok".
"""
import argparse
import sys
import xml.etree.ElementTree as ET

ap = argparse.ArgumentParser()
ap.add_argument("svg")
ap.add_argument("--weights", type=int, required=True)
a = ap.parse_args()
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(a.svg).getroot()


def fail(msg):
    sys.exit("check_plot: " + msg)


def of(tag, cls):
    return [e for e in root.iter(ns + tag) if e.get("class") == cls]


bars = of("rect", "layer")
if len(bars) != a.weights:
    fail("%d bars for %d weights" % (len(bars), a.weights))
for b in bars:
    title = b.find(ns + "title")
    if title is None or " bits, predicted KL" not in (title.text or ""):
        fail("a bar without its weight and bits")
    if float(b.get("height")) < 0:
        fail("negative bar")
labels = [e.text for e in of("text", "axis-label")]
if len(labels) != 4 or "bits per weight" not in labels:
    fail("axis labels: %r" % labels)
lines = of("polyline", "frontier")
points = of("circle", "frontier-point")
if len(lines) != 1 or len(points) < 2:
    fail("no frontier")
if len(of("circle", "chosen")) != 1:
    fail("the chosen budget is not marked once")
print("ok", len(bars), "bars,", len(points), "frontier points")
