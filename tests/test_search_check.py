"""`kbgen search --check`: relevance tests a help centre runs in CI (the sample site's own file included)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, run_kbgen

SAMPLE_CHECKS = ROOT / "search-checks.jsonl"


def _write(path: Path, *items: object) -> Path:
    path.write_text("".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items), "utf-8")
    return path


def test_the_sample_help_centre_passes_its_own_relevance_checks(sample_site: Path) -> None:
    # The project's CI runs this: a ranking change that loses one of these answers fails the build.
    proc = run_kbgen(
        "search", "--check", str(SAMPLE_CHECKS), "--min-mrr", "0.9", cwd=sample_site.parent, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "missed" in proc.stdout and "MISS" not in proc.stdout
    assert len([line for line in SAMPLE_CHECKS.read_text("utf-8").splitlines() if line.strip()]) >= 30


def test_a_miss_names_the_line_and_what_ranked_instead(sample_site: Path, tmp_path: Path) -> None:
    checks = _write(
        tmp_path / "checks.jsonl",
        {"q": "forgot my password", "expect": "account-privacy/your-account/reset-your-password.md"},
        # The URL names the article too; a descaling article does not answer a password question.
        {"q": "forgot my password", "expect": "/product-care/kitchen/descale-your-kettle/", "rank": 1},
    )
    proc = run_kbgen("search", "--check", str(checks), cwd=sample_site.parent, check=False)
    assert proc.returncode == 1
    assert f"MISS {checks}:2:" in proc.stdout and f"{checks}:1:" not in proc.stdout
    assert "descale-your-kettle" in proc.stdout
    assert "1. How to reset my password" in proc.stdout  # what ranked instead
    assert "2 queries, 1 passed, 1 missed" in proc.stdout


def test_min_mrr_fails_the_check_even_without_a_miss(sample_site: Path, tmp_path: Path) -> None:
    # Rank 10 allowed: the query passes, but the article at rank 2+ pulls MRR@10 under 0.99.
    checks = _write(
        tmp_path / "checks.jsonl",
        {"q": "refund", "expect": "returns-refunds/refunds/partial-refunds.md", "rank": 10},
    )
    ok = run_kbgen("search", "--check", str(checks), cwd=sample_site.parent, check=False)
    assert ok.returncode == 0, ok.stdout
    low = run_kbgen("search", "--check", str(checks), "--min-mrr", "0.99", cwd=sample_site.parent, check=False)
    assert low.returncode == 1
    assert "below --min-mrr 0.990" in low.stdout


def test_github_annotations_cannot_be_forged_by_a_query(sample_site: Path, tmp_path: Path) -> None:
    hostile = "kettle\n::error file=x::forged %0A \x1b[31mred"
    checks = _write(
        tmp_path / "checks.jsonl",
        {"q": hostile, "expect": "payments-billing/billing/gift-cards-faq.md", "rank": 1},
    )
    proc = run_kbgen(
        "search", "--check", str(checks), "--format", "github", cwd=sample_site.parent, check=False
    )
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == 1, proc.stdout  # the query's newline did not start a second command
    assert errors[0].startswith(f"::error file={str(checks).replace(':', '%3A')},line=1,")
    assert "\x1b" not in proc.stdout and "%250A" in errors[0]
    assert not any(line.startswith("::error file=x") for line in lines)


def test_a_bad_queries_file_is_rejected_with_file_and_line(sample_site: Path, tmp_path: Path) -> None:
    good = {"q": "refund", "expect": "returns-refunds/refunds/partial-refunds.md"}
    cases = {
        "not json": ("{q: refund", ":2: not a JSON object"),
        "no q": ({"expect": "returns-refunds/refunds/partial-refunds.md"}, ':2: "q" must be'),
        "unknown article": ({"q": "refund", "expect": "returns/nope.md"}, ":2: expected article 'returns/nope.md'"),
        "bad rank": ({**good, "rank": 0}, ':2: "rank" must be'),
        "rank not a number": ({**good, "rank": "3"}, ':2: "rank" must be'),
        "no expect": ({"q": "refund"}, ':2: "expect" must be'),
    }
    for name, (item, message) in cases.items():
        checks = _write(tmp_path / f"{name}.jsonl", good, item)
        proc = run_kbgen("search", "--check", str(checks), cwd=sample_site.parent, check=False)
        assert proc.returncode == 2, (name, proc.stdout, proc.stderr)
        assert f"{checks}{message}" in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr
