"""Hostile content never writes outside the output, never replaces a page silently, never follows a link out
of the project and never hangs the build: real builds of real folders, and generated front matter."""

from __future__ import annotations

import os
import re
import tempfile
import textwrap
from pathlib import Path

import pytest
from conftest import run_kbgen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbgen.build import BuildOptions, build, render_pages
from kbgen.config import load_config
from kbgen.content import LoadOptions, load_library
from kbgen.content.frontmatter import _parse_yaml, _simple_yaml, read_source
from kbgen.errors import BuildError
from kbgen.render import Page, SiteRenderer, build_date_from_env
from kbgen.safepath import inside


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def project(root: Path) -> Path:
    """A small help centre: one category, one section, two articles, a tag."""
    write(root, "kbgen.toml", 'title = "Hardening"\n')
    write(root, "content/orders/_index.md", "---\ntitle: Orders\n---\n")
    write(root, "content/orders/tracking/_index.md", "---\ntitle: Tracking\n---\n")
    write(root, "content/orders/tracking/track.md", "---\ntitle: Track an order\ntags: [delivery]\n---\nText.\n")
    write(root, "content/orders/tracking/faq.md", "---\ntitle: Tracking FAQ\n---\nMore text.\n")
    return root


def build_errors(root: Path, *args: str) -> str:
    proc = run_kbgen("build", *args, cwd=root, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout + proc.stderr


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# -- aliases: never outside the output --------------------------------------------------------------------

HOSTILE_ALIASES = [
    "/../../outside/owned.html",  # the traversal of the issue: staging/../../ is beside the project
    "/a/b/../../../../outside/owned2/",
    "..\\\\..\\\\outside\\\\owned3.html",  # backslashes
    "/a/%2e%2e/%2e%2e/%2E%2E/outside/owned4/",  # encoded dots
    "/x/%2F..%2F..%2Foutside/",  # an encoded slash
    "https://evil.example/hc/",  # a scheme and a host
    "//evil.example/hc/",  # a host
    "javascript:alert(1)",
    "C:/Windows/owned.html",  # a drive letter reads as a scheme
    "/bell\\x07/",  # a control character (a YAML escape)
    "/rtl\\u202eoverride/",  # a format character
    "/",  # the home page
    "",  # nothing
    "///",  # normalises to nothing
    "/./",
    "/a/./b/",
    "/a//b/",
    "/old?id=3",
    "/%ff%fe/",  # a percent-escape that is not UTF-8
    "file:///etc/passwd",
    "/%00/",  # an encoded NUL
    "/" + "x" * 300 + "/",  # longer than a file name can be
]


def test_hostile_aliases_are_errors_naming_file_and_line_and_nothing_is_written(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    items = "".join(f'  - "{a}"\n' for a in HOSTILE_ALIASES)
    write(root, "content/orders/tracking/hostile.md", f"---\ntitle: Hostile\naliases:\n{items}---\nBody.\n")
    out = build_errors(root)
    for i, alias in enumerate(HOSTILE_ALIASES):
        assert f"orders/tracking/hostile.md:{4 + i}: error: alias" in out, (alias, out)
    assert not (tmp_path / "outside").exists()
    assert not (root / "site").exists()
    assert not [p for p in tmp_path.rglob("owned*")]


def test_a_valid_alias_still_redirects_and_percent_escapes_are_decoded(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    write(root, "content/orders/tracking/moved.md",
          "---\ntitle: Moved\naliases: [/hc/en-us/articles/123-Moved, /old%20page.html, /.well-known/x/]\n---\nB.\n")  # fmt: skip
    run_kbgen("build", cwd=root)
    site = root / "site"
    assert "/orders/tracking/moved/" in (site / "hc/en-us/articles/123-Moved/index.html").read_text()
    assert (site / "old page.html").is_file()
    assert (site / ".well-known/x/index.html").is_file()


def test_the_write_guard_refuses_any_path_that_leaves_the_output(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    config = load_config(None, root=root)
    library = load_library(config.content_path).library
    renderer = SiteRenderer(config, library, build_date_from_env())
    staging = tmp_path / "staging"
    staging.mkdir()
    for bad in ("../escape.html", "/tmp/escape.html", "a/../../escape.html", "a\\..\\escape.html", "", "a//b"):
        with pytest.raises(BuildError, match="outside the output folder"):
            render_pages(renderer, staging, 1, None, [Page(bad, "404.html", {"page": {}})])
        with pytest.raises(BuildError):
            inside(staging, bad)
    assert not (tmp_path / "escape.html").exists() and list(staging.iterdir()) == []


# -- collisions: never a page replaced silently --------------------------------------------------------------


def test_aliases_over_pages_and_generated_files_are_errors_naming_both(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    taken = [
        ("/orders/tracking/faq/", "orders/tracking/faq.md"),  # another article's URL
        ("/ORDERS/tracking/FAQ/index.html", "orders/tracking/faq.md"),  # the same file, other case
        ("/orders/", "the folder page /orders/"),
        ("/search/", "the search page"),
        ("/tags/", "the page of all tags"),
        ("/tags/delivery/", "the tag 'delivery'"),
        ("/404.html", "the 404 page"),
        ("/feed.xml/", "the feed"),  # feed.xml would have to be a folder
        ("/sitemap.xml", "the sitemap"),
        ("/robots.txt", "robots.txt"),
        ("/_search/meta.json", "_search/"),
        ("/static/kb.css", "static/"),
        ("/orders/tracking/faq/index.html/deeper/", "orders/tracking/faq.md"),  # file where a folder is
    ]
    items = "".join(f"  - {a}\n" for a, _ in taken)
    write(root, "content/orders/tracking/grabby.md", f"---\ntitle: Grabby\naliases:\n{items}---\nBody.\n")
    out = build_errors(root)
    for i, (alias, other) in enumerate(taken):
        line = next((ln for ln in out.splitlines() if f"grabby.md:{4 + i}: error:" in ln), "")
        assert alias in line and other in line, (alias, other, out)
    assert not (root / "site").exists()


def test_two_sources_of_one_file_and_two_articles_with_one_id_are_errors_naming_both(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    write(root, "content/orders/tracking/one.md", "---\ntitle: One\nid: kb-7\naliases: [/old/shared/]\n---\nB.\n")
    write(root, "content/orders/tracking/two.md", "---\ntitle: Two\naliases:\n  - /old/shared/\nid: kb-7\n---\nB.\n")
    write(root, "content/orders/tracking/three.md", "---\ntitle: Three\nid: orders/tracking/faq\n---\nB.\n")
    write(root, "content/404.html", "<p>a content file where the 404 page goes</p>\n")
    write(root, "content/search/_index.md", "---\ntitle: Search tips\n---\n")  # a category at /search/
    write(root, "content/search/how-to-search.md", "---\ntitle: How to search\n---\nB.\n")
    out = build_errors(root)
    assert re.search(r"two\.md:4: error: the alias /old/shared/ writes old/shared/index.html, as does "
                     r"the alias /old/shared/ \(orders/tracking/one\.md:4\)", out), out  # fmt: skip
    assert re.search(r"two\.md:5: error: `id` 'kb-7' is also the id of orders/tracking/one\.md", out), out
    assert "three.md:3: error: `id` 'orders/tracking/faq' is also the id of orders/tracking/faq.md" in out, out
    assert re.search(r"404\.html: error: the file 404\.html writes 404\.html, as does the 404 page", out), out
    assert re.search(r"search/_index\.md:1: error: the folder page /search/ writes search/index\.html, "
                     r"as does the search page", out), out  # fmt: skip


# -- symbolic links: never out of the project ----------------------------------------------------------------


def _link_project(tmp_path: Path) -> tuple[Path, Path]:
    root = project(tmp_path / "p")
    outside = tmp_path / "outside"
    write(outside, "secret.md", "---\ntitle: SECRET-ARTICLE\n---\nSECRET-MARKER article\n")
    write(outside, "passwd", "root:x:0:0:SECRET-MARKER:/root:/bin/sh\n")
    (outside / "dir").mkdir()
    write(outside, "dir/inner.txt", "SECRET-MARKER in a folder\n")
    write(root, "shared/inside.md", "---\ntitle: Linked inside\n---\nInside the project.\n")
    write(root, "shared/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    write(root, "kbgen.toml", 'title = "Hardening"\ntheme = "custom"\n')
    (root / "themes/custom/static").mkdir(parents=True)
    links = {
        "content/orders/tracking/secret.md": outside / "secret.md",
        "content/_assets/passwd": outside / "passwd",
        "content/_assets/dir": outside / "dir",
        "static/passwd.txt": outside / "passwd",
        "themes/custom/static/passwd.css": outside / "passwd",
        "content/orders/tracking/inside.md": root / "shared/inside.md",
        "static/logo.svg": root / "shared/logo.svg",
    }
    for rel, target in links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(target, (root / rel).parent), root / rel)
    return root, outside


def test_links_outside_the_project_are_not_followed_warned_and_errors_with_strict(tmp_path: Path) -> None:
    root, outside = _link_project(tmp_path)
    proc = run_kbgen("build", cwd=root)
    text = proc.stdout + proc.stderr
    for rel in ("orders/tracking/secret.md", "_assets/passwd", "_assets/dir", "static/passwd.txt",
                "themes/custom/static/passwd.css"):  # fmt: skip
        assert re.search(rf"{re.escape(rel)}: warning: symbolic link to {re.escape(str(outside))}", text), (rel, text)
    site = files_under(root / "site")
    assert not [name for name, data in site.items() if b"SECRET-MARKER" in data or b"SECRET-ARTICLE" in data]
    assert "orders/tracking/inside/index.html" in site  # links inside the project keep working
    assert "static/logo.svg" in site
    out = build_errors(root, "--strict")
    assert "static/passwd.txt: error: symbolic link to" in out
    assert "orders/tracking/secret.md: error: symbolic link to" in out


def test_a_fifo_in_content_is_skipped_not_read(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    os.mkfifo(root / "content/orders/tracking/pipe.md")  # reading it would block the build for ever
    proc = run_kbgen("build", cwd=root)
    assert "pipe.md: warning: not a regular file" in proc.stdout + proc.stderr


# -- YAML: bounded, and the words the editor wrote ------------------------------------------------------------

BILLION_LAUGHS = """\
---
title: Laughs
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
---
Body.
"""


def test_billion_laughs_and_oversized_front_matter_are_refused_with_file_and_line(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    write(root, "content/orders/tracking/laughs.md", BILLION_LAUGHS)
    write(root, "content/orders/tracking/merge.md", "---\nbase: &base {x: 1}\ntitle: M\nother:\n  <<: *base\n---\nB.\n")
    write(root, "content/orders/tracking/huge.md", "---\ntitle: Huge\ndescription: " + "word " * 20000 + "\n---\nB.\n")
    write(root, "content/orders/tracking/tagged.md", "---\ntitle: !!python/object:os.system x\n---\nB.\n")
    out = build_errors(root)
    assert "laughs.md:3: error: invalid front matter: YAML anchors (&a) are not allowed" in out, out
    assert "merge.md:2: error: invalid front matter: YAML anchors (&base) are not allowed" in out, out
    assert re.search(r"huge\.md:1: error: front matter is 97 KiB, more than the 64 KiB allowed", out), out
    assert "tagged.md:2: error: invalid front matter: YAML tags such as !!python/object:os.system" in out, out


def test_text_fields_keep_the_words_the_editor_wrote(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    write(root, "content/orders/_index.md", "---\ntitle: Off\ndescription: 2026-05-31\norder: 2\n---\n")
    write(root, "content/orders/tracking/words.md", """\
        ---
        title: No
        description: yes
        tags: [on, off, y, n, 1e3, 0777, 0x1F, 1_000, .inf, 2026-05-31, 12:30, true]
        keywords:
          - NO
          - 1.0
        id: 0777
        slug: 1e3
        time: 1:30
        draft: no
        promoted: on
        order: 0x1F
        updated: 2026-05-31
        ---
        Body.
        """)  # fmt: skip
    out = build_errors(root)  # `order: 0x1F` is not a number: an error naming it, the rest read as written
    assert "words.md:13: error: `order` must be a number, not '0x1F'" in out, out
    path = root / "content/orders/tracking/words.md"
    path.write_text(path.read_text().replace("order: 0x1F\n", "order: 1_000\n"))
    config = load_config(None, root=root)
    result = build(config, BuildOptions(workers=1, cache=False))
    assert result.library is not None
    words = next(a for a in result.library.articles if a.source.endswith("words.md"))
    assert (words.title, words.description, words.id, words.slug, words.time) == ("No", "yes", "0777", "1e3", "1:30")
    assert words.tags == ["on", "off", "y", "n", "1e3", "0777", "0x1F", "1_000", ".inf", "2026-05-31", "12:30", "true"]
    assert words.keywords == ["NO", "1.0"]
    assert (words.draft, words.promoted, words.order, str(words.updated)) == (False, True, 1000, "2026-05-31")
    orders = result.library.categories[0]
    assert (orders.title, orders.description) == ("Off", "2026-05-31")
    page = (root / "site/orders/tracking/1e3/index.html").read_text()
    assert "<h1" in page and ">No</h1>" in page
    assert (root / "site/tags/on/index.html").is_file() and (root / "site/tags/off/index.html").is_file()


def test_a_key_given_twice_is_a_warning_naming_it_and_an_error_with_strict(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    write(root, "content/orders/tracking/twice.md", "---\ntitle: First\ntags: [a]\ntitle: Second\n---\nB.\n")
    proc = run_kbgen("build", cwd=root)
    assert "twice.md:4: warning: `title` is given twice; the last value is used" in proc.stdout + proc.stderr
    assert "Second" in (root / "site/orders/tracking/twice/index.html").read_text()
    assert "twice.md:4: error: `title` is given twice" in build_errors(root, "--strict")


# -- kbgen serve: the incremental path checks the same --------------------------------------------------------


def test_serve_incremental_rebuild_refuses_hostile_aliases_collisions_and_outside_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kbgen.build import BuildSession
    from kbgen.rebuild import Change, Rebuilder

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    root = project(tmp_path / "p")
    session = BuildSession(load_config(None, root=root), tmp_path / "out", workers=1)
    rebuilder = Rebuilder(session, None, root)
    assert rebuilder.apply(rebuilder.classify([Change(root / "kbgen.toml")])).ok
    assert session.output is not None
    before = files_under(session.output)
    faq = root / "content/orders/tracking/faq.md"

    def change(text: str, path: Path = faq) -> list[str]:
        path.write_text(text, encoding="utf-8")
        outcome = rebuilder.apply(rebuilder.classify([Change(path)]))
        assert not outcome.ok
        return [str(p) for p in outcome.problems]

    got = change("---\ntitle: FAQ\naliases:\n  - /ok/\n  - /../../../outside/owned.html\n---\nB.\n")
    assert any("faq.md:5: error: alias '/../../../outside/owned.html'" in p for p in got), got
    got = change("---\ntitle: FAQ\naliases: [/search/]\n---\nB.\n")
    assert any("faq.md:3: error: the alias /search/ writes search/index.html, as does the search page" in p
               for p in got), got  # fmt: skip
    got = change("---\ntitle: FAQ\naliases: [/orders/tracking/track/]\n---\nB.\n")
    assert any("as does the page of content/orders/tracking/track.md" in p or "orders/tracking/track.md" in p
               for p in got), got  # fmt: skip
    got = change("---\ntitle: FAQ\nid: orders/tracking/track\n---\nB.\n")
    assert any("faq.md:3: error: `id` 'orders/tracking/track' is also the id" in p for p in got), got
    assert files_under(session.output) == before  # nothing written
    assert not (tmp_path / "outside").exists()
    # A new link to a file outside the project: left out by the (full) rebuild, with a warning.
    secret = write(tmp_path, "secret/s.md", "---\ntitle: SECRET\n---\nSECRET-MARKER\n")
    faq.write_text("---\ntitle: FAQ\n---\nB.\n", encoding="utf-8")
    link = root / "content/orders/tracking/leak.md"
    os.symlink(secret, link)
    outcome = rebuilder.apply(rebuilder.classify([Change(faq), Change(link)]))
    assert outcome.ok, outcome.problems
    assert any("leak.md: warning: symbolic link to" in str(p) for p in rebuilder.problems), rebuilder.problems
    assert session.output is not None
    assert not [n for n, d in files_under(session.output).items() if b"SECRET-MARKER" in d]
    session.close()


# -- generated front matter ------------------------------------------------------------------------------------

_TRICKY = ["yes", "No", "on", "OFF", "y", "n", "true", "~", "null", "1e3", "0777", "0x1F", "1_000", ".inf",
           "-.NaN", "2026-05-31", "2026-13-45", "12:30:00", "<<", "&a", "*a", "!!int 3", "!tag x", "'", '"',
           "[", "{", "- x", ": x", "#", "|", ">", "%", "@", "`", "\\", "\t", "\x00", "\x1b[31m", "\u2028",
           "\ufeff", "\ud83d\ude00", "..", "../..", "/..", "%2e%2e", "//evil", "http://x", "C:\\x", "a" * 300]  # fmt: skip
_KEYS = ["title", "description", "tags", "labels", "keywords", "aliases", "slug", "id", "order", "draft",
         "promoted", "updated", "related", "type", "time", "supplies", "icon", "translation_key", "custom"]  # fmt: skip
_ALIAS_PARTS = ["/", "..", ".", "\\", "%2e", "%2F", "%00", ":", "//", "?", "#", "a", "Ω", "\x07", "\u202e",
                "index.html", "search", "tags", "static", "_search", "404.html", " ", "%"]  # fmt: skip

_scalar = st.one_of(st.sampled_from(_TRICKY), st.text(max_size=30))
_alias = st.one_of(
    st.lists(st.sampled_from(_ALIAS_PARTS), max_size=8).map("".join),
    st.sampled_from(["/old/page/", "/hc/en-us/articles/1-X", "/a.html", "/Ω/ü%20x/", "/orders/tracking/faq/",
                     "/search/", "/tags/delivery/", "/orders/tracking/track/index.html", "/old/page"]),
)


def _yaml_scalar(value: str, style: int) -> str:
    if style == 0:  # plain: often invalid YAML, which must be a clear error too
        return value
    if style == 1 and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" if ord(c) < 0x10000
                         else c for c in value) + '"'  # fmt: skip


_style = st.sampled_from([0, 1, 2, 2])


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 7)) == 0:  # now and then: anything at all
        return draw(st.text(max_size=200))
    lines = []
    if draw(st.integers(0, 4)):  # mostly with a title, so that the rest gets as far as the output paths
        lines.append(f"title: {_yaml_scalar(draw(_scalar), draw(st.sampled_from([1, 2])))}")
    for key in draw(st.lists(st.sampled_from(_KEYS), max_size=8)):
        kind = draw(st.integers(0, 7))
        if key == "aliases" or kind == 2:
            values = draw(st.lists(_alias if key == "aliases" else _scalar, max_size=4))
            styles = draw(st.lists(_style, min_size=len(values), max_size=len(values)))
            if draw(st.booleans()):
                lines.append(f"{key}: [{', '.join(_yaml_scalar(v, s) for v, s in zip(values, styles, strict=True))}]")
            else:
                lines.append(f"{key}:")
                lines += [f"  - {_yaml_scalar(v, s)}" for v, s in zip(values, styles, strict=True)]
        elif kind == 3:
            lines.append(f"{key}: {draw(st.text(max_size=40))}")  # raw, unescaped
        else:
            lines.append(f"{key}: {_yaml_scalar(draw(_scalar), draw(_style))}")
    return "\n".join(lines) + "\n"


_WORKDIR = Path(tempfile.mkdtemp(prefix="kbgen-hypothesis-"))
project(_WORKDIR / "p")


def _load_and_check(text: str) -> list[str]:
    """Load the project with `text` as one article's front matter: never a traceback, every problem a
    `file:line`, and when it loads, every output file inside the output folder, no two the same."""
    root = _WORKDIR / "p"
    rel = "orders/tracking/generated.md"
    (root / "content" / rel).write_text(f"---\n{text}---\nBody.\n", encoding="utf-8", errors="surrogatepass")
    result = load_library(root / "content", LoadOptions(workers=1, project_root=root))  # never raises
    for p in result.problems:
        assert p.path in (rel, "orders/tracking/track.md", "orders/tracking/faq.md"), p
        assert p.line >= 1 and p.message and "Traceback" not in p.message, p
    if result.errors:
        return [p.message for p in result.errors]
    staging = (_WORKDIR / "staging").resolve()
    config = load_config(None, root=root)
    renderer = SiteRenderer(config, result.library, build_date_from_env())
    outputs = []
    for page in renderer.pages():
        target = inside(staging, page.output).resolve()
        assert target.is_relative_to(staging) and target != staging, page.output
        outputs.append(page.output.casefold())
        article = page.context.get("article")
        if article is not None and article.source == rel:
            assert renderer.render(page)  # the article's page and its redirects render
    assert len(outputs) == len(set(outputs))  # no two pages one file
    return []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(front_matter())
def test_generated_front_matter_never_crashes_and_never_leaves_the_output(text: str) -> None:
    _load_and_check(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_alias, _style), min_size=1, max_size=5))
def test_generated_aliases_are_refused_at_their_line_or_stay_inside_the_output(aliases: list[tuple[str, int]]) -> None:
    items = "".join(f"  - {_yaml_scalar(a, s)}\n" for a, s in aliases)
    errors = _load_and_check(f"title: Generated\naliases:\n{items}")
    for message in errors:  # each names the alias (or the YAML) and is at a line of the list (checked above)
        assert message.startswith(
            ("alias ", "the alias ", "invalid YAML", "invalid front matter", "`aliases` must be a list of text")
        ), message


_simple_value = st.one_of(
    st.from_regex(r'"[a-zA-Z0-9 ,.:#\'-]{0,12}"', fullmatch=True),
    st.from_regex(r"'[a-zA-Z0-9 ,.:#\"-]{0,12}'", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9 ._/-]{0,12}", fullmatch=True),
    st.from_regex(r"(0|[1-9][0-9]{0,5})|[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.lists(st.sampled_from(["a", "yes", "No", "null", "'x, y'", '"q"', "b c"]), max_size=3).map(
        lambda v: "[" + ", ".join(v) + "]"
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_KEYS + ["yes", "null", "on"]), _simple_value), min_size=1, max_size=6))
def test_the_fast_path_reads_front_matter_exactly_as_the_full_parser(pairs: list[tuple[str, str]]) -> None:
    raw = "".join(f"{k}: {v}\n" for k, v in pairs)
    fast = _simple_yaml(raw)
    if fast is None:
        return
    meta, lines, _items, warnings = _parse_yaml(raw)
    assert fast == (meta, lines) and not warnings
    parsed, problems = read_source(f"---\n{raw}---\n".encode(), "x.md")
    assert parsed is not None and parsed.meta == meta and not problems


def test_names_too_long_for_a_file_system_and_control_characters_in_file_names_never_crash(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    long = "word-" * 80  # 400 characters: longer than a file name may be (255 bytes)
    write(root, "content/orders/_index.md", f"---\ntitle: Orders\nslug: {long}\n---\n")
    write(root, "content/orders/tracking/long.md", f"---\ntitle: Long\nslug: {long}\ntags: ['{long}', 'Ω{long}']\n---\nB.\n")
    write(root, "content/orders/tracking/evil\nname.md", "---\ntitle: Evil name\n---\nB.\n")
    proc = run_kbgen("build", cwd=root)
    assert "Traceback" not in proc.stderr
    assert "'orders/tracking/evil\\nname.md': warning: file name holds a control character" in proc.stdout + proc.stderr
    names = [p.name for p in (root / "site").rglob("*")]
    assert names and max(len(n.encode()) for n in names) <= 255
    assert not any("\n" in n for n in names)


def test_an_image_that_links_outside_the_project_is_reported_not_referenced(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 8 + b"IHDR" + (4321).to_bytes(4, "big") * 2)
    (root / "content/_assets").mkdir(parents=True)
    os.symlink(outside / "shot.png", root / "content/_assets/shot.png")
    write(root, "content/orders/tracking/pic.md", "---\ntitle: Picture\n---\n\n![A shot](../../_assets/shot.png)\n")
    proc = run_kbgen("build", cwd=root)
    text = proc.stdout + proc.stderr
    assert "pic.md:5: warning: file is a symbolic link outside the project (not published)" in text, text
    page = (root / "site/orders/tracking/pic/index.html").read_text()
    assert "4321" not in page  # its size was not read
    assert not (root / "site/_assets/shot.png").exists()
