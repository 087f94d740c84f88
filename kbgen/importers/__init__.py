"""`kbgen import zendesk|helpscout EXPORT -o content/`: a hosted help centre's export as a kbgen content folder.

Each source module (`zendesk`, `helpscout`) reads its API's JSON into the `Export` model below; `write_content`
turns that into folders with `_index.md`, one Markdown file per article (front matter: title, description,
updated, draft, keywords, order, aliases — every old URL), and `_assets/` for the images found in the export.

The export is untrusted: names become slugs (python-slugify) and never paths, front matter is written by
yaml.safe_dump, local files are only read from inside EXPORT, and HTML goes through `html.html_to_markdown`.
Nothing is written unless everything converted: the tree is written to a temporary folder beside the
output and moved into place at the end; an existing non-empty output folder is refused.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

from ..slugs import import_slug
from .html import html_to_markdown

MAX_JSON = 512 * 1024 * 1024


class ImportError_(Exception):  # noqa: N801 - not the builtin
    """A bad export: the message names the file (and the key)."""


@dataclass
class Folder:
    key: str  # the source's id
    title: str
    description: str = ""
    order: int = 0
    parent: str | None = None  # a section's category key
    old_urls: list[str] = field(default_factory=list)


@dataclass
class Item:
    key: str  # the source's article id
    title: str
    html: str
    folder: str | None  # a section key (or a category key: directly in the category)
    draft: bool = False
    updated: date | None = None
    keywords: list[str] = field(default_factory=list)
    order: int = 0
    promoted: bool = False
    old_urls: list[str] = field(default_factory=list)  # site paths, "/hc/en-us/articles/1-x"
    attachments: dict[str, Path] = field(default_factory=dict)  # URL (or file name) → a local file


@dataclass
class Export:
    root: Path
    folders: dict[str, Folder]
    items: list[Item]
    notes: list[str] = field(default_factory=list)  # about the whole export
    link_id: re.Pattern[str] | None = None  # group 1 of a match on an old article URL: its key


def safe_text(text: str, limit: int = 120) -> str:
    """Untrusted text for a terminal line: no control characters, bounded."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", " ", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_int(value: object) -> int:
    """A position or order from an export: an int, or 0 for anything else."""
    try:
        return max(-(10**9), min(10**9, int(value)))  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 0


def api_date(value: object) -> date | None:
    """The date of an API timestamp (`2026-05-31T12:00:00Z` → 2026-05-31), or None when it is not one."""
    if isinstance(value, str) and re.match(r"\d{4}-\d\d-\d\d", value):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def read_json(path: Path) -> object:
    import json

    try:
        if path.stat().st_size > MAX_JSON:
            raise ImportError_(f"{path}: larger than {MAX_JSON // 2**20} MB")
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportError_(f"{path}: not UTF-8 ({exc.reason})") from None
    except ValueError as exc:
        raise ImportError_(f"{path}: not valid JSON ({exc})") from None


def url_path(url: str) -> str | None:
    """The path of an old URL, as an alias: "/hc/en-us/articles/1-x"; None for something else."""
    if not isinstance(url, str) or not url.strip():
        return None
    path = unquote(urlsplit(url.strip()).path)  # decoded, as the site's files are named and hosts match
    if not path.startswith("/") or any(ord(c) < 0x20 or c in "\\?#" for c in path):
        return None
    if any(seg in (".", "..") for seg in path.split("/")):
        return None
    return path


def local_file(root: Path, candidate: str) -> Path | None:
    """A file of the export named by a relative path or a URL's path — only inside `root`."""
    rel = unquote(urlsplit(candidate).path if "://" in candidate or candidate.startswith("/") else candidate)
    rel = posixpath.normpath("/" + rel).lstrip("/")
    if not rel or rel == ".":
        return None
    path = (root / rel).resolve()
    try:
        path.relative_to(root.resolve())
    except ValueError:
        return None
    return path if path.is_file() else None


def _slug(text: str, fallback: str) -> str:
    return import_slug(text, fallback)


def _unique(slug: str, taken: set[str]) -> str:
    out, n = slug, 2
    while out in taken:
        out, n = f"{slug}-{n}", n + 1
    taken.add(out)
    return out


def _front_matter(data: dict[str, object]) -> str:
    text = yaml.safe_dump({k: v for k, v in data.items() if v not in (None, "", [], 0) or k == "title"},
                          sort_keys=False, allow_unicode=True, width=1000)  # fmt: skip
    return f"---\n{text}---\n\n"


@dataclass
class Result:
    output: Path
    articles: int
    folders: int
    assets: int
    needs_human: list[str]  # "path: what"


