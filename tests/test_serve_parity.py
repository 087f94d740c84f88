"""`kbgen serve` after edits equals a fresh `kbgen build` of the same content, byte for byte, `_search/` included:
a multilingual site rebuilt language by language, and a one-language site through every kind of change."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import run_kbgen, wait_for
from test_serve import Served, make_project, save, write_article

FIXTURE = Path(__file__).parent / "fixtures" / "multilingual"
EPOCH = "1790000000"


def _served_folder(project: Path, served: Served) -> Path:
    """The numbered folder `kbgen serve` publishes (`.kbgen/serve/<pid>/build-<n>`, the newest)."""
    root = project / ".kbgen" / "serve" / str(served.proc.pid)
    return max(root.glob("build-*"), key=lambda p: int(p.name.split("-")[1]))


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and p.name != ".kbgen-site"}


def _search_settled(served: Served, after: int) -> dict[str, Any]:
    """Wait until the search workers finished every update queued, more than `after` of them."""

    def done() -> dict[str, Any] | None:
        search = served.status()["search"]
        return search if search["updates"] > after and not search["updating"] else None

    return wait_for(done, 60)


def _change(served: Served, edit: Any) -> dict[str, Any]:
    """Make an edit; wait for serve's rebuild and its search update; return the reload event."""
    updates = served.status()["search"]["updates"]
    served.drain()
    edit()
    event = served.wait_event("reload", 60)
    _search_settled(served, updates)
    return event


def _assert_equals_fresh_build(project: Path, served: Served, tmp: Path) -> None:
    fresh = tmp / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(project, fresh, ignore=shutil.ignore_patterns(".kbgen", "site", "serve.log"))
    run_kbgen("build", cwd=fresh)
    want, got = _files(fresh / "site"), _files(_served_folder(project, served))
    missing = sorted(set(want) - set(got))
    assert not missing, missing
    different = sorted(name for name in want if want[name].read_bytes() != got[name].read_bytes())
    if different:  # the first lines that differ, to say what
        a, b = (f[different[0]].read_text(errors="replace").replace("><", ">\n<").splitlines() for f in (want, got))
        diff = list(difflib.unified_diff(a, b, "kbgen build", "kbgen serve", lineterm="", n=1))[:40]
        raise AssertionError(f"{different}\n" + "\n".join(diff))
    # Beside them only the search files of the previous export, kept for a page that read its meta.json
    # just before the update (rebuild._publish_search): never a page, never a meta.json.
    extra = sorted(set(got) - set(want))
    assert all("/_search/" in f"/{name}" and not name.endswith("meta.json") for name in extra), extra
    for meta in (n for n in want if n.endswith("_search/meta.json")):
        named = json.dumps(json.loads(want[meta].read_bytes()))
        assert not [e for e in extra if e.rsplit("/", 1)[-1] in named and e.startswith(meta[: -len("meta.json")])]


def _stamps(root: Path, skip: str) -> dict[str, tuple[int, int]]:
    return {rel: (p.stat().st_ino, p.stat().st_mtime_ns) for rel, p in _files(root).items() if not rel.startswith(skip)}


@pytest.fixture
def ml_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    project = tmp_path / "p"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    served = Served(project)
    try:
        _search_settled(served, 2)  # the three languages' search workers primed
        yield project, served
    finally:
        served.stop()


