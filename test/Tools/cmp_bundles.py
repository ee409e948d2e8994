#!/usr/bin/env python3
#===- cmp_bundles.py - compare two bundles but for their provenance -------===#
#
#   cmp_bundles.py A B
#
# Prints "same" and exits 0 when the bundles hold the same manifest apart
# from "provenance" (docs/bundle-format.md) and byte-identical tensors and
# code blobs; otherwise names the first difference and exits 1. For bundles
# made by different routes (one process or several) whose provenance differs
# by design. Standard library only.
#
#===------------------------------------------------------------------------===#
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bundle_parts  # noqa: E402


def contents(path):
    """(manifest without provenance, {(kind, name, n): bytes})."""
    data = open(path, "rb").read()
    manifest, blobs, seen = None, {}, {}
    for kind, name, begin, end in bundle_parts.parts(data):
        if kind == "manifest":
            manifest = json.loads(data[begin:end])
            manifest.pop("provenance", None)
        elif kind in ("tensor", "code"):
            key = (kind, name)
            seen[key] = seen.get(key, 0) + 1
            blobs[key + (seen[key],)] = data[begin:end]
    return manifest, blobs


def main():
    ma, ba = contents(sys.argv[1])
    mb, bb = contents(sys.argv[2])
    if ma != mb:
        print("manifests differ (beyond provenance)")
        return 1
    if sorted(ba) != sorted(bb):
        print("different tensors or code blobs")
        return 1
    for key in sorted(ba):
        if ba[key] != bb[key]:
            print("%s %s differs" % key[:2])
            return 1
    print("same")
    return 0


if __name__ == "__main__":
    sys.exit(main())
