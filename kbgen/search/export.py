"""The static export of the Whoosh index for the browser: `site/_search/`.

Entry point: `meta.json` (fixed name, revalidated); every other file is named after content hashes
(`bundle.<hash>.json`, or `shard.<hash of all shards>.<i>.json` / `docs.<hash of all docs>.<i>.json`), so a
CDN may cache it forever. Integers in postings, lengths and lexicons are packed into strings (`pack()`:
5 bits per character, ALPHABET; `unpack()` in search-core.js); word lists are front-coded.

meta.json (both layouts): format, language, N (Whoosh doc_count_all), fields, avgfl (Whoosh's average
field lengths), ranking (boosts, B, K1, expansion weights, coordination power, popularity weight,
promoted boost), maxViews, stop words and filler words (folded), categories [[slug, title]], units.

* **bundle** (up to `search.shard_threshold` units): meta + `bundle.<hash>.json` =
  lexicon {words (front-coded, folded surface words), wt (word → term ids), pop (term → popularity
  class), syn (typed form → synonym term ids), phrases (two-word expression → word)}, post (per term:
  [field, Whoosh df, packed (unit delta, tf) pairs] per field), lens (per field: each unit's quantised
  Whoosh field length), articles [[title, url, category, type, views, promoted]], units [[article,
  anchor, heading, text]]. The browser computes Whoosh's BM25F from these: same numbers as `kbgen search`
  (tests/test_search_parity.py).

* **sharded** (large sites): meta also carries the lexicon (words, wpop = each word's popularity class,
  syn, phrases: what typo/prefix matching needs before any shard), `shards` (where each shard's range of
  surface words starts: the shortest prefix of its first word that sorts after the previous shard's last
  word, so word w is in shard i when shards[i] <= w < shards[i + 1]; ranges end where neighbouring words
  share little, so a prefix's completions are in one shard), `shardSet`, `docsSet`, `docsPer`,
  `urlParents`, `articleRuns` (unit → article) and `categoryRuns` (unit → category). Shard i holds, for the words of its range, their term
  ids (wt) and for every term they or their synonyms reach the impacts (BM25F over fields × the document
  prior, quantised 1..LEVELS (2^20 − 1) of the term's best; the `max_postings()` best units kept, plus the
  best units where the term labels — title or heading — together with another term: "label pairs"), and
  display records [article, anchor, heading, text window] of the best unit of each term's `EMBED_TOP` best
  articles and of the `EMBED_PAIR` best articles of its label pairs. A term with more units has a tail:
  its entry is [scale, kept, tail file, bound] and `tail.<tailSet>.<i>.json` holds the impacts of the
  units left out, each at most `bound`. The browser loads a tail only when a unit it does not know exactly
  could still reach the results shown (search-core.js rank()), so it ranks exactly as `kbgen search`
  (tests/test_search_parity.py), ties in the export's unit order, which the index manifest gives the CLI.
  A one- or two-word query needs meta + one shard per word; `docs` fragments (`DOCS_PER_FRAGMENT` units
  each) supply display data for anything else (more often for longer queries). Sizes are set for cheap
  typing (bench/search_typing.py): a shard closes at `SHARD_BYTES` (≈ 12 kB gzip), at most `MAX_PAIR_RECS`
  pair records a term, and 16 units a docs fragment (≈ 3 kB gzip), as a missing result costs one.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import heapq
import json
import math
import multiprocessing
import os
import shutil
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..lifetime import die_with_parent
from ..memtrace import mark
from .index import SearchSettings
from .inverted import TF_BITS, TF_MASK, InvertedIndex, export_order
from .lexicon import Lexicon
from .schema import SCORED_FIELDS, fillers, is_problem_title, popularity_scale, stop_words
from .synonyms import phrases
from .units import Unit
from .writer import Analysis

FORMAT = 1
# Varint alphabet: 64 JSON-safe ASCII characters; a digit < 32 ends a number, >= 32 continues it.
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&()*+,-./:;<=>?@[]^_{|}~"[:64]
SHARD_BYTES = 36_000  # raw JSON bytes after which a shard closes (≈ 12 kB gzip)
MAX_POSTINGS = (400, 1000)  # best units kept per term in its shard (sharded layout): units / 27, within
# these bounds (27,276 units: tail requests per first search 3.0 with 400, 1.8 with 1,000, same bytes)


def max_postings(units: int) -> int:
    return min(MAX_POSTINGS[1], max(MAX_POSTINGS[0], units // 27))
LEVELS = (1 << 20) - 1  # impacts are quantised to 1..LEVELS of the term's best (4 characters each)
EMBED_TOP = 6  # articles per term whose best unit's display data is embedded in the shard
DOCS_PER_FRAGMENT = 16  # units a docs fragment: one is fetched per missing result (≈ 3 kB gzip)
TEXT_CHARS = 600  # unit text kept for snippets
WINDOW_CHARS = 110
EMBED_PAIR = 6  # best articles embedded per pair of label terms (as many as the search box shows)
MAX_PAIR_RECS = 60  # at most this many pair records per term (they were most of a shard's bytes at 120)
SIDE_CACHE = 10_000  # terms whose pair-scoring tables a worker keeps at once
TEXT_CACHE = 20_000  # units whose normalised text a worker keeps at once


def _encode(n: int) -> str:
    if n < 32:
        return ALPHABET[n]
    groups = []
    while n:
        groups.append(n & 31)
        n >>= 5
    groups.reverse()
    return "".join(ALPHABET[32 + g] for g in groups[:-1]) + ALPHABET[groups[-1]]


_CODES = [_encode(n) for n in range(4096)]


def pack(numbers: list[int]) -> str:
    """Non-negative integers → a compact string: 5 bits a character, most significant group first."""
    codes = _CODES
    if numbers and min(numbers) < 0:
        raise ValueError("pack() takes non-negative integers")
    return "".join([codes[n] if n < 4096 else _encode(n) for n in numbers])


def zigzag(n: int) -> int:
    return n * 2 if n >= 0 else -n * 2 - 1


def _u16len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def front_code(words: list[str]) -> str:
    """Sorted words → "<shared prefix length><suffix>|…" (lengths in UTF-16 units, as JS counts them)."""
    out = []
    prev = ""
    for w in words:
        k = 0
        while k < min(len(w), len(prev)) and w[k] == prev[k]:
            k += 1
        k16 = min(_u16len(w[:k]), 61)
        cut = len(w.encode("utf-16-le")[: 2 * k16].decode("utf-16-le", errors="ignore"))
        out.append(ALPHABET[k16] + w[cut:])
        prev = w
    return "|".join(out)


def pack_word_terms(tid_list: list[list[int]]) -> str:
    """Per word: (number of terms − 1), then each term id as a zigzag delta from the previous id."""
    nums: list[int] = []
    last = 0
    for tids in tid_list:
        nums.append(len(tids) - 1)
        for t in tids:
            nums.append(zigzag(t - last))
            last = t
    return pack(nums)


def lexicon_json(lexicon: Lexicon, tid_list: list[list[int]], sorted_terms: list[str]) -> dict[str, Any]:
    ids = {t: i for i, t in enumerate(sorted_terms)}
    return {
        "words": front_code(lexicon.words),
        "wt": pack_word_terms(tid_list),
        "pop": pack([lexicon.term_pop[t] for t in sorted_terms]),
        "syn": {w: [ids[t] for t in ts if t in ids] for w, ts in lexicon.synonyms.items()},
        "phrases": phrases(lexicon.language),
        "bridge": bridge_json(lexicon),
    }


def bridge_json(lexicon: Lexicon) -> dict[str, str]:
    """The vocabulary bridge (bridge.py): sorted forms front-coded, and per form n - 1 then the indexes of
    its n corpus words in `lexicon.words`."""
    forms: list[str] = []
    nums: list[int] = []
    for form in sorted(lexicon.bridge):
        idx = [i for i in (lexicon.index_of(w) for w in lexicon.bridge[form]) if i is not None]
        if idx:
            forms.append(form)
            nums += [len(idx) - 1, *idx]
    return {"words": front_code(forms), "to": pack(nums)}


def unpack(text: str) -> list[int]:
    index = {c: i for i, c in enumerate(ALPHABET)}
    out = []
    acc = 0
    for c in text:
        v = index[c]
        if v >= 32:
            acc = (acc << 5) | (v - 32)
        else:
            out.append((acc << 5) | v)
            acc = 0
    return out


@dataclass
class ExportStats:
    layout: str = ""
    units: int = 0
    articles: int = 0
    terms: int = 0
    words: int = 0
    files: int = 0
    bytes: int = 0
    gzip_bytes: int = 0
    seconds: float = 0.0
    sizes: dict[str, int] = field(default_factory=dict)


class _Writer:
    def __init__(self, out_dir: Path, stats: ExportStats, measure: bool) -> None:
        self.out_dir = out_dir
        self.stats = stats
        self.measure = measure

    def write(self, kind: str, data: Any, fixed: bool = False) -> str:
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        name = f"{kind}.json" if fixed else f"{kind}.{hashlib.sha256(raw).hexdigest()[:12]}.json"
        (self.out_dir / name).write_bytes(raw)
        self.stats.files += 1
        self.stats.bytes += len(raw)
        if self.measure:
            gz = len(gzip.compress(raw, 9))
            self.stats.gzip_bytes += gz
            self.stats.sizes[name] = gz
        return name

    def write_set(self, kind: str, count: int, make: Callable[[int], Any], workers: int = 1) -> str:
        """Files `<kind>.<hash of them all>.<i>.json` holding make(0) … make(count − 1): one hash in
        meta.json instead of one name per file. Made and written in `workers` forked processes."""
        parts = max(1, min(workers, count))

        def part(p: int) -> list[tuple[bytes, int, int]]:
            out = []
            for i in range(p, count, parts):
                raw = json.dumps(make(i), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
                (self.out_dir / f".{kind}.{i}.tmp").write_bytes(raw)
                out.append(
                    (
                        hashlib.sha256(raw).digest(),
                        len(raw),
                        len(gzip.compress(raw, 9)) if self.measure else 0,
                    )
                )
            return out

        done = fork_map(part, parts, workers)
        files = [done[i % parts][i // parts] for i in range(count)]
        digest = hashlib.sha256(b"".join(f[0] for f in files)).hexdigest()[:12]
        for i, (_, size, gz) in enumerate(files):
            name = f"{kind}.{digest}.{i}.json"
            os.replace(self.out_dir / f".{kind}.{i}.tmp", self.out_dir / name)
            self.stats.files += 1
            self.stats.bytes += size
            if self.measure:
                self.stats.gzip_bytes += gz
                self.stats.sizes[name] = gz
        return digest


# Set in the parent just before a pool forks; the workers run it on their share of the work.
_TASK: Callable[[int], Any] | None = None
PARALLEL_UNITS = 4_000  # below this many units the export runs in one process (forking costs more)


def _run_task(part: int) -> Any:
    assert _TASK is not None  # (the pool's initializer, die_with_parent, reset SIGTERM to the default)
    return _TASK(part)


def fork_map(task: Callable[[int], Any], parts: int, workers: int) -> list[Any]:
    """[task(0), …, task(parts − 1)], in `workers` forked processes (which see this process's state as it
    is now) when there are several workers and `fork` exists, else here. Results come back pickled."""
    global _TASK
    if workers <= 1 or parts <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [task(i) for i in range(parts)]
    _TASK = task
    gc.freeze()  # the workers' collections then leave the shared heap alone (no copy-on-write faults)
    try:
        with multiprocessing.get_context("fork").Pool(
            min(workers, parts), initializer=die_with_parent, initargs=(os.getpid(),)
        ) as pool:
            return pool.map(_run_task, range(parts), chunksize=1)
    finally:
        _TASK = None
        gc.unfreeze()


def _clean_text(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit * 0.8 else limit] + " …"


def export_index(
    units: list[Unit],
    out_dir: Path,
    settings: SearchSettings,
    *,
    inverted: InvertedIndex | None = None,
    lexicon: Lexicon | None = None,
    measure: bool = False,
    workers: int = 1,
) -> ExportStats:
    """Write the browser index of `units` into `out_dir` (created or emptied).

    `inverted` and `lexicon` are those `build_index()` computed for the same units (computed here when
    not given: the same numbers the Whoosh index holds). `measure` also sums the gzip -9 size of every
    file (slow: for benchmarks). `workers`: processes for a large site's export (the output does not
    depend on it).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    stats = ExportStats()
    writer = _Writer(out_dir, stats, measure)
    order = export_order(units, settings.shard_threshold)
    if inverted is None or inverted.order != order:
        inverted = InvertedIndex.of_units(units, settings.language, settings.shard_threshold)
        lexicon = None
    if lexicon is None:
        lexicon = Lexicon.from_dfs(inverted.dfs(), inverted.surface, settings.language)
    max_views = popularity_scale(u.views for u in units)
    ranking = settings.ranking
    n_all = inverted.n
    unit_list = [units[d] for d in order]
    avgfl = inverted.avgfl()
    lengths = inverted.lengths
    term_ids = {t: i for i, t in enumerate(sorted(lexicon.term_pop))}
    # postings[term id] = [(field index, df, packed postings: unit << TF_BITS | tf)], in field order
    postings: list[list[tuple[int, int, Any]]] = [[] for _ in term_ids]
    mark("export start")
    for fi, table in enumerate(inverted.postings):
        for term, packed in table.items():
            tid = term_ids.get(term)
            if tid is not None:
                postings[tid].append((fi, len(packed), packed))

    mark("postings table")
    # Articles in unit order; a unit's article is the last article start at or before it.
    articles: list[Unit] = []
    article_of: list[int] = []
    art_index: dict[str, int] = {}
    for u in unit_list:
        if u.source not in art_index:
            art_index[u.source] = len(articles)
            articles.append(u)
        article_of.append(art_index[u.source])
    categories: list[list[str]] = []
    cat_index: dict[str, int] = {}
    for u in articles:
        if u.category_slug and u.category_slug not in cat_index:
            cat_index[u.category_slug] = len(categories)
            categories.append([u.category_slug, u.category_title])

    stats.units, stats.articles, stats.terms, stats.words = (
        len(unit_list),
        len(articles),
        len(term_ids),
        len(lexicon.words),
    )
    tid_list = [[term_ids[t] for t in ts] for ts in lexicon.word_terms]
    meta: dict[str, Any] = {
        "format": FORMAT,
        "language": lexicon.language,
        "N": n_all,
        "fields": list(SCORED_FIELDS),
        "avgfl": avgfl,
        "ranking": ranking.to_json(),
        "maxViews": max_views,
        "stop": sorted(stop_words(lexicon.language)),
        "fillers": sorted(fillers(lexicon.language)),
        "categories": categories,
        "units": len(unit_list),
    }
    article_rows = [
        [a.title, a.url, cat_index.get(a.category_slug, -1), a.type, a.views, 1 if a.promoted else 0]
        for a in articles
    ]
    if len(unit_list) <= settings.shard_threshold:
        stats.layout = "bundle"
        bundle = {
            "lexicon": lexicon_json(lexicon, tid_list, sorted(term_ids)),
            "post": [
                [
                    x
                    for fi, df, pl in entry
                    for x in (fi, df, pack(_deltas([(v >> TF_BITS, v & TF_MASK) for v in pl])))
                ]
                for entry in postings
            ],
            "lens": [pack(col) for col in lengths],
            "articles": article_rows,
            "units": [
                [article_of[i], u.anchor, u.heading, _clean_text(u.text, TEXT_CHARS)]
                for i, u in enumerate(unit_list)
            ],
        }
        meta["bundle"] = writer.write("bundle", bundle)
    else:
        stats.layout = "sharded"
        _export_sharded(
            writer, meta, lexicon, tid_list, term_ids, postings, lengths, avgfl, n_all, unit_list,
            article_of, article_rows, articles, max_views, settings,
            workers if len(unit_list) >= PARALLEL_UNITS else 1, inverted.surface,
        )  # fmt: skip
    writer.write("meta", meta, fixed=True)
    stats.seconds = time.perf_counter() - start
    return stats


