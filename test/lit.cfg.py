# -*- Python -*-
# lit configuration for the lowbit test suite.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "LOWBIT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py",
                   "Unit", "Fuzz"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.lowbit_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%src_root", config.lowbit_src_root))
config.substitutions.append(("%models", config.lowbit_shared_models))
config.substitutions.append(("%obj_root", config.lowbit_obj_root))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# Tests that need the shared models say `REQUIRES: shared-models`; without
# them lit reports the test as unsupported (skipped) instead of failing.
if os.path.isdir(os.path.join(config.lowbit_shared_models, "stories260k")):
    config.available_features.add("shared-models")
else:
    lit_config.note("shared models not found at %s: tests that need them are "
                    "skipped" % config.lowbit_shared_models)

tool_dirs = [config.lowbit_tools_dir, config.llvm_tools_dir]
tools = ["lowbit-opt", "lowbit-import", "lowbit-eval", "lowbit-compile", "lowbit-run", "lowbit-c-example", "lowbit-cts"]
llvm_config.add_tool_substitutions(
    [ToolSubst(t, unresolved="ignore") for t in tools], tool_dirs)

# Output tests (docs/reliability.md, "Outputs and full disks").
# %failio: the test-only LD_PRELOAD shim that fails writes (test/FailIO).
failio = os.path.join(config.lowbit_obj_root, "lib", "liblowbit-failio.so")
config.substitutions.append(("%failio", failio))
if os.path.exists(failio):
    config.available_features.add("failio")
# `root`: /dev/null tests that would destroy it on failure need root to
# mean anything; `tmpfs`: a small tmpfs can be mounted (full-disk tests).
if hasattr(os, "geteuid") and os.geteuid() == 0:
    config.available_features.add("root")
    import subprocess
    import tempfile
    probe = tempfile.mkdtemp(prefix="lowbit-lit-tmpfs-")
    try:
        if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                            probe], stderr=subprocess.DEVNULL) == 0:
            subprocess.call(["umount", probe])
            config.available_features.add("tmpfs")
        else:
            lit_config.note("cannot mount a tmpfs: the full-disk tests are "
                            "skipped (the --failio tests still run)")
    finally:
        os.rmdir(probe)
else:
    lit_config.note("not running as root: the full-disk (tmpfs) and "
                    "/dev/null tests are skipped (the failio tests still run)")

# The ASan + UBSan build (scripts/asan.sh): tests that link an uninstrumented
# program against the installed runtime, or cap the address space with
# `ulimit -v` (ASan reserves terabytes of shadow), or LD_PRELOAD the
# instrumented failio shim into uninstrumented children (ld.lld), cannot run
# there; the
# normal build runs them.
if getattr(config, "lowbit_sanitize", "OFF").upper() in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("asan")

# GGUF tests (docs/gguf.md). `transformers`: the reference for GGUF tokenizer
# conversion is installed; `smollm2`: LOWBIT_SMOLLM2_GGUF names the SmolLM2
# GGUF (scripts/setup.sh downloads it, scripts/test.sh sets the variable).
# The RUN lines' python3 (first on PATH) is asked, not lit's own interpreter.
import subprocess
if subprocess.call(
        ["python3", "-c", "import importlib.util, sys; "
         "sys.exit(importlib.util.find_spec('transformers') is None)"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("transformers")
else:
    lit_config.note("transformers not installed: the GGUF tokenizer "
                    "reference tests are skipped")
config.substitutions.append(
    ("%lowbit_tokenize",
     os.path.join(config.lowbit_obj_root, "runtime", "src", "tokenizer",
                  "lowbit-tokenize")))
smollm2 = os.environ.get("LOWBIT_SMOLLM2_GGUF", "")
if smollm2 and os.path.isfile(smollm2):
    config.available_features.add("smollm2")
    config.substitutions.append(("%smollm2", smollm2))
else:
    lit_config.note("LOWBIT_SMOLLM2_GGUF not set: the SmolLM2 tests are "
                    "skipped")

# Python reference packages of the chat tests (test/Tools/lowbit-run-chat*):
# `jinja2` renders the real chat templates, `tokenizers` tokenizes them. The
# tests run the `python3` on PATH (not necessarily lit's own interpreter).
import subprocess as _subprocess
for _module in ("jinja2", "tokenizers"):
    if _subprocess.call(["python3", "-c", "import " + _module],
                        stdout=_subprocess.DEVNULL,
                        stderr=_subprocess.DEVNULL) == 0:
        config.available_features.add("py-" + _module)
    else:
        lit_config.note("python package %s not found: the chat reference "
                        "tests are skipped" % _module)
