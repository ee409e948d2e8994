#!/usr/bin/env python3
"""Peak memory of block-by-block GPTQ calibration does not grow with depth.

Builds two synthetic checkpoints of the same width, one with few and one with
many decoder blocks, runs `lowbit-compile --method gptq` on each with the
same calibration set, and samples the process's anonymous resident memory
(RssAnon, so memory-mapped checkpoint pages that the kernel can drop are not
counted) every 20 ms. Prints both peaks, the bound of docs/calibration.md
computed for the shape, and the ratio deep/shallow (the baseline measured in
the same run). Usage: bench/calib_memory_bench.py [--build build]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
ap.add_argument("--hidden", type=int, default=512)
ap.add_argument("--intermediate", type=int, default=1376)
ap.add_argument("--layers", type=int, nargs=2, default=[2, 8])
ap.add_argument("--rows", type=int, default=32)
ap.add_argument("--seqlen", type=int, default=256)
args = ap.parse_args()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
compile_bin = os.path.join(root, args.build, "bin", "lowbit-compile")
work = tempfile.mkdtemp(prefix="lowbit-calib-mem-")
vocab = 4096

tokens = os.path.join(work, "calib.bin")
with open(tokens, "wb") as f:
    n = args.rows * args.seqlen
    f.write(struct.pack("<%di" % n, *[(i * 7919 + 13) % (vocab - 3) + 3 for i in range(n)]))


def peak_anon_mb(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    status = f"/proc/{proc.pid}/status"
    while proc.poll() is None:
        try:
            for line in open(status):
                if line.startswith("RssAnon:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    err = proc.stderr.read().decode()
    if proc.returncode != 0:
        sys.exit(f"lowbit-compile failed:\n{err}")
    return peak / 1024.0


results = []
for layers in args.layers:
    model = os.path.join(work, f"m{layers}")
    subprocess.check_call([sys.executable, os.path.join(root, "examples", "make_synthetic_model.py"),
                           "--out", model, "--hidden", str(args.hidden), "--intermediate",
                           str(args.intermediate), "--layers", str(layers), "--heads", "8",
                           "--kv-heads", "8", "--vocab", str(vocab), "--max-pos", "1024",
                           "--no-tied", "--quiet"])
    t0 = time.time()
    peak = peak_anon_mb([compile_bin, model, "--method", "gptq", "--bits", "4", "--group-size", "128",
                         "--calib", tokens, "--nsamples", str(args.rows), "--seqlen", str(args.seqlen),
                         "-o", os.path.join(work, f"q{layers}")])
    weights = (4 * args.hidden ** 2 + 3 * args.hidden * args.intermediate) * layers + 2 * vocab * args.hidden
    results.append({"layers": layers, "peak_anon_mb": peak, "weights_f32_mb": weights * 4 / 2**20,
                    "seconds": time.time() - t0})

h, i, r, s = args.hidden, args.intermediate, args.rows, args.seqlen
block_weights = 4 * h * h + 3 * h * i
# Block inputs (R*S*H) and the rows paused in parts at down_proj (the
# residual stream and down_proj's input, R*S*(H + I)).
bound_floats = r * s * (2 * h + i) + block_weights + 2 * (h * h + i * i) + 2 * vocab * h + 4 * s * i
bound_mb = bound_floats * 4 / 2**20
print(f"{'layers':>6} {'f32 weights MB':>15} {'peak anon MB':>13} {'seconds':>8}")
for x in results:
    print(f"{x['layers']:>6} {x['weights_f32_mb']:>15.1f} {x['peak_anon_mb']:>13.1f} {x['seconds']:>8.1f}")
ratio = results[1]["peak_anon_mb"] / results[0]["peak_anon_mb"]
wratio = results[1]["weights_f32_mb"] / results[0]["weights_f32_mb"]
print(f"deep/shallow peak ratio {ratio:.2f} (weights ratio {wratio:.2f}); "
      f"bound of docs/calibration.md for this shape: {bound_mb:.1f} MB of data "
      f"(activations, one block's weights, Hessians, embedding/lm_head) + process baseline")
print(json.dumps({"results": results, "bound_mb": bound_mb, "peak_ratio": ratio, "weights_ratio": wratio}))
