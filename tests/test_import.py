"""`kbgen import zendesk|helpscout`: fixtures in each API's documented shape (with Word paste, nested tables,
inline styles, `<br>` soup, callouts, embeds, scripts) → content that builds with `--strict`, and every old URL
redirecting to the right page of the built site, over real HTTP."""

from __future__ import annotations

import html
import json
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
from conftest import FIXTURES, run_kbgen, serve_directory

ZENDESK = FIXTURES / "import" / "zendesk"
HELPSCOUT = FIXTURES / "import" / "helpscout"


def _import(tmp: Path, source: str, export: Path) -> tuple[Path, str]:
    (tmp / "kbgen.toml").write_text('title = "Help"\nsite_url = "https://help.example.com"\n\n[deploy]\nredirects = ["netlify"]\n')
    proc = run_kbgen("import", source, str(export), "-o", "content", cwd=tmp)
    return tmp / "content", proc.stdout


@pytest.fixture(scope="module")
def zendesk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    root = tmp_path_factory.mktemp("zendesk")
    content, summary = _import(root, "zendesk", ZENDESK)
    run_kbgen("build", "--strict", cwd=root)
    return content, summary, root / "site"


@pytest.fixture(scope="module")
def helpscout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    root = tmp_path_factory.mktemp("helpscout")
    content, summary = _import(root, "helpscout", HELPSCOUT)
    run_kbgen("build", "--strict", cwd=root)
    return content, summary, root / "site"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _follows_to(base: str, old_path: str) -> str:
    """Request an old URL of the built site (as a browser would, percent-encoded) and follow its
    meta-refresh; return the <h1> of the page it lands on."""
    status, page = _get(base + quote(old_path, safe="/") + ("" if old_path.endswith((".html", "/")) else "/"))
    assert status == 200, old_path
    m = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', page)
    assert m, f"{old_path}: not a redirect page"
    target = urlsplit(html.unescape(m.group(1))).path
    status, page = _get(base + target)
    assert status == 200, target
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)
    assert h1
    return html.unescape(re.sub(r"<[^>]+>", "", h1.group(1))).strip()


# -- Zendesk ---------------------------------------------------------------------------------------------------


def _zendesk_articles() -> list[dict]:
    rows = []
    for name in ("articles.json", "articles-page-2.json"):
        rows += json.loads((ZENDESK / name).read_text())["articles"]
    return rows


def test_zendesk_every_old_url_reaches_its_article_in_the_built_site(zendesk: tuple[Path, str, Path]) -> None:
    _, _, site = zendesk
    base, server = serve_directory(site)
    try:
        english = {a["id"]: a["title"] for a in _zendesk_articles() if a["locale"] == "en-us" and not a["draft"]}
        checked = 0
        for a in _zendesk_articles():
            if a["id"] not in english:
                continue  # the draft is not published
            for old in (unquote(urlsplit(a["html_url"]).path), f"/hc/{a['locale']}/articles/{a['id']}",
                        f"/hc/articles/{a['id']}"):  # fmt: skip
                assert _follows_to(base, old) == english[a["id"]], old
                checked += 1
        assert checked == 15  # 5 rows (4 published articles and a French translation) × 3 forms
    finally:
        server.shutdown()
    # …and as host redirects: `[deploy] redirects = ["netlify"]` turned the aliases into 301s.
    rules = (site / "_redirects").read_text()
    assert "/hc/fr/articles/360001000004-D%C3%A9marrer-un-retour /returns/start-a-return/start-a-return/ 301!" in rules
    assert "/hc/articles/360001000001 /orders-delivery/tracking/track-your-order/ 301!" in rules