def write_content(export: Export, output: Path) -> Result:
    """Write the content folder for `export` at `output` (which must not exist or be empty)."""
    output = output.resolve()
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ImportError_(f"{output}: exists and is not empty; import into a new folder")
    # Folders: categories at the top, sections inside them.
    paths: dict[str, str] = {}
    taken: dict[str, set[str]] = {}
    for f in sorted(export.folders.values(), key=lambda f: (f.parent is not None, f.order, f.title, f.key)):
        parent = paths.get(f.parent, "") if f.parent else ""
        if f.parent and f.parent not in paths:
            parent = ""
        slug = _unique(_slug(f.title, f"folder-{f.key}"), taken.setdefault(parent, {"_assets"}))
        paths[f.key] = f"{parent}/{slug}".lstrip("/")
    # Articles: their file paths first, so that links between them can be rewritten.
    where: dict[str, str] = {}
    orphans = "imported"
    for item in export.items:
        folder = paths.get(item.folder or "", "")
        if not folder:
            folder = orphans
        slug = _unique(_slug(item.title, f"article-{item.key}"), taken.setdefault(folder, set()))
        where[item.key] = f"{folder}/{slug}.md"
    needs: list[str] = [f"(export): {n}" for n in export.notes]
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.import-", dir=output.parent))
    assets: dict[Path, str] = {}

    def copy_asset(found: Path) -> str:
        if found not in assets:
            stem = _slug(Path(found.name).stem, "file")
            suffix = re.sub(r"[^a-z0-9.]", "", found.suffix.lower())[:8]
            name = _unique(stem + suffix, taken.setdefault("_assets", set()))
            assets[found] = name
            (tmp / "_assets").mkdir(exist_ok=True)
            shutil.copyfile(found, tmp / "_assets" / name)
        return assets[found]

    try:
        for f in export.folders.values():
            if f.key not in paths:
                continue
            index = tmp / paths[f.key] / "_index.md"
            index.parent.mkdir(parents=True, exist_ok=True)
            index.write_text(_front_matter({"title": f.title, "description": f.description, "order": f.order}),
                             encoding="utf-8")  # fmt: skip
            if not f.description:
                needs.append(f"{paths[f.key]}/_index.md: no description in the export")
        if any(w.startswith(orphans + "/") for w in where.values()):
            index = tmp / orphans / "_index.md"
            index.parent.mkdir(parents=True, exist_ok=True)
            index.write_text(_front_matter({"title": "Imported", "description": "Articles that were in no "
                                            "section of the old help centre."}), encoding="utf-8")  # fmt: skip
            needs.append(f"{orphans}/: articles that were in no section — move them")
        for item in export.items:
            rel = where[item.key]
            depth = rel.count("/")

            def link_for(href: str, rel: str = rel, item: Item = item, depth: int = depth) -> str | None:
                attached = item.attachments.get(href)
                if attached is not None:  # a download the export holds: published from _assets/
                    return "../" * depth + "_assets/" + copy_asset(attached)
                if export.link_id is None:
                    return None
                m = export.link_id.search(urlsplit(href).path)
                if not m or m.group(1) not in where:
                    return None
                anchor = urlsplit(href).fragment
                target = posixpath.relpath(where[m.group(1)], posixpath.dirname(rel))
                return target + (f"#{anchor}" if anchor else "")

            missing: list[str] = []

            def image_for(src: str, alt: str, item: Item = item, depth: int = depth, missing: list[str] = missing) -> str:
                found = item.attachments.get(src) or item.attachments.get(posixpath.basename(urlsplit(src).path))
                found = found or local_file(export.root, src)
                if found is None:
                    if not src.startswith("data:"):
                        missing.append(src)
                    return src
                return "../" * depth + "_assets/" + copy_asset(found)

            conv = html_to_markdown(item.html, link_for=link_for, image_for=image_for)
            for note in conv.notes:
                needs.append(f"{rel}: {note}")
            for src in missing:
                needs.append(f"{rel}: image not in the export, still linked to the old site: {safe_text(src)}")
            if not conv.markdown.strip():
                needs.append(f"{rel}: empty body")
            meta = {
                "title": item.title or f"Article {item.key}",
                "description": "",
                "updated": item.updated,
                "draft": item.draft or None,
                "promoted": item.promoted or None,
                "order": item.order,
                "keywords": item.keywords,
                "aliases": list(dict.fromkeys(item.old_urls)),
            }
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_front_matter(meta) + conv.markdown, encoding="utf-8")
        if export.items:
            needs.append(f"(all {len(export.items)} articles): no `description` in the export — write one sentence "
                         "each for search results (`kbgen check` lists them)")  # fmt: skip
        if output.exists():
            output.rmdir()  # empty (checked above)
        os.replace(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Result(output, len(export.items), len(paths), len(assets), needs)
