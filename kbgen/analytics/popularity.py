"""Popularity: the build reads the owner's analytics back and ranks articles by what customers read.

`apply_popularity(library, config, root)` is called by the build after loading content: it reads every
``[analytics] sources`` entry, matches the counted paths to articles (by URL and `aliases`, or by article
id for the collector's events), sets ``article.views`` and ``article.popularity_rank`` (1 = most viewed)
and returns a `PopularityReport` whose `problems` the build prints as warnings. It never raises on bad data.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..search.schema import POPULARITY_EVIDENCE_VIEWS
from .importers import Key, SourceResult, Stats, normalize_path, read_source

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "AnalyticsData",
    "ArticleStats",
    "PopularityReport",
    "Resolver",
    "apply_popularity",
    "load_analytics",
    "popularity_inputs",
    "smoothed_popularity",
]

DEFAULT_WINDOW_DAYS = 90
# The prior weight of the popularity smoothing, in views (see `smoothed_popularity`). Also the views an
# article needs for the full search boost (`search.schema.POPULARITY_EVIDENCE_VIEWS`): the same evidence bar.
PRIOR_VIEWS = POPULARITY_EVIDENCE_VIEWS


def smoothed_popularity(views: dict[Any, int], promoted: set[Any], prior: int = PRIOR_VIEWS) -> dict[Any, float]:
    """Each article's views plus its share of `prior` pseudo-views: a Bayesian average of its share of the
    site's views, shrunk toward the site mean (every article equally popular) with a prior worth `prior`
    views — the posterior mean of a Dirichlet(prior × prior-share) over articles after the counted views.

    The owner's choice is the prior: when some articles are promoted, half of the pseudo-views go to them
    (an editor said "these are what customers need"), the other half is spread over the rest. Ranking by
    the result (ties: promoted, then order) means that with 6 promoted articles out of 40, a promoted one
    starts at 50 / 2 / 6 ≈ 4.2 views and the others at 25 / 34 ≈ 0.7: one customer session (1 to 3 article
    views) cannot lift an article over a promoted one, about 4 more views than the promoted one got can,
    and as real traffic grows (hundreds of views) the prior's 50 views fade and views alone decide.

    Why 50: it is the evidence at which a count is worth trusting against an editor's choice — the Poisson
    noise of a count n is √n, so below ~50 views an article's count is uncertain by more than ±14 %, and
    the usual help-centre session views 1–3 articles, so 50 views are at least ~20 different customers.
    """
    keys = list(views)
    if not keys:
        return {}
    n_promoted = sum(1 for k in keys if k in promoted)
    n_rest = len(keys) - n_promoted
    share_promoted = (prior / 2 / n_promoted) if n_promoted and n_rest else (prior / len(keys))
    share_rest = (prior / 2 / n_rest) if n_promoted and n_rest else (prior / len(keys))
    return {k: views[k] + (share_promoted if k in promoted else share_rest) for k in keys}


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _base_path(config: Any) -> str:
    base = _get(config, "base_path", None)
    if isinstance(base, str):
        return base
    raw = str(_get(config, "base_url", "/") or "/")
    if "://" in raw:
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    return "/" + raw.strip("/") + "/" if raw.strip("/") else "/"


_SITE_SUFFIX = re.compile(r"\s+[-–—|·]\s+[^-–—|·]*$")


def strip_site_name(title: str, site: str = "") -> str:
    """A page's `<title>` as analytics record it, without the site name after it: "Start a return – Northwind
    Help" → "Start a return" (separators – — - | ·). With the site's name, only that name is taken off."""
    if site:
        for sep in (" – ", " — ", " - ", " | ", " · "):
            if title.casefold().endswith((sep + site).casefold()):
                return title[: -len(sep + site)].strip()
        return title
    return _SITE_SUFFIX.sub("", title).strip()


