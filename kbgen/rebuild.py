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
next attempt, so the served site always equals some successful build.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import posixpath
import shutil
import sys
import time
import traceback
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from slugify import slugify

from .build import BuildSession, write_atomic
from .config import Config, load_config
from .content.load import LoadOptions, OneArticle, read_one_article, related_line, render_one_article
from .content.model import Article, Category, Library, Section, Tag
from .errors import BuildError, ConfigError, Problem, display_path
from .markdown import LinkContext, MarkdownRenderer, Rendered, asset_site_path
from .render import Page, SiteRenderer

EDITOR_JUNK_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".bak", ".part", ".crdownload")
# Prefixes of the loader's markdown issues that name a (missing) file, to know who links to what.
_MISSING = ("link to a missing article: ", "link to a missing anchor: ", "image not found: ",
            "file outside the content directory: ")  # fmt: skip


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


def _page_out(url: str) -> str:
    path = url.strip("/")
    return f"{path}/index.html" if path else "index.html"


def _site_path(output: str, base_path: str) -> str:
    """Output file → the path a browser shows for it (under `base_path`)."""
    if output == "index.html":
        rel = ""
    elif output.endswith("/index.html"):
        rel = output[: -len("index.html")]
    else:
        rel = output
    return base_path + rel


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
        self.base_url_override: str | None = None

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
        config_path = self.config_path
        for change in changes:
            path = change.path if change.path.is_absolute() else (self.root / change.path)
            path = Path(os.path.abspath(path))
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
        try:
            config = self.reload_config() if reload_config else session.config
            session.full(config, reload_content=reload_content)
        except ConfigError as exc:
            problem = Problem(display_path(self.config_path, self.root), 0, str(exc).split(": ", 1)[-1])
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
        self._index_after_full()
        self.needs_full = False
        return Outcome(True, "full" if reload_content else "pages", time.perf_counter() - start,
                       paths=None, problems=self.problems, timings=dict(session.timings))  # fmt: skip

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
        return Problem(path, p.line, p.message, p.level)

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
        by_source = {a.source: a for a in lib.articles}

        # 1. Read every changed article (front matter, URL); errors stop here with nothing changed.
        ones: dict[str, OneArticle] = {}
        for rel in sorted(plan.articles):
            if (content / rel).is_file():
                ones[rel] = read_one_article(content, rel, options, details.dates)
            else:
                ones[rel] = OneArticle(rel, None, None, [])
        folders = _folders(lib)
        errors: list[Problem] = [p for one in ones.values() for p in one.errors]
        removed = {rel for rel, one in ones.items() if one.article is None and rel in by_source}
        changed = {rel: one for rel, one in ones.items() if one.article is not None}
        for one in changed.values():
            assert one.article is not None
            one.article.url = self._place(one.article, folders)
        self._check_urls(lib, changed, errors)
        if errors:
            return self._fail(ones, errors)
        self._check_structure(lib, folders, changed, removed)

        # 2. The link context as it will be; who must be re-rendered because a target changed.
        links = LinkContext(
            content, details.links.base_path, dict(details.links.urls), dict(details.links.anchors)
        )
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
        linkers = sorted(src for src, r in self.refs.items() if src not in ones and r & targets)
        for rel in linkers:
            one = read_one_article(content, rel, options, details.dates)
            if one.article is None:  # changed meanwhile: its own event will follow
                if one.errors:
                    errors += one.errors
                    continue
                raise NeedFull(f"{rel} changed")
            one.article.url = self._place(one.article, folders)
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
        before = self._signatures(lib, old_articles) if listing else {}
        old_outputs = {out for a in old_articles for out in _article_outputs(a)}
        try:
            new_articles = self._commit(lib, by_source, changed, removed, listing)
        except Exception:
            self.needs_full = True
            raise
        details.links = links
        md.links = links
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
        after = self._signatures(lib, new_articles + gone) if listing else {}
        timings["library"] = time.perf_counter() - t2

        # 5. Render every page that changed, in memory.
        t3 = time.perf_counter()
        outputs: dict[str, bytes] = {}
        try:
            pages = self._pages(renderer, lib, new_articles, before, after)
            for page in pages:
                outputs[page.output] = renderer.render(page)
            if listing:
                outputs["sitemap.xml"] = renderer.sitemap()
            outputs["feed.xml"] = renderer.feed()
        except Exception:
            self.needs_full = True  # the library changed already: start again from a clean state
            raise
        new_outputs = {out for a in new_articles for out in _article_outputs(a)}
        deletions = (old_outputs - new_outputs) | {k for k in before if k not in after}
        deletions = {d for d in deletions if d not in outputs and d.endswith(".html")}
        timings["render"] = time.perf_counter() - t3

        # 6. Write: every file atomically, unchanged ones skipped; then the removals.
        t4 = time.perf_counter()
        written, paths = 0, []
        for out, data in outputs.items():
            target = output / out
            try:
                if target.read_bytes() == data:
                    continue
            except OSError:
                pass
            write_atomic(target, data)
            written += 1
            paths.append(_site_path(out, config.base_path))
        for rel, exists in asset_changes.items():
            target = output / asset_site_path(rel).lstrip("/")
            if exists:
                write_atomic(target, (content / rel).read_bytes())
            else:
                target.unlink(missing_ok=True)
            written += 1
            paths.append(config.base_path + asset_site_path(rel).lstrip("/"))
        deleted = 0
        for out in sorted(deletions):
            target = output / out
            if target.is_file():
                target.unlink()
                deleted += 1
                paths.append(_site_path(out, config.base_path))
                _prune_empty(target.parent, output)
        static_paths = self._sync_static(plan.static)
        written += len(static_paths)
        timings["write"] = time.perf_counter() - t4

        t5 = time.perf_counter()
        if changed or removed:
            self._update_search(lib, config, output, set(changed), removed)
        timings["search"] = time.perf_counter() - t5
        return Outcome(
            True, "incremental", written=written, deleted=deleted,
            paths=None if static_paths else paths, problems=self.problems, timings=timings,
        )  # fmt: skip

    def _fail(self, ones: dict[str, OneArticle], errors: list[Problem]) -> Outcome:
        for rel, one in ones.items():
            if one.problems:
                self.problems_by_source[rel] = [self._display(p) for p in one.problems]
        return Outcome(False, "incremental", problems=[self._display(p) for p in errors])

    @staticmethod
    def _place(article: Article, folders: dict[str, Category | Section]) -> str:
        parts = posixpath.dirname(article.source).split("/") if "/" in article.source else []
        if not parts:
            return f"/{article.slug}/"
        cat = folders.get(parts[0])
        sec = folders.get("/".join(parts[:2])) if len(parts) > 1 else None
        if not isinstance(cat, Category) or (len(parts) > 1 and sec is None):
            raise NeedFull(f"new folder for {article.source}")
        base = sec.url if sec is not None else cat.url
        article.category, article.category_slug = cat, cat.slug
        if sec is not None:
            article.section, article.section_slug = sec, sec.slug
        return f"{base}{article.slug}/"

    @staticmethod
    def _check_urls(lib: Library, changed: dict[str, OneArticle], errors: list[Problem]) -> None:
        taken: dict[str, str] = {a.url: a.source for a in lib.articles if a.source not in changed}
        folder_urls = {n.url: n.title for c in lib.categories for n in (c, *c.sections)}
        for rel, one in sorted(changed.items()):
            assert one.article is not None
            url = one.article.url
            if url in taken:
                errors.append(Problem(rel, 1, f"same URL {url} as {taken[url]}; give one of them a `slug:`"))
            elif url in folder_urls:
                errors.append(Problem(rel, 1, f"same URL {url} as the folder {folder_urls[url]!r}"))
            else:
                taken[url] = rel

    @staticmethod
    def _check_structure(
        lib: Library,
        folders: dict[str, Category | Section],
        changed: dict[str, OneArticle],
        removed: set[str],
    ) -> None:
        """A category or section that would lose its last article changes the structure."""
        if not removed:
            return
        existing = {a.source for a in lib.articles}
        counts: dict[int, int] = {}
        for node in folders.values():
            articles = node.all_articles if isinstance(node, Category) else node.articles
            counts[id(node)] = sum(1 for a in articles if a.source not in removed)
        for one in changed.values():
            a = one.article
            assert a is not None
            if a.source not in existing:
                for node in (a.category, a.section):
                    if node is not None and id(node) in counts:
                        counts[id(node)] += 1
        if any(n == 0 for n in counts.values()):
            raise NeedFull("a category or section lost its last article")

    def _commit(
        self, lib: Library, by_source: dict[str, Article], changed: dict[str, OneArticle], removed: set[str],
        listing: bool,
    ) -> list[Article]:  # fmt: skip
        """Put the changed articles into the library (in place, so references stay valid)."""
        owners: dict[int, Category | Section] = {}
        for rel in removed:
            old = by_source.pop(rel)
            owner = old.section or old.category
            if owner is not None:
                owner.articles.remove(old)
                owners[id(owner)] = owner
        current: list[Article] = []
        added = False
        for rel, one in changed.items():
            new = one.article
            assert new is not None
            old = by_source.get(rel)
            if old is None:
                added = True
                owner = new.section or new.category
                if owner is not None:
                    owner.articles.append(new)
                    owners[id(owner)] = owner
                by_source[rel] = new
                current.append(new)
                continue
            keep = {"related": old.related, "views": old.views, "popularity_rank": old.popularity_rank}
            old.__dict__.update(new.__dict__)
            old.__dict__.update(keep)
            owner = old.section or old.category
            if owner is not None:
                owners[id(owner)] = owner
            current.append(old)
        for owner in owners.values():
            owner.articles.sort(key=lambda a: a.sort_key)
        if listing or removed or added:
            _reorder(lib)
        content = self.session.config.content_path
        for rel in changed:
            article = by_source[rel]
            article.related = []
            for target in article.related_sources:
                path = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
                found = by_source.get(path) or by_source.get(target)
                if found is None:
                    message = f"related article not found: {target}"
                    changed[rel].problems.append(Problem(rel, related_line(content, rel), message, "warning"))
                elif found is not article:
                    article.related.append(found)
        for other in lib.articles:  # removed articles leave every `related` list
            if other.related and removed:
                other.related = [r for r in other.related if r.source not in removed]
        if added:
            self._apply_analytics(lib)
        if listing:
            renderer = self.session.renderer
            assert renderer is not None
            renderer.env.globals.update(popular=lib.popular, recent=lib.recent,
                                        has_analytics_data=any(a.views for a in lib.articles))  # fmt: skip
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

    def _signatures(self, lib: Library, articles: list[Article]) -> dict[str, Hashable]:
        """Output path → what that page shows of `articles` (compared before/after a change)."""
        out: dict[str, Hashable] = {}
        tags = {t.slug: t for t in lib.tags}
        for a in articles:
            cat, sec = a.category, a.section
            if sec is not None:
                out[_page_out(sec.url)] = _list_sig(sec.articles)
            if cat is not None:
                out[_page_out(cat.url)] = (
                    _list_sig(cat.articles),
                    tuple(_list_sig(s.articles) for s in cat.sections),
                )
            owner = sec or cat
            if owner is not None:
                for x in owner.articles:
                    if not x.related:
                        out[_page_out(x.url)] = _list_sig([y for y in owner.articles if y.url != x.url][:5])
            for name in a.tags:
                slug = slugify(name) or "tag"
                tag = tags.get(slug)
                if tag is not None:
                    out[_page_out(tag.url)] = _list_sig(tag.articles)
            for x in lib.articles:
                if x.related and any(r is a for r in x.related):
                    out[_page_out(x.url)] = ("related", _list_sig(x.related))
        shared = (
            tuple((c.url, c.title, c.article_count) for c in lib.categories),
            _list_sig(lib.popular),
            _list_sig(lib.recent),
        )
        for key in ("index.html", "search/index.html", "404.html"):
            out[key] = shared
        if lib.tags:
            out["tags/index.html"] = tuple((t.name, t.url, len(t.articles)) for t in lib.tags)
        return out

    def _pages(
        self, renderer: SiteRenderer, lib: Library, articles: list[Article],
        before: dict[str, Hashable], after: dict[str, Hashable],
    ) -> list[Page]:  # fmt: skip
        """The pages to render: changed articles (with their aliases) and each page whose listing changed."""
        wanted = {k for k in after if before.get(k, _MISSING_SIG) != after[k]}
        by_out = {_page_out(a.url): a for a in lib.articles}
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
            target = session.output / out
            src = files.get(out)
            if src is not None and src.is_file():
                write_atomic(target, src.read_bytes())
            elif target.is_file():
                target.unlink()
            else:
                continue
            done.append(session.config.base_path + out)
        return done

    def _update_search(
        self, lib: Library, config: Config, output: Path, changed: set[str], removed: set[str]
    ) -> None:
        """Bring the search index up to date for the changed articles."""
        try:
            from . import search
        except ImportError:
            return
        update = getattr(search, "update_search", None)
        if update is not None:
            update(lib, config, output / "_search", changed=changed, removed=removed)
            return
        build = getattr(search, "build_search", None)
        if build is not None:
            build(lib, config, output / "_search")


