#!/usr/bin/env python3
"""Regenerate kbgen/search/data/wordnet-en.tsv.gz, the vocabulary bridge (lexicon.bridge_map), from Open
English WordNet (CC BY 4.0; derived from Princeton WordNet, WordNet licence): see kbgen/search/data/LICENSE-wordnet.

    git clone https://github.com/globalwordnet/english-wordnet   # or any copy of its src/yaml
    python tools/wordnet_bridge.py english-wordnet/src/yaml

One line per word: `word<TAB>related words`, space-separated, likeliest first: the other members of the
word's synsets in sense order (a word's first sense is its commonest), then the members of their direct
hypernyms. Single-token, lower-case lemmas only (no proper nouns, no multi-word expressions); at most
`MAX_RELATED` related words per word; a word enters only if it appears in WordNet's own definitions or
examples (a cheap "common word" filter that keeps the table small).
"""

from __future__ import annotations

import gzip
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

MAX_SENSES = 4  # senses of a word considered (commonest first)
MAX_RELATED = 8
GLOSS_MIN = 8  # times a word appears in definitions and examples
OUT = Path(__file__).resolve().parent.parent / "kbgen/search/data/wordnet-en.tsv.gz"
WORD = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)?$")


def load(path: Path) -> object:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader


def main(src: Path) -> None:
    synsets: dict[str, dict] = {}
    for p in sorted(src.glob("*.yaml")):
        if p.name.startswith(("noun.", "verb.", "adj.", "adv.")):
            synsets.update(load(p))  # type: ignore[arg-type]
    senses: dict[str, list[str]] = {}
    for p in sorted(src.glob("entries-*.yaml")):
        for lemma, by_pos in load(p).items():  # type: ignore[union-attr]
            if not isinstance(lemma, str) or not WORD.match(lemma):
                continue
            order: list[str] = []
            for pos in by_pos.values():
                order += [s["synset"] for s in pos.get("sense", [])][:MAX_SENSES]
            senses.setdefault(lemma, []).extend(order)
    gloss: Counter[str] = Counter()
    for s in synsets.values():
        for text in [*s.get("definition", []), *s.get("example", [])]:
            if isinstance(text, dict):
                text = text.get("text", "")
            gloss.update(re.findall(r"[a-z][a-z0-9-]*", str(text).lower()))

    def members(sid: str) -> list[str]:
        return [m for m in synsets.get(sid, {}).get("members", []) if WORD.match(m)]

    lines = []
    for lemma in sorted(senses):
        if gloss[lemma] + gloss[lemma.replace("-", "")] < GLOSS_MIN:
            continue
        related: list[str] = []
        for sid in senses[lemma]:
            related += [m for m in members(sid) if m != lemma and m not in related]
        for sid in senses[lemma][:2]:
            for h in synsets.get(sid, {}).get("hypernym", [])[:2]:
                related += [m for m in members(h) if m != lemma and m not in related]
        if related:
            lines.append(f"{lemma}\t{' '.join(related[:MAX_RELATED])}\n")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        f.write("".join(lines).encode("utf-8"))
    print(f"{len(lines)} words → {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
