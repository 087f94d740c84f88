"""Worker processes end with the process that started them, however it ends (even SIGKILL)."""

from __future__ import annotations

import os
import signal
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
    A worker that wants its own handler installs it afterwards."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signum)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request was made
        os.kill(os.getpid(), signum)
