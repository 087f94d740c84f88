"""The search index and its export, built in a process of their own while the pages render (`SearchJob`).

A stage of the pipeline (kbgen/site.py) for `kbgen build` and `kbgen serve`'s full builds alike; `kbgen serve`'s
incremental updates go through `kbgen.rebuild.SearchUpdater`, which keeps its worker between edits.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

from .config import Config
from .content.model import Library
from .lifetime import die_with_parent, exit_on_sigterm
from .memtrace import mark


def search_index_dir(config: Config) -> Path:
    """The Whoosh index of a site (of one language of a multilingual site), under `.kbgen/`."""
    base = config.cache_path / f"lang-{config.i18n_lang}" if config.i18n_lang else config.cache_path
    return base / "index"


def _build_search(units: list[Any], config: Config, staging: Path, workers: int = 1) -> dict[str, Any]:
    """Index and export search; returns its figures, with `wall`: the seconds it took."""
    start = time.perf_counter()
    from .search import SearchSettings, index_and_export

    settings = SearchSettings.from_config(config)
    info = index_and_export(units, search_index_dir(config), staging / "_search", settings, workers=workers)
    info["wall"] = time.perf_counter() - start
    return info


SUBMIT_BATCH = 1000  # articles whose search units are sent to the search process at once
_CANCEL_GRACE = 5.0  # seconds cancel() gives the search process to stop on SIGTERM


class SearchJob:
    """The search index and its export, built in a separate process while the parent renders pages.

    The process is forked when the job is created — before the content is loaded, so that it does not
    inherit the whole library (only the search units are sent to it, by `submit()`): the memory of the
    largest process stays about the units', not the site's. `result()` waits for it and returns its
    figures, or raises what it raised. Where `fork` is not available (or `workers` is 1) the work is done
    in `result()`, in this process.
    """

    def __init__(self, config: Config, workers: int) -> None:
        self._config = config
        self._workers = workers
        self._args: tuple[list[Any], Path] | None = None
        self._process: Any = None
        self._conn: Any = None
        self._parent = os.getpid()
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            self._conn, child = ctx.Pipe(duplex=True)
            self._process = ctx.Process(target=self._child, args=(child,), name="kbgen-search")
            self._process.start()
            child.close()

    def _child(self, conn: Any) -> None:
        # Not left running if the build is killed: SIGKILL, as its Python-level SIGTERM handler (below) may
        # be swallowed. Its own workers end with it the same way (they too call die_with_parent).
        die_with_parent(self._parent, signal.SIGKILL)
        # The parent's end of the pipe, inherited by the fork: closed here, so that closing it in the parent
        # is seen (EOF) by recv() below.
        self._conn.close()
        # cancel() terminates this process: exit through Python, so that multiprocessing stops the index
        # workers it started (daemonic children) instead of leaving them to finish on their own. (Python
        # may swallow that SystemExit — e.g. when it arrives inside an import — so cancel() does not rely
        # on it.)
        signal.signal(signal.SIGTERM, exit_on_sigterm)
        # A one-shot process that builds large, long-lived tables of small objects: the cyclic garbage
        # collector would traverse them again and again (~4 % of a 10,000-article build's CPU) and find
        # next to nothing. Memory is still freed by reference counting.
        gc.disable()
        try:
            try:  # while the parent loads the content: the imports the search needs (Whoosh, …)
                import kbgen.search.export  # noqa: F401
                import kbgen.search.index  # noqa: F401
            except ImportError:
                pass
            # The units come in batches (`submit()`), then the staging folder.
            units: list[Any] = []
            try:
                while isinstance(batch := conn.recv(), list):
                    units += batch
            except EOFError:  # cancelled before all the work was sent
                return
            staging = batch
            mark("search: units received")
            conn.send(("ok", _build_search(units, self._config, staging, self._workers)))
        except SystemExit:  # cancelled: nobody is listening any more
            raise
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            import traceback

            with contextlib.suppress(OSError):  # the parent may be gone
                try:
                    conn.send(("error", exc))
                except OSError:
                    raise
                except Exception:  # noqa: BLE001 - an exception that does not pickle
                    conn.send(("error", RuntimeError("".join(traceback.format_exception(exc)))))
        finally:
            conn.close()

    def submit(self, library: Library, staging: Path) -> None:
        """Start indexing `library`'s search units; the export goes into `staging/_search`."""
        from .search import collect_units
        from .search.units import article_units

        if self._process is None:
            self._args = (collect_units(library), staging)
            return
        # In batches of articles: neither process ever holds all the units twice (as objects and pickled),
        # which at 50,000 articles was ~300 MB more at the peak of each.
        articles = library.articles
        try:
            for i in range(0, len(articles), SUBMIT_BATCH):
                self._conn.send([u for a in articles[i : i + SUBMIT_BATCH] for u in article_units(a)])
            self._conn.send(staging)
        except OSError:  # BrokenPipeError, …: it is gone — with its reason, if it could send it
            self._process.join(1)
            reason: Any = None
            with contextlib.suppress(EOFError, OSError):
                if self._conn.poll():
                    status, reason = self._conn.recv()
            if isinstance(reason, BaseException):
                raise reason from None
            raise RuntimeError(self._died()) from None

    def _died(self) -> str:
        return (
            f"the search indexing process died (exit code {self._process.exitcode}); see the messages above"
        )

    def result(self) -> dict[str, Any]:
        if self._process is None:
            assert self._args is not None, "submit() first"
            units, staging = self._args
            return _build_search(units, self._config, staging, self._workers)
        try:
            # Waits for the answer while the process lives (its own workers hold a copy of the pipe, so
            # the process dying does not always end recv()).
            while not self._conn.poll(0.5) and self._process.is_alive():
                pass
            try:
                status, value = self._conn.recv() if self._conn.poll() else ("", None)
            except (EOFError, OSError):  # gone: EOF, or ECONNRESET when batches were left unread
                status, value = "", None
            if status == "":
                self._process.join(1)
                status, value = "error", RuntimeError(self._died())
            self._process.join()
        finally:
            self._conn.close()
        if status != "ok":
            raise value
        return value

    def cancel(self) -> None:
        """Stop the process (if it still runs: a no-op after `result()`)."""
        if self._conn is not None:
            self._conn.close()  # a process still waiting for work sees EOF and ends
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(_CANCEL_GRACE)
            if self._process.is_alive():  # it did not stop (SIGTERM swallowed): its workers end with it
                self._process.kill()
                self._process.join()
