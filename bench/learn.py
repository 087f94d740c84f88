#!/usr/bin/env python3
"""Learning from customers' searches (issue 14 item 5), measured on disjoint query sets. Run by hand.

    python bench/learn.py                 # prints the table (Markdown) and the simulation's figures
    python bench/learn.py --seed 2        # another simulated month (same query sets)

1. Builds the Arduino help centre without analytics and measures set B (bench/queries/learn-B.jsonl) through
   `kbgen search --queries` and search-core.js in Chromium: MRR@10, Recall@5, Success@1.
2. Simulates a month of collector `search_click` events from set A only (bench/queries/learn-A.jsonl):
   2–6 visitors per question on distinct days, each typing the question as written, with a word left out
   or with a typo; 25 % of them first open a wrong result, 15 % never open the right one; 150 more
   noise clicks pair a random A question with a random article. Written with the collector's own schema
   (`kbgen.analytics.collector.connect`).
3. Builds again with that database as an `[[analytics.sources]]` collector and measures B (and A) again.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search import ARDUINO, browser_answers, kbgen, load_queries, metrics, url_to_source  # noqa: E402

from kbgen.analytics.collector import COLUMNS, FIELD_COLUMNS, connect  # noqa: E402

SET_A = ROOT / "bench/queries/learn-A.jsonl"
SET_B = ROOT / "bench/queries/learn-B.jsonl"
DAY = 86_400_000
T_END = 1_796_000_000_000


def pick(content: Path = ARDUINO, n: int = 30, seed: int = 20261209) -> list[str]:
    """The articles both sets were written for (bench/queries/README.md)."""
    ok = []
    for p in sorted(str(p.relative_to(content)) for p in content.rglob("*.md") if p.name != "_index.md"):
        text = (content / p).read_text(encoding="utf-8")
        if re.search(r"^draft:\s*true", text, re.M) or "Hubs/" in p:
            continue
        if len(text.split("---", 2)[-1].strip()) < 200:
            continue
        ok.append(p)
    return random.Random(seed).sample(ok, n)


def typo(q: str, rng: random.Random) -> str:
    words = q.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4]
    if not long:
        return q
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(len(w) - 1)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def simulate(qs: list[dict[str, Any]], source_url: dict[str, str], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    urls = sorted(source_url.values())
    ev: list[dict[str, Any]] = []

    def click(q: str, url: str, day: int, rank: int) -> None:
        ts = T_END - day * DAY - rng.randrange(DAY)
        ev.append({"name": "search_click", "page": "/", "query": q, "url": url, "rank": rank, "ts": ts})

    for item in qs:
        target = source_url[item["relevant"][0]]
        days = rng.sample(range(30), rng.randint(2, 6))
        for day in days:
            r = rng.random()
            words = item["q"].split()
            if r < 0.6:
                q = item["q"]
            elif r < 0.8 and len(words) > 3:
                del words[rng.randrange(len(words))]
                q = " ".join(words)
            else:
                q = typo(item["q"], rng)
            if rng.random() < 0.25:
                click(q, rng.choice(urls), day, 1)  # opened a wrong result first
            if rng.random() < 0.15:
                continue  # never found it
            click(q, target, day, rng.randint(1, 10))
    for _ in range(150):
        click(rng.choice(qs)["q"], rng.choice(urls), rng.randrange(30), rng.randint(1, 10))
    return ev


def write_db(path: Path, events: list[dict[str, Any]]) -> None:
    db = connect(path)
    rows = [(e.pop("ts"), "mobile", *(e.get(c) for c in FIELD_COLUMNS)) for e in [dict(x) for x in events]]
    db.executemany(
        f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", rows
    )
    db.commit()
    db.close()


def measure(project: Path, qs: list[dict[str, Any]], tmp: Path, name: str) -> dict[str, Any]:
    u2s = url_to_source(project)
    qfile = tmp / f"{name}.jsonl"
    qfile.write_text("".join(json.dumps({"q": q["q"]}) + "\n" for q in qs), encoding="utf-8")
    cli = kbgen("search", "--queries", str(qfile), "--json", "-n", "10", cwd=project).stdout.splitlines()
    cli_ranked = [[r["source"] for r in json.loads(line)["results"]] for line in cli]
    js = browser_answers(project / "site", [q["q"] for q in qs])
    js_ranked = [[u2s.get(u, u) for u in urls] for urls in js]
    agree = sum(1 for a, b in zip(cli_ranked, js_ranked, strict=True) if a[:5] == b[:5])
    return {"cli": metrics(qs, cli_ranked)["all"], "browser": metrics(qs, js_ranked)["all"], "agree": agree}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    set_a, set_b = load_queries(SET_A), load_queries(SET_B)
    picked = pick()
    assert (
        sorted(q["relevant"][0] for q in set_a) == sorted(picked) == sorted(q["relevant"][0] for q in set_b)
    )
    assert not {q["q"] for q in set_a} & {q["q"] for q in set_b}
    tmp = Path(tempfile.mkdtemp(prefix="kbgen-bench-learn-"))
    project = tmp / "arduino"
    project.mkdir()
    toml = f'title = "Arduino Help Center"\ncontent_dir = "{ARDUINO}"\n[search]\nlanguage = "en"\n'
    (project / "kbgen.toml").write_text(toml, encoding="utf-8")
    kbgen("build", cwd=project)
    before = {"A": measure(project, set_a, tmp, "a0"), "B": measure(project, set_b, tmp, "b0")}
    source_url = {s: u for u, s in url_to_source(project).items()}
    events = simulate(set_a, source_url, args.seed)
    write_db(project / "analytics.sqlite", events)
    toml += '[analytics]\nsources = [{type = "collector", path = "analytics.sqlite"}]\n'
    (project / "kbgen.toml").write_text(toml, encoding="utf-8")
    kbgen("build", cwd=project)
    after = {"A": measure(project, set_a, tmp, "a1"), "B": measure(project, set_b, tmp, "b1")}
    report = kbgen("report", cwd=project).stdout
    learned = report.split("Learned search words", 1)[-1]
    n_articles = learned.count("\n│ /")
    print(f"simulated clicks: {len(events)}; articles with learned words: {n_articles}")
    print(learned)
    print(
        "| set | path | MRR@10 before → after | Recall@5 before → after | Success@1 before → after | same top 5 |"
    )
    print("|---|---|---|---|---|---|")
    for name in ("B", "A"):
        for path in ("cli", "browser"):
            b, a = before[name][path], after[name][path]
            print(
                f"| {name} ({len(set_b)}) | {path} | {b['mrr10']:.3f} → **{a['mrr10']:.3f}** | "
                f"{b['recall5']:.3f} → {a['recall5']:.3f} | {b['success1']:.3f} → {a['success1']:.3f} | "
                f"{before[name]['agree']} → {after[name]['agree']} |"
            )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
