#!/usr/bin/env python3
"""Writes the GGUF block references of the codec and x86 kernel tests.

For each of Q4_0, Q4_1 and Q8_0, OUT_DIR/<TYPE>.bin holds (little-endian):

  int64 N, K, B
  uint8 blocks[N * K / 32 * block_bytes]   gguf.quants.quantize of random
        weights (rows of different magnitudes), then the f16 scale (and Q4_1
        minimum) fields of some blocks replaced by special finite values:
        the smallest and largest subnormals, +-0, the largest finite value,
        negative scales
  float32 W[N * K]   gguf.quants.dequantize of those blocks (the reference)
  float32 x[B * K]   random activations with a few outliers
  float64 y[B * N]   x @ W.T in float64

Non-finite scales are left out on purpose: lowbit's x86 layout computes
s * q + m, which differs from d * (q - 8) when d is infinite (docs/codecs.md);
bit-exact NaN/Inf dequantization is GgufDequant.* (test/Unit/Support).
"""

import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

BLOCK_BYTES = {T.Q4_0: 18, T.Q4_1: 20, T.Q8_0: 34}
# Byte offsets of the f16 fields of a block (d, and m for Q4_1).
HALF_FIELDS = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q8_0: [0]}
SPECIAL = [0x0001, 0x03FF, 0x8001, 0x0000, 0x8000, 0x7BFF, 0xFBFF, 0xBC00,
           0x1234]

N, K, B = 40, 256, 7


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)
    for t in (T.Q4_0, T.Q4_1, T.Q8_0):
        w = rng.standard_normal((N, K)).astype(np.float32)
        w *= np.exp(rng.uniform(-6, 2, size=(N, 1))).astype(np.float32)
        w[3] += 2.5  # a row with an offset: Q4_1 minimums far from -max
        blocks = quantize(w, t).copy()
        assert blocks.shape == (N, K // 32 * BLOCK_BYTES[t])
        flat = blocks.reshape(-1, BLOCK_BYTES[t])
        # Special values in the first rows' blocks (never all in one row).
        for i, half in enumerate(SPECIAL):
            for j, field in enumerate(HALF_FIELDS[t]):
                v = SPECIAL[(i + 3 * j) % len(SPECIAL)]
                flat[5 * i + j, field:field + 2] = [v & 0xFF, v >> 8]
        ref = dequantize(blocks, t).astype(np.float32)
        assert ref.shape == (N, K) and np.all(np.isfinite(ref))
        x = rng.standard_normal((B, K)).astype(np.float32)
        x[np.arange(B), (np.arange(B) * 7) % K] *= 8.0
        y = x.astype(np.float64) @ ref.astype(np.float64).T
        with open(out / f"{t.name}.bin", "wb") as f:
            f.write(np.array([N, K, B], dtype="<i8").tobytes())
            f.write(blocks.tobytes())
            f.write(ref.astype("<f4").tobytes())
            f.write(x.astype("<f4").tobytes())
            f.write(y.astype("<f8").tobytes())


if __name__ == "__main__":
    main()
