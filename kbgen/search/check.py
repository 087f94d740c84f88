"""`kbgen search --check queries.jsonl`: relevance tests for a help centre, fit for CI.

Each line of the file is a JSON object:

    {"q": "my parcel never came", "expect": "shipping-delivery/delivery-problems/package-delivered-but-not-received.md"}
    {"q": "refund", "expect": ["returns-refunds/refunds/refund-not-received.md", "..."], "rank": 1}

`expect` names the article(s) that answer the query: a source path relative to the content directory
(with or without `.md`) or the article's URL. A query passes when one of them is within the first `rank`
results (default 3). The check fails (exit 1) on any miss, or when MRR@10 over the file is below
`--min-mrr`. `--format github` prints misses as GitHub Actions `::error` annotations on the file's line.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .query import SearchIndex

DEFAULT_RANK = 3
MAX_RANK = 100
MAX_QUERY = 500  # characters: longer is not a search-box query
DEPTH = 10  # MRR@10


class CheckFileError(ValueError):
    """The queries file is malformed: the message names the file and line."""


def safe(text: str, limit: int = 160) -> str:
    """`text` fit for a terminal or a CI log: control/format characters escaped, bounded length."""
    out = []
    for ch in text:
        if unicodedata.category(ch)[0] == "C":
            out.append(ch.encode("unicode_escape").decode("ascii") if ord(ch) < 0x10000 else "\\ufffd")
        else:
            out.append(ch)
    s = "".join(out)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _gh_escape(text: str, prop: bool = False) -> str:
    """Escape a GitHub Actions workflow-command message (or property value): a query cannot inject
    a command of its own."""
    s = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        s = s.replace(":", "%3A").replace(",", "%2C")
    return s


@dataclass
class CheckQuery:
    line: int
    q: str
    expect: list[str]
    rank: int


@dataclass
class CheckResult:
    query: CheckQuery
    found_rank: int | None  # 1-based rank of the first expected article (None: not in the first results)
    ranked: list[tuple[str, str]] = field(default_factory=list)  # (title, source) of the first results

    @property
    def passed(self) -> bool:
        return self.found_rank is not None and self.found_rank <= self.query.rank


def _norm_key(s: str) -> str:
    s = s.strip().replace("\\", "/")
    if s.endswith(".md"):
        s = s[:-3]
    return s.strip("/")


def article_keys(index: SearchIndex) -> dict[str, str]:
    """Every way `expect` may name an article (source with/without .md, URL) → its source path."""
    keys: dict[str, str] = {}
    for doc in index.searcher.all_stored_fields():
        src = doc.get("source", "")
        if not src:
            continue
        keys.setdefault(_norm_key(src), src)
        url = doc.get("url", "")
        if url and not doc.get("anchor"):
            keys.setdefault(_norm_key(url.split("#", 1)[0]), src)
    return keys


def load_queries(path: Path, keys: dict[str, str]) -> list[CheckQuery]:
    """Parse and validate the queries file; `CheckFileError` names the file and line of a bad entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CheckFileError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    queries: list[CheckQuery] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{path}:{n}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise CheckFileError(f"{where}: not a JSON object ({exc})") from exc
        if not isinstance(item, dict):
            raise CheckFileError(f'{where}: expected a JSON object like {{"q": ..., "expect": ...}}')
        q = item.get("q")
        if not isinstance(q, str) or not q.strip():
            raise CheckFileError(f'{where}: "q" must be a non-empty string')
        if len(q) > MAX_QUERY:
            raise CheckFileError(f'{where}: "q" is longer than {MAX_QUERY} characters')
        expect = item.get("expect", item.get("relevant"))
        if isinstance(expect, str):
            expect = [expect]
        if not isinstance(expect, list) or not expect or not all(isinstance(e, str) for e in expect):
            raise CheckFileError(f'{where}: "expect" must be an article path/URL or a list of them')
        sources = []
        for e in expect:
            src = keys.get(_norm_key(e))
            if src is None:
                raise CheckFileError(f"{where}: expected article {safe(e)!r} is not in the search index")
            sources.append(src)
        rank = item.get("rank", DEFAULT_RANK)
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= MAX_RANK:
            raise CheckFileError(f'{where}: "rank" must be a whole number from 1 to {MAX_RANK}')
        queries.append(CheckQuery(n, q, sources, rank))
    if not queries:
        raise CheckFileError(f"{path}: no queries")
    return queries


def run_check(index: SearchIndex, queries: list[CheckQuery], prefix: bool = True) -> list[CheckResult]:
    results = []
    for cq in queries:
        ans = index.search(cq.q, limit=max(DEPTH, cq.rank), prefix=prefix)
        sources = [p.best.source for p in ans.pages]
        found = next((i for i, s in enumerate(sources, 1) if s in cq.expect), None)
        ranked = [(p.best.title, p.best.source) for p in ans.pages[: max(3, min(cq.rank, 5))]]
        results.append(CheckResult(cq, found, ranked))
    return results


def mrr(results: list[CheckResult]) -> float:
    if not results:
        return 0.0
    return sum(1.0 / r.found_rank for r in results if r.found_rank and r.found_rank <= DEPTH) / len(results)


def report(
    results: list[CheckResult], path: Path, min_mrr: float, fmt: str = "text"
) -> tuple[list[str], bool]:
    """The lines to print and whether the check passed."""
    lines: list[str] = []
    misses = [r for r in results if not r.passed]
    for r in misses:
        got = f"rank {r.found_rank}" if r.found_rank else f"not in the first {DEPTH}"
        want = ", ".join(safe(e) for e in r.query.expect)
        instead = "; ".join(f"{i}. {safe(t, 80)} ({safe(s, 120)})" for i, (t, s) in enumerate(r.ranked, 1))
        head = f"{safe(r.query.q)!r}: expected {want} within the first {r.query.rank}, got {got}"
        if fmt == "github":
            msg = f"{head}. Ranked instead: {instead or 'no results'}"
            lines.append(
                f"::error file={_gh_escape(str(path), True)},line={r.query.line},"
                f"title={_gh_escape('search relevance miss', True)}::{_gh_escape(msg)}"
            )
        else:
            lines.append(f"MISS {path}:{r.query.line}: {head}")
            if r.ranked:
                for i, (t, s) in enumerate(r.ranked, 1):
                    lines.append(f"     {i}. {safe(t, 80)}  ({safe(s, 120)})")
            else:
                lines.append("     (no results)")
    score = mrr(results)
    low = score < min_mrr
    summary = (
        f"{len(results)} queries, {len(results) - len(misses)} passed, {len(misses)} missed; "
        f"MRR@{DEPTH} {score:.3f}" + (f" (minimum {min_mrr:.3f})" if min_mrr > 0 else "")
    )
    if low:
        text = f"MRR@{DEPTH} {score:.3f} is below --min-mrr {min_mrr:.3f}"
        if fmt == "github":
            lines.append(f"::error file={_gh_escape(str(path), True)}::{_gh_escape(text)}")
        else:
            lines.append(f"FAIL {text}")
    if fmt == "github":
        lines.append(f"::notice file={_gh_escape(str(path), True)}::{_gh_escape(summary)}")
    lines.append(summary)
    return lines, not misses and not low

