"""`kbgen check`: every rule on a fixture with one of each problem; the sample content is clean."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, run_kbgen

from kbgen.check import RULES

LINE = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+): (?P<level>error|warning): (?P<message>.*) \[(?P<rule>[a-z0-9-]+)\]$"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("check") / "site-project"
    shutil.copytree(FIXTURES / "check", dest)
    return dest


@pytest.fixture(scope="module")
def findings(project: Path) -> list[dict[str, str]]:
    proc = run_kbgen("check", cwd=project, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = []
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        assert m, f"not `path:line: level: message [rule-id]`: {line!r}"
        found.append(m.groupdict())
    assert "error(s)" in proc.stderr
    return found


def where(findings: list[dict[str, str]], rule: str) -> set[tuple[str, int]]:
    return {(f["path"], int(f["line"])) for f in findings if f["rule"] == rule}


BASICS = "content/guides/basics/"
FAQ = "content/guides/faq/"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("invalid-front-matter", {(BASICS + "bad-yaml.md", 3)}),
        ("broken-link", {(BASICS + "links.md", 8)}),
        ("broken-anchor", {(BASICS + "links.md", 10)}),
        ("broken-related", {(BASICS + "links.md", 5)}),
        ("missing-image", {(BASICS + "images.md", 7)}),
        ("missing-alt", {(BASICS + "images.md", 9)}),
        ("duplicate-url", {(BASICS + "slug-clash.md", 1)}),
        ("duplicate-title", {(BASICS + "duplicate-a.md", 2), (BASICS + "duplicate-b.md", 2)}),
        ("faq-no-questions", {(FAQ + "empty-faq.md", 7)}),
        ("duplicate-question", {(FAQ + "faq-two.md", 12)}),
        ("heading-skip", {(BASICS + "headings.md", 11)}),
        ("heading-h1", {(BASICS + "headings.md", 7)}),
        ("missing-description", {(BASICS + "no-description.md", 1)}),
        ("long-title", {(BASICS + "long-title.md", 2)}),
        ("stale", {(BASICS + "stale.md", 4), (BASICS + "stale-popular.md", 4)}),
    ],
)
def test_each_rule_finds_its_problem(
    findings: list[dict[str, str]], rule: str, expected: set[tuple[str, int]]
) -> None:
    assert where(findings, rule) == expected
    for f in findings:
        if f["rule"] == rule:
            assert f["level"] == RULES[rule][0]


def test_levels_and_nothing_else(findings: list[dict[str, str]]) -> None:
    errors = {f["rule"] for f in findings if f["level"] == "error"}
    assert errors == {"invalid-front-matter", "broken-link", "broken-related", "missing-image", "duplicate-url",
                      "duplicate-title", "faq-no-questions"}  # fmt: skip
    assert not [f for f in findings if f["path"].endswith("good.md")]  # a clean article has no findings
    assert len(findings) == 17


def test_stale_articles_most_viewed_first(findings: list[dict[str, str]]) -> None:
    stale = [f for f in findings if f["rule"] == "stale"]
    assert [f["path"] for f in stale] == [BASICS + "stale-popular.md", BASICS + "stale.md"]
    assert "5,000 views" in stale[0]["message"] and "2021-06-01" in stale[0]["message"]


def test_json_format(project: Path, findings: list[dict[str, str]]) -> None:
    proc = run_kbgen("check", "--format", "json", cwd=project, check=False)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert isinstance(data, list) and len(data) == len(findings)
    assert set(data[0]) == {"path", "line", "level", "message", "rule", "code"}
    assert {d["rule"] for d in data} == {f["rule"] for f in findings}
    assert all(d["code"] == d["rule"] for d in data)  # this fixture's problems each have a rule of their own


def test_github_format(project: Path) -> None:
    proc = run_kbgen("check", "--format", "github", cwd=project, check=False)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert "::error file=content/guides/basics/links.md,line=8,title=broken-link::link to a missing article: " \
           "no-such-article.md" in lines  # fmt: skip
    assert any(line.startswith("::warning file=content/guides/basics/images.md,line=9,title=missing-alt::")
               for line in lines)  # fmt: skip
    assert all(line.startswith(("::error ", "::warning ")) for line in lines)


def test_stale_after_from_config(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "p"
    shutil.copytree(project, other)
    toml = other / "kbgen.toml"
    toml.write_text(toml.read_text().replace("stale_after = 12", "stale_after = 70"))
    proc = run_kbgen("check", "--format", "json", cwd=other, check=False)
    stale = [d["path"] for d in json.loads(proc.stdout) if d["rule"] == "stale"]
    assert stale == [BASICS + "stale.md"]  # 80 months old; stale-popular is 63


def test_clean_project_exits_zero(tmp_path: Path) -> None:
    content = tmp_path / "content" / "help" / "basics"
    content.mkdir(parents=True)
    (content / "hello.md").write_text('---\ntitle: "Hello"\ndescription: "A greeting."\nupdated: 2026-09-01\n---\n\n'
                                      "Hi.\n\n## More\n\nText.\n")  # fmt: skip
    proc = run_kbgen("check", cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "" and "No problems found" in proc.stderr


def test_bad_config_is_reported(tmp_path: Path) -> None:
    (tmp_path / "kbgen.toml").write_text("[check]\nstale_after = 0\n")
    proc = run_kbgen("check", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "stale_after" in proc.stderr


def test_sample_content_has_no_errors(sample_project: Path) -> None:
    proc = run_kbgen("check", "--format", "json", cwd=sample_project, check=False)
    errors = [d for d in json.loads(proc.stdout) if d["level"] == "error"]
    assert errors == [] and proc.returncode == 0, errors
