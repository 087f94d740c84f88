"""Multilingual help centres: `[languages]` with more than one language.

Each language is a site of its own, built from `content/<code>/` with its own `Config` (`language_sites`):
its UI strings, search language, title and description, and its URL prefix (`/fr/…`; the default language
at `/` unless it has a prefix). Pages, feed, 404 and the search export (`<prefix>/_search/`) are per
language, exactly what a single-language site of that size writes; the theme's static files, robots.txt and
the sitemap (with every page's alternates) are written once, at the root.

Translations are linked (`Translations`) by the same path relative to the language's folder, or by
`translation_key` front matter (an article of another path says which article it translates: that one's
path, or a key both carry). Every page gets `i18n` in its template context: the `alternates` (hreflang, an
absolute URL for each language the page exists in, plus `x-default`) and the language switcher's entries
(the same page in each language, or that language's home when it has none).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from .config import Config
from .content.model import Article, Category, Library, Section, translation_key
from .errors import Problem
from .markdown import LinkFallback

UNTRANSLATED_KEY = "untranslated"  # front matter of a `kbgen new --translate` copy, until it is edited


@dataclass
class LangSite:
    code: str
    name: str
    prefix: str  # "" → at the root of the site
    default: bool
    config: Config  # this language's own configuration


def is_multilingual(config: Config) -> bool:
    return len(config.languages) > 1


def language_sites(config: Config) -> list[LangSite]:
    """The languages of `config`, in the order listed, each with its own `Config`."""
    out = []
    for code, lang in config.languages.items():
        prefix = lang.prefix
        lang_config = dataclasses.replace(
            config,
            title=lang.title or config.title,
            description=lang.description or config.description,
            language=lang.ui_language or code,
            search=dataclasses.replace(config.search, language=lang.search_language or code),
            content_dir=str(PurePosixPath(config.content_dir) / code),
            base_url=config.base_url + (f"{prefix}/" if prefix else ""),
            i18n_lang=code,
            i18n_prefix=prefix,
        )
        out.append(LangSite(code, lang.name or code, prefix, lang.default, lang_config))
    return out


def site_for_path(config: Config, rel: str) -> LangSite | None:
    """The language whose content folder holds `rel` (a path relative to the content folder)."""
    first = rel.replace("\\", "/").split("/", 1)[0]
    return next((s for s in language_sites(config) if s.code == first), None)


def is_untranslated(article: Article) -> bool:
    return str(article.meta.get(UNTRANSLATED_KEY, "")).strip().lower() in ("true", "yes")


def _folder(node: Category | Section, depth: int) -> str:
    if node.source:
        return str(PurePosixPath(node.source).parent)
    articles = list(node.articles)
    for sec in getattr(node, "sections", []):
        articles += sec.articles
    for a in articles:
        parts = a.source.split("/")
        if len(parts) > depth:
            return "/".join(parts[:depth])
    return node.slug


def page_key(page: Any) -> str | None:
    """Which page of the other languages a rendered page corresponds to (None: no alternates)."""
    ctx = page.context
    kind = ctx["page"]["kind"]
    if kind in ("home", "search", "tags", "404"):
        return kind
    if kind == "article":
        return "a:" + translation_key(ctx["article"])
    if kind == "category":
        return "c:" + _folder(ctx["category"], 1)
    if kind == "section":
        return "s:" + _folder(ctx["section"], 2)
    if kind == "tag":
        return "t:" + ctx["tag"].slug
    return None


class Translations:
    """Every page's translations across the languages of a site."""

    def __init__(self, config: Config, sites: list[LangSite], libraries: dict[str, Library]) -> None:
        self.config = config
        self.sites = sites
        self.libraries = libraries
        self.groups: dict[str, dict[str, str]] = {}  # page key → {code: site path with its prefix}
        for site in sites:
            lib = libraries[site.code]

            def add(key: str, path: str, code: str = site.code) -> None:
                self.groups.setdefault(key, {}).setdefault(code, path)

            add("home", "/")
            add("search", "/search/")
            add("404", "/404.html")
            if lib.tags:
                add("tags", "/tags/")
            for cat in lib.categories:
                add("c:" + _folder(cat, 1), cat.url)
                for sec in cat.sections:
                    add("s:" + _folder(sec, 2), sec.url)
            for a in lib.articles:
                add("a:" + translation_key(a), a.url)
            for tag in lib.tags:
                add("t:" + tag.slug, tag.url)
        self.by_code = {s.code: s for s in sites}
        self.default = next(s for s in sites if s.default)

    def href(self, code: str, path: str) -> str:
        """The root-relative href of a language's site path."""
        prefix = self.by_code[code].prefix
        return self.config.base_url.rstrip("/") + (f"/{prefix}" if prefix else "") + "/" + path.lstrip("/")

    def absolute(self, code: str, path: str) -> str:
        href = self.href(code, path)
        if "://" in href or not self.config.site_url:
            return href
        return self.config.site_url + href

    def alternates(self, key: str | None) -> list[dict[str, str]]:
        group = self.groups.get(key or "", {})
        if key in (None, "404") or not group:
            return []
        out = [
            {"hreflang": s.code, "href": self.absolute(s.code, group[s.code])} for s in self.sites if s.code in group
        ]
        x = self.default.code if self.default.code in group else next(s.code for s in self.sites if s.code in group)
        out.append({"hreflang": "x-default", "href": self.absolute(x, group[x])})
        return out

    def context(self, code: str, page: Any) -> dict[str, Any]:
        key = page_key(page)
        group = self.groups.get(key or "", {})
        switch = []
        for s in self.sites:
            translated = s.code in group
            switch.append({
                "code": s.code, "name": s.name, "current": s.code == code, "translated": translated,
                "href": self.href(s.code, group[s.code] if translated else "/"),
            })  # fmt: skip
        return {"lang": code, "name": self.by_code[code].name, "alternates": self.alternates(key),
                "switch": switch}  # fmt: skip

    def for_renderer(self, code: str) -> Any:
        return lambda page: self.context(code, page)

    def robots(self) -> bytes:
        lines = ["User-agent: *"]  # each language's search page is indexable: see its canonical link
        root = self.config.base_url
        if "://" not in root and self.config.site_url:
            root = self.config.site_url + root
        lines += ["Allow: /", f"Sitemap: {root}sitemap.xml"]
        return ("\n".join(lines) + "\n").encode()

    def sitemap(self, libraries: dict[str, Library] | None = None) -> bytes:
        libraries = self.libraries if libraries is None else libraries
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">',
        ]
        for site in self.sites:
            lib = libraries[site.code]
            entries: list[tuple[str, str, Any]] = [("home", "/", None)]
            for cat in lib.categories:
                entries.append(("c:" + _folder(cat, 1), cat.url, None))
                entries += [("s:" + _folder(sec, 2), sec.url, None) for sec in cat.sections]
            entries += [("a:" + translation_key(a), a.url, a.updated) for a in lib.articles]
            entries += [("t:" + tag.slug, tag.url, None) for tag in lib.tags]
            for key, path, lastmod in entries:
                lm = f"<lastmod>{lastmod.isoformat()}</lastmod>" if lastmod else ""
                alts = "".join(
                    f'<xhtml:link rel="alternate" hreflang="{xml_escape(a["hreflang"])}" href="{xml_escape(a["href"])}"/>'
                    for a in self.alternates(key)
                )
                lines.append(f"<url><loc>{xml_escape(self.absolute(site.code, path))}</loc>{lm}{alts}</url>")
        lines.append("</urlset>")
        return ("\n".join(lines) + "\n").encode()


