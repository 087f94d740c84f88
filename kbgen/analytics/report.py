"""`kbgen report`: what customers read, what they search for, what they don't find, where self-service fails.

`build_report` turns `AnalyticsData` (from `popularity.load_analytics`) into plain rows; `print_report`
shows them as rich tables, `write_html` as one self-contained page with inline SVG charts (no scripts,
no external fonts or images), made to be looked at by an editor rather than read.
"""

from __future__ import annotations

import html
import math
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..config import is_css_color
from ..termsafe import for_terminal
from .importers import METRICS, collector_databases
from .popularity import AnalyticsData
from .reasons import print_reasons, reasons_html

__all__ = [
    "NOT_MEASURED",
    "Report",
    "build_report",
    "print_report",
    "render_html",
    "report_json",
    "widget_deflection",
    "write_html",
]

NOT_MEASURED = "not measured"  # a metric none of the sources records: never shown as 0
METRIC_LABELS = {
    "views": "page views",
    "searches": "searches",
    "no_results": "searches without results",
    "result_clicks": "search result clicks",
    "votes": "helpful votes",
    "contacts": "contact clicks",
}


def _n(value: int | None) -> str:
    return NOT_MEASURED if value is None else f"{value:,}"


def _headline(rep: Report) -> list[str]:
    """The report's first line, part by part: a metric no source records says so."""
    t, ms = rep.totals, rep.measured

    def part(metric: str, text: str, label: str) -> str:
        return text if ms.get(metric, True) else f"{label}: {NOT_MEASURED}"

    return [
        part("views", f"{_n(t['all_views'])} page views ({_n(t['article_views'])} of articles)", "page views"),
        part("searches", f"{_n(t['searches'])} searches", "searches"),
        part("no_results", f"{_pct(t['no_result_rate'])} without results", "searches without results"),
        part("result_clicks", f"{_n(t.get('result_clicks'))} result clicks", "result clicks"),
        part("votes", f"{_pct(t['helpful_rate'])} helpful ({_n(t['votes'])} votes)", "votes"),
        part(
            "contacts",
            f"{_pct(t['contact_rate'])} of article views ended in a contact click",
            "contact clicks",
        ),
    ]


@dataclass
class Report:
    title: str
    generated: str
    period: tuple[date | None, date | None]
    sources: list[tuple[str, str, int, int, list[str]]]  # type, path, rows, skipped, warnings
    totals: dict[str, float | int | None]
    top_articles: list[dict[str, Any]] = field(default_factory=list)
    top_searches: list[dict[str, Any]] = field(default_factory=list)
    no_results: list[dict[str, Any]] = field(default_factory=list)
    helpfulness: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    channels: list[tuple[str, int]] = field(default_factory=list)
    weekly: list[dict[str, Any]] = field(default_factory=list)  # {"week": date, metric: n, ...}
    unmatched: list[tuple[str, int]] = field(default_factory=list)
    brand_color: str = "#0b5cad"
    widget: dict[str, Any] | None = None  # widget_deflection(), when the site has the help widget
    reasons: dict[str, Any] | None = None  # reasons.feedback_reasons(): what was missing after "No"
    # importers.METRICS → whether any source records it (False: shown as "not measured", JSON null).
    measured: dict[str, bool] = field(default_factory=dict)
    coverage: list[dict[str, Any]] = field(default_factory=list)  # per source: measured metrics, failed
    loop: Any = None  # loop.LoopData: failed searches, what to write or fix next, the gap re-check


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def build_report(data: AnalyticsData, config: Any = None, top: int = 15) -> Report:
    st = data.stats
    title = str(getattr(config, "title", "") or "Help centre")
    brand = getattr(getattr(config, "brand", None), "brand_color", "") or "#0b5cad"
    arts = list(data.articles.values())
    measured = {m: m in data.measured for m in METRICS}
    un = st.unattributed  # totals a source has without their query or page

    def m(metric: str, value: Any) -> Any:
        return value if measured[metric] else None

    views = sum(a.views for a in arts)
    searches = sum(st.searches.values()) + un["searches"]
    no_results = sum(st.no_results.values()) + un["no_results"]
    yes = sum(a.helpful for a in arts) + un["helpful"]
    no = sum(a.not_helpful for a in arts) + un["not_helpful"]
    contacts = sum(st.contacts.values()) + un["contacts"]
    result_clicks = sum(st.clicks.values()) + un["result_clicks"]
    clicks_by_query: Counter[str] = Counter()
    for (query, _), n in st.clicks.items():
        clicks_by_query[query] += n
    rep = Report(
        title=title,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        period=data.period,
        sources=[(s.type, s.path, s.rows, s.skipped, [p.message for p in s.problems]) for s in data.sources],
        totals={
            "article_views": m("views", views),
            "all_views": m("views", data.total_views),
            "searches": m("searches", searches),
            "no_result_searches": m("no_results", no_results),
            "no_result_rate": _ratio(no_results, searches)
            if measured["searches"] and measured["no_results"] and no_results <= searches
            else None,
            "result_clicks": m("result_clicks", result_clicks),
            "helpful_rate": m("votes", _ratio(yes, yes + no)),
            "votes": m("votes", yes + no),
            "contacts": m("contacts", contacts),
            "contact_rate": _ratio(contacts, views) if measured["contacts"] and measured["views"] else None,
            "articles_viewed": m("views", sum(1 for a in arts if a.views)),
        },
        brand_color=brand,
        measured=measured,
        coverage=[
            {"type": s.type, "path": s.path, "measured": [x for x in METRICS if x in s.measured],
             "failed": s.failed}  # fmt: skip
            for s in data.sources
        ],
    )
    for rank, a in enumerate(data.ranked()[:top], 1):
        art = a.article
        cat = getattr(art, "category", None)
        rep.top_articles.append(
            {
                "rank": rank,
                "title": art.title,
                "url": art.url,
                "views": a.views,
                "category": getattr(cat, "title", "") or "",
                "share": _ratio(a.views, views),
            }
        )
    for query, n in st.searches.most_common(top):
        rep.top_searches.append(
            {
                "query": st.query_text.get(query, query),
                "searches": n,
                "results": st.search_results.get(query),
                "clicks": clicks_by_query.get(query, 0),
                "ctr": _ratio(clicks_by_query.get(query, 0), n) if st.clicks else None,
            }
        )
    for query, n in st.no_results.most_common(top):
        rep.no_results.append(
            {"query": st.query_text.get(query, query), "searches": n, "share": _ratio(n, no_results)}
        )
    voted = [a for a in arts if a.votes]
    voted.sort(key=lambda a: (-(a.not_helpful), a.helpful_ratio or 0, str(a.article.url)))
    for a in voted[:top]:
        rep.helpfulness.append(
            {
                "title": a.article.title,
                "url": a.article.url,
                "yes": a.helpful,
                "no": a.not_helpful,
                "ratio": a.helpful_ratio,
                "views": a.views,
            }
        )
    contacted = [a for a in arts if a.contacts]
    contacted.sort(key=lambda a: (-a.contacts, str(a.article.url)))
    for a in contacted[:top]:
        rep.contacts.append(
            {
                "title": a.article.title,
                "url": a.article.url,
                "contacts": a.contacts,
                "views": a.views,
                "rate": a.contact_rate,
            }
        )
    rep.channels = st.channels.most_common()
    weeks = sorted({w for c in st.weekly.values() for w in c})
    if weeks:
        w, last = weeks[0], weeks[-1]
        first_day, last_day = st.first_day or w, st.last_day or last + timedelta(days=6)
        while w <= last:  # every week, also those with nothing, so the line does not lie
            # A week the data covers only in part (the period starts or ends inside it) is marked, never
            # drawn as a drop: `days` of its 7 are in the data.
            days = sum(1 for i in range(7) if first_day <= w + timedelta(days=i) <= last_day)
            rep.weekly.append(
                {
                    "week": w,
                    "days": days,
                    "partial": days < 7,
                    **{
                        k: st.weekly.get(k, Counter()).get(w, 0) if measured[k] else None
                        for k in ("views", "searches", "no_results", "contacts")
                    },
                }
            )
            w += timedelta(days=7)
    rep.unmatched = data.unmatched.most_common(top)
    return rep


