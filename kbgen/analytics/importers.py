"""Read what customers did back from the owner's analytics: provider exports and the collector's database.

Every reader turns one source into `Stats` keyed by page path (or article id / title), never crashing on
a bad row: it skips it, counts it and keeps the first example, which becomes one warning for the build.

Formats (as the providers write them):

- ``plausible``: the dashboard export (a ZIP, or its ``pages.csv``: ``name,visitors,pageviews,bounce_rate,
  time_on_page[,scroll_depth]``; ``visitors.csv`` ``date,visitors,pageviews,...`` gives the weekly trend),
  or the site-settings CSV export (``imported_pages_*.csv``: ``date,hostname,page,visits,visitors,
  pageviews,...``, a ZIP of them too).
- ``ga4``: a report download, e.g. *Pages and screens* (``#`` comment lines above the table, then
  ``Page path and screen class,Views,Active users,...``; a ``Date`` column gives the trend; a *Page title
  and screen class* table is matched by title); a *Search term* table (``Search term,Event count``)
  gives search terms. TSV works too.
- ``matomo``: ``Actions.getPageUrls`` JSON (``flat=1``, or hierarchical with ``expanded=1`` subtables; a
  multi-period answer keyed by date gives the trend), ``Actions.getSiteSearchKeywords`` and
  ``Actions.getSiteSearchNoResultKeywords`` JSON.
- ``umami``: the data export's ``website_event`` CSV (``url_path``, ``event_type``, ``created_at``), or a
  ``/metrics?type=url`` JSON answer (``[{"x": "/path", "y": 12}]``).
- ``csv``: any ``path,views[,date]`` table, or ``query,count[,results]`` for search terms.
- ``collector``: the SQLite database written by ``kbgen collect``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import reprlib
import sqlite3
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import Problem, display_path

__all__ = [
    "SOURCE_TYPES",
    "SourceResult",
    "Stats",
    "normalize_path",
    "read_source",
    "week_of",
]

SOURCE_TYPES = ("plausible", "ga4", "matomo", "umami", "csv", "collector")

# An export is data from outside: a small ZIP can hold gigabytes, a small JSON file can nest 100,000 deep.
# Past these limits a source (or a ZIP member) is not read, or read no further, with a warning naming it.
MAX_SOURCE_BYTES = 64 * 2**20  # one export file, or one member of a ZIP once decompressed
MAX_ZIP_BYTES = 128 * 2**20  # all the members read from one ZIP, decompressed
MAX_ROWS = 1_000_000  # rows (CSV lines, JSON items) read from one source
MAX_JSON_DEPTH = 64  # nesting of a JSON export's rows (Matomo's subtables)

_PREVIEW = reprlib.Repr()
_PREVIEW.maxstring = _PREVIEW.maxother = 80
_PREVIEW.maxlevel, _PREVIEW.maxlist, _PREVIEW.maxdict = 3, 4, 4


def _preview(value: Any) -> str:
    """A short repr of a cell or JSON value for a warning, however long or deeply nested it is."""
    return _PREVIEW.repr(value)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 2**20 else f"{n:,} bytes"

# A page key: ("path", "/orders/refunds"), ("id", "orders/refunds") or ("title", "refunds").
Key = tuple[str, str]


def week_of(day: date) -> date:
    """The Monday of `day`'s ISO week: the trend's bucket."""
    return day - timedelta(days=day.weekday())


def normalize_path(raw: str) -> str | None:
    """A page address as a comparable key: no origin, query or fragment, percent-decoding undone, no
    trailing ``index.html`` or slash, case-folded. ``None`` when there is no path at all."""
    s = raw.strip()
    if not s:
        return None
    if "://" in s or s.startswith("//"):
        s = urlsplit(s if "://" in s else "http:" + s).path or "/"
    else:
        s = s.split("#", 1)[0].split("?", 1)[0]
    s = unquote(s).strip()
    if not s.startswith("/"):
        s = "/" + s
    s = re.sub(r"/{2,}", "/", s).casefold()
    for index in ("/index.html", "/index.htm"):
        if s.endswith(index):
            s = s[: -len(index) + 1]
    return s.rstrip("/") or "/"


@dataclass
class Stats:
    """Counts from one or more sources, before they are matched to articles."""

    views: Counter[Key] = field(default_factory=Counter)
    weekly: dict[str, Counter[date]] = field(default_factory=dict)  # metric → week → count
    searches: Counter[str] = field(default_factory=Counter)  # casefolded query → searches
    no_results: Counter[str] = field(default_factory=Counter)
    search_results: dict[str, int] = field(default_factory=dict)  # query → results last shown
    query_text: dict[str, str] = field(default_factory=dict)  # casefolded → as typed
    clicks: Counter[tuple[str, Key]] = field(default_factory=Counter)  # (query, page) → clicks
    helpful: Counter[Key] = field(default_factory=Counter)
    not_helpful: Counter[Key] = field(default_factory=Counter)
    contacts: Counter[Key] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    videos: Counter[Key] = field(default_factory=Counter)
    first_day: date | None = None
    last_day: date | None = None

    def add_week(self, metric: str, day: date, count: int) -> None:
        self.weekly.setdefault(metric, Counter())[week_of(day)] += count
        self.first_day = min(self.first_day or day, day)
        self.last_day = max(self.last_day or day, day)

    def add_search(self, query: str, count: int, results: int | None = None) -> None:
        key = " ".join(query.split()).casefold()
        if not key:
            return
        self.searches[key] += count
        self.query_text.setdefault(key, " ".join(query.split()))
        if results is not None:
            self.search_results[key] = results

    def add_no_results(self, query: str, count: int) -> None:
        key = " ".join(query.split()).casefold()
        if key:
            self.no_results[key] += count
            self.query_text.setdefault(key, " ".join(query.split()))
            self.search_results[key] = 0

    def merge(self, other: Stats) -> None:
        for name in (
            "views",
            "searches",
            "no_results",
            "clicks",
            "helpful",
            "not_helpful",
            "contacts",
            "channels",
            "videos",
        ):
            getattr(self, name).update(getattr(other, name))
        for metric, weeks in other.weekly.items():
            self.weekly.setdefault(metric, Counter()).update(weeks)
        self.search_results.update(other.search_results)
        for k, v in other.query_text.items():
            self.query_text.setdefault(k, v)
        days = [d for d in (self.first_day, other.first_day) if d]
        self.first_day = min(days) if days else None
        days = [d for d in (self.last_day, other.last_day) if d]
        self.last_day = max(days) if days else None

    @property
    def has_searches(self) -> bool:
        return bool(self.searches or self.no_results)


@dataclass
class SourceResult:
    """What one configured source gave, and what it could not."""

    type: str
    path: str  # as the owner wrote it / display
    stats: Stats = field(default_factory=Stats)
    rows: int = 0  # rows read (data rows, not headers or comments)
    skipped: int = 0  # malformed rows
    first_skip: tuple[int, str] | None = None  # (line, reason) of the first malformed row
    problems: list[Problem] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)  # "pages", "searches", "trend", "feedback", ...
    rows_left: int = MAX_ROWS  # rows this source may still read (MAX_ROWS)

    def take_row(self) -> bool:
        """Count one more row read; False (and one warning) once the source has read MAX_ROWS."""
        self.rows_left -= 1
        if self.rows_left == -1:
            self.warn(f"{self.type}: more than {MAX_ROWS:,} rows: the rest of the export is not counted")
        return self.rows_left >= 0

    def skip(self, line: int, reason: str) -> None:
        self.skipped += 1
        if self.first_skip is None:
            self.first_skip = (line, reason)

    def warn(self, message: str, line: int = 0) -> None:
        self.problems.append(Problem(self.path, line, message, "warning"))

    def finish(self) -> SourceResult:
        if self.skipped and self.first_skip:
            line, reason = self.first_skip
            where = f"line {line}: " if line else ""
            self.warn(
                f"{self.type}: skipped {self.skipped} malformed row(s) of {self.rows}; "
                f"first: {where}{reason}",
                line,
            )
        return self


# -- numbers, dates, tables ---------------------------------------------------------------------------------

_GROUPED = re.compile(r"\d{1,3}(?:[,.\u00a0\u202f' ’]\d{3})+")


def parse_count(text: Any) -> int | None:
    """A non-negative whole count from an export cell ("1234", "1,234", "1.234", "12.0"); else None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if text >= 0 else None
    if isinstance(text, float):
        return int(text) if text >= 0 and text == int(text) else None
    if not isinstance(text, str):
        return None
    s = text.strip()
    if s.isdigit():
        return int(s)
    if _GROUPED.fullmatch(s):
        return int(re.sub(r"\D", "", s))
    try:
        value = float(s)
    except ValueError:
        return None
    return int(value) if value >= 0 and value == int(value) else None


