"""analytics.js in Chromium against a real build of the sample site and a real collector."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_kbgen, serve_directory
from test_analytics_collector import free_port

from kbgen.analytics.collector import Collector

pytestmark = pytest.mark.browser

ARTICLE = "/orders/tracking/track-your-order/"
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)


def build_project(tmp: Path, analytics_toml: str) -> Path:
    shutil.copytree(ROOT / "content", tmp / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8") + "\n" + analytics_toml
    (tmp / "kbgen.toml").write_text(toml, encoding="utf-8")
    run_kbgen("build", cwd=tmp)
    return tmp / "site"


@pytest.fixture(scope="module")
def beacon_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The sample site with a beacon provider, served on 127.0.0.1, and the collector it reports to."""
    import uvicorn

    tmp = tmp_path_factory.mktemp("beacon")
    port = free_port()
    site = build_project(
        tmp, f'[analytics]\nrespect_dnt = true\n[analytics.beacon]\nurl = "http://127.0.0.1:{port}/collect"\n'
    )
    site_url, http = serve_directory(site)
    db = tmp / "analytics.sqlite"
    app = Collector(db, [site_url], rate=0)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", access_log=False, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield site_url, db
    server.should_exit = True
    thread.join(10)
    http.shutdown()


def stored(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM events ORDER BY seq")]
    return [{k: v for k, v in r.items() if v is not None and k not in ("seq", "ts")} for r in rows]


def wait_for(page: Any, predicate: Any, timeout: float = 10) -> None:
    """Poll through Playwright (a plain sleep would block the callbacks that record events)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def recorder(context: Any) -> list[dict[str, Any]]:
    """Every kb:event dispatched in any page of `context`, in order."""
    events: list[dict[str, Any]] = []
    context.expose_binding("__kbRecord", lambda source, ev: events.append(ev))
    context.add_init_script("document.addEventListener('kb:event', e => window.__kbRecord(e.detail))")
    return events


def type_slowly(page: Any, selector: str, text: str) -> None:
    page.click(selector)
    for ch in text:
        page.keyboard.type(ch)
        page.wait_for_timeout(180)


def needs_search_index(site_url: str) -> None:
    import httpx

    if httpx.get(site_url + "/_search/meta.json").status_code != 200:
        pytest.skip("this build has no search index (kbgen.search not there yet)")


def test_events_flow_to_the_collector_in_order(browser: Any, beacon_site: tuple[str, Path]) -> None:
    site_url, db = beacon_site
    needs_search_index(site_url)
    context = browser.new_context(user_agent=DESKTOP_UA)
    events = recorder(context)
    page = context.new_page()
    page.goto(site_url + ARTICLE)
    wait_for(page, lambda: len(events) == 1)
    box = "header [data-kb-search-input]"

    # Typed slowly, one key at a time: nothing is sent while typing, one `search` once the customer pauses.
    type_slowly(page, box, "refund")
    assert [e["name"] for e in events] == ["page_view"]
    wait_for(page, lambda: len(events) == 2, 5)
    page.wait_for_timeout(1500)
    assert len(events) == 2

    # A search that finds nothing.
    page.fill(box, "")
    type_slowly(page, box, "zqxjvw")
    wait_for(page, lambda: len(events) == 4, 5)

    # Back to a good query, and a click on the first result before pausing: the click settles the search.
    page.fill(box, "")
    type_slowly(page, box, "refund")
    first = page.locator("header .kb-sr-page").first
    first.wait_for()
    href = first.get_attribute("href")
    first.click()
    # The opened article carries the query (?sq=): its vote and contact click are linked to the search.
    page.wait_for_url(lambda u: u.split("#")[0].endswith(href.split("#")[0] + "?sq=refund"))
    wait_for(page, lambda: len(events) == 7, 5)

    # Voting (once: a second vote on the same page is not counted) and a contact link.
    page.locator("[data-kb-feedback='yes']").first.click()
    page.locator("[data-kb-feedback='no']").first.dispatch_event("click")
    page.route("https://northwind.example/**", lambda route: route.fulfill(body="chat"))
    page.locator("main [data-kb-contact='chat'], .kb-contact [data-kb-contact='chat']").first.click()
    wait_for(page, lambda: len(events) == 9, 5)
    page.wait_for_timeout(500)

    target = href.split("#")[0]
    names = [e["name"] for e in events]
    assert names == [
        "page_view",
        "search",
        "search",
        "search_no_results",
        "search",
        "search_click",
        "page_view",
        "feedback",
        "contact_click",
    ], names
    ctx = {"id": "orders/tracking/track-your-order", "category": "orders", "type": "howto", "lang": "en"}
    assert events[0] == {"name": "page_view", "page": ARTICLE, **ctx}
    assert events[1]["query"] == "refund" and events[1]["results"] > 0 and events[1]["id"] == ctx["id"]
    assert events[2]["query"] == "zqxjvw" and events[2]["results"] == 0
    assert events[3]["name"] == "search_no_results" and events[3]["query"] == "zqxjvw"
    assert events[4]["query"] == "refund"
    assert events[5]["query"] == "refund" and events[5]["rank"] == 1 and events[5]["url"] == target
    assert events[6]["page"] == target and events[6]["id"]
    assert events[7] == {
        "name": "feedback",
        "page": target,
        "url": target,
        "helpful": "yes",
        "query": "refund",
        **{k: events[6][k] for k in ("id", "category", "type", "lang")},
    }
    assert events[8]["channel"] == "chat" and events[8]["url"] == target and events[8]["query"] == "refund"

    # The collector stored exactly these events (beacons may arrive out of order: compare as sets).
    wait_for(page, lambda: len(stored(db)) >= 9, 60)
    rows = stored(db)
    assert all(r.pop("device") == "desktop" for r in rows)
    key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
    assert sorted(map(key, rows)) == sorted(map(key, events))
    context.close()


def test_do_not_track_keeps_events_on_the_page(browser: Any, beacon_site: tuple[str, Path]) -> None:
    site_url, db = beacon_site
    before = len(stored(db))
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', {get: () => true})")
    events = recorder(context)
    requests: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.goto(site_url + ARTICLE)
    page.locator("[data-kb-feedback='yes']").first.click()
    wait_for(page, lambda: len(events) == 2)
    page.wait_for_timeout(500)
    assert [e["name"] for e in events] == ["page_view", "feedback"]
    assert not [u for u in requests if "/collect" in u]
    assert len(stored(db)) == before
    context.close()


def test_article_events_without_search(browser: Any, beacon_site: tuple[str, Path]) -> None:
    """Page views, a vote, a contact click and a video play reach the collector exactly once each."""
    site_url, db = beacon_site
    before = len(stored(db))
    context = browser.new_context(user_agent=DESKTOP_UA)
    events = recorder(context)
    page = context.new_page()
    page.route("https://northwind.example/**", lambda route: route.fulfill(body="form"))
    page.goto(site_url + "/returns-refunds/returns/return-policy/")
    page.locator("[data-kb-feedback='no']").first.click()
    page.locator("[data-kb-feedback='yes']").first.dispatch_event("click")
    page.evaluate(
        "window.kb.track('video_play', {video: 'youtube:dQw4w9WgXcQ', provider: 'youtube', id: 'x'})"
    )
    page.locator("[data-kb-contact='form']").first.click()
    wait_for(page, lambda: len(events) == 4)
    page.goto(site_url + "/no/such/page/")  # the 404 page reports the address that was asked for
    wait_for(page, lambda: len(events) == 5)
    names = [e["name"] for e in events]
    assert names == ["page_view", "feedback", "video_play", "contact_click", "page_view"], names
    assert events[1]["helpful"] == "no" and events[1]["url"] == "/returns-refunds/returns/return-policy/"
    assert (
        events[2]["video"] == "youtube:dQw4w9WgXcQ"
        and events[2]["id"] == "returns-refunds/returns/return-policy"
    )
    assert events[3]["channel"] == "form"
    assert events[4] == {"name": "page_view", "page": "/no/such/page/", "lang": "en"}
    wait_for(page, lambda: len(stored(db)) >= before + 5)
    rows = [{k: v for k, v in r.items() if k != "device"} for r in stored(db)[before:]]
    key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
    assert sorted(map(key, rows)) == sorted(map(key, events))
    context.close()


def test_no_provider_no_request_beyond_the_site(browser: Any, site_url: str) -> None:
    context = browser.new_context()
    events = recorder(context)
    requests: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.goto(site_url + ARTICLE)
    page.locator("[data-kb-feedback='no']").first.click()
    page.evaluate("window.kb.track('search', {query: 'refund', results: 2})")
    page.goto(site_url + "/")
    page.wait_for_load_state("networkidle")
    wait_for(page, lambda: len(events) == 4)
    assert [e["name"] for e in events] == ["page_view", "feedback", "search", "page_view"]
    foreign = [
        u for u in requests if not u.startswith(site_url + "/") and not u.startswith(("data:", "blob:"))
    ]
    assert foreign == []
    html = page.content()
    assert '<script type="application/json" id="kb-analytics-config">' in html
    assert "googletagmanager" not in html and "plausible" not in html
    context.close()


@pytest.mark.parametrize("respect_dnt", [False, True])
def test_third_party_providers_get_mapped_events(browser: Any, tmp_path: Path, respect_dnt: bool) -> None:
    toml = f"""[analytics]
respect_dnt = {str(respect_dnt).lower()}
[analytics.plausible]
domain = "help.northwind.example"
[analytics.ga4]
measurement_id = "G-TEST123"
[analytics.matomo]
url = "https://matomo.example/"
site_id = "7"
[analytics.umami]
website_id = "5e0b7c4a-2d3f-4a1b-9c8d-7e6f5a4b3c2d"
"""
    site = build_project(tmp_path, toml)
    html = (site / ARTICLE.strip("/") / "index.html").read_text(encoding="utf-8")
    # Loaders are real script tags, or parked in a <template> until analytics.js has checked GPC/DNT.
    assert ('<template id="kb-analytics-loaders">' in html) == respect_dnt
    url, http = serve_directory(site)
    try:
        for gpc in [False, True] if respect_dnt else [False]:
            context = browser.new_context()
            if gpc:
                context.add_init_script(
                    "Object.defineProperty(navigator, 'globalPrivacyControl', {get: () => true})"
                )
            loaded: list[str] = []

            stub = stub_loader(loaded)
            for pattern in (
                "https://plausible.io/**",
                "https://www.googletagmanager.com/**",
                "https://matomo.example/**",
                "https://cloud.umami.is/**",
            ):
                context.route(pattern, stub)
            page = context.new_page()
            page.goto(url + ARTICLE)
            page.wait_for_load_state("networkidle")
            if gpc:
                assert loaded == []
                assert page.evaluate("[typeof window.plausible, typeof window.gtag, typeof window._paq]") == [
                    "undefined",
                    "undefined",
                    "undefined",
                ]
                context.close()
                continue
            assert len(loaded) == 4, loaded
            check_provider_calls(page)
            context.close()
    finally:
        http.shutdown()


def stub_loader(loaded: list[str]) -> Any:
    """Answer provider script requests locally (no network here), noting which were asked for."""

    def stub(route: Any) -> None:
        loaded.append(route.request.url)
        umami = "window.umami={track:function(f){(window.__umami=window.__umami||[]).push(f({url:location.href}))}}"
        route.fulfill(body=umami if "umami" in route.request.url else "", content_type="text/javascript")

    return stub


def check_provider_calls(page: Any) -> None:
    page.evaluate("window.kb.track('search', {query: 'refund', results: 3})")
    page.evaluate("window.kb.track('contact_click', {channel: 'email'})")
    page.wait_for_timeout(100)
    # the pageview goes to Umami when its script has loaded (analytics.js waits for it)
    wait_for(page, lambda: page.evaluate("(window.__umami || []).length") >= 3)
    got = page.evaluate("""() => ({
        plausible: (window.plausible.q || []).map(a => Array.from(a)),
        gtag: window.dataLayer.map(a => Array.from(a)).filter(a => a[0] === 'event' || a[0] === 'config'),
        paq: window._paq.filter(a => Array.isArray(a)),
        umami: window.__umami || [],
    })""")
    props = {"page": ARTICLE, "id": "orders/tracking/track-your-order", "category": "orders", "type": "howto",
             "lang": "en"}  # fmt: skip
    # every provider is told the page's address without its query (see test_hardening_browser.py)
    loc = page.evaluate("location.origin + location.pathname")
    assert got["plausible"][0] == ["pageview", {"u": loc, "url": loc}]
    assert got["plausible"][1] == ["search", {"props": {**props, "query": "refund", "results": 3}, "u": loc, "url": loc}]
    assert ["set", {"page_location": loc, "page_referrer": ""}] in page.evaluate(
        "window.dataLayer.map(a => Array.from(a))"
    )
    assert got["gtag"][0] == ["config", "G-TEST123", {"content_group": "orders"}]
    assert (
        got["gtag"][1][:2] == ["event", "view_search_results"]
        and got["gtag"][1][2]["search_term"] == "refund"
    )
    assert got["gtag"][2][:2] == ["event", "contact_click"] and got["gtag"][2][2]["channel"] == "email"
    assert ["setSiteId", "7"] in got["paq"] and ["trackPageView"] in got["paq"]
    assert ["setCustomUrl", loc] in got["paq"]
    assert ["trackSiteSearch", "refund", False, 3] in got["paq"]
    assert got["paq"][-1][:4] == ["trackEvent", "contact_click", "email", ARTICLE]
    assert sorted(p.get("name", "") for p in got["umami"]) == ["", "contact_click", "search"]
    assert {p["url"] for p in got["umami"]} == {loc}
    assert page.evaluate("document.cookie") == ""
