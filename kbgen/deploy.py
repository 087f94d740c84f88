"""Host configuration written at the end of a build: real HTTP 301s for old URLs, and cache headers.

Opt-in with ``[deploy] redirects = ["netlify", ...]`` in `kbgen.toml`. Every article's `aliases`, and every
URL an article had in an earlier build (same `id`, new address: a renamed slug or a moved file with an `id`),
become a redirect in each chosen host's own format. The meta-refresh pages stay as the fallback for hosts
that ignore the file.

Old URLs are untrusted text (front matter). Each format gets them in a form that cannot break out of its
syntax: a path is first decoded to its canonical form, control characters and dot segments are refused
(with a warning naming the file), and then it is written percent-encoded (`_redirects`, Vercel, Azure), as a
JSON string (S3), or as a regular expression of only `[A-Za-z0-9/_-]` and `\\xHH` escapes (nginx, Apache).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from .config import DEPLOY_HOSTS, Config
from .content.model import Library
from .errors import Problem

HOSTS = DEPLOY_HOSTS
# Files that are configuration for a server, not pages: written beside the site's pages, in this folder.
CONFIG_DIR = ".kbgen-deploy"
HISTORY_FILE = "url-history.json"

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=0, must-revalidate"
S3_MAX_RULES = 50  # S3 accepts at most 50 routing rules in a website configuration
CLOUDFLARE_MAX = 2000  # static redirects per Cloudflare Pages project

_SAFE = re.compile(r"[A-Za-z0-9/._~-]*")
_REGEX_SAFE = re.compile(r"[A-Za-z0-9/_-]")
_HASHED = re.compile(r"^([a-z]+\.[0-9a-f]{12}\.)(?:\d+\.)?json$")


@dataclass(frozen=True)
class Redirect:
    source: str  # decoded site path, base path included: "/help/old page/"
    target: str  # percent-encoded site path of the new page: "/help/orders/track/"
    origin: str  # what asked for it, for messages: "orders/track.md"


def _clean_path(raw: str) -> str | None:
    """The canonical decoded form of a site path, or None when it cannot be a safe redirect source."""
    path = unquote(raw.strip())
    if not path.startswith("/") or len(path) > 900:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c in "\\?#" for c in path):
        return None
    if any(seg in (".", "..") for seg in path.split("/")):
        return None
    return re.sub(r"/{2,}", "/", path)


def encode_path(path: str) -> str:
    """A decoded site path as it must appear in a URL: every byte but unreserved ones and "/" escaped."""
    return quote(path, safe="/")


def _byte_regex(path: str) -> str:
    """A regular expression matching exactly `path` (decoded), written in `[A-Za-z0-9/_-]` and `\\xHH`."""
    out = []
    for b in path.encode("utf-8"):
        ch = chr(b)
        out.append(ch if b < 0x80 and _REGEX_SAFE.fullmatch(ch) else f"\\x{b:02X}")
    return "".join(out)


def _pretty(source: str) -> bool:
    """A folder-style URL (served as <path>/index.html), as opposed to a file name like /old.html."""
    return not source.lower().endswith((".html", ".htm"))


def _variants(source: str) -> list[str]:
    """The request paths one old URL answers to: a pretty URL with and without its trailing slash."""
    if _pretty(source) and source != "/":
        stem = source.rstrip("/")
        return [stem, stem + "/"]
    return [source]


def _regex(source: str) -> str:
    """An anchored regular expression for the request paths of `_variants(source)`."""
    if _pretty(source):
        return "^" + _byte_regex(source.rstrip("/")) + "/?$"
    return "^" + _byte_regex(source) + "$"


class _History:
    """Every URL each article (by `id`) had in earlier builds, kept in the build cache."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.urls: dict[str, list[str]] = {
                str(k): [str(u) for u in v] for k, v in data.items() if isinstance(v, list)
            }
        except (OSError, ValueError, AttributeError):
            self.urls = {}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.urls, sort_keys=True, indent=0), encoding="utf-8")
        tmp.replace(self.path)


