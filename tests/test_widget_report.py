"""`kbgen report`: the help widget's deflection per shop page, from the collector's widget events."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from conftest import ROOT, run_kbgen
from test_analytics_importers import make_collector_db

T0 = 1_786_000_000_000
HOSTILE = "/x[red]y</td><script>alert(1)</script>"


def _visit(host: str, visit: str, *names: str, **extra: object) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i, name in enumerate(names):
        ev: dict[str, object] = {
            "name": name,
            "page": "/_widget/",
            "source": "widget",
            "host": host,
            "visit": visit,
        }
        ev["ts"] = T0 + i * 1000
        if name in ("widget_answer", "search_click", "feedback"):
            ev["url"] = "/orders/placing-orders/ordering-faq/"
        if name == "search_click":
            ev.update(query="price match", rank=1)
        if name == "search":
            ev.update(query="price match", results=3)
        if name == "contact_click":
            ev.update(url="/_widget/", channel="chat")
        if name == "feedback":
            ev["helpful"] = extra.get("helpful", "yes")
        out.append(ev)
    return out


def events() -> list[dict[str, object]]:
    ev: list[dict[str, object]] = []
    # /checkout: 4 openings — an answer then "No" (no contact: answered), a search that still ended in a
    # contact click, a "Yes", and one that did nothing.
    ev += _visit("/checkout", "aaaaaaaa00000001", "widget_open", "widget_answer", "feedback", helpful="no")
    ev += _visit(
        "/checkout",
        "aaaaaaaa00000002",
        "widget_open",
        "search",
        "search_click",
        "widget_answer",
        "contact_click",
    )
    ev += _visit("/checkout", "aaaaaaaa00000003", "widget_open", "feedback", helpful="yes")
    ev += _visit("/checkout", "aaaaaaaa00000004", "widget_open")
    ev += _visit("/account/orders/1", "bbbbbbbb00000001", "widget_open", "widget_answer")
    ev += _visit(HOSTILE, "cccccccc00000001", "widget_open", "contact_click")
    # Not widget openings: events without an opening, without a visit id, and the site's own contact clicks.
    ev += _visit("/checkout", "dddddddd00000001", "widget_answer")
    ev += [{"name": "widget_open", "page": "/_widget/", "source": "widget", "host": "/checkout", "ts": T0}]
    ev += [{"name": "contact_click", "page": "/orders/", "url": "/orders/", "channel": "email", "ts": T0}]
    return ev


def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    toml += '\n[analytics]\nsources = [{type = "collector", path = "analytics.sqlite"}]\n'
    toml += '\n[widget]\nenabled = true\nhosts = ["https://shop.example"]\n'
    (tmp_path / "kbgen.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def test_deflection_per_host_page(tmp_path: Path) -> None:
    root = project(tmp_path)
    make_collector_db(root / "analytics.sqlite", events())
    out = run_kbgen("report", "--html", "report.html", cwd=root).stdout
    assert "Help widget: deflection per shop page" in out
    lines = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:6]] for line in out.splitlines()
             if line.count("│") >= 6}  # fmt: skip
    assert lines["/checkout"] == ["4", "2", "1", "50%"]
    assert lines["/account/orders/1"] == ["1", "1", "0", "100%"]
    assert lines["all pages"] == ["6", "3", "2", "50%"]
    assert HOSTILE in out  # shown as it is: rich markup in a host path is not interpreted
    assert "Deflection = widget openings in which" in out
    page = (root / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert "/x[red]y&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert (
        '<td data-l="shop page">/checkout</td><td class="n" data-l="opened">4</td>'
        '<td class="n" data-l="answered">2</td><td class="n" data-l="contacted">1</td>'
        '<td class="n" data-l="deflection">50%' in page
    )


def test_no_widget_events_says_how_to_measure(tmp_path: Path) -> None:
    root = project(tmp_path)
    # A collector database from before the widget: no source/host/visit columns at all.
    db = sqlite3.connect(root / "analytics.sqlite")
    db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER, device TEXT, name TEXT, page TEXT)")
    db.execute("INSERT INTO events (ts, name, page) VALUES (?, 'page_view', '/orders/')", (T0,))
    db.commit()
    db.close()
    out = run_kbgen("report", cwd=root).stdout
    assert "no widget events: deflection needs the collector" in out
