#!/usr/bin/env python3
"""lowbit vs llama.cpp end to end on the same GGUF, same threads, one run.

For each model (SmolLM2-135M-Instruct Q4_1 from $LOWBIT_SMOLLM2_GGUF, and a
synthetic TinyLlama-shape 1.1B model written as an F16 GGUF and quantized to
Q4_0 by llama.cpp's own quantize API) and each thread count it measures, in
separate processes per engine:

  * prefill tok/s of a 512-token prompt (--prefill) and decode tok/s over the
    next 128 tokens (--decode; the tokens are fed, not sampled, so both
    engines process the same ids), best of --repeats;
  * peak RSS of the engine's process (VmHWM; includes the Python
    interpreter and numpy, whose own figure is printed as "python
    baseline");
  * KL(FP32 || engine) and top-1 agreement over the prompt's positions. The
    FP32 reference is lowbit's FP32 reference executor (`lowbit-eval
    --dump-logits`) on the dequantized GGUF: the .gguf itself when
    lowbit-import reads GGUF, else an HF directory of the GGUF's weights
    dequantized to F32 by the `gguf` package (bench/gguf_models.py); the
    output says which. llama.cpp's logits come from `logits_all=True`;
  * the read bandwidth of this machine in the same run (lowbit-x86-bench's
    streaming probes, 1 and 2 threads), the physical bound (the GGUF's weight
    bytes per decoded token / read bandwidth) and the fraction of it each
    engine reaches, and the ratios lowbit / llama.cpp.

lowbit compiles the model with each --lowbit-variant (default: the GGUF's
own blocks kept, `--method none`, with float and with int8 activations, and
with int8 activations but a float input to the output projection; RTN w4
g32 with a float output projection, and with --act-bits 8 --lm-head-bits
8); its input is
the GGUF when lowbit reads GGUF, else the dequantized HF directory above, or
--lowbit-model (an HF/quantized directory, a .gguf, or a ready .lowbit
bundle used as is). Generated models, conversions, bundles and reference
logits are cached in --cache (default ~/.cache/lowbit-e2e), never in the
checkout.

llama.cpp is `llama-cpp-python` from PyPI, built natively (AVX-512/VNNI when
the CPU has them):

  CMAKE_ARGS="-DGGML_NATIVE=ON" pip install --no-binary llama-cpp-python \\
      llama-cpp-python==0.3.36

(a wheel built that way can be cached and installed with `pip install
WHEEL`). Without it the script exits with "llama_cpp not available: <why>".

On CPUs with AMX (Sapphire Rapids and later) that native build also turns
on ggml's AMX matmul, which segfaults in ggml_backend_amx_mul_mat on the
first evaluation (llama.cpp issue #20824; seen here with 0.3.36 on a 2-core
Sapphire Rapids VM). Build it with every ISA extension but AMX instead:

  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
      -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=ON -DGGML_AVX512=ON \
      -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON \
      -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
      pip install --no-binary llama-cpp-python llama-cpp-python==0.3.36

A llama.cpp child killed by a signal on such a CPU says so.

usage: bench/e2e_vs_llamacpp.py [--models smollm2,syn1b] [--threads 1,2]
           [--prefill 512] [--decode 128] [--repeats 2] [--build build]
           [--cache DIR] [--lowbit-model PATH] [--lowbit-variant NAME=ARGS]...
           [--smollm2-gguf PATH] [--json FILE] [--smoke]

--smoke runs a tiny synthetic model (2 layers, hidden 64) with 32 + 8 tokens
and 1 thread: a check that everything runs, not a measurement.
"""

import argparse
import ctypes
import datetime
import hashlib
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, BENCH)
from x86_vs_ggml import loadavg  # noqa: E402  (the same load probe)

DEFAULT_VARIANTS = [
    # The GGUF's own Q4_0/Q4_1/Q8_0 blocks run by lowbit's kernels (the same
    # weights as llama.cpp), then with int8 activations.
    ("gguf", "--method none"),
    ("gguf-a8", "--method none --act-bits 8"),
    # The output projection's int8 input is over a quarter of the int8
    # path's KL on SmolLM2, at no speed cost (bench/RESULTS.md, session 9).
    ("gguf-a8-head-f32", "--method none --act-bits 8 --act-float ^lm_head$"),
    ("w4g32", "--method rtn --bits 4 --group-size 32 --lm-head-bits 0"),
    ("w4g32-a8h8", "--method rtn --bits 4 --group-size 32 "
     "--act-bits 8 --lm-head-bits 8"),
]