def root_chooser(renderer: Any, translations: Translations) -> bytes:
    """The site root when the default language has a prefix: a list of the languages (no script needed),
    and kb-lang.js, which sends the visitor to the first of their browser's languages the site has."""
    page = {"kind": "languages", "title": renderer.config.title, "url": "/", "noindex": False,
            "canonical": translations.absolute(translations.default.code, "/"), "data": {}}  # fmt: skip
    links = [{"code": s.code, "name": s.name, "href": translations.href(s.code, "/"),
              "absolute": translations.absolute(s.code, "/")} for s in translations.sites]  # fmt: skip
    template = renderer.env.get_template("language-root.html")
    return template.render(page=page, languages=links).encode("utf-8")


def prefix_problems(sites: list[LangSite], libraries: dict[str, Library]) -> list[Problem]:
    """A category of a root-level language whose slug is another language's prefix would hide it."""
    prefixes = {s.prefix: s.code for s in sites if s.prefix}
    out = []
    for s in sites:
        if s.prefix:
            continue
        lib = libraries[s.code]
        for a in lib.articles:  # an alias would write into another language's folder
            for alias in a.aliases:
                first = alias.strip("/").split("/", 1)[0]
                if first in prefixes:
                    out.append(Problem(f"{s.config.content_dir}/{a.source}", a.lines.get("aliases", 0),
                                       f"alias {alias!r} is under the URL prefix of language "
                                       f"{prefixes[first]!r}", "error", code="language-prefix"))  # fmt: skip
        for cat in lib.categories:
            if cat.slug in prefixes:
                out.append(Problem(f"{s.config.content_dir}/{_folder(cat, 1)}", 0,
                                   f"category slug {cat.slug!r} is the URL prefix of language "
                                   f"{prefixes[cat.slug]!r}: give the category another `slug`", "error", code="language-prefix"))  # fmt: skip
    return out