def parse_day(text: str) -> date | None:
    s = text.strip()
    for fmt, n in (("%Y%m%d", 8), ("%Y-%m-%d", 10), ("%d/%m/%Y", 10), ("%m/%d/%Y", 10)):
        try:
            return datetime.strptime(s[:n], fmt).date()
        except ValueError:
            continue
    return None


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line number, cells)

    def column(self, *names: str) -> int | None:
        folded = [h.strip().strip("\ufeff").casefold() for h in self.header]
        for name in names:
            if name in folded:
                return folded.index(name)
        return None


def read_tables(text: str | bytes, name: str = "", result: SourceResult | None = None) -> list[Table]:
    """The tables of a CSV/TSV export: blocks separated by blank lines or `#` comment lines (GA4 puts
    its report title, property and date range above the table, and several tables in one file). Bytes
    are decoded as they are read (UTF-8, a BOM allowed); with `result`, at most its row budget is read."""
    head = text[:65536].decode("utf-8-sig", errors="replace") if isinstance(text, bytes) else text[:65536]
    head = head.lstrip("\ufeff")
    sample = next((ln for ln in head.splitlines() if ln.strip() and not ln.startswith("#")), "")
    delimiter = "\t" if name.endswith(".tsv") or sample.count("\t") > sample.count(",") else ","
    tables: list[Table] = []
    current: Table | None = None
    if isinstance(text, bytes):
        stream: Iterable[str] = io.TextIOWrapper(io.BytesIO(text), "utf-8-sig", errors="replace", newline="")
    else:
        stream = io.StringIO(text.lstrip("\ufeff"), newline="")
    reader = csv.reader(stream, delimiter=delimiter)
    line = 0
    while True:
        if result is not None and not result.take_row():
            break
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            line = reader.line_num
            if current is not None:
                current.rows.append((line, ["\0"]))
            continue
        start, line = line + 1, reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip("\ufeff").startswith("#"):
            current = None
            continue
        if current is None:
            current = Table(row, [])
            tables.append(current)
        else:
            current.rows.append((start, row))
    return tables


