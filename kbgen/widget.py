"""The embeddable help widget: `/widget.js` (the launcher a shop adds to its pages) and `/_widget/` (the
panel, an iframe served by the help centre, built from the theme's `templates/widget.html`).

`check_widget_config` (in config.py) validates `[widget]` when `kbgen.toml` is read; `widget_outputs` gives both files for
a build's staging folder: the suggestions of `[[widget.suggest]]` (resolved to articles here, so a wrong
path or tag fails the build, naming the key), the allowed host origins and the brand colour go into the
panel as one JSON data block (no inline script: the theme works under `default-src 'self'`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .content.model import Article
    from .render import SiteRenderer

from .config import WIDGET_MAX_GLOB as MAX_GLOB  # noqa: F401  (declared with the [widget] table)
from .config import WIDGET_MAX_RULES as MAX_RULES  # noqa: F401
from .config import WIDGET_POSITIONS as POSITIONS  # noqa: F401
from .config import check_widget_config  # noqa: F401  (kept importable from here)

__all__ = ["check_widget_config", "glob_regex", "widget_outputs"]

PANEL_DIR = "_widget"
MAX_PER_RULE = 6


def glob_regex(glob: str) -> str:
    """A host-path glob as an anchored regular expression (the same in Python and JavaScript): `*` is any
    run of characters (`/` included), `?` one character; a query string or fragment never takes part."""
    out = []
    for ch in glob:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif re.match(r"[A-Za-z0-9/_~-]", ch):
            out.append(ch)
        else:
            out.append("\\" + ch if ch in r".^$+{}[]()|\\" else re.escape(ch))
    return "^" + "".join(out) + "$"


def _item(a: Article) -> dict[str, Any]:
    return {"t": a.title, "u": a.url, "y": a.type, "d": a.description[:300]}


def _resolve(renderer: SiteRenderer) -> dict[str, Any]:
    from .content.model import popularity_key

    config, library = renderer.config, renderer.library
    where = config.path.name if config.path else "kbgen.toml"
    by_source = library.by_source()
    tags = {t.name.casefold(): t for t in library.tags} | {t.slug: t for t in library.tags}
    items: list[dict[str, Any]] = []
    index: dict[str, int] = {}

    def ref(a: Article) -> int:
        if a.url not in index:
            index[a.url] = len(items)
            items.append(_item(a))
        return index[a.url]

    rules = []
    for i, rule in enumerate(config.widget.suggest):
        chosen: list[Article] = []
        for j, src in enumerate(rule.articles):
            a = by_source.get(src.strip().lstrip("/")) or by_source.get(src.strip().lstrip("/") + ".md")
            if a is None:
                raise ConfigError(
                    f"{where}: `widget.suggest[{i}].articles[{j}]`: no published article {src[:200]!r} "
                    "(a path under the content folder, like orders/track-your-order.md)"
                )
            chosen.append(a)
        for j, name in enumerate(rule.tags):
            tag = tags.get(name.casefold()) or tags.get(name.strip().lower())
            if tag is None:
                raise ConfigError(
                    f"{where}: `widget.suggest[{i}].tags[{j}]`: no article has the tag {name[:100]!r}"
                )
            chosen += sorted(tag.articles, key=popularity_key)
        seen: list[Article] = []
        for a in chosen:
            if a not in seen:
                seen.append(a)
        globs = rule.match if isinstance(rule.match, list) else [rule.match]
        rules.append({"m": [glob_regex(g) for g in globs], "a": [ref(a) for a in seen[:MAX_PER_RULE]]})
    popular = [ref(a) for a in library.popular[:5]]
    return {"items": items, "rules": rules, "popular": popular}


def theme_languages(renderer: SiteRenderer) -> list[str]:
    langs = {p.stem for d in renderer.theme.dirs for p in (d / "i18n").glob("*.json")}
    return sorted(langs)


def _launcher_source(renderer: SiteRenderer) -> str:
    for d in renderer.theme.dirs:
        path = d / "widget" / "widget.js"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError("the theme has no widget/widget.js")


def widget_outputs(renderer: SiteRenderer) -> dict[str, bytes]:
    """The widget's files by site-relative output path (nothing when `[widget]` is not enabled); also used
    by `kbgen serve` after an edit that changes what listings show (a title, a URL, tags)."""
    from .render import SiteRenderer

    config = renderer.config
    w = config.widget
    if not w.enabled:
        return {}
    data = _resolve(renderer)
    color = w.color or config.brand.brand_color or "#0b5cad"
    data.update({"hosts": w.hosts, "color": color})
    langs = theme_languages(renderer)
    pages: dict[str, bytes] = {}
    labels: dict[str, str] = {}
    for lang in [config.language, *[lg for lg in langs if lg != config.language]]:
        r = renderer
        if lang != config.language:
            r = SiteRenderer(
                dataclasses.replace(config, language=lang),
                renderer.library,
                renderer.build_date,
                renderer.theme,
            )
        url = f"/{PANEL_DIR}/" if lang == config.language else f"/{PANEL_DIR}/{lang}/"
        page = r._page(
            "widget", r.t("widget_title"), url, noindex=True, data={"url": url, "source": "widget"}
        )
        html = r.env.get_template("widget.html").render({"page": page, "widget": data, "panel_lang": lang})
        pages[url.strip("/") + "/index.html"] = html.encode("utf-8")
        labels[lang] = r.t("widget_launcher")
    version = hashlib.sha256(b"".join(pages.values())).hexdigest()[:10]
    launcher = {
        "color": color,
        "position": w.position,
        "lang": config.language,
        "langs": [lg for lg in langs if lg != config.language],
        "v": version,
        "label": labels[config.language],
        "labels": {lg: text for lg, text in labels.items() if lg != config.language},
    }
    src = _launcher_source(renderer).replace("{/*KB_CONFIG*/}", json.dumps(launcher, ensure_ascii=True))
    return {**pages, "widget.js": src.encode("utf-8")}
