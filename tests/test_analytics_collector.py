"""The first-party collector over real HTTP: CORS, size cap, validation, rate limit, durability."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import free_port, wait_for

from kbgen.analytics.collector import Collector, RateLimiter, device_class, normalize_origin

SITE = "https://help.northwind.example"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
EVENT = {
    "name": "page_view",
    "page": "/orders/tracking/track-your-order/",
    "id": "orders/tracking/track-your-order",
}


def start_collector(app: Collector) -> tuple[str, object, threading.Thread]:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        access_log=False,
        log_level="error",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started or not thread.is_alive(), 120), "collector did not start"
    assert server.started, "collector did not start"
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[str, Path, Collector]]:
    db = tmp_path / "analytics.sqlite"
    app = Collector(db, [SITE], rate=1.0, burst=30)
    url, server, thread = start_collector(app)
    yield url, db, app
    server.should_exit = True  # type: ignore[attr-defined]
    thread.join(10)


def rows(db: Path) -> list[dict[str, object]]:
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM events ORDER BY seq")]


def post(url: str, body: bytes | str, origin: str | None = SITE, **headers: str) -> httpx.Response:
    h = {"content-type": "text/plain;charset=UTF-8", "user-agent": UA, **headers}
    if origin is not None:
        h["origin"] = origin
    return httpx.post(url + "/collect", content=body, headers=h, timeout=10)


def test_beacon_is_stored_and_acknowledged(collector: tuple[str, Path, Collector]) -> None:
    url, db, _ = collector
    r = post(url, json.dumps(EVENT))
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == SITE
    assert "set-cookie" not in r.headers
    r = post(
        url,
        json.dumps(
            [
                {"name": "search", "page": "/", "query": "refund for ann@example.com", "results": 3},
                {"name": "search_no_results", "page": "/", "query": "price match"},
            ]
        ),
        **{"content-type": "application/json"},
    )
    assert r.status_code == 204
    stored = rows(db)
    assert [(e["name"], e["page"]) for e in stored] == [
        ("page_view", EVENT["page"]),
        ("search", "/"),
        ("search_no_results", "/"),
    ]
    assert stored[0]["id"] == EVENT["id"] and stored[0]["device"] == "mobile"
    assert stored[1]["query"] == "refund for [email]" and stored[1]["results"] == 3
    # Nothing identifying: no address, no user agent, anywhere in the row.
    flat = json.dumps(stored)
    assert "127.0.0.1" not in flat and "iPhone" not in flat and "Safari" not in flat
    health = httpx.get(url + "/health").json()
    assert {k: health[k] for k in ("status", "stored", "queued", "accepted")} == {
        "status": "ok",
        "stored": 3,
        "queued": 0,
        "accepted": 3,
    }
    assert set(health["rejected"].values()) == {0}


def test_preflight_and_cross_origin(collector: tuple[str, Path, Collector]) -> None:
    url, db, _ = collector
    ok = httpx.options(
        url + "/collect",
        headers={
            "origin": SITE,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SITE
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "content-type" in ok.headers["access-control-allow-headers"]
    bad = httpx.options(
        url + "/collect", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers
    for origin in ("https://evil.example", "http://help.northwind.example", "null", None):
        r = post(url, json.dumps(EVENT), origin=origin)
        assert r.status_code == 403, origin
        assert "access-control-allow-origin" not in r.headers
    # The origin is compared normalised: case and the default port do not matter.
    assert post(url, json.dumps(EVENT), origin="https://HELP.northwind.example:443").status_code == 204
    assert len(rows(db)) == 1


def test_oversize_bodies_are_refused_without_reading_them(collector: tuple[str, Path, Collector]) -> None:
    url, db, _ = collector
    big = json.dumps({**EVENT, "category": "x" * 3000})
    assert post(url, big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while reading
        for _ in range(100):
            yield b" " * 1024

    r = httpx.post(url + "/collect", content=chunks(), headers={"origin": SITE, "content-type": "text/plain"})
    assert r.status_code == 413
    # A client announcing 100 MB gets its answer before sending any of it.
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5) as s:
        s.sendall(
            b"POST /collect HTTP/1.1\r\nHost: x\r\nOrigin: "
            + SITE.encode()
            + b"\r\nContent-Type: text/plain\r\nContent-Length: 100000000\r\n\r\n"
        )
        assert s.recv(200).startswith(b"HTTP/1.1 413")
    assert rows(db) == []


@pytest.mark.parametrize(
    ("body", "status", "ctype"),
    [
        (b"{not json", 400, "text/plain"),
        (b"\xff\xfe", 400, "text/plain"),
        (b'{"name": "page_view"}', 400, "text/plain"),
        (b'{"name": "delete_everything", "page": "/"}', 400, "text/plain"),
        (b'{"name": "search", "page": "/", "query": "x", "results": "many"}', 400, "text/plain"),
        (
            b'[{"name": "page_view", "page": "/"}, {"name": "feedback", "page": "/", "url": "/", "helpful": "?"}]',
            400,
            "text/plain",
        ),
        (b"[]", 400, "text/plain"),
        (b'"page_view"', 400, "text/plain"),
        (b"name=page_view", 415, "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_events_store_nothing(
    collector: tuple[str, Path, Collector], body: bytes, status: int, ctype: str
) -> None:
    url, db, _ = collector
    r = post(url, body, **{"content-type": ctype})
    assert r.status_code == status, r.text
    assert "error" in r.json()
    assert rows(db) == []


def test_rate_limit_per_client(tmp_path: Path) -> None:
    # The limiter's clock stands still unless the test moves it: however slowly a loaded machine sends the
    # requests, no token is refilled in between.
    now = [1000.0]
    app = Collector(
        tmp_path / "a.sqlite", ["*"], rate=0.5, burst=5, trust_proxy=True, limiter_clock=lambda: now[0]
    )
    url, server, thread = start_collector(app)
    try:
        client = {"x-forwarded-for": "198.51.100.7"}
        codes = [post(url, json.dumps(EVENT), **client).status_code for _ in range(8)]
        assert codes == [204] * 5 + [429] * 3
        other = post(url, json.dumps(EVENT), **{"x-forwarded-for": "10.0.0.1, 198.51.100.8"})
        assert other.status_code == 204  # another client has its own bucket
        now[0] += 2.0  # two seconds at 0.5 events a second: one token back, one event more
        assert [post(url, json.dumps(EVENT), **client).status_code for _ in range(2)] == [204, 429]
        assert len(rows(tmp_path / "a.sqlite")) == 7
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(10)


def test_rate_limiter_keys_are_not_addresses() -> None:
    limiter = RateLimiter(rate=1, burst=2)
    assert limiter.allow("203.0.113.9", now=0) and limiter.allow("203.0.113.9", now=0)
    assert not limiter.allow("203.0.113.9", now=0.5)
    assert limiter.allow("203.0.113.9", now=1.5)
    assert all(b"203.0.113.9" not in k for k in limiter._buckets)
    assert RateLimiter(rate=1, burst=2)._key != limiter._key  # a new key per process


def test_helpers() -> None:
    assert normalize_origin("HTTPS://Help.Example.com:443/") == "https://help.example.com"
    assert normalize_origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert device_class("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0") == "desktop"
    assert device_class("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)") == "tablet"
    assert device_class("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari") == "mobile"
    assert device_class("Mozilla/5.0 (compatible; Googlebot/2.1)") == "bot"
    assert device_class("") == "unknown"


def test_other_routes(collector: tuple[str, Path, Collector]) -> None:
    url, _, _ = collector
    assert httpx.get(url + "/collect").status_code == 405
    assert httpx.get(url + "/elsewhere").status_code == 404
    assert httpx.post(url + "/health").status_code == 405


def test_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    """Every 204 means committed: kill -9 the collector mid-load, and every acknowledged event is there."""
    port, db = free_port(), tmp_path / "a.sqlite"
    code = (
        "import sys; from kbgen.analytics.collector import Collector, serve; "
        "serve(Collector(sys.argv[1], ['*'], rate=0), '127.0.0.1', int(sys.argv[2]))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(db), str(port)], stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(url + "/health", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        assert wait_for(lambda: proc.poll() is not None or healthy(), 120) and proc.poll() is None
        acked: list[str] = []
        stop = threading.Event()

        def worker(n: int) -> None:
            with httpx.Client(timeout=60) as client:
                i = 0
                while not stop.is_set():
                    page = f"/kill/{n}/{i}/"
                    i += 1
                    try:
                        r = client.post(
                            url + "/collect",
                            content=json.dumps({"name": "page_view", "page": page}),
                            headers={"origin": SITE, "content-type": "text/plain"},
                        )
                    except httpx.TimeoutException:  # a slow answer: not acknowledged, not counted
                        continue
                    except httpx.TransportError:  # killed
                        return
                    if r.status_code == 204:
                        acked.append(page)

        with ThreadPoolExecutor(8) as pool:
            sending = [pool.submit(worker, n) for n in range(8)]
            # killed in full flow: once enough events were acknowledged (not after a fixed time, which a
            # loaded machine may spend starting up), with every client still sending
            wait_for(lambda: len(acked) >= 100 or all(f.done() for f in sending), 300)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            stop.set()
        for f in sending:
            f.result()  # no client failed on anything but the kill
        assert len(acked) >= 100
        stored = {r["page"] for r in rows(db)}
        missing = set(acked) - stored
        assert not missing, f"{len(missing)} acknowledged events lost"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_without_lifespan_the_first_requests_start_the_writer(tmp_path: Path) -> None:
    """Servers that skip the ASGI lifespan (or tests) still get every event stored, even concurrent firsts."""
    import asyncio

    app = Collector(tmp_path / "a.sqlite", [SITE], rate=0)

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://collector") as client:
            bodies = [json.dumps({"name": "page_view", "page": f"/p/{i}/"}) for i in range(20)]
            answers = await asyncio.gather(
                *(client.post("/collect", content=b, headers={"origin": SITE}) for b in bodies)
            )
        await app.shutdown()
        return [a.status_code for a in answers]

    # In a thread of its own: a browser test run earlier by the same worker may leave Playwright's event loop
    # registered as running in this one (asyncio.run() then refuses to start).
    statuses: list[list[int]] = []
    runner = threading.Thread(target=lambda: statuses.append(asyncio.run(main())))
    runner.start()
    runner.join(timeout=60)
    assert statuses == [[204] * 20]
    assert len(rows(tmp_path / "a.sqlite")) == 20


def test_a_same_day_rebuild_sees_events_still_in_the_collectors_wal(tmp_path: Path) -> None:
    """The collector keeps new events in `analytics.sqlite-wal` until a checkpoint: the build's
    "Up to date" check must see them, or a same-day rebuild ignores the day's traffic."""
    import shutil

    from conftest import ROOT, run_kbgen

    from kbgen.analytics.collector import connect

    project = tmp_path / "p"
    project.mkdir()
    shutil.copytree(ROOT / "content", project / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    toml += '\n[analytics]\nsources = [{type = "collector", path = "analytics.sqlite"}]\n'
    (project / "kbgen.toml").write_text(toml, encoding="utf-8")
    db = connect(project / "analytics.sqlite")
    db.execute("INSERT INTO events (ts, name) VALUES (?, 'pageview')", (int(time.time() * 1000),))
    db.close()  # checkpointed into the main file
    run_kbgen("build", cwd=project)
    assert run_kbgen("build", cwd=project).stdout.startswith("Up to date")
    writer = connect(project / "analytics.sqlite")  # the running collector: its writes stay in the WAL
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        main_file = (project / "analytics.sqlite").stat()
        writer.execute("INSERT INTO events (ts, name) VALUES (?, 'pageview')", (int(time.time() * 1000),))
        assert (project / "analytics.sqlite").stat().st_mtime_ns == main_file.st_mtime_ns
        assert (project / "analytics.sqlite-wal").stat().st_size > 0
        again = run_kbgen("build", cwd=project)
        assert not again.stdout.startswith("Up to date"), again.stdout
    finally:
        writer.close()
