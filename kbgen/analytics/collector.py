"""The optional first-party collector: a small plain ASGI app that stores beacon events in SQLite.

``kbgen collect --db analytics.sqlite --port 8787 --origin https://help.example.com`` (needs uvicorn:
``pip install 'kbgen[collector]'``). Point ``[analytics.beacon] url`` at ``https://…/collect``.

- ``POST /collect``: one event (or an array of at most 20) as JSON, sent by ``navigator.sendBeacon`` with
  a text/plain body (a CORS "simple" request: no preflight). Answers 204 only once the event is committed.
  403 for an origin not allowed (and for no Origin at all), 413 over 2 KB (decided from Content-Length or
  while reading: never more than the cap is read), 415 for another content type, 400 for anything that is
  not valid JSON matching the schema (`events.validate`), 429 past the per-client rate, 503 when the queue
  is full or the disk fails.
- ``OPTIONS /collect``: preflight, answered for allowed origins only.
- ``GET /health``: ``{"status": "ok", "stored": n, "queued": n}``.

Privacy: no cookies; the client's address is used only for the rate limit, as a keyed hash whose key is
random per process and never written down; the user agent is reduced to a device class (mobile, tablet,
desktop, bot). Access logs are off.

Durability and throughput: requests hand their rows to one writer task, which commits everything queued
since its last commit in one transaction (WAL, ``synchronous=FULL``) and only then lets those requests
answer 204 — group commit: many events per fsync, and nothing acknowledged is lost if the process is killed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .events import COMMON_FIELDS, EVENTS, FIELDS, SchemaError, validate_batch

__all__ = ["COLUMNS", "Collector", "RateLimiter", "connect", "device_class", "normalize_origin", "serve"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 2048
MAX_BATCH_EVENTS = 20
SCHEMA_VERSION = 1
# One column per schema field (`id` is the article id; the row id is `seq`), then what the server adds.
FIELD_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(("name", *COMMON_FIELDS, *(f for spec in EVENTS.values() for f in spec.fields)))
)
COLUMNS: tuple[str, ...] = ("ts", "device", *FIELD_COLUMNS)
_INSERT = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"


def connect(path: Path | str, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open (creating if needed) a collector database in WAL mode."""
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'NORMAL' if synchronous.upper() == 'NORMAL' else 'FULL'}")
    types = {n: "INTEGER" if FIELDS[n].kind == "int" else "TEXT" for n in FIELD_COLUMNS if n in FIELDS}
    cols = ",\n  ".join(f"{c} {types.get(c, 'TEXT')}" for c in FIELD_COLUMNS)
    db.executescript(f"""
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,   -- unix milliseconds, server clock
  device TEXT,           -- mobile | tablet | desktop | bot | unknown (never the user agent itself)
  {cols}
);
CREATE INDEX IF NOT EXISTS events_name_ts ON events (name, ts);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
""")
    have = {row[1] for row in db.execute("PRAGMA table_info(events)")}
    for col in COLUMNS:  # a newer schema adds fields: add their columns to an older database
        if col not in have:
            db.execute(f"ALTER TABLE events ADD COLUMN {col} {types.get(col, 'TEXT')}")
    return db


def device_class(user_agent: str) -> str:
    """A coarse device class: the only thing kept of the user agent."""
    ua = user_agent.casefold()
    if not ua:
        return "unknown"
    if any(
        b in ua
        for b in (
            "bot",
            "crawl",
            "spider",
            "slurp",
            "headless",
            "lighthouse",
            "python",
            "curl",
            "wget",
            "httpclient",
            "preview",
            "monitor",
        )
    ):
        return "bot"
    if "ipad" in ua or "tablet" in ua or ("android" in ua and "mobile" not in ua):
        return "tablet"
    if "mobi" in ua or "iphone" in ua or "android" in ua:
        return "mobile"
    return "desktop"


@functools.lru_cache(maxsize=1024)
def normalize_origin(origin: str) -> str:
    """``https://Help.Example.com/`` → ``https://help.example.com`` (default ports dropped)."""
    origin = origin.strip()
    if origin == "*":
        return origin
    parts = urlsplit(origin if "://" in origin else "https://" + origin)
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "https" and port == 443) or (parts.scheme == "http" and port == 80)):
        host = f"{host}:{port}"
    return f"{parts.scheme.lower()}://{host}"


