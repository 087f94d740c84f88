"""Changed files → the least work that keeps the served site exactly what a full build would give.

The incremental rebuild behind `kbgen serve` (like Zola's `rebuild` component). `classify()` maps changed
paths to a `Plan`; `Rebuilder.apply()` carries it out on a `BuildSession` kept in memory:

- an article saved: re-read that one file, render its page; the listing pages that show it (section,
  category, tag pages; home, search and 404 only if their popular/recent lists or counts changed; the
  "more in this section" block of its neighbours) are re-rendered only if what they show of it changed
  (title, URL, type, description, date, order); articles linking to it only if its URL or anchors changed;
- an article created, deleted, renamed or turned into a draft: the same, plus the old pages removed;
  a new or emptied category/section is a change of structure → full rebuild;
- an image or other content file: copied (or removed), and the articles using it re-rendered;
- a theme or site static file: copied (or removed); the dev server sends no-cache headers;
- a template: every page re-rendered (content kept in memory); `_index.md`, `kbgen.toml`, the theme's
  `i18n/` or analytics data: full rebuild.

Every page of a rebuild is rendered in memory first; only when all succeeded are the files written, each
atomically (temporary file + rename). A rebuild with an error writes nothing and keeps its paths for the
next attempt, so the served site always equals some successful build (tests/test_serve.py holds the result
of every kind of change to a fresh full build, byte for byte). The search index follows in a worker
process (`SearchUpdater`), so the reload never waits for it.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import gc
import heapq
import os
import posixpath
import queue
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from . import plugins
from .atomic import write_atomic, write_if_changed
from .build import BuildSession
from .config import Config, load_config
from .content.assemble import (
    check_outputs,
    empties_a_folder,
    folder_dirs,
    folder_index,
    link_tags,
    navigation_order,
    place,
    resolve_related,
    settle_tags,
    tag_slug,
    tags_of,
    unlink_tags,
    url_clash,
)
from .content.load import (
    LoadOptions,
    OneArticle,
    article_hooks,
    read_one_article,
    related_line,
    render_one_article,
)
from .content.model import Article, Category, Library, Section
from .errors import BuildError, ConfigError, Problem, display_path
from .lifetime import ctrl_c_deferred, ignore_ctrl_c
from .markdown import LinkContext, MarkdownRenderer, Rendered
from .render import Page, SiteRenderer
from .safepath import allowed_roots, inside, is_within
from .searchjob import search_index_dir
from .urls import alias_output, asset_site_path, page_output, path_of
from .widget import widget_outputs

EDITOR_JUNK_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".bak", ".part", ".crdownload")
# Codes of the markdown issues that name a (missing) file, to know who links to what.
_MISSING = frozenset({"broken-link", "broken-anchor", "missing-image"})


@dataclass(frozen=True)
class Change:
    """One file-system change: the path (absolute), and whether it is/was a directory."""

    path: Path
    is_dir: bool = False


@dataclass
class Plan:
    """What a set of changes needs; `full` wins over everything else."""

    full: bool = False
    config: bool = False  # re-read kbgen.toml (implies full)
    templates: bool = False  # re-render every page, content kept
    reason: str = ""
    articles: set[str] = field(default_factory=set)  # content-relative .md paths
    assets: set[str] = field(default_factory=set)  # content-relative paths of other content files
    static: set[str] = field(default_factory=set)  # output paths under static/

    @property
    def empty(self) -> bool:
        return not (self.full or self.templates or self.articles or self.assets or self.static)

    def merge(self, other: Plan) -> None:
        self.full |= other.full
        self.config |= other.config
        self.templates |= other.templates
        self.reason = self.reason or other.reason
        self.articles |= other.articles
        self.assets |= other.assets
        self.static |= other.static

    def describe(self) -> str:
        if self.full:
            return f"full rebuild ({self.reason})" if self.reason else "full rebuild"
        parts = sorted(self.articles) + sorted(self.assets) + sorted(self.static)
        if self.templates:
            parts.insert(0, "templates")
        shown = ", ".join(parts[:3]) + (f" and {len(parts) - 3} more" if len(parts) > 3 else "")
        return shown


@dataclass
class Outcome:
    """What one rebuild did: `paths` are the changed site paths (None: everything may have changed)."""

    ok: bool
    kind: str  # "full" | "pages" | "incremental" | "none"
    seconds: float = 0.0
    written: int = 0
    deleted: int = 0
    paths: list[str] | None = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    after: list[Callable[[], None]] = field(default_factory=list)  # background work to queue (search)

    def follow_up(self) -> None:
        for task in self.after:
            task()
        self.after = []


class NeedFull(Exception):
    """The change is one of structure: only a full rebuild gives the right answer."""


def _is_junk(name: str) -> bool:
    return (
        name.startswith((".", "#"))
        or name.endswith(EDITOR_JUNK_SUFFIXES)
        or name == "4913"  # vim's write test
    )


def _under(path: Path, root: Path) -> str | None:
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    return rel.as_posix() if rel.parts else ""


class Rebuilder:
    """Carries out `Plan`s on a `BuildSession`; keeps per-article problems and who-refers-to-what."""

    def __init__(
        self, session: BuildSession, config_file: Path | None = None, root: Path | None = None
    ) -> None:
        self.session = session
        self.config_file = config_file
        self.root = (root or session.config.root).resolve()
        self.needs_full = True
        self.refs: dict[str, frozenset[str]] = {}
        self.problems_by_source: dict[str, list[Problem]] = {}
        self.global_problems: list[Problem] = []
        self.retry = Plan()
        self.md: MarkdownRenderer | None = None
        self.options: LoadOptions | None = None
        # Kept between rebuilds (rebuilt after every full build, updated by every incremental one).
        self.by_source: dict[str, Article] = {}
        self.url_owner: dict[str, str] = {}  # article URL → source
        self.folders: dict[str, Category | Section] = {}
        self.folder_urls: dict[str, str] = {}  # category/section URL → title
        self.feed_sources: set[str] = set()  # the articles the feed shows
        self.search = SearchUpdater()
        self.watching: set[Path] = set()  # folders the server watches (set by kbgen.serve)
        self.base_url_override: str | None = None
        self.plugins_stale = True  # kbgen.plugins: (re-)activate them with the config on the next full build
        # Set by kbgen/multiserve.py on each language's Rebuilder of a multilingual site: takes the site's root
        # files (sitemap, widget) out of the outputs of a rebuild, before they are written.
        self.on_outputs: Callable[[dict[str, bytes]], None] | None = None

    # -- public ----------------------------------------------------------------------------------

    @property
    def problems(self) -> list[Problem]:
        found = list(self.global_problems)
        for items in self.problems_by_source.values():
            found.extend(items)
        return sorted(set(found), key=lambda p: (p.level != "error", p.path, p.line, p.message))

    def watched_paths(self) -> list[Path]:
        """Folders and files whose changes matter: content, themes, static, config, analytics data."""
        config = self.session.config
        paths = [config.content_path, self.root / "themes"]
        if self.session.theme is not None:
            paths += self.session.theme.dirs
        paths.append(config.root / config.static_dir)
        paths.append(self.config_path)
        paths += plugins.watched_files(config)
        paths += self.analytics_inputs()
        return paths

    @property
    def config_path(self) -> Path:
        config = self.session.config
        return (config.path or self.config_file or config.root / "kbgen.toml").resolve()

    def analytics_inputs(self) -> list[Path]:
        try:
            from .analytics.popularity import popularity_inputs
        except ImportError:
            return []
        try:
            return [Path(p) for p in popularity_inputs(self.session.config, self.session.config.root)]
        except Exception:  # noqa: BLE001 - a broken analytics setup must not stop the editor
            return []

    def classify(self, changes: Iterable[Change]) -> Plan:
        """Map file-system changes to the work they need."""
        plan = Plan()
        config = self.session.config
        content = config.content_path
        theme_dirs = [d.resolve() for d in (self.session.theme.dirs if self.session.theme else [])]
        site_theme = (config.root / "themes" / config.theme).resolve()
        site_static = (config.root / config.static_dir).resolve()
        analytics = {p.resolve() for p in self.analytics_inputs()}
        # The collector's database gets its newest rows in `<db>-wal` (the main file changes at checkpoints)
        analytics |= {p.with_name(p.name + "-wal") for p in analytics}
        config_path = self.config_path
        hooks = set(plugins.watched_files(config))
        for change in changes:
            path = change.path if change.path.is_absolute() else (self.root / change.path)
            path = Path(os.path.abspath(path))
            if path in hooks:  # its new code: loaded again with the config (kbgen.plugins)
                plan.full = plan.config = True
                plan.reason = plan.reason or f"{path.name} changed"
                continue
            if path == config_path:
                plan.full = plan.config = True
                plan.reason = plan.reason or f"{path.name} changed"
                continue
            if path in analytics:
                plan.full = True
                plan.reason = plan.reason or "analytics data changed"
                continue
            rel = _under(path, content)
            if rel is not None:
                self._classify_content(plan, rel, change, path)
                continue
            if path in (self.root / "themes", site_static) and path.is_dir() and path not in self.watching:
                plan.full = True  # a folder to watch appeared: rebuild and watch it from now on
                plan.reason = plan.reason or f"{path.name}/ created"
                continue
            handled = False
            for d in theme_dirs:
                rel = _under(path, d)
                if rel is None:
                    continue
                handled = True
                self._classify_theme(plan, rel, change)
                break
            if handled:
                continue
            if _under(path, site_theme) is not None and site_theme not in theme_dirs:
                plan.full = True  # the site's theme folder appeared: the lookup chain changes
                plan.reason = plan.reason or f"theme folder {site_theme.name}/ created"
                continue
            rel = _under(path, site_static)
            if rel:
                if change.is_dir:
                    plan.full = True
                    plan.reason = plan.reason or f"folder {rel}/ in static/ changed"
                elif not any(_is_junk(p) for p in rel.split("/")):
                    plan.static.add(f"static/{rel}")
        return plan

    def _classify_content(self, plan: Plan, rel: str, change: Change, path: Path) -> None:
        if not rel:
            plan.full = True
            plan.reason = plan.reason or "content folder changed"
            return
        parts = rel.split("/")
        if any(p.startswith(".") for p in parts) or _is_junk(parts[-1]):
            return
        in_asset_dir = any(p.startswith("_") for p in parts[:-1])
        if change.is_dir or path.is_dir():
            if path.exists():
                return  # a new, empty folder changes nothing; files moved in arrive as their own events
            plan.full = True
            plan.reason = plan.reason or f"folder {rel}/ removed or renamed"
            return
        if path.is_symlink() and not is_within(
            os.path.realpath(path), allowed_roots(self.session.config.root, self.session.config.content_path)
        ):
            plan.full = True  # the full load reports the link and leaves it out
            plan.reason = plan.reason or f"{rel} is a link outside the project"
            return
        name = parts[-1]
        if name == "_index.md" and not in_asset_dir:
            plan.full = True
            plan.reason = plan.reason or f"{rel} changed"
        elif name.endswith(".md"):
            if not in_asset_dir:
                plan.articles.add(rel)
        else:
            plan.assets.add(rel)

    def _classify_theme(self, plan: Plan, rel: str, change: Change) -> None:
        parts = rel.split("/") if rel else []
        if not parts or any(p.startswith(".") for p in parts) or _is_junk(parts[-1]):
            return
        if parts[0] == "templates":
            plan.templates = True
        elif parts[0] == "static" and len(parts) > 1:
            if change.is_dir:
                plan.full = True
                plan.reason = plan.reason or f"theme folder {rel}/ changed"
            else:
                plan.static.add("/".join(parts))
        elif parts[0] == "i18n" or change.is_dir:
            plan.full = True
            plan.reason = plan.reason or f"theme {rel} changed"

    def apply(self, plan: Plan) -> Outcome:
        """Carry out `plan` (merged with the paths of a previous failed attempt)."""
        start = time.perf_counter()
        plan.merge(self.retry)
        self.retry = Plan()
        if plan.empty and not self.needs_full:
            return Outcome(True, "none")
        try:
            if plan.full or self.needs_full or self.session.library is None:
                outcome = self.full(reload_config=plan.config or self.session.library is None)
            elif plan.templates:
                outcome = self.full(reload_config=False, reload_content=bool(plan.articles or plan.assets))
            else:
                try:
                    outcome = self.incremental(plan)
                except NeedFull as exc:
                    outcome = self.full(reload_config=False)
                    outcome.problems = outcome.problems or []
                    if outcome.ok:
                        outcome.kind = f"full ({exc})"
        except Exception as exc:  # noqa: BLE001 - the server must survive anything a rebuild does
            problem = _exception_problem(exc, self.root)
            self.global_problems = [problem]
            self.needs_full = True
            outcome = Outcome(False, "error", problems=[problem])
        if not outcome.ok:
            self.retry.merge(plan)
        outcome.seconds = time.perf_counter() - start
        return outcome

    # -- full ------------------------------------------------------------------------------------

    def reload_config(self) -> Config:
        config = load_config(self.config_file, root=self.root)
        if self.base_url_override is not None:
            config.base_url = self.base_url_override
        else:
            config.base_url = config.base_path  # served from this machine: the path part only
        return config

    def full(self, *, reload_config: bool = True, reload_content: bool = True) -> Outcome:
        session = self.session
        start = time.perf_counter()
        self.search.wait()  # a full build indexes everything itself; never two index writers at once
        self.search.reset()
        gc.unfreeze()
        try:
            if reload_config or self.plugins_stale:  # the plugins of the config as it is now, their code too
                self.plugins_stale = True
                plugins.deactivate()
                config = self.reload_config()
                if plugins.wanted(config):
                    config = plugins.activate(config)
            else:
                config = session.config
            session.full(config, reload_content=reload_content)
            self.plugins_stale = False
            if plugins.active():  # the preview folder in place, as `kbgen build` calls it on site/
                plugins.call("on_post_build", site_dir=session.output)
        except ConfigError as exc:
            problem = Problem(display_path(self.config_path, self.root), 0, str(exc).split(": ", 1)[-1],
                              code="config")
            self._failed_full([problem])
            return Outcome(False, "full", problems=[problem])
        except BuildError as exc:
            problems = [self._display(p) for p in exc.problems]
            self._failed_full(problems)
            return Outcome(False, "full", problems=problems)
        except Exception as exc:  # noqa: BLE001 - a template error, a missing theme ...
            problem = _exception_problem(exc, self.root)
            self._failed_full([problem])
            return Outcome(False, "full", problems=[problem])
        return self.after_full(start, reload_content)

    def after_full(self, start: float, reload_content: bool) -> Outcome:
        """The state incremental rebuilds need, from the full build just published (kbgen/multiserve.py
        overrides it for a multilingual site)."""
        session = self.session
        self._index_after_full()
        self.needs_full = False
        # A large site is millions of objects that live until the next full build: keep them out of the
        # garbage collector's way, or every incremental rebuild may pay for a full collection.
        gc.collect()
        gc.freeze()
        library, output = session.library, session.output
        assert library is not None and output is not None
        prime = functools.partial(
            self.search.schedule, library, session.config, output, [], set(), export=False
        )
        return Outcome(True, "full" if reload_content else "pages", time.perf_counter() - start, paths=None,
                       problems=self.problems, timings=dict(session.timings), after=[prime])  # fmt: skip

    def _failed_full(self, problems: list[Problem]) -> None:
        self.global_problems = problems
        self.problems_by_source = {}
        self.needs_full = True

    def _display(self, p: Problem) -> Problem:
        """A problem whose path is content-relative, shown relative to the project (as editors know it)."""
        content = self.session.config.content_path
        path = p.path
        if path and os.path.isabs(path):
            path = display_path(Path(path), self.root)
        elif path and (path.endswith(".md") or (content / path).exists()):
            path = display_path(content / path, self.root)
        return dataclasses.replace(p, path=path)

    def _index_after_full(self) -> None:
        details = self.session.details
        library = self.session.library
        assert details is not None and library is not None
        self.refs = {a.source: _refs(a, details.rendered.get(a.source)) for a in library.articles}
        self.problems_by_source = {}
        self.global_problems = []
        for p in self.session.problems:
            self.problems_by_source.setdefault(p.path, []).append(self._display(p))
        theme = self.session.theme
        assert theme is not None
        self.options = self.session.load_options(theme)
        self.options.workers = 1
        self.md = MarkdownRenderer(details.links, self.options.labels)
        self.by_source = {a.source: a for a in library.articles}
        self.url_owner = {a.url: a.source for a in library.articles}
        self.folders = folder_index(library)
        self.folder_urls = {n.url: n.title for c in library.categories for n in (c, *c.sections)}
        self.feed_sources = _feed_sources(library)
        renderer = self.session.renderer
        assert renderer is not None
        _warm_templates(renderer)

    # -- incremental -----------------------------------------------------------------------------

    def incremental(self, plan: Plan) -> Outcome:
        session = self.session
        lib, renderer, details, md = session.library, session.renderer, session.details, self.md
        output = session.output
        assert lib is not None and renderer is not None and details is not None and md is not None
        assert output is not None and session.theme is not None
        config = session.config
        content = config.content_path
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        options = self.options
        assert options is not None
        by_source = self.by_source
        folders = self.folders

        # 1. Read every changed article (front matter, URL); errors stop here with nothing changed.
        ones: dict[str, OneArticle] = {}
        for rel in sorted(plan.articles):
            if (content / rel).is_file():
                ones[rel] = read_one_article(content, rel, options, details.dates)
            else:
                ones[rel] = OneArticle(rel, None, None, [])
        errors: list[Problem] = [p for one in ones.values() for p in one.errors]
        removed = {rel for rel, one in ones.items() if one.article is None and rel in by_source}
        changed = {rel: one for rel, one in ones.items() if one.article is not None}
        for one in changed.values():
            assert one.article is not None
            one.article.url = self._place(one.article, folders)
            article_hooks(one)
        self._check_urls(ones, changed, errors)
        if errors:
            return self._fail(ones, errors)
        self._check_structure(lib, folders, changed, removed)

        # 2. The link context as it will be; who must be re-rendered because a target changed.
        links = _copy_links(details.links)
        unpublished: set[str] = getattr(links, "unpublished", set())
        for rel, one in ones.items():
            if one.hidden_draft:
                unpublished.add(rel)
            else:
                unpublished.discard(rel)
        targets: set[str] = set()
        for rel in removed:
            links.urls.pop(rel, None)
            links.anchors.pop(rel, None)
            targets.add(rel)
        for rel, one in changed.items():
            assert one.article is not None
            old = by_source.get(rel)
            if old is None or old.url != one.article.url or links.anchors.get(rel) != one.anchors:
                targets.add(rel)
            links.urls[rel] = one.article.url
            links.anchors[rel] = one.anchors
        asset_changes: dict[str, bool] = {}  # rel → exists now
        for rel in plan.assets:
            exists = (content / rel).is_file()
            if exists or asset_site_path(rel) in lib.assets:  # not a temporary file come and gone
                asset_changes[rel] = exists
                targets.add(rel)
        errors += self._check_outputs(lib, ones, changed, asset_changes)
        linkers = sorted(src for src, r in self.refs.items() if src not in ones and r & targets)
        for rel in linkers:
            one = read_one_article(content, rel, options, details.dates)
            if one.article is None:  # changed meanwhile: its own event will follow
                if one.errors:
                    errors += one.errors
                    continue
                raise NeedFull(f"{rel} changed")
            one.article.url = self._place(one.article, folders)
            article_hooks(one)
            ones[rel] = one
            changed[rel] = one
        if errors:
            return self._fail(ones, errors)
        timings["read"] = time.perf_counter() - t0

        # 3. Render the bodies with the new link context.
        t1 = time.perf_counter()
        md.links = links
        try:
            for one in changed.values():
                render_one_article(one, md, options.strict)
        finally:
            md.links = details.links
        timings["markdown"] = time.perf_counter() - t1

        # 4. Commit to the library: before/after signatures of every listing that may show a changed article.
        t2 = time.perf_counter()
        old_articles = [by_source[r] for r in ones if r in by_source]
        old_listing = {a.source: _listing_key(a) for a in old_articles}
        listing = bool(removed) or any(
            r not in old_listing or old_listing[r] != _listing_key(o.article)  # type: ignore[arg-type]
            for r, o in changed.items()
        )
        before = self._signatures(lib, old_articles, renderer.env.globals) if listing else {}
        old_outputs = {out for a in old_articles for out in _article_outputs(a)}
        old_urls = {a.source: a.url for a in old_articles}
        in_feed = bool(self.feed_sources & set(ones))
        sitemap_before = _sitemap_key(lib, old_articles) if listing else None
        try:
            new_articles = self._commit(lib, by_source, changed, removed, listing)
        except Exception:
            self.needs_full = True
            raise
        details.links = links
        md.links = links
        for rel, url in old_urls.items():
            if self.url_owner.get(url) == rel:
                del self.url_owner[url]
        for rel, one in changed.items():
            assert one.article is not None
            self.url_owner[one.article.url] = rel
        for rel, one in ones.items():
            if one.article is None:
                self.refs.pop(rel, None)
                self.problems_by_source.pop(rel, None)
        for rel, one in changed.items():
            assert one.article is not None
            self.refs[rel] = _refs(one.article, one.rendered)
            self.problems_by_source[rel] = [self._display(p) for p in one.problems]
        for rel, exists in asset_changes.items():
            site = asset_site_path(rel)
            if exists:
                lib.assets[site] = rel
            else:
                lib.assets.pop(site, None)
        gone = [a for a in old_articles if a.source in removed]
        if listing:
            globals_ = renderer.env.globals
            globals_.update(
                popular=lib.popular, recent=lib.recent, has_analytics_data=any(a.views for a in lib.articles)
            )
        after = self._signatures(lib, new_articles + gone, renderer.env.globals) if listing else {}
        timings["library"] = time.perf_counter() - t2

        # 5. Render every page that changed, in memory.
        t3 = time.perf_counter()
        outputs: dict[str, bytes] = {}
        try:
            keys = set(before) | set(after)
            wanted = {k for k in keys if before.get(k, _MISSING_SIG) != after.get(k, _MISSING_SIG)}
            pages = self._pages(renderer, lib, new_articles, wanted)
            for page in pages:
                outputs[page.output] = renderer.render(page)
            sitemap_after = _sitemap_key(lib, new_articles + gone) if listing else None
            if sitemap_after != sitemap_before:  # the order of the articles, their URLs and dates, the tags
                outputs["sitemap.xml"] = renderer.sitemap()
            dated = (
                sitemap_after is not None
                and sitemap_before is not None
                and sitemap_after[1] != sitemap_before[1]
            )
            if dated or in_feed:  # the feed: the most recently updated articles
                outputs["feed.xml"] = renderer.feed()
                self.feed_sources = _feed_sources(lib)
            if listing:  # the help widget's suggestions show titles, URLs and tags
                outputs.update(widget_outputs(renderer))
            if self.on_outputs is not None:  # a language of a multilingual site: the site's root files
                self.on_outputs(outputs)
        except Exception:
            self.needs_full = True  # the library changed already: start again from a clean state
            raise
        new_outputs = {out for a in new_articles for out in _article_outputs(a)}
        # Removed: the old pages of changed articles, and the pages of tags no article has any more.
        tag_pages = {page_output(t.url) for t in lib.tags}
        vanished = {
            k for k in before if k.startswith("tags/") and k != "tags/index.html" and k not in tag_pages
        }
        if "tags/index.html" in before and not lib.tags:
            vanished.add("tags/index.html")
        deletions = {d for d in (old_outputs - new_outputs) | vanished if d not in outputs}
        timings["render"] = time.perf_counter() - t3

        # 6. Write: every file atomically, unchanged ones skipped; then the removals.
        t4 = time.perf_counter()
        written, paths = 0, []
        for out, data in outputs.items():
            if not write_if_changed(inside(output, out), data):
                continue
            written += 1
            paths.append(path_of(out, config.base_path))
        for rel, exists in asset_changes.items():
            target = inside(output, asset_site_path(rel).lstrip("/"))
            if exists:
                write_atomic(target, (content / rel).read_bytes())
            else:
                target.unlink(missing_ok=True)
            written += 1
            paths.append(config.base_path + asset_site_path(rel).lstrip("/"))
        deleted = 0
        for out in sorted(deletions):
            target = inside(output, out)
            if target.is_file():
                target.unlink()
                deleted += 1
                paths.append(path_of(out, config.base_path))
                _prune_empty(target.parent, output)
        static_paths = self._sync_static(plan.static)
        written += len(static_paths)
        if plugins.active():  # as after a full build: the preview folder updated in place
            plugins.call("on_post_build", site_dir=output)
        timings["write"] = time.perf_counter() - t4

        after: list[Callable[[], None]] = []
        if changed or removed:
            articles = [by_source[r] for r in changed]
            after.append(lambda: self.search.schedule(lib, config, output, articles, removed))
        return Outcome(
            True, "incremental", written=written, deleted=deleted,
            paths=None if static_paths else paths, problems=self.problems, timings=timings, after=after,
        )  # fmt: skip

    def _fail(self, ones: dict[str, OneArticle], errors: list[Problem]) -> Outcome:
        for rel, one in ones.items():
            if one.problems:
                self.problems_by_source[rel] = [self._display(p) for p in one.problems]
        return Outcome(False, "incremental", problems=[self._display(p) for p in errors])

    @staticmethod
    def _place(article: Article, folders: dict[str, Category | Section]) -> str:
        """`assemble.place` in the folders the library has; a new folder is a change of structure."""
        cat_dir, sec_dir = folder_dirs(article.source)
        if cat_dir is None:
            return place(article, None, None)
        cat = folders.get(cat_dir)
        sec = folders.get(sec_dir) if sec_dir is not None else None
        if not isinstance(cat, Category) or (sec_dir is not None and not isinstance(sec, Section)):
            raise NeedFull(f"new folder for {article.source}")
        return place(article, cat, sec)

    def _check_urls(
        self, ones: dict[str, OneArticle], changed: dict[str, OneArticle], errors: list[Problem]
    ) -> None:
        claimed: dict[str, str] = {}
        for rel, one in sorted(changed.items()):
            assert one.article is not None
            url = one.article.url
            owner = self.url_owner.get(url)
            other = owner if owner is not None and owner not in ones else claimed.get(url)
            clash = url_clash(rel, url, other, self.folder_urls.get(url))
            if clash is not None:
                errors.append(clash)
            else:
                claimed[url] = rel

    def _check_outputs(
        self, lib: Library, ones: dict[str, OneArticle], changed: dict[str, OneArticle], assets: dict[str, bool]
    ) -> list[Problem]:
        """The full load's checks of output files and ids (`check_outputs`), on the library as it will be.
        Skipped when no changed article has a new URL, alias, tag or id and no content file is new: the
        library passed them already (the usual save: the text changed)."""

        def same(rel: str, new: Article) -> bool:
            old = self.by_source.get(rel)
            return old is not None and (old.url, old.aliases, old.tags, old.id) == (
                new.url, new.aliases, new.tags, new.id)  # fmt: skip

        if all(one.article is None or same(rel, one.article) for rel, one in changed.items()) and not any(
            exists and asset_site_path(rel) not in lib.assets for rel, exists in assets.items()
        ):
            return []
        articles = [a for a in lib.articles if a.source not in ones]
        articles += [one.article for one in changed.values() if one.article is not None]
        tags = tags_of(articles)
        site_assets = dict(lib.assets)
        for rel, exists in assets.items():
            if exists:
                site_assets[asset_site_path(rel)] = rel
            else:
                site_assets.pop(asset_site_path(rel), None)
        return check_outputs(articles, self.folders.values(), tags.values(), site_assets)

    @staticmethod
    def _check_structure(
        lib: Library,
        folders: dict[str, Category | Section],
        changed: dict[str, OneArticle],
        removed: set[str],
    ) -> None:
        """A category or section that would lose its last article changes the structure."""
        added = [one.article for one in changed.values() if one.article is not None]
        if empties_a_folder(folders, lib, removed, added):
            raise NeedFull("a category or section lost its last article")

    def _commit(
        self, lib: Library, by_source: dict[str, Article], changed: dict[str, OneArticle], removed: set[str],
        listing: bool,
    ) -> list[Article]:  # fmt: skip
        """Put the changed articles into the library (in place, so references stay valid)."""
        owners: dict[int, Category | Section] = {}
        gone: list[Article] = []
        for rel in removed:
            old = by_source.pop(rel)
            gone.append(old)
            owner = old.section or old.category
            if owner is not None:
                owner.articles.remove(old)
                owners[id(owner)] = owner
        current: list[Article] = []
        new_ones: list[Article] = []
        old_slugs: dict[int, set[str]] = {}
        for rel, one in changed.items():
            new = one.article
            assert new is not None
            old = by_source.get(rel)
            if old is None:
                new_ones.append(new)
                owner = new.section or new.category
                if owner is not None:
                    owner.articles.append(new)
                    owners[id(owner)] = owner
                by_source[rel] = new
                current.append(new)
                continue
            old_slugs[id(old)] = {t.slug for t in old.tag_links}
            keep = {"related": old.related, "views": old.views, "popularity_rank": old.popularity_rank,
                    "popularity": old.popularity, "tag_links": old.tag_links,
                    "customer_words": old.customer_words}  # fmt: skip
            old.__dict__.update(new.__dict__)
            old.__dict__.update(keep)
            owner = old.section or old.category
            if owner is not None:
                owners[id(owner)] = owner
            current.append(old)
        added = bool(new_ones)
        for owner in owners.values():
            owner.articles.sort(key=lambda a: a.sort_key)
        if listing or removed or added:
            _reorder(lib, current, gone, old_slugs, new_ones)
            for cat in lib.categories:  # their cached lists (all articles, counts, top articles)
                forget = getattr(cat, "forget", None)
                if forget is not None:
                    forget()
        content = self.session.config.content_path
        level = "error" if self.options is not None and self.options.strict else "warning"
        for rel in changed:
            line = functools.partial(related_line, content, rel)
            changed[rel].problems += resolve_related(by_source[rel], by_source, line, level)
        if removed:  # removed articles leave every `related` list
            for other in lib.articles:
                if other.related:
                    other.related = [r for r in other.related if r.source not in removed]
        if added:
            self._apply_analytics(lib)
        return current

    def _apply_analytics(self, lib: Library) -> None:
        try:
            from .analytics.popularity import apply_popularity
        except ImportError:
            return
        try:
            apply_popularity(lib, self.session.config, self.session.config.root)
        except Exception:  # noqa: BLE001 - views are a nicety while editing
            pass

    def _signatures(self, lib: Library, articles: list[Article], globals_: Any) -> dict[str, Hashable]:
        """Output path → what that page shows of `articles` (compared before/after a change)."""
        out: dict[str, Hashable] = {}
        tags = {t.slug: t for t in lib.tags}
        referrers: dict[int, list[Article]] = {}  # id(article) → the articles that list it as related
        for x in lib.articles:
            for r in x.related:
                referrers.setdefault(id(r), []).append(x)
        for a in articles:
            cat, sec = a.category, a.section
            if sec is not None:
                out[page_output(sec.url)] = _list_sig(sec.articles)
            if cat is not None:
                out[page_output(cat.url)] = (
                    _list_sig(cat.articles),
                    tuple(_list_sig(s.articles) for s in cat.sections),
                    _list_sig(_top_articles(cat, 5)),
                )
                if sec is not None:
                    out[page_output(sec.url)] = (_list_sig(sec.articles), _list_sig(_top_articles(sec, 3)))
                # An article page lists its section ("In this section") and related articles from its category.
                every = _top_articles(cat, 10**6)
                cat_sig = (_list_sig(every), tuple(tuple(y.tags) for y in every))
                for x in every:
                    mine = x.section.articles if x.section else cat.articles
                    out[page_output(x.url)] = (_list_sig(mine), () if x.related else cat_sig)
            for name in a.tags:
                tag = tags.get(tag_slug(name))
                if tag is not None:
                    out[page_output(tag.url)] = _list_sig(tag.articles)
            for x in referrers.get(id(a), ()):
                out[page_output(x.url)] = ("related", _list_sig(x.related))
        shared = (
            tuple((c.url, c.title, c.article_count) for c in lib.categories),
            _list_sig(globals_.get("popular") or ()),
            _list_sig(globals_.get("recent") or ()),
        )
        for key in ("index.html", "search/index.html", "404.html"):
            out[key] = shared
        if lib.tags:
            out["tags/index.html"] = tuple((t.name, t.url, len(t.articles)) for t in lib.tags)
        return out

    def _pages(
        self, renderer: SiteRenderer, lib: Library, articles: list[Article],
        wanted: set[str],
    ) -> list[Page]:  # fmt: skip
        """The pages to render: changed articles (with their aliases) and each page whose listing changed."""
        by_out = {page_output(a.url): a for a in lib.articles} if wanted else {}
        page_articles = list(articles)
        seen = {id(a) for a in articles}
        for key in sorted(wanted):
            article = by_out.get(key)
            if article is not None and id(article) not in seen:
                page_articles.append(article)
                seen.add(id(article))
        pages: list[Page] = []
        view = copy.copy(renderer)
        view.library = dataclasses.replace(lib, articles=page_articles, categories=[], tags=[])
        pages += [p for p in SiteRenderer.pages(view) if p.context["page"]["kind"] in ("article", "redirect")]
        if wanted - set(by_out):
            view = copy.copy(renderer)
            view.library = dataclasses.replace(lib, articles=[])
            pages += [p for p in SiteRenderer.pages(view) if p.output in wanted and p.output not in by_out]
        return pages

    def _sync_static(self, static: set[str]) -> list[str]:
        """Copy changed static files (theme or site; the site's win) into the output, or remove them."""
        session = self.session
        if not static or session.theme is None or session.output is None:
            return []
        files = {f"static/{k}": v for k, v in session.theme.static_files().items()}
        files.update(session.site_static_files(session.config))
        done = []
        for out in sorted(static):
            target = inside(session.output, out)
            src = files.get(out)
            if src is not None and src.is_file():
                write_atomic(target, src.read_bytes())
            elif target.is_file():
                target.unlink()
            else:
                continue
            done.append(session.config.base_path + out)
        return done


class SearchUpdater:
    """The served site's search index, brought up to date after each rebuild by a worker process.

    Only the changed articles' search units are made again and sent to a long-lived worker process that
    keeps every unit in memory; it updates the Whoosh index (incrementally) and the browser export at low
    priority, so the page reload never waits for it and a large site's export (tens of seconds at 10,000
    articles) does not slow the next rebuild. Messages go through a sender thread in small pieces (the
    rebuild thread never blocks on the pipe); updates sent while the worker is busy are folded into one.
    The export is published file by file: content-hashed files first, then `meta.json` atomically.
    """

    CHUNK = 100  # articles per message: pickling holds the GIL, so keep each piece short

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.primed = False
        self.sent = 0
        self.done = 0
        self.seconds = 0.0
        self.error = ""
        self.conn: Any = None
        self.process: Any = None
        self.outbox: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self.sender: threading.Thread | None = None
        self.closed = False

    def reset(self) -> None:
        with self.lock:
            self.primed = False

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"updating": self.done < self.sent, "updates": self.done, "seconds": round(self.seconds, 3),
                    "error": self.error}  # fmt: skip

    def schedule(
        self, lib: Library, config: Config, output: Path, changed: list[Article], removed: set[str],
        export: bool = True,
    ) -> None:  # fmt: skip
        """Queue the changes for the worker (every article the first time); `export=False` only primes it."""
        try:
            from .search import SearchSettings
            from .search.units import article_units
        except ImportError:
            return
        with self.lock:
            primed, self.primed = self.primed, True
            self.sent += 1
        if not primed:
            self.outbox.put(("articles", list(lib.articles)))  # made into units by the sender thread
        else:
            self.outbox.put(("units", ({a.source: article_units(a) for a in changed}, sorted(removed))))
        order = [a.source for a in lib.articles]
        settings = SearchSettings.from_config(config)
        self.outbox.put(("job", (order, search_index_dir(config), output, settings, export)))
        self._start()

    def _start(self) -> None:
        if self.sender is not None and self.sender.is_alive():
            return
        self.sender = threading.Thread(target=self._send_loop, name="kbgen-search-sender", daemon=True)
        self.sender.start()

    def _connect(self) -> Any:
        if self.process is not None and self.process.is_alive() and self.conn is not None:
            return self.conn
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=search_worker, args=(child,), name="kbgen-search", daemon=True)
        with ctrl_c_deferred():  # until search_worker() ignores it: `kbgen serve` alone handles Ctrl+C
            self.process.start()
        child.close()
        self.conn = parent
        threading.Thread(
            target=self._replies, args=(parent,), name="kbgen-search-replies", daemon=True
        ).start()
        return parent

    def _send_loop(self) -> None:
        from .search.units import article_units

        while True:
            item = self.outbox.get()
            if item is None or self.closed:
                return
            kind, payload = item
            try:
                conn = self._connect()
                if kind == "articles":
                    conn.send(("reset", None))
                    for i in range(0, len(payload), self.CHUNK):
                        chunk = {a.source: article_units(a) for a in payload[i : i + self.CHUNK]}
                        conn.send(("units", (chunk, [])))
                else:
                    conn.send((kind, payload))
            except Exception as exc:  # noqa: BLE001 - the worker is gone: the next change starts afresh
                with self.lock:
                    self.error = f"search worker: {type(exc).__name__}: {exc}"
                    self.done = self.sent
                    self.primed = False
                    self.idle.notify_all()
                self.conn = None

    def _replies(self, conn: Any) -> None:
        while True:
            try:
                count, seconds, error = conn.recv()
            except (EOFError, OSError):
                with self.lock:
                    self.done = self.sent
                    self.primed = False
                    self.idle.notify_all()
                return
            with self.lock:
                self.done += count
                self.seconds = seconds
                self.error = error
                self.idle.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        with self.lock:
            return self.idle.wait_for(lambda: self.done >= self.sent, timeout)

    def close(self) -> None:
        """Stop the worker at once: never block on its pipe (it may be busy for a minute on a large site).
        An index left half-updated is detected and rebuilt by the next build."""
        self.closed = True
        self.outbox.put(None)
        process, self.process, self.conn = self.process, None, None
        if process is not None and process.is_alive():
            process.terminate()
            process.join(5)
        if self.sender is not None and self.sender.is_alive():  # (one made but not yet started: no wait)
            self.sender.join(2)