# -- terminal ------------------------------------------------------------


def _pct(value: float | int | None) -> str:
    if value is None:
        return "—"
    if value == 0 or value >= 0.1:
        return f"{value * 100:.0f}%"
    return f"{value * 100:.1f}%" if value >= 0.001 else "<0.1%"


def _period(rep: Report) -> str:
    first, last = rep.period
    return f"{first} – {last}" if first and last else "period not in the data"


def _text(value: Any, style: str = "") -> Any:
    """An analytics or content string as a rich `Text`: never parsed as markup, no terminal controls."""
    from rich.text import Text

    return Text(for_terminal(value, one_line=True), style=style)


def print_report(rep: Report, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()

    def say(*parts: Any, style: str = "") -> None:
        console.print(Text.assemble(*parts), style=style, markup=False, highlight=False, emoji=False)

    say(_text(rep.title, "bold"), f" — analytics report ({_period(rep)})")
    say(" · ".join(_headline(rep)))
    if missing := [METRIC_LABELS[m] for m, ok in rep.measured.items() if not ok]:
        say(f"  {NOT_MEASURED} by these sources (their exports do not record it): {', '.join(missing)}", style="dim")
    for stype, path, rows, skipped, warnings in rep.sources:
        line = Text.assemble("  source ", _text(stype), ": ", _text(path), f" — {rows:,} rows")
        if skipped:
            line.append(f", {skipped:,} skipped")
        say(line, style="dim")
        for w in warnings:
            say("    warning: ", _text(w), style="yellow")

    def table(title: str, columns: list[tuple[str, str]], rows: list[list[Any]], empty: str) -> None:
        tab = Table()
        for name, justify in columns:
            tab.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in rows:
            tab.add_row(*(c if isinstance(c, Text) else _text(c) for c in row))
        if rows:
            console.print()
            say(title, style="bold")
            console.print(tab)
        else:
            say((title, "bold"), ": ", empty)

    table(
        "Most viewed articles",
        [("#", "right"), ("article", "left"), ("category", "left"), ("views", "right"), ("share", "right")],
        [
            [
                str(r["rank"]),
                Text.assemble(_text(r["title"]), "\n", _text(r["url"], "dim")),
                r["category"],
                f"{r['views']:,}",
                _pct(r["share"]),
            ]
            for r in rep.top_articles
        ],
        "no page views matched an article",
    )
    table(
        "Top searches",
        [("query", "left"), ("searches", "right"), ("results", "right"), ("clicked", "right")],
        [
            [
                r["query"],
                f"{r['searches']:,}",
                "—" if r["results"] is None else str(r["results"]),
                _pct(r["ctr"]),
            ]
            for r in rep.top_searches
        ],
        "no searches in the data",
    )
    table(
        "Searches with no results — content to write",
        [("query", "left"), ("searches", "right")],
        [[r["query"], f"{r['searches']:,}"] for r in rep.no_results],
        "none — every search found something" if rep.measured.get("no_results", True) else NOT_MEASURED,
    )
    table(
        "Was this helpful? (least helpful first)",
        [("article", "left"), ("yes", "right"), ("no", "right"), ("helpful", "right")],
        [[r["title"], str(r["yes"]), str(r["no"]), _pct(r["ratio"])] for r in rep.helpfulness],
        "no votes yet" if rep.measured.get("votes", True) else NOT_MEASURED,
    )
    table(
        "Contact clicks per article view — where self-service failed",
        [("article", "left"), ("contacts", "right"), ("views", "right"), ("rate", "right")],
        [[r["title"], str(r["contacts"]), f"{r['views']:,}", _pct(r["rate"])] for r in rep.contacts],
        "no contact clicks" if rep.measured.get("contacts", True) else NOT_MEASURED,
    )
    table(
        "Week by week",
        [
            ("week of", "left"),
            ("views", "right"),
            ("searches", "right"),
            ("no results", "right"),
            ("contacts", "right"),
        ],
        [
            [
                str(w["week"]) + (f" (partial: {w['days']} of 7 days)" if w.get("partial") else ""),
                _n(w["views"]),
                _n(w["searches"]),
                _n(w["no_results"]),
                _n(w["contacts"]),
            ]
            for w in rep.weekly
        ],
        "the sources carry no dates",
    )
    print_loop(rep.loop, table, say)
    if rep.unmatched:
        table(
            "Paths that matched no page (old URLs? add them to an article's aliases)",
            [("path", "left"), ("views", "right")],
            [[p, f"{n:,}"] for p, n in rep.unmatched],
            "",
        )
    print_deflection(rep.widget, console)
    print_reasons(rep.reasons, console)


_KIND_LABEL = {
    "failed_search": "failed search",
    "unhelpful": "unhelpful",
    "contact": "contact rate",
    "stale": "stale, popular",
}


def _change(row: dict[str, Any]) -> str:
    """The change since the previous period, in the row's own unit ("new" when it was not there)."""
    change, prev = row.get("change"), row.get("previous")
    if change is None:
        return "new" if prev is None else "—"
    if row["kind"] in ("unhelpful", "contact"):
        return f"{change * 100:+.0f} pts" if change else "±0"
    return f"{change:+,}" if change else "±0"


def _value(row: dict[str, Any]) -> str:
    v = row.get("value")
    if v is None:
        return "—"
    return _pct(v) if row["kind"] in ("unhelpful", "contact") else f"{v:,}"


def print_loop(loop: Any, table: Any, say: Any) -> None:
    """The self-service loop sections of the terminal report (failed searches, to-do, gap re-check)."""
    from rich.text import Text
    if loop is None:
        return
    if not loop.measured:
        say(("Failed searches", "bold"), ": not measured — they need the collector (`kbgen collect`)")
        return
    f = loop.failed["current"]
    say("")
    say(
        ("Failed searches", "bold"),
        f": {f['total']:,} of {f['searches']:,} searches — {f['zero_results']:,} without results, "
        f"{f['abandoned']:,} abandoned (no result opened within {loop.failed['window_minutes']} min), "
        f"{f['contact']:,} followed by a contact click, {f['no_vote']:,} by a “No” "
        f"(previous period: {loop.failed['previous']['total']:,})",
    )
    table(
        "What to write or fix next (most customers affected first)",
        [("#", "right"), ("what, and its file", "left"), ("now", "right"), ("change", "right")],
        [
            [
                str(r["priority"]),
                Text.assemble(
                    _text(f"[{_KIND_LABEL[r['kind']]}] {r['what']}"), "\n",
                    _text(r["source"] or "(new article)", "dim"),
                ),  # fmt: skip
                _value(r),
                _change(r),
            ]
            for r in loop.todo
        ],
        "nothing to fix: no failed searches, No votes, contact clicks or stale popular articles",
    )
    table(
        "Failed searches, similar queries grouped",
        [("queries", "left"), ("failed", "right"), ("0 results", "right"), ("abandoned", "right"),
         ("contact", "right"), ("No", "right"), ("results shown", "right"), ("change", "right")],  # fmt: skip
        [
            [
                " · ".join(g["queries"][:3]),
                f"{g['count']:,}",
                str(g["kinds"]["zero_results"]),
                str(g["kinds"]["abandoned"]),
                str(g["kinds"]["contact"]),
                str(g["kinds"]["no_vote"]),
                str(g["results_shown"]),
                f"{g['change']:+,}" if g["change"] else "±0",
            ]
            for g in loop.groups
        ],
        "none",
    )
    if loop.gap_note:
        say(("Gap re-check", "bold"), ": ", loop.gap_note)
    else:
        table(
            "Gap re-check: the previous period's failed searches against this build's index",
            [("query", "left"), ("status", "left"), ("finds now", "left")],
            [
                [g["query"], g["status"], "\n".join(r["source"] for r in g["finds"]) or "nothing"]
                for g in loop.gaps
            ],
            "",
        )


def report_json(rep: Report) -> dict[str, Any]:
    """Everything the report shows, as plain JSON (the same numbers as the terminal and the HTML)."""

    def plain(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    loop = rep.loop
    out: dict[str, Any] = {
        "title": rep.title,
        "period": [plain(d) for d in rep.period],
        "totals": rep.totals,
        "weekly": plain(rep.weekly),
        "top_articles": rep.top_articles,
        "top_searches": rep.top_searches,
        "no_results": rep.no_results,
        "helpfulness": rep.helpfulness,
        "contacts": rep.contacts,
        "channels": [list(c) for c in rep.channels],
        "sources": [
            {"type": s[0], "path": s[1], "rows": s[2], "skipped": s[3], "warnings": s[4], **c}
            for s, c in zip(rep.sources, rep.coverage or [{}] * len(rep.sources), strict=False)
        ],
        "measured": rep.measured,
        "not_measured": [m for m, ok in rep.measured.items() if not ok],
    }
    if loop is not None:
        out["failed_searches"] = (
            {"measured": False}
            if not loop.measured
            else {
                "measured": True,
                "days": loop.days,
                **loop.failed,
                "groups": loop.groups,
                "weeks": loop.weeks,
            }
        )
        out["todo"] = loop.todo
        out["gap_recheck"] = {"note": loop.gap_note, "groups": loop.gaps}
        out["top_queries"] = loop.top_queries
    if rep.widget is not None:
        out["widget"] = rep.widget
    return plain(out)


# -- HTML ----------------------------------------------------------------

_CSS = """
:root{--brand:%(brand)s;--ink:#1d2430;--muted:#5d6878;--line:#e3e7ee;--bg:#f6f7f9;--warn:#c2410c;--ok:#15803d}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:var(--bg)}main{max-width:1080px;margin:0 auto;padding:32px 24px 64px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:0 0 4px}p.sub{color:var(--muted);margin:0 0 24px}
.hint{color:var(--muted);font-size:13px;margin:0 0 14px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin-bottom:20px}
.card,.panel{background:#fff;border:1px solid var(--line);border-radius:10px}
.card{padding:14px 16px}.card b{display:block;font-size:26px;line-height:1.2}
.card span{color:var(--muted);font-size:13px}
.card.bad b{color:var(--warn)}.card.good b{color:var(--ok)}
.panel{padding:18px 20px;margin-bottom:16px}.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:820px){.grid2{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%%;font-size:14px}
th,td{text-align:left;padding:6px 8px;border-top:1px solid
var(--line);vertical-align:top}th{color:var(--muted);font-weight:600;border-top:0}td.n,th.n{text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}a{color:var(--brand);text-decoration:none}
small{color:var(--muted)}svg{display:block;max-width:100%%;height:auto}
svg text{font:12px system-ui,sans-serif;fill:var(--ink)}
svg .muted{fill:var(--muted)}.empty{color:var(--muted);font-style:italic}
.meter{display:inline-block;width:70px;height:8px;border-radius:4px;background:#fde2d4;vertical-align:middle;
margin-left:6px;overflow:hidden}.meter i{display:block;height:100%%;background:var(--ok)}
ul.sources{margin:0;padding-left:18px;color:var(--muted);font-size:13px}ul.sources .w{color:var(--warn)}
td{overflow-wrap:anywhere}code{overflow-wrap:anywhere}
.chart{font-size:13px;color:var(--ink)}.bars .bar{display:grid;grid-template-columns:minmax(0,40%%) 1fr auto;
gap:8px;align-items:center;margin:4px 0}.bars .bl{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bars .bt{background:var(--bg);border-radius:3px;height:14px;overflow:hidden}.bars .bt i{display:block;height:100%%}
.bars .bv,.lines .ax,.lines .wk{color:var(--muted);font-variant-numeric:tabular-nums}
.lines{display:grid;grid-template-columns:auto 1fr;column-gap:8px;margin:8px 0 12px}
.lines .ax{display:flex;flex-direction:column;justify-content:space-between;text-align:right}
.lines svg{width:100%%;height:160px}.lines .wk,.lines .legend{grid-column:2;display:flex;flex-wrap:wrap;
justify-content:space-between;gap:4px 12px}.lines .legend{justify-content:flex-start;margin-top:4px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.todo .k{display:inline-block;font-size:12px;border-radius:4px;padding:0 6px;background:var(--bg);
color:var(--muted);white-space:nowrap}.st-closed{color:var(--ok)}.st-still{color:var(--warn)}
@media (max-width:600px){main{padding:16px 12px 40px}.panel{padding:14px 12px}h1{font-size:22px}
table,tbody,tr,td{display:block}thead{position:absolute;width:1px;height:1px;overflow:hidden;
clip:rect(0 0 0 0)}tr{border-top:1px solid var(--line);padding:6px 0}
td,td.n{border:0;padding:1px 0;text-align:left;white-space:normal}
td[data-l]:not(:first-child)::before{content:attr(data-l) ": ";color:var(--muted)}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _bars(rows: list[tuple[str, int, str]], color: str, width: int = 480, label_w: int = 200) -> str:
    """Horizontal bar chart: (label, value, href or ""). HTML, not SVG: its text keeps the page's size on
    a phone (an SVG scaled to 360 px shrank 12 px labels to 4 px). `width`/`label_w` are kept for callers."""
    if not rows:
        return '<p class="empty">Nothing to show yet.</p>'
    top = max(v for _, v, _ in rows) or 1
    out = ['<div class="chart bars" role="img" aria-label="bar chart">']
    for label, value, href in rows:
        text = f'<a href="{_e(href)}">{_e(label)}</a>' if href else _e(label)
        out.append(
            f'<div class="bar"><span class="bl" title="{_e(label)}">{text}</span>'
            f'<span class="bt"><i style="width:{max(1.0, 100 * value / top):.1f}%;background:{_e(color)}"></i>'
            f'</span><span class="bv">{value:,}</span></div>'
        )
    out.append("</div>")
    return "".join(out)


def _nice_max(value: float, ticks: int = 4) -> float:
    """The axis maximum: `ticks` whole steps of 1, 2 or 5 × 10^k covering `value`."""
    raw = max(value, 1) / ticks
    exp = 10 ** max(0, math.floor(math.log10(raw)))
    step = next(m * exp for m in (1, 2, 5, 10) if raw <= m * exp)
    return step * ticks


def _lines(
    weeks: list[dict[str, Any]], series: list[tuple[str, str, str]], width: int = 960, height: int = 260
) -> str:
    """Line chart of weekly series: (key, label, color). The lines are an SVG stretched to the panel's
    width (no text inside it); the axis labels and the legend are HTML, legible at any width. A partial
    week (`partial`, `days` of 7 in the data) is drawn dashed, scaled to 7 days, so that a period ending
    on a Wednesday does not look like a drop; the table below gives its real count."""
    if not weeks:
        return '<p class="empty">The sources carry no dates: add the collector or a dated export.</p>'

    def value(w: dict[str, Any], key: str) -> float:
        days = w.get("days", 7) or 7
        return w[key] * 7 / days if w.get("partial") else w[key]

    ymax = _nice_max(max(max(value(w, k) for w in weeks) for k, _, _ in series))
    n = len(weeks)
    vw, vh = 300, 100

    def x(i: int) -> float:
        return vw * i / (n - 1) if n > 1 else vw / 2

    def y(v: float) -> float:
        return vh - vh * v / ymax

    out = [
        '<div class="chart lines"><div class="ax"><span>',
        f"{ymax:,.0f}</span><span>0</span></div>",
        f'<svg viewBox="0 0 {vw} {vh}" preserveAspectRatio="none" role="img" aria-label="weekly trend">',
    ]
    for i in range(5):
        yy = vh * i / 4
        out.append(
            f'<line x1="0" x2="{vw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e3e7ee" '
            'vector-effect="non-scaling-stroke"/>'
        )
    for key, label, color in series:
        for i in range(n - 1):
            a, b = weeks[i], weeks[i + 1]
            dash = ' stroke-dasharray="4 4"' if a.get("partial") or b.get("partial") else ""
            out.append(
                f'<line x1="{x(i):.1f}" y1="{y(value(a, key)):.1f}" x2="{x(i + 1):.1f}" '
                f'y2="{y(value(b, key)):.1f}" stroke="{color}" stroke-width="2.5"{dash} '
                f'vector-effect="non-scaling-stroke" stroke-linecap="round"><title>{_e(label)}</title></line>'
            )
        if n == 1:
            out.append(
                f'<line x1="{vw / 2 - 4}" x2="{vw / 2 + 4}" y1="{y(value(weeks[0], key)):.1f}" '
                f'y2="{y(value(weeks[0], key)):.1f}" stroke="{color}" stroke-width="4" '
                'vector-effect="non-scaling-stroke"/>'
            )
    out.append("</svg>")
    first, last = weeks[0], weeks[-1]

    def when(w: dict[str, Any]) -> str:
        text = w["week"].strftime("%d %b") if isinstance(w["week"], date) else str(w["week"])
        return text + (f" (partial: {w['days']} of 7 days)" if w.get("partial") else "")

    out.append(f'<div class="wk"><span>week of {_e(when(first))}</span>')
    if n > 1:
        out.append(f"<span>{_e(when(last))}</span>")
    out.append('</div><div class="legend">')
    for _, label, color in series:
        out.append(f'<span><i style="background:{_e(color)}"></i>{_e(label)}</span>')
    if any(w.get("partial") for w in weeks):
        out.append("<span>dashed: a partial week, scaled to 7 days</span>")
    out.append("</div></div>")
    return "".join(out)


def _table(headers: list[tuple[str, bool]], rows: list[list[str]], empty: str) -> str:
    """A table that becomes one block per row on a phone (each cell labelled with its column)."""
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f'<th class="n">{_e(h)}</th>' if num else f"<th>{_e(h)}</th>" for h, num in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n" data-l="{_e(headers[i][0])}">{c}</td>'
            if headers[i][1]
            else f'<td data-l="{_e(headers[i][0])}">{c}</td>'
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _failed_rate(loop: Any) -> float | None:
    if loop is None or not loop.measured:
        return None
    cur = loop.failed["current"]
    return _ratio(cur["total"], cur["searches"])


def render_html(rep: Report) -> str:
    t = rep.totals
    # The colour goes into a <style> element, where HTML escaping does not apply: only a plain CSS colour.
    brand = rep.brand_color if is_css_color(rep.brand_color) else "#0b5cad"
    gap_color, contact_color = "#c2410c", "#7c3aed"

    def card(value: str, label: str, cls: str = "") -> str:
        return f'<div class="card {cls}"><b>{_e(value)}</b><span>{_e(label)}</span></div>'

    nr, hr, cr = t["no_result_rate"], t["helpful_rate"], t["contact_rate"]
    ms = rep.measured

    def pct_or(metric: str, value: float | None) -> str:
        return _pct(value) if ms.get(metric, True) else NOT_MEASURED

    cards = "".join(
        [
            card(
                _n(t["all_views"]),
                f"page views ({_n(t['article_views'])} of {_n(t['articles_viewed'])} articles)",
            ),
            card(_n(t["searches"]), "searches"),
            card(pct_or("no_results", nr), "of searches found nothing", "bad" if nr and nr > 0.1 else ""),
            *(
                [card(_pct(fr), "of searches failed (no result, abandoned, then contact or No)",
                      "bad" if fr and fr > 0.2 else "")]  # fmt: skip
                if (fr := _failed_rate(rep.loop)) is not None
                else []
            ),
            card(
                pct_or("votes", hr),
                f"helpful ({t['votes']:,} votes)" if t["votes"] is not None else "helpful votes",
                "good" if hr and hr >= 0.7 else "bad" if hr else "",
            ),
            card(
                pct_or("contacts", cr),
                "of article views ended in a contact click",
                "bad" if cr and cr > 0.05 else "",
            ),
        ]
    )
    articles = _bars([(r["title"], r["views"], "") for r in rep.top_articles], brand, 960, 330)
    art_rows = [
        [
            str(r["rank"]),
            f"{_e(r['title'])}<br><small>{_e(r['url'])}</small>",
            _e(r["category"]),
            f"{r['views']:,}",
            _pct(r["share"]),
        ]
        for r in rep.top_articles
    ]
    searches = _bars([(r["query"], r["searches"], "") for r in rep.top_searches], brand, 460)
    gaps = _bars([(r["query"], r["searches"], "") for r in rep.no_results], gap_color, 460)
    help_rows = []
    for r in rep.helpfulness:
        ratio = r["ratio"] or 0
        help_rows.append(
            [
                f"{_e(r['title'])}<br><small>{_e(r['url'])}</small>",
                str(r["yes"]),
                str(r["no"]),
                f'{_pct(r["ratio"])}<span class="meter"><i style="width:{ratio * 100:.0f}%"></i></span>',
            ]
        )
    contact_rows = [
        [
            f"{_e(r['title'])}<br><small>{_e(r['url'])}</small>",
            str(r["contacts"]),
            f"{r['views']:,}",
            _pct(r["rate"]),
        ]
        for r in rep.contacts
    ]
    search_rows = [
        [
            _e(r["query"]),
            f"{r['searches']:,}",
            "—" if r["results"] is None else str(r["results"]),
            _pct(r["ctr"]),
        ]
        for r in rep.top_searches
    ]
    trend = _lines(rep.weekly, [("views", "page views", brand)], height=200) if ms.get("views", True) else ""
    trend2 = ""
    if any(w["searches"] or w["no_results"] or w["contacts"] for w in rep.weekly):
        series = [
            (k, label, color)
            for k, label, color in (
                ("searches", "searches", "#0891b2"),
                ("no_results", "no results", gap_color),
                ("contacts", "contact clicks", contact_color),
            )
            if ms.get(k, True)
        ]
        trend2 = _lines(rep.weekly, series, height=200)
    sources = "".join(
        f"<li>{_e(s[0])}: {_e(s[1])} — {s[2]:,} rows"
        + (f", {s[3]:,} skipped" if s[3] else "")
        + "</li>"
        + "".join(f'<li class="w">{_e(w)}</li>' for w in s[4])
        for s in rep.sources
    )
    channels = ", ".join(f"{_e(c)} {n:,}" for c, n in rep.channels)
    unmatched = ""
    if rep.unmatched:
        unmatched = (
            '<section class="panel"><h2>Addresses that matched no page</h2><p class="hint">Old links '
            "customers still follow: add each to the right article's <code>aliases</code>.</p>"
            + _table([("path", False), ("views", True)], [[_e(p), f"{n:,}"] for p, n in rep.unmatched], "")
            + "</section>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(rep.title)} — analytics report</title><style>{_CSS % {"brand": brand}}</style></head>
<body><main>
<h1>{_e(rep.title)} — what customers did</h1>
<p class="sub">{_e(_period(rep))} · generated {_e(rep.generated)} by kbgen report</p>
<div class="cards">{cards}</div>
{loop_html(rep.loop)}
<section class="panel"><h2>Week by week</h2><p class="hint">Page views, searches, searches without results and
contact clicks per week.</p>{trend}{trend2}</section>
<section class="panel"><h2>Most viewed articles</h2>
<p class="hint">These lead the home page and their categories,
and rank higher in search.</p>{articles}
{
        _table(
            [("#", True), ("article", False), ("category", False), ("views", True), ("share", True)],
            art_rows,
            "",
        )
    }
</section>
<div class="grid2">
<section class="panel"><h2>Top searches</h2><p class="hint">What customers look for, in their words.</p>{
        searches
    }
{
        _table([("query", False), ("searches", True), ("results", True), ("clicked", True)], search_rows, "")
    }</section>
<section class="panel"><h2>Searches with no results</h2><p class="hint">Content gaps: write these articles, or
add the words to an existing article's <code>keywords</code>.</p>{
        gaps if ms.get("no_results", True) else f'<p class="empty">{NOT_MEASURED} by these sources</p>'
    }</section>
</div>
<div class="grid2">
<section class="panel"><h2>Was this helpful?</h2><p class="hint">Least helpful first: rewrite these.</p>
{
        _table(
            [("article", False), ("yes", True), ("no", True), ("helpful", True)], help_rows, "No votes yet."
        )
    }</section>
<section class="panel"><h2>Where self-service failed</h2><p class="hint">Contact clicks per article view.
{("Channels: " + channels) if channels else ""}</p>
{
        _table(
            [("article", False), ("contacts", True), ("views", True), ("rate", True)],
            contact_rows,
            "No contact clicks.",
        )
    }</section>
</div>
{unmatched}
{deflection_html(rep.widget)}
{reasons_html(rep.reasons)}
<section class="panel"><h2>Sources</h2><ul class="sources">{sources}</ul></section>
</main></body></html>
"""


def loop_html(loop: Any) -> str:
    """The to-do list, the failed searches and the gap re-check ("" without the collector's data)."""
    if loop is None:
        return ""
    if not loop.measured:
        return (
            '<section class="panel"><h2>Failed searches</h2><p class="empty">Not measured: failed searches '
            "need the collector (<code>kbgen collect</code>).</p></section>"
        )
    todo_rows = [
        [
            str(r["priority"]),
            f'<span class="k">{_e(_KIND_LABEL[r["kind"]])}</span> {_e(r["what"])}<br><small>{_e(r["action"])}'
            "</small>",
            f"<code>{_e(r['source'])}</code>" if r["source"] else "<small>(new article)</small>",
            _e(_value(r)),
            _e(_change(r)),
        ]
        for r in loop.todo
    ]
    f, w = loop.failed["current"], loop.failed["window_minutes"]
    group_rows = [
        [
            "<br>".join(_e(q) for q in g["queries"][:3]),
            f"{g['count']:,}",
            " · ".join(
                f"{n} {label}"
                for n, label in (
                    (g["kinds"]["zero_results"], "no results"),
                    (g["kinds"]["abandoned"], "abandoned"),
                    (g["kinds"]["contact"], "then contact"),
                    (g["kinds"]["no_vote"], "then No"),
                )
                if n
            ),
            f"{g['results_shown']:,}"
            + (
                "<br><small>now: " + _e(", ".join(r["title"] for r in g["top_results_now"][:2])) + "</small>"
                if g["top_results_now"]
                else ""
            ),
            _e(f"{g['change']:+,}" if g["change"] else "±0"),
        ]
        for g in loop.groups
    ]
    gap_rows = [
        [
            _e(g["query"]),
            f'<span class="st-{_e(g["status"].split()[0])}">{_e(g["status"])}</span>',
            _e(", ".join(r["title"] for r in g["finds"]) or "nothing"),
        ]
        for g in loop.gaps
    ]
    weeks = "".join(
        f"<li>week of {_e(x['week'])}: {x['failed']:,} of {x['searches']:,} searches failed"
        + (f" <small>(partial: {x['days']} of 7 days)</small>" if x["partial"] else "")
        + "</li>"
        for x in loop.weeks
    )
    gaps = (
        f'<p class="empty">{_e(loop.gap_note)}</p>'
        if loop.gap_note
        else _table([("query", False), ("status", False), ("finds now", False)], gap_rows, "")
    )
    return f"""<section class="panel todo"><h2>What to write or fix next</h2><p class="hint">Most customers
affected first, with the change since the previous {loop.days} days.</p>{
        _table(
            [("#", True), ("what", False), ("file", False), ("now", True), ("change", True)],
            todo_rows,
            "Nothing to fix: no failed searches, No votes, contact clicks or stale popular articles.",
        )
    }</section>
<section class="panel"><h2>Failed searches</h2><p class="hint">{f["total"]:,} of {f["searches"]:,} searches:
{f["zero_results"]:,} without results, {f["abandoned"]:,} abandoned (results shown, none opened within {w}
minutes), {f["contact"]:,} followed by a contact click, {f["no_vote"]:,} by a “No”. Similar queries are
grouped.</p>{
        _table(
            [("queries", False), ("failed", True), ("how", False), ("results shown", True), ("change", True)],
            group_rows,
            "No failed searches.",
        )
    }<ul class="sources">{weeks}</ul></section>
<section class="panel"><h2>Gap re-check</h2><p class="hint">The previous period's failed searches, asked again
of this build's search index: <b>closed</b> when customers of this period opened what it finds now.</p>{gaps}
</section>
"""


def write_html(rep: Report, path: Path) -> None:
    """Write the page atomically: an interrupted report leaves the previous file, never half of one."""
    write_atomic(path, render_html(rep).encode("utf-8"))


# -- the help widget: deflection per shop page ---------------------------------------------------------------

DEFLECTION_DEFINITION = (
    "Deflection = widget openings in which the customer opened an answer (a suggestion or a search result) "
    "or said Yes to “Was this helpful?”, and did not click a contact channel, ÷ widget openings. "
    "Measured by the collector (each widget event carries the shop page and a random id of its opening)."
)
_SHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _shown_path(value: Any) -> str:
    """A host path from the database, safe to show: no control characters, at most 120 characters."""
    text = _SHOWN.sub("", str(value or "/"))
    return text if len(text) <= 120 else text[:119] + "…"


def widget_deflection(sources: list[Any], root: Path, window_days: int, top: int = 15) -> dict[str, Any]:
    """Per shop page (`host`), from the collector databases among `sources`: widget openings, those that
    found an answer (see DEFLECTION_DEFINITION), those that still contacted support, and the deflection
    rate. `measured` is False when no collector database has widget events to read."""
    counts: dict[str, list[int]] = {}
    measured = False
    for path in collector_databases(sources, root):
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            continue
        try:
            (last,) = db.execute("SELECT max(ts) FROM events WHERE source = 'widget'").fetchone()
            if last is None:
                continue
            measured = True
            since = last - window_days * 86_400_000 if window_days > 0 else 0
            visits = db.execute(
                """SELECT host, visit,
                     max(name = 'widget_open'),
                     max(name IN ('widget_answer', 'search_click') OR (name = 'feedback' AND helpful = 'yes')),
                     max(name = 'contact_click')
                   FROM events
                   WHERE source = 'widget' AND visit IS NOT NULL AND ts >= ? AND coalesce(device, '') != 'bot'
                   GROUP BY host, visit""",
                (since,),
            ).fetchall()
        except sqlite3.DatabaseError:  # not a collector database, or one older than the widget fields
            continue
        finally:
            db.close()
        for host, _visit, opened, found, contacted in visits:
            if not opened:
                continue
            c = counts.setdefault(_shown_path(host), [0, 0, 0])
            c[0] += 1
            c[1] += 1 if found and not contacted else 0
            c[2] += 1 if contacted else 0
    rows = [
        {"host": h, "opens": o, "answered": a, "contacted": c, "rate": _ratio(a, o)}
        for h, (o, a, c) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    total = [sum(r[k] for r in rows) for k in ("opens", "answered", "contacted")]
    return {
        "measured": measured,
        "rows": rows[:top],
        "total": {
            "opens": total[0],
            "answered": total[1],
            "contacted": total[2],
            "rate": _ratio(total[1], total[0]),
        },
    }


def print_deflection(widget: dict[str, Any] | None, console: Any) -> None:
    """The widget section of the terminal report (nothing when the report has no widget data)."""
    if widget is None:
        return
    from rich.table import Table
    from rich.text import Text

    console.print()
    console.print("Help widget: deflection per shop page", style="bold", markup=False, highlight=False)
    if not widget["measured"]:
        console.print(
            "  no widget events: deflection needs the collector (`kbgen collect`, [analytics.beacon])",
            markup=False,
            highlight=False,
        )
        return
    tab = Table()
    for name, justify in (("shop page", "left"), ("opened", "right"), ("answered", "right"),
                          ("contacted", "right"), ("deflection", "right")):  # fmt: skip
        tab.add_column(name, justify=justify)  # type: ignore[arg-type]
    t = widget["total"]
    for r in [*widget["rows"], {"host": "all pages", **t}]:
        tab.add_row(
            Text(r["host"]), f"{r['opens']:,}", f"{r['answered']:,}", f"{r['contacted']:,}", _pct(r["rate"])
        )
    console.print(tab)
    console.print(DEFLECTION_DEFINITION, style="dim", markup=False, highlight=False)


def deflection_html(widget: dict[str, Any] | None) -> str:
    """The widget section of the HTML report ("" when the report has no widget data)."""
    if widget is None:
        return ""
    rows = [
        [_e(r["host"]), f"{r['opens']:,}", f"{r['answered']:,}", f"{r['contacted']:,}", _pct(r["rate"])]
        for r in widget["rows"]
    ]
    if rows:
        t = widget["total"]
        rows.append(
            [
                "<b>all pages</b>",
                f"{t['opens']:,}",
                f"{t['answered']:,}",
                f"{t['contacted']:,}",
                _pct(t["rate"]),
            ]
        )
    headers = [
        ("shop page", False),
        ("opened", True),
        ("answered", True),
        ("contacted", True),
        ("deflection", True),
    ]
    empty = (
        "No widget events: deflection needs the collector."
        if not widget["measured"]
        else "No widget openings."
    )
    return (
        '<section class="panel"><h2>Help widget: deflection per shop page</h2>'
        f'<p class="hint">{_e(DEFLECTION_DEFINITION)}</p>{_table(headers, rows, empty)}</section>'
    )