class Resolver:
    """Matches an export's page keys to articles: URL, `aliases`, article id, or (GA4 title reports) title.

    Paths are compared normalised (no origin, query, fragment, trailing slash or index.html, case-folded),
    with and without the site's `base_url` path prefix, so ``https://help.example.com/help/Orders/Refunds/
    index.html?utm=x`` finds the article at ``/orders/refunds/`` of a site built with ``base_url = "/help/"``.
    """

    def __init__(
        self,
        library: Any,
        base_path: str = "/",
        site_title: str = "",
        foreign: tuple[str, ...] = (),
        own_only: bool = False,
    ) -> None:
        self.base = normalize_path(base_path) or "/"
        self.site_title = " ".join(site_title.split()).casefold()
        # A multilingual site (kbgen/languages.py): the other languages' path prefixes and id prefixes ("fr/"),
        # whose views are never this language's; `own_only`: only paths under `base_path` are.
        self.foreign = tuple(f for f in foreign if f)
        self.own_only = own_only
        self.by_path: dict[str, Any] = {}
        self.by_id: dict[str, Any] = {}
        self.by_title: dict[str, Any] = {}
        self.pages: set[str] = {"/", "/search", "/tags", "/404.html"}  # pages that are not articles
        articles = list(_get(library, "articles", []) or [])
        titles: Counter[str] = Counter(" ".join(str(a.title).split()).casefold() for a in articles)
        for a in articles:
            self.by_id[str(a.id).casefold()] = a
            title = " ".join(str(a.title).split()).casefold()
            if titles[title] == 1:
                self.by_title[title] = a
        # Aliases first, so that an article's own URL wins over another's old alias.
        for a in articles:
            for alias in _get(a, "aliases", []) or []:
                if (key := normalize_path(str(alias))) is not None:
                    self.by_path[key] = a
        for a in articles:
            if (key := normalize_path(str(a.url))) is not None:
                self.by_path[key] = a
        for cat in _get(library, "categories", []) or []:
            self.pages.add(normalize_path(str(cat.url)) or "/")
            for sec in _get(cat, "sections", []) or []:
                self.pages.add(normalize_path(str(sec.url)) or "/")
        for tag in _get(library, "tags", []) or []:
            self.pages.add(normalize_path(str(tag.url)) or "/")

    def is_foreign(self, key: Key) -> bool:
        kind, value = key
        if kind == "id":
            return any(value.casefold().startswith(f) for f in self.foreign if f.endswith("/"))
        if kind != "path":
            return False
        if self.own_only and not (value == self.base or value.startswith(self.base.rstrip("/") + "/")):
            return True
        return any(value == f or value.startswith(f + "/") for f in self.foreign if f.startswith("/"))

    def _candidates(self, path: str) -> list[str]:
        out = [path]
        if self.base != "/" and (path == self.base or path.startswith(self.base + "/")):
            out.insert(0, path[len(self.base) :] or "/")
        return out

    def article(self, key: Key) -> Any | None:
        kind, value = key
        if kind == "id":
            return self.by_id.get(value.casefold())
        if kind == "title":
            return (
                self.by_title.get(value)
                or self.by_title.get(strip_site_name(value, self.site_title))
                or self.by_title.get(strip_site_name(value))
            )
        for path in self._candidates(value):
            if path in self.by_path:
                return self.by_path[path]
        return None

    def is_known_page(self, key: Key) -> bool:
        """A page of the site that is not an article (home, category, section, tag, search)."""
        return key[0] == "path" and any(p in self.pages for p in self._candidates(key[1]))


