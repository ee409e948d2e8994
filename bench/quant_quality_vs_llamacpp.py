#!/usr/bin/env python3
"""Quantization quality: lowbit's GPTQ / RTN vs llama.cpp's Q4_0 / IQ4_NL.

Issue 12 asks whether "GPTQ 4-bit from the dequantized weights has lower KL
than llama.cpp's Q4_0 and IQ4_NL of the same weights at equal or lower bits
per weight". This script answers it on one GGUF (default: SmolLM2-135M-
Instruct Q4_1 from $LOWBIT_SMOLLM2_GGUF) in one run:

  * Reference: the GGUF's weights dequantized to FP32, run by lowbit's FP32
    reference executor (`lowbit-eval --model X.gguf --ids ... --dump-logits`,
    bench/e2e_vs_llamacpp.py's reference_logits()).
  * llama.cpp: the dequantized weights written as an F32 GGUF (the `gguf`
    package's dequantize + GGUFWriter, metadata and tokenizer copied), then
    requantized by llama.cpp's own `llama_model_quantize` to each of
    --llama-types (default Q4_0, IQ4_NL, Q4_K_M) with its default tensor
    mix (the output / tied embedding tensor gets the type llama.cpp picks;
    the table reports it) and no imatrix. Logits from llama-cpp-python
    (`logits_all=True`). Two controls: the F32 GGUF (engine agreement) and
    the original GGUF (the same weights as the reference: what remains is
    llama.cpp's own arithmetic, e.g. its 8-bit activations).
  * lowbit: `lowbit-compile GGUF` (lowbit dequantizes the GGUF itself) with
    each --lowbit-variant (default: RTN and GPTQ, 4-bit symmetric, groups of
    32 and 128, f16 scales, GPTQ also with --act-order, output projection
    8-bit RTN, plus `--method none` as a control), evaluated by `lowbit-eval
    --model BUNDLE --ids ... --dump-logits` (the runtime's x86 kernels, float
    activations). GPTQ calibrates on --calib (default examples/calib-en.txt
    and examples/calib.txt, concatenated), with lowbit-compile's default
    --nsamples / --seqlen (capped by the text's length; the output says how
    many rows were used).
  * Cross-check: the llama.cpp GGUFs also run by lowbit's reference
    executor when lowbit-import reads their tensor types (weights only, float
    activations, so the weight error is compared without llama.cpp's
    activation quantization).

Held-out evaluation text, never used for calibration: examples/eval.txt,
test/Compile/Inputs/smollm2-eval.txt and the prompt text of
bench/e2e_vs_llamacpp.py, each tokenized by llama.cpp's tokenizer of the
GGUF (no BOS: the GGUF says add_bos_token false) and cut into windows of
at most --window tokens (a tail under 32 tokens is dropped). KL(ref || q) and
top-1 agreement are averaged over all positions of all windows.

Bits per weight: llama.cpp's from the GGUF's tensor types (bytes of the
tensor / elements: Q4_0 and IQ4_NL 4.5, Q8_0 8.5, Q6_K 6.5625, ...); lowbit's
from the compile report (`--report`: packed bytes = codes + scales + zero
points of each layer). "linears" are the 7 projections of every block;
"head" is the output projection (here the tied embedding table, which is
also the token lookup in both engines). "wt err" is sum ||W - Q||^2 /
sum ||W||^2 over the linears: for llama.cpp from its GGUF dequantized
against the F32 GGUF, for lowbit RTN from the report's weight_rel_error
(GPTQ reports output errors instead, so it has none).

Everything big (the F32 and quantized GGUFs, bundles, reports, logits) is
cached in --cache (default ~/.cache/lowbit-quality), never in the
checkout; a rerun reuses it. llama.cpp is llama-cpp-python (see
bench/e2e_vs_llamacpp.py for the native build); without it, or without the
GGUF, the script exits with a message saying so.

usage: bench/quant_quality_vs_llamacpp.py [--gguf PATH] [--cache DIR]
           [--build build] [--threads 2] [--window 512]
           [--calib FILE[,FILE...]] [--eval FILE[,FILE...]]
           [--llama-types Q4_0,IQ4_NL,Q4_K_M] [--lowbit-variant NAME=ARGS]...
           [--json FILE]

In --lowbit-variant ARGS, {calib} stands for the calibration file.
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, BENCH)
import e2e_vs_llamacpp as e2e  # noqa: E402  (the shared helpers)

W4 = "--bits 4 --sym --scale-type f16 --lm-head-bits 8"
DEFAULT_VARIANTS = [
    ("none (GGUF blocks kept)", "--method none"),
    ("rtn g32", f"--method rtn --group-size 32 {W4}"),
    ("gptq g32", f"--method gptq --group-size 32 {W4} --calib {{calib}}"),
    ("gptq g32 act-order",
     f"--method gptq --group-size 32 {W4} --act-order --calib {{calib}}"),
    ("rtn g128", f"--method rtn --group-size 128 {W4}"),
    ("gptq g128", f"--method gptq --group-size 128 {W4} --calib {{calib}}"),
]
DEFAULT_CALIB = "examples/calib-en.txt,examples/calib.txt"
DEFAULT_EVAL = "examples/eval.txt,test/Compile/Inputs/smollm2-eval.txt,e2e:TEXT"
LINEAR_SUFFIXES = ("attn_q.weight", "attn_k.weight", "attn_v.weight",
                   "attn_output.weight", "ffn_gate.weight", "ffn_up.weight",
                   "ffn_down.weight")
MIN_WINDOW = 32


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# GGUF files.
# ---------------------------------------------------------------------------


def write_f32_gguf(src, dst):
    """Every tensor of `src` dequantized to F32 (the `gguf` package), the
    metadata copied, general.file_type set to ALL_F32."""
    import gguf
    import numpy as np
    r = gguf.GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    tmp = dst + ".tmp"
    w = gguf.GGUFWriter(tmp, arch)
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name in (
                "general.architecture", "general.alignment"):
            continue
        if f.name == "general.file_type":
            w.add_file_type(int(gguf.LlamaFileType.ALL_F32))
            continue
        vtype = f.types[0]
        sub = f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(f.name, f.contents(), vtype, sub)
    for t in r.tensors:
        a = gguf.quants.dequantize(t.data, t.tensor_type)
        a = np.ascontiguousarray(a, dtype=np.float32)
        want = tuple(int(d) for d in reversed(t.shape))
        if a.shape != want:
            a = a.reshape(want)
        w.add_tensor(t.name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, dst)


def gguf_bpw(path):
    """{linears: bpw, head: bpw, head_type, linear_types} from the tensor
    types of a GGUF."""
    import gguf
    r = gguf.GGUFReader(path)
    lin_bits = lin_n = 0
    lin_types = {}
    head = None
    names = {t.name for t in r.tensors}
    head_name = ("output.weight" if "output.weight" in names
                 else "token_embd.weight")
    for t in r.tensors:
        n = int(t.n_elements)
        bits = int(t.n_bytes) * 8
        if t.name.endswith(LINEAR_SUFFIXES) and t.name.startswith("blk."):
            lin_bits += bits
            lin_n += n
            ty = t.tensor_type.name
            lin_types[ty] = lin_types.get(ty, 0) + n
        if t.name == head_name:
            head = (bits / n, t.tensor_type.name)
    return {"linears": lin_bits / lin_n,
            "linear_types": {k: v / lin_n for k, v in lin_types.items()},
            "head": head[0], "head_type": head[1] + (
                " (tied embd)" if head_name == "token_embd.weight"
                else "")}


def report_bpw(report_path, src_gguf):
    """Bits per weight of a lowbit bundle from its compile report."""
    with open(report_path) as f:
        rep = json.load(f)
    lin_bits = lin_n = 0
    head = None
    for layer in rep.get("layers", []):
        if "bits_per_weight" in layer:
            # As the bundle stores it: codes, scales, zero points or
            # offsets, tile padding and any act-order permutation.
            n = layer["weights"]
            bits = layer["bits_per_weight"] * n
        elif "shape" in layer:
            # A linear the bundle keeps in f32 (skipped by an override, or
            # a GGUF weight read dequantized).
            n = layer["shape"][0] * layer["shape"][1]
            bits = 32 * n
        else:
            continue
        if layer["name"] == "lm_head":
            head = (bits / n, f"{layer['gguf_type']} (GGUF's, kept)"
                    if "gguf_type" in layer else
                    f"int{layer['bits']} g{layer['group_size']} (RTN)")
        else:
            lin_bits += bits
            lin_n += n
    if lin_n == 0:
        # --method none keeps the GGUF's blocks: the GGUF's own figures.
        g = gguf_bpw(src_gguf)
        return {"linears": g["linears"], "head": g["head"],
                "head_type": g["head_type"] + ", kept",
                "from": "the source GGUF (blocks kept)"}
    if head is None:
        return {"linears": lin_bits / lin_n, "head": 32.0,
                "head_type": "f32", "from": "report"}
    return {"linears": lin_bits / lin_n, "head": head[0],
            "head_type": head[1], "from": "report"}


def linear_tensors(path):
    """{GGUF name: tensor} of the block linears of a GGUF."""
    import gguf
    return {t.name: t for t in gguf.GGUFReader(path).tensors
            if t.name.startswith("blk.") and t.name.endswith(LINEAR_SUFFIXES)}


def weight_sq_norms(cache, f32):
    """{GGUF name: sum of squares} of the F32 GGUF's linears (cached)."""
    import numpy as np
    out = os.path.join(cache, f"sqnorms-{e2e.file_key(f32)}.json")
    if not os.path.exists(out):
        norms = {n: float(np.square(np.asarray(t.data, dtype=np.float64))
                          .sum()) for n, t in linear_tensors(f32).items()}
        with open(out + ".tmp", "w") as f:
            json.dump(norms, f)
        os.replace(out + ".tmp", out)
    with open(out) as f:
        return json.load(f)