def search_worker(conn: Any) -> None:
    """The search worker process: keeps every unit; folds the updates waiting into one index + export run."""
    import multiprocessing

    from .search import index_and_export

    # Started daemonic (it must not outlive `kbgen serve`), but a large site's index and export fork their
    # own workers, which a daemonic process may not: this process joins or stops them itself.
    multiprocessing.current_process().daemon = False
    ignore_ctrl_c()  # Ctrl+C reaches the whole process group: `kbgen serve` stops this process itself
    try:
        os.nice(10)
    except OSError:
        pass
    units: dict[str, list[Any]] = {}
    previous: dict[Path, set[str]] = {}
    while True:
        count = 0
        job: Any = None
        export = False
        while True:  # apply every message waiting; run once for all the jobs among them
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message is None:
                return
            kind, payload = message
            if kind == "reset":
                units = {}
            elif kind == "units":
                diff, removed = payload
                for rel in removed:
                    units.pop(rel, None)
                units.update(diff)
            elif kind == "job":
                job = payload
                export = export or payload[4]
                count += 1
            if job is not None and not conn.poll():
                break
        order, index_dir, output, settings, _export = job
        start = time.perf_counter()
        error = ""
        if export:
            tmp = output / f".search-tmp-{os.getpid()}"
            try:
                shutil.rmtree(tmp, ignore_errors=True)
                index_and_export([u for rel in order for u in units.get(rel, ())], index_dir, tmp, settings)
                dest = output / "_search"
                previous[dest] = _publish_search(tmp, dest, previous.get(dest))
            except Exception as exc:  # noqa: BLE001 - reported in /__kbgen/status; the pages are fine
                error = f"{type(exc).__name__}: {exc}"
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        try:
            conn.send((count, time.perf_counter() - start, error))
        except (OSError, ValueError):
            return