def test_zendesk_structure_front_matter_and_assets(zendesk: tuple[Path, str, Path]) -> None:
    content, _, _ = zendesk
    assert sorted(p.relative_to(content).as_posix() for p in content.rglob("_index.md")) == [
        "orders-delivery/_index.md",
        "orders-delivery/tracking-couriers/_index.md",  # a nested section, flattened
        "orders-delivery/tracking/_index.md",
        "returns/_index.md",
        "returns/start-a-return/_index.md",
    ]
    track = (content / "orders-delivery/tracking/track-your-order.md").read_text()
    assert "promoted: true" in track and "updated: 2024-02-01" in track
    assert "keywords:\n- tracking\n- where is my order" in track  # Zendesk labels
    draft = (content / "returns/start-a-return/refund-times-internal-draft.md").read_text()
    assert "draft: true" in draft
    png = ZENDESK / "hc/article_attachments/360011111111/order-status.png"
    assert (content / "_assets/order-status.png").read_bytes() == png.read_bytes()
    assert "![The order status page](../../_assets/order-status.png)" in track
    ret = (content / "returns/start-a-return/start-a-return.md").read_text()
    assert "[returns form](../../_assets/returns-form.pdf)" in ret  # a download, copied and relinked
    assert "[label-guide.pdf](https://northwind.zendesk.com/" in ret  # not in the export: listed, not lost


def test_zendesk_awkward_html_becomes_clean_markdown(zendesk: tuple[Path, str, Path]) -> None:
    content, _, _ = zendesk
    track = (content / "orders-delivery/tracking/track-your-order.md").read_text()
    body = track.split("---\n", 2)[2].lstrip()
    for residue in ("mso", "<o:p>", "style=", "<span", "&nbsp;", "\xa0", "MsoNormal", "<!--"):
        assert residue not in body, residue
    assert body.startswith("## Where is my parcel?\n")  # <h1> in the body → ##: the title is heading 1
    assert "- Open the email" in body  # Word's typed bullet became a list
    assert "Line one  \nline two\n\nA new paragraph after br soup." in body
    assert "> [!WARNING]\n> **Note:** tracking can take *24 hours* to update." in body
    assert "![How tracking works](https://www.youtube.com/watch?v=dQw4w9WgXcQ)" in body
    assert "[changing the address](change-the-delivery-address.md#h_01)" in body
    assert "[our couriers](../tracking-couriers/our-couriers.md)" in body  # the id-only form too
    change = (content / "orders-delivery/tracking/change-the-delivery-address.md").read_text()
    assert "## Before it ships {#h_01}" in change  # the old anchor is kept
    assert "| Processing | Yes |" in change  # a simple table → a pipe table
    raw = re.search(r"<table>.*</table>", change)
    assert raw and "<table><tbody><tr><td>UK</td>" in raw.group(0)  # the nested one stays HTML…
    assert "onclick" not in change and "<script" not in change and "alert(1)" not in change  # …sanitised
    assert "forms.northwind.example" not in change


def test_zendesk_summary_says_what_needs_a_human(zendesk: tuple[Path, str, Path]) -> None:
    _, summary, _ = zendesk
    assert "Needs a human" in summary
    for expected in (
        "translations in fr (1) became aliases only",
        "'Tracking – Couriers' was nested",
        "returns/_index.md: no description in the export",
        "image not in the export, still linked to the old site: https://northwind.zendesk.com/hc/article_attachments/360099999999/missing.png",
        "dropped an embedded widget (<iframe https://forms.northwind.example/address-change>)",
        "kept a table as HTML (a table inside a table)",
        "attachment 'label-guide.pdf' of article 360001000004 is not in the export",
        "dropped a script",
    ):
        assert expected in summary, expected


# -- Help Scout -------------------------------------------------------------------------------------------------


