#!/usr/bin/env python3
#===- bundle_parts.py - list and damage the parts of a .lowbit bundle -----===#
#
# A small reader of the version 2 container (docs/bundle-format.md) for the
# integrity tests: it cuts a bundle into the parts an error can name (the
# header, the tables, the manifest, each tensor and code blob, and the padding
# between them) and changes one byte inside a chosen part.
#
#   bundle_parts.py list FILE
#       one line per part, in file order: KIND NAME BEGIN END
#   bundle_parts.py flip FILE OUT --part KIND[:NAME] [--at first|middle|last]
#       [--mask 0x01]
#       copies FILE to OUT with the byte at the chosen position of the first
#       matching part XORed with the mask; prints the offset.
#
# KIND is header, tables, manifest, tensor, code or padding; NAME is a tensor
# name (or a prefix of one, ending in '*'), a code target, or for padding the
# part it follows. Standard library only.
#
#===------------------------------------------------------------------------===#
import argparse
import struct
import sys

MAGIC = b"\x89LOWBIT\n"
HEADER_SIZE = 64


def parts(data):
    """[(kind, name, begin, end)] covering `data` in file order."""
    if data[:8] != MAGIC:
        sys.exit("not a lowbit bundle")
    version, = struct.unpack_from("<I", data, 8)
    if version != 2:
        sys.exit("bundle format version %d, this script reads 2" % version)
    tables_size, = struct.unpack_from("<Q", data, 24)
    S, T, C, D, SB = struct.unpack_from("<IIIII", data, 32)
    sec_at = HEADER_SIZE
    tensor_at = sec_at + 32 * S
    code_at = tensor_at + 40 * T
    strings_at = code_at + 40 * C + 8 * D
    tables_end = HEADER_SIZE + tables_size
    assert strings_at + SB == tables_end

    def string(entry):
        off, n = struct.unpack_from("<II", data, entry)
        return data[strings_at + off:strings_at + off + n].decode()

    items = []
    for i in range(S):
        e = sec_at + 32 * i
        if string(e) == "manifest":
            off, size = struct.unpack_from("<QQ", data, e + 8)
            items.append(("manifest", "-", off, off + size))
    for i in range(T):
        e = tensor_at + 40 * i
        off, size = struct.unpack_from("<QQ", data, e + 24)
        items.append(("tensor", string(e), off, off + size))
    for i in range(C):
        e = code_at + 40 * i
        off, size = struct.unpack_from("<QQ", data, e + 16)
        items.append(("code", string(e), off, off + size))
    items = sorted((p for p in items if p[3] > p[2]), key=lambda p: p[2])

    out = [("header", "-", 0, HEADER_SIZE),
           ("tables", "-", HEADER_SIZE, tables_end)]
    pos, prev = tables_end, "tables"
    for kind, name, begin, end in items:
        if begin > pos:
            out.append(("padding", prev, pos, begin))
        out.append((kind, name, begin, end))
        pos, prev = end, name if kind != "manifest" else "manifest"
    if pos < len(data):
        out.append(("padding", prev, pos, len(data)))
    return out


def matches(part, spec):
    kind, _, name = spec.partition(":")
    if part[0] != kind:
        return False
    if not name:
        return True
    if name.endswith("*"):
        return part[1].startswith(name[:-1])
    return part[1] == name


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list")
    ls.add_argument("file")
    fl = sub.add_parser("flip")
    fl.add_argument("file")
    fl.add_argument("out")
    fl.add_argument("--part", required=True)
    fl.add_argument("--at", default="middle",
                    choices=["first", "middle", "last"])
    fl.add_argument("--mask", default="0x01")
    args = ap.parse_args()

    with open(args.file, "rb") as f:
        data = bytearray(f.read())
    if args.cmd == "list":
        for kind, name, begin, end in parts(data):
            print(kind, name, begin, end)
        return
    found = [p for p in parts(data) if matches(p, args.part)]
    if not found:
        sys.exit("no part matches %r" % args.part)
    _, _, begin, end = found[0]
    at = {"first": begin, "middle": (begin + end) // 2, "last": end - 1}[args.at]
    data[at] ^= int(args.mask, 0)
    with open(args.out, "wb") as f:
        f.write(data)
    print(at)


if __name__ == "__main__":
    main()