def _publish_search(tmp: Path, dest: Path, previous: set[str] | None) -> set[str]:
    names = {p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file()}
    dest.mkdir(parents=True, exist_ok=True)
    if previous is None:
        previous = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    entry = "meta.json"
    for name in sorted(names - {entry}):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / name, target)
    if entry in names:
        os.replace(tmp / entry, dest / entry)
    keep = names | previous  # a page that read the previous meta.json may still fetch its files
    for path in dest.rglob("*"):
        if path.is_file() and path.relative_to(dest).as_posix() not in keep:
            path.unlink(missing_ok=True)
    return names


_MISSING_SIG = object()


def _listing_key(a: Article) -> tuple[Any, ...]:
    """What listings, tags and globals show of an article: when unchanged, only its own page changes."""
    return (a.url, a.title, a.type, a.description, a.updated, a.order, a.promoted, tuple(a.tags))


def _top_articles(owner: Any, limit: int) -> list[Article]:
    from .render import _top_articles as top

    return top(owner, limit)


def _list_sig(articles: Iterable[Article]) -> tuple[tuple[Any, ...], ...]:
    return tuple((a.url, a.title, a.type, a.description, a.updated) for a in articles)


def _article_outputs(a: Article) -> set[str]:
    return {page_output(a.url), *(alias_output(alias) for alias in a.aliases)}