# -- links from a translation to an article only the default language has -----------------------------------


def fallback_label(strings: dict[str, Any], ui_language: str, target: LangSite) -> str:
    """"(in English)" in the UI language: `in_language_<code>` where the grammar needs its own phrase for
    that language (Polish "(po angielsku)"), else `in_language` with Babel's name of the language."""
    from .i18n import locale_for

    own = strings.get(f"in_language_{target.code}")
    if isinstance(own, str) and own.strip():
        return own
    name = locale_for(ui_language).languages.get(target.code.replace("-", "_").split("_")[0]) or target.name
    text = strings.get("in_language", "(in {language})")
    try:
        return str(text).format(language=name)
    except (KeyError, IndexError, ValueError):
        return f"({name})"


def link_fallback(site: LangSite, sites: list[LangSite], libraries: dict[str, Library],
                  strings: dict[str, Any]) -> LinkFallback | None:  # fmt: skip
    """What a translation's `.md` links fall back to: the default language's article (or category/section
    `_index.md`) at the same path, when this language has none. None for the default language itself, or
    while the default language's library is not loaded. `strings`: this language's UI strings."""
    default = next(s for s in sites if s.default)
    lib = libraries.get(default.code)
    if site.default or lib is None:
        return None
    base = default.config.base_path.rstrip("/")
    urls = {a.source: base + a.url for a in lib.articles}
    for cat in lib.categories:
        for node in (cat, *cat.sections):
            if node.source:
                urls[node.source] = base + node.url
    keys = {a.source: translation_key(a) for a in lib.articles}
    return LinkFallback(urls, default.code, fallback_label(strings, site.config.language, default), keys)


def ui_strings(config: Config) -> dict[str, Any]:
    """A language's UI strings (its theme's i18n files), for the fallback links' label."""
    from .render import Theme

    try:
        return Theme.for_config(config).translations(config.language)
    except (OSError, ValueError):
        return {}


def default_first(sites: list[LangSite]) -> list[LangSite]:
    """The load order of a multilingual site: the default language first (the others' links fall back to it)."""
    return sorted(sites, key=lambda s: not s.default)


# -- kbgen new --lang / --translate ---------------------------------------------------------------------------


