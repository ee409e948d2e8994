#!/usr/bin/env python3
"""Checks that the lowbit.binary blob of a printed module occurs verbatim in a
bundle file, i.e. that -lowbit-translate-executables produced exactly the
code that lowbit-compile put in the bundle. Format-agnostic: it searches the
bundle's bytes, so it holds for any bundle version that stores blobs as is.

usage: check_blob_in_bundle.py MODULE.mlir BUNDLE RESOURCE_KEY
"""
import re
import sys


def main():
    ir_path, bundle_path, key = sys.argv[1:4]
    with open(ir_path) as f:
        text = f.read()
    m = re.search(r'\b%s: "0x([0-9A-Fa-f]+)"' % re.escape(key), text)
    if not m:
        sys.exit("%s: no resource blob named %s" % (ir_path, key))
    # A resource blob starts with its alignment as a 32-bit word.
    blob = bytes.fromhex(m.group(1))[4:]
    with open(bundle_path, "rb") as f:
        bundle = f.read()
    where = bundle.find(blob)
    if not blob or where < 0:
        sys.exit("%s: the %d-byte blob is not in %s" %
                 (key, len(blob), bundle_path))
    if bundle.find(blob, where + 1) >= 0:
        sys.exit("%s: the blob occurs twice in %s" % (key, bundle_path))
    print("blob %s (%d bytes, ELF: %s) is in the bundle" %
          (key, len(blob), blob[:4] == b"\x7fELF"))


if __name__ == "__main__":
    main()
