"""Is a site whole? Checked before a build publishes it, and part of what the "Up to date" check compares.

A build publishes its staging folder only if its search export is complete (`search_export_problem`): the
browser's search reads `_search/meta.json` and the files it names, and a site whose export is missing or cut
short would be published — and then called up to date by the next build. `search_export_digest` is a
fingerprint of `_search/` (every file's name and size; a few files, so cheap) that the build cache keeps
with the output's identity: an export emptied or replaced after the build is seen by the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

MAX_META_BYTES = 64 * 1024 * 1024


def search_export_problem(folder: Path) -> str | None:
    """None if `folder` (a `_search/` export) has a readable `meta.json` and every file it names; else why."""
    meta_path = folder / "meta.json"
    try:
        if meta_path.stat().st_size > MAX_META_BYTES:
            return f"{meta_path} is larger than {MAX_META_BYTES} bytes"
        meta = json.loads(meta_path.read_bytes())
    except FileNotFoundError:
        return f"the search export has no {meta_path.name}"
    except (OSError, ValueError) as exc:
        return f"cannot read {meta_path}: {exc}"
    if not isinstance(meta, dict):
        return f"{meta_path} is not a JSON object"
    names: list[str] = []
    if meta.get("layout") == "sharded":
        units, per = meta.get("units"), meta.get("docsPer")
        shards = meta.get("shards")
        if not isinstance(shards, list) or not isinstance(units, int) or not isinstance(per, int) or per < 1:
            return f"{meta_path} describes an incomplete sharded export"
        names += [f"shard.{meta.get('shardSet')}.{i}.json" for i in range(len(shards))]
        names += [f"docs.{meta.get('docsSet')}.{i}.json" for i in range((units + per - 1) // per)]
    else:
        bundle = meta.get("bundle")
        if not isinstance(bundle, str) or not bundle:
            return f"{meta_path} names no search bundle"
        names.append(bundle)
    for name in names:
        path = folder / name
        if "/" in name or name.startswith(".") or not path.is_file() or path.stat().st_size == 0:
            return f"the search export lacks {name} (named in {meta_path.name})"
    return None


def search_export_digest(folder: Path) -> str:
    """A fingerprint of the files in `folder` (names and sizes; hidden ones skipped); '' if it does not
    exist."""
    h = hashlib.sha256()
    try:
        entries = sorted(
            (e.name, e.stat(follow_symlinks=False).st_size) for e in os.scandir(folder) if e.name[0] != "."
        )
    except OSError:
        return ""
    for name, size in entries:
        h.update(f"{name}\0{size}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()
