"""The orchestration: config → load → (render ∥ index) → atomic write.

A build writes into a staging directory beside the output and swaps it in only when everything succeeded,
so a failed build leaves the published site untouched. kbgen refuses to replace a directory it did not
create (it marks its own with `.kbgen-site`).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import (
    CACHE_FILE,
    BuildCache,
    inputs_fingerprint,
    marker_identity,
    output_identity,
    page_signature,
    site_signature,
)
from .config import Config, checked_base_url
from .content import LoadOptions, load_library
from .content.model import Library
from .errors import BuildError, Problem
from .integrity import search_export_problem
from .lifetime import die_with_parent, exit_on_sigterm
from .lock import project_lock, remove_leftovers
from .memtrace import mark
from .render import Page, SiteRenderer, Theme, build_date_from_env
from .safepath import allowed_roots, inside, walk_files
from .widget import widget_outputs

MARKER = ".kbgen-site"
PARALLEL_PAGES = 600

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class BuildOptions:
    output: Path | None = None
    strict: bool = False
    drafts: bool = False
    base_url: str | None = None
    workers: int = 0
    progress: Progress | None = None
    cache: bool = True  # reuse `.kbgen/` from the previous build where it is provably still right


@dataclass
class BuildResult:
    output: Path
    pages: int
    files: int
    warnings: list[Problem]
    timings: dict[str, float] = field(default_factory=dict)
    library: Library | None = None
    reused: int = 0  # pages taken unchanged from the previous build
    up_to_date: bool = False  # nothing changed since the previous build: its output was kept as it is


@contextmanager
def _timed(timings: dict[str, float], stage: str):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _write_site_files(renderer: SiteRenderer, staging: Path) -> int:
    """The site's files besides its pages (sitemap, robots.txt, feed, the brand CSS and other generated
    files, the help widget's), for a full build and for `kbgen serve`'s full rebuild alike; returns how many."""
    files = {
        "sitemap.xml": renderer.sitemap(),
        "robots.txt": renderer.robots(),
        "feed.xml": renderer.feed(),
        **renderer.generated_files(),
        **widget_outputs(renderer),
    }
    for rel, data in files.items():
        _write(staging / rel, data)
    return len(files)


# Worker state for forked page rendering: set in the parent before the pool forks.
_STATE: dict[str, Any] = {}


def _render_slice(bounds: tuple[int, int]) -> int:
    renderer: SiteRenderer = _STATE["renderer"]
    pages: list[Page] = _STATE["pages"]
    staging: Path = _STATE["staging"]
    for page in pages[bounds[0] : bounds[1]]:
        _write(inside(staging, page.output), renderer.render(page))
    return bounds[1] - bounds[0]


def render_pages(
    renderer: SiteRenderer,
    staging: Path,
    workers: int,
    progress: Progress | None,
    pages: list[Page] | None = None,
) -> int:
    """Render `pages` (default: every page of the site) into `staging`, in forked workers for large sites."""
    if pages is None:
        pages = list(renderer.pages())
    total = len(pages)
    if workers > 1 and total >= PARALLEL_PAGES and "fork" in multiprocessing.get_all_start_methods():
        # One page of each template first, here: the workers inherit the compiled templates (and the
        # fragments cached) instead of each compiling them again.
        first: dict[str, Page] = {}
        for page in pages:
            first.setdefault(page.template, page)
        for page in first.values():
            _write(inside(staging, page.output), renderer.render(page))
        warm = {id(page) for page in first.values()}
        rest = [page for page in pages if id(page) not in warm]
        _STATE.update(renderer=renderer, pages=rest, staging=staging)
        step = max(100, len(rest) // (workers * 8))
        slices = [(i, min(i + step, len(rest))) for i in range(0, len(rest), step)]
        done = len(first)
        was_frozen = gc.get_freeze_count() > 0  # by build(): it unfreezes
        gc.freeze()  # the workers' garbage collections skip the parent's objects (no copy-on-write of them)
        try:
            with multiprocessing.get_context("fork").Pool(
                workers, initializer=die_with_parent, initargs=(os.getpid(),)
            ) as pool:
                for n in pool.imap_unordered(_render_slice, slices):
                    done += n
                    if progress:
                        progress("render", done, total)
        finally:
            if not was_frozen:
                gc.unfreeze()
            _STATE.clear()
        return total
    for i, page in enumerate(pages, 1):
        _write(inside(staging, page.output), renderer.render(page))
        if progress and (i % 50 == 0 or i == total):
            progress("render", i, total)
    return total


def reuse_pages(
    renderer: SiteRenderer, library: Library, config: Config, cache: BuildCache, output: Path, staging: Path
) -> tuple[list[Page], int]:
    """Hard-link the pages whose signature is unchanged from the previous output; return the rest to render."""
    site_sig = site_signature(renderer, library, config)
    pages = list(renderer.pages())
    previous = cache.pages if cache.output == str(output) and _same_output(cache, output) else {}
    todo: list[Page] = []
    reused = 0
    signatures: dict[str, str] = {}
    for page in pages:
        sig = page_signature(site_sig, page)
        signatures[page.output] = sig
        if previous.get(page.output) == sig:
            target = inside(staging, page.output)
            try:
                try:
                    os.link(output / page.output, target)
                except FileNotFoundError:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.link(output / page.output, target)
                reused += 1
                continue
            except OSError:
                pass  # gone, or another file system: render it
        todo.append(page)
    cache.pages = signatures
    cache.output = str(output)
    return todo, reused


def _same_output(cache: BuildCache, output: Path) -> bool:
    """Is `output` the folder the cache's page signatures describe (its marker the one that build wrote)?
    Not after a build that replaced it without saving the cache (interrupted, or `cache=False`)."""
    built_by = marker_identity(output, MARKER)
    return built_by is not None and cache.output_id is not None and tuple(cache.output_id[:2]) == built_by


def _copy_tree_files(files: dict[str, Path], dest: Path) -> int:
    for rel, src in files.items():
        target = inside(dest, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    return len(files)


def static_files(
    theme: Theme, config: Config, problems: list[Problem] | None, level: str
) -> dict[str, Path]:
    """Every file published under `static/`: the theme's, then the site's (which win). A symbolic link
    pointing outside the project is not followed: a `problems` entry at `level` names it."""
    files = {f"static/{k}": v for k, v in theme.static_files(problems, level).items()}
    if problems is not None:
        from .brand import brand_problems

        problems.extend(brand_problems(config))
    files.update(BuildSession.site_static_files(config, problems, level))
    return files


def check_output_dir(output: Path, root: Path) -> None:
    """Refuse to replace a directory kbgen did not create, or one that holds the project itself."""
    if not output.exists():
        return
    if not output.is_dir():
        raise BuildError([Problem(str(output), 0, "output path exists and is not a directory")])
    resolved = output.resolve()
    if resolved == root.resolve() or root.resolve().is_relative_to(resolved) or resolved == Path.home():
        raise BuildError(
            [Problem(str(output), 0, "refusing to use the project folder (or a parent) as output")]
        )
    if (output / MARKER).exists():
        return
    if any(output.iterdir()):
        raise BuildError(
            [
                Problem(
                    str(output), 0,
                    f"refusing to replace {output}: it was not created by kbgen (no {MARKER} file); "
                    "choose another --output or remove it yourself",
                )
            ]
        )  # fmt: skip


def swap_in(staging: Path, output: Path) -> None:
    """Replace `output` by `staging` with two renames; the old tree is removed afterwards, in the background.

    Deleting thousands of files is slow on some file systems (seconds for 10k pages), and nobody needs to wait
    for it: the old tree is renamed out of the way first, so the published site is whole at every moment.
    """
    old: Path | None = None
    if output.exists():
        old = output.with_name(f".{output.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        output.rename(old)
    staging.rename(output)
    leftovers = sorted(output.parent.glob(f".{output.name}.old-*"))
    if leftovers:
        remove_in_background(leftovers)


def remove_in_background(paths: list[Path]) -> None:
    """Delete folders in a detached process that outlives this one (falls back to deleting now)."""
    try:
        subprocess.Popen(
            ["rm", "-rf", "--", *map(str, paths)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    except OSError:
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)


def _load_labels(theme: Theme, language: str) -> dict[str, str]:
    strings = theme.translations(language)
    keys = ("note", "tip", "important", "warning", "caution", "play_video", "watch_video")
    return {k: str(strings[f"md.{k}"]) for k in keys if f"md.{k}" in strings}


def _apply_analytics(library: Library, config: Config) -> list[Problem]:
    try:
        from .analytics.popularity import apply_popularity
    except ImportError:
        return []
    report = apply_popularity(library, config, config.root)
    return list(getattr(report, "problems", []) or [])


def _build_search(units: list[Any], config: Config, staging: Path, workers: int = 1) -> dict[str, Any]:
    """Index and export search; returns its figures, with `wall`: the seconds it took."""
    start = time.perf_counter()
    from .search import SearchSettings, index_and_export

    settings = SearchSettings.from_config(config)
    index_dir = (config.cache_path / f"lang-{config.i18n_lang}" if config.i18n_lang else config.cache_path) / "index"
    info = index_and_export(units, index_dir, staging / "_search", settings, workers=workers)
    info["wall"] = time.perf_counter() - start
    return info


SUBMIT_BATCH = 1000  # articles whose search units are sent to the search process at once
_CANCEL_GRACE = 5.0  # seconds cancel() gives the search process to stop on SIGTERM


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection inside (loading builds the library: millions of long-lived objects the
    collector would traverse again and again, ~1.5 s at 10,000 articles, to find next to nothing); what was
    built is then frozen (never traversed again, freed by reference counting like anything else) until the
    build returns."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing): what the
    load freed is then not counted in the peak memory of the processes forked to render."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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


def build(config: Config, options: BuildOptions | None = None) -> BuildResult:
    """Build the site described by `config`. Raises `BuildError` with every problem found, and
    `kbgen.lock.ProjectBusy` if another kbgen holds the project's lock (see `kbgen.lock`)."""
    with project_lock(config.cache_path, command="build"):
        # What a killed build left behind (staging and old output folders, temporary cache files), beside
        # an output folder kbgen may replace.
        output = (options and options.output or config.output_path).resolve()
        check_output_dir(output, config.root)
        remove_leftovers(output, config.cache_path)
        return _build_locked(config, options)


