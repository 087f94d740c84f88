"""Reading one Markdown file: bytes → (front matter dict, body, body line offset), with precise errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import yaml

from ..errors import Problem

try:  # the C parser is an order of magnitude faster on large sites
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

MAX_FRONT_MATTER = 64 * 1024  # bytes of YAML between the `---` lines
MAX_DEPTH = 20  # nested lists and mappings
# Plain (unquoted) words read as "no value"; every other scalar is kept as the text the editor wrote.
NULL_WORDS = frozenset(("", "~", "null", "Null", "NULL"))
_STR_TAGS = (None, "!", "tag:yaml.org,2002:str")

FENCE = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)


# A fast path for the front matter most files have: one `key: value` per line, each value a quoted string
# (double-quoted with no escape but \" and \\, or single-quoted), a flow list `[...]` of such strings or of
# plain words, a decimal integer, a YYYY-MM-DD date, or a plain text that starts with a letter and holds no
# `:` or `#`. What it accepts it reads exactly as `_parse_yaml` does (every value the text as written, the
# plain words of NULL_WORDS None); anything else (comments, block lists, indented lines, other escapes or
# scalars, tabs, unusual characters, a key twice) returns None and goes to `_parse_yaml`, which therefore still
# reports every error.
_DQ = r'"(?:[^"\\\n]|\\["\\])*"'
_SQ = r"'(?:[^'\n]|'')*'"
_SIMPLE_LINE = re.compile(
    rf"([A-Za-z_][A-Za-z0-9_-]{{0,99}}): +(?:({_DQ})|({_SQ})|(\[.*\])"
    r"|(0|[1-9][0-9]*)|([0-9]{4})-([0-9]{2})-([0-9]{2})|([A-Za-z][^:#\n]*?)) *"
)
_FLOW_ITEM = re.compile(rf" *(?:({_DQ})|({_SQ})|([A-Za-z][A-Za-z0-9 _./-]*?)) *([,\]])")
_FLOW_EMPTY = re.compile(r"\[ *\]")
_DQ_ESCAPE = re.compile(r"\\([\\\"])")
# Anything but \n and the characters PyYAML reads as plain printable ones (no tab, \r, \x85, \u2028, \u2029,
# BOM, or the control characters its reader rejects).
_NOT_SIMPLE = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


def _flow_items(text: str) -> list[str | None] | None:
    if _FLOW_EMPTY.fullmatch(text):
        return []
    items: list[str | None] = []
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
        else:
            items.append(None if plain in NULL_WORDS else plain)
        pos = m.end()
        if sep == "]":
            return items if pos == len(text) else None


def _simple_yaml(raw: str) -> tuple[dict[str, Any], dict[str, int]] | None:
    """`raw` as `_parse_yaml` reads it (values, and the line of each key) when it has the simple form above,
    else None."""
    if _NOT_SIMPLE.search(raw):
        return None
    meta: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for n, line in enumerate(raw.split("\n"), 2):
        if not line:
            continue
        m = _SIMPLE_LINE.fullmatch(line)
        if m is None:
            return None
        key, dq, sq, flow, num, year, month, day, plain = m.groups()
        if key in meta:
            return None  # the full parser warns about it
        value: Any
        if dq is not None:
            value = _DQ_ESCAPE.sub(r"\1", dq[1:-1])
        elif sq is not None:
            value = sq[1:-1].replace("''", "'")
        elif flow is not None:
            value = _flow_items(flow)
            if value is None:
                return None
        elif num is not None:
            value = num
        elif year is not None:
            value = f"{year}-{month}-{day}"
        else:
            value = None if plain in NULL_WORDS else plain
        meta[key] = value
        lines[key] = n
    return (meta, lines) if meta else None


class _YAMLRefused(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _line(event: Any) -> int:
    return event.start_mark.line + 2  # the opening `---` is line 1


def _tag_refused(event: Any) -> _YAMLRefused:
    tag = str(event.tag).replace("tag:yaml.org,2002:", "!!")
    return _YAMLRefused(_line(event), f"YAML tags such as {tag} are not supported: write the value as text")


def _scalar(event: Any) -> str | None:
    if event.tag not in _STR_TAGS:
        raise _tag_refused(event)
    value = event.value
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise _YAMLRefused(_line(event), "a value holds an invalid character (a lone surrogate)")
    if event.style in (None, "") and event.tag is None and value in NULL_WORDS:
        return None
    return value


def _parse_yaml(raw: str) -> tuple[Any, dict[str, int], dict[str, list[int]], list[tuple[int, str]]]:
    """Front matter YAML → (value, line of each top-level key, line of each item of a top-level list,
    warnings as (line, message)).

    Built from the parser's events, not by PyYAML's constructor: every scalar is kept as the text the editor
    wrote (YAML 1.1 would read `no` as false, `on` as true, `1e3` as 1000.0, `0777` as 511, `2026-05-31` as a
    date); the plain words of NULL_WORDS are None. Anchors and aliases (`&a`, `*a`: the billion-laughs
    expansion), explicit tags (`!!int`, `!!python/...`), complex keys, more than one document and nesting
    deeper than MAX_DEPTH raise `_YAMLRefused`; a key given twice is a warning (the last value wins, as in
    YAML loaders)."""
    lines: dict[str, int] = {}
    items: dict[str, list[int]] = {}
    warnings: list[tuple[int, str]] = []
    # Open containers: [container, key waiting for its value (maps), top-level key it belongs to, its line].
    stack: list[list[Any]] = []
    root: Any = None
    documents = 0

    def waiting_for_key() -> bool:
        return bool(stack) and isinstance(stack[-1][0], dict) and stack[-1][1] is None

    def add(value: Any, line: int) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        frame = stack[-1]
        container = frame[0]
        if isinstance(container, list):
            container.append(value)
            if len(stack) == 2 and isinstance(stack[0][0], dict):  # an item of a top-level key's list
                items.setdefault(frame[2], []).append(line)
            return
        container[frame[1]] = value
        frame[1] = None

    for event in yaml.parse(raw, Loader=_Loader):
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            raise _YAMLRefused(
                _line(event), f"YAML aliases (*{anchor}) are not allowed in front matter: repeat the value"
            )
        if anchor is not None:
            raise _YAMLRefused(
                _line(event), f"YAML anchors (&{anchor}) are not allowed in front matter: repeat the value"
            )
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _YAMLRefused(_line(event), "front matter must be one YAML document")
        elif isinstance(event, yaml.ScalarEvent):
            value = _scalar(event)
            if waiting_for_key():  # a key: the text as written
                key = event.value
                frame = stack[-1]
                if key in frame[0]:
                    shown = key if key.isprintable() else ascii(key)
                    warnings.append((_line(event), f"`{shown}` is given twice; the last value is used"))
                frame[1] = key
                if len(stack) == 1:
                    lines[key] = _line(event)
            else:
                add(value, _line(event))
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if event.tag not in (None, "!", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"):
                raise _tag_refused(event)
            if waiting_for_key():
                raise _YAMLRefused(_line(event), "a key must be a word, not a list or a mapping")
            if len(stack) >= MAX_DEPTH:
                raise _YAMLRefused(_line(event), f"front matter nested more than {MAX_DEPTH} levels deep")
            # The top-level key this container belongs to.
            top = stack[0][1] if len(stack) == 1 else (stack[-1][2] if stack else None)
            stack.append([{} if isinstance(event, yaml.MappingStartEvent) else [], None, top, _line(event)])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = stack.pop()
            add(frame[0], frame[3])
    return root, lines, items, warnings


@dataclass
class SourceFile:
    source: str  # content-relative posix path
    meta: dict[str, Any]
    body: str
    body_line: int  # lines before the body (front matter included)
    lines: dict[str, int] = field(default_factory=dict)  # file line of each front-matter key
    item_lines: dict[str, list[int]] = field(default_factory=dict)  # ... and of each item of a list value

    def line(self, key: str) -> int:
        """The line of `key:` (the front matter's first line if it is not there)."""
        return self.lines.get(key, 1)

    def item_line(self, key: str, index: int) -> int:
        """The line of item `index` of the list `key` (the key's line for a one-line `[a, b]` list)."""
        found = self.item_lines.get(key, [])
        return found[index] if index < len(found) else self.line(key)


def read_source(data: bytes, source: str) -> tuple[SourceFile | None, list[Problem]]:
    """Decode and split one file. Problems carry `source` and the 1-based line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [
            Problem(source, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8", code="invalid-file")
        ]
    text = text.replace("\r\n", "\n")
    m = FENCE.match(text)
    if not m:
        return SourceFile(source, {}, text.removeprefix("\ufeff"), 0), []
    raw = m.group(1) or ""
    body_line = text[: m.end()].count("\n")
    size = len(raw.encode("utf-8"))
    if size > MAX_FRONT_MATTER:
        return None, [
            Problem(
                source, 1,
                f"front matter is {size // 1024} KiB, more than the {MAX_FRONT_MATTER // 1024} KiB allowed: "
                "move long text into the body", code="invalid-front-matter",
            )
        ]  # fmt: skip
    problems: list[Problem] = []
    item_lines: dict[str, list[int]] = {}
    try:
        simple = _simple_yaml(raw)
        if simple is not None:
            meta, lines = simple
        else:
            meta, lines, item_lines, warnings = _parse_yaml(raw)
            problems = [Problem(source, n, msg, "warning", code="duplicate-key") for n, msg in warnings]
    except _YAMLRefused as exc:
        return None, [Problem(source, exc.line, f"invalid front matter: {exc.message}", code="invalid-front-matter")]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 2) if mark is not None else 1
        what = (exc.problem or "invalid YAML").strip()
        return None, [Problem(source, line, f"invalid YAML front matter: {what}", code="invalid-front-matter")]
    except yaml.YAMLError as exc:
        return None, [Problem(source, 1, f"invalid YAML front matter: {exc}", code="invalid-front-matter")]
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return None, [Problem(source, 2, "front matter must be a mapping of `key: value` lines",
                              code="invalid-front-matter")]
    return SourceFile(source, meta, text[m.end() :], body_line, lines, item_lines), problems


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