def test_multilingual_serve_rebuilds_one_language_and_equals_a_fresh_build(ml_served: Any, tmp_path: Path) -> None:
    project, served = ml_served
    content = project / "content"
    _assert_equals_fresh_build(project, served, tmp_path)

    # A French article edited: only French pages (and the French search) are written; English and German
    # files are not touched (same inode, same mtime), and serve says so in its reload event.
    refund_fr = content / "fr/returns/refunds/refund-time.md"
    before = _stamps(_served_folder(project, served), "fr/")
    event = _change(served, lambda: save(refund_fr, refund_fr.read_text() + "\nUn paragraphe de plus.\n"))
    assert event["paths"] and all(p.startswith("/fr/") for p in event["paths"]), event
    assert _stamps(_served_folder(project, served), "fr/") == before
    assert "incremental" in served.status()["kind"]
    _assert_equals_fresh_build(project, served, tmp_path)

    # A German translation of an English article added: the English and French pages gain an alternate.
    partial_de = content / "de/returns/refunds/partial-refund.md"
    _change(served, lambda: save(partial_de, "---\ntitle: Warum wurde nur ein Teil erstattet?\nslug: teilerstattung\n"
                                             "updated: 2026-02-01\n---\nText.\n"))  # fmt: skip
    status, html = served.get("/returns/refunds/partial-refund/")
    assert 'hreflang="de" href="https://help.example.com/de/ruecksendungen/erstattungen/teilerstattung/"' in html
    assert "incremental" in served.status()["kind"]
    _assert_equals_fresh_build(project, served, tmp_path)

    # Retitled, and its slug changed: every language's page of it points at the new URL.
    _change(served, lambda: save(refund_fr, refund_fr.read_text().replace(
        "title: Quel est le délai de remboursement ?\nslug: delai-de-remboursement",
        "title: Sous combien de jours suis-je remboursé ?\nslug: delai-remboursement")))  # fmt: skip
    status, html = served.get("/de/ruecksendungen/erstattungen/dauer-der-rueckerstattung/")
    assert "/fr/retours/remboursements/delai-remboursement/" in html
    _assert_equals_fresh_build(project, served, tmp_path)

    # The translation deleted: the alternates go, the switcher leads to the German home again.
    _change(served, lambda: partial_de.unlink())
    status, html = served.get("/returns/refunds/partial-refund/")
    assert "teilerstattung" not in html
    _assert_equals_fresh_build(project, served, tmp_path)

    # Broken front matter in one language: the error names the file, nothing is written; the fix recovers.
    refund_de = content / "de/returns/refunds/refund-time.md"
    good = refund_de.read_text()
    served.drain()
    save(refund_de, good.replace("---\n", "---\ntitle: [unclosed\n", 1))
    served.wait_event("status", 60)
    errors = served.status()["errors"]
    assert errors and errors[0]["path"] == "content/de/returns/refunds/refund-time.md", errors
    _change(served, lambda: save(refund_de, good + "\nNoch ein Absatz.\n"))
    assert served.status()["ok"]
    _assert_equals_fresh_build(project, served, tmp_path)

    # A new folder in one language: a change of structure, rebuilt in full — never stale.
    new_fr = content / "fr/returns/echanges/echanger.md"
    new_fr.parent.mkdir()
    (new_fr.parent / "_index.md").write_text("---\ntitle: Échanges\n---\n", encoding="utf-8")
    _change(served, lambda: save(new_fr, "---\ntitle: Échanger un article\nupdated: 2026-02-02\n---\nTexte.\n"))
    _assert_equals_fresh_build(project, served, tmp_path)


def test_one_language_serve_after_every_kind_of_edit_equals_a_fresh_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    project = make_project(tmp_path / "p")
    content = project / "content"
    tracking = content / "orders/tracking"
    served = Served(project)
    try:
        _search_settled(served, 0)
        _assert_equals_fresh_build(project, served, tmp_path)
        late = tracking / "late-parcel.md"
        steps = [  # create, edit, rename, delete, retitle, move between sections, _index.md, config, template
            lambda: write_article(tracking / "brand-new.md", "Brand new", tags="fresh"),
            lambda: save(late, late.read_text() + "\nA new paragraph.\n"),
            lambda: late.rename(tracking / "renamed-parcel.md"),
            lambda: (tracking / "brand-new.md").unlink(),
            lambda: save(tracking / "wrong-address.md", (tracking / "wrong-address.md").read_text().replace(
                'title: "Wrong address"', 'title: "I gave the wrong address"')),
            lambda: (tracking / "renamed-parcel.md").rename(content / "account/login/renamed-parcel.md"),
            lambda: save(content / "orders/_index.md", '---\ntitle: "Your orders"\norder: 5\n---\n'),
            lambda: save(project / "kbgen.toml", 'title = "Serve test, renamed"\nbase_url = "/"\n'),
            lambda: save(project / "themes/default/templates/article.html", '{% extends "@default/article.html" %}\n'
                         '{% block article_before %}<p class="kb-test-marker">MARKER-TWO</p>{% endblock %}\n'),
        ]  # fmt: skip
        for step in steps:
            _change(served, step)
            _assert_equals_fresh_build(project, served, tmp_path)
    finally:
        served.stop()
