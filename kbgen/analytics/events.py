"""The analytics event schema: defined once, here.

`themes/default/static/analytics.js` builds events with exactly these names and fields (a test holds the
two to it), the collector validates every incoming event with `validate`, its SQLite table has one column
per field, and the importers, the popularity pass and the report read the same names back.

An event is one flat JSON object::

    {"name": "search_click", "page": "/search/", "query": "refund", "url": "/orders/refunds/", "rank": 1}

Flat, because every provider wants flat key/value properties (Plausible props, GA4 parameters, Umami data).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_plus

__all__ = [
    "COMMON_FIELDS",
    "EVENTS",
    "FIELDS",
    "EventSpec",
    "Field",
    "SchemaError",
    "clean_path",
    "clean_query",
    "clean_text",
    "redact",
    "schema_markdown",
    "validate",
    "validate_batch",
]


# `feedback_reason`'s `reason`: out of date, didn't answer my question, hard to follow, something else.
REASONS: tuple[str, ...] = ("outdated", "unanswered", "unclear", "other")


class SchemaError(ValueError):
    """An event that does not match the schema; the message says which field and why."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "str" | "int" | "enum" | "path" | "query"
    doc: str
    max_len: int = 200
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 1_000_000
    pattern: str = ""


@dataclass(frozen=True)
class EventSpec:
    name: str
    doc: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


# Every field of every event, once. `page`, `id`, `category`, `type` (and, from the widget, `source`,
# `host`, `visit`) are common to all events.
FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field(
            "page", "path", "site-relative path of the page the event happened on (`/orders/refunds/`)", 300
        ),
        Field("id", "str", "article id (`orders/refunds`), on article pages", 200),
        Field("category", "str", "category slug, on category, section and article pages", 100),
        Field("type", "str", "article type: `article`, `faq` or `howto`", 20, pattern=r"[a-z][a-z0-9_-]*"),
        Field("lang", "str", "the page's language (`<html lang>`: `en`, `fr`, `pt-BR`)", 35,
              pattern=r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*"),  # fmt: skip
        Field(
            "query",
            "query",
            "search terms as typed (trimmed, whitespace collapsed, e-mail addresses and "
            "long numbers replaced by `[email]` / `[number]`)",
            100,
        ),
        Field("results", "int", "number of results the search showed", maximum=100_000),
        Field(
            "url",
            "path",
            "site-relative path (or absolute URL) the event is about: the clicked result, "
            "the rated article, the page the contact link was on",
            500,
        ),
        Field("rank", "int", "1-based position of the clicked result", minimum=1, maximum=1000),
        Field("helpful", "enum", "the customer's answer to *Was this helpful?*", choices=("yes", "no")),
        Field(
            "reason",
            "enum",
            "after *No*, what was missing: out of date, didn't answer my question, hard to follow, "
            "something else",
            choices=REASONS,
        ),
        Field(
            "comment",
            "text",
            "after *No*, the customer's optional words (control characters and whitespace collapsed, e-mail "
            "addresses and long numbers replaced by `[email]` / `[number]`, at most 300 characters)",
            300,
        ),
        Field(
            "channel",
            "str",
            "contact channel: `email`, `phone`, `chat`, `messenger`, `form` (or the theme's own)",
            30,
            pattern=r"[a-z0-9][a-z0-9_-]*",
        ),
        Field("video", "str", "the video played (its URL or `provider:id`)", 300),
        Field(
            "provider", "str", "video host: `youtube`, `vimeo`, `file`", 30, pattern=r"[a-z0-9][a-z0-9_-]*"
        ),
        Field(
            "source",
            "enum",
            "where the event happened: `widget` (the help widget); absent on the site",
            choices=("widget",),
        ),
        Field(
            "host",
            "path",
            "widget events: the path of the shop page the widget was opened on (no query string, no fragment)",
            300,
            pattern=r"/[^?#\s]*",
        ),
        Field(
            "visit",
            "str",
            "widget events: a random id of one widget opening (links its events; nothing else)",
            32,
            pattern=r"[a-z0-9]{8,32}",
        ),
    )
}

COMMON_FIELDS: tuple[str, ...] = ("page", "id", "category", "type", "lang", "source", "host", "visit")

