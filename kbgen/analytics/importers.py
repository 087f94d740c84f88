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
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

from ..errors import Problem, display_path
from .events import clean_path, clean_query

__all__ = [
    "DATE_FORMATS",
    "KINDS",
    "METRICS",
    "collector_databases",
    "SOURCE_TYPES",
    "SourceResult",
    "Stats",
    "normalize_path",
    "read_source",
    "week_of",
]

SOURCE_TYPES = ("plausible", "ga4", "matomo", "umami", "csv", "collector")

# What a help centre's analytics can tell, one name each: the report shows a metric no source records as
# "not measured" (JSON: null), never as 0.
METRICS = ("views", "searches", "no_results", "result_clicks", "votes", "contacts")

# `kind` of a source (`--source matomo:no_results:file.json`, `kind = "no_results"` in kbgen.toml): what
# an export holds when its shape cannot say — a Matomo keyword list, a Plausible export filtered on one
# goal, a Plausible v1 or Umami property breakdown. Empty: recognised from the file.
KINDS = ("pages", "searches", "no_results", "result_clicks", "votes", "contacts")

# Each provider's documented date format. A date in any other format is an error naming file and line:
# 03/04/2026 is 3 April in Paris and March 4 in Chicago, and kbgen never guesses which.
DATE_FORMATS = {
    "ga4": "YYYYMMDD (GA4's CSV download)",
    "matomo": "YYYY-MM-DD, or a period: YYYY-MM-DD,YYYY-MM-DD, YYYY-MM, YYYY",
    "plausible": "YYYY-MM-DD (ISO 8601)",
    "umami": "an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DD HH:MM:SS)",
    "csv": "YYYY-MM-DD (ISO 8601) or YYYYMMDD",
    "collector": "YYYY-MM-DD",
}

# The event names analytics.js sends to every provider (GA4 gets `view_search_results` for `search`).
SEARCH_EVENTS = ("search", "view_search_results")

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
    # (query, page) → the distinct days (ISO) it was clicked on, where the source says (analytics/learn.py)
    click_days: dict[tuple[str, Key], set[str]] = field(default_factory=dict)
    click_visitors: Counter[tuple[str, Key]] = field(default_factory=Counter)  # unique visitors, if exported
    helpful: Counter[Key] = field(default_factory=Counter)
    not_helpful: Counter[Key] = field(default_factory=Counter)
    contacts: Counter[Key] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    videos: Counter[Key] = field(default_factory=Counter)
    # Totals a source knows without knowing their query or page (a Plausible goal count, a GA4 event count
    # without parameters): "searches", "no_results", "result_clicks", "helpful", "not_helpful", "contacts".
    unattributed: Counter[str] = field(default_factory=Counter)
    # The METRICS the sources record: a metric outside this set is "not measured", never 0.
    measured: set[str] = field(default_factory=set)
    first_day: date | None = None
    last_day: date | None = None

    def measure(self, *metrics: str) -> None:
        self.measured.update(metrics)

    def add_week(self, metric: str, day: date, count: int) -> None:
        self.weekly.setdefault(metric, Counter())[week_of(day)] += count
        self.first_day = min(self.first_day or day, day)
        self.last_day = max(self.last_day or day, day)

    def add_search(self, query: str, count: int, results: int | None = None) -> None:
        text = clean_query(query)
        key = text.casefold()
        if not key:
            return
        self.searches[key] += count
        self.query_text.setdefault(key, text)
        if results is not None:
            self.search_results[key] = results

    def add_no_results(self, query: str, count: int) -> None:
        text = clean_query(query)
        key = text.casefold()
        if key:
            self.no_results[key] += count
            self.query_text.setdefault(key, text)
            self.search_results[key] = 0

    def merge(self, other: Stats) -> None:
        for name in (
            "views",
            "searches",
            "no_results",
            "clicks",
            "click_visitors",
            "helpful",
            "not_helpful",
            "contacts",
            "channels",
            "videos",
            "unattributed",
        ):
            getattr(self, name).update(getattr(other, name))
        self.measured |= other.measured
        for metric, weeks in other.weekly.items():
            self.weekly.setdefault(metric, Counter()).update(weeks)
        for pair, days in other.click_days.items():
            self.click_days.setdefault(pair, set()).update(days)
        self.search_results.update(other.search_results)
        for k, v in other.query_text.items():
            self.query_text.setdefault(k, v)
        days = [d for d in (self.first_day, other.first_day) if d]
        self.first_day = min(days) if days else None
        days = [d for d in (self.last_day, other.last_day) if d]
        self.last_day = max(days) if days else None



