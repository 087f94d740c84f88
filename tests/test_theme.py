"""The default theme in a real Chromium: layout at three widths, touch targets, axe-core in light and dark,
FAQ deep links, the dark-mode toggle, the site without JavaScript, theme overriding and the size budgets."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_kbgen, serve_directory

THEME = ROOT / "themes" / "default"
VIEWPORTS = {"360": (360, 740), "768": (768, 1024), "1280": (1280, 800)}
MISSING = "/this-page-does-not-exist/"

# Visible links/buttons smaller than 44×44 in both directions (the check is "tall OR wide").
SMALL_TARGETS_JS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('a, button')) {
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    if (!r.width || !r.height || cs.visibility === 'hidden' || !el.checkVisibility()) continue;
    if (r.height < 43.5 && r.width < 43.5)
      bad.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 40)}"`
        + ` ${Math.round(r.width)}×${Math.round(r.height)}`);
  }
  return bad;
}"""


WIDE_ELEMENTS_JS = """(w) => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > w + 1).slice(0, 5).map(e => e.tagName + '.' + e.className)"""


def _gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


def _kind(html: str) -> str:
    m = re.search(r'<body class="kb-kind-([a-z0-9]+)"', html)
    return m.group(1) if m else ""


@pytest.fixture(scope="module")
def pages(sample_site: Path) -> dict[str, str]:
    """One site-relative URL per page type of the built sample site, found by what the pages say they are."""
    found: dict[str, str] = {}
    article_has_toc = False
    for f in sorted(sample_site.rglob("index.html")):
        html = f.read_text(encoding="utf-8")
        rel = f.parent.relative_to(sample_site).as_posix()
        if rel.split("/")[0] in ("fr", "de"):  # the sample's other languages: its English pages
            continue
        url = "/" if rel == "." else f"/{rel}/"
        kind = _kind(html)
        if kind == "article":
            m = re.search(r'data-kb-type="(article|faq|howto)"', html)
            t = m.group(1) if m else "article"
            if t != "article":
                found.setdefault(t, url)
            elif "article" not in found or ('class="kb-toc"' in html and not article_has_toc):
                # Prefer an article long enough to have its table of contents.
                found["article"], article_has_toc = url, 'class="kb-toc"' in html
        elif kind in ("home", "category", "section", "tag", "tags", "search"):
            found.setdefault(kind, url)
    found["404"] = MISSING
    expected = {"home", "category", "section", "article", "faq", "howto", "tag", "tags", "search", "404"}
    assert expected <= set(found), f"page types missing from the sample site: {expected - set(found)}"
    return found


def _first_page_with(site: Path, *needles: str) -> str | None:
    """Site-relative URL of the first built page whose HTML contains every needle."""
    for f in sorted(site.rglob("index.html")):
        html = f.read_text(encoding="utf-8")
        if all(n in html for n in needles):
            return "/" + f.parent.relative_to(site).as_posix() + "/"
    return None


def _goto(page, url: str) -> None:
    resp = page.goto(url, wait_until="load")
    assert resp is not None
    assert resp.status == (404 if url.endswith(MISSING) else 200), url


# -- budgets and static checks -----------------------------------------------------------------------


def test_asset_budgets() -> None:
    css, js = sum(_gz(f) for f in (THEME / "static").rglob("*.css")), _gz(THEME / "static" / "kb.js")
    assert css <= 12 * 1024, f"the theme's CSS is {css} B gzipped (budget 12 KB)"
    assert js <= 4 * 1024, f"kb.js is {js} B gzipped (budget 4 KB)"
    analytics = THEME / "static" / "analytics.js"
    if analytics.exists():
        both = js + _gz(analytics)
        assert both <= 6 * 1024, f"kb.js + analytics.js are {both} B gzipped (shared budget 6 KB)"


