#!/usr/bin/env python3
#===- print_provenance.py - print a bundle's provenance -------------------===#
#
#   print_provenance.py BUNDLE
#
# Prints the manifest's "provenance" (docs/bundle-format.md), one line per
# entry: `pass <canonical pass>` for each entry of "passes", then
# `input <file> <blake3>` for each entry of "inputs", then `key <name>` for
# every key of the object (so a test sees any key it does not expect).
# Standard library only.
#
#===------------------------------------------------------------------------===#
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bundle_parts  # noqa: E402


def main():
    data = open(sys.argv[1], "rb").read()
    for kind, _, begin, end in bundle_parts.parts(data):
        if kind != "manifest":
            continue
        provenance = json.loads(data[begin:end])["provenance"]
        for p in provenance.get("passes", []):
            print("pass", p)
        for entry in provenance.get("inputs", []):
            print("input", entry["file"], entry["blake3"])
        for key in sorted(provenance):
            print("key", key)
        return 0
    sys.exit("%s: no manifest" % sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