def gguf_weight_error(cache, f32, q):
    """sum ||W - Q||^2 / sum ||W||^2 over the linears of GGUF `q` against the
    F32 GGUF (same tensor layout, so elementwise), cached."""
    import gguf
    import numpy as np
    out = os.path.join(cache, f"wterr-{e2e.file_key(f32, q)}.json")
    if not os.path.exists(out):
        ref = linear_tensors(f32)
        num = 0.0
        for name, t in linear_tensors(q).items():
            w = np.asarray(ref[name].data, dtype=np.float64)
            d = gguf.quants.dequantize(t.data, t.tensor_type).reshape(w.shape)
            num += float(np.square(w - d).sum())
        den = sum(weight_sq_norms(cache, f32).values())
        with open(out + ".tmp", "w") as f:
            json.dump({"rel_error": num / den}, f)
        os.replace(out + ".tmp", out)
    with open(out) as f:
        return json.load(f)["rel_error"]


def report_weight_error(report_path, norms):
    """The same figure from a lowbit report's per-layer weight_rel_error
    (||W - Q||^2 / ||W||^2, written by RTN), weighted by ||W||^2; None when
    a layer lacks it (GPTQ reports output errors instead)."""
    import gguf_models
    hf_to_gguf = {k[:-len(".weight")]: v for k, v in
                  gguf_models.LAYER_NAMES.items()}
    with open(report_path) as f:
        rep = json.load(f)
    num = den = 0.0
    for layer in rep.get("layers", []):
        if layer["name"] == "lm_head":
            continue
        if layer.get("kept"):  # the GGUF's own blocks: no error
            layer = {**layer, "weight_rel_error": 0.0}
        if "weight_rel_error" not in layer:
            return None
        _, _, idx, rest = layer["name"].split(".", 3)  # model.layers.N.x
        d = norms[f"blk.{idx}.{hf_to_gguf[rest]}"]
        num += layer["weight_rel_error"] * d
        den += d
    return num / den if den else None


