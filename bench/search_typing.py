#!/usr/bin/env python3
"""Search while typing (issue 14 item 7): requests, bytes and latency per query typed key by key. By hand.

    python bench/search_typing.py --site DIR            # a built site (make_corpus.py --articles 10000 → kbgen build)
    python bench/search_typing.py --site DIR --json OUT

For each query, a fresh Chromium context opens the home page, focuses the header search box and types the
query one key every 150 ms (`press_sequentially(delay=150)`), then waits until the dropdown shows the
results of the whole query. Counted: requests under `_search/` (from the focus on) and their size gzip -9
(the files as on disk, compressed here: what a host serving gzip sends); per keystroke, the time from its
`input` event to the dropdown showing results for that text (keystrokes superseded before any result are
"skipped"), and every time the dropdown said "No results" for a text that was not the final query.
"first": the short queries again, each filled in at once (a first search, as when pasted), same counts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM, CHROMIUM_ARGS, serve_directory  # noqa: E402

SHORT = ["update firmware", "reset password", "board not detected", "bootloader", "refund", "wifi connection",
         "install library", "serial monitor", "cloud agent", "delete account"]  # fmt: skip
LONG = [
    "forgot my password and cant log in",
    "arduino emails never show up in my inbox",
    "can my 12 year old son have his own account",
    "my device shows offline on the cloud dashboard",
    "board wont connect to my home wifi",
    "how do i get my money back for a broken board",
    "the upload keeps failing with a timeout error",
]
TYPO = ["refnud", "pasword reset"]  # half-typed words that are no word: "refn", "refnu", "pasw"
RECORD = """(() => {
  window.kbTyping = {inputs: [], renders: []};
  let watching = false;
  document.addEventListener('input', e => {
    if (!(e.target.matches && e.target.matches('[data-kb-search-input]'))) return;
    window.kbTyping.inputs.push([performance.now(), e.target.value]);
    if (!watching) { watching = true; watch(); }
  }, true);
  const watch = () => new MutationObserver(() => {
    const p = [...document.querySelectorAll('[data-kb-search-results]')].find(x => !x.hidden);
    if (!p) return;
    const all = p.querySelector('.kb-sr-all'), msg = p.querySelector('.kb-sr-msg');
    const none = msg && !msg.hidden && msg.textContent ? msg.textContent : '';
    const shown = all ? all.textContent : '';
    const last = window.kbTyping.renders[window.kbTyping.renders.length - 1];
    if (!last || last[1] !== shown || last[2] !== none) window.kbTyping.renders.push([performance.now(), shown, none]);
  }).observe(document.documentElement, {subtree: true, childList: true, characterData: true, attributes: true,
                                         attributeFilter: ['hidden']});
})();"""


def gz(path: Path, cache: dict[Path, int]) -> int:
    if path not in cache:
        cache[path] = len(gzip.compress(path.read_bytes(), 9)) if path.is_file() else 0
    return cache[path]


def type_queries(site: Path, queries: list[str], delay: int = 150, whole: bool = False) -> list[dict[str, Any]]:
    """`whole`: the first search instead: the query filled in at once (`fill`), as a paste or a search link."""
    from playwright.sync_api import sync_playwright

    url, server = serve_directory(site)
    sizes: dict[Path, int] = {}
    rows = []
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for q in queries:
                ctx = b.new_context()
                ctx.add_init_script(RECORD)
                page = ctx.new_page()
                page.goto(url + "/")
                page.wait_for_function("window.kbSearchCore")
                seen: list[str] = []
                page.on("request", lambda r, seen=seen: "/_search/" in r.url and seen.append(r.url))
                box = page.locator("[data-kb-search-input]").locator("visible=true").first
                t = time.perf_counter()
                box.focus()
                if whole:
                    box.fill(q)
                else:
                    box.press_sequentially(q, delay=delay)
                page.wait_for_function(
                    "q => window.kbTyping.renders.some(r => r[1].includes('“' + q + '”'))", arg=q, timeout=60000
                )
                # then until nothing more is fetched or drawn for 600 ms (search.js completes an as-you-type
                # answer 300 ms after the last key)
                quiet = (len(seen), len(page.evaluate("window.kbTyping.renders")))
                while True:
                    page.wait_for_timeout(600)
                    now = (len(seen), len(page.evaluate("window.kbTyping.renders")))
                    if now == quiet:
                        break
                    quiet = now
                total_ms = (time.perf_counter() - t) * 1000
                rec = page.evaluate("window.kbTyping")
                shown = page.evaluate(
                    "() => [...document.querySelectorAll('[data-kb-search-results]:not([hidden]) a.kb-sr-page')]"
                    ".map(a => a.getAttribute('href'))"
                )
                exact = page.evaluate(
                    "async q => (await kbSearchCore.query(q, {limit: 6})).grouped.map(g => g.url)", q
                )
                ctx.close()
                paths = [u[len(url) :].split("?")[0] for u in seen]
                size = sum(gz(site / p.lstrip("/"), sizes) for p in paths)
                lat: list[float] = []
                skipped = 0
                inputs = rec["inputs"]
                for i, (ti, value) in enumerate(inputs):
                    nxt = inputs[i + 1][0] if i + 1 < len(inputs) else float("inf")
                    want = "“" + " ".join(value.split()) + "”"
                    hit = next((r[0] for r in rec["renders"] if r[0] >= ti and r[0] < nxt and (
                        want in r[1] or (r[2] and want in r[2]))), None)  # fmt: skip
                    if hit is None:
                        skipped += 1
                    else:
                        lat.append(hit - ti)
                flicker = sorted({r[2] for r in rec["renders"] if r[2] and "“" + q + "”" not in r[2]})
                rows.append({"q": q, "words": len(q.split()), "requests": len(paths), "gzip_bytes": size,
                             "total_ms": total_ms, "keys": len(inputs), "latency_ms": lat, "skipped": skipped,
                             "no_results_flicker": flicker, "files": paths,
                             "shown": shown, "exact": exact, "final_is_exact": shown == exact})  # fmt: skip
            b.close()
    finally:
        server.shutdown()
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [x for r in rows for x in r["latency_ms"]]
    return {
        "n": len(rows),
        "requests_median": statistics.median(r["requests"] for r in rows),
        "requests_max": max(r["requests"] for r in rows),
        "kb_median": statistics.median(r["gzip_bytes"] for r in rows) / 1000,
        "kb_max": max(r["gzip_bytes"] for r in rows) / 1000,
        "latency_median_ms": statistics.median(lat) if lat else None,
        "latency_p90_ms": sorted(lat)[int(len(lat) * 0.9)] if lat else None,
        "within_100ms": sum(1 for x in lat if x <= 100) / len(lat) if lat else None,
        "skipped_keys": sum(r["skipped"] for r in rows),
        "keys": sum(r["keys"] for r in rows),
        "flicker": [f for r in rows for f in r["no_results_flicker"]],
        "final_exact": sum(1 for r in rows if r["final_is_exact"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, required=True)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--delay", type=int, default=150)
    args = ap.parse_args()
    out = {}
    for name, qs, whole in (("short", SHORT, False), ("long", LONG, False), ("typo", TYPO, False),
                            ("first", SHORT, True)):  # fmt: skip
        rows = type_queries(args.site, qs, args.delay, whole)
        out[name] = {"rows": rows, "summary": summary(rows)}
        s = out[name]["summary"]
        print(f"{name}: requests median {s['requests_median']} / max {s['requests_max']}, gzip kB median "
              f"{s['kb_median']:.1f} / max {s['kb_max']:.1f}; keystroke → results median "
              f"{s['latency_median_ms']:.0f} ms, p90 {s['latency_p90_ms']:.0f} ms, "
              f"{s['within_100ms']:.0%} within 100 ms, {s['skipped_keys']}/{s['keys']} keys superseded; "
              f"'No results' flicker: {s['flicker']}; final dropdown = kbSearchCore.query on "
              f"{s['final_exact']}/{s['n']}")  # fmt: skip
        for r in rows:
            lm = statistics.median(r["latency_ms"]) if r["latency_ms"] else float("nan")
            print(f"  {r['q']!r}: {r['requests']} req, {r['gzip_bytes'] / 1000:.1f} kB, "
                  f"latency median {lm:.0f} ms max {max(r['latency_ms'] or [0]):.0f}, flicker {r['no_results_flicker']}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
