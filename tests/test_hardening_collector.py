"""The collector under hostile input (issue 12): one bad event never costs another's.

Real HTTP on 127.0.0.1 against the collector as `kbgen collect` serves it (`server_config`: the guarded h11
protocol), a real SQLite database, real sockets for the slow clients, and Hypothesis for generated payloads.
"""

from __future__ import annotations

import itertools
import json
import math
import socket
import sqlite3
import string
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbgen.analytics.collector import Collector, server_config
from kbgen.analytics.events import EVENTS, clean_query

SITE = "https://help.northwind.example"
HEADERS = {"origin": SITE, "content-type": "text/plain;charset=UTF-8", "user-agent": "Mozilla/5.0 (X11)"}


@contextmanager
def serving(app: Collector) -> Iterator[str]:
    """`app` served as `kbgen collect` serves it, in a thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(server_config(app, "127.0.0.1", free_port()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, 120), "collector did not start"
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(15)


def stored(db: Path, column: str = "page") -> list[Any]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute(f"SELECT {column} FROM events ORDER BY seq")]


def post(url: str, body: bytes | str, **headers: str) -> httpx.Response:
    return httpx.post(url + "/collect", content=body, headers={**HEADERS, **headers}, timeout=30)


def health(url: str) -> dict[str, Any]:
    return httpx.get(url + "/health", timeout=10).json()  # type: ignore[no-any-return]


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[str, Path, Collector]]:
    db = tmp_path / "analytics.sqlite"
    app = Collector(db, [SITE], rate=0)
    with serving(app) as url:
        yield url, db, app


# -- hostile JSON: 400, nothing stored, never a 500 ------------------------------------------------------

HOSTILE_BODIES = {
    "surrogate in page": r'{"name": "page_view", "page": "/a\ud800/"}',
    "low surrogate in id": r'{"name": "page_view", "page": "/", "id": "x\udfffy"}',
    "surrogate in query": r'{"name": "search", "page": "/", "query": "\udbff", "results": 1}',
    "surrogate in a key": r'{"name": "page_view", "page": "/", "\ud800": 1}',
    "surrogate nested in an unknown field": r'{"name": "page_view", "page": "/", "x": {"y": ["\ud834"]}}',
    "surrogate in one event of a batch": r'[{"name": "page_view", "page": "/"}, {"name": "page_view", "page": "/\ude00"}]',
    "NaN": '{"name": "search", "page": "/", "query": "refund", "results": NaN}',
    "Infinity": '{"name": "search_click", "page": "/", "query": "a", "url": "/b/", "rank": Infinity}',
    "-Infinity": '{"name": "search", "page": "/", "query": "refund", "results": -Infinity}',
    "NaN in an unknown field": '{"name": "page_view", "page": "/", "score": NaN}',
    "overflowing float": '{"name": "search", "page": "/", "query": "refund", "results": 1e400}',
    "huge int": '{"name": "search", "page": "/", "query": "refund", "results": ' + "9" * 1500 + "}",
    "huge int in an unknown field": '{"name": "page_view", "page": "/", "n": ' + "1" * 1500 + "}",
    "deep nesting": "[" * 1000 + "]" * 1000,
    "deep nesting in an unknown field": '{"name": "page_view", "page": "/", "x": '
    + "[" * 20
    + "]" * 20
    + "}",
}


@pytest.mark.parametrize("body", list(HOSTILE_BODIES.values()), ids=list(HOSTILE_BODIES))
def test_hostile_json_is_400_and_stores_nothing(collector: tuple[str, Path, Collector], body: str) -> None:
    url, db, _ = collector
    r = post(url, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]
    assert stored(db) == []
    assert health(url)["status"] == "ok"  # and the collector is as healthy as before


@contextmanager
def writer_blocked(db: Path) -> Iterator[None]:
    """Hold the database's write lock (as a backup or another process would), so that the collector's
    writer waits and every request arriving meanwhile lands in one batch; released on exit."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


