#!/usr/bin/env python3
#===- make_bundle_corpus.py - seed corpus for BundleFuzzer -----------------===#
#
# Writes small valid and corrupted .lowbit bundles into corpus/bundle next to
# this script. It is an independent implementation of docs/bundle-format.md
# (the unit tests check that its valid files load and are byte-identical to
# what lowbit::rt::BundleWriter writes for the same contents). Deterministic:
# rerunning it rewrites the same bytes. Standard library only.
#
#===------------------------------------------------------------------------===#
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "bundle")

MAGIC = b"\x89LOWBIT\n"
VERSION = 1
HEADER_SIZE = 64
ALIGN = 64
DTYPES = {"bytes": (0, 1), "f32": (1, 4), "f16": (2, 2), "bf16": (3, 2),
          "f64": (4, 8), "i64": (5, 8), "i32": (6, 4), "i16": (7, 2),
          "i8": (8, 1), "u8": (9, 1)}


def align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def bundle(manifest, tensors=(), codes=()):
    """The bytes of a bundle.

    manifest: str; tensors: (name, dtype, shape, data) tuples; codes:
    (target, format, data) tuples. Laid out like BundleWriter does.
    """
    manifest = manifest.encode("utf-8")
    strings = b""

    def string(s):
        nonlocal strings
        s = s.encode("utf-8")
        ref = struct.pack("<II", len(strings), len(s))
        strings += s
        return ref

    section_names = [string(n) for n in ("manifest", "weights", "code")]
    tensor_names = [string(t[0]) for t in tensors]
    code_names = [string(c[0]) + string(c[1]) for c in codes]
    dims = [d for t in tensors for d in t[2]]
    tables_size = (32 * 3 + 40 * len(tensors) + 32 * len(codes) +
                   8 * len(dims) + len(strings))

    def place(items, start):
        offsets, cursor = [], start
        for item in items:
            offsets.append(align(cursor))
            cursor = offsets[-1] + len(item[-1])
        return offsets, cursor - start

    sec_off, sec_size = [align(HEADER_SIZE + tables_size)], [len(manifest)]
    sec_off.append(align(sec_off[0] + sec_size[0]))
    tensor_off, size = place(tensors, sec_off[1])
    sec_size.append(size)
    sec_off.append(align(sec_off[1] + sec_size[1]))
    code_off, size = place(codes, sec_off[2])
    sec_size.append(size)
    file_size = sec_off[2] + sec_size[2]

    # The sections, with zero padding.
    body = bytearray(file_size)
    body[sec_off[0]:sec_off[0] + len(manifest)] = manifest
    for off, item in zip(tensor_off + code_off, list(tensors) + list(codes)):
        body[off:off + len(item[-1])] = item[-1]
    crcs = [zlib.crc32(bytes(body[o:o + s])) for o, s in zip(sec_off, sec_size)]

    tables = b""
    for name, off, size, crc in zip(section_names, sec_off, sec_size, crcs):
        tables += name + struct.pack("<QQII", off, size, crc, 0)
    first_dim = 0
    for name, t, off in zip(tensor_names, tensors, tensor_off):
        code, elem = DTYPES[t[1]]
        tables += name + struct.pack("<IIIIQQ", code, len(t[2]), first_dim, 0,
                                     off, len(t[3]))
        first_dim += len(t[2])
    for names, c, off in zip(code_names, codes, code_off):
        tables += names + struct.pack("<QQ", off, len(c[2]))
    tables += struct.pack("<%dq" % len(dims), *dims) + strings
    assert len(tables) == tables_size

    header = MAGIC + struct.pack("<IIQQIIIIIII", VERSION, HEADER_SIZE,
                                 file_size, tables_size, 3, len(tensors),
                                 len(codes), len(dims), len(strings), 0, 0)
    crc = zlib.crc32(header + tables)
    body[0:HEADER_SIZE + tables_size] = header + struct.pack("<I", crc) + tables
    return bytes(body)


