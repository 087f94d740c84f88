"""Importers read real-format exports; bad rows are skipped, counted and reported, never a crash."""

from __future__ import annotations

import shutil
import sqlite3
import zipfile
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from kbgen.analytics.collector import COLUMNS, FIELD_COLUMNS, connect
from kbgen.analytics.importers import normalize_path, parse_count, read_source
from kbgen.analytics.popularity import Resolver, apply_popularity, load_analytics

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "analytics"
TRACK = ("path", "/orders/tracking/track-your-order")
RETURN = ("path", "/returns-refunds/returns/start-a-return")


def read(kind: str, name: str, root: Path = FIXTURES, **extra: str):
    return read_source({"type": kind, "path": name, **extra}, root)


def article(aid: str, url: str, aliases: tuple[str, ...] = (), title: str = "") -> SimpleNamespace:
    return SimpleNamespace(
        id=aid,
        url=url,
        aliases=list(aliases),
        title=title or aid.rsplit("/", 1)[-1],
        views=0,
        popularity_rank=None,
        category=None,
    )


@pytest.fixture
def library() -> SimpleNamespace:
    arts = [
        article(
            "orders/tracking/track-your-order",
            "/orders/tracking/track-your-order/",
            ("/hc/en-us/articles/1234-Track-my-order",),
            "Track your order",
        ),
        article(
            "returns-refunds/returns/start-a-return",
            "/returns-refunds/returns/start-a-return/",
            ("/hc/en-us/articles/2201-How-do-I-return-an-item",),
            "Start a return",
        ),
        article(
            "returns-refunds/refunds/when-will-i-get-my-refund",
            "/returns-refunds/refunds/when-will-i-get-my-refund/",
        ),
        article(
            "account-privacy/your-account/reset-your-password",
            "/account-privacy/your-account/reset-your-password/",
        ),
        article("product-care/kitchen/descale-your-kettle", "/product-care/kitchen/descale-your-kettle/"),
        article("orders/placing-orders/place-an-order", "/orders/placing-orders/place-an-order/"),
    ]
    cats = [SimpleNamespace(url="/orders/", sections=[SimpleNamespace(url="/orders/tracking/")])]
    return SimpleNamespace(articles=arts, categories=cats, tags=[])


def config(sources: list[dict[str, str]], base_url: str = "/", window_days: int = 90) -> SimpleNamespace:
    return SimpleNamespace(
        base_url=base_url,
        analytics=SimpleNamespace(sources=sources, window_days=window_days),
        title="Northwind",
        brand=SimpleNamespace(brand_color="#0b5cad"),
    )


# -- paths and numbers --


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/orders/tracking/track-your-order/", "/orders/tracking/track-your-order"),
        ("https://help.example.com/Orders/Track/index.html?utm_source=x#top", "/orders/track"),
        ("//help.example.com/a/b/", "/a/b"),
        ("orders/track", "/orders/track"),
        ("/caf%C3%A9/", "/café"),
        ("/", "/"),
        ("/index.html", "/"),
        ("/a//b///", "/a/b"),
        ("   ", None),
    ],
)
def test_normalize_path(raw: str, expected: str | None) -> None:
    assert normalize_path(raw) == expected


def test_parse_count() -> None:
    assert [parse_count(x) for x in ("12", "1,204", "1.204", "12.0", 7, "x", "-3", "1.5", True)] == [
        12,
        1204,
        1204,
        12,
        7,
        None,
        None,
        None,
        None,
    ]


def test_resolver_uses_urls_aliases_ids_and_base_path(library: SimpleNamespace) -> None:
    r = Resolver(library, "/help/")
    track = library.articles[0]
    for raw in (
        "/help/orders/tracking/track-your-order/",
        "https://x.example/HELP/Orders/Tracking/Track-Your-Order",
        "/orders/tracking/track-your-order/index.html",
        "/hc/en-us/articles/1234-Track-my-order?x=1",
    ):
        assert r.article(("path", normalize_path(raw) or "")) is track, raw
    assert r.article(("id", "Orders/Tracking/Track-Your-Order")) is track
    assert r.article(("title", "track your order")) is track
    assert r.article(("path", "/nowhere")) is None
    assert r.is_known_page(("path", "/help/orders")) and r.is_known_page(("path", "/search"))


# -- each provider --


def test_plausible_top_pages_csv() -> None:
    res = read("plausible", "plausible-pages.csv")
    assert (res.rows, res.skipped, res.problems) == (11, 0, [])
    views = res.stats.views
    assert views[TRACK] == 2512 + 3  # the same page written with capitals and a trailing slash
    assert views[("path", "/hc/en-us/articles/1234-track-my-order")] == 131
    assert views[("path", "/")] == 1402


