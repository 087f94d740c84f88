"""Problems found while building: every one names its file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .termsafe import for_terminal


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in the input: `path:line: message`."""

    path: str
    line: int
    message: str
    level: str = "error"  # "error" | "warning"

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
