#!/usr/bin/env python3
# ===- check_gptq.py - lowbit GPTQ/RTN vs a NumPy float64 reference ------===#
#
# For several schemes (act-order, static groups, per-channel, symmetric,
# ragged K, groups straddling blocks, MSE range search, f16 scales, dead
# inputs), generates random weights W and correlated calibration inputs X
# with a fixed seed, runs lowbit-gptq-check (which accumulates H from X with
# HessianAccumulator and quantizes with gptqQuantize) and compares with
# gptq_ref.py:
#
#  - H: against 2/n X^T X in float64, max relative error <= 1e-6 of the
#    entry's magnitude scale;
#  - RTN: codes, scales and zero points bit for bit;
#  - GPTQ: the permutation and (static/per-channel) group parameters exactly;
#    codes may differ where float32 and float64 rounding disagree near a
#    rounding boundary (and the difference then propagates along the row):
#    at most MAX_FLIP_FRACTION of them;
#  - the relative reconstruction error tr(D H D^T) / tr(W H W^T) within 1%
#    of the reference's, and the tool's own figure within 1e-6 of NumPy's
#    for the tool's result.
#
# usage: check_gptq.py PATH/TO/lowbit-gptq-check [--keep DIR] [--verbose]
# Exits 77 (CTest "skipped") without numpy or safetensors.
#
# ===----------------------------------------------------------------------===#

import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from safetensors.numpy import load_file, save_file
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gptq_ref  # noqa: E402

MAX_FLIP_FRACTION = 0.005
REL_ERROR_TOLERANCE = 0.01


def correlated_inputs(rng, rows, K, dead=()):
    """Low-rank structure + noise, a few channels with 10x the variance."""
    rank = 8
    A = rng.standard_normal((rank, K))
    Z = rng.standard_normal((rows, rank))
    X = Z @ A + 0.3 * rng.standard_normal((rows, K))
    X[:, ::29] *= 10.0
    X[:, list(dead)] = 0.0
    return X.astype(np.float32)


def weights(rng, N, K):
    W = 0.05 * rng.standard_normal((N, K))
    W[rng.integers(0, N, 5), rng.integers(0, K, 5)] = 0.8  # outliers
    return W.astype(np.float32)


# name, N, K, bits, group size, sym, act-order, static, block, extra
CASES = [
    ("w4_g32", 96, 256, 4, 32, False, False, False, 128, {}),
    ("w4_g32_act", 96, 256, 4, 32, False, True, False, 128, {}),
    ("w4_g32_act_static", 96, 256, 4, 32, False, True, True, 128, {}),
    ("w4_g32_static", 96, 256, 4, 32, False, False, True, 128, {}),
    ("w3_g64_ragged_act", 64, 172, 3, 64, False, True, False, 128, {}),
    ("w4_perchannel_sym", 64, 172, 4, -1, True, False, False, 128, {}),
    ("w4_perchannel_act", 64, 300, 4, -1, False, True, False, 64, {}),
    ("w3_g48_sym_act_straddle", 80, 300, 3, 48, True, True, False, 64, {}),
    ("w2_g16", 64, 128, 2, 16, False, False, False, 32, {}),
    ("w8_g128", 32, 384, 8, 128, False, True, False, 128, {}),
    ("w4_g32_mse_f16", 48, 200, 4, 32, False, False, False, 128,
     {"mse": True, "scale_type": "f16"}),
    ("w4_g32_bf16_sym", 48, 200, 4, 32, True, True, False, 128,
     {"scale_type": "bf16"}),
    ("w4_g32_dead", 64, 160, 4, 32, False, True, False, 64,
     {"dead": (3, 77, 159)}),
]