class Refused(Exception):
    """A source that cannot be read without guessing: the whole of it is left out, with an error."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message, self.line = message, line


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
    member: str = ""  # the ZIP member being read, for messages
    failed: bool = False  # refused as a whole (an undocumented date format, a header not understood)
    refusal: Problem | None = None  # why, as an error (`problems` has it too, as the build's warning)

    @property
    def measured(self) -> set[str]:
        """The METRICS this source records (what it says nothing about is "not measured")."""
        return self.stats.measured

    def where(self, line: int = 0) -> str:
        """`file[:member]` and `line N` for a message (the Problem carries the file too)."""
        parts = [f"in {self.member}" if self.member else "", f"line {line}" if line else ""]
        return ", ".join(p for p in parts if p)

    def refuse(self, message: str, line: int = 0) -> NoReturn:
        """Stop reading: nothing of this source is counted, and the report exits non-zero."""
        raise Refused(message, line)

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
        self.problems.append(Problem(self.path, line, message, "warning", code="analytics"))

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


_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?")
_COMPACT_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})")
_MATOMO_PERIOD = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:,\d{4}-\d{2}-\d{2})?")


def _day(y: str, m: str | None, d: str | None) -> date | None:
    try:
        return date(int(y), int(m or 1), int(d or 1))
    except ValueError:
        return None


def _day_match(s: str, style: str) -> re.Match[str] | None:
    if style == "ga4":
        m = _COMPACT_DAY.fullmatch(s)
    elif style == "matomo":
        m = _MATOMO_PERIOD.fullmatch(s)
        if m and "," in s and not m.group(3):
            m = None
    elif style == "csv":
        m = _ISO_DAY.fullmatch(s) or _COMPACT_DAY.fullmatch(s)
    else:  # plausible, umami, collector: ISO 8601
        m = _ISO_DAY.fullmatch(s)
    return m


def parse_day(text: str, style: str = "csv") -> date | None:
    """A date in `style`'s documented format (see DATE_FORMATS), else None: never a guess between
    day-first and month-first."""
    m = _day_match(text.strip(), style)
    return _day(*m.groups()[:3]) if m else None


def day_or_refuse(raw: str | None, result: SourceResult, line: int = 0, what: str = "date") -> date | None:
    """`raw` as a date in the provider's documented format; else the whole source is refused with an
    error naming the file, the line and the format expected. None (the row skipped, and counted) for a
    date of the right format that is no day of the calendar (2026-13-45)."""
    style = result.type if result.type in DATE_FORMATS else "csv"
    m = _day_match((raw or "").strip(), style)
    if m is not None:
        day = _day(*m.groups()[:3])
        if day is None:
            result.skip(line, f"{what} {_preview(raw)} is not a date")
        return day
    shown = _preview(raw if raw is None else raw[:40])
    where = result.where(line)
    hint = (
        " (day-first or month-first cannot be told apart: kbgen never guesses)"
        if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", (raw or "").strip())
        else ""
    )
    result.refuse(
        f"{result.type}: {where + ': ' if where else ''}{what} {shown} is not in "
        f"{DATE_FORMATS[style]}, the format this export is documented to use{hint}: "
        "the source is not counted",
        line,
    )


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
    if isinstance(text, bytes) and text[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = text.decode("utf-16", errors="replace")  # Matomo's CSV export: UTF-16 with a BOM, for Excel
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
# Search-click breakdowns: the clicked page, the clicks and the unique visitors (Plausible / GA4 exports)
CLICK_URL_COLUMNS = ("url", "clicked url", "result url", "clicked page", "result")
CLICK_COUNT_COLUMNS = ("clicks", "events", "event count", "total events", "count")
CLICK_VISITOR_COLUMNS = ("visitors", "unique visitors", "total users", "users", "active users")
RESULT_COLUMNS = ("results", "result count", "results count", "nb_results")
DATE_COLUMNS = ("date", "day", "created_at", "timestamp")
IGNORED_LABELS = {"total", "totals", "grand total", "(not set)", "(other)", "others", "(none)"}


TIME_SERIES_COLUMNS = ("nth day", "nth week", "nth month", "nth hour", "nth minute")


# GA4 writes its column headers in the language of the user who downloads the report. The names below
# are GA4's UI names of the dimensions and metrics kbgen reads (Pages and screens, Search terms, Events and
# Explorations), per language; each maps to the English name the readers use. A GA4 table whose header is
# in none of them is refused with the header and these names quoted, never read as something else.
GA4_HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "page path and screen class": {
        "fr": ("chemin de la page et classe de l'écran",),
        "de": ("seitenpfad und bildschirmklasse",),
        "es": ("ruta de la página y clase de pantalla",),
        "it": ("percorso pagina e classe schermata",),
        "pt": ("caminho da página e classe da tela", "caminho da página e classe do ecrã"),
        "nl": ("paginapad en schermklasse",),
        "ja": ("ページパスとスクリーン クラス", "ページパスとスクリーンクラス"),
        "pl": ("ścieżka strony i klasa ekranu",),
        "sv": ("sidsökväg och skärmklass",),
        "da": ("sidesti og skærmklasse",),
        "tr": ("sayfa yolu ve ekran sınıfı",),
        "ko": ("페이지 경로 및 화면 클래스",),
        "zh": ("网页路径和屏幕类", "網頁路徑和畫面類別"),
    },
    "page title and screen class": {
        "fr": ("titre de la page et classe de l'écran",),
        "de": ("seitentitel und bildschirmklasse",),
        "es": ("título de la página y clase de pantalla",),
        "it": ("titolo pagina e classe schermata",),
        "pt": ("título da página e classe da tela", "título da página e classe do ecrã"),
        "nl": ("paginatitel en schermklasse",),
        "ja": ("ページタイトルとスクリーン クラス", "ページタイトルとスクリーンクラス"),
        "pl": ("tytuł strony i klasa ekranu",),
        "sv": ("sidrubrik och skärmklass",),
        "da": ("sidetitel og skærmklasse",),
        "tr": ("sayfa başlığı ve ekran sınıfı",),
        "ko": ("페이지 제목 및 화면 클래스",),
        "zh": ("网页标题和屏幕类", "網頁標題和畫面類別"),
    },
    "page path": {
        "fr": ("chemin de la page",),
        "de": ("seitenpfad",),
        "es": ("ruta de la página",),
        "it": ("percorso pagina",),
        "pt": ("caminho da página",),
        "nl": ("paginapad",),
        "ja": ("ページパス",),
    },
    "page title": {
        "fr": ("titre de la page",),
        "de": ("seitentitel",),
        "es": ("título de la página",),
        "it": ("titolo pagina",),
        "pt": ("título da página",),
        "nl": ("paginatitel",),
        "ja": ("ページタイトル",),
    },
    "views": {
        "fr": ("vues",),
        "de": ("aufrufe",),
        "es": ("vistas",),
        "it": ("visualizzazioni",),
        "pt": ("visualizações",),
        "nl": ("weergaven",),
        "ja": ("表示回数",),
        "pl": ("wyświetlenia",),
        "sv": ("visningar",),
        "da": ("visninger",),
        "tr": ("görüntüleme",),
        "ko": ("조회수",),
        "zh": ("浏览次数", "瀏覽"),
    },
    "event name": {
        "fr": ("nom de l'événement",),
        "de": ("ereignisname",),
        "es": ("nombre del evento",),
        "it": ("nome evento",),
        "pt": ("nome do evento",),
        "nl": ("gebeurtenisnaam",),
        "ja": ("イベント名",),
        "pl": ("nazwa zdarzenia",),
        "sv": ("händelsenamn",),
        "da": ("hændelsesnavn",),
        "tr": ("etkinlik adı",),
        "ko": ("이벤트 이름",),
        "zh": ("事件名称", "事件名稱"),
    },
    "event count": {
        "fr": ("nombre d'événements",),
        "de": ("ereignisanzahl", "anzahl der ereignisse"),
        "es": ("número de eventos", "recuento de eventos"),
        "it": ("conteggio eventi",),
        "pt": ("contagem de eventos",),
        "nl": ("aantal gebeurtenissen",),
        "ja": ("イベント数",),
        "pl": ("liczba zdarzeń",),
        "sv": ("antal händelser",),
        "da": ("antal hændelser",),
        "tr": ("etkinlik sayısı",),
        "ko": ("이벤트 수",),
        "zh": ("事件数", "事件計數"),
    },
    "search term": {
        "fr": ("terme de recherche",),
        "de": ("suchbegriff",),
        "es": ("término de búsqueda",),
        "it": ("termine di ricerca",),
        "pt": ("termo de pesquisa", "termo da pesquisa"),
        "nl": ("zoekterm",),
        "ja": ("検索キーワード", "検索語句"),
        "pl": ("wyszukiwane hasło",),
        "sv": ("sökterm",),
        "da": ("søgeterm",),
        "tr": ("arama terimi",),
        "ko": ("검색어",),
        "zh": ("搜索字词", "搜尋字詞"),
    },
    "date": {
        "fr": ("date",),
        "de": ("datum",),
        "es": ("fecha",),
        "it": ("data",),
        "pt": ("data",),
        "nl": ("datum",),
        "ja": ("日付",),
        "pl": ("data",),
        "sv": ("datum",),
        "da": ("dato",),
        "tr": ("tarih",),
        "ko": ("날짜",),
        "zh": ("日期",),
    },
    "active users": {
        "fr": ("utilisateurs actifs",),
        "de": ("aktive nutzer",),
        "es": ("usuarios activos",),
        "it": ("utenti attivi",),
        "pt": ("usuários ativos", "utilizadores ativos"),
        "nl": ("actieve gebruikers",),
        "ja": ("アクティブ ユーザー", "アクティブユーザー"),
    },
    "total users": {
        "fr": ("nombre total d'utilisateurs", "utilisateurs au total"),
        "de": ("nutzer insgesamt",),
        "es": ("total de usuarios",),
        "it": ("utenti totali",),
        "pt": ("total de usuários", "total de utilizadores"),
        "nl": ("totaal aantal gebruikers",),
        "ja": ("総ユーザー数",),
    },
}
GA4_LANGUAGES = sorted({"en", *(lang for names in GA4_HEADERS.values() for lang in names)})
_GA4_ENGLISH = {
    name.casefold(): english for english, langs in GA4_HEADERS.items() for names in langs.values() for name in names
}


def _norm_header(h: str) -> str:
    return " ".join(h.strip().strip("\ufeff").replace("\u2019", "'").split()).casefold()


def ga4_english(table: Table) -> Table:
    """The table with each GA4 header in another language replaced by its English name."""
    return Table([_GA4_ENGLISH.get(_norm_header(h), h) for h in table.header], table.rows)


# Custom dimensions carrying analytics.js's event parameters (GA4: register them with these names as
# their dimension names; Explorations and Events reports then show them as columns).
PROP_COLUMNS = {
    "query": ("query", "search term", "search_term", "search query"),
    "results": ("results",),
    "url": ("url", "link url", "link_url"),
    "helpful": ("helpful",),
    "channel": ("channel",),
}
EVENT_NAME_COLUMNS = ("event name", "event_name", "event")
EVENT_COUNT_COLUMNS = ("event count", "events", "total_conversions", "nb_events", "count", "total")

# analytics.js's event names → the metric each one counts.
EVENT_METRIC = {
    "search": "searches",
    "view_search_results": "searches",
    "search_no_results": "no_results",
    "search_click": "result_clicks",
    "feedback": "votes",
    "contact_click": "contacts",
}
KIND_EVENT = {
    "searches": "search",
    "no_results": "search_no_results",
    "result_clicks": "search_click",
    "votes": "feedback",
    "contacts": "contact_click",
}
UNSET = ("path", "(not set)")  # a click, vote or contact whose page the source does not say


def _page_key(url: str | None) -> Key | None:
    if not url or not str(url).strip() or str(url).strip().casefold() in IGNORED_LABELS:
        return None
    norm = normalize_path(clean_path(str(url).strip()[:500]))
    return ("path", norm) if norm else None


def count_event(
    st: Stats, name: str, count: int, props: dict[str, Any] | None = None, day: date | None = None
) -> bool:
    """One of analytics.js's events, `count` times, with the parameters the source kept (`query`, `url`,
    `helpful`, `channel`, `results`): per query or page when it says, else as an unattributed total.
    False for an event kbgen does not send."""
    props = {k: v for k, v in (props or {}).items() if v not in (None, "") and str(v).strip().casefold()
             not in IGNORED_LABELS}  # fmt: skip
    name = str(name).strip()
    metric = EVENT_METRIC.get(name)
    if metric is None:
        return False
    query = str(props.get("query", "") or "")
    key = _page_key(props.get("url"))
    if name in SEARCH_EVENTS:
        results = parse_count(props["results"]) if "results" in props else None
        if clean_query(query):
            st.add_search(query, count, results)
        else:
            st.unattributed["searches"] += count
    elif name == "search_no_results":
        if clean_query(query):
            st.add_no_results(query, count)
        else:
            st.unattributed["no_results"] += count
    elif name == "search_click":
        if clean_query(query):
            st.clicks[(clean_query(query).casefold(), key or UNSET)] += count
        else:
            st.unattributed["result_clicks"] += count
    elif name == "feedback":
        helpful = str(props.get("helpful", "")).strip().casefold()
        if helpful not in ("yes", "no"):
            st.unattributed["feedback"] += count  # a vote whose answer the source did not keep
            return True
        if key:
            (st.helpful if helpful == "yes" else st.not_helpful)[key] += count
        else:
            st.unattributed["helpful" if helpful == "yes" else "not_helpful"] += count
    elif name == "contact_click":
        if key:
            st.contacts[key] += count
        else:
            st.unattributed["contacts"] += count
        st.channels[clean_query(str(props.get("channel") or ""))[:30] or "other"] += count
    if day is not None:
        st.add_week({"votes": "feedback", "result_clicks": "clicks"}.get(metric, metric), day, count)
    return True


def measure_events(st: Stats, names: Iterable[str] | None = None, props: Iterable[str] = ()) -> None:
    """What an event report measures: every event metric (or only those of `names`, a report filtered on
    some events); votes only when it keeps the `helpful` answer."""
    metrics = {EVENT_METRIC[n] for n in names if n in EVENT_METRIC} if names is not None else set(
        EVENT_METRIC.values()
    )
    if "helpful" not in set(props):
        metrics.discard("votes")
    st.measure(*metrics)


def _read_event_table(table: Table, result: SourceResult) -> bool:
    """An events report (GA4 Events / Exploration, Plausible conversions): event name, count and any
    parameter columns."""
    c_name = table.column(*EVENT_NAME_COLUMNS)
    c_count = table.column(*EVENT_COUNT_COLUMNS)
    if c_name is None or c_count is None:
        return False
    c_date = table.column(*DATE_COLUMNS)
    c_props = {p: table.column(*names) for p, names in PROP_COLUMNS.items()}
    c_props = {p: c for p, c in c_props.items() if c is not None}
    measure_events(result.stats, None, c_props)
    result.kinds.add("events")
    for line, row in table.rows:
        result.rows += 1
        name, count = _cell(row, c_name), parse_count(_cell(row, c_count) or "")
        if name is None or count is None:
            result.skip(line, f"expected an event name and a count, got {_preview(','.join(row))}")
            continue
        day = None
        if c_date is not None:
            raw = _cell(row, c_date) or ""
            if raw.strip().casefold() not in IGNORED_LABELS | {""}:
                day = day_or_refuse(raw, result, line)
                if day is None:
                    continue
        count_event(result.stats, name, count, {p: _cell(row, c) for p, c in c_props.items()}, day)
    return True


def _read_table(
    table: Table, result: SourceResult, path_columns: tuple[str, ...] = PATH_COLUMNS, views: bool = True
) -> bool:
    """Read one table into `result`; False when it is not a table we know. With `views` False only the
    table's dates count (the same views are already in another table of the file)."""
    st = result.stats
    if table.column(*TIME_SERIES_COLUMNS) is not None:
        return False  # GA4's chart data ("Nth day"): the same views again, by day offset
    if table.column(*EVENT_NAME_COLUMNS) is not None:
        return _read_event_table(table, result)
    c_query = table.column(*QUERY_COLUMNS)
    c_path = table.column(*path_columns)
    c_title = None if c_path is not None else table.column(*TITLE_COLUMNS)
    c_views = table.column(*VIEW_COLUMNS)
    if c_views is None:
        c_views = table.column(*FALLBACK_VIEW_COLUMNS)
    c_date = table.column(*DATE_COLUMNS)
    if c_query is not None and (c_path is not None or table.column(*CLICK_URL_COLUMNS) is not None):
        return _read_click_table(table, result, c_query, c_date)
    if c_query is not None and c_path is None:
        c_count = table.column(*QUERY_COUNT_COLUMNS)
        c_results = table.column(*RESULT_COLUMNS)
        if c_count is None:
            return False
        result.kinds.add("searches")
        st.measure("searches")
        if c_results is not None:
            st.measure("no_results")  # a results column says which searches found nothing
        for line, row in table.rows:
            result.rows += 1
            query, count = _cell(row, c_query), parse_count(_cell(row, c_count) or "")
            if query is None or count is None:
                result.skip(line, f"expected a search term and a count, got {_preview(','.join(row))}")
                continue
            if not query.strip() or query.strip().casefold() in IGNORED_LABELS:
                continue
            results = parse_count(_cell(row, c_results) or "") if c_results is not None else None
            raw = _cell(row, c_date) if c_date is not None else None
            day = None
            if raw and raw.strip().casefold() not in IGNORED_LABELS:
                if (day := day_or_refuse(raw, result, line)) is None:
                    continue
            if results == 0:
                st.add_no_results(query, count)
            st.add_search(query, count, results)
            if day is not None:
                st.add_week("searches", day, count)
        return True
    if (c_path is None and c_title is None and c_date is None) or c_views is None:
        return False
    if c_path is not None or c_title is not None:
        result.kinds.add("pages")
        st.measure("views")
    if c_date is not None:
        result.kinds.add("trend")
    label_col = c_path if c_path is not None else c_title
    for line, row in table.rows:
        result.rows += 1
        count = parse_count(_cell(row, c_views) or "")
        label = _cell(row, label_col) if label_col is not None else ""
        if count is None or label is None:
            shown = _cell(row, c_views)
            why = f"views {_preview(shown)} is not a count" if shown is not None else "the row has too few columns"
            result.skip(line, why)
            continue
        day = None
        if c_date is not None:
            raw = _cell(row, c_date) or ""
            if raw.strip().casefold() not in IGNORED_LABELS | {""}:
                day = day_or_refuse(raw, result, line)
                if day is None:
                    continue
        if label_col is not None:
            text = label.strip()
            if not text or text.casefold() in IGNORED_LABELS:
                continue  # a totals row, GA4's "(not set)"
            if c_path is not None:
                key = normalize_path(clean_path(text[:500]))
                if key is None:
                    result.skip(line, f"{_preview(text)} is not a page path")
                    continue
                if views:
                    st.views[("path", key)] += count
            elif views:
                st.views[("title", " ".join(text.split()).casefold()[:300])] += count
        if day is not None:
            st.add_week("views", day, count)
    return True


