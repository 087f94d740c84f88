"""`kbgen report`: what customers said was missing after a *No* (the `feedback_reason` event).

Read from the collector databases among the `[analytics]` sources (only kbgen's own collector records the
customer's words; the providers get the reason alone, see docs/analytics.md): per article, the count of each
reason and a few of the most recent texts. Every string from the database is untrusted: shown through
`termsafe` in the terminal and HTML-escaped in the page.
"""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path
from typing import Any

from ..termsafe import for_terminal
from .events import REASONS
from .importers import collector_databases

LABELS = {
    "outdated": "out of date",
    "unanswered": "didn't answer my question",
    "unclear": "hard to follow",
    "other": "something else",
}
EXAMPLES = 3  # texts shown per article
_MAX_SHOWN = 300  # characters of a text shown (the collector stores at most 300)


def feedback_reasons(
    sources: list[Any],
    root: Path,
    window_days: int,
    top: int = 15,
    articles: dict[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Per rated article (`url`), most reasons first: {"url", "title", "file", "total", "reasons": {reason:
    n}, "examples"}; `articles` maps an article's URL to its title and source file. `measured` is False
    when no collector database has `feedback_reason` events."""
    by_url: dict[str, dict[str, Any]] = {}
    measured = False
    for path in collector_databases(sources, root):
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            continue
        try:
            (last,) = db.execute("SELECT max(ts) FROM events WHERE name = 'feedback_reason'").fetchone()
            if last is None:
                continue
            measured = True
            since = last - window_days * 86_400_000 if window_days > 0 else 0
            rows = db.execute(
                """SELECT url, reason, comment FROM events
                   WHERE name = 'feedback_reason' AND ts >= ? AND coalesce(device, '') != 'bot'
                   ORDER BY ts DESC, seq DESC LIMIT 200000""",
                (since,),
            ).fetchall()
        except sqlite3.DatabaseError:  # not a collector database, or one older than these fields
            continue
        finally:
            db.close()
        for url, reason, comment in rows:
            if reason not in REASONS or not isinstance(url, str):
                continue
            entry = by_url.setdefault(
                url[:500], {"url": url[:500], "total": 0, "reasons": dict.fromkeys(REASONS, 0), "examples": []}
            )
            entry["total"] += 1
            entry["reasons"][reason] += 1
            if isinstance(comment, str) and comment.strip() and len(entry["examples"]) < EXAMPLES:
                entry["examples"].append({"reason": reason, "text": comment[:_MAX_SHOWN]})
    for entry in by_url.values():
        entry["title"], entry["file"] = (articles or {}).get(entry["url"], ("", ""))
    rows_out = sorted(by_url.values(), key=lambda e: (-e["total"], e["url"]))
    return {"measured": measured, "rows": rows_out[:top]}


def _counts(reasons: dict[str, int]) -> str:
    return ", ".join(f"{LABELS[r]} {n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]) if n)


def print_reasons(data: dict[str, Any] | None, console: Any) -> None:
    """The terminal section (nothing when there is no `feedback_reason` data)."""
    if not data or not data["measured"]:
        return
    from rich.text import Text

    def say(text: str, style: str = "") -> None:
        console.print(Text(text, style=style), markup=False, highlight=False, emoji=False)

    console.print()
    say("What was missing (after “No”, by article)", "bold")
    for row in data["rows"]:
        where = for_terminal(row["url"], one_line=True)
        if row["title"]:
            where = f"{for_terminal(row['title'], one_line=True)} ({for_terminal(row['file'], one_line=True)})"
        say(f"  {where} — {row['total']:,}: {_counts(row['reasons'])}")
        for ex in row["examples"]:
            say(f"      “{for_terminal(ex['text'], one_line=True)}” ({LABELS[ex['reason']]})", "dim")


def reasons_html(data: dict[str, Any] | None) -> str:
    """The HTML section ("" when there is no `feedback_reason` data)."""
    if not data or not data["measured"]:
        return ""
    e = html.escape
    items = []
    for row in data["rows"]:
        examples = "".join(
            f"<li>“{e(ex['text'])}” <small>({e(LABELS[ex['reason']])})</small></li>" for ex in row["examples"]
        )
        items.append(
            f"<li>{e(row['title']) + ' ' if row['title'] else ''}<code>{e(row['file'] or row['url'])}</code>"
            f" — {row['total']:,}: {e(_counts(row['reasons']))}"
            + (f"<ul>{examples}</ul>" if examples else "")
            + "</li>"
        )
    return (
        '<section class="panel"><h2>What was missing</h2><p class="hint">After “No”: the reason customers '
        "chose, and a few of their words (e-mail addresses and long numbers removed).</p>"
        f"<ul class=\"reasons\">{''.join(items)}</ul></section>"
    )