def collect_redirects(
    config: Config, library: Library, *, history: _History | None = None
) -> tuple[list[Redirect], list[Problem], list[tuple[str, object]]]:
    """The redirects of a site: (redirects, warnings, renamed [(old site path, article)] for fallback pages)."""
    base = config.base_path.rstrip("/")
    problems: list[Problem] = []
    live: set[str] = {base + "/"}
    for a in library.articles:
        live.add(base + a.url)
    for cat in library.categories:
        live.add(base + cat.url)
        live.update(base + s.url for s in cat.sections)
    seen: dict[str, Redirect] = {}
    renamed: list[tuple[str, object]] = []

    def add(raw: str, article: object, origin: str, *, warn: bool) -> bool:
        source = _clean_path(base + raw if raw.startswith("/") else raw)
        if source is None:
            if warn:
                problems.append(
                    Problem(origin, 0, f"alias {raw[:120]!r} is not a plain site path: no host redirect written", "warning", code="redirect")
                )
            return False
        target = encode_path(unquote(base + article.url))  # type: ignore[attr-defined]
        key = source.rstrip("/") + "/" if _pretty(source) else source
        if key in live or key in seen:
            return False
        seen[key] = Redirect(source, target, origin)
        return True

    for a in library.articles:
        for alias in a.aliases:
            add(alias, a, a.source, warn=True)
    if history is not None:
        for a in library.articles:
            past = history.urls.setdefault(a.id, [])
            for old in past:
                if old != a.url and add(old, a, a.source, warn=False):
                    renamed.append((old, a))
            if a.url not in past:
                past.append(a.url)
                del past[:-20]  # bounded: the last 20 addresses of an article
    return sorted(seen.values(), key=lambda r: r.source), problems, renamed


# -- one writer per host --------------------------------------------------------------------------------


def _search_files(staging: Path) -> tuple[list[str], list[str]]:
    """(fixed-name files, hashed-name prefixes) of the exported search index."""
    fixed, prefixes = [], set()
    folder = staging / "_search"
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            m = _HASHED.match(p.name)
            if m:
                prefixes.add(m.group(1))
            elif p.is_file():
                fixed.append(p.name)
    return fixed, sorted(prefixes)


@dataclass
class _Cache:
    """Which paths get which Cache-Control: exact paths, and path prefixes (immutable)."""

    short_exact: list[str]
    immutable_exact: list[str]
    immutable_prefix: list[str]


def _cache_plan(config: Config, staging: Path, theme_static: list[str]) -> _Cache:
    base = encode_path(config.base_path.rstrip("/"))
    fixed, prefixes = _search_files(staging)
    return _Cache(
        short_exact=[f"{base}/_search/{n}" for n in fixed],
        # The theme's files are always linked with ?v=<hash of the file>: a new file is a new URL.
        immutable_exact=[f"{base}/static/{encode_path(n)}" for n in theme_static],
        immutable_prefix=[f"{base}/_search/{p}" for p in prefixes],
    )


def _redirects_file(redirects: list[Redirect], status: str) -> str:
    lines = ["# Written by kbgen: old URLs → their article (HTTP 301). Rebuilt on every build."]
    for r in redirects:
        for src in _variants(r.source):
            lines.append(f"{encode_path(src)} {r.target} {status}")
    return "\n".join(lines) + "\n"


def _headers_file(cache: _Cache, *, html_rule: bool) -> str:
    lines = ["# Written by kbgen: cache headers. Rebuilt on every build."]
    if html_rule:  # Cloudflare: a default for every path; the rules below detach it and set their own
        lines += ["/*", f"  Cache-Control: {SHORT}"]
    for path in cache.short_exact:
        lines += [path] + (["  ! Cache-Control"] if html_rule else []) + [f"  Cache-Control: {SHORT}"]
    for path in cache.immutable_exact + [p + "*" for p in cache.immutable_prefix]:
        lines += [path] + (["  ! Cache-Control"] if html_rule else []) + [f"  Cache-Control: {IMMUTABLE}"]
    return "\n".join(lines) + "\n"