def _read_click_table(table: Table, result: SourceResult, c_query: int, c_date: int | None) -> bool:
    """A search term with the page it led to (a provider's `search_click` events broken down by their
    `query` and `url` properties): clicks, and the evidence of distinct customers that learning needs
    (kbgen/analytics/learn.py): the row's date, or a unique-visitors column."""
    st = result.stats
    c_url = table.column(*CLICK_URL_COLUMNS, *PATH_COLUMNS)
    c_count = table.column(*CLICK_COUNT_COLUMNS)
    c_visitors = table.column(*CLICK_VISITOR_COLUMNS)
    if c_count is None:
        c_count = c_visitors
    if c_url is None or c_count is None:
        return False
    result.kinds.add("searches")
    for line, row in table.rows:
        result.rows += 1
        query, url = _cell(row, c_query), _cell(row, c_url)
        count = parse_count(_cell(row, c_count) or "")
        if query is None or url is None or count is None:
            result.skip(line, f"expected a search term, a page and a count, got {','.join(row)[:80]!r}")
            continue
        key = " ".join(query.split()).casefold()
        path = normalize_path(url.strip())
        if not key or key in IGNORED_LABELS or path is None:
            continue
        pair = (key, ("path", path))
        st.clicks[pair] += count
        day = parse_day(_cell(row, c_date) or "") if c_date is not None else None
        if day:
            st.click_days.setdefault(pair, set()).add(day.isoformat())
        visitors = parse_count(_cell(row, c_visitors) or "") if c_visitors is not None else None
        if visitors:
            st.click_visitors[pair] += visitors
    return True