def _build_locked(config: Config, options: BuildOptions | None = None) -> BuildResult:
    options = options or BuildOptions()
    if config.hooks or config.plugins:  # kbgen.plugins; their code is unknown to the caches: not used
        from . import plugins

        config = plugins.activate(config)
        options.cache = False
        try:
            return _build_with_plugins(config, options)
        finally:
            plugins.deactivate()
    return _build_with_plugins(config, options)


def _build_with_plugins(config: Config, options: BuildOptions) -> BuildResult:
    if options.base_url is not None:
        config.base_url = checked_base_url(options.base_url, "command line", "--base-url")
    output = (options.output or config.output_path).resolve()
    timings: dict[str, float] = {}
    workers = options.workers or config.build.workers or (os.cpu_count() or 1)
    check_output_dir(output, config.root)
    theme = Theme.for_config(config)
    if len(config.languages) > 1:  # a multilingual site: kbgen/languages.py (one sub-site per language)
        from .languages import build_site

        return build_site(config, options, output, workers, theme, timings)
    # The search index and export are built in a forked process while this one renders the pages. It is
    # forked first, while this process is small (before the cache and the content are loaded).
    search = SearchJob(config, workers)
    caller_froze = gc.get_freeze_count() > 0
    try:
        return _build(config, options, output, workers, theme, search, timings)
    finally:
        search.cancel()  # a no-op once its result was read
        if not caller_froze:  # what the load froze: collectable again by whoever goes on (tests, serve)
            gc.unfreeze()