def test_translations_have_the_same_keys() -> None:
    import json

    en = json.loads((THEME / "i18n" / "en.json").read_text(encoding="utf-8"))
    plural = re.compile(r"_(zero|one|two|few|many|other)$")  # plural families differ by language
    for lang in ("fr", "es"):
        other = json.loads((THEME / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        differ = {k for k in set(other) ^ set(en) if not plural.search(k)}
        assert not differ, f"{lang}.json keys differ: {differ}"
        same = [k for k, v in other.items() if isinstance(v, str) and v == en.get(k) and len(v.split()) >= 3]
        assert not same, f"{lang}.json has untranslated strings: {same}"


def test_head_contract(sample_site: Path, pages: dict[str, str]) -> None:
    html = (sample_site / pages["article"].strip("/") / "index.html").read_text(encoding="utf-8")
    for needle in (
        '<meta name="viewport"',
        '<meta name="description"',
        '<link rel="canonical"',
        'property="og:title"',
        'property="og:description"',
        'property="og:url"',
        'property="og:type"',
        'property="og:site_name"',
        'type="application/atom+xml"',
        'type="application/ld+json"',
        'rel="icon"',
        '<meta name="referrer" content="strict-origin">',
        'id="kb-contact"',
        "data-kb-base=",
        'data-kb-feedback="yes"',
        "data-kb-contact=",
    ):
        assert needle in html, needle
    # Nothing blocks the first paint but the theme's stylesheet, the brand colours (static/_brand.css, written
    # by the build) and kb-init.js (the stored light/dark choice, before first paint); every other external
    # script is deferred. No inline script or style: the theme works under a strict CSP.
    sheets = re.findall(r'<link[^>]+rel="stylesheet"[^>]*>', html)
    assert len(sheets) == 2 and "/static/_brand.css?v=" in sheets[1], sheets
    brand = (sample_site / "static" / "_brand.css").read_text(encoding="utf-8")
    assert "--kb-brand:#0b5cad" in brand and "--kb-accent:" in brand
    scripts = re.findall(r"<script[^>]*\ssrc=[^>]*>", html)
    blocking = [s for s in scripts if not re.search(r"\s(?:defer|async)[\s>]", s)]
    assert scripts and len(blocking) == 1 and "/static/kb-init.js?v=" in blocking[0], scripts
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html)
    assert not [s for s in re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html) if "application/" not in s]
    # No request leaves the site: no external stylesheet, script, font or image in the theme's output.
    assert not re.search(r'<(?:script|img|iframe)[^>]+src="(?:https?:)?//', html)
    assert not re.search(r'<link[^>]+rel="(?:stylesheet|preload|icon)"[^>]+href="(?:https?:)?//', html)


# -- layout and touch targets at three widths ---------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("vp", list(VIEWPORTS))
def test_layout(browser, site_url: str, pages: dict[str, str], vp: str) -> None:
    w, h = VIEWPORTS[vp]
    ctx = browser.new_context(viewport={"width": w, "height": h})
    external: list[str] = []
    ctx.on("request", lambda r: None if r.url.startswith((site_url, "data:")) else external.append(r.url))
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    problems = []
    try:
        for kind, path in pages.items():
            _goto(page, site_url + path)
            sw = page.evaluate("document.documentElement.scrollWidth")
            if sw > w:
                wide = page.evaluate(WIDE_ELEMENTS_JS, w)
                problems.append(f"{kind} {path}: horizontal overflow {sw}px > {w}px ({wide})")
            if vp == "360":
                small = page.evaluate(SMALL_TARGETS_JS)
                if small:
                    problems.append(f"{kind} {path}: targets under 44×44 px: {small}")
            assert page.locator("h1").count() == 1, f"{kind}: expected exactly one h1"
    finally:
        ctx.close()
    assert not problems, "\n".join(problems)
    assert not external, f"external requests: {external}"
    assert not errors, f"JavaScript errors: {errors}"