def _has_date(table: Table) -> bool:
    return table.column(*DATE_COLUMNS) is not None


def _is_page_table(table: Table, path_columns: tuple[str, ...] = PATH_COLUMNS) -> bool:
    return table.column(*path_columns) is not None or table.column(*TITLE_COLUMNS) is not None


GA4_EXPECTED = (
    "a GA4 report download with 'Page path and screen class' or 'Page title and screen class' and 'Views' "
    "(Pages and screens), 'Search term' and 'Event count' (Search terms), or 'Event name' and 'Event count' "
    f"(Events, Explorations), with headers in one of: {', '.join(GA4_LANGUAGES)}"
)


def _read_text_tables(text: str | bytes, name: str, result: SourceResult) -> None:
    tables = read_tables(text, name, result)
    if result.type == "ga4":
        tables = [ga4_english(t) for t in tables]
    # A file with an undated page table and a dated one holds the same views twice: count the undated
    # table, take only the trend from the dated one.
    undated = any(_is_page_table(t) and not _has_date(t) for t in tables)
    used = False
    for table in tables:
        used = _read_table(table, result, views=not (undated and _has_date(table))) or used
    if not used:
        header = ",".join(tables[0].header)[:200] if tables else ""
        what = f"header {_preview(header)} not recognised" if tables else "no table found"
        expected = GA4_EXPECTED if result.type == "ga4" else (
            "a table with path and views columns (optionally date), or query and count (optionally results)"
        )
        result.refuse(f"{result.type}: {what}: expected {expected}", _first_line(text))


def _first_line(text: str | bytes) -> int:
    """The line of a file's first table header (after GA4's `#` comment lines)."""
    head = text[:65536].decode("utf-8", "replace") if isinstance(text, bytes) else text[:65536]
    for i, line in enumerate(head.splitlines(), 1):
        if line.strip() and not line.lstrip("\ufeff").startswith("#"):
            return i
    return 0


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


