"""`kbgen report` and `kbgen collect` (registered by kbgen/cli.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ..termsafe import for_terminal

__all__ = ["collect", "report"]


def _load_config(config_path: Path | None) -> Any:
    from ..config import load_config
    from ..errors import ConfigError

    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(for_terminal(exc)) from None


def _load_library(config: Any) -> Any:
    """The site's articles, for titles and URL matching; None when the content cannot be read."""
    try:
        from ..content.load import LoadOptions, load_library
    except ImportError:  # pragma: no cover
        return None
    if not config.content_path.is_dir():
        return None
    result = load_library(config.content_path, LoadOptions(base_path=config.base_path))
    return result.library


NO_SOURCES = """\
No analytics data to report on yet. `kbgen report` reads what customers viewed and searched for from
the sources listed in {config}. Add one:

  kbgen's own collector (the data stays on your server):
    1. add to {config}:
         [analytics.beacon]
         url = "https://help.example.com/collect"
    2. run the collector there:  kbgen collect --db analytics.sqlite
    3. add to {config}:
         [analytics]
         sources = [{{type = "collector", path = "analytics.sqlite"}}]

  or an export from Plausible, GA4, Matomo or Umami (or a CSV of path,views); add to {config}:
         [analytics]
         sources = [{{type = "plausible", path = "analytics/plausible-export.zip"}}]

  or, just once, without editing {config}:
         kbgen report --source collector:analytics.sqlite

Source types: plausible, ga4, matomo, umami, csv, collector. README.md, "Analytics", has every option."""


@click.command("report")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: ./kbgen.toml).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report as one self-contained HTML page.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Collector data: the last N days (default: analytics.window_days, 90).",
)
@click.option(
    "--top", type=click.IntRange(min=1, max=500), default=15, show_default=True, help="Rows per table."
)
@click.option(
    "--source",
    "extra_sources",
    multiple=True,
    metavar="TYPE[:KIND]:PATH",
    help="Read this source too, e.g. collector:analytics.sqlite or matomo:no_results:keywords.json "
    "(repeatable; KIND says what an export holds when its file cannot: pages, searches, no_results, "
    "result_clicks, votes, contacts).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON (a metric no source records is null)."
)
@click.option(
    "--queries-out",
    "queries_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the top searches with the article customers chose, as `kbgen search --check` lines.",
)
@click.option("--lang", default="", help="A multilingual site: report on this language (default: the default one).")
def report(
    config_path: Path | None,
    html_path: Path | None,
    days: int | None,
    top: int,
    extra_sources: tuple[str, ...],
    as_json: bool = False,
    queries_path: Path | None = None,
    lang: str | None = None,
) -> None:
    """What customers read, search for and don't find: from the [analytics] sources."""
    from .loop import build_loop, queries_out
    from .popularity import load_analytics
    from .report import build_report, print_report, report_json, widget_deflection, write_html

    config = _load_config(config_path)
    for spec in extra_sources:
        config.analytics.sources.append(parse_source(spec))
    if not config.analytics.sources:
        click.echo(NO_SOURCES.format(config=config.path.name if config.path else "kbgen.toml"))
        return
    if lang or len(config.languages) > 1:  # one language's articles and events (kbgen/languages.py)
        from ..languages import language_config, load_language_library

        config = language_config(config, lang)
        library = load_language_library(config)
    else:
        library = _load_library(config)
    data = load_analytics(library, config, config.root, window_days=days)
    rep = build_report(data, config, top=top)
    # The help widget's deflection per shop page: shown when the widget is on or its events are there.
    widget = widget_deflection(
        config.analytics.sources, config.root, days or config.analytics.window_days, top
    )
    rep.widget = widget if config.widget.enabled or widget["measured"] else None
    from .reasons import feedback_reasons  # what was missing after "No" (collector only)

    shown = {a.url: (a.title, f"{config.content_dir}/{a.source}") for a in getattr(library, "articles", [])}
    rep.reasons = feedback_reasons(
        config.analytics.sources, config.root, days or config.analytics.window_days, top, shown
    )
    rep.loop = build_loop(library, config, days or config.analytics.window_days, top)
    # The file first: `kbgen report --html r.html | head` still writes all of it.
    if html_path is not None:
        write_html(rep, html_path)
        click.echo(f"wrote {for_terminal(html_path)}", err=True)
    if queries_path is not None:
        n = queries_out(rep.loop, queries_path)
        click.echo(f"wrote {n} search checks to {for_terminal(queries_path)}", err=True)
    try:
        if as_json:
            import json

            click.echo(json.dumps(report_json(rep), ensure_ascii=False, indent=1, default=str))
        else:
            print_report(rep)
            from .learn import print_learned

            print_learned(data, library, config)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (`| head`): what it read is what it wanted. Point stdout at /dev/null so
        # that Python's flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    if data.failed:  # a source refused as a whole: the report above lacks it, and says so; exit non-zero
        lines = [for_terminal(str(s.refusal)) for s in data.failed if s.refusal]
        raise click.ClickException("analytics source(s) not read:\n  " + "\n  ".join(lines))


