"""The self-service loop: which searches failed, what to write or fix next, and whether last period's gaps
are closed. Read from the collector's database (the only source that records each search and what
followed it); `kbgen report` shows it, `--json` prints it, `--queries-out` turns it into search checks.

**A failed search** is a `search` event that, in this order of precedence:

1. ``zero_results`` — showed no result;
2. ``contact`` — was followed by a contact click that carries the same query (a clicked search result
   passes its query to the opened page as ``?sq=``; the search page has its ``?q=``);
3. ``no_vote`` — was followed by a "No" to *Was this helpful?* carrying the same query;
4. ``abandoned`` — showed results, and none was opened (no `search_click` with the same query).

A search that the same device class extended within `REFINE_SECONDS` (60) — "gift wr", then "gift wrapping"
— is ``refined``: a step of typing (the theme settles a query after a 1 s pause), never a failure.

"Followed" has one definition, `LINK_WINDOW_MINUTES` (30): an event with query *q* belongs to the latest
`search` of *q* from the same device class that happened at most 30 minutes before it (30 minutes is the
usual analytics session timeout, GA4's and Matomo's default). There is no session id and no cookie: the
query, the device class and the time are all that link them. So a search is *abandoned* when no result click
for its query, from the same device class, arrives within 30 minutes of it and before the next search of
that query from that device class. Searches in the last 30 minutes of the period are judged with the events
that follow the period's end (when there are some), so the period's end does not make them abandoned.

**Similar queries** are grouped: the same analysed terms (kbgen's search analysis — folding, stop words,
compounds, stemming — with filler words dropped, in any order), or the same number of terms each within the
typo distance the search tolerates (1 edit from 4 letters, 2 from 8): "gift wrapping", "Gift-wrap",
"gift wraping" are one group.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .importers import collector_databases, normalize_path, week_of

__all__ = [
    "FAILURE_KINDS",
    "LINK_WINDOW_MINUTES",
    "REFINE_SECONDS",
    "LoopData",
    "Period",
    "build_loop",
    "group_key",
    "queries_out",
]

LINK_WINDOW_MINUTES = 30
# A search settled mid-typing ("gift wr", a 1 s pause, then "gift wrapping") is a step, not a failure: a
# search followed within this many seconds, from the same device class, by one that starts with its words.
REFINE_SECONDS = 60
FAILURE_KINDS = ("zero_results", "contact", "no_vote", "abandoned")
# Typo grouping compares pairs of distinct term sets (quadratic): the most searched 1,500 are compared, the
# rest (a long tail of one-off searches) are grouped by their exact terms only.
MAX_GROUP_KEYS = 1500
DAY_MS = 86_400_000


# -- query groups ----------------------------------------------------------------------------------------


def group_key(query: str, language: str = "en") -> tuple[str, ...]:
    """The analysed terms of `query` as the search sees them (fillers dropped), sorted."""
    from ..search.lexicon import query_words
    from ..search.schema import fillers, fold, stem_function

    words, _ = query_words(query, language)
    drop = fillers(language)
    stem = stem_function(language)
    terms = sorted({stem(w) for w in words if w not in drop} or {stem(w) for w in words})
    return tuple(terms) or (fold(" ".join(query.split())),)


def _typo_twins(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    from ..search.lexicon import osa_distance
    from ..search.schema import typo_budget

    if len(a) != len(b) or a == b:
        return a == b
    left = list(b)
    for t in a:
        for i, u in enumerate(left):
            budget = typo_budget(min(t, u, key=len))
            if t == u or (budget and osa_distance(t, u, budget) <= budget):
                del left[i]
                break
        else:
            return False
    return True


def _groups(keys: list[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """key → its group's canonical key (union-find over typo twins). `keys`: most searched first."""
    parent = {k: k for k in keys}

    def find(k: tuple[str, ...]) -> tuple[str, ...]:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    by_len: dict[int, list[tuple[str, ...]]] = defaultdict(list)
    for k in keys[:MAX_GROUP_KEYS]:
        by_len[len(k)].append(k)
    if by_len:
        for same in by_len.values():
            for i, a in enumerate(same):
                for b in same[i + 1 :]:
                    if find(a) != find(b) and _typo_twins(a, b):
                        parent[find(b)] = find(a)
    return {k: find(k) for k in keys}