def _cell(row: list[str], index: int | None) -> str | None:
    if index is None or index >= len(row):
        return None
    return row[index]


PATH_COLUMNS = (
    "page path and screen class",
    "page path + query string",
    "page path",
    "page location",
    "page",
    "path",
    "pathname",
    "page_path",
    "url_path",
    "url",
    "page url",
    "landing page",
)
TITLE_COLUMNS = ("page title and screen class", "page title", "title")
VIEW_COLUMNS = (
    "views",
    "pageviews",
    "page views",
    "screen_page_views",
    "screenpageviews",
    "nb_hits",
    "hits",
    "nb_pageviews",
)
FALLBACK_VIEW_COLUMNS = (
    "visitors",
    "unique visitors",
    "visits",
    "users",
    "active users",
    "total users",
    "sessions",
    "count",
    "y",
)
QUERY_COLUMNS = ("search term", "search_term", "query", "search query", "term", "keyword", "search keyword")
QUERY_COUNT_COLUMNS = (
    "searches",
    "event count",
    "events",
    "count",
    "search count",
    "total searches",
    "nb_visits",
    "visits",
    "views",
    "users",
    "total users",
)
RESULT_COLUMNS = ("results", "result count", "results count", "nb_results")
DATE_COLUMNS = ("date", "day", "created_at", "timestamp")
IGNORED_LABELS = {"total", "totals", "grand total", "(not set)", "(other)", "others", "(none)"}


