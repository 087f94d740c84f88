"""kbgen hook: a "Last reviewed by … on …" line at the end of each article that says who checked it.

    # kbgen.toml
    hooks = ["hooks/reviewed_by.py"]

    # an article's front matter
    reviewed_by: Priya (Returns team)
    reviewed: 2026-10-01

`on_page_context` adds `reviewed` to the template context (your own templates can show it as
`{{ reviewed.by }}` / `{{ reviewed.on }}`), and `on_page` writes it into the default theme's article page,
before `</article>`. The values come from front matter: they are HTML-escaped.
"""

from __future__ import annotations

import html
from datetime import date
from typing import Any


def _reviewed(page: Any) -> dict[str, str] | None:
    article = page.context.get("article") if page.template == "article.html" else None
    if article is None or not article.meta.get("reviewed_by"):
        return None
    when = article.meta.get("reviewed")
    return {"by": str(article.meta["reviewed_by"]), "on": when.isoformat() if isinstance(when, date) else str(when or "")}


def on_page_context(context: dict[str, Any], page: Any, **_: Any) -> dict[str, Any] | None:
    reviewed = _reviewed(page)
    return {**context, "reviewed": reviewed} if reviewed else None


def on_page(page: Any, **kwargs: Any) -> str | None:
    text: str = kwargs["html"]
    reviewed = _reviewed(page)
    if reviewed is None or "</article>" not in text:
        return None
    line = f"Last reviewed by {html.escape(reviewed['by'])}"
    if reviewed["on"]:
        line += f' on <time datetime="{html.escape(reviewed["on"])}">{html.escape(reviewed["on"])}</time>'
    return text.replace("</article>", f'<p class="kb-reviewed">{line}</p>\n</article>', 1)
