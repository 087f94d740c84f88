"""Multilingual help centres in Chromium, on a real build served over HTTP: the language switcher, search per
language (ranked exactly as `kbgen search --lang`), the root's language chooser."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_kbgen, serve_directory

FIXTURE = Path(__file__).parent / "fixtures" / "multilingual"

pytestmark = pytest.mark.browser

QUERIES = {
    "fr": ["delai rembourssement", "remboursement", "etiquette retour", "etiquete", "cadeau remboursee",
           "boite d'origine", "echange solde", "carte cad", "rembour", "colis entrepot", "delai"],
    "de": ["rückerstattung", "rueckerstattung", "ruckerstattung", "strasse", "straße", "grösse", "groesse",
           "rucksendeetikett", "zurückschicken", "werktage", "paket lager", "erstat"],
}  # fmt: skip


@pytest.fixture(scope="module")
def ml(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    project = tmp_path_factory.mktemp("mlb") / "project"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    run_kbgen("build", cwd=project)
    url, server = serve_directory(project / "site")
    yield project, url
    server.shutdown()


def _switch(page: object, lang: str) -> None:
    page.click("details.kb-lang > summary")  # type: ignore[attr-defined]
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.click(f'a[data-kb-lang-link="{lang}"]')  # type: ignore[attr-defined]


def test_switcher_on_a_translated_and_an_untranslated_article(ml: tuple[Path, str], browser: object) -> None:
    _, url = ml
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        response = page.goto(url + "/returns/refunds/refund-time/")
        assert response.ok
        _switch(page, "fr")
        assert page.url == url + "/fr/retours/remboursements/delai-de-remboursement/"
        assert page.locator("h1").inner_text() == "Quel est le délai de remboursement ?"
        assert page.get_attribute("html", "lang") == "fr"
        _switch(page, "de")
        assert page.url == url + "/de/ruecksendungen/erstattungen/dauer-der-rueckerstattung/"
        # Not translated into German: the German home, never a 404.
        page.goto(url + "/returns/refunds/partial-refund/")
        statuses: list[int] = []
        page.on("response", lambda r: statuses.append(r.status) if r.request.resource_type == "document" else None)
        _switch(page, "de")
        assert page.url == url + "/de/" and statuses == [200]
        assert page.get_attribute("html", "lang") == "de"
        assert page.locator("details.kb-lang > summary").inner_text().strip() == "Deutsch"
    finally:
        page.close()


def _browser_queries(browser: object, start: str, queries: list[str]) -> list[dict]:
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(start)
        page.wait_for_function("window.kbSearchCore")
        return page.evaluate(
            "async (qs) => { const out = []; for (const q of qs) out.push(await kbSearchCore.query(q, {limit: 5})); return out; }",
            queries,
        )
    finally:
        page.close()


def test_a_french_query_without_accents_and_with_a_typo_finds_the_french_article(
    ml: tuple[Path, str], browser: object
) -> None:
    _, url = ml
    (answer,) = _browser_queries(browser, url + "/fr/", ["delai rembourssement"])
    hrefs = [r["href"] for r in answer["results"]]
    assert hrefs[0] == url + "/fr/retours/remboursements/delai-de-remboursement/"
    # The German article has the same words ("Remboursement délai"): it is never offered on the French site.
    assert all("/fr/" in h for h in hrefs) and not any("/de/" in h for h in hrefs)
    # Through the search box too.
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(url + "/fr/search/?q=delai+rembourssement")
        first = page.locator("[data-kb-search-page] a.kb-sr-page[href*='/fr/']").first
        first.wait_for()
        assert "/fr/retours/remboursements/delai-de-remboursement/" in first.get_attribute("href")
        assert page.locator("[data-kb-search-page] a[href*='/de/']").count() == 0
    finally:
        page.close()


@pytest.mark.parametrize("lang", ["fr", "de"])
def test_each_language_ranks_exactly_as_the_cli(
    ml: tuple[Path, str], browser: object, tmp_path: Path, lang: str
) -> None:
    project, url = ml
    queries = QUERIES[lang]
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps({"q": q}) + "\n" for q in queries), encoding="utf-8")
    out = run_kbgen("search", "--lang", lang, "--queries", str(qfile), "--json", "-n", "5", cwd=project).stdout
    cli = [[(r["url"], r["anchor"]) for r in json.loads(line)["results"]] for line in out.splitlines() if line]
    js = _browser_queries(browser, f"{url}/{lang}/", queries)
    tops = [[(g["url"], g["units"][0]["anchor"]) for g in a["grouped"]] for a in js]
    assert sum(1 for c in cli if c) >= len(queries) - 1, "the queries find something"
    for q, c, a in zip(queries, cli, tops, strict=True):
        assert a == c, f"{lang}: top 5 differ for {q!r}"


def test_the_root_sends_the_visitor_to_their_browsers_language(
    ml: tuple[Path, str], browser: object, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    shutil.copytree(ml[0], project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    toml = project / "kbgen.toml"
    toml.write_text(toml.read_text().replace('name = "English"', 'name = "English"\nprefix = "en"'))
    run_kbgen("build", cwd=project)
    url, server = serve_directory(project / "site")
    try:
        for locale, want in (("de-AT", "/de/"), ("fr-CA", "/fr/"), ("ja-JP", "/")):
            context = browser.new_context(locale=locale)  # type: ignore[attr-defined]
            page = context.new_page()
            page.goto(url + "/")
            if want == "/":  # no language of the site: the list stays, for the visitor to choose
                page.wait_for_load_state("load")
                assert page.url == url + "/"
                assert page.locator("[data-kb-languages] a").count() == 3
            else:
                page.wait_for_url(url + want)
                assert page.get_attribute("html", "lang") == want.strip("/")
            context.close()
    finally:
        server.shutdown()