TIME_SERIES_COLUMNS = ("nth day", "nth week", "nth month", "nth hour", "nth minute")


def _read_table(
    table: Table, result: SourceResult, path_columns: tuple[str, ...] = PATH_COLUMNS, views: bool = True
) -> bool:
    """Read one table into `result`; False when it is not a table we know. With `views` False only the
    table's dates count (the same views are already in another table of the file)."""
    st = result.stats
    if table.column(*TIME_SERIES_COLUMNS) is not None:
        return False  # GA4's chart data ("Nth day"): the same views again, by day offset
    c_query = table.column(*QUERY_COLUMNS)
    c_path = table.column(*path_columns)
    c_title = None if c_path is not None else table.column(*TITLE_COLUMNS)
    c_views = table.column(*VIEW_COLUMNS)
    if c_views is None:
        c_views = table.column(*FALLBACK_VIEW_COLUMNS)
    c_date = table.column(*DATE_COLUMNS)
    if c_query is not None and c_path is None:
        c_count = table.column(*QUERY_COUNT_COLUMNS)
        c_results = table.column(*RESULT_COLUMNS)
        if c_count is None:
            return False
        result.kinds.add("searches")
        for line, row in table.rows:
            result.rows += 1
            query, count = _cell(row, c_query), parse_count(_cell(row, c_count) or "")
            if query is None or count is None:
                result.skip(line, f"expected a search term and a count, got {','.join(row)[:80]!r}")
                continue
            if not query.strip() or query.strip().casefold() in IGNORED_LABELS:
                continue
            results = parse_count(_cell(row, c_results) or "") if c_results is not None else None
            if results == 0:
                st.add_no_results(query, count)
            st.add_search(query, count, results)
            day = parse_day(_cell(row, c_date) or "") if c_date is not None else None
            if day:
                st.add_week("searches", day, count)
        return True
    if (c_path is None and c_title is None and c_date is None) or c_views is None:
        return False
    if c_path is not None or c_title is not None:
        result.kinds.add("pages")
    if c_date is not None:
        result.kinds.add("trend")
    label_col = c_path if c_path is not None else c_title
    for line, row in table.rows:
        result.rows += 1
        count = parse_count(_cell(row, c_views) or "")
        label = _cell(row, label_col) if label_col is not None else ""
        if count is None or label is None:
            shown = _cell(row, c_views)
            why = f"views {shown!r} is not a count" if shown is not None else "the row has too few columns"
            result.skip(line, why)
            continue
        day = None
        if c_date is not None:
            raw = _cell(row, c_date) or ""
            day = parse_day(raw)
            if day is None and raw.strip().casefold() not in IGNORED_LABELS | {""}:
                result.skip(line, f"date {raw!r} is not a date")
                continue
        if label_col is not None:
            text = label.strip()
            if not text or text.casefold() in IGNORED_LABELS:
                continue  # a totals row, GA4's "(not set)"
            if c_path is not None:
                key = normalize_path(text)
                if key is None:
                    result.skip(line, f"{text!r} is not a page path")
                    continue
                if views:
                    st.views[("path", key)] += count
            elif views:
                st.views[("title", " ".join(text.split()).casefold())] += count
        if day is not None:
            st.add_week("views", day, count)
    return True


