#!/usr/bin/env python3
#===- bundle_edit.py - rewrite a .lowbit bundle with edited contents -------===#
#
# Reads a version 2 bundle (docs/bundle-format.md) and writes it again with
# the fuzz corpus writer (test/Fuzz/make_bundle_corpus.py), after editing its
# contents, so every checksum is valid again: what the runtime sees is a
# well-formed container with bad contents, as an attacker or a buggy writer
# would produce. For the reliability tests of the manifest cross-checks and
# the ELF checker.
#
#   bundle_edit.py IN OUT [--truncate-code TARGET:BYTES]
#                         [--set-code-byte TARGET:OFFSET:VALUE]
#                         [--set PATH=JSON]...
#
# PATH is a dot-separated path into the manifest (list indices as numbers),
# e.g. `program.ops.3.head_dim=4` or `config.vocab_size=1000`. A signature
# section, if any, is dropped. Standard library only.
#
#===------------------------------------------------------------------------===#
import argparse
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "Fuzz"))
import make_bundle_corpus  # noqa: E402

DTYPE_NAMES = {code: name for name, (code, _) in
               make_bundle_corpus.DTYPES.items()}


def read(data):
    """(manifest text, [(name, dtype, shape, bytes)], [(target, format,
    bytes)])."""
    if data[:8] != make_bundle_corpus.MAGIC:
        sys.exit("not a lowbit bundle")
    tables_size, = struct.unpack_from("<Q", data, 24)
    S, T, C, D, SB = struct.unpack_from("<IIIII", data, 32)
    sec_at = 64
    tensor_at = sec_at + 32 * S
    code_at = tensor_at + 40 * T
    dim_at = code_at + 40 * C
    strings_at = dim_at + 8 * D

    def string(entry):
        off, n = struct.unpack_from("<II", data, entry)
        return data[strings_at + off:strings_at + off + n].decode()

    manifest = None
    for i in range(S):
        e = sec_at + 32 * i
        if string(e) == "manifest":
            off, size = struct.unpack_from("<QQ", data, e + 8)
            manifest = data[off:off + size].decode()
    tensors = []
    for i in range(T):
        e = tensor_at + 40 * i
        dtype, rank, first = struct.unpack_from("<III", data, e + 8)
        off, size = struct.unpack_from("<QQ", data, e + 24)
        shape = list(struct.unpack_from("<%dq" % rank, data, dim_at + 8 * first))
        tensors.append((string(e), DTYPE_NAMES[dtype], shape,
                        bytes(data[off:off + size])))
    codes = []
    for i in range(C):
        e = code_at + 40 * i
        off, size = struct.unpack_from("<QQ", data, e + 16)
        codes.append((string(e), string(e + 8), bytes(data[off:off + size])))
    return manifest, tensors, codes


def set_path(obj, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        obj = obj[int(k)] if isinstance(obj, list) else obj[k]
    last = keys[-1]
    if isinstance(obj, list):
        obj[int(last)] = value
    else:
        obj[last] = value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--truncate-code", action="append", default=[])
    ap.add_argument("--set-code-byte", action="append", default=[])
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args()
    with open(args.input, "rb") as f:
        manifest, tensors, codes = read(f.read())
    codes = [list(c) for c in codes]
    for spec in args.truncate_code:
        target, n = spec.rsplit(":", 1)
        for c in codes:
            if c[0] == target:
                c[2] = c[2][:int(n)]
    for spec in args.set_code_byte:
        target, at, value = spec.split(":")
        for c in codes:
            if c[0] == target:
                b = bytearray(c[2])
                b[int(at, 0)] = int(value, 0)
                c[2] = bytes(b)
    if args.set:
        m = json.loads(manifest)
        for spec in args.set:
            path, value = spec.split("=", 1)
            set_path(m, path, json.loads(value))
        manifest = json.dumps(m, separators=(",", ":"))
    out = make_bundle_corpus.bundle(manifest, tensors,
                                    [tuple(c) for c in codes])
    with open(args.output, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