def _deltas(plist: list[tuple[int, int]]) -> list[int]:
    """(unit, value) pairs sorted by unit → [gap, value, …] (gap = unit − previous unit − 1)."""
    out: list[int] = []
    last = -1
    for uid, tf in plist:
        out.append(uid - last - 1)
        out.append(tf)
        last = uid
    return out


def _export_sharded(
    writer: _Writer,
    meta: dict[str, Any],
    lexicon: Lexicon,
    tid_list: list[list[int]],
    term_ids: dict[str, int],
    postings: list[list[tuple[int, int, list[tuple[int, int]]]]],
    lengths: list[list[int]],
    avgfl: list[float],
    n_all: int,
    unit_list: list[Unit],
    article_of: list[int],
    article_rows: list[list[Any]],
    articles: list[Unit],
    max_views: int,
    settings: SearchSettings,
    workers: int = 1,
    surface: dict[str, str | None] | None = None,
) -> None:
    ranking = settings.ranking
    boosts = dict(ranking.field_boosts)
    field_b = dict(ranking.field_b)
    priors = [ranking.prior(a.views, max_views, a.promoted) for a in articles]
    # Article rows without the prior's inputs (folded into the impacts), URLs as (parent index, rest).
    parents = sorted({r[1][: r[1].rstrip("/").rfind("/") + 1] for r in article_rows})
    parent_index = {p: i for i, p in enumerate(parents)}
    article_rows = [
        [r[0], parent_index[r[1][: r[1].rstrip("/").rfind("/") + 1]], r[1][len(r[1][: r[1].rstrip("/").rfind("/") + 1]) :],
         r[2], r[3]]
        for r in article_rows
    ]  # fmt: skip
    meta["urlParents"] = parents

    # Display fragments (every unit), by unit id range: for results whose display data no shard embeds.
    def make_docs(i: int) -> dict[str, Any]:
        lo = i * DOCS_PER_FRAGMENT
        chunk = range(lo, min(lo + DOCS_PER_FRAGMENT, len(unit_list)))
        arts = sorted({article_of[i] for i in chunk})
        return {
            "lo": lo,
            "units": [
                [
                    article_of[i],
                    unit_list[i].anchor,
                    unit_list[i].heading,
                    _clean_text(unit_list[i].text, TEXT_CHARS),
                ]
                for i in chunk
            ],  # fmt: skip
            "articles": {str(a): article_rows[a] for a in arts},
        }

    sorted_terms = sorted(term_ids)
    surfaces_of: dict[str, list[str]] = {}
    for word, ts in zip(lexicon.words, lexicon.word_terms, strict=True):
        for t in ts:
            surfaces_of.setdefault(t, []).append(word)
    unit_prior = [priors[a] for a in article_of]
    k1 = ranking.k1

    # Label terms: the terms of an article's title (label of all its units) and of each heading line of a
    # unit (label of that unit). Two terms in one label form a pair: customers type such pairs ("serial
    # monitor", "reset password"), and `pair_arts` lists the articles where they label a unit together.
    analysis = Analysis(lexicon.language)
    if surface:
        analysis.seed(surface)  # every word was analysed already (by the index workers): no stemming again
    units_of: dict[int, list[int]] = {}
    for uid, a in enumerate(article_of):
        units_of.setdefault(a, []).append(uid)
    label_units: dict[int, array[int]] = {}  # term → units it labels (in any order, repeats possible)
    pair_arts: dict[tuple[int, int], list[int]] = {}

    label_cache: dict[str, list[int]] = {}  # headings repeat across articles ("Steps", "Overview", …)

    def label_terms(text: str) -> list[int]:
        out = label_cache.get(text)
        if out is None:
            counts, _ = analysis.terms(text)
            out = label_cache[text] = sorted({term_ids[t] for t in counts if t in term_ids})
        return out

    for a, art in enumerate(articles):
        lines = [label_terms(art.title)]
        for t in lines[0]:
            label_units.setdefault(t, array("I")).extend(units_of[a])
        for uid in units_of[a]:
            for line in unit_list[uid].headings.split("\n"):
                ts = label_terms(line)
                if ts:
                    lines.append(ts)
                    for t in ts:
                        label_units.setdefault(t, array("I")).append(uid)
        pairs_here = {(t1, t2) for ts in lines for i, t1 in enumerate(ts) for t2 in ts[i + 1 :]}
        for pair in pairs_here:
            pair_arts.setdefault(pair, []).append(a)

    mark("label pairs")
    # Per term: impacts (Σ over fields of boost × Whoosh's BM25, × the prior), quantised to 1..255 of the
    # term's best, the max_postings() best units kept (plus the pair units added below); the EMBED_TOP best
    # units for display; and the exact impacts of the units it labels.
    term_data: dict[int, tuple[float, list[int]]] = {}  # term → (scale, shown units)
    # Per term, as parallel sorted arrays (a dict per term took ~90 bytes an entry: ~500 MB at 50,000
    # articles): the units kept with their quantised impacts, and the units it labels with their exact ones.
    kept_q: dict[int, tuple[array[int], array[int]]] = {}  # term → (units, quantised impacts)
    label_impacts: dict[int, tuple[array[int], array[float]]] = {}  # term → (units, impacts)
    tail_bound: dict[int, int] = {}  # term → quantised impact bound of the units not kept
    keep = max_postings(len(unit_list))
    parts = max(1, workers)

    def term_scores(tid: int) -> dict[int, float]:
        """unit → Σ over fields of boost × Whoosh's BM25 for term `tid` (without the prior)."""
        scores: dict[int, float] = {}
        for fi, df, plist in postings[tid]:
            f = SCORED_FIELDS[fi]
            idf = math.log(n_all / (df + 1)) + 1
            b, boost, col, avg = field_b[f], boosts[f], lengths[fi], avgfl[fi]
            get = scores.get
            k1p, nb, bavg = k1 + 1, 1 - b, b / avg
            for v in plist:  # Whoosh's bm25(), inlined
                uid, tf = v >> TF_BITS, v & TF_MASK
                scores[uid] = get(uid, 0.0) + idf * ((tf * k1p) / (tf + k1 * (nb + bavg * col[uid]))) * boost
        return scores

    def compute_entry(
        tid: int,
    ) -> tuple[float, list[int], tuple[array[int], array[int]], tuple[array[int], array[float]], int] | None:
        scores = term_scores(tid)
        if not scores:
            return None
        impacts = [(-sc * unit_prior[u], u) for u, sc in scores.items()]
        long = len(impacts) > keep
        ranked = heapq.nsmallest(keep + 1, impacts) if long else sorted(impacts)
        top = -ranked[0][0]
        scale = top / LEVELS if top > 0 else 1.0
        # A long list's tail (its own file) is at most the first unit left out: the browser's bound.
        bound = max(1, round(-ranked.pop()[0] / scale)) if long else 0
        kept = sorted((u, max(1, round(-neg / scale))) for neg, u in ranked)
        q = (array("I", [u for u, _ in kept]), array("I", [x for _, x in kept]))
        labelled = sorted({u for u in label_units.get(tid, ()) if u in scores})
        labels = (array("I", labelled), array("d", [scores[u] * unit_prior[u] for u in labelled]))
        shown: list[int] = []  # the best unit of each of the EMBED_TOP best articles
        seen_articles: set[int] = set()
        for _, u in ranked:
            if article_of[u] not in seen_articles:
                seen_articles.add(article_of[u])
                shown.append(u)
                if len(shown) >= EMBED_TOP:
                    break
        return scale, shown, q, labels, bound

    def entries_part(p: int) -> list[tuple[int, Any]]:
        return [(tid, compute_entry(tid)) for tid in range(p, len(postings), parts)]

    for done in fork_map(entries_part, parts, workers):
        for tid, entry in done:
            if entry is not None:
                scale, shown, q, labels, bound = entry
                term_data[tid] = (scale, shown)
                kept_q[tid] = q
                label_impacts[tid] = labels
                if bound:
                    tail_bound[tid] = bound
    # Terms with a tail, in term order: tail file i holds the impacts of term tail_tids[i] left out.
    tail_tids = sorted(tail_bound)
    tail_index = {t: i for i, t in enumerate(tail_tids)}

    mark("entries")
    # A pair: the best EMBED_PAIR units the two terms label together (by the exact sum of both impacts,
    # one per article) join both terms' kept units, so that a query of both words finds them as `kbgen
    # search` does even when neither term alone keeps them (common words on large sites).
    label_pairs = sorted(pair_arts.items())
    art_first = [units_of[a][0] for a in range(len(articles))] + [len(unit_list)]  # article → its first unit

    def label_pairs_part(p: int) -> list[tuple[int, int, int]]:
        added: list[tuple[int, int, int]] = []  # (term, unit, quantised impact)
        for (t1, t2), arts in label_pairs[p::parts]:
            if t1 not in term_data or t2 not in term_data:
                continue
            (a_units, a_imp), (b_units, b_imp) = label_impacts[t1], label_impacts[t2]
            best_of = []
            na, nb = len(a_units), len(b_units)
            for a in arts:
                # The article's units are consecutive: walk both terms' sorted units over that range.
                lo, hi = art_first[a], art_first[a + 1]
                i, j = bisect_left(a_units, lo), bisect_left(b_units, lo)
                cand = []
                while i < na and j < nb:
                    ua, ub = a_units[i], b_units[j]
                    if ua >= hi or ub >= hi:
                        break
                    if ua == ub:
                        cand.append((-(a_imp[i] + b_imp[j]), ua, a_imp[i], b_imp[j]))
                        i += 1
                        j += 1
                    elif ua < ub:
                        i += 1
                    else:
                        j += 1
                if cand:
                    best_of.append(min(cand))
            for _, u, a_val, b_val in heapq.nsmallest(EMBED_PAIR, best_of):
                for t, val in ((t1, a_val), (t2, b_val)):
                    if _position(kept_q[t][0], u) < 0:
                        added.append((t, u, max(1, min(LEVELS, round(val / term_data[t][0])))))
        return added

    extra: dict[int, dict[int, int]] = {}
    for added in fork_map(label_pairs_part, parts, workers):
        for t, u, q in added:  # the same (term, unit) always has the same q: the order does not matter
            extra.setdefault(t, {})[u] = q
    for t, more in extra.items():
        kept = sorted([*zip(*kept_q[t], strict=True), *more.items()])
        kept_q[t] = (array("I", [u for u, _ in kept]), array("I", [q for _, q in kept]))
    del extra

    mark("label pair units")
    packed_entry: dict[int, list[Any]] = {}

    def entry_json(tid: int) -> list[Any]:
        e = packed_entry.get(tid)
        if e is None:
            e = [term_data[tid][0], pack(_deltas(list(zip(*kept_q[tid], strict=True))))]
            if tid in tail_bound:  # [scale, kept, tail file, bound of the tail's impacts]
                e += [tail_index[tid], tail_bound[tid]]
            packed_entry[tid] = e
        return e

    # Display records, per term: the best unit of each of its EMBED_TOP best articles (compute_entry), and
    # the EMBED_PAIR best articles (as the browser ranks them from the kept impacts) of the label pairs
    # assigned to it. The best articles for two words together are rarely either word's best alone (on
    # the 10k synthetic corpus, half the two-word queries needed display fragments without these); each
    # pair's records go with the term of the two holding fewer pair records so far (a query of both
    # words loads both words' shards), the pairs found in most articles first, at most MAX_PAIR_RECS a term.
    # A word's side of a pair, as the browser scores it: the term's kept impact or, better, a synonym's
    # (× the synonym weight; the synonyms of any of the term's surface words).
    syn = {form: [term_ids[t] for t in ts if t in term_ids] for form, ts in lexicon.synonyms.items()}
    sides: dict[int, tuple[dict[int, float], list[int]]] = {}

    def side(t: int) -> tuple[dict[int, float], list[int]]:
        """(unit → score, units best first (ties: lower unit first)) of term t's word."""
        out = sides.get(t)
        if out is None and len(sides) >= SIDE_CACHE:  # a cache: bounded, so a worker's memory stays small
            sides.clear()
        if out is None:
            scale = term_data[t][0]
            # the kept impacts as the browser reads them
            score = {u: q * scale for u, q in zip(*kept_q[t], strict=True)}
            syns = {x for w in surfaces_of.get(sorted_terms[t], []) for x in syn.get(w, ()) if x != t}
            if syns:
                for x in sorted(syns):
                    if x not in term_data:
                        continue
                    sx = term_data[x][0]
                    for u, q in zip(*kept_q[x], strict=True):
                        v = q * sx * ranking.synonym_weight
                        if v > score.get(u, 0.0):
                            score[u] = v
            out = sides[t] = (score, sorted(score, key=lambda u: (-score[u], u)))
        return out

    def pair_best(t1: int, t2: int) -> list[int]:
        if t1 not in term_data or t2 not in term_data:
            return []
        (a, a_ranked), (b, b_ranked) = side(t1), side(t2)
        # Units under both words score a + b, under one only half its score. Of the one-word units only
        # the best up to the EMBED_PAIR-th distinct article can make the cut: no need to score the rest.
        scored = [(-(a[u] + b[u]), u) for u in a.keys() & b.keys()]
        for ranked, mine, other in ((a_ranked, a, b), (b_ranked, b, a)):
            seen_alone: set[int] = set()
            for u in ranked:
                if u in other:
                    continue
                scored.append((-mine[u] * 0.5, u))
                seen_alone.add(article_of[u])
                if len(seen_alone) >= EMBED_PAIR:
                    break
        scored.sort()
        out: list[int] = []
        seen_a: set[int] = set()
        for _, u in scored:
            if article_of[u] not in seen_a:
                seen_a.add(article_of[u])
                out.append(u)
                if len(out) >= EMBED_PAIR:
                    break
        return out

    # The pairs' best units and the terms' packed entries are computed in parallel; the pairs are then
    # assigned in order (most articles first).
    pair_order = sorted(pair_arts, key=lambda pair: (-len(pair_arts[pair]), pair))
    entry_tids = sorted(term_data)

    def pairs_part(p: int) -> tuple[list[list[int]], list[list[Any]]]:
        return (
            [pair_best(t1, t2) for t1, t2 in pair_order[p::parts]],
            [entry_json(tid) for tid in entry_tids[p::parts]],
        )

    bests: list[list[int]] = [[] for _ in pair_order]
    for p, (part_bests, part_entries) in enumerate(fork_map(pairs_part, parts, workers)):
        bests[p::parts] = part_bests
        for tid, e in zip(entry_tids[p::parts], part_entries, strict=True):
            packed_entry[tid] = e

    mark("pair bests")
    pair_recs: dict[int, list[tuple[int, tuple[int, int]]]] = {}  # term → [(unit, (t1, t2))]
    for (t1, t2), best in zip(pair_order, bests, strict=True):
        if min(len(pair_recs.get(t1, ())), len(pair_recs.get(t2, ()))) >= MAX_PAIR_RECS:
            continue  # no room for even one more record (the test below)
        if not best:
            continue
        own = set(term_data[t1][1]) | set(term_data[t2][1])
        new = [u for u in best if u not in own]
        if not new:
            continue
        n1, n2 = len(pair_recs.get(t1, ())), len(pair_recs.get(t2, ()))
        t = t1 if (n1, t1) <= (n2, t2) else t2
        if min(n1, n2) + len(new) > MAX_PAIR_RECS:
            continue
        pair_recs.setdefault(t, []).extend((u, (t1, t2)) for u in new)

    mark("pair recs")
    # Shards cover ranges of surface words (and synonym forms): a typed word needs the one shard of its
    # range, which holds its words' term ids, the impacts of every term they and their synonyms reach, and
    # those terms' display records.
    items: list[tuple[str, int, list[int]]] = [(w, i, tid_list[i]) for i, w in enumerate(lexicon.words)]
    items += [(form, -1, tids) for form, tids in syn.items()]
    items.sort(key=lambda x: (x[0], x[1]))

    texts: dict[tuple[int, Any], str] = {}

    def item_content(k: int) -> tuple[list[int], list[tuple[int, Any]]]:
        """Item k's term ids with an entry, and its records as (unit, terms whose words the record's text
        window shows: a term id or a pair of them)."""
        _key, widx, tids = items[k]
        terms: list[int] = []
        recs: list[tuple[int, Any]] = []
        for tid in tids:
            if tid not in term_data:
                continue
            terms.append(tid)
            recs += [(u, tid) for u in term_data[tid][1]]
            if widx >= 0:
                recs += pair_recs.get(tid, [])
        return terms, recs

    normalized: dict[int, tuple[str, str]] = {}  # unit → (text with single spaces, lower-cased)

    def rec_text(uid: int, how: Any) -> str:
        text = texts.get((uid, how))
        if text is None:
            ts = how if isinstance(how, tuple) else (how,)
            norm = normalized.get(uid)
            if norm is None and len(normalized) >= TEXT_CACHE:  # caches, bounded
                normalized.clear()
                texts.clear()
            if norm is None:
                flat = " ".join(unit_list[uid].text.split())
                norm = normalized[uid] = (flat, flat.lower())
            text = _window(norm[0], [w for t in ts for w in surfaces_of.get(sorted_terms[t], [])], norm[1])
            texts[(uid, how)] = text
        return text

    row_sizes = [sum(len(str(x)) for x in row) + 8 for row in article_rows]
    row_size = row_sizes.__getitem__
    rec_sizes: dict[int, int] = {}

    def rec_size(uid: int) -> int:
        """A unit's display record's size in a shard, near enough for the layout (its text window is
        made later, in parallel: at most WINDOW_CHARS and the ellipses)."""
        n = rec_sizes.get(uid)
        if n is None:
            u = unit_list[uid]
            flat = len(" ".join(u.text.split()))
            n = rec_sizes[uid] = min(flat, WINDOW_CHARS + 4) + len(u.anchor) + len(u.heading) + 16
        return n

    # Shard boundaries: a shard closes after about SHARD_BYTES, at the point of its last 40 % where
    # neighbouring words share the shortest prefix, so that the completions of a typed prefix are rarely
    # split over two shards (never between a word and a synonym form spelled the same).
    cuts: list[int] = [0]
    k, size = 0, 0
    seen_terms: set[int] = set()
    seen_units: set[int] = set()
    seen_arts: set[int] = set()
    marks: list[tuple[int, int]] = []
    while k < len(items):
        if size > SHARD_BYTES and len(marks) > 1:
            cands = [
                (j, s) for j, s in marks[1:] if s >= SHARD_BYTES * 0.6 and items[j - 1][0] != items[j][0]
            ]
            if cands:
                j = min(cands, key=lambda c: (_lcp(items[c[0] - 1][0], items[c[0]][0]), -c[0]))[0]
                cuts.append(j)
                k, size, marks = j, 0, []
                seen_terms, seen_units, seen_arts = set(), set(), set()
                continue
        marks.append((k, size))
        terms, recs = item_content(k)
        for tid in terms:
            if tid not in seen_terms:
                seen_terms.add(tid)
                size += len(entry_json(tid)[1]) + 12
        for uid, _how in recs:
            if uid not in seen_units:
                seen_units.add(uid)
                size += rec_size(uid)
                if article_of[uid] not in seen_arts:
                    seen_arts.add(article_of[uid])
                    size += row_size(article_of[uid])
        k += 1
    cuts.append(len(items))

    mark("cuts")
    ranges = [(lo_k, hi_k) for lo_k, hi_k in zip(cuts, cuts[1:], strict=False) if hi_k > lo_k]

    def make_shard(i: int) -> dict[str, Any]:
        lo_k, hi_k = ranges[i]
        widxs = [items[k][1] for k in range(lo_k, hi_k) if items[k][1] >= 0]
        shard: dict[str, Any] = {"terms": {}, "recs": {}, "articles": {}}
        for k in range(lo_k, hi_k):
            terms, recs = item_content(k)
            for tid in terms:
                shard["terms"].setdefault(str(tid), entry_json(tid))
            for uid, how in recs:
                if str(uid) not in shard["recs"]:
                    u = unit_list[uid]
                    shard["recs"][str(uid)] = [article_of[uid], u.anchor, u.heading, rec_text(uid, how)]
                    shard["articles"].setdefault(str(article_of[uid]), article_rows[article_of[uid]])
        lo, hi = (widxs[0], widxs[-1] + 1) if widxs else (0, 0)
        shard["words"] = [lo, hi]
        shard["wt"] = pack_word_terms(tid_list[lo:hi])
        return shard

    # Where each shard's range starts: the shortest prefix of its first word (or form) that sorts after the
    # previous shard's last, so a word w is in shard i when shards[i] <= w < shards[i + 1] (search-core.js
    # shardOf): "firs" rather than "first", 30 % of the list's bytes in meta.json.
    shard_firsts = [_separator(items[lo_k - 1][0] if lo_k else "", items[lo_k][0]) for lo_k, _ in ranges]
    meta["layout"] = "sharded"
    word_pop = [lexicon.word_pop(i) for i in range(len(lexicon.words))]
    meta["lexicon"] = {
        "words": front_code(lexicon.words),
        "wpop": pack(word_pop),
        "syn": {form: tids for form, tids in syn.items() if tids},
        "phrases": phrases(lexicon.language),
    }
    # The vocabulary bridge in a file of its own: the browser fetches it only for a query with a word the
    # lexicon lacks (it would add a third to meta.json, which every first search loads).
    if lexicon.bridge:
        meta["bridge"] = writer.write("bridge", bridge_json(lexicon))
    meta["shards"] = shard_firsts  # where each shard's range of words starts
    # shard i: shard.<shardSet>.<i>.json; docs.<docsSet>.<i>.json: units i·docsPer…
    meta["shardSet"] = writer.write_set("shard", len(ranges), make_shard, workers)
    mark("shards written")
    n_docs = (len(unit_list) + DOCS_PER_FRAGMENT - 1) // DOCS_PER_FRAGMENT
    meta["docsSet"] = writer.write_set("docs", n_docs, make_docs, workers)
    mark("docs written")
    meta["docsPer"] = DOCS_PER_FRAGMENT

    def make_tail(i: int) -> str:
        """The impacts of term tail_tids[i] on the units its shard entry leaves out (same scale)."""
        tid = tail_tids[i]
        scale, kept = term_data[tid][0], set(kept_q[tid][0])
        scores = term_scores(tid)
        rest = sorted((u, max(1, round(sc * unit_prior[u] / scale))) for u, sc in scores.items() if u not in kept)
        return pack(_deltas(rest))

    # tail.<tailSet>.<i>.json: fetched only when a query's top results depend on them (search-core.js)
    meta["tailSet"] = writer.write_set("tail", len(tail_tids), make_tail, workers)
    mark("tails written")
    # Article of each unit: units of an article are consecutive; store the run lengths.
    runs: list[int] = []
    for i, a in enumerate(article_of):
        if i == 0 or a != article_of[i - 1]:
            runs.append(1)
        else:
            runs[-1] += 1
    meta["articleRuns"] = pack(runs)
    # Category of each unit, as runs: [category index, number of units, …] (units are grouped by category).
    cat_runs: list[int] = []
    for a in article_of:
        c = article_rows[a][3]
        if cat_runs and cat_runs[-2] == c + 1:
            cat_runs[-1] += 1
        else:
            cat_runs += [c + 1, 1]
    meta["categoryRuns"] = pack(cat_runs)
    # Troubleshooting titles (schema.is_problem_title): runs of articles alternately without and with one.
    flag_runs: list[int] = [0]
    for art in articles:
        flag = 1 if is_problem_title(art.title, lexicon.language) else 0
        if (len(flag_runs) - 1) % 2 != flag:
            flag_runs.append(0)
        flag_runs[-1] += 1
    meta["problemRuns"] = pack(flag_runs)


