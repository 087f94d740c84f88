"""The report's loop sections with hostile data in the collector's database (issue 15): a query is shown as
text in the terminal (no escape sequences) and in the HTML (escaped), and typo variants group."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ROOT, run_kbgen
from test_analytics_importers import make_collector_db

from kbgen.analytics.loop import group_key

T0 = 1_786_000_000_000
HOSTILE = "\x1b[2J<script>alert(1)</script> refund\u202e"


def test_hostile_queries_stay_text(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    (tmp_path / "kbgen.toml").write_text(
        toml + '\n[analytics]\nsources = [{type = "collector", path = "a.sqlite"}]\n', encoding="utf-8"
    )
    # Written straight into the database, as anything that can write the file could: no collector cleaning.
    make_collector_db(
        tmp_path / "a.sqlite",
        [{"name": "search", "page": "/search/", "query": HOSTILE, "results": 0, "ts": T0 + i} for i in range(3)],
    )
    run_kbgen("build", cwd=tmp_path)
    out = run_kbgen("report", "--html", "r.html", cwd=tmp_path).stdout
    assert "Failed searches: 3 of 3 searches" in out
    assert "\x1b" not in out and "\u202e" not in out and "<script>alert(1)</script> refund" in out
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; refund" in page
    rep = json.loads(run_kbgen("report", "--json", cwd=tmp_path).stdout)
    assert rep["failed_searches"]["current"]["zero_results"] == 3


def test_typo_and_word_form_variants_share_a_group() -> None:
    assert group_key("Gift Wrapping") == group_key("gift wrapping") == group_key("wrapping gift")
    assert group_key("loyalty point") == group_key("loyalty points")
    assert group_key("gift wrapping") != group_key("gift cards")


def test_a_query_settled_while_typing_is_not_a_failure(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    (tmp_path / "kbgen.toml").write_text(
        toml + '\n[analytics]\nsources = [{type = "collector", path = "a.sqlite"}]\n', encoding="utf-8"
    )
    typed = [("gift wr", 3), ("gift wrapping", 2)]  # a 1 s pause mid-word, then the whole words
    events = [
        {"name": "search", "page": "/", "query": q, "results": n, "ts": T0 + i * 5_000}
        for i, (q, n) in enumerate(typed)
    ]
    # Another customer (another device class) searching "gift wr" alone, an hour later: abandoned.
    events.append({"name": "search", "page": "/", "query": "gift wr", "results": 3, "device": "mobile",
                   "ts": T0 + 3_600_000})  # fmt: skip
    make_collector_db(tmp_path / "a.sqlite", events)
    rep = json.loads(run_kbgen("report", "--json", cwd=tmp_path).stdout)
    cur = rep["failed_searches"]["current"]
    assert (cur["searches"], cur["total"], cur["abandoned"]) == (3, 2, 2)
    assert sorted(q for g in rep["failed_searches"]["groups"] for q in g["queries"]) == ["gift wr", "gift wrapping"]