def _has_date(table: Table) -> bool:
    return table.column(*DATE_COLUMNS) is not None


def _is_page_table(table: Table, path_columns: tuple[str, ...] = PATH_COLUMNS) -> bool:
    return table.column(*path_columns) is not None or table.column(*TITLE_COLUMNS) is not None


def _read_text_tables(text: str | bytes, name: str, result: SourceResult) -> None:
    tables = read_tables(text, name, result)
    # A file with an undated page table and a dated one holds the same views twice: count the undated
    # table, take only the trend from the dated one.
    undated = any(_is_page_table(t) and not _has_date(t) for t in tables)
    used = False
    for table in tables:
        used = _read_table(table, result, views=not (undated and _has_date(table))) or used
    if not used:
        headers = "; ".join(",".join(t.header)[:80] for t in tables[:3]) or "no table found"
        result.warn(f"{result.type}: no page or search table recognised (header: {headers})")


# -- per provider --------------------------------------------------------------------------------


def _read_member(zf: zipfile.ZipFile, member: str, budget: int, result: SourceResult) -> bytes | None:
    """One ZIP member, decompressed as a stream and no further than the limits: None (and a warning
    naming it) when it is larger, or cannot be read."""
    limit = min(MAX_SOURCE_BYTES, budget)
    what = f"{result.type}: ZIP member {member!r}"
    try:
        info = zf.getinfo(member)
        if info.file_size > limit:  # what the ZIP says; a lying header is caught by the read below
            data = None
        else:
            with zf.open(info) as fh:
                data = fh.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        result.warn(f"{what} cannot be read ({exc}): not counted")
        return None
    if data is None or len(data) > limit:
        why = (
            f"the {_mb(MAX_SOURCE_BYTES)} limit for one file"
            if limit == MAX_SOURCE_BYTES
            else f"the {_mb(MAX_ZIP_BYTES)} limit for one ZIP"
        )
        result.warn(f"{what} decompresses to more than {why}: not read (export a shorter period)")
        return None
    return data


def _read_plausible(data: bytes, name: str, result: SourceResult) -> None:
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            result.warn(f"plausible: not a readable ZIP ({exc})")
            return
        with zf:
            members = {Path(m).name.casefold(): m for m in zf.namelist() if m.casefold().endswith(".csv")}
            wanted = [
                m
                for n, m in sorted(members.items())
                if n == "pages.csv"
                or n.startswith("imported_pages")
                or n == "visitors.csv"
                or n.startswith("imported_visitors")
            ]
            if not wanted:
                result.warn("plausible: the ZIP has no pages.csv or imported_pages_*.csv")
            budget = MAX_ZIP_BYTES
            for member in wanted:
                member_data = _read_member(zf, member, budget, result)
                if member_data is None:
                    continue
                budget -= len(member_data)
                trend_only = Path(member).name.casefold().startswith(("visitors", "imported_visitors"))
                for table in read_tables(member_data, member, result):
                    if trend_only:
                        _read_table(Table(table.header, table.rows), result, path_columns=("\0",))
                    else:
                        _read_table(table, result, path_columns=("name", "page", *PATH_COLUMNS))
        return
    tables = read_tables(data, name, result)
    if not any(_read_table(t, result, path_columns=("name", "page", *PATH_COLUMNS)) for t in tables):
        result.warn(
            "plausible: expected the Top Pages export (name,visitors,pageviews,...) "
            "or imported_pages (date,hostname,page,...,pageviews)"
        )


def _load_json(data: bytes, result: SourceResult) -> Any:
    """The parsed export, or None with a warning: not JSON, or nested too deep to parse."""
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        result.warn(f"{result.type}: not JSON ({exc})")
    except RecursionError:
        result.warn(f"{result.type}: the JSON is nested too deep to read (an analytics export nests a few "
                    "levels): not counted")  # fmt: skip
    return None