def _position(units: array[int], u: int) -> int:
    """The index of `u` in the sorted array `units`, or -1."""
    i = bisect_left(units, u)
    return i if i < len(units) and units[i] == u else -1


def _separator(last: str, first: str) -> str:
    """The shortest prefix of `first` that sorts after `last` (last < first; "" for the first shard)."""
    if not last:
        return ""
    for k in range(1, len(first) + 1):
        if first[:k] > last:
            return first[:k]
    return first


def _lcp(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _window(text: str, surfaces: list[str], lower: str | None = None) -> str:
    """~WINDOW_CHARS of `text` around the first of the `surfaces` words (the start if none).

    `lower`: `text` already normalised (single spaces) and lower-cased, when the caller has it."""
    if lower is None:
        text = " ".join(text.split())
        lower = text.lower()
    pos = -1
    for w in surfaces:
        p = lower.find(w)
        if p >= 0 and (pos < 0 or p < pos):
            pos = p
    if pos < 0 or len(text) <= WINDOW_CHARS:
        return _clean_text(text, WINDOW_CHARS)
    start = max(0, pos - WINDOW_CHARS // 3)
    sp = text.rfind(" ", 0, start)
    start = sp + 1 if sp >= 0 and start - sp < 20 else start
    piece = text[start : start + WINDOW_CHARS]
    return ("… " if start > 0 else "") + piece + (" …" if start + WINDOW_CHARS < len(text) else "")
