#!/usr/bin/env python3
"""GPTQ calibration speed on a real model: seconds per block, fraction of peak.

Issue 13 (fast calibration) asks for GPTQ w4 g32 on SmolLM2-135M with 128 x
256 calibration tokens in <= 120 s on 2 threads, with the calibration forward
at >= 50% of the sgemm peak measured in the same run. This script measures it
in one run:

  * sgemm peak: `lowbit-gptq-bench` (OpenBLAS sgemm 4096^3, best of 3 before
    and 3 after a small Hessian run), the same BLAS the executor calls.
  * lowbit: `lowbit-compile GGUF --method gptq --bits 4 --group-size 32
    --calib TEXT --nsamples 128 --seqlen 256 --emit quantized` (no lowering:
    the calibration only), wall time, peak RSS, and each block's seconds with
    their split into forward / Hessian / GPTQ solve from the progress lines.
  * --baseline BIN: the same command with another lowbit-compile (e.g. a
    build of an earlier commit) in the same run, for a before/after ratio.

Work counted per block (2 flops per multiply-add): the block's linears on
every calibration token (2 * tokens * sum N*K), attention scores and values
(4 * rows * S(S+1)/2 * heads * head_dim), and the Hessians (tokens * K^2 per
distinct linear input). Each op is counted once, as a single forward computes
it. "fraction of peak" = that work / (block seconds * sgemm peak): the whole
block, solve and elementwise ops included, so it is a lower bound of the
GEMMs' own efficiency.

Calibration text: examples/calib-en.txt and examples/calib.txt repeated until
the rows are full (timing does not depend on the text; quality does, which is
bench/quant_quality_vs_llamacpp.py's subject). The layers' mean GPTQ relative
output error is printed so a change in quality shows.

usage: bench/calib_speed.py [--gguf PATH] [--build build] [--nsamples 128]
           [--seqlen 256] [--threads 2] [--baseline BIN] [--json]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = re.compile(
    r"lowbit-gptq: block (\d+)/(\d+) quantized \(\d+ layers, ([0-9.]+) s"
    r"(?:: forward ([0-9.]+) s, hessian ([0-9.]+) s, solve ([0-9.]+) s)?\)")


def sgemm_peak(build, threads):
    exe = os.path.join(ROOT, build, "bench", "lowbit-gptq-bench")
    out = subprocess.run([exe, "--rows=2048", "--skip-error",
                          f"--threads={threads}"], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("{"):
            return json.loads(line)["sgemm_peak_gflops"]
    sys.exit("lowbit-gptq-bench printed no JSON line:\n" + out)


def run_gptq(compile_bin, gguf, calib, args, work, tag):
    out = os.path.join(work, f"q-{tag}")
    report = os.path.join(work, f"report-{tag}.json")
    cmd = [compile_bin, gguf, "--method", "gptq", "--bits", "4",
           "--group-size", "32", "--calib", calib,
           "--nsamples", str(args.nsamples), "--seqlen", str(args.seqlen),
           "--emit", "quantized", "-o", out, "--report", report]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    log = os.path.join(work, f"stderr-{tag}.txt")
    start = time.monotonic()
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                                env=env)
        # wait4 gives this child's own peak RSS (KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    stderr = open(log).read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{stderr}")
    blocks = []
    for m in BLOCK.finditer(stderr):
        blocks.append({k: float(v) if v is not None else None for k, v in zip(
            ("block", "of", "s", "forward_s", "hessian_s", "solve_s"),
            m.groups())})
    if not blocks:
        sys.exit("no block progress lines in lowbit-compile's output:\n" +
                 stderr)
    layers = json.load(open(report))["layers"]
    errors = [l["rel_output_error"] for l in layers if "rel_output_error" in l]
    return {"wall_s": wall, "blocks": blocks, "layers": layers,
            "mean_rel_output_error": sum(errors) / max(len(errors), 1),
            "peak_rss_mb": usage.ru_maxrss / 1024.0}


def block_flops(layers, nblocks, rows, seqlen, heads, head_dim):
    """Flops of one block's forward and Hessians (see the module doc)."""
    tokens = rows * seqlen
    per_block = {}
    for l in layers:
        m = re.search(r"layers\.(\d+)\.", l["name"])
        if not m:
            continue
        per_block.setdefault(int(m.group(1)), []).append(l)
    flops = []
    for b in range(nblocks):
        ls = per_block.get(b, [])
        linear = sum(2.0 * tokens * l["shape"][0] * l["shape"][1] for l in ls)
        # Distinct inputs: q/k/v share one, gate/up another.
        inputs = {}
        for l in ls:
            key = re.sub(r"(gate|up)_proj", "gate_up",
                         re.sub(r"[qkv]_proj", "qkv", l["name"]))
            inputs.setdefault(key, l["shape"][1])
        hessian = sum(tokens * k * k for k in inputs.values())
        attention = 4.0 * rows * seqlen * (seqlen + 1) / 2 * heads * head_dim
        flops.append({"linear": linear, "hessian": hessian,
                      "attention": attention})
    return flops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", default=os.environ.get("LOWBIT_SMOLLM2_GGUF"))
    ap.add_argument("--build", default="build")
    ap.add_argument("--nsamples", type=int, default=128)
    ap.add_argument("--seqlen", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--heads", type=int, default=9,
                    help="query heads (SmolLM2-135M: 9)")
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--baseline", help="another lowbit-compile to time too")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.gguf or not os.path.exists(args.gguf):
        sys.exit("no GGUF: pass --gguf or set LOWBIT_SMOLLM2_GGUF (see "
                 "scripts/quickstart.sh for fetching SmolLM2)")
    work = tempfile.mkdtemp(prefix="lowbit-calib-speed-")
    text = "".join(open(os.path.join(ROOT, "examples", f)).read()
                   for f in ("calib-en.txt", "calib.txt"))
    # ~3 characters per token is a safe floor for English BPE.
    need = args.nsamples * args.seqlen * 4
    calib = os.path.join(work, "calib.txt")
    with open(calib, "w") as f:
        f.write((text + "\n") * (need // len(text) + 1))

    peak = sgemm_peak(args.build, args.threads)
    runs = {"lowbit": run_gptq(os.path.join(ROOT, args.build, "bin",
                                            "lowbit-compile"),
                               args.gguf, calib, args, work, "lowbit")}
    if args.baseline:
        runs["baseline"] = run_gptq(args.baseline, args.gguf, calib, args,
                                    work, "baseline")
    peak_after = sgemm_peak(args.build, args.threads)
    peak = max(peak, peak_after)

    result = {"bench": "calib_speed", "gguf": os.path.basename(args.gguf),
              "rows": args.nsamples, "seqlen": args.seqlen,
              "threads": args.threads, "sgemm_peak_gflops": peak}
    for tag, r in runs.items():
        nblocks = len(r["blocks"])
        fl = block_flops(r["layers"], nblocks, args.nsamples, args.seqlen,
                         args.heads, args.head_dim)
        work_flops = sum(f["linear"] + f["hessian"] + f["attention"]
                         for f in fl)
        block_s = sum(b["s"] for b in r["blocks"])
        fwd = [b["forward_s"] for b in r["blocks"] if b["forward_s"]]
        forward_flops = sum(f["linear"] + f["attention"] for f in fl)
        entry = {
            "wall_s": round(r["wall_s"], 2),
            "blocks_s": round(block_s, 2),
            "s_per_block": round(block_s / nblocks, 3),
            "fraction_of_peak": round(work_flops / block_s / 1e9 / peak, 3),
            "mean_rel_output_error": r["mean_rel_output_error"],
            "peak_rss_mb": round(r["peak_rss_mb"], 1),
        }
        if len(fwd) == nblocks:
            entry["forward_s_per_block"] = round(sum(fwd) / nblocks, 3)
            entry["forward_fraction_of_peak"] = round(
                forward_flops / sum(fwd) / 1e9 / peak, 3)
            entry["hessian_s_per_block"] = round(
                sum(b["hessian_s"] for b in r["blocks"]) / nblocks, 3)
            entry["solve_s_per_block"] = round(
                sum(b["solve_s"] for b in r["blocks"]) / nblocks, 3)
        result[tag] = entry
    if "baseline" in result:
        result["speedup_vs_baseline"] = round(
            result["baseline"]["wall_s"] / result["lowbit"]["wall_s"], 2)

    if args.json:
        print(json.dumps(result))
        return
    print(f"sgemm peak (OpenBLAS, {args.threads} threads): {peak:.1f} GFLOP/s")
    for tag in runs:
        e = result[tag]
        print(f"{tag}: {e['wall_s']:.1f} s wall, {e['s_per_block']:.2f} s per "
              f"block ({e['fraction_of_peak']:.0%} of the sgemm peak over the "
              f"whole block), peak RSS {e['peak_rss_mb']} MB, mean layer "
              f"rel. output error {e['mean_rel_output_error']:.5f}")
        if "forward_s_per_block" in e:
            print(f"  per block: forward {e['forward_s_per_block']:.2f} s "
                  f"({e['forward_fraction_of_peak']:.0%} of peak), Hessian "
                  f"{e['hessian_s_per_block']:.2f} s, solve "
                  f"{e['solve_s_per_block']:.2f} s")
    if "speedup_vs_baseline" in result:
        print(f"lowbit vs baseline: {result['speedup_vs_baseline']:.2f}x "
              "faster (wall)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