def _matomo_day(key: str) -> date | None:
    return parse_day(key.split(",", 1)[0])


def _read_matomo(data: bytes, name: str, kind: str, result: SourceResult) -> None:
    payload = _load_json(data, result)
    if payload is None:
        return
    if isinstance(payload, dict) and payload.get("result") == "error":
        message = payload.get("message", "")
        shown = message[:300] if isinstance(message, str) else _preview(message)
        result.warn(f"matomo: the export is an error answer: {shown}"[:300])
        return
    periods: list[tuple[date | None, Any]]
    if isinstance(payload, dict):
        periods = [(_matomo_day(k), v) for k, v in payload.items()]
    else:
        periods = [(None, payload)]
    rows_all = [r for _, rows in periods if isinstance(rows, list) for r in rows if isinstance(r, dict)]
    if not kind:
        if any("url" in r or "subtable" in r or "idsubdatatable" in r for r in rows_all):
            kind = "pages"
        elif any("nb_pages_per_search" in r for r in rows_all):
            kind = "searches"
        elif re.search(r"no.?result", name, re.I) or any("nb_hits" not in r for r in rows_all):
            kind = "no_results"  # getSiteSearchNoResultKeywords: keywords without nb_pages_per_search
        else:
            kind = "pages"
    result.kinds.add(kind)
    st = result.stats
    counter = [0]

    def walk(rows: Any, prefix: str, day: date | None, depth: int = 0) -> None:
        if not isinstance(rows, list):
            result.skip(0, f"expected a list of rows, got {type(rows).__name__}")
            return
        if depth > MAX_JSON_DEPTH:
            result.skip(0, f"subtables nested more than {MAX_JSON_DEPTH} deep under {prefix[:80]!r}")
            return
        for row in rows:
            if not result.take_row():
                return
            counter[0] += 1
            result.rows += 1
            where = f"row {counter[0]}"
            if not isinstance(row, dict):
                result.skip(0, f"{where}: not an object")
                continue
            label = row.get("label")
            if kind == "pages":
                if isinstance(row.get("subtable"), list):
                    result.rows -= 1
                    sub = str(label or "").strip("/")
                    walk(row["subtable"], f"{prefix}/{sub}" if sub else prefix, day, depth + 1)
                    continue
                hits = parse_count(row.get("nb_hits", row.get("nb_pageviews")))
                if hits is None:
                    result.skip(0, f"{where}: nb_hits {_preview(row.get('nb_hits'))} is not a count")
                    continue
                if isinstance(row.get("url"), str) and row["url"].strip():
                    key = normalize_path(row["url"])
                elif isinstance(label, str) and label.strip():
                    if "idsubdatatable" in row:
                        result.skip(
                            0,
                            f"{where}: folder {_preview(label)} without its pages (export with flat=1 or expanded=1)",
                        )
                        continue
                    key = normalize_path(
                        label if label.startswith("/") and not prefix else f"{prefix}/{label.lstrip('/')}"
                    )
                else:
                    key = None
                if key is None:
                    result.skip(0, f"{where}: no url or label")
                    continue
                if label in ("Others", "-1"):
                    continue
                st.views[("path", key)] += hits
                if day:
                    st.add_week("views", day, hits)
            else:
                count = parse_count(row.get("nb_visits", row.get("nb_hits")))
                if not isinstance(label, str) or count is None:
                    result.skip(0, f"{where}: expected label and nb_visits")
                    continue
                if kind == "no_results":
                    st.add_no_results(label, count)
                    if day:
                        st.add_week("no_results", day, count)
                else:
                    st.add_search(label, count)
                    if day:
                        st.add_week("searches", day, count)

    for day, rows in periods:
        walk(rows, "", day)
        if result.rows_left < 0:
            break


