"""Reading one Markdown file: bytes → (front matter dict, body, body line offset), with precise errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import yaml

from ..errors import Problem

try:  # the C loader is an order of magnitude faster on large sites
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

FENCE = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)


@dataclass
class SourceFile:
    source: str  # content-relative posix path
    meta: dict[str, Any]
    body: str
    body_line: int  # lines before the body (front matter included)


def read_source(data: bytes, source: str) -> tuple[SourceFile | None, list[Problem]]:
    """Decode and split one file. Problems carry `source` and the 1-based line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [
            Problem(source, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8")
        ]
    text = text.replace("\r\n", "\n")
    m = FENCE.match(text)
    if not m:
        return SourceFile(source, {}, text.removeprefix("\ufeff"), 0), []
    raw = m.group(1) or ""
    body_line = text[: m.end()].count("\n")
    try:
        meta = yaml.load(raw, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 2) if mark is not None else 1
        what = (exc.problem or "invalid YAML").strip()
        return None, [Problem(source, line, f"invalid YAML front matter: {what}")]
    except yaml.YAMLError as exc:
        return None, [Problem(source, 1, f"invalid YAML front matter: {exc}")]
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return None, [Problem(source, 2, "front matter must be a mapping of `key: value` lines")]
    return SourceFile(source, {str(k): v for k, v in meta.items()}, text[m.end() :], body_line), []


def key_line(raw_text: str, key: str) -> int:
    """The line of `key:` in a file's front matter (1 if not found), for messages about a key."""
    for n, line in enumerate(raw_text.split("\n")[:200], 1):
        if line.lstrip().startswith(f"{key}:"):
            return n
    return 1


def as_str_list(value: Any) -> list[str] | None:
    """A YAML list, or a comma-separated string (as some exports write `tags`), as a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (str, int, float)) for v in value):
            return [str(v).strip() for v in value if str(v).strip()]
    return None


def as_date(value: Any) -> date | None | bool:
    """A front-matter date (YAML date, datetime, or ISO string). False if present but unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
        except ValueError:
            return False
    return False
