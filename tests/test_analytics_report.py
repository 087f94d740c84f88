"""`kbgen report`: rich tables in the terminal, one self-contained HTML page with SVG charts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import ROOT, run_kbgen
from test_analytics_importers import make_collector_db, sample_events

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "analytics"


def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    toml += """
[analytics]
sources = [
  {type = "plausible", path = "exports/plausible-export.zip"},
  {type = "matomo", path = "exports/matomo-site-search-no-result-keywords.json"},
  {type = "collector", path = "analytics.sqlite"},
]
"""
    (tmp_path / "kbgen.toml").write_text(toml, encoding="utf-8")
    (tmp_path / "exports").mkdir()
    for name in ("plausible-export.zip", "matomo-site-search-no-result-keywords.json"):
        shutil.copy(FIXTURES / name, tmp_path / "exports" / name)
    make_collector_db(tmp_path / "analytics.sqlite", sample_events())
    return tmp_path


def test_report_in_the_terminal_and_as_html(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = run_kbgen("report", "--html", "report.html", cwd=root).stdout
    for heading in (
        "Most viewed articles",
        "Top searches",
        "Searches with no results",
        "Was this helpful?",
        "Contact clicks per article view",
        "Week by week",
    ):
        assert heading in out, heading
    assert "How to track my order" in out and "price match" in out and "student discount" in out
    assert "/blog/black-friday-2025" in out  # an address that matched no page, for an alias
    page = (root / "report.html").read_text(encoding="utf-8")
    # Charts: bars in HTML, weekly lines in SVG (text as HTML, legible on a phone: test_loop_month)
    assert page.count('class="chart') >= 4 and page.count("<svg") >= 2 and "<line" in page
    # Self-contained: no scripts, no external stylesheets, fonts or images.
    assert "<script" not in page and "<link" not in page and "@import" not in page and "<img" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert not re.search(r"url\(", page)
    assert "How to track my order" in page and "price match" in page
    # The helpful ratio of the article with votes: 3 yes, 1 no.
    assert re.search(
        r"How to track my order.*?<td class=\"n\" data-l=\"yes\">3</td><td class=\"n\" data-l=\"no\">1</td>"
        r"<td class=\"n\" data-l=\"helpful\">75%", page, re.S
    )


def test_report_without_sources_explains_how_to_add_one(tmp_path: Path) -> None:
    shutil.copy(ROOT / "kbgen.toml", tmp_path / "kbgen.toml")
    proc = run_kbgen("report", cwd=tmp_path, check=False)
    assert proc.returncode == 0 and proc.stderr == ""
    assert "No analytics data to report on yet" in proc.stdout
    assert 'sources = [{type = "collector", path = "analytics.sqlite"}]' in proc.stdout
    assert "kbgen report --source collector:analytics.sqlite" in proc.stdout


def test_report_with_an_extra_source(tmp_path: Path) -> None:
    shutil.copy(ROOT / "kbgen.toml", tmp_path / "kbgen.toml")
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copy(FIXTURES / "ga4-search-terms.csv", tmp_path / "terms.csv")
    out = run_kbgen("report", "--source", "ga4:terms.csv", cwd=tmp_path).stdout
    assert "where is my order" in out and "412" in out


def test_build_uses_popularity_and_warns_about_bad_rows(tmp_path: Path) -> None:
    root = project(tmp_path)
    bad = (FIXTURES / "plausible-pages.csv").read_text() + "/x,1,lots,1,1\n"
    (root / "exports" / "pages.csv").write_text(bad)
    toml = (root / "kbgen.toml").read_text().replace("exports/plausible-export.zip", "exports/pages.csv")
    (root / "kbgen.toml").write_text(toml)
    proc = run_kbgen("build", cwd=root)
    text = proc.stdout + proc.stderr
    assert "skipped 1 malformed row(s)" in text and "views 'lots' is not a count" in text
    home = (root / "site" / "index.html").read_text(encoding="utf-8")
    # The most viewed article leads the home page's popular list.
    first = home.find("/orders/tracking/track-your-order/")
    assert first != -1
    for other in (
        "/returns-refunds/returns/start-a-return/",
        "/returns-refunds/refunds/when-will-i-get-my-refund/",
    ):
        assert -1 < home.find(other), other
        assert first < home.find(other)