class RateLimiter:
    """Token bucket per client, keyed by a hash of its address under a random per-process key (kept only
    in memory, so the table cannot be turned back into addresses, not even by whoever runs it)."""

    def __init__(self, rate: float, burst: int, max_clients: int = 200_000) -> None:
        self.rate, self.burst, self.max_clients = rate, float(burst), max_clients
        self._key = os.urandom(16)
        self._buckets: dict[bytes, tuple[float, float]] = {}

    def allow(self, client: str, now: float | None = None, cost: float = 1.0) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        key = hashlib.blake2b(client.encode(), key=self._key, digest_size=12).digest()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        ok = tokens >= cost
        self._buckets[key] = (tokens - cost if ok else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._prune(now)
        return ok

    def _prune(self, now: float) -> None:
        full = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full}
        while len(self._buckets) > self.max_clients * 0.9:  # under attack: forget the oldest half
            items = sorted(self._buckets.items(), key=lambda kv: kv[1][1])
            self._buckets = dict(items[len(items) // 2 :])


@dataclass
class _Pending:
    rows: list[tuple[Any, ...]]
    done: asyncio.Future[None]


@dataclass
class Collector:
    """The ASGI application. `origins` None or containing "*" accepts any origin."""

    db_path: Path
    origins: Iterable[str] | None = None
    rate: float = 1.0  # events per second per client, refilled continuously
    burst: int = 60  # events a client may send at once
    trust_proxy: bool = False  # key the rate limit on the last X-Forwarded-For address
    max_body: int = MAX_BODY
    max_queue: int = 20_000
    max_batch: int = 2_000  # rows per transaction
    synchronous: str = "FULL"
    stored: int = field(default=0, init=False)
    failed: str = field(default="", init=False)

    def __post_init__(self) -> None:
        allowed = {normalize_origin(o) for o in (self.origins or ["*"])}
        self._any_origin = "*" in allowed
        self._origins = allowed - {"*"}
        self.limiter = RateLimiter(self.rate, self.burst)
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kbgen-collector-db")
        self._db: sqlite3.Connection | None = None
        self._opened: asyncio.Future[sqlite3.Connection] | None = None

    # -- lifecycle --------------------------------------------------------------------------------------

    async def startup(self) -> None:
        if self._writer is not None:
            return
        # Open the database here, in the writer's thread; requests that arrive meanwhile queue up.
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop())
        loop = asyncio.get_running_loop()
        self._opened = loop.run_in_executor(
            self._executor, lambda: connect(self.db_path, synchronous=self.synchronous)
        )
        self._db = await self._opened

    async def shutdown(self) -> None:
        if self._writer is None or self._queue is None:
            return
        await self._queue.put(None)
        await self._writer
        self._writer = None
        db, self._db = self._db, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)

    def _commit(self, rows: list[tuple[Any, ...]]) -> None:
        assert self._db is not None
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(_INSERT, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def _write_loop(self) -> None:
        assert self._queue is not None
        queue, loop = self._queue, asyncio.get_running_loop()
        assert self._opened is not None
        self._db = await self._opened
        stopping = False
        while not stopping:
            first = await queue.get()
            batch: list[_Pending] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            rows = sum(len(p.rows) for p in batch)
            while rows < self.max_batch and not queue.empty():
                item = queue.get_nowait()
                if item is None:
                    stopping = True
                    continue
                batch.append(item)
                rows += len(item.rows)
            if not batch:
                continue
            try:
                await loop.run_in_executor(self._executor, self._commit, [r for p in batch for r in p.rows])
            except Exception as exc:  # disk full, database locked by someone else: not acknowledged
                self.failed = f"{type(exc).__name__}: {exc}"
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(exc)
                continue
            self.failed = ""
            self.stored += rows
            for p in batch:
                if not p.done.done():
                    p.done.set_result(None)

    # -- HTTP ---------------------------------------------------------------------------------------------

    def origin_allowed(self, origin: str | None) -> bool:
        if self._any_origin:
            return True
        return origin is not None and origin != "null" and normalize_origin(origin) in self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self._writer is None:  # a server without lifespan support
            await self.startup()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        origin = headers.get("origin")
        cors: list[tuple[str, str]] = [("vary", "origin")]
        if origin and self.origin_allowed(origin):
            cors.append(("access-control-allow-origin", origin))
        method, path = scope["method"], scope["path"].rstrip("/") or "/"

        if path == "/health":
            if method not in ("GET", "HEAD"):
                return await _respond(send, 405, {"error": "use GET"}, [("allow", "GET, HEAD")])
            status = 503 if self.failed else 200
            body = {
                "status": "failing" if self.failed else "ok",
                "stored": self.stored,
                "queued": self._queue.qsize() if self._queue else 0,
            }
            if self.failed:
                body["error"] = self.failed
            return await _respond(send, status, body, head=method == "HEAD")
        if path not in ("/collect", "/"):
            return await _respond(send, 404, {"error": "not found; events go to POST /collect"})
        if method == "OPTIONS":
            if not (origin and self.origin_allowed(origin)):
                return await _respond(send, 403, {"error": "origin not allowed"}, cors)
            return await _respond(
                send,
                204,
                None,
                cors
                + [
                    ("access-control-allow-methods", "POST, OPTIONS"),
                    ("access-control-allow-headers", "content-type"),
                    ("access-control-max-age", "86400"),
                ],
            )
        if method != "POST":
            return await _respond(send, 405, {"error": "use POST"}, cors + [("allow", "POST, OPTIONS")])
        if not self.origin_allowed(origin):
            return await _respond(send, 403, {"error": "origin not allowed"}, cors)

        client = (scope.get("client") or ("?", 0))[0]
        if self.trust_proxy and headers.get("x-forwarded-for"):
            client = headers["x-forwarded-for"].rsplit(",", 1)[-1].strip()
        if not self.limiter.allow(client):
            return await _respond(send, 429, {"error": "too many events"}, cors + [("retry-after", "10")])

        ctype = headers.get("content-type", "text/plain").split(";", 1)[0].strip().lower()
        if ctype not in ("text/plain", "application/json", ""):
            return await _respond(send, 415, {"error": "send text/plain or application/json"}, cors)
        length = headers.get("content-length")
        too_big = f"body over {self.max_body} bytes"
        if length is not None:
            if not length.isdigit():
                return await _respond(send, 400, {"error": "bad content-length"}, cors, close=True)
            if int(length) > self.max_body:
                return await _respond(send, 413, {"error": too_big}, cors, close=True)
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:  # chunked or lying about its length: stop reading now
                return await _respond(send, 413, {"error": too_big}, cors, close=True)
        try:
            payload = json.loads(body.decode("utf-8"))
            events = validate_batch(payload, MAX_BATCH_EVENTS)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return await _respond(send, 400, {"error": "body is not JSON"}, cors)
        except SchemaError as exc:
            return await _respond(send, 400, {"error": str(exc)}, cors)

        assert self._queue is not None
        if self._queue.qsize() >= self.max_queue:
            return await _respond(send, 503, {"error": "busy"}, cors + [("retry-after", "1")])
        now = int(time.time() * 1000)
        device = device_class(headers.get("user-agent", ""))
        rows = [(now, device, *(ev.get(c) for c in FIELD_COLUMNS)) for ev in events]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(rows, done))
        try:
            await done
        except Exception:
            retry = [("retry-after", "5")]
            return await _respond(send, 503, {"error": "could not store the event"}, cors + retry)
        await _respond(send, 204, None, cors)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _respond(
    send: Send,
    status: int,
    body: dict[str, Any] | None,
    headers: list[tuple[str, str]] | None = None,
    *,
    close: bool = False,
    head: bool = False,
) -> None:
    data = json.dumps(body).encode() if body is not None else b""
    out = [(b"cache-control", b"no-store")]
    if body is not None:
        out.append((b"content-type", b"application/json"))
    out.append((b"content-length", str(len(data)).encode()))
    if close:
        out.append((b"connection", b"close"))
    out += [(k.encode(), v.encode()) for k, v in headers or []]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": b"" if head else data})


def serve(app: Collector, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Run `app` with uvicorn until SIGINT/SIGTERM (then commit what is queued and stop)."""
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - depends on the extra
        raise SystemExit(
            "kbgen collect needs uvicorn: `pip install uvicorn` (or `pip install '.[collector]'` in kbgen's "
            "checkout; with pipx: `pipx inject kbgen uvicorn`)"
        ) from None
    config = uvicorn.Config(
        app, host=host, port=port, lifespan="on", access_log=False, log_level="warning",
        proxy_headers=False, server_header=False, date_header=False, timeout_keep_alive=5,
    )  # fmt: skip
    uvicorn.Server(config).run()
