#!/usr/bin/env python3
"""Checks a `lowbit-run --json` result: the four keys the CLI promises, sane
timings, and a continuation that reads as English prose (mostly words from a
small list of the commonest English words and story vocabulary)."""
import json
import re
import sys

d = json.load(open(sys.argv[1]))
problems = []
for key in ("text", "ttft_ms", "tpot_ms", "tok_s"):
    if key not in d:
        problems.append(f"missing key {key}")
if not problems:
    if not (d["ttft_ms"] > 0 and d["tpot_ms"] > 0 and d["tok_s"] > 0):
        problems.append("non-positive timings")
    words = re.findall(r"[a-z]+", d["text"].lower())
    common = set("""the a an and to of was he she it they his her in on with
    that for is said but day there one time little big happy very so had
    wanted saw went play not you be were at mom friend friends could all
    did can lily tim ben sue who what when then had have do up out""".split())
    if len(words) < 20:
        problems.append(f"only {len(words)} words: {d['text']!r}")
    elif sum(w in common for w in words) < 0.3 * len(words):
        problems.append(f"few common English words: {d['text']!r}")
if problems:
    print("FAIL:", "; ".join(problems))
    sys.exit(1)
print("ok", repr(d["text"][:80]), f"{d['tok_s']:.0f} tok/s")