def _vercel(redirects: list[Redirect], cache: _Cache, config: Config) -> str:
    base = encode_path(config.base_path.rstrip("/"))
    rules = [
        {"source": encode_path(src), "destination": r.target, "statusCode": 301}
        for r in redirects
        for src in _variants(r.source)
    ]

    def hdr(value: str) -> list[dict[str, str]]:
        return [{"key": "Cache-Control", "value": value}]

    headers = [{"source": f"{base}/((?!_search/|static/).*)", "headers": hdr(SHORT)}]
    headers += [{"source": p, "headers": hdr(SHORT)} for p in cache.short_exact]
    headers += [{"source": p, "headers": hdr(IMMUTABLE)} for p in cache.immutable_exact]
    headers += [{"source": p + "(.*)", "headers": hdr(IMMUTABLE)} for p in cache.immutable_prefix]
    doc = {"$schema": "https://openapi.vercel.sh/vercel.json", "redirects": rules, "headers": headers}
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def _azure(redirects: list[Redirect], cache: _Cache) -> str:
    routes: list[dict[str, object]] = [
        {"route": encode_path(src), "redirect": r.target, "statusCode": 301}
        for r in redirects
        for src in _variants(r.source)
    ]
    routes += [{"route": p, "headers": {"Cache-Control": SHORT}} for p in cache.short_exact]
    routes += [{"route": p, "headers": {"Cache-Control": IMMUTABLE}} for p in cache.immutable_exact]
    routes += [{"route": p + "*", "headers": {"Cache-Control": IMMUTABLE}} for p in cache.immutable_prefix]
    doc = {
        "routes": routes,
        "responseOverrides": {"404": {"rewrite": "/404.html"}},
        "globalHeaders": {"Cache-Control": SHORT},
    }
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def _s3(redirects: list[Redirect], config: Config, staging: Path) -> tuple[str, list[Problem]]:
    """`aws s3api put-bucket-website --website-configuration file://…` input: exact keys as prefixes."""
    problems: list[Problem] = []
    site = urlsplit(config.site_url) if config.site_url else None
    files = [p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()]
    rules = []
    for r in sorted(redirects, key=lambda r: (-len(r.source), r.source)):
        # S3 matches key *prefixes*: a pretty URL's prefix keeps its "/" (so /old-page never catches
        # /old-pages/), and a rule whose prefix would also catch a real page is left out.
        prefix = r.source.strip("/") + "/" if _pretty(r.source) else r.source.lstrip("/")
        own = prefix + "index.html" if _pretty(r.source) else prefix
        if any(f.startswith(prefix) and f != own for f in files):
            problems.append(
                Problem(r.origin, 0, f"S3: old URL {r.source[:120]!r} is a prefix of live pages: "
                        "no routing rule (its meta-refresh page still redirects)", "warning", code="redirect")
            )  # fmt: skip
            continue
        redirect: dict[str, str] = {"ReplaceKeyWith": unquote(r.target).lstrip("/"), "HttpRedirectCode": "301"}
        if site is not None and site.hostname:
            redirect = {"Protocol": site.scheme, "HostName": site.netloc, **redirect}
        rules.append({"Condition": {"KeyPrefixEquals": prefix}, "Redirect": redirect})
    if len(rules) > S3_MAX_RULES:
        problems.append(
            Problem("kbgen.toml", 0, f"S3 takes at most {S3_MAX_RULES} routing rules; {len(rules) - S3_MAX_RULES} "
                    "old URLs are left out of s3-website.json (their meta-refresh pages still redirect)", "warning", code="redirect")
        )  # fmt: skip
        rules = rules[:S3_MAX_RULES]
    doc: dict[str, object] = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"}}
    if rules:
        doc["RoutingRules"] = rules
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n", problems


def _nginx_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _nginx(redirects: list[Redirect], cache: _Cache) -> tuple[str, str]:
    """(the `map`, for the http block; the server-block part that uses it and sets cache headers)."""
    lines = [
        "# Written by kbgen. In the http {} block: include this file.",
        "map $uri $kbgen_redirect {",
        "    default \"\";",
    ]
    for r in redirects:
        if _SAFE.fullmatch(r.source):
            for src in _variants(r.source):
                lines.append(f"    {_nginx_quote(src)} {_nginx_quote(r.target)};")
        else:  # $uri is decoded: match its bytes exactly, in a regex that cannot hold a quote or a $
            rx = "~" + _regex(r.source)
            lines.append(f"    {_nginx_quote(rx)} {_nginx_quote(r.target)};")
    lines.append("}")
    server = [
        "# Written by kbgen. In the server {} block that serves the site: include this file.",
        "if ($kbgen_redirect) {",
        "    return 301 $kbgen_redirect;",
        "}",
    ]
    for path in cache.short_exact + cache.immutable_exact:
        value = SHORT if path in cache.short_exact else IMMUTABLE
        server += [f"location = {_nginx_quote(unquote(path))} {{", f'    add_header Cache-Control "{value}";', "}"]
    for prefix in cache.immutable_prefix:
        server += [f"location ^~ {_nginx_quote(unquote(prefix))} {{", f'    add_header Cache-Control "{IMMUTABLE}";', "}"]
    return "\n".join(lines) + "\n", "\n".join(server) + "\n"