def test_a_lone_surrogate_never_costs_other_clients_their_events(tmp_path: Path) -> None:
    """Before: the surrogate passed validation and failed the insert of the whole batch — 503 for everyone."""
    db = tmp_path / "a.sqlite"
    app = Collector(db, [SITE], rate=0)
    with serving(app) as url:
        good = [json.dumps({"name": "page_view", "page": f"/good/{c}/"}) for c in string.ascii_lowercase[:12]]
        bad = [r'{"name": "page_view", "page": "/bad/\ud800/"}'] * 4
        bodies = good[:6] + bad + good[6:]
        threads: list[threading.Thread] = []
        statuses = [0] * len(bodies)
        with writer_blocked(db):
            for i, body in enumerate(bodies):
                t = threading.Thread(
                    target=lambda i=i, body=body: statuses.__setitem__(i, post(url, body).status_code)
                )
                t.start()
                threads.append(t)

            def all_in() -> bool:  # every event waits for the blocked writer, or was refused
                h = health(url)
                return int(h["queued"]) + sum(h.get("rejected", {}).values()) >= len(bodies)

            assert wait_for(all_in, 30), health(url)
        for t in threads:
            t.join(30)
        assert [s for b, s in zip(bodies, statuses, strict=True) if b in bad] == [400] * 4
        assert [s for b, s in zip(bodies, statuses, strict=True) if b in good] == [204] * 12
        assert sorted(stored(db)) == sorted(json.loads(b)["page"] for b in good)
        assert health(url)["rejected"]["invalid"] == 4


def test_a_row_the_database_refuses_fails_only_its_own_request(tmp_path: Path) -> None:
    """Any row SQLite refuses at insert (here: a trigger the site owner added) is retried alone: the rest of
    its batch is stored and acknowledged, and only its own request is refused (4xx, not 503)."""
    db = tmp_path / "a.sqlite"
    app = Collector(db, [SITE], rate=0)
    with serving(app) as url:
        with sqlite3.connect(db) as con:
            con.execute(
                "CREATE TRIGGER no_poison BEFORE INSERT ON events WHEN NEW.page LIKE '/poison/%' "
                "BEGIN SELECT RAISE(ABORT, 'poisoned page'); END"
            )
        good = [json.dumps({"name": "page_view", "page": f"/good/{c}/"}) for c in string.ascii_lowercase[:10]]
        poison = [
            json.dumps(
                [
                    {"name": "page_view", "page": "/ok/with-poison/"},
                    {"name": "page_view", "page": "/poison/1/"},
                ]
            ),
            json.dumps({"name": "page_view", "page": "/poison/2/"}),
        ]
        bodies = good[:5] + poison + good[5:]
        statuses = [0] * len(bodies)
        threads: list[threading.Thread] = []
        with writer_blocked(db):
            for i, body in enumerate(bodies):
                t = threading.Thread(
                    target=lambda i=i, body=body: statuses.__setitem__(i, post(url, body).status_code)
                )
                t.start()
                threads.append(t)
            assert wait_for(lambda: int(health(url)["queued"]) >= 13, 30), health(url)  # all events in
        for t in threads:
            t.join(30)
        by_body = dict(zip(bodies, statuses, strict=True))
        assert [by_body[b] for b in good] == [204] * 10
        assert [by_body[b] for b in poison] == [400, 400]
        # A request is stored whole or not at all: its good event went with its poisoned one.
        assert sorted(stored(db)) == sorted(json.loads(b)["page"] for b in good)
        h = health(url)
        assert h["status"] == "ok" and h["accepted"] == 10 and h["rejected"]["unstorable"] == 3


# -- rate limit and /health -----------------------------------------------------------------------------


def batch(n: int, tag: str) -> str:
    return json.dumps(
        [{"name": "page_view", "page": f"/{tag}/{string.ascii_lowercase[i]}/"} for i in range(n)]
    )


