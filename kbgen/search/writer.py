"""A fast path for writing Whoosh segments: same files, same codec, a fraction of the time.

Whoosh's `SegmentWriter.add_document` runs every token through generator chains and every posting through
a pickling external-sort pool and a per-posting `add()`: about 2.5 ms per document. For our schema (text
fields with term frequencies, no positions; one indexed ID field; stored values) we analyse each field
with one regex pass and a cached stem function (`Analysis.terms`, checked against the Whoosh analyzer
by the tests), keep the segment's postings in memory as compact arrays, and hand whole blocks to the
Whoosh 3 codec's postings writer. Everything else (segment files, TOC, locking, deletions, merging,
reading and searching) is Whoosh's own.

The surface words met while analysing (lower-cased token → term) are collected too: `Analysis.surface`.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from typing import Any

from whoosh.codec.whoosh3 import W3PostingsWriter, W3TermInfo
from whoosh.system import pack_uint, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from .schema import MAX_TOKEN, MIN_TOKEN, TOKEN_PATTERN, fold, normalize_language, stem_function, stop_words

_SPLIT = re.compile(r"[.\-]")
_COMPOUND = re.compile(r"\w[.\-]\w").search


class Analysis:
    """The index analyzer as one fast function; identical output to `schema.make_analyzer(lang)`."""

    _caches: dict[str, dict[str, str | None]] = {}  # per language, shared by all instances: token → term

    def __init__(self, lang: str) -> None:
        self.lang = normalize_language(lang)
        self._stops = stop_words(self.lang)
        self._stem = stem_function(self.lang)
        self._tokens = re.compile(TOKEN_PATTERN).findall
        self._cache = Analysis._caches.setdefault(self.lang, {})
        # The lower-cased surface tokens this instance met → their term (None for stop words and too
        # short/long tokens): the vocabulary of what it analysed.
        self.surface: dict[str, str | None] = {}

    def seed(self, surface: dict[str, str | None]) -> None:
        """Tokens already analysed (the `surface` of an `Analysis` of the same language, e.g. merged from the
        index workers): `term()` then finds them without stemming again."""
        if self._cache is not surface:
            self._cache.update(surface)

    def term(self, low: str) -> str | None:
        cache = self._cache
        if low in cache:
            out = cache[low]
        else:
            folded = fold(low, self.lang)
            if len(folded) < MIN_TOKEN or len(folded) > MAX_TOKEN or folded in self._stops:
                out = None
            else:
                out = fold(self._stem(low), self.lang)
            if len(cache) < 500_000:
                cache[low] = out
        self.surface[low] = out
        return out

    def tokens(self, text: str) -> list[str]:
        """Lower-cased surface tokens, compounds expanded (joined form first, then the parts)."""
        if text.isascii():
            toks = self._tokens(text.lower())
        else:  # lower-case each token, as Whoosh's LowercaseFilter does after tokenizing
            toks = [t.lower() for t in self._tokens(text)]
        if _COMPOUND(text):
            out: list[str] = []
            for low in toks:
                if "-" in low or "." in low:
                    joined = low.replace("-", "")
                    out.append(joined)
                    out.extend(p for p in _SPLIT.split(low) if p and p != joined)
                else:
                    out.append(low)
            toks = out
        return toks

    def terms(self, text: str) -> tuple[Counter[str | None], int]:
        """(term → frequency, field length) of a text, as Whoosh's Frequency format would index it."""
        if not text:
            return Counter(), 0
        toks = self.tokens(text)
        surface = self.surface
        term = self.term
        for w in set(toks).difference(surface):
            term(w)
        counts = Counter([surface[w] for w in toks])
        dropped = counts.pop(None, 0)
        return counts, len(toks) - dropped


_VBYTES = [pack_uint(i) for i in range(256)]
BYTE_TO_LENGTH = [byte_to_length(i) for i in range(256)]  # Whoosh's one-byte field lengths, decoded


def _vbytes(tf: int) -> bytes:
    return _VBYTES[tf] if tf < 256 else pack_uint(tf)


