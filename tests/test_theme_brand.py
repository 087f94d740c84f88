"""Branding (issue 18): text on the brand colour computed to meet WCAG AA (and a warning naming the key when
the colour itself cannot carry it), `[brand] font` (a system stack or a self-hosted file: @font-face with
font-display: optional, preloaded, no layout shift), `hero_image`, `logo_dark`, the `[announcement]` table with a
link and an expiry date, and the contact block's "open now" computed in the browser from the hours."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import SAMPLE_EN, run_kbgen, sample_toml_one_language, serve_directory

from kbgen.brand import DARK_TEXT, WHITE, contrast, on_colour, parse_colour, parse_hours

CLS_JS = """() => new Promise(done => {
  let cls = 0;
  new PerformanceObserver(l => { for (const e of l.getEntries()) if (!e.hadRecentInput) cls += e.value; })
    .observe({ type: 'layout-shift', buffered: true });
  setTimeout(() => done(cls), 300);
})"""


def _project(tmp_path: Path, brand: str = "", extra: str = "") -> Path:
    shutil.copytree(SAMPLE_EN, tmp_path / "content")
    toml = sample_toml_one_language()
    if brand:
        toml = toml.replace('[brand]\nbrand_color = "#0b5cad"\n', "[brand]\n" + brand)
    (tmp_path / "kbgen.toml").write_text(toml + extra, encoding="utf-8")
    return tmp_path


def _hex(rgb: str) -> tuple[int, int, int]:
    nums = [int(float(x)) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].replace(",", " ").split()[:3]]
    return (nums[0], nums[1], nums[2])


@pytest.mark.parametrize("r", range(0, 256, 51))
def test_text_on_any_brand_colour_meets_aa(r: int) -> None:
    for g in range(0, 256, 51):
        for b in range(0, 256, 51):
            value = f"#{r:02x}{g:02x}{b:02x}"
            bg, fg, ratio = on_colour(value) or ("", "", 0.0)
            assert ratio >= 4.5 and contrast(parse_colour(bg) or WHITE, parse_colour(fg) or WHITE) >= 4.5, (
                value
            )
            if bg != value:  # darkened only when neither white nor dark text reaches AA on the colour itself
                c = parse_colour(value) or WHITE
                assert contrast(c, WHITE) < 4.5 and contrast(c, DARK_TEXT) < 4.5, value


def test_colour_names_and_functions_are_read() -> None:
    assert parse_colour("rgb(11 92 173)") == parse_colour("#0b5cad") == parse_colour("hsl(210, 88%, 36%)")
    assert parse_colour("gold") == (255, 215, 0)
    assert parse_colour("oklch(.5 .1 200)") is None  # used as given, not checked


def test_opening_hours_format() -> None:
    assert parse_hours("Mon–Fri 8:00–20:00, Sat 9:00–17:00 (UK time)") == [
        *((d, 480, 1200) for d in range(5)),
        (5, 540, 1020),
    ]
    assert parse_hours("Sat-Mon 10:00-16:00") == [(5, 600, 960), (6, 600, 960), (0, 600, 960)]
    assert parse_hours("Mon 9:00–12:00 13:00–17:00") == [(0, 540, 720), (0, 780, 1020)]
    for text in ("Weekdays 9 to 5", "Mon–Fri 8:00–20:00 and whenever", "Mon 18:00–09:00", ""):
        assert parse_hours(text) is None, text


@pytest.mark.parametrize(
    "extra, key",
    [
        ('font = "https://fonts.googleapis.com/css2?family=Inter"\n', "brand.font"),
        ('font = "comic"\n', "brand.font"),
        ('hero_image = "javascript:alert(1)"\n', "brand.hero_image"),
        ('logo_dark = "x\\" onerror=\\"y"\n', "brand.logo_dark"),
    ],
)
def test_bad_brand_keys_are_errors(tmp_path: Path, extra: str, key: str) -> None:
    root = _project(tmp_path, 'brand_color = "#0b5cad"\n' + extra)
    proc = run_kbgen("build", cwd=root, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and key in out and "Traceback" not in out, out
    assert not (root / "site").exists()


@pytest.mark.parametrize(
    "table, key",
    [
        ('text = "Hi"\nexpires = "soon"\n', "announcement.expires"),
        ('text = "Hi"\nlink = "javascript:x"\n', "announcement.link"),
        ('text = ""\n', "announcement.text"),
        ('text = "Hi"\ncolour = "red"\n', "announcement.colour"),
    ],
)
def test_bad_announcement_table_is_an_error(tmp_path: Path, table: str, key: str) -> None:
    root = _project(tmp_path)
    toml = (root / "kbgen.toml").read_text(encoding="utf-8")
    start = toml.index("[announcement]")
    end = toml.index("\n[", start + 1)
    (root / "kbgen.toml").write_text(toml[:start] + "[announcement]\n" + table + toml[end:], encoding="utf-8")
    proc = run_kbgen("build", cwd=root, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and key in out and "Traceback" not in out, out


def test_announcement_expires_and_links(tmp_path: Path) -> None:
    root = _project(tmp_path)
    toml = (root / "kbgen.toml").read_text(encoding="utf-8")
    # run_kbgen builds on 2026-09-21 (SOURCE_DATE_EPOCH): the last day shown is still shown, the day before not
    for expires, shown in (("2026-09-21", True), ("2026-09-20", False)):
        text = toml.replace("[announcement]\n", f"[announcement]\nexpires = {expires}\n")
        (root / "kbgen.toml").write_text(text, encoding="utf-8")
        run_kbgen("build", cwd=root)
        html = (root / "site" / "index.html").read_text(encoding="utf-8")
        assert ("Holiday returns extended" in html) == shown, expires
        if shown:
            assert f'data-kb-expires="{expires}"' in html
            assert '<a href="/returns-refunds/returns/holiday-returns-extension/">See the details</a>' in html
    # the one-line form still works
    (root / "kbgen.toml").write_text('announcement = "One line."\n' + toml[toml.index("[brand]"):].replace(
        toml[toml.index("[announcement]"):toml.index("\n[", toml.index("[announcement]") + 1)], ""), encoding="utf-8")  # fmt: skip
    run_kbgen("build", cwd=root)
    assert (
        '<p class="kb-announcement" role="note">One line.</p>' in (root / "site" / "index.html").read_text()
    )


def test_a_colour_without_aa_text_warns_naming_the_key(tmp_path: Path) -> None:
    root = _project(tmp_path, 'brand_color = "#808080"\n')
    proc = run_kbgen("build", cwd=root)
    out = proc.stdout + proc.stderr
    assert "brand.brand_color" in out and "4.5:1" in out, out
    css = (root / "site" / "static" / "_brand.css").read_text()
    assert "--kb-strong:#767676;--kb-on-strong:#ffffff" in css
    quiet = run_kbgen("build", cwd=_project(tmp_path / "ok", 'brand_color = "#ffd400"\n'))
    assert "brand_color" not in quiet.stdout + quiet.stderr


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_yellow_brand_gets_dark_text(browser, tmp_path: Path, scheme: str) -> None:
    root = _project(tmp_path, 'brand_color = "#ffd400"\n')
    run_kbgen("build", cwd=root)
    url, server = serve_directory(root / "site")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page = ctx.new_page()
    try:
        page.goto(url + "/")
        got = page.evaluate(
            "() => { const s = getComputedStyle(document.querySelector('.kb-sf-hero .kb-search-submit'));"
            " return [s.backgroundColor, s.color]; }"
        )
        bg, fg = _hex(got[0]), _hex(got[1])
        assert bg == (255, 212, 0), got  # the brand's own yellow, not a darkened one
        assert contrast(bg, fg) >= 4.5, got
    finally:
        ctx.close()
        server.shutdown()


def _a_font() -> Path:
    for f in sorted(Path("/usr/share/fonts").rglob("*.ttf")):
        return f
    pytest.skip("no .ttf font on this machine to self-host")


@pytest.mark.browser
def test_self_hosted_font_hero_image_and_dark_logo(browser, tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        'brand_color = "#0b5cad"\nfont = "static/fonts/brand.ttf"\nhero_image = "static/hero.svg"\n'
        'logo = "static/logo.svg"\nlogo_dark = "static/logo-dark.svg"\n',
    )
    (root / "static" / "fonts").mkdir(parents=True)
    shutil.copy(_a_font(), root / "static" / "fonts" / "brand.ttf")
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"><rect width="64" height="32" fill="{}"/></svg>'
    for name, fill in (("hero.svg", "#fc0"), ("logo.svg", "#000"), ("logo-dark.svg", "#fff")):
        (root / "static" / name).write_text(svg.format(fill), encoding="utf-8")
    run_kbgen("build", cwd=root)
    css = (root / "site" / "static" / "_brand.css").read_text()
    assert "font-display:optional" in css and 'url("/static/fonts/brand.ttf")' in css
    html = (root / "site" / "index.html").read_text()
    assert '<link rel="preload" href="/static/fonts/brand.ttf" as="font" crossorigin>' in html
    url, server = serve_directory(root / "site")
    requests: list[str] = []
    try:
        for scheme in ("light", "dark"):
            ctx = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
            page = ctx.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url + "/")
            page.evaluate("document.fonts.ready")
            assert page.evaluate("document.fonts.check('16px kb-brand')")
            assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("kb-brand")
            assert page.evaluate(CLS_JS) == 0
            hero = page.evaluate("getComputedStyle(document.querySelector('.kb-hero')).backgroundImage")
            assert "/static/hero.svg" in hero, hero
            light, dark = page.locator(".kb-logo-light"), page.locator(".kb-logo-dark")
            assert light.is_visible() == (scheme == "light") and dark.is_visible() == (scheme == "dark")
            ctx.close()
        assert all(r.startswith(url) for r in requests), [r for r in requests if not r.startswith(url)]
    finally:
        server.shutdown()
    (root / "static" / "fonts" / "brand.ttf").unlink()
    proc = run_kbgen("build", cwd=root, check=False)
    assert proc.returncode != 0 and "brand.font" in proc.stdout + proc.stderr


@pytest.mark.browser
@pytest.mark.parametrize(
    "when, phone, chat",
    [
        (datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc), "Open now", "Open now"),  # Monday 10:00 London
        (datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc), "Closed now", "Open now"),  # Sunday
        (datetime(2026, 12, 7, 23, 30, tzinfo=timezone.utc), "Closed now", "Closed now"),  # Monday night
    ],
)
def test_open_now_is_computed_in_the_browser(
    browser, site_url: str, when: datetime, phone: str, chat: str
) -> None:
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, timezone_id="America/New_York")
    page = ctx.new_page()
    try:
        page.clock.set_fixed_time(when)
        page.goto(site_url + "/")
        badge = page.locator('[data-kb-contact="phone"] .kb-open')
        badge.wait_for(state="visible")
        assert badge.inner_text() == phone
        assert page.locator('[data-kb-contact="chat"] .kb-open').inner_text() == chat
    finally:
        ctx.close()