def _read_umami(data: bytes, name: str, result: SourceResult) -> None:
    if data[:4096].decode("utf-8-sig", errors="replace").lstrip().startswith(("[", "{")):
        payload = _load_json(data, result)
        if payload is None:
            return
        rows = payload.get("data", payload) if isinstance(payload, dict) else payload
        result.kinds.add("pages")
        for i, row in enumerate(rows if isinstance(rows, list) else [], 1):
            if not result.take_row():
                break
            result.rows += 1
            if not isinstance(row, dict):
                result.skip(0, f"item {i}: not an object")
                continue
            key = normalize_path(str(row.get("x", ""))) if row.get("x") else None
            views = parse_count(row.get("y"))
            if key is None or views is None:
                result.skip(0, f"item {i}: expected x (path) and y (views), got {_preview(row)}")
                continue
            result.stats.views[("path", key)] += views
        return
    tables = read_tables(data, name, result)
    for table in tables:
        c_path, c_type = table.column("url_path"), table.column("event_type")
        if c_path is None:
            if not _read_table(table, result):
                result.warn("umami: expected the website_event export (url_path,event_type,created_at,...)")
            continue
        c_date = table.column("created_at")
        result.kinds.update(("pages", "trend") if c_date is not None else ("pages",))
        for line, row in table.rows:
            result.rows += 1
            path, etype = _cell(row, c_path), _cell(row, c_type) if c_type is not None else "1"
            if path is None or etype is None:
                result.skip(line, "the row has too few columns")
                continue
            if etype.strip() == "2":
                continue  # a custom event: its properties are in event_data, not here
            if etype.strip() != "1":
                result.skip(line, f"event_type {etype!r} is neither 1 (page view) nor 2 (event)")
                continue
            key = normalize_path(path)
            if key is None:
                result.skip(line, "empty url_path")
                continue
            day = None
            if c_date is not None:
                day = parse_day(_cell(row, c_date) or "")
                if day is None:
                    result.skip(line, f"created_at {_cell(row, c_date)!r} is not a date")
                    continue
            result.stats.views[("path", key)] += 1
            if day:
                result.stats.add_week("views", day, 1)


def _read_collector(path: Path, result: SourceResult, window_days: int, lang: str = "") -> None:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        result.warn(f"collector: cannot open the database ({exc})")
        return
    try:
        _collector_stats(db, result, window_days, lang)
    except sqlite3.DatabaseError as exc:
        result.warn(f"collector: not a kbgen collector database ({exc})")
    finally:
        db.close()


