"""Worker processes and Ctrl+C in `kbgen serve`: a SIGINT landing while serve starts a worker is left to
serve, and a Ctrl+C during the first build stops that build's search process instead of waiting for it.

Real processes and real signals: a fresh interpreter (so that multiprocessing's resource tracker does not run
yet, as in a `kbgen serve` that just started) starts serve's search worker the way serve does, from a
thread, and the test sends SIGINT to the worker at once, while it is still starting up; `kbgen serve` in a
real pseudo-terminal gets Ctrl+C typed into it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import wait_for
from test_hardening_lock import Terminal, make_project

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


# `kbgen serve` whose first build's search process (SearchJob, forked from the rebuild thread) announces
# that it started indexing and then never finishes: only a stop ends it.
ENDLESS_SEARCH = textwrap.dedent(
    """
    import sys, threading
    import kbgen.searchjob as b

    def endless_search(units, config, staging, workers):
        print("kbgen-test: indexing", flush=True)
        threading.Event().wait()

    b._build_search = endless_search
    sys.argv = ["kbgen", *sys.argv[1:]]
    from kbgen.cli import main
    main()
    """
)


def test_ctrl_c_during_the_first_build_stops_its_search_process_too(tmp_path: Path) -> None:
    """Ctrl+C while the first build's search index is being made: serve stops at once. (It used to wait
    at exit for that process, a non-daemonic child, to index the whole site: a minute for 3,000
    articles on a loaded machine; with this never-ending one, forever.)"""
    term = Terminal(make_project(tmp_path / "p"), python=[sys.executable, "-c", ENDLESS_SEARCH])
    try:
        assert wait_for(lambda: "kbgen-test: indexing" in term.text, 120), term.text
        term.ctrl_c()
        term.proc.wait(60)
        term.reader.join(60)
        assert not term.reader.is_alive(), "a process still holds the terminal"
        assert wait_for(lambda: not term.processes(), 30), f"left running: {term.processes()}"
        output = term.text
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
        assert term.proc.returncode in (0, -signal.SIGINT), output
        assert "Stopping." in output
    finally:
        term.close()
