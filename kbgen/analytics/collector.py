"""The optional first-party collector: a small plain ASGI app that stores beacon events in SQLite.

``kbgen collect --db analytics.sqlite --port 8787 --origin https://help.example.com`` (needs uvicorn:
``pip install 'kbgen[collector]'``). Point ``[analytics.beacon] url`` at ``https://…/collect``.

- ``POST /collect``: one event (or an array of at most 20) as JSON, sent by ``navigator.sendBeacon`` with
  a text/plain body (a CORS "simple" request: no preflight). Answers 204 only once the event is committed.
  403 for an origin not allowed (and for no Origin at all), 413 over 2 KB (decided from Content-Length or
  while reading: never more than the cap is read), 415 for another content type, 400 for anything that is
  not valid JSON matching the schema (`parse_json`: no lone surrogates, NaN/Infinity, huge numbers or deep
  nesting; then `events.validate`; a batch is stored whole or not at all), 429 past the per-client rate
  (counted in events: a batch of 20 is 20), 503 when the queue is full or the disk fails. A row the
  database refuses anyway fails only its own request (400); the others of its transaction are retried.
- ``OPTIONS /collect``: preflight, answered for allowed origins only.
- ``GET /health``: ``{"status": "ok", "stored": n, "queued": n, "accepted": n, "rejected": {reason: n},
  "connections": {...}}`` — events stored, waiting for their commit, accepted and refused (by reason, see
  `REJECT_REASONS`) since start, and connections open and closed by the server.

Slow clients (`serve`): every request must arrive whole within `request_timeout` (10 s), at most
`max_connections` are open (past it, the one waiting longest for its request is closed), headers are capped
at 8 KB, and the log gets one summary line a minute instead of a line per bad connection.

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
import logging
import math
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .events import _SURROGATE, COMMON_FIELDS, EVENTS, FIELDS, SchemaError, validate_batch

__all__ = [
    "COLUMNS",
    "Collector",
    "RateLimiter",
    "connect",
    "device_class",
    "normalize_origin",
    "parse_json",
    "serve",
    "server_config",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 2048
MAX_BATCH_EVENTS = 20
MAX_DEPTH = 8  # events are flat: an array of objects of scalars is depth 3
MAX_INT_DIGITS = 20
MAX_HEADER_BYTES = 8192
# Why events (or, before the body is read, requests) were refused: /health counts each.
REJECT_REASONS = (
    "origin",  # 403
    "content_type",  # 415
    "too_large",  # 413
    "invalid",  # 400: not JSON, or not matching the schema
    "rate_limited",  # 429
    "busy",  # 503: queue full
    "unstorable",  # 400: passed validation, but the database refused these rows (others are stored)
    "store_failed",  # 503: the database failed (disk full, locked)
)
# Connections the server closed: slow (no complete request in `request_timeout`), evicted to make room
# past `max_connections`, refused (full with requests in progress), or not HTTP.
CONNECTION_COUNTS = ("open", "timed_out", "evicted", "refused", "bad_http")
log = logging.getLogger("kbgen.collector")
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


def _no_constant(name: str) -> Any:
    raise SchemaError(f"{name} is not a number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise SchemaError(f"number out of range: {text[:40]}")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise SchemaError(f"integer with more than {MAX_INT_DIGITS} digits")
    return int(text)


def parse_json(body: bytes) -> Any:
    """A request body as JSON, or `SchemaError`: not UTF-8, not JSON, `NaN`/`Infinity` (which Python's json
    accepts, JSON does not), numbers out of range, nesting deeper than `MAX_DEPTH`, or a lone surrogate
    (`"\\ud800"`) in any string or key, at any depth — text SQLite could not store as UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SchemaError("body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int)
    except SchemaError:
        raise
    except RecursionError:
        raise SchemaError(f"body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise SchemaError("body is not JSON") from None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SchemaError(f"body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((k, depth) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str) and _SURROGATE.search(item):
            raise SchemaError("body is not valid Unicode text (a lone surrogate)")
    return value


class _Unstorable(Exception):
    """These rows, and only these, were refused by the database (the rest of their batch is stored)."""


# Errors that belong to the rows being inserted rather than to the database: retrying the rest of a
# batch without those rows succeeds.
_ROW_ERRORS = (
    ValueError,
    OverflowError,
    TypeError,
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
)


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

    def __init__(
        self, rate: float, burst: int, max_clients: int = 200_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.max_clients, self.clock = rate, float(burst), max_clients, clock
        self._key = os.urandom(16)
        self._buckets: dict[bytes, tuple[float, float]] = {}

    def allow(self, client: str, now: float | None = None, cost: float = 1.0, consume: bool = True) -> bool:
        """Whether `client` may send `cost` events now (and, with `consume`, take them from its bucket)."""
        if self.rate <= 0:
            return True
        now = self.clock() if now is None else now
        key = hashlib.blake2b(client.encode(), key=self._key, digest_size=12).digest()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        ok = tokens >= cost
        self._buckets[key] = (tokens - cost if ok and consume else tokens, now)
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
    request_timeout: float = 10.0  # seconds for a connection to send a whole request (headers and body)
    max_connections: int = 1000
    summary_interval: float = 60.0  # seconds between log summaries (only when something happened)
    # The server clock events are stamped with (seconds): a simulated month in tests and bench/loop.py.
    clock: Callable[[], float] = time.time
    limiter_clock: Callable[[], float] = time.monotonic  # the rate limit's (seconds; tests stop it)
    stored: int = field(default=0, init=False)
    failed: str = field(default="", init=False)
    counts: Counter[str] = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        allowed = {normalize_origin(o) for o in (self.origins or ["*"])}
        self._any_origin = "*" in allowed
        self._origins = allowed - {"*"}
        self.limiter = RateLimiter(self.rate, self.burst, clock=self.limiter_clock)
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kbgen-collector-db")
        self._db: sqlite3.Connection | None = None
        self._opened: asyncio.Future[sqlite3.Connection] | None = None
        self._summary: asyncio.Task[None] | None = None
        self._last_summary: Counter[str] = Counter()
        self._uncommitted = 0  # events handed to the writer and not yet committed (or refused)

    def _reject(self, reason: str, events: int = 1) -> None:
        self.counts[reason] += events

    # -- lifecycle --------------------------------------------------------------------------------------

    async def startup(self) -> None:
        if self._writer is not None:
            return
        # Open the database here, in the writer's thread; requests that arrive meanwhile queue up.
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop())
        if self.summary_interval > 0:
            self._summary = asyncio.create_task(self._summary_loop())
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
        if self._summary is not None:
            self._summary.cancel()
            self._summary = None
            self._log_summary(self._last_summary)
        db, self._db = self._db, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)

    async def _summary_loop(self) -> None:
        while True:
            await asyncio.sleep(self.summary_interval)
            self._log_summary(self._last_summary)

    def _log_summary(self, last: Counter[str]) -> None:
        """One line for what happened since the last one (never a line per request or connection)."""
        now = Counter(self.counts)
        now.pop("open", None)
        delta = now - last
        self._last_summary = now
        if not delta:
            return
        parts = [f"{delta['accepted']} events accepted"]
        rejected = {r: delta[r] for r in REJECT_REASONS if delta[r]}
        if rejected:
            detail = ", ".join(f"{r} {n}" for r, n in rejected.items())
            parts.append(f"{sum(rejected.values())} rejected ({detail})")
        closed = {c: delta[c] for c in CONNECTION_COUNTS if delta[c]}
        if closed:
            parts.append("connections closed: " + ", ".join(f"{c} {n}" for c, n in closed.items()))
        log.info("kbgen collector: %s (%d open connections)", "; ".join(parts), self.counts["open"])

    def _commit(self, rows: list[tuple[Any, ...]]) -> None:
        assert self._db is not None
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(_INSERT, rows)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _commit_each(self, batch: list[list[tuple[Any, ...]]]) -> list[BaseException | None]:
        """After a batch failed on a row error: each request's rows in a transaction of their own, so
        only the requests whose rows fail are refused. A database failure fails the rest too."""
        results: list[BaseException | None] = []
        for rows in batch:
            if results and isinstance(results[-1], Exception) and not isinstance(results[-1], _Unstorable):
                results.append(results[-1])
                continue
            try:
                self._commit(rows)
                results.append(None)
            except _ROW_ERRORS as exc:
                results.append(_Unstorable(f"{type(exc).__name__}: {exc}"[:200]))
            except Exception as exc:
                results.append(exc)
        return results

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
            results: list[BaseException | None]
            try:
                await loop.run_in_executor(self._executor, self._commit, [r for p in batch for r in p.rows])
                results = [None] * len(batch)
            except _ROW_ERRORS:  # some row cannot be stored: find which, store the others
                results = await loop.run_in_executor(
                    self._executor, self._commit_each, [p.rows for p in batch]
                )
            except Exception as exc:  # disk full, database locked by someone else: not acknowledged
                results = [exc] * len(batch)
            failure = next((r for r in results if r is not None and not isinstance(r, _Unstorable)), None)
            self.failed = f"{type(failure).__name__}: {failure}" if failure is not None else ""
            for p, result in zip(batch, results, strict=True):
                self._uncommitted -= len(p.rows)
                if result is None:
                    self.stored += len(p.rows)
                if p.done.done():
                    continue
                if result is None:
                    p.done.set_result(None)
                else:
                    p.done.set_exception(result)

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
                "queued": self._uncommitted,
                "accepted": self.counts["accepted"],
                "rejected": {r: self.counts[r] for r in REJECT_REASONS},
                "connections": {k: self.counts[k] for k in CONNECTION_COUNTS},
            }
            if self.failed:
                body["error"] = self.failed
            return await _respond(send, status, body, head=method == "HEAD")
        if path not in ("/collect", "/"):
            return await _respond(send, 404, {"error": "not found; events go to POST /collect"})
        if method == "OPTIONS":
            if not (origin and self.origin_allowed(origin)):
                self._reject("origin")
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
            self._reject("origin")
            return await _respond(send, 403, {"error": "origin not allowed"}, cors)

        client = (scope.get("client") or ("?", 0))[0]
        if self.trust_proxy and headers.get("x-forwarded-for"):
            client = headers["x-forwarded-for"].rsplit(",", 1)[-1].strip()
        if not self.limiter.allow(client, consume=False):  # out of tokens: not worth reading the body
            self._reject("rate_limited")
            return await _respond(send, 429, {"error": "too many events"}, cors + [("retry-after", "10")])

        ctype = headers.get("content-type", "text/plain").split(";", 1)[0].strip().lower()
        if ctype not in ("text/plain", "application/json", ""):
            self._reject("content_type")
            self.limiter.allow(client)  # a refused request costs an event too
            return await _respond(send, 415, {"error": "send text/plain or application/json"}, cors)
        length = headers.get("content-length")
        too_big = f"body over {self.max_body} bytes"
        if length is not None:
            if not length.isdigit():
                self._reject("invalid")
                self.limiter.allow(client)
                return await _respond(send, 400, {"error": "bad content-length"}, cors, close=True)
            if int(length) > self.max_body:
                self._reject("too_large")
                self.limiter.allow(client)
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
                self._reject("too_large")
                self.limiter.allow(client)
                return await _respond(send, 413, {"error": too_big}, cors, close=True)
        try:
            events = validate_batch(parse_json(bytes(body)), MAX_BATCH_EVENTS)
        except SchemaError as exc:
            self._reject("invalid")
            self.limiter.allow(client)
            return await _respond(send, 400, {"error": str(exc)}, cors)
        if not self.limiter.allow(client, cost=len(events)):  # the rate counts events, not requests
            self._reject("rate_limited", len(events))
            return await _respond(send, 429, {"error": "too many events"}, cors + [("retry-after", "10")])

        assert self._queue is not None
        if self._queue.qsize() >= self.max_queue:
            self._reject("busy", len(events))
            return await _respond(send, 503, {"error": "busy"}, cors + [("retry-after", "1")])
        now = int(self.clock() * 1000)
        device = device_class(headers.get("user-agent", ""))
        rows = [(now, device, *(ev.get(c) for c in FIELD_COLUMNS)) for ev in events]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._uncommitted += len(rows)
        await self._queue.put(_Pending(rows, done))
        try:
            await done
        except _Unstorable as exc:  # this request's rows themselves cannot be stored; nobody else's
            self._reject("unstorable", len(events))
            return await _respond(send, 400, {"error": f"the event cannot be stored: {exc}"[:300]}, cors)
        except Exception:
            self._reject("store_failed", len(events))
            retry = [("retry-after", "5")]
            return await _respond(send, 503, {"error": "could not store the event"}, cors + retry)
        self.counts["accepted"] += len(events)
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


