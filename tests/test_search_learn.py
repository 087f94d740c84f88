"""Learning from customers' searches (issue 14 item 5): collector clicks → customer words → search."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE_EN, run_kbgen, sample_toml_one_language, serve_directory

from kbgen.analytics.collector import COLUMNS, FIELD_COLUMNS, connect

DAY = 86_400_000
T0 = 1_786_000_000_000  # 2026-08-06
REFUND = "/returns-refunds/refunds/refund-not-received/"
TRACK = "/orders/tracking/track-your-order/"
QUERY = "where is my dosh"  # "dosh" (slang for money) is in no article of the sample help centre


def add_events(db_path: Path, events: list[dict[str, object]]) -> None:
    """Rows in a real collector database (the collector's own schema), as `kbgen collect` stores them."""
    db = connect(db_path)
    rows = [
        (e.pop("ts"), e.pop("device", "mobile"), *(e.get(c) for c in FIELD_COLUMNS))
        for e in [dict(x) for x in events]
    ]
    db.executemany(
        f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", rows
    )
    db.commit()
    db.close()


def click(query: str, url: str, day: int, minute: int = 0) -> dict[str, object]:
    return {"name": "search_click", "page": "/", "query": query, "url": url, "rank": 3,
            "ts": T0 + day * DAY + minute * 60_000}  # fmt: skip


def project(tmp_path: Path, search_extra: str = "") -> Path:
    dest = tmp_path / "help"
    shutil.copytree(SAMPLE_EN, dest / "content")
    toml = sample_toml_one_language()
    toml = toml.replace("[search]\n", "[search]\n" + search_extra, 1)
    toml += '\n[analytics]\nsources = [{type = "collector", path = "analytics.sqlite"}]\n'
    (dest / "kbgen.toml").write_text(toml, encoding="utf-8")
    return dest


def top_urls(root: Path, q: str) -> list[str]:
    out = run_kbgen("search", "--json", "--no-prefix", q, cwd=root).stdout
    return [r["url"] for r in json.loads(out)["results"]]


def month_of_clicks() -> list[dict[str, object]]:
    """Customers on four different days call a refund "dosh"; one noise click on the tracking article."""
    ev = [click(QUERY, REFUND, d) for d in (1, 5, 12, 20)]
    ev += [click("dosh not back yet", REFUND, 26)]
    ev += [click(QUERY, TRACK, 13)]
    return ev


def test_clicks_from_the_collector_teach_the_article_customer_words(tmp_path: Path) -> None:
    root = project(tmp_path)
    db = root / "analytics.sqlite"
    # One visitor, one sitting: three clicks on the same day teach nothing.
    add_events(db, [click(QUERY, REFUND, 0, m) for m in (0, 1, 2)])
    run_kbgen("build", cwd=root)
    assert REFUND not in top_urls(root, "dosh")[:1]
    report = run_kbgen("report", cwd=root).stdout
    assert "Learned search words: none yet" in report
    # A month of customers: the database changed, so the next build is not "up to date" and learns.
    add_events(db, month_of_clicks())
    run_kbgen("build", cwd=root)
    assert top_urls(root, "dosh")[0] == REFUND
    assert top_urls(root, "my dosh never arrived")[0] == REFUND
    report = run_kbgen("report", cwd=root).stdout
    assert "Learned search words" in report and "dosh (6, 8)" in report  # days 0, 1, 5, 12, 20, 26
    # the noise click (one day, 1 of 8 clicks of "dosh") taught the tracking article nothing
    assert "Track your order" not in report.split("Learned search words", 1)[1]


def test_single_click_and_one_visitor_learn_nothing(tmp_path: Path) -> None:
    root = project(tmp_path)
    add_events(
        root / "analytics.sqlite", [click(QUERY, REFUND, 2)] + [click(QUERY, REFUND, 3, m) for m in range(9)]
    )
    run_kbgen("build", cwd=root)  # two days only: below learn_min_days = 3
    assert REFUND not in top_urls(root, "dosh")[:1]


@pytest.mark.parametrize(
    "extra",
    ["learn = false\n", 'learn_block = ["Dosh"]\n', "front matter"],
)
def test_learning_off_and_blocked_words(tmp_path: Path, extra: str) -> None:
    root = project(tmp_path, "" if extra == "front matter" else extra)
    if extra == "front matter":
        page = root / "content/returns-refunds/refunds/refund-not-received.md"
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace("---\n", "---\nsearch_block: [dosh]\n", 1), encoding="utf-8")
    add_events(root / "analytics.sqlite", month_of_clicks())
    run_kbgen("build", cwd=root)
    assert REFUND not in top_urls(root, "dosh")[:1]
    assert "dosh (" not in run_kbgen("report", cwd=root).stdout


def test_config_rejects_one_day_of_evidence(tmp_path: Path) -> None:
    root = project(tmp_path, "learn_min_days = 1\n")
    proc = run_kbgen("build", cwd=root, check=False)
    assert proc.returncode != 0
    assert "`search.learn_min_days` must be at least 2" in proc.stdout + proc.stderr


@pytest.mark.browser
def test_browser_finds_the_article_in_the_customers_words(tmp_path: Path, browser) -> None:
    root = project(tmp_path)
    add_events(root / "analytics.sqlite", month_of_clicks())
    run_kbgen("build", cwd=root)
    url, server = serve_directory(root / "site")
    try:
        page = browser.new_page()
        page.goto(url + "/search/?q=" + "dosh")
        first = page.locator("[data-kb-search-page] a.kb-sr-page").first
        first.wait_for()
        hrefs = page.eval_on_selector_all(
            "[data-kb-search-page] a.kb-sr-page[href]", "as => as.map(a => a.getAttribute('href'))"
        )
        assert hrefs and REFUND in hrefs[0], hrefs
        page.close()
    finally:
        server.shutdown()


def test_provider_export_of_search_clicks_teaches_from_unique_visitors(tmp_path: Path) -> None:
    root = project(tmp_path)
    toml = (root / "kbgen.toml").read_text(encoding="utf-8")
    toml = toml.replace(
        '{type = "collector", path = "analytics.sqlite"}', '{type = "csv", path = "clicks.csv"}'
    )
    (root / "kbgen.toml").write_text(toml, encoding="utf-8")
    # Plausible's breakdown of a `search_click` goal by its `query` and `url` properties
    csv = "query,url,visitors,events\n"
    csv += f"{QUERY},{REFUND},1,6\n"  # one customer clicking six times teaches nothing
    (root / "clicks.csv").write_text(csv, encoding="utf-8")
    run_kbgen("build", cwd=root)
    assert REFUND not in top_urls(root, "dosh")[:1]
    csv += f"dosh never came back,{REFUND},4,5\n{QUERY},{TRACK},1,1\n"
    (root / "clicks.csv").write_text(csv, encoding="utf-8")
    run_kbgen("build", cwd=root)
    assert top_urls(root, "dosh")[0] == REFUND
    assert "dosh (5, 11)" in run_kbgen("report", cwd=root).stdout