def _build(
    config: Config,
    options: BuildOptions,
    output: Path,
    workers: int,
    theme: Theme,
    search: SearchJob,
    timings: dict[str, float],
) -> BuildResult:
    cache = (
        BuildCache.open(config.cache_path) if options.cache else BuildCache(config.cache_path / CACHE_FILE)
    )
    inputs = ""
    if options.cache:
        # Nothing changed since the build that wrote `output` (every input file hashed by content)?
        # Then that output is exactly what this build would write: keep it.
        with _timed(timings, "check"):
            inputs = inputs_fingerprint(
                config,
                theme.fingerprint(),
                (options.drafts, options.strict, str(output)),
                build_date_from_env().date().isoformat(),
            )
            up_to_date = (
                cache.inputs == inputs
                and cache.output == str(output)
                and cache.output_id is not None
                and cache.output_id == output_identity(output, MARKER)
                and bool(cache.summary)
                and (config.cache_path / "index" / "kbgen-manifest.json").is_file()
            )
        if up_to_date:
            summary = cache.summary
            return BuildResult(
                output, summary["pages"], summary["files"], list(summary["warnings"]), timings, None,
                reused=summary["pages"], up_to_date=True,
            )  # fmt: skip
    staging: Path | None = None
    try:
        with _timed(timings, "load"), _no_cyclic_gc():
            loaded = load_library(
                config.content_path,
                LoadOptions(
                    drafts=options.drafts,
                    base_path=config.base_path,
                    labels=_load_labels(theme, config.language),
                    workers=workers,
                    strict=options.strict,
                    render_cache=cache.render,
                    project_root=config.root,
                ),
            )
        problems = list(loaded.problems)
        static = static_files(theme, config, problems, "error" if options.strict else "warning")
        if options.progress:
            options.progress("load", 1, 1)
        if loaded.errors or any(p.level == "error" for p in problems):
            raise BuildError(problems)
        library = loaded.library
        if not library.articles:
            raise BuildError([*problems, Problem(str(config.content_path), 0, "no articles found", "error")])
        with _timed(timings, "analytics"):
            problems += _apply_analytics(library, config)

        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
        mark("build: loaded")
        search.submit(library, staging)
        # The rendered bodies are saved now, and let go; and since the search process has the units, so is
        # the articles' plain text, which no page shows (nor does a page signature hash it: it is derived
        # from the body, whose HTML is hashed). The memory is free for rendering.
        if options.cache:
            cache.save_render()
        for article in library.articles:
            article.text, article.sections = "", []
        _release_free_memory()
        mark("build: submitted")
        renderer = SiteRenderer(config, library, build_date_from_env(), theme)
        with _timed(timings, "render"):
            todo, reused = reuse_pages(renderer, library, config, cache, output, staging)
            pages = reused + render_pages(renderer, staging, workers, options.progress, todo)
            site_files = _write_site_files(renderer, staging)
        mark("build: rendered")
        with _timed(timings, "index_wait"):  # the part of the index stage not hidden behind rendering
            info = search.result()
            timings["index"] = info.get("wall", 0.0)
        if options.progress:
            options.progress("index", 1, 1)
        with _timed(timings, "write"):
            files = pages + site_files
            files += _copy_tree_files(static, staging)
            files += _copy_tree_files(
                {site.lstrip("/"): config.content_path / src for site, src in library.assets.items()}, staging
            )
            if config.deploy.redirects:  # host redirect and header files (kbgen.deploy)
                from .deploy import write_for_build

                problems += write_for_build(config, library, renderer, theme, staging)
            (staging / MARKER).write_text(
                "This folder was generated by kbgen; it is replaced on every build.\n"
            )
            os.chmod(staging, 0o755)
            mark("build: search done, written")
            if incomplete := search_export_problem(staging / "_search"):  # never publish a broken search
                raise BuildError([Problem(str(output / "_search"), 0, incomplete)])
            swap_in(staging, output)
            if config.hooks or config.plugins:
                from .plugins import call

                call("on_post_build", site_dir=output)
            if options.cache:
                cache.inputs = inputs
                cache.output_id = output_identity(output, MARKER)
                cache.summary = {
                    "pages": pages,
                    "files": files,
                    "warnings": [p for p in problems if p.level == "warning"],
                }
                mark("build: before cache save")
                cache.save()
                mark("build: cache saved")
    except BaseException:
        search.cancel()  # first: while it runs, the search process may still write into the staging folder
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    warnings = [p for p in problems if p.level == "warning"]
    return BuildResult(output, pages, files, warnings, timings, library, reused)


