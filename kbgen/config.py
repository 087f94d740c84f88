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
from pathlib import Path
from typing import Any

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


@dataclass
class FooterLink:
    title: str = ""
    url: str = ""


@dataclass
class Contact:
    email: str = ""
    phone: str = ""
    phone_hours: str = ""
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
    kind: str = ""  # "" (detect from the file) | pages | searches | no_results


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


@dataclass
class Build:
    workers: int = 0  # 0 → one per core


@dataclass
class Deploy:
    redirects: list[str] = field(default_factory=list)  # hosts: see kbgen.deploy.HOSTS


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
    contact: Contact = field(default_factory=Contact)
    search: Search = field(default_factory=Search)
    analytics: Analytics = field(default_factory=Analytics)
    check: Check = field(default_factory=Check)
    build: Build = field(default_factory=Build)
    deploy: Deploy = field(default_factory=Deploy)
    hooks: list[str] = field(default_factory=list)  # MkDocs-style hooks files (kbgen.plugins)
    plugins: dict[str, Any] = field(default_factory=dict)  # [plugins.<name>]: installed plugins and options
    # Not from the file: where it was read from.
    root: Path = field(default=Path("."), metadata={"internal": True})
    path: Path | None = field(default=None, metadata={"internal": True})

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


def _check_values(config: Config, where: str) -> None:
    if not config.base_url.endswith("/"):
        config.base_url += "/"
    if not (config.base_url.startswith("/") or "://" in config.base_url):
        raise ConfigError(
            f"{where}: `base_url` must start with / or be an absolute URL, not {config.base_url!r}"
        )
    if config.site_url and "://" not in config.site_url:
        raise ConfigError(f"{where}: `site_url` must be an absolute URL like https://help.example.com")
    config.site_url = config.site_url.rstrip("/")
    if config.check.stale_after < 1:
        raise ConfigError(f"{where}: `check.stale_after` must be at least 1 (months)")
    _check_analytics(config.analytics, where)
    _check_deploy(config.deploy, where)


def _check_deploy(deploy: Deploy, where: str) -> None:
    from .deploy import HOSTS

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
        if src.kind not in ("", "pages", "searches", "no_results"):
            raise ConfigError(
                f"{where}: `analytics.sources[{i}].kind` must be pages, searches or no_results, not {src.kind!r}"
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