def test_rate_limit_counts_events_not_requests(tmp_path: Path) -> None:
    db = tmp_path / "a.sqlite"
    app = Collector(db, [SITE], rate=0.001, burst=30)  # 30 events, then practically none
    with serving(app) as url:
        assert post(url, batch(20, "one")).status_code == 204
        assert post(url, batch(20, "two")).status_code == 429  # 10 left: a batch of 20 is 20 events
        assert post(url, batch(10, "three")).status_code == 204
        assert post(url, batch(1, "four")).status_code == 429
        assert len(stored(db)) == 30
        h = health(url)
        assert h["accepted"] == 30 and h["rejected"]["rate_limited"] == 21


def test_health_counts_accepted_and_rejected_events_by_reason(collector: tuple[str, Path, Collector]) -> None:
    url, _, _ = collector
    assert post(url, batch(3, "ok")).status_code == 204
    assert post(url, batch(1, "x"), origin="https://evil.example").status_code == 403
    assert (
        post(url, "name=page_view", **{"content-type": "application/x-www-form-urlencoded"}).status_code
        == 415
    )
    assert post(url, json.dumps({"name": "page_view", "page": "/" + "a" * 3000})).status_code == 413
    assert post(url, "{nope").status_code == 400
    assert post(url, '{"name": "page_view", "page": "/", "x": NaN}').status_code == 400
    h = health(url)
    assert h["status"] == "ok" and h["accepted"] == 3 and h["stored"] == 3
    assert h["rejected"] == {
        "origin": 1,
        "content_type": 1,
        "too_large": 1,
        "invalid": 2,
        "rate_limited": 0,
        "busy": 0,
        "unstorable": 0,
        "store_failed": 0,
    }


# -- page and url: stored redacted, bounded ---------------------------------------------------------------


def test_page_and_url_are_stored_redacted_like_search_terms(collector: tuple[str, Path, Collector]) -> None:
    url, db, _ = collector
    events = [
        {"name": "page_view", "page": "/search/?q=ann%40example.com&lang=en"},
        {"name": "page_view", "page": "/customers/jane.doe@example.com/orders/"},
        {"name": "page_view", "page": "/call/+44%2020%207946%200958/"},
        {
            "name": "search_click",
            "page": "/search/?q=order+4111+1111+1111+1111",
            "query": "order",
            "url": "/orders/98765432/",
            "rank": 1,
        },
        {
            "name": "feedback",
            "page": "/orders/tracking/",
            "url": "https://help.northwind.example/x/?email=bob@example.org#top",
            "helpful": "yes",
        },
        {"name": "page_view", "page": "/orders/tracking/track-your-order/"},
        {"name": "page_view", "page": "/" + "a@b/" * 74},  # 297 characters; `[email]` is longer than `a@b`
    ]
    r = post(url, json.dumps(events), **{"content-type": "application/json"})
    assert r.status_code == 204, r.text
    pages, urls = stored(db, "page"), stored(db, "url")
    assert pages[:6] == [
        "/search/?q=[email]&lang=en",
        "/customers/[email]/orders/",
        "/call/[number]/",
        "/search/?q=order [number]",
        "/orders/tracking/",
        "/orders/tracking/track-your-order/",  # nothing personal: kept as it was
    ]
    assert urls[3:5] == ["/orders/[number]/", "https://help.northwind.example/x/?email=[email]#top"]
    assert pages[6].startswith("/[email]/[email]/") and len(pages[6]) <= 300
    flat = json.dumps([pages, urls])
    for secret in ("ann", "jane.doe", "7946", "4111", "98765432", "bob@"):
        assert secret not in flat, secret


# -- slow clients -----------------------------------------------------------------------------------------


