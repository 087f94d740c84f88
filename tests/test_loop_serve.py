"""`kbgen serve` notices a collector database that changed only in its `-wal` (issue 15): the running
collector appends there and touches the main file only at checkpoints, so watching the main file alone
left the served site's popularity stale all day."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

from conftest import ROOT
from test_analytics_importers import make_collector_db
from test_serve import Served

from kbgen.analytics.collector import COLUMNS, FIELD_COLUMNS

VIEWED = "orders/placing-orders/use-a-promo-code"  # not promoted: leads the home page only with real traffic


def _first_popular(html: str) -> str:
    block = html.split('id="kb-popular"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'href="/([^"#?]+)"', block)[0].strip("/")


def test_serve_rebuilds_when_only_the_wal_changes(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    (tmp_path / "kbgen.toml").write_text(
        toml + '\n[analytics]\nsources = [{type = "collector", path = "a.sqlite"}]\n', encoding="utf-8"
    )
    db_path = tmp_path / "a.sqlite"
    make_collector_db(db_path, [{"name": "page_view", "page": "/"}])  # closed: checkpointed, no -wal left
    server = Served(tmp_path)
    writer = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert _first_popular(server.get("/")[1]) != VIEWED
        main_before = db_path.stat()
        server.drain()
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")  # like a busy collector between checkpoints
        row = {"name": "page_view", "id": VIEWED, "page": f"/{VIEWED}/"}
        writer.executemany(
            f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            [(1_786_000_000_000 + i, "desktop", *(row.get(c) for c in FIELD_COLUMNS)) for i in range(400)],
        )
        after = db_path.stat()
        assert (after.st_size, after.st_mtime_ns) == (main_before.st_size, main_before.st_mtime_ns)
        assert db_path.with_name("a.sqlite-wal").stat().st_size > 0
        server.wait_event("reload")
        assert _first_popular(server.get("/")[1]) == VIEWED
    finally:
        writer.close()
        server.stop()
