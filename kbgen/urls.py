"""URL policy: the one place that turns a site URL into the file it is written to, and back.

A page's URL is a folder (`/orders/tracking/`); its file is that folder's `index.html`. An alias (an old
URL, checked by `safepath.alias_site_path`) is written the same way, or as itself when it names an `.html`
file. A content file (an image, a PDF) is published at `asset_site_path`. `path_of` is the reverse: an output file → the path a browser shows for it under the base path.
"""

from __future__ import annotations

from urllib.parse import quote

from .safepath import check_relative
from .slugs import name_slug


def page_output(url: str) -> str:
    """The site-relative file of a page URL: `/orders/x/` → `orders/x/index.html`, `/` → `index.html`."""
    path = url.strip("/")
    return f"{path}/index.html" if path else "index.html"


def alias_output(site_path: str) -> str:
    """The file an alias (a site path from `alias_site_path()`) is written to, site-relative:
    `old/page/index.html`, or `old/page.html` as it is. ValueError if that could leave the site."""
    path = site_path.strip("/")
    out = path if path.endswith((".html", ".htm")) else f"{path}/index.html"
    why = check_relative(out)
    if why is not None:
        raise ValueError(f"the alias {site_path!r} {why}")
    return out


def path_of(output: str, base_path: str = "/") -> str:
    """An output file → the path a browser shows for it under `base_path` (`a/index.html` → `/a/`)."""
    if output == "index.html":
        rel = ""
    elif output.endswith("/index.html"):
        rel = output[: -len("index.html")]
    else:
        rel = output
    return base_path + rel


def asset_site_path(rel: str) -> str:
    """Site path of a content file: folders slugified like categories, the file name kept (URL-quoted)."""
    parts = rel.split("/")
    folders = [name_slug(p) or p for p in parts[:-1]]
    return "/" + "/".join([*folders, quote(parts[-1])])