def test_plausible_zip_export_gives_pages_and_trend() -> None:
    res = read("plausible", "plausible-export.zip")
    assert res.stats.views[TRACK] == 2515 and not res.problems
    assert res.stats.weekly["views"] == {date(2026, 8, 3): 702 + 640, date(2026, 8, 10): 801 + 512}
    assert res.kinds == {"pages", "trend"}


def test_plausible_imported_pages_csv(tmp_path: Path) -> None:
    (tmp_path / "imported_pages_20260801_20260831.csv").write_text(
        "date,hostname,page,visits,visitors,pageviews,total_scroll_depth,total_scroll_depth_visits,"
        "total_time_on_page,total_time_on_page_visits\n"
        "2026-08-03,help.northwind.example,/orders/tracking/track-your-order/,40,38,52,3000,40,2000,40\n"
        "2026-08-11,help.northwind.example,/orders/tracking/track-your-order/,30,30,31,2000,30,1000,30\n"
    )
    res = read("plausible", "imported_pages_20260801_20260831.csv", tmp_path)
    assert res.stats.views[TRACK] == 83
    assert res.stats.weekly["views"] == {date(2026, 8, 3): 52, date(2026, 8, 10): 31}


def test_ga4_pages_and_screens() -> None:
    res = read("ga4", "ga4-pages-and-screens.csv")
    assert not res.problems and res.skipped == 0
    views = res.stats.views
    assert views[TRACK] == 2301
    assert views[("path", "/returns-refunds/returns/return-policy/")] == 0  # normalised, no slash
    assert views[("path", "/returns-refunds/returns/return-policy")] == 402
    assert ("path", "(not set)") not in views and sum(views.values()) == 7708 - 14  # totals row ignored
    assert "trend" not in res.kinds  # "Nth day" chart data is not a date series


def test_ga4_dated_table_gives_the_trend() -> None:
    res = read("ga4", "ga4-pages-by-date.csv")
    assert res.stats.views[TRACK] == 391
    assert res.stats.weekly["views"] == {date(2026, 8, 3): 120 + 131, date(2026, 8, 10): 140 + 88 + 92}


def test_ga4_search_terms() -> None:
    res = read("ga4", "ga4-search-terms.csv")
    assert res.stats.searches["where is my order"] == 412 and res.kinds == {"searches"}


def test_ga4_title_report_matches_by_title(tmp_path: Path, library: SimpleNamespace) -> None:
    (tmp_path / "titles.csv").write_text("# GA4\n\nPage title and screen class,Views\nTrack your order,77\n")
    data = load_analytics(library, config([{"type": "ga4", "path": str(tmp_path / "titles.csv")}]), tmp_path)
    assert data.articles["orders/tracking/track-your-order"].views == 77


def test_matomo_hierarchical_flat_and_dated() -> None:
    tree = read("matomo", "matomo-page-urls.json")
    assert tree.stats.views[TRACK] == 1950 and tree.stats.views[RETURN] == 1100
    assert tree.stats.views[("path", "/returns-refunds/returns/items-you-cant-return")] == 220  # "220" string
    assert tree.stats.views[("path", "/orders")] == 310 and tree.stats.views[("path", "/")] == 1207
    # A folder row exported without its subtable cannot be split into pages: skipped and said so.
    assert tree.skipped == 1 and "folder 'search'" in tree.problems[0].message
    flat = read("matomo", "matomo-page-urls-flat.json")
    assert (
        flat.stats.views[TRACK] == 1950
        and flat.stats.views[("path", "/product-care/kitchen/descale-your-kettle")]
    )
    daily = read("matomo", "matomo-page-urls-by-day.json")
    assert daily.stats.views[TRACK] == 71 + 64 + 80
    assert daily.stats.weekly["views"] == {date(2026, 8, 3): 71 + 64 + 22, date(2026, 8, 10): 80}


def test_matomo_site_search() -> None:
    kw = read("matomo", "matomo-site-search-keywords.json")
    assert kw.kinds == {"searches"} and kw.stats.searches["where is my order"] == 212
    nr = read("matomo", "matomo-site-search-no-result-keywords.json")
    assert nr.kinds == {"no_results"} and nr.stats.no_results == {"price match": 33, "student discount": 12}


def test_umami_exports() -> None:
    events = read("umami", "umami-website-event.csv")
    assert events.stats.views[TRACK] == 2  # the custom "search" event (type 2) is not a view
    assert events.stats.views[RETURN] == 1 and events.skipped == 0
    assert events.stats.weekly["views"] == {date(2026, 8, 3): 2, date(2026, 8, 10): 2}
    metrics = read("umami", "umami-metrics-url.json")
    assert metrics.stats.views[TRACK] == 930


def test_generic_csv() -> None:
    res = read("csv", "generic-views.csv")
    assert res.stats.views[RETURN] == 300  # origin, query and fragment stripped
    assert res.stats.views[("path", "/product-care/kitchen/season-cast-iron-pan")] == 1204