EVENTS: dict[str, EventSpec] = {
    e.name: e
    for e in (
        EventSpec("page_view", "a page was shown (sent once on load)"),
        EventSpec(
            "search",
            "a search the customer settled on: sent after a pause of 1 s, on Enter or when a "
            "result is clicked — never per keystroke; the same query is not sent twice in a row",
            ("query", "results"),
        ),
        EventSpec(
            "search_no_results",
            "a `search` that showed no result (sent right after that `search`)",
            ("query",),
            ("results",),
        ),
        EventSpec("search_click", "a search result was opened", ("query", "url", "rank")),
        EventSpec(
            "feedback",
            "a *Was this helpful?* answer (once per page view); `query`: the search that led here (`?sq=`, "
            "which a clicked search result carries, or the search page's `?q=`)",
            ("url", "helpful"),
            ("query",),
        ),
        EventSpec(
            "feedback_reason",
            "after a *No* `feedback`, what was missing: the reason chosen and the optional text, in one "
            "event (once per page view; the `feedback` vote was sent already)",
            ("url", "reason"),
            ("comment",),
        ),
        EventSpec(
            "contact_click",
            "a contact link (`data-kb-contact`) was followed: self-service did not answer; `query`: the "
            "search that led here (`?sq=`, which a clicked search result carries, or the search page's `?q=`)",
            ("url", "channel"),
            ("query",),
        ),
        EventSpec("video_play", "an embedded video was started", ("url",), ("video", "provider")),
        EventSpec("widget_open", "the help widget was opened on a shop page (`host`)"),
        EventSpec(
            "widget_answer",
            "the widget showed an article or FAQ answer (a suggestion or a search result opened in the panel)",
            ("url",),
            ("rank",),
        ),
    )
}

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
_NUMBER = re.compile(r"\+?(?:\d[\s.\-]?){4,}\d")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


_SURROGATE = re.compile("[\ud800-\udfff]")
# A URL's parts between its delimiters, each redacted on its own (an e-mail address in `?q=` must not take
# the path before it along).
_URL_PART = re.compile(r"[^/?#&=;]+")


def redact(text: str) -> str:
    """Personal data that customers paste into search boxes and that ends up in addresses: e-mail addresses
    become `[email]`, order, phone and card numbers (runs of 5 or more digits) `[number]`. The one
    definition for search terms (`clean_query`), pages and URLs (`clean_path`); analytics.js spells the
    same patterns."""
    return _NUMBER.sub("[number]", _EMAIL.sub("[email]", text))


def clean_query(text: str) -> str:
    """Search terms as stored: `redact`ed, control characters and whitespace collapsed, at most 100
    characters. analytics.js applies the same rules."""
    return _SPACE.sub(" ", redact(_CONTROL.sub(" ", text))).strip()[:100]


def clean_text(text: str, max_len: int = 300) -> str:
    """A customer's free text (`comment`) as stored: `clean_query`'s rules, at most `max_len` characters."""
    return _SPACE.sub(" ", redact(_CONTROL.sub(" ", text))).strip()[:max_len]


def clean_path(text: str, max_len: int = 500) -> str:
    """A page or URL as stored: each part between `/ ? # & = ;` `redact`ed, also when it is
    percent-encoded (`ann%40example.com`, `+` for a space after `?`), then cut to `max_len`."""
    path, sep, query = text.partition("?")

    def part(plus: bool) -> Callable[[re.Match[str]], str]:
        def sub(m: re.Match[str]) -> str:
            raw = m.group()
            decoded = unquote_plus(raw, errors="replace") if plus else unquote(raw, errors="replace")
            cleaned = redact(decoded)
            return raw if cleaned == decoded else _CONTROL.sub(" ", cleaned)

        return sub

    out = _URL_PART.sub(part(False), path) + sep + _URL_PART.sub(part(True), query)
    return out[:max_len]


