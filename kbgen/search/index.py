"""The Whoosh index at `<project>/.kbgen/index/`, kept between builds and updated incrementally.

Articles are spread over `BUCKETS` Whoosh segments by a hash of their source path. A manifest
(`kbgen-manifest.json`) records each article's units hash and each bucket's hash and segment: a build
rewrites only the buckets whose articles changed (new segment, old one dropped in the same commit) and
leaves the others alone. No segment ever holds deleted documents, so Whoosh's statistics, the vocabulary
(`kbgen-vocab.pickle`, per bucket) and the document frequencies (`kbgen-dfs.pickle`, kept up to date by
subtracting the dropped segment and adding the new one) are exactly those of a fresh index: warm and
cold builds export the same bytes. A new index version, another language or a missing/corrupt index →
full rebuild. The lexicon (`kbgen-lexicon.pickle`, lexicon.py) is rebuilt from those after each change.

Entry point for the build: `build_index(units, index_dir, settings)`; all three arguments are picklable
(`Unit` dataclasses from `collect_units(library)`, a `Path`, a `SearchSettings`), so it can run in a
worker process while pages render.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.reading import SegmentReader

from .lexicon import Lexicon, field_dfs
from .schema import INDEX_VERSION, SCORED_FIELDS, Ranking, make_schema, normalize_language
from .units import Unit, units_hash
from .writer import Analysis, FastSegmentWriter

MANIFEST = "kbgen-manifest.json"
VOCAB = "kbgen-vocab.pickle"  # per bucket: lower-cased surface word → term (None for stop words)
DFS = "kbgen-dfs.pickle"  # field → term → document frequency over the whole index
INDEX_NAME = "kbgen"


@dataclass(frozen=True)
class SearchSettings:
    """The search configuration, picklable (from `Config.search` and the site language)."""

    language: str = "en"
    shard_threshold: int = 2000
    ranking: Ranking = field(default_factory=Ranking)

    @classmethod
    def from_config(cls, config: Any) -> SearchSettings:
        search = getattr(config, "search", None)
        lang = getattr(config, "search_language", None) or getattr(search, "language", "") or "en"
        return cls(
            language=normalize_language(lang),
            shard_threshold=int(getattr(search, "shard_threshold", 2000) or 2000),
            ranking=Ranking(
                popularity_weight=float(getattr(search, "popularity_weight", 0.25)),
                promoted_boost=float(getattr(search, "promoted_boost", 1.15)),
            ),
        )

    def fingerprint(self) -> dict[str, Any]:
        return {"version": INDEX_VERSION, "language": self.language}


@dataclass
class IndexStats:
    units: int = 0
    articles: int = 0
    added_articles: int = 0
    deleted_articles: int = 0
    unchanged_articles: int = 0
    rebuilt: bool = False
    changed: bool = False
    rewritten_units: int = 0
    max_views: int = 0
    seconds: float = 0.0


def _group(units: Iterable[Unit]) -> dict[str, list[Unit]]:
    by_source: dict[str, list[Unit]] = {}
    for u in units:
        by_source.setdefault(u.source, []).append(u)
    return by_source


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _write_manifest(index_dir: Path, data: dict[str, Any]) -> None:
    _write_json(index_dir / MANIFEST, data)


def _read_pickle(path: Path) -> Any:
    try:
        return pickle.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        return None


def _write_pickle(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(tmp, path)


def _read_vocab(index_dir: Path) -> dict[str, Any]:
    data = _read_pickle(index_dir / VOCAB)
    return data if isinstance(data, dict) else {}


def read_vocab(index_dir: Path) -> dict[str, str | None]:
    """The surface words of the index (lower-cased token → term, None for stop words)."""
    merged: dict[str, str | None] = {}
    by_bucket = _read_bucket_vocab(Path(index_dir))
    for b in sorted(by_bucket, key=int):
        merged.update(by_bucket[b])
    return merged


def _add(writer: FastSegmentWriter, u: Unit) -> None:
    writer.add_unit(
        texts={
            "title": u.title,
            "headings": u.headings,
            "body": u.body,
            "keywords": u.keywords,
            "tags": u.tags,
            "category": u.category,
        },
        ids={"source": u.source},
        stored={
            "uid": u.uid,
            "article_id": u.article_id,
            "anchor": u.anchor,
            "heading": u.heading,
            "title": u.title,
            "category_slug": u.category_slug,
            "category_title": u.category_title,
            "type": u.type,
            "url": u.url,
            "popularity": u.views,
            "promoted": u.promoted,
        },
    )


def open_index(index_dir: Path) -> windex.Index:
    """Open the index for reading; raises FileNotFoundError when there is none."""
    if not windex.exists_in(str(index_dir), indexname=INDEX_NAME):
        raise FileNotFoundError(index_dir)
    return windex.open_dir(str(index_dir), indexname=INDEX_NAME)


BUCKETS = 64  # articles are spread over this many segments by a hash of their source path


def bucket_of(source: str) -> int:
    return int.from_bytes(hashlib.blake2b(source.encode("utf-8"), digest_size=4).digest(), "big") % BUCKETS


def _drop(segment_ids: set[str]) -> Any:
    """A Whoosh merge policy that keeps every segment but these (no merging)."""

    def policy(writer: Any, segments: list[Any]) -> list[Any]:
        return [seg for seg in segments if seg.segment_id() not in segment_ids]

    return policy


def _read_bucket_vocab(index_dir: Path) -> dict[str, dict[str, str | None]]:
    data = _read_vocab(index_dir)
    return data if all(isinstance(v, dict) for v in data.values()) else {}


def build_index(units: list[Unit], index_dir: Path, settings: SearchSettings) -> IndexStats:
    """Bring the index in `index_dir` up to date with `units` (all units of the site, in nav order).

    Articles are spread over `BUCKETS` segments by a hash of their source path; a bucket whose articles
    changed is rewritten whole (a few hundred units at most on a 10k-article site) and its old segment
    dropped. No segment ever holds deleted documents, so Whoosh's statistics (N, document frequencies,
    field length totals) and the vocabulary are exactly those of a fresh index: a warm build exports the
    same bytes as a cold one.
    """
    start = time.perf_counter()
    index_dir = Path(index_dir)
    by_source = _group(units)
    hashes = {src: units_hash(us) for src, us in by_source.items()}
    stats = IndexStats(units=len(units), articles=len(by_source))
    stats.max_views = max((u.views for u in units), default=0)
    buckets: dict[int, list[str]] = {}
    for src in by_source:
        buckets.setdefault(bucket_of(src), []).append(src)
    bucket_hash = {
        b: hashlib.blake2b(
            "\n".join(f"{src}\t{hashes[src]}" for src in srcs).encode("utf-8"), digest_size=16
        ).hexdigest()
        for b, srcs in buckets.items()
    }

    manifest = read_manifest(index_dir)
    fresh = (
        manifest is None
        or manifest.get("fingerprint") != settings.fingerprint()
        or not isinstance(manifest.get("buckets"), dict)
        or not windex.exists_in(str(index_dir), indexname=INDEX_NAME)
    )
    old_buckets: dict[str, dict[str, str]] = {} if fresh or manifest is None else dict(manifest["buckets"])
    old_articles: dict[str, str] = {} if fresh or manifest is None else dict(manifest.get("articles", {}))
    if fresh:
        if index_dir.exists():
            shutil.rmtree(index_dir)
        index_dir.mkdir(parents=True)
        ix = windex.create_in(str(index_dir), make_schema(settings.language), indexname=INDEX_NAME)
        stats.rebuilt = True
    else:
        try:
            ix = windex.open_dir(str(index_dir), indexname=INDEX_NAME)
            live = {seg.segment_id() for seg in ix._segments()}
            if any(v.get("segment") not in live for v in old_buckets.values()):
                raise ValueError("manifest and index disagree")
        except Exception:  # noqa: BLE001 - a corrupt index is rebuilt, never trusted
            _write_manifest(index_dir, {})
            return build_index(units, index_dir, settings)

    changed = [b for b in sorted(buckets) if old_buckets.get(str(b), {}).get("hash") != bucket_hash[b]]
    removed = [b for b in old_buckets if int(b) not in buckets]
    stats.added_articles = sum(1 for src in by_source if old_articles.get(src) != hashes[src])
    stats.deleted_articles = sum(1 for src in old_articles if src not in by_source)
    stats.unchanged_articles = len(by_source) - stats.added_articles
    new_buckets = {b: v for b, v in old_buckets.items() if int(b) in buckets}

    if changed or removed or fresh:
        stats.changed = True
        vocab = {} if fresh else _read_bucket_vocab(index_dir)
        dfs = None if fresh else _read_pickle(index_dir / DFS)
        segments = {seg.segment_id(): seg for seg in ix._segments()}

        def adjust(segment_id: str | None, sign: int) -> None:
            if dfs is None or segment_id is None or segment_id not in segments:
                return
            reader = SegmentReader(ix.storage, ix.schema, segments[segment_id])
            try:
                for field, table in field_dfs(reader).items():
                    totals = dfs.setdefault(field, {})
                    for term, df in table.items():
                        left = totals.get(term, 0) + sign * df
                        if left:
                            totals[term] = left
                        else:
                            totals.pop(term, None)
            finally:
                reader.close()

        for b in removed:
            vocab.pop(b, None)
        for b in changed:
            analysis = Analysis(settings.language)
            writer = FastSegmentWriter(ix, analysis, SCORED_FIELDS, timeout=60.0, delay=0.1, limitmb=32)
            try:
                for src in buckets[b]:
                    for u in by_source[src]:
                        _add(writer, u)
            except BaseException:
                writer.cancel()
                raise
            old_segment = old_buckets.get(str(b), {}).get("segment")
            segment_id = writer.newsegment.segment_id()
            adjust(old_segment, -1)
            writer.commit(mergetype=_drop({old_segment} if old_segment else set()))
            ix = windex.open_dir(str(index_dir), indexname=INDEX_NAME)
            segments = {seg.segment_id(): seg for seg in ix._segments()}
            adjust(segment_id, +1)
            new_buckets[str(b)] = {"hash": bucket_hash[b], "segment": segment_id}
            vocab[str(b)] = analysis.surface
            stats.rewritten_units += sum(len(by_source[src]) for src in buckets[b])
        if removed:
            for b in removed:
                adjust(old_buckets[b]["segment"], -1)
            writer = FastSegmentWriter(
                ix, Analysis(settings.language), SCORED_FIELDS, timeout=60.0, delay=0.1
            )
            writer.commit(mergetype=_drop({old_buckets[b]["segment"] for b in removed}))
        _write_pickle(index_dir / VOCAB, vocab)
        merged: dict[str, str | None] = {}
        for b in sorted(vocab, key=int):
            merged.update(vocab[b])
        ix = windex.open_dir(str(index_dir), indexname=INDEX_NAME)
        if dfs is None:  # a fresh index (or a lost file): count over every segment
            with ix.reader() as reader:
                dfs = field_dfs(reader)
        _write_pickle(index_dir / DFS, dfs)
        Lexicon.from_dfs(dfs, merged, settings.language).save(index_dir)
    _write_manifest(
        index_dir,
        {
            "fingerprint": settings.fingerprint(),
            "articles": hashes,
            "order": list(by_source),  # articles in navigation order: ties rank in this order
            "buckets": new_buckets,
            "max_views": stats.max_views,
            "ranking": settings.ranking.to_json(),
            "units": len(units),
        },
    )
    stats.seconds = time.perf_counter() - start
    return stats
