"""Writing a file so that a reader sees its old or its new content, never half of it: a temporary file
beside it, renamed over it; nothing is left behind when the write fails or is interrupted."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _replace(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.kbgen-tmp-{os.getpid()}-{time.monotonic_ns()}")
    try:
        with tmp.open("wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    _replace(path, lambda fh: fh.write(data))


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically unless the file already holds exactly it; True when written."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    write_atomic(path, data)
    return True


def pickle_atomic(path: Path, obj: Any) -> None:
    """Pickle `obj` into `path` atomically (streamed: no copy of the whole pickle in memory)."""
    _replace(path, lambda fh: pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL))


def dump_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write `path` atomically with `write(file)` (e.g. several pickles, one after another)."""
    _replace(path, write)
