"""Category, section and article pages (issue 18, issue 15 item 4's theme part): two columns on desktop with
section titles that look like links, most viewed first, "In this section" beside (desktop) or after (phones) the
article, related articles, breadcrumbs on one line on phones, category icons that never squeeze titles."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE_EN, run_kbgen, sample_toml_one_language, serve_directory
from test_theme import _goto

CATEGORY = "/returns-refunds/"
ARTICLE = "/returns-refunds/refunds/when-will-i-get-my-refund/"
LONG_SECTION = "Refunds to cards, wallets, gift cards and buy-now-pay-later plans"


@pytest.fixture(scope="module")
def viewed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with page views in which the category's last article is by far the most viewed, and one section
    whose title is too long for a phone's breadcrumb."""
    root = tmp_path_factory.mktemp("viewed")
    shutil.copytree(SAMPLE_EN, root / "content")
    toml = sample_toml_one_language()
    toml += '\n[analytics]\nsources = [{type = "plausible", path = "pages.csv"}]\n'
    (root / "kbgen.toml").write_text(toml, encoding="utf-8")
    (root / "pages.csv").write_text(
        "name,visitors,pageviews,bounce_rate,time_on_page,scroll_depth\n"
        "/returns-refunds/refunds/partial-refunds,9000,9500,40,90,70\n"
        "/returns-refunds/returns/exchange-an-item,7000,7400,40,90,70\n",
        encoding="utf-8",
    )
    index = root / "content" / "returns-refunds" / "refunds" / "_index.md"
    text = index.read_text(encoding="utf-8")
    index.write_text(re.sub(r"(?m)^title:.*$", f"title: {LONG_SECTION}", text, count=1), encoding="utf-8")
    run_kbgen("build", cwd=root)
    return root / "site"


@pytest.fixture(scope="module")
def viewed_url(viewed_site: Path):
    url, server = serve_directory(viewed_site)
    yield url
    server.shutdown()


def test_most_viewed_lead_the_category_and_section(viewed_site: Path) -> None:
    html = (viewed_site / "returns-refunds" / "index.html").read_text(encoding="utf-8")
    block = re.search(r'<section class="kb-popular-in".*?</section>', html, re.S)
    assert block, "no 'Popular in this category' block"
    assert "Popular in this category" in block.group(0)
    hrefs = re.findall(r'href="([^"]+)"', block.group(0))
    assert hrefs[:2] == [
        "/returns-refunds/refunds/partial-refunds/",
        "/returns-refunds/returns/exchange-an-item/",
    ]
    assert len(hrefs) == 5
    # before the sections
    assert html.index('class="kb-popular-in"') < html.index('class="kb-groups"')
    section = (viewed_site / "returns-refunds" / "returns" / "index.html").read_text(encoding="utf-8")
    block = re.search(r'<section class="kb-popular-in".*?</section>', section, re.S)
    assert (
        block
        and re.findall(r'href="([^"]+)"', block.group(0))[0] == "/returns-refunds/returns/exchange-an-item/"
    )


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1280])
def test_category_page_layout(browser, site_url: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    page = ctx.new_page()
    try:
        _goto(page, site_url + CATEGORY)
        groups = page.locator(".kb-group")
        assert groups.count() == 2
        a, b = groups.nth(0).bounding_box(), groups.nth(1).bounding_box()
        assert a and b
        if width == 1280:  # side by side
            assert abs(a["y"] - b["y"]) < 2 and b["x"] > a["x"] + a["width"] - 1, (a, b)
        else:  # stacked
            assert abs(a["x"] - b["x"]) < 2 and b["y"] >= a["y"] + a["height"] - 1, (a, b)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        style = page.evaluate(
            """() => { const a = document.querySelector('.kb-group-title a'), p = document.querySelector('.kb-list-title');
              const s = getComputedStyle(a); return [s.color, s.textDecorationLine, getComputedStyle(p).color]; }"""
        )
        assert style[0] != style[2] and "underline" in style[1], (
            style
        )  # looks like a link, not like body text
        # the title is never squeezed beside the icon: it gets (nearly) the content's whole width
        h1 = page.locator(".kb-page-head .kb-title").bounding_box()
        wrap = page.locator(".kb-listing").bounding_box()
        assert h1 and wrap and h1["width"] >= wrap["width"] - 32 - (120 if width > 600 else 0), (h1, wrap)
        assert h1["height"] < 50, h1  # "Returns & refunds" on one line
        assert page.locator(".kb-popular-in .kb-list li").count() == 5
    finally:
        ctx.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1280])
def test_in_this_section_beside_or_after_the_article(browser, site_url: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    page = ctx.new_page()
    try:
        _goto(page, site_url + ARTICLE)
        nav = page.locator(".kb-section-nav")
        assert (nav.locator("h2").text_content() or "").startswith("In this section")
        links = nav.locator("a")
        assert links.count() == 3
        current = nav.locator("a[aria-current=page]")
        assert current.inner_text() == "When will I get my refund?"
        box, prose = nav.bounding_box(), page.locator(".kb-prose").first.bounding_box()
        assert box and prose
        if width == 1280:  # a sidebar to the right of the text, near the top
            assert box["x"] >= prose["x"] + prose["width"] and box["y"] < 800, (box, prose)
        else:  # after the article's text
            assert box["y"] >= prose["y"] + prose["height"], (box, prose)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        nav.locator("a", has_text="Why did I get a partial refund?").click()
        page.wait_for_url("**/partial-refunds/")
        # without `related:` in its front matter, related articles come from elsewhere in the category, not
        # the same section again
        _goto(page, site_url + "/orders/placing-orders/use-a-promo-code/")
        related = page.locator(".kb-related a")
        assert related.count() >= 1
        hrefs = [related.nth(i).get_attribute("href") or "" for i in range(related.count())]
        assert all(h.startswith("/orders/") and "/placing-orders/" not in h for h in hrefs), hrefs
    finally:
        ctx.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 360])
def test_phone_breadcrumbs_stay_on_one_line(browser, viewed_url: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 740})
    page = ctx.new_page()
    try:
        _goto(page, viewed_url + ARTICLE)
        crumbs = page.locator(".kb-breadcrumbs ol")
        assert LONG_SECTION in crumbs.inner_text()
        box = crumbs.bounding_box()
        assert box and box["height"] <= 48, box  # one line
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        cut = page.evaluate(
            """() => [...document.querySelectorAll('.kb-breadcrumbs li > :is(a, span)')].map(e =>
                 [e.textContent, e.scrollWidth > e.clientWidth, getComputedStyle(e).textOverflow])"""
        )
        long = [c for c in cut if c[0] == LONG_SECTION][0]
        assert long[1] and long[2] == "ellipsis", cut  # cut with an ellipsis, not wrapped
        assert not cut[0][1], cut  # "Home" is never cut
    finally:
        ctx.close()
