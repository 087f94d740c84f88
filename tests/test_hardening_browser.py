"""The browser side of hardening, in a real Chromium against real builds served on 127.0.0.1:

- no personal data to third parties: with Plausible, GA4, Matomo and Umami configured, what a customer
  typed into search (`?q=` with an e-mail address and a card number) reaches no provider — not in the
  page location, the referrer, a request URL, a body or a call of the provider's API. Each provider's
  script is a stub on 127.0.0.1 that behaves as the real one does by default (reads `location.href` and
  `document.referrer` unless told otherwise) and reports every call it gets and every hit it would send;
- a strict Content-Security-Policy: every page type works in full under `default-src 'self'` (no inline
  script or style): no violation, the theme toggle, video facades, brand colours, search, redirects.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import pytest
from conftest import ROOT, _mime_fix, _QuietHandler, run_kbgen

pytestmark = pytest.mark.browser

CSP = "default-src 'self'; img-src 'self' data:"
HOSTILE = "alice@example.com 4111111111111111"
# What must never reach a provider, in any encoding the page could give it.
NEEDLES = ("alice", "4111111111111111", "example.com")
MISSING = "/this-page-does-not-exist/"
ALIGNED_TABLE = """---
title: "Delivery zones"
description: "Which zone your address is in, and what it costs."
tags: [delivery]
---

Our delivery zones at a glance.

