"""One kbgen at a time per project: an exclusive lock on `.kbgen/lock`, and the clean-up it makes safe.

The lock is an OS file lock (`flock`), held by an open file: it ends with the process however the process
ends (SIGKILL included), so there is never a stale lock to remove by hand. The holder writes its pid and
command into the file, for the message the next one prints. `kbgen build` and `kbgen serve` take it (both
write `.kbgen/`, and a build writes the output folder): a second one says which kbgen holds it and exits 1,
or waits for it with `--wait`. Taking it again in the same process is allowed (a CLI command holds it
around `build()`, which takes it too).

Holding the lock, a build removes what a killed build (SIGKILL, a power cut) left behind: its staging folder
(`.site.tmp-*`), a previous output it had renamed out of the way (`.site.old-*`), half-written cache files
(`*.kbgen-tmp-*`) and the private folders of `kbgen serve` processes that no longer run.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no lock (kbgen's process handling is Linux-first anyway)
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "lock"
MAX_HOLDER_TEXT = 200  # bytes of the holder line read back (the file is ours, but keep it bounded)

_held: dict[str, tuple[int, int]] = {}  # lock path → (fd, how many times this process holds it)
_guard = threading.Lock()


def _forget_in_child() -> None:
    """After a fork: the worker processes do not hold the lock (closing their copy leaves the parent's
    lock in place), so that it ends with the process that took it — a killed build's workers, which end a
    moment after it, do not keep the next build out."""
    global _guard
    for fd, _count in _held.values():
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()
    _guard = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class ProjectBusy(Exception):
    """Another kbgen process holds the project's lock."""

    def __init__(self, lock_path: Path, holder: str) -> None:
        self.lock_path = lock_path
        self.holder = holder
        super().__init__(
            f"another kbgen is running in this project ({holder}); it holds {lock_path}. "
            "Wait for it to finish, or run again with --wait to wait for it."
        )


def describe_holder(text: str) -> str:
    """'kbgen build, pid 123' from the lock file's 'pid command' line (printable ASCII only, bounded)."""
    pid, _, command = text.strip().partition(" ")
    if not pid.isdigit():
        return "pid unknown"
    command = re.sub(r"[^a-z -]", "", command)[:40].strip()
    return f"kbgen {command}, pid {pid}" if command else f"pid {pid}"


def _read_holder(fd: int) -> str:
    try:
        return describe_holder(os.pread(fd, MAX_HOLDER_TEXT, 0).decode("ascii", "replace"))
    except OSError:
        return "pid unknown"


@contextmanager
def project_lock(
    cache_dir: Path,
    *,
    command: str = "",
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the exclusive lock of the project whose cache folder is `cache_dir` (created if needed).

    Raises `ProjectBusy` if another process holds it, unless `wait`: then `on_wait(holder)` is called and
    this blocks until it is free. Yields the lock file's path."""
    path = cache_dir / LOCK_FILE
    key = str(path)
    with _guard:
        if key in _held:
            fd, count = _held[key]
            _held[key] = (fd, count + 1)
            acquired = False
        else:
            acquired = True
    if acquired:
        fd = _acquire(path, command, wait, on_wait)
        with _guard:
            _held[key] = (fd, 1)
    try:
        yield path
    finally:
        with _guard:
            fd, count = _held[key]
            if count > 1:
                _held[key] = (fd, count - 1)
            else:
                del _held[key]
                os.close(fd)  # releases the lock (the pid line is left: harmless, only read while locked)


def _acquire(path: Path, command: str, wait: bool, on_wait: Callable[[str], None] | None) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                holder = _read_holder(fd)
                if not wait:
                    raise ProjectBusy(path, holder) from None
                if on_wait is not None:
                    on_wait(holder)
                fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode("ascii", "replace"), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def holds_lock(cache_dir: Path) -> bool:
    """Whether this process holds the lock of the project whose cache folder is `cache_dir`."""
    with _guard:
        return str(cache_dir / LOCK_FILE) in _held


# -- what a killed build leaves behind (removed only while holding the lock) ---------------------------------

# tempfile.mkdtemp's suffix, and swap_in's `.old-<pid>-<ns>`
_STAGING = re.compile(r"\.tmp-[a-z0-9_]{8}")
_OLD = re.compile(r"\.old-\d+-\d+")
_ATOMIC_TMP = re.compile(r"\..+\.kbgen-tmp-\d+-\d+")  # atomic.py's temporary files


def leftovers(output: Path, cache_dir: Path) -> list[Path]:
    """What interrupted builds left beside `output` and in `cache_dir` (see the module's docstring)."""
    found: list[Path] = []
    prefix = f".{output.name}"
    if output.parent.is_dir():
        for entry in output.parent.iterdir():
            rest = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
            if rest and (_STAGING.fullmatch(rest) or _OLD.fullmatch(rest)) and not entry.is_symlink():
                found.append(entry)
    for folder in (cache_dir, cache_dir / "index"):
        if folder.is_dir():
            found += [p for p in folder.iterdir() if _ATOMIC_TMP.fullmatch(p.name) and not p.is_dir()]
    serve = cache_dir / "serve"
    if serve.is_dir():  # the private folders of `kbgen serve` processes: none runs while we hold the lock
        found += [
            p for p in serve.iterdir()
            if p.name.isdigit() and int(p.name) != os.getpid() and not p.is_symlink()
        ]  # fmt: skip
    return sorted(found)


def remove_leftovers(output: Path, cache_dir: Path) -> list[Path]:
    """Remove `leftovers()`; returns what was removed. Call it only while holding the project's lock."""
    assert holds_lock(cache_dir), "remove_leftovers() without the project's lock"
    removed = leftovers(output, cache_dir)
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed
