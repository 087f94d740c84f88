"""Paths that come from content: every file kbgen writes stays inside its output folder, no two sources write
the same file, and no symbolic link takes a build outside the project.

- `urls.alias_output()` checks an alias (an old URL an editor typed) and gives the file it becomes;
- `inside()` is the guard every write goes through: a site-relative path that could leave the folder it is
  written into is refused, whatever produced it;
- `output_claims()` finds two sources (articles, aliases, folders, tags, assets, kbgen's own pages) that
  would write the same file, or a file where another needs a folder;
- `walk_files()` lists a folder's files without following a link that points outside the project.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

from .errors import BuildError, Problem

MAX_SEGMENT = 200  # bytes of one path segment (file systems allow 255)
MAX_SEGMENTS = 32
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# kbgen's own outputs: an alias, a folder or an asset there would replace them.
GENERATED = {
    "index.html": "the home page",
    "search/index.html": "the search page",
    "tags/index.html": "the page of all tags",
    "404.html": "the 404 page",
    "feed.xml": "the feed",
    "sitemap.xml": "the sitemap",
    "robots.txt": "robots.txt",
    ".kbgen-site": "kbgen's marker file",
    "widget.js": "the help widget's launcher",
    "_redirects": "the host's redirect rules ([deploy])",
    "_headers": "the host's header rules ([deploy])",
    "vercel.json": "Vercel's configuration ([deploy])",
    "staticwebapp.config.json": "Azure Static Web Apps' configuration ([deploy])",
    ".htaccess": "Apache's rules ([deploy])",
}
RESERVED_FOLDERS = {
    "_search": "the search index (_search/)",
    "static": "the theme's static files (static/)",
    "_widget": "the help widget's panel (_widget/)",
    ".kbgen-deploy": "the deploy rules for S3 and nginx (.kbgen-deploy/)",
}


def _bad_char(text: str) -> str | None:
    if "\\" not in text and text.isprintable():  # the common case, at C speed
        return None
    for c in text:
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") or c == "\\":
            return "a backslash" if c == "\\" else f"the control character U+{ord(c):04X}"
    return None


def alias_site_path(alias: str) -> str:
    """An alias as the site path it redirects from (leading slash, percent-escapes decoded, a trailing slash
    kept as written). Raises ValueError with the reason when it is not a plain path inside the site."""
    text = alias.strip()
    bad = _bad_char(text)
    if bad:
        raise ValueError(f"holds {bad}")
    if not text or text.strip("/") == "":
        raise ValueError("is the home page: an alias must be an old address of this article, like /old/page/")
    if text.startswith("//") or _SCHEME.match(text):
        raise ValueError("is a full URL: write only its path, like /hc/en-us/articles/123/")
    if "?" in text or "#" in text:
        raise ValueError("has a query (?) or fragment (#): a static site can only redirect a path")
    segments = text.strip("/").split("/")
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"has more than {MAX_SEGMENTS} segments")
    decoded: list[str] = []
    for raw in segments:
        try:
            seg = unquote(raw, errors="strict") if "%" in raw else raw
        except UnicodeDecodeError:
            raise ValueError("has a percent-escape that is not UTF-8 text") from None
        if seg == "":
            raise ValueError("has an empty segment (//)")
        if seg in (".", ".."):
            raise ValueError(f"has a {seg!r} segment: write the address without it")
        if "/" in seg:
            raise ValueError("has an encoded slash (%2F)")
        bad = _bad_char(seg)
        if bad:
            raise ValueError(f"holds {bad}")
        if len(seg.encode("utf-8", "surrogatepass")) > MAX_SEGMENT:
            raise ValueError(f"has a segment longer than {MAX_SEGMENT} bytes")
        decoded.append(seg)
    return "/" + "/".join(decoded) + ("/" if text.endswith("/") else "")


def check_relative(rel: str) -> str | None:
    """Why `rel` cannot be written inside an output folder (None if it can): it must be relative, made of
    real segments (no `..`, `.` or empty ones), with no backslash or control character."""
    if not rel or rel.startswith("/"):
        return "not a relative path"
    bad = _bad_char(rel)
    if bad:
        return f"holds {bad}"
    for seg in rel.split("/"):
        if seg in ("", ".", ".."):
            return f"has a {seg or 'empty'!r} segment"
    return None


def inside(root: Path, rel: str) -> Path:
    """`root / rel`, refused (BuildError) when `rel` could lead outside `root`: the guard of every write."""
    why = check_relative(rel)
    if why is not None:
        raise BuildError([Problem(rel, 0, f"refusing to write outside the output folder: the path {why}",
                                  code="unsafe-path")])
    return root / rel


# -- Two sources, one output file -----------------------------------------------------------------------


class Claim(NamedTuple):
    """One output file and who writes it: `source:line` and what it is, for the message."""

    output: str
    source: str
    line: int
    what: str
    kind: str  # "page" (an article or folder page: checked by the loader already), "alias", "tag", "asset", "id"


def _key(path: str) -> str:
    # Case- and normalisation-insensitive, as on macOS and Windows: two names that are one file there collide.
    return path.lower() if path.isascii() else unicodedata.normalize("NFC", path).casefold()


def _owner(claim: Claim) -> str:
    where = f"{claim.source}:{claim.line}" if claim.line else claim.source
    return f"{claim.what} ({where})" if claim.source else claim.what


def output_claims(claims: Iterable[Claim]) -> list[Problem]:
    """Every file two claims would write, every file written where another claim needs a folder, and every
    claim inside kbgen's own pages or folders: one error each, at the later claim, naming both."""
    problems: list[Problem] = []
    files: dict[str, Claim] = {_key(out): Claim(out, "", 0, what, "generated") for out, what in GENERATED.items()}
    order: dict[str, int] = {}  # file key → position of its claim (which of two came later)
    folders: dict[str, Claim] = {}  # folder key → the first claim that needs it

    def clash(claim: Claim, other: Claim) -> None:
        if not (claim.kind == "page" and other.kind == "page"):  # two pages: reported by the loader already
            problems.append(
                Problem(claim.source, claim.line, f"{claim.what} writes {claim.output}, as does {_owner(other)}",
                        code="output-collision", target=other.source)
            )

    for n, claim in enumerate(claims):
        out = claim.output
        key = _key(out)
        cut = key.find("/")
        first = key if cut < 0 else key[:cut]
        if first in RESERVED_FOLDERS:
            problems.append(Problem(claim.source, claim.line,
                                    f"{claim.what} writes {out}, inside {RESERVED_FOLDERS[first]}",
                                    code="output-collision"))  # fmt: skip
            continue
        other = files.get(key)
        if other is not None:
            clash(claim, other)
            continue
        files[key] = claim
        order[key] = n
        while cut >= 0:
            folders.setdefault(key[:cut], claim)
            cut = key.find("/", cut + 1)
    # A file where another claim needs a folder (`feed.xml` and `feed.xml/index.html`): at the later one.
    for folder, needs in folders.items():
        file = files.get(folder)
        if file is not None:
            if order.get(folder, -1) > order.get(_key(needs.output), -1):  # the file came later
                problems.append(Problem(file.source, file.line, f"{file.what} writes the file {file.output}, "
                                        f"where {_owner(needs)} needs a folder", code="output-collision",
                                        target=needs.source))  # fmt: skip
            else:
                problems.append(Problem(needs.source, needs.line, f"{needs.what} writes {needs.output}, but "
                                        f"{folder} is a file: {_owner(file)}", code="output-collision",
                                        target=file.source))  # fmt: skip
    return problems


