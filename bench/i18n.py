#!/usr/bin/env python3
"""Multilingual benchmark (issue 16): one language of N articles against three languages of N/3 each.

Run by hand (never in CI):

    .venv/bin/python bench/i18n.py                 # 10,000 vs 3 × 3,334; 2 cold builds each
    .venv/bin/python bench/i18n.py --articles 1000 --runs 1 --no-results

Corpora come from make_corpus.py (/work/shared/bench/make_corpus.py, or --make-corpus): the one-language site
is `content/` of N articles; the three-language site is `content/{en,fr,de}/`, each N/3 articles made with
another seed (English text: the French and German sites are analysed with their own stemmers and stop words,
so their export sizes are what that analysis gives on that text, not on real French or German).

For each site: `kbgen build` from cold (`rm -rf site .kbgen`, not timed) as one whole process — wall time —
then the size of each `_search/` folder (all files, bytes and gzip -6 bytes, what a host would serve
compressed). In Chromium (Debian's, via Playwright), on the built site served over 127.0.0.1: the first query
of each language from a fresh page — time from `kbSearchCore.query()` to its answer (index download included)
and the bytes of `_search/` the browser fetched for it.
Results: the "Multilingual" section of bench/RESULTS.md (between markers) when not --no-results.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "_work" / "i18n"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
MAKE_CORPUS = Path("/work/shared/bench/make_corpus.py")
QUERIES = {"en": "reset board upload", "fr": "telechargement carte", "de": "board hochladen"}
MARK = ("<!-- i18n:start -->", "<!-- i18n:end -->")


def corpus(articles: int, seed: int, dest: Path, make: Path) -> None:
    if dest.is_dir() and (dest / ".made").read_text() == f"{articles}:{seed}:{make.stat().st_mtime_ns}":
        return
    shutil.rmtree(dest, ignore_errors=True)
    subprocess.run([sys.executable, str(make), "--articles", str(articles), "--seed", str(seed), "--out", str(dest)],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    (dest / ".made").write_text(f"{articles}:{seed}:{make.stat().st_mtime_ns}")


def setup(n: int, make: Path) -> tuple[Path, Path]:
    one, three = WORK / f"one-{n}", WORK / f"three-{n}"
    for p in (one, three):
        p.mkdir(parents=True, exist_ok=True)
    corpus(n, 7, one / "content", make)
    (one / "kbgen.toml").write_text('title = "One"\nsite_url = "https://help.example.com"\n')
    part = -(-n // 3)
    for i, code in enumerate(("en", "fr", "de")):
        corpus(part, 7 + i, three / "content" / code, make)
    (three / "kbgen.toml").write_text(
        'title = "Three"\nsite_url = "https://help.example.com"\n'
        '[languages.en]\nname = "English"\n[languages.fr]\nname = "Français"\n[languages.de]\nname = "Deutsch"\n'
    )
    return one, three


def build(project: Path) -> float:
    shutil.rmtree(project / "site", ignore_errors=True)
    shutil.rmtree(project / ".kbgen", ignore_errors=True)
    subprocess.run(["sync"], check=False)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kbgen", "build"], cwd=project, check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, SOURCE_DATE_EPOCH="1790000000"))  # fmt: skip
    return time.perf_counter() - start


def search_size(folder: Path) -> tuple[int, int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    gz = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files)
    return len(files), raw, gz


def first_queries(site: Path, langs: dict[str, str]) -> dict[str, tuple[float, int, int]]:
    from playwright.sync_api import sync_playwright

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    out = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
            for lang, prefix in langs.items():
                page = browser.new_page()
                page.goto(f"{base}{prefix}")
                page.wait_for_function("window.kbSearchCore")
                ms, hits = page.evaluate(
                    """async (q) => { const t = performance.now(); const a = await kbSearchCore.query(q, {limit: 5});
                       return [performance.now() - t, a.grouped.length]; }""",
                    QUERIES[lang],
                )
                fetched = page.evaluate(
                    "performance.getEntriesByType('resource').filter(e => e.name.includes('/_search/'))"
                    ".reduce((s, e) => s + (e.encodedBodySize || e.transferSize || 0), 0)"
                )
                out[lang] = (ms, int(fetched), hits)
                page.close()
            browser.close()
    finally:
        server.shutdown()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--make-corpus", type=Path, default=MAKE_CORPUS)
    ap.add_argument("--no-results", action="store_true")
    args = ap.parse_args()
    one, three = setup(args.articles, args.make_corpus)
    times: dict[str, list[float]] = {"one": [], "three": []}
    for r in range(args.runs):  # alternating: the machine's noise hits both alike
        for name in (("one", "three") if r % 2 == 0 else ("three", "one")):
            times[name].append(build(one if name == "one" else three))
            print(f"run {r + 1}: {name} {times[name][-1]:.1f} s", file=sys.stderr)
    sizes = {"one (en)": search_size(one / "site/_search")}
    for code, prefix in (("en", ""), ("fr", "fr/"), ("de", "de/")):
        sizes[f"three: {code}"] = search_size(three / "site" / prefix / "_search")
    fq = {"one (en)": first_queries(one / "site", {"en": "/"})["en"]}
    for lang, res in first_queries(three / "site", {"en": "/", "fr": "/fr/", "de": "/de/"}).items():
        fq[f"three: {lang}"] = res
    part = -(-args.articles // 3)
    load = os.getloadavg()[0]
    lines = [
        MARK[0], "## Multilingual (`bench/i18n.py`)", "",
        f"{datetime.now(timezone.utc):%Y-%m-%d} on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {load:.1f} when it started (other sessions share the machine). "
        f"Corpora: make_corpus.py, {args.articles:,} articles in one language vs 3 × {part:,} (en/fr/de, English text "
        "analysed with each language's stemmer). Cold builds (`rm -rf site .kbgen`), one process each, "
        f"{args.runs} runs alternating.", "",
        "| site | build wall (median) | runs |", "|---|---|---|",
        f"| one language, {args.articles:,} | **{statistics.median(times['one']):.1f} s** | "
        + ", ".join(f"{t:.1f}" for t in times["one"]) + " |",
        f"| three languages, 3 × {part:,} | **{statistics.median(times['three']):.1f} s** | "
        + ", ".join(f"{t:.1f}" for t in times["three"]) + " |", "",
        "| `_search/` | files | bytes | gzip -6 |", "|---|---|---|---|",
        *[f"| {k} | {f} | {raw:,} | {gz:,} |" for k, (f, raw, gz) in sizes.items()], "",
        "First query from a fresh page in Chromium (index download from 127.0.0.1 included):", "",
        "| site: language | query | time | `_search/` bytes fetched | results |", "|---|---|---|---|---|",
        *[f"| {k} | `{QUERIES[k.split(': ')[-1] if ': ' in k else 'en']}` | {ms:.0f} ms | {b:,} | {h} |"
          for k, (ms, b, h) in fq.items()],
        MARK[1],
    ]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    if not args.no_results:
        md = RESULTS_MD.read_text(encoding="utf-8")
        if MARK[0] in md:
            md = md[: md.index(MARK[0])] + text + md[md.index(MARK[1]) + len(MARK[1]) :]
        else:
            md = md.rstrip("\n") + "\n\n" + text + "\n"
        RESULTS_MD.write_text(md, encoding="utf-8")


if __name__ == "__main__":
    main()
