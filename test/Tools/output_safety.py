#!/usr/bin/env python3
"""Checks every file output of every lowbit tool against bad destinations.

    output_safety.py MODE WORK --bin DIR --src SRC [--only CASE ...]

MODE is one of
  fulldisk   the destination's file system is full (a tmpfs sized to hold the
             previous, good output and nothing more; root only): the tool
             fails with a clear error, a non-zero exit, the previous output
             byte-identical and no temporary left
  failio     the same with write/fsync/close failing with ENOSPC/EIO through
             the test-only LD_PRELOAD shim (--failio LIB; no root needed)
  devnull    the destination is a character device (a private copy of
             /dev/null made with mknod, then the real /dev/null; root only):
             the tool succeeds and the node is still the same device
  fifo       the destination is a FIFO: the tool succeeds, the FIFO stays a
             FIFO and what came through it equals the regular file output
  preflight  the destination's directory is missing: the tool fails before
             doing the work (no progress lines), naming the path

Prints one line per case ("ok MODE CASE" or "FAIL MODE CASE: why") and exits
non-zero if any case failed. WORK is a scratch directory (created).
"""

import argparse
import ctypes
import filecmp
import os
import shutil
import stat
import subprocess
import sys
import threading

TEMP_MARKER = ".lowbit-tmp-"


def run(cmd, env=None, cwd=None):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, cwd=cwd, text=True)


class Cases:
    """Each case: a command writing its output to `dest` (a file, or a
    directory for kind 'dir')."""

    def __init__(self, bin_dir, work):
        self.bin = bin_dir
        self.work = work
        self.m = os.path.join(work, "in", "m")
        self.ir = os.path.join(work, "in", "ir", "model.mlir")
        self.side = os.path.join(work, "in", "side")  # outputs not under test

    def tool(self, name):
        return os.path.join(self.bin, name)

    def all(self):
        t = self.tool
        rtn = ["--method", "rtn", "--bits", "4", "--group-size", "32"]
        side = lambda name: os.path.join(self.side, name)
        return {
            "import-o": ("file", lambda d: [t("lowbit-import"), self.m, "-o", d]),
            "opt-o": ("file", lambda d: [t("lowbit-opt"), self.ir, "-o", d]),
            "opt-rtn-params": ("file", lambda d: [
                t("lowbit-opt"), self.ir, "-o", side("opt.mlir"),
                "-lowbit-rtn-quantize=bits=4 group-size=32 output-params=" + d]),
            "opt-rtn-report": ("file", lambda d: [
                t("lowbit-opt"), self.ir, "-o", side("opt2.mlir"),
                "-lowbit-rtn-quantize=bits=4 group-size=32 output-params=" +
                side("p.safetensors") + " report=" + d]),
            "opt-emit-bundle": ("file", lambda d: [
                t("lowbit-opt"), self.ir, "-o", side("opt3.mlir"),
                "-lowbit-to-bundle-pipeline=target=x86 output=" + d]),
            "compile-o": ("file", lambda d: [t("lowbit-compile"), self.m] + rtn +
                          ["-o", d]),
            "compile-report": ("file", lambda d: [
                t("lowbit-compile"), self.m] + rtn +
                ["-o", side("c.lowbit"), "--report", d]),
            "compile-quantized-o": ("dir", lambda d: [
                t("lowbit-compile"), self.m] + rtn +
                ["--emit", "quantized", "-o", d]),
            "compile-quantized-report": ("file", lambda d: [
                t("lowbit-compile"), self.m] + rtn +
                ["--emit", "quantized", "-o", side("q"), "--report", d]),
            "eval-dump-logits": ("file", lambda d: [
                t("lowbit-eval"), "--model", self.m, "--ids", "1,5,7,9",
                "--dump-logits", d]),
        }


def setup(args, cases):
    os.makedirs(os.path.dirname(cases.ir), exist_ok=True)
    os.makedirs(cases.side, exist_ok=True)
    if not os.path.isdir(cases.m):
        subprocess.check_call([sys.executable,
                               os.path.join(args.src, "examples",
                                            "make_synthetic_model.py"),
                               "--out", cases.m, "--preset", "tiny",
                               "--layers", "2", "--quiet"])
    if not os.path.exists(cases.ir):
        subprocess.check_call([cases.tool("lowbit-import"), cases.m, "-o",
                               cases.ir])


def temporaries(directory):
    found = []
    for root, dirs, files in os.walk(directory):
        found += [os.path.join(root, n) for n in dirs + files
                  if TEMP_MARKER in n]
    return found


