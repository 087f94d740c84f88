"""The build cache in `.kbgen/`: what a warm build may reuse, and the signatures that say when it may not.

Never trusted blindly. Every entry is keyed by what produced it:
- a rendered Markdown body by its text, place, type, labels, base path and kbgen version, and it is reused only
  while every link and image it used still resolves the same way (see `content.load.render_all`);
- a page by a signature of the site-wide data any template may show (navigation, listings, popular and
  recent articles, tags, the theme's files, the config, kbgen's version, the build date) plus, for an article
  page, everything about that article. A page whose signature is unchanged is hard-linked from the previous
  output instead of being rendered again.
A cache written by another kbgen version, or one that cannot be read, is ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from . import __version__
from .atomic import dump_atomic, pickle_atomic
from .config import Config
from .content.model import Article, Library
from .integrity import search_export_digest
from .markdown import Rendered
from .render import Page, SiteRenderer

CACHE_FILE = "build-cache.pickle"
RENDER_FILE = "render-cache.pickle"
PAGES_FILE = "pages-cache.pickle"
RENDER_BATCH = 1000  # rendered bodies per pickle in the render cache
# Not hashed into an article's page signature: links to other objects (their relevant parts are hashed
# apart), and the plain text (derived from the body, like the HTML that is hashed; the build drops it once
# the search process has it).
SKIP_FIELDS = {"category", "section", "related", "tag_links", "text", "sections", "lines", "alias_lines"}


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _fields_digest(pairs: list[tuple[str, Any]], *rest: object) -> str:
    """`_digest` of (name, value) pairs, strings hashed as their bytes (a repr of a long body is slow)."""
    h = hashlib.sha256()
    for name, value in pairs:
        if type(value) is str:
            h.update(b"s")
            h.update(name.encode())
            h.update(b"\0")
            h.update(value.encode("utf-8", "surrogatepass"))
        else:
            h.update(b"r")
            h.update(repr((name, value)).encode())
        h.update(b"\0")
    for part in rest:
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _config_repr(config: Config) -> str:
    data = dataclasses.asdict(config)
    data.pop("root", None)
    data.pop("path", None)
    return repr(data)


def _nav_tuple(a: Article) -> tuple[Any, ...]:
    return (
        a.source, a.id, a.url, a.title, a.description, a.type, a.updated, a.reading_minutes, tuple(a.tags),
        a.promoted, a.order, a.views, a.popularity_rank, a.category_slug, a.section_slug,
        tuple(r.url for r in a.related), tuple(a.aliases),
    )  # fmt: skip


def site_signature(renderer: SiteRenderer, library: Library, config: Config) -> str:
    """Everything a page may show that is not its own article."""
    folders = [
        (n.url, n.title, n.description, n.order, n.icon, repr(n.meta))
        for c in library.categories
        for n in (c, *c.sections)
    ]
    return _digest(
        __version__,
        renderer.theme.fingerprint(),
        _config_repr(config),
        renderer.build_date.date(),
        library.title,
        library.description,
        repr(library.home_meta),
        folders,
        [_nav_tuple(a) for a in library.articles],
    )


def article_signature(article: Article) -> str:
    own = [
        (f.name, getattr(article, f.name)) for f in dataclasses.fields(article) if f.name not in SKIP_FIELDS
    ]
    return _fields_digest(own, [(r.url, r.title, r.description) for r in article.related])


def page_signature(site_sig: str, page: Page) -> str:
    article = page.context.get("article")
    own = (
        article_signature(article)
        if isinstance(article, Article) and page.template != "redirect.html"
        else ""
    )
    return _digest(site_sig, page.output, page.template, own)


def _files_under(root: Path | str, *, skip_hidden: bool, follow_symlinks: bool) -> Iterator[os.DirEntry[str]]:
    """Every file under `root` (unreadable folders skipped), in no particular order."""
    stack = [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if skip_hidden and entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=follow_symlinks):
                stack.append(entry.path)
            elif not follow_symlinks or entry.is_file():
                yield entry


def _hash_tree(h: Any, root: Path) -> None:
    """Every file under `root` (names and bytes, sorted; hidden files and folders skipped) into `h`."""
    if not root.is_dir():
        h.update(b"-\0")
        return
    files = sorted(
        (os.path.relpath(e.path, root), e.path)
        for e in _files_under(root, skip_hidden=True, follow_symlinks=True)
    )
    for rel, full in files:
        h.update(rel.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
        try:
            with open(full, "rb") as fh:
                h.update(hashlib.blake2b(fh.read(), digest_size=16).digest())
        except OSError:
            h.update(b"?")


def _git_head(root: Path) -> str:
    """The commit checked out (articles' `updated` dates come from git), '' outside git."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def code_fingerprint() -> str:
    """kbgen's own code: its version and every module's size and modification time, so that a changed
    kbgen (an upgrade, or an edit in a development checkout) never reuses what an older one built."""
    package = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(package)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def inputs_fingerprint(
    config: Config, theme_fingerprint: str, options: tuple[Any, ...], build_day: str
) -> str:
    """A hash of everything a build reads: kbgen's code, the theme, the config and build options, the build day,
    every file of the content and static folders (by content, not date), the analytics inputs and the git
    commit. Equal fingerprints → the previous output is exactly what this build would write."""
    from .analytics.popularity import popularity_inputs

    h = hashlib.sha256()
    h.update(repr((code_fingerprint(), theme_fingerprint, _config_repr(config), options, build_day)).encode())
    _hash_tree(h, config.content_path)
    _hash_tree(h, config.root / config.static_dir)
    for path in popularity_inputs(config, config.root):
        h.update(str(path).encode())
        if path.is_dir():
            _hash_tree(h, path)
        else:
            try:
                st = path.stat()
                h.update(repr((st.st_size, st.st_mtime_ns)).encode())
            except OSError:
                h.update(b"missing")
            # A SQLite database in WAL mode (the collector's) holds its newest rows in `<name>-wal` until a
            # checkpoint. An empty one holds nothing (a read-only reader leaves one behind, with a new date).
            try:
                wal = path.with_name(path.name + "-wal").stat()
                if wal.st_size:
                    h.update(repr(("wal", wal.st_size, wal.st_mtime_ns)).encode())
            except OSError:
                pass
    h.update(_git_head(config.root).encode())
    return h.hexdigest()


def marker_identity(output: Path, marker: str) -> tuple[int, int] | None:
    """Which build wrote this output folder: the inode and time of its marker file. None without one."""
    try:
        st = (output / marker).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def output_identity(output: Path, marker: str) -> tuple[int, int, int, str] | None:
    """Which output folder this is and whether it is still whole: `marker_identity()`, the number of its
    files (a deleted page shows; counting needs no `stat` per file) and the names and sizes of its search
    export's files (an export emptied or cut short shows). None without a marker."""
    built_by = marker_identity(output, marker)
    if built_by is None:
        return None
    count = sum(1 for _ in _files_under(output, skip_hidden=False, follow_symlinks=False))
    return (*built_by, count, search_export_digest(output / "_search"))


class BuildCache:
    """What a build keeps for the next one, in three files of `.kbgen/`: `build-cache.pickle` (small: which
    output the last build wrote, its inputs fingerprint and summary — all the up-to-date check reads),
    `render-cache.pickle` (rendered Markdown by source, each entry keyed by what it was rendered from: valid
    whichever build wrote it; large, read only when something must be built) and `pages-cache.pickle` (the
    page signatures of that output). All carry kbgen's code fingerprint; the page signatures carry a token
    that ties them to the state that describes their output (a build interrupted between the two writes
    reuses no page)."""

    def __init__(
        self,
        path: Path,
        render: dict[str, tuple[str, Rendered]] | None = None,
        pages: dict[str, str] | None = None,
        output: str = "",
        inputs: str = "",
        output_id: tuple[int, ...] | None = None,
        summary: dict[str, Any] | None = None,
        token: str = "",
    ) -> None:
        self.path = path
        self.output = output  # the output folder those pages were written to
        self.inputs = inputs  # `inputs_fingerprint()` of the build that wrote `output`
        self.output_id = output_id  # `output_identity()` of that output
        self.summary = summary if summary is not None else {}  # its page and file counts and warnings
        self._token = token
        self._render = render
        # source → (render key, Rendered) as read: nothing to save if every entry is still that one (the same
        # object: a body rendered again under the same key, because a link it uses moved, is a change)
        self._render_read: dict[str, tuple[str, Rendered]] = {}
        self._pages = pages

    @property
    def render_path(self) -> Path:
        return self.path.with_name(RENDER_FILE)

    @property
    def pages_path(self) -> Path:
        return self.path.with_name(PAGES_FILE)

    def _load_render(self) -> dict[str, tuple[str, Rendered]]:
        render: dict[str, tuple[str, Rendered]] = {}
        if self._token:
            try:
                with self.render_path.open("rb") as fh:
                    if pickle.load(fh) == code_fingerprint():  # noqa: S301 - our own file in .kbgen/
                        while (batch := pickle.load(fh)) is not None:  # noqa: S301
                            render.update(batch)
            except (OSError, EOFError, pickle.UnpicklingError, AttributeError, TypeError, ValueError):
                render = {}
        self._render_read = dict(render)
        return render

    def _load_pages(self) -> dict[str, str]:
        if self._token:
            try:
                with self.pages_path.open("rb") as fh:
                    data = pickle.load(fh)  # noqa: S301 - our own file in the project's .kbgen/
                if data.get("version") == code_fingerprint() and data.get("token") == self._token:
                    return data["pages"]
            except (
                OSError,
                EOFError,
                pickle.UnpicklingError,
                KeyError,
                AttributeError,
                TypeError,
                ValueError,
            ):
                pass
        return {}

    @property
    def render(self) -> dict[str, tuple[str, Rendered]]:
        """source path → (render key, Rendered) of the last build (read on first use)."""
        if self._render is None:
            self._render = self._load_render()
        return self._render

    @property
    def pages(self) -> dict[str, str]:
        """output path → page signature of the pages in `output` (read on first use)."""
        if self._pages is None:
            self._pages = self._load_pages()
        return self._pages

    @pages.setter
    def pages(self, value: dict[str, str]) -> None:
        self._pages = value

    @classmethod
    def open(cls, cache_dir: Path) -> BuildCache:
        path = cache_dir / CACHE_FILE
        try:
            with path.open("rb") as fh:
                data = pickle.load(fh)  # noqa: S301 - our own file in the project's .kbgen/
            if data.get("version") != code_fingerprint():
                return cls(path, {}, {})
            return cls(
                path,
                None,
                None,
                data["output"],
                data.get("inputs", ""),
                data.get("output_id"),
                data.get("summary", {}),
                data.get("token", ""),
            )
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, AttributeError, TypeError, ValueError):
            return cls(path, {}, {})

    def save_render(self) -> None:
        """Write the rendered bodies, if they changed since they were read; then let them go (read again if
        used again). Pickled in batches, so that pickling never holds a memo of every object at once (at
        50,000 articles that memo alone was ~200 MB)."""
        render, self._render = self._render, None
        read, self._render_read = self._render_read, {}
        if render is None or (
            render.keys() == read.keys()
            and all(k == read[s][0] and r is read[s][1] for s, (k, r) in render.items())
        ):
            return
        items = list(render.items())
        version = code_fingerprint()

        def write(fh: IO[bytes]) -> None:
            pickle.dump(version, fh, protocol=pickle.HIGHEST_PROTOCOL)
            for i in range(0, len(items), RENDER_BATCH):
                pickle.dump(dict(items[i : i + RENDER_BATCH]), fh, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(None, fh)

        dump_atomic(self.render_path, write)

    def save(self) -> None:
        """Write the page signatures and the build state (`save_render()` writes the rendered bodies)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = os.urandom(8).hex()
        version = code_fingerprint()
        pickle_atomic(self.pages_path, {"version": version, "pages": self.pages, "token": token})
        state = {
            "version": version,
            "output": self.output,
            "inputs": self.inputs,
            "output_id": self.output_id,
            "summary": self.summary,
            "token": token,
        }
        pickle_atomic(self.path, state)
        self._token = token
