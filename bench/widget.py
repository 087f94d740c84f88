#!/usr/bin/env python3
"""Help widget benchmark (run by hand, not in CI): what the widget costs a shop and how soon it answers.

    python bench/widget.py                  # 7 cold runs; writes its section of bench/RESULTS.md
    python bench/widget.py --runs 3 --no-results

The sample help centre (content/) is built with [widget] on and served on 127.0.0.1; a shop page on another
port loads widget.js. In Chromium, per run, a fresh context (empty cache) on a throttled mobile profile
(CDP: 4× CPU slowdown, 150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up; 360×740):

- widget.js: bytes on disk and gzip -9 (the budget is 4 kB gzip);
- the host page: requests and bytes widget.js adds before anyone taps (it should be widget.js alone);
- first open: requests and bytes from the tap on the launcher to the first suggestions (transfer as served by
  Python's http.server, which does not compress, and the same files gzip -9, as a real host would send them);
- time from the tap to the first suggestions on screen, and from the first typed query to its results
  (that one loads the search index).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.server
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM, CHROMIUM_ARGS, serve_directory  # noqa: E402

SHOP = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title></head>
<body><main><h1>Checkout</h1><p>Your order.</p></main>
<script src="{site}/widget.js" async></script></body></html>"""


def _shop(holder: dict[str, str]) -> tuple[str, http.server.ThreadingHTTPServer]:
    """The shop page, on its own port; it loads widget.js from holder["site"] (known once that is served)."""

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = SHOP.format(site=holder["site"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def _gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9)) if path.is_file() else 0


def build(work: Path, shop: str) -> Path:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(ROOT / "content", work / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    toml += f'\n[widget]\nenabled = true\nhosts = ["{shop}"]\n'
    toml += '[[widget.suggest]]\nmatch = "/checkout*"\n'
    toml += 'articles = ["payments-billing/payment-methods/payment-declined.md", "orders/placing-orders/use-a-promo-code.md"]\n'
    (work / "kbgen.toml").write_text(toml, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "kbgen", "build"], cwd=work, check=True, capture_output=True)
    return work / "site"