# -- malformed input: counted, reported, never a crash --


@pytest.mark.parametrize(
    ("kind", "fixture", "bad", "skipped", "reason"),
    [
        (
            "plausible",
            "plausible-pages.csv",
            "/orders/x,12,lots,1,1\n/orders/y\n",
            2,
            "views 'lots' is not a count",
        ),
        ("ga4", "ga4-pages-and-screens.csv", None, 2, "not a count"),
        ("csv", "generic-views.csv", '/a/,-4\n/b/,"unterminated\n', 2, "views '-4' is not a count"),
        (
            "umami",
            "umami-website-event.csv",
            "x,y,z,2026-13-45 00:00:00,/a/,,,,,,1,,v\nshort,row\n",
            2,
            "is not a date",
        ),
    ],
)
def test_malformed_rows_are_skipped_counted_and_reported(
    tmp_path: Path, kind: str, fixture: str, bad: str | None, skipped: int, reason: str
) -> None:
    text = (FIXTURES / fixture).read_text()
    if bad is None:  # GA4: damage two rows inside the table
        text = text.replace("/,1650,", "/,n/a,").replace("/search/,910,", "/search/,9 1 0,")
    else:
        text += bad
    (tmp_path / fixture).write_text(text)
    res = read(kind, fixture, tmp_path)
    assert res.skipped == skipped, res.problems
    assert len(res.problems) == 1
    message = res.problems[0].message
    assert f"skipped {skipped} malformed row(s)" in message and reason in message, message
    assert res.problems[0].level == "warning" and res.problems[0].line > 0
    assert sum(res.stats.views.values()) > 0  # the good rows still count


def test_malformed_json_sources(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(
        '[{"label": "/a", "url": "https://x/a/", "nb_hits": "many"}, 3, '
        '{"label": "/b", "url": "https://x/b/", "nb_hits": 4}]'
    )
    res = read("matomo", "bad.json", tmp_path)
    assert res.skipped == 2 and res.stats.views[("path", "/b")] == 4
    assert "nb_hits 'many' is not a count" in res.problems[0].message
    (tmp_path / "err.json").write_text('{"result":"error","message":"You can\'t access this resource"}')
    assert "error answer" in read("matomo", "err.json", tmp_path).problems[0].message
    (tmp_path / "trunc.json").write_text('[{"label": ')
    assert "not JSON" in read("matomo", "trunc.json", tmp_path).problems[0].message
    (tmp_path / "u.json").write_text('[{"x": "/a/", "y": 3}, {"x": "/b/"}, "z"]')
    umami = read("umami", "u.json", tmp_path)
    assert umami.skipped == 2 and umami.stats.views[("path", "/a")] == 3


def test_missing_unknown_and_unrecognised_sources(tmp_path: Path) -> None:
    assert "not found" in read("ga4", "nope.csv", tmp_path).problems[0].message
    assert "not one of" in read("webtrends", "x.csv", tmp_path).problems[0].message
    (tmp_path / "odd.csv").write_text("country,visitors\nUK,3\n")
    odd = read("csv", "odd.csv", tmp_path)
    assert odd.failed and "header 'country,visitors' not recognised" in odd.problems[0].message
    (tmp_path / "empty.zip").write_bytes(b"")
    zipfile.ZipFile(tmp_path / "other.zip", "w").writestr("countries.csv", "name,visitors\nUK,1\n")
    assert "has none of pages.csv" in read("plausible", "other.zip", tmp_path).problems[0].message
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 100)
    assert read("collector", "junk.sqlite", tmp_path).problems


# -- the collector's database --


def make_collector_db(path: Path, events: list[dict[str, object]]) -> None:
    db = connect(path)
    rows = [
        (e.pop("ts", 1_786_000_000_000), e.pop("device", "desktop"), *(e.get(c) for c in FIELD_COLUMNS))
        for e in [dict(x) for x in events]
    ]
    db.executemany(
        f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", rows
    )
    db.close()


DAY = 86_400_000
T0 = 1_786_000_000_000  # 2026-08-06


