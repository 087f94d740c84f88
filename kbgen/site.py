"""The build pipeline: one sequence of stages that `kbgen build` and `kbgen serve` both run.

    start_searches → load_stage → analytics_stage → submit_search → render_stage (render_language for each
                   language, then write_root_files) → collect_search → write_files → check_search

Each stage is a function taking the previous one's value (`Loaded`, then `SiteBuild`) and returning a new one;
what one changes in place says so in its docstring (a library's popularity, freed text, `LangBuild.renderer`).

`run()` carries the sequence out into a staging folder, for a one-language site and for every language of a
multilingual one (`[languages]`, kbgen/languages.py) alike: a one-language site is the case of one language
at the root with no translations. The drivers differ only in how they publish the staged folder and in the
options they pass (`Pipeline`): `kbgen build` (kbgen/build.py) checks whether anything changed, reuses
unchanged pages and bodies from its cache, frees what the search process has, writes the host's redirect
files, refuses an incomplete search export and swaps the folder in; `kbgen serve` (`BuildSession` in
kbgen/build.py) reads that cache without writing it, keeps the loader's details for its incremental
rebuilds (kbgen/rebuild.py, kbgen/multiserve.py) and publishes numbered folders.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .cache import BuildCache, marker_identity, page_signature, site_signature
from .config import Config
from .content import LoadOptions, load_library
from .content.load import LoadDetails, load_library_details
from .content.model import Library
from .errors import BuildError, Problem
from .languages import (
    LangSite,
    Translations,
    default_first,
    is_multilingual,
    language_sites,
    link_fallback,
    prefix_problems,
    root_chooser,
)
from .lifetime import die_with_parent
from .markdown import LinkFallback
from .memtrace import mark
from .render import Page, SiteRenderer, Theme, build_date_from_env
from .safepath import allowed_roots, inside, walk_files
from .searchjob import SearchJob

MARKER = ".kbgen-site"  # in every folder kbgen writes a site into (it replaces no folder without it)
PARALLEL_PAGES = 600  # pages from which they are rendered in forked workers

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Pipeline:
    """How a driver wants the stages run (see the module's docstring for who sets what)."""

    drafts: bool = False
    strict: bool = False
    workers: int = 1
    progress: Progress | None = None
    cache: Any = None  # kbgen.cache.BuildCache: bodies and unchanged pages reused (a one-language site)
    reuse_from: Path | None = None  # the published folder whose unchanged pages are hard-linked
    save_render_cache: bool = False  # kbgen build: the rendered bodies saved for the next build
    free_text: bool = False  # kbgen build: the articles' text dropped once the search process has it
    deploy: bool = False  # kbgen build: the host's redirect and header files ([deploy])
    verify_search: bool = False  # kbgen build: never publish an incomplete search export
    keep_details: bool = False  # kbgen serve: the loader's details, for incremental rebuilds
    loaded: dict[str, LangBuild] | None = None  # kbgen serve after a template change: the content kept
    # kbgen serve: starts (and keeps track of) the search processes, so a Ctrl+C can stop them (BuildSession)
    start_search: Callable[[Config, int], SearchJob] | None = None


@dataclass
class LangBuild:
    """One language's part of a build (the whole site for a one-language site)."""

    site: LangSite
    library: Library
    details: LoadDetails | None
    problems: list[Problem]
    renderer: SiteRenderer | None = None
    ok: bool = True  # loaded without errors

    @property
    def config(self) -> Config:
        return self.site.config


@dataclass
class SiteBuild:
    langs: list[LangBuild]
    translations: Translations | None
    pages: int = 0
    files: int = 0
    reused: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def default(self) -> LangBuild:
        return next(lb for lb in self.langs if lb.site.default)


def sites_of(config: Config) -> list[LangSite]:
    """The languages a site is built as: each of `[languages]`, or the site itself at the root."""
    if is_multilingual(config):
        return language_sites(config)
    return [LangSite(config.language, config.language, "", True, config)]


def dest_of(staging: Path, site: LangSite) -> Path:
    return staging / site.prefix if site.prefix else staging


def id_prefix(config: Config) -> str:
    """One id per language: analytics never count a French view for German (the default language: none)."""
    code = config.i18n_lang
    return f"{code}/" if code and code in config.languages and not config.languages[code].default else ""


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection inside (loading builds the library: millions of long-lived objects the
    collector would traverse again and again, ~1.5 s at 10,000 articles, to find next to nothing); what was
    built is then frozen (never traversed again, freed by reference counting like anything else)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing): what the
    load freed is then not counted in the peak memory of the processes forked to render."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def load_labels(theme: Theme, language: str) -> dict[str, str]:
    strings = theme.translations(language)
    keys = ("note", "tip", "important", "warning", "caution", "play_video", "watch_video")
    return {k: str(strings[f"md.{k}"]) for k in keys if f"md.{k}" in strings}