# -- reading the collector ---------------------------------------------------------------------------------


@dataclass
class SearchEvent:
    ts: int
    query: str
    results: int
    device: str
    clicks: list[str] = field(default_factory=list)
    contacted: bool = False
    voted_no: bool = False
    refined: bool = False  # a step of typing: the next search from its device class extended it

    @property
    def kind(self) -> str:
        if self.refined and not (self.clicks or self.contacted or self.voted_no):
            return "refined"
        if self.results == 0:
            return "zero_results"
        if self.contacted:
            return "contact"
        if self.voted_no:
            return "no_vote"
        if not self.clicks:
            return "abandoned"
        return "ok"


@dataclass
class Period:
    """What one period's events say (`since` ≤ ts < `until`, unix ms)."""

    since: int
    until: int
    searches: list[SearchEvent] = field(default_factory=list)
    views: Counter[str] = field(default_factory=Counter)  # article key → views
    yes: Counter[str] = field(default_factory=Counter)
    no: Counter[str] = field(default_factory=Counter)
    contacts: Counter[str] = field(default_factory=Counter)
    contacts_after_failed: int = 0  # contact clicks linked to a failed search of the period
    contacts_with_query: int = 0  # contact clicks that carried a query (linked or not)
    opened: dict[str, Counter[str]] = field(default_factory=dict)  # group → article key → result clicks

    def failed(self) -> list[SearchEvent]:
        return [s for s in self.searches if s.kind in FAILURE_KINDS]

    def kinds(self) -> dict[str, int]:
        c = Counter(s.kind for s in self.searches)
        return {k: c.get(k, 0) for k in FAILURE_KINDS}


def _article_key(article_id: str | None, url: str | None) -> str | None:
    if article_id:
        return "id:" + article_id.casefold()
    norm = normalize_path(url or "")
    return "path:" + norm if norm else None


def _read(db_path: Path, since: int, until: int, lang: str = "") -> Period:
    """One period from one database: events from `since` − window to `until` + window, searches classified.

    `lang`: one language of a multilingual site, its events only ("en*": also those without a `lang`)."""
    window = LINK_WINDOW_MINUTES * 60_000
    period = Period(since, until)
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        where, params = "", (since - window, until + window)
        if lang and any(row[1] == "lang" for row in db.execute("PRAGMA table_info(events)")):
            where = " AND (lang = ?" + (" OR lang IS NULL)" if lang.endswith("*") else ")")
            params += (lang.rstrip("*"),)
        _classify(period, db.execute(
            f"""SELECT ts, name, coalesce(device, ''), query, results, url, id, page, helpful
               FROM events
               WHERE ts >= ? AND ts < ? AND coalesce(device, '') != 'bot'{where}
                 AND name IN ('search', 'search_click', 'contact_click', 'feedback', 'page_view')
               ORDER BY ts, seq""",
            params,
        ), window)  # fmt: skip
    finally:
        db.close()
    return period


