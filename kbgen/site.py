"""The build pipeline: one sequence of stages that `kbgen build` and `kbgen serve` both run.

    start_search → load (per language) → analytics → submit search → render (per language)
                 → site files → search result → static files and assets → checks

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
from dataclasses import dataclass, field
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


def run(config: Config, staging: Path, theme: Theme, p: Pipeline, timings: dict[str, float]) -> SiteBuild:
    """Every stage, for every language of `config`, into `staging` (which the driver publishes)."""
    sites = sites_of(config)
    multilingual = is_multilingual(config)
    level = "error" if p.strict else "warning"
    # Forked first, while this process is small (see build.SearchJob).
    jobs = {s.code: (p.start_search or SearchJob)(s.config, p.workers) for s in sites}
    caller_froze = gc.get_freeze_count() > 0
    try:
        langs: list[LangBuild] = []
        problems: list[Problem] = []
        with timed(timings, "load"), no_cyclic_gc():
            loaded: dict[str, Library] = {}
            for s in default_first(sites):  # a translation's links fall back to the default language
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
        static = static_files(theme, config, problems, level)
        if p.progress:
            p.progress("load", 1, 1)
        if any(x.level == "error" for x in problems):
            raise BuildError(problems)
        if p.loaded is None:
            with timed(timings, "analytics"):
                for lb in langs:
                    found = apply_analytics(lb.library, lb.config)
                    lb.problems += found
                    problems += found
        mark("build: loaded")
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
        mark("build: submitted")
        translations = Translations(config, sites, {lb.site.code: lb.library for lb in langs}) if multilingual else None
        result = SiteBuild(langs, translations, problems=problems)
        build_date = build_date_from_env()
        with timed(timings, "render"):
            for lb in langs:
                dest = dest_of(staging, lb.site)
                renderer = lb.renderer = SiteRenderer(lb.config, lb.library, build_date, theme)
                if translations is not None:
                    renderer.root_base = config.base_url
                    renderer.i18n = translations.for_renderer(lb.site.code)
                todo = None
                if p.cache is not None and not multilingual and p.reuse_from is not None:
                    todo, reused = reuse_pages(renderer, lb.library, lb.config, p.cache, p.reuse_from, staging)
                    result.reused += reused
                    result.pages += reused
                result.pages += render_pages(renderer, dest, p.workers, p.progress, todo)
                for rel, data in language_files(lb, translations).items():
                    write(dest / rel, data)
                    result.files += 1
                for rel, data in root_files(lb, translations, theme).items():
                    write(staging / rel, data)
                    result.files += 1
                if translations is not None and lb.site.default and lb.site.prefix:
                    shutil.copyfile(dest / "404.html", staging / "404.html")
                    result.files += 1
        mark("build: rendered")
        with timed(timings, "index_wait"):  # the part of the index stage not hidden behind rendering
            for lb in langs:
                info = jobs[lb.site.code].result()
                timings["index"] = timings.get("index", 0.0) + info.get("wall", 0.0)
        if p.progress:
            p.progress("index", 1, 1)
        with timed(timings, "write"):
            result.files += result.pages + copy_tree_files(static, staging)
            for lb in langs:
                assets = {site.lstrip("/"): lb.config.content_path / src for site, src in lb.library.assets.items()}
                result.files += copy_tree_files(assets, dest_of(staging, lb.site))
            if p.deploy and config.deploy.redirects:  # host redirect and header files (kbgen.deploy)
                from .deploy import write_for_build

                d = result.default
                problems += write_for_build(d.config, d.library, d.renderer, theme, staging)
            if p.verify_search:
                from .integrity import search_export_problem

                for lb in langs:
                    dest = dest_of(staging, lb.site)
                    if incomplete := search_export_problem(dest / "_search"):  # never publish a broken search
                        raise BuildError([Problem(str(dest / "_search"), 0, incomplete, code="search-incomplete")])
            mark("build: search done, written")
        return result
    finally:
        for job in jobs.values():
            job.cancel()  # first when failing: while it runs, a search process may still write into staging
        if not caller_froze:  # what the load froze: collectable again by whoever goes on (tests, serve)
            gc.unfreeze()
