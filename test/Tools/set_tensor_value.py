#!/usr/bin/env python3
"""Overwrites elements of a tensor in a safetensors file, in place.

    set_tensor_value.py FILE TENSOR INDEX VALUE [INDEX VALUE ...]

INDEX is the flat element index; VALUE a float ("nan", "inf", "-inf",
"1e30", ...) stored in the tensor's dtype (F32, F16 or BF16). Used by the
lit tests to plant non-finite and out-of-range weights.
"""
import json
import struct
import sys


def encode(dtype, value):
    if dtype == "F32":
        return struct.pack("<f", value)
    if dtype == "F16":
        return struct.pack("<e", value)
    if dtype == "BF16":
        return struct.pack("<f", value)[2:]
    sys.exit(f"unsupported dtype {dtype}")


def main():
    path, name = sys.argv[1], sys.argv[2]
    pairs = sys.argv[3:]
    if not pairs or len(pairs) % 2:
        sys.exit(__doc__)
    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        info = header[name]
        size = {"F32": 4, "F16": 2, "BF16": 2}[info["dtype"]]
        begin, end = info["data_offsets"]
        for i in range(0, len(pairs), 2):
            index, value = int(pairs[i]), float(pairs[i + 1])
            if not 0 <= index < (end - begin) // size:
                sys.exit(f"index {index} outside {name}")
            f.seek(8 + n + begin + index * size)
            f.write(encode(info["dtype"], value))


if __name__ == "__main__":
    main()