def run_tool(tool, workdir, name, W, X, method, bits, gs, sym, act, static,
             block, extra):
    inp = os.path.join(workdir, f"{name}_in.safetensors")
    out = os.path.join(workdir, f"{name}_{method}_out.safetensors")
    save_file({"W": W, "X": X}, inp)
    cmd = [tool, inp, out, f"--method={method}", f"--bits={bits}",
           f"--group-size={gs}", f"--block-size={block}"]
    if sym:
        cmd.append("--sym")
    if act:
        cmd.append("--act-order")
    if static:
        cmd.append("--static-groups")
    if extra.get("mse"):
        cmd.append("--mse")
    if "scale_type" in extra:
        cmd.append(f"--scale-type={extra['scale_type']}")
    subprocess.run(cmd, check=True)
    from safetensors import safe_open
    with safe_open(out, "numpy") as f:
        meta = f.metadata() or {}
    return load_file(out), meta


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    keep = None
    if "--keep" in sys.argv:
        keep = sys.argv[sys.argv.index("--keep") + 1]
        os.makedirs(keep, exist_ok=True)
    verbose = "--verbose" in sys.argv
    failures = []
    total_codes = total_flips = 0

    with tempfile.TemporaryDirectory() as tmp:
        workdir = keep or tmp
        for i, (name, N, K, bits, gs, sym, act, static, block,
                extra) in enumerate(CASES):
            rng = np.random.default_rng(1000 + i)
            X = correlated_inputs(rng, 1536, K, extra.get("dead", ()))
            W = weights(rng, N, K)
            kw = {}
            if extra.get("mse"):
                kw["mse"] = True
            kw["scale_type"] = extra.get("scale_type", "f32")

            def fail(msg):
                failures.append(f"{name}: {msg}")
                print(f"FAIL {name}: {msg}")

            # RTN: bit exact.
            r, _ = run_tool(tool, workdir, name, W, X, "rtn", bits, gs, sym,
                            act, static, block, extra)
            rc, rs, rz = gptq_ref.rtn(W, bits, gs, sym, **kw)
            if not np.array_equal(r["codes"], rc):
                fail(f"RTN codes differ at {np.argwhere(r['codes'] != rc)[:5]}")
            if r["scales"].tobytes() != rs.tobytes():
                fail("RTN scales differ")
            if not sym and not np.array_equal(r["zeros"], rz.astype(np.uint8)):
                fail("RTN zero points differ")

            # GPTQ.
            g, meta = run_tool(tool, workdir, name, W, X, "gptq", bits, gs,
                               sym, act, static, block, extra)
            H = g["H"]
            Hd = 2.0 / X.shape[0] * (X.astype(np.float64).T @
                                     X.astype(np.float64))
            scale = np.sqrt(np.outer(np.diag(Hd), np.diag(Hd)))
            scale[scale == 0] = 1
            herr = float(np.max(np.abs(H - Hd) / scale))
            if herr > 1e-6:
                fail(f"H differs from float64 X^T X by {herr:.3g}")

            codes, scales, zeros, perm, loss = gptq_ref.gptq(
                W, H, bits, gs, sym, act, static, **kw)
            if perm is None:
                if "perm" in g:
                    fail("unexpected permutation")
            elif "perm" not in g or not np.array_equal(g["perm"], perm):
                fail("permutation differs")
            if gs == -1 or static:
                if g["scales"].tobytes() != scales.tobytes():
                    fail("fixed scales differ")
                if not sym and not np.array_equal(g["zeros"],
                                                  zeros.astype(np.uint8)):
                    fail("fixed zero points differ")
            if sym and "zeros" in g:
                fail("symmetric result stores zero points")

            flips = int(np.count_nonzero(g["codes"] != codes))
            fraction = flips / codes.size
            total_flips += flips
            total_codes += codes.size
            Qref = gptq_ref.dequantize(codes, scales, zeros, gs, perm)
            Q = g["dequant"]
            Qcheck = gptq_ref.dequantize(
                g["codes"], g["scales"],
                g["zeros"].astype(np.float32) if "zeros" in g
                else np.full_like(g["scales"], 2**(bits - 1)),
                gs, g.get("perm"))
            if not np.array_equal(Q, Qcheck):
                fail("the tool's dequantization differs from NumPy's")
            err_ref = gptq_ref.relative_error(W, Qref, H)
            err = gptq_ref.relative_error(W, Q, H)
            err_tool = float(meta["relative_error"])
            Qr = gptq_ref.dequantize(rc, rs, rz, gs, None)
            err_rtn = gptq_ref.relative_error(W, Qr, H)
            line = (f"{name:26s} flips {flips:5d}/{codes.size} "
                    f"({100 * fraction:.3f}%)  rel.err C++ {err:.6f} "
                    f"numpy {err_ref:.6f} (RTN {err_rtn:.6f})  loss "
                    f"{float(meta['loss']):.4g} vs {loss:.4g}")
            print(line)
            if fraction > MAX_FLIP_FRACTION:
                fail(f"{100 * fraction:.3f}% of codes differ "
                     f"(> {100 * MAX_FLIP_FRACTION}%)")
            if abs(err - err_ref) > REL_ERROR_TOLERANCE * err_ref:
                fail(f"relative error {err:.6g} vs reference {err_ref:.6g}")
            if abs(err_tool - err) > 1e-6 * err:
                fail(f"tool reports relative error {err_tool:.9g}, NumPy "
                     f"computes {err:.9g}")
            if not err < err_rtn:
                fail(f"GPTQ ({err:.6g}) is not better than RTN "
                     f"({err_rtn:.6g})")
            if "dead" in extra:
                if int(meta["dead_columns"]) != len(extra["dead"]):
                    fail("dead column count")
                if np.any(Q[:, list(extra["dead"])] != 0):
                    fail("dead columns not quantized to 0")
            if verbose:
                print(f"   scales equal: "
                      f"{np.mean(g['scales'] == scales) * 100:.2f}%")

    print(f"overall: {total_flips}/{total_codes} codes differ "
          f"({100 * total_flips / total_codes:.4f}%)")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all GPTQ/RTN checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
