"""The vocabulary shared by `kbgen search` and the browser: surface words → terms, and query expansion.

`expand_query()` is the one definition of how typed text becomes weighted index terms; `search-core.js`
implements the same steps over the exported lexicon (same tokenizer, stop words, prefix completions,
typo candidates, weights, tie-breaks), which is what keeps the two rankings equal.
"""

from __future__ import annotations

import bisect
import math
import pickle
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import pickle_atomic
from .bridge import bridge_map, bridge_of
from .schema import (
    MAX_TOKEN,
    MIN_TOKEN,
    TOKEN_PATTERN,
    Ranking,
    fillers,
    fold,
    stop_words,
    term_filter,
    typo_budget,
)
from .synonyms import phrases, synonym_map

LEXICON = "kbgen-lexicon.pickle"
_TOKENS = re.compile(TOKEN_PATTERN)


@dataclass
class Lexicon:
    """`words`: sorted folded surface words; `word_terms[i]`: their terms; `term_pop[t]`: how common term t
    is (2·log2(1 + its largest per-field document frequency), rounded, at most 31): orders completions and typos."""

    words: list[str] = field(default_factory=list)
    word_terms: list[list[str]] = field(default_factory=list)
    term_pop: dict[str, int] = field(default_factory=dict)
    language: str = "en"
    synonyms: dict[str, list[str]] = field(default_factory=dict)  # typed form → terms of its synonyms
    bridge: dict[str, list[str]] = field(default_factory=dict)  # form the corpus lacks → corpus words (bridge.py)

    def __post_init__(self) -> None:
        self._index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_dfs(cls, dfs: dict[str, dict[str, int]], vocab: dict[str, str | None], language: str) -> Lexicon:
        """From the per-field document frequencies of the terms (Whoosh's `doc_frequency()` values)."""
        top: dict[str, int] = {}
        for table in dfs.values():
            for term, df in table.items():
                if df > top.get(term, 0):
                    top[term] = df
        # Quantised (half octaves): enough to order completions; one character in the browser's lexicon.
        pop = {t: min(31, round(2 * math.log2(1 + df))) for t, df in top.items() if df > 0}
        return cls._assemble(pop, vocab, language)

    @classmethod
    def _assemble(cls, pop: dict[str, int], vocab: dict[str, str | None], language: str) -> Lexicon:
        by_word: dict[str, set[str]] = {}
        for surface, term in vocab.items():
            if term is None or term not in pop:
                continue
            by_word.setdefault(fold(surface, language), set()).add(term)
        words = sorted(by_word)
        syn = synonym_map(language, term_filter(language).term, set(pop))
        word_pop = {w: max(pop[t] for t in by_word[w]) for w in words}
        lex = cls(words, [sorted(by_word[w]) for w in words], pop, language, syn)
        # A word whose root the corpus uses ("advance" → advanced) is matched through its root: not bridged.
        bridge = bridge_map(language, word_pop, set(syn))
        lex.bridge = {k: v for k, v in bridge.items() if len(k) < 4 or not lex.completions(stem_root(k), 1)}
        return lex

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "words": self.words,
            "terms": self.word_terms,
            "pop": self.term_pop,
            "synonyms": self.synonyms,
            "bridge": self.bridge,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lexicon:
        return cls(
            list(data["words"]),
            [list(t) for t in data["terms"]],
            dict(data["pop"]),
            data["language"],
            dict(data.get("synonyms", {})),
            dict(data.get("bridge", {})),
        )

    def save(self, index_dir: Path) -> None:
        pickle_atomic(index_dir / LEXICON, self.to_json())

    @classmethod
    def load(cls, index_dir: Path) -> Lexicon:
        return cls.from_json(pickle.loads((index_dir / LEXICON).read_bytes()))

    def word_pop(self, i: int) -> int:
        return max((self.term_pop.get(t, 0) for t in self.word_terms[i]), default=0)

    def index_of(self, word: str) -> int | None:
        return self._index.get(word)

    def lookup(self, word: str) -> list[str]:
        i = self._index.get(word)
        return self.word_terms[i] if i is not None else []

    def completions(self, prefix: str, limit: int) -> list[int]:
        """Indexes of the words that start with `prefix` (not the prefix itself), most common first."""
        lo = bisect.bisect_left(self.words, prefix)
        hi = bisect.bisect_left(self.words, prefix + "\uffff")
        found = [i for i in range(lo, hi) if self.words[i] != prefix]
        found.sort(key=lambda i: (-self.word_pop(i), self.words[i]))
        return found[:limit]

    def typo_candidates(self, word: str, budget: int, limit: int) -> list[tuple[int, int]]:
        """(word index, distance) of the words within `budget` edits (OSA), likeliest first: closest, a
        swap of two neighbouring letters before other single edits, then commonest. Distance 0 marks a
        swap (`ranking.transpose_weight`)."""
        if budget <= 0:
            return []
        n = len(word)
        found = []
        for i, w in enumerate(self.words):
            if abs(len(w) - n) > budget or w == word:
                continue
            d = osa_distance(word, w, budget)
            if d <= budget:
                swap = d == 1 and is_transposition(word, w)
                found.append((d, 0 if swap else 1, -self.word_pop(i), w, i))
        found.sort()
        return [(i, 0 if swap == 0 else d) for d, swap, _, _, i in found[:limit]]


