"""Search UI (themes/default/static/search.js) in real Chromium against real `kbgen build` output."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from conftest import run_kbgen, serve_directory

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
ARTICLE = "/orders/tracking/track-your-order/"  # a page with the header search box
BOX = "form[data-kb-search] [data-kb-search-input]"
OPTION = "[role=listbox] [role=option]"
# Records analytics events: analytics.js replaces window.kb.track and dispatches `kb:event` per event; the
# stub only matters if analytics.js is absent.
TRACK = """window.kbEvents = [];
document.addEventListener('kb:event', e => window.kbEvents.push([e.detail.name, e.detail]));
window.kb = {track: (name, props) => window.kbEvents.push([name, props])};"""
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def page(browser) -> Iterator[object]:
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    ctx.add_init_script(TRACK)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(10_000)
    yield pg
    ctx.close()
    assert not errors, errors


def header_box(page, site_url: str, path: str = ARTICLE):
    page.goto(site_url + path)
    box = page.locator(BOX).locator("visible=true").first
    return box


def type_query(page, box, q: str) -> None:
    """Type like a person and wait until the results panel shows the answer for the whole query."""
    box.focus()
    box.press_sequentially(q, delay=25)
    page.wait_for_function(
        "q => [...document.querySelectorAll('[data-kb-search-results]:not([hidden]) .kb-sr-all')]"
        ".some(a => a.textContent.includes('“' + q + '”'))",
        arg=q,
    )


def events(page, name: str | None = None) -> list:
    evs = page.evaluate("window.kbEvents")
    return [e for e in evs if name is None or e[0] == name]


def test_type_in_header_box_shows_grouped_results(page, site_url):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    box = header_box(page, site_url)
    page.wait_for_load_state("load")
    assert not [u for u in requests if "_search/" in u], "index must load on first focus, not before"
    box.focus()
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some(e => e.name.includes('_search/'))"
    )
    type_query(page, box, "refund")
    assert box.get_attribute("role") == "combobox"
    assert box.get_attribute("aria-expanded") == "true"
    listbox_id = box.get_attribute("aria-controls")
    assert page.locator(f"#{listbox_id}[role=listbox]").count() == 1
    groups = page.locator("[role=listbox] [role=group]")
    assert groups.count() >= 2
    first = groups.first
    assert first.get_attribute("aria-label")
    assert first.locator(".kb-sr-page").count() == 1
    assert first.locator(".kb-sr-cat").inner_text().strip()  # category shown
    marks = page.locator("[role=listbox] mark")
    assert sum("refund" in m.lower() for m in marks.all_inner_texts()) >= 2  # (synonyms may be marked too)
    # Deep links to sections / questions: url + '#' + anchor.
    subs = page.locator("[role=listbox] a.kb-sr-sub")
    if subs.count():
        assert "#" in subs.first.get_attribute("href")
    # A live region tells screen-reader users how many results there are.
    assert re.search(r"\d+ results?", page.locator("form[data-kb-search] [role=status]").first.inner_text())
    # Phone layout: touch targets >= 44 px, nothing wider than the screen.
    for opt in page.locator(OPTION).all():
        assert opt.bounding_box()["height"] >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    panel = page.locator("[data-kb-search-results]:not([hidden])").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= PHONE["width"]
    # Analytics: one `search` event after a 1 s pause, none per keystroke (the checks above may take
    # longer than that pause on a loaded machine: the event may be there already, but only the whole word).
    assert [e[1]["query"] for e in events(page, "search")] in ([], ["refund"])
    page.wait_for_timeout(1300)
    assert [e[1]["query"] for e in events(page, "search")] == ["refund"]


def test_misspelled_query_finds_the_article(page, site_url):
    box = header_box(page, site_url)
    type_query(page, box, "trak my parcle")
    titles = page.locator("[role=listbox] .kb-sr-page .kb-sr-title").all_inner_texts()
    assert any("track" in t.lower() for t in titles[:3]), titles


def test_keyboard_arrows_enter_and_escape(page, site_url):
    box = header_box(page, site_url)
    type_query(page, box, "refund")
    options = page.locator(OPTION)
    second_id = options.nth(1).get_attribute("id")
    second_href = options.nth(1).get_attribute("href")
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == options.nth(0).get_attribute("id")
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == second_id
    assert options.nth(1).get_attribute("aria-selected") == "true"
    assert options.nth(0).get_attribute("aria-selected") == "false"
    # Esc closes, the text stays, ↓ reopens.
    box.press("Escape")
    assert box.get_attribute("aria-expanded") == "false"
    assert page.locator("[data-kb-search-results]").first.is_hidden()
    assert box.input_value() == "refund"
    box.press("ArrowDown")
    assert box.get_attribute("aria-expanded") == "true"
    box.press("ArrowDown")
    box.press("ArrowDown")
    with page.expect_navigation():
        box.press("Enter")
    got = urlsplit(page.url)
    assert got.path + (f"#{got.fragment}" if got.fragment else "") == second_href


def test_enter_without_selection_goes_to_search_page(page, site_url):
    box = header_box(page, site_url)
    type_query(page, box, "refund")
    with page.expect_navigation():
        box.press("Enter")
    assert urlsplit(page.url).path == "/search/"
    assert parse_qs(urlsplit(page.url).query)["q"] == ["refund"]
    page.wait_for_selector("[data-kb-search-page] .kb-sr-page")
    # The header box reported this search before leaving; the search page does not report it again.
    page.wait_for_timeout(1200)
    assert events(page, "search") == []


def test_click_result_tracks_search_and_click(page, site_url):
    box = header_box(page, site_url)
    type_query(page, box, "refund")
    page.evaluate("document.addEventListener('click', e => e.target.closest('a') && e.preventDefault())")
    page.locator(OPTION).nth(0).click()
    assert [e[1]["query"] for e in events(page, "search")] == ["refund"]
    (click,) = events(page, "search_click")
    assert click[1]["query"] == "refund" and click[1]["rank"] == 1 and click[1]["url"].startswith("/")


def test_search_page_reads_url_and_filters_by_category(page, site_url):
    page.goto(site_url + "/search/?q=refund")
    page.wait_for_selector("[data-kb-search-page] .kb-sr-page")
    box = page.locator(BOX).first
    assert box.input_value() == "refund"
    items = page.locator("[data-kb-search-page] .kb-sp-item")
    total = items.count()
    chips = page.locator("[data-kb-search-page] .kb-sp-chip")
    assert chips.count() >= 3  # "All" + at least two categories
    assert chips.first.get_attribute("aria-pressed") == "true"
    chip = chips.nth(1)
    label = re.sub(r"\s*\(\d+\)$", "", chip.inner_text())
    chip.click()
    assert chip.get_attribute("aria-pressed") == "true"
    assert 0 < items.count() < total
    assert set(page.locator("[data-kb-search-page] .kb-sp-item .kb-sr-cat").all_inner_texts()) == {label}
    qs = parse_qs(urlsplit(page.url).query)
    assert qs["q"] == ["refund"] and qs["category"][0]
    # Shareable: reloading the URL restores query and filter.
    page.reload()
    page.wait_for_selector("[data-kb-search-page] .kb-sr-page")
    assert set(page.locator("[data-kb-search-page] .kb-sp-item .kb-sr-cat").all_inner_texts()) == {label}
    # Typing updates the URL (replaceState) and the results.
    box = page.locator(BOX).first
    box.fill("")
    box.press_sequentially("invoice", delay=20)
    page.wait_for_function("() => new URLSearchParams(location.search).get('q') === 'invoice'")
    page.wait_for_selector("[data-kb-search-page] .kb-sp-item mark")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_no_results_offers_contact_and_did_you_mean(page, site_url):
    page.goto(site_url + "/search/?q=zxqvbnm")
    status = page.locator("[data-kb-search-page] .kb-sp-status")
    page.wait_for_function("() => document.querySelector('.kb-sp-status')?.textContent")
    assert status.inner_text() == "No results for “zxqvbnm”"
    # the contact block (on every page since issue 18) is offered right under the empty results
    assert page.locator("#kb-contact [data-kb-contact]").first.is_visible()
    assert [e[1]["query"] for e in events(page, "search_no_results")] == ["zxqvbnm"]
    assert [e[1]["results"] for e in events(page, "search")] == [0]
    # A near miss: the engine suggests a correction; clicking it runs that query.
    page.goto(site_url + "/search/?q=" + quote("refnudz"))
    dym = page.locator("[data-kb-search-page] a.kb-sr-dym")
    dym.wait_for()
    suggestion = dym.locator("b").inner_text()
    assert suggestion
    dym.click()
    page.wait_for_selector("[data-kb-search-page] .kb-sr-page")
    assert page.locator(BOX).first.input_value() == suggestion
    assert parse_qs(urlsplit(page.url).query)["q"] == [suggestion]


def test_query_in_url_is_text_not_markup(page, site_url):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(site_url + "/search/?q=" + quote(XSS))
    page.wait_for_function("() => document.querySelector('.kb-sp-status')?.textContent")
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("img[src=x], img[onerror], [data-kb-search-page] img").count() == 0
    assert page.locator(BOX).first.input_value() == XSS
    # The same in the header box.
    box = header_box(page, site_url)
    box.focus()
    box.fill(XSS)
    page.locator("[data-kb-search-results]:not([hidden])").wait_for()
    page.wait_for_timeout(200)
    assert dialogs == []
    assert page.locator("img[src=x], img[onerror]").count() == 0


MARKUP_TITLE = "<img src=x onerror=alert(2)> Zanzibar <b>gift wrap</b>"


@pytest.fixture(scope="module")
def help_site(sample_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sample built with base_url "/help/" plus an article whose title contains markup, served so that
    /help/ resolves; yields the server's origin."""
    src = tmp_path_factory.mktemp("help-src")
    shutil.copytree(sample_project, src, dirs_exist_ok=True)
    shutil.rmtree(src / "site", ignore_errors=True)
    (src / "content" / "en" / "orders" / "zanzibar-gift-wrap.md").write_text(
        f'---\ntitle: "{MARKUP_TITLE}"\ndescription: "Zanzibar wrapping."\n---\n\n'
        "Zanzibar gift wrap is available at checkout.\n\n## Zanzibar ribbons\n\nPick a Zanzibar ribbon colour.\n",
        encoding="utf-8",
    )
    run_kbgen("build", "--base-url", "/help/", cwd=src)
    root = tmp_path_factory.mktemp("help-www")
    shutil.move(str(src / "site"), root / "help")
    url, server = serve_directory(root)
    yield url
    server.shutdown()


