"""A simulated month of help-centre traffic with known truth, sent through the real collector over HTTP.

    .venv/bin/python bench/loop_month.py            # writes its section of bench/RESULTS.md
    .venv/bin/python bench/loop_month.py --keep     # only the spaced month, and keep its project

Builds the sample help centre (plus one new article, `pay-with-crypto.md`, that closes last month's
"bitcoin" gap), starts the real collector (`kbgen.analytics.collector.Collector` under uvicorn) with a
simulated clock, replays two 30-day periods of customer sessions — each event one HTTP POST, as
`navigator.sendBeacon` sends it — then runs `kbgen report --days 30 --json` and compares what it says with
what was sent. `tests/test_loop_month.py` runs the same month (and real Chromium sessions) as a test.

Sessions never share a (query, device class) within 30 minutes of each other, so the report's linking
(the latest search of the same query from the same device class within 30 minutes) must find the truth
exactly; `--overlap` starts a session every 15 seconds instead (sessions last 1–2 minutes, so customers searching
the same words interleave) and measures how far the counts drift.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400
# The current period ends on Wednesday 2026-09-30 12:00 UTC: its last week is partial (Mon–Wed).
T_END = 1_790_769_600
DAYS = 30
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
MOBILE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"

NEW_ARTICLE = "payments-billing/payment-methods/pay-with-crypto.md"
NEW_ARTICLE_TEXT = """---
title: Can I pay with bitcoin or other crypto?
updated: 2026-09-10
keywords: [bitcoin, crypto, cryptocurrency, ethereum]
---
We accept bitcoin and ether through our payment partner at checkout. Choose **Crypto** as the payment
method, scan the code with your wallet and keep the page open until the payment is confirmed.
"""


def article(source: str) -> dict[str, str]:
    """The fields analytics.js sends on an article page of the sample site."""
    aid = source.removesuffix(".md")
    return {"id": aid, "page": "/" + aid + "/", "category": aid.split("/")[0], "type": "article"}


REFUND = "returns-refunds/refunds/refund-not-received.md"
ADDRESS = "shipping-delivery/delivery-problems/change-delivery-address.md"
TRACK = "orders/tracking/track-your-order.md"
GIFT = "payments-billing/billing/gift-cards-faq.md"
CRYPTO = NEW_ARTICLE
DAMAGED = "shipping-delivery/delivery-problems/arrived-damaged.md"
# Reading only (no search): what customers open from the home page and category pages.
READS = [TRACK, REFUND, ADDRESS, GIFT, DAMAGED, "returns-refunds/returns/start-a-return.md"]


@dataclass
class Session:
    kind: str  # read | ok | zero_results | abandoned | contact | no_vote | zero_contact
    query: str = ""
    results: int = 0
    opens: str = ""  # the source of the article the customer opens from the results
    device: str = DESKTOP
    reads: list[str] = field(default_factory=list)
    vote: str = ""  # "yes" after reading (a satisfied customer)

    def events(self) -> list[dict[str, Any]]:
        """(seconds after the session starts, event) as analytics.js would send them."""
        out: list[tuple[int, dict[str, Any]]] = []
        t = 0
        if self.query:
            out.append((t, {"name": "page_view", "page": "/search/"}))
            out.append((t + 2, {"name": "search", "page": "/search/", "query": self.query, "results": self.results}))
            if self.results == 0:
                out.append((t + 2, {"name": "search_no_results", "page": "/search/", "query": self.query}))
            t += 20
            if self.kind == "zero_contact":  # the empty results page shows the contact block
                out.append((t, {"name": "contact_click", "page": "/search/", "url": "/search/", "channel": "email",
                                "query": self.query}))  # fmt: skip
            if self.opens:
                a = article(self.opens)
                out.append((t, {"name": "search_click", "page": "/search/", "query": self.query,
                                "url": a["page"], "rank": 1}))  # fmt: skip
                out.append((t + 1, {"name": "page_view", **a}))
                t += 60
                if self.kind == "contact":
                    out.append((t, {"name": "contact_click", **a, "url": a["page"], "channel": "chat",
                                    "query": self.query}))  # fmt: skip
                elif self.kind == "no_vote":
                    out.append((t, {"name": "feedback", **a, "url": a["page"], "helpful": "no",
                                    "query": self.query}))  # fmt: skip
                elif self.vote:
                    out.append((t, {"name": "feedback", **a, "url": a["page"], "helpful": self.vote,
                                    "query": self.query}))  # fmt: skip
            elif self.kind == "abandoned":  # goes to the home page instead
                out.append((t, {"name": "page_view", "page": "/"}))
        for src in self.reads:
            t += 45
            a = article(src)
            out.append((t, {"name": "page_view", **a}))
            if self.vote and not self.query:
                out.append((t + 30, {"name": "feedback", **a, "url": a["page"], "helpful": self.vote}))
        return out


def month(previous: bool, rng: random.Random) -> list[Session]:
    """One period's sessions (unordered)."""
    s: list[Session] = []

    def add(n: int, **kw: Any) -> None:
        s.extend(Session(**kw) for _ in range(n))

    if previous:
        add(5, kind="zero_results", query="bitcoin", results=0)
        add(2, kind="zero_results", query="Bitcoin", results=0)
        add(4, kind="abandoned", query="gift card balance", results=9)
        add(3, kind="abandoned", query="student discount", results=7)
        add(10, kind="ok", query="track my order", results=12, opens=TRACK)
        add(30, kind="read", reads=[TRACK])
        return s
    # Failed searches of each kind, with similar queries grouped:
    add(6, kind="zero_results", query="gift wrapping", results=0)
    add(3, kind="zero_results", query="gift wraping", results=0)  # typo: same group
    add(2, kind="zero_contact", query="Gift Wrapping", results=0)  # then a contact click: still zero results
    add(5, kind="abandoned", query="gift card balance", results=9)
    add(4, kind="abandoned", query="loyalty points", results=12)
    add(3, kind="abandoned", query="loyalty point", results=12)  # stemmed: same group
    add(7, kind="contact", query="refund not received", results=8, opens=REFUND)
    add(5, kind="no_vote", query="change delivery address", results=6, opens=ADDRESS)
    # Searches that worked: result opened, no contact, no "No".
    add(25, kind="ok", query="track my order", results=12, opens=TRACK)
    add(6, kind="ok", query="bitcoin", results=1, opens=CRYPTO)  # last month's gap, closed
    add(8, kind="ok", query="refund not received", results=8, opens=REFUND, vote="yes")
    # Reading only.
    for src in READS:
        add(12, kind="read", reads=[src])
    add(10, kind="read", reads=[TRACK, DAMAGED], vote="yes")
    for i, x in enumerate(s):
        x.device = MOBILE if i % 3 == 0 else DESKTOP
    rng.shuffle(s)
    return s


