"""Articles → a `Library`: the one place that decides where an article goes and what it clashes with.

Both the full load (`content/load.py`, every article) and `kbgen serve`'s incremental rebuild
(`kbgen/rebuild.py`, the changed articles) call these functions, so the two cannot drift apart:

- `folder_dirs` / `place`: an article's category and section folders, its URL under them;
- `url_clash`: two articles, or an article and a folder, at one URL (a `duplicate-url` problem);
- `check_outputs`: two sources writing one file, two articles with one `id`;
- `link_tags` / `settle_tags` / `tags_of`: tag slugs and pages, the tags' article lists;
- `navigation_order`: `library.articles` in the order the navigation shows them;
- `resolve_related`: `related:` entries → articles (a `broken-related` problem when not found);
- `folder_index` / `empties_a_folder`: content folder → node, and whether removals leave a folder empty.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable, Iterable, Mapping

from ..errors import Problem
from ..safepath import Claim, duplicate_ids, output_claims
from ..slugs import folder_slug
from ..urls import alias_output, page_output
from .model import TYPE_TAGS, Article, Category, Library, Section, Tag

Node = Category | Section


def folder_dirs(source: str) -> tuple[str | None, str | None]:
    """(category folder, category/section folder) of a content-relative article path (None: none)."""
    parts = posixpath.dirname(source).split("/") if "/" in source else []
    if not parts:
        return None, None
    return parts[0], ("/".join(parts[:2]) if len(parts) > 1 else None)


def place(article: Article, cat: Category | None, sec: Section | None) -> str:
    """Put `article` in its category and section (either may be None) and give it its URL."""
    if cat is not None:
        article.category, article.category_slug = cat, cat.slug
    if sec is not None:
        article.section, article.section_slug = sec, sec.slug
    base = sec.url if sec is not None else cat.url if cat is not None else "/"
    article.url = f"{base}{article.slug}/"
    return article.url


def url_clash(
    rel: str, url: str, other_article: str | None, folder_title: str | None = None
) -> Problem | None:
    """The `duplicate-url` problem of `rel` at `url` when another article (its source) or a folder (its
    title) has that URL already; None when the URL is free."""
    if other_article is not None:
        return Problem(rel, 1, f"same URL {url} as {other_article}; give one of them a `slug:`",
                       code="duplicate-url", target=other_article)  # fmt: skip
    if folder_title is not None:
        return Problem(
            rel, 1, f"same URL {url} as the folder {folder_title!r}", code="duplicate-url", target=url
        )
    return None


@functools.lru_cache(maxsize=65536)
def tag_slug(name: str) -> str:
    """The slug of a tag's page (`/tags/<slug>/`)."""
    return folder_slug(name) or "tag"


def link_tags(article: Article, tags: dict[str, Tag], before: Iterable[str] = ()) -> set[str]:
    """Link `article` to the pages of its tags (made in `tags` when new); it joins a tag's list unless its
    slug is in `before` (the tags it had). Returns the slugs it has now. Type names are not tags."""
    had = set(before)
    article.tag_links = []
    for name in article.tags:
        slug = tag_slug(name)
        if slug in TYPE_TAGS or any(t.slug == slug for t in article.tag_links):
            continue
        tag = tags.get(slug)
        if tag is None:
            tag = tags[slug] = Tag(name=name, slug=slug, url=f"/tags/{slug}/")
        if slug not in had:
            tag.articles.append(article)
        article.tag_links.append(tag)
    return {t.slug for t in article.tag_links}


def unlink_tags(article: Article, slugs: Iterable[str], tags: Mapping[str, Tag]) -> None:
    """Take `article` out of the lists of the tags `slugs`."""
    for slug in slugs:
        tag = tags.get(slug)
        if tag is not None:
            tag.articles = [a for a in tag.articles if a is not article]


@functools.lru_cache(maxsize=65536)
def scan_key(source: str) -> tuple[str, ...]:
    """Sort key giving the order `content.load.scan` reads files in (a folder's files before its folders)."""
    *folders, name = source.split("/")
    return (*folders, "\0" + name)


def settle_tags(tags: dict[str, Tag], slugs: Iterable[str], rename: bool = True) -> list[Tag]:
    """Tags `slugs` after their articles changed: empty ones dropped, lists sorted, each named after the
    spelling the first article in reading order gives it. Returns every tag, sorted by name."""
    for slug in slugs:
        tag = tags.get(slug)
        if tag is None:
            continue
        if not tag.articles:
            del tags[slug]
            continue
        tag.articles.sort(key=lambda a: a.sort_key)
        if rename:
            first = min(tag.articles, key=lambda a: scan_key(a.source))
            tag.name = next((n for n in first.tags if tag_slug(n) == slug), tag.name)
    return sorted(tags.values(), key=lambda t: t.name.casefold())


