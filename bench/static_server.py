"""A static file server for bench/lighthouse.sh that serves a built site the way the hosts `kbgen deploy`
writes configuration for do: gzip for text files when the browser asks for it (every such host compresses:
Netlify, Cloudflare Pages, Vercel, GitHub Pages, nginx with `gzip on`), and the Cache-Control that
kbgen/deploy.py gives the theme's fingerprinted files and the search shards. `python -m http.server` does
neither, which is not how a published help centre reaches a phone.

    python bench/static_server.py SITE_DIR PORT [--plain]

--plain serves like `python -m http.server` (no compression, no Cache-Control), for comparison.
"""

from __future__ import annotations

import gzip
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

TEXT = (".html", ".css", ".js", ".json", ".xml", ".svg", ".txt", ".webmanifest")
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"


class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as any host
    plain = False
    _cache: dict[tuple[str, float], bytes] = {}

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return super().send_head()  # the redirect to the folder's URL with a "/"
            path = path / "index.html"
        wants_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if self.plain or not wants_gzip or path.suffix not in TEXT or not path.is_file():
            return super().send_head()
        key = (str(path), path.stat().st_mtime)
        body = self._cache.get(key)
        if body is None:
            body = self._cache[key] = gzip.compress(path.read_bytes(), 6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return BytesIO(body)

    def end_headers(self) -> None:
        if not self.plain:
            self._cache_control()
        super().end_headers()

    def _cache_control(self) -> None:
        url = self.path.split("?")[0]
        if url.startswith("/static/") and "?v=" in self.path:
            self.send_header("Cache-Control", IMMUTABLE)
        elif url.startswith("/_search/") and url.rsplit("/", 1)[-1] != "meta.json":
            self.send_header("Cache-Control", IMMUTABLE)
        else:
            self.send_header("Cache-Control", SHORT)


def main() -> None:
    site, port = sys.argv[1], int(sys.argv[2])
    Handler.plain = "--plain" in sys.argv[3:]
    if Handler.plain:
        Handler.protocol_version = "HTTP/1.0"
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=site))
    server.serve_forever()


if __name__ == "__main__":
    main()