def test_slow_clients_are_cut_off_and_the_collector_stays_reachable(tmp_path: Path) -> None:
    """1,100 connections sending their headers byte by byte (slowloris), more than the process may open: a
    real beacon still gets 204, every slow connection is closed by the server, and the log is a summary, not
    a line per connection. Before: unreachable, and 189 MB of `socket.accept() out of system resource`."""
    import resource

    slow_count = 1100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < slow_count + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, slow_count + 500), hard))
    port, db, log = free_port(), tmp_path / "a.sqlite", tmp_path / "collector.log"
    code = (
        "import sys; from kbgen.analytics.collector import Collector, serve; "
        "serve(Collector(sys.argv[1], ['*'], rate=0, request_timeout=3, summary_interval=0.5), "
        "'127.0.0.1', int(sys.argv[2]))"
    )

    def common_file_limit() -> None:  # 1,024 open files, as on most systems: the slow clients alone exceed it
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(db), str(port)], stderr=err, preexec_fn=common_file_limit
        )
    url = f"http://127.0.0.1:{port}"
    slow: list[socket.socket] = []
    try:

        def up() -> bool:
            try:
                return httpx.get(url + "/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        assert wait_for(up, 20)
        request = b"POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        for _ in range(slow_count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setblocking(False)
            s.send(request[:1])
            slow.append(s)
        sent = itertools.count(1)
        closed: set[int] = set()

        def trickle() -> None:  # one more byte on every slow connection; notice the ones the server closed
            i = next(sent) % len(request)
            for n, s in enumerate(slow):
                if n in closed:
                    continue
                try:
                    if s.recv(1024) == b"":
                        closed.add(n)
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    closed.add(n)
                    continue
                try:
                    s.send(request[i : i + 1])
                except OSError:
                    closed.add(n)

        for _ in range(50):  # and some that do not speak HTTP at all (a TLS hello): 400, counted, not logged
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n")
                assert s.recv(200).startswith(b"HTTP/1.1 400")
        trickle()
        # A legitimate beacon gets through while they trickle.
        r = httpx.post(
            url + "/collect",
            content=json.dumps({"name": "page_view", "page": "/still/here/"}),
            headers=HEADERS,
            timeout=15,
        )
        assert r.status_code == 204
        assert stored(db) == ["/still/here/"]

        def all_closed() -> bool:
            trickle()
            return len(closed) == slow_count

        assert wait_for(all_closed, 60), f"{slow_count - len(closed)} slow connections still open"
        h = health(url)
        assert h["connections"]["timed_out"] + h["connections"]["evicted"] >= slow_count
        assert h["connections"]["bad_http"] == 50
        assert wait_for(lambda: "timed_out" in log.read_text(errors="replace"), 20)
    finally:
        for s in slow:
            s.close()
        proc.terminate()
        proc.wait(20)
    text = log.read_text(errors="replace")
    assert len(text) < 8000, f"{len(text)} bytes of log for {slow_count} slow connections"
    assert "Traceback" not in text and "Invalid HTTP" not in text


def test_a_slow_body_is_cut_off_too(collector: tuple[str, Path, Collector]) -> None:
    """Headers in, then a body that never comes: closed after the request deadline, nothing stored."""
    url, db, app = collector
    app.request_timeout = 0.5
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            b"POST /collect HTTP/1.1\r\nHost: x\r\nOrigin: " + SITE.encode() + b"\r\n"
            b'Content-Type: text/plain\r\nContent-Length: 100\r\n\r\n{"name": '
        )
        assert s.recv(1024) == b""  # the server closed it (a timeout here would raise instead)
    assert stored(db) == []
    assert health(url)["connections"]["timed_out"] == 1


# -- generated payloads -----------------------------------------------------------------------------------