# -- Editor workflow: a build kept in memory, for `kbgen serve` and its incremental rebuilds ---------------


class BuildSession:
    """A whole build held in memory: the `Library`, the `SiteRenderer` and what incremental rebuilds need.

    `full()` loads and renders everything into a new directory under `out_root` and makes it `output`
    only when it succeeded (a failed build leaves the previous one in place and raises `BuildError`).
    `kbgen.rebuild` then updates `output` in place, page by page.
    """

    def __init__(self, config: Config, out_root: Path, *, drafts: bool = False, workers: int = 0) -> None:
        self.config = config
        self.out_root = out_root
        self.drafts = drafts
        self.workers = workers or config.build.workers or (os.cpu_count() or 1)
        self.output: Path | None = None
        self.generation = 0
        self.theme: Theme | None = None
        self.library: Library | None = None
        self.renderer: SiteRenderer | None = None
        self.details: Any = None  # kbgen.content.load.LoadDetails of the last full load
        self.problems: list[Problem] = []  # warnings of the last successful full build
        self.timings: dict[str, float] = {}
        self._guard = threading.Lock()  # close() (serve's Ctrl+C) against full() starting a search process
        self._closed = False
        self._search: SearchJob | None = None

    def load_options(self, theme: Theme) -> LoadOptions:
        return LoadOptions(
            drafts=self.drafts,
            base_path=self.config.base_path,
            labels=_load_labels(theme, self.config.language),
            workers=self.workers,
            project_root=self.config.root,
        )

    def full(self, config: Config | None = None, *, reload_content: bool = True) -> Path:
        """Build everything into a fresh directory; on success it becomes `output`.

        The build before the previous one is removed then (the previous one stays a moment longer, for
        requests still reading from it)."""
        from .content.load import load_library_details

        config = config or self.config
        timings: dict[str, float] = {}
        theme = Theme.for_config(config)
        if len(config.languages) > 1:  # every language, into a fresh folder (kbgen/languages.py)
            return self._full_languages(config, theme, timings)
        previous_config, self.config = self.config, config
        try:
            # The warm-build cache of `kbgen build` is read, never written: bodies rendered then are reused
            # (each only while its links still resolve alike), and so are unchanged pages of site/. Not
            # while plugins are active (Rebuilder.full activates them): their output is unknown to it.
            from . import plugins

            cache = (
                BuildCache(config.cache_path / CACHE_FILE)
                if plugins.active()
                else BuildCache.open(config.cache_path)
            )
            if reload_content or self.details is None:
                options = self.load_options(theme)
                options.render_cache = cache.render
                with _timed(timings, "load"):
                    details = load_library_details(config.content_path, options)
                loaded = details.result
                problems = list(loaded.problems)
                if loaded.errors:
                    raise BuildError(problems)
                library = loaded.library
                if not library.articles:
                    raise BuildError(
                        [*problems, Problem(str(config.content_path), 0, "no articles found", "error")]
                    )
                with _timed(timings, "analytics"):
                    problems += _apply_analytics(library, config)
                static_files(theme, config, problems, "warning")  # the links it skips, reported
            else:
                details, library, problems = self.details, self.library, list(self.problems)
                assert library is not None
        except BaseException:
            self.config = previous_config
            raise
        self.out_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=self.out_root))
        search: SearchJob | None = None
        try:
            search = self._start_search(config)
            search.submit(library, staging)
            renderer = SiteRenderer(config, library, build_date_from_env(), theme)
            with _timed(timings, "render"):
                todo, _reused = reuse_pages(renderer, library, config, cache, config.output_path, staging)
                render_pages(renderer, staging, self.workers, None, todo)
                _write_site_files(renderer, staging)
            with _timed(timings, "index_wait"):
                timings["index"] = search.result().get("wall", 0.0)
                search = None
            with _timed(timings, "write"):
                _copy_tree_files(static_files(theme, config, None, "warning"), staging)
                _copy_tree_files(
                    {s.lstrip("/"): config.content_path / src for s, src in library.assets.items()}, staging
                )
                (staging / MARKER).write_text("Generated by `kbgen serve`; removed when it stops.\n")
        except BaseException:
            if search is not None:
                search.cancel()
            self.config = previous_config
            shutil.rmtree(staging, ignore_errors=True)
            raise
        final, old = self._publish(staging)
        self.theme, self.library, self.renderer, self.details = theme, library, renderer, details
        self.problems = [p for p in problems if p.level != "error"]
        self.timings = timings
        self._drop_stale(final, old)
        return final

    def _full_languages(self, config: Config, theme: Theme, timings: dict[str, float]) -> Path:
        from .languages import build_into

        self.out_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=self.out_root))
        try:
            result = build_into(config, staging, drafts=self.drafts, strict=False, workers=self.workers,
                                theme=theme, timings=timings, for_serve=True)  # fmt: skip
            (staging / MARKER).write_text("Generated by `kbgen serve`; removed when it stops.\n")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        final, old = self._publish(staging)
        self.config, self.theme, self.library, self.renderer, self.details = config, theme, result.library, None, None
        self.problems = [p for p in result.problems if p.level != "error"]
        self.timings = timings
        self._drop_stale(final, old)
        return final

    def _publish(self, staging: Path) -> tuple[Path, Path | None]:
        """The staged preview becomes the next numbered folder and the one served: (new, previous)."""
        self.generation += 1
        final = self.out_root / f"build-{self.generation}"
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
        old, self.output = self.output, final
        return final, old

    def _drop_stale(self, final: Path, old: Path | None) -> None:
        """Remove the numbered folders other than the new one and the one served until now."""
        for stale in self.out_root.glob("build-*"):
            if stale not in (final, old):
                shutil.rmtree(stale, ignore_errors=True)

    @staticmethod
    def site_static_files(
        config: Config, problems: list[Problem] | None = None, level: str = "warning"
    ) -> dict[str, Path]:
        site_static = config.root / config.static_dir
        if not site_static.is_dir():
            return {}
        roots = allowed_roots(config.root, site_static)
        return {
            f"static/{rel}": p
            for rel, p in walk_files(site_static, roots, problems, level=level, label=config.static_dir)
        }

    def _start_search(self, config: Config) -> SearchJob:
        """The build's search process, which close() stops; none once closed."""
        with self._guard:
            if self._closed:
                raise RuntimeError("the session is closed")
            self._search = SearchJob(config, self.workers)
            return self._search

    def close(self) -> None:
        """Stop the search process of a build still running in another thread (Ctrl+C in `kbgen serve`:
        otherwise the exit waits for it, a non-daemonic child, to index the whole site), and remove
        everything this session wrote."""
        with self._guard:
            self._closed = True
            search, self._search = self._search, None
        if search is not None:
            search.cancel()  # a no-op once the build read its result
        shutil.rmtree(self.out_root, ignore_errors=True)