def test_base_url_links_and_markup_titles(page, help_site):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    box = header_box(page, help_site, "/help" + ARTICLE)
    type_query(page, box, "refund")
    hrefs = [a.get_attribute("href") for a in page.locator("[role=listbox] a").all()]
    assert hrefs and all(h.startswith("/help/") for h in hrefs), hrefs
    with page.expect_navigation() as nav:
        page.locator(OPTION).first.click()
    assert nav.value.status == 200 and urlsplit(page.url).path.startswith("/help/")
    # Titles with markup are text, in the header box ...
    box = page.locator(BOX).locator("visible=true").first
    type_query(page, box, "zanzibar")
    title = page.locator("[role=listbox] .kb-sr-page .kb-sr-title").first
    assert title.inner_text() == MARKUP_TITLE
    assert page.locator("[data-kb-search-results] img, [data-kb-search-results] .kb-sr-title b").count() == 0
    # ... and on the search page.
    page.goto(help_site + "/help/search/?q=zanzibar")
    page.wait_for_selector("[data-kb-search-page] .kb-sr-page")
    title = page.locator("[data-kb-search-page] .kb-sr-page .kb-sr-title").first
    assert title.inner_text() == MARKUP_TITLE
    assert page.locator("[data-kb-search-page] img, [data-kb-search-page] .kb-sr-title b").count() == 0
    assert page.locator("[data-kb-search-page] a").first.get_attribute("href").startswith("/help/")
    page.wait_for_timeout(200)
    assert dialogs == []