def _reorder(
    lib: Library,
    changed: list[Article],
    gone: list[Article],
    old_slugs: dict[int, set[str]],
    new: list[Article],
) -> None:
    """`library.articles` in navigation order again, and the tags of the changed articles brought up to date,
    as the loader assembles them (the category and section lists are sorted already)."""
    removed = {id(a) for a in gone}
    loose = [a for a in (*lib.articles, *new) if a.category is None and id(a) not in removed]
    lib.articles[:] = navigation_order(lib.categories, loose, sort=False)
    tags = {t.slug: t for t in lib.tags}
    touched: set[str] = set()
    for article in gone:
        slugs = [t.slug for t in article.tag_links]
        unlink_tags(article, slugs, tags)
        touched.update(slugs)
    for article in changed:
        before = old_slugs.get(id(article), set())
        now = link_tags(article, tags, before)
        unlink_tags(article, before - now, tags)
        touched |= before | now
    lib.tags[:] = settle_tags(tags, touched)


def _sitemap_key(lib: Library, articles: list[Article]) -> tuple[Any, ...]:
    """What the sitemap shows, cheaply: the order of the articles, the changed ones' URL and date, the tags."""
    changed = {a.source: (a.url, a.updated) for a in articles}
    return ([id(a) for a in lib.articles], changed, [t.url for t in lib.tags])


