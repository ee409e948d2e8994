#!/usr/bin/env python3
"""Checks a bundle lowbit-compile --method none built from a GGUF file.

    check_gguf_keep.py REPORT.json MODEL.gguf [EVAL.json --max-kl X]

REPORT.json is lowbit-compile's --report. For every linear weight of the GGUF
it checks what lowbit-keep-gguf-quants reported: Q4_0, Q4_1 and Q8_0 kept
(and packed by the x86 target at the GGUF size: the same bytes per 32-weight
block, plus only the padding of the 16-row tiles to 64 bytes), other
quantized types either requantized by RTN in groups of 32 (--gguf-requant-bits)
or read dequantized, float types read dequantized. With EVAL.json (lowbit-eval --json against the GGUF)
it checks the KL divergence. Prints one summary line.
"""

import argparse
import json

import gguf

KEPT = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("model")
    ap.add_argument("eval", nargs="?")
    ap.add_argument("--max-kl", type=float, default=1e-6)
    a = ap.parse_args()
    report = json.load(open(a.report))
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(a.model).tensors}
    sizes = {t.name: int(t.n_bytes) for t in gguf.GGUFReader(a.model).tensors}
    kept = requantized = dequantized = 0
    kept_bytes = gguf_bytes = 0
    for layer in report["layers"]:
        if "gguf_type" not in layer:
            continue
        t = layer["gguf_type"]
        assert types[layer["gguf_tensor"]] == t, layer
        if t not in KEPT:
            assert not layer["kept"], layer
            if "requantized" in layer:
                # Quantized types without an exact scheme (Q5_x, k-quants).
                assert t not in ("F32", "F16", "BF16"), layer
                assert layer["requantized"] == "rtn", layer
                assert layer["group_size"] == 32, layer
                requantized += 1
            else:
                dequantized += 1
            continue
        assert layer["kept"], layer
        n, k = layer["shape"]
        tile = (16 * (k // 32) * KEPT[t] + 63) // 64 * 64
        want = (n + 15) // 16 * tile
        assert layer["packed_bytes"] == want, (layer, want)
        # Bits per weight: the packed bytes over the weights, which is the
        # GGUF type's own figure (4.5, 5, 8.5) where no tile is padded.
        bpw = layer["bits_per_weight"]
        assert abs(bpw - 8 * want / (n * k)) < 1e-9, (layer, want)
        if n % 16 == 0 and tile == 16 * (k // 32) * KEPT[t]:
            assert bpw == KEPT[t] * 8 / 32, layer
        kept += 1
        kept_bytes += layer["packed_bytes"]
        gguf_bytes += sizes[layer["gguf_tensor"]]
    assert kept + requantized > 0
    # The totals: every quantized weight's stored bytes over its weights,
    # and with the float tensors (stored as f32) for the whole model.
    packed = [(l["packed_bytes"], l["weights"])
              for l in report["layers"] if "packed_bytes" in l]
    for layer in report["layers"]:
        if "shape" in layer and "packed_bytes" in layer:
            assert layer["weights"] == layer["shape"][0] * layer["shape"][1]
    q_bytes = sum(b for b, _ in packed)
    q_weights = sum(w for _, w in packed)
    assert report["weights"]["quantized"] == q_weights, report["weights"]
    totals = report["bits_per_weight"]
    assert abs(totals["quantized_linears"] - 8 * q_bytes / q_weights) < 1e-9
    f_bytes = report["sizes"]["float_weight_bytes"]
    assert f_bytes == 4 * report["weights"]["float"], report["sizes"]
    model = 8 * (q_bytes + f_bytes) / (q_weights + report["weights"]["float"])
    assert abs(totals["model"] - model) < 1e-9, (totals, model)
    line = (f"kept {kept} weights ({kept_bytes} bytes packed, {gguf_bytes} "
            f"in the GGUF), ")
    if requantized:
        line += f"requantized {requantized}, "
    line += f"dequantized {dequantized}"
    if a.eval:
        kl = json.load(open(a.eval))["kl"]
        assert kl <= a.max_kl, (kl, a.max_kl)
        line += f"; KL {kl:.3g} <= {a.max_kl:g}"
    line += (f"; {totals['quantized_linears']:.3f} bits per quantized weight, "
             f"{totals['model']:.3f} for the model")
    print(line)


if __name__ == "__main__":
    main()