| Zone | Days | Price |
|:-----|:----:|------:|
| UK mainland | 1–3 | £3.95 |
| Highlands and islands | 2–5 | £6.95 |
"""


def wait_for(page: Any, predicate: Any, timeout: float = 15, what: str = "") -> None:
    """Poll through Playwright (its event loop keeps running, so the page's requests are recorded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        page.wait_for_timeout(50)


def serve(root: Path, headers: dict[str, str]) -> tuple[str, http.server.ThreadingHTTPServer]:
    """Serve a built site on 127.0.0.1 as a static host would, adding `headers` to every response."""
    _mime_fix()

    class Handler(_QuietHandler):
        def end_headers(self) -> None:
            for k, v in headers.items():
                self.send_header(k, v)
            super().end_headers()

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def build(tmp: Path, extra_toml: str = "") -> Path:
    """The sample help centre plus an article with an aligned table, built with the real CLI."""
    shutil.copytree(ROOT / "content", tmp / "content")
    (tmp / "content" / "en" / "shipping-delivery" / "delivery-zones.md").write_text(ALIGNED_TABLE, encoding="utf-8")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8") + "\n" + extra_toml
    (tmp / "kbgen.toml").write_text(toml, encoding="utf-8")
    run_kbgen("build", cwd=tmp)
    return tmp / "site"


def csp_watch(context: Any) -> list[str]:
    """Every CSP violation and console error in any page of `context`."""
    found: list[str] = []
    context.expose_binding("__kbCsp", lambda source, v: found.append(v))
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => window.__kbCsp("
        "`${location.pathname}: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`))"
    )

    def on_page(page: Any) -> None:
        def on_console(m: Any) -> None:
            # (a 404 page's own status is logged as an error: not a fault; nothing else is ignored)
            own_404 = m.location.get("url") == page.url and m.text.startswith(
                "Failed to load resource: the server responded with a status of 404"
            )
            if m.type == "error" and not own_404:
                found.append(f"console: {m.text} ({m.location.get('url')})")

        page.on("console", on_console)
        page.on("pageerror", lambda e: found.append(f"pageerror: {e}"))

    context.on("page", on_page)
    return found


# -- a strict Content-Security-Policy -----------------------------------------------------------------


@pytest.fixture(scope="module")
def csp_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    site = build(tmp_path_factory.mktemp("csp"))
    found: dict[str, str] = {"404": MISSING}
    for f in sorted(site.rglob("index.html")):
        html = f.read_text(encoding="utf-8")
        rel = f.parent.relative_to(site).as_posix()
        if rel.split("/")[0] in ("fr", "de"):  # the sample's other languages: the English pages are the ones
            continue
        url = "/" if rel == "." else f"/{rel}/"
        kind = re.search(r'<body class="kb-kind-([a-z0-9]+)"', html)
        if kind is None:
            if 'http-equiv="refresh"' in html:
                found.setdefault("redirect", url)
            continue
        k = kind.group(1)
        if k == "article":
            t = re.search(r'data-kb-type="(article|faq|howto)"', html)
            k = t.group(1) if t else "article"
            if "data-kb-video=" in html:
                found.setdefault("video", url)
            if "Our delivery zones at a glance." in html:
                found.setdefault("table", url)
        found.setdefault(k, url)
    expected = {"home", "category", "section", "article", "faq", "howto", "tag", "tags", "search", "404"}
    assert expected | {"video", "table", "redirect"} <= set(found), set(found)
    url, server = serve(site, {"Content-Security-Policy": CSP})
    yield url, found
    server.shutdown()


def test_every_page_type_works_under_a_strict_csp(browser: Any, csp_site: tuple[str, dict[str, str]]) -> None:
    url, pages = csp_site
    context = browser.new_context(color_scheme="light")
    violations = csp_watch(context)
    page = context.new_page()
    try:
        for kind, path in sorted(pages.items()):
            if kind in ("redirect", "video", "table"):
                continue
            resp = page.goto(url + path, wait_until="load")
            assert resp is not None and resp.headers.get("content-security-policy") == CSP
            assert resp.status == (404 if kind == "404" else 200), kind
            # kb-init.js ran (the scripted parts are shown), the brand colours came from _brand.css
            assert page.evaluate("document.documentElement.classList.contains('js')"), kind
            brand = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--kb-brand')")
            assert brand.strip() == "#0b5cad", (kind, brand)
            assert page.locator("[data-kb-theme-toggle]").is_visible(), kind
            page.wait_for_load_state("networkidle")
        assert violations == []

        # The theme toggle works and its choice is applied before the next page paints.
        page.goto(url + pages["article"])
        before = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.locator("[data-kb-theme-toggle]").click()
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != before
        page.goto(url + pages["home"])
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        page.locator("[data-kb-theme-toggle]").click()
        assert page.evaluate("document.documentElement.dataset.theme") == "light"

        # A brand colour is used, not just declared: the header's link colour derives from it.
        strong = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--kb-strong')")
        assert "0b5cad" in strong.lower() or "color-mix" in strong or "oklch" in strong, strong

        # Aligned table columns keep their alignment without a style attribute.
        page.goto(url + pages["table"])
        cells = page.locator(".kb-prose td")
        assert [cells.nth(i).evaluate("e => getComputedStyle(e).textAlign") for i in range(3)] == [
            "left",
            "center",
            "right",
        ]

        # Search with results.
        page.goto(url + pages["search"] + "?q=track+order")
        wait_for(page, lambda: page.locator(".kb-sp-results a").count() > 0, what="search results")
        page.goto(url + pages["home"])
        page.locator("[data-kb-search-input]").first.fill("refund")
        wait_for(page, lambda: page.locator("[data-kb-search-results] a").count() > 0, what="instant results")

        # An old address (alias) sends the visitor on, keeping the #fragment.
        # (the sample's site_url is the canonical host: answered here)
        page.route("https://help.northwind.example/**", lambda route: route.fulfill(body="moved"))
        page.goto(url + pages["redirect"] + "#steps")
        page.wait_for_url("https://help.northwind.example/orders/tracking/track-your-order/#steps")

        # The video facade shows and becomes the player on click. The player is a frame from the video
        # host, which `default-src 'self'` refuses: that is the one violation, and the README's header
        # for sites with videos adds `frame-src` for it.
        page.route(
            re.compile(r"^https://"), lambda route: route.fulfill(body="player", content_type="text/html")
        )
        page.goto(url + pages["video"])
        facade = page.locator("[data-kb-video]").first
        assert facade.is_visible()
        box = facade.bounding_box()
        assert box and abs(box["width"] / box["height"] - 16 / 9) < 0.05
        assert violations == []
        facade.click()
        frame = page.locator(".kb-video iframe").first
        assert frame.get_attribute("src").startswith("https://www.youtube-nocookie.com/embed/")
        wait_for(page, lambda: len(violations) > 0, what="the frame-src violation")
        assert all("frame-src" in v and "youtube-nocookie.com" in v for v in violations), violations
    finally:
        context.close()


def test_video_plays_with_the_readme_header(browser: Any, tmp_path: Path) -> None:
    """The README's header for sites with videos lets the player frame in, and nothing else out."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(
        r"Content-Security-Policy: (default-src 'self'; img-src 'self' data:; frame-src [^\n`]+)", readme
    )
    assert m, "the README gives the header for sites with videos"
    header = m.group(1).strip()
    site = build(tmp_path)
    video = next(
        "/" + f.parent.relative_to(site).as_posix() + "/"
        for f in sorted(site.rglob("index.html"))
        if "data-kb-video=" in f.read_text(encoding="utf-8")
    )
    url, server = serve(site, {"Content-Security-Policy": header})
    context = browser.new_context()
    violations = csp_watch(context)
    try:
        page = context.new_page()
        page.route(
            re.compile(r"^https://"), lambda route: route.fulfill(body="player", content_type="text/html")
        )
        page.goto(url + video)
        page.locator("[data-kb-video]").first.click()
        frame = page.frame_locator(".kb-video iframe").first
        assert frame.locator("body").inner_text() == "player"
        assert violations == []
    finally:
        context.close()
        server.shutdown()


# -- no personal data to third parties ---------------------------------------------------------------

# Stubs of the providers' scripts. Each behaves as the real one does by default and reports, to the stub
# server, every call of its API (`/calls`) and the hit the real script would send (`/hit/<provider>`).
_REPORT = """const HOST = %(host)s;
const report = (path, data) => fetch(HOST + path, {method: 'POST', mode: 'no-cors', keepalive: true,
  body: JSON.stringify(data)});
"""

PLAUSIBLE = """(() => { %(report)s
  // the legacy script: its manual variant sends no pageview itself; the new one (pa-….js): not when
  // plausible.init() was given autoCapturePageviews: false
  const s = document.currentScript, o = (window.plausible && window.plausible.o) || {};
  const manual = /\\.manual\\./.test(s.src) || o.autoCapturePageviews === false;
  const t = (n, o) => {
    o = o || {};
    report('/calls', ['plausible', n, o]);
    // the legacy script: `u` if given (the new one: `url`), else the address as it is; the referrer as it is
    report('/hit/plausible', {n, u: o.u || o.url || location.href, r: document.referrer || null,
      d: s.dataset.domain, p: o.props});
  };
  const q = (window.plausible && window.plausible.q) || [];
  window.plausible = t;
  q.forEach(a => t.apply(null, a));
  if (!manual) t('pageview');
})();"""

UMAMI = """(() => { %(report)s
  const s = document.currentScript, auto = s.dataset.autoTrack !== 'false';
  const payload = () => ({website: s.dataset.websiteId, hostname: location.hostname, title: document.title,
    url: location.pathname + (s.dataset.excludeSearch === 'true' ? '' : location.search),
    referrer: document.referrer});
  const track = (a, b) => {
    const p = typeof a === 'function' ? a(payload())
      : typeof a === 'string' ? Object.assign(payload(), {name: a, data: b}) : a || payload();
    report('/calls', ['umami', typeof a === 'function' ? 'function' : a, b, p]);
    report('/hit/umami', p);
  };
  window.umami = {track};
  if (auto) {  // the real tracker: a pageview now and on every history change
    track();
    for (const m of ['pushState', 'replaceState']) {
      const f = history[m];
      history[m] = function () { const r = f.apply(this, arguments); track(); return r; };
    }
  }
})();"""

MATOMO = """(() => { %(report)s
  const st = {};
  const send = params => report('/hit/matomo', Object.assign({idsite: st.site, action_name: document.title,
    url: st.url || location.href, urlref: 'ref' in st ? st.ref : document.referrer}, params));
  const handle = a => {
    report('/calls', ['matomo', a]);
    const [m, ...x] = a;
    if (m === 'setSiteId') st.site = x[0];
    else if (m === 'setCustomUrl') st.url = x[0];
    else if (m === 'setReferrerUrl') st.ref = x[0];
    else if (m === 'trackPageView') send({});
    else if (m === 'trackSiteSearch') send({search: x[0], search_count: x[2]});
    else if (m === 'trackEvent') send({e_c: x[0], e_a: x[1], e_n: x[2]});
  };
  const q = window._paq || [];
  window._paq = {push: (...as) => as.forEach(handle)};
  q.forEach(handle);
})();"""

GTAG = """(() => { %(report)s
  const dl = window.dataLayer = window.dataLayer || [], set = {};
  let cfg = null;
  const hit = (en, params) => {
    const p = Object.assign({}, set, cfg || {}, params || {});
    report('/hit/ga4', {en, dl: p.page_location || location.href,
      dr: 'page_referrer' in p ? p.page_referrer : document.referrer, ep: params || {}});
  };
  const handle = a => {
    a = Array.from(a);
    report('/calls', ['ga4', a[0] === 'js' ? ['js'] : a]);
    if (a[0] === 'set') Object.assign(set, a[1]);
    else if (a[0] === 'config') { cfg = a[2] || {}; if (cfg.send_page_view !== false) hit('page_view', {}); }
    else if (a[0] === 'event') hit(a[1], a[2]);
  };
  dl.forEach(handle);
  dl.push = (...as) => { as.forEach(handle); return Array.prototype.push.apply(dl, as); };
})();"""


class ProviderStub:
    """A stand-in for the providers' servers on 127.0.0.1: serves their scripts, records every request
    (path and query, Referer, body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _record(self, body: bytes) -> None:
                stub.requests.append(
                    {"path": self.path, "referer": self.headers.get("Referer", ""), "body": body.decode()}
                )

            def do_GET(self) -> None:  # noqa: N802
                self._record(b"")
                name = urlsplit(self.path).path
                script = stub.script(name)
                data = script.encode() if script is not None else b""
                self.send_response(200 if script is not None else 404)
                self.send_header("Content-Type", "text/javascript")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                self._record(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(204)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def script(self, path: str) -> str | None:
        report = _REPORT % {"host": json.dumps(self.url)}
        if path.startswith(("/js/script.", "/js/pa-")) and path.endswith(".js"):
            return PLAUSIBLE % {"report": report}
        return {"/umami.js": UMAMI, "/matomo/matomo.js": MATOMO, "/gtag/js": GTAG}.get(path, "%(report)s") % {
            "report": report
        }

    def hits(self, provider: str) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in list(self.requests) if r["path"] == f"/hit/{provider}"]


def _leaks(text: str) -> list[str]:
    for _ in range(3):  # however many times it was URL-encoded
        text = unquote_plus(text)
    text = text.lower()
    return [n for n in NEEDLES if n in text]


@pytest.mark.parametrize("respect_dnt,plausible", [(False, "script.js"), (True, "pa-Xy7Q2bN4kR.js")])
def test_no_provider_gets_what_the_customer_typed(
    browser: Any, tmp_path: Path, respect_dnt: bool, plausible: str
) -> None:
    """Plausible's legacy script (loaded as its manual variant) and its new per-site one; the loaders as
    script tags, and parked until analytics.js has checked Do Not Track."""
    stub = ProviderStub()
    toml = f"""[analytics]
respect_dnt = {str(respect_dnt).lower()}
[analytics.plausible]
domain = "help.northwind.example"
src = "{stub.url}/js/{plausible}"
[analytics.ga4]
measurement_id = "G-TEST123"
[analytics.matomo]
url = "{stub.url}/matomo/"
site_id = "7"
[analytics.umami]
website_id = "5e0b7c4a-2d3f-4a1b-9c8d-7e6f5a4b3c2d"
src = "{stub.url}/umami.js"
"""
    site = build(tmp_path, toml)
    # Each provider's script is allowed by name, as the README's header per provider does.
    csp = (
        f"{CSP}; script-src 'self' {stub.url} https://www.googletagmanager.com; connect-src 'self' {stub.url}"
    )
    url, server = serve(site, {"Content-Security-Policy": csp})
    context = browser.new_context()
    violations = csp_watch(context)
    google: list[dict[str, str]] = []

    def gtag(route: Any) -> None:  # GA4's loader has a fixed address: answered by the stub
        google.append({"url": route.request.url, "referer": route.request.headers.get("referer", "")})
        route.fulfill(body=stub.script("/gtag/js"), content_type="text/javascript")

    context.route("https://www.googletagmanager.com/**", gtag)
    try:
        page = context.new_page()
        search = url + "/search/?q=" + HOSTILE.replace("@", "%40").replace(" ", "+")
        page.goto(search)
        # The customer's search arrives at every provider, cleaned, and the search page's view too.
        wait_for(
            page,
            lambda: all(
                any("[email] [number]" in json.dumps(h) for h in stub.hits(p))
                for p in ("plausible", "ga4", "matomo", "umami")
            )
            and url + "/search/" in {h["u"] for h in stub.hits("plausible") if h["n"] == "pageview"}
            and url + "/search/" in {h["dl"] for h in stub.hits("ga4") if h["en"] == "page_view"}
            and url + "/search/" in {h["url"] for h in stub.hits("matomo") if "search" not in h}
            and url + "/search/" in {h["url"] for h in stub.hits("umami") if "name" not in h},
            what="the search event and the search page's view at every provider",
        )
        assert page.url == search, "the search page keeps its shareable address"
        # Typing another search keeps the address in step (replaceState); no provider learns of it.
        page.locator("[data-kb-search-input]").first.fill("bob@example.com 5500005555555559")
        wait_for(page, lambda: "5500005555555559" in unquote_plus(page.url), what="the address to follow")
        page.locator("[data-kb-search-input]").first.fill(HOSTILE)
        wait_for(page, lambda: "4111111111111111" in unquote_plus(page.url), what="the address to follow")
        # Leaving the search page: the next page's referrer is the search page.
        page.locator("a.kb-logo").click()
        page.wait_for_url(url + "/")
        home = url + "/"
        wait_for(
            page,
            lambda: all(
                any(home in json.dumps(h) for h in stub.hits(p))
                for p in ("plausible", "ga4", "matomo", "umami")
            ),
            what="the home page's view at every provider",
        )
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.referrer") in ("", url + "/"), "the referrer carries no query"
        # An address someone typed that is no page: the 404 is counted, without what the path gives away.
        missing = url + "/help/alice%40example.com/4111111111111111/"
        assert page.goto(missing).status == 404
        gone = url + "/help/[email]/[number]/"
        wait_for(
            page,
            lambda: all(
                any(gone in json.dumps(h) for h in stub.hits(p))
                for p in ("plausible", "ga4", "matomo", "umami")
            ),
            what="the 404's view at every provider",
        )
        page.wait_for_load_state("networkidle")

        leaks = [
            (r.get("path") or r.get("url"), r["referer"], r.get("body", "")[:200])
            for r in [*stub.requests, *google]
            if _leaks(r.get("path", "") + r.get("url", "") + r["referer"] + r.get("body", ""))
        ]
        assert leaks == [], leaks
        # The page locations the providers were given: the pages' addresses without the query.
        views = {url + "/search/", home, gone}
        assert {h["u"] for h in stub.hits("plausible") if h["n"] == "pageview"} == views
        assert {h["dl"] for h in stub.hits("ga4") if h["en"] == "page_view"} == views
        assert {h["url"] for h in stub.hits("matomo") if "search" not in h} >= views
        assert {h["url"] for h in stub.hits("umami") if "name" not in h} == views
        assert violations == []
    finally:
        context.close()
        server.shutdown()
        stub.server.shutdown()


# -- kbgen serve ---------------------------------------------------------------------------------------


def test_serve_live_reload_and_brand_colours_under_a_strict_csp(browser: Any, tmp_path: Path) -> None:
    """`kbgen serve` injects its live reload as an external script, its error overlay sets no style
    attribute, and a brand colour changed in kbgen.toml reaches the page (a new _brand.css)."""
    from test_serve import Served, make_project, save

    project = make_project(tmp_path)
    path = project / "content/orders/tracking/track-your-order.md"
    server = Served(project)
    context = browser.new_context()
    violations = csp_watch(context)

    def with_csp(route: Any) -> None:  # as a host would send it (kbgen serve sends none)
        resp = route.fetch()
        route.fulfill(response=resp, headers={**resp.headers, "content-security-policy": CSP})

    # (not the live-reload stream: route.fetch() would wait for its end)
    context.route(lambda u: u.startswith(server.base) and "/__kbgen/" not in u, with_csp)
    try:
        page = context.new_page()
        page.goto(server.base + "/orders/tracking/track-your-order/")
        assert not re.search(r"<script(?![^>]*\ssrc=)(?![^>]*application/)[^>]*>", page.content())
        page.wait_for_function("() => !!window.__kbgenLiveReload")
        css = "getComputedStyle(document.documentElement).getPropertyValue('--kb-brand').trim()"
        assert page.evaluate(css) == "#0b5cad"
        # a broken front matter: the overlay shows the error
        good = path.read_text(encoding="utf-8")
        save(path, good.replace('title: "Track your order"', 'title: "Track [your order'))
        overlay = page.locator("#kbgen-overlay")
        overlay.wait_for(state="visible", timeout=15000)
        assert overlay.evaluate("e => getComputedStyle(e).position") == "fixed", "the overlay is styled"
        save(path, good)
        overlay.wait_for(state="detached", timeout=15000)
        # a new brand colour: the page reloads with it
        config = project / "kbgen.toml"
        save(config, config.read_text(encoding="utf-8") + '\n[brand]\nbrand_color = "#7a1f5c"\n')
        page.wait_for_function(f"() => {css} === '#7a1f5c'", timeout=15000)
        page.wait_for_load_state("networkidle")
        assert violations == []
    finally:
        context.close()
        server.stop()
