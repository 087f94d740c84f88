"""The content model: categories, sections and articles, as the editor wrote them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

ARTICLE_TYPES = ("article", "faq", "howto")


@dataclass
class FaqEntry:
    """One question of an FAQ page and its answer; `anchor` is stable (from the question text)."""

    question: str
    anchor: str
    answer_html: str
    answer_text: str
    line: int = 0


@dataclass
class Step:
    """One step of a how-to guide (from its `## Steps` list or its first ordered list)."""

    index: int
    html: str
    text: str
    anchor: str


@dataclass
class Article:
    id: str
    source: str  # path relative to the content directory, posix
    title: str
    url: str  # site-relative, "/category/section/slug/"
    slug: str
    description: str = ""
    type: str = "article"
    tags: list[str] = field(default_factory=list)
    order: int = 0
    promoted: bool = False
    draft: bool = False
    updated: date | None = None
    aliases: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    related_sources: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    time: str = ""
    supplies: list[str] = field(default_factory=list)
    category_slug: str = ""
    section_slug: str = ""
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)  # front-matter key → line
    alias_lines: list[int] = field(default_factory=list, repr=False, compare=False)  # line of each alias
    # Filled by markdown rendering.
    html: str = ""
    intro_html: str = ""
    text: str = ""
    headings: list[str] = field(default_factory=list)
    toc: list[tuple[int, str, str]] = field(default_factory=list)
    faq: list[FaqEntry] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (anchor, heading, text) per ##
    intro_text: str = ""
    word_count: int = 0
    content_hash: str = ""
    # Filled by the library / analytics.
    category: Category | None = field(default=None, repr=False, compare=False)
    section: Section | None = field(default=None, repr=False, compare=False)
    related: list[Article] = field(default_factory=list, repr=False, compare=False)
    tag_links: list[Tag] = field(default_factory=list, repr=False, compare=False)  # `tags` as Tag pages
    views: int = 0
    popularity_rank: int | None = None
    customer_words: list[str] = field(default_factory=list)  # learned from searches (analytics/learn.py)
    popularity: float = 0.0  # views smoothed toward the site mean (analytics.popularity): what orders lists

    @property
    def reading_minutes(self) -> int:
        return max(1, round(self.word_count / 220))

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (self.order, self.title.casefold(), self.url)


@dataclass
class Section:
    slug: str
    title: str
    url: str
    source: str = ""  # its _index.md, if any
    description: str = ""
    order: int = 0
    icon: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    category: Category | None = field(default=None, repr=False, compare=False)
    articles: list[Article] = field(default_factory=list, repr=False, compare=False)

    @property
    def sort_key(self) -> tuple[int, str]:
        return (self.order, self.title.casefold())


@dataclass
class Category(Section):
    """A top-level folder. Its `articles` are those directly in it; `sections` its sub-folders."""

    sections: list[Section] = field(default_factory=list, repr=False, compare=False)

    # Computed once, on first use after loading (templates ask for them on every page).
    @cached_property
    def all_articles(self) -> list[Article]:
        return self.articles + [a for s in self.sections for a in s.articles]

    @cached_property
    def article_count(self) -> int:
        return len(self.all_articles)

    @cached_property
    def ranked_articles(self) -> list[Article]:
        """Every article of the category, sections included: most viewed first (when analytics data exists),
        then promoted, then in order."""
        return sorted(self.all_articles, key=popularity_key)

    @cached_property
    def top_articles(self) -> list[Article]:
        """Most viewed first (when analytics data exists), then promoted, then in order."""
        return self.ranked_articles[:5]

    @cached_property
    def rank_of(self) -> dict[int, int]:
        """id(article) → its place in `ranked_articles`."""
        return {id(a): i for i, a in enumerate(self.ranked_articles)}

    @cached_property
    def articles_by_tag(self) -> dict[str, list[Article]]:
        """Casefolded tag → the category's articles with it, in `ranked_articles` order."""
        out: dict[str, list[Article]] = {}
        for a in self.ranked_articles:
            for tag in {t.casefold() for t in a.tags}:
                out.setdefault(tag, []).append(a)
        return out

    def forget(self) -> None:
        """Drop the computed lists after the articles changed (incremental rebuilds)."""
        for name in ("all_articles", "article_count", "ranked_articles", "top_articles", "rank_of",
                     "articles_by_tag"):
            self.__dict__.pop(name, None)


# Tags that only repeat an article's type: no tag page, not shown on the article (still searched).
TYPE_TAGS = frozenset({"faq", "faqs", "howto", "how-to", "article"})


def popularity_key(article: Article) -> tuple[float, int, int, str, str]:
    return (
        -article.popularity,
        0 if article.promoted else 1,
        article.order,
        article.title.casefold(),
        article.url,
    )


@dataclass
class Tag:
    name: str
    slug: str
    url: str
    articles: list[Article] = field(default_factory=list)


@dataclass
class Library:
    """Everything under `content/`, parsed once."""

    title: str = ""
    description: str = ""
    home_meta: dict[str, Any] = field(default_factory=dict)
    categories: list[Category] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)  # all published articles, in nav order
    tags: list[Tag] = field(default_factory=list)
    assets: dict[str, str] = field(default_factory=dict)  # site path → source path (images, files)

    def by_source(self) -> dict[str, Article]:
        return {a.source: a for a in self.articles}

    @property
    def popular(self) -> list[Article]:
        """Most viewed (when analytics data exists), else promoted, else in order."""
        return sorted(self.articles, key=popularity_key)[:8]

    @property
    def recent(self) -> list[Article]:
        return sorted(self.articles, key=lambda a: (a.updated or date.min, a.title), reverse=True)[:8]


def translation_key(article: Article) -> str:
    """What links an article to its translations: its `translation_key` front matter, else its path in its
    language's folder without `.md` (kbgen/languages.py)."""
    key = article.meta.get("translation_key")
    if isinstance(key, str) and key.strip():
        return key.strip().strip("/").removesuffix(".md")
    return article.source.removesuffix(".md")