def parse_source(spec: str) -> dict[str, str]:
    """`--source TYPE:PATH` or `TYPE:KIND:PATH` as a sources entry; a clear error naming the types and kinds."""
    from .importers import KINDS, SOURCE_TYPES

    stype, sep, rest = spec.partition(":")
    if not sep or stype not in SOURCE_TYPES or not rest:
        raise click.BadParameter(
            f"{for_terminal(spec)!r}: expected TYPE:PATH or TYPE:KIND:PATH with TYPE one of "
            f"{', '.join(SOURCE_TYPES)} and KIND one of {', '.join(KINDS)}",
            param_hint="--source",
        )
    kind, sep, path = rest.partition(":")
    if sep and kind in KINDS:
        return {"type": stype, "kind": kind, "path": str(Path(path).resolve())}
    if sep and "/" not in kind and "." not in kind and not Path(rest).exists():
        raise click.BadParameter(
            f"{for_terminal(spec)!r}: {for_terminal(kind)!r} is not a kind: expected one of "
            f"{', '.join(KINDS)} (a path with a colon: write it ./like:this)",
            param_hint="--source",
        )
    return {"type": stype, "path": str(Path(rest).resolve())}


@click.command("collect")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite database (default: the collector source in kbgen.toml, else analytics.sqlite).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="Port to listen on."
)
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="Site origin allowed to send events (repeatable; default: site_url from kbgen.toml; "
    "'*' accepts any).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Sustained events per second per client (0: no limit).",
)
@click.option(
    "--burst",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Events a client may send at once.",
)
@click.option(
    "--trust-proxy",
    is_flag=True,
    help="Behind a reverse proxy: rate-limit on the last X-Forwarded-For address.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Open connections at most; past it, the one waiting longest for its request is closed.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds a connection has to send a whole request (headers and body).",
)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: ./kbgen.toml).",
)
def collect(
    db_path: Path | None,
    host: str,
    port: int,
    origins: tuple[str, ...],
    rate: float,
    burst: int,
    trust_proxy: bool,
    max_connections: int,
    request_timeout: float,
    config_path: Path | None,
) -> None:
    """Run the first-party event collector (needs uvicorn: `pip install '.[collector]'` in kbgen's checkout)."""
    from .collector import Collector, normalize_origin, serve

    config = None
    if config_path is not None or Path("kbgen.toml").exists():
        config = _load_config(config_path)
    if db_path is None:
        db_path = Path("analytics.sqlite")
        for src in getattr(getattr(config, "analytics", None), "sources", []) or []:
            if getattr(src, "type", None) == "collector":
                db_path = config.root / src.path
                break
    allowed = list(origins)
    if not allowed and config is not None and config.site_url:
        allowed = [normalize_origin(config.site_url)]
    if not allowed:
        raise click.UsageError(
            "say which site may send events: --origin https://help.example.com "
            "(or set site_url in kbgen.toml; --origin '*' accepts any)"
        )
    app = Collector(
        db_path,
        allowed,
        rate=rate,
        burst=burst,
        trust_proxy=trust_proxy,
        max_connections=max_connections,
        request_timeout=request_timeout,
    )
    shown = "any origin" if "*" in allowed else ", ".join(normalize_origin(o) for o in allowed)
    click.echo(f"kbgen collector: POST http://{host}:{port}/collect → {db_path} (from {shown})", err=True)
    sys.stderr.flush()
    serve(app, host, port)