# The prompt text (original prose, repeated as needed to fill the tokens).
TEXT = """\
The harbour town woke slowly. Fishing boats came back before sunrise, and by
the time the bakery opened its shutters the quay smelled of salt, diesel and
warm bread. Mara had lived there all her life, and she still counted the
boats every morning from the window above the chandlery: eleven, twelve,
thirteen. On the days when the number came out wrong she went down to the
harbour master's office and waited with the others, saying little, watching
the grey line where the sea met the sky.

Her grandfather had built the chandlery in the year the breakwater was
finished. He sold rope, paint, lamps, tide tables and, in winter, soup to
anyone who came in out of the wind. The ledger he kept is still on the shelf
behind the counter, its columns of figures written in a careful, slanting
hand: forty metres of hemp line, two tins of red lead, a brass compass
repaired and returned. Mara reads it sometimes when the shop is quiet. It is
a history of the town told in purchases, and it is more honest than most.

In the spring a surveyor arrived with a theodolite and a folder of plans. The
council wanted a marina, he said, with pontoons for visiting yachts, a car
park where the net sheds stood, and a row of apartments facing the water.
People listened politely at the meeting in the school hall. Then old Tomas,
who had fished the banks for fifty years, stood up and asked where the boats
would unload their catch, and nobody on the stage had an answer. The surveyor
wrote something in his folder. The meeting ended without a vote.

That summer the weather was kind. The mackerel came early and stayed late, the
tourists bought postcards and ice cream, and the question of the marina was
put off until the autumn, as such questions usually are. Mara repainted the
sign above the shop door, keeping her grandfather's lettering, and added a
line underneath in smaller letters: established before the breakwater.
"""


def cpu_info():
    model, flags = "unknown", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].split()
    except OSError:
        pass
    keep = [f for f in flags if f.startswith(("avx", "fma", "f16c", "amx"))]
    return model, keep


def file_key(*paths, extra="", tools=()):
    """A cache key from the paths' names, sizes and mtimes, the tools'
    contents (a relink that changes nothing keeps the key) and `extra`."""
    h = hashlib.sha256(extra.encode())
    for p in paths:
        st = os.stat(p)
        h.update(f"{os.path.abspath(p)}:{st.st_size}:{st.st_mtime_ns}".encode())
    for t in tools:
        h.update(content_hash(t).encode())
    return h.hexdigest()[:16]


_HASHES = {}


def content_hash(path):
    if path not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASHES[path] = h.hexdigest()
    return _HASHES[path]


def run(cmd, quiet=False, **kw):
    print("+ " + " ".join(shlex.quote(str(c)) for c in cmd), file=sys.stderr,
          flush=True)
    if quiet:
        kw.setdefault("stdout", subprocess.DEVNULL)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


# ---------------------------------------------------------------------------
# Child processes: one engine, one job, JSON on stdout.
# ---------------------------------------------------------------------------


def peak_rss_mb():
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries
    the parent's peak over the fork + exec into it."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_llama(spec):
    import numpy as np
    import llama_cpp
    tokens = spec["tokens"]
    P, D = spec["prefill"], spec["decode"]
    n_ctx = spec.get("n_ctx", P + D + 16)
    if spec["job"] == "tokenize":
        llm = llama_cpp.Llama(model_path=spec["gguf"], vocab_only=True,
                              verbose=False)
        ids = llm.tokenize(spec["text"].encode(), add_bos=False, special=False)
        return {"ids": ids, "n_vocab": llm.n_vocab()}
    logits_all = spec["job"] == "logits"
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=spec["gguf"], n_ctx=n_ctx, n_batch=P,
                          n_ubatch=P, n_threads=spec["threads"],
                          n_threads_batch=spec["threads"],
                          logits_all=logits_all, verbose=False)
    load_s = time.perf_counter() - t0
    if logits_all:
        llm.eval(tokens[:P])
        logits = np.asarray(llm.scores[:P], dtype=np.float32)
        np.save(spec["out"], logits)
        return {"load_s": load_s, "peak_rss_mb": peak_rss_mb()}
    runs = []
    for _ in range(spec["repeats"]):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens[:P])
        t1 = time.perf_counter()
        for t in tokens[P:P + D]:
            llm.eval([t])
        t2 = time.perf_counter()
        runs.append((P / (t1 - t0), D / (t2 - t1)))
    return {"load_s": load_s, "prefill_tok_s": max(r[0] for r in runs),
            "decode_tok_s": max(r[1] for r in runs),
            "runs": runs, "peak_rss_mb": peak_rss_mb(),
            "system_info": llama_cpp.llama_print_system_info().decode()}