def _classify(period: Period, rows: Any, window: int) -> None:
    """Link each event to the latest search of its query (same device class, within `window` ms), streaming
    the rows in time order: only the period's searches are kept, not its events."""
    since, until = period.since, period.until
    latest: dict[tuple[str, str], SearchEvent] = {}  # (query, device) → its latest search
    last_of: dict[str, SearchEvent] = {}  # device class → its latest search (any query)

    def linked(query: str | None, device: str, ts: int) -> SearchEvent | None:
        if not query:
            return None
        s = latest.get((" ".join(query.split()).casefold(), device))
        return s if s is not None and ts - s.ts <= window else None

    for ts, name, device, query, results, url, art, page, helpful in rows:
        inside = since <= ts < until
        if name == "search":
            if not query:
                continue
            s = SearchEvent(ts, " ".join(query.split()), int(results or 0), device)
            before = last_of.get(device)
            if (
                before is not None
                and ts - before.ts <= REFINE_SECONDS * 1000
                and len(s.query) > len(before.query)  # the page never sends one query twice in a row
                and s.query.casefold().startswith(before.query.casefold())
            ):
                before.refined = True
            last_of[device] = s
            latest[(s.query.casefold(), device)] = s
            if inside:
                period.searches.append(s)
            continue
        s = linked(query, device, ts)
        if name == "search_click":
            if s is not None and url:
                s.clicks.append(url)
            continue
        if name == "contact_click":
            if s is not None:
                s.contacted = True
            if inside:
                period.contacts_with_query += 1 if query else 0
                if s is not None and since <= s.ts < until and s.kind in FAILURE_KINDS:
                    period.contacts_after_failed += 1
                if key := _article_key(art, url or page):
                    period.contacts[key] += 1
            continue
        if not inside:
            continue
        key = _article_key(art, url if name == "feedback" else page)
        if name == "page_view" and key:
            period.views[key] += 1
        elif name == "feedback" and key:
            if helpful == "no":
                period.no[key] += 1
                if s is not None:
                    s.voted_no = True
            else:
                period.yes[key] += 1


def _merge(a: Period, b: Period) -> Period:
    a.searches += b.searches
    for name in ("views", "yes", "no", "contacts"):
        getattr(a, name).update(getattr(b, name))
    a.contacts_after_failed += b.contacts_after_failed
    a.contacts_with_query += b.contacts_with_query
    return a


# -- the loop ---------------------------------------------------------------------------------------------


@dataclass
class LoopData:
    measured: bool
    days: int = 0
    current: Period | None = None
    previous: Period | None = None
    failed: dict[str, Any] = field(default_factory=dict)  # totals by kind, this period and the previous
    groups: list[dict[str, Any]] = field(default_factory=list)
    todo: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    gap_note: str = ""
    top_queries: list[dict[str, Any]] = field(default_factory=list)  # {"q", "searches", "expect": [source]}
    weeks: list[dict[str, Any]] = field(default_factory=list)


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).date()


class _Articles:
    """Article lookups by the collector's keys (`id:` or `path:`), by URL and aliases."""

    def __init__(self, library: Any, base_path: str) -> None:
        from .popularity import Resolver

        self.resolver = Resolver(library, base_path)

    def get(self, key: str | None) -> Any | None:
        if not key:
            return None
        kind, _, value = key.partition(":")
        return self.resolver.article((kind, value))

    def by_url(self, url: str) -> Any | None:
        norm = normalize_path(url or "")
        return self.resolver.article(("path", norm)) if norm else None


def _stats_by_article(p: Period, arts: _Articles) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"views": 0, "yes": 0, "no": 0, "contacts": 0})
    for name in ("views", "yes", "no", "contacts"):
        for key, n in getattr(p, name).items():
            a = arts.get(key)
            if a is not None:
                out[a.source][name] += n
    return out


