"""Right-to-left interface languages in a real Chromium at 360 px: the Arabic site is `<html dir="rtl">`, nothing
sticks out of the screen (the phone menu open too), axe finds nothing serious, the breadcrumb and the search box
with its suggestions read from right to left, and chevrons point along the text."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE_EN, run_kbgen, sample_toml_one_language, serve_directory

PAGES = {
    "home": "/",
    "category": "/orders/",
    "section": "/orders/placing-orders/",
    "article": "/orders/placing-orders/change-or-cancel-an-order/",
    "faq": "/orders/placing-orders/ordering-faq/",
    "howto": "/orders/tracking/track-your-order/",
    "tags": "/tags/",
    "search": "/search/?q=refund",
    "404": "/this-page-does-not-exist/",
}

# Visible elements that reach outside the 0…w viewport (in RTL, overflow to the left does not widen scrollWidth);
# the content of a scrolling or clipping box (the search page's row of category chips) is not on the page itself
OUTSIDE_JS = """(w) => [...document.querySelectorAll('body *')].filter(e => {
  if (!e.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true })) return false;
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement)
    if (getComputedStyle(a).overflowX !== 'visible') return false;
  const r = e.getBoundingClientRect();
  return r.width && r.height && (r.left < -1 || r.right > w + 1);
}).slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().left)
  + '…' + Math.round(e.getBoundingClientRect().right))"""


def _build(tmp: Path, language: str) -> Path:
    shutil.copytree(SAMPLE_EN, tmp / "content")
    toml = sample_toml_one_language()
    toml = re.sub(r'(?m)^language = "en"$', f'language = "{language}"', toml, count=1)  # the UI, not [search]
    (tmp / "kbgen.toml").write_text(toml, encoding="utf-8")
    run_kbgen("build", cwd=tmp)
    return tmp / "site"


@pytest.fixture(scope="module")
def arabic_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("rtl-ar"), "ar")


@pytest.fixture(scope="module")
def arabic_url(arabic_site: Path) -> Iterator[str]:
    url, server = serve_directory(arabic_site)
    yield url
    server.shutdown()


def test_rtl_pages_say_so(arabic_site: Path, tmp_path: Path) -> None:
    for path in ("index.html", "orders/index.html", "404.html", "search/index.html"):
        html = (arabic_site / path).read_text(encoding="utf-8")
        assert '<html lang="ar" dir="rtl">' in html, path
        assert "كيف يمكننا مساعدتك؟" in html or path != "index.html"
    hebrew = _build(tmp_path, "he")
    assert '<html lang="he" dir="rtl">' in (hebrew / "index.html").read_text(encoding="utf-8")


@pytest.mark.browser
def test_rtl_at_360_px(browser, arabic_url: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    ctx = browser.new_context(viewport={"width": 360, "height": 740}, reduced_motion="reduce")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    axe, problems = Axe(), []
    try:
        for kind, path in PAGES.items():
            resp = page.goto(arabic_url + path, wait_until="load")
            assert resp is not None and resp.status == (404 if kind == "404" else 200), path
            assert page.evaluate("getComputedStyle(document.body).direction") == "rtl", kind
            sw = page.evaluate("document.documentElement.scrollWidth")
            if sw > 360:
                problems.append(f"{kind}: horizontal overflow {sw}px > 360px")
            menu = page.locator(".kb-menu > summary")
            if menu.is_visible():
                menu.click()
            outside = page.evaluate(OUTSIDE_JS, 360)
            if outside:
                problems.append(f"{kind}: outside the screen (menu open): {outside}")
            if page.evaluate("scrollX") != 0:
                problems.append(f"{kind}: the page scrolled sideways to {page.evaluate('scrollX')}")
            for v in axe.run(page).response["violations"]:
                if v["impact"] in ("serious", "critical"):
                    problems.append(
                        f"{kind}: axe {v['id']} [{v['impact']}] {[n['target'] for n in v['nodes'][:3]]}"
                    )
    finally:
        ctx.close()
    assert not problems, "\n".join(problems)
    assert not errors, errors


@pytest.mark.browser
def test_breadcrumb_and_search_read_right_to_left(browser, arabic_url: str) -> None:
    page = browser.new_page(viewport={"width": 360, "height": 740})
    try:
        page.goto(arabic_url + PAGES["article"], wait_until="load")
        crumbs = page.evaluate(
            """() => [...document.querySelectorAll('.kb-breadcrumbs li')].map(li => {
                 const r = li.firstElementChild.getClientRects()[0];  // a long crumb may wrap: its first line
                 return [r.left, r.right, r.top, li.textContent.trim()]; })"""
        )
        assert len(crumbs) >= 3 and crumbs[0][3] == "الرئيسية", crumbs
        # each crumb lies to the left of the one before it (Home is rightmost), or starts the next line at its right
        for a, b in zip(crumbs, crumbs[1:], strict=False):
            same_line = abs(b[2] - a[2]) < 2
            assert b[1] <= a[0] + 1 if same_line else (b[2] > a[2] and b[1] >= a[1] - 1), crumbs
        # the separator chevron is mirrored: it points from each crumb to the next one, leftwards
        sep = page.evaluate(
            """() => { const s = document.querySelector('.kb-breadcrumbs .kb-i-sep');
                 return [getComputedStyle(s).transform, s.getBoundingClientRect().right,
                         s.closest('li').querySelector('a').getBoundingClientRect().left]; }"""
        )
        assert sep[0] == "matrix(-1, 0, 0, 1, 0, 0)" and sep[1] <= sep[2] + 1, sep

        box = page.locator("header [data-kb-search-input]").first
        box.fill("refund")
        page.wait_for_selector("header [data-kb-search-results] [role=option]")
        got = page.evaluate(
            """() => { const i = document.querySelector('header [data-kb-search-input]');
                 const icon = i.form.querySelector('.kb-search-icon').getBoundingClientRect();
                 const opts = [...i.form.querySelectorAll('[role=option]')].slice(0, 3).map(o => {
                   // the suggestion's title: aligned to the right end of its row in RTL
                   const t = document.createRange(); t.selectNodeContents(o.querySelector('*') || o);
                   const r = o.getBoundingClientRect(), c = t.getBoundingClientRect();
                   return [r.right - c.right, c.left - r.left]; });
                 const live = [...document.querySelectorAll('header [aria-live], header [role=status]')]
                   .map(e => e.textContent).join(' ');
                 return { dir: getComputedStyle(i).direction, iconLeft: icon.left, inputRight: i.getBoundingClientRect().right,
                          opts, live }; }"""
        )
        assert got["dir"] == "rtl", got
        assert got["iconLeft"] >= got["inputRight"] - 1, f"the search icon is not at the start (right): {got}"
        # each suggestion's title starts at the right edge of its row (after the padding and indent); a short one
        # leaves its room on the left
        assert all(right_gap < 36 for right_gap, _ in got["opts"]), got
        assert any(left_gap > 48 for _, left_gap in got["opts"]), got
        assert re.search(r"\d+ نتيجة|\d+ نتائج|نتيجة واحدة|نتيجتان", got["live"]), got["live"]
    finally:
        page.close()


def test_widget_panels_in_every_language(tmp_path: Path) -> None:
    """The help widget's panel exists in each interface language (data-kb-lang), RTL ones with dir="rtl", and
    its labels ("Was this helpful?", the launcher) come from that language's strings."""
    shutil.copytree(SAMPLE_EN, tmp_path / "content")
    toml = sample_toml_one_language()
    (tmp_path / "kbgen.toml").write_text(
        toml + '\n[widget]\nenabled = true\nhosts = ["https://shop.example"]\n'
    )
    run_kbgen("build", cwd=tmp_path)
    site = tmp_path / "site"
    for lang, direction, helpful in (
        ("ar", "rtl", "هل كان هذا مفيدًا؟"),
        ("he", "rtl", "זה עזר לכם?"),
        ("pl", "ltr", "Czy to było pomocne?"),
        ("de", "ltr", "War das hilfreich?"),
    ):
        html = (site / "_widget" / lang / "index.html").read_text(encoding="utf-8")
        assert f'<html lang="{lang}" dir="{direction}">' in html, lang
        assert helpful in html, lang
    launcher = (site / "widget.js").read_text(encoding="utf-8")
    assert '"sv": "Hj\\u00e4lp"' in launcher and '"nl": "Hulp"' in launcher