def duplicate_ids(ids: Iterable[tuple[str, str, int]]) -> list[Problem]:
    """Two articles with one `id` (the key of their analytics): (id, source, line) each; an error at the
    later one, naming the first."""
    seen: dict[str, tuple[str, int]] = {}
    problems: list[Problem] = []
    for art_id, source, line in ids:
        first = seen.get(art_id)
        if first is None:
            seen[art_id] = (source, line)
        else:
            problems.append(
                Problem(source, line, f"`id` {art_id!r} is also the id of {first[0]}: give each article its own",
                        code="duplicate-id", target=first[0])
            )
    return problems


# -- Symbolic links ---------------------------------------------------------------------------------------


def shown(text: str) -> str:
    """A name for a message: as it is when printable, else escaped (no control character reaches a terminal)."""
    return text if text.isprintable() else ascii(text)


def is_within(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def allowed_roots(*paths: Path) -> list[str]:
    """The real paths a link may point into: the project, and the folder walked when the configuration names
    one elsewhere. A folder inside the project that is itself a link (`static/` → `/etc`) adds nothing: its
    target is outside, and `walk_files()` does not read it."""
    if not paths:
        return []
    project = os.path.abspath(paths[0])
    roots = [os.path.realpath(paths[0])]
    for p in paths[1:]:
        if not is_within(os.path.abspath(p), [project]):  # configured outside the project: trusted
            roots.append(os.path.realpath(p))
    return roots


def walk_files(
    root: Path,
    roots: list[str],
    problems: list[Problem] | None,
    *,
    level: str = "warning",
    skip_hidden_dirs: bool = False,
    label: str = "",
) -> Iterator[tuple[str, Path]]:
    """(posix path relative to `root`, path) of every regular file under `root`, hidden file names skipped.

    A symbolic link whose target is outside `roots` is not followed (a `problems` entry names it, at
    `level`); a link inside them is read as its target (links to folders are not descended, as before); a
    file that is not a regular one (a FIFO, a device, a broken link) is skipped with a problem too. `label`:
    how `root` is named in messages."""
    base = label or str(root)
    target = os.path.realpath(root)
    if not is_within(target, roots):  # the folder itself, or a folder above it, links outside the project
        if problems is not None:
            problems.append(Problem(shown(base), 0, f"symbolic link to {shown(target)}, outside the project: "
                                    "not published", level, code="unsafe-path"))  # fmt: skip
        return
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(root / rel_dir if rel_dir else root) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[str] = []
        for entry in entries:
            name = entry.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name.startswith(".") and (skip_hidden_dirs or not entry.is_dir(follow_symlinks=False)):
                continue
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not is_within(target, roots):
                    if problems is not None:
                        problems.append(
                            Problem(
                                shown(posixpath.join(base, rel)), 0,
                                f"symbolic link to {shown(target)}, outside the project: not published", level,
                                code="unsafe-path",
                            )
                        )  # fmt: skip
                    continue
                if os.path.isdir(target):
                    continue  # links to folders are not descended
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(rel)
            elif entry.is_file():
                yield rel, Path(entry.path)
            elif problems is not None:
                problems.append(
                    Problem(shown(posixpath.join(base, rel)), 0, "not a regular file (or a broken link): skipped",
                            level, code="unsafe-path")  # fmt: skip
                )
        stack.extend(reversed(subdirs))
