"""`content/` → `Library`: read every file once, collect every problem, resolve URLs and links.

Folders are categories (depth 1) and sections (depth 2); deeper folders belong to their section. Folders
whose name starts with `_` or `.` hold assets, not articles. Markdown rendering (the expensive part) runs in
worker processes for large sites; everything else is a single fast pass.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import posixpath
import subprocess
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__, plugins
from ..errors import Problem
from ..lifetime import die_with_parent
from ..markdown import LinkContext, LinkFallback, MarkdownRenderer, Rendered, source_anchors
from ..safepath import alias_site_path, allowed_roots, walk_files
from ..slugs import MAX_SLUG, SAFE_SLUG, folder_slug
from ..slugs import article_slug as make_slug
from ..urls import asset_site_path
from .assemble import (
    check_outputs,
    link_tags,
    navigation_order,
    place,
    resolve_related,
    settle_tags,
    url_clash,
)
from .frontmatter import SourceFile, as_date, as_str_list, read_source
from .model import ARTICLE_TYPES, Article, Category, FaqEntry, Library, Section, Step, Tag

__all__ = ["MAX_SLUG", "SAFE_SLUG", "check_outputs", "folder_slug", "make_slug"]  # kept where callers find them

INDEX = "_index.md"
PARALLEL_MIN = 400  # below this many articles, worker start-up costs more than it saves


@dataclass
class LoadOptions:
    drafts: bool = False
    base_path: str = "/"
    labels: dict[str, str] = field(default_factory=dict)
    workers: int = 0
    strict: bool = False
    # The project folder: symbolic links in content/ may point inside it (default: content's parent).
    project_root: Path | None = None
    # Rendered bodies of the previous build (source → (key, Rendered)); updated in place when given.
    render_cache: dict[str, tuple[str, Rendered]] | None = None
    # A translation of a multilingual site: its links to articles only the default language has.
    fallback: LinkFallback | None = None
    # Before every article id: a multilingual site's language code ("fr/"; none for the default language).
    id_prefix: str = ""


@dataclass
class LoadResult:
    library: Library
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


def _ignored(part: str) -> bool:
    return part.startswith((".", "_"))


def scan(
    content_dir: Path, problems: list[Problem] | None = None, roots: list[str] | None = None, level: str = "warning"
) -> tuple[list[str], list[str], list[str]]:
    """(article .md paths, _index.md paths, asset paths), content-relative, sorted, hidden files skipped.

    A symbolic link pointing outside `roots` (default: the content folder's parent, the project) is not
    followed, nor is a file whose name holds a control character read: each is a `problems` entry."""
    articles: list[str] = []
    indexes: list[str] = []
    assets: list[str] = []
    if roots is None:
        roots = allowed_roots(content_dir.parent, content_dir)
    for rel, _path in walk_files(
        content_dir, roots, problems, level=level, skip_hidden_dirs=True, label=content_dir.name
    ):
        if not rel.isprintable() and any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in rel):
            if problems is not None:
                problems.append(
                    Problem(ascii(rel), 0, "file name holds a control character: rename it (skipped)", level,
                            code="unsafe-path")
                )
            continue
        rel_dir, _, name = rel.rpartition("/")
        in_asset_dir = any(_ignored(p) for p in rel_dir.split("/") if p)
        if name == INDEX and not in_asset_dir:
            indexes.append(rel)
        elif name.endswith(".md") and not in_asset_dir:
            articles.append(rel)
        elif not name.endswith(".md"):
            assets.append(rel)
    return articles, indexes, assets


def git_dates(content_dir: Path) -> dict[str, date]:
    """Last commit date of every file under `content_dir`, from one `git log` (empty outside git)."""
    try:
        out = subprocess.run(
            ["git", "log", "--format=@%ct", "--name-only", "--relative", "--", "."],
            cwd=content_dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if out.returncode != 0:
        return {}
    dates: dict[str, date] = {}
    current: date | None = None
    for line in out.stdout.splitlines():
        if line.startswith("@"):
            current = datetime.fromtimestamp(int(line[1:]), tz=timezone.utc).date()
        elif line and current is not None:
            dates.setdefault(line, current)
    return dates


def _mtime_date(path: Path) -> date:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).date()


LineOf = Callable[[str], int]


def _line_of(line: int | LineOf, key: str) -> int:
    return line(key) if callable(line) else line


def _int(value: Any, key: str, source: str, problems: list[Problem], line: int | LineOf) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        problems.append(Problem(source, _line_of(line, key), f"`{key}` must be a number, not {value!r}",
                                code="invalid-front-matter"))
        return 0
    try:
        return int(value)
    except ValueError:
        problems.append(Problem(source, _line_of(line, key), f"`{key}` must be a number, not {value!r}",
                                code="invalid-front-matter"))
        return 0


def _bool(value: Any, key: str, source: str, problems: list[Problem], line: int | LineOf) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "on", "no", "false", "off"):
        return value.strip().lower() in ("yes", "true", "on")
    problems.append(Problem(source, _line_of(line, key), f"`{key}` must be true or false, not {value!r}",
                            code="invalid-front-matter"))
    return False


def _meta_line(raw: bytes, key: str) -> int:
    for n, line in enumerate(raw.split(b"\n")[:300], 1):
        if line.lstrip().startswith(key.encode() + b":"):
            return n
    return 1


def _render_batch(
    args: tuple[LinkContext, dict[str, str], list[tuple[str, str, int, str]]],
) -> list[Rendered]:
    links, labels, items = args
    renderer = MarkdownRenderer(links, labels)
    return [renderer.render(body, source, offset, kind) for body, source, offset, kind in items]


# A load worker's renderer (made once per worker, not once per batch) and, when the worker was forked, the
# items to render: the link context and the bodies are then inherited, not pickled into every batch.
_WORKER: tuple[MarkdownRenderer, list[tuple[str, str, int, str]]] | None = None


def _init_worker(
    parent: int, links: LinkContext, labels: dict[str, str], items: list[tuple[str, str, int, str]]
) -> None:
    global _WORKER
    die_with_parent(parent)
    _WORKER = (MarkdownRenderer(links, labels), items)


def _render_part(part: tuple[int, int] | list[tuple[str, str, int, str]]) -> list[Rendered]:
    """Render a batch in a worker: a (start, end) span of the inherited items, or the items themselves."""
    assert _WORKER is not None
    renderer, inherited = _WORKER
    items = inherited[part[0] : part[1]] if isinstance(part, tuple) else part
    return [renderer.render(body, source, offset, kind) for body, source, offset, kind in items]


def render_key(item: tuple[str, str, int, str], links: LinkContext, labels: dict[str, str]) -> str:
    """What a rendered body depends on besides its links: text, place, type, labels, base path, kbgen."""
    h = hashlib.sha1(usedforsecurity=False)
    label = links.fallback.label if links.fallback else ""  # "(in English)" after a fallback link
    for part in (*map(str, item), links.base_path, json.dumps(labels, sort_keys=True), label, __version__):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def render_all(
    items: list[tuple[str, str, int, str]],
    links: LinkContext,
    labels: dict[str, str],
    workers: int,
    cache: dict[str, tuple[str, Rendered]] | None = None,
) -> list[Rendered]:
    """Render article bodies, in worker processes when the site is large enough to gain from it.

    `cache` maps a source path to (render key, Rendered) from the previous build; an entry is reused when its
    key matches and every link and image it used still resolves the same way. It is updated in place.
    """
    workers = workers or (os.cpu_count() or 1)
    keys = [render_key(item, links, labels) for item in items]
    results: list[Rendered | None] = [None] * len(items)
    todo: list[int] = []
    for i, (item, key) in enumerate(zip(items, keys, strict=True)):
        hit = cache.get(item[1]) if cache is not None else None
        if hit is not None and hit[0] == key and links.still_valid(hit[1].deps, hit[1].files):
            results[i] = hit[1]
        else:
            todo.append(i)
    work = [items[i] for i in todo]
    if workers <= 1 or len(work) < PARALLEL_MIN:
        fresh = _render_batch((links, labels, work))
    else:
        chunk = max(50, len(work) // (workers * 4))
        spans = [(i, min(i + chunk, len(work))) for i in range(0, len(work), chunk)]
        forked = "fork" in multiprocessing.get_all_start_methods()
        # Forked workers inherit the initializer's arguments; others get them pickled once per worker, and
        # their items batch by batch.
        context = multiprocessing.get_context("fork") if forked else None
        parts: list[Any] = spans if forked else [work[a:b] for a, b in spans]
        initargs = (os.getpid(), links, labels, work if forked else [])
        fresh = []
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker, initargs=initargs
        ) as pool:
            for part in pool.map(_render_part, parts):
                fresh.extend(part)
    for i, rendered in zip(todo, fresh, strict=True):
        results[i] = rendered
    if cache is not None:
        cache.clear()
        for item, key, rendered in zip(items, keys, results, strict=True):
            assert rendered is not None
            cache[item[1]] = (key, rendered)
    return [r for r in results if r is not None]


class _Loader:
    def __init__(self, content_dir: Path, options: LoadOptions) -> None:
        self.dir = content_dir
        self.options = options
        self.problems: list[Problem] = []
        self.index_files: dict[str, SourceFile] = {}

    def error(self, source: str, line: int, message: str, *, code: str, target: str = "") -> None:
        self.problems.append(Problem(source, line, message, "error", code=code, target=target))

    def warn(self, source: str, line: int, message: str, *, code: str, target: str = "") -> None:
        level = "error" if self.options.strict else "warning"
        self.problems.append(Problem(source, line, message, level, code=code, target=target))

    def read(self, rel: str) -> tuple[SourceFile | None, bytes]:
        raw = (self.dir / rel).read_bytes()
        parsed, problems = read_source(raw, rel)
        for p in problems:
            if p.level == "warning":
                self.warn(p.path, p.line, p.message, code=p.code, target=p.target)
            else:
                self.problems.append(p)
        return parsed, raw

    def text(self, meta: dict[str, Any], key: str, source: str, parsed: SourceFile | None) -> str:
        """A text field of front matter (as written; '' when absent): a list or mapping there is an error."""
        value = meta.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            line = parsed.line(key) if parsed is not None else 1
            self.error(source, line, f"`{key}` must be text, not a list or mapping", code="invalid-front-matter")
            return ""
        return value

    def folder_meta(self, indexes: Iterable[str]) -> dict[str, tuple[dict[str, Any], str]]:
        metas: dict[str, tuple[dict[str, Any], str]] = {}
        for rel in indexes:
            parsed, _raw = self.read(rel)
            if parsed is not None:
                metas[posixpath.dirname(rel)] = (parsed.meta, rel)
                self.index_files[rel] = parsed
        return metas

    def load(self) -> LoadResult:
        if not self.dir.is_dir():
            self.error(str(self.dir), 0, "content directory not found", code="no-content")
            return LoadResult(Library(), self.problems)
        roots = allowed_roots(self.options.project_root or self.dir.parent, self.dir)
        level = "error" if self.options.strict else "warning"
        article_paths, index_paths, asset_paths = scan(self.dir, self.problems, roots, level)
        folders = self.folder_meta(index_paths)
        dates = git_dates(self.dir)
        library = Library()
        home_meta = folders.get("", ({}, ""))[0]
        home_file = self.index_files.get(INDEX)
        library.title = self.text(home_meta, "title", INDEX, home_file)
        library.description = self.text(home_meta, "description", INDEX, home_file)
        library.home_meta = home_meta

        categories: dict[str, Category] = {}
        sections: dict[str, Section] = {}

        def folder_node(rel_dir: str) -> tuple[Category | None, Section | None]:
            parts = rel_dir.split("/") if rel_dir else []
            if not parts:
                return None, None
            cat_dir = parts[0]
            cat = categories.get(cat_dir)
            if cat is None:
                meta, src = folders.get(cat_dir, ({}, ""))
                f = self.index_files.get(src)
                slug = folder_slug(self.text(meta, "slug", src, f) or cat_dir) or "category"
                cat = Category(
                    slug=slug,
                    title=self.text(meta, "title", src, f)
                    or cat_dir.replace("-", " ").replace("_", " ").strip().capitalize(),
                    url=f"/{slug}/",
                    source=src,
                    description=self.text(meta, "description", src, f),
                    order=_int(meta.get("order"), "order", src or cat_dir, self.problems, f.line if f else 1),
                    icon=self.text(meta, "icon", src, f),
                    meta=meta,
                )
                categories[cat_dir] = cat
            if len(parts) == 1:
                return cat, None
            sec_dir = "/".join(parts[:2])
            sec = sections.get(sec_dir)
            if sec is None:
                meta, src = folders.get(sec_dir, ({}, ""))
                f = self.index_files.get(src)
                slug = folder_slug(self.text(meta, "slug", src, f) or parts[1]) or "section"
                sec = Section(
                    slug=slug,
                    title=self.text(meta, "title", src, f)
                    or parts[1].replace("-", " ").replace("_", " ").strip().capitalize(),
                    url=f"{cat.url}{slug}/",
                    source=src,
                    description=self.text(meta, "description", src, f),
                    order=_int(meta.get("order"), "order", src or sec_dir, self.problems, f.line if f else 1),
                    icon=self.text(meta, "icon", src, f),
                    meta=meta,
                    category=cat,
                )
                sections[sec_dir] = sec
                cat.sections.append(sec)
            return cat, sec

        pending: list[tuple[Article, SourceFile]] = []
        drafts: set[str] = set()
        seen_urls: dict[str, str] = {}
        for rel in article_paths:
            parsed, raw = self.read(rel)
            if parsed is None:
                continue
            article = self.make_article(rel, parsed, raw, dates)
            if article is None:
                continue
            if article.draft and not self.options.drafts:
                drafts.add(rel)
                continue
            cat, sec = folder_node(posixpath.dirname(rel))
            place(article, cat, sec)
            clash = url_clash(rel, article.url, seen_urls.get(article.url))
            if clash is not None:
                self.problems.append(clash)
                continue
            seen_urls[article.url] = rel
            pending.append((article, parsed))

        # Folder URLs must not collide with article URLs either.
        for node in [*categories.values(), *sections.values()]:
            owner = seen_urls.get(node.url)
            if owner is not None and (clash := url_clash(owner, node.url, None, node.title)) is not None:
                self.problems.append(clash)

        # An _index.md whose folder has no articles describes nothing.
        used_dirs = {posixpath.dirname(a.source) for a, _ in pending}
        for rel in index_paths:
            folder = posixpath.dirname(rel)
            if folder == "":
                continue
            if not any(d == folder or d.startswith(folder + "/") for d in used_dirs):
                drafts_only = any(p.startswith(folder + "/") for p in article_paths)
                if not drafts_only:
                    self.error(
                        rel, 1, f"`_index.md` in {folder}/, which has no articles: add articles or remove it",
                        code="empty-folder",
                    )

        urls = {a.source: a.url for a, _ in pending}
        for folder, (_meta, src) in folders.items():
            node = categories.get(folder) or sections.get(folder)
            if node is not None:
                urls[src] = node.url
        if plugins.active():  # kbgen.plugins: `on_article` may rewrite an article's Markdown before rendering
            for a, p in pending:
                p.body = plugins.call("on_article", "markdown", article=a, markdown=p.body)
                self.rewritten(a.source, p.body)
        # Anchors are only known after rendering; link anchors are checked against headings written in source.
        anchors = {a.source: source_anchors(p.body) for a, p in pending}
        links = LinkContext(self.dir, self.options.base_path, urls, anchors, unpublished=drafts,
                            fallback=self.options.fallback and self.options.fallback.resolved(a for a, _ in pending))  # fmt: skip
        items = [(p.body, a.source, p.body_line, a.type) for a, p in pending]
        rendered = render_all(
            items, links, self.options.labels, self.options.workers, self.options.render_cache
        )

        library.assets = {asset_site_path(rel): rel for rel in asset_paths}
        for (article, _parsed), result in zip(pending, rendered, strict=True):
            self.attach(article, result)
            for issue in result.issues:
                self.warn(article.source, issue.line, issue.message, code=issue.code, target=issue.target)

        by_source = {a.source: a for a, _ in pending}
        level = "error" if self.options.strict else "warning"
        for article, _parsed in pending:
            line = functools.partial(_meta_line_from, self.dir / article.source, "related")
            self.problems += resolve_related(article, by_source, line, level)

        self.assemble(library, pending, categories)
        self.problems += check_outputs(
            [a for a, _ in pending], [*categories.values(), *sections.values()], library.tags, library.assets
        )
        return LoadResult(library, self.problems)

    def make_article(
        self, rel: str, parsed: SourceFile, raw: bytes, dates: dict[str, date]
    ) -> Article | None:
        meta = dict(parsed.meta)
        problems_before = len(self.problems)

        line = parsed.line

        title = meta.get("title")
        if title is None or (isinstance(title, str) and not title.strip()):
            self.error(rel, 1, "missing `title` in front matter", code="invalid-front-matter")
            return None
        title = self.text(meta, "title", rel, parsed)
        description = self.text(meta, "description", rel, parsed)
        slug_text = self.text(meta, "slug", rel, parsed)
        id_text = self.text(meta, "id", rel, parsed)
        time_text = self.text(meta, "time", rel, parsed)
        kind_text = self.text(meta, "type", rel, parsed)
        for key in ("title", "description", "slug", "id", "time", "type"):
            meta.pop(key, None)
        kind = (kind_text or "article").strip().lower()
        if kind not in ARTICLE_TYPES:
            self.error(rel, line("type"), f"`type` must be one of {', '.join(ARTICLE_TYPES)}, not {kind!r}",
                       code="invalid-front-matter")
            kind = "article"
        tags_raw = meta.pop("tags", None)
        if tags_raw is None and "labels" in meta:
            tags_raw = meta.pop("labels")
        if isinstance(tags_raw, str) and "," not in tags_raw and " " in tags_raw.strip():
            self.warn(
                rel, line("tags"), f"`tags` is one string {tags_raw!r}: write a list, or separate with commas",
                code="invalid-front-matter",
            )
        lists: dict[str, list[str]] = {}
        for key, value in (
            ("tags", tags_raw),
            ("aliases", meta.pop("aliases", None)),
            ("keywords", meta.pop("keywords", None)),
            ("related", meta.pop("related", None)),
            ("supplies", meta.pop("supplies", None)),
        ):
            got = as_str_list(value)
            if got is None:
                bad = [i for i, v in enumerate(value) if not isinstance(v, str)] if isinstance(value, list) else []
                if bad:
                    what = "empty" if value[bad[0]] is None else "a list or mapping"
                    self.error(rel, parsed.item_line(key, bad[0]),
                               f"`{key}` must be a list of text values: item {bad[0] + 1} is {what}",
                               code="invalid-front-matter")  # fmt: skip
                else:
                    self.error(rel, line(key), f"`{key}` must be a list of text values", code="invalid-front-matter")
                got = []
            lists[key] = got
        updated_raw = meta.pop("updated", None)
        updated = as_date(updated_raw)
        if updated is False:
            self.error(rel, line("updated"), f"`updated` must be a date like 2026-05-31, not {updated_raw!r}",
                       code="invalid-front-matter")
            updated = None
        if updated is None:
            updated = dates.get(rel) or _mtime_date(self.dir / rel)
        slug = make_slug(slug_text or Path(rel).stem)
        aliases: list[str] = []
        alias_lines: list[int] = []
        raw_aliases = parsed.meta.get("aliases")
        written = raw_aliases if isinstance(raw_aliases, list) else lists["aliases"]
        for i, alias in enumerate(written):
            if not isinstance(alias, str):
                continue  # reported above: not a list of text values
            try:
                aliases.append(alias_site_path(alias))
                alias_lines.append(parsed.item_line("aliases", i))
            except ValueError as exc:
                shown = repr(alias) if len(alias) <= 80 else repr(alias[:77]) + "…"
                self.error(rel, parsed.item_line("aliases", i), f"alias {shown} {exc}", code="invalid-alias")
        article = Article(
            id=self.options.id_prefix + (id_text.strip() or rel.removesuffix(".md")),
            source=rel,
            title=title.strip(),
            url="",
            slug=slug,
            description=description.strip(),
            type=kind,
            tags=lists["tags"],
            order=_int(meta.pop("order", None), "order", rel, self.problems, line),
            promoted=_bool(meta.pop("promoted", None), "promoted", rel, self.problems, line),
            draft=_bool(meta.pop("draft", None), "draft", rel, self.problems, line),
            updated=updated,  # type: ignore[arg-type]
            aliases=aliases,
            keywords=lists["keywords"],
            related_sources=lists["related"],
            time=time_text,
            supplies=lists["supplies"],
            meta=meta,
            lines=dict(parsed.lines),
            alias_lines=alias_lines,
        )
        if len(self.problems) > problems_before and any(
            p.level == "error" for p in self.problems[problems_before:]
        ):
            return None
        return article

    def rewritten(self, rel: str, body: str) -> None:
        """An `on_article` hook returned the Markdown of `rel` (kbgen.plugins)."""

    @staticmethod
    def attach(article: Article, r: Rendered) -> None:
        article.html = r.html
        article.intro_html = r.intro_html
        article.text = r.text
        article.intro_text = r.intro_text
        article.headings = r.headings
        article.toc = r.toc
        article.sections = r.sections
        article.word_count = r.word_count
        article.faq = [FaqEntry(q, a, h, t, ln) for q, a, h, t, ln in r.faq]
        article.steps = [Step(i, h, t, a) for i, (h, t, a) in enumerate(r.steps, 1)]

    def assemble(
        self, library: Library, pending: list[tuple[Article, SourceFile]], categories: dict[str, Category]
    ) -> None:
        tags: dict[str, Tag] = {}
        for article, _ in pending:
            owner: Section | None = article.section or article.category
            if owner is not None:
                owner.articles.append(article)
            link_tags(article, tags)
        cats = sorted(categories.values(), key=lambda c: c.sort_key)
        # Articles outside any category (at the top of content/) come last.
        library.articles = navigation_order(cats, (a for a, _ in pending if a.category is None))
        library.categories = [c for c in cats if c.article_count]
        # Each tag is named after the spelling met first (reading order): the one that made it.
        library.tags = settle_tags(tags, list(tags), rename=False)


def _meta_line_from(path: Path, key: str) -> int:
    try:
        return _meta_line(path.read_bytes(), key)
    except OSError:
        return 0


def load_library(content_dir: Path, options: LoadOptions | None = None) -> LoadResult:
    """Read `content_dir` into a `Library`; every problem found is in the result, none raised."""
    return _Loader(content_dir, options or LoadOptions()).load()


# -- Editor workflow (kbgen serve / kbgen check): the loader's internals, one article at a time -------------


@dataclass
class LoadDetails:
    """A full load plus what the editor tools need beyond the `Library`.

    `rendered`: each published article's `Rendered` (links, images, issues) by source; `sources`: each parsed
    article by source (when `keep_sources`); `dates`: the git dates the loader used; `links`: the link context
    the bodies were rendered with (content-relative path → URL, and heading anchors).
    """

    result: LoadResult
    rendered: dict[str, Rendered]
    sources: dict[str, SourceFile]
    dates: dict[str, date]
    links: LinkContext


class _DetailLoader(_Loader):
    """`_Loader` that also keeps the parsed sources, the rendered bodies and the dates it used."""

    def __init__(self, content_dir: Path, options: LoadOptions, keep_sources: bool) -> None:
        super().__init__(content_dir, options)
        self.keep_sources = keep_sources
        self.sources: dict[str, SourceFile] = {}
        self.rendered: dict[str, Rendered] = {}
        self.anchors: dict[str, set[str]] = {}
        self.dates: dict[str, date] = {}
        self.unpublished: set[str] = set()

    def read(self, rel: str) -> tuple[SourceFile | None, bytes]:
        parsed, raw = super().read(rel)
        if parsed is not None and posixpath.basename(rel) != INDEX:
            self.anchors[rel] = source_anchors(parsed.body)
            if self.keep_sources:
                self.sources[rel] = parsed
        return parsed, raw

    def make_article(
        self, rel: str, parsed: SourceFile, raw: bytes, dates: dict[str, date]
    ) -> Article | None:
        self.dates = dates
        article = super().make_article(rel, parsed, raw, dates)
        if article is not None and article.draft and not self.options.drafts:
            self.unpublished.add(rel)
        return article

    def attach(self, article: Article, r: Rendered) -> None:  # type: ignore[override]
        _Loader.attach(article, r)
        self.rendered[article.source] = r

    def rewritten(self, rel: str, body: str) -> None:
        self.anchors[rel] = source_anchors(body)  # the headings an `on_article` hook left


def load_library_details(
    content_dir: Path, options: LoadOptions | None = None, *, keep_sources: bool = False
) -> LoadDetails:
    """`load_library` that also returns the per-article details (see `LoadDetails`)."""
    options = options or LoadOptions()
    loader = _DetailLoader(content_dir, options, keep_sources)
    result = loader.load()
    urls: dict[str, str] = {a.source: a.url for a in result.library.articles}
    for cat in result.library.categories:
        for node in (cat, *cat.sections):
            if node.source:
                urls[node.source] = node.url
    published = set(urls)
    anchors = {k: v for k, v in loader.anchors.items() if k in published}
    links = LinkContext(content_dir, options.base_path, urls, anchors, unpublished=set(loader.unpublished),
                        fallback=options.fallback and options.fallback.resolved(result.library.articles))  # fmt: skip
    sources = {k: v for k, v in loader.sources.items() if k in published}
    return LoadDetails(result, loader.rendered, sources, loader.dates, links)


@dataclass
class OneArticle:
    """One article read on its own (for `kbgen serve`): `article` is None when it has errors or is a hidden
    draft; `problems` holds everything found in it (the markdown issues once `render_one_article` ran)."""

    source: str
    article: Article | None
    parsed: SourceFile | None
    problems: list[Problem]
    hidden_draft: bool = False
    anchors: set[str] = field(default_factory=set)
    rendered: Rendered | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]


def read_one_article(content_dir: Path, rel: str, options: LoadOptions, dates: dict[str, date]) -> OneArticle:
    """Read and check one article's front matter exactly as a full load would (URL and body not yet done)."""
    loader = _Loader(content_dir, options)
    parsed, raw = loader.read(rel)
    if parsed is None:
        return OneArticle(rel, None, None, loader.problems)
    article = loader.make_article(rel, parsed, raw, dates)
    if article is None:
        return OneArticle(rel, None, parsed, loader.problems)
    if article.draft and not options.drafts:
        return OneArticle(rel, None, parsed, loader.problems, hidden_draft=True)
    return OneArticle(rel, article, parsed, loader.problems, anchors=source_anchors(parsed.body))


def article_hooks(one: OneArticle) -> None:
    """kbgen.plugins: `on_article` on an article from `read_one_article` (its `url` set), as a full load runs
    it before rendering; the anchors follow the Markdown it returns."""
    if plugins.active() and one.article is not None and one.parsed is not None:
        body = plugins.call("on_article", "markdown", article=one.article, markdown=one.parsed.body)
        one.parsed.body = body
        one.anchors = source_anchors(body)


def render_one_article(one: OneArticle, renderer: MarkdownRenderer, strict: bool = False) -> None:
    """Render the body of an article from `read_one_article` (its `url` set) with the site's link context."""
    if one.article is None or one.parsed is None:
        return
    result = renderer.render(one.parsed.body, one.source, one.parsed.body_line, one.article.type)
    _Loader.attach(one.article, result)
    one.rendered = result
    level = "error" if strict else "warning"
    one.problems.extend(
        Problem(one.source, i.line, i.message, level, code=i.code, target=i.target) for i in result.issues
    )


def related_line(content_dir: Path, rel: str) -> int:
    """The line of `related:` in an article's front matter (for "related article not found")."""
    return _meta_line_from(content_dir / rel, "related")