def sample_events() -> list[dict[str, object]]:
    track = {
        "id": "orders/tracking/track-your-order",
        "category": "orders",
        "type": "howto",
        "page": "/orders/tracking/track-your-order/",
    }
    ev: list[dict[str, object]] = []
    ev += [{"name": "page_view", **track, "ts": T0 + i * DAY // 4} for i in range(12)]
    ev += [{"name": "page_view", "page": "/returns-refunds/returns/start-a-return/", "ts": T0 + 8 * DAY}] * 3
    ev += [{"name": "page_view", "page": "/search/"}, {"name": "page_view", "page": "/gone/old-page/"}]
    ev += [{"name": "page_view", **track, "device": "bot"}] * 50  # crawlers do not count
    ev += [{"name": "page_view", **track, "ts": T0 - 200 * DAY}] * 40  # outside the 90-day window
    ev += [{"name": "search", "page": "/", "query": "Refund", "results": 4}] * 2
    ev += [{"name": "search", "page": "/", "query": "refund", "results": 5, "ts": T0 + 1}]
    ev += [
        {"name": "search", "page": "/", "query": "price match", "results": 0},
        {"name": "search_no_results", "page": "/", "query": "price match"},
    ]
    ev += [
        {
            "name": "search_click",
            "page": "/",
            "query": "refund",
            "url": "/returns-refunds/returns/start-a-return/",
            "rank": 1,
        }
    ]
    ev += [{"name": "feedback", **track, "url": track["page"], "helpful": "yes"}] * 3
    ev += [{"name": "feedback", **track, "url": track["page"], "helpful": "no"}]
    ev += [{"name": "contact_click", **track, "url": track["page"], "channel": "chat"}] * 2
    ev += [{"name": "video_play", **track, "url": track["page"], "video": "youtube:abc"}]
    return ev


def test_collector_database(tmp_path: Path, library: SimpleNamespace) -> None:
    make_collector_db(tmp_path / "a.sqlite", sample_events())
    res = read("collector", "a.sqlite", tmp_path)
    assert not res.problems
    st = res.stats
    assert st.views[("id", "orders/tracking/track-your-order")] == 12
    assert st.searches == {"refund": 3, "price match": 1} and st.search_results["refund"] == 5
    assert st.query_text["refund"] in ("Refund", "refund") and st.no_results == {"price match": 1}
    assert sum(st.weekly["views"].values()) == 12 + 3 + 2
    data = load_analytics(library, config([{"type": "collector", "path": "a.sqlite"}]), tmp_path)
    track = data.articles["orders/tracking/track-your-order"]
    assert (track.views, track.helpful, track.not_helpful, track.contacts, track.videos) == (12, 3, 1, 2, 1)
    assert data.unmatched == {"/gone/old-page": 1} and data.page_views == 1
    # A wider window takes the old events in too.
    wide = load_analytics(
        library, config([{"type": "collector", "path": "a.sqlite"}], window_days=400), tmp_path
    )
    assert wide.articles["orders/tracking/track-your-order"].views == 52


# -- popularity --


def test_apply_popularity_ranks_articles_from_all_sources(tmp_path: Path, library: SimpleNamespace) -> None:
    for name in ("plausible-pages.csv", "matomo-page-urls-flat.json"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    cfg = config(
        [
            {"type": "plausible", "path": "plausible-pages.csv"},
            {"type": "matomo", "path": "matomo-page-urls-flat.json"},
            {"type": "ga4", "path": "missing.csv"},
        ]
    )
    rep = apply_popularity(library, cfg, tmp_path)
    by_id = {a.id: a for a in library.articles}
    track = by_id["orders/tracking/track-your-order"]
    assert track.views == 2512 + 3 + 131 + 1950 and track.popularity_rank == 1  # alias views included
    assert by_id["returns-refunds/returns/start-a-return"].popularity_rank == 2
    assert by_id["orders/placing-orders/place-an-order"].views == 0
    assert by_id["orders/placing-orders/place-an-order"].popularity_rank is None
    ranks = sorted(a.popularity_rank for a in library.articles if a.popularity_rank)
    assert ranks == list(range(1, len(ranks) + 1))
    messages = [p.message for p in rep.problems]
    assert any("missing.csv" in m and "not found" in m for m in messages)
    assert any("/blog/black-friday-2025" in m and "aliases" in m for m in messages)
    assert rep.ranked == len(ranks) and "views on" in rep.summary()


def test_apply_popularity_without_sources_resets(library: SimpleNamespace) -> None:
    library.articles[0].views, library.articles[0].popularity_rank = 5, 1
    rep = apply_popularity(library, config([]), Path("."))
    assert rep.problems == [] and all(a.views == 0 and a.popularity_rank is None for a in library.articles)


def test_base_url_prefix_is_stripped(tmp_path: Path, library: SimpleNamespace) -> None:
    (tmp_path / "v.csv").write_text("path,views\n/help/orders/tracking/track-your-order/,9\n")
    apply_popularity(
        library, config([{"type": "csv", "path": "v.csv"}], base_url="https://cdn.example/help/"), tmp_path
    )
    assert library.articles[0].views == 9


def test_database_is_only_read(tmp_path: Path) -> None:
    make_collector_db(tmp_path / "a.sqlite", [{"name": "page_view", "page": "/"}])
    before = (tmp_path / "a.sqlite").read_bytes()
    read("collector", "a.sqlite", tmp_path)
    assert (tmp_path / "a.sqlite").read_bytes() == before
    with sqlite3.connect(tmp_path / "a.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