ANY_CHAR = st.characters(blacklist_categories=())  # surrogates and control characters included
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
SLUG = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": TEXT,
    "category": TEXT,
    "type": st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True),
    "query": TEXT.filter(lambda t: clean_query(t) != ""),
    "results": st.integers(0, 100_000),
    "url": TEXT.map(lambda t: "/" + t),
    "rank": st.integers(1, 1000),
    "helpful": st.sampled_from(["yes", "no"]),
    "reason": st.sampled_from(["outdated", "unanswered", "unclear", "other"]),
    "comment": TEXT,
    "channel": SLUG,
    "video": TEXT,
    "provider": SLUG,
}
HOSTILE_VALUES = st.one_of(
    TEXT.map(lambda t: t + "\ud800"),
    st.sampled_from(["\udc00", "a\udfffb", "\ud83d"]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(min_value=10**21, max_value=10**60),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(TEXT, st.integers(), max_size=2),
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event (without `page`, which the test sets to a unique marker)."""
    name = draw(st.sampled_from(list(EVENTS)))
    spec = EVENTS[name]
    out: dict[str, Any] = {"name": name}
    for f in spec.required:
        out[f] = draw(FIELD_VALUES[f])
    for f in ("id", "category", "type", *spec.optional):
        if draw(st.booleans()):
            out[f] = draw(FIELD_VALUES[f])
    if draw(st.booleans()):  # unknown fields are dropped, whatever they hold (if it is valid JSON text)
        out["extra_" + draw(SLUG)] = draw(
            st.one_of(TEXT, st.integers(-1000, 1000), st.lists(TEXT, max_size=2))
        )
    return out


@st.composite
def corruptions(draw: st.DrawFn) -> tuple[str, Any] | None:
    """None, or (field, hostile value) — a field of the event, or a key with a lone surrogate."""
    kind = draw(st.sampled_from(["none", "none", "field", "key"]))
    if kind == "none":
        return None
    if kind == "key":
        return (draw(TEXT) + "\udc80", draw(st.integers()))
    return ("?", draw(HOSTILE_VALUES))


REQUESTS = st.one_of(
    st.tuples(
        st.just("events"),
        st.lists(st.tuples(events(), corruptions()), min_size=1, max_size=24),
        st.booleans(),
    ),
    st.tuples(st.just("bytes"), st.binary(max_size=300), st.booleans()),
    st.tuples(st.just("text"), st.text(alphabet=ANY_CHAR, max_size=200), st.booleans()),
    st.tuples(
        st.just("json"),
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(alphabet=ANY_CHAR, max_size=10),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
            ),
            max_leaves=20,
        ),
        st.booleans(),
    ),
)


def marker(n: int) -> str:
    letters = ""
    while True:
        n, r = divmod(n, 26)
        letters += string.ascii_lowercase[r]
        if n == 0:
            return f"/hypothesis/{letters}/"


def test_generated_payloads_never_5xx_and_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    db = tmp_path / "a.sqlite"
    app = Collector(db, [SITE], rate=0, synchronous="NORMAL")
    counter = itertools.count()
    acknowledged: list[str] = []
    refused: list[str] = []
    with serving(app) as url, httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:

        @settings(
            max_examples=250,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(REQUESTS)
        def check(request: tuple[str, Any, bool]) -> None:
            kind, payload, as_json = request
            ctype = "application/json" if as_json else "text/plain;charset=UTF-8"
            markers: list[str] = []
            bad = kind != "events"
            if kind == "events":
                items = []
                for event, corruption in payload:
                    event = {**event, "page": marker(next(counter))}
                    markers.append(event["page"])
                    if corruption is not None:
                        key, value = corruption
                        if key == "?":  # a field this event has (its name, page or one of its fields)
                            fields = sorted(k for k in event if not k.startswith("extra_"))
                            key = fields[len(markers) % len(fields)]
                        event[key] = value
                        bad = True
                    items.append(event)
                bad = bad or len(items) > 20
                data = json.dumps(items if len(items) > 1 or as_json else items[0]).encode()
            elif kind == "bytes":
                data = payload
            elif kind == "text":
                data = payload.encode("utf-8", "surrogatepass")
            else:
                data = json.dumps(payload).encode()
            r = client.post("/collect", content=data, headers={"content-type": ctype})
            assert r.status_code < 500, (r.status_code, r.text, data[:300])
            if kind != "events":
                assert r.status_code in (204, 400, 413), r.text
            elif len(data) > app.max_body:
                assert r.status_code == 413
                refused.extend(markers)
            elif bad:
                assert r.status_code == 400, (r.text, data[:300])
                assert r.json()["error"]
                refused.extend(markers)
            else:
                assert r.status_code == 204, (r.text, data[:300])
                acknowledged.extend(markers)

        check()
        assert health(url)["status"] == "ok"
    pages = set(stored(db))
    assert acknowledged, "no valid batch was generated"
    assert not set(acknowledged) - pages, "acknowledged events missing from the database"
    assert not set(refused) & pages, "refused events were stored"