def _zip_members(data: bytes, result: SourceResult) -> Iterator[tuple[str, bytes]]:
    """(base name casefolded, bytes) of each CSV member of a ZIP export, within the limits."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        result.warn(f"{result.type}: not a readable ZIP ({exc})")
        return
    with zf:
        budget = MAX_ZIP_BYTES
        for member in sorted(m for m in zf.namelist() if m.casefold().endswith(".csv")):
            member_data = _read_member(zf, member, budget, result)
            if member_data is None:
                continue
            budget -= len(member_data)
            result.member = member[:120]
            yield Path(member).name.casefold(), member_data
        result.member = ""


def _dict_rows(table: Table) -> list[tuple[int, dict[str, str]]]:
    head = [_norm_header(h) for h in table.header]
    return [(line, dict(zip(head, row, strict=False))) for line, row in table.rows]


def _plausible_props(data: bytes, name: str, kind: str, result: SourceResult) -> set[str]:
    """custom_props.csv (property,value,visitors,events,…): each property's values over the export's events.
    Unfiltered, `helpful` (only `feedback` has it) gives the votes and `channel` the contact channels; an
    export filtered on one goal (its kind) gives that goal's values per query or page. Returns the events
    counted here (their totals in conversions.csv are then not counted again)."""
    event = KIND_EVENT.get(kind) or (kind if kind in EVENT_METRIC else None)
    counted: set[str] = set()
    for table in read_tables(data, name, result):
        for line, row in _dict_rows(table):
            result.rows += 1
            # property,value,visitors,events,percentage (older exports: prop,name,…,total_conversions)
            prop, value = row.get("property", row.get("prop", "")), row.get("value", row.get("name", ""))
            count = parse_count(row.get("events", row.get("total_conversions", row.get("visitors", ""))))
            if not prop or count is None:
                result.skip(line, f"expected property, value and events, got {_preview(row)}")
                continue
            if event:
                count_event(result.stats, event, count, {prop: value})
                counted.add(event)
            elif prop == "helpful":
                count_event(result.stats, "feedback", count, {"helpful": value})
                result.stats.measure("votes")
            elif prop == "channel":
                result.stats.channels[value.strip()[:30] or "other"] += count
    if event:
        measure_events(result.stats, [event], ["helpful"] if event == "feedback" else ())
    return counted


def _read_plausible(data: bytes, name: str, kind: str, result: SourceResult) -> None:
    if zipfile.is_zipfile(io.BytesIO(data)):
        members = list(_zip_members(data, result))
        if not members and result.problems:
            return  # members too large or unreadable: already a warning each
        names = [n for n, _ in members]
        known = ("pages.csv", "visitors.csv", "conversions.csv", "custom_props.csv")
        if not any(n in known or n.startswith(("imported_pages", "imported_visitors", "imported_custom_events"))
                   for n in names):  # fmt: skip
            result.refuse(
                "plausible: the ZIP has none of pages.csv, visitors.csv, conversions.csv, custom_props.csv "
                f"or imported_pages_*.csv (it has {_preview(names)})"
            )
        counted: set[str] = set()
        goal = kind
        if not kind and "custom_props.csv" in names and "conversions.csv" in names:
            # An export of the dashboard filtered on one goal: custom_props.csv then has conversion_rate
            # instead of percentage, and conversions.csv that one goal.
            props_csv, conv_csv = (dict(members)[n] for n in ("custom_props.csv", "conversions.csv"))
            props_head = read_tables(props_csv[:4096], "custom_props.csv")
            goals = [r.get("name", "") for t in read_tables(conv_csv, "conversions.csv") for _, r in _dict_rows(t)]
            if props_head and "conversion_rate" in [_norm_header(h) for h in props_head[0].header] and len(goals) == 1:
                goal = goals[0]
        for member, member_data in members:  # custom_props first: its per-query rows replace the totals
            if member == "custom_props.csv":
                result.member = member
                counted |= _plausible_props(member_data, member, goal, result)
        for member, member_data in members:
            result.member = member
            if member in ("conversions.csv",) or member.startswith("imported_custom_events"):
                _plausible_events(member_data, member, counted, result)
            elif member == "visitors.csv" or member.startswith("imported_visitors"):
                for table in read_tables(member_data, member, result):
                    _read_table(table, result, path_columns=("\0",))
            elif member == "pages.csv" or member.startswith("imported_pages"):
                for table in read_tables(member_data, member, result):
                    _read_table(table, result, path_columns=("name", "page", *PATH_COLUMNS))
        result.member = ""
        return
    if data[:4096].decode("utf-8-sig", errors="replace").lstrip().startswith(("[", "{")):
        payload = _load_json(data, result)
        if payload is not None:
            _read_plausible_api(payload, kind, result)
        return
    if name == "custom_props.csv":
        _plausible_props(data, name, kind, result)
        return
    if name == "conversions.csv" or name.startswith("imported_custom_events"):
        _plausible_events(data, name, set(), result)
        return
    tables = read_tables(data, name, result)
    if not any(_read_table(t, result, path_columns=("name", "page", *PATH_COLUMNS)) for t in tables):
        result.refuse(
            "plausible: expected the dashboard export's pages.csv (name,visitors,pageviews,...), "
            "conversions.csv, custom_props.csv, or imported_pages (date,hostname,page,...,pageviews)",
            _first_line(data),
        )


def _plausible_events(data: bytes, name: str, counted: set[str], result: SourceResult) -> None:
    """conversions.csv (name,unique_conversions,total_conversions) or imported_custom_events_*.csv
    (date,name,link_url,path,visitors,events): goal totals (no properties). Plausible shows only the
    events configured as goals: a metric whose goal is not in the file is not measured (not 0)."""
    result.kinds.add("events")
    tables = read_tables(data, name, result)
    rows = [lr for t in tables for lr in _dict_rows(t)]
    measure_events(result.stats, {r.get("name", "") for _, r in rows})
    for line, row in rows:
        result.rows += 1
        goal = row.get("name", "")
        count = parse_count(row.get("total_conversions", row.get("events", "")))
        if not goal or count is None:
            result.skip(line, f"expected a goal name and its total, got {_preview(row)}")
            continue
        if goal in counted:
            continue
        day = day_or_refuse(row["date"], result, line) if row.get("date") else None
        if row.get("date") and day is None:
            continue
        count_event(result.stats, goal, count, {}, day)


def _v2_goal_filter(filters: Any) -> list[str] | None:
    """The goals a Stats API v2 query was filtered on: `["is", "event:goal", ["search"]]`."""
    if not isinstance(filters, list):
        return None
    for f in filters:
        if isinstance(f, list) and len(f) >= 3 and f[0] == "is" and f[1] == "event:goal" and isinstance(f[2], list):
            return [str(g) for g in f[2]]
    return None


def _read_plausible_api(payload: Any, kind: str, result: SourceResult) -> None:
    """The Stats API's JSON: v2 (`POST /api/v2/query`: results of dimensions + metrics, with the query
    echoed) or v1 (`/api/v1/stats/breakdown` and `/timeseries`: `{"results": [{"goal"|"page"|"date"|prop:
    …, "visitors": …, "events": …}]}`)."""
    st = result.stats
    rows = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        result.refuse("plausible: expected a Stats API answer ({\"results\": [...]})")
    query = payload.get("query")
    if isinstance(query, dict) and isinstance(query.get("dimensions"), list):
        dims = [str(d) for d in query["dimensions"]]
        mets = [str(m) for m in query.get("metrics") or []]
        goals = _v2_goal_filter(query.get("filters"))
        props = [d[len("event:props:"):] for d in dims if d.startswith("event:props:")]
        if "event:goal" in dims:
            measure_events(st, None, props)
        elif goals is not None:
            measure_events(st, goals, props)
        if "event:page" in dims and "pageviews" in mets:
            st.measure("views")
        for i, row in enumerate(rows, 1):
            if not result.take_row():
                break
            result.rows += 1
            if not isinstance(row, dict) or not isinstance(row.get("dimensions"), list):
                result.skip(0, f"result {i}: expected dimensions and metrics, got {_preview(row)}")
                continue
            d = dict(zip(dims, row["dimensions"], strict=False))
            m = dict(zip(mets, row.get("metrics") or [], strict=False))
            raw_day = d.get("time:day", d.get("time"))
            day = day_or_refuse(str(raw_day), result, 0, f"result {i}: date") if raw_day is not None else None
            if raw_day is not None and day is None:
                continue
            p = {k[len("event:props:"):]: v for k, v in d.items() if k.startswith("event:props:")}
            goal = d.get("event:goal") or (goals[0] if goals and len(goals) == 1 else None)
            if goal:
                count = parse_count(m.get("events", m.get("visitors")))
                if count is None:
                    result.skip(0, f"result {i}: no events count")
                    continue
                count_event(st, str(goal), count, p, day)
            elif "pageviews" in m:
                count = parse_count(m["pageviews"])
                if count is None:
                    result.skip(0, f"result {i}: pageviews {_preview(m['pageviews'])} is not a count")
                    continue
                if "event:page" in d:
                    if key := _page_key(str(d["event:page"])):
                        st.views[key] += count
                if day is not None:
                    st.add_week("views", day, count)
        return
    # v1: the breakdown's property is the row key besides the metrics.
    metric_keys = {"visitors", "events", "pageviews", "visits", "bounce_rate", "visit_duration",
                   "conversion_rate", "views_per_visit", "time_on_page", "scroll_depth", "percentage"}  # fmt: skip
    for i, row in enumerate(rows, 1):
        if not result.take_row():
            break
        result.rows += 1
        if not isinstance(row, dict):
            result.skip(0, f"result {i}: not an object")
            continue
        dim = next((k for k in row if k not in metric_keys), None)
        value = row.get(dim) if dim else None
        if dim == "goal":
            st.measure(*(m for m in EVENT_METRIC.values() if m != "votes"))
            count = parse_count(row.get("events", row.get("visitors")))
            if count is not None:
                count_event(st, str(value), count, {})
        elif dim == "page":
            st.measure("views")
            count = parse_count(row.get("pageviews", row.get("visitors")))
            if count is not None and (key := _page_key(str(value))):
                st.views[key] += count
        elif dim == "date":
            count = parse_count(row.get("pageviews"))
            if count is not None:
                if (day := day_or_refuse(str(value), result, 0, f"result {i}: date")) is not None:
                    st.add_week("views", day, count)
        elif dim:
            event = KIND_EVENT.get(kind)
            if event is None:
                result.refuse(
                    f"plausible: a Stats API v1 breakdown by property {_preview(dim)} does not say which goal "
                    "it was filtered on: name it with the source's kind, e.g. "
                    f"--source plausible:no_results:FILE (kinds: {', '.join(KIND_EVENT)})"
                )
            measure_events(st, [event], [dim])
            count = parse_count(row.get("events", row.get("visitors")))
            if count is not None:
                count_event(st, event, count, {dim: value})


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


def _matomo_report(rows: list[dict[str, Any]], kind: str) -> str | None:
    """Which Reporting API report `rows` come from, by the columns Matomo documents for each."""
    if kind in ("pages", "searches", "no_results"):
        return kind
    if any("nb_events" in r or "sum_event_value" in r for r in rows):
        return "events"  # Events.getCategory / getAction / getName
    if any("nb_pages_per_search" in r or "nb_hits_following_search" in r for r in rows):
        return "searches"  # Actions.getSiteSearchKeywords: searches that led to result pages
    if any(str(r.get("segment", "")).startswith("siteSearchKeyword==") for r in rows):
        return "no_results"  # Actions.getSiteSearchNoResultKeywords: the same segment, no result pages
    if any(k in r for r in rows for k in ("url", "subtable", "idsubdatatable", "nb_hits", "sum_time_spent")):
        return "pages"  # Actions.getPageUrls
    return None


def _is_address(text: str) -> bool:
    return text.startswith("/") or text.startswith(("http://", "https://"))


def _matomo_events(rows: list[Any], result: SourceResult, day: date | None) -> None:
    """Events.getCategory (expanded=1 or flat=1, secondary dimension the action or the name) and
    Events.getName / getAction with the category as secondary dimension. analytics.js sends
    trackEvent(category = the event's name, action = helpful | channel | query, name = the page URL)."""
    st = result.stats
    pairs: list[tuple[str, str | None, int, str]] = []  # (first label, second label, count, where)
    for i, row in enumerate(rows, 1):
        if not result.take_row():
            return
        result.rows += 1
        if not isinstance(row, dict) or not isinstance(row.get("label"), str):
            result.skip(0, f"row {i}: expected an event row with a label, got {_preview(row)}")
            continue
        label = row["label"]
        if isinstance(row.get("subtable"), list):
            for sub in row["subtable"][:MAX_ROWS]:
                count = parse_count(sub.get("nb_events")) if isinstance(sub, dict) else None
                if count is None or not isinstance(sub.get("label"), str):
                    result.skip(0, f"row {i}: a subtable row without label and nb_events")
                    continue
                pairs.append((label, sub["label"], count, f"row {i}"))
            continue
        count = parse_count(row.get("nb_events"))
        if count is None:
            result.skip(0, f"row {i}: nb_events {_preview(row.get('nb_events'))} is not a count")
            continue
        first, sep, second = label.partition(" - ")  # flat=1 joins the two dimensions with " - "
        if sep and first not in EVENT_METRIC and second.rpartition(" - ")[2] in EVENT_METRIC:
            first, second = label.rpartition(" - ")[0], label.rpartition(" - ")[2]
        pairs.append((first, second if sep else None, count, f"row {i}"))
    secondary_action = True
    for first, second, count, _ in pairs:
        if first in EVENT_METRIC:
            name, other = first, second
        elif second in EVENT_METRIC:
            name, other = second, first
        else:
            continue  # another site's events, or one kbgen does not send
        props: dict[str, Any] = {}
        if other:
            if _is_address(other):
                props["url"] = other
                secondary_action = False
            else:
                props[{"feedback": "helpful", "contact_click": "channel"}.get(name, "query")] = other
        count_event(st, name, count, props, day)
    # Site search goes through trackSiteSearch (the Actions.getSiteSearch* reports), not events.
    measure_events(st, ["search_click", "feedback", "contact_click"], ["helpful"] if secondary_action else ())


def _matomo_csv_rows(data: bytes, name: str, result: SourceResult) -> list[tuple[date | None, Any]]:
    """Matomo's CSV export (format=CSV: UTF-16 with a BOM, flat rows; a multi-period export has a first
    `date` column with Matomo's period strings) as JSON-like rows per period."""
    periods: dict[date | None, list[dict[str, Any]]] = {}
    for table in read_tables(data, name, result):
        for line, row in _dict_rows(table):
            raw_day = row.pop("date", None)
            day = day_or_refuse(raw_day, result, line) if raw_day else None
            if raw_day and day is None:
                continue
            periods.setdefault(day, []).append(row)
    return list(periods.items())


def _read_matomo(data: bytes, name: str, kind: str, result: SourceResult) -> None:
    is_json = data[:4096].decode("utf-8-sig", errors="replace").lstrip().startswith(("[", "{"))
    periods: list[tuple[date | None, Any]]
    if is_json:
        payload = _load_json(data, result)
        if payload is None:
            return
        if isinstance(payload, dict) and payload.get("result") == "error":
            message = payload.get("message", "")
            shown = message[:300] if isinstance(message, str) else _preview(message)
            result.warn(f"matomo: the export is an error answer: {shown}"[:300])
            return
        if isinstance(payload, dict):
            periods = [(day_or_refuse(str(k), result, 0, "period"), v) for k, v in payload.items()]
        else:
            periods = [(None, payload)]
    else:
        periods = _matomo_csv_rows(data, name, result)
    rows_all = [r for _, rows in periods if isinstance(rows, list) for r in rows if isinstance(r, dict)]
    report = _matomo_report(rows_all, kind)
    if report is None:
        if not rows_all:
            return  # an empty answer: nothing happened in the period
        cols = sorted({k for r in rows_all[:50] for k in r})[:12]
        result.refuse(
            f"matomo: columns {_preview(', '.join(cols))} are not those of a report kbgen reads: expected "
            "Actions.getPageUrls (nb_hits, url), Actions.getSiteSearchKeywords (nb_pages_per_search), "
            "Actions.getSiteSearchNoResultKeywords (segment siteSearchKeyword==…) or Events.getCategory / "
            "getName (nb_events)"
        )
    kind = report
    st = result.stats
    result.kinds.add(kind)
    st.measure({"pages": "views", "searches": "searches", "no_results": "no_results"}.get(kind, "views"))
    if kind == "events":
        st.measured.discard("views")
        for day, rows in periods:
            _matomo_events(rows if isinstance(rows, list) else [], result, day)
        return
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
                    key = normalize_path(clean_path(row["url"][:500]))
                elif isinstance(label, str) and label.strip():
                    if "idsubdatatable" in row and is_json:
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


def _umami_event_data(data: bytes, name: str, result: SourceResult) -> dict[str, dict[str, str]]:
    """event_data.csv (website_event_id or event_id, data_key, string_value, number_value, …): each
    event's properties."""
    props: dict[str, dict[str, str]] = {}
    for table in read_tables(data, name, result):
        for line, row in _dict_rows(table):
            eid = row.get("website_event_id") or row.get("event_id")
            key = row.get("data_key")
            if not eid or not key:
                result.skip(line, "an event_data row without event id or data_key")
                continue
            value = row.get("string_value") or row.get("number_value") or ""
            if len(props) < MAX_ROWS:
                props.setdefault(eid, {})[key[:50]] = value[:500]
    return props


def _umami_website_events(
    data: bytes, name: str, props: dict[str, dict[str, str]] | None, result: SourceResult
) -> bool:
    tables = read_tables(data, name, result)
    found = False
    for table in tables:
        c_path, c_type = table.column("url_path"), table.column("event_type")
        if c_path is None:
            continue
        found = True
        c_date, c_name, c_id = table.column("created_at"), table.column("event_name"), table.column("event_id")
        result.kinds.update(("pages", "trend") if c_date is not None else ("pages",))
        result.stats.measure("views")
        if c_name is not None:
            measure_events(result.stats, None, ["helpful"] if props is not None else ())
        for line, row in table.rows:
            result.rows += 1
            path, etype = _cell(row, c_path), _cell(row, c_type) if c_type is not None else "1"
            if path is None or etype is None:
                result.skip(line, "the row has too few columns")
                continue
            day = day_or_refuse(_cell(row, c_date), result, line, "created_at") if c_date is not None else None
            if c_date is not None and day is None:
                continue
            if etype.strip() == "2":
                event = (_cell(row, c_name) or "").strip()
                p = (props or {}).get(_cell(row, c_id) or "", {}) if c_id is not None else {}
                count_event(result.stats, event, 1, p, day)
                continue
            if etype.strip() != "1":
                result.skip(line, f"event_type {_preview(etype)} is neither 1 (page view) nor 2 (event)")
                continue
            key = normalize_path(clean_path(path[:500]))
            if key is None:
                result.skip(line, "empty url_path")
                continue
            result.stats.views[("path", key)] += 1
            if day:
                result.stats.add_week("views", day, 1)
    return found


def _umami_metrics(rows: list[Any], result: SourceResult) -> None:
    """`/metrics?type=url|path` ([{"x": "/path", "y": 12}]) or `/metrics?type=event` ([{"x": "search", …}])."""
    pages = any(isinstance(r, dict) and isinstance(r.get("x"), str) and _is_address(r["x"]) for r in rows)
    result.kinds.add("pages" if pages else "events")
    result.stats.measure("views") if pages else measure_events(result.stats)
    for i, row in enumerate(rows, 1):
        if not result.take_row():
            break
        result.rows += 1
        if not isinstance(row, dict):
            result.skip(0, f"item {i}: not an object")
            continue
        count = parse_count(row.get("y"))
        if not row.get("x") or count is None:
            result.skip(0, f"item {i}: expected x and y (a count), got {_preview(row)}")
            continue
        if pages:
            if key := _page_key(str(row["x"])):
                result.stats.views[key] += count
        else:
            count_event(result.stats, str(row["x"]), count, {})


def _read_umami(data: bytes, name: str, kind: str, result: SourceResult) -> None:
    if zipfile.is_zipfile(io.BytesIO(data)):
        members = dict(_zip_members(data, result))
        if "website_event.csv" in members:
            props = None
            if "event_data.csv" in members:
                result.member = "event_data.csv"
                props = _umami_event_data(members["event_data.csv"], "event_data.csv", result)
            result.member = "website_event.csv"
            _umami_website_events(members["website_event.csv"], "website_event.csv", props, result)
        elif "pages.csv" in members or "events.csv" in members:
            # The website's "Export" (Settings → Data): pages.csv and events.csv as x,y metrics.
            for member in ("pages.csv", "events.csv"):
                if member in members:
                    result.member = member
                    for table in read_tables(members[member], member, result):
                        _umami_metrics([dict(r) for _, r in _dict_rows(table)], result)
        else:
            result.refuse(f"umami: the ZIP has no website_event.csv (nor pages.csv / events.csv): {_preview(list(members))}")
        result.member = ""
        return
    if data[:4096].decode("utf-8-sig", errors="replace").lstrip().startswith(("[", "{")):
        payload = _load_json(data, result)
        if payload is None:
            return
        rows = payload.get("data", payload) if isinstance(payload, dict) else payload
        if not isinstance(rows, list):
            result.refuse("umami: expected an API answer: a list, or {\"data\": [...]}")
        dict_rows = [r for r in rows if isinstance(r, dict)]
        if dict_rows and all("eventType" in r or "urlPath" in r for r in dict_rows):
            _umami_api_events(rows, result)
        elif dict_rows and all("value" in r and "total" in r for r in dict_rows):
            event = KIND_EVENT.get(kind)
            if event is None:
                result.refuse(
                    "umami: an /event-data/values answer does not say which event and property it counts: "
                    f"name it with the source's kind, e.g. --source umami:no_results:FILE (kinds: {', '.join(KIND_EVENT)})"
                )
            prop = {"feedback": "helpful", "contact_click": "channel"}.get(event, "query")
            measure_events(result.stats, [event], [prop])
            for i, row in enumerate(dict_rows, 1):
                result.rows += 1
                count = parse_count(row.get("total"))
                if count is None:
                    result.skip(0, f"item {i}: total {_preview(row.get('total'))} is not a count")
                    continue
                count_event(result.stats, event, count, {prop: str(row.get("value", ""))})
        else:
            _umami_metrics(rows, result)
        return
    if not _umami_website_events(data, name, None, result):
        tables = read_tables(data, name, result)
        if not any(_read_table(t, result) for t in tables):
            result.refuse(
                "umami: expected the data export's website_event.csv (url_path,event_type,created_at,...)",
                _first_line(data),
            )


def _umami_api_events(rows: list[Any], result: SourceResult) -> None:
    """`GET /api/websites/:id/events` ({"data": [{"urlPath", "eventType", "eventName", "createdAt"}]}):
    page views and event totals (this answer has no event data)."""
    st = result.stats
    st.measure("views")
    measure_events(st)
    result.kinds.update(("pages", "trend"))
    for i, row in enumerate(rows, 1):
        if not result.take_row():
            break
        result.rows += 1
        if not isinstance(row, dict):
            result.skip(0, f"item {i}: not an object")
            continue
        raw = row.get("createdAt")
        day = day_or_refuse(str(raw), result, 0, f"item {i}: createdAt") if raw is not None else None
        if raw is not None and day is None:
            continue
        if str(row.get("eventType")) == "2":
            count_event(st, str(row.get("eventName") or ""), 1, {}, day)
        elif key := _page_key(str(row.get("urlPath") or "")):
            st.views[key] += 1
            if day:
                st.add_week("views", day, 1)


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
    # One language of a multilingual site (kbgen/languages.py): its events only ("en*" also takes those sent
    # before events carried `lang`). The tag comes from [languages], checked here again before the SQL.
    if lang and re.fullmatch(r"[A-Za-z0-9-]{2,35}\*?", lang) and any(
        row[1] == "lang" for row in db.execute("PRAGMA table_info(events)")
    ):
        where += " AND (lang = ?" + (" OR lang IS NULL)" if lang.endswith("*") else ")")
        base_params: tuple[Any, ...] = (since, lang.rstrip("*"))
    else:
        base_params = (since,)
    (result.rows,) = db.execute(f"SELECT count(*) FROM events WHERE {where}", base_params).fetchone()
    result.kinds.update(("pages", "trend", "searches", "feedback", "contacts"))
    st.measure(*METRICS)

    def key(article: str | None, page: str | None) -> Key | None:
        if article:
            return ("id", article)
        norm = normalize_path(page or "")
        return ("path", norm) if norm else None

    def rows(select: str, event: str | None, group: str) -> list[tuple[Any, ...]]:
        sql = f"SELECT {select} FROM events WHERE {where}"
        params: tuple[Any, ...] = base_params
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
        parsed = parse_day(d or "", "collector")
        if name in metrics and parsed:
            st.add_week(metrics[name], parsed, n)
    # SQLite takes a bare column next to max() from the row holding the maximum: the latest result count.
    for query, n, results, _ in rows("query, count(*), results, max(seq)", "search", "query"):
        if query:
            st.add_search(query, n, results)
    for query, n in rows("query, count(*)", "search_no_results", "query"):
        if query:
            st.add_no_results(query, n)
    for query, url, d, n in rows(f"query, url, {day} AS d, count(*)", "search_click", "query, url, d"):
        if query and (k := key(None, url)):
            pair = (" ".join(query.split()).casefold(), k)
            st.clicks[pair] += n
            if d:
                st.click_days.setdefault(pair, set()).add(str(d))
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
    if kind and kind not in KINDS:
        result.failed = True
        result.refusal = Problem(result.path, 0, f"{stype}: kind {kind!r} is not one of {', '.join(KINDS)}",
                                 code="analytics")
        result.problems.append(Problem(result.path, 0, result.refusal.message, "warning", code="analytics"))
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
    try:
        if stype == "plausible":
            _read_plausible(data, name, kind, result)
        elif stype == "matomo":
            _read_matomo(data, name, kind, result)
        elif stype == "umami":
            _read_umami(data, name, kind, result)
        else:  # ga4, csv
            _read_text_tables(data, name, result)
    except Refused as exc:
        # Nothing of a source read in part is kept: its numbers would look whole and be wrong.
        result.stats, result.failed, result.kinds = Stats(), True, set()
        result.refusal = Problem(result.path, exc.line, exc.message[:600], "error", code="analytics")
        result.problems.append(Problem(result.path, exc.line, exc.message[:600], "warning", code="analytics"))
        return result
    return result.finish()


def collector_databases(sources: list[Any], root: Path) -> list[Path]:
    """The existing collector database files among `sources` (dicts or config objects), relative to `root`."""
    out = []
    for src in sources:
        get = src.get if isinstance(src, dict) else lambda k, s=src: getattr(s, k, "")
        if get("type") != "collector" or not get("path"):
            continue
        path = Path(get("path"))
        path = path if path.is_absolute() else root / path
        if path.is_file():
            out.append(path)
    return out