def same_tree(a, b):
    """Whether file or directory `a` has the same bytes as `b`."""
    if os.path.isfile(a) or os.path.isfile(b):
        return (os.path.isfile(a) and os.path.isfile(b) and
                filecmp.cmp(a, b, shallow=False))
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files,
                                           shallow=False)
    return not mismatch and not errors and all(
        same_tree(os.path.join(a, d), os.path.join(b, d))
        for d in cmp.common_dirs)


def copy_tree(src, dst):
    if os.path.isdir(src):
        shutil.copytree(src, dst)
    else:
        shutil.copyfile(src, dst)


def tree_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f))
               for r, _, fs in os.walk(path) for f in fs)


def good_output(cases, name, kind, make):
    """A good output of the case, made once in a normal directory."""
    # At the depth of the FIFO in mode_fifo: lowbit-import records the
    # checkpoint relative to the output's directory.
    good = os.path.join(cases.work, "good", name, "out")
    if not os.path.exists(good):
        os.makedirs(os.path.dirname(good), exist_ok=True)
        r = run(make(good))
        if r.returncode != 0:
            raise RuntimeError("%s: the good run failed:\n%s" % (name, r.stderr))
    return good


libc = ctypes.CDLL(None, use_errno=True)


def mount_tmpfs(path, size):
    r = run(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", path])
    if r.returncode != 0:
        raise RuntimeError("cannot mount a tmpfs on %s: %s" % (path, r.stderr))


def fill(directory):
    """Fills the file system of `directory` until a write fails."""
    with open(os.path.join(directory, "filler"), "wb", buffering=0) as f:
        chunk = 1 << 16
        while chunk:
            try:
                f.write(b"\0" * chunk)
            except OSError:
                chunk //= 2


def check_failure(r, dest, expect_errno_text):
    msgs = []
    if r.returncode == 0:
        msgs.append("exit 0")
    if r.returncode < 0 or r.returncode >= 128:
        msgs.append("exit %d (crash)" % r.returncode)
    if "LLVM ERROR" in r.stderr or "IO failure" in r.stderr:
        msgs.append("fatal LLVM error")
    if expect_errno_text not in r.stderr:
        msgs.append("no '%s' in the error" % expect_errno_text)
    if os.path.basename(dest.rstrip("/")) not in r.stderr:
        msgs.append("the error does not name the output")
    return msgs


def mode_fulldisk(cases, name, kind, make):
    good = good_output(cases, name, kind, make)
    mnt = os.path.join(cases.work, "fulldisk", name)
    os.makedirs(mnt, exist_ok=True)
    mount_tmpfs(mnt, tree_bytes(good) + 64 * 1024)
    try:
        dest = os.path.join(mnt, "out")
        copy_tree(good, dest)
        fill(mnt)
        r = run(make(dest))
        msgs = check_failure(r, dest, os.strerror(28))
        if not same_tree(dest, good):
            msgs.append("the previous output changed")
        if temporaries(mnt):
            msgs.append("temporaries left: %s" % temporaries(mnt))
        leftover = sorted(set(os.listdir(mnt)) - {"out", "filler"})
        if leftover:
            msgs.append("files left: %s" % leftover)
        return msgs, r.stderr
    finally:
        run(["umount", mnt])


def mode_failio(cases, name, kind, make, failio):
    good = good_output(cases, name, kind, make)
    msgs_all, last = [], ""
    for op, err, after in (("write", "ENOSPC", "100"), ("fsync", "EIO", "0"),
                           ("close", "EIO", "0")):
        base = os.path.join(cases.work, "failio", name, op)
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
        dest = os.path.join(base, "out")
        copy_tree(good, dest)
        env = dict(os.environ, LD_PRELOAD=failio, LOWBIT_FAILIO_PATH=base + "/",
                   LOWBIT_FAILIO_OP=op, LOWBIT_FAILIO_ERRNO=err,
                   LOWBIT_FAILIO_AFTER=after,
                   ASAN_OPTIONS="verify_asan_link_order=0")
        r = run(make(dest), env=env)
        text = os.strerror(28 if err == "ENOSPC" else 5)
        msgs = check_failure(r, dest, text)
        if not same_tree(dest, good):
            msgs.append("the previous output changed")
        if temporaries(base):
            msgs.append("temporaries left: %s" % temporaries(base))
        if sorted(os.listdir(base)) != ["out"]:
            msgs.append("files left: %s" % os.listdir(base))
        msgs_all += ["%s: %s" % (op, m) for m in msgs]
        last += r.stderr
    return msgs_all, last


def char_node_ok(path, rdev):
    st = os.stat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == rdev


def mode_devnull(cases, name, kind, make):
    null = os.stat("/dev/null").st_rdev
    base = os.path.join(cases.work, "devnull", name)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    node = os.path.join(base, "null")
    os.mknod(node, 0o666 | stat.S_IFCHR, null)
    msgs = []
    r = run(make(node))
    if kind == "dir":
        # A directory output cannot go to a device: refused, node intact.
        if r.returncode == 0 or "not a directory" not in r.stderr:
            msgs.append("not refused: exit %d" % r.returncode)
    elif r.returncode != 0:
        msgs.append("exit %d" % r.returncode)
    if not char_node_ok(node, null):
        msgs.append("%s is no longer the null device" % node)
        return msgs, r.stderr
    if sorted(os.listdir(base)) != ["null"]:
        msgs.append("files left: %s" % os.listdir(base))
    if msgs:
        return msgs, r.stderr
    # The private node survived: the real one is safe to try.
    r = run(make("/dev/null"))
    if (r.returncode != 0) != (kind == "dir"):
        msgs.append("/dev/null: exit %d" % r.returncode)
    if not char_node_ok("/dev/null", null):
        msgs.append("/dev/null is no longer a character device")
    return msgs, r.stderr


def mode_fifo(cases, name, kind, make):
    base = os.path.join(cases.work, "fifo", name)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    fifo = os.path.join(base, "pipe")
    os.mkfifo(fifo)
    if kind == "dir":
        r = run(make(fifo))
        msgs = [] if r.returncode != 0 and "not a directory" in r.stderr else [
            "a directory output over a FIFO was not refused"]
        if not stat.S_ISFIFO(os.stat(fifo).st_mode):
            msgs.append("the FIFO was replaced")
        return msgs, r.stderr
    good = good_output(cases, name, kind, make)
    # Our own read end, and a write end held until the tool is done, so the
    # reader sees EOF only then, even if the tool never opened the FIFO (or
    # renamed a file over it).
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    hold = os.open(fifo, os.O_WRONLY)
    os.set_blocking(rfd, True)
    received = []

    def reader():
        chunks = []
        while True:
            b = os.read(rfd, 1 << 16)
            if not b:
                break
            chunks.append(b)
        received.append(b"".join(chunks))

    t = threading.Thread(target=reader)
    t.start()
    try:
        r = run(make(fifo))
    finally:
        os.close(hold)
        t.join()
        os.close(rfd)
    msgs = []
    if r.returncode != 0:
        msgs.append("exit %d" % r.returncode)
    if not stat.S_ISFIFO(os.stat(fifo).st_mode):
        msgs.append("the FIFO was replaced")
    with open(good, "rb") as f:
        want = f.read()
    got = received[0] if received else b""
    # Reports carry timings; the rest must be byte-identical.
    if name.endswith("report"):
        if not got.startswith(b"{") or len(got) < 32:
            msgs.append("no JSON report came through the FIFO")
    elif got != want:
        msgs.append("%d bytes through the FIFO, %d in the regular file" %
                    (len(got), len(want)))
    if sorted(os.listdir(base)) != ["pipe"]:
        msgs.append("files left: %s" % os.listdir(base))
    return msgs, r.stderr


def mode_preflight(cases, name, kind, make):
    dest = os.path.join(cases.work, "preflight", "missing", "out")
    r = run(make(dest))
    msgs = check_failure(r, dest, os.strerror(2))
    if "cannot write" not in r.stderr:
        msgs.append("no 'cannot write' in the error")
    for progress in ("lowbit-compile: loading", "quantizing"):
        if progress in r.stderr:
            msgs.append("the work started before the check ('%s')" % progress)
    return msgs, r.stderr


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["fulldisk", "failio", "devnull", "fifo",
                                    "preflight"])
    p.add_argument("work")
    p.add_argument("--bin", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--failio")
    p.add_argument("--only", nargs="*")
    args = p.parse_args()
    cases = Cases(os.path.abspath(args.bin), os.path.abspath(args.work))
    setup(args, cases)
    failed = 0
    for name, (kind, make) in cases.all().items():
        if args.only and name not in args.only:
            continue
        if args.mode == "failio":
            msgs, stderr = mode_failio(cases, name, kind, make, args.failio)
        else:
            msgs, stderr = globals()["mode_" + args.mode](cases, name, kind,
                                                          make)
        if msgs:
            failed += 1
            print("FAIL %s %s: %s" % (args.mode, name, "; ".join(msgs)))
            sys.stderr.write(stderr[-2000:])
        else:
            print("ok %s %s" % (args.mode, name))
            # One error line per case shows what the user sees.
            errs = [l for l in stderr.splitlines() if "error" in l]
            if errs:
                print("  " + errs[-1])
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