def _collector_stats(db: sqlite3.Connection, result: SourceResult, window_days: int, lang: str = "") -> None:
    st = result.stats
    (last,) = db.execute("SELECT max(ts) FROM events").fetchone()
    if last is None:
        return
    # The window ends at the newest event, so the same database always gives the same build.
    since = last - window_days * 86_400_000 if window_days > 0 else 0
    where = "ts >= ? AND coalesce(device, '') != 'bot'"
    # One language of a multilingual site (kbgen/i18n.py): its events only ("en*" also takes those sent
    # before events carried `lang`). The tag comes from [languages], checked here again before the SQL.
    if lang and re.fullmatch(r"[A-Za-z0-9-]{2,35}\*?", lang) and any(
        row[1] == "lang" for row in db.execute("PRAGMA table_info(events)")
    ):
        where += f" AND (lang = '{lang.rstrip('*')}'" + (" OR lang IS NULL)" if lang.endswith("*") else ")")
    (result.rows,) = db.execute(f"SELECT count(*) FROM events WHERE {where}", (since,)).fetchone()
    result.kinds.update(("pages", "trend", "searches", "feedback", "contacts"))

    def key(article: str | None, page: str | None) -> Key | None:
        if article:
            return ("id", article)
        norm = normalize_path(page or "")
        return ("path", norm) if norm else None

    def rows(select: str, event: str | None, group: str) -> list[tuple[Any, ...]]:
        sql = f"SELECT {select} FROM events WHERE {where}"
        params: tuple[Any, ...] = (since,)
        if event:
            sql += " AND name = ?"
            params += (event,)
        return db.execute(f"{sql} GROUP BY {group}", params).fetchall()

    for article, page, n in rows("id, page, count(*)", "page_view", "id, page"):
        if k := key(article, page):
            st.views[k] += n
    metrics = {
        "page_view": "views",
        "search": "searches",
        "search_no_results": "no_results",
        "contact_click": "contacts",
        "feedback": "feedback",
    }
    day = "date(ts / 1000, 'unixepoch')"
    for name, d, n in rows(f"name, {day}, count(*)", None, f"name, {day}"):
        parsed = parse_day(d or "")
        if name in metrics and parsed:
            st.add_week(metrics[name], parsed, n)
    # SQLite takes a bare column next to max() from the row holding the maximum: the latest result count.
    for query, n, results, _ in rows("query, count(*), results, max(seq)", "search", "query"):
        if query:
            st.add_search(query, n, results)
    for query, n in rows("query, count(*)", "search_no_results", "query"):
        if query:
            st.add_no_results(query, n)
    for query, url, n in rows("query, url, count(*)", "search_click", "query, url"):
        if query and (k := key(None, url)):
            st.clicks[(" ".join(query.split()).casefold(), k)] += n
    for article, url, helpful, n in rows("id, url, helpful, count(*)", "feedback", "id, url, helpful"):
        if k := key(article, url):
            (st.helpful if helpful == "yes" else st.not_helpful)[k] += n
    for article, url, channel, n in rows(
        "id, coalesce(url, page) AS u, channel, count(*)", "contact_click", "id, u, channel"
    ):
        if k := key(article, url):
            st.contacts[k] += n
        st.channels[channel or "other"] += n
    for article, page, n in rows("id, page, count(*)", "video_play", "id, page"):
        if k := key(article, page):
            st.videos[k] += n


# -- entry point ---------------------------------------------------------------------------------------------


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def read_source(source: Any, root: Path, window_days: int = 90) -> SourceResult:
    """Read one `[[analytics.sources]]` entry (``type``, ``path``, optional ``kind``) relative to `root`."""
    stype = str(_attr(source, "type", "") or "").strip().casefold()
    raw_path = str(_attr(source, "path", "") or "")
    kind = str(_attr(source, "kind", "") or "").strip().casefold().replace("-", "_")
    path = (root / raw_path).resolve() if raw_path else root
    result = SourceResult(stype, display_path(path, root) if raw_path else "(no path)")
    if stype not in SOURCE_TYPES:
        result.warn(f"analytics source type {stype!r} is not one of {', '.join(SOURCE_TYPES)}")
        return result
    if not raw_path or not path.is_file():
        result.warn(f"{stype}: analytics source not found: {raw_path or '(no path)'}")
        return result
    if stype == "collector":
        _read_collector(path, result, window_days, str(_attr(source, "lang", "") or ""))
        return result.finish()
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        result.warn(f"{stype}: cannot read ({exc.strerror})")
        return result
    if len(data) > MAX_SOURCE_BYTES:
        result.warn(
            f"{stype}: the file is larger than the {_mb(MAX_SOURCE_BYTES)} limit for an analytics export: "
            "not read (export a shorter period, or use the collector)"
        )
        return result
    name = path.name.casefold()
    if stype == "plausible":
        _read_plausible(data, name, result)
    elif stype == "matomo":
        _read_matomo(data, name, kind, result)
    elif stype == "umami":
        _read_umami(data, name, result)
    else:  # ga4, csv
        _read_text_tables(data, name, result)
    return result.finish()


def read_sources(sources: Iterable[Any], root: Path, window_days: int = 90) -> Iterator[SourceResult]:
    for source in sources:
        yield read_source(source, root, window_days)


def utc_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).date()
