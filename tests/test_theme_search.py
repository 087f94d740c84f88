"""Search results as customers see them (issue 18): grouped per page with at most two sub-results, each with its
page's title, "More from this page", "Showing results for refund — search instead for refnud", a titles-only
dropdown on phones, "Show more results" after 10; and search-core.js saying which words it corrected."""

from __future__ import annotations

import re

import pytest
from conftest import wait_for
from test_theme import _goto

ARTICLE = "/returns-refunds/refunds/when-will-i-get-my-refund/"


def _results(page, site_url: str, query: str) -> None:
    _goto(page, site_url + "/search/?q=" + query)
    page.wait_for_function("document.querySelector('.kb-sp-status')?.textContent.trim()")


@pytest.mark.browser
def test_core_says_which_words_it_corrected(browser, site_url: str) -> None:
    page = browser.new_page()
    try:
        _results(page, site_url, "refund")
        got = page.evaluate(
            """async () => {
              const c = window.kbSearchCore, a = await c.query('refnud', {prefix: false}),
                    b = await c.query('refund', {prefix: false}), l = await c.query('refnud', {prefix: false, typos: false}),
                    m = await c.query('Where is my refnud?', {prefix: false});
              return [a.corrected, a.total, b.corrected, b.total, l.total, m.corrected && m.corrected.query];
            }"""
        )
        assert got[0] == {"query": "refund", "words": [["refnud", "refund"]]}, got
        assert got[1] > 0 and got[2] is None and got[3] > 0
        assert got[4] == 0, got  # as typed, nothing matches
        assert got[5] == "Where is my refund?", got  # the customer's own words, one fixed
    finally:
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1280])
def test_results_page_grouped_corrected_and_paged(browser, site_url: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    page = ctx.new_page()
    try:
        _results(page, site_url, "refnud")
        fix = page.locator(".kb-sp-fix .kb-sr-fix")
        assert fix.inner_text() == "Showing results for refund — search instead for refnud"
        total = int(re.match(r"\d+", page.locator(".kb-sp-status").inner_text()).group(0))
        assert total > 10
        items = page.locator(".kb-sp-item")
        assert items.count() == 10  # "Show more" after 10
        for i in range(items.count()):
            item = items.nth(i)
            subs = item.locator(".kb-sr-sub")
            assert subs.count() <= 2
            title = item.locator(".kb-sr-page .kb-sr-title").inner_text()
            for k in range(subs.count()):  # the page's title beside each sub-result's heading
                assert subs.nth(k).locator(".kb-sr-in").inner_text() == title
        mores = page.locator(".kb-sp-item .kb-sr-more")
        assert mores.count() >= 1 and mores.first.inner_text() == "More from this page"
        assert "#" not in (mores.first.get_attribute("href") or "#")
        if width == 360:
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        more = page.locator(".kb-sp-more")
        assert more.is_visible() and more.inner_text() == "Show more results"
        more.click()
        wait_for(lambda: items.count() == min(20, total))
        assert page.evaluate(
            "document.activeElement.closest('.kb-sp-item') === document.querySelectorAll('.kb-sp-item')[10]"
        )
        assert more.is_visible() == (total > 20)
        # "search instead for refnud": the words as typed, no typo alternatives
        fix.locator("a", has_text="refnud").click()
        page.wait_for_function("location.search.includes('exact=1')")
        page.wait_for_function("document.querySelector('.kb-sp-status').textContent.includes('No results')")
        assert page.locator(".kb-sp-fix .kb-sr-fix").count() == 0
        assert page.locator(".kb-sp-empty .kb-sr-dym", has_text="refund").is_visible()
    finally:
        ctx.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1280])
def test_dropdown_is_titles_only_on_phones(browser, site_url: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 740})
    page = ctx.new_page()
    try:
        _goto(page, site_url + ARTICLE)
        box = page.locator(".kb-header [data-kb-search-input]")
        box.fill("refund")
        panel = page.locator(".kb-header [data-kb-search-results]")
        panel.wait_for(state="visible")
        wait_for(lambda: panel.locator(".kb-sr-page").count() > 0)
        pages_, snips, subs = (panel.locator(s).count() for s in (".kb-sr-page", ".kb-sr-snip", ".kb-sr-sub"))
        if width == 360:
            assert snips == 0 and subs == 0 and pages_ <= 5, (pages_, snips, subs)
            b = panel.bounding_box()
            assert b and b["height"] <= 740 * 0.8, b  # leaves the page visible around it
        else:
            assert snips > 0 and subs > 0
        box.fill("refnud")
        wait_for(lambda: panel.locator(".kb-sr-fix").count() == 1)
        assert panel.locator(".kb-sr-fix").inner_text().startswith("Showing results for refund")
        assert panel.locator("[role=listbox] .kb-sr-fix").count() == 0  # a listbox holds options only
    finally:
        ctx.close()
