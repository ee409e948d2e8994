#!/usr/bin/env python3
"""lowbit's generated x86 int4 qmatmul kernels vs ggml's 4-bit CPU kernels.

Runs build/bench/lowbit-x86-bench (int4 g128 and g32, int8 and fp32 paths,
K x N = 4096x4096, 4096x11008, 11008x4096, batch 1/8/32, 1 and 2 threads,
weights cycled through >= 16x the LLC) with ggml's q4_0 and q4_K mul_mat
(repacked and plain) measured in the same process, and prints the bench's
table, a goal check and one JSON line.

ggml (the baseline) is by default the one inside the installed
`llama-cpp-python` (its llama_cpp/lib/libggml*.so), which should be built
natively so that ggml uses every ISA extension of this CPU (AVX-512, VNNI):

  CMAKE_ARGS="-DGGML_NATIVE=ON" pip install --no-binary llama-cpp-python \\
      llama-cpp-python==0.3.36

Without it the script says "ggml not available: <why>" and still reports
lowbit's figures. --ggml-lib DIR (or $LOWBIT_GGML_LIB) overrides the
baseline; --baseline libggml-python instead installs PyPI's prebuilt generic
`libggml-python` into a virtual environment outside the repository
(~/.cache/lowbit-ggml/venv, or --venv) on first use: a portable build, not
tuned to this CPU, so its figures understate ggml.

Usage: python3 bench/x86_vs_ggml.py [--build-dir build]
                                     [--baseline native|libggml-python]
                                     [--ggml-lib DIR] [--venv DIR]
                                     [--no-install]
                                     [-- extra lowbit-x86-bench arguments]
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GGML_LIBS = ("libggml.so", "libggml-base.so", "libggml-cpu.so")


def has_libs(d):
    return d and all(os.path.exists(os.path.join(d, n)) for n in GGML_LIBS)


def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def find_in_venv(venv):
    """The lib directory of libggml-python in venv, or None."""
    py = venv_python(venv)
    if not os.path.exists(py):
        return None
    code = ("import libggml, os; d = os.path.dirname(libggml.__file__); "
            "print(next((os.path.join(d, s) for s in ('lib64', 'lib') "
            "if os.path.isdir(os.path.join(d, s))), ''))")
    r = subprocess.run([py, "-c", code], capture_output=True, text=True)
    d = r.stdout.strip()
    return d if r.returncode == 0 and has_libs(d) else None


def find_llama_cpp():
    """(lib_dir, version) of the installed llama-cpp-python's ggml, or
    (None, why)."""
    import importlib.metadata
    import importlib.util
    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError) as e:
        spec, err = None, str(e)
    if spec is None or not spec.origin:
        return None, ("llama-cpp-python is not installed (build it natively: "
                      "CMAKE_ARGS=\"-DGGML_NATIVE=ON\" pip install --no-binary "
                      "llama-cpp-python llama-cpp-python; or pass --ggml-lib "
                      "DIR)")
    d = os.path.join(os.path.dirname(spec.origin), "lib")
    if not has_libs(d):
        return None, (f"llama-cpp-python is installed but {d} lacks one of "
                      f"{', '.join(GGML_LIBS)} (a build with "
                      "GGML_BACKEND_DL? pass --ggml-lib DIR)")
    try:
        ver = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        ver = "?"
    return d, ver


def locate_ggml(args):
    """Returns (lib_dir, None, description) or (None, why, None)."""
    if args.ggml_lib:
        if has_libs(args.ggml_lib):
            return args.ggml_lib, None, "--ggml-lib"
        return (None, f"{args.ggml_lib} lacks one of {', '.join(GGML_LIBS)}",
                None)
    env = os.environ.get("LOWBIT_GGML_LIB")
    if has_libs(env):
        return env, None, "$LOWBIT_GGML_LIB"
    if args.baseline == "native":
        d, ver = find_llama_cpp()
        if d is None:
            return None, ver, None
        return d, None, f"llama-cpp-python {ver}"
    lib, why = locate_libggml_python(args)
    if lib is None:
        return None, why, None
    ver = ggml_version(args.venv)
    return lib, None, f"libggml-python {ver}, generic prebuilt"


def locate_libggml_python(args):
    """Returns (lib_dir, None) or (None, why)."""
    d = find_in_venv(args.venv)
    if d:
        return d, None
    if args.no_install:
        return None, f"libggml-python not installed in {args.venv} (--no-install)"
    print(f"installing libggml-python into {args.venv} ...", flush=True)
    try:
        if not os.path.exists(venv_python(args.venv)):
            subprocess.run([sys.executable, "-m", "venv", args.venv], check=True,
                           capture_output=True, text=True)
        subprocess.run([venv_python(args.venv), "-m", "pip", "install", "-q",
                        "libggml-python"], check=True, capture_output=True,
                       text=True)
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or e.stdout or "").strip().splitlines()[-1:]
        return None, f"pip install libggml-python failed: {' '.join(tail)}"
    d = find_in_venv(args.venv)
    return (d, None) if d else (None, "libggml-python installed but its "
                                "libraries were not found")


def ggml_version(venv):
    py = venv_python(venv)
    if not os.path.exists(py):
        return None
    r = subprocess.run([py, "-m", "pip", "show", "libggml-python"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get(
        "BUILD_DIR", os.path.join(REPO, "build")))
    ap.add_argument("--venv", default=os.path.expanduser(
        "~/.cache/lowbit-ggml/venv"))
    ap.add_argument("--ggml-lib", help="directory with libggml*.so "
                    "(overrides --baseline)")
    ap.add_argument("--baseline", choices=("native", "libggml-python"),
                    default="native",
                    help="ggml to compare with: the installed (natively "
                    "built) llama-cpp-python's (default) or PyPI's generic "
                    "libggml-python in --venv")
    ap.add_argument("--no-install", action="store_true",
                    help="do not pip-install libggml-python")
    ap.add_argument("rest", nargs="*", help="extra lowbit-x86-bench arguments")
    args = ap.parse_args()

    exe = os.path.join(args.build_dir, "bench", "lowbit-x86-bench")
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found: build it first (ninja -C {args.build_dir} "
                 "lowbit-x86-bench)")

    lib, why, desc = locate_ggml(args)
    model = cpu_model()
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"machine: {model}; {os.cpu_count()} CPUs; date {date}")
    load0 = loadavg()
    print(f"load average before: {load0}")
    if lib:
        print(f"ggml: {lib} ({desc})")
    else:
        print(f"ggml not available: {why}")
    sys.stdout.flush()

    with tempfile.TemporaryDirectory() as tmp:
        jpath = os.path.join(tmp, "bench.json")
        cmd = [exe, "--json", jpath] + (["--ggml-lib", lib] if lib else [])
        cmd += args.rest
        print("$ " + " ".join(cmd), flush=True)
        rc = subprocess.run(cmd).returncode
        if rc != 0 or not os.path.exists(jpath):
            sys.exit(f"lowbit-x86-bench failed (exit {rc})")
        with open(jpath) as f:
            res = json.load(f)
    load1 = loadavg()
    print(f"load average after: {load1}")

    # Goals: >= 90% of read bandwidth and >= 1.2x ggml's best 4-bit kernel
    # at batch 1 (issue 12); >= 1.5x ggml's best (weight GB/s) at batch 8
    # and 32.
    goals = []
    print("\nGoals (best lowbit variant per shape/threads):")
    for s in res["summary"]:
        if s["batch"] == 1:
            ok = s["lowbit_frac_read_bw"] >= 0.9
            what = f"{100 * s['lowbit_frac_read_bw']:.0f}% of read BW (>= 90%)"
            if s["best_ggml"]:
                ok = ok and s["ratio_vs_ggml"] >= 1.2
                what += (f", {s['ratio_vs_ggml']:.2f}x {s['best_ggml']} "
                         "(>= 1.2x)")
        else:
            if not s["best_ggml"]:
                ok, what = None, "no ggml figure"
            else:
                ok = s["ratio_vs_ggml"] >= 1.5
                what = (f"{s['ratio_vs_ggml']:.2f}x {s['best_ggml']} "
                        "(>= 1.5x)")
        verdict = "n/a" if ok is None else ("met" if ok else "MISSED")
        print(f"  {s['K']}x{s['N']} B={s['batch']} thr={s['threads']}: "
              f"{s['best_lowbit']} {s['lowbit_gbps']:.2f} GB/s, {what}: "
              f"{verdict}")
        goals.append({"K": s["K"], "N": s["N"], "batch": s["batch"],
                      "threads": s["threads"], "met": ok})
    res["machine"] = model
    res["date"] = date
    res["load_before"] = load0
    res["load_after"] = load1
    res["command"] = " ".join(cmd)
    if lib:
        res["ggml_lib"] = lib
        res["ggml_source"] = desc
    else:
        res["ggml_unavailable"] = why
    res["goals"] = goals
    print(json.dumps(res, separators=(",", ":")))


if __name__ == "__main__":
    main()
