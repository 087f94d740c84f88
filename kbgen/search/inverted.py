"""The in-memory inverted index of the search units: the numbers the browser export is computed from.

The build analyses every unit once (`Analysis.terms`, the same analysis the Whoosh index is written with)
and keeps, per scored field, each unit's field length and each term's postings. These are exactly the
statistics Whoosh keeps for an index without deleted documents (`doc_count_all`, `field_length`,
`doc_field_length` after Whoosh's one-byte length rounding, `doc_frequency`, term frequencies), so the
export no longer reads the Whoosh index back: it is computed straight from the analysis, while the Whoosh
segments are written from the same analysis.

Postings are packed into `array("Q")` values `unit << 16 | min(tf, 65535)`, sorted by unit: compact,
cheap to send between processes, cheap to merge.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from whoosh.util.numeric import length_to_byte

from .schema import SCORED_FIELDS
from .units import Unit
from .writer import BYTE_TO_LENGTH, Analysis

TF_BITS = 16
TF_MASK = (1 << TF_BITS) - 1


def whoosh_length(length: int) -> int:
    """A field length as Whoosh reads it back (`doc_field_length`: stored in one byte, 0 stays 0)."""
    if not length:
        return 0
    lb = length_to_byte(length)
    return BYTE_TO_LENGTH[lb] if lb else 0


@dataclass
class Partial:
    """The analysis of some units (`units`: their positions in the site's unit list)."""

    units: list[int] = field(default_factory=list)
    lengths: list[array[int]] = field(default_factory=lambda: [array("I") for _ in SCORED_FIELDS])
    postings: list[dict[str, array[int]]] = field(default_factory=lambda: [{} for _ in SCORED_FIELDS])
    surface: dict[str, str | None] = field(default_factory=dict)

    def add(self, position: int, analyzed: list[tuple[dict[str | None, int], int]]) -> None:
        """Record one unit's analysis (`Analysis.terms()` of each scored field, in SCORED_FIELDS order)."""
        self.units.append(position)
        base = position << TF_BITS
        for fi, (counts, length) in enumerate(analyzed):
            self.lengths[fi].append(length)
            if not length:
                continue
            table = self.postings[fi]
            for t, tf in counts.items():
                entry = table.get(t)  # type: ignore[arg-type]
                if entry is None:
                    entry = table[t] = array("Q")  # type: ignore[index]
                entry.append(base | (tf if tf < TF_MASK else TF_MASK))


def analyze_into(partial: Partial, analysis: Analysis, units: Iterable[tuple[int, Unit]]) -> None:
    for position, u in units:
        partial.add(position, unit_terms(analysis, u))
    partial.surface.update(analysis.surface)


def unit_terms(analysis: Analysis, u: Unit) -> list[tuple[dict[str | None, int], int]]:
    """`Analysis.terms()` of each scored field of a unit, in SCORED_FIELDS order."""
    terms = analysis.terms
    return [terms(getattr(u, name)) for name in SCORED_FIELDS]


def export_order(units: list[Unit], shard_threshold: int) -> list[int]:
    """The order in which the export numbers units (positions in `units`).

    Up to `shard_threshold` units (one bundle): navigation order, which breaks score ties exactly as
    `kbgen search` does. Above (sharded): by category, then article title, so that a category filter needs
    one range of units and articles with similar titles (often found together) share display fragments.
    """
    order = list(range(len(units)))
    if len(units) > shard_threshold:
        cat_rank: dict[str, int] = {}
        for u in units:
            cat_rank.setdefault(u.category_slug, len(cat_rank))
        order.sort(
            key=lambda d: (cat_rank[units[d].category_slug], units[d].title.casefold(), units[d].source, d)
        )
    return order


@dataclass
class InvertedIndex:
    """Units are numbered in export order: unit i is `units[order[i]]`."""

    n: int
    order: list[int]
    totals: list[int]  # per scored field: Σ of the units' field lengths (Whoosh's field_length)
    lengths: list[list[int]]  # per scored field: each unit's length as Whoosh reads it back
    postings: list[dict[str, array[int]]]  # per scored field: term → packed postings (see `merge`)
    surface: dict[str, str | None]  # lower-cased surface word → term (None: stop word)

    @classmethod
    def merge(cls, order: list[int], parts: Iterable[Partial], sort: bool = True) -> InvertedIndex:
        """Merge analyses covering units 0..n-1 of `order` (each unit exactly once, in any split).

        `sort=False` leaves a term's postings in the order of the parts (the sharded export does not need
        them sorted — it ranks them — and sorting millions of them costs ~1.5 s at 10,000 articles)."""
        n = len(order)
        exact = [[0] * n for _ in SCORED_FIELDS]
        postings: list[dict[str, array[int]]] = [{} for _ in SCORED_FIELDS]
        unsorted: list[set[str]] = [set() for _ in SCORED_FIELDS]
        surface: dict[str, str | None] = {}
        covered = 0
        for part in parts:
            covered += len(part.units)
            for fi in range(len(SCORED_FIELDS)):
                col = exact[fi]
                for pos, length in zip(part.units, part.lengths[fi], strict=True):
                    col[pos] = length
                table = postings[fi]
                for t, arr in part.postings[fi].items():
                    cur = table.get(t)
                    if cur is None:
                        table[t] = arr
                    elif t in unsorted[fi]:
                        cur.extend(arr)
                    else:  # a new array: `cur` is a part's own (kept in the analysis cache), never extended
                        table[t] = cur + arr
                        unsorted[fi].add(t)
            surface.update(part.surface)
        if covered != n:
            raise ValueError(f"analysis covers {covered} units, expected {n}")
        for fi, terms in enumerate(unsorted if sort else ()):
            table = postings[fi]
            for t in terms:
                table[t] = array("Q", sorted(table[t]))
        return cls(
            n=n,
            order=order,
            totals=[sum(col) for col in exact],
            lengths=[[whoosh_length(x) for x in col] for col in exact],
            postings=postings,
            surface=surface,
        )

    @classmethod
    def of_units(cls, units: list[Unit], language: str, shard_threshold: int) -> InvertedIndex:
        """Analyse `units` in this process (small sites, tests)."""
        order = export_order(units, shard_threshold)
        part = Partial()
        analyze_into(part, Analysis(language), ((i, units[d]) for i, d in enumerate(order)))
        return cls.merge(order, [part])

    def dfs(self) -> dict[str, dict[str, int]]:
        """field → term → document frequency (Whoosh's `doc_frequency()`)."""
        return {f: {t: len(a) for t, a in self.postings[fi].items()} for fi, f in enumerate(SCORED_FIELDS)}

    def avgfl(self) -> list[float]:
        """Whoosh's average field lengths (`field_length / doc_count_all`, 1 when empty)."""
        return [(total / (self.n or 1)) or 1 for total in self.totals]