def _check(field: Field, value: Any) -> Any:
    name = field.name
    if field.kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise SchemaError(f"`{name}` must be an integer, not {value!r}"[:200])
        value = int(value)
        if not field.minimum <= value <= field.maximum:
            raise SchemaError(f"`{name}` must be between {field.minimum} and {field.maximum}, not {value}")
        return value
    if not isinstance(value, str):
        raise SchemaError(f"`{name}` must be a string, not {type(value).__name__}")
    if _SURROGATE.search(value):  # not Unicode text: cannot be stored, shown or exported as UTF-8
        raise SchemaError(f"`{name}` is not valid Unicode text (a lone surrogate)")
    if field.kind == "text":  # bounded before the cleaning too: a client cannot make it work on megabytes
        if len(value) > 4 * field.max_len:
            raise SchemaError(f"`{name}` is longer than {field.max_len} characters")
        return clean_text(value, field.max_len)
    if field.kind == "query":
        value = clean_query(value)
        if not value:
            raise SchemaError(f"`{name}` must not be empty")
        return value
    if _CONTROL.search(value):
        raise SchemaError(f"`{name}` must not contain control characters")
    value = value.strip()
    if len(value) > field.max_len:
        raise SchemaError(f"`{name}` is longer than {field.max_len} characters")
    if field.kind == "path":  # stored redacted (`[email]` may be longer than the address: cut again)
        value = clean_path(value, field.max_len)
    if field.kind == "enum":
        if value not in field.choices:
            raise SchemaError(f"`{name}` must be one of {', '.join(field.choices)}, not {value!r}"[:200])
    elif field.kind == "path":
        if not (value.startswith("/") or value.startswith(("http://", "https://"))):
            raise SchemaError(f"`{name}` must be a path starting with / or an http(s) URL")
        if field.pattern and not re.fullmatch(field.pattern, value):
            raise SchemaError(f"`{name}` must be a path without query string or fragment")
    elif field.pattern and not re.fullmatch(field.pattern, value):
        raise SchemaError(f"`{name}` has an unexpected format: {value!r}"[:200])
    return value


def validate(obj: Any) -> dict[str, Any]:
    """Check one event against the schema; return it normalised, with only its known fields.

    Unknown fields are dropped (an older collector keeps working with a newer theme); a missing required
    field, a wrong type or an unknown event name raises `SchemaError`. Empty optional values are dropped.
    """
    if not isinstance(obj, dict):
        raise SchemaError("an event must be a JSON object")
    name = obj.get("name")
    if not isinstance(name, str) or name not in EVENTS:
        shown = name if isinstance(name, str) else type(name).__name__
        raise SchemaError(f"unknown event name {shown!r}; expected one of {', '.join(EVENTS)}"[:300])
    spec = EVENTS[name]
    out: dict[str, Any] = {"name": name}
    for key in COMMON_FIELDS + spec.fields:
        value = obj.get(key)
        if value is None or value == "":
            if key in spec.required or key == "page":
                raise SchemaError(f"`{name}` needs `{key}`")
            continue
        value = _check(FIELDS[key], value)
        if value != "" or key in spec.required:  # a text of spaces only: as if not given
            out[key] = value
    return out


def validate_batch(payload: Any, limit: int = 20) -> list[dict[str, Any]]:
    """A request body: one event object, or an array of at most `limit` of them (all or nothing)."""
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise SchemaError("no event")
    if len(items) > limit:
        raise SchemaError(f"at most {limit} events per request")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(validate(item))
        except SchemaError as exc:
            raise SchemaError(f"event {i}: {exc}" if len(items) > 1 else str(exc)) from None
    return out


def schema_markdown() -> str:
    """The schema as a Markdown table (for docs/analytics.md and `kbgen report --schema`)."""
    lines = ["| event | fields (besides `page`, `id`, `category`, `type`) | sent when |", "|---|---|---|"]
    for spec in EVENTS.values():
        fields = [f"`{f}`" for f in spec.required] + [f"`{f}`?" for f in spec.optional]
        lines.append(f"| `{spec.name}` | {', '.join(fields) or '—'} | {spec.doc} |")
    lines += ["", "| field | type | meaning |", "|---|---|---|"]
    for f in FIELDS.values():
        kind = {"enum": " \\| ".join(f"`{c}`" for c in f.choices), "path": "string", "query": "string",
                "text": "string"}.get(
            f.kind, "integer" if f.kind == "int" else "string"
        )
        lines.append(f"| `{f.name}` | {kind} | {f.doc} |")
    return "\n".join(lines) + "\n"