class FastSegmentWriter(SegmentWriter):
    """A `SegmentWriter` fed with pre-analysed documents through `add_analyzed()`."""

    def __init__(self, ix: Any, analysis: Analysis, text_fields: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self.analysis = analysis
        self.text_fields = text_fields
        # field → term → postings packed as docnum << 24 | min(tf, 65535) << 8 | length byte
        self._postings: dict[str, dict[str, array[int]]] = {f: {} for f in text_fields}
        self._ids: dict[str, dict[str, list[int]]] = {}

    def add_analyzed(
        self, analyzed: list[tuple[Counter[str | None], int]], ids: dict[str, str], stored: dict[str, Any]
    ) -> None:
        """One document whose text fields were analysed already: `analyzed[i]` is `Analysis.terms()` of
        the text of `text_fields[i]`."""
        self._check_state()
        docnum = self.docnum
        pdw = self.perdocwriter
        schema = self.schema
        pdw.start_doc(docnum)
        lengths: dict[str, int] = {}
        for name, (counts, length) in zip(self.text_fields, analyzed, strict=True):
            lengths[name] = length
            if not length:
                continue
            base = docnum << 24 | length_to_byte(length)
            table = self._postings[name]
            for t, tf in counts.items():
                entry = table.get(t)  # type: ignore[arg-type]
                if entry is None:
                    entry = table[t] = array("Q")  # type: ignore[index]
                entry.append(base | (tf if tf < 65535 else 65535) << 8)
        for name, value in ids.items():
            self._ids.setdefault(name, {}).setdefault(value, []).append(docnum)
        names = sorted(set(self.text_fields) | set(ids) | set(stored))
        for name in names:
            field = schema[name]
            value = stored.get(name, ids.get(name)) if field.stored else None
            pdw.add_field(name, field, value, lengths.get(name, 0))
        pdw.finish_doc()
        self._added = True
        self.docnum += 1

    def _drain_pool(self) -> None:
        """Move postings that Whoosh's merge (`add_reader`) put in its pool into our tables."""
        if not self.pool.fieldnames:
            return
        pdr = self.per_document_reader()
        try:
            for fieldname, btext, docnum, weight, _vbytes in self.pool.iter_postings():
                value = btext.decode("utf-8")
                if fieldname in self._postings:
                    entry = self._postings[fieldname].get(value)
                    if entry is None:
                        entry = self._postings[fieldname][value] = array("Q")
                    lb = length_to_byte(pdr.doc_field_length(docnum, fieldname) or 0)
                    entry.append(docnum << 24 | min(int(weight), 65535) << 8 | lb)
                else:
                    self._ids.setdefault(fieldname, {}).setdefault(value, []).append(docnum)
        finally:
            pdr.close()
        # Our own documents come first, merged ones after: keep each posting list in docnum order.
        for table in self._postings.values():
            for packed in table.values():
                packed[:] = array("Q", sorted(packed))
        for idtable in self._ids.values():
            for docs in idtable.values():
                docs.sort()

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        self._drain_pool()
        fw = self.fieldwriter
        schema = self.schema
        items: list[tuple[str, bool]] = [(f, True) for f in self._postings] + [(f, False) for f in self._ids]
        for fieldname, is_text in sorted(items):
            if is_text:
                table = self._postings[fieldname]
                if not table:
                    continue
                fw.start_field(fieldname, schema[fieldname])
                tindex = fw._tindex
                field_id = pack_ushort(fw._fieldid)
                for btext, term in sorted((t.encode("utf-8"), t) for t in table):
                    packed = table[term]
                    if len(packed) <= INLINE_POSTINGS:
                        # What W3FieldWriter.finish_term() stores for a posting list inlined in its term
                        # info (as `W3Codec(inlinelimit=…)` would write it, were that not broken in
                        # whoosh-reloaded): no block in the postings file, read back as a ListMatcher.
                        tindex.add(field_id + btext, _inline_terminfo(packed).to_bytes())
                        continue
                    fw.start_term(btext)
                    _add_block_postings(fw._postwriter, packed)
                    fw.finish_term()
            else:
                idtable = self._ids[fieldname]
                if not idtable:
                    continue
                fw.start_field(fieldname, schema[fieldname])
                one = _vbytes(1)
                for btext, value in sorted((v.encode("utf-8"), v) for v in idtable):
                    fw.start_term(btext)
                    pw = fw._postwriter
                    for d in idtable[value]:
                        pw.add_posting(d, 1.0, one, None)
                    fw.finish_term()
            fw.finish_field()
        fw.close()


INLINE_POSTINGS = 8  # posting lists this short live inside their term info: most terms of a segment


def _inline_terminfo(packed: array[int]) -> W3TermInfo:
    """The term info `W3PostingsWriter.finish_postings()` computes for one block, with the postings inline."""
    ids = tuple(v >> 24 for v in packed)
    tfs = [v >> 8 & 0xFFFF for v in packed]
    positive = [x for x in (BYTE_TO_LENGTH[v & 0xFF] for v in packed) if x]
    ti = W3TermInfo()
    ti._weight = float(sum(tfs))
    ti._df = len(ids)
    ti._minlength = min(positive) if positive else None
    ti._maxlength = max(positive) if positive else 0
    ti._maxweight = float(max(tfs))
    ti._minid = ids[0]
    ti._maxid = ids[-1]
    ti.set_inlined(ids, tuple(map(float, tfs)), tuple(map(_vbytes, tfs)))
    return ti


def _add_block_postings(pw: W3PostingsWriter, packed: array[int]) -> None:
    """Equivalent to `pw.add_posting(doc, float(tf), pack_uint(tf), length)` for each posting, by blocks."""
    limit = pw._blocklimit
    n = len(packed)
    i = 0
    while i < n:
        if len(pw._ids) >= limit:
            pw._write_block()
        j = min(n, i + limit - len(pw._ids))
        chunk = packed[i:j]
        tfs = [v >> 8 & 0xFFFF for v in chunk]
        lens = [BYTE_TO_LENGTH[v & 0xFF] for v in chunk]
        pw._ids.extend(v >> 24 for v in chunk)
        pw._weights.extend(map(float, tfs))
        pw._values.extend(map(_vbytes, tfs))
        mw = float(max(tfs))
        if mw > pw._maxweight:
            pw._maxweight = mw
        positive = [x for x in lens if x]
        if positive:
            lo = min(positive)
            if pw._minlength is None or lo < pw._minlength:
                pw._minlength = lo
            hi = max(positive)
            if hi > pw._maxlength:
                pw._maxlength = hi
        i = j
