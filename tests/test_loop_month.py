"""The self-service loop end to end (issue 15): a simulated month sent through the real collector over HTTP,
real Chromium sessions against the built site, then `kbgen report --json`, `--html` and `--queries-out`.

The month (bench/loop_month.py) has known truth: views, failed searches of each kind, votes and contact
clicks after failed searches; the report must give exactly that truth."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ROOT,
    SAMPLE_EN,
    free_port,
    run_kbgen,
    sample_toml_one_language,
    serve_directory,
    wait_for,
)

from kbgen.analytics.collector import Collector

pytestmark = pytest.mark.browser

_spec = importlib.util.spec_from_file_location("loop_month", ROOT / "bench" / "loop_month.py")
assert _spec and _spec.loader
sim = importlib.util.module_from_spec(_spec)
sys.modules["loop_month"] = sim  # dataclasses look their module up
_spec.loader.exec_module(sim)

# Chromium's sessions come from a third device class, so that they never link to the simulated ones.
TABLET = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
DAY = 86_400


def _events(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT count(*) FROM events").fetchone()[0])


def _browser_sessions(browser: Any, site_url: str, db: Path, clock: Any) -> dict[str, int]:
    """Four customers in Chromium, an hour apart, ten days before the period's end. Returns what they did."""
    did = {"zero_results": 0, "abandoned": 0, "contact": 0, "no_vote": 0, "contacts_after": 0, "views": 0}
    ctx = browser.new_context(user_agent=TABLET, viewport={"width": 1100, "height": 900})
    ctx.route("https://northwind.example/**", lambda route: route.fulfill(body="chat"))
    page = ctx.new_page()

    def at(hours: int) -> None:
        clock.now = sim.T_END - 10 * DAY + hours * 3600

    def stored(n: int) -> None:
        assert wait_for(lambda: _events(db) >= n, 15), f"the collector did not get {n} events"

    n = _events(db)
    # 1. No results on the search page, then the contact block the empty page shows.
    at(0)
    page.goto(site_url + "/search/?q=flurbo")
    page.locator(".kb-sp-status", has_text="No results").wait_for()
    n += 3  # page_view, search, search_no_results
    stored(n)
    page.locator("#kb-contact [data-kb-contact='chat']").first.click()
    n += 1
    stored(n)
    did["zero_results"] += 1
    did["contacts_after"] += 1
    did["views"] += 1
    # 2. A result opened from the header box, then "No".
    at(1)
    page.goto(site_url + "/")
    n += 1
    stored(n)
    form = page.locator("form[data-kb-search]").locator("visible=true").first
    form.locator("[data-kb-search-input]").fill("change delivery address")
    first = form.locator(".kb-sr-page").first
    first.wait_for()
    first.click()
    page.wait_for_url(lambda u: u.endswith("/change-delivery-address/?sq=change+delivery+address"))
    n += 3  # search, search_click, page_view
    stored(n)
    page.locator("[data-kb-feedback='no']").first.click()
    n += 1
    stored(n)
    did["no_vote"] += 1
    did["views"] += 2
    # 3. A result opened from the search page, then a contact click on the article.
    at(2)
    page.goto(site_url + "/search/?q=refund+not+received")
    page.locator(".kb-sp-results a").first.wait_for()
    n += 2
    stored(n)
    page.locator(".kb-sp-results a").first.click()
    page.wait_for_url(lambda u: u.endswith("/refund-not-received/?sq=refund+not+received"))
    n += 2  # search_click, page_view
    stored(n)
    page.locator("#kb-contact [data-kb-contact='chat']").first.click()
    n += 1
    stored(n)
    did["contact"] += 1
    did["contacts_after"] += 1
    did["views"] += 2
    # 4. Results shown, none opened: the customer goes home instead.
    at(3)
    page.goto(site_url + "/search/?q=loyalty+points")
    page.locator(".kb-sp-results a").first.wait_for()
    n += 2
    stored(n)
    page.goto(site_url + "/")
    n += 1
    stored(n)
    did["abandoned"] += 1
    did["views"] += 2
    ctx.close()
    return did


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[dict[str, Any]]:
    import uvicorn

    tmp = tmp_path_factory.mktemp("loop")
    shutil.copytree(SAMPLE_EN, tmp / "content")
    (tmp / "content" / sim.NEW_ARTICLE).write_text(sim.NEW_ARTICLE_TEXT, encoding="utf-8")
    port = free_port()
    toml = sample_toml_one_language() + (
        '\n[analytics]\nsources = [{type = "collector", path = "a.sqlite"}]\n'
        f'[analytics.beacon]\nurl = "http://127.0.0.1:{port}/collect"\n'
    )
    (tmp / "kbgen.toml").write_text(toml, encoding="utf-8")
    run_kbgen("build", cwd=tmp)
    site_url, http = serve_directory(tmp / "site")
    clock = sim.Clock()
    db = tmp / "a.sqlite"
    app = Collector(db, ["*"], rate=0, clock=clock)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", access_log=False, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, 120)
    timeline, truth = sim.simulate()
    sent = sim.replay(f"http://127.0.0.1:{port}/collect", clock, timeline)
    assert _events(db) == sent
    did = _browser_sessions(browser, site_url, db, clock)
    server.should_exit = True
    thread.join(10)
    http.shutdown()
    out = run_kbgen("report", "--days", "30", "--json", "--html", "r.html", "--queries-out", "top.jsonl", cwd=tmp)
    yield {"tmp": tmp, "truth": truth, "did": did, "report": json.loads(out.stdout)}


