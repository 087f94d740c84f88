"""The Whoosh index at `<project>/.kbgen/index/`, kept between builds and updated incrementally.

Articles are spread over `bucket_count()` Whoosh segments by a hash of their source path. A manifest
(`kbgen-manifest.json`) records each article's units hash and each bucket's hash and segment: a build
rewrites only the buckets whose articles changed (new segment, old one dropped in the same TOC commit)
and leaves the others alone, so no segment ever holds deleted documents and Whoosh's statistics are
exactly those of a fresh index. A new index version, another language or a missing/corrupt index → full
rebuild.

Whenever anything changed, every unit is analysed again (cheap next to writing Whoosh segments), bucket by
bucket in a pool of forked workers: each worker analyses its bucket once, writes the bucket's segment from
that analysis when the bucket changed, and returns the analysis as compact postings (`inverted.Partial`).
The parent merges them into an `InvertedIndex` — the statistics the browser export is computed from — and
the lexicon (`kbgen-lexicon.pickle`, lexicon.py) that `kbgen search` and the export share. Warm and cold
builds therefore export the same bytes by construction.

Entry point for the build: `build_index(units, index_dir, settings, workers)`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import pickle
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import whoosh
from whoosh import index as windex
from whoosh.codec.whoosh3 import W3Codec
from whoosh.index import TOC, LockError, clean_files
from whoosh.util.filelock import try_for

from ..atomic import pickle_atomic, write_atomic
from ..lifetime import die_with_parent
from ..memtrace import mark
from .inverted import InvertedIndex, Partial, export_order, unit_terms
from .lexicon import LEXICON, Lexicon
from .schema import INDEX_VERSION, SCORED_FIELDS, Ranking, make_schema, normalize_language, popularity_scale
from .units import Unit, units_hash
from .writer import Analysis, FastSegmentWriter

MANIFEST = "kbgen-manifest.json"
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
        return {
            "version": INDEX_VERSION,
            "language": self.language,
            "code": code_hash(*ANALYSIS_MODULES),
            "whoosh": whoosh.versionstring(),  # its stemmers and segment format decide the index too
        }


# The modules whose code decides what the index holds: a change to any of them rebuilds it.
ANALYSIS_MODULES = (
    "schema.py", "synonyms.py", "writer.py", "inverted.py", "units.py", "index.py", "bridge.py", "data/wordnet-en.tsv.gz",
)  # fmt: skip


def code_hash(*modules: str) -> str:
    """A hash of these modules of kbgen.search (by content): an edited kbgen never reuses stale data."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in modules:
        h.update(name.encode() + b"\0" + (here / name).read_bytes())
    return h.hexdigest()[:16]


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
    cached_buckets: int = 0  # buckets whose analysis was read back instead of computed
    max_views: int = 0
    seconds: float = 0.0
    # What the export needs when something changed (None when the index was already up to date).
    inverted: InvertedIndex | None = field(default=None, repr=False, compare=False)
    lexicon: Lexicon | None = field(default=None, repr=False, compare=False)


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
    write_atomic(path, json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def _write_manifest(index_dir: Path, data: dict[str, Any]) -> None:
    _write_json(index_dir / MANIFEST, data)


def open_index(index_dir: Path) -> windex.Index:
    """Open the index for reading; raises FileNotFoundError when there is none."""
    if not windex.exists_in(str(index_dir), indexname=INDEX_NAME):
        raise FileNotFoundError(index_dir)
    return windex.open_dir(str(index_dir), indexname=INDEX_NAME)


MAX_BUCKETS = 64
ARTICLES_PER_BUCKET = 400


def bucket_count(articles: int) -> int:
    """How many segments the articles are spread over: a power of two, ≈ 400–800 articles each, at most 64.

    Writing a segment costs per distinct term, so fewer, larger segments write faster; a changed article
    rewrites its whole bucket, so smaller segments update faster. (Powers of two: the count, and with it a
    full rebuild, changes only when the site doubles or halves.)"""
    n = 1
    while n * 2 <= min(MAX_BUCKETS, articles // ARTICLES_PER_BUCKET):
        n *= 2
    return n


def bucket_of(source: str, buckets: int = MAX_BUCKETS) -> int:
    return int.from_bytes(hashlib.blake2b(source.encode("utf-8"), digest_size=4).digest(), "big") % buckets


# Posting blocks uncompressed: zlib cost ~5 % of indexing, and the index is a build cache, never published.
# (Inline posting lists, `inlinelimit` > 1, are broken in whoosh-reloaded 2.7.5: writer.py inlines its own.)
CODEC = W3Codec(compression=0)
PARALLEL_UNITS = 400  # below this many units, analyse in this process (forking costs more)

# Set in the parent before the bucket pool forks; read by `_bucket_job` in the workers.
_JOB: dict[str, Any] = {}


def _stored(u: Unit) -> dict[str, Any]:
    return {
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
    }


def _analyse_bucket(b: int) -> tuple[Partial, FastSegmentWriter | None]:
    """Analyse bucket `b`; when it changed, also feed its units to a segment writer (not yet flushed)."""
    units: list[Unit] = _JOB["units"]
    export_id: list[int] = _JOB["export_id"]
    analysis = Analysis(_JOB["language"])
    part = Partial()
    writer: FastSegmentWriter | None = None
    if b in _JOB["write"]:
        ix = windex.open_dir(_JOB["index_dir"], indexname=INDEX_NAME)
        writer = FastSegmentWriter(ix, analysis, SCORED_FIELDS, _lk=False, codec=CODEC, limitmb=16)
    try:
        for pos in _JOB["buckets"][b]:
            u = units[pos]
            analyzed = unit_terms(analysis, u)
            part.add(export_id[pos], analyzed)
            if writer is not None:
                writer.add_analyzed(analyzed, {"source": u.source}, _stored(u))
    except BaseException:
        if writer is not None:
            writer._close_segment()
        raise
    part.surface = analysis.surface
    return part, writer


# Each bucket's analysis is kept (`<project>/.kbgen/index-analysis/<bucket>.pickle`) under a key of its articles'
# units, their export positions and the index fingerprint: a build where one article changed analyses that
# article's bucket only, and reads the others' analyses back for the export.
ANALYSIS_DIR = "analysis"


def _part_key(bucket_hash: str, positions: list[int], fingerprint: dict[str, Any]) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{bucket_hash}\n{json.dumps(fingerprint, sort_keys=True)}\n".encode())
    h.update(",".join(map(str, positions)).encode())
    return h.hexdigest()


def _save_part(b: int, part: Partial) -> None:
    directory = _JOB.get("analysis_dir")
    if not directory:
        return
    try:
        pickle_atomic(Path(directory) / f"{b}.pickle", (_JOB["part_keys"][b], part))
    except OSError:  # a cache: the next build analyses the bucket again
        pass


def _load_part(directory: Path, b: int, key: str) -> Partial | None:
    try:
        with (directory / f"{b}.pickle").open("rb") as fh:
            stored_key, part = pickle.load(fh)  # noqa: S301 - our own cache in the project's .kbgen/
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
        return None
    return part if stored_key == key and isinstance(part, Partial) else None


def _finish_segment(writer: FastSegmentWriter) -> Any:
    try:
        return writer._finalize_segment()
    except BaseException:
        writer._close_segment()
        raise


def _worker(buckets: list[int], conn: Any, parent: int) -> None:
    """A bucket worker: first every analysis (sent at once: the export waits for them), then the segments."""
    die_with_parent(parent)  # also: SIGTERM stops it at once, no Python-level clean-up
    gc.freeze()  # the inherited heap is never garbage: don't traverse it (nor copy its pages)
    try:
        writers: dict[int, FastSegmentWriter] = {}
        parts: dict[int, Partial] = {}
        for b in buckets:
            part, writer = _analyse_bucket(b)
            conn.send(("part", b, part))
            parts[b] = part
            if writer is not None:
                writers[b] = writer
        for b, writer in writers.items():
            conn.send(("segment", b, _finish_segment(writer)))
        for b, part in parts.items():  # while the export runs in the parent
            _save_part(b, part)
        conn.send(("done", None, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        try:
            conn.send(("error", None, exc))
        except Exception:  # noqa: BLE001 - not picklable
            conn.send(("error", None, RuntimeError(repr(exc))))
    finally:
        conn.close()


def _run_buckets(
    tasks: list[int], workers: int, parallel: bool, on_analysed: Callable[[dict[int, Partial]], None]
) -> dict[int, Any]:
    """Analyse every bucket in `tasks`, call `on_analysed` with the analyses (it may empty the dict: they
    are saved by then, or will be by the workers), return the new segments.

    In forked workers when `parallel`: they go on writing segments while `on_analysed` runs here."""
    parts: dict[int, Partial] = {}
    segments: dict[int, Any] = {}
    if not (parallel and workers > 1 and "fork" in multiprocessing.get_all_start_methods()):
        writers: dict[int, FastSegmentWriter] = {}
        for b in tasks:
            parts[b], writer = _analyse_bucket(b)
            if writer is not None:
                writers[b] = writer
        for b, part in parts.items():
            _save_part(b, part)
        on_analysed(parts)  # which may empty `parts`
        for b, writer in writers.items():
            segments[b] = _finish_segment(writer)
        return segments
    ctx = multiprocessing.get_context("fork")
    n = min(workers, len(tasks))
    conns, procs = [], []
    for i in range(n):
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_worker, args=(tasks[i::n], send, os.getpid()), name=f"kbgen-index-{i}", daemon=True
        )
        proc.start()
        send.close()
        conns.append(recv)
        procs.append(proc)
    try:
        open_conns = list(conns)
        called = False
        while open_conns:
            for conn in multiprocessing.connection.wait(open_conns):
                try:
                    kind, b, value = conn.recv()
                except EOFError:
                    raise RuntimeError("a search indexing worker died") from None
                if kind == "part":
                    parts[b] = value
                elif kind == "segment":
                    segments[b] = value
                elif kind == "done":
                    open_conns.remove(conn)
                else:
                    raise value
            if not called and len(parts) == len(tasks):
                called = True
                on_analysed(parts)
        if not called:
            on_analysed(parts)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.join(timeout=0.5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for conn in conns:
            conn.close()
    return segments


def _commit(index_dir: Path, new_segments: list[Any], dropped: set[str]) -> None:
    """One TOC generation: the old segments but `dropped`, then `new_segments` (under Whoosh's write lock)."""
    ix = windex.open_dir(str(index_dir), indexname=INDEX_NAME)
    lock = ix.lock("WRITELOCK")
    if not try_for(lock.acquire, timeout=60.0, delay=0.1):
        raise LockError(f"the search index in {index_dir} is locked by another process")
    try:
        info = ix._read_toc()
        segments = [seg for seg in info.segments if seg.segment_id() not in dropped] + new_segments
        generation = info.generation + 1
        TOC(info.schema, segments, generation).write(ix.storage, INDEX_NAME)
        clean_files(ix.storage, INDEX_NAME, generation, segments)
    finally:
        lock.release()
    shutil.rmtree(index_dir / f"{INDEX_NAME}.tmp", ignore_errors=True)  # the writers' (unused) temp dir


def build_index(
    units: list[Unit],
    index_dir: Path,
    settings: SearchSettings,
    workers: int | None = None,
    on_analysed: Callable[[IndexStats], None] | None = None,
) -> IndexStats:
    """Bring the index in `index_dir` up to date with `units` (all units of the site, in nav order).

    When anything changed, `stats.inverted` and `stats.lexicon` hold what the export needs, and
    `on_analysed(stats)` is called as soon as they are known — while the workers are still writing
    segments — so that the export can overlap with them. When the index was already up to date they are
    None and `on_analysed` is not called (the previous export still holds).
    """
    start = time.perf_counter()
    index_dir = Path(index_dir)
    workers = workers or os.cpu_count() or 1
    by_source = _group(units)
    hashes = {src: units_hash(us) for src, us in by_source.items()}
    stats = IndexStats(units=len(units), articles=len(by_source))
    stats.max_views = popularity_scale(u.views for u in units)
    n_buckets = bucket_count(len(by_source))
    buckets: dict[int, list[str]] = {}
    for src in by_source:
        buckets.setdefault(bucket_of(src, n_buckets), []).append(src)
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
        or manifest.get("bucket_count") != n_buckets
        or not windex.exists_in(str(index_dir), indexname=INDEX_NAME)
        or not (index_dir / LEXICON).is_file()
    )
    old_buckets: dict[str, dict[str, str]] = {} if fresh or manifest is None else dict(manifest["buckets"])
    old_articles: dict[str, str] = {} if fresh or manifest is None else dict(manifest.get("articles", {}))
    if not fresh:
        try:
            ix = windex.open_dir(str(index_dir), indexname=INDEX_NAME)
            live = {seg.segment_id() for seg in ix._segments()}
            if any(v.get("segment") not in live for v in old_buckets.values()):
                raise ValueError("manifest and index disagree")
        except Exception:  # noqa: BLE001 - a corrupt index is rebuilt, never trusted
            fresh = True
            old_buckets, old_articles = {}, {}
    if fresh:
        if index_dir.exists():
            shutil.rmtree(index_dir)
        index_dir.mkdir(parents=True)
        windex.create_in(str(index_dir), make_schema(settings.language), indexname=INDEX_NAME)
        stats.rebuilt = True

    changed = [b for b in sorted(buckets) if old_buckets.get(str(b), {}).get("hash") != bucket_hash[b]]
    removed = [b for b in old_buckets if int(b) not in buckets]
    stats.added_articles = sum(1 for src in by_source if old_articles.get(src) != hashes[src])
    stats.deleted_articles = sum(1 for src in old_articles if src not in by_source)
    stats.unchanged_articles = len(by_source) - stats.added_articles
    new_buckets = {b: v for b, v in old_buckets.items() if int(b) in buckets}

    if changed or removed or fresh:
        stats.changed = True
        # Unit positions per bucket, articles in navigation order, units in article order.
        positions: dict[str, list[int]] = {}
        for pos, u in enumerate(units):
            positions.setdefault(u.source, []).append(pos)
        order = export_order(units, settings.shard_threshold)
        export_id = [0] * len(units)
        for i, pos in enumerate(order):
            export_id[pos] = i
        bucket_positions = {b: [p for src in srcs for p in positions[src]] for b, srcs in buckets.items()}
        fingerprint = settings.fingerprint()
        part_keys = {
            b: _part_key(bucket_hash[b], [export_id[p] for p in ps], fingerprint)
            for b, ps in bucket_positions.items()
        }
        analysis_dir = index_dir.parent / f"{index_dir.name}-{ANALYSIS_DIR}"
        if fresh:
            shutil.rmtree(analysis_dir, ignore_errors=True)
        analysis_dir.mkdir(parents=True, exist_ok=True)
        for b in removed:
            (analysis_dir / f"{b}.pickle").unlink(missing_ok=True)
        cached: dict[int, Partial] = {}
        for b in sorted(buckets):
            if b not in set(changed):
                part = _load_part(analysis_dir, b, part_keys[b])
                if part is not None:
                    cached[b] = part
        _JOB.update(
            units=units,
            export_id=export_id,
            buckets=bucket_positions,
            write=set(changed),
            index_dir=str(index_dir),
            language=settings.language,
            analysis_dir=str(analysis_dir),
            part_keys=part_keys,
        )
        stats.cached_buckets = len(cached)

        def analysed(new_parts: dict[int, Partial]) -> None:
            parts = {**cached, **new_parts}
            sort = len(units) <= settings.shard_threshold  # only the bundle layout lists postings in order
            mark("index: analysed")
            stats.rewritten_units = sum(len(parts[b].units) for b in changed)
            inverted = InvertedIndex.merge(order, [parts[b] for b in sorted(parts)], sort=sort)
            # The analyses are merged (and saved by whoever made them): let them go before the export.
            parts.clear()
            new_parts.clear()
            cached.clear()
            mark("index: merged")
            stats.inverted = inverted
            stats.lexicon = Lexicon.from_dfs(inverted.dfs(), inverted.surface, settings.language)
            if on_analysed is not None:
                on_analysed(stats)

        try:
            # Changed buckets first: they cost more (they also write a segment).
            tasks = changed + [b for b in sorted(buckets) if b not in set(changed) and b not in cached]
            segments = _run_buckets(tasks, workers, len(units) >= PARALLEL_UNITS, analysed)
        finally:
            _JOB.clear()
        dropped = {old_buckets[str(b)]["segment"] for b in changed if str(b) in old_buckets}
        dropped |= {old_buckets[b]["segment"] for b in removed}
        for b in changed:
            new_buckets[str(b)] = {"hash": bucket_hash[b], "segment": segments[b].segment_id()}
        _commit(index_dir, [segments[b] for b in changed], dropped)
        assert stats.lexicon is not None
        stats.lexicon.save(index_dir)
    _write_manifest(
        index_dir,
        {
            "fingerprint": settings.fingerprint(),
            "articles": hashes,
            # Articles in the export's order (navigation order, or on a sharded site by category and
            # title: inverted.export_order): ties rank in this order, in `kbgen search` and the browser.
            "order": list(dict.fromkeys(units[d].source for d in export_order(units, settings.shard_threshold))),
            "buckets": new_buckets,
            "bucket_count": n_buckets,
            "max_views": stats.max_views,
            "ranking": settings.ranking.to_json(),
            "units": len(units),
        },
    )
    stats.seconds = time.perf_counter() - start
    return stats