def test_helpscout_every_old_url_reaches_its_article_and_the_unpublished_one_is_a_draft(
    helpscout: tuple[Path, str, Path],
) -> None:
    content, summary, site = helpscout
    base, server = serve_directory(site)
    try:
        for path in sorted((HELPSCOUT / "articles").glob("*.json")):
            a = json.loads(path.read_text())["article"]
            if a["status"] != "published":
                continue
            for old in (urlsplit(a["publicUrl"]).path, f"/article/{a['number']}"):
                assert _follows_to(base, old) == a["name"], old
    finally:
        server.shutdown()
    old = (content / "getting-started/billing/old-pricing-unpublished.md").read_text()
    assert "draft: true" in old
    reset = (content / "getting-started/account-login/reset-your-password.md").read_text()
    assert "> [!WARNING]\n> Links in reset emails expire after 24 hours." in reset  # callout-yellow
    assert "> [!TIP]\n> Tip: use a password manager." in reset  # callout-green
    assert "![Video](https://vimeo.com/76979871)" in reset
    assert "[Locked out](locked-out-of-your-account.md)" in reset
    assert "![Settings page](../../_assets/settings-page.png)" in reset  # "settings%20page.png" in the export
    locked = (content / "getting-started/account-login/locked-out-of-your-account.md").read_text()
    assert "[resetting your password](reset-your-password.md)" in locked and "<form" not in locked
    assert "article 102 was in 2 categories" in summary and "dropped a script" in summary


# -- bad and hostile exports ---------------------------------------------------------------------------------------


def test_refuses_a_non_empty_output_and_changes_nothing(tmp_path: Path) -> None:
    mine = tmp_path / "content" / "orders" / "mine.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("---\ntitle: Mine\n---\n")
    proc = run_kbgen("import", "zendesk", str(ZENDESK), "-o", "content", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "not empty" in proc.stderr
    assert [p.name for p in (tmp_path / "content").rglob("*")] == ["orders", "mine.md"]


def test_bad_json_names_the_file_and_writes_nothing(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(ZENDESK, export)
    (export / "sections.json").write_text('{"sections": [{"id": 1,}]}')
    proc = run_kbgen("import", "zendesk", str(export), "-o", "content", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "sections.json" in proc.stderr and "not valid JSON" in proc.stderr
    assert not (tmp_path / "content").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".content.import-")]


def test_hostile_export_cannot_escape_the_output_or_the_export(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG secret")
    rows = [{
        "id": 1, "section_id": 9, "locale": "en-us/../../x", "draft": False,
        "html_url": "https://x.zendesk.com/hc/en-us/articles/1-../../../etc\nSet-Cookie: a",
        "title": "../../../evil\n\x1b[31mred", "label_names": ["ok", {"no": 1}],
        "body": '<p><img src="../secret.png" alt="s"><img src="/../../secret.png" alt="t">'
                '<a href="javascript:alert(1)" onclick="x()">x</a></p><table><tr><td rowspan="2">'
                '<img src="x" onerror="alert(1)"></td></tr></table>',
    }]  # fmt: skip
    (export / "articles.json").write_text(json.dumps({"articles": rows}))
    (export / "sections.json").write_text(json.dumps({"sections": [{"id": 9, "category_id": 8, "name": "../Sec"}]}))
    (export / "categories.json").write_text(json.dumps({"categories": [{"id": 8, "name": "/etc/passwd"}]}))
    proc = run_kbgen("import", "zendesk", str(export), "-o", "content", cwd=tmp_path)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "content/etc-passwd/_index.md",
        "content/etc-passwd/sec/_index.md",
        "content/etc-passwd/sec/evil-31mred.md",
        "export/articles.json", "export/categories.json", "export/sections.json",
        "secret.png",
    ]  # fmt: skip
    article = (tmp_path / "content/etc-passwd/sec/evil-31mred.md").read_text()
    assert "\x1b" not in proc.stdout and "\x1b" not in article.split("---")[1].replace("\\e", "")
    assert "/hc/articles/1" in article and "etc\nSet-Cookie" not in article and "en-us/../../x" not in article
    assert "onerror" not in article and "onclick" not in article
    assert "secret" not in "".join(p.name for p in (tmp_path / "content").rglob("*"))
    run_kbgen("build", cwd=tmp_path)  # and it still builds
