#!/usr/bin/env python3
#===- make_bundle_corpus.py - seed corpus for BundleFuzzer -----------------===#
#
# Writes small valid and corrupted .lowbit bundles into corpus/bundle next to
# this script. It is an independent implementation of docs/bundle-format.md,
# version 2 (the unit tests check that its valid files load and are
# byte-identical to what lowbit::rt::BundleWriter writes for the same
# contents), and keeps a version 1 writer for one file that must be rejected
# by version. Deterministic: rerunning it rewrites the same bytes. Standard
# library only.
#
#===------------------------------------------------------------------------===#
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "bundle")

MAGIC = b"\x89LOWBIT\n"
VERSION = 2
HEADER_SIZE = 64
ALIGN = 64
DTYPES = {"bytes": (0, 1), "f32": (1, 4), "f16": (2, 2), "bf16": (3, 2),
          "f64": (4, 8), "i64": (5, 8), "i32": (6, 4), "i16": (7, 2),
          "i8": (8, 1), "u8": (9, 1)}


def _crc32c_table():
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), as in docs/bundle-format.md."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def layout(manifest, tensors, codes, code_entry_size):
    """Strings, dims, offsets and the zero-padded body shared by both
    versions: (strings refs..., tables_size, sec_off, sec_size, tensor_off,
    code_off, body)."""
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
    tables_size = (32 * 3 + 40 * len(tensors) + code_entry_size * len(codes) +
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
    return (section_names, tensor_names, code_names, dims, strings,
            tables_size, sec_off, sec_size, tensor_off, code_off, body)


def bundle(manifest, tensors=(), codes=()):
    """The bytes of a version 2 bundle.

    manifest: str; tensors: (name, dtype, shape, data) tuples; codes:
    (target, format, data) tuples. Laid out like BundleWriter does.
    """
    manifest = manifest.encode("utf-8")
    (section_names, tensor_names, code_names, dims, strings, tables_size,
     sec_off, sec_size, tensor_off, code_off, body) = layout(
         manifest, tensors, codes, 40)

    # Only the manifest section has a checksum; tensors and code blobs carry
    # their own.
    tables = b""
    for i, (name, off, size) in enumerate(zip(section_names, sec_off,
                                              sec_size)):
        crc = crc32c(manifest) if i == 0 else 0
        tables += name + struct.pack("<QQII", off, size, crc, 0)
    first_dim = 0
    for name, t, off in zip(tensor_names, tensors, tensor_off):
        code, elem = DTYPES[t[1]]
        tables += name + struct.pack("<IIIIQQ", code, len(t[2]), first_dim,
                                     crc32c(t[3]), off, len(t[3]))
        first_dim += len(t[2])
    for names, c, off in zip(code_names, codes, code_off):
        tables += names + struct.pack("<QQII", off, len(c[2]), crc32c(c[2]), 0)
    tables += struct.pack("<%dq" % len(dims), *dims) + strings
    assert len(tables) == tables_size

    header = MAGIC + struct.pack("<IIQQIIIIIII", VERSION, HEADER_SIZE,
                                 len(body), tables_size, 3, len(tensors),
                                 len(codes), len(dims), len(strings), 0,
                                 crc32c(tables))
    header += struct.pack("<I", crc32c(header))
    body[0:HEADER_SIZE + tables_size] = header + tables
    return bytes(body)


def bundle_v1(manifest, tensors=(), codes=()):
    """The bytes of a version 1 bundle, as the version 1 writer laid them
    out (CRC-32 of each section and of the header and tables), to check that
    such files are rejected by version."""
    manifest = manifest.encode("utf-8")
    (section_names, tensor_names, code_names, dims, strings, tables_size,
     sec_off, sec_size, tensor_off, code_off, body) = layout(
         manifest, tensors, codes, 32)
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
    header = MAGIC + struct.pack("<IIQQIIIIIII", 1, HEADER_SIZE, len(body),
                                 tables_size, 3, len(tensors), len(codes),
                                 len(dims), len(strings), 0, 0)
    crc = zlib.crc32(header + tables)
    body[0:HEADER_SIZE + tables_size] = header + struct.pack("<I", crc) + tables
    return bytes(body)


def fix_crc(data):
    """Recomputes the tables and header checksums of a (corrupted) bundle."""
    data = bytearray(data)
    tables_size = struct.unpack_from("<Q", data, 24)[0]
    tables = bytes(data[HEADER_SIZE:HEADER_SIZE + tables_size])
    struct.pack_into("<I", data, 56, crc32c(tables))
    struct.pack_into("<I", data, 60, crc32c(bytes(data[0:60])))
    return bytes(data)


def fix_manifest_crc(data):
    """Recomputes the manifest's checksum (section 0), then fix_crc()."""
    data = bytearray(data)
    off, size = struct.unpack_from("<QQ", data, HEADER_SIZE + 8)
    struct.pack_into("<I", data, HEADER_SIZE + 24,
                     crc32c(bytes(data[off:off + size])))
    return fix_crc(data)


def patch(data, offset, fmt, *values, crc=True):
    data = bytearray(data)
    struct.pack_into(fmt, data, offset, *values)
    return fix_crc(data) if crc else bytes(data)


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


MANIFEST = ('{"format": "lowbit", "model": {"arch": "llama", "hidden": 4},'
            ' "program": [{"op": "qmatmul", "weight": "w"}]}')
SMALL_CONTENTS = (
    MANIFEST,
    [("w", "f32", [2, 2], f32(1, 2, 3, 4)),
     ("scales", "f16", [3], b"\x00\x3c\x00\x40\x00\xc0"),
     ("packed", "bytes", [70], bytes(range(70)))],
    [("x86", "x86-elf-so-v1", b"\x7fELF" + bytes(60))])
SMALL = bundle(*SMALL_CONTENTS)
# Byte offsets in SMALL: sections at 64, tensors at 160, codes at 280,
# dims at 320 (w: 2, scales: 1, packed: 1).
SEC, TENSOR, CODE, DIMS = 64, 160, 280, 320
MANIFEST_AT, W_AT, CODE_AT = struct.unpack_from("<Q", SMALL, SEC + 8)[0], \
    struct.unpack_from("<Q", SMALL, TENSOR + 24)[0], \
    struct.unpack_from("<Q", SMALL, CODE + 16)[0]


def flip(data, offset, mask=0x01):
    data = bytearray(data)
    data[offset] ^= mask
    return bytes(data)


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
    "bad_version1.lowbit": bundle_v1(*SMALL_CONTENTS),
    "bad_truncated_header.lowbit": SMALL[:40],
    "bad_truncated_tables.lowbit": SMALL[:200],
    "bad_truncated_data.lowbit": SMALL[:-7],
    "bad_version.lowbit": patch(SMALL, 8, "<I", 3),
    "bad_header_checksum.lowbit": flip(SMALL, 40),
    "bad_tables_checksum.lowbit": patch(SMALL, TENSOR + 32, "<Q", 17,
                                        crc=False),
    "bad_manifest_checksum.lowbit": flip(SMALL, MANIFEST_AT + 5),
    "bad_tensor_checksum.lowbit": flip(SMALL, W_AT + 15, 0x80),
    "bad_code_checksum.lowbit": flip(SMALL, CODE_AT + 63),
    "bad_padding.lowbit": flip(SMALL, W_AT + 16),
    "bad_huge_counts.lowbit": patch(SMALL, 36, "<I", 0xFFFFFFFF),
    "bad_section_past_end.lowbit": patch(SMALL, SEC + 32 + 16, "<Q", 1 << 40),
    "bad_tensor_out_of_range.lowbit": patch(SMALL, TENSOR + 24, "<Q", 1 << 20),
    "bad_misaligned.lowbit": patch(SMALL, TENSOR + 24, "<Q", W_AT + 8),
    "bad_overlap.lowbit": patch(SMALL, TENSOR + 40 + 24, "<Q", W_AT),
    "bad_size_mismatch.lowbit": patch(SMALL, DIMS, "<q", 3),
    "bad_negative_dim.lowbit": patch(SMALL, DIMS, "<q", -2),
    "bad_dtype.lowbit": patch(SMALL, TENSOR + 8, "<I", 99),
    "bad_duplicate_names.lowbit": patch(
        SMALL, TENSOR + 40, "<II", *struct.unpack_from("<II", SMALL, TENSOR)),
    "bad_code_outside.lowbit": patch(SMALL, CODE + 16, "<Q", 0),
    "bad_manifest_json.lowbit": fix_manifest_crc(
        SMALL.replace(b'"format":', b'"format";')),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(CORPUS.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(CORPUS), OUT))


if __name__ == "__main__":
    main()
