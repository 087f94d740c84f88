"""`kbgen serve`: build, serve on this machine, rebuild what a save changed and reload the browser.

Three threads besides the HTTP server's: the watchdog observer collects changed paths; the rebuild worker
waits until the changes have been quiet for a moment (so a burst of saves is one rebuild; changes during a
rebuild give exactly one more), runs `kbgen.rebuild`, then tells the browsers over server-sent events
(`/__kbgen/events`). Pages are served from a private folder (`.kbgen/serve/<pid>/`), never `site/`; the
live-reload script is added to HTML responses as they are sent, so the files on disk are exactly those of a
published build. `/__kbgen/status` gives the current problems as JSON for the in-page error overlay.
"""

from __future__ import annotations

import html
import ipaddress
import json
import mimetypes
import os
import queue
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import click
from rich.console import Console

from . import plugins
from .build import BuildSession
from .config import Config, load_config
from .errors import ConfigError, Problem, display_path
from .lock import ProjectBusy, project_lock
from .multiserve import SiteRebuilder
from .rebuild import Change, Outcome, Plan, Rebuilder
from .render import DEFAULT_THEME, packaged_themes_dir

DEBOUNCE = 0.05  # seconds of quiet before a rebuild starts
MAX_WAIT = 1.0  # ... but never wait longer than this after the first change
PING = 15.0  # SSE keep-alive interval
INTERNAL = "__kbgen/"
IGNORED_EVENTS = {"opened", "closed_no_write"}

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class EventHub:
    """Server-sent events to every connected browser tab."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: set[queue.Queue[str | None]] = set()

    def subscribe(self) -> queue.Queue[str | None]:
        q: queue.Queue[str | None] = queue.Queue()
        with self.lock:
            self.clients.add(q)
        return q

    def unsubscribe(self, q: queue.Queue[str | None]) -> None:
        with self.lock:
            self.clients.discard(q)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        message = f"event: {event}\ndata: {json.dumps(data)}\n\n"
        with self.lock:
            for q in self.clients:
                q.put(message)

    def close(self) -> None:
        with self.lock:
            for q in self.clients:
                q.put(None)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.clients)


class DevServer:
    """The state shared by the HTTP handlers, the watcher and the rebuild worker."""

    def __init__(self, rebuilder: Rebuilder, quiet: bool = False) -> None:
        self.rebuilder = rebuilder
        self.session = rebuilder.session
        self.hub = EventHub()
        self.quiet = quiet
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.pending: list[Change] = []
        self.first_change = 0.0
        self.last_change = 0.0
        self.stopping = False
        self.build_id = 0  # bumped by every rebuild that wrote something
        self.root: Path | None = None  # the folder being served
        self.base_path = self.session.config.base_path
        self.building = True
        self.status: dict[str, Any] = {"build": 0, "ok": True, "building": True, "errors": [], "warnings": []}
        self.observer: Any = None
        self.watched: list[tuple[str, bool]] = []
        self.ready = threading.Event()
        self.server_id = f"{os.getpid()}-{time.time_ns()}"

    # -- changes ---------------------------------------------------------------------------------

    def notify(self, changes: list[Change]) -> None:
        now = time.monotonic()
        with self.lock:
            if not self.pending:
                self.first_change = now
            self.pending.extend(changes)
            self.last_change = now
        self.wake.set()

    def worker(self) -> None:
        """Rebuild loop: the first build, then one rebuild per burst of changes."""
        self.run_rebuild(Plan(full=True, config=False, reason="start"), initial=True)
        self.ready.set()
        while not self.stopping:
            self.wake.wait()
            if self.stopping:
                return
            while True:  # debounce: wait until the changes have been quiet for DEBOUNCE
                with self.lock:
                    now = time.monotonic()
                    quiet_for = now - self.last_change
                    waited = now - self.first_change
                if quiet_for >= DEBOUNCE or waited >= MAX_WAIT:
                    break
                time.sleep(min(DEBOUNCE - quiet_for, MAX_WAIT - waited) + 0.001)
            with self.lock:
                changes, self.pending = self.pending, []
                self.wake.clear()
            plan = self.rebuilder.classify(changes)
            if plan.empty:  # editor swap files, folders, files kbgen does not read
                continue
            self.run_rebuild(plan)

    def run_rebuild(self, plan: Plan, initial: bool = False) -> Outcome:
        self.building = True
        self.status = {**self.status, "building": True}
        self.hub.publish("building", {"build": self.build_id})
        started = time.strftime("%H:%M:%S")
        what = "Building the site" if initial else plan.describe()
        outcome = self.rebuilder.apply(plan)
        self.building = False
        if self.stopping:  # Ctrl+C during the rebuild: what it met while the preview was removed is no news
            return outcome
        # A save that changed nothing (the file-closed event after the write, a touch) reloads nothing.
        wrote = outcome.ok and outcome.kind != "none" and (outcome.paths is None or bool(outcome.paths))
        if wrote:
            self.root = self.session.output
            self.base_path = self.session.config.base_path
            self.build_id += 1
        # The status first (a tab fetches it when the event arrives, to show errors), then the event; events
        # carry the build number, so a client that subscribed after seeing this build done can tell this
        # build's event from the next one's.
        self.status = self.make_status(outcome)
        if wrote:
            self.hub.publish("reload", {"build": self.build_id, "paths": outcome.paths})
        else:
            self.hub.publish("status", {"build": self.build_id, "ok": outcome.ok})
        outcome.follow_up()  # queue the search index update (a worker process does it; cheap here)
        if wrote or not outcome.ok:
            self.report(outcome, what, started, initial)
        if outcome.ok and outcome.kind.startswith(("full", "pages")):
            self.rewatch()
        return outcome

    def make_status(self, outcome: Outcome) -> dict[str, Any]:
        problems = self.rebuilder.problems
        if not outcome.ok:
            problems = sorted(
                set(problems) | set(outcome.problems), key=lambda p: (p.level != "error", p.path)
            )
        urls = self.problem_urls()
        return {
            "build": self.build_id,
            "ok": outcome.ok and not any(p.level == "error" for p in problems),
            "building": False,
            "kind": outcome.kind,
            "seconds": round(outcome.seconds, 4),
            "errors": [_problem_json(p, urls) for p in problems if p.level == "error"],
            "warnings": [_problem_json(p, urls) for p in problems if p.level != "error"],
        }

    def problem_urls(self) -> dict[str, str]:
        """Shown path of a file with problems → the site path of its page (to show its warnings there)."""
        wanted = {p.path for p in self.rebuilder.problems}
        root = self.rebuilder.root
        languages = getattr(self.rebuilder, "languages", None)  # a multilingual site: every language's pages
        sessions = [sub.session for sub in languages.subs.values()] if languages is not None else [self.session]
        urls = {}
        for session in sessions:
            library = session.library
            if library is None:
                continue
            prefix = display_path(session.config.content_path, root) + "/"  # as problems name files
            base = session.config.base_path  # a language's includes its prefix (fr/)
            for a in library.articles:
                shown = prefix + a.source
                if shown in wanted:
                    urls[shown] = base + a.url.lstrip("/")
        return urls

    def report(self, outcome: Outcome, what: str, started: str, initial: bool) -> None:
        from .termsafe import for_terminal

        what = for_terminal(what, one_line=True)  # the changed files' names: no terminal controls
        ms = outcome.seconds * 1000
        if not outcome.ok:
            for p in outcome.problems:
                err.print(str(p), style="red" if p.level == "error" else "yellow", markup=False)
            n = sum(1 for p in outcome.problems if p.level == "error") or 1
            keeps = (
                "the preview keeps its last good version" if self.root is not None else "nothing to show yet"
            )
            err.print(f"[{started}] {what}: {n} error(s), shown in the browser too; {keeps} until you save a fix.",
                      style="bold red", markup=False)  # fmt: skip
            return
        if outcome.kind == "none":
            return
        warnings = [p for p in outcome.problems if p.level != "error"]
        if initial:
            for p in warnings:
                err.print(str(p), style="yellow", markup=False)
            pages = len(list(self.session.out_root.glob(f"build-{self.session.generation}/**/*.html")))
            out.print(f"[{started}] Built {pages} pages in {outcome.seconds:.1f} s"
                      + (f", {len(warnings)} warning(s)" if warnings else ""), markup=False)  # fmt: skip
            return
        if self.quiet:
            return
        detail = f"{outcome.written} file(s) written" + (
            f", {outcome.deleted} removed" if outcome.deleted else ""
        )
        if outcome.kind != "incremental":
            detail = outcome.kind
        out.print(f"[{started}] {what}: {detail} in {ms:.0f} ms", markup=False)

    # -- watching --------------------------------------------------------------------------------

    def watch_roots(self) -> list[tuple[str, bool]]:
        config = self.session.config
        root = self.rebuilder.root
        roots: list[tuple[str, bool]] = [(str(root), False)]
        recursive = [config.content_path, root / "themes", root / config.static_dir]
        if self.session.theme is not None:
            recursive += self.session.theme.dirs
        else:
            recursive.append(packaged_themes_dir() / DEFAULT_THEME)
        for path in recursive:
            if path.is_dir():
                roots.append((str(path.resolve()), True))
        for path in self.rebuilder.analytics_inputs():
            if path.parent.is_dir():
                roots.append((str(path.parent.resolve()), False))
        config_path = self.rebuilder.config_path
        for path in (config_path, *plugins.watched_files(config)):  # kbgen.toml and its hooks files
            if path.parent.is_dir():
                roots.append((str(path.parent.resolve()), False))
        unique: dict[str, bool] = {}
        for path_str, rec in roots:
            unique[path_str] = unique.get(path_str, False) or rec
        # A folder inside another recursively watched one needs no watch of its own.
        result = []
        for path_str, rec in sorted(unique.items()):
            inside = any(
                r and other != path_str and path_str.startswith(other.rstrip("/") + "/")
                for other, r in unique.items()
            )
            if not inside:
                result.append((path_str, rec))
        return result

    def rewatch(self) -> None:
        if self.observer is None:
            return
        roots = self.watch_roots()
        if roots == self.watched:
            return
        self.observer.unschedule_all()
        handler = _Handler(self)
        for path, recursive in roots:
            try:
                self.observer.schedule(handler, path, recursive=recursive)
            except OSError as exc:
                err.print(f"warning: cannot watch {path}: {exc}", style="yellow", markup=False)
        self.watched = roots
        self.rebuilder.watching = {Path(p) for p, _ in roots}

    def start_watching(self) -> None:
        from watchdog.observers import Observer

        self.observer = Observer()
        self.observer.daemon = True
        self.rewatch()
        self.observer.start()


class _Handler:
    """watchdog handler: every relevant event becomes `Change`s for the rebuild worker."""

    def __init__(self, server: DevServer) -> None:
        self.server = server

    def dispatch(self, event: Any) -> None:
        if event.event_type in IGNORED_EVENTS:
            return
        if event.event_type == "modified" and event.is_directory:
            return
        changes = [Change(Path(os.fsdecode(event.src_path)), bool(event.is_directory))]
        dest = getattr(event, "dest_path", "")
        if dest:
            changes.append(Change(Path(os.fsdecode(dest)), bool(event.is_directory)))
        self.server.notify(changes)


def _problem_json(p: Problem, urls: dict[str, str]) -> dict[str, Any]:
    return {"path": p.path, "line": p.line, "message": p.message, "level": p.level, "code": p.code,
            "url": urls.get(p.path)}


# -- HTTP --------------------------------------------------------------------------------------------


def _livereload_js() -> bytes:
    return (packaged_themes_dir() / DEFAULT_THEME / "serve" / "livereload.js").read_bytes()


TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".svg": "image/svg+xml",
         ".webmanifest": "application/manifest+json", ".xml": "application/xml", ".woff2": "font/woff2",
         ".webp": "image/webp", ".avif": "image/avif", ".md": "text/plain"}  # fmt: skip


def _content_type(path: Path) -> str:
    ctype = TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype in ("application/json", "application/xml", "image/svg+xml"):
        ctype += "; charset=utf-8"
    return ctype


MAX_TARGET = 4096  # characters of a request's path and query; longer: 414


def request_path(target: str) -> str | None:
    """The decoded path of a request target, or None if it is malformed: not ASCII as sent (a browser
    percent-encodes), not UTF-8 once decoded, a control character or a backslash, a `.` or `..` segment, an
    empty segment (`//`) — nothing a page of the site links to."""
    if not target.isascii():
        return None
    try:
        path = unquote(urlsplit(target).path, errors="strict")
    except ValueError:  # UnicodeDecodeError included
        return None
    if not path.startswith("/") or "\\" in path or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in path):
        return None
    segments = path.split("/")[1:]
    if any(s in (".", "..") for s in segments) or "" in segments[:-1]:
        return None
    return path


def allowed_hosts(bind: str) -> frozenset[str] | None:
    """The names a browser may reach this server by (its Host header): for a loopback address, that address
    and localhost names; None (any) for one that listens beyond this machine (0.0.0.0, a LAN address)."""
    name = bind.strip().strip("[]").lower()
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = name == "localhost" or name.endswith(".localhost")
    return frozenset({name, "localhost", "127.0.0.1", "::1"}) if loopback else None


def host_allowed(header: str | None, allowed: frozenset[str] | None) -> bool:
    """Whether a request's Host header names this server (DNS rebinding: a page of another site, its name
    pointed at 127.0.0.1, would send its own name). No header (HTTP/1.0 tools) is allowed."""
    if allowed is None or header is None:
        return True
    value = header.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
    else:
        name, _, port = value.partition(":")
        rest = ":" + port if _ else ""
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        return False
    name = name.rstrip(".")
    return name in allowed or name.endswith(".localhost")


class RequestHandler(BaseHTTPRequestHandler):
    server_version = "kbgen-serve"
    dev: DevServer  # set on the subclass made for each server
    allowed_hosts: frozenset[str] | None = frozenset({"localhost", "127.0.0.1", "::1"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if os.environ.get("KBGEN_SERVE_LOG"):
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.respond(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self.respond(head=True)

    def respond(self, head: bool) -> None:
        if not host_allowed(self.headers.get("Host"), self.allowed_hosts):
            self.refuse_host(head)
            return
        if len(self.path) > MAX_TARGET:
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return
        path = request_path(self.path)
        if path is None:
            self.send_error(HTTPStatus.BAD_REQUEST)
            return
        try:
            self.serve_path(path, head)
        except (OSError, ValueError):  # a name the file system refuses (too long, …): not a page of the site
            self.not_found(head)

    def refuse_host(self, head: bool) -> None:
        body = (
            b"kbgen serve answers only to localhost (DNS rebinding protection). To preview from another "
            b"device, run: kbgen serve --host 0.0.0.0\n"
        )
        self.send_body(HTTPStatus.FORBIDDEN, body, "text/plain; charset=utf-8", head)

    def serve_path(self, path: str, head: bool) -> None:
        base = self.dev.base_path
        for prefix in ("/" + INTERNAL, base + INTERNAL):
            if path.startswith(prefix):
                self.internal(path[len(prefix) :], head)
                return
        if not path.startswith(base):
            if path in ("/", base.rstrip("/")):
                self.redirect(base)
            else:
                self.not_found(head)
            return
        root = self.dev.root
        if root is None:
            self.not_built(head)
            return
        rel = path[len(base) :]
        target = (root / rel).resolve() if rel else root.resolve()
        if target != root.resolve() and root.resolve() not in target.parents:
            self.not_found(head)
            return
        if target.is_dir():
            if not path.endswith("/"):
                query = urlsplit(self.path).query
                self.redirect(path + "/" + (f"?{query}" if query else ""))
                return
            target = target / "index.html"
        try:
            data = target.read_bytes()
        except OSError:
            self.not_found(head)
            return
        self.send_body(HTTPStatus.OK, data, _content_type(target), head)

    def send_body(self, status: HTTPStatus, data: bytes, ctype: str, head: bool) -> None:
        if ctype.startswith("text/html"):
            data = self.inject(data)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if not head:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def inject(self, data: bytes) -> bytes:
        endpoint = self.dev.base_path + INTERNAL
        tag = (
            f'<script src="{endpoint}livereload.js" data-kbgen-endpoint="{endpoint}" '
            f'data-kbgen-build="{self.dev.build_id}" data-kbgen-server="{self.dev.server_id}" defer></script>'
        ).encode()
        at = data.rfind(b"</body>")
        return data[:at] + tag + data[at:] if at >= 0 else data + tag

    def redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.FOUND)
        self.send_header("Location", quote(location, safe="/?=&%:+,;@!$'()*~"))
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def not_found(self, head: bool) -> None:
        root = self.dev.root
        page = root / "404.html" if root is not None else None
        if page is not None and page.is_file():
            self.send_body(HTTPStatus.NOT_FOUND, page.read_bytes(), "text/html; charset=utf-8", head)
            return
        body = b"<!doctype html><title>Not found</title><h1>Not found</h1><body></body>"
        self.send_body(HTTPStatus.NOT_FOUND, body, "text/html; charset=utf-8", head)

    def not_built(self, head: bool) -> None:
        status = self.dev.status
        title = "Building the site\u2026" if status.get("building") else "The site could not be built"
        items = "".join(
            f"<li><code>{html.escape(e['path'])}:{e['line']}</code>: {html.escape(e['message'])}</li>"
            for e in status.get("errors", [])
        )
        body = (
            f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{title}</title>'
            f'<body style="font:16px/1.5 system-ui,sans-serif;margin:2rem"><h1>{title}</h1>'
            f"<ul>{items}</ul><p>This page reloads by itself when the site is ready.</p></body></html>"
        ).encode()
        self.send_body(HTTPStatus.SERVICE_UNAVAILABLE, body, "text/html; charset=utf-8", head)

    def internal(self, name: str, head: bool) -> None:
        if name == "events":
            self.events()
        elif name == "status":
            body = json.dumps({**self.dev.status, "search": self.dev.rebuilder.search.state()}).encode()
            self.send_body(HTTPStatus.OK, body, "application/json; charset=utf-8", head)
        elif name == "livereload.js":
            self.send_body(HTTPStatus.OK, _livereload_js(), "text/javascript; charset=utf-8", head)
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def events(self) -> None:
        hub = self.dev.hub
        q = hub.subscribe()
        self.close_connection = True
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Accel-Buffering", "no")
            self.end_headers()
            hello = {
                "build": self.dev.build_id,
                "ok": self.dev.status.get("ok", True),
                "server": self.dev.server_id,
            }
            self.wfile.write(f"retry: 1000\nevent: hello\ndata: {json.dumps(hello)}\n\n".encode())
            self.wfile.flush()
            while not self.dev.stopping:
                try:
                    message = q.get(timeout=PING)
                except queue.Empty:
                    message = ": ping\n\n"
                if message is None:
                    break
                self.wfile.write(message.encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            hub.unsubscribe(q)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_http_server(dev: DevServer, host: str, port: int, port_is_default: bool) -> _Server:
    handler = type("Handler", (RequestHandler,), {"dev": dev, "allowed_hosts": allowed_hosts(host)})
    tries = 20 if port_is_default else 1
    last: OSError | None = None
    for candidate in range(port, port + tries):
        try:
            return _Server((host, candidate), handler)
        except OSError as exc:
            last = exc
    hint = " (try another --port)" if not port_is_default else ""
    raise click.ClickException(f"cannot listen on {host}:{port}: {last.strerror if last else ''}{hint}")


# -- the command -------------------------------------------------------------------------------------


def _private_output(config: Config) -> Path:
    """`.kbgen/serve/<pid>/`, after removing folders left by serve processes that no longer run."""
    parent = config.cache_path / "serve"
    if parent.is_dir():
        for child in parent.iterdir():
            if child.is_dir() and child.name.isdigit() and not _alive(int(child.name)):
                import shutil

                shutil.rmtree(child, ignore_errors=True)
    return parent / str(os.getpid())


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _url(host: str, port: int, base_path: str) -> str:
    shown = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}{base_path}"


def run_server(
    config_file: Path | None, host: str, port: int, open_browser: bool, drafts: bool, port_is_default: bool,
    wait: bool = False,
) -> None:  # fmt: skip
    root = Path.cwd().resolve()
    try:
        config = load_config(config_file, root=root)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    config.base_url = config.base_path
    try:
        with project_lock(config.cache_path, command="serve", wait=wait, on_wait=_say_waiting):
            _run_locked(config, config_file, host, port, open_browser, drafts, port_is_default)
    except ProjectBusy as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:  # Ctrl+C before the server ran (while waiting for the lock, starting)
        out.print("Stopping.", markup=False)


def _say_waiting(holder: str) -> None:
    err.print(f"Waiting for another kbgen in this project to finish ({holder})…", markup=False)


def _run_locked(config: Config, config_file: Path | None, host: str, port: int, open_browser: bool,
                drafts: bool, port_is_default: bool) -> None:  # fmt: skip
    root = config.root
    session = BuildSession(config, _private_output(config), drafts=drafts)
    rebuilder = SiteRebuilder(session, config_file, root)
    dev = DevServer(rebuilder)
    server = make_http_server(dev, host, port, port_is_default)
    actual_port = server.server_address[1]
    url = _url(host, actual_port, config.base_path)
    out.print(f"Serving {config.title} at {url}  (Ctrl+C to stop)", markup=False)
    out.print(f"Watching {_short(config.content_path, root)}/, the theme and kbgen.toml; "
              "saved changes show in the browser at once.", markup=False)  # fmt: skip
    http_thread = threading.Thread(target=server.serve_forever, name="kbgen-http", daemon=True)
    http_thread.start()
    worker = threading.Thread(target=dev.worker, name="kbgen-rebuild", daemon=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        dev.start_watching()
        worker.start()
        if open_browser:
            dev.ready.wait()
            webbrowser.open(url)
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        out.print("Stopping.", markup=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C: stop as quietly
        dev.stopping = True
        dev.wake.set()
        dev.hub.close()
        if dev.observer is not None:
            dev.observer.stop()
        rebuilder.search.close()
        server.shutdown()
        server.server_close()
        session.close()
        signal.signal(signal.SIGINT, previous_int)


def _short(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


@click.command("serve")
@click.option(
    "-p",
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (the next free one if the default is taken).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 to preview from a phone on the same network.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the site in your web browser.")
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: ./kbgen.toml).",
)
@click.option("--drafts", is_flag=True, help="Include articles marked `draft: true`.")
@click.option("--wait", is_flag=True, help="If another kbgen is running in this project, wait for it to finish.")
@click.pass_context
def serve_cmd(ctx: click.Context, port: int, host: str, open_browser: bool, config_file: Path | None,
              drafts: bool, wait: bool) -> None:  # fmt: skip
    """Preview the site: build it, serve it here and update the browser whenever you save a file.

    \b
    Errors show in the terminal and on the page; the server keeps running and picks up the fix.
    Nothing is written to site/ (the preview lives in .kbgen/serve/).
    """
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    source = ctx.get_parameter_source("port")
    port_is_default = source is not None and source.name == "DEFAULT"
    run_server(config_file, host, port, open_browser, drafts, port_is_default, wait)


def iter_sse(stream: Iterator[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse a server-sent-events byte stream into (event, data) pairs (for tests and the benchmark)."""
    event, data = "message", ""
    buffer = b""
    for chunk in stream:
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            line = raw.decode("utf-8").rstrip("\r")
            if not line:
                if data:
                    yield event, json.loads(data)
                event, data = "message", ""
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
