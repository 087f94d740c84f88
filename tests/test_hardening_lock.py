"""Hardening: one kbgen at a time per project, what a killed build leaves behind, Ctrl+C in `kbgen serve`,
and `kbgen serve`'s HTTP answers to malformed paths and foreign Host headers.

Real processes throughout: `kbgen build` and `kbgen serve` subprocesses, real signals (SIGKILL, Ctrl+C typed
into a real pseudo-terminal), real HTTP on 127.0.0.1. Where a build must be caught at a given moment, the
subprocess runs the real command line with a hook that announces the moment on stdout and waits there
until the test writes a line to its stdin (no sleeps).
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import termios
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE_EN, run_kbgen, sample_toml_one_language
from conftest import free_port as _free_port
from conftest import wait_for as _wait_for

READY = "kbgen-test: at the moment"
ENV = dict(os.environ, SOURCE_DATE_EPOCH="1790000000", NO_COLOR="1", COLUMNS="200", PYTHONUNBUFFERED="1")

# Hooks installed in a `kbgen build` subprocess before the real command line runs. Each stops the build at
# one moment: it prints READY and waits for a line on stdin (or forever: the test kills it there).
HOOKS = {
    # the staging folder is complete, the search exported into it; the swap is next
    "before-swap": """
        from kbgen import build as b
        real = b.swap_in
        def swap_in(staging, output):
            announce(); sys.stdin.readline()
            real(staging, output)
        b.swap_in = swap_in
    """,
    # between the swap's two renames: the published site renamed to `.site.old-*`, the new one not yet in
    "between-renames": """
        import pathlib
        real = pathlib.Path.rename
        def rename(self, target):
            result = real(self, target)
            if pathlib.Path(target).name.startswith(".site.old-"):
                announce(); sys.stdin.readline()
            return result
        pathlib.Path.rename = rename
    """,
    # a cache file written to its temporary name, not yet renamed over the real one
    "cache-write": """
        real = os.replace
        def replace(src, dst, *a, **k):
            if ".kbgen-tmp-" in os.fspath(src):
                announce(); sys.stdin.readline()
            return real(src, dst, *a, **k)
        os.replace = replace
    """,
    # the search export comes out without its bundle (as when another process emptied .kbgen/export)
    "broken-export": """
        import kbgen.search as s
        real = s.index_and_export
        def index_and_export(units, index_dir, out_dir, *a, **k):
            info = real(units, index_dir, out_dir, *a, **k)
            for p in out_dir.glob("bundle.*"):
                p.unlink()
            return info
        s.index_and_export = index_and_export
    """,
}


def hooked_build(project: Path, hook: str, *args: str) -> subprocess.Popen[str]:
    script = (
        "import os, sys\n"
        f"def announce():\n    print({READY!r}, flush=True)\n"
        + textwrap.dedent(HOOKS[hook])
        + f"\nsys.argv = ['kbgen', 'build', *{list(args)!r}]\nfrom kbgen.cli import main\nmain()\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=project, env=ENV, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_until_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            _, err = proc.communicate()
            raise AssertionError(f"the build ended before the moment (exit {proc.returncode}):\n{err}")
        if line.strip() == READY:
            return


def release(proc: subprocess.Popen[str]) -> tuple[str, str]:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=300)
    return out, err


def make_project(root: Path) -> Path:
    """The repository's sample help centre in English (about a hundred pages; one language: serve's
    search worker and page-by-page rebuilds are what these tests stop)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SAMPLE_EN, root / "content")
    (root / "kbgen.toml").write_text(sample_toml_one_language(), encoding="utf-8")
    return root


def edit_an_article(project: Path, word: str) -> None:
    article = sorted(p for p in (project / "content").rglob("*.md") if p.name != "_index.md")[0]
    article.write_text(article.read_text(encoding="utf-8") + f"\n\nA new word: {word}.\n", encoding="utf-8")


def assert_search_complete(site: Path, word: str | None = None) -> None:
    """The published search export is whole: meta.json and the bundle it names, with every unit."""
    meta = json.loads((site / "_search" / "meta.json").read_text(encoding="utf-8"))
    bundle = site / "_search" / meta["bundle"]
    data = json.loads(bundle.read_text(encoding="utf-8"))
    assert meta["units"] > 50 and len(data["units"]) == meta["units"], (meta["units"], len(data["units"]))
    if word is not None:
        assert word in bundle.read_text(encoding="utf-8")