def fix_crc(data):
    """Recomputes the header/table checksum of a (corrupted) bundle."""
    data = bytearray(data)
    tables_size = struct.unpack_from("<Q", data, 24)[0]
    crc = zlib.crc32(bytes(data[0:60]) +
                     bytes(data[HEADER_SIZE:HEADER_SIZE + tables_size]))
    struct.pack_into("<I", data, 60, crc)
    return bytes(data)


def patch(data, offset, fmt, *values, crc=True):
    data = bytearray(data)
    struct.pack_into(fmt, data, offset, *values)
    return fix_crc(data) if crc else bytes(data)


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


MANIFEST = ('{"format": "lowbit", "model": {"arch": "llama", "hidden": 4},'
            ' "program": [{"op": "qmatmul", "weight": "w"}]}')
SMALL = bundle(MANIFEST,
               [("w", "f32", [2, 2], f32(1, 2, 3, 4)),
                ("scales", "f16", [3], b"\x00\x3c\x00\x40\x00\xc0"),
                ("packed", "bytes", [70], bytes(range(70)))],
               [("x86", "x86-elf-so-v1", b"\x7fELF" + bytes(60))])
# Byte offsets in SMALL: sections at 64, tensors at 160, codes at 280,
# dims at 312 (w: 2, scales: 1, packed: 1).
SEC, TENSOR, CODE, DIMS = 64, 160, 280, 312

CORPUS = {
    # Valid bundles.
    "valid_empty.lowbit": bundle("{}"),
    "valid_small.lowbit": SMALL,
    "valid_dtypes.lowbit": bundle(
        '{"a": [1, 2, {"b": null}], "s": "\\u00e9"}',
        [("scalar", "f64", [], struct.pack("<d", 0.5)),
         ("empty", "i32", [0, 5], b""),
         ("bf", "bf16", [2], b"\x80\x3f\x00\x40"),
         ("ids", "i64", [1], struct.pack("<q", -1)),
         ("q", "i8", [3], b"\x01\xff\x7f"),
         ("h", "i16", [1], b"\x00\x80"),
         ("u", "u8", [65], bytes(range(65)))],
        [("cuda", "cuda-ptx-v1", b".version 8.0\n"), ("vulkan", "spirv-v1",
                                                      b"")]),
    # Broken bundles.
    "bad_magic.lowbit": b"GGUF" + SMALL[4:],
    "bad_truncated_header.lowbit": SMALL[:40],
    "bad_truncated_tables.lowbit": SMALL[:200],
    "bad_truncated_data.lowbit": SMALL[:-7],
    "bad_version.lowbit": patch(SMALL, 8, "<I", 2),
    "bad_checksum.lowbit": patch(SMALL, TENSOR + 32, "<Q", 17, crc=False),
    "bad_huge_counts.lowbit": patch(SMALL, 36, "<I", 0xFFFFFFFF),
    "bad_section_past_end.lowbit": patch(SMALL, SEC + 32 + 16, "<Q", 1 << 40),
    "bad_tensor_out_of_range.lowbit": patch(SMALL, TENSOR + 24, "<Q", 1 << 20),
    "bad_misaligned.lowbit": patch(
        SMALL, TENSOR + 24, "<Q",
        struct.unpack_from("<Q", SMALL, TENSOR + 24)[0] + 8),
    "bad_overlap.lowbit": patch(
        SMALL, TENSOR + 40 + 24, "<Q",
        struct.unpack_from("<Q", SMALL, TENSOR + 24)[0]),
    "bad_size_mismatch.lowbit": patch(SMALL, DIMS, "<q", 3),
    "bad_negative_dim.lowbit": patch(SMALL, DIMS, "<q", -2),
    "bad_dtype.lowbit": patch(SMALL, TENSOR + 8, "<I", 99),
    "bad_duplicate_names.lowbit": patch(
        SMALL, TENSOR + 40, "<II", *struct.unpack_from("<II", SMALL, TENSOR)),
    "bad_code_outside.lowbit": patch(SMALL, CODE + 16, "<Q", 0),
    "bad_manifest_json.lowbit": SMALL.replace(b'"format":', b'"format";'),
    "bad_section_checksum.lowbit": SMALL.replace(b"\x7fELF", b"\x7fELG"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(CORPUS.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(CORPUS), OUT))


if __name__ == "__main__":
    main()