class _QuietLogs(logging.Filter):
    """Drops the server's per-request and per-connection warnings (a flood of bad or slow clients would
    write one each); the collector counts those connections and logs a summary instead."""

    NOISY = (
        "Invalid HTTP request received.",
        "Exceeded concurrency limit.",
        "Unsupported upgrade request.",
        "No supported WebSocket library",
        "socket.accept() out of system resource",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.NOISY)


def _guarded_protocol(app: Collector) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with what it lacks against slow clients (slowloris): a deadline for each whole
    request (headers and body: `app.request_timeout`, from the connection's start or the end of the previous
    response), and a cap of `app.max_connections` — past it, the connection that has waited longest for its
    request is closed to make room (or, if every one is busy with a request, the new one is refused)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    waiting: dict[Any, asyncio.TimerHandle] = {}  # connections still sending a request, oldest first
    live: set[Any] = set()
    counts = app.counts
    incomplete = (h11.IDLE, h11.SEND_BODY)

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            live.add(self)
            if len(live) > app.max_connections:
                if waiting:
                    next(iter(waiting))._drop("evicted")
                else:
                    self._drop("refused")
                    return
            self._arm()
            counts["open"] = len(live)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self in waiting and self.conn.their_state not in incomplete:
                self._disarm()  # the whole request is in: the app answers in its own time

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state in incomplete:
                self._arm()  # kept alive: the next request has the same deadline

        def send_400_response(self, msg: str) -> None:
            counts["bad_http"] += 1
            super().send_400_response(msg)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            live.discard(self)
            counts["open"] = len(live)
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            waiting[self] = self.loop.call_later(app.request_timeout, self._drop, "timed_out")

        def _disarm(self) -> None:
            handle = waiting.pop(self, None)
            if handle is not None:
                handle.cancel()

        def _drop(self, reason: str) -> None:
            self._disarm()
            live.discard(self)
            counts["open"] = len(live)
            if not self.transport.is_closing():
                counts[reason] += 1
                self.transport.close()

    return GuardedH11Protocol


def server_config(app: Collector, host: str = "127.0.0.1", port: int = 8787) -> Any:
    """The uvicorn configuration `serve` runs `app` with (also for tests): h11 with header size capped,
    the guarded protocol, no access log, per-connection warnings summarised."""
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
        http=_guarded_protocol(app), h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        backlog=max(2048, app.max_connections),
    )  # fmt: skip
    quiet = _QuietLogs()
    for name in ("uvicorn.error", "asyncio"):
        if not any(isinstance(f, _QuietLogs) for f in logging.getLogger(name).filters):
            logging.getLogger(name).addFilter(quiet)
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return config


def _raise_file_limit(app: Collector) -> None:
    """Room for `max_connections` sockets plus the database: raise the soft limit, or lower the cap."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = app.max_connections + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
        app.max_connections = max(1, min(app.max_connections, soft - 64))


def serve(app: Collector, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Run `app` with uvicorn until SIGINT/SIGTERM (then commit what is queued and stop)."""
    _raise_file_limit(app)
    import uvicorn

    uvicorn.Server(server_config(app, host, port)).run()