def _apache(redirects: list[Redirect], cache: _Cache) -> str:
    lines = ["# Written by kbgen: old URLs → their article (HTTP 301), and cache headers.", "<IfModule mod_alias.c>"]
    for r in redirects:
        rx = _regex(r.source)
        lines.append(f'    RedirectMatch 301 "{rx}" "{r.target}"')
    lines += ["</IfModule>", "<IfModule mod_headers.c>", '    <FilesMatch "\\.html$">',
              f'        Header set Cache-Control "{SHORT}"', "    </FilesMatch>"]  # fmt: skip
    for path in cache.short_exact + cache.immutable_exact:
        value = SHORT if path in cache.short_exact else IMMUTABLE
        rx = "^" + _byte_regex(unquote(path)) + "$"
        lines += [f'    <If "%{{REQUEST_URI}} =~ m#{rx}#">', f'        Header set Cache-Control "{value}"', "    </If>"]
    for prefix in cache.immutable_prefix:
        rx = "^" + _byte_regex(unquote(prefix))
        lines += [f'    <If "%{{REQUEST_URI}} =~ m#{rx}#">', f'        Header set Cache-Control "{IMMUTABLE}"', "    </If>"]
    lines.append("</IfModule>")
    return "\n".join(lines) + "\n"


def write_deploy_files(
    config: Config, library: Library, staging: Path, theme_static: list[str], render_fallback: object = None
) -> list[Problem]:
    """Write the files for every host in `config.deploy.redirects` into `staging`; return warnings.

    `render_fallback(old_path, article)`, when given, writes a meta-refresh page for an article's renamed URL
    (aliases have theirs already)."""
    hosts = config.deploy.redirects
    if not hosts:
        return []
    history = _History(config.cache_path / HISTORY_FILE)
    redirects, problems, renamed = collect_redirects(config, library, history=history)
    if callable(render_fallback):
        for old, article in renamed:
            render_fallback(old, article)
    cache = _cache_plan(config, staging, theme_static)
    out: dict[str, str] = {}
    if "netlify" in hosts:
        # `301!`: redirect even though the old URL's meta-refresh page exists (Netlify serves files first).
        out["_redirects"] = _redirects_file(redirects, "301!")
        out["_headers"] = _headers_file(cache, html_rule=False)
    if "cloudflare" in hosts:
        if len(redirects) * 2 > CLOUDFLARE_MAX:
            problems.append(Problem("kbgen.toml", 0, f"Cloudflare Pages applies at most {CLOUDFLARE_MAX} "
                                    "redirects; the rest fall back to meta-refresh pages", "warning",
                                    code="redirect"))  # fmt: skip
        out["_redirects"] = _redirects_file(redirects, "301")
        out["_headers"] = _headers_file(cache, html_rule=True)
    if "vercel" in hosts:
        out["vercel.json"] = _vercel(redirects, cache, config)
    if "azure" in hosts:
        out["staticwebapp.config.json"] = _azure(redirects, cache)
    if "apache" in hosts:
        out[".htaccess"] = _apache(redirects, cache)
    if "s3" in hosts:
        out[f"{CONFIG_DIR}/s3-website.json"], more = _s3(redirects, config, staging)
        problems += more
    if "nginx" in hosts:
        out[f"{CONFIG_DIR}/nginx-map.conf"], out[f"{CONFIG_DIR}/nginx-server.conf"] = _nginx(redirects, cache)
    for rel, text in out.items():
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    history.save()
    return problems


def write_for_build(config: Config, library: Library, renderer: object, theme: object, staging: Path) -> list[Problem]:
    """`write_deploy_files` as `kbgen build` calls it: theme assets from `theme`, fallback pages by `renderer`."""
    from .render import Page
    from .urls import alias_output

    site_static = config.root / config.static_dir
    names = [n for n in theme.static_files() if not (site_static / n).exists()]  # type: ignore[attr-defined]

    def fallback(old: str, article: object) -> None:
        out = staging / alias_output(old)
        if out.exists():
            return
        page = Page(
            alias_output(old),
            "redirect.html",
            {
                "page": renderer._page("redirect", article.title, article.url),  # type: ignore[attr-defined]
                "target": renderer.absolute_url(article.url) if config.site_url else renderer.url(article.url),  # type: ignore[attr-defined]
                "article": article,
            },
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(renderer.render(page))  # type: ignore[attr-defined]

    return write_deploy_files(config, library, staging, names, fallback)
