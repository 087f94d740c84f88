"""Memory marks for profiling a build: with `KBGEN_MEMTRACE=1` in the environment, `mark("stage")` prints
the process's resident memory now and at its peak (Linux /proc) to stderr; otherwise it does nothing."""

from __future__ import annotations

import os
import sys
import time

_START = time.perf_counter()
_ON = bool(os.environ.get("KBGEN_MEMTRACE"))


def mark(label: str) -> None:
    if not _ON:
        return
    now = peak = 0
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    now = int(line.split()[1]) // 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) // 1024
    except OSError:
        return
    clock = time.perf_counter() - _START
    print(
        f"[mem pid {os.getpid()} {clock:6.1f} s] {label}: {now} MB (peak {peak} MB)",
        file=sys.stderr,
        flush=True,
    )