# -- 1. one kbgen at a time --------------------------------------------------------------------------------


def test_a_second_build_while_one_runs_says_so_exits_1_and_leaves_the_first_whole(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    first = hooked_build(project, "before-swap")
    try:
        wait_until_ready(first)
        second = run_kbgen("build", cwd=project, check=False)
        assert second.returncode == 1, second.stdout + second.stderr
        assert "another kbgen is running" in second.stderr
        assert f"kbgen build, pid {first.pid}" in second.stderr
        assert "--wait" in second.stderr
        assert "Traceback" not in second.stderr
        assert not (project / "site").exists()  # the loser published nothing
        out, err = release(first)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert "Built" in out
    assert_search_complete(project / "site")
    again = run_kbgen("build", cwd=project)
    assert "Up to date" in again.stdout
    assert_search_complete(project / "site")
    edit_an_article(project, "zanzibarite")
    changed = run_kbgen("build", cwd=project)
    assert "Built" in changed.stdout
    assert_search_complete(project / "site", "zanzibarite")


def test_build_wait_waits_for_the_running_build_then_builds(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    first = hooked_build(project, "before-swap")
    second: subprocess.Popen[str] | None = None
    try:
        wait_until_ready(first)
        edit_an_article(project, "quoxalite")  # the second must build this; the first read the content
        second = subprocess.Popen(
            [sys.executable, "-m", "kbgen", "build", "--wait"], cwd=project, env=ENV, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert second.stderr is not None
        line = second.stderr.readline()
        assert "Waiting for another kbgen" in line and f"pid {first.pid}" in line, line
        assert second.poll() is None  # still waiting: the first holds the lock
        _, err = release(first)
        assert first.returncode == 0, err
        out, err = second.communicate(timeout=300)
    finally:
        first.kill()
        if second is not None:
            second.kill()
    assert second.returncode == 0, err
    assert "Built" in out and "Traceback" not in err
    assert_search_complete(project / "site", "quoxalite")


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    """No stale lock: a build killed with SIGKILL (workers included, which end a moment after it) never
    keeps the next one out."""
    project = make_project(tmp_path / "p")
    first = hooked_build(project, "before-swap")
    try:
        wait_until_ready(first)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        first.kill()
    after = run_kbgen("build", cwd=project, check=False)
    assert after.returncode == 0, after.stderr
    assert_search_complete(project / "site")


def test_an_incomplete_search_export_is_never_published(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    run_kbgen("build", cwd=project)
    before = {p.relative_to(project / "site"): p.read_bytes() for p in (project / "site").rglob("*") if p.is_file()}
    edit_an_article(project, "vexillite")
    broken = hooked_build(project, "broken-export")
    out, err = broken.communicate(timeout=300)
    assert broken.returncode == 1, out + err
    assert "search export lacks bundle" in err and "nothing was written" in err
    assert "Traceback" not in err
    after = {p.relative_to(project / "site"): p.read_bytes() for p in (project / "site").rglob("*") if p.is_file()}
    assert after == before  # the published site as it was
    again = run_kbgen("build", cwd=project)
    assert "Built" in again.stdout
    assert_search_complete(project / "site", "vexillite")


@pytest.mark.parametrize("how", ["emptied", "cut short"])
def test_up_to_date_never_blesses_a_search_export_spoiled_after_the_build(tmp_path: Path, how: str) -> None:
    """A published export damaged in place (same number of files) is seen; the next build repairs it."""
    project = make_project(tmp_path / "p")
    run_kbgen("build", cwd=project)
    bundle = next((project / "site" / "_search").glob("bundle.*"))
    size = bundle.stat().st_size
    with bundle.open("r+b") as fh:
        fh.truncate(0 if how == "emptied" else size // 2)
    again = run_kbgen("build", cwd=project)
    assert "Up to date" not in again.stdout, again.stdout
    assert_search_complete(project / "site")
    assert "Up to date" in run_kbgen("build", cwd=project).stdout


# -- 2. what a killed build leaves behind --------------------------------------------------------------------


def _leftovers(project: Path) -> set[Path]:
    found = set(project.glob(".site.tmp-*")) | set(project.glob(".site.old-*"))
    return found | {p for p in (project / ".kbgen").rglob("*") if ".kbgen-tmp-" in p.name}


@pytest.mark.parametrize("moment", ["before-swap", "between-renames", "cache-write"])
def test_the_next_build_removes_what_a_killed_build_left(tmp_path: Path, moment: str) -> None:
    project = make_project(tmp_path / "p")
    run_kbgen("build", cwd=project)
    edit_an_article(project, "killjoyite")  # so that the next build has work to do
    victim = hooked_build(project, moment)
    try:
        wait_until_ready(victim)
        left = _leftovers(project)
        assert left, "the build under test left nothing at that moment"
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
    finally:
        victim.kill()
    assert _leftovers(project) >= left
    after = run_kbgen("build", cwd=project)
    assert "Built" in after.stdout
    still = {p for p in left if p.exists() or p.is_symlink()}
    assert not still, f"left behind after the next build: {sorted(map(str, still))}"
    assert_search_complete(project / "site", "killjoyite")


# -- 3. Ctrl+C in `kbgen serve`, typed in a real terminal ------------------------------------------------------


def _get(port: int, path: str, host: str | None = None, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest("GET", path, skip_host=host is not None, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _status(port: int) -> dict[str, object] | None:
    try:
        code, _, body = _get(port, "/__kbgen/status", timeout=5)
    except OSError:
        return None
    return json.loads(body) if code == 200 else None


def _session_processes(sid: int) -> set[int]:
    """Live (not zombie) processes of session `sid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:  # state, ppid, pgrp, session
            found.add(int(entry.name))
    return found


class Terminal:
    """`kbgen serve` run in a real pseudo-terminal, its controlling terminal, as a shell runs it."""

    def __init__(self, project: Path, python: list[str] | None = None) -> None:
        """`python`: the command line that runs kbgen (`python -m kbgen` unless told)."""
        self.port = _free_port()
        master, slave = os.openpty()
        self.master = master

        def controlling_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [*(python or [sys.executable, "-m", "kbgen"]), "serve", "--port", str(self.port)], cwd=project, env=ENV,
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=controlling_terminal,
        )  # fmt: skip
        os.close(slave)
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: every process that had the terminal open is gone
                return
            if not data:
                return
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")  # the terminal sends SIGINT to its foreground process group

    def processes(self) -> set[int]:
        return _session_processes(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


def _search_worker_running(term: Terminal) -> bool:
    for pid in term.processes():
        try:
            if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            pass
    return False


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(make_project(tmp_path / "p"))
    yield term
    term.close()


def _ready(term: Terminal) -> bool:
    status = _status(term.port)
    return bool(status) and not status["building"] and int(status["build"]) >= 1  # type: ignore[call-overload]


@pytest.mark.parametrize("moment", ["starting", "idle", "rebuilding", "updating search"])
def test_ctrl_c_in_serve_stops_every_process_quietly(terminal: Terminal, tmp_path: Path, moment: str) -> None:
    term = terminal
    if moment == "starting":
        assert _wait_for(lambda: "Serving" in term.text, 60), term.text
    else:
        assert _wait_for(lambda: _ready(term), 120), term.text
        # the search worker is up (spawned after the first build) and has answered
        assert _wait_for(lambda: _search_worker_running(term), 60), term.text
        assert _wait_for(lambda: _status(term.port)["search"]["updates"] >= 1, 60)  # type: ignore[index]
        if moment == "rebuilding":  # a full rebuild (the config changed), Ctrl+C while it runs
            config = tmp_path / "p" / "kbgen.toml"
            config.write_text(config.read_text(encoding="utf-8").replace("title = ", 'title = "Renamed" #'))
            assert _wait_for(lambda: bool(_status(term.port)["building"]), 60)  # type: ignore[index]
        elif moment == "updating search":
            build = int(_status(term.port)["build"])  # type: ignore[arg-type, index]
            edit_an_article(tmp_path / "p", "ctrlcite")
            assert _wait_for(lambda: int(_status(term.port)["build"]) > build, 60)  # type: ignore[arg-type, index]
    before = term.processes()
    term.ctrl_c()
    term.proc.wait(60)
    term.reader.join(60)
    assert not term.reader.is_alive(), "a process still holds the terminal"
    assert _wait_for(lambda: not term.processes(), 30), f"left running: {term.processes()} (of {before})"
    output = term.text
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    # Quiet: exit 0, or (Ctrl+C landing while Python starts or stops a thread) the SIGINT death that shells
    # expect of a program stopped with Ctrl+C — never a traceback, never a process left behind.
    assert term.proc.returncode in (0, -signal.SIGINT), output
    assert "Stopping." in output


# -- 4. `kbgen serve` over HTTP: malformed paths, foreign Host headers ----------------------------------------


class Served:
    def __init__(self, project: Path, *args: str) -> None:
        self.port = _free_port()
        self.log = project / f"serve-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kbgen", "serve", "--port", str(self.port), *args], cwd=project, env=ENV,
            stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        ok = _wait_for(lambda: self.proc.poll() is not None or _ready(self), 120)  # type: ignore[arg-type]
        assert ok and self.proc.poll() is None, self.log.read_text()

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(30)
        return self.log.read_text()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    project = make_project(tmp_path_factory.mktemp("serve") / "p")
    (project / "content" / "_assets").mkdir(exist_ok=True)
    server = Served(project)
    yield server, project
    log = server.stop()
    assert "Traceback" not in log and "Exception" not in log, log


HOSTILE_PATHS = [
    "/%00", "/%00.html", "/index.html%00.png", "/%ff", "/%c0%af", "/%ed%a0%80",
    "/..%2f..%2fetc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2f..%2fkbgen.toml",
    "/..%5c..%5cetc%5cpasswd", "/%2fetc%2fpasswd", "//etc/passwd", "/static//etc/passwd",
    "/a%0d%0aSet-Cookie:%20x=1", "/%1b]8;;http://evil/%1b\\", "/" + "a" * 300 + "/" + "b" * 300,
    "/" + "x" * 5000, "/" + "%41" * 3000, "/./index.html", "/%2e/index.html",
]  # fmt: skip


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_serve_answers_malformed_paths_with_400_or_404_never_an_error_or_a_file_outside(
    served: tuple[Served, Path], path: str
) -> None:
    server, project = served
    code, headers, body = _get(server.port, path)
    assert code in (400, 404, 414), (code, body[:200])
    assert "set-cookie" not in headers
    assert b"root:" not in body and b"title =" not in body  # /etc/passwd, kbgen.toml
    assert _get(server.port, "/")[0] in (200, 302)  # and the server goes on


@pytest.mark.parametrize(
    "target", [b"/\x00", b"/\x01index.html", b"/\xff", b"/caf\xc3\xa9", b"../../etc/passwd", b"/a\\..\\..\\kbgen.toml"]
)
def test_serve_answers_raw_malformed_request_targets_with_400(served: tuple[Served, Path], target: bytes) -> None:
    """Bytes a client library would refuse to send, sent as they are on a socket."""
    server, _ = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), answer[:200]
    assert b"title =" not in answer and b"root:" not in answer


def test_serve_still_serves_ordinary_paths(served: tuple[Served, Path]) -> None:
    server, _ = served
    code, _, body = _get(server.port, "/index.html")
    assert code == 200 and b"<html" in body
    code, headers, _ = _get(server.port, "/")
    assert code == 200
    code, _, body = _get(server.port, "/search/?q=%2e%2e%2f")  # odd queries are a page's business
    assert code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil.example",
             "attacker.com:80", "[::2]", "10.0.0.1", "localhost:abc", "local host"],
)  # fmt: skip
def test_serve_refuses_foreign_host_headers(served: tuple[Served, Path], host: str) -> None:
    """DNS rebinding: a page of another site, its name pointed at 127.0.0.1, must not read the preview."""
    server, _ = served
    for path in ("/", "/index.html", "/__kbgen/status", "/__kbgen/livereload.js"):
        code, _, body = _get(server.port, path, host=host)
        assert code in (400, 403, 421), (path, code)
        assert b"<html" not in body.lower() and b'"build"' not in body


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "[::1]", "app.localhost", "localhost."])
def test_serve_accepts_localhost_names(served: tuple[Served, Path], host: str) -> None:
    server, _ = served
    code, _, _ = _get(server.port, "/index.html", host=f"{host}:{server.port}")
    assert code == 200
    assert _get(server.port, "/index.html", host=host)[0] == 200


def test_serve_holds_the_lock_a_build_meanwhile_exits_1(served: tuple[Served, Path]) -> None:
    server, project = served
    proc = run_kbgen("build", cwd=project, check=False)
    assert proc.returncode == 1
    assert f"kbgen serve, pid {server.proc.pid}" in proc.stderr
    assert not (project / "site").exists()


def test_serve_on_all_interfaces_accepts_any_host(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    server = Served(project, "--host", "0.0.0.0")
    try:
        assert _get(server.port, "/index.html", host="my-laptop.lan:8000")[0] == 200
        assert _get(server.port, "/%00")[0] == 400
    finally:
        log = server.stop()
    assert "Traceback" not in log