def is_transposition(a: str, b: str) -> bool:
    """`b` is `a` with two neighbouring letters swapped."""
    if len(a) != len(b):
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def split_word(word: str, lexicon: Lexicon) -> list[str]:
    """An unknown word typed as one that the corpus writes as two ("payflowpro" → payflow pro, "signin" →
    sign [in]): its known halves. Halves of 2+ letters, both known words, or one known word of 3+ letters
    and a stop word; two known words first, then the split whose rarer half is commonest, then leftmost."""
    stops = stop_words(lexicon.language)
    best: tuple[int, int, int] | None = None
    halves: list[str] = []
    for i in range(2, len(word) - 1):
        a, b = word[:i], word[i:]
        ia, ib = lexicon.index_of(a), lexicon.index_of(b)
        if ia is not None and ib is not None:
            key, known = (2, min(lexicon.word_pop(ia), lexicon.word_pop(ib)), -i), [a, b]
        elif ia is not None and b in stops and len(a) >= 3:
            key, known = (1, lexicon.word_pop(ia), -i), [a]
        elif ib is not None and a in stops and len(b) >= 3:
            key, known = (1, lexicon.word_pop(ib), -i), [b]
        else:
            continue
        if best is None or key > best:
            best, halves = key, known
    return halves


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Damerau–Levenshtein without repeated edits), or limit + 1."""
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        ca = a[i - 1]
        best = cur[0]
        for j in range(1, lb + 1):
            cost = 0 if ca == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            if v < best:
                best = v
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[lb] if prev[lb] <= limit else limit + 1


def query_words(text: str, language: str) -> tuple[list[str], bool]:
    """Typed text → (folded query words, whether the last one is still being typed).

    Tokenize like the index, join compounds (`wi-fi` → `wifi`), drop stop words, short words and repeats.
    The last word counts as being typed when it is the text's last token and no space follows it.
    """
    stops = stop_words(language)
    out: list[str] = []
    last_kept = False
    for tok in _TOKENS.findall(text):
        w = fold(tok.replace("-", ""), language)
        last_kept = MIN_TOKEN <= len(w) <= MAX_TOKEN and w not in stops
        if last_kept and w not in out:
            out.append(w)
        elif last_kept:  # a repeat of an earlier word: not a prefix
            last_kept = False
    typing = last_kept and bool(text) and not text[-1].isspace() and _TOKENS.search(text[-1:]) is not None
    return out, typing


@dataclass
class QueryWord:
    word: str
    alternatives: dict[str, float]  # term → weight (1 exact, < 1 completion or typo)
    kind: str  # "exact" | "prefix" | "typo" | "synonym" | "root" | "bridge" | "joined" | "split" | "phrase" | "none"
    weight: float = 1.0  # its share in the coordination factor (fillers count less)


def expand_query(text: str, lexicon: Lexicon, ranking: Ranking, prefix: bool = True) -> list[QueryWord]:
    """The weighted terms of each query word (the last word is a prefix when `prefix`)."""
    words, typing = query_words(text, lexicon.language)
    filler_set = fillers(lexicon.language)
    question = len(_TOKENS.findall(text)) >= ranking.question_words
    # Typed as two words, written as one ("log in" → login): the joined word is an alternative of both.
    joined: dict[str, list[str]] = {}
    for pair, word in joined_words(text, lexicon):
        for w in pair.split(" "):
            joined.setdefault(w, []).append(word)
    out: list[QueryWord] = []
    splits: list[QueryWord] = []
    for pos, word in enumerate(words):
        alts: dict[str, float] = {}
        kind = "none"
        for t in lexicon.lookup(word):
            alts[t] = 1.0
            kind = "exact"
        for t in lexicon.synonyms.get(word, ()):
            if alts.get(t, 0.0) < ranking.synonym_weight:
                alts[t] = ranking.synonym_weight
                kind = kind if kind == "exact" else "synonym"
        for j in joined.get(word, ()):
            for t in lexicon.lookup(j):
                if alts.get(t, 0.0) < 1.0:
                    alts[t] = 1.0
                    kind = kind if kind == "exact" else "joined"
        is_prefix = prefix and typing and pos == len(words) - 1
        if question and alts and kind == "exact":
            is_prefix = False  # a question's last word, typed whole ("… do i check"), is not a prefix
        if is_prefix and len(word) >= ranking.min_prefix:
            for i in lexicon.completions(word, ranking.max_expansions):
                for t in lexicon.word_terms[i]:
                    if alts.get(t, 0.0) < ranking.prefix_weight:
                        alts[t] = ranking.prefix_weight
                        kind = kind if kind == "exact" else "prefix"
        typos = lexicon.typo_candidates(word, typo_budget(word), ranking.max_expansions) if not alts else []
        near = any(d <= 1 for _, d in typos)
        # A word the site never uses that WordNet knows ("plugin", "servers"): the corpus words it may mean.
        bridged = bridge_of(word, lexicon.bridge) if not alts else []
        # Typed as one word, written as two: both halves are query words — unless the word is one edit
        # from a known word or the start of one ("makefile" → makefiles, not make + file), or a word of
        # its own ("plugin" is not plug + in).
        split_ok = not alts and not near and not bridged and not lexicon.completions(word, 1)
        halves = split_word(word, lexicon) if split_ok else []
        if halves:
            splits += [QueryWord(h, {t: 1.0 for t in lexicon.lookup(h)}, "split") for h in halves]
        elif not alts:
            # An unknown word: words sharing its root (the browser has no stemmer: "donate" → "donations"),
            # and the words within its typo budget, likeliest first.
            root_w = ranking.root_near_typo_weight if near else ranking.root_weight
            for i in lexicon.completions(stem_root(word), ranking.max_expansions) if len(word) >= 4 else []:
                for t in lexicon.word_terms[i]:
                    if alts.get(t, 0.0) < root_w:
                        alts[t] = root_w
                        kind = "root"
            for i, d in typos:
                w = ranking.transpose_weight if d == 0 else ranking.typo_weight[d]
                for t in lexicon.word_terms[i]:
                    if alts.get(t, 0.0) < w:
                        alts[t] = w
                        kind = "typo"
            for b in bridged:
                for t in lexicon.lookup(b):
                    if alts.get(t, 0.0) < ranking.bridge_weight:
                        alts[t] = ranking.bridge_weight
                        kind = "bridge" if kind == "none" else kind
        share = 1.0
        if word in filler_set:
            share = ranking.filler_weight
            alts = {t: w * share for t, w in alts.items()}
        out.append(QueryWord(word, alts, kind, share))
    for phrase, target in phrase_targets(text, lexicon.language):
        alts = {}
        for t in [*lexicon.lookup(target), *lexicon.synonyms.get(target, ())]:
            alts[t] = ranking.synonym_weight
        if alts:
            out.append(QueryWord(phrase, alts, "phrase"))
    return _dedupe(out + splits)


def joined_words(text: str, lexicon: Lexicon) -> list[tuple[str, str]]:
    """Two consecutive typed words that the corpus writes as one ("log in" → login, "payflow pro" →
    payflowpro): (the two words, the known word), in order."""
    toks = [fold(t.replace("-", ""), lexicon.language) for t in _TOKENS.findall(text)]
    found: list[tuple[str, str]] = []
    for a, b in zip(toks, toks[1:], strict=False):
        joined = a + b
        if len(joined) <= MAX_TOKEN and lexicon.lookup(joined) and all(j != joined for _, j in found):
            found.append((f"{a} {b}", joined))
    return found


def phrase_targets(text: str, language: str) -> list[tuple[str, str]]:
    """The expressions of `text` that `synonyms.phrases()` knows (two consecutive words, or three), with
    their target word, in order of their first word."""
    table = phrases(language)
    if not table:
        return []
    toks = [fold(t.replace("-", ""), language) for t in _TOKENS.findall(text)]
    found: list[tuple[str, str]] = []
    for i in range(len(toks) - 1):
        for key in (f"{toks[i]} {toks[i + 1]}", " ".join(toks[i : i + 3]) if i + 2 < len(toks) else ""):
            if key in table and all(key != f for f, _ in found):
                found.append((key, table[key]))
    return found


def stem_root(word: str) -> str:
    """The part of an unknown word that its inflections share: all but its last two letters, at least 4."""
    return word[: max(4, len(word) - 2)]


def _dedupe(words: Iterable[QueryWord]) -> list[QueryWord]:
    """Two query words with the same exact terms ("update updates") count once."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for qw in words:
        key = tuple(sorted(qw.alternatives))
        if qw.alternatives and key in seen:
            continue
        seen.add(key)
        out.append(qw)
    return out


def did_you_mean(text: str, lexicon: Lexicon) -> str | None:
    """A corrected query when no word of `text` is known: each unknown word → its closest common word."""
    words, _ = query_words(text, lexicon.language)
    if not words:
        return None
    fixed = []
    changed = False
    for w in words:
        if lexicon.lookup(w):
            fixed.append(w)
            continue
        cands = lexicon.typo_candidates(w, max(1, min(2, len(w) // 3)), 1)
        if cands:
            fixed.append(lexicon.words[cands[0][0]])
            changed = True
        else:
            fixed.append(w)
    return " ".join(fixed) if changed else None
