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
  syn, phrases: what typo/prefix matching needs before any shard), `shards` (the first word of each
  shard's range of surface words), `shardSet`, `docsSet`, `docsPer`, `urlParents`, `articleRuns` (unit →
  article) and `categoryRuns` (unit → category). Shard i holds, for the words of its range, their term
  ids (wt) and for every term they or their synonyms reach the impacts (BM25F over fields × the document
  prior, quantised 1..255 of the term's best, `MAX_POSTINGS` best units kept), plus display records
  [article, anchor, heading, text] of: the best unit of each term's `EMBED_TOP` best articles, the best
  articles of frequent title-word pairs (two-word queries), and every unit of the articles "homed" in the
  range (by their title's rarest word). A typical one- or two-word query needs meta + one shard per word;
  `docs` fragments (`DOCS_PER_FRAGMENT` units each) supply display data for anything else.
  Impacts are quantised and truncated, so large-site rankings approximate `kbgen search` closely, not
  exactly.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .index import SearchSettings
from .inverted import TF_BITS, TF_MASK, InvertedIndex, export_order
from .lexicon import Lexicon, query_words
from .schema import SCORED_FIELDS, fillers, stop_words
from .synonyms import phrases
from .units import Unit
from .writer import Analysis

FORMAT = 1
# Varint alphabet: 64 JSON-safe ASCII characters; a digit < 32 ends a number, >= 32 continues it.
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&()*+,-./:;<=>?@[]^_{|}~"[:64]
SHARD_BYTES = 60_000  # raw JSON bytes after which a shard closes (≈ 25 kB gzip)
MAX_POSTINGS = 400  # best units kept per term (sharded layout)
EMBED_TOP = 6  # articles per term whose best unit's display data is embedded in the shard
DOCS_PER_FRAGMENT = 48
TEXT_CHARS = 600  # unit text kept for snippets
WINDOW_CHARS = 110
PAIR_MIN_POP = 10  # pairs of title terms whose quantised popularity is at least this (df ≳ 30)…
MAX_PARTNERS = 24  # …at most this many partners per term, the most frequent pairs first
EMBED_PAIR = 5  # articles embedded per pair
HOME_TEXT_CHARS = 200  # text kept per unit in its article's home shard  # snippet window embedded in shards


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
    }


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

    def write_set(self, kind: str, items: list[Any]) -> str:
        """Files `<kind>.<hash of them all>.<i>.json`: one hash in meta.json instead of one name per file."""
        raws = [json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode("utf-8") for d in items]
        h = hashlib.sha256()
        for raw in raws:
            h.update(hashlib.sha256(raw).digest())
        digest = h.hexdigest()[:12]
        for i, raw in enumerate(raws):
            name = f"{kind}.{digest}.{i}.json"
            (self.out_dir / name).write_bytes(raw)
            self.stats.files += 1
            self.stats.bytes += len(raw)
            if self.measure:
                gz = len(gzip.compress(raw, 9))
                self.stats.gzip_bytes += gz
                self.stats.sizes[name] = gz
        return digest


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
) -> ExportStats:
    """Write the browser index of `units` into `out_dir` (created or emptied).

    `inverted` and `lexicon` are those `build_index()` computed for the same units (computed here when
    not given: the same numbers the Whoosh index holds). `measure` also sums the gzip -9 size of every
    file (slow: for benchmarks).
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
    max_views = max((u.views for u in units), default=0)
    ranking = settings.ranking
    n_all = inverted.n
    unit_list = [units[d] for d in order]
    avgfl = inverted.avgfl()
    lengths = inverted.lengths
    term_ids = {t: i for i, t in enumerate(sorted(lexicon.term_pop))}
    # postings[term id] = [(field index, df, [(unit id, tf)])]
    postings: list[list[tuple[int, int, list[tuple[int, int]]]]] = [[] for _ in term_ids]
    for fi, table in enumerate(inverted.postings):
        for term, packed in table.items():
            tid = term_ids.get(term)
            if tid is not None:
                postings[tid].append((fi, len(packed), [(v >> TF_BITS, v & TF_MASK) for v in packed]))
    for entry in postings:
        entry.sort(key=lambda x: x[0])

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
            "post": [[x for fi, df, pl in entry for x in (fi, df, pack(_deltas(pl)))] for entry in postings],
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
    docs_items = []
    for lo in range(0, len(unit_list), DOCS_PER_FRAGMENT):
        chunk = range(lo, min(lo + DOCS_PER_FRAGMENT, len(unit_list)))
        arts = sorted({article_of[i] for i in chunk})
        docs_items.append(
            {
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
        )
    sorted_terms = sorted(term_ids)
    surfaces_of: dict[str, list[str]] = {}
    for word, ts in zip(lexicon.words, lexicon.word_terms, strict=True):
        for t in ts:
            surfaces_of.setdefault(t, []).append(word)
    unit_prior = [priors[a] for a in article_of]
    k1 = ranking.k1

    # Per term: impacts (Σ over fields of boost × Whoosh's BM25, × the prior), quantised to 1..255 of the
    # term's best, the MAX_POSTINGS best units kept; and the EMBED_TOP best units for display.
    term_data: dict[int, tuple[list[Any], list[int]]] = {}
    kept_impacts: dict[int, dict[int, float]] = {}

    def term_entry(tid: int) -> tuple[list[Any], list[int]] | None:
        if tid in term_data:
            return term_data[tid]
        scores: dict[int, float] = {}
        for fi, df, plist in postings[tid]:
            f = SCORED_FIELDS[fi]
            idf = math.log(n_all / (df + 1)) + 1
            b, boost, col, avg = field_b[f], boosts[f], lengths[fi], avgfl[fi]
            get = scores.get
            k1p, nb, bavg = k1 + 1, 1 - b, b / avg
            for uid, tf in plist:  # Whoosh's bm25(), inlined
                scores[uid] = get(uid, 0.0) + idf * ((tf * k1p) / (tf + k1 * (nb + bavg * col[uid]))) * boost
        if not scores:
            return None
        impacts = [(-sc * unit_prior[u], u) for u, sc in scores.items()]
        ranked = heapq.nsmallest(MAX_POSTINGS, impacts) if len(impacts) > MAX_POSTINGS else sorted(impacts)
        top = -ranked[0][0]
        scale = top / 255 if top > 0 else 1.0
        pairs = sorted((u, max(1, round(-neg / scale))) for neg, u in ranked)
        shown: list[int] = []  # the best unit of each of the EMBED_TOP best articles
        seen_articles: set[int] = set()
        for _, u in ranked:
            if article_of[u] not in seen_articles:
                seen_articles.add(article_of[u])
                shown.append(u)
                if len(shown) >= EMBED_TOP:
                    break
        entry = ([scale, pack(_deltas(pairs))], shown)
        term_data[tid] = entry
        kept_impacts[tid] = {u: q * scale for u, q in pairs}
        return entry

    # Shards cover ranges of surface words (and synonym forms): a typed word needs the one shard of its
    # range, which holds its words' term ids and the impacts of every term they and their synonyms reach.
    items: list[tuple[str, int, list[int]]] = [(w, i, tid_list[i]) for i, w in enumerate(lexicon.words)]
    syn = {form: [term_ids[t] for t in ts if t in term_ids] for form, ts in lexicon.synonyms.items()}
    items += [(form, -1, tids) for form, tids in syn.items()]
    items.sort(key=lambda x: (x[0], x[1]))
    shards: list[dict[str, Any]] = []
    shard_firsts: list[str] = []
    current: dict[str, Any] = {}
    size = 0

    def flush() -> None:
        nonlocal current, size
        if current:
            lo, hi = current.pop("_lo"), current.pop("_hi")
            current["words"] = [lo, hi] if lo is not None else [0, 0]
            current["wt"] = pack_word_terms(tid_list[lo:hi]) if lo is not None else ""
            shard_firsts.append(current.pop("_first"))
            shards.append(current)
        current, size = {}, 0

    # Each article's display data also lives in one "home" shard: that of its title's rarest word, which a
    # query finding the article by its title usually contains.
    units_of: dict[int, list[int]] = {}
    for uid, a in enumerate(article_of):
        units_of.setdefault(a, []).append(uid)
    homed: dict[int, list[int]] = {}
    for a, art in enumerate(articles):
        best: tuple[int, str, int] | None = None
        for w in query_words(art.title, lexicon.language)[0]:
            i = lexicon.index_of(w)
            if i is not None and (best is None or (lexicon.word_pop(i), w) < best[:2]):
                best = (lexicon.word_pop(i), w, i)
        if best is not None:
            homed.setdefault(best[2], []).append(a)

    # Two common words found together in titles: their best articles together are rarely either word's
    # best alone, so a shard also embeds the best articles for such pairs (the two-word queries).
    title_terms: list[set[int]] = []
    analysis = Analysis(lexicon.language)
    for art in articles:
        counts, _ = analysis.terms(art.title)
        title_terms.append({term_ids[t] for t in counts if t in term_ids})
    pair_count: dict[tuple[int, int], int] = {}
    for ts in title_terms:
        common = sorted(t for t in ts if lexicon.term_pop.get(sorted_terms[t], 0) >= PAIR_MIN_POP)
        for i, t1 in enumerate(common):
            for t2 in common[i + 1 :]:
                pair_count[(t1, t2)] = pair_count.get((t1, t2), 0) + 1
    partners: dict[int, list[int]] = {}
    for (t1, t2), _n in sorted(pair_count.items(), key=lambda x: -x[1]):
        partners.setdefault(t1, []).append(t2)

    by_impact: dict[int, list[int]] = {}

    def ranked_units(t: int) -> list[int]:
        """The units kept for term t, best impact first (ties: lower unit first)."""
        out = by_impact.get(t)
        if out is None:
            imp = kept_impacts[t]
            out = by_impact[t] = sorted(imp, key=lambda u: (-imp[u], u))
        return out

    def pair_best(t1: int, t2: int) -> list[int]:
        if term_entry(t1) is None or term_entry(t2) is None:
            return []
        a, b = kept_impacts[t1], kept_impacts[t2]
        # Units under both terms score a + b, under one only half its impact. Of the one-term units only
        # the best up to the EMBED_PAIR-th distinct article can make the cut: no need to score the rest.
        scored = [(-(a[u] + b[u]), u) for u in a.keys() & b.keys()]
        for t, mine, other in ((t1, a, b), (t2, b, a)):
            seen_alone: set[int] = set()
            for u in ranked_units(t):
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

    placed_pairs: set[int] = set()

    def add_record(uid: int, text: str) -> None:
        nonlocal size
        k = str(uid)
        if k in current["recs"]:
            return
        u = unit_list[uid]
        rec = [article_of[uid], u.anchor, u.heading, text]
        current["recs"][k] = rec
        size += sum(len(str(x)) for x in rec) + 8
        a = str(article_of[uid])
        if a not in current["articles"]:
            current["articles"][a] = article_rows[article_of[uid]]
            size += sum(len(str(x)) for x in article_rows[article_of[uid]]) + 8

    for key, widx, tids in items:
        if size > SHARD_BYTES:
            flush()
        if not current:
            current = {"_first": key, "_lo": widx if widx >= 0 else None, "_hi": None, "terms": {},
                       "recs": {}, "articles": {}}  # fmt: skip
        if widx >= 0:
            if current["_lo"] is None:
                current["_lo"] = widx
            current["_hi"] = widx + 1
        for tid in tids:
            if str(tid) in current["terms"]:
                continue
            entry = term_entry(tid)
            if entry is None:
                continue
            current["terms"][str(tid)] = entry[0]
            size += len(entry[0][1]) + 12
            for uid in entry[1]:
                add_record(uid, _window(unit_list[uid].text, surfaces_of.get(sorted_terms[tid], [])))
            if tid not in placed_pairs:
                placed_pairs.add(tid)
                for t2 in partners.get(tid, [])[:MAX_PARTNERS]:
                    for uid in pair_best(tid, t2):
                        add_record(uid, _window(unit_list[uid].text, surfaces_of.get(sorted_terms[tid], [])))
        for a in homed.get(widx, ()) if widx >= 0 else ():
            for uid in units_of[a]:
                add_record(uid, _clean_text(unit_list[uid].text, HOME_TEXT_CHARS))
    flush()
    meta["layout"] = "sharded"
    word_pop = [lexicon.word_pop(i) for i in range(len(lexicon.words))]
    meta["lexicon"] = {
        "words": front_code(lexicon.words),
        "wpop": pack(word_pop),
        "syn": {form: tids for form, tids in syn.items() if tids},
        "phrases": phrases(lexicon.language),
    }
    meta["shards"] = shard_firsts  # first word of each shard's range
    meta["shardSet"] = writer.write_set("shard", shards)  # shard i: shard.<shardSet>.<i>.json
    meta["docsSet"] = writer.write_set("docs", docs_items)  # docs.<docsSet>.<i>.json: units i·docsPer…
    meta["docsPer"] = DOCS_PER_FRAGMENT
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


def _window(text: str, surfaces: list[str]) -> str:
    """~WINDOW_CHARS of `text` around the first of the `surfaces` words (the start if none)."""
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
