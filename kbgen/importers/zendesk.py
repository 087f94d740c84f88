"""Zendesk Guide: the Help Center API's JSON, as saved from its list endpoints.

EXPORT is a folder of the API's responses, any file names, pages of one list merged:
`GET /api/v2/help_center/{locale}/categories.json` → `{"categories": [...]}`, `…/sections.json` →
`{"sections": [...]}`, `…/articles.json` → `{"articles": [...]}` (every locale you want redirected), and
optionally `GET /api/v2/help_center/articles/{id}/attachments` → `{"article_attachments": [...]}`. Files the
bodies or attachments point at are used when the folder holds a copy: by the URL's path
(`hc/article_attachments/123/shot.png`), or as `attachments/<attachment id>/<file_name>`.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path
from typing import Any

from . import Export, Folder, ImportError_, Item, api_date, as_int, local_file, read_json, safe_text, url_path

LOCALE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,2}")
ARTICLE_LINK = re.compile(r"/hc/(?:[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*/)?articles/(\d+)")


def _records(root: Path, key: str) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(root.rglob("*.json")):
        data = read_json(path)
        if isinstance(data, dict) and key in data:
            rows = data[key]
            if not isinstance(rows, list):
                raise ImportError_(f"{path}: `{key}` must be a list (the Help Center API's shape)")
            for i, row in enumerate(rows):
                if not isinstance(row, dict) or not re.fullmatch(r"\d{1,20}", str(row.get("id", ""))):
                    raise ImportError_(f"{path}: `{key}[{i}].id` must be a number (the Help Center API's ids are)")
                out.append((path, row))
    return out


def read_export(root: Path, locale: str | None = None) -> Export:
    root = root.resolve()
    if not root.is_dir():
        raise ImportError_(f"{root}: not a folder (save the Help Center API's JSON responses in one)")
    articles = _records(root, "articles")
    if not articles:
        raise ImportError_(f"{root}: no JSON file with an `articles` list (GET /api/v2/help_center/articles.json)")
    locales = Counter(str(a.get("locale") or "") for _, a in articles)
    locale = locale or locales.most_common(1)[0][0]
    notes: list[str] = []
    others = {loc: n for loc, n in locales.items() if loc != locale}
    if others:
        shown = ", ".join(f"{safe_text(k, 20)} ({n})" for k, n in sorted(others.items()))
        notes.append(f"imported locale {safe_text(locale, 20)}; translations in {shown} became aliases only")

    def pick(rows: list[tuple[Path, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        by_id: dict[str, dict[str, Any]] = {}
        for _, row in rows:
            key = str(row["id"])
            if key not in by_id or str(row.get("locale") or "") == locale:
                by_id[key] = row
        return by_id

    folders: dict[str, Folder] = {}
    for key, c in pick(_records(root, "categories")).items():
        folders["c" + key] = Folder("c" + key, str(c.get("name") or ""), str(c.get("description") or ""),
                                    as_int(c.get("position")))  # fmt: skip
    sections = pick(_records(root, "sections"))
    for key, s in sections.items():
        title = str(s.get("name") or "")
        parent = s.get("parent_section_id")
        top = s
        seen = {key}
        while parent is not None and str(parent) in sections and str(parent) not in seen:  # nested sections
            seen.add(str(parent))
            top = sections[str(parent)]
            title = f"{top.get('name') or ''} – {title}"
            parent = top.get("parent_section_id")
        if top is not s:
            notes.append(f"section {safe_text(title)!r} was nested: it is a section of its own now")
        folders["s" + key] = Folder("s" + key, title, str(s.get("description") or ""), as_int(s.get("position")),
                                    parent="c" + str(top.get("category_id")))  # fmt: skip
    attachments: dict[str, dict[str, Path]] = {}
    missing: dict[str, list[str]] = {}
    for _, att in _records(root, "article_attachments"):
        found = None
        for candidate in (f"attachments/{att.get('id')}/{att.get('file_name')}", str(att.get("content_url") or ""),
                          str(att.get("relative_path") or "")):  # fmt: skip
            if candidate and (found := local_file(root, candidate)):
                break
        if found is None:
            url = str(att.get("content_url") or "")
            missing.setdefault(str(att.get("article_id")), []).append(url)
            notes.append(f"attachment {safe_text(att.get('file_name') or url)!r} of article {safe_text(att.get('article_id'), 30)} "
                         "is not in the export: it is still linked to the old site")  # fmt: skip
            continue
        files = attachments.setdefault(str(att.get("article_id")), {})
        for ref in (att.get("content_url"), att.get("relative_path")):
            if ref:
                files[str(ref)] = found
    rows: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for path, a in articles:
        rows.setdefault(str(a["id"]), []).append((path, a))
    items: list[Item] = []
    for key, versions in rows.items():
        # The chosen locale's version; the other translations' URLs redirect to it.
        path, a = next((v for v in versions if str(v[1].get("locale") or "") == locale), versions[0])
        old: list[str] = []
        for _, v in versions:
            if (p := url_path(str(v.get("html_url") or ""))) is not None:
                old.append(p)
            if LOCALE.fullmatch(str(v.get("locale") or "")):
                old.append(f"/hc/{str(v['locale']).lower()}/articles/{key}")
        old.append(f"/hc/articles/{key}")
        body = a.get("body")
        if body is not None and not isinstance(body, str):
            raise ImportError_(f"{path}: article {safe_text(key, 30)}: `body` must be HTML text")
        section = a.get("section_id")
        items.append(Item(
            key,
            str(a.get("title") or a.get("name") or ""),
            body or "",
            "s" + str(section) if section is not None else None,
            draft=bool(a.get("draft")),
            updated=api_date(a.get("edited_at")) or api_date(a.get("updated_at")),
            keywords=[str(x) for x in a.get("label_names") or [] if isinstance(x, str | int)],
            order=as_int(a.get("position")),
            promoted=bool(a.get("promoted")),
            old_urls=old,
            attachments=attachments.get(key, {}),
        ))  # fmt: skip
    for item in items:
        # Downloads not shown in the body: listed at its end, so that they are not lost.
        refs = [ref for ref in item.attachments if "://" in ref] + missing.get(item.key, [])
        extra = [ref for ref in refs if ref and ref not in item.html]
        if extra:
            links = "".join(
                f'<li><a href="{html.escape(ref)}">{html.escape(ref.rsplit("/", 1)[-1])}</a></li>' for ref in extra
            )
            item.html += f"<h2>Attachments</h2><ul>{links}</ul>"
    return Export(root, folders, items, notes, ARTICLE_LINK)
