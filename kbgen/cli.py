"""The command line: parse arguments, call the stages, print. No logic of its own."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import signal
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import click

from . import __version__
from .build import BuildOptions, build
from .config import Config, load_config
from .errors import BuildError, ConfigError, Problem
from .lifetime import defer_ctrl_c_in_forks, exit_on_sigterm
from .lock import ProjectBusy, project_lock
from .termsafe import for_terminal


class _Err:
    """Styled lines on stderr. Plain click, not rich: `build`, `check`, `new` and `init` never import rich
    (only the progress bar, `serve` and `report` do), and a message is printed as it is, brackets and all."""

    def print(self, text: str, style: str = "", markup: bool = False) -> None:
        colour = "red" if "red" in style else "yellow" if "yellow" in style else None
        click.secho(text, err=True, fg=colour, bold="bold" in style)


err = _Err()


def print_problems(problems: list[Problem]) -> None:
    for p in problems:
        style = "red" if p.level == "error" else "yellow"
        err.print(str(p), style=style, markup=False)  # str(Problem) has no terminal controls


def _load_config(config_file: Path | None) -> Config:
    return load_config(config_file, root=Path.cwd())


class _Bar:
    """A progress bar per stage on a terminal, shown only for builds that take more than a moment."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = time.monotonic()
        self.progress: Any = None  # rich.progress.Progress, imported when first shown
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.start < 1.0:
            return
        if self.progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description:>8}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self.progress.start()
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kbgen")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """kbgen turns a folder of Markdown help articles into a fast, searchable help-centre site.

    \b
    Start:   kbgen init my-help && cd my-help && kbgen serve
    Publish: kbgen build   (then upload site/ to any static host)
    """
    ctx.obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    ctx.obj["debug"] = debug


@cli.command()
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: ./kbgen.toml; without one, content/ → site/).",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, file_okay=False), help="Output folder (default: site/)."
)
@click.option("--strict", is_flag=True, help="Treat warnings (broken links, missing images) as errors.")
@click.option("--drafts", is_flag=True, help="Include articles marked `draft: true`.")
@click.option("--base-url", help='Serve the site under this path or URL, e.g. "/help/".')
@click.option("--timings", is_flag=True, help="Print the time spent in each stage.")
@click.option("--wait", is_flag=True, help="If another kbgen is running in this project, wait for it to finish.")
@click.pass_context
def build_cmd(
    ctx: click.Context,
    config_file: Path | None,
    output: Path | None,
    strict: bool,
    drafts: bool,
    base_url: str | None,
    timings: bool,
    wait: bool,
) -> None:
    """Build the site into the output folder (atomically: a failed build changes nothing)."""
    start = time.perf_counter()
    bar = _Bar(sys.stderr.isatty())
    # Stopped (`timeout`, a CI runner, `kill`): exit through Python, so that the build removes its staging
    # folder and stops its workers as on Ctrl-C, and the published site stays as it was.
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        config = _load_config(config_file)
        with project_lock(config.cache_path, command="build", wait=wait, on_wait=_say_waiting):
            result = build(
                config, BuildOptions(output=output, strict=strict, drafts=drafts, base_url=base_url, progress=bar)
            )
    except ProjectBusy as exc:
        bar.close()
        err.print(f"error: {exc}", style="red", markup=False)
        sys.exit(1)
    except ConfigError as exc:
        bar.close()
        err.print(f"error: {for_terminal(exc)}", style="red", markup=False)
        sys.exit(1)
    except BuildError as exc:
        bar.close()
        print_problems(exc.problems)
        n_err = sum(1 for p in exc.problems if p.level == "error")
        err.print(f"Build failed: {n_err} error(s); nothing was written.", style="bold red")
        if ctx.obj.get("debug"):
            raise
        sys.exit(1)
    except Exception as exc:  # an unexpected failure: short message unless --debug
        bar.close()
        if ctx.obj.get("debug"):
            raise
        shown = for_terminal(f"error: {type(exc).__name__}: {exc} (run with --debug for details)")
        err.print(shown, style="red", markup=False)
        sys.exit(1)
    bar.close()
    print_problems(result.warnings)
    elapsed = time.perf_counter() - start
    try:
        shown = result.output.relative_to(Path.cwd())
    except ValueError:
        shown = result.output
    warn = f", {len(result.warnings)} warning(s)" if result.warnings else ""
    reused = f" ({result.reused} unchanged)" if result.reused else ""
    if result.up_to_date:
        click.echo(f"Up to date: {result.pages} pages in {shown}/ (nothing changed; {elapsed:.1f} s){warn}")
    else:
        click.echo(f"Built {result.pages} pages{reused} in {elapsed:.1f} s → {shown}/{warn}")
    if timings or elapsed > 2:
        click.echo("  " + "  ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
    ctx.obj["fast_exit"] = True


build_cmd.name = "build"


def _say_waiting(holder: str) -> None:
    err.print(f"Waiting for another kbgen in this project to finish ({holder})…", markup=False)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def init(directory: Path) -> None:
    """Start a new help centre in DIRECTORY (kbgen.toml and a few example articles)."""
    if directory.exists() and any(directory.iterdir()):
        err.print(f"error: {for_terminal(directory)} exists and is not empty", style="red", markup=False)
        sys.exit(1)
    skeleton = Path(str(resources.files("kbgen.skeleton")))
    for src in sorted(skeleton.rglob("*")):
        rel = src.relative_to(skeleton)
        if src.is_dir() or src.name in ("__init__.py",) or "__pycache__" in rel.parts:
            continue
        dest = directory / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    click.echo(
        f"Created a help centre in {directory}/\n  cd {directory}\n  kbgen serve      # preview with live reload\n"
        "  kbgen build      # write site/ for any static host"
    )


# Commands contributed by feature packages, imported only when used (start-up stays fast).
LAZY_COMMANDS = {
    "search": ("kbgen.search.cli", "search_cmd"),
    "report": ("kbgen.analytics.cli", "report_cmd"),
    "collect": ("kbgen.analytics.cli", "collect_cmd"),
    "serve": ("kbgen.serve", "serve_cmd"),
    "check": ("kbgen.check", "check_cmd"),
    "new": ("kbgen.new", "new_cmd"),
    "import": ("kbgen.importers.cli", "import_cmd"),
}


def _lazy_command(name: str) -> click.Command | None:
    module_name, attr = LAZY_COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:  # a feature not installed; a broken one still fails loudly
        if exc.name != module_name:
            raise
        return None
    cmd = getattr(module, attr, None) or getattr(module, name, None)
    return cmd if isinstance(cmd, click.Command) else None


_get_command = cli.get_command
_list_commands = cli.list_commands


def _get_lazy(ctx: click.Context, name: str) -> click.Command | None:
    if name in LAZY_COMMANDS:
        return _lazy_command(name)
    return _get_command(ctx, name)


def _list_all(ctx: click.Context) -> list[str]:
    available = [n for n in LAZY_COMMANDS if importlib.util.find_spec(LAZY_COMMANDS[n][0]) is not None]
    return sorted({*_list_commands(ctx), *available})


cli.get_command = _get_lazy  # type: ignore[method-assign]
cli.list_commands = _list_all  # type: ignore[method-assign]


def main() -> None:
    defer_ctrl_c_in_forks()
    state: dict[str, object] = {}
    try:
        cli(prog_name="kbgen", obj=state)
    except SystemExit as exc:
        if state.get("fast_exit") and not exc.code:
            # A finished build: every file is written and closed and every worker joined. Skip tearing
            # down the interpreter's heap (tens of ms on a large site's build, up to ~0.2 s).
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):  # a closed pipe (`kbgen build | head -1`): nothing to lose
                    pass
            os._exit(0)
        raise