def site_content_dir(config: Config, lang: str) -> Path:
    """The content folder new articles of `lang` go in (a multilingual site's default language without it)."""
    import click

    if not is_multilingual(config):
        raise click.UsageError("--lang and --translate need a [languages] table with two languages or more")
    sites = {s.code: s for s in language_sites(config)}
    code = lang or next(c for c, s in sites.items() if s.default)
    if code not in sites:
        raise click.BadParameter(f"{code!r} is not in [languages] (known: {', '.join(sites)})", param_hint="--lang")
    return sites[code].config.content_path


def new_translation(config: Config, source: Path, lang: str) -> tuple[Path, list[Path]]:
    """Copy `source` (an article of one language) to the same path in `lang`'s folder, with
    `untranslated: true` in its front matter (kbgen check reports it until the translator removes it).
    The folders' `_index.md` files are copied too where missing. Returns the copy and those files."""
    import click

    if not lang:
        raise click.BadParameter("give the language to translate into", param_hint="--lang")
    target_root = site_content_dir(config, lang)
    content = config.content_path
    src = (Path.cwd() / source).resolve()
    if not src.is_relative_to(content) or src.suffix != ".md" or not src.is_file():
        raise click.BadParameter(f"{source} is not an article (.md) under {config.content_dir}/", param_hint="--translate")
    rel = src.relative_to(content)
    if len(rel.parts) < 2 or site_for_path(config, rel.as_posix()) is None:
        raise click.BadParameter(f"{source} is not in a language's folder ({config.content_dir}/<code>/…)",
                                 param_hint="--translate")  # fmt: skip
    inner = PurePosixPath(*rel.parts[1:])
    if rel.parts[0] == lang:
        raise click.BadParameter(f"{source} is already in {lang!r}", param_hint="--lang")
    text = src.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        text = "---\n---\n" + text
    marked = "---\n" + f"{UNTRANSLATED_KEY}: true  # remove once translated (kbgen check lists it until then)\n" + text[4:]
    created: list[Path] = []
    # The section and category folders: their _index.md copied as they are, where the language has none.
    src_lang_root = content / rel.parts[0]
    for depth in range(1, len(inner.parts)):
        sub = PurePosixPath(*inner.parts[:depth])
        dst_dir = target_root / sub
        dst_dir.mkdir(parents=True, exist_ok=True)
        index_src, index_dst = src_lang_root / sub / "_index.md", dst_dir / "_index.md"
        if index_src.is_file() and not index_dst.exists():
            index_dst.write_text(index_src.read_text(encoding="utf-8"), encoding="utf-8")
            created.append(index_dst)
    path = target_root / inner
    try:
        with path.open("x", encoding="utf-8") as fh:  # never overwrite a translation
            fh.write(marked)
    except FileExistsError:
        raise click.ClickException(f"{path} already exists: edit that file") from None
    return path, created


# -- analytics: kbgen report --lang -------------------------------------------------------------------------


def language_config(config: Config, lang: str) -> Config:
    """`lang`'s own config (default: the default language's); a usage error naming the known ones."""
    import click

    sites = {s.code: s for s in language_sites(config)} if is_multilingual(config) else {}
    code = lang or next((c for c, s in sites.items() if s.default), "")
    if code not in sites:
        known = ", ".join(sites) or "none: the site has one language"
        raise click.BadParameter(f"{code!r} is not in [languages] (known: {known})", param_hint="--lang")
    return sites[code].config


def load_language_library(lang_config: Config) -> Library | None:
    """One language's articles, with the ids the build gives them (`fr/…` outside the default language)."""
    from .content.load import LoadOptions, load_library

    if not lang_config.content_path.is_dir():
        return None
    library = load_library(lang_config.content_path, LoadOptions(base_path=lang_config.base_path)).library
    if not lang_config.languages[lang_config.i18n_lang].default:
        for a in library.articles:
            a.id = f"{lang_config.i18n_lang}/{a.id}"
    return library
