"""The default theme's CSS is direction-agnostic (issue 18): logical properties only, so `dir="rtl"` mirrors the
layout, and the breadcrumb's chevrons point the other way."""

from __future__ import annotations

import re

import pytest
from test_theme import THEME, _goto

ARTICLE = "/returns-refunds/refunds/when-will-i-get-my-refund/"
PHYSICAL = re.compile(
    r"[{;]\s*(?:(?:margin|padding|border)-(?:left|right)[a-z-]*|left|right|float)\s*:|text-align:\s*(?:left|right)"
)


def test_kb_css_uses_logical_properties() -> None:
    css = (THEME / "static" / "kb.css").read_text(encoding="utf-8")
    # a Markdown table column aligned by its author (":---", "---:") keeps that physical side
    css = css.replace(".kb-align-left{text-align:left}", "").replace(".kb-align-right{text-align:right}", "")
    assert not PHYSICAL.findall(css), PHYSICAL.findall(css)[:10]
    for prop in ("margin", "padding"):  # no four-value shorthand with different left and right
        for val in re.findall(rf"[{{;]{prop}:([^;}}!]+)", css):
            parts = val.split()
            assert not (len(parts) == 4 and parts[1] != parts[3]), (prop, val)


def _rtl(page, url: str) -> None:
    _goto(page, url)
    page.evaluate("document.documentElement.dir = 'rtl'")


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1280])
def test_rtl_mirrors_the_layout(browser, site_url: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    page = ctx.new_page()
    try:
        _goto(page, site_url + ARTICLE)
        ltr_logo = page.locator(".kb-logo").bounding_box()
        _rtl(page, site_url + ARTICLE)
        logo = page.locator(".kb-logo").bounding_box()
        assert ltr_logo and logo
        # the logo moves from the left edge to the right edge
        assert ltr_logo["x"] < width / 2 < logo["x"] + logo["width"], (ltr_logo, logo)
        assert abs((width - logo["x"] - logo["width"]) - ltr_logo["x"]) <= 2, (ltr_logo, logo)
        sep = page.evaluate("getComputedStyle(document.querySelector('.kb-i-sep')).transform")
        assert sep.startswith("matrix(-1"), sep  # the chevron points left
        crumbs = page.locator(".kb-breadcrumbs li")
        first, last = crumbs.first.bounding_box(), crumbs.last.bounding_box()
        assert first and last and first["x"] > last["x"]  # Home is on the right
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        nav, prose = (
            page.locator(".kb-section-nav").bounding_box(),
            page.locator(".kb-prose").first.bounding_box(),
        )
        assert nav and prose
        if width == 1280:  # the sidebar is on the left of the text
            assert nav["x"] + nav["width"] <= prose["x"], (nav, prose)
        _rtl(page, site_url + "/")
        ann = page.evaluate(
            "(() => { const s = getComputedStyle(document.querySelector('.kb-announcement'));"
            " return [s.borderRightWidth, s.borderLeftWidth]; })()"
        )
        assert ann == ["4px", "1px"], ann  # the accent bar is on the start side: the right
    finally:
        ctx.close()
