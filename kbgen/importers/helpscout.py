"""Help Scout Docs: the Docs API's JSON (https://developer.helpscout.com/docs-api/).

EXPORT is a folder of the API's responses, any file names: `GET /v1/collections` →
`{"collections": {"items": [...]}}`, `GET /v1/collections/{id}/categories` → `{"categories": {"items":
[...]}}`, and the articles with their text: `GET /v1/articles/{id}` → `{"article": {...}}` (one file each),
or a list `{"articles": {"items": [...]}}` of full articles. Images are used when the folder holds a copy, by
the URL's path (`images/123/shot.png` for `https://d33v4339jhl8k0.cloudfront.net/docs/assets/…/images/123/shot.png`
is looked up as that path under EXPORT).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from . import Export, Folder, ImportError_, Item, api_date, as_int, read_json, url_path

ARTICLE_LINK = re.compile(r"/article/(\d+)(?:-|$)")


def _items(data: object, key: str, path: Path) -> list[dict[str, Any]]:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        return []
    rows = value.get("items") if isinstance(value, dict) else value
    if not isinstance(rows, list):
        raise ImportError_(f"{path}: `{key}.items` must be a list (the Docs API's shape)")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "id" not in row:
            raise ImportError_(f"{path}: `{key}.items[{i}]` has no `id`")
    return rows


def read_export(root: Path, locale: str | None = None) -> Export:
    root = root.resolve()
    if not root.is_dir():
        raise ImportError_(f"{root}: not a folder (save the Docs API's JSON responses in one)")
    collections: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    articles: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(root.rglob("*.json")):
        data = read_json(path)
        collections += _items(data, "collections", path)
        categories += _items(data, "categories", path)
        articles += [(path, a) for a in _items(data, "articles", path)]
        if isinstance(data, dict) and isinstance(data.get("article"), dict):
            articles.append((path, data["article"]))
    if not articles:
        raise ImportError_(f"{root}: no article JSON (GET /v1/articles/{{id}} → {{\"article\": …}})")
    notes: list[str] = []
    folders: dict[str, Folder] = {}
    for c in collections:
        folders["c" + str(c["id"])] = Folder("c" + str(c["id"]), str(c.get("name") or ""),
                                             str(c.get("description") or ""), as_int(c.get("order")))  # fmt: skip
    for c in categories:
        folders["k" + str(c["id"])] = Folder("k" + str(c["id"]), str(c.get("name") or ""),
                                             str(c.get("description") or ""), as_int(c.get("order")),
                                             parent="c" + str(c.get("collectionId")))  # fmt: skip
    items: dict[str, Item] = {}
    for path, a in articles:
        if "text" not in a:
            notes.append(f"{path.name}: article {a.get('id')} has no `text` (a list entry, not GET /v1/articles/{{id}})")
            continue
        if not isinstance(a["text"], str):
            raise ImportError_(f"{path}: article {a.get('id')}: `text` must be HTML text")
        number = str(a.get("number") or a["id"])
        if not re.fullmatch(r"[A-Za-z0-9]{1,40}", number):
            raise ImportError_(f"{path}: article `number` must be a number, not {str(number)[:40]!r}")
        cats = [str(c) for c in a.get("categories") or [] if "k" + str(c) in folders]
        folder = "k" + cats[0] if cats else ("c" + str(a.get("collectionId")) if a.get("collectionId") else None)
        if len(cats) > 1:
            notes.append(f"article {number} was in {len(cats)} categories: it is in the first one only")
        old = [p for p in (url_path(str(a.get("publicUrl") or "")),) if p]
        old.append(f"/article/{number}")
        if re.fullmatch(r"[A-Za-z0-9_-]{1,120}", str(a.get("slug") or "")):
            old.append(f"/article/{number}-{a['slug']}")
        keywords = a.get("keywords") or []
        items[number] = Item(
            number,
            str(a.get("name") or ""),
            a["text"],
            folder,
            draft=str(a.get("status") or "published") != "published",
            updated=api_date(a.get("lastPublishedAt")) or api_date(a.get("updatedAt")),
            keywords=[str(k) for k in keywords if isinstance(k, str)] if isinstance(keywords, list) else [],
            old_urls=old,
        )
    return Export(root, folders, list(items.values()), notes, ARTICLE_LINK)