def _feed_sources(lib: Library, limit: int = 20) -> set[str]:
    """The articles `SiteRenderer.feed()` shows (the most recently updated), to know when it changes."""
    from datetime import date

    newest = heapq.nlargest(limit + 5, lib.articles, key=lambda a: (a.updated or date.min, a.url))
    return {a.source for a in newest}


def _warm_templates(renderer: SiteRenderer) -> None:
    """Compile the templates in this process (a large build rendered its pages in worker processes)."""
    for name in ("home.html", "category.html", "section.html", "article.html", "faq.html", "howto.html",
                 "tag.html", "tags.html", "search.html", "404.html", "redirect.html"):  # fmt: skip
        try:
            renderer.env.get_template(name)
        except jinja2.TemplateError:
            pass
    done: set[str] = set()
    for article in renderer.library.articles:  # imported macros compile on first use: render one of each
        if article.type not in done:
            done.add(article.type)
            try:
                renderer.render(renderer.article_page(article))
            except Exception:  # noqa: BLE001 - only a warm-up; a real error shows when the page is built
                pass


def _copy_links(links: LinkContext) -> LinkContext:
    """A copy of the link context whose maps can change without touching the original."""
    changes: dict[str, Any] = {"urls": dict(links.urls), "anchors": dict(links.anchors)}
    if hasattr(links, "unpublished"):
        changes["unpublished"] = set(links.unpublished)
    return dataclasses.replace(links, **changes)


