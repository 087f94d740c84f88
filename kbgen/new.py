"""`kbgen new article|faq|howto "Title" --in category/section`: a new article with its front matter filled in.

The folders (and their `_index.md`) are created when missing; an existing folder is found by its name or
its URL slug, so `--in orders/tracking` finds `content/Orders/Tracking/`. An existing file is never
overwritten.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from .config import load_config
from .errors import ConfigError, display_path
from .slugs import name_slug, title_slug

BODIES = {
    "article": """\
Start with one or two sentences that answer the question in the title.

## First section

Explain the details here. To link to another article, use its file name:
`[Track your order](../tracking/track-your-order.md)`.
""",
    "faq": """\
One sentence about what these questions cover (optional).

## Example question?

Answer the question in a few sentences. Each `## Question?` heading becomes one question on the page
and in search results.

## Another question?

Its answer.
""",
    "howto": """\
One sentence about what this guide helps the customer do, and what they need before they start.

## Steps

1. The first step: one action per step.
2. The second step.
3. The last step, and what the customer sees when it worked.

## If it didn't work

What to check, or how to contact us.
""",
}


def _yaml_str(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def front_matter(title: str, kind: str, today: date) -> str:
    lines = [
        "---",
        f"title: {_yaml_str(title)}",
        'description: ""  # one sentence: shown under the title in search results and listings',
        f"type: {kind}",
        "tags: []",
        f"updated: {today.isoformat()}",
    ]
    if kind == "howto":
        lines += ['time: "5 minutes"', "supplies: []"]
    lines.append("---")
    return "\n".join(lines) + "\n\n"


def _folder_title(name: str) -> str:
    return name.replace("-", " ").replace("_", " ").strip().capitalize() or name


def _find_folder(parent: Path, wanted: str) -> Path:
    """`parent/<wanted>`, or an existing folder whose name or slug matches it, or a new slugified name."""
    direct = parent / wanted
    if direct.is_dir():
        return direct
    slug = name_slug(wanted)
    if parent.is_dir():
        for child in sorted(parent.iterdir()):
            if child.is_dir() and not child.name.startswith((".", "_")):
                if child.name.casefold() == wanted.casefold() or name_slug(child.name) == slug:
                    return child
    return parent / (slug or wanted)


def create_article(
    content_dir: Path, kind: str, title: str, where: str, today: date
) -> tuple[Path, list[Path]]:
    """Create the article; returns its path and the `_index.md` files created on the way."""
    parts = [p for p in where.replace("\\", "/").split("/") if p]
    if not parts or len(parts) > 2:
        raise click.BadParameter("give a category and a section, like orders/tracking", param_hint="--in")
    for part in parts:
        if part in (".", "..") or part.startswith((".", "_")):
            raise click.BadParameter(f"{part!r} can't be a category or section name", param_hint="--in")
    slug = title_slug(title)
    if not slug:
        raise click.BadParameter("the title needs at least one letter or digit", param_hint="TITLE")
    folder = content_dir
    created: list[Path] = []
    for part in parts:
        folder = _find_folder(folder, part)
        index = folder / "_index.md"
        if not folder.is_dir() or not index.exists():
            folder.mkdir(parents=True, exist_ok=True)
            if not index.exists():
                index.write_text(f"---\ntitle: {_yaml_str(_folder_title(part))}\ndescription: \"\"\n---\n",
                                 encoding="utf-8")  # fmt: skip
                created.append(index)
    path = folder / f"{slug}.md"
    if path.exists():
        raise click.ClickException(f"{path} already exists; choose another title or edit that file")
    with path.open("x", encoding="utf-8") as fh:  # "x": never overwrite, even in a race
        fh.write(front_matter(title, kind, today) + BODIES[kind])
    return path, created


@click.command("new")
@click.argument("kind", type=click.Choice(["article", "faq", "howto"]), required=False)
@click.argument("title", required=False)
@click.option(
    "--in",
    "where",
    metavar="CATEGORY/SECTION",
    help="Where the article goes, e.g. orders/tracking (folders are created when missing).",
)
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: ./kbgen.toml).",
)
@click.option("--lang", default="", help="A multilingual site: the language to write in (default: the default one).")
@click.option("--translate", "source", type=click.Path(path_type=Path, dir_okay=False),
              help="Copy this article into --lang's folder, marked untranslated until edited.")  # fmt: skip
def new_cmd(
    kind: str | None, title: str | None, where: str | None, config_file: Path | None, lang: str, source: Path | None
) -> None:
    """Create a new article, FAQ page or how-to guide and print its path.

    \b
    Example: kbgen new howto "Change your delivery address" --in orders/changes
    Several languages: kbgen new article "Rückgabe" --in orders/returns --lang de
                       kbgen new --translate content/en/orders/returns/return-an-item.md --lang fr
    """  # fmt: skip
    try:
        config = load_config(config_file, root=Path.cwd())
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    content = config.content_path
    if lang or source or len(config.languages) > 1:
        from .languages import new_translation, site_content_dir

        content = site_content_dir(config, lang)
        if source is not None:
            path, created = new_translation(config, source, lang)
            for index in created:
                click.echo(f"created {display_path(index, Path.cwd())} (translate its title)", err=True)
            click.echo(display_path(path, Path.cwd()))
            return
    if not kind or not title or not where:
        raise click.UsageError('give KIND TITLE --in CATEGORY/SECTION (or --translate FILE --lang CODE)')
    path, created = create_article(content, kind, title, where, date.today())
    for index in created:
        click.echo(f"created {display_path(index, Path.cwd())} (edit its title and description)", err=True)
    click.echo(display_path(path, Path.cwd()))
