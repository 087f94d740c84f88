"""Worker processes end with the process that started them, however it ends (even SIGKILL)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """A SIGTERM handler: exit through Python (`finally` blocks run, workers are stopped, temporary files
    removed) with the shell's status for a signal, 128 + its number."""
    raise SystemExit(128 + signum)


def die_with_parent(parent: int, signum: int = signal.SIGTERM) -> None:
    """Ask Linux to send this process `signum` when its parent `parent` ends (prctl PR_SET_PDEATHSIG; a
    no-op elsewhere), and end now if that already happened. Call it first thing in a forked worker.

    SIGTERM's handler is reset to the default: a handler inherited from the parent (`kbgen serve` turns
    SIGTERM into KeyboardInterrupt, which a pool worker catches and goes on waiting) would keep it alive.
    A worker that wants its own handler installs it afterwards. SIGINT is ignored (`ignore_ctrl_c`)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ignore_ctrl_c()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signum)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request was made
        os.kill(os.getpid(), signum)


def ignore_ctrl_c() -> None:
    """In a worker process: ignore SIGINT. Ctrl+C in a terminal sends it to every process of the foreground
    group; the parent alone handles it and stops its workers, which would otherwise each print a
    `KeyboardInterrupt` traceback. Also unblocks SIGINT, blocked while it was started (`ctrl_c_deferred`):
    one that arrived in between is discarded."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """Block SIGINT in this thread while it starts worker processes (they inherit the mask, through `exec`
    too): a Ctrl+C in the moment between their start and their `ignore_ctrl_c()` waits instead of raising
    KeyboardInterrupt in them. In this process it is delivered to another thread, or when the block ends.

    multiprocessing's resource tracker is started first, if it does not run yet: the first `spawn` starts
    it, and unblocks SIGINT in this thread right after (CPython's resource_tracker.ensure_running), which
    would leave the worker spawned next unprotected during its start-up."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # (it blocks and ignores SIGINT itself)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if signal.SIGINT not in previous:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


_fork_mask = threading.local()
_forks_deferred = False


def defer_ctrl_c_in_forks() -> None:
    """`ctrl_c_deferred` around every fork of this process, pools included: SIGINT is blocked in the forking
    thread from just before the fork until just after it, and a forked child starts with it blocked, so a
    Ctrl+C landing while the child runs Python's own after-fork code (`random` re-seeds itself there) waits
    for the worker's `ignore_ctrl_c()` and is discarded there, instead of printing a KeyboardInterrupt
    traceback from the child. Call once, in the command-line process (idempotent)."""
    global _forks_deferred
    if _forks_deferred or not hasattr(signal, "pthread_sigmask") or not hasattr(os, "register_at_fork"):
        return
    _forks_deferred = True

    def before() -> None:
        _fork_mask.previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def after_in_parent() -> None:
        if signal.SIGINT not in getattr(_fork_mask, "previous", {signal.SIGINT}):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    os.register_at_fork(before=before, after_in_parent=after_in_parent)