class LowbitRt:
    class Opts(ctypes.Structure):
        _fields_ = [("threads", ctypes.c_int32),
                    ("max_context", ctypes.c_int64),
                    ("max_batch", ctypes.c_int64)]

    class Info(ctypes.Structure):
        _fields_ = [("vocab_size", ctypes.c_int64),
                    ("hidden_size", ctypes.c_int64),
                    ("num_layers", ctypes.c_int64),
                    ("max_position_embeddings", ctypes.c_int64),
                    ("bos_token_id", ctypes.c_int32),
                    ("eos_token_id", ctypes.c_int32),
                    ("isa", ctypes.c_char_p),
                    ("target", ctypes.c_char_p)]

    def __init__(self, libpath):
        L = ctypes.CDLL(libpath)
        vp = ctypes.c_void_p
        L.lowbit_rt_last_error.restype = ctypes.c_char_p
        L.lowbit_rt_model_open.argtypes = [ctypes.c_char_p,
                                           ctypes.POINTER(vp)]
        L.lowbit_rt_model_get_info.argtypes = [vp, ctypes.POINTER(self.Info)]
        L.lowbit_rt_session_create.argtypes = [vp, ctypes.POINTER(self.Opts),
                                               ctypes.POINTER(vp)]
        L.lowbit_rt_reset.argtypes = [vp]
        L.lowbit_rt_prefill.argtypes = [vp, ctypes.POINTER(ctypes.c_int32),
                                        ctypes.c_int64,
                                        ctypes.POINTER(ctypes.c_float)]
        L.lowbit_rt_decode.argtypes = [vp, ctypes.c_int32]
        L.lowbit_rt_session_free.argtypes = [vp]
        L.lowbit_rt_model_free.argtypes = [vp]
        self.L = L

    def check(self, status, what):
        if status != 0:
            raise RuntimeError(f"{what}: {self.L.lowbit_rt_last_error().decode()}")


def child_lowbit(spec):
    import numpy as np
    rt = LowbitRt(spec["lib"])
    L = rt.L
    tokens = spec["tokens"]
    P, D = spec["prefill"], spec["decode"]
    t0 = time.perf_counter()
    model = ctypes.c_void_p()
    rt.check(L.lowbit_rt_model_open(spec["bundle"].encode(),
                                    ctypes.byref(model)), spec["bundle"])
    info = LowbitRt.Info()
    rt.check(L.lowbit_rt_model_get_info(model, ctypes.byref(info)), "info")
    opts = LowbitRt.Opts(spec["threads"], P + D + 16, spec.get("max_batch", 0))
    sess = ctypes.c_void_p()
    rt.check(L.lowbit_rt_session_create(model, ctypes.byref(opts),
                                        ctypes.byref(sess)), "session")
    load_s = time.perf_counter() - t0
    ids = (ctypes.c_int32 * len(tokens))(*tokens)
    out = {"load_s": load_s, "isa": info.isa.decode()}
    if spec["job"] == "logits":
        logits = np.zeros((P, info.vocab_size), dtype=np.float32)
        rt.check(L.lowbit_rt_prefill(
            sess, ids, P,
            logits.ctypes.data_as(ctypes.POINTER(ctypes.c_float))), "prefill")
        np.save(spec["out"], logits)
    else:
        runs = []
        for _ in range(spec["repeats"]):
            rt.check(L.lowbit_rt_reset(sess), "reset")
            t0 = time.perf_counter()
            rt.check(L.lowbit_rt_prefill(sess, ids, P, None), "prefill")
            t1 = time.perf_counter()
            for i in range(P, P + D):
                rt.check(L.lowbit_rt_decode(sess, ids[i]), "decode")
            t2 = time.perf_counter()
            runs.append((P / (t1 - t0), D / (t2 - t1)))
        out.update({"prefill_tok_s": max(r[0] for r in runs),
                    "decode_tok_s": max(r[1] for r in runs), "runs": runs})
    L.lowbit_rt_session_free(sess)
    L.lowbit_rt_model_free(model)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def child_baseline(spec):
    import numpy as np  # noqa: F401  (both engines' children import it)
    return {"peak_rss_mb": peak_rss_mb()}


