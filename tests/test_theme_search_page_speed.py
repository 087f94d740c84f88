"""The search page opened with ?q= (issue 18 "Keep": Lighthouse mobile 100 on /search/?q=refund): kb-init.js
starts fetching the search index from <head>, before search-core.js has even arrived, and search-core.js
uses those responses instead of asking again; what the page tells search engines (indexable, one canonical
URL for every ?q= variant) agrees with robots.txt and the sitemap."""

from __future__ import annotations

import shutil
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import pytest
from conftest import SAMPLE_EN, run_kbgen, sample_toml_one_language, serve_directory

SITE_URL = "https://help.northwind.example"  # the sample's site_url (kbgen.toml)


def _index_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(urlsplit(r.url).path) if "/_search/" in r.url else None)
    return seen


@pytest.mark.browser
def test_index_is_fetched_before_search_scripts_arrive(browser, site_url: str) -> None:
    ctx = browser.new_context(viewport={"width": 360, "height": 740})
    page = ctx.new_page()
    held: list = []
    try:
        seen = _index_requests(page)
        # search-core.js (the engine that used to be the first to ask for the index) is held back
        page.route("**/static/search-core.js*", lambda route: held.append(route))
        with page.expect_request(lambda r: "/_search/bundle." in r.url, timeout=15_000):
            page.goto(site_url + "/search/?q=refund", wait_until="commit")
        assert held and not page.evaluate("!!window.kbSearchCore"), "search-core.js ran before the index was asked for"
        assert len(seen) == 2 and seen[0] == "/_search/meta.json" and seen[1].startswith("/_search/bundle."), seen
        for route in held:
            route.continue_()
        page.wait_for_function("document.querySelectorAll('.kb-sp-results .kb-sr-group').length > 0")
        assert "refund" in page.locator(".kb-sp-results .kb-sr-group").first.inner_text().lower()
        # the engine took the early responses: each index file was fetched once
        assert sorted(seen) == sorted(set(seen)) and len(seen) == 2, seen
    finally:
        ctx.close()


@pytest.mark.browser
def test_no_early_fetch_without_a_query_or_off_the_search_page(browser, site_url: str) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        seen = _index_requests(page)
        for path in ("/search/", "/orders/?q=refund"):
            page.goto(site_url + path, wait_until="load")
            assert page.evaluate("window.kbSearchEarly === undefined"), path
        assert seen == [], seen  # the index waits for the customer to use a search box
        # and the search box still searches once it is used
        page.goto(site_url + "/search/", wait_until="load")
        page.locator("#kb-q-page").fill("refund")
        page.locator("#kb-q-page").press("Enter")
        page.wait_for_function("document.querySelectorAll('.kb-sp-results .kb-sr-group').length > 0")
    finally:
        ctx.close()


@pytest.mark.browser
def test_search_falls_back_when_the_early_fetch_fails(browser, site_url: str) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    calls: list[str] = []

    def meta(route) -> None:  # the first request for meta.json (kb-init.js's) fails, later ones are served
        calls.append(route.request.url)
        route.abort() if len(calls) == 1 else route.continue_()

    try:
        page.route("**/_search/meta.json", meta)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(site_url + "/search/?q=refund", wait_until="load")
        page.wait_for_function("document.querySelectorAll('.kb-sp-results .kb-sr-group').length > 0")
        assert len(calls) == 2 and errors == [], (calls, errors)
    finally:
        ctx.close()


@pytest.mark.browser
def test_search_page_is_one_indexable_page(browser, site_url: str, sample_site: Path) -> None:
    page = browser.new_page()
    try:
        page.goto(site_url + "/search/?q=refund", wait_until="load")
        assert page.locator('meta[name="robots"]').count() == 0  # no noindex
        canonical = page.locator('link[rel="canonical"]')
        assert canonical.count() == 1 and canonical.get_attribute("href") == SITE_URL + "/search/"
        page.goto(site_url + "/fr/search/?q=remboursement", wait_until="load")
        assert page.locator('link[rel="canonical"]').get_attribute("href") == SITE_URL + "/fr/search/"
        assert page.locator('meta[name="robots"]').count() == 0
    finally:
        page.close()
    with urllib.request.urlopen(site_url + "/robots.txt") as r:
        robots = RobotFileParser()
        robots.parse(r.read().decode().splitlines())
    for path in ("/search/", "/search/?q=refund", "/fr/search/", "/de/search/?q=x"):
        assert robots.can_fetch("Googlebot", SITE_URL + path), path
    # every page the sitemap lists may be crawled and indexed
    locs = [e.text or "" for e in ET.parse(sample_site / "sitemap.xml").iter() if e.tag.endswith("loc")]
    assert len(locs) > 20
    for loc in locs:
        assert robots.can_fetch("Googlebot", loc), loc
        html = (sample_site / urlsplit(loc).path.lstrip("/") / "index.html").read_text(encoding="utf-8")
        assert 'name="robots"' not in html, loc


def test_one_language_robots_txt_lets_the_search_page_be_crawled(tmp_path: Path) -> None:
    (tmp_path / "kbgen.toml").write_text(sample_toml_one_language(), encoding="utf-8")
    shutil.copytree(SAMPLE_EN, tmp_path / "content")
    run_kbgen("build", cwd=tmp_path)
    site = tmp_path / "site"
    url, server = serve_directory(site)
    try:
        with urllib.request.urlopen(url + "/robots.txt") as r:
            robots = RobotFileParser()
            robots.parse(r.read().decode().splitlines())
    finally:
        server.shutdown()
    assert robots.can_fetch("*", SITE_URL + "/search/?q=refund")
    assert 'name="robots"' not in (site / "search" / "index.html").read_text(encoding="utf-8")


SHIFTS_JS = """window.__shifts = [];
new PerformanceObserver(l => { for (const e of l.getEntries()) window.__shifts.push(e.value); })
  .observe({ type: 'layout-shift', buffered: true });"""


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 412, 1280])
def test_results_arriving_shift_nothing(browser, site_url: str, width: int) -> None:
    """The results fill the place kept for them: no layout shift at all (CLS 0, as the theme promises)."""
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    page = ctx.new_page()
    try:
        page.add_init_script(SHIFTS_JS)
        page.goto(site_url + "/search/?q=refund", wait_until="load")
        page.wait_for_function("document.querySelectorAll('.kb-sp-results .kb-sr-group').length > 0")
        # two frames after the results: their layout-shift entries, if any, have been delivered
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r))))")
        assert page.evaluate("window.__shifts") == []
    finally:
        ctx.close()
