"""kbgen hook: MkDocs / Python-Markdown admonitions (`!!! note "Title"` + an indented body) as kbgen callouts.

    # kbgen.toml
    hooks = ["hooks/admonitions.py"]

    !!! warning "Before you start"
        Unplug the kettle.

becomes kbgen's `::: warning Before you start` … `:::` container. Types kbgen has no callout for (`abstract`,
`bug`, …) map to the closest one; `???` (collapsible, pymdownx.details) is shown open.
"""

from __future__ import annotations

import re
from typing import Any

KINDS = {
    "note": "note", "info": "info", "tip": "tip", "hint": "tip", "success": "tip", "important": "important",
    "warning": "warning", "caution": "caution", "attention": "warning", "danger": "danger", "error": "danger",
    "failure": "danger", "bug": "warning", "question": "note", "example": "note", "abstract": "note", "quote": "note",
}  # fmt: skip
START = re.compile(r'^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)(?:[ \t]+"(?P<title>[^"\n]*)")?[ \t]*$')


def on_article(markdown: str, **_: Any) -> str:
    lines = markdown.split("\n")
    out: list[str] = []
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        m = None if in_fence else START.match(line)
        if m is None:
            out.append(line)
            i += 1
            continue
        indent = m.group("indent")
        kind = KINDS.get(m.group("kind").lower(), "note")
        title = (m.group("title") or "").strip()
        body: list[str] = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + "    ")):
            body.append(lines[i][len(indent) + 4 :] if lines[i].strip() else "")
            i += 1
        while body and not body[-1]:
            body.pop()
        out.append(f"{indent}::: {kind}" + (f" {title}" if title else ""))
        out += [indent + b if b else "" for b in body]
        out += [f"{indent}:::", ""]
    return "\n".join(out)