def child_main(kind, spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    fn = {"llama": child_llama, "lowbit": child_lowbit,
          "baseline": child_baseline}[kind]
    print("@@RESULT " + json.dumps(fn(spec)), flush=True)


def in_child(kind, spec, work):
    """Runs one job in a fresh process; returns its JSON result."""
    fd, path = tempfile.mkstemp(suffix=".json", dir=work)
    with os.fdopen(fd, "w") as f:
        json.dump(spec, f)
    try:
        r = subprocess.run([sys.executable, os.path.abspath(__file__),
                            "--child", kind, path], capture_output=True,
                           text=True)
    finally:
        os.unlink(path)
    for line in r.stdout.splitlines():
        if line.startswith("@@RESULT "):
            return json.loads(line[len("@@RESULT "):])
    tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-15:])
    hint = ""
    if kind == "llama" and r.returncode < 0 and "amx_int8" in cpu_info()[1]:
        hint = ("\n(this CPU has AMX: a natively built llama-cpp-python "
                "crashes in ggml's AMX matmul, llama.cpp issue #20824; "
                "rebuild it without AMX as --help shows)")
    raise RuntimeError(f"{kind} {spec.get('job')} failed "
                       f"(exit {r.returncode}):\n{tail}{hint}")


# ---------------------------------------------------------------------------
# Models.
# ---------------------------------------------------------------------------


def llama_cpp_status():
    try:
        import llama_cpp
    except Exception as e:  # ImportError, or a broken shared library
        return None, f"{type(e).__name__}: {e}"
    return llama_cpp, None


def quantize_gguf(src, dst, ftype_name):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + ftype_name)
    params.nthread = 2
    tmp = dst + ".tmp"
    rc = llama_cpp.llama_model_quantize(src.encode(), tmp.encode(),
                                        ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize {src} -> {ftype_name} "
                           f"failed ({rc})")
    os.replace(tmp, dst)


def synthetic_gguf(cache, name, gen_args, tokenizer_from=None):
    """F16 GGUF of a synthetic checkpoint, quantized to Q4_0 by llama.cpp."""
    d = os.path.join(cache, name)
    os.makedirs(d, exist_ok=True)
    hf = os.path.join(d, "hf-f16")
    f16 = os.path.join(d, "model-f16.gguf")
    q4 = os.path.join(d, "model-q4_0.gguf")
    if not os.path.exists(q4):
        if not os.path.exists(os.path.join(hf, "config.json")):
            run([sys.executable,
                 os.path.join(ROOT, "examples", "make_synthetic_model.py"),
                 "--out", hf, "--quiet", *gen_args])
        if not os.path.exists(f16):
            sys.path.insert(0, BENCH)
            import gguf_models
            print(f"writing {f16}", file=sys.stderr, flush=True)
            gguf_models.hf_to_gguf(hf, f16, tokenizer_from, name=name)
        print(f"quantizing {f16} -> Q4_0 (llama_model_quantize)",
              file=sys.stderr, flush=True)
        quantize_gguf(f16, q4, "Q4_0")
    return q4


def gguf_weight_bytes(path):
    """(bytes of all tensors, bytes one decode step reads): every tensor but
    the embedding table, of which a step reads one row, unless the model has
    no output.weight (tied: the table is also the output projection)."""
    import gguf
    r = gguf.GGUFReader(path)
    total = sum(int(t.n_bytes) for t in r.tensors)
    names = {t.name for t in r.tensors}
    emb = sum(int(t.n_bytes) for t in r.tensors if t.name == "token_embd.weight")
    per_tok = total if "output.weight" not in names else total - emb
    return total, per_tok


def lowbit_reads_gguf(build, gguf_path, work):
    exe = os.path.join(build, "bin", "lowbit-import")
    out = os.path.join(work, "probe.mlir")
    r = subprocess.run([exe, gguf_path, "-o", out], capture_output=True,
                       text=True)
    if os.path.exists(out):
        os.unlink(out)
    return r.returncode == 0


