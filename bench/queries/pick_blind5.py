"""Draw the articles of the blind5 query sets (bench/queries/README.md, issue 14 "Measure honestly").

    python bench/queries/pick_blind5.py [--show]

For each corpus: every content/**/*.md article (sorted content-relative paths) that is not a draft, not a
hub/index page, and has at least 200 characters of text (Markdown syntax, HTML tags and link targets left
out); for Arduino also not an article any existing query set names (bench/queries*.jsonl,
bench/queries/*.jsonl and the shared dev set). Then random.Random(20261209).sample(pool, 40), a fresh
generator per corpus. --show prints each pick's title and opening, which is all the query writer read.
This script never searches, builds or ranks anything.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261209
N = 40
CORPORA = {
    "arduino": ROOT / "tests/fixtures/arduino-help-center/content",
    "gnome-help": ROOT / "tests/fixtures/gnome-help/content",
}
USED_SETS = [
    *sorted((ROOT / "bench").glob("queries*.jsonl")),
    *sorted((ROOT / "bench/queries").glob("*.jsonl")),
    ROOT.parent / "shared/queries/arduino-dev.jsonl",
]


def split(text: str) -> tuple[str, str]:
    """(front matter, body) of a Markdown file with a leading --- block."""
    if text.startswith("---"):
        parts = text.split("---", 2)
        if len(parts) == 3:
            return parts[1], parts[2]
    return "", text


def plain(body: str) -> str:
    t = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", body)
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", t)
    t = re.sub(r"<[^>]+>", " ", t)
    t = re.sub(r"[#*_`>|]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def title_of(front: str) -> str:
    m = re.search(r'^title:\s*"?(.*?)"?\s*$', front, re.M)
    return m.group(1) if m else ""


def used_paths() -> set[str]:
    used: set[str] = set()
    for f in USED_SETS:
        if not f.exists():
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                rel = rec.get("relevant") or rec.get("expect") or []
                used.update([rel] if isinstance(rel, str) else rel)
    return used


def pool(name: str) -> list[str]:
    content = CORPORA[name]
    skip = used_paths() if name == "arduino" else set()
    ok = []
    for rel in sorted(str(p.relative_to(content)) for p in content.rglob("*.md")):
        if Path(rel).name in ("_index.md", "index.md") or rel.startswith("Custom/Hubs/") or rel in skip:
            continue
        front, body = split((content / rel).read_text(encoding="utf-8"))
        if re.search(r"^draft:\s*true", front, re.M) or len(plain(body)) < 200:
            continue
        ok.append(rel)
    return ok


def pick(name: str) -> list[str]:
    return random.Random(SEED).sample(pool(name), N)


def main() -> None:
    show = "--show" in sys.argv
    for name in CORPORA:
        chosen = pick(name)
        print(f"## {name}: {len(pool(name))} eligible, {len(chosen)} drawn")
        for rel in chosen:
            print(rel)
            if show:
                front, body = split((CORPORA[name] / rel).read_text(encoding="utf-8"))
                print("   title:", title_of(front))
                print("   text: ", plain(body)[:300])


if __name__ == "__main__":
    main()
