"""On a multilingual site every problem names its file with its language folder (`content/fr/…`, as `kbgen
check` does), in `kbgen build` and in `kbgen serve` (terminal, `/__kbgen/status`, which the overlay shows),
and serve links a problem to its page in every language, not only the default one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import run_kbgen, wait_for
from test_serve import Served, save

FIXTURE = Path(__file__).parent / "fixtures" / "multilingual"
REFUND_FR = "content/fr/returns/refunds/refund-time.md"
REFUND_FR_URL = "/fr/retours/remboursements/delai-de-remboursement/"


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "p"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    return project


def _break_yaml(path: Path) -> None:
    save(path, path.read_text(encoding="utf-8").replace("tags: [remboursements]", "tags: [remboursements"))


def test_build_names_a_broken_french_file_with_its_language_folder(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _break_yaml(project / REFUND_FR)
    proc = run_kbgen("build", cwd=project, check=False)
    assert proc.returncode != 0
    assert f"{REFUND_FR}:7: error: invalid YAML front matter" in proc.stderr, proc.stderr
    assert not (project / "site").exists()
    # as `kbgen check` names it
    check = run_kbgen("check", cwd=project, check=False)
    assert check.returncode != 0 and f"{REFUND_FR}:7" in check.stdout + check.stderr


def test_build_warning_of_a_french_file_names_its_language_folder(tmp_path: Path) -> None:
    project = _project(tmp_path)
    refund = project / REFUND_FR
    save(refund, refund.read_text(encoding="utf-8") + "\nVoir [la page](nulle-part.md).\n")
    proc = run_kbgen("build", cwd=project)
    assert f"{REFUND_FR}:11: warning:" in proc.stderr, proc.stderr


def test_one_language_build_keeps_content_relative_paths(tmp_path: Path) -> None:
    project = tmp_path / "one"
    shutil.copytree(FIXTURE / "content" / "fr", project / "content")
    (project / "kbgen.toml").write_text('title = "Aide"\nlanguage = "fr"\n', encoding="utf-8")
    _break_yaml(project / "content/returns/refunds/refund-time.md")
    proc = run_kbgen("build", cwd=project, check=False)
    assert proc.returncode != 0
    assert "\nreturns/refunds/refund-time.md:7: error:" in "\n" + proc.stderr, proc.stderr


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    return _project(tmp_path)


def _status_when(served: Served, cond: Any) -> dict[str, Any]:
    """The status once `cond(status)` holds (serve rebuilds on its own after a save)."""
    found: dict[str, Any] = {}

    def check() -> bool:
        status = served.status()
        found.update(status)
        return not status["building"] and bool(cond(status))

    assert wait_for(check, 60), found
    return found


def test_serve_names_french_problems_with_their_folder_and_links_them_to_the_french_page(project: Path) -> None:
    refund = project / REFUND_FR
    good = refund.read_text(encoding="utf-8")
    linked = good + "\nVoir [la page](nulle-part.md).\n"
    save(refund, linked)
    served = Served(project)  # its first (full) build warns of the broken link
    try:
        def link_warnings(status: dict[str, Any]) -> list[tuple[str, str | None]]:
            return [(w["path"], w["url"]) for w in status["warnings"] if w["code"] == "broken-link"]

        status = _status_when(served, lambda s: s["ok"])
        assert link_warnings(status) == [(REFUND_FR, REFUND_FR_URL)], status["warnings"]

        # Broken: the incremental rebuild's error names the French folder (the overlay shows this status).
        _break_yaml(refund)
        status = _status_when(served, lambda s: not s["ok"])
        assert [(e["path"], e["line"]) for e in status["errors"]] == [(REFUND_FR, 7)], status["errors"]

        # kbgen.toml saved: a full build, which fails on the French file; named so in status and terminal.
        config = project / "kbgen.toml"
        save(config, config.read_text(encoding="utf-8") + "\n# saved\n")
        status = _status_when(served, lambda s: s["kind"].startswith("full") and not s["ok"])
        assert [(e["path"], e["line"]) for e in status["errors"]] == [(REFUND_FR, 7)], status["errors"]
        assert wait_for(lambda: f"{REFUND_FR}:7: error: invalid YAML" in served.output(), 30), served.output()
        assert "content/returns/" not in served.output()

        # Fixed (the link still broken): a full build again, its warning linked to the French page ...
        save(refund, linked)
        status = _status_when(served, lambda s: s["ok"])
        assert link_warnings(status) == [(REFUND_FR, REFUND_FR_URL)], status["warnings"]
        # ... and gone once the link is fixed (an incremental rebuild: the warning was kept by its file).
        save(refund, good)
        status = _status_when(served, lambda s: not link_warnings(s))
        assert status["ok"] and status["kind"] == "incremental" and not status["errors"], status
    finally:
        served.stop()


@pytest.mark.browser
def test_overlay_shows_a_french_pages_warning_on_that_page_and_errors_named_with_their_folder(
    project: Path, browser: Any
) -> None:
    refund = project / REFUND_FR
    good = refund.read_text(encoding="utf-8")
    save(refund, good + "\nVoir [la page](nulle-part.md).\n")
    served = Served(project)
    try:
        page = browser.new_page()
        page.goto(served.base + REFUND_FR_URL)  # the French page of the file with the warning: shown there
        page.locator("#kbgen-overlay").wait_for(state="attached", timeout=30000)
        text = page.locator("#kbgen-overlay [role=alert]").inner_text()
        assert "1 warning on this page" in text and f"{REFUND_FR}:11: warning: link to a missing article" in text
        other = browser.new_page()  # another French page, with no problem: no overlay
        other.goto(served.base + "/fr/")
        other.wait_for_function("() => !!window.__kbgenLiveReload")
        # An error: every page shows it, named with the language folder.
        _break_yaml(refund)
        other.locator("#kbgen-overlay").wait_for(state="attached", timeout=30000)
        assert f"{REFUND_FR}:7: error: invalid YAML" in other.locator("#kbgen-overlay [role=alert]").inner_text()
        page.close()
        other.close()
    finally:
        served.stop()
