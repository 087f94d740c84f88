"""Queries against the Whoosh index: what `kbgen search` answers, and the reference the browser matches.

A query is an OR over its words (natural-language questions must find answers: no AND), each word a
disjunction-max over its alternatives (the exact word, completions of the word being typed, typo
candidates: `lexicon.expand_query`), each alternative a sum over the scored fields of Whoosh's BM25F
term score times the field boost and the alternative's weight. The sum times the coordination factor is
multiplied by the document prior (popularity, promoted) and, when the query describes a problem, by the
problem boost of troubleshooting titles (`schema.is_problem_query`). Units are then grouped per article, in
order of their best unit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import query as wq
from whoosh.scoring import BM25F

from .index import MANIFEST, open_index
from .lexicon import Lexicon, QueryWord, did_you_mean, expand_query
from .schema import SCORED_FIELDS, Ranking, is_problem_query, is_problem_title


def weighting(ranking: Ranking) -> BM25F:
    """Whoosh's BM25F with our K1 and per-field B."""
    return BM25F(B=0.75, K1=ranking.k1, **{f"{f}_B": b for f, b in ranking.field_b})


def alternative_query(term: str, weight: float, ranking: Ranking) -> wq.Query:
    """One alternative of a query word: an OR over the scored fields, each with its boost × the weight."""
    boosts = dict(ranking.field_boosts)
    return wq.Or([wq.Term(f, term, boost=boosts[f] * weight) for f in SCORED_FIELDS])


def coordination(matched: float, total: float, ranking: Ranking) -> float:
    """Factor for a unit that matches words weighing `matched` of the query's `total` (a word weighs 1,
    a filler word less)."""
    if matched >= total:
        return 1.0
    return (matched / total) ** ranking.coord_power


@dataclass
class Hit:
    title: str
    heading: str
    url: str
    anchor: str
    score: float
    source: str
    category: str
    type: str
    docnum: int

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "heading": self.heading,
            "url": self.url,
            "anchor": self.anchor,
            "score": round(self.score, 6),
            "source": self.source,
            "category": self.category,
            "type": self.type,
        }


@dataclass
class Page:
    hits: list[Hit] = field(default_factory=list)

    @property
    def best(self) -> Hit:
        return self.hits[0]


@dataclass
class Answer:
    query: str
    pages: list[Page]
    total: int
    words: list[QueryWord]
    did_you_mean: str | None = None


class SearchIndex:
    """An open index with its lexicon: answers many queries in one process."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.ix = open_index(self.index_dir)
        manifest = json.loads((self.index_dir / MANIFEST).read_text(encoding="utf-8"))
        self.max_views = int(manifest.get("max_views", 0))
        rk = manifest.get("ranking", {})
        self.ranking = Ranking(
            popularity_weight=float(rk.get("popularityWeight", Ranking.popularity_weight)),
            promoted_boost=float(rk.get("promotedBoost", Ranking.promoted_boost)),
        )
        self.lexicon = Lexicon.load(self.index_dir)
        self.searcher = self.ix.searcher(weighting=weighting(self.ranking))
        self._priors: dict[int, float] = {}
        self._problem: dict[int, float] = {}
        self._positions: dict[int, int] = {}
        self._order = {src: i for i, src in enumerate(manifest.get("order", []))}

    def position(self, docnum: int) -> int:
        """Navigation rank of the unit's article: equal scores rank in this order (as in the browser)."""
        p = self._positions.get(docnum)
        if p is None:
            src = self.searcher.stored_fields(docnum).get("source", "")
            p = self._positions[docnum] = self._order.get(src, len(self._order))
        return p

    def prior(self, docnum: int) -> float:
        p = self._priors.get(docnum)
        if p is None:
            doc = self.searcher.stored_fields(docnum)
            views, promoted = int(doc.get("popularity") or 0), bool(doc.get("promoted"))
            p = self._priors[docnum] = self.ranking.prior(views, self.max_views, promoted)
        return p

    def close(self) -> None:
        self.searcher.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def problem(self, docnum: int, trouble: bool) -> float:
        """The problem boost of the unit's article when the query describes a problem, else 1."""
        if not trouble:
            return 1.0
        p = self._problem.get(docnum)
        if p is None:
            title = self.searcher.stored_fields(docnum).get("title", "")
            problem = is_problem_title(title, self.lexicon.language)
            p = self._problem[docnum] = self.ranking.problem_boost if problem else 1.0
        return p

    def search(self, text: str, limit: int = 10, category: str = "", prefix: bool = True) -> Answer:
        """Pages (with their matching units, best first) for `text`; at most `limit` pages."""
        words = [w for w in expand_query(text, self.lexicon, self.ranking, prefix=prefix) if w.alternatives]
        if not words:
            return Answer(text, [], 0, words, did_you_mean(text, self.lexicon))
        # Each alternative of a word is scored by Whoosh (BM25F over the fields); a word scores its best
        # alternative (a max taken here: Whoosh's DisjunctionMaxMatcher mixes up documents); the unit's
        # score is the sum over words × the coordination factor × the document prior, as in search-core.js.
        sums: dict[int, float] = {}
        counts: dict[int, float] = {}
        for qw in words:
            best: dict[int, float] = {}
            for term, weight in sorted(qw.alternatives.items()):
                for r in self.searcher.search(alternative_query(term, weight, self.ranking), limit=None):
                    if r.score > best.get(r.docnum, -1.0):
                        best[r.docnum] = r.score
            for d, sc in best.items():
                sums[d] = sums.get(d, 0.0) + sc
                counts[d] = counts.get(d, 0.0) + qw.weight
        n = sum(qw.weight for qw in words)
        trouble = is_problem_query(text, self.lexicon.language)
        scored = sorted(
            (
                (
                    sums[d]
                    * coordination(counts[d], n, self.ranking)
                    * self.prior(d)
                    * self.problem(d, trouble),
                    d,
                )
                for d in sums
            ),
            key=lambda x: (-x[0], self.position(x[1]), x[1]),
        )
        pages: dict[str, Page] = {}
        for score, docnum in scored:
            doc = self.searcher.stored_fields(docnum)
            if category and doc.get("category_slug") != category:
                continue
            hit = Hit(
                title=doc.get("title", ""),
                heading=doc.get("heading", ""),
                url=doc.get("url", ""),
                anchor=doc.get("anchor", ""),
                score=score,
                source=doc.get("source", ""),
                category=doc.get("category_title", ""),
                type=doc.get("type", ""),
                docnum=docnum,
            )
            pages.setdefault(hit.source, Page()).hits.append(hit)
        ordered = list(pages.values())
        dym = did_you_mean(text, self.lexicon) if not ordered else None
        return Answer(text, ordered[:limit], len(ordered), words, dym)
