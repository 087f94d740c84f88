"""The help widget in a real Chromium, with two origins on 127.0.0.1: a shop on one port embeds
`widget.js` from the built help centre served on another (and a third port plays a foreign site)."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, _mime_fix, _QuietHandler, run_kbgen, serve_directory
from conftest import wait_for as _wait_for

pytestmark = pytest.mark.browser

WIDGET_TOML = """
[widget]
enabled = true
hosts = ["{shop}"]

[[widget.suggest]]
match = "/checkout*"
articles = ["payments-billing/payment-methods/payment-declined.md", "orders/placing-orders/use-a-promo-code.md"]

[[widget.suggest]]
match = ["/account/orders/*", "/track"]
tags = ["tracking"]
"""

SHOP_STYLE = """<style>body{margin:0;font:16px/1.5 sans-serif} main{max-width:40rem;margin:0 auto;padding:1rem}
p{margin:0 0 1rem} .cta{display:block;width:100%;padding:1rem}</style>"""
SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Northwind shop</title>
{style}</head>
<body><main><h1 id="top">Checkout</h1>
{paras}
<button class="cta" id="pay">Pay now</button>
</main>
<script src="{site}/widget.js" async{attrs}></script>
</body></html>
"""

FOREIGN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Elsewhere</title></head>
<body><iframe id="f" title="help" src="{panel}"></iframe></body></html>"""


class _Pages(http.server.BaseHTTPRequestHandler):
    """Answers every path with the page the server was made for (a shop: any path is a shop page)."""

    page: Callable[[str], str] = staticmethod(lambda path: "")
    csp: Callable[[str], str] = staticmethod(lambda path: "")

    def do_GET(self) -> None:  # noqa: N802
        body = self.page(self.path).encode()
        self.send_response(200)
        if self.csp(self.path):
            self.send_header("Content-Security-Policy", self.csp(self.path))
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _serve_pages(
    page: Callable[[str], str], csp: Callable[[str], str] = lambda path: ""
) -> tuple[str, http.server.ThreadingHTTPServer]:
    handler = type("H", (_Pages,), {"page": staticmethod(page), "csp": staticmethod(csp)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


class _StrictCSP(_QuietHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", "default-src 'self'")
        super().end_headers()


def _serve_strict(root: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    """The built help centre served with `Content-Security-Policy: default-src 'self'`."""
    _mime_fix()
    handler = functools.partial(_StrictCSP, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {}

    def shop_page(path: str) -> str:
        # /csp/…: the help centre from the server that sends a strict CSP, the shop page under one too;
        # /options/…: the launcher with every data-kb-* option.
        attrs = (
            ' data-kb-lang="fr" data-kb-position="left" data-kb-color="#aa0000"'
            if "/options/" in path
            else ""
        )
        if path.endswith("/with-suggest"):  # …/with-suggest: data-kb-suggest
            attrs = ' data-kb-suggest="gift card balance"'
        return SHOP_PAGE.format(
            site=state["csp_site"] if path.startswith("/csp/") else state["site"],
            attrs=attrs,
            style="" if path.startswith("/csp/") else SHOP_STYLE,
            paras="\n".join(f"<p>Line {i} of the order summary.</p>" for i in range(30)),
        )

    def shop_csp(path: str) -> str:
        if not path.startswith("/csp/"):
            return ""
        # What the README tells a shop with a strict CSP to add: script-src and frame-src for the help centre.
        return f"default-src 'self'; script-src 'self' {state['csp_site']}; frame-src {state['csp_site']}"

    shop, shop_server = _serve_pages(shop_page, shop_csp)
    foreign, foreign_server = _serve_pages(lambda path: FOREIGN_PAGE.format(panel=state["panel"]))
    root = tmp_path_factory.mktemp("widget")
    shutil.copytree(ROOT / "content", root / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8") + WIDGET_TOML.format(shop=shop)
    (root / "kbgen.toml").write_text(toml, encoding="utf-8")
    run_kbgen("build", cwd=root)
    site, site_server = serve_directory(root / "site")
    csp_site, csp_server = _serve_strict(root / "site")
    state.update(site=site, csp_site=csp_site, shop=shop, foreign=foreign, root=root)
    # A foreign site framing the panel and claiming to be the shop.
    state["panel"] = f"{site}/_widget/#o={shop}&p=/checkout"
    yield state
    for s in (shop_server, foreign_server, site_server, csp_server):
        s.shutdown()


# Every frame (the panel's too) collects analytics.js's kb:event DOM events before any script runs.
COLLECT = "document.addEventListener('kb:event', e => (window.__kbEvents = window.__kbEvents || []).push(e.detail));"
CLS = """new PerformanceObserver(l => { for (const e of l.getEntries()) if (!e.hadRecentInput)
  window.__cls = (window.__cls || 0) + e.value; }).observe({type: 'layout-shift', buffered: true});"""


@pytest.fixture
def page(browser: Any, env: dict[str, Any]) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.add_init_script(COLLECT)
    ctx.add_init_script("if (window.top === window) { window.__cls = 0; " + CLS + " }")
    # Contact links leave for the shop's own pages: answer them here (no network).
    ctx.route("https://northwind.example/**", lambda route: route.fulfill(status=200, body="ok"))
    p = ctx.new_page()
    p.errors = []  # type: ignore[attr-defined]
    p.on("console", lambda m: m.type == "error" and p.errors.append(m.text))  # type: ignore[attr-defined]
    p.on("pageerror", lambda e: p.errors.append(str(e)))  # type: ignore[attr-defined]
    yield p
    ctx.close()


def _launcher(page: Any) -> Any:
    page.wait_for_function("() => document.querySelector('kb-widget')?.shadowRoot?.querySelector('button')")
    return page.locator("kb-widget").locator("button")


def _panel(page: Any, env: dict[str, Any]) -> Any:
    frame = page.wait_for_selector("kb-widget iframe", state="attached").content_frame()
    assert frame, "the panel iframe did not appear"
    frame.wait_for_selector("[data-kbw-results] a, [data-kbw-answer]:not([hidden])")
    return frame


def _events(frame: Any) -> list[dict[str, Any]]:
    return frame.evaluate("window.__kbEvents || []")


def test_launcher_loads_without_layout_shift_or_errors_and_opens_the_panel(
    page: Any, env: dict[str, Any]
) -> None:
    page.goto(env["shop"] + "/checkout")
    sheets = page.evaluate("document.styleSheets.length")
    before = page.evaluate("JSON.stringify(document.querySelector('#pay').getBoundingClientRect())")
    button = _launcher(page)
    assert button.get_attribute("aria-label") is None and button.inner_text().strip() == "Help"
    assert page.evaluate("getComputedStyle(document.querySelector('kb-widget')).position") == "fixed"
    button.click()
    _panel(page, env)
    # Nothing moved on the host page, no stylesheet was added to it, nothing went wrong in its console.
    assert page.evaluate("JSON.stringify(document.querySelector('#pay').getBoundingClientRect())") == before
    assert page.evaluate("window.__cls") == 0
    assert page.evaluate("document.styleSheets.length") == sheets
    iframe = page.locator("kb-widget").locator("iframe")
    assert (
        iframe.get_attribute("sandbox")
        == "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    )
    assert iframe.get_attribute("title") == "Help"
    assert not page.errors, page.errors  # type: ignore[attr-defined]
    # No cookie, no storage, on either side.
    frame = _panel(page, env)
    assert frame.evaluate("[document.cookie, localStorage.length, sessionStorage.length]") == ["", 0, 0]
    assert page.context.cookies() == []


def test_checkout_shows_the_configured_suggestions(page: Any, env: dict[str, Any]) -> None:
    page.goto(env["shop"] + "/checkout/payment?order=4711#card")
    _launcher(page).click()
    frame = _panel(page, env)
    titles = frame.locator("[data-kbw-results] .kbw-result-title").all_inner_texts()
    assert titles == ["Why was my payment declined?", "How to use a promo code or discount code"]
    assert frame.locator("[data-kbw-list-title]").text_content() == "Suggested for this page"
    opened = [e for e in _events(frame) if e["name"] == "widget_open"]
    assert opened and opened[0]["host"] == "/checkout/payment" and opened[0]["source"] == "widget"


def test_other_pages_get_tag_rules_or_the_most_viewed(page: Any, env: dict[str, Any]) -> None:
    page.goto(env["shop"] + "/account/orders/123")
    _launcher(page).click()
    frame = _panel(page, env)
    titles = frame.locator("[data-kbw-results] .kbw-result-title").all_inner_texts()
    assert "How to track my order" in titles and "Why was my payment declined?" not in titles
    page.goto(env["shop"] + "/about")
    _launcher(page).click()
    frame = _panel(page, env)
    assert frame.locator("[data-kbw-list-title]").text_content() == "Popular articles"


def test_typo_finds_an_faq_answer_inline_and_no_then_contact_are_recorded(
    page: Any, env: dict[str, Any]
) -> None:
    page.goto(env["shop"] + "/checkout?step=2#pay")
    _launcher(page).click()
    frame = _panel(page, env)
    frame.locator("#kbw-q").fill("do you pryce mach")
    first = frame.locator("[data-kbw-results] a").first
    _wait_for(lambda: "price match" in (first.inner_text() or "").lower())
    assert "Do you price match?" in first.inner_text()
    first.click()
    answer = frame.locator("[data-kbw-answer]")
    answer.locator(".kbw-answer-body p").first.wait_for()
    assert frame.locator("[data-kbw-answer-title]").inner_text() == "Do you price match?"
    assert "refund the difference" in answer.locator(".kbw-answer-body").inner_text()
    full = frame.locator("[data-kbw-full]")
    assert (
        full.get_attribute("href") == env["site"] + "/orders/placing-orders/ordering-faq/#do-you-price-match"
    )
    assert full.get_attribute("target") == "_blank"
    frame.locator("[data-kbw-vote=no]").click()
    assert "Thanks for your feedback" in frame.locator("[data-kbw-thanks]").inner_text()
    with page.context.expect_page() as popup:
        frame.locator(".kbw-contact [data-kb-contact=chat]").click()
    popup.value.close()
    events = _events(frame)
    by_name = {e["name"]: e for e in events}
    for name in ("widget_open", "search", "search_click", "widget_answer", "feedback", "contact_click"):
        assert name in by_name, (name, events)
        assert by_name[name]["source"] == "widget" and by_name[name]["host"] == "/checkout", by_name[name]
    assert len({e["visit"] for e in events}) == 1
    assert by_name["feedback"]["helpful"] == "no"
    assert by_name["feedback"]["url"] == "/orders/placing-orders/ordering-faq/"
    assert by_name["search_click"]["url"] == "/orders/placing-orders/ordering-faq/"
    assert by_name["contact_click"]["channel"] == "chat"
    assert not any(e["name"] == "page_view" for e in events)
    # Every event is valid for the collector.
    from kbgen.analytics.events import validate

    for e in events:
        assert validate(e)["host"] == "/checkout"


def test_escape_closes_and_focus_returns_to_the_launcher(page: Any, env: dict[str, Any]) -> None:
    page.goto(env["shop"] + "/checkout")
    button = _launcher(page)
    button.focus()
    page.keyboard.press("Enter")
    frame = _panel(page, env)
    _wait_for(lambda: frame.evaluate("document.activeElement && document.activeElement.id") == "kbw-q")
    assert frame.evaluate("document.hasFocus() && document.activeElement.id") == "kbw-q"
    assert button.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('kb-widget').shadowRoot.querySelector('.p').hidden")
    assert page.evaluate("document.querySelector('kb-widget').shadowRoot.activeElement?.tagName") == "BUTTON"
    assert button.get_attribute("aria-expanded") == "false"
    # The JS API opens it again with a query, and closes it.
    page.evaluate("kbWidget.open({query: 'refund'})")
    _wait_for(lambda: frame.locator("#kbw-q").input_value() == "refund")
    assert frame.locator("#kbw-q").input_value() == "refund"
    frame.locator("[data-kbw-results] a").first.wait_for()
    page.evaluate("kbWidget.close()")
    assert page.evaluate("document.querySelector('kb-widget').shadowRoot.querySelector('.p').hidden")
    # The close button inside the panel.
    page.evaluate("kbWidget.open({article: '/orders/tracking/track-your-order/'})")
    _wait_for(lambda: frame.locator("[data-kbw-answer-title]").inner_text() == "How to track my order")
    assert frame.locator("[data-kbw-answer-title]").inner_text() == "How to track my order"
    frame.locator("[data-kbw-close]").click()
    page.wait_for_function("() => document.querySelector('kb-widget').shadowRoot.querySelector('.p').hidden")


def test_phone_width_is_full_screen_without_horizontal_scroll(browser: Any, env: dict[str, Any]) -> None:
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        page.goto(env["shop"] + "/checkout")
        _launcher(page).tap()
        frame = _panel(page, env)
        box = page.locator("kb-widget").locator("iframe").bounding_box()
        assert box == {"x": 0, "y": 0, "width": 360, "height": 740}
        assert frame.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        frame.locator("#kbw-q").fill("price match")
        frame.locator("[data-kbw-results] a").first.tap()
        frame.locator(".kbw-answer-body p").first.wait_for()
        assert frame.evaluate("document.documentElement.scrollWidth") <= 360
        contact = frame.locator(".kbw-contact [data-kb-contact]").first.bounding_box()
        assert contact and contact["y"] + contact["height"] <= 740  # one tap away, on screen
    finally:
        ctx.close()


def test_axe_finds_nothing_serious_in_the_panel(browser: Any, env: dict[str, Any]) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe, found = Axe(), []
    for scheme in ("light", "dark"):
        ctx = browser.new_context(viewport={"width": 400, "height": 680}, color_scheme=scheme)
        page = ctx.new_page()
        page.goto(env["site"] + f"/_widget/#o={env['shop']}&p=/checkout")
        page.wait_for_selector("[data-kbw-results] a")
        states = {"suggestions": lambda page=page: None}
        states["answer"] = lambda page=page: (
            page.fill("#kbw-q", "price match"),
            page.wait_for_function(
                "document.querySelector('[data-kbw-results] a')?.textContent.includes('price')"
            ),
            page.click("[data-kbw-results] a"),
            page.wait_for_selector(".kbw-answer-body p"),
        )
        for state, go in states.items():
            go()
            for v in axe.run(page).response["violations"]:
                if v["impact"] in ("serious", "critical"):
                    found.append(
                        f"{state} ({scheme}) {v['id']}: {v['help']} {[n['target'] for n in v['nodes'][:5]]}"
                    )
        ctx.close()
    assert not found, "\n".join(found)


def test_messages_from_a_foreign_origin_are_ignored(page: Any, env: dict[str, Any]) -> None:
    # A shop page with the panel open; a frame of another origin posts an "open" message to every frame.
    page.goto(env["shop"] + "/checkout")
    _launcher(page).click()
    frame = _panel(page, env)
    opened = len([e for e in _events(frame) if e["name"] == "widget_open"])
    page.evaluate(
        """src => new Promise(r => { const f = document.createElement('iframe'); f.src = src;
        f.onload = r; document.body.append(f); })""",
        env["foreign"] + "/evil",
    )
    evil = page.wait_for_selector(f'iframe[src^="{env["foreign"]}"]').content_frame()
    evil.evaluate(
        """() => { for (let i = 0; i < top.frames.length; i++)
          top.frames[i].postMessage({kb: 'open', query: 'hacked', path: '/stolen'}, '*'); }"""
    )
    # The shop itself (an allowed origin) is heard: the same message through its API arrives...
    page.evaluate("kbWidget.open({query: 'refund'})")
    _wait_for(lambda: frame.locator("#kbw-q").input_value() == "refund")
    assert frame.locator("#kbw-q").input_value() == "refund"
    # ...and the foreign one never was.
    events = _events(frame)
    assert not [e for e in events if e.get("host") == "/stolen"]
    assert len([e for e in events if e["name"] == "widget_open"]) == opened + 1
    # Messages of the wrong shape from the shop's own origin are ignored too.
    page.evaluate(
        """() => { const w = document.querySelector('kb-widget').shadowRoot.querySelector('iframe').contentWindow;
        const o = new URL(w === null ? location.href : document.querySelector('script[src$="widget.js"]').src).origin;
        for (const m of ['open', ['open'], {kb: 'open', query: ['x'], path: 7}, {kb: 'OPEN'}, null])
          w.postMessage(m, o); }"""
    )
    page.evaluate("kbWidget.open({query: 'delivery'})")
    _wait_for(lambda: frame.locator("#kbw-q").input_value() == "delivery")
    events = _events(frame)
    assert len([e for e in events if e["name"] == "widget_open"]) == opened + 2


def test_a_foreign_site_framing_the_panel_gets_no_messages_through(browser: Any, env: dict[str, Any]) -> None:
    ctx = browser.new_context()
    ctx.add_init_script(COLLECT)
    try:
        page = ctx.new_page()
        got: list[Any] = []
        page.expose_function("__got", lambda m: got.append(m))
        page.add_init_script(
            "if (top === window) addEventListener('message', e => window.__got(JSON.stringify(e.data)))"
        )
        page.goto(env["foreign"] + "/")
        frame = page.wait_for_selector("#f").content_frame()
        frame.wait_for_selector("[data-kbw-results] a")
        page.evaluate(
            "document.getElementById('f').contentWindow.postMessage({kb: 'open', query: 'hacked'}, '*')"
        )
        frame.locator("[data-kbw-close]").click()
        page.evaluate("new Promise(r => setTimeout(r, 0))")
        assert frame.locator("#kbw-q").input_value() == ""
        assert got == []  # neither "ready" nor "close" reached the framing site
    finally:
        ctx.close()


def test_bad_widget_config_names_the_key_and_publishes_nothing(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    base = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    (tmp_path / "kbgen.toml").write_text(base, encoding="utf-8")
    run_kbgen("build", cwd=tmp_path)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "site").rglob("*"))
    on = '[widget]\nenabled = true\nhosts = ["https://a.example"]\n[[widget.suggest]]\n'
    cases = [
        ("[widget]\nenabled = true\n", "`widget.hosts` is required"),
        ('[widget]\nhosts = ["https://shop.example/checkout"]\n', "`widget.hosts[0]` must be an origin"),
        ('[widget]\nhosts = ["javascript:alert(1)"]\n', "`widget.hosts[0]` must be an origin"),
        ('[widget]\nhosts = "https://a.example"\n', "`widget.hosts` must be an array"),
        ('[widget]\nposition = "top"\n', "`widget.position` must be one of right, left"),
        ('[widget]\ncolor = "red;}body{x:y"\n', "`widget.color` must be a hex colour"),
        ("[widget]\nenabeld = true\n", "unknown key `widget.enabeld` (did you mean `widget.enabled`?)"),
        (on + 'articles = ["x.md"]\n', "`widget.suggest[0].match` is required"),
        (
            on + 'match = "checkout"\ntags = ["x"]\n',
            "`widget.suggest[0].match` must be a path starting with /",
        ),
        (on + 'match = ["/a", "/b c"]\ntags = ["x"]\n', "`widget.suggest[0].match[1]` must be a path glob"),
        (on + 'match = "/x"\n', "`widget.suggest[0]` needs `articles` or `tags`"),
        (
            on + 'match = "/x"\narticles = ["orders/nope.md"]\n',
            "`widget.suggest[0].articles[0]`: no published article 'orders/nope.md'",
        ),
        (
            on + 'match = ["/x", "/y"]\ntags = ["tracking", "no-such-tag"]\n',
            "`widget.suggest[0].tags[1]`: no article has the tag 'no-such-tag'",
        ),
    ]
    for extra, message in cases:
        (tmp_path / "kbgen.toml").write_text(base + extra, encoding="utf-8")
        proc = run_kbgen("build", cwd=tmp_path, check=False)
        assert proc.returncode != 0, extra
        assert message in proc.stdout + proc.stderr, (extra, proc.stdout + proc.stderr)
        assert "kbgen.toml" in proc.stdout + proc.stderr
        after = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "site").rglob("*"))
        assert after == before, extra
    assert not (tmp_path / "site" / "widget.js").exists()


def test_without_widget_config_nothing_is_written(sample_site: Path) -> None:
    assert not (sample_site / "widget.js").exists() and not (sample_site / "_widget").exists()


def test_widget_output(env: dict[str, Any]) -> None:
    site = env["root"] / "site"
    js = (site / "widget.js").read_text(encoding="utf-8")
    import gzip

    assert len(gzip.compress(js.encode(), 9)) <= 4096
    assert "KB_CONFIG" not in js and '"color": "#0b5cad"' in js
    panel = (site / "_widget" / "index.html").read_text(encoding="utf-8")
    # Strict CSP: no inline script (JSON data only) and no inline style.
    import re

    for m in re.finditer(r"<script([^>]*)>(.*?)</script>", panel, re.S):
        assert "src=" in m.group(1) or 'type="application/json"' in m.group(1), m.group(0)[:200]
    assert "<style" not in panel and " style=" not in panel
    data = json.loads(re.search(r'id="kb-widget-data">(.*?)</script>', panel, re.S).group(1))
    assert data["hosts"] == [env["shop"]]
    assert (site / "_widget" / "fr" / "index.html").read_text(encoding="utf-8").count("Fermer l’aide") >= 1
    assert "/_widget/" not in (site / "sitemap.xml").read_text(encoding="utf-8")


def test_strict_csp_on_both_sides(page: Any, env: dict[str, Any]) -> None:
    """The shop adds only the documented script-src/frame-src; the help centre sends default-src 'self'."""
    violations: list[str] = []
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and violations.append(f"{m.location}: {m.text}"),
    )
    page.goto(env["shop"] + "/csp/checkout")
    _launcher(page).click()
    frame = _panel(page, env)
    assert frame.url.startswith(env["csp_site"])
    frame.locator("#kbw-q").fill("price mach")
    frame.locator("[data-kbw-results] a").first.click()
    frame.locator(".kbw-answer-body p").first.wait_for()
    # The brand colour reached the panel without an inline style.
    assert (
        frame.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--kb-brand')")
        == "#0b5cad"
    )
    assert not violations, violations
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def test_launcher_options(page: Any, env: dict[str, Any]) -> None:
    page.goto(env["shop"] + "/options/checkout")
    button = _launcher(page)
    assert button.inner_text().strip() == "Aide"
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(170, 0, 0)"
    assert button.bounding_box()["x"] < 100  # data-kb-position="left"
    button.click()
    frame = _panel(page, env)
    assert "/_widget/fr/" in frame.url
    assert frame.evaluate("document.documentElement.lang") == "fr"
    assert frame.locator("[data-kbw-close]").get_attribute("aria-label") == "Fermer l’aide"
    assert (
        frame.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--kb-brand')")
        == "#aa0000"
    )


def test_data_kb_suggest_picks_the_suggestions(page: Any, env: dict[str, Any]) -> None:
    # A checkout page (a [[widget.suggest]] rule matches), but the tag asks for its own suggestions.
    page.goto(env["shop"] + "/checkout/with-suggest")
    _launcher(page).click()
    frame = _panel(page, env)
    frame.wait_for_function(
        "[...document.querySelectorAll('.kbw-result-title')].some(t => /gift card/i.test(t.textContent))"
    )
    titles = frame.locator("[data-kbw-results] .kbw-result-title").all_inner_texts()
    assert "Why was my payment declined?" not in titles
    assert frame.locator("[data-kbw-list-title]").text_content() == "Suggested for this page"