def build_loop(
    library: Any,
    config: Any,
    days: int,
    top: int = 15,
    today: date | None = None,
) -> LoopData:
    """Failed searches, their groups, the to-do list and the gap re-check, from the collector databases."""
    from .popularity import _base_path, _language_filter

    lang = _language_filter(config)[0]  # a multilingual site: this language's events only
    dbs = collector_databases(list(config.analytics.sources), Path(config.root))
    last = 0
    for path in dbs:
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                (ts,) = db.execute("SELECT max(ts) FROM events WHERE coalesce(device, '') != 'bot'").fetchone()
            finally:
                db.close()
        except sqlite3.DatabaseError:
            continue
        last = max(last, ts or 0)
    if not last:
        return LoopData(measured=False)
    # The same window as the rest of the report: it ends at the newest event (inclusive).
    until = last + 1
    since = last - days * DAY_MS
    cur, prev = Period(since, until), Period(since - days * DAY_MS, since)
    for path in dbs:
        try:
            cur = _merge(cur, _read(path, since, until, lang))
            prev = _merge(prev, _read(path, since - days * DAY_MS, since, lang))
        except sqlite3.DatabaseError:
            continue
    language = str(getattr(getattr(config, "search", None), "language", "") or "en")
    arts = _Articles(library, _base_path(config))
    loop = LoopData(measured=True, days=days, current=cur, previous=prev)
    loop.failed = {
        "current": {**cur.kinds(), "total": len(cur.failed()), "searches": len(cur.searches)},
        "previous": {**prev.kinds(), "total": len(prev.failed()), "searches": len(prev.searches)},
        "contacts_after_failed_search": cur.contacts_after_failed,
        "contacts_with_query": cur.contacts_with_query,
        "window_minutes": LINK_WINDOW_MINUTES,
    }
    # Groups over both periods, so that a group keeps its name from one period to the next.
    every = cur.searches + prev.searches
    keys = {s.query.casefold(): group_key(s.query, language) for s in every}
    searched = Counter(keys[s.query.casefold()] for s in every)
    canon = _groups(sorted(searched, key=lambda k: (-searched[k], k)))

    def gid(query: str) -> tuple[str, ...]:
        return canon[keys[query.casefold()]]

    for s in cur.searches:
        for url in s.clicks:
            if (a := arts.by_url(url)) is not None:
                cur.opened.setdefault(" ".join(gid(s.query)), Counter())[a.source] += 1
    index = _open_index(config)
    try:
        loop.groups = _failed_groups(cur, prev, gid, index, top)
        loop.gaps, loop.gap_note = _gap_recheck(cur, prev, gid, index, top)
    finally:
        if index is not None:
            index.close()
    loop.todo = _todo(loop.groups, cur, prev, arts, library, config, top, today or _day(last))
    loop.top_queries = _top_queries(cur, arts, top)
    loop.weeks = _weeks(cur, since, until)
    return loop


def _open_index(config: Any) -> Any | None:
    try:
        from ..search.query import SearchIndex

        return SearchIndex(Path(config.cache_path) / "index")
    except Exception:  # no index yet (`kbgen build` not run), or one from an older kbgen
        return None


def _top_results(index: Any, query: str, n: int = 3) -> list[dict[str, str]] | None:
    if index is None:
        return None
    try:
        answer = index.search(query, limit=n, prefix=False)
    except Exception:
        return None
    return [{"title": p.best.title, "url": p.best.url, "source": p.best.source} for p in answer.pages]


def _failed_groups(cur: Period, prev: Period, gid: Any, index: Any, top: int) -> list[dict[str, Any]]:
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for period, name in ((cur, "count"), (prev, "previous")):
        for s in period.failed():
            g = rows.setdefault(
                gid(s.query),
                {"count": 0, "previous": 0, "kinds": Counter(), "queries": Counter(), "results": Counter()},
            )
            g[name] += 1
            if name == "count":
                g["kinds"][s.kind] += 1
                g["queries"][s.query] += 1
                g["results"][s.results] += 1
    out = []
    for key, g in sorted(rows.items(), key=lambda kv: (-kv[1]["count"], -kv[1]["previous"], kv[0])):
        if not g["count"]:
            continue
        example = g["queries"].most_common(1)[0][0]
        out.append(
            {
                "group": " ".join(key),
                "count": g["count"],
                "previous": g["previous"],
                "change": g["count"] - g["previous"],
                "kinds": {k: g["kinds"].get(k, 0) for k in FAILURE_KINDS},
                "queries": [q for q, _ in g["queries"].most_common(5)],
                "results_shown": max(g["results"]),  # the most results one of its searches showed
                "top_results_now": _top_results(index, example),
            }
        )
    return out[: max(top, 1) * 4]


