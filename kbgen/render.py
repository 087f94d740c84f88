"""`Library` → pages: the Jinja2 environment, the theme lookup chain and every page's context.

A site's `themes/<name>/` overrides the packaged default theme file by file; templates can also extend the
default's blocks as `@default/<template>`. Output is a mapping of site-relative output path → bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension

from . import __version__, plugins
from .config import Config
from .content.model import Article, Category, Library, Section, Tag
from .errors import Problem, display_path
from .i18n import load_strings, ui_language
from .safepath import allowed_roots, walk_files
from .urls import alias_output, page_output

DEFAULT_THEME = "default"
BRAND_CSS = "_brand.css"
# A colour as CSS accepts it (#hex, a name, rgb()/hsl()/oklch() …): nothing that could end the declaration.


def packaged_themes_dir() -> Path:
    return Path(str(resources.files("kbgen.themes")))


@dataclass
class Theme:
    """The ordered theme directories (site theme first, then the packaged default)."""

    dirs: list[Path]
    root: Path | None = None  # the project: links in the site's theme may point inside it

    @classmethod
    def for_config(cls, config: Config) -> Theme:
        default = packaged_themes_dir() / DEFAULT_THEME
        dirs: list[Path] = []
        site_theme = config.root / "themes" / config.theme
        if site_theme.is_dir() and site_theme.resolve() != default.resolve():
            dirs.append(site_theme)
        elif config.theme != DEFAULT_THEME:
            raise FileNotFoundError(f"theme {config.theme!r} not found: expected the folder {site_theme}")
        dirs.append(default)
        return cls(dirs, config.root)

    @property
    def default_dir(self) -> Path:
        return self.dirs[-1]

    def _roots(self, d: Path) -> list[str]:
        """Where links in theme folder `d` may point: into the project (the site's theme), or into `d`."""
        return allowed_roots(d) if d == self.default_dir or self.root is None else allowed_roots(self.root, d)

    def static_files(self, problems: list[Problem] | None = None, level: str = "warning") -> dict[str, Path]:
        """Theme static files by their path under `static/`; the site theme wins. A symbolic link pointing
        outside the project is not followed (a `problems` entry at `level` names it)."""
        files: dict[str, Path] = {}
        for d in reversed(self.dirs):
            root = d / "static"
            if not root.is_dir():
                continue
            shown = display_path(root, self.root)
            for rel, path in walk_files(root, self._roots(d), problems, level=level, label=shown):
                files[rel] = path
        return files

    def translations(self, language: str) -> dict[str, Any]:
        return load_strings(self.dirs, language)

    def fingerprint(self) -> str:
        """Changes whenever any theme file changes: part of every cache key."""
        h = hashlib.sha256()
        for d in self.dirs:
            for rel, path in walk_files(d, self._roots(d), None):
                h.update(rel.encode("utf-8", "surrogateescape"))
                h.update(path.read_bytes())
        return h.hexdigest()[:16]


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates, kept between builds in the user's cache folder (like Python's own `__pycache__`):
    compiling the theme costs ~0.1 s a build. Keyed by Jinja's version and this module (the environment's
    options and extensions); Jinja checks each template's source itself. None where there is no writable
    cache folder (`KBGEN_TEMPLATE_CACHE=off` turns it off)."""
    setting = os.environ.get("KBGEN_TEMPLATE_CACHE", "")
    if setting == "off":
        return None
    key = hashlib.sha256(Path(__file__).read_bytes() + jinja2.__version__.encode()).hexdigest()[:16]
    try:
        base = (
            Path(setting)
            if setting
            else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kbgen"
        )
        directory = base / f"templates-{key}"
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not os.access(directory, os.W_OK) or directory.stat().st_uid != os.getuid():
            return None
    except (OSError, RuntimeError):
        return None
    return _BytecodeCache(str(directory))


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:  # only a cache: its folder gone or the disk full is no reason to fail the build
            pass


class _Environment(jinja2.Environment):
    """Templates share the environment's globals dict itself (Jinja wraps it in a per-template ChainMap).

    No template here has globals of its own, and every page render, include and import copies or compares
    the globals: with a plain dict that is a C-level copy instead of a Python loop over the ChainMap.
    Updates to `env.globals` (incremental rebuilds) still reach every template.
    """

    def make_globals(self, d: Any) -> Any:
        return super().make_globals(d) if d else self.globals


class FragmentCache(Extension):
    """`{% cache key, … %}…{% endcache %}`: a fragment rendered once per site build and key, then reused.

    For the parts of a page that show only site-wide data (config, translations, theme files, the category
    navigation): the header, the footer, the contact and feedback blocks. Anything else the fragment shows
    must be in its key (`{% cache page.kind %}`, `{% cache crumbs, current %}`; lists are compared by value).
    The cache is keyed too by the template being rendered and the tag's place, so each page template's block
    overrides apply. Put the tag inside a block or partial, never around a `{% block %}` or an `{% include %}`
    a theme may override with page data.
    """

    tags = {"cache"}

    def __init__(self, environment: jinja2.Environment) -> None:
        super().__init__(environment)
        environment.extend(fragment_cache={})

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        keys: list[nodes.Expr] = []
        while parser.stream.current.type != "block_end":
            if keys:
                parser.stream.expect("comma")
            keys.append(parser.parse_expression())
        body = parser.parse_statements(("name:endcache",), drop_needle=True)
        where = nodes.Const(f"{parser.name}:{lineno}")
        args = [nodes.ContextReference(), where, nodes.Tuple(keys, "load")]
        return nodes.CallBlock(self.call_method("_cached", args), [], [], body).set_lineno(lineno)

    def _cached(self, context: jinja2.runtime.Context, where: str, keys: tuple[Any, ...], caller: Any) -> str:
        cache: dict[Any, str] = self.environment.fragment_cache  # type: ignore[attr-defined]
        try:
            html = cache.get(key := (context.name, where, keys))
        except TypeError:  # a list or dict in the key
            html = cache.get(key := (context.name, where, _frozen(keys)))
        if html is None:
            html = cache[key] = caller()
        return html


def _frozen(value: Any) -> Any:
    """`value` as a dictionary key: lists → tuples, dicts → sorted item tuples (recursively)."""
    if isinstance(value, (list, tuple)):
        value = tuple(value)
        try:
            hash(value)
            return value
        except TypeError:
            return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


@dataclass
class Page:
    output: str  # site-relative output file, e.g. "orders/track-your-order/index.html"
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def _iso(d: date | None) -> str:
    return d.isoformat() if d else ""


class SiteRenderer:
    """Renders every page of a site from its `Library` and `Config`."""

    def __init__(
        self, config: Config, library: Library, build_date: datetime, theme: Theme | None = None
    ) -> None:
        self.config = config
        self.library = library
        self.theme = theme or Theme.for_config(config)
        self.build_date = build_date
        # A multilingual site (kbgen/languages.py): each page's translations, and the root the shared static
        # files are under (this language's base_url has its prefix).
        self.i18n: Callable[[Page], dict[str, Any]] | None = None
        self.root_base: str | None = None
        self.ui = ui_language(self.theme, config.language)
        self.strings = self.ui.strings
        self.static = self.theme.static_files()
        self.asset_hashes = {name: _file_hash(p) for name, p in self.static.items()}
        self.asset_hashes[BRAND_CSS] = hashlib.sha256(self.brand_css()).hexdigest()[:10]
        loaders: list[jinja2.BaseLoader] = [
            jinja2.FileSystemLoader([str(d / "templates") for d in self.theme.dirs])
        ]
        self.env = _Environment(
            loader=jinja2.ChoiceLoader(
                [
                    jinja2.PrefixLoader(
                        {"@default": jinja2.FileSystemLoader(str(self.theme.default_dir / "templates"))},
                        delimiter="/",
                    ),
                    *loaders,
                ]
            ),
            autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            extensions=[FragmentCache],
            bytecode_cache=_bytecode_cache(),
        )
        self.env.globals.update(
            site=config,
            t=self.t,
            tn=self.ui.tn,
            plurals=self.ui.plural_strings,
            text_dir=self.ui.dir,
            url=self.url,
            asset=self.asset,
            absolute_url=self.absolute_url,
            categories=library.categories,
            tags=library.tags,
            popular=library.popular,
            recent=library.recent,
            build_date=build_date.date(),
            library=library,
            kbgen_version=__version__,
            has_analytics_data=any(a.views for a in library.articles),
        )
        self.env.filters["date"] = self.format_date
        self.env.filters["isodate"] = _iso
        self.env.filters["others"] = _others
        self.env.filters["top_articles"] = _top_articles
        self.env.filters["related_articles"] = _related_articles
        self.env.filters["kb_hours"] = _hours_attr
        self.env.filters["logo_width"] = self.logo_width

    # -- helpers exposed to templates --------------------------------------------------------

    def t(self, key: str, **kwargs: Any) -> str:
        return self.ui.t(key, **kwargs)

    def url(self, path: str) -> str:
        if "://" in path or path.startswith(("mailto:", "tel:", "#")):
            return path
        if self.root_base is not None and path.startswith(("/static/", "static/", "/widget.js", "/_widget/")):
            return self.root_base.rstrip("/") + "/" + path.lstrip("/")
        return self.config.base_url.rstrip("/") + "/" + path.lstrip("/")

    def asset(self, name: str) -> str:
        digest = self.asset_hashes.get(name)
        href = self.url(f"/static/{name}")
        return f"{href}?v={digest}" if digest else href

    def absolute_url(self, path: str) -> str:
        href = self.url(path)
        if "://" in href or not self.config.site_url:
            return href
        return self.config.site_url + href

    def format_date(self, value: date | None) -> str:
        return self.ui.format_date(value)

    # -- page contexts --------------------------------------------------------------------------

    def _breadcrumbs(self, *nodes: Category | Section | None) -> list[tuple[str, str]]:
        crumbs = [(self.t("home"), "/")]
        crumbs += [(n.title, n.url) for n in nodes if n is not None]
        return crumbs

    def _breadcrumb_ld(self, crumbs: list[tuple[str, str]]) -> dict[str, Any]:
        return {
            "@context": "https://schema.org",
            "@type": "BreadcrumbList",
            "itemListElement": [
                {"@type": "ListItem", "position": i, "name": name, "item": self.absolute_url(href)}
                for i, (name, href) in enumerate(crumbs, 1)
            ],
        }

    def _page(self, kind: str, title: str, url: str, description: str = "", **extra: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "title": title,
            "description": description or self.config.description,
            "url": url,
            "canonical": self.absolute_url(url),
            "breadcrumbs": extra.pop("breadcrumbs", []),
            "jsonld": extra.pop("jsonld", []),
            "og_type": extra.pop("og_type", "website"),
            "data": extra.pop("data", {"url": url}),
            **extra,
        }

    def pages(self) -> Iterator[Page]:
        lib = self.library
        home_title = lib.title or self.config.title
        yield Page(
            "index.html",
            "home.html",
            {
                "page": self._page(
                    "home",
                    home_title,
                    "/",
                    lib.description,
                    jsonld=[
                        {
                            "@context": "https://schema.org",
                            "@type": "WebSite",
                            "name": self.config.title,
                            "url": self.absolute_url("/"),
                            "potentialAction": {
                                "@type": "SearchAction",
                                "target": self.absolute_url("/search/") + "?q={search_term_string}",
                                "query-input": "required name=search_term_string",
                            },
                        }
                    ],
                )
            },
        )
        for cat in lib.categories:
            crumbs = self._breadcrumbs(cat)
            yield Page(
                page_output(cat.url),
                "category.html",
                {
                    "page": self._page(
                        "category", cat.title, cat.url, cat.description, breadcrumbs=crumbs,
                        jsonld=[self._breadcrumb_ld(crumbs)], data={"category": cat.slug, "url": cat.url},
                    ),
                    "category": cat,
                },
            )  # fmt: skip
            for sec in cat.sections:
                crumbs = self._breadcrumbs(cat, sec)
                yield Page(
                    page_output(sec.url),
                    "section.html",
                    {
                        "page": self._page(
                            "section", sec.title, sec.url, sec.description, breadcrumbs=crumbs,
                            jsonld=[self._breadcrumb_ld(crumbs)], data={"category": cat.slug, "url": sec.url},
                        ),
                        "category": cat,
                        "section": sec,
                        "articles": sec.articles,
                    },
                )  # fmt: skip
        for article in lib.articles:
            yield self.article_page(article)
            for alias in article.aliases:
                target = self.url(article.url)
                yield Page(
                    alias_output(alias),
                    "redirect.html",
                    {
                        "page": self._page("redirect", article.title, article.url),
                        "target": self.absolute_url(article.url) if self.config.site_url else target,
                        "article": article,
                    },
                )
        for tag in lib.tags:
            yield self.tag_page(tag)
        if lib.tags:
            yield Page(
                "tags/index.html",
                "tags.html",
                {"page": self._page("tags", self.t("all_topics"), "/tags/", breadcrumbs=self._breadcrumbs()),
                 "tags": lib.tags},
            )  # fmt: skip
        yield Page(
            "search/index.html",
            "search.html",
            {
                # Indexable: its canonical link (/search/, no query) folds every ?q= variant into this one
                # page, so robots.txt does not shut it out either (Lighthouse's SEO "is-crawlable").
                "page": self._page("search", self.t("search"), "/search/", breadcrumbs=self._breadcrumbs())
            },
        )
        yield Page(
            "404.html",
            "404.html",
            {"page": self._page("404", self.t("not_found_title"), "/404.html", noindex=True)},
        )

    def tag_page(self, tag: Tag) -> Page:
        crumbs = self._breadcrumbs() + [(self.t("all_topics"), "/tags/")]
        return Page(
            page_output(tag.url),
            "tag.html",
            {
                "page": self._page("tag", tag.name, tag.url, breadcrumbs=crumbs, data={"url": tag.url}),
                "tag": tag,
                "articles": tag.articles,
            },
        )

    def article_jsonld(self, article: Article, crumbs: list[tuple[str, str]]) -> list[dict[str, Any]]:
        url = self.absolute_url(article.url)
        base: dict[str, Any] = {"@context": "https://schema.org"}
        items: list[dict[str, Any]] = []
        if article.type == "faq" and article.faq:
            items.append(
                {
                    **base,
                    "@type": "FAQPage",
                    "name": article.title,
                    "url": url,
                    "mainEntity": [
                        {
                            "@type": "Question",
                            "name": e.question,
                            "url": f"{url}#{e.anchor}",
                            "acceptedAnswer": {"@type": "Answer", "text": e.answer_text},
                        }
                        for e in article.faq
                    ],
                }
            )
        elif article.type == "howto" and article.steps:
            howto: dict[str, Any] = {
                **base,
                "@type": "HowTo",
                "name": article.title,
                "description": article.description,
                "url": url,
                "step": [
                    {"@type": "HowToStep", "position": s.index, "text": s.text, "url": f"{url}#{s.anchor}"}
                    for s in article.steps
                ],
            }
            if article.supplies:
                howto["supply"] = [{"@type": "HowToSupply", "name": s} for s in article.supplies]
            minutes = _iso_duration(article.time)
            if minutes:
                howto["totalTime"] = minutes
            items.append(howto)
        else:
            items.append(
                {
                    **base,
                    "@type": "Article",
                    "headline": article.title,
                    "description": article.description,
                    "url": url,
                    "dateModified": _iso(article.updated),
                    "inLanguage": self.config.language,
                }
            )
        items.append(self._breadcrumb_ld(crumbs))
        return items

    def article_page(self, article: Article) -> Page:
        crumbs = self._breadcrumbs(article.category, article.section)
        template = {"faq": "faq.html", "howto": "howto.html"}.get(article.type, "article.html")
        data = {"id": article.id, "category": article.category_slug, "type": article.type, "url": article.url}
        return Page(
            page_output(article.url),
            template,
            {
                "page": self._page(
                    "article", article.title, article.url, article.description,
                    breadcrumbs=crumbs, jsonld=self.article_jsonld(article, crumbs), og_type="article", data=data,
                ),
                "article": article,
                "category": article.category,
                "section": article.section,
            },
        )  # fmt: skip

    def render(self, page: Page) -> bytes:
        template = self.env.get_template(page.template)
        if self.i18n is not None:
            page.context["i18n"] = self.i18n(page)
        if not plugins.active():
            return template.render(page.context).encode("utf-8")
        context = plugins.call("on_page_context", "context", context=page.context, page=page)
        out = plugins.call("on_page", "html", html=template.render(context), page=page)
        return str(out).encode("utf-8")

    # -- non-HTML outputs ----------------------------------------------------------------------

    def sitemap(self) -> bytes:
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        ]

        def entry(path: str, lastmod: date | None = None) -> None:
            lm = f"<lastmod>{lastmod.isoformat()}</lastmod>" if lastmod else ""
            lines.append(f"<url><loc>{xml_escape(self.absolute_url(path))}</loc>{lm}</url>")

        entry("/")
        for cat in self.library.categories:
            entry(cat.url)
            for sec in cat.sections:
                entry(sec.url)
        for article in self.library.articles:
            entry(article.url, article.updated)
        for tag in self.library.tags:
            entry(tag.url)
        lines.append("</urlset>")
        return ("\n".join(lines) + "\n").encode()

    def logo_width(self, path: str, height: int = 32) -> str:
        """The width attribute of a project image shown `height` px tall (so its box is reserved before it
        loads: no layout shift), or "" when it is a URL or cannot be read."""
        import imagesize

        if not path or "://" in path or path.startswith(("data:", "//")):
            return ""
        try:
            w, h = imagesize.get(str(self.config.root / path.lstrip("/")))
        except (OSError, ValueError):
            return ""
        from markupsafe import Markup

        return Markup(f' width="{round(w * height / h)}"') if w > 0 and h > 0 else ""

    def brand_css(self) -> bytes:
        """static/_brand.css: the brand colours as CSS custom properties. A file, not a <style> in every
        page, so that the theme works under a Content-Security-Policy without 'unsafe-inline'."""
        from .brand import brand_css

        return brand_css(self.config, self.url).encode()

    def generated_files(self) -> dict[str, bytes]:
        """Site-wide files made from the configuration, by site-relative path."""
        return {f"static/{BRAND_CSS}": self.brand_css()}

    def robots(self) -> bytes:
        lines = ["User-agent: *", "Allow: /"]  # the search page too: see its canonical link
        lines.append(f"Sitemap: {self.absolute_url('/sitemap.xml')}")
        return ("\n".join(lines) + "\n").encode()

    def feed(self, limit: int = 20) -> bytes:
        articles = sorted(self.library.articles, key=lambda a: (a.updated or date.min, a.url), reverse=True)[
            :limit
        ]
        newest = articles[0].updated if articles and articles[0].updated else self.build_date.date()
        site = self.absolute_url("/")
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{xml_escape(self.config.language)}">',
            f"<title>{xml_escape(self.config.title)}</title>",
            f'<link href="{xml_escape(site)}"/>',
            f'<link rel="self" href="{xml_escape(self.absolute_url("/feed.xml"))}"/>',
            f"<id>{xml_escape(site)}</id>",
            f"<updated>{newest.isoformat()}T00:00:00Z</updated>",
            f'<generator version="{__version__}">kbgen</generator>',
        ]
        for a in articles:
            link = self.absolute_url(a.url)
            updated = (a.updated or newest).isoformat()
            out += [
                "<entry>",
                f"<title>{xml_escape(a.title)}</title>",
                f'<link href="{xml_escape(link)}"/>',
                f"<id>{xml_escape(link)}</id>",
                f"<updated>{updated}T00:00:00Z</updated>",
                f"<summary>{xml_escape(a.description or a.intro_text[:280])}</summary>",
                f"<author><name>{xml_escape(self.config.title)}</name></author>",
                "</entry>",
            ]
        out.append("</feed>")
        return ("\n".join(out) + "\n").encode()


def _others(articles: list[Article], article: Article, limit: int = 5) -> list[Article]:
    """The first `limit` of `articles` other than `article` (by URL): "more in this section"."""
    out = []
    for a in articles:
        if a.url != article.url:
            out.append(a)
            if len(out) == limit:
                break
    return out


def _top_articles(category: Any, limit: int = 3) -> list[Article]:
    """A category's `limit` most viewed articles (else promoted, else in order), sections included."""
    from .content.model import popularity_key

    ranked = getattr(category, "ranked_articles", None)
    if ranked is not None:  # computed once per category, not once per page
        return ranked[:limit]
    every = list(category.articles or []) + [a for s in getattr(category, "sections", None) or [] for a in s.articles or []]
    return sorted(every, key=popularity_key)[:limit]


