"""Search: the Whoosh index (`schema`, `index`, `writer`), queries (`lexicon`, `query`, `cli`) and the
static export for the browser (`export` → `themes/default/static/search-core.js`).

For the build:

    from kbgen.search import build_search
    info = build_search(library, config, staging / "_search")      # index + export, in this process

or, step by step:

    from kbgen.search import SearchSettings, collect_units, index_and_export
    units = collect_units(library)                                  # cheap, in the parent
    settings = SearchSettings.from_config(config)
    info = index_and_export(units, config.cache_path / "index", staging / "_search", settings, workers=2)
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .units import Unit, collect_units

if TYPE_CHECKING:
    from .index import IndexStats, SearchSettings, build_index

__all__ = [
    "IndexStats",
    "SearchSettings",
    "Unit",
    "build_index",
    "build_search",
    "collect_units",
    "index_and_export",
]


def __getattr__(name: str) -> Any:
    # Whoosh is imported only where the index is built or read: `collect_units` (the build's parent
    # process) does not need it.
    if name in ("IndexStats", "SearchSettings", "build_index"):
        from . import index

        return getattr(index, name)
    raise AttributeError(name)


EXPORT_CACHE = "export"  # beside the index: the last export, reused when the index did not change


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def index_and_export(
    units: list[Unit], index_dir: Path, out_dir: Path, settings: SearchSettings, workers: int | None = None
) -> dict[str, Any]:
    """Update the index in `index_dir` (incrementally) and write the browser export into `out_dir`."""
    from .export import FORMAT, export_index
    from .index import ANALYSIS_MODULES, build_index, code_hash

    start = time.perf_counter()
    index_dir, out_dir = Path(index_dir), Path(out_dir)
    cache = index_dir.parent / EXPORT_CACHE
    marker = cache / ".kbgen-export"
    fingerprint = repr(
        (settings, len(units), FORMAT, code_hash(*ANALYSIS_MODULES, "export.py", "lexicon.py"))
    )

    def stamp() -> str:  # … and the export's files as written: one emptied or cut short is written again
        from ..integrity import search_export_digest

        return f"{fingerprint}\n{search_export_digest(cache)}"

    have_export = marker.exists() and marker.read_text(encoding="utf-8") == stamp()
    export_seconds = 0.0

    def export(stats: IndexStats) -> None:
        nonlocal export_seconds
        t = time.perf_counter()
        marker.unlink(missing_ok=True)
        export_index(
            units,
            cache,
            settings,
            inverted=stats.inverted,
            lexicon=stats.lexicon,
            workers=workers or os.cpu_count() or 1,
        )
        marker.write_text(stamp(), encoding="utf-8")
        export_seconds = time.perf_counter() - t

    # The export runs as soon as the units are analysed, while index workers write Whoosh segments.
    stats = build_index(units, index_dir, settings, workers, on_analysed=export)
    reused = not stats.changed and have_export
    if not stats.changed and not have_export:  # the export was lost: write it again
        export(stats)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    # Hard links where possible: the export in the cache is only ever replaced, never written in place.
    shutil.copytree(
        cache, out_dir, ignore=shutil.ignore_patterns(".kbgen-export"), copy_function=_link_or_copy
    )
    return {
        "units": stats.units,
        "articles": stats.articles,
        "reindexed_articles": stats.added_articles,
        "deleted_articles": stats.deleted_articles,
        "index_rebuilt": stats.rebuilt,
        "analyses_reused": stats.cached_buckets,
        "index_seconds": round(stats.seconds, 3),
        "export_seconds": round(export_seconds, 3),
        "export_reused": reused,
        "seconds": round(time.perf_counter() - start, 3),
    }


def build_search(library: Any, config: Any, out_dir: Path, workers: int | None = None) -> dict[str, Any]:
    """Index `library` into `<project>/.kbgen/index/` and export it for the browser into `out_dir`."""
    from .index import SearchSettings

    settings = SearchSettings.from_config(config)
    index_dir = Path(getattr(config, "cache_path", Path(".kbgen"))) / "index"
    return index_and_export(collect_units(library), index_dir, Path(out_dir), settings, workers=workers)