def _gap_recheck(
    cur: Period, prev: Period, gid: Any, index: Any, top: int
) -> tuple[list[dict[str, Any]], str]:
    """The previous period's failed-search groups, asked again of the current build's index."""
    groups: dict[tuple[str, ...], Counter[str]] = {}
    for s in prev.failed():
        groups.setdefault(gid(s.query), Counter())[s.query] += 1
    if not groups:
        return [], "no failed searches in the previous period"
    if index is None:
        return [], "not measured: no search index (run `kbgen build` first)"
    out = []
    for key, queries in sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        example = queries.most_common(1)[0][0]
        found = _top_results(index, example) or []
        opened = cur.opened.get(" ".join(key), Counter())
        chosen = [r for r in found if opened.get(r["source"])]
        searched_now = sum(1 for s in cur.searches if gid(s.query) == key)
        if chosen:
            status = "closed"
        elif found and not searched_now:
            status = "unconfirmed"  # the index finds something; no customer searched it this period
        else:
            status = "still failing"
        out.append(
            {
                "group": " ".join(key),
                "query": example,
                "previous": sum(queries.values()),
                "searched_now": searched_now,
                "status": status,
                "finds": found,
                "opened": [r["source"] for r in chosen],
            }
        )
    return out[: max(top, 1) * 4], ""


def _todo(
    groups: list[dict[str, Any]],
    cur: Period,
    prev: Period,
    arts: _Articles,
    library: Any,
    config: Any,
    top: int,
    today: date,
) -> list[dict[str, Any]]:
    """One list, most customers affected first. The score is an estimate of customers who did not get
    an answer in the period: failed searches (a group's count); an article's views × its share of "No"
    votes; its contact clicks; a stale article's views × the site's share of "No" votes (10 % when
    nobody voted) — an out-of-date page fails like an average unhelpful one."""
    now = _stats_by_article(cur, arts)
    before = _stats_by_article(prev, arts)
    by_source = {a.source: a for a in getattr(library, "articles", []) or []}
    rows: list[dict[str, Any]] = []
    for g in groups:
        best = (g["top_results_now"] or [None])[0]
        rows.append(
            {
                "kind": "failed_search",
                "what": f"“{g['queries'][0]}” — {g['count']} failed searches",
                "action": "add the words to this article's keywords, or write the article"
                if best
                else "write an article",
                "source": best["source"] if best else None,
                "score": float(g["count"]),
                "value": g["count"],
                "previous": g["previous"],
                "change": g["change"],
                "detail": {"kinds": g["kinds"], "queries": g["queries"], "results_shown": g["results_shown"]},
            }
        )
    yes_all = sum(s["yes"] for s in now.values())
    no_all = sum(s["no"] for s in now.values())
    site_no = no_all / (yes_all + no_all) if yes_all + no_all else 0.1
    months = int(getattr(getattr(config, "check", None), "stale_after", 12) or 12)
    for source, s in now.items():
        a = by_source.get(source)
        if a is None:
            continue
        b = before.get(source, {"views": 0, "yes": 0, "no": 0, "contacts": 0})
        votes, votes_b = s["yes"] + s["no"], b["yes"] + b["no"]
        if s["no"]:
            rate, rate_b = s["no"] / votes, (b["no"] / votes_b if votes_b else None)
            rows.append(
                {
                    "kind": "unhelpful",
                    "what": f"{a.title} — {s['no']} of {votes} said No, {s['views']} views",
                    "action": "rewrite: customers say it did not help",
                    "source": source,
                    "score": s["views"] * rate if s["views"] else float(s["no"]),
                    "value": round(rate, 4),
                    "previous": None if rate_b is None else round(rate_b, 4),
                    "change": None if rate_b is None else round(rate - rate_b, 4),
                    "detail": {"yes": s["yes"], "no": s["no"], "views": s["views"]},
                }
            )
        if s["contacts"]:
            rate = s["contacts"] / s["views"] if s["views"] else None
            rate_b = b["contacts"] / b["views"] if b["views"] else None
            rows.append(
                {
                    "kind": "contact",
                    "what": f"{a.title} — {s['contacts']} contact clicks in {s['views']} views",
                    "action": "answer what customers still contact you about",
                    "source": source,
                    "score": float(s["contacts"]),
                    "value": None if rate is None else round(rate, 4),
                    "previous": None if rate_b is None else round(rate_b, 4),
                    "change": None if rate is None or rate_b is None else round(rate - rate_b, 4),
                    "detail": {"contacts": s["contacts"], "views": s["views"]},
                }
            )
        updated = getattr(a, "updated", None)
        if updated is not None and s["views"] and _months(updated, today) >= months:
            rows.append(
                {
                    "kind": "stale",
                    "what": f"{a.title} — not updated since {updated.isoformat()}, {s['views']} views",
                    "action": "check it is still true, then update `updated`",
                    "source": source,
                    "score": s["views"] * site_no,
                    "value": s["views"],
                    "previous": b["views"],
                    "change": s["views"] - b["views"],
                    "detail": {"updated": updated.isoformat(), "views": s["views"]},
                }
            )
    rows.sort(key=lambda r: (-r["score"], r["kind"], str(r["source"]), r["what"]))
    for i, r in enumerate(rows, 1):
        r["priority"] = i
        r["score"] = round(r["score"], 2)
    return rows[:top]


