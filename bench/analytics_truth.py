"""One month of known help-centre traffic, written in each analytics provider's own export format.

Run by hand: `python bench/analytics_truth.py` (re)writes tests/fixtures/analytics/month/ and prints, per
source, what `kbgen report --json` recovers of the truth (the table in bench/RESULTS.md). The formats
follow the providers' documentation (see tests/fixtures/analytics/month/README.md for the pages).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "analytics" / "month"
T, R, F = (
    "/orders/tracking/track-your-order/",
    "/returns-refunds/returns/start-a-return/",
    "/returns-refunds/refunds/when-will-i-get-my-refund/",
)
TITLES = {T: "How to track my order", R: "How to return an item", F: "When will I get my refund?", "/": "Northwind Help"}
START = date(2026, 11, 2)  # a Monday; four whole weeks
DAYS = [START + timedelta(days=i) for i in range(28)]

# The truth.
VIEWS = {T: 120, R: 80, F: 40, "/": 60}
SEARCHES = {"refund": (30, 5), "track order": (20, 3), "gift wrapping": (10, 31), "price match": (8, 0)}
CLICKS = {("refund", F): 12, ("refund", R): 6, ("track order", T): 15}
VOTES = {(T, "yes"): 9, (T, "no"): 3, (R, "yes"): 4, (R, "no"): 4}
CONTACTS = {(T, "chat"): 2, (R, "email"): 5}
TRUTH = {
    "views": sum(VIEWS.values()),
    "article_views": VIEWS[T] + VIEWS[R] + VIEWS[F],
    "searches": sum(n for n, _ in SEARCHES.values()),
    "no_result_searches": sum(n for n, r in SEARCHES.values() if r == 0),
    "result_clicks": sum(CLICKS.values()),
    "votes": sum(VOTES.values()),
    "contacts": sum(CONTACTS.values()),
}


class Zip(zipfile.ZipFile):
    """A ZIP whose bytes depend only on its members (fixed dates): the fixtures do not change when rewritten."""

    def writestr(self, name, data, *args, **kwargs):  # type: ignore[override]
        info = zipfile.ZipInfo(str(name), date_time=(2026, 11, 30, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        super().writestr(info, data)


def spread(n: int) -> list[int]:
    """`n` over the 28 days, the same way every time."""
    return [n // 28 + (1 if i < n % 28 else 0) for i in range(28)]


def table(header: list[str], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def events() -> list[tuple[date, str, dict[str, object], str]]:
    """Every event analytics.js sends, one per occurrence: (day, name, parameters, page)."""
    out: list[tuple[date, str, dict[str, object], str]] = []
    for q, (n, results) in SEARCHES.items():
        for i in range(n):
            out.append((DAYS[i % 28], "search", {"query": q, "results": results}, "/search/"))
            if results == 0:
                out.append((DAYS[i % 28], "search_no_results", {"query": q}, "/search/"))
    for (q, url), n in CLICKS.items():
        out += [(DAYS[(i * 3) % 28], "search_click", {"query": q, "url": url, "rank": 1}, "/search/") for i in range(n)]
    for (url, helpful), n in VOTES.items():
        out += [(DAYS[(i * 5) % 28], "feedback", {"url": url, "helpful": helpful}, url) for i in range(n)]
    for (url, channel), n in CONTACTS.items():
        out += [(DAYS[(i * 7) % 28], "contact_click", {"url": url, "channel": channel}, url) for i in range(n)]
    return out


def plausible() -> None:
    # Dashboard → Export stats: one CSV per report (https://plausible.io/docs/export-stats).
    daily = [sum(x) for x in zip(*(spread(n) for n in VIEWS.values()), strict=False)]
    visitors = table(
        ["date", "visitors", "pageviews", "visits", "views_per_visit", "bounce_rate", "visit_duration"],
        [[d.isoformat(), max(1, n // 2), n, max(1, n // 2), 2.0, 40, 65] for d, n in zip(DAYS, daily, strict=False)],
    )
    pages = table(
        ["name", "visitors", "pageviews", "bounce_rate", "time_on_page", "scroll_depth"],
        [[p, n // 2, n, 35, 48, 70] for p, n in sorted(VIEWS.items(), key=lambda kv: -kv[1])],
    )
    goals: dict[str, int] = {}
    for _, name, _, _ in events():
        goals[name] = goals.get(name, 0) + 1
    conversions = table(["name", "unique_conversions", "total_conversions"], [[g, max(1, n // 2), n] for g, n in goals.items()])
    props: dict[tuple[str, str], int] = {}
    for _, _, p, _ in events():
        for k, v in p.items():
            if k in ("query", "url", "helpful", "channel"):
                props[(k, str(v))] = props.get((k, str(v)), 0) + 1
    custom = table(
        ["property", "value", "visitors", "events", "percentage"],
        [[k, v, max(1, n // 2), n, 1.0] for (k, v), n in sorted(props.items())],
    )
    with Zip(OUT / "plausible-dashboard-export.zip", "w") as zf:
        for name, text in (("visitors.csv", visitors), ("pages.csv", pages), ("conversions.csv", conversions),
                           ("custom_props.csv", custom), ("sources.csv", "source,visitors\nGoogle,40\n")):
            zf.writestr(name, text)
    # The same dashboard filtered on the goal search_no_results (Goal is search_no_results → Export).
    nores_q: dict[str, int] = {}
    for _, name, p, _ in events():
        if name == "search_no_results":
            nores_q[str(p["query"])] = nores_q.get(str(p["query"]), 0) + 1
    nores = sorted(nores_q.items())
    with Zip(OUT / "plausible-export-goal-search_no_results.zip", "w") as zf:
        zf.writestr("visitors.csv", table(["date", "unique_conversions", "total_conversions", "conversion_rate"],
                                          [[d.isoformat(), 0, 0, 0.0] for d in DAYS]))
        zf.writestr("conversions.csv", table(["name", "unique_conversions", "total_conversions"],
                                             [["search_no_results", 4, goals["search_no_results"]]]))
        zf.writestr("custom_props.csv", table(["property", "value", "visitors", "events", "conversion_rate"],
                                              [["query", v, max(1, n // 2), n, 3.3] for v, n in nores]))
    with Zip(OUT / "plausible-views-only.zip", "w") as zf:
        zf.writestr("visitors.csv", visitors)
        zf.writestr("pages.csv", pages)
    # Stats API v2 (POST /api/v2/query): goal × query, metric events; the query is echoed back.
    rows: dict[tuple[str, str], int] = {}
    for _, name, p, _ in events():
        key = (name, str(p.get("query", "(none)")))
        rows[key] = rows.get(key, 0) + 1
    v2 = {
        "results": [{"metrics": [n], "dimensions": [g, q]} for (g, q), n in sorted(rows.items())],
        "meta": {},
        "query": {
            "site_id": "help.northwind.example",
            "metrics": ["events"],
            "date_range": [f"{DAYS[0]}T00:00:00Z", f"{DAYS[-1]}T23:59:59Z"],
            "filters": [],
            "dimensions": ["event:goal", "event:props:query"],
            "order_by": [["events", "desc"]],
            "include": {},
            "pagination": {"offset": 0, "limit": 10000},
        },
    }
    (OUT / "plausible-api-v2-goals-by-query.json").write_text(json.dumps(v2, indent=1) + "\n")
    # Stats API v1 breakdown of property `query` filtered on the goal search_no_results.
    v1 = {"results": [{"query": q, "visitors": n // 2, "events": n} for q, (n, r) in SEARCHES.items() if r == 0]}
    (OUT / "plausible-api-v1-no-results-by-query.json").write_text(json.dumps(v1, indent=1) + "\n")


def ga4() -> None:
    head = "# ----------------------------------------\n# {title}\n# Compte : Northwind Goods\n# Propriété : Northwind Help - GA4\n# ----------------------------------------\n#\n# Date de début : 20261102\n# Date de fin : 20261129\n"
    pages = head.format(title="Pages et écrans : Chemin de la page et classe de l'écran") + table(
        ["Chemin de la page et classe de l'écran", "Vues", "Utilisateurs actifs", "Nombre d'événements"],
        [[p, n, n // 2, n * 3] for p, n in sorted(VIEWS.items(), key=lambda kv: -kv[1])],
    )
    (OUT / "ga4-fr-pages-et-ecrans.csv").write_text(pages)
    ev: dict[tuple[str, ...], int] = {}
    for _, name, p, _ in events():
        gname = "view_search_results" if name == "search" else name
        key = (gname, str(p.get("query", "(not set)")), str(p.get("results", "(not set)")),
               str(p.get("helpful", "(not set)")),
               str(p.get("channel", "(not set)")), str(p.get("url", "(not set)")))
        ev[key] = ev.get(key, 0) + 1
    events_csv = head.format(title="Exploration libre : Événements") + table(
        ["Nom de l'événement", "query", "results", "helpful", "channel", "url", "Nombre d'événements"],
        [[*k, n] for k, n in sorted(ev.items())],
    )
    (OUT / "ga4-fr-evenements.csv").write_text(events_csv)
    titles = "# ----------------------------------------\n# Pages and screens: Page title and screen class\n# ----------------------------------------\n" + table(
        ["Page title and screen class", "Views", "Active users"],
        [[f"{TITLES[p]} · Northwind Help" if p != "/" else TITLES[p], n, n // 2] for p, n in VIEWS.items()],
    )
    (OUT / "ga4-en-page-titles.csv").write_text(titles)
    # A file re-saved by a spreadsheet set to US English: month-first dates GA4 never writes.
    us = "# Pages and screens: Page path and screen class\n" + table(
        ["Date", "Page path and screen class", "Views"],
        [["11/03/2026", T, 4], ["11/04/2026", R, 3], ["11/13/2026", F, 2]],
    )
    (OUT / "ga4-us-dated.csv").write_text(us)


def matomo() -> None:
    # Actions.getPageUrls&flat=1&format=CSV: UTF-16LE with a BOM (Matomo's default for CSV).
    pages = table(
        ["label", "nb_visits", "nb_hits", "sum_time_spent", "entry_nb_visits", "exit_nb_visits", "url"],
        [[p.strip("/") or "/index", n // 2, n, n * 40, n // 4, n // 4, "https://help.northwind.example" + p]
         for p, n in VIEWS.items()],
    )
    (OUT / "matomo-getPageUrls-flat.csv").write_bytes(b"\xff\xfe" + pages.encode("utf-16-le"))
    # Actions.getSiteSearchKeywords (period=range): every keyword searched.
    kw = [{"label": q, "nb_visits": n, "nb_hits": n, "sum_time_spent": 0, "nb_hits_following_search": n if r else 0,
           "nb_pages_per_search": 1.2 if r else 0, "exit_nb_visits": 2, "exit_rate": "10%",
           "segment": "siteSearchKeyword==" + q.replace(" ", "%2B")} for q, (n, r) in SEARCHES.items()]
    (OUT / "matomo-getSiteSearchKeywords.json").write_text(json.dumps(kw, indent=1) + "\n")
    # Actions.getSiteSearchNoResultKeywords&period=week&date=…: keyed by Matomo's week period strings.
    weeks = {f"{START + timedelta(days=7 * w)},{START + timedelta(days=7 * w + 6)}": [] for w in range(4)}
    for q, (n, r) in SEARCHES.items():
        if r == 0:
            for key in weeks:
                weeks[key].append({"label": q, "nb_visits": n // 4, "nb_hits": n // 4, "sum_time_spent": 0,
                                   "exit_nb_visits": 1, "exit_rate": "50%",
                                   "segment": "siteSearchKeyword==" + q.replace(" ", "%2B")})
    (OUT / "matomo-getSiteSearchNoResultKeywords-weeks.json").write_text(json.dumps(weeks, indent=1) + "\n")
    # Events.getCategory&expanded=1 (secondary dimension: event action).
    cats: dict[str, dict[str, int]] = {}
    for _, name, p, _ in events():
        if name in ("search", "search_no_results"):
            continue  # analytics.js sends these through trackSiteSearch
        action = str(p.get("helpful") or p.get("channel") or p.get("query") or name)
        cats.setdefault(name, {})[action] = cats.setdefault(name, {}).get(action, 0) + 1
    ev = [{"label": c, "nb_uniq_visitors": 1, "nb_visits": sum(a.values()), "nb_events": sum(a.values()),
           "nb_events_with_value": 0, "sum_event_value": 0, "idsubdatatable": i + 1,
           "subtable": [{"label": k, "nb_visits": n, "nb_events": n, "nb_events_with_value": 0,
                         "sum_event_value": 0} for k, n in a.items()]}
          for i, (c, a) in enumerate(cats.items())]
    (OUT / "matomo-Events.getCategory-expanded.json").write_text(json.dumps(ev, indent=1) + "\n")


def umami() -> None:
    # Umami v2's data export (Settings → Data → Export): website_event.csv and event_data.csv.
    wid = "5e0b7c4a-2d3f-4a1b-9c8d-7e6f5a4b3c2d"
    we, ed = [], []
    n = 0

    def eid() -> str:
        nonlocal n
        n += 1
        return f"00000000-0000-4000-8000-{n:012d}"

    for p, views in VIEWS.items():
        for i, k in enumerate(spread(views)):
            for j in range(k):
                we.append([eid(), wid, f"5e55{i:04d}-0000-4000-8000-000000000001", f"{DAYS[i]}T{9 + j % 9:02d}:15:00.000Z",
                           p, "", "", "", "", TITLES.get(p, ""), 1, "", f"71510000-0000-4000-8000-{i:012d}"])
    for day, name, props, page in events():
        e = eid()
        we.append([e, wid, "5e550000-0000-4000-8000-000000000002", f"{day}T12:00:00.000Z", page, "", "", "", "",
                   TITLES.get(page, ""), 2, name, "71510000-0000-4000-8000-999999999999"])
        for k, v in props.items():
            num = isinstance(v, int)  # number_value is a Decimal(19,4) column
            ed.append([f"ed000000-0000-4000-8000-{len(ed):012d}", wid, e, k, "" if num else v,
                       f"{v}.0000" if num else "", "", 2 if num else 1, f"{day}T12:00:00.000Z"])
    website_event = table(["event_id", "website_id", "session_id", "created_at", "url_path", "url_query",
                           "referrer_path", "referrer_query", "referrer_domain", "page_title", "event_type",
                           "event_name", "visit_id"], we)
    event_data = table(["event_data_id", "website_id", "website_event_id", "data_key", "string_value", "number_value",
                        "date_value", "data_type", "created_at"], ed)
    with Zip(OUT / "umami-data-export.zip", "w") as zf:
        zf.writestr("website_event.csv", website_event)
        zf.writestr("event_data.csv", event_data)
    # GET /api/websites/:id/metrics?type=event
    counts: dict[str, int] = {}
    for _, name, _, _ in events():
        counts[name] = counts.get(name, 0) + 1
    (OUT / "umami-api-metrics-event.json").write_text(
        json.dumps([{"x": k, "y": v} for k, v in sorted(counts.items(), key=lambda kv: -kv[1])], indent=1) + "\n")


SOURCES = [
    ("plausible", "", "plausible-dashboard-export.zip"),
    ("plausible", "", "plausible-views-only.zip"),
    ("plausible", "", "plausible-export-goal-search_no_results.zip"),
    ("plausible", "", "plausible-api-v2-goals-by-query.json"),
    ("plausible", "no_results", "plausible-api-v1-no-results-by-query.json"),
    ("ga4", "", "ga4-fr-pages-et-ecrans.csv"),
    ("ga4", "", "ga4-fr-evenements.csv"),
    ("ga4", "", "ga4-en-page-titles.csv"),
    ("matomo", "", "matomo-getPageUrls-flat.csv"),
    ("matomo", "", "matomo-getSiteSearchKeywords.json"),
    ("matomo", "", "matomo-getSiteSearchNoResultKeywords-weeks.json"),
    ("matomo", "", "matomo-Events.getCategory-expanded.json"),
    ("umami", "", "umami-data-export.zip"),
    ("umami", "", "umami-api-metrics-event.json"),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    plausible(), ga4(), matomo(), umami()
    if "--write-only" in sys.argv:
        return
    import subprocess

    keys = ("article_views", "searches", "no_result_searches", "result_clicks", "votes", "contacts")
    print("| source | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    print("| **truth** | " + " | ".join(str(TRUTH[k]) for k in keys) + " |")
    root = Path(__file__).resolve().parent.parent
    for stype, kind, name in SOURCES:
        spec = f"{stype}:{kind + ':' if kind else ''}{OUT / name}"
        proc = subprocess.run([sys.executable, "-m", "kbgen", "report", "--json", "--source", spec],
                              cwd=root, capture_output=True, text=True)  # fmt: skip
        totals = json.loads(proc.stdout)["totals"]
        cells = ["not measured" if totals[k] is None else f"{totals[k]:,}" for k in keys]
        print(f"| {stype} `{name}`{' (kind ' + kind + ')' if kind else ''} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
