#!/usr/bin/env python3
"""Writes the GGUF test inputs of GgufTests.cpp into OUT_DIR.

quants.gguf   one tensor per ggml type lowbit dequantizes ("t.<TYPE>"), random
              blocks whose binary16 scale fields cycle through NaN (quiet,
              signalling, negative, with payloads), +-Inf, subnormals, +-0 and
              extremes, all pairs of them where a block has two; metadata of
              every GGUF value type including nested arrays; alignment 64.
<TYPE>.f32    gguf.quants.dequantize of that tensor (the reference), raw
              little-endian float32.
tensors.txt   "name type-number absolute-offset nbytes dims..." per tensor, as
              gguf.GGUFReader reads them.
"""

import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

# Byte offsets of the binary16 scale fields inside one block.
HALF_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q2_K: [80, 82],
    T.Q3_K: [108],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}
PLAIN = [T.F32, T.F16, T.BF16]

SPECIAL_HALVES = [
    0x7E00,  # quiet NaN
    0x7C01,  # signalling NaN
    0xFE55,  # negative quiet NaN with a payload
    0x7D23,  # signalling NaN with another payload
    0x7C00,  # +Inf
    0xFC00,  # -Inf
    0x0001,  # smallest subnormal
    0x83FF,  # largest negative subnormal
    0x0000,  # +0
    0x8000,  # -0
    0x7BFF,  # largest finite
    0x3C00,  # 1
    0x1234,  # ordinary normal
]


def quant_tensor(rng, qtype, rows, blocks_per_row):
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * blocks_per_row
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    fields = HALF_FIELDS[qtype]
    k = len(SPECIAL_HALVES)
    for b in range(n_blocks):
        # Blocks below k**len(fields) cover every combination of specials;
        # the others keep random (mostly ordinary) scales.
        if b >= k ** len(fields):
            continue
        for i, off in enumerate(fields):
            h = SPECIAL_HALVES[(b // k**i) % k]
            raw[b, off] = h & 0xFF
            raw[b, off + 1] = h >> 8
    return raw.reshape(rows, blocks_per_row * block_bytes)


def plain_tensor(rng, qtype, rows, cols):
    size = 4 if qtype == T.F32 else 2
    raw = rng.integers(0, 256, size=(rows, cols * size), dtype=np.uint8)
    # Make sure the specials are there, not only by chance.
    if qtype == T.F16:
        raw.view(np.uint16)[0, : len(SPECIAL_HALVES)] = SPECIAL_HALVES
    elif qtype == T.BF16:
        raw.view(np.uint16)[0, :4] = [0x7FC0, 0x7F81, 0xFF80, 0x0001]
    else:
        raw.view(np.uint32)[0, :4] = [0x7FC00000, 0x7F800001, 0xFF800000, 1]
    return raw


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261203)
    path = out / "quants.gguf"
    w = gguf.GGUFWriter(str(path), arch="lowbit-test")
    w.add_custom_alignment(64)
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.1)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo")
    w.add_uint64("test.u64", 2**64 - 1)
    w.add_int64("test.i64", -(2**62))
    w.add_float64("test.f64", 0.1)
    w.add_array("test.strings", ["a", "", "bc"])
    w.add_array("test.ints", [1, -2, 3])  # INT32 elements
    w.add_key_value("test.nested", [[1, 2], [3]], V.ARRAY)
    w.add_key_value("test.deep", [[["x"]], [["y", "z"]]], V.ARRAY)

    expected = {}
    for qtype in PLAIN:
        raw = plain_tensor(rng, qtype, 3, 40)
        expected[qtype] = raw
    for qtype in HALF_FIELDS:
        block_elems = gguf.GGML_QUANT_SIZES[qtype][0]
        rows, per_row = (16, 16) if block_elems == 32 else (16, 12)
        expected[qtype] = quant_tensor(rng, qtype, rows, per_row)
    for qtype, raw in expected.items():
        w.add_tensor(f"t.{qtype.name}", raw, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # The reference: what the gguf package reads back and dequantizes.
    reader = gguf.GGUFReader(str(path))
    lines = []
    for t in reader.tensors:
        qtype = T(t.tensor_type)
        with np.errstate(all="ignore"):  # NaN and Inf scales are intended.
            ref = gguf.quants.dequantize(t.data, qtype)
        assert ref.dtype == np.float32, (t.name, ref.dtype)
        assert ref.size == int(t.n_elements), t.name
        (out / f"{qtype.name}.f32").write_bytes(ref.astype("<f4").tobytes())
        dims = " ".join(str(int(d)) for d in t.shape)
        lines.append(f"{t.name} {int(t.tensor_type)} {t.data_offset} "
                     f"{int(t.n_bytes)} {dims}\n")
    (out / "tensors.txt").write_text("".join(lines))


if __name__ == "__main__":
    main()
