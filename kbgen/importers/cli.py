"""`kbgen import zendesk|helpscout EXPORT -o content/`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import ImportError_, safe_text, write_content


@click.command("import")
@click.argument("source", type=click.Choice(["zendesk", "helpscout"]))
@click.argument("export", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Content folder to create (must not exist or be empty; default: the config's content/).",
)
@click.option("--locale", help="Zendesk: the locale to import (default: the most common one).")
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: ./kbgen.toml).",
)
def import_cmd(source: str, export: Path, output: Path | None, locale: str | None, config_file: Path | None) -> None:
    """Import a Zendesk Guide or Help Scout Docs export (the API's JSON) as Markdown articles.

    \b
    Categories and sections become folders with _index.md, every old URL an alias (301s with
    [deploy] redirects), images found in EXPORT are copied into _assets/. Prints what needs a human.
    """  # fmt: skip
    from ..config import load_config
    from ..errors import ConfigError

    try:
        config = load_config(config_file, root=Path.cwd())
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if source == "zendesk":
        from .zendesk import read_export
    else:
        from .helpscout import read_export  # type: ignore[assignment]
    target = output if output is not None else config.content_path
    try:
        result = write_content(read_export(export, locale), target)
    except ImportError_ as exc:
        click.echo(f"error: {safe_text(str(exc), 500)}", err=True)
        sys.exit(1)
    click.echo(
        f"Imported {result.articles} articles in {result.folders} folders, {result.assets} files into {result.output}/"
    )
    if result.needs_human:
        click.echo(f"\nNeeds a human ({len(result.needs_human)}):")
        for line in result.needs_human:
            click.echo("  " + safe_text(line, 300))
    click.echo("\nNext: kbgen check (lists what is left), then kbgen build --strict.")
