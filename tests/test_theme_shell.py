"""The theme's shell (issue 18): header links + phone menu, "Contact us", contact block on every page type,
the home page's announcement / category previews / no repeats, the search page without JavaScript."""

from __future__ import annotations

import html as htmlmod
import re
from pathlib import Path

import pytest
from conftest import SAMPLE_EN, run_kbgen
from test_theme import _goto, pages  # noqa: F401  (the fixture is used by name)

KINDS = ("home", "category", "section", "article", "faq", "search", "404")


def _toml(tmp_path: Path, extra: str) -> Path:
    import shutil

    shutil.copytree(SAMPLE_EN, tmp_path / "content")
    (tmp_path / "kbgen.toml").write_text('title = "T"\n' + extra, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "extra, key",
    [
        ('[[header_links]]\ntitle = "Shop"\nurl = "javascript:alert(1)"\n', "header_links[0].url"),
        ('[[header_links]]\ntitle = "Shop"\nurl = "https://a.example/\\"><x"\n', "header_links[0].url"),
        ('[[header_links]]\ntitle = ""\nurl = "https://a.example/"\n', "header_links[0].title"),
        ('[[header_links]]\ntitle = "Shop"\n', "header_links[0].url"),
        ('[[header_links]]\ntitle = "Shop"\nurl = "https://a.example/"\nicon = "x"\n', "icon"),
        ('announcement = "' + "x" * 301 + '"\n', "announcement"),
        ('announcement = "one\\ntwo"\n', "announcement"),
    ],
)
def test_bad_header_config_is_an_error_naming_the_key(tmp_path: Path, extra: str, key: str) -> None:
    proc = run_kbgen("build", cwd=_toml(tmp_path, extra), check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert key in out and "kbgen.toml" in out and "Traceback" not in out, out
    assert not (tmp_path / "site").exists()


def test_announcement_is_escaped_text(tmp_path: Path) -> None:
    hostile = "<img src=x onerror=alert(1)> & <b>bold</b>"
    root = _toml(tmp_path, f'announcement = "{hostile}"\n')
    run_kbgen("build", cwd=root)
    html = (root / "site" / "index.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html and "<b>bold" not in html
    assert htmlmod.escape(hostile, quote=False) in html


def test_home_has_no_repeats_and_previews_categories(sample_site: Path) -> None:
    html = (sample_site / "index.html").read_text(encoding="utf-8")
    blocks = dict(re.findall(r'<section class="kb-block" aria-labelledby="(kb-\w+)">(.*?)</section>', html, re.S))
    popular = set(re.findall(r'href="([^"]+)"', blocks["kb-popular"]))
    recent = set(re.findall(r'href="([^"]+)"', blocks.get("kb-recent", "")))
    assert popular and not popular & recent, popular & recent
    cards = re.findall(r'<ul class="kb-card-top">(.*?)</ul>', blocks["kb-topics"], re.S)
    assert cards and all(1 <= c.count("<li>") <= 3 for c in cards)
    assert "Holiday returns extended to 31 January." in html


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1280])
def test_header_and_contact_on_every_page(browser, site_url: str, pages: dict[str, str], width: int) -> None:  # noqa: F811
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    page = ctx.new_page()
    try:
        for kind in KINDS:
            _goto(page, site_url + pages[kind])
            assert page.locator(".kb-logo .kb-logo-text").inner_text() == "Northwind Help Centre", kind
            contact = page.locator("#kb-contact .kb-contact")
            assert contact.count() == 1, kind  # once, not twice
            assert page.locator(".kb-contact").count() == 1, kind
            assert page.locator("[data-kb-theme-toggle]").is_visible(), kind
            if kind not in ("home", "search"):
                assert page.locator(".kb-header [data-kb-search-input]").is_visible(), kind
            if kind == "home":
                assert page.locator(".kb-header [data-kb-search-input]").count() == 0
            box = contact.bounding_box()
            assert box, kind
            if width == 360:
                assert box["height"] <= 250, (kind, box)
                assert page.evaluate("document.documentElement.scrollWidth") <= 360, kind
            links = page.locator(".kb-header-nav a:visible")
            if width == 360:
                assert links.count() == 0, kind  # folded into the menu
                page.locator(".kb-menu > summary").click()
            names = [links.nth(i).inner_text() for i in range(links.count())]
            assert names == ["Back to shop", "Order status", "Contact us"], (kind, names)
            page.locator(".kb-header-nav a:visible", has_text="Contact us").click()
            page.wait_for_function("location.hash === '#kb-contact'")
            assert page.locator("#kb-contact .kb-contact").is_visible()
            # (scrolling may be smooth: wait until the block is in view)
            page.wait_for_function("document.getElementById('kb-contact').getBoundingClientRect().top < innerHeight")
    finally:
        ctx.close()


@pytest.mark.browser
def test_phone_menu_works_without_javascript(browser, site_url: str, pages: dict[str, str]) -> None:  # noqa: F811
    ctx = browser.new_context(viewport={"width": 360, "height": 800}, java_script_enabled=False)
    page = ctx.new_page()
    try:
        page.goto(site_url + pages["article"])
        summary = page.locator(".kb-menu > summary")
        assert summary.is_visible() and page.locator(".kb-menu-links a").first.is_hidden()
        summary.click()
        assert page.locator(".kb-menu-links a", has_text="Order status").is_visible()
        page.keyboard.press("Escape")
        # the search page without JS: says so and links to the categories
        page.goto(site_url + "/search/?q=refund")
        assert page.locator(".kb-notice", has_text="Search needs JavaScript").is_visible()
        link = page.locator(".kb-notice a", has_text="Browse all categories")
        link.click()
        page.wait_for_url("**/#kb-topics")
        assert page.locator("#kb-topics").is_visible()
    finally:
        ctx.close()


@pytest.mark.browser
def test_theme_can_return_to_system_and_slash_focuses_search(browser, site_url: str, pages: dict[str, str]) -> None:  # noqa: F811
    ctx = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        _goto(page, site_url + pages["article"])
        system = page.locator("[data-kb-theme-system]")
        assert system.is_hidden()  # already following the system
        page.locator("[data-kb-theme-toggle]").click()
        assert page.evaluate("document.documentElement.dataset.theme") == "light"
        assert system.is_visible()
        system.click()
        assert page.evaluate("document.documentElement.dataset.theme") is None
        assert page.evaluate("localStorage.getItem('kb-theme')") is None
        _goto(page, site_url + pages["home"])
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 255, 255)"
        # "/" focuses the search box, but not while typing in one
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "kb-q-hero"
        page.keyboard.type("a/b")
        assert page.locator("#kb-q-hero").input_value() == "a/b"
        # the search page keeps ?q= in its box
        _goto(page, site_url + "/search/?q=" + "%3Cb%3Erefund")
        assert page.locator("#kb-q-page").input_value() == "<b>refund"
    finally:
        ctx.close()
