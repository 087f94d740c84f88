"""Search units: what one search result points at, smaller than a page.

- every FAQ question with its answer (anchor = the question's id);
- every `##` section of a long article (anchor = the h2's id), plus the page's own unit (its intro);
- a short article is one unit.

Every unit carries its article's title, keywords, tags and category, so a title match ranks every unit of
the page; results are grouped per page afterwards (best unit first, page ranked by its best unit).
Units are plain picklable dataclasses: `collect_units()` runs in the parent process, the indexing may run
in a worker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..content.model import Article, Library

LONG_ARTICLE_WORDS = 250  # an article with fewer words (or fewer than 2 sections) is one unit
SNIPPET_CHARS = 2000
PAGE_BODY = "intro"  # text kept per unit for snippets (the export may trim further)


@dataclass
class Unit:
    uid: str  # "<source>#<anchor>"
    source: str  # the article's source path, relative to the content directory
    article_id: str
    anchor: str  # "" for the page's own unit
    heading: str  # the section title / FAQ question ("" for the page unit)
    title: str  # the article title
    headings: str  # heading text indexed for this unit
    body: str  # text indexed for this unit
    keywords: str
    tags: str
    category: str  # category (and section) titles, as words
    category_slug: str
    category_title: str
    type: str
    url: str
    views: int = 0
    promoted: bool = False
    text: str = ""  # display text for snippets (plain text)
    customer: str = ""  # words learned from customers' searches that opened this article
    extra: dict[str, Any] = field(default_factory=dict)


def _sub_headings(article: Article) -> dict[str, list[str]]:
    """h2 anchor → the texts of the h3 headings under it."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    for level, anchor, text in article.toc:
        if level == 2:
            current = anchor
            out.setdefault(anchor, [])
        elif current is not None:
            out[current].append(text)
    return out


def article_units(article: Article) -> list[Unit]:
    """The units of one article, page unit first."""
    cat = article.category
    sec = article.section
    category_words = " ".join(x.title for x in (cat, sec) if x is not None)
    common = {
        "source": article.source,
        "article_id": article.id,
        "title": article.title,
        "keywords": " , ".join(article.keywords),
        "tags": " , ".join(article.tags),
        "category": category_words,
        "category_slug": cat.slug if cat is not None else "",
        "category_title": cat.title if cat is not None else "",
        "type": article.type,
        "url": article.url,
        "views": int(article.views or 0),
        "promoted": bool(article.promoted),
        "customer": " ".join(getattr(article, "customer_words", ()) or ()),
    }
    sections = [s for s in article.sections if s[0]]
    split = bool(sections) and (
        (article.type == "faq" and bool(article.faq))
        or (len(sections) >= 2 and article.word_count >= LONG_ARTICLE_WORDS)
    )
    desc = article.description.strip()
    if not split:
        body = " ".join(x for x in (desc, article.text) if x)
        return [
            Unit(
                uid=f"{article.source}#",
                anchor="",
                heading="",
                headings=" \n ".join(article.headings),
                body=body,
                text=body[:SNIPPET_CHARS],
                **common,
            )
        ]
    subs = _sub_headings(article)
    intro = " ".join(x for x in (desc, article.intro_text) if x)
    page_body = " ".join(x for x in (desc, article.text) if x) if PAGE_BODY == "full" else intro
    units = [
        Unit(
            uid=f"{article.source}#",
            anchor="",
            heading="",
            headings=" \n ".join(s[1] for s in sections),
            body=page_body,
            text=intro[:SNIPPET_CHARS],
            **common,
        )
    ]
    seen = {""}
    for anchor, heading, text in sections:
        if anchor in seen:
            continue
        seen.add(anchor)
        units.append(
            Unit(
                uid=f"{article.source}#{anchor}",
                anchor=anchor,
                heading=heading,
                headings=" \n ".join([heading, *subs.get(anchor, [])]),
                body=text,
                text=text[:SNIPPET_CHARS],
                **common,
            )
        )
    return units


def collect_units(library: Library) -> list[Unit]:
    """All units of the library's articles (the published ones, as loaded), in navigation order."""
    return [u for a in library.articles for u in article_units(a)]


def units_hash(units: list[Unit]) -> str:
    """Content hash of an article's units: equal hash → the article need not be reindexed."""
    h = hashlib.blake2b(digest_size=16)
    for u in units:
        h.update("\x1f".join(map(str, u.__dict__.values())).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.hexdigest()