def tags_of(articles: Iterable[Article]) -> dict[str, Tag]:
    """The tag pages a set of articles makes (without article lists): slug → Tag."""
    tags: dict[str, Tag] = {}
    for a in articles:
        for name in a.tags:
            slug = tag_slug(name)
            if slug not in TYPE_TAGS:
                tags.setdefault(slug, Tag(name, slug, f"/tags/{slug}/"))
    return tags


def navigation_order(
    categories: Iterable[Category], loose: Iterable[Article], sort: bool = True
) -> list[Article]:
    """Every article in navigation order: each category's own articles, then its sections' (each list and
    the sections sorted first unless `sort` is False), then the articles outside any category."""
    ordered: list[Article] = []
    for cat in categories:
        if sort:
            cat.articles.sort(key=lambda a: a.sort_key)
            cat.sections.sort(key=lambda s: s.sort_key)
        ordered.extend(cat.articles)
        for sec in cat.sections:
            if sort:
                sec.articles.sort(key=lambda a: a.sort_key)
            ordered.extend(sec.articles)
    ordered.extend(sorted({id(a): a for a in loose}.values(), key=lambda a: a.sort_key))
    return ordered


def resolve_related(
    article: Article, by_source: Mapping[str, Article], line: Callable[[], int], level: str = "warning"
) -> list[Problem]:
    """Fill `article.related` from its `related:` paths; a `broken-related` problem for each not found
    (`line()` gives the line of `related:`, asked only then)."""
    problems: list[Problem] = []
    article.related = []
    folder = posixpath.dirname(article.source)
    for target in article.related_sources:
        found = by_source.get(posixpath.normpath(posixpath.join(folder, target))) or by_source.get(target)
        if found is None:
            problems.append(Problem(article.source, line(), f"related article not found: {target}", level,
                                    code="broken-related", target=target))  # fmt: skip
        elif found is not article:
            article.related.append(found)
    return problems


def folder_index(lib: Library) -> dict[str, Node]:
    """Content folder (category dir, category/section dir) → its node, from where the articles are."""
    folders: dict[str, Node] = {}
    for a in lib.articles:
        cat_dir, sec_dir = folder_dirs(a.source)
        if cat_dir is not None and a.category is not None:
            folders.setdefault(cat_dir, a.category)
        if sec_dir is not None and a.section is not None:
            folders.setdefault(sec_dir, a.section)
    return folders


def empties_a_folder(
    folders: Mapping[str, Node], lib: Library, removed: set[str], added: Iterable[Article]
) -> bool:
    """Whether removing the articles `removed` (and adding `added`) leaves a category or section empty."""
    if not removed:
        return False
    existing = {a.source for a in lib.articles}
    counts: dict[int, int] = {}
    for node in folders.values():
        articles = node.all_articles if isinstance(node, Category) else node.articles
        counts[id(node)] = sum(1 for a in articles if a.source not in removed)
    for a in added:
        if a.source not in existing:
            for node in (a.category, a.section):
                if node is not None and id(node) in counts:
                    counts[id(node)] += 1
    return any(n == 0 for n in counts.values())


def check_outputs(
    articles: Iterable[Article],
    folders: Iterable[Category | Section],
    tags: Iterable[Tag],
    assets: dict[str, str],
) -> list[Problem]:
    """Two sources that would write one file (articles, their aliases, folders, tags, content files and
    kbgen's own pages), and two articles with one `id`: an error each, naming both."""
    articles = list(articles)
    # Tag pages first: a clash with one is reported at the article, alias or file (tags have no file).
    claims = [Claim(page_output(tag.url), "", 0, f"the page of the tag {tag.name!r}", "tag") for tag in tags]
    for node in folders:
        claims.append(Claim(page_output(node.url), node.source or node.url, 1 if node.source else 0,
                            f"the folder page {node.url}", "page"))  # fmt: skip
    for a in articles:
        claims.append(Claim(page_output(a.url), a.source, 1, f"the page of {a.source}", "page"))
    for a in articles:
        for alias, line in zip(
            a.aliases, a.alias_lines or [a.lines.get("aliases", 1)] * len(a.aliases), strict=False
        ):
            claims.append(Claim(alias_output(alias), a.source, line, f"the alias {alias}", "alias"))
    for site, src in sorted(assets.items()):
        claims.append(Claim(site.lstrip("/"), src, 0, f"the file {src}", "asset"))
    problems = output_claims(claims)
    # Articles without an `id:` first: the error is then at the `id:` line that repeats another's id.
    implicit = [(a.id, a.source, 1) for a in articles if "id" not in a.lines]
    explicit = sorted((a.id, a.source, a.lines["id"]) for a in articles if "id" in a.lines)
    problems += duplicate_ids(implicit + explicit)
    return problems