# -- accessibility ------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe(browser, site_url: str, pages: dict[str, str], scheme: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 800}, color_scheme=scheme, reduced_motion="reduce"
    )
    page = ctx.new_page()
    found = []
    try:
        for kind, path in pages.items():
            _goto(page, site_url + path)
            bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert (bg == "rgb(255, 255, 255)") == (scheme == "light"), (
                f"{kind}: body background {bg} in {scheme}"
            )
            results = axe.run(page)
            for v in results.response["violations"]:
                if v["impact"] in ("serious", "critical"):
                    targets = [n["target"] for n in v["nodes"][:5]]
                    found.append(f"{kind} ({scheme}) {v['id']} [{v['impact']}]: {v['help']} {targets}")
    finally:
        ctx.close()
    assert not found, "\n".join(found)


@pytest.mark.browser
def test_headings_in_order(browser, site_url: str, pages: dict[str, str]) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        for kind, path in pages.items():
            _goto(page, site_url + path)
            levels = page.evaluate(
                "[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])"
            )
            assert levels and levels[0] == 1, f"{kind}: first heading is not h1: {levels}"
            jumps = [(a, b) for a, b in zip(levels, levels[1:], strict=False) if b > a + 1]
            assert not jumps, f"{kind}: skipped heading levels {jumps} in {levels}"
            assert page.locator("header").count() >= 1 and page.locator("main").count() == 1
            assert page.locator("footer").count() >= 1 and page.locator("nav").count() >= 1
    finally:
        ctx.close()


# -- behaviour ------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_faq_deep_link_and_expand_all(browser, site_url: str, pages: dict[str, str]) -> None:
    ctx = browser.new_context(viewport={"width": 360, "height": 740})
    page = ctx.new_page()
    try:
        _goto(page, site_url + pages["faq"])
        ids = page.eval_on_selector_all(".kb-faq details", "els => els.map(e => e.id)")
        assert len(ids) >= 3 and all(ids), ids
        assert page.evaluate("[...document.querySelectorAll('.kb-faq details')].every(d => !d.open)")
        target = ids[-1]
        _goto(page, site_url + pages["home"])  # arrive with the fragment, as from a link on another page
        _goto(page, f"{site_url}{pages['faq']}#{target}")
        page.wait_for_function(f"document.getElementById({target!r}).open")
        in_view = (
            "(id) => { const r = document.getElementById(id).getBoundingClientRect();"
            " return r.top >= -1 && r.top < innerHeight - 40; }"
        )
        page.wait_for_function(in_view, arg=target)
        opened = page.evaluate(
            "[...document.querySelectorAll('.kb-faq details')].filter(d => d.open).map(d => d.id)"
        )
        assert opened == [target]
        # hashchange opens another one.
        page.evaluate(f"location.hash = {ids[0]!r}")
        page.wait_for_function(f"document.getElementById({ids[0]!r}).open")
        page.wait_for_function(in_view, arg=ids[0])
        # Expand all / Collapse all.
        btn = page.locator("[data-kb-faq-toggle]")
        assert btn.is_visible()
        btn.click()
        assert page.evaluate("[...document.querySelectorAll('.kb-faq details')].every(d => d.open)")
        assert btn.get_attribute("aria-expanded") == "true"
        btn.click()
        assert page.evaluate("[...document.querySelectorAll('.kb-faq details')].every(d => !d.open)")
        assert btn.get_attribute("aria-expanded") == "false"
    finally:
        ctx.close()


@pytest.mark.browser
def test_dark_mode_toggle_persists(browser, site_url: str, pages: dict[str, str]) -> None:
    ctx = browser.new_context(color_scheme="light")
    page = ctx.new_page()
    try:
        _goto(page, site_url + pages["home"])
        toggle = page.locator("[data-kb-theme-toggle]")
        box = toggle.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44
        assert toggle.get_attribute("aria-label") and toggle.get_attribute("aria-pressed") == "false"
        toggle.click()
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert toggle.get_attribute("aria-pressed") == "true"
        _goto(page, site_url + pages["article"])
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 255, 255)"
        assert page.locator("[data-kb-theme-toggle]").get_attribute("aria-pressed") == "true"
        page.locator("[data-kb-theme-toggle]").click()
        _goto(page, site_url + pages["home"])
        assert page.evaluate("document.documentElement.dataset.theme") == "light"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    finally:
        ctx.close()


