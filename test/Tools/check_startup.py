#!/usr/bin/env python3
"""Runs a command under an address-space limit and checks its wall time and
peak resident memory.

    check_startup.py --max-seconds S --max-rss-mb M --max-vm-mb V -- CMD...

Passes the command's stdout through; exits non-zero (with a message) when the
command fails or exceeds S seconds or M MiB of peak RSS. V caps the virtual
memory (RLIMIT_AS), so a command that tries to allocate gigabytes fails fast
instead of filling the machine.
"""
import argparse
import resource
import subprocess
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--max-seconds", type=float, required=True)
    p.add_argument("--max-rss-mb", type=float, required=True)
    p.add_argument("--max-vm-mb", type=int, required=True)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    limit = a.max_vm_mb << 20

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, preexec_fn=cap, timeout=4 * a.max_seconds + 10)
    except subprocess.TimeoutExpired:
        sys.exit(f"check_startup: {cmd[0]} did not finish")
    wall = time.monotonic() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    print(f"check_startup: wall {wall:.2f} s, peak RSS {rss_mb:.1f} MiB",
          file=sys.stderr)
    if r.returncode != 0:
        sys.exit(f"check_startup: {cmd[0]} exited with {r.returncode}")
    if wall > a.max_seconds:
        sys.exit(f"check_startup: {wall:.2f} s > {a.max_seconds} s")
    if rss_mb > a.max_rss_mb:
        sys.exit(f"check_startup: peak RSS {rss_mb:.1f} MiB > {a.max_rss_mb}")


if __name__ == "__main__":
    main()
