"""A translation's links to articles it has not translated (issue 16): they go to the default language's
article, marked with `hreflang` and "(in English)"; `kbgen check` reports them, and --strict fails on missing
translations only when `[check] require_translations` asks it to."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from conftest import run_kbgen

CONFIG = """title = "Northwind Help"
site_url = "https://help.example.com"
language = "en"
{check}
[languages.en]
name = "English"

[languages.fr]
name = "Français"

[languages.pl]
name = "Polski"
"""


def _article(title: str, body: str, extra: str = "") -> str:
    return f"---\ntitle: {title}\ndescription: {title}.\nupdated: 2026-09-01\n{extra}---\n{body}\n"


def _folder(title: str) -> str:
    return f"---\ntitle: {title}\ndescription: {title}.\n---\n"


def make_project(root: Path, *, check: str = "", fr_link: str = "../refunds/partial-refund.md") -> Path:
    """en: three articles; fr: one of them at the same path and one at another path (translation_key);
    pl: one. The French and Polish articles link to an article only English has."""
    files = {
        "kbgen.toml": CONFIG.format(check=check),
        "content/en/_index.md": _folder("Northwind Help"),
        "content/en/returns/_index.md": _folder("Returns"),
        "content/en/returns/refunds/_index.md": _folder("Refunds"),
        "content/en/returns/refunds/partial-refund.md": _article(
            "Why was my refund only partial", "A partial refund happens when an item comes back used."),
        "content/en/returns/refunds/refund-time.md": _article(
            "How long does a refund take", "Refunds reach your card in 3 to 5 working days."),
        "content/en/returns/refunds/gift-card-refund.md": _article(
            "Refunds to a gift card", "Gift card refunds arrive at once."),
        "content/fr/_index.md": _folder("Aide Northwind"),
        "content/fr/returns/_index.md": _folder("Retours"),
        "content/fr/returns/refunds/_index.md": _folder("Remboursements"),
        "content/fr/returns/refunds/refund-time.md": _article(
            "Délai de remboursement",
            "Le remboursement arrive sous 3 à 5 jours ouvrés.\n\n"
            f"Remboursé en partie ? Voir [pourquoi un remboursement est partiel]({fr_link}).\n\n"
            "Payé par carte cadeau ? Voir [le remboursement sur carte cadeau](gift-card-refund.md)."),
        "content/fr/returns/refunds/carte-cadeau.md": _article(
            "Remboursement sur carte cadeau", "Le remboursement sur carte cadeau est immédiat.",
            "translation_key: returns/refunds/gift-card-refund\n"),
        "content/pl/_index.md": _folder("Pomoc Northwind"),
        "content/pl/returns/_index.md": _folder("Zwroty"),
        "content/pl/returns/refunds/_index.md": _folder("Zwroty pieniędzy"),
        "content/pl/returns/refunds/refund-time.md": _article(
            "Czas zwrotu pieniędzy",
            "Pieniądze wracają na kartę w ciągu 3–5 dni roboczych.\n\n"
            "Zobacz też [częściowy zwrot](partial-refund.md)."),
    }  # fmt: skip
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("links") / "p")
    run_kbgen("build", cwd=project)
    return project


def _page(site: Path, url: str) -> str:
    return (site / url.strip("/") / "index.html").read_text(encoding="utf-8")


def _en_url(site: Path, title: str) -> str:
    """The English article's URL, found from its page title (slugs are the loader's business)."""
    for page in site.rglob("index.html"):
        rel = page.relative_to(site).parts
        if rel[0] in ("fr", "pl", "_search"):
            continue
        if f"<h1>{html.escape(title)}</h1>" in page.read_text(encoding="utf-8") or (
            f">{title}</h1>" in page.read_text(encoding="utf-8")
        ):
            return "/" + "/".join(rel[:-1]) + "/"
    raise AssertionError(f"no English page titled {title!r}")


def _link(page: str, text: str) -> str:
    m = re.search(r'<a [^>]*>' + re.escape(text) + r"</a>(?: <span[^>]*>[^<]*</span>)?", page)
    assert m, f"no link {text!r} in the page"
    return m.group(0)


def test_a_link_to_an_untranslated_article_goes_to_the_default_language_marked(built: Path) -> None:
    site = built / "site"
    page = _page(site, "/fr/returns/refunds/refund-time/")
    target = _en_url(site, "Why was my refund only partial")
    link = _link(page, "pourquoi un remboursement est partiel")
    assert f'href="{target}"' in link and 'hreflang="en"' in link
    assert link.endswith('</a> <span class="kb-link-lang">(en anglais)</span>')  # the page's UI language
    assert (site / target.strip("/") / "index.html").is_file()
    # The Polish label needs its own phrase ("po angielsku"), not "(w języku angielski)".
    pl = _link(_page(site, "/pl/returns/refunds/refund-time/"), "częściowy zwrot")
    assert f'href="{target}"' in pl and pl.endswith('<span class="kb-link-lang">(po angielsku)</span>')


def test_a_link_to_an_article_translated_at_another_path_goes_to_the_translation(built: Path) -> None:
    site = built / "site"
    link = _link(_page(site, "/fr/returns/refunds/refund-time/"), "le remboursement sur carte cadeau")
    href = re.search(r'href="([^"]+)"', link)
    assert href and href.group(1).startswith("/fr/returns/refunds/") and "hreflang" not in link
    assert "kb-link-lang" not in link
    assert "Remboursement sur carte cadeau" in _page(site, href.group(1))


def test_check_reports_links_to_untranslated_articles_as_notes(built: Path) -> None:
    result = run_kbgen("check", cwd=built, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("content/fr/returns/refunds/refund-time.md:8: info: links to an untranslated article: "
            "content/en/returns/refunds/partial-refund.md has no Français (fr) translation, the link goes to "
            "the English one [untranslated-link]") in result.stdout  # fmt: skip
    assert "content/pl/returns/refunds/refund-time.md:8: info: links to an untranslated article" in result.stdout
    assert "content/en/returns/refunds/partial-refund.md: info: no Français (fr) translation" in result.stdout
    assert "carte-cadeau" not in result.stdout  # translated by translation_key: nothing to report
    findings = json.loads(run_kbgen("check", "--format", "json", cwd=built, check=False).stdout)
    assert {f["level"] for f in findings if f["rule"] == "untranslated-link"} == {"info"}
    github = run_kbgen("check", "--format", "github", cwd=built, check=False).stdout
    assert "::notice file=content/fr/returns/refunds/refund-time.md,line=8,title=untranslated-link::" in github


def test_strict_fails_on_missing_translations_only_when_the_site_requires_them(tmp_path: Path) -> None:
    lenient = make_project(tmp_path / "lenient")
    result = run_kbgen("check", "--strict", cwd=lenient, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s), 0 warning(s)," in result.stderr and "note(s)" in result.stderr

    strict = make_project(tmp_path / "strict", check="[check]\nrequire_translations = true\n")
    result = run_kbgen("check", "--strict", cwd=strict, check=False)
    assert result.returncode == 1
    assert "content/en/returns/refunds/partial-refund.md: warning: no Français (fr) translation" in result.stdout
    assert "refund-time.md:8: warning: links to an untranslated article" in result.stdout
    assert run_kbgen("check", cwd=strict, check=False).returncode == 0  # warnings: only --strict fails

    # An outdated translation fails --strict whatever the option says.
    outdated = lenient / "content/en/returns/refunds/refund-time.md"
    outdated.write_text(outdated.read_text(encoding="utf-8").replace("2026-09-01", "2026-09-15"), encoding="utf-8")
    result = run_kbgen("check", "--strict", cwd=lenient, check=False)
    assert result.returncode == 1 and "[outdated-translation]" in result.stdout


def test_a_link_that_resolves_in_no_language_still_fails(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", fr_link="../refunds/no-such-article.md")
    result = run_kbgen("build", "--strict", cwd=project, check=False)
    assert result.returncode != 0
    # (The build names the file inside its language's folder, as the loader reports it.)
    assert "returns/refunds/refund-time.md:8: error: link to a missing article: ../refunds/no-such-article.md" in (
        result.stderr)  # fmt: skip
    assert not (project / "site").exists()
    check = run_kbgen("check", cwd=project, check=False)
    assert check.returncode == 1
    assert ("content/fr/returns/refunds/refund-time.md:8: error: link to a missing article: "
            "../refunds/no-such-article.md [broken-link]") in check.stdout  # fmt: skip
