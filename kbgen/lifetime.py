"""Worker processes end with the process that started them, however it ends (even SIGKILL)."""

from __future__ import annotations

import os
import signal


def die_with_parent(parent: int) -> None:
    """Ask Linux to send this process SIGTERM when its parent `parent` ends (prctl PR_SET_PDEATHSIG; a
    no-op elsewhere), and end now if that already happened. Call it first thing in a forked worker."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