def apply_analytics(library: Library, config: Config) -> list[Problem]:
    try:
        from .analytics.popularity import apply_popularity
    except ImportError:
        return []
    report = apply_popularity(library, config, config.root)
    return list(getattr(report, "problems", []) or [])


def site_static_files(
    config: Config, problems: list[Problem] | None = None, level: str = "warning"
) -> dict[str, Path]:
    """The site's own `static/` files (a symbolic link pointing outside the project: a `problems` entry)."""
    site_static = config.root / config.static_dir
    if not site_static.is_dir():
        return {}
    roots = allowed_roots(config.root, site_static)
    return {
        f"static/{rel}": p
        for rel, p in walk_files(site_static, roots, problems, level=level, label=config.static_dir)
    }


def write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# Worker state for forked page rendering: set in the parent before the pool forks.
_STATE: dict[str, Any] = {}


def _render_slice(bounds: tuple[int, int]) -> int:
    renderer: SiteRenderer = _STATE["renderer"]
    pages: list[Page] = _STATE["pages"]
    staging: Path = _STATE["staging"]
    for page in pages[bounds[0] : bounds[1]]:
        write(inside(staging, page.output), renderer.render(page))
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
            write(inside(staging, page.output), renderer.render(page))
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
        write(inside(staging, page.output), renderer.render(page))
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


def copy_tree_files(files: dict[str, Path], dest: Path) -> int:
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
    files.update(site_static_files(config, problems, level))
    return files



# -- stages ---------------------------------------------------------------------------------------------


def load_language(
    site: LangSite, theme: Theme, p: Pipeline, multilingual: bool, root: Path, fallback: LinkFallback | None = None
) -> LangBuild | None:
    """Stage 1: one language's content (None: its folder is missing or has errors; `problems` say why).
    A multilingual site's problems name their file from the project (`content/fr/x.md`: which language)."""
    lb = _load_language(site, theme, p, multilingual, root, fallback)
    if multilingual:
        from .errors import from_project

        lb.problems = from_project(lb.problems, site.config.content_path, root)
    return lb


def _load_language(
    site: LangSite, theme: Theme, p: Pipeline, multilingual: bool, root: Path, fallback: LinkFallback | None
) -> LangBuild:
    config = site.config
    problems: list[Problem] = []
    if multilingual and not config.content_path.is_dir():
        problems.append(Problem(str(config.content_path), 0,
                                f"no content folder for language {site.code!r} ([languages.{site.code}])",
                                "error", code="no-content"))  # fmt: skip
        return LangBuild(site, Library(), None, problems, ok=False)
    options = LoadOptions(
        drafts=p.drafts, base_path=config.base_path, labels=load_labels(theme, config.language),
        workers=p.workers, strict=p.strict, project_root=root,
        # the bodies rendered by the previous build (keyed by content path: a one-language site only)
        render_cache=p.cache.render if p.cache is not None and not multilingual else None,
        id_prefix=id_prefix(config),
        fallback=fallback,  # a translation's links to articles only the default language has
    )  # fmt: skip
    details = load_library_details(config.content_path, options) if p.keep_details else None
    loaded = details.result if details is not None else load_library(config.content_path, options)
    problems += loaded.problems
    if loaded.errors:
        return LangBuild(site, loaded.library, None, problems, ok=False)
    library = loaded.library
    if not library.articles:  # the default language must have some; another may be just begun
        problems.append(Problem(str(config.content_path), 0, "no articles found" + (
            "" if site.default else f": the {site.name} site has only its home page"),
            "error" if site.default else "warning", code="no-articles"))  # fmt: skip  (even with --strict: a language just begun)
    return LangBuild(site, library, details, problems)


def root_files(lb: LangBuild, translations: Translations | None, theme: Theme) -> dict[str, bytes]:
    """The files of the site's root a language writes (staging-relative): a one-language site's sitemap,
    robots.txt, generated and widget files; for a multilingual site the default language writes those
    (sitemap and robots.txt of every language) and, when it has a prefix, the language chooser."""
    from .widget import widget_outputs

    renderer = lb.renderer
    assert renderer is not None
    if not lb.site.default:
        return {}
    files: dict[str, bytes] = {
        "sitemap.xml": renderer.sitemap() if translations is None else translations.sitemap(),
        "robots.txt": renderer.robots() if translations is None else translations.robots(),
        **renderer.generated_files(),
        **widget_outputs(renderer),
    }  # fmt: skip
    if translations is not None and lb.site.prefix:  # the root: a language chooser, and the 404 the host serves
        files["index.html"] = root_chooser(renderer, translations)
        files["static/kb-lang.js"] = (theme.default_dir / "languages" / "kb-lang.js").read_bytes()
    return files