# ---------------------------------------------------------------------------
# Logits.
# ---------------------------------------------------------------------------


def cached_logits(cache, key, make):
    import numpy as np
    out = os.path.join(cache, "logits", key + ".npy")
    if not os.path.exists(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        tmp = out + ".tmp.npy"
        make(tmp)
        os.replace(tmp, out)
    return np.load(out)


def llama_logits(args, cache, work, gguf_path, window):
    import llama_cpp

    def make(tmp):
        e2e.in_child("llama", {"job": "logits", "gguf": gguf_path,
                               "tokens": window, "prefill": len(window),
                               "decode": 0, "threads": args.threads,
                               "out": tmp}, work)
    key = "llama-" + e2e.file_key(
        gguf_path, extra=json.dumps(window) + llama_cpp.__version__)
    return cached_logits(cache, key, make)


def lowbit_eval_logits(args, cache, model, window):
    exe = os.path.join(args.build, "bin", "lowbit-eval")
    lib = os.path.join(args.build, "lib", "liblowbit_rt.so")

    def make(tmp):
        st = tmp + ".safetensors"
        ids = ",".join(map(str, window))
        log(f"+ {exe} --model {model} --num-threads {args.threads} --ids "
            f"<{len(window)} ids> --dump-logits {st}")
        subprocess.run([exe, "--model", model, "--num-threads",
                        str(args.threads), "--ids", ids, "--dump-logits", st],
                       check=True, stdout=subprocess.DEVNULL)
        from safetensors.numpy import load_file
        import numpy as np
        t = load_file(st)
        assert list(t["tokens"]) == window, "lowbit-eval tokens differ"
        np.save(tmp, t["logits"])
        os.unlink(st)
    tools = [exe] + ([lib] if os.path.exists(lib) else [])
    key = "lowbit-" + e2e.file_key(model, extra=json.dumps(window),
                                   tools=tools)
    return cached_logits(cache, key, make)


def score(refs, logits):
    """KL mean and top-1 over all positions of all windows, and per window."""
    per = []
    kl_sum = top_sum = n = 0.0
    for ref, got in zip(refs, logits):
        k, t = e2e.kl_top1(ref, got)
        per.append({"positions": len(ref), "kl": k, "top1": t})
        kl_sum += k * len(ref)
        top_sum += t * len(ref)
        n += len(ref)
    return kl_sum / n, top_sum / n, per


# ---------------------------------------------------------------------------
# lowbit bundles.
# ---------------------------------------------------------------------------


def compile_lowbit(args, cache, src, name, cargs, calib_key):
    """Bundle + report, keyed on the source, the arguments, the calibration
    text and lowbit-compile itself. Returns (bundle, report, info)."""
    exe = os.path.join(args.build, "bin", "lowbit-compile")
    key = e2e.file_key(src, extra=cargs + calib_key, tools=[exe])
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
    d = os.path.join(cache, "bundles")
    out = os.path.join(d, f"{slug}-{key}.lowbit")
    rep = os.path.join(d, f"{slug}-{key}.report.json")
    meta = os.path.join(d, f"{slug}-{key}.compile.json")
    if not (os.path.exists(out) and os.path.exists(rep)
            and os.path.exists(meta)):
        os.makedirs(d, exist_ok=True)
        t0 = time.perf_counter()
        cmd = [exe, src, *shlex.split(cargs), "--target", "x86",
               "--report", rep + ".tmp", "-o", out + ".tmp"]
        log("+ " + " ".join(shlex.quote(str(c)) for c in cmd))
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        sys.stderr.write(r.stderr)
        if r.returncode != 0:
            raise RuntimeError(f"lowbit-compile failed ({r.returncode}) for "
                               f"{name}")
        seconds = time.perf_counter() - t0
        m = re.search(r"using (\d+) rows", r.stderr)
        info = {"compile_s": seconds, "command": " ".join(
            shlex.quote(str(c)) for c in cmd[:-4]),
                "calib_rows": int(m.group(1)) if m else None,
                "stderr_warnings": [ln for ln in r.stderr.splitlines()
                                    if "warning" in ln]}
        with open(meta + ".tmp", "w") as f:
            json.dump(info, f)
        os.replace(rep + ".tmp", rep)
        os.replace(out + ".tmp", out)
        os.replace(meta + ".tmp", meta)
        log(f"compiled {out} in {seconds:.0f} s")
    with open(meta) as f:
        info = json.load(f)
    return out, rep, info


# ---------------------------------------------------------------------------
# Driver.
# ---------------------------------------------------------------------------


def read_texts(spec):
    texts = []
    for item in [s for s in spec.split(",") if s]:
        if item == "e2e:TEXT":
            texts.append(("bench/e2e_vs_llamacpp.py TEXT", e2e.TEXT))
            continue
        path = item if os.path.isabs(item) else os.path.join(ROOT, item)
        with open(path) as f:
            texts.append((item, f.read()))
    return texts


def print_table(rows):
    hdr = (f"{'variant':<29}{'engine':<17}{'bpw lin':>8}{'bpw head':>9}"
           f"  {'head type':<25}{'KL mean':>9}{'top-1':>7}{'wt err':>9}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        we = r["weight_rel_error"]
        print(f"{r['variant']:<29}{r['engine']:<17}"
              f"{r['bpw_linears']:>8.3f}{r['bpw_head']:>9.3f}"
              f"  {r['head_type']:<25}{r['kl']:>9.5f}{r['top1']:>7.3f}"
              + (f"{we:>9.5f}" if we is not None else f"{'-':>9}"))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--gguf", default=os.environ.get("LOWBIT_SMOLLM2_GGUF"),
                    help="the GGUF whose dequantized weights are the "
                         "reference (default $LOWBIT_SMOLLM2_GGUF)")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/lowbit-quality"))
    ap.add_argument("--build", default=os.environ.get(
        "BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--calib", default=DEFAULT_CALIB,
                    help="calibration text file(s), comma-separated, "
                         f"concatenated (default {DEFAULT_CALIB})")
    ap.add_argument("--eval", default=DEFAULT_EVAL,
                    help="held-out text file(s), comma-separated; e2e:TEXT "
                         f"is bench/e2e_vs_llamacpp.py's prompt (default "
                         f"{DEFAULT_EVAL})")
    ap.add_argument("--llama-types", default="Q4_0,IQ4_NL,Q4_K_M",
                    help="llama.cpp ftypes (LLAMA_FTYPE_MOSTLY_<NAME>)")
    ap.add_argument("--lowbit-variant", action="append", default=[],
                    metavar="NAME=ARGS",
                    help="lowbit-compile arguments of one bundle (repeatable;"
                         " {calib} = the calibration file; default: " +
                         "; ".join(f"{n}={a}" for n, a in DEFAULT_VARIANTS)
                         + ")")
    ap.add_argument("--no-crosscheck", action="store_true",
                    help="skip running llama.cpp's GGUFs in lowbit's "
                         "reference executor")
    ap.add_argument("--json", help="also write the JSON result here")
    args = ap.parse_args()

    variants = []
    for v in args.lowbit_variant:
        if "=" not in v:
            ap.error(f"--lowbit-variant {v!r}: expected NAME=ARGS")
        variants.append(tuple(v.split("=", 1)))
    variants = variants or list(DEFAULT_VARIANTS)
    if args.threads < 1 or args.window < MIN_WINDOW:
        ap.error(f"--threads >= 1 and --window >= {MIN_WINDOW}")

    if not args.gguf:
        sys.exit("no GGUF: set LOWBIT_SMOLLM2_GGUF (or --gguf) to "
                 "SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup.sh "
                 "downloads it)")
    if not os.path.exists(args.gguf):
        sys.exit(f"GGUF not found: {args.gguf}")
    lc, why = e2e.llama_cpp_status()
    if lc is None:
        sys.exit(f"llama_cpp not available: {why} (pip install "
                 "llama-cpp-python, built natively: see "
                 "bench/e2e_vs_llamacpp.py --help)")
    try:
        import gguf  # noqa: F401
    except ImportError as ex:
        sys.exit(f"the `gguf` package is not available: {ex} (pip install "
                 "gguf)")
    for p in ("lowbit-compile", "lowbit-eval"):
        if not os.path.exists(os.path.join(args.build, "bin", p)):
            sys.exit(f"{os.path.join(args.build, 'bin', p)} not found: build "
                     "lowbit first")
    args.gguf = os.path.abspath(args.gguf)
    cache = args.cache
    os.makedirs(cache, exist_ok=True)
    t_start = time.perf_counter()
    cpu, flags = e2e.cpu_info()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")
    load0 = e2e.loadavg()
    print(f"machine: {cpu}; {os.cpu_count()} CPUs; {' '.join(flags)}")
    print(f"date {date}; load average before: {load0}")
    print(f"llama-cpp-python {lc.__version__}; threads {args.threads}")
    print(f"model: {args.gguf}")
    sys.stdout.flush()

    with tempfile.TemporaryDirectory(prefix="lowbit-quality-") as work:
        # Held-out windows, tokenized by llama.cpp's tokenizer of the GGUF.
        windows, eval_info = [], []
        for name, text in read_texts(args.eval):
            tok = e2e.in_child("llama", {"job": "tokenize", "gguf": args.gguf,
                                         "text": text, "tokens": [],
                                         "prefill": 0, "decode": 0}, work)
            ids = tok["ids"]
            cut = [ids[i:i + args.window]
                   for i in range(0, len(ids), args.window)]
            kept = [c for c in cut if len(c) >= MIN_WINDOW]
            windows += kept
            eval_info.append({"text": name, "tokens": len(ids),
                              "windows": [len(c) for c in kept],
                              "dropped": len(ids) - sum(map(len, kept))})
        for e in eval_info:
            print(f"eval text {e['text']}: {e['tokens']} tokens -> windows "
                  f"{e['windows']} (dropped {e['dropped']})")
        npos = sum(map(len, windows))
        print(f"evaluation: {len(windows)} windows, {npos} positions")

        # Calibration text (never one of the evaluation texts).
        calib_texts = read_texts(args.calib)
        overlap = {n for n, _ in calib_texts} & {e["text"] for e in eval_info}
        if overlap:
            sys.exit(f"calibration and evaluation share {sorted(overlap)}")
        calib_body = "\n\n".join(t.strip() for _, t in calib_texts) + "\n"
        calib_key = hashlib.sha256(calib_body.encode()).hexdigest()[:16]
        calib_path = os.path.join(cache, f"calib-{calib_key}.txt")
        if not os.path.exists(calib_path):
            with open(calib_path, "w") as f:
                f.write(calib_body)
        ctok = e2e.in_child("llama", {"job": "tokenize", "gguf": args.gguf,
                                      "text": calib_body, "tokens": [],
                                      "prefill": 0, "decode": 0}, work)
        print(f"calibration: {' + '.join(n for n, _ in calib_texts)} -> "
              f"{calib_path} ({len(calib_body)} characters, "
              f"{len(ctok['ids'])} tokens by llama.cpp's tokenizer)")
        sys.stdout.flush()

        # Reference logits: lowbit's FP32 reference executor on the GGUF.
        ref_src, ref_how = e2e.lowbit_source(args, cache, args.gguf, work)
        t0 = time.perf_counter()
        refs = [e2e.reference_logits(args, cache, ref_src, w, len(w))
                for w in windows]
        print(f"reference: lowbit-eval FP32 reference executor on {ref_src} "
              f"({ref_how}); {time.perf_counter() - t0:.0f} s")
        sys.stdout.flush()

        rows = []

        def add(variant, engine, bpw, logits, wterr, extra=None):
            k, t, per = score(refs, logits)
            row = {"variant": variant, "engine": engine,
                   "bpw_linears": bpw["linears"], "bpw_head": bpw["head"],
                   "head_type": bpw["head_type"], "kl": k, "top1": t,
                   "weight_rel_error": wterr, "per_window": per,
                   **(extra or {})}
            rows.append(row)
            log(f"{variant} [{engine}]: KL {k:.5f}, top-1 {t:.3f}, bpw "
                f"{bpw['linears']:.3f} / head {bpw['head']:.3f} "
                f"({bpw['head_type']})")

        # llama.cpp: the F32 GGUF, its requantizations, the original GGUF.
        gdir = os.path.join(cache, "gguf")
        os.makedirs(gdir, exist_ok=True)
        base = os.path.splitext(os.path.basename(args.gguf))[0]
        f32 = os.path.join(gdir, f"{base}-{e2e.file_key(args.gguf)}-F32.gguf")
        if not os.path.exists(f32):
            t0 = time.perf_counter()
            log(f"writing the dequantized weights as {f32}")
            write_f32_gguf(args.gguf, f32)
            log(f"wrote {f32} in {time.perf_counter() - t0:.0f} s")
        llama_ggufs = [("F32 (dequantized)", f32, None)]
        for ty in [t for t in args.llama_types.split(",") if t]:
            q = os.path.join(gdir, f"{base}-{e2e.file_key(f32, extra=lc.__version__)}-{ty}.gguf")
            qs = None
            if not os.path.exists(q):
                t0 = time.perf_counter()
                log(f"llama_model_quantize {f32} -> {ty}")
                e2e.quantize_gguf(f32, q, ty)
                qs = time.perf_counter() - t0
            llama_ggufs.append((ty, q, qs))
        llama_ggufs.append(("original GGUF (ref. weights)", args.gguf,
                            None))
        norms = weight_sq_norms(cache, f32)
        for name, path, qs in llama_ggufs:
            bpw = gguf_bpw(path)
            t0 = time.perf_counter()
            logits = [llama_logits(args, cache, work, path, w)
                      for w in windows]
            wterr = (gguf_weight_error(cache, f32, path) if path != f32
                     else 0.0)
            add(name, "llama.cpp", bpw, logits, wterr,
                {"gguf": path, "gguf_mb": os.path.getsize(path) / 1e6,
                 "linear_types": bpw["linear_types"],
                 "quantize_s": qs, "eval_s": time.perf_counter() - t0})

        # lowbit bundles.
        for name, cargs in variants:
            cargs = cargs.replace("{calib}", shlex.quote(calib_path))
            bundle, rep, info = compile_lowbit(args, cache, args.gguf, name,
                                               cargs, calib_key)
            bpw = report_bpw(rep, args.gguf)
            t0 = time.perf_counter()
            logits = [lowbit_eval_logits(args, cache, bundle, w)
                      for w in windows]
            add(name, "lowbit", bpw, logits, report_weight_error(rep, norms),
                {"bundle": bundle, "bundle_mb": os.path.getsize(bundle) / 1e6,
                 "lowbit_args": cargs, **info,
                 "eval_s": time.perf_counter() - t0})

        # Cross-check: llama.cpp's weights in lowbit's reference executor.
        if not args.no_crosscheck:
            for name, path, _ in llama_ggufs[1:-1]:
                try:
                    logits = [lowbit_eval_logits(args, cache, path, w)
                              for w in windows]
                except subprocess.CalledProcessError as ex:
                    log(f"cross-check {name}: lowbit-eval cannot run {path} "
                        f"(exit {ex.returncode})")
                    rows.append({"variant": name,
                                 "engine": "lowbit reference",
                                 "error": "lowbit-eval could not read it"})
                    continue
                add(name, "lowbit reference", gguf_bpw(path), logits,
                    gguf_weight_error(cache, f32, path), {"gguf": path})

    elapsed = time.perf_counter() - t_start
    load1 = e2e.loadavg()
    print(f"\nKL(FP32 reference || variant) in nats and top-1 agreement over "
          f"{npos} held-out positions ({len(windows)} windows); bpw = bits "
          "per weight of the block linears / of the output projection; wt "
          "err = sum ||W - Q||^2 / sum ||W||^2 over the linears (RTN and "
          "llama.cpp only)\n")
    print_table([r for r in rows if "error" not in r])
    for r in rows:
        if "error" in r:
            print(f"{r['variant']} [{r['engine']}]: {r['error']}")
    print()
    for r in rows:
        if r["engine"] == "llama.cpp" and len(r["linear_types"]) > 1:
            print(f"{r['variant']} linear tensor types (share of weights): "
                  + ", ".join(f"{k} {v:.1%}" for k, v in
                              sorted(r["linear_types"].items())))
        if r["engine"] == "lowbit" and r.get("calib_rows") is not None:
            print(f"{r['variant']}: GPTQ used {r['calib_rows']} calibration "
                  "rows (all the text holds at the default --seqlen)")
    print(f"\nload average after: {load1}; wall time {elapsed:.0f} s")
    out = {"bench": "quant_quality_vs_llamacpp", "date": date,
           "machine": cpu, "cpu_flags": flags, "cpus": os.cpu_count(),
           "load_before": load0, "load_after": load1,
           "llama_cpp_python": lc.__version__, "gguf": args.gguf,
           "reference": f"lowbit-eval FP32 reference executor on {ref_src} "
                        f"({ref_how})",
           "eval": eval_info, "positions": npos, "calib": calib_path,
           "threads": args.threads, "wall_s": elapsed,
           "command": " ".join(shlex.quote(a) for a in sys.argv),
           "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
