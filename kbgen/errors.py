"""Problems found while building: every one names its file and line."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .termsafe import for_terminal


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in the input: `path:line: message`.

    `code` says what kind of problem it is, for tools (`kbgen check`'s rules, `kbgen serve`'s incremental
    rebuild, the JSON of `kbgen check --format json` and `/__kbgen/status`): they switch on it, never on the
    message, which is for people. Codes of the content: `invalid-file`, `invalid-front-matter`,
    `duplicate-key`, `invalid-alias`, `unsafe-path`, `no-content`, `no-articles`, `duplicate-url`,
    `empty-folder`, `output-collision`, `duplicate-id`, `broken-link`, `draft-link`, `broken-anchor`,
    `missing-image`, `broken-related`, `language-prefix`; of the rest: `config`, `template`, `plugin`,
    `output-path`, `search-incomplete`, `brand`, `redirect`, `analytics`, `internal`. `target` is what the
    problem points at, when it points at something: the link or image path (content-relative), the other
    article of a duplicate URL, the related entry. Neither takes part in comparisons: two problems with the
    same place, message and level are the same problem.
    """

    path: str
    line: int
    message: str
    level: str = "error"  # "error" | "warning"
    code: str = field(default="", compare=False)
    target: str = field(default="", compare=False)

    def __str__(self) -> str:
        # Paths and messages quote file names, front matter and analytics data: no terminal controls.
        where = f"{self.path}:{self.line}" if self.line else self.path
        return for_terminal(f"{where}: {self.level}: {self.message}")


class BuildError(Exception):
    """Raised when a build has errors; carries all of them, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type, tuple[list[Problem]]]:  # raised in a worker process, re-raised here
        return (BuildError, (self.problems,))


class ConfigError(Exception):
    """A bad `kbgen.toml`: the message names the file, the key and a close match."""


def display_path(path: Path, root: Path | None) -> str:
    """A path as the user knows it: relative to `root` (usually the project) when possible."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def from_project(problems: list[Problem], content: Path, root: Path) -> list[Problem]:
    """`problems` whose paths are relative to `content` (or absolute), named from the project `root` instead:
    `content/fr/x.md`, as `kbgen check` and `kbgen serve` name files. A multilingual site's problems are named
    so, every language's folder being a different `content`."""
    return [replace(p, path=display_path(content / p.path, root)) if p.path else p for p in problems]