def language_files(lb: LangBuild, translations: Translations | None) -> dict[str, bytes]:
    """The files besides its pages a language writes under its own prefix (the feed)."""
    assert lb.renderer is not None
    return {"feed.xml": lb.renderer.feed()}


@dataclass
class Loaded:
    """What the load stage hands on: the languages loaded without errors (in the site's order), every
    problem found so far, and the files to publish under `static/`."""

    langs: list[LangBuild]
    problems: list[Problem]
    static: dict[str, Path]


def start_searches(sites: list[LangSite], p: Pipeline) -> dict[str, SearchJob]:
    """Stage 0: one search process per language, forked first, while this process is small (see
    build.SearchJob); `Pipeline.start_search` lets serve's BuildSession keep track of them."""
    return {s.code: (p.start_search or SearchJob)(s.config, p.workers) for s in sites}


def load_stage(config: Config, sites: list[LangSite], theme: Theme, p: Pipeline, timings: dict[str, float]) -> Loaded:
    """Stage 1: every language's content (the default first: a translation's links fall back to it; serve's
    kept content, `p.loaded`, instead of loading again), the static files; a BuildError on any error."""
    multilingual = is_multilingual(config)
    langs: list[LangBuild] = []
    problems: list[Problem] = []
    with timed(timings, "load"), no_cyclic_gc():
        loaded: dict[str, Library] = {}
        for s in default_first(sites):
            kept = (p.loaded or {}).get(s.code)
            fallback = link_fallback(s, sites, loaded, theme.translations(s.config.language)) if multilingual else None
            lb = kept if kept is not None else load_language(s, theme, p, multilingual, config.root, fallback)
            if kept is not None:
                lb = LangBuild(s, kept.library, kept.details, list(kept.problems))
            problems += lb.problems
            if lb.ok:
                langs.append(lb)
                loaded[s.code] = lb.library
        langs.sort(key=lambda lb: [x.code for x in sites].index(lb.site.code))  # the site's order again
    if multilingual and len(langs) == len(sites):
        problems += prefix_problems(sites, {lb.site.code: lb.library for lb in langs})
    static = static_files(theme, config, problems, "error" if p.strict else "warning")
    if p.progress:
        p.progress("load", 1, 1)
    if any(x.level == "error" for x in problems):
        raise BuildError(problems)
    return Loaded(langs, problems, static)


def analytics_stage(loaded: Loaded, p: Pipeline, timings: dict[str, float]) -> Loaded:
    """Stage 2: the analytics' popularity applied to each library (in place: the articles' counts), its
    problems added to the language's and the site's. Not for serve's kept content (applied already)."""
    if p.loaded is not None:
        return loaded
    langs: list[LangBuild] = []
    problems = list(loaded.problems)
    with timed(timings, "analytics"):
        for lb in loaded.langs:
            found = apply_analytics(lb.library, lb.config)
            langs.append(replace(lb, problems=lb.problems + found))
            problems += found
    return Loaded(langs, problems, loaded.static)


def submit_search(langs: list[LangBuild], jobs: dict[str, SearchJob], staging: Path, p: Pipeline) -> None:
    """Stage 3: each library to its search process (which writes `_search/` while the pages render); the
    bodies' cache saved; with `p.free_text` the articles' text (in place), which no page needs, let go."""
    for lb in langs:
        jobs[lb.site.code].submit(lb.library, dest_of(staging, lb.site))
    if p.save_render_cache and p.cache is not None:
        p.cache.save_render()
    if p.free_text:
        # The search process has the units: the articles' plain text, which no page shows (nor does a page
        # signature hash it: it is derived from the body, whose HTML is hashed), is let go for rendering.
        for lb in langs:
            for article in lb.library.articles:
                article.text, article.sections = "", []
        release_free_memory()


def render_language(
    lb: LangBuild, config: Config, staging: Path, theme: Theme, p: Pipeline,
    translations: Translations | None, build_date: datetime,
) -> tuple[int, int, int]:  # fmt: skip
    """Stage 4, one language: its renderer (kept as `lb.renderer`), its pages (unchanged ones hard-linked
    from `p.reuse_from` for a one-language site) and its feed. Returns (pages, of them reused, files)."""
    dest = dest_of(staging, lb.site)
    renderer = lb.renderer = SiteRenderer(lb.config, lb.library, build_date, theme)
    if translations is not None:
        renderer.root_base = config.base_url
        renderer.i18n = translations.for_renderer(lb.site.code)
    todo, reused = None, 0
    if p.cache is not None and translations is None and p.reuse_from is not None:
        todo, reused = reuse_pages(renderer, lb.library, lb.config, p.cache, p.reuse_from, staging)
    pages = reused + render_pages(renderer, dest, p.workers, p.progress, todo)
    files = language_files(lb, translations)
    for rel, data in files.items():
        write(dest / rel, data)
    return pages, reused, len(files)