@dataclass
class ArticleStats:
    article: Any
    views: int = 0
    helpful: int = 0
    not_helpful: int = 0
    contacts: int = 0
    videos: int = 0

    @property
    def votes(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def helpful_ratio(self) -> float | None:
        return self.helpful / self.votes if self.votes else None

    @property
    def contact_rate(self) -> float | None:
        """Contact clicks per view: how often the article did not answer the question."""
        return self.contacts / self.views if self.views else None


@dataclass
class AnalyticsData:
    """Everything the sources say, matched to articles: what the popularity pass and the report read."""

    sources: list[SourceResult] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    articles: dict[str, ArticleStats] = field(default_factory=dict)  # article id → stats
    unmatched: Counter[str] = field(default_factory=Counter)  # path → views that matched no page
    page_views: int = 0  # views of non-article pages (home, categories, search)
    window_days: int = DEFAULT_WINDOW_DAYS
    resolver: Any = None  # the Resolver that matched the sources' paths and titles to articles (learn.py reuses it)

    @property
    def problems(self) -> list[Problem]:
        return [p for s in self.sources for p in s.problems]

    @property
    def total_views(self) -> int:
        return sum(a.views for a in self.articles.values()) + self.page_views + sum(self.unmatched.values())

    @property
    def measured(self) -> set[str]:
        """The importers' METRICS that at least one source records; the report shows the others as
        "not measured", never as 0."""
        return set(self.stats.measured)

    @property
    def failed(self) -> list[SourceResult]:
        """Sources refused as a whole (a date in an undocumented format, a header not understood)."""
        return [s for s in self.sources if s.failed]

    @property
    def period(self) -> tuple[date | None, date | None]:
        return self.stats.first_day, self.stats.last_day

    def ranked(self) -> list[ArticleStats]:
        viewed = (a for a in self.articles.values() if a.views)
        return sorted(viewed, key=lambda s: (-s.views, str(s.article.url)))


def _window_days(config: Any) -> int:
    days = _get(_get(config, "analytics"), "window_days", DEFAULT_WINDOW_DAYS)
    return int(days) if isinstance(days, int) and not isinstance(days, bool) else DEFAULT_WINDOW_DAYS


def load_analytics(
    library: Any, config: Any, project_root: Path | None = None, window_days: int | None = None
) -> AnalyticsData:
    """Read every configured source and match it to `library`'s articles."""
    analytics = _get(config, "analytics")
    root = Path(project_root or _get(config, "root", None) or ".")
    days = window_days if window_days is not None else _window_days(config)
    data = AnalyticsData(window_days=days)
    lang_tag, foreign, own_only = _language_filter(config)
    for source in _get(analytics, "sources", []) or []:
        if lang_tag:  # one language of a multilingual site: the collector's events of that language
            source = {"type": _get(source, "type", ""), "path": _get(source, "path", ""),
                      "kind": _get(source, "kind", ""), "lang": lang_tag}  # fmt: skip
        result = read_source(source, root, days)
        data.sources.append(result)
        data.stats.merge(result.stats)
    data.resolver = Resolver(library, _base_path(config), str(_get(config, "title", "") or ""), foreign, own_only)
    resolve(data, data.resolver)
    return data


def _language_filter(config: Any) -> tuple[str, tuple[str, ...], bool]:
    """For one language's config of a multilingual site (kbgen/languages.py): the `lang` its events carry
    ("en*": also events without one, for the default language), the other languages' path and id prefixes,
    and whether only paths under its own prefix are its own."""
    code = _get(config, "i18n_lang", "")
    languages = _get(config, "languages", {}) or {}
    if not code or len(languages) < 2:
        return "", (), False
    prefix = _get(config, "i18n_prefix", "")
    base = _base_path(config)
    root = base[: len(base) - len(prefix) - 1] if prefix else base
    mine = languages[code]
    foreign: list[str] = []
    for other, lang in languages.items():
        if other == code:
            continue
        if lang.prefix:
            foreign.append(normalize_path(root + lang.prefix + "/") or "")
        if not lang.default:
            foreign.append(other.casefold() + "/")
    tag = str(_get(config, "language", code)) + ("*" if mine.default else "")
    return tag, tuple(foreign), bool(prefix)


def resolve(data: AnalyticsData, resolver: Resolver) -> None:
    st = data.stats

    def stats_for(key: Key) -> ArticleStats | None:
        article = resolver.article(key)
        if article is None:
            return None
        found = data.articles.get(article.id)
        if found is None:
            found = data.articles[article.id] = ArticleStats(article)
        return found

    for key, views in st.views.items():
        if resolver.is_foreign(key):
            continue
        s = stats_for(key)
        if s is not None:
            s.views += views
        elif resolver.is_known_page(key):
            data.page_views += views
        elif key[0] == "path":
            data.unmatched[key[1]] += views
        else:
            data.unmatched[f"{key[0]}: {key[1]}"] += views
    for counter, attr in (
        (st.helpful, "helpful"),
        (st.not_helpful, "not_helpful"),
        (st.contacts, "contacts"),
        (st.videos, "videos"),
    ):
        for key, n in counter.items():
            if not resolver.is_foreign(key) and (s := stats_for(key)) is not None:
                setattr(s, attr, getattr(s, attr) + n)


@dataclass
class PopularityReport:
    """What the popularity pass did, for the build to print."""

    problems: list[Problem] = field(default_factory=list)
    sources: list[SourceResult] = field(default_factory=list)
    ranked: int = 0  # articles with views
    matched_views: int = 0
    unmatched: list[tuple[str, int]] = field(default_factory=list)  # top paths that matched no page

    @property
    def warnings(self) -> list[str]:
        return [str(p) for p in self.problems]

    def summary(self) -> str:
        if not self.sources:
            return "analytics: no sources configured"
        return (
            f"analytics: {self.matched_views:,} views on {self.ranked} articles "
            f"from {len(self.sources)} source(s)"
        )


def apply_popularity(library: Any, config: Any, project_root: Path | None = None) -> PopularityReport:
    """Set `views` and `popularity_rank` on every article of `library` from the configured sources.

    Articles without views get ``views = 0`` and ``popularity_rank = None``; ties rank by URL so that the
    same data always gives the same order. Returns the warnings (missing files, malformed rows, paths that
    look like old article URLs) instead of raising.
    """
    data = load_analytics(library, config, project_root)
    articles = list(_get(library, "articles", []) or [])
    for a in articles:
        a.views = 0
        a.popularity_rank = None
        a.popularity = 0.0
    ranked = data.ranked()
    for rank, s in enumerate(ranked, 1):
        s.article.views = s.views
        s.article.popularity_rank = rank
    if ranked:  # no views at all: no smoothing either (lists keep promoted, then order)
        smooth = smoothed_popularity(
            {id(a): a.views for a in articles}, {id(a) for a in articles if getattr(a, "promoted", False)}
        )
        for a in articles:
            a.popularity = smooth[id(a)]
    from .learn import apply_learning

    learn_problems = apply_learning(data, library, config)
    report = PopularityReport(
        problems=data.problems + learn_problems,
        sources=data.sources,
        ranked=len(ranked),
        matched_views=sum(s.views for s in ranked),
        unmatched=data.unmatched.most_common(10),
    )
    if data.unmatched and data.sources:
        total = sum(data.unmatched.values())
        examples = ", ".join(f"{p} ({n:,})" for p, n in data.unmatched.most_common(3))
        report.problems.append(
            Problem(
                "kbgen.toml",
                0,
                f"analytics: {len(data.unmatched)} path(s) with {total:,} views matched no page, "
                f"e.g. {examples}; if one is an old URL of an article, add it to that article's `aliases`",
                "warning",
                code="analytics",
            )
        )
    return report


def popularity_inputs(config: Any, project_root: Path | None = None) -> list[Path]:
    """The files the popularity pass reads: an incremental build's cache key must cover them."""
    root = Path(project_root or _get(config, "root", None) or ".")
    out = []
    for source in _get(_get(config, "analytics"), "sources", []) or []:
        if raw := str(_get(source, "path", "") or ""):
            out.append((root / raw).resolve())
    return out
