#!/usr/bin/env python3
"""Writes the seed corpus of CalibrationFuzzer into corpus/calibration.

Each seed is 4 option bytes (mode: bit 0 = text; sequence length; sample
count as int8; seed) followed by the file contents (see CalibrationFuzzer.cpp).
"""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus", "calibration")
os.makedirs(out, exist_ok=True)


def tokens(ids):
    return struct.pack("<%di" % len(ids), *ids)


seeds = {
    "tokens_all_rows": bytes([0, 4, 0, 0]) + tokens(range(16)),
    "tokens_sampled": bytes([0, 3, 2, 7]) + tokens(range(100, 130)),
    "tokens_partial_row": bytes([0, 5, 1, 1]) + tokens([1, 2, 3, 4, 5, 6, 7]),
    "tokens_odd_size": bytes([0, 2, 0, 0]) + tokens([1, 2, 3]) + b"\x01",
    "tokens_negative_ids": bytes([0, 2, 0, 0]) + tokens([-1, 0x7FFFFFFF, 5, 9]),
    "tokens_short_seqlen": bytes([0, 1, 0, 0]) + tokens([1, 2, 3, 4]),
    "tokens_negative_count": bytes([0, 2, 0xFF, 0]) + tokens([1, 2, 3, 4]),
    "text_story": bytes([1, 8, 3, 5]) + b"Once upon a time there was a little "
    b"girl who liked the sun and the sea.\nShe went on a walk in the park.",
    "text_utf8": bytes([1, 2, 0, 0]) + "caf\u00e9 \u2581 na\u00efve \u00fc".encode(),
    "text_bytes": bytes([1, 2, 0, 0]) + bytes(range(256)),
    "text_too_short": bytes([1, 200, 0, 0]) + b"hi",
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