def write_root_files(lb: LangBuild, translations: Translations | None, theme: Theme, staging: Path) -> int:
    """Stage 5: the site root's files (`root_files`: the default language's), and the 404 page the host
    serves when the default language has a prefix. Returns how many."""
    files = root_files(lb, translations, theme)
    for rel, data in files.items():
        write(staging / rel, data)
    if translations is not None and lb.site.default and lb.site.prefix:
        shutil.copyfile(dest_of(staging, lb.site) / "404.html", staging / "404.html")
        return len(files) + 1
    return len(files)


def render_stage(
    config: Config, sites: list[LangSite], loaded: Loaded, staging: Path, theme: Theme, p: Pipeline,
    timings: dict[str, float],
) -> SiteBuild:  # fmt: skip
    """Stages 4 and 5: every language rendered, then the root's files; the counts in the SiteBuild."""
    translations = Translations(config, sites, {lb.site.code: lb.library for lb in loaded.langs}) \
        if is_multilingual(config) else None  # fmt: skip
    build_date = build_date_from_env()
    pages = reused = files = 0
    with timed(timings, "render"):
        for lb in loaded.langs:
            n_pages, n_reused, n_files = render_language(lb, config, staging, theme, p, translations, build_date)
            pages, reused, files = pages + n_pages, reused + n_reused, files + n_files
        for lb in loaded.langs:
            files += write_root_files(lb, translations, theme, staging)
    return SiteBuild(loaded.langs, translations, pages, files, reused, loaded.problems)


def collect_search(langs: list[LangBuild], jobs: dict[str, SearchJob], p: Pipeline, timings: dict[str, float]) -> None:
    """Stage 6: wait for each search process (its own time as `index`, the wait as `index_wait`)."""
    with timed(timings, "index_wait"):  # the part of the index stage not hidden behind rendering
        for lb in langs:
            info = jobs[lb.site.code].result()
            timings["index"] = timings.get("index", 0.0) + info.get("wall", 0.0)
    if p.progress:
        p.progress("index", 1, 1)


def write_files(
    config: Config, result: SiteBuild, static: dict[str, Path], staging: Path, theme: Theme, p: Pipeline
) -> SiteBuild:
    """Stage 7: the static files, each language's assets and (`p.deploy`) the host's redirect and header
    files; a new SiteBuild with the files counted and the deploy's problems added."""
    files = result.pages + copy_tree_files(static, staging)
    for lb in result.langs:
        assets = {site.lstrip("/"): lb.config.content_path / src for site, src in lb.library.assets.items()}
        files += copy_tree_files(assets, dest_of(staging, lb.site))
    problems = list(result.problems)
    if p.deploy and config.deploy.redirects:  # host redirect and header files (kbgen.deploy)
        from .deploy import write_for_build

        d = result.default
        problems += write_for_build(d.config, d.library, d.renderer, theme, staging)
    return replace(result, files=result.files + files, problems=problems)


def check_search(result: SiteBuild, staging: Path, p: Pipeline) -> None:
    """Stage 8: with `p.verify_search`, a BuildError when a language's search export is incomplete."""
    if p.verify_search:
        from .integrity import search_export_problem

        for lb in result.langs:
            dest = dest_of(staging, lb.site)
            if incomplete := search_export_problem(dest / "_search"):  # never publish a broken search
                raise BuildError([Problem(str(dest / "_search"), 0, incomplete, code="search-incomplete")])


def run(config: Config, staging: Path, theme: Theme, p: Pipeline, timings: dict[str, float]) -> SiteBuild:
    """Every stage, for every language of `config`, into `staging` (which the driver publishes)."""
    sites = sites_of(config)
    jobs = start_searches(sites, p)
    caller_froze = gc.get_freeze_count() > 0
    try:
        loaded = analytics_stage(load_stage(config, sites, theme, p, timings), p, timings)
        mark("build: loaded")
        submit_search(loaded.langs, jobs, staging, p)
        mark("build: submitted")
        result = render_stage(config, sites, loaded, staging, theme, p, timings)
        mark("build: rendered")
        collect_search(result.langs, jobs, p, timings)
        with timed(timings, "write"):
            result = write_files(config, result, loaded.static, staging, theme, p)
            check_search(result, staging, p)
            mark("build: search done, written")
        return result
    finally:
        for job in jobs.values():
            job.cancel()  # first when failing: while it runs, a search process may still write into staging
        if not caller_froze:  # what the load froze: collectable again by whoever goes on (tests, serve)
            gc.unfreeze()
