"""`kbgen search`: answer queries from the Whoosh index in `<project>/.kbgen/index/`.

kbgen search "my board is not detected" [-n 10] [--json] [--category SLUG] [--no-prefix]
kbgen search --queries queries.jsonl --json       # one {"q": …, "results": […]} line per input line
kbgen search --check checks.jsonl [--min-mrr 0.8] [--format github]   # relevance tests (check.py)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..termsafe import for_terminal
from .query import Answer, SearchIndex


def _load_config(config_file: Path | None) -> Any:
    from ..config import load_config

    return load_config(config_file, root=Path.cwd())


def _result_rows(answer: Answer, content_dir: Path | None) -> list[dict[str, Any]]:
    rows = []
    for page in answer.pages:
        hit = page.best
        row = hit.to_json()
        row["source"] = hit.source  # already relative to the content directory (posix)
        row["units"] = [
            {"anchor": h.anchor, "heading": h.heading, "score": round(h.score, 6)} for h in page.hits[:5]
        ]
        rows.append(row)
    return rows


def _print_human(answer: Answer, prefix: str = "") -> None:
    """`prefix`: a language's path on a multilingual site ("/fr"), so the address printed is the page's."""
    if not answer.pages:
        click.echo(f"No results for {answer.query!r}.")
        if answer.did_you_mean:
            click.echo(f"Did you mean: {for_terminal(answer.did_you_mean, one_line=True)}?")
        return
    for i, page in enumerate(answer.pages, 1):
        hit = page.best
        where = prefix + hit.url + (f"#{hit.anchor}" if hit.anchor else "")
        title = hit.title + (f" › {hit.heading}" if hit.heading else "")
        # Titles, headings and file names come from front matter and the content folder: no terminal controls.
        click.echo(for_terminal(f"{i:>2}. {title}  [{hit.score:.2f}]", one_line=True))
        click.echo(for_terminal(f"    {where}   ({hit.source})", one_line=True))


@click.command("search")
@click.argument("query", required=False)
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: ./kbgen.toml).",
)
@click.option("-n", "--limit", default=10, show_default=True, help="Number of pages to show.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON: title, url, anchor, score, source per result."
)
@click.option(
    "--queries",
    "queries_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help='Answer every {"q": ...} line of a JSON Lines file (one output line each).',
)
@click.option(
    "--check",
    "check_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help='Relevance test: every {"q": ..., "expect": ARTICLE(S), "rank": 3} line must rank its article '
    "within `rank`; exit 1 on a miss or when MRR@10 is below --min-mrr.",
)
@click.option("--min-mrr", type=click.FloatRange(0.0, 1.0), default=0.0, help="With --check: minimum MRR@10.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="With --check: `github` prints misses as GitHub Actions annotations.",
)
@click.option("--category", default="", help="Only results in this category (its slug).")
@click.option("--no-prefix", is_flag=True, help="Do not treat the last word as a prefix (as-you-type).")
@click.option("--lang", default="", help="A multilingual site: search this language (default: the default one).")
def search_cmd(
    query: str | None,
    config_file: Path | None,
    limit: int,
    as_json: bool,
    queries_file: Path | None,
    check_file: Path | None,
    min_mrr: float,
    fmt: str,
    category: str,
    no_prefix: bool,
    lang: str,
) -> None:
    """Search the help centre from the command line, as the site's search box does."""
    if not query and not queries_file and not check_file:
        raise click.UsageError('give a query (kbgen search "reset password") or --queries FILE.jsonl')
    try:
        config = _load_config(config_file)
    except Exception as exc:  # noqa: BLE001 - ConfigError and friends: one clear line
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    index_dir = Path(config.cache_path) / "index"
    prefix = ""  # a multilingual site: the language's path, printed before each page's
    if len(config.languages) > 1 or lang:  # kbgen/i18n.py: one index per language
        from ..languages import language_sites

        sites = {s.code: s for s in language_sites(config)} if len(config.languages) > 1 else {}
        code = lang or next((c for c, s in sites.items() if s.default), "")
        if code not in sites:
            known = ", ".join(sites) or "none: the site has one language"
            click.echo(for_terminal(f"error: --lang {code!r} is not in [languages] (known: {known})"), err=True)
            sys.exit(2)
        config = sites[code].config
        prefix = ("/" + sites[code].prefix) if getattr(sites[code], "prefix", "") else ""
        index_dir = Path(config.cache_path) / f"lang-{code}" / "index"
    try:
        index = SearchIndex(index_dir)
    except (FileNotFoundError, OSError, ValueError, KeyError):
        click.echo(f"error: no search index in {index_dir}: run `kbgen build` first.", err=True)
        sys.exit(1)
    content_dir = Path(config.content_path)
    with index:
        if check_file:
            _check(index, check_file, min_mrr, fmt, prefix=not no_prefix)
            return
        if queries_file:
            for n, line in enumerate(queries_file.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    q = str(item["q"] if isinstance(item, dict) else item)
                except (ValueError, KeyError) as exc:
                    click.echo(f'error: {queries_file}:{n}: not a {{"q": ...}} JSON line ({exc})', err=True)
                    sys.exit(1)
                ans = index.search(q, limit=limit, category=category, prefix=not no_prefix)
                if as_json:
                    out: dict[str, Any] = {"q": q, "results": _result_rows(ans, content_dir)}
                    if ans.did_you_mean:
                        out["did_you_mean"] = ans.did_you_mean
                    click.echo(json.dumps(out, ensure_ascii=False))
                else:
                    click.echo(f"# {q}")
                    _print_human(ans, prefix)
            return
        assert query is not None
        ans = index.search(query, limit=limit, category=category, prefix=not no_prefix)
        if as_json:
            out = {"q": query, "total": ans.total, "results": _result_rows(ans, content_dir)}
            if ans.did_you_mean:
                out["did_you_mean"] = ans.did_you_mean
            click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            _print_human(ans, prefix)


def _check(index: SearchIndex, path: Path, min_mrr: float, fmt: str, prefix: bool) -> None:
    from .check import CheckFileError, article_keys, load_queries, report, run_check

    try:
        queries = load_queries(path, article_keys(index))
    except CheckFileError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    lines, ok = report(run_check(index, queries, prefix=prefix), path, min_mrr, fmt)
    for line in lines:
        click.echo(line)
    sys.exit(0 if ok else 1)
