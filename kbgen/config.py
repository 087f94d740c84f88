"""The validated `kbgen.toml`.

Every option is declared once, as a dataclass field with its type and default; `load_config` checks the
file against these declarations, so an unknown key or a wrong type is an error naming the key (and the
closest known key, when there is one).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "kbgen.toml"


@dataclass
class Brand:
    logo: str = ""
    favicon: str = ""
    brand_color: str = "#0b5cad"
    accent_color: str = "#b4470f"
    logo_dark: str = ""  # shown instead of `logo` in the dark scheme
    hero_image: str = ""  # the home hero's background (behind a dark veil that keeps its text readable)
    font: str = ""  # a system stack name (kbgen.brand.FONT_STACKS) or a font file under static/


@dataclass
class FooterLink:
    title: str = ""
    url: str = ""


@dataclass
class Announcement:
    text: str = ""
    link: str = ""
    expires: date | str = ""  # the last day it is shown (a TOML date or "YYYY-MM-DD")


@dataclass
class Contact:
    email: str = ""
    phone: str = ""
    phone_hours: str = ""  # text; "Mon–Fri 8:00–20:00, Sat 9:00–17:00" is also read for "open now"
    chat_hours: str = ""
    timezone: str = ""  # IANA name ("Europe/London") the hours are in
    chat_url: str = ""
    messenger_url: str = ""
    form_url: str = ""

    @property
    def any(self) -> bool:
        return any((self.email, self.phone, self.chat_url, self.messenger_url, self.form_url))


@dataclass
class Search:
    language: str = ""  # "" → follow the site's `language`
    shard_threshold: int = 2000
    promoted_boost: float = 1.15
    popularity_weight: float = 0.25
    # Learning from customers' searches (kbgen/analytics/learn.py): a search followed by a click on an
    # article adds the query's words to that article's customer words, from repeated evidence only.
    learn: bool = True
    learn_block: list[str] = field(default_factory=list)  # words never learned
    learn_min_days: int = 3  # distinct days with such a click (the collector keeps no visitor id)
    learn_min_share: float = 0.3  # share of the clicks of searches with that word


@dataclass
class Plausible:
    domain: str = ""
    src: str = "https://plausible.io/js/script.js"
    api_host: str = ""


@dataclass
class GA4:
    measurement_id: str = ""


@dataclass
class Matomo:
    url: str = ""
    site_id: str | int = ""


@dataclass
class Umami:
    website_id: str = ""
    src: str = ""


@dataclass
class Beacon:
    url: str = ""


@dataclass
class AnalyticsSource:
    type: str = ""  # plausible | ga4 | matomo | umami | csv | collector
    path: str = ""
    kind: str = ""  # "" (detect from the file) | pages | searches | no_results | result_clicks | votes | contacts


@dataclass
class Analytics:
    respect_dnt: bool = True
    window_days: int = 90
    sources: list[AnalyticsSource] = field(default_factory=list)
    plausible: Plausible | None = None
    ga4: GA4 | None = None
    matomo: Matomo | None = None
    umami: Umami | None = None
    beacon: Beacon | None = None


@dataclass
class Check:
    stale_after: int = 12  # months
    # A multilingual site: are articles missing in a language (and links to them) warnings, which
    # `kbgen check --strict` fails on? Off: they are notes, and --strict fails only on outdated ones.
    require_translations: bool = False


@dataclass
class Build:
    workers: int = 0  # 0 → one per core


@dataclass
class WidgetSuggest:
    match: str | list[str] = ""  # host page path glob(s), e.g. "/checkout*"
    articles: list[str] = field(default_factory=list)  # content source paths
    tags: list[str] = field(default_factory=list)


@dataclass
class Widget:  # the embeddable help widget (kbgen/widget.py)
    enabled: bool = False
    hosts: list[str] = field(default_factory=list)  # origins allowed to embed and message it
    position: str = "right"
    color: str = ""  # "" → brand.brand_color
    suggest: list[WidgetSuggest] = field(default_factory=list)


@dataclass
class Deploy:
    redirects: list[str] = field(default_factory=list)  # hosts: DEPLOY_HOSTS


@dataclass
class Language:  # [languages.<code>] (kbgen/languages.py): one language of a multilingual help centre
    name: str = ""  # shown in the language switcher ("Français"); "" → the code
    title: str = ""  # overrides the site's `title` for this language
    description: str = ""  # overrides the site's `description`
    search_language: str = ""  # Snowball stemmer and stop words; "" → the code
    ui_language: str = ""  # themes/*/i18n/<ui_language>.json; "" → the code
    prefix: str = ""  # URL prefix ("fr" → /fr/…); "" → the code, or none for the default language
    default: bool = False  # the language at `/` (or under its prefix); "" → the first listed


@dataclass
class Config:
    title: str = "Help Centre"
    description: str = ""
    base_url: str = "/"
    site_url: str = ""
    language: str = "en"
    content_dir: str = "content"
    output_dir: str = "site"
    static_dir: str = "static"
    theme: str = "default"
    copyright: str = ""
    brand: Brand = field(default_factory=Brand)
    footer_links: list[FooterLink] = field(default_factory=list)
    header_links: list[FooterLink] = field(default_factory=list)  # [[header_links]]: "Back to shop", …
    announcement: str | Announcement = ""  # one line above the home page's categories, or [announcement]
    contact: Contact = field(default_factory=Contact)
    search: Search = field(default_factory=Search)
    analytics: Analytics = field(default_factory=Analytics)
    check: Check = field(default_factory=Check)
    build: Build = field(default_factory=Build)
    widget: Widget = field(default_factory=Widget)
    deploy: Deploy = field(default_factory=Deploy)
    hooks: list[str] = field(default_factory=list)  # MkDocs-style hooks files (kbgen.plugins)
    plugins: dict[str, Any] = field(default_factory=dict)  # [plugins.<name>]: installed plugins and options
    languages: dict[str, Language] = field(default_factory=dict)  # [languages.<code>] (kbgen/languages.py)
    # Not from the file: where it was read from.
    root: Path = field(default=Path("."), metadata={"internal": True})
    path: Path | None = field(default=None, metadata={"internal": True})
    # Set by kbgen/languages.py on each language's own config of a multilingual site: its code and URL prefix.
    i18n_lang: str = field(default="", metadata={"internal": True})
    i18n_prefix: str = field(default="", metadata={"internal": True})

    @property
    def content_path(self) -> Path:
        return (self.root / self.content_dir).resolve()

    @property
    def output_path(self) -> Path:
        return (self.root / self.output_dir).resolve()

    @property
    def cache_path(self) -> Path:
        return (self.root / ".kbgen").resolve()

    @property
    def search_language(self) -> str:
        return self.search.language or self.language

    def announcement_shown(self, today: date | None = None) -> Announcement | None:
        """The announcement to show on `today` (a one-line string or the [announcement] table), or None."""
        a = self.announcement
        if isinstance(a, str):
            return Announcement(text=a) if a.strip() else None
        if isinstance(a.expires, date) and a.expires < (today or date.today()):
            return None
        return a if a.text.strip() else None

    @property
    def base_path(self) -> str:
        """The path part of `base_url`, always starting and ending with "/"."""
        base = self.base_url
        if "://" in base:
            base = "/" + base.split("://", 1)[1].partition("/")[2]
        return "/" + base.strip("/") + "/" if base.strip("/") else "/"


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return "array"
    if dataclasses.is_dataclass(tp):
        return "table"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(tp, str(tp))


def _convert(value: Any, tp: Any, key: str, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        for arg in args[:-1]:
            try:
                return _convert(value, arg, key, where)
            except ConfigError:
                continue
        return _convert(value, args[-1], key, where)
    if origin is dict:  # [plugins.<name>] tables: each plugin validates its own (kbgen.plugins)
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ConfigError(f"{where}: `{key}` must be a table of tables, like [{key}.NAME]")
        item_tp = typing.get_args(tp)[1]
        if dataclasses.is_dataclass(item_tp):  # [languages.<code>]
            return {k: _build(item_tp, v, f"{key}.{k}.", where) for k, v in value.items()}
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: `{key}` must be a table, not {type(value).__name__}")
        return _build(tp, value, key + ".", where)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: `{key}` must be an array, not {type(value).__name__}")
        return [_convert(v, item_tp, f"{key}[{i}]", where) for i, v in enumerate(value)]
    ok = isinstance(value, tp) and not (tp in (int, float) and isinstance(value, bool))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(
            f"{where}: `{key}` must be a {_type_name(tp)}, not {type(value).__name__} ({value!r})"
        )
    return value


def _build(cls: Any, data: dict[str, Any], prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean `{prefix}{close[0]}`?)" if close else ""
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{where}: unknown key `{prefix}{key}`{hint}; known keys here: {known}")
        values[key] = _convert(value, hints[key], prefix + key, where)
    return cls(**values)


def config_from_dict(data: dict[str, Any], root: Path, where: str = CONFIG_NAME) -> Config:
    config: Config = _build(Config, data, "", where)
    config.root = root.resolve()
    _check_values(config, where)
    return config


def checked_base_url(value: str, where: str, key: str = "base_url") -> str:
    """`value` as a base URL ending in "/", or a ConfigError naming `where` and `key`.

    Used for `base_url` in kbgen.toml and for `--base-url` on the command line alike."""
    if not value.endswith("/"):
        value += "/"
    if not (value.startswith("/") or "://" in value):
        raise ConfigError(f"{where}: `{key}` must start with / or be an absolute URL, not {value!r}")
    _check_url(value, key, where)
    return value


def _check_values(config: Config, where: str) -> None:
    config.base_url = checked_base_url(config.base_url, where)
    if config.site_url and "://" not in config.site_url:
        raise ConfigError(f"{where}: `site_url` must be an absolute URL like https://help.example.com")
    config.site_url = config.site_url.rstrip("/")
    if config.check.stale_after < 1:
        raise ConfigError(f"{where}: `check.stale_after` must be at least 1 (months)")
    _check_analytics(config.analytics, where)
    if config.search.learn_min_days < 2:
        raise ConfigError(f"{where}: `search.learn_min_days` must be at least 2: one day can be one visitor")
    if not 0 < config.search.learn_min_share <= 1:
        raise ConfigError(f"{where}: `search.learn_min_share` must be above 0 and at most 1")
    _check_page_values(config, where)
    check_widget_config(config.widget, where)
    _check_deploy(config.deploy, where)
    _check_languages(config, where)


LANG_PREFIX = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")
RESERVED_PREFIXES = {"static", "_search", "_widget", "search", "tags", ".kbgen-deploy"}


def _check_languages(config: Config, where: str) -> None:
    """[languages]: codes, stemmers and prefixes checked (kbgen/languages.py uses them); one language is the
    default (the one marked `default = true`, else the first listed)."""
    if not config.languages:
        return
    from whoosh.lang import has_stemmer, languages

    from .search.schema import SNOWBALL_PACKAGE

    defaults = [code for code, lang in config.languages.items() if lang.default]
    if len(defaults) > 1:
        raise ConfigError(f"{where}: `languages.{defaults[1]}.default`: only one language can be the default "
                          f"(`languages.{defaults[0]}` is already)")  # fmt: skip
    prefixes: dict[str, str] = {}
    for code, lang in config.languages.items():
        key = f"languages.{code}"
        _check_pattern(code, key, where, r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*", "a language tag like fr or pt-BR")
        search = lang.search_language or code
        primary = search.lower().replace("_", "-").split("-")[0]
        if not (has_stemmer(primary) or primary in SNOWBALL_PACKAGE):
            known = " ".join(sorted({*languages, *SNOWBALL_PACKAGE}))
            raise ConfigError(f"{where}: `{key}.search_language`: no Snowball stemmer for {search!r} "
                              f"(known: {known})")  # fmt: skip
        _check_pattern(lang.ui_language or code, f"{key}.ui_language", where,
                       r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*", "a language tag like fr or pt-BR")  # fmt: skip
        is_default = code == (defaults[0] if defaults else next(iter(config.languages)))
        prefix = lang.prefix.strip("/") or ("" if is_default else code.lower())
        if prefix and (not LANG_PREFIX.fullmatch(prefix) or prefix in RESERVED_PREFIXES):
            raise ConfigError(f"{where}: `{key}.prefix` must be one URL segment of a-z, 0-9 and - (not "
                              f"{', '.join(sorted(RESERVED_PREFIXES))}), not {lang.prefix!r}")  # fmt: skip
        if prefix in prefixes:
            raise ConfigError(f"{where}: `{key}.prefix`: {prefix or '/'!r} is already "
                              f"`languages.{prefixes[prefix]}`'s")  # fmt: skip
        prefixes[prefix] = code
        lang.prefix, lang.default = prefix, is_default
        for text_key in ("title", "description", "name"):
            if "\n" in getattr(lang, text_key).strip():
                raise ConfigError(f"{where}: `{key}.{text_key}` must be one line")


def _check_deploy(deploy: Deploy, where: str) -> None:
    HOSTS = DEPLOY_HOSTS
    for i, host in enumerate(deploy.redirects):
        if host not in HOSTS:
            close = difflib.get_close_matches(host, HOSTS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{where}: `deploy.redirects[{i}]` must be one of {', '.join(HOSTS)}, not {host!r}{hint}"
            )
    if {"netlify", "cloudflare"} <= set(deploy.redirects):
        raise ConfigError(
            f"{where}: `deploy.redirects` lists both netlify and cloudflare, which read the same `_redirects` "
            "file in different dialects: keep the one you deploy to"
        )


def _check_analytics(an: Analytics, where: str) -> None:
    kinds = {"plausible", "ga4", "matomo", "umami", "csv", "collector"}
    for i, src in enumerate(an.sources):
        if src.type not in kinds:
            raise ConfigError(
                f"{where}: `analytics.sources[{i}].type` must be one of {', '.join(sorted(kinds))}, not {src.type!r}"
            )
        if not src.path:
            raise ConfigError(f"{where}: `analytics.sources[{i}].path` is required")
        kinds_ok = ("pages", "searches", "no_results", "result_clicks", "votes", "contacts")  # importers.KINDS
        if src.kind not in ("", *kinds_ok):
            raise ConfigError(
                f"{where}: `analytics.sources[{i}].kind` must be one of {', '.join(kinds_ok)}, not {src.kind!r}"
            )
    if an.window_days < 1:
        raise ConfigError(f"{where}: `analytics.window_days` must be at least 1")
    if an.ga4 is not None and not re.fullmatch(r"G-[A-Z0-9]+", an.ga4.measurement_id):
        raise ConfigError(f"{where}: `analytics.ga4.measurement_id` must look like G-XXXXXXXXXX")
    if an.matomo is not None:
        an.matomo.site_id = str(an.matomo.site_id)
        if not re.match(r"https?://", an.matomo.url):
            raise ConfigError(f"{where}: `analytics.matomo.url` must be an http(s):// URL")
        if not an.matomo.site_id:
            raise ConfigError(f"{where}: `analytics.matomo.site_id` is required")
    if an.umami is not None and not an.umami.website_id:
        raise ConfigError(f"{where}: `analytics.umami.website_id` is required")
    if an.beacon is not None and not (re.match(r"https?://", an.beacon.url) or an.beacon.url.startswith("/")):
        raise ConfigError(
            f"{where}: `analytics.beacon.url` must be an http(s):// URL or a path starting with /"
        )
    if an.plausible is not None and not an.plausible.domain and "/pa-" not in an.plausible.src:
        raise ConfigError(f"{where}: `analytics.plausible.domain` is required")


# -- values that reach the theme's and the report's HTML, CSS and JS ------------------------------------------
# Jinja escapes them for HTML, but not for CSS (brand colours go into a <style> element) nor for what a URL
# does when followed (javascript:): so each is checked for what it is, and refused with its key named.

_CSS_COLOR = re.compile(
    r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})"
    r"|(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\([0-9a-zA-Z.,%/ +-]*\)"
    r"|[a-zA-Z]{3,30}"
)
# Characters no URL or path of ours needs, that change how HTML, CSS or a browser's URL parser reads it.
_URL_BAD = re.compile("[\x00-\x20\x7f-\x9f\"'<>\\\\`{}|^\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def is_css_color(value: object) -> bool:
    """A plain CSS colour (#rgb, #rrggbb(aa), rgb()/hsl()/… with numbers, or a colour name): nothing that
    can end a declaration or a <style> element."""
    return isinstance(value, str) and _CSS_COLOR.fullmatch(value) is not None


def _check_url(
    value: str, key: str, where: str, schemes: tuple[str, ...] = ("http", "https"), paths: bool = True
) -> None:
    """`value` is a URL with one of `schemes` (http(s) ones with a host) or, with `paths`, a site path."""
    if not value:
        return
    allowed = " or ".join(f"{s}:" for s in schemes) + (" URL or a path" if paths else " URL")
    parts = None
    if not _URL_BAD.search(value):
        try:
            parts = urlsplit(value)
        except ValueError:
            parts = None
    ok = parts is not None and (
        (parts.scheme.casefold() in schemes and (parts.netloc or parts.scheme not in ("http", "https")))
        or (not parts.scheme and paths and (parts.netloc or not value.startswith("//")))
    )
    if not ok:
        raise ConfigError(f"{where}: `{key}` must be an {allowed} (no spaces, quotes or <>), not {value!r}")


def _check_pattern(value: str, key: str, where: str, pattern: str, what: str) -> None:
    if value and not re.fullmatch(pattern, value):
        raise ConfigError(f"{where}: `{key}` must be {what}, not {value!r}")


def _check_announcement(config: Config, where: str) -> None:
    a = config.announcement
    text, key = (a, "announcement") if isinstance(a, str) else (a.text, "announcement.text")
    if len(text) > 300 or "\n" in text.strip():
        raise ConfigError(f"{where}: `{key}` must be one line of at most 300 characters")
    if isinstance(a, str):
        return
    if not a.text.strip():
        raise ConfigError(f"{where}: `announcement.text` must not be empty")
    _check_url(a.link, "announcement.link", where)
    if isinstance(a.expires, str) and a.expires:
        try:
            a.expires = date.fromisoformat(a.expires)
        except ValueError:
            raise ConfigError(
                f"{where}: `announcement.expires` must be a date like 2027-01-31, not {a.expires!r}"
            ) from None
    if isinstance(a.expires, datetime):
        a.expires = a.expires.date()


def _check_page_values(config: Config, where: str) -> None:
    for key in ("brand_color", "accent_color"):
        value = getattr(config.brand, key)
        if value and not is_css_color(value):
            raise ConfigError(
                f"{where}: `brand.{key}` must be a CSS colour like #0b5cad, rgb(11 92 173) or a colour "
                f"name, not {value!r}"
            )
    for key in ("logo", "favicon", "logo_dark", "hero_image"):
        value = getattr(config.brand, key)
        if value.startswith("data:"):
            _check_pattern(value, f"brand.{key}", where, r"data:image/[a-z0-9.+-]+(;[a-z0-9=.+-]+)*,[^\s\"'<>\\]*",
                           "a data:image/… URL, an http(s): URL or a path")  # fmt: skip
        else:
            _check_url(value, f"brand.{key}", where)
    _check_url(config.site_url, "site_url", where, paths=False)
    _check_pattern(config.language, "language", where, r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*",
                   "a language tag like en or pt-BR")  # fmt: skip
    for i, link in enumerate(config.footer_links):
        _check_url(link.url, f"footer_links[{i}].url", where, ("http", "https", "mailto", "tel"))
    for i, link in enumerate(config.header_links):
        if not link.title.strip():
            raise ConfigError(f"{where}: `header_links[{i}].title` must not be empty")
        _check_url(link.url, f"header_links[{i}].url", where, ("http", "https", "mailto", "tel"))
        if not link.url:
            raise ConfigError(f"{where}: `header_links[{i}].url` must not be empty")
    _check_announcement(config, where)
    from .brand import font_error

    problem = font_error(config.brand.font)
    if problem:
        raise ConfigError(f"{where}: `brand.font` {problem}")
    c = config.contact
    _check_pattern(c.timezone, "contact.timezone", where, r"[A-Za-z_]+(?:/[A-Za-z0-9_+-]+){0,2}|UTC",
                   "an IANA time zone like Europe/London")  # fmt: skip
    for key in ("chat_url", "messenger_url", "form_url"):
        _check_url(getattr(c, key), f"contact.{key}", where)
    _check_pattern(c.email, "contact.email", where, r"[^\s@\"'<>\\?&#/]+@[A-Za-z0-9.-]+", "an e-mail address")
    _check_pattern(c.phone, "contact.phone", where, r"\+?[0-9][0-9 ().\-/]*",
                   "a phone number like +44 20 7946 0958")  # fmt: skip
    an = config.analytics
    if an.plausible is not None:
        _check_url(an.plausible.src, "analytics.plausible.src", where)
        _check_url(an.plausible.api_host, "analytics.plausible.api_host", where)
        _check_pattern(an.plausible.domain, "analytics.plausible.domain", where, r"[A-Za-z0-9.:-]+(?:,[A-Za-z0-9.:-]+)*",
                       "a domain like help.example.com (comma-separated for several)")  # fmt: skip
    if an.matomo is not None:
        _check_url(an.matomo.url, "analytics.matomo.url", where, paths=False)
        _check_pattern(str(an.matomo.site_id), "analytics.matomo.site_id", where, r"[A-Za-z0-9_-]+",
                       "a site id like 3")  # fmt: skip
    if an.umami is not None:
        _check_url(an.umami.src, "analytics.umami.src", where)
        _check_pattern(an.umami.website_id, "analytics.umami.website_id", where, r"[A-Za-z0-9-]+",
                       "a website id like 4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b")  # fmt: skip
    if an.beacon is not None:
        _check_url(an.beacon.url, "analytics.beacon.url", where)


def load_config(path: Path | None = None, *, root: Path | None = None) -> Config:
    """Read and validate `kbgen.toml`; with no file, the defaults (content/ → site/) rooted at `root`."""
    if path is None:
        root = (root or Path.cwd()).resolve()
        candidate = root / CONFIG_NAME
        if not candidate.exists():
            return config_from_dict({}, root)
        path = candidate
    path = path.resolve()
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    config = config_from_dict(data, path.parent, where=path.name)
    config.path = path
    return config


# [widget] (kbgen/widget.py builds it from these)
WIDGET_POSITIONS = ("right", "left")
_WIDGET_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_WIDGET_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?")
WIDGET_MAX_RULES = 200
WIDGET_MAX_GLOB = 200
# [deploy] redirects: the hosts kbgen/deploy.py writes rules for
DEPLOY_HOSTS = ("netlify", "cloudflare", "vercel", "azure", "s3", "nginx", "apache")


def _widget_where(where: str, key: str) -> str:
    return f"{where}: `{key}`"


def check_widget_config(w: Widget, where: str) -> None:
    """Check `[widget]` (kbgen/widget.py builds it): every error names its key."""
    hosts = []
    for i, host in enumerate(w.hosts):
        h = host.strip().rstrip("/")
        if not _WIDGET_ORIGIN.fullmatch(h):
            raise ConfigError(
                f"{_widget_where(where, f'widget.hosts[{i}]')} must be an origin (scheme, host, optional port; "
                f"no path) like https://shop.example, not {host[:100]!r}"
            )
        hosts.append(h.lower())
    w.hosts = list(dict.fromkeys(hosts))
    if w.enabled and not w.hosts:
        raise ConfigError(
            f"{_widget_where(where, 'widget.hosts')} is required when `widget.enabled` is true: the origins of the "
            'shop pages that embed the widget, e.g. hosts = ["https://shop.example"]'
        )
    if w.position not in WIDGET_POSITIONS:
        raise ConfigError(
            f"{_widget_where(where, 'widget.position')} must be one of {', '.join(WIDGET_POSITIONS)}, not {w.position[:40]!r}"
        )
    if w.color and not _WIDGET_COLOR.fullmatch(w.color):
        raise ConfigError(
            f"{_widget_where(where, 'widget.color')} must be a hex colour like #0b5cad, not {w.color[:40]!r}"
        )
    if len(w.suggest) > WIDGET_MAX_RULES:
        raise ConfigError(f"{_widget_where(where, 'widget.suggest')} has more than {WIDGET_MAX_RULES} rules")
    for i, rule in enumerate(w.suggest):
        key = f"widget.suggest[{i}]"
        globs = [rule.match] if isinstance(rule.match, str) else rule.match
        if not globs or not all(globs):
            raise ConfigError(
                f'{_widget_where(where, key + ".match")} is required: a host page path like "/checkout*"'
            )
        for j, g in enumerate(globs):
            k = f"{key}.match" + (f"[{j}]" if not isinstance(rule.match, str) else "")
            if not g.startswith("/"):
                raise ConfigError(f"{_widget_where(where, k)} must be a path starting with /, not {g[:100]!r}")
            if len(g) > WIDGET_MAX_GLOB or re.search(r"[\x00-\x20#]", g):
                raise ConfigError(
                    f"{_widget_where(where, k)} must be a path glob of at most {WIDGET_MAX_GLOB} characters with no spaces "
                    f"or #, not {g[:100]!r}"
                )
        rule.match = globs
        if not rule.articles and not rule.tags:
            raise ConfigError(f"{_widget_where(where, key)} needs `articles` or `tags`")
