"""The build cache in `.kbgen/`: what a warm build may reuse, and the signatures that say when it may not.

Never trusted blindly. Every entry is keyed by what produced it:
- a rendered Markdown body by its text, place, type, labels, base path and kbgen version, and it is reused only
  while every link and image it used still resolves the same way (see `content.load.render_all`);
- a page by a signature of the site-wide data any template may show (navigation, listings, popular and
  recent articles, tags, the theme's files, the config, kbgen's version, the build date) plus, for an article
  page, everything about that article. A page whose signature is unchanged is hard-linked from the previous
  output instead of being rendered again.
A cache written by another kbgen version, or one that cannot be read, is ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .config import Config
from .content.model import Article, Library
from .markdown import Rendered
from .render import Page, SiteRenderer

CACHE_FILE = "build-cache.pickle"
SKIP_FIELDS = {"category", "section", "related", "tag_links"}


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _config_repr(config: Config) -> str:
    data = dataclasses.asdict(config)
    data.pop("root", None)
    data.pop("path", None)
    return repr(data)


def _nav_tuple(a: Article) -> tuple[Any, ...]:
    return (
        a.source, a.id, a.url, a.title, a.description, a.type, a.updated, a.reading_minutes, tuple(a.tags),
        a.promoted, a.order, a.views, a.popularity_rank, a.category_slug, a.section_slug,
        tuple(r.url for r in a.related), tuple(a.aliases),
    )  # fmt: skip


def site_signature(renderer: SiteRenderer, library: Library, config: Config) -> str:
    """Everything a page may show that is not its own article."""
    folders = [
        (n.url, n.title, n.description, n.order, n.icon, repr(n.meta))
        for c in library.categories
        for n in (c, *c.sections)
    ]
    return _digest(
        __version__,
        renderer.theme.fingerprint(),
        _config_repr(config),
        renderer.build_date.date(),
        library.title,
        library.description,
        repr(library.home_meta),
        folders,
        [_nav_tuple(a) for a in library.articles],
    )


def article_signature(article: Article) -> str:
    own = [
        (f.name, getattr(article, f.name)) for f in dataclasses.fields(article) if f.name not in SKIP_FIELDS
    ]
    return _digest(own, [(r.url, r.title, r.description) for r in article.related])


def page_signature(site_sig: str, page: Page) -> str:
    article = page.context.get("article")
    own = (
        article_signature(article)
        if isinstance(article, Article) and page.template != "redirect.html"
        else ""
    )
    return _digest(site_sig, page.output, page.template, own)


@dataclass
class BuildCache:
    path: Path
    render: dict[str, tuple[str, Rendered]] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)  # output path → page signature
    output: str = ""  # the output folder those pages were written to

    @classmethod
    def open(cls, cache_dir: Path) -> BuildCache:
        path = cache_dir / CACHE_FILE
        try:
            with path.open("rb") as fh:
                data = pickle.load(fh)  # noqa: S301 - our own file in the project's .kbgen/
            if data.get("version") != __version__:
                return cls(path)
            return cls(path, data["render"], data["pages"], data["output"])
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, AttributeError, TypeError, ValueError):
            return cls(path)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp-{os.getpid()}")
        with tmp.open("wb") as fh:
            pickle.dump(
                {"version": __version__, "render": self.render, "pages": self.pages, "output": self.output},
                fh,
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        os.replace(tmp, self.path)