@pytest.mark.browser
def test_feedback_zoom_and_video(browser, site_url: str, sample_site: Path, pages: dict[str, str]) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        _goto(page, site_url + pages["article"])
        page.locator("[data-kb-feedback=yes]").click()
        thanks = page.locator("[data-kb-feedback-thanks]")
        assert thanks.is_visible() and thanks.inner_text().strip()
        assert not page.locator("[data-kb-feedback=yes]").is_visible()

        img_page = _first_page_with(sample_site, 'class="kb-prose"', "<img src=")
        if img_page is not None:
            _goto(page, site_url + img_page)
            page.locator(".kb-prose img").first.click()
            assert page.locator(".kb-zoom").is_visible()
            page.keyboard.press("Escape")
            assert page.locator(".kb-zoom").count() == 0

        video = _first_page_with(sample_site, "data-kb-video=")
        if video is not None:
            page.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort())
            _goto(page, site_url + video)
            facade = page.locator("[data-kb-video]").first
            box = facade.bounding_box()
            assert box and abs(box["width"] / box["height"] - 16 / 9) < 0.05
            src = facade.get_attribute("data-src")
            page.evaluate(
                "window.__ev = []; window.kb = window.kb || {}; window.kb.track = (n, p) => window.__ev.push([n, p]);"
            )
            facade.click()
            frame = page.locator(".kb-video iframe").first
            assert "autoplay=1" in frame.get_attribute("src") and frame.get_attribute("src").startswith(src)
            assert any(n == "video_play" for n, _ in page.evaluate("window.__ev"))
    finally:
        ctx.close()


@pytest.mark.browser
def test_without_javascript(browser, site_url: str, pages: dict[str, str]) -> None:
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    page = ctx.new_page()
    try:
        for kind, path in pages.items():
            _goto(page, site_url + path)
            assert page.locator("h1").is_visible(), kind
            assert len(page.locator("main").inner_text().strip()) > 40, f"{kind}: main has no readable text"
            assert not page.locator("[data-kb-theme-toggle]").is_visible(), f"{kind}: dead theme toggle shown"
            if page.locator("[data-kb-feedback]").count():
                assert not page.locator("[data-kb-feedback]").first.is_visible(), (
                    f"{kind}: dead feedback buttons"
                )
        # The search page explains itself and links to the categories.
        _goto(page, site_url + pages["search"])
        assert page.locator("noscript").count() == 1
        assert "JavaScript" in page.content()
        # Navigation by plain links: home → a category card → an article.
        _goto(page, site_url + pages["home"])
        page.locator(".kb-card .kb-card-link").first.click()
        page.wait_for_load_state()
        assert page.evaluate("document.body.className") == "kb-kind-category"
        page.locator(".kb-list a").first.click()
        page.wait_for_load_state()
        assert "kb-kind-article" in page.evaluate("document.body.className")
        # FAQ accordions are native <details>.
        _goto(page, site_url + pages["faq"])
        first = page.locator(".kb-faq details").first
        assert first.get_attribute("open") is None
        first.locator("summary").click()
        assert first.get_attribute("open") is not None
        assert first.locator(".kb-faq-answer").is_visible()
        assert not page.locator("[data-kb-faq-toggle]").is_visible(), "Expand all shown without JavaScript"
    finally:
        ctx.close()


