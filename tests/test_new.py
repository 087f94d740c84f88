"""`kbgen new`: a new article with its front matter, in folders created as needed, that then builds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_kbgen

from kbgen.content.frontmatter import read_source


@pytest.fixture
def project(tmp_path: Path) -> Path:
    run_kbgen("init", str(tmp_path / "help"))
    return tmp_path / "help"


def new(project: Path, *args: str, check: bool = True) -> str:
    return run_kbgen("new", *args, cwd=project, check=check).stdout.strip()


def test_new_article_in_new_folders_builds(project: Path) -> None:
    out = new(project, "article", "Track your order", "--in", "orders/tracking")
    assert out == "content/orders/tracking/track-your-order.md"
    path = project / out
    parsed, problems = read_source(path.read_bytes(), out)
    assert not problems and parsed is not None
    meta = parsed.meta
    assert meta["title"] == "Track your order"
    assert meta["type"] == "article" and meta["tags"] == [] and meta["description"] == ""
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(meta["updated"]))
    assert (project / "content/orders/_index.md").is_file()
    assert (project / "content/orders/tracking/_index.md").is_file()
    run_kbgen("build", cwd=project)
    page = (project / "site/orders/tracking/track-your-order/index.html").read_text()
    assert "Track your order" in page
    assert "Tracking" in (project / "site/orders/tracking/index.html").read_text()


def test_new_faq_and_howto_have_skeletons_that_build(project: Path) -> None:
    faq = new(project, "faq", "Payment questions", "--in", "getting-started/basics")
    howto = new(project, "howto", "Reset your password: step by step", "--in", "getting-started/basics")
    assert faq == "content/getting-started/basics/payment-questions.md"
    assert howto == "content/getting-started/basics/reset-your-password-step-by-step.md"
    assert "## Example question?" in (project / faq).read_text()
    assert "## Steps\n\n1. " in (project / howto).read_text()
    run_kbgen("build", cwd=project)
    faq_page = (project / "site/getting-started/basics/payment-questions/index.html").read_text()
    assert '"FAQPage"' in faq_page and "Example question?" in faq_page
    howto_page = (
        project / "site/getting-started/basics/reset-your-password-step-by-step/index.html"
    ).read_text()
    assert '"HowTo"' in howto_page and '"HowToStep"' in howto_page
    # The title with a colon survived YAML; check finds no errors in the new files.
    proc = run_kbgen("check", "--format", "json", cwd=project, check=False)
    new_errors = [d for d in json.loads(proc.stdout) if d["level"] == "error" and "basics/" in d["path"]]
    assert new_errors == []


def test_refuses_to_overwrite(project: Path) -> None:
    first = new(project, "article", "Hello there", "--in", "getting-started/basics")
    path = project / first
    path.write_text(path.read_text() + "\nMy own words.\n")
    proc = run_kbgen(
        "new", "article", "Hello there", "--in", "getting-started/basics", cwd=project, check=False
    )
    assert proc.returncode == 1 and "already exists" in proc.stderr
    assert "My own words." in path.read_text()


def test_existing_folder_found_by_name_or_slug(project: Path) -> None:
    out = new(project, "article", "Another one", "--in", "Getting Started/BASICS")
    assert out == "content/getting-started/basics/another-one.md"


@pytest.mark.parametrize("where", ["../outside", "a/b/c", "_assets/x", ""])
def test_rejects_bad_locations(project: Path, where: str) -> None:
    proc = run_kbgen("new", "article", "Nope", "--in", where, cwd=project, check=False)
    assert proc.returncode == 2
    assert not list((project / "content").rglob("nope.md"))
