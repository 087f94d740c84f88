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


# A fast path for the front matter most files have: one `key: value` per line, each value a quoted string
# (double-quoted with no escape but \" and \\, or single-quoted), a flow list `[...]` of such strings or of
# plain words, a decimal integer, a YYYY-MM-DD date, or a plain text that starts with a letter and holds no
# `:` or `#`. What it accepts it reads exactly as PyYAML's safe loader does (same values, same types, the same
# YAML 1.1 words `yes`/`no`/`on`/`null`... left to PyYAML); anything else (comments, block lists, indented
# lines, other escapes or scalars, tabs, unusual characters) returns None and goes to PyYAML, which therefore
# still reports every error.
_DQ = r'"(?:[^"\\\n]|\\["\\])*"'
_SQ = r"'(?:[^'\n]|'')*'"
_SIMPLE_LINE = re.compile(
    rf"([A-Za-z_][A-Za-z0-9_-]{{0,99}}): +(?:({_DQ})|({_SQ})|(\[.*\])"
    r"|(0|[1-9][0-9]*)|([0-9]{4})-([0-9]{2})-([0-9]{2})|([A-Za-z][^:#\n]*?)) *"
)
_FLOW_ITEM = re.compile(rf" *(?:({_DQ})|({_SQ})|([A-Za-z][A-Za-z0-9 _./-]*?)) *([,\]])")
_FLOW_EMPTY = re.compile(r"\[ *\]")
_DQ_ESCAPE = re.compile(r"\\([\\\"])")
# Plain words YAML 1.1 resolves to a bool or null, not a string (the rest of its implicit types do not start
# with a letter).
_PLAIN_WORDS = frozenset(
    "yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL".split()
)
# Anything but \n and the characters PyYAML reads as plain printable ones (no tab, \r, \x85, \u2028, \u2029,
# BOM, or the control characters its reader rejects).
_NOT_SIMPLE = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


def _flow_items(text: str) -> list[str] | None:
    if _FLOW_EMPTY.fullmatch(text):
        return []
    items: list[str] = []
    pos = 1
    while True:
        m = _FLOW_ITEM.match(text, pos)
        if m is None:
            return None
        dq, sq, plain, sep = m.groups()
        if dq is not None:
            items.append(_DQ_ESCAPE.sub(r"\1", dq[1:-1]))
        elif sq is not None:
            items.append(sq[1:-1].replace("''", "'"))
        elif plain in _PLAIN_WORDS:
            return None
        else:
            items.append(plain)
        pos = m.end()
        if sep == "]":
            return items if pos == len(text) else None


def _simple_yaml(raw: str) -> dict[str, Any] | None:
    """`raw` as PyYAML's safe loader reads it when it has the simple form above, else None."""
    if _NOT_SIMPLE.search(raw):
        return None
    meta: dict[str, Any] = {}
    for line in raw.split("\n"):
        if not line:
            continue
        m = _SIMPLE_LINE.fullmatch(line)
        if m is None:
            return None
        key, dq, sq, flow, num, year, month, day, plain = m.groups()
        value: Any
        if key in _PLAIN_WORDS:
            return None
        if dq is not None:
            value = _DQ_ESCAPE.sub(r"\1", dq[1:-1])
        elif sq is not None:
            value = sq[1:-1].replace("''", "'")
        elif flow is not None:
            value = _flow_items(flow)
            if value is None:
                return None
        elif num is not None:
            value = int(num)
        elif year is not None:
            try:
                value = date(int(year), int(month), int(day))
            except ValueError:
                return None
        elif plain in _PLAIN_WORDS:
            return None
        else:
            value = plain
        meta[key] = value
    return meta or None


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
        meta = _simple_yaml(raw)
        if meta is None:
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