@pytest.mark.browser
def test_print_article(browser, site_url: str, pages: dict[str, str]) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        _goto(page, site_url + pages["faq"])
        page.emulate_media(media="print")
        for sel in (
            "header.kb-header",
            "footer.kb-footer",
            ".kb-feedback",
            ".kb-contact",
            "form[data-kb-search]",
        ):
            loc = page.locator(sel)
            assert loc.count() == 0 or not loc.first.is_visible(), f"{sel} printed"
        assert page.locator(".kb-faq-answer").first.is_visible(), "FAQ answers must print opened"
    finally:
        ctx.close()


# -- theme overriding ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_theme_override(browser, tmp_path: Path, pages: dict[str, str]) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    toml = re.sub(r"(?m)^theme\s*=.*\n", "", toml)
    (tmp_path / "kbgen.toml").write_text('theme = "custom"\n' + toml, encoding="utf-8")
    tpl = tmp_path / "themes" / "custom" / "templates"
    tpl.mkdir(parents=True)
    (tpl / "article.html").write_text(
        '{% extends "@default/article.html" %}\n'
        '{% block feedback %}<p id="custom-feedback">Custom feedback for {{ article.title }}</p>{% endblock %}\n',
        encoding="utf-8",
    )
    static = tmp_path / "themes" / "custom" / "static"
    static.mkdir(parents=True)
    (static / "kb.css").write_text("/* custom-theme-css */ body{background:rgb(1, 2, 3)}\n", encoding="utf-8")
    run_kbgen("build", cwd=tmp_path)
    site = tmp_path / "site"
    html = (site / pages["article"].strip("/") / "index.html").read_text(encoding="utf-8")
    assert 'id="custom-feedback"' in html
    assert "data-kb-feedback=" not in html, "the replaced block is still rendered"
    assert "kb-article-head" in html and "kb-header" in html, "the rest of the default chrome is kept"
    faq = (site / pages["faq"].strip("/") / "index.html").read_text(encoding="utf-8")
    assert 'id="custom-feedback"' in faq, "faq.html extends article.html, so it picks up the override"
    css = next(site.rglob("kb.css")).read_text(encoding="utf-8")
    assert "custom-theme-css" in css
    url, server = serve_directory(site)
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(url + pages["article"])
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(1, 2, 3)"
        assert page.locator("#custom-feedback").is_visible()
    finally:
        ctx.close()
        server.shutdown()


@pytest.mark.browser
@pytest.mark.parametrize("brand,accent", [("#ffd400", "#7fffd4"), ("#151515", "#2b0a3d")])
def test_any_brand_colour_keeps_text_contrast(
    browser, tmp_path: Path, pages: dict[str, str], brand, accent
) -> None:
    """Brand colours are clamped by the CSS, so a very light or very dark brand still gives ≥ 4.5:1 text."""
    from axe_playwright_python.sync_playwright import Axe

    shutil.copytree(ROOT / "content", tmp_path / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    toml = re.sub(r"(?m)^brand_color\s*=.*$", f'brand_color = "{brand}"', toml)
    toml = re.sub(r"(?m)^accent_color\s*=.*$", f'accent_color = "{accent}"', toml)
    (tmp_path / "kbgen.toml").write_text(toml, encoding="utf-8")
    run_kbgen("build", cwd=tmp_path)
    url, server = serve_directory(tmp_path / "site")
    axe, found = Axe(), []
    options = {"runOnly": {"type": "rule", "values": ["color-contrast"]}, "resultTypes": ["violations"]}
    try:
        for scheme in ("light", "dark"):
            ctx = browser.new_context(color_scheme=scheme, reduced_motion="reduce")
            page = ctx.new_page()
            for kind in ("home", "article", "howto", "404"):
                _goto(page, url + pages[kind])
                got = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--kb-brand')")
                assert got.strip() == brand
                for v in axe.run(page, options=options).response["violations"]:
                    found += [
                        f"{kind} ({scheme}): {n['target']} {n['any'][0]['message'] if n['any'] else ''}"
                        for n in v["nodes"][:5]
                    ]
            ctx.close()
    finally:
        server.shutdown()
    assert not found, "\n".join(found)