def _hours_attr(text: str) -> str:
    from .brand import hours_attr

    return hours_attr(text)


def _related_articles(article: Article, limit: int = 5) -> list[Article]:
    """The article's own `related`; else, from its category outside its section (those are "In this section"),
    the articles sharing most of its tags, then the most viewed (else promoted, else in order)."""
    from .content.model import popularity_key

    if article.related:
        return list(article.related)[:limit]
    cat = article.category
    if cat is None:
        return []
    own = {a.url for a in (article.section.articles if article.section else cat.articles)}
    own.add(article.url)
    ranked: list[Article] = _top_articles(cat, 10**9)
    by_tag = getattr(cat, "articles_by_tag", None)
    if by_tag is None:
        tags = {t.casefold() for t in article.tags}
        others = [a for a in ranked if a.url not in own]
        return sorted(others, key=lambda a: (-len(tags & {t.casefold() for t in a.tags}), popularity_key(a)))[:limit]
    # The same order as sorting every other article by (shared tags desc, popularity) — without doing so for
    # each page (that was quadratic in the category's size): those sharing tags first, then the most viewed.
    shared: dict[int, tuple[int, Article]] = {}
    for tag in {t.casefold() for t in article.tags}:
        for a in by_tag.get(tag, ()):
            if a.url not in own:
                shared[id(a)] = (shared[id(a)][0] + 1 if id(a) in shared else 1, a)
    rank_of = cat.rank_of
    best = sorted(shared.items(), key=lambda kv: (-kv[1][0], rank_of[kv[0]]))[:limit]
    picked = [a for _, (_, a) in best]
    for a in ranked:
        if len(picked) >= limit:
            break
        if a.url not in own and id(a) not in shared:
            picked.append(a)
    return picked


_DURATION = re.compile(r"\s*(\d+)\s*(h|hour|hours|hr|hrs|m|min|mins|minute|minutes)\b", re.I)


def _iso_duration(text: str) -> str:
    """'5 minutes' / '1 hour' / '90 min' → ISO 8601 duration for HowTo.totalTime ('' if unreadable)."""
    m = _DURATION.match(text)
    if not m:
        return ""
    n, unit = int(m.group(1)), m.group(2).lower()
    return f"PT{n}H" if unit.startswith("h") else f"PT{n}M"


def build_date_from_env() -> datetime:
    """`SOURCE_DATE_EPOCH` when set (reproducible builds), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return datetime.now(tz=timezone.utc)


