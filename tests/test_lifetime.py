"""Worker processes and Ctrl+C: a SIGINT landing while `kbgen serve` starts a worker is left to serve.

Real processes and real signals: a fresh interpreter (so that multiprocessing's resource tracker does not run
yet, as in a `kbgen serve` that just started) starts serve's search worker the way serve does, from a
thread, and the test sends SIGINT to the worker at once, while it is still starting up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading
    from kbgen.rebuild import SearchUpdater

    updater = SearchUpdater()
    # serve starts the worker from its sender thread (SearchUpdater._send_loop)
    starter = threading.Thread(target=updater._connect)
    starter.start()
    starter.join()
    os.kill(updater.process.pid, signal.SIGINT)  # Ctrl+C while the worker is still starting up
    with updater.lock:
        updater.sent += 1
    # a job that exports nothing: the worker answers it at once, if it is alive
    updater.conn.send(("job", ([], None, None, None, False)))
    assert updater.wait(120), "no answer from the search worker"
    alive = updater.process.is_alive()
    code = updater.process.exitcode
    updater.close()
    print("alive" if alive else f"dead: exit {code}", flush=True)
    """
)


def test_ctrl_c_while_the_search_worker_starts_is_left_to_serve() -> None:
    """The worker ignores a Ctrl+C that lands during its start-up (serve stops it itself): no traceback,
    and it goes on answering. (CPython's multiprocessing starts its resource tracker with the first spawn
    and unblocks SIGINT right after, which left the worker spawned next unprotected.)"""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for _ in range(2):  # each run its own interpreter: the resource tracker starts afresh every time
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr, proc.stderr
        assert proc.returncode == 0 and proc.stdout.strip() == "alive", (proc.stdout, proc.stderr)
