"""Every provider, every metric it records: a month of known traffic (bench/analytics_truth.py) written in
each provider's export format comes back through `kbgen report --json` exactly — and what a source does
not record is null / "not measured", never 0. Bad exports are refused naming file and line."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import run_kbgen

from kbgen.analytics.importers import parse_day, read_source
from kbgen.analytics.popularity import Resolver, strip_site_name

ROOT = Path(__file__).resolve().parent.parent  # the sample help centre: its content is the site
MONTH = Path(__file__).resolve().parent / "fixtures" / "analytics" / "month"
N = None  # not measured
KEYS = ("article_views", "searches", "no_result_searches", "result_clicks", "votes", "contacts")
TRUTH = (240, 68, 8, 33, 20, 7)

# What each export recovers of the truth: exactly the numbers it records, null for what it cannot know.
RECOVERED = [
    ("plausible", "", "plausible-dashboard-export.zip", (240, 68, 8, 33, 20, 7)),
    ("plausible", "", "plausible-views-only.zip", (240, N, N, N, N, N)),
    ("plausible", "", "plausible-export-goal-search_no_results.zip", (N, N, 8, N, N, N)),
    ("plausible", "", "plausible-api-v2-goals-by-query.json", (N, 68, 8, 33, N, 7)),
    ("plausible", "no_results", "plausible-api-v1-no-results-by-query.json", (N, N, 8, N, N, N)),
    ("ga4", "", "ga4-fr-pages-et-ecrans.csv", (240, N, N, N, N, N)),
    ("ga4", "", "ga4-fr-evenements.csv", (N, 68, 8, 33, 20, 7)),
    ("ga4", "", "ga4-en-page-titles.csv", (240, N, N, N, N, N)),
    ("matomo", "", "matomo-getPageUrls-flat.csv", (240, N, N, N, N, N)),
    ("matomo", "", "matomo-getSiteSearchKeywords.json", (N, 68, N, N, N, N)),
    ("matomo", "", "matomo-getSiteSearchNoResultKeywords-weeks.json", (N, N, 8, N, N, N)),
    ("matomo", "", "matomo-Events.getCategory-expanded.json", (N, N, N, 33, 20, 7)),
    ("umami", "", "umami-data-export.zip", (240, 68, 8, 33, 20, 7)),
    ("umami", "", "umami-api-metrics-event.json", (N, 68, 8, 33, N, 7)),
]


def report_json(*specs: str, cwd: Path = ROOT) -> dict:
    args = [a for s in specs for a in ("--source", s)]
    return json.loads(run_kbgen("report", "--json", *args, cwd=cwd).stdout)


def spec(stype: str, kind: str, name: str, folder: Path = MONTH) -> str:
    return f"{stype}:{kind + ':' if kind else ''}{folder / name}"


@pytest.mark.parametrize(("stype", "kind", "name", "expected"), RECOVERED, ids=[r[2] for r in RECOVERED])
def test_each_export_gives_exactly_what_it_records(stype: str, kind: str, name: str, expected: tuple) -> None:
    rep = report_json(spec(stype, kind, name))
    assert tuple(rep["totals"][k] for k in KEYS) == expected
    metric = dict(zip(KEYS, ("views", "searches", "no_results", "result_clicks", "votes", "contacts"), strict=False))
    assert sorted(rep["not_measured"]) == sorted(metric[k] for k, v in zip(KEYS, expected, strict=False) if v is None)
    assert rep["sources"][0]["failed"] is False


def test_all_full_sources_agree_with_the_truth_per_query_and_per_article() -> None:
    for source in ("umami:" + str(MONTH / "umami-data-export.zip"), "ga4:" + str(MONTH / "ga4-fr-evenements.csv")):
        rep = report_json(source)
        searches = {r["query"]: (r["searches"], r["results"], r["clicks"]) for r in rep["top_searches"]}
        assert searches["refund"] == (30, 5, 18) and searches["price match"] == (8, 0, 0)
        assert searches["gift wrapping"] == (10, 31, 0)  # shown 31 results, none opened
        assert [(r["query"], r["searches"]) for r in rep["no_results"]] == [("price match", 8)]
        votes = {r["url"]: (r["yes"], r["no"]) for r in rep["helpfulness"]}
        assert votes == {"/orders/tracking/track-your-order/": (9, 3), "/returns-refunds/returns/start-a-return/": (4, 4)}
        assert dict(map(tuple, rep["channels"])) == {"email": 5, "chat": 2}


def test_a_views_only_export_says_not_measured_everywhere(tmp_path: Path) -> None:
    src = spec("plausible", "", "plausible-views-only.zip")
    rep = report_json(src)
    assert rep["totals"]["no_result_searches"] is None and rep["totals"]["no_result_rate"] is None
    assert rep["totals"]["searches"] is None and rep["measured"]["views"] is True
    out = run_kbgen("report", "--source", src, "--html", str(tmp_path / "r.html"), cwd=ROOT).stdout
    assert "searches without results: not measured" in out and "votes: not measured" in out
    assert "0% without results" not in out and "0 searches" not in out
    assert "not measured by these sources (their exports do not record it): searches, searches without" in out
    assert "Searches with no results — content to write: not measured" in out
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "not measured by these sources" in page and "<b>not measured</b>" in page


def test_sources_add_up_what_each_measures() -> None:
    rep = report_json(
        spec("plausible", "", "plausible-views-only.zip"), spec("matomo", "", "matomo-getSiteSearchNoResultKeywords-weeks.json")
    )
    assert rep["totals"]["article_views"] == 240 and rep["totals"]["no_result_searches"] == 8
    assert rep["totals"]["searches"] is None  # no source counted all searches: no rate either
    assert rep["totals"]["no_result_rate"] is None
    weeks = [(w["week"], w["no_results"]) for w in rep["weekly"]]
    assert weeks == [("2026-11-02", 2), ("2026-11-09", 2), ("2026-11-16", 2), ("2026-11-23", 2)]


def test_a_us_dated_export_is_refused_naming_file_and_line() -> None:
    proc = run_kbgen("report", "--json", "--source", spec("ga4", "", "ga4-us-dated.csv"), cwd=ROOT, check=False)
    assert proc.returncode == 1
    assert "ga4-us-dated.csv:3" in proc.stderr and "'11/03/2026'" in proc.stderr
    assert "YYYYMMDD" in proc.stderr and "never guesses" in proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["totals"]["article_views"] is None and rep["sources"][0]["failed"] is True  # nothing half-read


@pytest.mark.parametrize(
    ("style", "good", "bad"),
    [
        ("ga4", "20261103", ("2026-11-03", "11/03/2026", "03/11/2026")),
        ("matomo", "2026-11-02,2026-11-08", ("11/02/2026", "2026-11-02,")),
        ("plausible", "2026-11-03", ("20261103", "3.11.2026")),
        ("umami", "2026-11-03T09:15:00.000Z", ("11/03/2026 09:15", "1793000000")),
    ],
)
def test_each_provider_has_its_documented_date_format(style: str, good: str, bad: tuple[str, ...]) -> None:
    assert parse_day(good, style) is not None
    assert all(parse_day(b, style) is None for b in bad)
    assert parse_day("2026-11", "matomo").isoformat() == "2026-11-01"  # period=month


def test_ga4_headers_in_other_languages_and_unknown_ones(tmp_path: Path) -> None:
    for lang, path_h, views_h in (
        ("de", "Seitenpfad und Bildschirmklasse", "Aufrufe"),
        ("es", "Ruta de la página y clase de pantalla", "Vistas"),
        ("it", "Percorso pagina e classe schermata", "Visualizzazioni"),
        ("pt", "Caminho da página e classe da tela", "Visualizações"),
        ("nl", "Paginapad en schermklasse", "Weergaven"),
        ("ja", "ページパスとスクリーン クラス", "表示回数"),
    ):
        (tmp_path / f"{lang}.csv").write_text(f"# GA4\n{path_h},{views_h}\n/a/,\"1,234\"\n", encoding="utf-8")
        res = read_source({"type": "ga4", "path": f"{lang}.csv"}, tmp_path)
        assert res.stats.views[("path", "/a")] == 1234 and not res.failed, (lang, res.problems)
    (tmp_path / "xx.csv").write_text("# GA4\nSivupolku,Katselukerrat\n/a/,3\n", encoding="utf-8")
    proc = run_kbgen("report", "--source", f"ga4:{tmp_path / 'xx.csv'}", cwd=ROOT, check=False)
    assert proc.returncode == 1
    assert "xx.csv:2" in proc.stderr and "'Sivupolku,Katselukerrat' not recognised" in proc.stderr
    assert "Page path and screen class" in proc.stderr and "de, en, es, fr, it, ja" in proc.stderr


def test_source_kind_is_validated_with_the_kinds_listed() -> None:
    path = MONTH / "plausible-api-v1-no-results-by-query.json"
    proc = run_kbgen("report", "--source", f"plausible:nores:{path}", cwd=ROOT, check=False)
    assert proc.returncode == 2
    assert "'nores' is not a kind" in proc.stderr and "no_results, result_clicks, votes, contacts" in proc.stderr
    # Without a kind, a v1 property breakdown cannot say which goal it counts: refused, with the fix.
    proc = run_kbgen("report", "--source", f"plausible:{path}", cwd=ROOT, check=False)
    assert proc.returncode == 1 and "plausible:no_results:FILE" in proc.stderr


def test_kind_in_kbgen_toml(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copy(MONTH / "plausible-api-v1-no-results-by-query.json", tmp_path / "gaps.json")
    (tmp_path / "kbgen.toml").write_text(
        'title = "T"\n[analytics]\nsources = [{type = "plausible", kind = "no_results", path = "gaps.json"}]\n'
    )
    rep = report_json(cwd=tmp_path)
    assert rep["totals"]["no_result_searches"] == 8 and rep["no_results"][0]["query"] == "price match"
    (tmp_path / "kbgen.toml").write_text(
        'title = "T"\n[analytics]\nsources = [{type = "plausible", kind = "typos", path = "gaps.json"}]\n'
    )
    proc = run_kbgen("report", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "analytics.sources[0].kind" in proc.stderr + proc.stdout


def test_matomo_no_result_keywords_recognised_by_their_report_not_a_kind(tmp_path: Path) -> None:
    # A real getSiteSearchNoResultKeywords row carries nb_hits like a page row; its segment says what it is.
    shutil.copy(MONTH / "matomo-getSiteSearchNoResultKeywords-weeks.json", tmp_path / "export.json")
    res = read_source({"type": "matomo", "path": "export.json"}, tmp_path)
    assert res.stats.no_results == {"price match": 8} and not res.stats.views and not res.stats.searches


def test_matomo_csv_is_read_in_utf16() -> None:
    res = read_source({"type": "matomo", "path": "matomo-getPageUrls-flat.csv"}, MONTH)
    assert res.stats.views[("path", "/orders/tracking/track-your-order")] == 120 and not res.problems


def test_ga4_titles_match_without_the_site_name() -> None:
    arts = [SimpleNamespace(id="a", url="/a/", aliases=[], title="Start a return")]
    resolver = Resolver(SimpleNamespace(articles=arts, categories=[], tags=[]))
    for title in ("Start a return – Northwind Help", "Start a return | Northwind", "start a return - Site",
                  "Start a return · Northwind Help"):  # fmt: skip
        assert resolver.article(("title", " ".join(title.split()).casefold())) is arts[0], title
    assert strip_site_name("Returns - Exchanges – Northwind") == "Returns - Exchanges"
    # Knowing the site's name, a title with a dash of its own is not cut at that dash.
    arts.append(SimpleNamespace(id="b", url="/b/", aliases=[], title="Returns - exchanges"))
    arts.append(SimpleNamespace(id="c", url="/c/", aliases=[], title="Returns"))
    resolver = Resolver(SimpleNamespace(articles=arts, categories=[], tags=[]), site_title="Northwind Help")
    assert resolver.article(("title", "returns - exchanges · northwind help")) is arts[1]


def test_hostile_values_are_cleaned_bounded_and_reported(tmp_path: Path) -> None:
    rows = [
        "Event name,query,Event count",
        "view_search_results,\x1b[31mred\x1b[0m refund ann@example.com,3",
        "view_search_results," + "x" * 200_000 + ",1",  # over the CSV field limit: a malformed row
        "search_no_results,card 4111111111111111,2",
    ]
    (tmp_path / "ev.csv").write_text("\n".join(rows) + "\n")
    res = read_source({"type": "ga4", "path": "ev.csv"}, tmp_path)
    assert set(res.stats.query_text.values()) == {"[31mred [0m refund [email]", "card [number]"}
    assert all(len(q) <= 100 and "\x1b" not in q for q in res.stats.query_text.values())
    assert res.skipped == 1 and "line 3" in res.problems[0].message
    # A day-first date inside an Umami ZIP: refused, naming the member and its line.
    with zipfile.ZipFile(MONTH / "umami-data-export.zip") as zf:
        we = zf.read("website_event.csv").decode()
    lines = we.splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[3], "03/11/2026 09:15")
    with zipfile.ZipFile(tmp_path / "u.zip", "w") as zf:
        zf.writestr("website_event.csv", "\n".join(lines) + "\n")
    res = read_source({"type": "umami", "path": "u.zip"}, tmp_path)
    assert res.failed and not res.stats.views
    msg = res.problems[0].message
    assert "in website_event.csv, line 6" in msg and "'03/11/2026 09:15'" in msg and "ISO 8601" in msg


def test_other_documented_shapes(tmp_path: Path) -> None:
    # Plausible's site-settings CSV export: imported_custom_events_*.csv, goal totals per day.
    with zipfile.ZipFile(tmp_path / "p.zip", "w") as zf:
        zf.writestr(
            "imported_custom_events_20261102_20261129.csv",
            "date,name,link_url,path,visitors,events\n2026-11-02,search,,,3,5\n2026-11-10,contact_click,,,1,2\n",
        )
    res = read_source({"type": "plausible", "path": "p.zip"}, tmp_path)
    assert res.stats.unattributed == {"searches": 5, "contacts": 2}
    assert res.measured == {"searches", "contacts"}  # only the goals the file lists
    assert sorted(res.stats.weekly["searches"].items())[0][1] == 5
    # Plausible Stats API v2 with the helpful property: votes per page.
    v2 = {
        "results": [
            {"dimensions": ["feedback", "/a/", "yes"], "metrics": [4]},
            {"dimensions": ["feedback", "/a/", "no"], "metrics": [1]},
        ],
        "query": {"metrics": ["events"], "dimensions": ["event:goal", "event:props:url", "event:props:helpful"]},
    }
    (tmp_path / "v2.json").write_text(json.dumps(v2))
    res = read_source({"type": "plausible", "path": "v2.json"}, tmp_path)
    assert res.stats.helpful[("path", "/a")] == 4 and res.stats.not_helpful[("path", "/a")] == 1
    assert "votes" in res.measured
    # Matomo Events.getName with the category as secondary dimension, flat=1: contacts per page.
    rows = [{"label": "/a/ - contact_click", "nb_events": 3, "nb_visits": 3},
            {"label": "/b/ - search_click", "nb_events": 2, "nb_visits": 2}]  # fmt: skip
    (tmp_path / "m.json").write_text(json.dumps(rows))
    res = read_source({"type": "matomo", "path": "m.json"}, tmp_path)
    assert res.stats.contacts[("path", "/a")] == 3 and res.stats.unattributed["result_clicks"] == 2
    assert "votes" not in res.measured  # the action (yes/no) is not in this report
    # Umami website_event.csv without event_data: event totals, no votes.
    res = read_source({"type": "umami", "path": "umami-website-event.csv"}, MONTH.parent)
    assert "views" in res.measured and "votes" not in res.measured and res.stats.unattributed["searches"] == 1