def schedule(sessions: list[Session], first: int, last: int, spacing: int) -> list[tuple[int, Session]]:
    """Start times from `first` to `last`, evenly (at least `spacing` seconds apart when `spacing` allows:
    with `--overlap`, sessions are packed from `first` on)."""
    n = max(1, len(sessions) - 1)
    step = min(spacing, (last - first) // n) if spacing < 30 * 60 else (last - first) // n
    return [(first + i * step, x) for i, x in enumerate(sessions)]


def truth(cur: list[Session], prev: list[Session]) -> dict[str, Any]:
    kinds = Counter("zero_results" if x.kind == "zero_contact" else x.kind for x in cur if x.query)
    page_views = sum(sum(1 for _, e in x.events() if e["name"] == "page_view") for x in cur)
    groups: Counter[str] = Counter()
    for x in cur:
        if x.query and x.kind != "ok":
            groups[{"gift wraping": "gift wrapping", "loyalty point": "loyalty points"}.get(
                x.query.casefold(), x.query.casefold())] += 1  # fmt: skip
    return {
        "searches": sum(1 for x in cur if x.query),
        "failed": sum(v for k, v in kinds.items() if k != "ok"),
        "zero_results": kinds["zero_results"],
        "abandoned": kinds["abandoned"],
        "contact": kinds["contact"],
        "no_vote": kinds["no_vote"],
        "contacts_after_failed_search": sum(1 for x in cur if x.kind in ("contact", "zero_contact")),
        "page_views": page_views,
        "groups": dict(groups),
        "previous_failed": sum(1 for x in prev if x.query and x.kind != "ok"),
        "gaps": {"bitcoin": "closed", "gift card balance": "still failing", "student discount": "unconfirmed"},
    }


class Clock:
    """The collector's clock: set before each POST to the simulated time of the event."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def replay(url: str, clock: Clock, timeline: list[tuple[int, Session]]) -> int:
    import httpx

    sent = 0
    with httpx.Client(timeout=10) as http:
        for start, x in timeline:
            for dt, ev in x.events():
                clock.now = start + dt
                r = http.post(url, content=json.dumps(ev), headers={
                    "content-type": "text/plain;charset=UTF-8", "origin": "http://127.0.0.1",
                    "user-agent": x.device})  # fmt: skip
                assert r.status_code == 204, (r.status_code, r.text, ev)
                sent += 1
    return sent


def simulate(seed: int = 15, spacing: int = 37 * 60) -> tuple[list[tuple[int, Session]], dict[str, Any]]:
    rng = random.Random(seed)
    prev, cur = month(True, rng), month(False, rng)
    # The previous period ends an hour early and the current one's last session starts 5 minutes before its
    # end: the report's window (30 days back from the newest event) then holds exactly the current sessions.
    timeline = schedule(prev, T_END - 2 * DAYS * DAY + 600, T_END - DAYS * DAY - 3600, spacing)
    timeline += schedule(cur, T_END - DAYS * DAY + 600, T_END - 300, spacing)
    return timeline, truth(cur, prev)


def recovered(report: dict[str, Any]) -> dict[str, Any]:
    """The report's figures in the truth table's shape."""
    f = report["failed_searches"]
    cur = f["current"]
    groups = {g["queries"][0].casefold(): g["count"] for g in f["groups"]}
    return {
        "searches": cur["searches"],
        "failed": cur["total"],
        "zero_results": cur["zero_results"],
        "abandoned": cur["abandoned"],
        "contact": cur["contact"],
        "no_vote": cur["no_vote"],
        "contacts_after_failed_search": f["contacts_after_failed_search"],
        "page_views": report["totals"]["all_views"],
        "groups": groups,
        "previous_failed": f["previous"]["total"],
        "gaps": {g["query"].casefold(): g["status"] for g in report["gap_recheck"]["groups"]},
    }


def run(overlap: bool, keep: bool = False) -> tuple[int, float, dict[str, Any], dict[str, Any]]:  # pragma: no cover
    """Build, collect the month over HTTP, report; returns (events sent, seconds, truth, recovered).
    `keep`: leave the project (printed on stderr) to look at."""
    import shutil
    import socket
    import subprocess
    import tempfile
    import threading
    import time

    import uvicorn

    from kbgen.analytics.collector import Collector

    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(ROOT / "content" / "en" if (ROOT / "content" / "en").is_dir() else ROOT / "content", tmp / "content")
    (tmp / "content" / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8").split("\n# Several languages", 1)[0]
    toml += '\n[analytics]\nsources = [{type = "collector", path = "a.sqlite"}]\n'
    (tmp / "kbgen.toml").write_text(toml, encoding="utf-8")
    clock = Clock()
    app = Collector(tmp / "a.sqlite", ["*"], rate=0, clock=clock)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    timeline, want = simulate(spacing=15 if overlap else 37 * 60)
    t0 = time.perf_counter()
    sent = replay(f"http://127.0.0.1:{port}/collect", clock, timeline)
    wall = time.perf_counter() - t0
    server.should_exit = True
    thread.join(10)
    kb = [sys.executable, "-m", "kbgen"]
    subprocess.run([*kb, "build"], cwd=tmp, check=True, capture_output=True)
    out = subprocess.run([*kb, "report", "--days", str(DAYS), "--json"], cwd=tmp, check=True, capture_output=True)
    if keep:
        print(f"project: {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return sent, wall, want, recovered(json.loads(out.stdout))


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return "<br>".join(f"{k}: {v}" for k, v in sorted(value.items()))
    return str(value)


def main() -> None:  # pragma: no cover - run by hand
    import os
    import platform
    import sqlite3
    from datetime import date

    sys.path.insert(0, str(ROOT))
    if "--keep" in sys.argv:
        run("--overlap" in sys.argv, keep=True)
        return
    spaced, packed = run(False), run(True)
    want = spaced[2]
    lines = [
        "<!-- loop:start -->",
        "## The self-service loop: a simulated month (`bench/loop_month.py`)",
        "",
        f"{date.today()} on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}. Two 30-day periods of customer "
        "sessions, each event one HTTP POST to the real collector (its clock simulated), then `kbgen build` "
        "and `kbgen report --days 30 --json`. `tests/test_loop_month.py` runs the same month plus four "
        "real Chromium sessions and asserts the spaced column exactly.",
        "",
        f"Spaced: {spaced[0]:,} events in {spaced[1]:.1f} s over HTTP; sessions hours apart. Interleaved: a "
        "session every 15 s (each lasts 1–2 min), so customers typing the same words on the same device "
        "class overlap and the query + device + 30-minute link can pick the wrong search.",
        "",
        "| figure | truth (sent) | report, spaced | report, interleaved |",
        "|---|---|---|---|",
    ]
    for k in want:
        a, b = spaced[3][k], packed[3][k]
        marks = [_cell(v) + ("" if v == want[k] else " ✗") for v in (a, b)]
        lines.append(f"| {k} | {_cell(want[k])} | {marks[0]} | {marks[1]} |")
    lines += [
        "",
        "Spaced, every figure is recovered exactly. Interleaved, the counts of searches, zero-result "
        "searches, contact clicks after a failed search and page views stay exact (they need no linking); "
        "a result click or a “No” can be credited to another customer's later search of the same words from "
        "the same device class, so a handful of searches move between *ok*, *abandoned* and *no_vote* "
        "(the marked cells). That is the price of linking without a session id or cookie; it needs two "
        "customers typing the same words on the same kind of device within the same minute or two.",
        "",
        "<!-- loop:end -->",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    results = ROOT / "bench" / "RESULTS.md"
    text = results.read_text(encoding="utf-8")
    if "<!-- loop:start -->" in text:
        head, rest = text.split("<!-- loop:start -->", 1)
        text = head + section + rest.split("<!-- loop:end -->", 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results.write_text(text, encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
