"""The Whoosh index at `<project>/.kbgen/index/`, kept between builds and updated incrementally.

A manifest (`kbgen-manifest.json`) maps each article's source path to the hash of its search units: an
unchanged article is not reindexed; a changed one is deleted (by its `source` term) and added again; a
removed one is deleted. A new index version, another language or a missing/corrupt index → full rebuild.

Entry point for the build: `build_index(units, index_dir, settings)`; all three arguments are picklable
(`Unit` dataclasses from `collect_units(library)`, a `Path`, a `SearchSettings`), so it can run in a
worker process while pages render.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as windex

from .lexicon import Lexicon
from .schema import INDEX_VERSION, SCORED_FIELDS, Ranking, make_schema, normalize_language
from .units import Unit, units_hash
from .writer import Analysis, FastSegmentWriter, merge_small_segments

MANIFEST = "kbgen-manifest.json"
VOCAB = "kbgen-vocab.json"  # lower-cased surface word → term (null for stop words), all words ever indexed
INDEX_NAME = "kbgen"
OPTIMIZE_DELETED_RATIO = 0.2  # merge away deleted documents beyond this share


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


def _read_vocab(index_dir: Path) -> dict[str, str | None]:
    try:
        data = json.loads((index_dir / VOCAB).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_vocab(index_dir: Path) -> dict[str, str | None]:
    """The surface words of the index (lower-cased token → term, None for stop words)."""
    return _read_vocab(Path(index_dir))


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


INCREMENTAL_EXACT = False  # see build_index


def build_index(units: list[Unit], index_dir: Path, settings: SearchSettings) -> IndexStats:
    """Bring the index in `index_dir` up to date with `units` (all units of the site, any order)."""
    start = time.perf_counter()
    index_dir = Path(index_dir)
    by_source = _group(units)
    hashes = {src: units_hash(us) for src, us in by_source.items()}
    stats = IndexStats(units=len(units), articles=len(by_source))
    stats.max_views = max((u.views for u in units), default=0)

    manifest = read_manifest(index_dir)
    fresh = (
        manifest is None
        or manifest.get("fingerprint") != settings.fingerprint()
        or not windex.exists_in(str(index_dir), indexname=INDEX_NAME)
    )
    old: dict[str, str] = {} if fresh or manifest is None else dict(manifest.get("articles", {}))
    if fresh:
        if index_dir.exists():
            shutil.rmtree(index_dir)
        index_dir.mkdir(parents=True)
        ix = windex.create_in(str(index_dir), make_schema(settings.language), indexname=INDEX_NAME)
        stats.rebuilt = True
    else:
        try:
            ix = windex.open_dir(str(index_dir), indexname=INDEX_NAME)
        except Exception:  # noqa: BLE001 - a corrupt index is rebuilt, never trusted
            _write_manifest(index_dir, {})
            return build_index(units, index_dir, settings)

    changed = [src for src in by_source if old.get(src) != hashes[src]]
    removed = [src for src in old if src not in by_source]
    stats.added_articles = len(changed)
    stats.deleted_articles = len(removed)
    stats.unchanged_articles = len(by_source) - len(changed)

    if not fresh and (changed or removed) and not INCREMENTAL_EXACT:
        # Whoosh keeps deleted documents in its statistics and the vocabulary keeps their words until the
        # segments merge, so an updated index would rank (and export) slightly differently from a fresh one.
        # A build must equal a cold build byte for byte: rebuild from scratch until updates are exact.
        _write_manifest(index_dir, {})
        return build_index(units, index_dir, settings)

    if changed or removed or fresh:
        stats.changed = True
        analysis = Analysis(settings.language)
        writer = FastSegmentWriter(ix, analysis, SCORED_FIELDS, timeout=60.0, delay=0.1, limitmb=32)
        try:
            if not fresh:
                for src in removed:
                    writer.delete_by_term("source", src)
                for src in changed:
                    if src in old:
                        writer.delete_by_term("source", src)
            for src in changed:
                for u in by_source[src]:
                    _add(writer, u)
        except BaseException:
            writer.cancel()
            raise
        segments_before = 0 if fresh else len(ix._segments())
        writer.commit(mergetype=merge_small_segments)
        ix = windex.open_dir(str(index_dir), indexname=INDEX_NAME)
        grew_by_one = not fresh and len(ix._segments()) == segments_before + 1
        vocab = {} if fresh else _read_vocab(index_dir)
        vocab.update(analysis.surface)
        _write_json(index_dir / VOCAB, vocab)
        with ix.reader() as reader:
            previous = None
            if grew_by_one:  # only a new segment added: update the lexicon for its terms only
                try:
                    previous = Lexicon.load(index_dir)
                except (OSError, ValueError, KeyError):
                    previous = None
            Lexicon.from_index(reader, vocab, settings.language, previous).save(index_dir)
        if not fresh:
            with ix.reader() as r:
                total, live = r.doc_count_all(), r.doc_count()
            if total and (total - live) / total > OPTIMIZE_DELETED_RATIO:
                # Cheaper and cleaner than Whoosh's optimize(): a fresh index through the fast writer.
                _write_manifest(index_dir, {})
                return build_index(units, index_dir, settings)
    _write_manifest(
        index_dir,
        {
            "fingerprint": settings.fingerprint(),
            "articles": hashes,
            "max_views": stats.max_views,
            "ranking": settings.ranking.to_json(),
            "units": len(units),
        },
    )
    stats.seconds = time.perf_counter() - start
    return stats
