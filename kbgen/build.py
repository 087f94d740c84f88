"""Publishing a build: up-to-date check, lock, staging folder, swap, cache (the stages: kbgen/site.py).

A build writes into a staging directory beside the output and swaps it in only when everything succeeded,
so a failed build leaves the published site untouched. kbgen refuses to replace a directory it did not
create (it marks its own with `.kbgen-site`). `BuildSession` is the other driver of the same pipeline:
`kbgen serve`'s full builds, into numbered folders of a private preview folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import CACHE_FILE, BuildCache, inputs_fingerprint, output_identity
from .config import Config, checked_base_url
from .content import LoadOptions
from .content.model import Library
from .errors import BuildError, Problem
from .lock import project_lock, remove_leftovers
from .memtrace import mark
from .render import SiteRenderer, Theme, build_date_from_env
from .searchjob import SearchJob, search_index_dir
from .site import (
    MARKER,
    LangBuild,
    Pipeline,
    Progress,
    SiteBuild,
    id_prefix,
    load_labels,
    render_pages,
    run,
    site_static_files,
    sites_of,
    timed,
)

__all__ = ["MARKER", "BuildOptions", "BuildResult", "BuildSession", "SearchJob", "build", "render_pages"]


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


def check_output_dir(output: Path, root: Path) -> None:
    """Refuse to replace a directory kbgen did not create, or one that holds the project itself."""
    if not output.exists():
        return
    if not output.is_dir():
        raise BuildError([Problem(str(output), 0, "output path exists and is not a directory", code="output-path")])
    resolved = output.resolve()
    if resolved == root.resolve() or root.resolve().is_relative_to(resolved) or resolved == Path.home():
        raise BuildError(
            [Problem(str(output), 0, "refusing to use the project folder (or a parent) as output", code="output-path")]
        )
    if (output / MARKER).exists():
        return
    if any(output.iterdir()):
        raise BuildError(
            [
                Problem(
                    str(output), 0,
                    f"refusing to replace {output}: it was not created by kbgen (no {MARKER} file); "
                    "choose another --output or remove it yourself", code="output-path",
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
    cache = (
        BuildCache.open(config.cache_path) if options.cache else BuildCache(config.cache_path / CACHE_FILE)
    )
    inputs = ""
    if options.cache:
        # Nothing changed since the build that wrote `output` (every input file hashed by content)?
        # Then that output is exactly what this build would write: keep it.
        with timed(timings, "check"):
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
                and all((search_index_dir(s.config) / "kbgen-manifest.json").is_file() for s in sites_of(config))
            )
        if up_to_date:
            summary = cache.summary
            return BuildResult(
                output, summary["pages"], summary["files"], list(summary["warnings"]), timings, None,
                reused=summary["pages"], up_to_date=True,
            )  # fmt: skip
    pipeline = Pipeline(
        drafts=options.drafts, strict=options.strict, workers=workers, progress=options.progress,
        cache=cache if options.cache else None, reuse_from=output, save_render_cache=options.cache,
        free_text=True, deploy=True, verify_search=True,
    )  # fmt: skip
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
    try:
        result = run(config, staging, theme, pipeline, timings)
        with timed(timings, "write"):
            (staging / MARKER).write_text("This folder was generated by kbgen; it is replaced on every build.\n")
            os.chmod(staging, 0o755)
            swap_in(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if config.hooks or config.plugins:
        from .plugins import call

        call("on_post_build", site_dir=output)
    warnings = [p for p in result.problems if p.level == "warning"]
    if options.cache:
        with timed(timings, "write"):
            if len(result.langs) > 1:  # no page signatures: a page also shows its translations
                cache.pages = {}
            cache.inputs, cache.output = inputs, str(output)
            cache.output_id = output_identity(output, MARKER)
            cache.summary = {"pages": result.pages, "files": result.files, "warnings": warnings}
            mark("build: before cache save")
            cache.save()
            mark("build: cache saved")
    return BuildResult(output, result.pages, result.files, warnings, timings, result.default.library, result.reused)


# -- Editor workflow: a build kept in memory, for `kbgen serve` and its incremental rebuilds ---------------


class BuildSession:
    """A whole build held in memory: each language's `Library`, `SiteRenderer` and loader details.

    `full()` runs the pipeline (kbgen/site.py) into a new directory under `out_root` and makes it `output`
    only when it succeeded (a failed build leaves the previous one in place and raises `BuildError`).
    `kbgen.rebuild` then updates `output` in place, page by page (kbgen/multiserve.py: language by language).
    """

    def __init__(self, config: Config, out_root: Path, *, drafts: bool = False, workers: int = 0) -> None:
        self.config = config
        self.out_root = out_root
        self.drafts = drafts
        self.workers = workers or config.build.workers or (os.cpu_count() or 1)
        self.output: Path | None = None
        self.generation = 0
        self.theme: Theme | None = None
        self.built: SiteBuild | None = None  # every language of the last full build
        self.library: Library | None = None  # the (default) language's, as below
        self.renderer: SiteRenderer | None = None
        self.details: Any = None  # kbgen.content.load.LoadDetails of the last full load
        self.problems: list[Problem] = []  # warnings of the last successful full build
        self.timings: dict[str, float] = {}
        self._guard = threading.Lock()  # close() (serve's Ctrl+C) against full() starting a search process
        self._closed = False
        self._searches: list[SearchJob] = []  # the running full build's search processes (one per language)

    def load_options(self, theme: Theme) -> LoadOptions:
        return LoadOptions(
            drafts=self.drafts,
            base_path=self.config.base_path,
            labels=load_labels(theme, self.config.language),
            workers=self.workers,
            project_root=self.config.root,
            id_prefix=id_prefix(self.config),
        )

    def full(self, config: Config | None = None, *, reload_content: bool = True) -> Path:
        """Build everything into a fresh directory; on success it becomes `output`.

        The build before the previous one is removed then (the previous one stays a moment longer, for
        requests still reading from it)."""
        from . import plugins

        config = config or self.config
        timings: dict[str, float] = {}
        theme = Theme.for_config(config)
        # The warm-build cache of `kbgen build` is read, never written: bodies rendered then are reused
        # (each only while its links still resolve alike), and so are unchanged pages of site/. Not
        # while plugins are active (Rebuilder.full activates them): their output is unknown to it.
        cache = BuildCache(config.cache_path / CACHE_FILE) if plugins.active() else BuildCache.open(config.cache_path)
        loaded: dict[str, LangBuild] | None = None
        if not reload_content and self.built is not None:
            loaded = {lb.site.code: lb for lb in self.built.langs}
        with self._guard:
            self._searches = []  # the previous full build's, finished
        pipeline = Pipeline(drafts=self.drafts, workers=self.workers, cache=cache, reuse_from=config.output_path,
                            start_search=self._start_search,
                            keep_details=True, loaded=loaded)  # fmt: skip
        self.out_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=self.out_root))
        try:
            built = run(config, staging, theme, pipeline, timings)
            (staging / MARKER).write_text("Generated by `kbgen serve`; removed when it stops.\n")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        final, old = self._publish(staging)
        default = built.default
        self.config, self.theme, self.built = config, theme, built
        self.library, self.renderer, self.details = default.library, default.renderer, default.details
        self.problems = [p for p in built.problems if p.level != "error"]
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
        return site_static_files(config, problems, level)

    def _start_search(self, config: Config, workers: int) -> SearchJob:
        """The build's search process, which close() stops; none once closed."""
        with self._guard:
            if self._closed:
                raise RuntimeError("the session is closed")
            job = SearchJob(config, workers)
            self._searches.append(job)
            return job

    def close(self) -> None:
        """Stop the search process of a build still running in another thread (Ctrl+C in `kbgen serve`:
        otherwise the exit waits for it, a non-daemonic child, to index the whole site), and remove
        everything this session wrote."""
        with self._guard:
            self._closed = True
            searches, self._searches = self._searches, []
        for search in searches:
            search.cancel()  # a no-op once the build read its result
        shutil.rmtree(self.out_root, ignore_errors=True)
