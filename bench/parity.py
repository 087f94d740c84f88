#!/usr/bin/env python3
"""Browser = CLI on a sharded site: the share of queries whose top 5 (pages, best unit) agree.

    python bench/parity.py CONTENT_DIR QUERIES.jsonl [QUERIES.jsonl …] [--shard-threshold 500] [--keep DIR]

Builds CONTENT_DIR into a temporary project (forcing the sharded export with `--shard-threshold`), answers
every query with `kbgen search --queries --json -n 5` and with search-core.js in Chromium (limit 5, as the
search box), and prints the agreement, the disagreeing queries and the bytes/requests the browser used.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from conftest import CHROMIUM, CHROMIUM_ARGS, serve_directory  # noqa: E402
from search import kbgen  # noqa: E402


def build(content: Path, where: Path, threshold: int) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / "kbgen.toml").write_text(
        f'title = "Parity"\ncontent_dir = "{content}"\n[search]\nlanguage = "en"\nshard_threshold = {threshold}\n',
        encoding="utf-8",
    )
    kbgen("build", cwd=where)
    return where


def cli_top(project: Path, queries: list[str], prefix: bool = True) -> list[list[tuple[str, str]]]:
    qfile = project / "parity-q.jsonl"
    qfile.write_text("".join(json.dumps({"q": q}) + "\n" for q in queries), encoding="utf-8")
    extra = [] if prefix else ["--no-prefix"]
    out = kbgen("search", "--queries", str(qfile), "--json", "-n", "5", *extra, cwd=project).stdout
    return [[(r["url"], r["anchor"]) for r in json.loads(line)["results"]] for line in out.splitlines()]


def browser_top(
    site: Path, queries: list[str], prefix: bool = True, fresh: bool = False
) -> tuple[list[list[tuple[str, str]]], Any]:
    from playwright.sync_api import sync_playwright

    url, server = serve_directory(site)
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = b.new_page()
            page.goto(url + "/")
            page.evaluate("performance.setResourceTimingBufferSize(100000)")
            page.wait_for_function("window.kbSearchCore")
            answers = page.evaluate(
                """async ([qs, prefix]) => { const out = [];
                     for (const q of qs) { const a = await kbSearchCore.query(q, {limit: 5, prefix});
                       out.push(a.grouped.map(g => [g.url, g.units[0].anchor])); }
                     return out; }""",
                [queries, prefix],
            )
            res = page.evaluate(
                "performance.getEntriesByType('resource').filter(e => e.name.includes('/_search/'))"
                ".map(e => e.encodedBodySize || e.transferSize || 0)"
            )
            cost: dict[str, Any] = {"requests": len(res), "bytes": sum(res), "fresh": []}
            if fresh:  # each query alone in a fresh page, as a first search: requests and raw bytes
                for q in queries:
                    ctx = b.new_context()
                    pg = ctx.new_page()
                    pg.goto(url + "/")
                    pg.wait_for_function("window.kbSearchCore")
                    one = pg.evaluate(
                        """async q => { performance.clearResourceTimings();
                             await kbSearchCore.query(q, {limit: 5});
                             return performance.getEntriesByType('resource')
                               .filter(e => e.name.includes('/_search/'))
                               .map(e => [e.name.split('/').pop().split('.')[0], e.encodedBodySize]); }""",
                        q,
                    )
                    cost["fresh"].append((len(one), sum(b for _, b in one)))
                    for kind, size in one:
                        cost.setdefault("kinds", {}).setdefault(kind, [0, 0])
                        cost["kinds"][kind][0] += 1
                        cost["kinds"][kind][1] += size
                    ctx.close()
            b.close()
    finally:
        server.shutdown()
    return [[tuple(x) for x in a] for a in answers], cost


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("content", type=Path)
    ap.add_argument("queries", type=Path, nargs="+")
    ap.add_argument("--shard-threshold", type=int, default=500)
    ap.add_argument("--keep", type=Path, help="build here and keep it")
    ap.add_argument("--no-build", action="store_true", help="reuse --keep's build")
    ap.add_argument("--no-prefix", action="store_true")
    ap.add_argument("--fresh", action="store_true", help="also each query as a first search in a fresh page")
    args = ap.parse_args()
    where = args.keep or Path(tempfile.mkdtemp(prefix="kbgen-parity-"))
    if not args.no_build:
        build(args.content.resolve(), where, args.shard_threshold)
    meta = json.loads((where / "site/_search/meta.json").read_text("utf-8"))
    qs: list[str] = []
    for path in args.queries:
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                q = json.loads(line)["q"]
                if q not in qs:
                    qs.append(q)
    cli = cli_top(where, qs, not args.no_prefix)
    js, cost = browser_top(where / "site", qs, not args.no_prefix, args.fresh)
    same = sum(a == b for a, b in zip(cli, js, strict=True))
    pages = sum([u for u, _ in a] == [u for u, _ in b] for a, b in zip(cli, js, strict=True))
    for q, a, b in zip(qs, cli, js, strict=True):
        if a != b:
            print(f"DIFF {q!r}\n  cli: {[u for u, _ in a]}\n  js:  {[u for u, _ in b]}")
    print(
        f"layout {meta.get('layout', 'bundle')}, {meta['units']} units: top 5 identical on {same}/{len(qs)} "
        f"({same / len(qs):.1%}); same pages {pages}/{len(qs)}; browser {cost['requests']} requests, "
        f"{cost['bytes'] / 1000:.0f} kB (all queries, one page)"
    )
    if cost["fresh"]:
        reqs = sorted(r for r, _ in cost["fresh"])
        kb = sorted(b / 1000 for _, b in cost["fresh"])
        med, p90 = len(reqs) // 2, min(len(reqs) - 1, int(len(reqs) * 0.9))
        print(
            f"first search (fresh page, raw bytes): requests median {reqs[med]}, p90 {reqs[p90]}, max {reqs[-1]}; "
            f"kB median {kb[med]:.0f}, p90 {kb[p90]:.0f}, max {kb[-1]:.0f}"
        )
        n = len(cost["fresh"])
        print("  per query by file kind: " + ", ".join(
            f"{k} {c / n:.1f} req {b / n / 1000:.0f} kB" for k, (c, b) in sorted(cost["kinds"].items())))
    if not args.keep:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