def one_run(browser: Any, shop: str, site: str, site_dir: Path) -> dict[str, Any]:
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8},
    )
    log: list[tuple[str, int]] = []

    def done(req: Any) -> None:
        try:
            sizes = req.sizes()
            log.append((req.url, sizes["responseBodySize"] + sizes["responseHeadersSize"]))
        except Exception:  # noqa: BLE001 — a request without sizes (aborted): count it, 0 bytes
            log.append((req.url, 0))

    page.on("requestfinished", done)
    page.goto(shop + "/checkout")
    page.wait_for_function("() => document.querySelector('kb-widget')?.shadowRoot?.querySelector('button')")
    page.wait_for_load_state("networkidle")
    before = [u for u, _ in log if u.startswith(site)]
    mark = len(log)
    button = page.locator("kb-widget").locator("button")
    t0 = time.perf_counter()
    button.tap()
    frame = page.wait_for_selector("kb-widget iframe", state="attached").content_frame()
    frame.wait_for_selector("[data-kbw-results] a")
    first = time.perf_counter() - t0
    page.wait_for_load_state("networkidle")
    frame.wait_for_load_state("networkidle")
    opened = log[mark:]
    mark = len(log)
    t1 = time.perf_counter()
    frame.fill("#kbw-q", "refund")
    frame.wait_for_function("document.querySelector('[data-kbw-list-title]').textContent == 'Results'")
    frame.wait_for_selector("[data-kbw-results] a")
    search = time.perf_counter() - t1
    frame.wait_for_load_state("networkidle")
    searched = log[mark:]
    ctx.close()

    def gz(entries: list[tuple[str, int]]) -> int:
        total = 0
        for url, size in entries:
            path = urlsplit(url).path
            if url.startswith(site):
                f = site_dir / path.lstrip("/")
                total += _gz(f / "index.html" if f.is_dir() else f)
            else:
                total += size
        return total

    return {
        "host_requests": len(before),
        "host_files": sorted({urlsplit(u).path for u in before}),
        "open_requests": len(opened),
        "open_bytes": sum(s for _, s in opened),
        "open_gzip": gz(opened),
        "open_files": [urlsplit(u).path for u, _ in opened],
        "open_index_gzip": gz([(u, n) for u, n in opened if "/_search/" in u]),
        "first_suggestions_ms": first * 1000,
        "search_requests": len(searched),
        "search_bytes": sum(s for _, s in searched),
        "search_gzip": gz(searched),
        "first_results_ms": search * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-results", action="store_true", help="print the section, leave RESULTS.md alone")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    work = ROOT / "bench" / "_work" / "widget"
    work.parent.mkdir(parents=True, exist_ok=True)
    # The shop's origin goes into [widget] hosts: start it first, on its own port.
    holder: dict[str, str] = {}
    shop, shop_server = _shop(holder)
    built = build(work, shop)
    site, site_server = serve_directory(built)
    holder["site"] = site

    js = built / "widget.js"
    runs = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        one_run(browser, shop, site, built)  # warm-up (Chromium itself, the OS file cache)
        for _ in range(args.runs):
            runs.append(one_run(browser, shop, site, built))
        browser.close()
    site_server.shutdown()
    shop_server.shutdown()

    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], (int, float))}
    rng = {k: (min(r[k] for r in runs), max(r[k] for r in runs)) for k in med}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    load = os.getloadavg()[1]
    cpu = "unknown CPU"
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)  # type: ignore[union-attr]
    except (OSError, AttributeError):
        pass
    files = ", ".join(f"`{p}`" for p in runs[0]["open_files"])
    lines = [
        "<!-- widget:start -->",
        "## Help widget (`bench/widget.py`)",
        "",
        f"Measured {dt.date.today().isoformat()} at {commit.stdout.strip() or '?'} on {os.cpu_count()} cores ({cpu}), "
        f"Linux {platform.release()}, Python {platform.python_version()}, Chromium (Debian), headless; "
        f"machine shared with other sessions (5-min load average {load:.1f}). The sample help centre, a shop page "
        "on another 127.0.0.1 port; each run a fresh browser context (empty cache), 360×740, CDP throttling "
        f"4× CPU, 150 ms RTT, 1.6 Mbit/s down. Median of {len(runs)} runs (min–max).",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| widget.js on disk / gzip -9 (budget 4,096 B gzip) | {js.stat().st_size:,} B / **{_gz(js):,} B** |",
        f"| requests widget.js adds to the shop page before a tap | {med['host_requests']:.0f} "
        f"({', '.join(runs[0]['host_files'])}) |",
        f"| first open: requests (tap → suggestions, page settled) | {med['open_requests']:.0f} |",
        f"| first open: bytes as served uncompressed / as gzip -9 | {med['open_bytes'] / 1024:,.1f} KiB / "
        f"**{med['open_gzip'] / 1024:,.1f} KiB** (the search index: {med['open_index_gzip'] / 1024:,.1f} KiB) |",
        f"| tap → first suggestions on screen | **{med['first_suggestions_ms']:,.0f} ms** "
        f"({rng['first_suggestions_ms'][0]:,.0f}–{rng['first_suggestions_ms'][1]:,.0f}) |",
        f"| first query typed → results: requests, gzip bytes (the index is already loaded) | {med['search_requests']:.0f}, "
        f"{med['search_gzip'] / 1024:,.1f} KiB |",
        f"| first query typed → results on screen | {med['first_results_ms']:,.0f} ms "
        f"({rng['first_results_ms'][0]:,.0f}–{rng['first_results_ms'][1]:,.0f}) |",
        "",
        f"First-open files: {files}. The suggestions come from the panel page's own JSON and "
        "show before the index loads; the search box has focus on open, so the index (`_search/`) follows right "
        "after and is part of the first-open bytes: the first query then needs no request.",
        "<!-- widget:end -->",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.no_results:
        return
    results = ROOT / "bench" / "RESULTS.md"
    text = results.read_text(encoding="utf-8")
    if "<!-- widget:start -->" in text:
        text = re.sub(r"<!-- widget:start -->.*?<!-- widget:end -->\n", lambda m: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results.write_text(text, encoding="utf-8")
    print(f"wrote {results}")


if __name__ == "__main__":
    main()