_MISSING_SIG = object()


def _listing_key(a: Article) -> tuple[Any, ...]:
    """What listings, tags and globals show of an article: when unchanged, only its own page changes."""
    return (a.url, a.title, a.type, a.description, a.updated, a.order, a.promoted, tuple(a.tags))


def _list_sig(articles: Iterable[Article]) -> tuple[tuple[Any, ...], ...]:
    return tuple((a.url, a.title, a.type, a.description, a.updated) for a in articles)


def _article_outputs(a: Article) -> set[str]:
    from .render import _alias_output

    return {_page_out(a.url), *(_alias_output(alias) for alias in a.aliases)}


def _folders(lib: Library) -> dict[str, Category | Section]:
    """Content folder (category dir, category/section dir) → its node, from where the articles are."""
    folders: dict[str, Category | Section] = {}
    for a in lib.articles:
        parts = posixpath.dirname(a.source).split("/") if "/" in a.source else []
        if parts and a.category is not None:
            folders.setdefault(parts[0], a.category)
        if len(parts) > 1 and a.section is not None:
            folders.setdefault("/".join(parts[:2]), a.section)
    return folders


def _reorder(lib: Library) -> None:
    """`library.articles` in navigation order and the tags rebuilt, as the loader assembles them."""
    ordered: list[Article] = []
    for cat in lib.categories:
        cat.articles.sort(key=lambda a: a.sort_key)
        ordered.extend(cat.articles)
        for sec in cat.sections:
            sec.articles.sort(key=lambda a: a.sort_key)
            ordered.extend(sec.articles)
    ordered.extend(sorted((a for a in lib.articles if a.category is None), key=lambda a: a.sort_key))
    lib.articles[:] = ordered
    tags: dict[str, Tag] = {}
    for article in ordered:
        for name in article.tags:
            slug = slugify(name) or "tag"
            tag = tags.setdefault(slug, Tag(name=name, slug=slug, url=f"/tags/{slug}/"))
            tag.articles.append(article)
    for tag in tags.values():
        tag.articles.sort(key=lambda a: a.sort_key)
    lib.tags[:] = sorted(tags.values(), key=lambda t: t.name.casefold())


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
    for issue in rendered.issues:
        for prefix in _MISSING:
            if issue.message.startswith(prefix):
                href = issue.message[len(prefix) :].split("#", 1)[0].split("?", 1)[0]
                refs.add(posixpath.normpath(posixpath.join(folder, href)))
    return frozenset(refs)


def _prune_empty(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _exception_problem(exc: BaseException, root: Path) -> Problem:
    """A problem for an unexpected exception: template errors point at their template and line."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.filename or exc.name or "template"
        return Problem(display_path(Path(where), root), exc.lineno or 0, f"template error: {exc.message}")
    if isinstance(exc, jinja2.TemplateNotFound):
        return Problem("templates", 0, f"template not found: {exc.name}")
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if frame.filename.endswith((".html", ".xml", ".txt", ".j2")):
            message = f"template error: {type(exc).__name__}: {exc}"
            return Problem(display_path(Path(frame.filename), root), frame.lineno or 0, message)
    if os.environ.get("KBGEN_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    return Problem("kbgen", 0, f"{type(exc).__name__}: {exc}")


def clean_output(root: Path) -> None:
    """Remove a private serve output folder (only ever one kbgen created)."""
    shutil.rmtree(root, ignore_errors=True)
