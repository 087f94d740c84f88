"""The full load and `kbgen serve`'s incremental rebuild assemble the library with the same functions
(kbgen/content/assemble.py): after each edit of a table, the incrementally kept Library and problems equal
those of a fresh full load of the same files: articles, URLs, folders, tags, order, related, and every
problem's code and target. An edit that fails names the same files with the same code on both paths."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kbgen.build import BuildSession
from kbgen.config import load_config
from kbgen.content.model import Library
from kbgen.errors import Problem
from kbgen.rebuild import Change, Plan, Rebuilder

pytestmark = pytest.mark.slow  # one full build per edit

ARTICLE = '---\ntitle: "{title}"\ndescription: "About {title}."\ntags: [{tags}]\nupdated: 2026-05-01\n{extra}---\n\n{body}\n\n## Details\n\nMore.\n'  # noqa: E501


def article(path: Path, title: str, tags: str = "basics", extra: str = "", body: str = "Some text.") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ARTICLE.format(title=title, tags=tags, extra=extra, body=body), encoding="utf-8")


def project(root: Path) -> Path:
    content = root / "content"
    content.mkdir(parents=True)
    (root / "kbgen.toml").write_text('title = "Parity"\nbase_url = "/"\n', encoding="utf-8")
    for folder, title in (("orders", "Orders"), ("orders/tracking", "Tracking"), ("orders/returns", "Returns"),
                          ("account", "Account"), ("account/login", "Login")):  # fmt: skip
        (content / folder).mkdir(parents=True, exist_ok=True)
        (content / folder / "_index.md").write_text(f'---\ntitle: "{title}"\n---\n', encoding="utf-8")
    article(content / "orders/tracking/track.md", "Track your order")
    article(content / "orders/tracking/late.md", "My parcel is late", tags="delivery, basics")
    article(content / "orders/returns/send-back.md", "Send it back", tags="returns")
    article(content / "orders/returns/refund.md", "Get a refund", tags="returns, money")
    article(content / "account/login/reset.md", "Reset your password", tags="account")
    article(content / "account/login/code.md", "Sign in with a code", tags="account")
    article(content / "account/delete.md", "Delete your account", tags="account")
    article(content / "loose.md", "An article at the top")
    return root


def shape(lib: Library) -> dict[str, Any]:
    """Everything the assembly decides, by value."""
    return {
        "articles": [
            (
                a.source,
                a.url,
                a.category.slug if a.category else None,
                a.section.slug if a.section else None,
                [t.slug for t in a.tag_links],
                [r.source for r in a.related],
                a.title,
                a.order,
                a.id,
            )
            for a in lib.articles
        ],
        "categories": [
            (
                c.slug,
                c.url,
                [a.source for a in c.articles],
                [(s.slug, s.url, [a.source for a in s.articles]) for s in c.sections],
            )
            for c in lib.categories
        ],
        "tags": [(t.name, t.slug, t.url, [a.source for a in t.articles]) for t in lib.tags],
        "assets": dict(lib.assets),
    }


def problems(items: list[Problem]) -> list[tuple[Any, ...]]:
    return sorted((p.path, p.line, p.message, p.level, p.code, p.target) for p in items)


def pairs(items: list[Problem]) -> list[tuple[str, frozenset[str]]]:
    """The errors as (code, the files involved): which of two clashing files reports it may differ."""

    def rel(path: str) -> str:
        return path.removeprefix("content/")

    return sorted(
        (p.code, frozenset({rel(p.path), rel(p.target)} - {""})) for p in items if p.level == "error"
    )


def rm(path: Path) -> None:
    path.unlink()


# (what, the files it touches, the edit) — applied in order to one project.
def edits(content: Path) -> list[tuple[str, list[str], Callable[[], None]]]:
    late = content / "orders/tracking/late.md"
    reset = content / "account/login/reset.md"

    def sub(path: Path, old: str, new: str) -> Callable[[], None]:
        def go() -> None:
            text = path.read_text(encoding="utf-8")
            assert old in text, (path, old)
            path.write_text(text.replace(old, new, 1), encoding="utf-8")

        return go

    def move(src: str, dest: str) -> Callable[[], None]:
        return lambda: os.replace(content / src, content / dest)

    return [
        ("body", ["orders/tracking/late.md"], sub(late, "Some text.", "Some other text.")),
        ("slug", ["orders/tracking/late.md"], sub(late, "updated:", "slug: parcel-late\nupdated:")),
        ("order", ["orders/tracking/late.md"], sub(late, "updated:", "order: -5\nupdated:")),
        ("retitle", ["orders/returns/refund.md"], sub(content / "orders/returns/refund.md", "Get a refund", "A refund")),
        ("tag rename", ["orders/returns/send-back.md"],
         sub(content / "orders/returns/send-back.md", "tags: [returns]", "tags: [Returning, money]")),
        ("tag spelling", ["account/login/code.md"], sub(content / "account/login/code.md", "tags: [account]", "tags: [ACCOUNT, Money]")),
        ("tag vanishes", ["orders/returns/send-back.md"],
         sub(content / "orders/returns/send-back.md", "tags: [Returning, money]", "tags: [money]")),
        ("move between sections", ["orders/tracking/track.md", "orders/returns/track.md"],
         move("orders/tracking/track.md", "orders/returns/track.md")),
        ("move to the category", ["account/login/code.md", "account/code.md"], move("account/login/code.md", "account/code.md")),
        ("related", ["account/delete.md"], sub(content / "account/delete.md", "updated:", "related: [login/reset.md, gone.md]\nupdated:")),
        ("broken link", ["loose.md"], sub(content / "loose.md", "Some text.", "See [this](orders/nothing.md) and [that](account/delete.md#nope).")),
        ("new article", ["orders/returns/new.md"],
         lambda: article(content / "orders/returns/new.md", "Brand new", tags="money, fresh", extra="order: 2\n")),
        ("duplicate URL", ["orders/returns/clash.md"],
         lambda: article(content / "orders/returns/clash.md", "Clash", extra="slug: send-back\n")),
        ("duplicate URL fixed", ["orders/returns/clash.md"], lambda: rm(content / "orders/returns/clash.md")),
        ("duplicate id", ["account/login/reset.md"], sub(reset, "updated:", "id: account/delete\nupdated:")),
        ("duplicate id fixed", ["account/login/reset.md"], sub(reset, "id: account/delete\n", "")),
        ("alias onto a page", ["orders/tracking/late.md"], sub(late, "updated:", "aliases: [/account/delete/]\nupdated:")),
        ("alias fixed", ["orders/tracking/late.md"], sub(late, "aliases: [/account/delete/]", "aliases: [/old/late/]")),
        ("URL of a folder", ["account/orders.md"], lambda: article(content / "account/orders.md", "Orders?", extra="slug: login\n")),
        ("URL of a folder fixed", ["account/orders.md"], lambda: rm(content / "account/orders.md")),
        ("removed", ["orders/returns/new.md"], lambda: rm(content / "orders/returns/new.md")),
        ("draft", ["orders/returns/refund.md"], sub(content / "orders/returns/refund.md", "updated:", "draft: true\nupdated:")),
    ]  # fmt: skip


def test_incremental_assembly_equals_a_full_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    root = project(tmp_path / "p")
    content = root / "content"
    session = BuildSession(load_config(None, root=root), tmp_path / "out", workers=1)
    rebuilder = Rebuilder(session, None, root)
    assert rebuilder.apply(Plan(full=True)).ok
    kinds: list[str] = []
    try:
        for n, (what, touched, edit) in enumerate(edits(content)):
            edit()
            outcome = rebuilder.apply(rebuilder.classify([Change(content / rel) for rel in touched]))
            fresh = BuildSession(load_config(None, root=root), tmp_path / f"fresh{n}", workers=1)
            full = Rebuilder(fresh, None, root)
            try:
                want = full.apply(Plan(full=True))
                assert outcome.ok == want.ok, (what, outcome.problems, want.problems)
                if not want.ok:
                    assert pairs(outcome.problems) == pairs(want.problems), what
                    assert pairs(outcome.problems), what
                    continue
                kinds.append(outcome.kind)
                assert fresh.library is not None and session.library is not None
                assert shape(session.library) == shape(fresh.library), what
                assert problems(rebuilder.problems) == problems(full.problems), what
            finally:
                full.search.close()
                fresh.close()
    finally:
        rebuilder.search.close()
        session.close()
    # The incremental path was taken (a new folder or an emptied one would be a full rebuild).
    assert kinds.count("incremental") >= 12, kinds