def _refs(article: Article, rendered: Rendered | None) -> frozenset[str]:
    """Every content path an article refers to (resolved or not): its links, images, files and related."""
    folder = posixpath.dirname(article.source)
    refs: set[str] = set()
    for target in article.related_sources:
        refs.add(posixpath.normpath(posixpath.join(folder, target)))
        refs.add(target)
    if rendered is None:
        return frozenset(refs)
    refs.update(t for t, _line in rendered.links)
    refs.update(rendered.assets)
    refs.update(issue.target for issue in rendered.issues if issue.code in _MISSING and issue.target)
    return frozenset(refs)


def _prune_empty(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _exception_problem(exc: BaseException, root: Path) -> Problem:
    """A problem for an unexpected exception: template errors point at their template and line, a plugin's
    at its hooks file and line (or kbgen.toml for an installed plugin)."""
    if isinstance(exc, plugins.PluginError):
        return Problem(display_path(exc.path, root) if exc.path else "kbgen.toml", exc.line, str(exc), code="plugin")
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.filename or exc.name or "template"
        return Problem(display_path(Path(where), root), exc.lineno or 0, f"template error: {exc.message}",
                       code="template")
    if isinstance(exc, jinja2.TemplateNotFound):
        return Problem("templates", 0, f"template not found: {exc.name}", code="template")
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if frame.filename.endswith((".html", ".xml", ".txt", ".j2")):
            message = f"template error: {type(exc).__name__}: {exc}"
            return Problem(display_path(Path(frame.filename), root), frame.lineno or 0, message, code="template")
    if os.environ.get("KBGEN_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    return Problem("kbgen", 0, f"{type(exc).__name__}: {exc}", code="internal")