def test_the_report_gives_the_months_truth(month: dict[str, Any]) -> None:
    truth, did = month["truth"], month["did"]
    got = sim.recovered(month["report"])
    want = dict(truth)
    for kind in ("zero_results", "abandoned", "contact", "no_vote"):
        want[kind] += did[kind]
    browser_failed = did["zero_results"] + did["abandoned"] + did["contact"] + did["no_vote"]
    want["failed"] += browser_failed
    want["searches"] += browser_failed
    want["contacts_after_failed_search"] += did["contacts_after"]
    want["page_views"] += did["views"]
    groups = dict(want["groups"])
    for q in ("change delivery address", "refund not received", "loyalty points"):
        groups[q] += 1
    groups["flurbo"] = 1
    want["groups"] = groups
    assert got == want


def test_numbers_agree_and_the_partial_week_is_marked(month: dict[str, Any]) -> None:
    rep = month["report"]
    weekly = rep["weekly"]
    assert sum(w["views"] for w in weekly) == rep["totals"]["all_views"]
    assert sum(w["searches"] for w in weekly) == rep["totals"]["searches"]
    assert weekly[-1]["partial"] and weekly[-1]["days"] == 3  # the period ends on a Wednesday
    assert not any(w["partial"] for w in weekly[1:-1])
    f = rep["failed_searches"]
    assert sum(w["failed"] for w in f["weeks"]) == f["current"]["total"]
    assert sum(g["count"] for g in f["groups"]) == f["current"]["total"]


def test_the_todo_list_names_files_and_changes(month: dict[str, Any]) -> None:
    todo = month["report"]["todo"]
    gift = next(r for r in todo if r["kind"] == "failed_search" and "gift wrapping" in r["what"].casefold())
    assert gift["value"] == 11 and gift["change"] == 11  # it did not fail in the previous period
    assert gift["detail"]["queries"][:2] == ["gift wrapping", "gift wraping"]
    cards = next(r for r in todo if r["kind"] == "failed_search" and "gift card" in r["what"])
    assert (cards["value"], cards["previous"], cards["change"]) == (5, 4, 1)
    kinds = {r["kind"] for r in todo}
    assert {"failed_search", "unhelpful", "contact"} <= kinds
    unhelpful = next(r for r in todo if r["kind"] == "unhelpful")
    assert unhelpful["source"] == "shipping-delivery/delivery-problems/change-delivery-address.md"
    contact = next(r for r in todo if r["kind"] == "contact" and r["source"] == sim.REFUND)
    assert contact["detail"]["contacts"] == 8
    assert [r["priority"] for r in todo] == list(range(1, len(todo) + 1))
    scores = [r["score"] for r in todo]
    assert scores == sorted(scores, reverse=True)


def test_queries_out_passes_kbgen_search_check(month: dict[str, Any]) -> None:
    tmp = month["tmp"]
    lines = [json.loads(x) for x in (tmp / "top.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"q": "track my order", "expect": [sim.TRACK]} in lines
    assert all(set(x) == {"q", "expect"} for x in lines)
    proc = run_kbgen("search", "--check", "top.jsonl", cwd=tmp, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_html_report_is_readable_at_360px(month: dict[str, Any], browser: Any) -> None:
    html = (month["tmp"] / "r.html").read_text(encoding="utf-8")
    rep = month["report"]
    assert f"{rep['totals']['all_views']:,}" in html
    assert "partial: 3 of 7 days" in html
    assert "Gap re-check" in html and "closed" in html and "still failing" in html
    ctx = browser.new_context(viewport={"width": 360, "height": 740})
    page = ctx.new_page()
    page.goto((month["tmp"] / "r.html").as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    smallest = page.evaluate(
        """() => Math.min(...[...document.querySelectorAll('.chart *, svg text')]
             .filter(e => e.tagName != 'title' && e.getClientRects().length
                          && [...e.childNodes].some(t => t.nodeType == 3 && t.textContent.trim()))
             .map(e => e.closest('svg') ? e.getBoundingClientRect().height
                                        : parseFloat(getComputedStyle(e).fontSize)))"""
    )
    assert smallest >= 11, smallest
    assert page.locator(".chart").count() >= 3
    ctx.close()
