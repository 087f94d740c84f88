"""`kbgen serve`: the help widget's panel follows edits (its suggestions show titles, URLs and tags)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_serve import _tree, make_project, save

WIDGET = """
[widget]
enabled = true
hosts = ["https://shop.example"]
[[widget.suggest]]
match = "/checkout*"
articles = ["orders/tracking/late-parcel.md"]
"""


def test_incremental_rebuild_updates_the_widget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kbgen.build import BuildSession
    from kbgen.config import load_config
    from kbgen.rebuild import Change, Plan, Rebuilder

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    project = make_project(tmp_path / "p")
    with (project / "kbgen.toml").open("a", encoding="utf-8") as f:
        f.write(WIDGET)
    session = BuildSession(load_config(None, root=project), tmp_path / "out", workers=1)
    rebuilder = Rebuilder(session, None, project)
    assert rebuilder.apply(Plan(full=True)).ok
    assert session.output is not None
    panel = session.output / "_widget" / "index.html"
    assert "My parcel is late" in panel.read_text(encoding="utf-8")
    assert (session.output / "widget.js").is_file()

    late = project / "content/orders/tracking/late-parcel.md"
    save(late, late.read_text().replace('title: "My parcel is late"', 'title: "A late parcel"'))
    outcome = rebuilder.apply(rebuilder.classify([Change(late)]))
    assert outcome.ok and outcome.kind.startswith("incremental"), (outcome.kind, outcome.problems)
    text = panel.read_text(encoding="utf-8")
    assert "A late parcel" in text and "My parcel is late" not in text
    fresh = BuildSession(load_config(None, root=project), tmp_path / "fresh", workers=1)
    fresh.full()
    assert fresh.output is not None
    got, want = _tree(session.output), _tree(fresh.output)
    widget = [k for k in want if k.startswith("_widget/") or k == "widget.js"]
    assert widget and all(got[k] == want[k] for k in widget)
    fresh.close()

    # The suggested article deleted: the error names the key; the server keeps serving the last good site.
    late.unlink()
    outcome = rebuilder.apply(rebuilder.classify([Change(late)]))
    assert not outcome.ok
    assert any("widget.suggest[0].articles[0]" in p.message for p in outcome.problems), outcome.problems
    assert "A late parcel" in panel.read_text(encoding="utf-8")
    session.close()