def _months(then: date, today: date) -> int:
    return (today.year - then.year) * 12 + today.month - then.month - (1 if today.day < then.day else 0)


def _top_queries(cur: Period, arts: _Articles, top: int) -> list[dict[str, Any]]:
    """The period's most frequent searches with the article customers opened most for each."""
    count: Counter[str] = Counter()
    text: dict[str, str] = {}
    chosen: dict[str, Counter[str]] = defaultdict(Counter)
    for s in cur.searches:
        k = s.query.casefold()
        count[k] += 1
        text.setdefault(k, s.query)
        for url in s.clicks:
            if (a := arts.by_url(url)) is not None:
                chosen[k][a.source] += 1
    out = []
    for k, n in count.most_common():
        if chosen[k]:
            source, clicks = chosen[k].most_common(1)[0]
            out.append({"q": text[k], "expect": [source], "searches": n, "clicks": clicks})
        if len(out) >= top:
            break
    return out


def _weeks(cur: Period, since: int, until: int) -> list[dict[str, Any]]:
    """Failed searches per ISO week, with how many of the week's days the period covers."""
    first, last = _day(since), _day(until - 1)
    by_week: dict[date, Counter[str]] = defaultdict(Counter)
    for s in cur.searches:
        by_week[week_of(_day(s.ts))][s.kind] += 1
    out = []
    w = week_of(first)
    while w <= last:
        days = sum(1 for i in range(7) if first <= w + timedelta(days=i) <= last)
        c = by_week.get(w, Counter())
        out.append(
            {
                "week": w.isoformat(),
                "days": days,
                "partial": days < 7,
                "searches": sum(c.values()),
                "failed": sum(v for k, v in c.items() if k in FAILURE_KINDS),
            }
        )
        w += timedelta(days=7)
    return out


def queries_out(loop: LoopData, path: Path) -> int:
    """Write `loop.top_queries` as `kbgen search --check` lines; returns how many."""
    import json

    from ..atomic import write_atomic

    lines = [json.dumps({"q": q["q"], "expect": q["expect"]}, ensure_ascii=False) for q in loop.top_queries]
    write_atomic(path, ("\n".join(lines) + "\n" if lines else "").encode("utf-8"))
    return len(lines)
