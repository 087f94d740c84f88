"""Every slug kbgen makes, by policy: the one module that calls python-slugify.

| policy | used for | rule |
|---|---|---|
| `article_slug` | an article's URL segment (`slug:` or its file name) | a URL-safe name kept (lower-cased); else ASCII words, ≤ 80 characters, "article" when empty |
| `folder_slug` | a category, section or tag name | ASCII, hyphens, ≤ 200 characters (one path segment), "" when empty |
| `heading_slug` | a heading's id (before de-duplication within its page) | ASCII words, ≤ 60 characters, "section" when empty |
| `title_slug` | `kbgen new`'s file name for a title | ASCII words, ≤ 80 characters, "" when empty |
| `import_slug` | an imported article's file name (Zendesk, Help Scout) | ASCII words, ≤ 60 characters, else the fallback's slug, else "untitled" |
| `name_slug` | a content folder in a file's site path; matching a folder name as typed (`kbgen new --in`) | ASCII, hyphens, no length limit |
"""

from __future__ import annotations

import re
from functools import lru_cache

from slugify import slugify

SAFE_SLUG = re.compile(r"[a-z0-9][a-z0-9_.-]*")
MAX_SLUG = 200  # characters of a folder or tag slug (one path segment: file systems allow 255 bytes)


def article_slug(name: str) -> str:
    """A URL slug: a file name that is already URL-safe is kept (lower-cased) so that distinct files keep
    distinct URLs; anything else goes through python-slugify (ASCII, hyphens)."""
    lowered = name.strip().lower()
    if SAFE_SLUG.fullmatch(lowered) and not lowered.endswith(".") and len(lowered) <= MAX_SLUG:
        return lowered
    return slugify(name, max_length=80, word_boundary=True) or "article"


def folder_slug(name: str) -> str:
    """The slug of a category, section or tag name ('' when nothing is left of it)."""
    return slugify(name, max_length=MAX_SLUG)


@lru_cache(maxsize=65536)
def heading_slug(text: str) -> str:
    """The id of a heading without `{#id}` (before de-duplication within its page)."""
    return slugify(text, max_length=60, word_boundary=True) or "section"


def title_slug(title: str) -> str:
    """The file name `kbgen new` gives an article of this title ('' when it has no letter or digit)."""
    return slugify(title, max_length=80, word_boundary=True)


def import_slug(text: str, fallback: str) -> str:
    """The file name of an imported article: its title, else its id, else "untitled"."""
    return slugify(text or "", max_length=60, word_boundary=True) or slugify(fallback) or "untitled"


def name_slug(name: str) -> str:
    """A folder name as a slug, to match what the user typed against existing folders."""
    return slugify(name)