def lowbit_source(args, cache, gguf_path, work):
    """(path lowbit compiles / evaluates as FP32, how it was obtained)."""
    if lowbit_reads_gguf(args.build, gguf_path, work):
        return gguf_path, "the GGUF (lowbit-import)"
    key = file_key(gguf_path)
    out = os.path.join(cache, "hf-from-gguf", key)
    if not os.path.exists(os.path.join(out, "config.json")):
        sys.path.insert(0, BENCH)
        import gguf_models
        print(f"lowbit-import does not read {gguf_path}: writing its "
              f"dequantized weights as an HF F32 directory {out}",
              file=sys.stderr, flush=True)
        gguf_models.gguf_to_hf(gguf_path, out)
    return out, "HF F32 directory of the GGUF dequantized by gguf-py"


def compile_bundle(args, cache, src, name, cargs):
    exe = os.path.join(args.build, "bin", "lowbit-compile")
    key = file_key(src if os.path.isfile(src) else
                   os.path.join(src, "config.json"), extra=cargs, tools=[exe])
    out = os.path.join(cache, "bundles", f"{name}-{key}.lowbit")
    if not os.path.exists(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        t0 = time.perf_counter()
        run([exe, src, *shlex.split(cargs), "--target", "x86", "-o", out],
            quiet=True)
        print(f"compiled {out} in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)
    return out


def reference_logits(args, cache, src, tokens, P):
    key = file_key(src if os.path.isfile(src) else
                   os.path.join(src, "config.json"),
                   extra=json.dumps(tokens[:P]),
                   tools=[os.path.join(args.build, "bin", "lowbit-eval")])
    out = os.path.join(cache, "ref-logits", key + ".safetensors")
    if not os.path.exists(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        tmp = out + ".tmp.safetensors"
        run([os.path.join(args.build, "bin", "lowbit-eval"), "--model", src,
             "--ids", ",".join(map(str, tokens[:P])), "--dump-logits", tmp],
            quiet=True)
        os.replace(tmp, out)
    from safetensors.numpy import load_file
    t = load_file(out)
    assert list(t["tokens"]) == tokens[:P], "reference tokens differ"
    return t["logits"]


def kl_top1(ref, got):
    import numpy as np
    ref = ref.astype(np.float64)
    got = got.astype(np.float64)
    lp = ref - ref.max(1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(1, keepdims=True))
    lq = got - got.max(1, keepdims=True)
    lq -= np.log(np.exp(lq).sum(1, keepdims=True))
    kl = (np.exp(lp) * (lp - lq)).sum(1)
    top1 = (ref.argmax(1) == got.argmax(1)).mean()
    return float(kl.mean()), float(top1)


def bytes_per_token_bundle(path):
    sys.path.insert(0, BENCH)
    import decode_bench
    return decode_bench.bytes_per_token(path)


def read_bandwidth(args, threads, work):
    exe = os.path.join(args.build, "bench", "lowbit-x86-bench")
    if not os.path.exists(exe):
        return None, f"{exe} not built"
    j = os.path.join(work, "bw.json")
    run([exe, "--shapes", "4096x4096", "--batches", "1", "--paths", "int8",
         "--groups", "32", "--threads", ",".join(map(str, threads)),
         "--reps", "3", "--gib", str(args.bw_gib), "--json", j], quiet=True)
    with open(j) as f:
        res = json.load(f)
    bw = {}
    for r in res["results"]:
        bw[r["threads"]] = max(bw.get(r["threads"], 0.0), r["read_gbps"])
    return bw, None


# ---------------------------------------------------------------------------
# Driver.
# ---------------------------------------------------------------------------


def bench_model(args, cache, work, name, gguf_path, threads, bw, lib):
    print(f"\n== {name}: {gguf_path}", file=sys.stderr, flush=True)
    P, D = args.prefill, args.decode
    tok = in_child("llama", {"job": "tokenize", "gguf": gguf_path,
                             "text": TEXT, "tokens": [], "prefill": P,
                             "decode": D}, work)
    ids = tok["ids"]
    if not ids:
        raise RuntimeError(f"{gguf_path}: the text tokenized to nothing")
    tokens = (ids * ((P + D) // len(ids) + 1))[:P + D]
    total_b, gguf_tok_b = gguf_weight_bytes(gguf_path)

    if args.lowbit_model and args.lowbit_model.endswith(".lowbit"):
        src, how = None, "bundle given with --lowbit-model"
        bundles = {"given": args.lowbit_model}
        ref_src, ref_how = lowbit_source(args, cache, gguf_path, work)
    else:
        if args.lowbit_model:
            src, how = args.lowbit_model, "--lowbit-model"
        else:
            src, how = lowbit_source(args, cache, gguf_path, work)
        ref_src, ref_how = lowbit_source(args, cache, gguf_path, work)
        bundles = {v: compile_bundle(args, cache, src, f"{name}-{v}", a)
                   for v, a in args.variants}
    ref = reference_logits(args, cache, ref_src, tokens, P)

    kl = {}
    lpath = os.path.join(work, "logits.npy")
    import numpy as np
    in_child("llama", {"job": "logits", "gguf": gguf_path, "tokens": tokens,
                       "prefill": P, "decode": D, "threads": max(threads),
                       "out": lpath}, work)
    kl["llama.cpp"] = kl_top1(ref, np.load(lpath))
    for v, b in bundles.items():
        in_child("lowbit", {"job": "logits", "lib": lib, "bundle": b,
                            "tokens": tokens, "prefill": P, "decode": D,
                            "threads": max(threads), "out": lpath}, work)
        kl["lowbit " + v] = kl_top1(ref, np.load(lpath))
    os.unlink(lpath)
    print(f"{name}: KL / top-1 vs FP32: " + ", ".join(
        f"{e} {k:.5f} / {t:.3f}" for e, (k, t) in kl.items()),
        file=sys.stderr, flush=True)

    rows = []
    sysinfo = None
    for T in threads:
        bound = bw[T] * 1e9 / gguf_tok_b if bw and T in bw else None
        # Engines alternate so that load changes hit them alike.
        res = {}
        r = in_child("llama", {"job": "speed", "gguf": gguf_path,
                               "tokens": tokens, "prefill": P, "decode": D,
                               "threads": T, "repeats": args.repeats}, work)
        sysinfo = r.pop("system_info")
        res["llama.cpp"] = (r, gguf_tok_b)
        for v, b in bundles.items():
            r = in_child("lowbit", {"job": "speed", "lib": lib, "bundle": b,
                                    "tokens": tokens, "prefill": P,
                                    "decode": D, "threads": T,
                                    "repeats": args.repeats,
                                    "max_batch": args.lowbit_max_batch}, work)
            res["lowbit " + v] = (r, bytes_per_token_bundle(b))
        for eng, (r, _) in res.items():
            print(f"{name} {eng} {T} thread(s): prefill "
                  f"{r['prefill_tok_s']:.1f} tok/s, decode "
                  f"{r['decode_tok_s']:.1f} tok/s, peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
        base = res["llama.cpp"][0]
        for eng, (r, bpt) in res.items():
            row = {
                "model": name, "engine": eng, "threads": T,
                "prefill_tokens": P, "decode_tokens": D,
                "prefill_tok_s": r["prefill_tok_s"],
                "decode_tok_s": r["decode_tok_s"],
                "peak_rss_mb": r["peak_rss_mb"], "load_s": r["load_s"],
                "runs": r["runs"],
                "kl": kl[eng][0], "top1": kl[eng][1],
                "weight_mb_per_token": bpt / 1e6,
                "eff_gb_s": bpt * r["decode_tok_s"] / 1e9,
                "read_gb_s": bw.get(T) if bw else None,
                "bound_tok_s": bound,
                "frac_of_bound": (r["decode_tok_s"] / bound) if bound else None,
                "prefill_ratio": r["prefill_tok_s"] / base["prefill_tok_s"],
                "decode_ratio": r["decode_tok_s"] / base["decode_tok_s"],
                "rss_ratio": r["peak_rss_mb"] / base["peak_rss_mb"],
            }
            if eng != "llama.cpp":
                row["isa"] = r.get("isa")
                row["bundle"] = bundles[eng.split(" ", 1)[1]]
                row["bundle_mb"] = os.path.getsize(row["bundle"]) / 1e6
            rows.append(row)
    info = {"model": name, "gguf": gguf_path, "gguf_mb": total_b / 1e6,
            "gguf_weight_mb_per_token": gguf_tok_b / 1e6,
            "lowbit_input": how if src is None else f"{src} ({how})",
            "fp32_reference": f"lowbit-eval reference executor on {ref_src} "
                              f"({ref_how})",
            "variants": {v: a for v, a in args.variants}
            if not (args.lowbit_model or "").endswith(".lowbit") else {},
            "llama_system_info": sysinfo}
    return info, rows


def print_table(info, rows):
    print(f"\n{info['model']}: {info['gguf']} ({info['gguf_mb']:.1f} MB; "
          f"{info['gguf_weight_mb_per_token']:.1f} MB of weights read per "
          "decoded token)")
    print(f"  lowbit input: {info['lowbit_input']}")
    print(f"  FP32 reference: {info['fp32_reference']}")
    hdr = (f"  {'engine':<20}{'thr':>4}{'prefill':>9}{'decode':>9}"
           f"{'RSS MB':>8}{'KL':>9}{'top1':>7}{'MB/tok':>8}{'GB/s':>7}"
           f"{'%BW':>6}{'%bound':>8}{'pre x':>7}{'dec x':>7}{'RSS x':>7}")
    print(hdr)
    for r in rows:
        frac = (100 * r["eff_gb_s"] / r["read_gb_s"]) if r["read_gb_s"] else 0
        fb = 100 * r["frac_of_bound"] if r["frac_of_bound"] else 0
        print(f"  {r['engine']:<20}{r['threads']:>4}{r['prefill_tok_s']:>9.1f}"
              f"{r['decode_tok_s']:>9.1f}{r['peak_rss_mb']:>8.0f}"
              f"{r['kl']:>9.5f}{r['top1']:>7.3f}{r['weight_mb_per_token']:>8.1f}"
              f"{r['eff_gb_s']:>7.2f}{frac:>5.0f}%{fb:>7.0f}%"
              f"{r['prefill_ratio']:>6.2f}x{r['decode_ratio']:>6.2f}x"
              f"{r['rss_ratio']:>6.2f}x")
    bounds = {r["threads"]: r["bound_tok_s"] for r in rows if r["bound_tok_s"]}
    for T, b in sorted(bounds.items()):
        rb = next(r["read_gb_s"] for r in rows if r["threads"] == T)
        print(f"  bound at {T} thread(s): {rb:.1f} GB/s read / "
              f"{info['gguf_weight_mb_per_token']:.1f} MB = {b:.1f} tok/s")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--models", default="smollm2,syn1b",
                    help="comma-separated: smollm2, syn1b (default both)")
    ap.add_argument("--gguf", action="append", default=[],
                    help="another GGUF to measure (repeatable)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--build", default=os.environ.get(
        "BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--cache", default=os.path.expanduser(
        "~/.cache/lowbit-e2e"))
    ap.add_argument("--smollm2-gguf", default=os.environ.get(
        "LOWBIT_SMOLLM2_GGUF"))
    ap.add_argument("--lowbit-model",
                    help="what lowbit compiles instead of the GGUF: an HF or "
                         "quantized directory or a .gguf; or a .lowbit bundle "
                         "run as is")
    ap.add_argument("--lowbit-variant", action="append", default=[],
                    metavar="NAME=ARGS",
                    help="lowbit-compile arguments of one bundle (repeatable;"
                         " default: " + "; ".join(f"{n}={a}" for n, a in
                                                  DEFAULT_VARIANTS) + ")")
    ap.add_argument("--lowbit-max-batch", type=int, default=0,
                    help="lowbit session's prefill rows per step (0 = the "
                         "runtime's default)")
    ap.add_argument("--bw-gib", type=float, default=0.5,
                    help="GiB streamed by the read-bandwidth probe")
    ap.add_argument("--json", help="also write the JSON result to this file")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny synthetic model, 32 + 8 tokens, 1 thread")
    args = ap.parse_args()

    args.variants = []
    for v in args.lowbit_variant:
        if "=" not in v:
            ap.error(f"--lowbit-variant {v!r}: expected NAME=ARGS")
        n, a = v.split("=", 1)
        args.variants.append((n, a))
    if not args.variants:
        args.variants = list(DEFAULT_VARIANTS)
    threads = [int(t) for t in args.threads.split(",") if t]
    if args.smoke:
        args.models, threads = "tiny", [1]
        args.prefill, args.decode, args.repeats = 32, 8, 1
        args.bw_gib = min(args.bw_gib, 0.0625)
    if args.prefill < 1 or args.decode < 1 or args.repeats < 1 or not threads:
        ap.error("--prefill, --decode, --repeats and --threads must be >= 1")

    for m in [m for m in args.models.split(",") if m]:
        if m not in ("smollm2", "syn1b", "tiny"):
            ap.error(f"unknown model {m!r} (smollm2, syn1b)")

    lc, why = llama_cpp_status()
    if lc is None:
        sys.exit(f"llama_cpp not available: {why} (pip install "
                 "llama-cpp-python, built natively: see --help)")
    lib = os.path.join(args.build, "lib", "liblowbit_rt.so")
    for p in (lib, os.path.join(args.build, "bin", "lowbit-compile"),
              os.path.join(args.build, "bin", "lowbit-eval")):
        if not os.path.exists(p):
            sys.exit(f"{p} not found: build lowbit first")

    os.makedirs(args.cache, exist_ok=True)
    model_name, flags = cpu_info()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")
    load0 = loadavg()
    print(f"machine: {model_name}; {os.cpu_count()} CPUs; {' '.join(flags)}")
    print(f"date {date}; load average before: {load0}")
    print(f"llama-cpp-python {lc.__version__}: "
          f"{lc.llama_print_system_info().decode().strip()}")
    sys.stdout.flush()

    todo = []
    for m in [m for m in args.models.split(",") if m]:
        if m == "smollm2":
            if not args.smollm2_gguf or not os.path.exists(args.smollm2_gguf):
                print("smollm2 skipped: set LOWBIT_SMOLLM2_GGUF (or "
                      "--smollm2-gguf) to SmolLM2-135M-Instruct.Q4_1.gguf")
                continue
            todo.append(("smollm2-135m-q4_1", args.smollm2_gguf))
        elif m == "syn1b":
            todo.append(("synthetic-1.1b-q4_0", synthetic_gguf(
                args.cache, "synthetic-1.1b",
                ["--preset", "1b", "--vocab", "49152", "--tied", "--dtype",
                 "f16"])))
        elif m == "tiny":
            todo.append(("synthetic-tiny-q4_0", synthetic_gguf(
                args.cache, "synthetic-tiny",
                ["--hidden", "64", "--intermediate", "128", "--layers", "2",
                 "--heads", "4", "--kv-heads", "2", "--vocab", "512",
                 "--max-pos", "256", "--tied", "--dtype", "f16"])))
        else:
            ap.error(f"unknown model {m!r} (smollm2, syn1b)")
    for g in args.gguf:
        todo.append((os.path.splitext(os.path.basename(g))[0], g))

    with tempfile.TemporaryDirectory(prefix="lowbit-e2e-") as work:
        bw, why = read_bandwidth(args, threads, work)
        if bw is None:
            print(f"read bandwidth not measured: {why}")
        else:
            print("read bandwidth: " + ", ".join(
                f"{bw[t]:.1f} GB/s ({t} thread{'s' * (t > 1)})"
                for t in sorted(bw)))
        base = in_child("baseline", {}, work)
        print(f"python baseline (interpreter + numpy) peak RSS: "
              f"{base['peak_rss_mb']:.0f} MB")
        results = []
        for name, g in todo:
            info, rows = bench_model(args, args.cache, work, name, g, threads,
                                     bw, lib)
            print_table(info, rows)
            sys.stdout.flush()
            results.append({**info, "rows": rows})
    load1 = loadavg()
    print(f"\nload average after: {load1}")
    out = {"bench": "e2e_vs_llamacpp", "date": date, "machine": model_name,
           "cpu_flags": flags, "cpus": os.cpu_count(),
           "load_before": load0, "load_after": load1,
           "llama_cpp_python": lc.__version__,
           "read_gb_s": bw, "python_baseline_rss_mb": base["peak_rss_mb"],
           "prefill": args.prefill, "decode": args.decode,
           "repeats": args.repeats, "threads": threads,
           "command": " ".join(shlex.quote(a) for a in sys.argv),
           "models": results}
    print(json.dumps(out, separators=(",", ":")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
