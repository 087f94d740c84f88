"""Multilingual help centres (issue 16): [languages], content/<lang>/, URLs, hreflang, sitemap, search per language."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import run_kbgen

from kbgen.config import ConfigError, config_from_dict

FIXTURE = Path(__file__).parent / "fixtures" / "multilingual"
ORIGIN = "https://help.example.com"
LINK = re.compile(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">')


@pytest.fixture(scope="module")
def ml_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("ml") / "project"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    return project


@pytest.fixture(scope="module")
def ml_site(ml_project: Path) -> Path:
    run_kbgen("build", cwd=ml_project)
    return ml_project / "site"


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_search" not in p.parts)


def _url_of(site: Path, page: Path) -> str:
    rel = page.relative_to(site).as_posix()
    return ORIGIN + "/" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)


# -- configuration -------------------------------------------------------------------------------------


def test_languages_config_is_validated_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"`languages\.fr\.nme`"):
        config_from_dict({"languages": {"en": {}, "fr": {"nme": "Français"}}}, tmp_path)
    with pytest.raises(ConfigError, match=r"`languages\.xx\.search_language`"):
        config_from_dict({"languages": {"en": {}, "xx": {}}}, tmp_path)
    with pytest.raises(ConfigError, match=r"`languages\.de\.default`"):
        config_from_dict({"languages": {"en": {"default": True}, "de": {"default": True}}}, tmp_path)
    with pytest.raises(ConfigError, match=r"`languages\.fr\.prefix`"):
        config_from_dict({"languages": {"en": {}, "fr": {"prefix": "static"}}}, tmp_path)
    with pytest.raises(ConfigError, match=r"`languages\.de\.prefix`"):
        config_from_dict({"languages": {"en": {}, "fr": {"prefix": "eu"}, "de": {"prefix": "eu"}}}, tmp_path)
    config = config_from_dict({"languages": {"en": {}, "fr": {}, "pl": {"prefix": "polski"}}}, tmp_path)
    assert [(c, lang.prefix, lang.default) for c, lang in config.languages.items()] == [
        ("en", "", True), ("fr", "fr", False), ("pl", "polski", False),
    ]  # fmt: skip


# -- layout, URLs, alternates ---------------------------------------------------------------------------


def test_each_language_has_its_own_pages_under_its_prefix(ml_site: Path) -> None:
    # The default language at /, the others under their prefix, translated slugs used.
    assert (ml_site / "returns/refunds/refund-time/index.html").is_file()
    assert (ml_site / "fr/retours/remboursements/delai-de-remboursement/index.html").is_file()
    assert (ml_site / "de/ruecksendungen/erstattungen/dauer-der-rueckerstattung/index.html").is_file()
    for lang in ("fr", "de"):
        for rel in ("index.html", "search/index.html", "404.html", "feed.xml", "_search/meta.json"):
            assert (ml_site / lang / rel).is_file(), f"{lang}/{rel}"
    assert (ml_site / "fr/tags/remboursements/index.html").is_file()
    fr = (ml_site / "fr/retours/remboursements/delai-de-remboursement/index.html").read_text()
    assert '<html lang="fr" dir="ltr">' in fr and 'data-kb-base="/fr/"' in fr
    assert "<title>Quel est le délai de remboursement ? · Aide Northwind</title>" in fr
    assert 'href="/static/kb.css?v=' in fr  # the theme's files once, at the root
    assert not (ml_site / "fr/static").exists()
    feed = (ml_site / "fr/feed.xml").read_text()
    assert 'xml:lang="fr"' in feed and "/fr/retours/remboursements/delai-de-remboursement/" in feed
    assert "refund-time" not in feed


def test_hreflang_alternates_are_absolute_reciprocal_and_complete(ml_site: Path) -> None:
    seen = 0
    for page in _pages(ml_site):
        html = page.read_text(encoding="utf-8")
        alternates = LINK.findall(html)
        if page.name == "404.html":
            assert not alternates
            continue
        seen += 1
        me = _url_of(ml_site, page)
        langs = dict(alternates)
        assert "x-default" in langs, page
        lang = re.search(r'<html lang="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        assert langs.get(lang) == me, (page, me, langs)  # it lists itself, in its own language
        for code, href in alternates:
            assert href.startswith(ORIGIN + "/"), href
            target = ml_site / href[len(ORIGIN) + 1 :] / "index.html"
            assert target.is_file(), href
            if code != "x-default":  # reciprocal: the other page lists this one, with the same set
                assert dict(LINK.findall(target.read_text(encoding="utf-8"))) == langs, (page, href)
    assert seen >= 25
    refund = dict(LINK.findall((ml_site / "returns/refunds/refund-time/index.html").read_text()))
    assert refund == {
        "en": f"{ORIGIN}/returns/refunds/refund-time/",
        "fr": f"{ORIGIN}/fr/retours/remboursements/delai-de-remboursement/",
        "de": f"{ORIGIN}/de/ruecksendungen/erstattungen/dauer-der-rueckerstattung/",
        "x-default": f"{ORIGIN}/returns/refunds/refund-time/",
    }
    # Linked by translation_key although the French file has another path and slug.
    track = dict(LINK.findall((ml_site / "orders/tracking/track-your-order/index.html").read_text()))
    assert track["fr"] == f"{ORIGIN}/fr/commandes/suivre-ma-commande/" and "de" not in track


def test_sitemap_lists_every_language_with_alternates(ml_site: Path) -> None:
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    root = ET.fromstring((ml_site / "sitemap.xml").read_bytes())
    urls = {u.findtext("s:loc", namespaces=ns): u for u in root.findall("s:url", ns)}
    assert f"{ORIGIN}/fr/retours/remboursements/delai-de-remboursement/" in urls
    assert f"{ORIGIN}/de/" in urls and f"{ORIGIN}/" in urls
    links = {x.get("hreflang"): x.get("href") for x in urls[f"{ORIGIN}/de/"].findall("x:link", ns)}
    assert links == {"en": f"{ORIGIN}/", "fr": f"{ORIGIN}/fr/", "de": f"{ORIGIN}/de/", "x-default": f"{ORIGIN}/"}
    assert not (ml_site / "fr/sitemap.xml").exists()
    assert f"Sitemap: {ORIGIN}/sitemap.xml" in (ml_site / "robots.txt").read_text()


def test_switcher_goes_to_the_translation_or_that_languages_home(ml_site: Path) -> None:
    html = (ml_site / "returns/refunds/partial-refund/index.html").read_text()
    links = dict(re.findall(r'<li><a href="([^"]+)" hreflang="[^"]+" lang="[^"]+" data-kb-lang-link="([^"]+)"', html))
    by_lang = {v: k for k, v in links.items()}
    assert by_lang == {"en": "/returns/refunds/partial-refund/", "fr": "/fr/retours/remboursements/partial-refund/",
                       "de": "/de/"}  # fmt: skip
    assert 'data-kb-lang-link="de" data-kb-untranslated' in html


def test_the_root_chooses_a_language_when_the_default_has_a_prefix(ml_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(ml_project, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    toml = project / "kbgen.toml"
    toml.write_text(toml.read_text().replace('name = "English"', 'name = "English"\nprefix = "en"'))
    run_kbgen("build", cwd=project)
    site = project / "site"
    assert (site / "en/returns/refunds/refund-time/index.html").is_file()
    root = (site / "index.html").read_text()
    assert '<script src="/static/kb-lang.js" defer></script>' in root and "<script>" not in root
    assert re.findall(r'<a href="([^"]+)" hreflang', root) == ["/en/", "/fr/", "/de/"]
    assert (site / "static/kb-lang.js").is_file() and (site / "404.html").is_file()


def test_a_category_named_like_a_prefix_is_an_error(ml_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(ml_project, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    (project / "content/en/fr").mkdir()
    (project / "content/en/fr/a.md").write_text("---\ntitle: A\n---\nText.\n")
    result = run_kbgen("build", cwd=project, check=False)
    assert result.returncode != 0
    assert "is the URL prefix of language 'fr'" in result.stderr + result.stdout
    assert not (project / "site").exists()
    shutil.rmtree(project / "content/en/fr")
    page = project / "content/en/returns/refunds/partial-refund.md"
    page.write_text(page.read_text().replace("updated:", "aliases: [/fr/old-partial/]\nupdated:"))
    result = run_kbgen("build", cwd=project, check=False)
    assert result.returncode != 0
    assert "partial-refund.md:3" in result.stderr and "alias '/fr/old-partial/' is under the URL prefix" in result.stderr


def test_a_single_language_site_is_unchanged(tmp_path: Path) -> None:
    """No [languages], or one language listed: the same files, byte for byte; no switcher, no hreflang."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURE / "content/en", src / "content")
    (src / "kbgen.toml").write_text('title = "Northwind Help"\nsite_url = "https://help.example.com"\n')
    one = tmp_path / "one"
    shutil.copytree(src, one)
    (one / "kbgen.toml").write_text((src / "kbgen.toml").read_text() + '\n[languages.en]\nname = "English"\n')
    run_kbgen("build", cwd=src)  # same SOURCE_DATE_EPOCH (conftest)
    run_kbgen("build", cwd=one)
    a = {p.relative_to(src / "site"): p.read_bytes() for p in (src / "site").rglob("*") if p.is_file()}
    b = {p.relative_to(one / "site"): p.read_bytes() for p in (one / "site").rglob("*") if p.is_file()}
    assert a == b
    page = (src / "site/returns/refunds/refund-time/index.html").read_text()
    assert "hreflang" not in page and "kb-lang" not in page
    assert (src / "site/returns/refunds/refund-time/index.html").is_file()


# -- search per language ---------------------------------------------------------------------------------


def _search(project: Path, lang: str, q: str) -> list[str]:
    out = run_kbgen("search", "--lang", lang, "--json", "-n", "5", q, cwd=project).stdout
    return [r["url"] for r in json.loads(out)["results"]]


def test_search_per_language_with_its_stemmer_and_folding(ml_site: Path, ml_project: Path) -> None:
    # French: accents missing and a typo; only the French export answers (the German article has the words).
    assert _search(ml_project, "fr", "delai rembourssement")[0] == "/retours/remboursements/delai-de-remboursement/"
    assert _search(ml_project, "fr", "rembourses") != []  # stemmed: remboursés → rembours
    # German: ü typed as ue, ß as ss, and the other way round.
    want = "/ruecksendungen/erstattungen/dauer-der-rueckerstattung/"
    for q in ("rückerstattung", "rueckerstattung", "strasse", "straße", "groesse"):
        assert _search(ml_project, "de", q)[:1] == [want], q
    # English stays English: the French words are not in its index.
    assert _search(ml_project, "en", "remboursement") == []
    # The address printed for a person is the page's, with its language's prefix.
    human = run_kbgen("search", "--lang", "fr", "delai rembourssement", cwd=ml_project).stdout
    assert "/fr/retours/remboursements/delai-de-remboursement/" in human.splitlines()[1]
    result = run_kbgen("search", "--lang", "it", "x", cwd=ml_project, check=False)
    assert result.returncode == 2 and "not in [languages]" in result.stderr


# -- editors: kbgen check, kbgen new ------------------------------------------------------------------------


def test_check_reports_missing_and_outdated_translations_with_counts(ml_project: Path) -> None:
    result = run_kbgen("check", cwd=ml_project, check=False)
    out = result.stdout
    assert "content/en/returns/refunds/partial-refund.md: info: no Deutsch (de) translation [missing-translation]" in out
    assert "content/en/orders/tracking/track-your-order.md: info: no Deutsch (de) translation" in out
    assert "no Français (fr) translation" not in out  # linked by path, slug or translation_key
    assert re.search(r"content/de/returns/returns/return-an-item\.md:4: warning: older than its source "
                     r"content/en/returns/returns/return-an-item\.md \(updated 2026-05-20, this translation "
                     r"2026-02-01\).*\[outdated-translation\]", out)  # fmt: skip
    assert "content/fr/returns/refunds/partial-refund.md:3: warning: older than its source" in out
    assert "content/fr/returns/refunds/refund-time.md" not in out.split("[stale]")[-1]  # newer: not outdated
    assert "fr (Français): 4 of 4 articles translated, 0 missing, 1 outdated" in result.stderr
    assert "de (Deutsch): 2 of 4 articles translated, 2 missing, 1 outdated" in result.stderr
    findings = json.loads(run_kbgen("check", "--format", "json", cwd=ml_project, check=False).stdout)
    assert sum(f["rule"] == "missing-translation" for f in findings) == 2


def test_new_translate_copies_the_article_marked_untranslated(ml_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(ml_project, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    src = "content/en/orders/tracking/track-your-order.md"
    out = run_kbgen("new", "--translate", src, "--lang", "de", cwd=project)
    assert out.stdout.strip() == "content/de/orders/tracking/track-your-order.md"
    copy = (project / "content/de/orders/tracking/track-your-order.md").read_text()
    assert copy.startswith("---\nuntranslated: true") and "title: Track your order" in copy
    assert (project / "content/de/orders/_index.md").is_file()  # its folders come along
    again = run_kbgen("new", "--translate", src, "--lang", "de", cwd=project, check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert (project / "content/de/orders/tracking/track-your-order.md").read_text() == copy
    check = run_kbgen("check", cwd=project, check=False)
    assert "content/de/orders/tracking/track-your-order.md:2: warning: not translated yet" in check.stdout
    assert "1 untranslated" in check.stderr
    # Edited (the mark removed): no longer reported.
    (project / "content/de/orders/tracking/track-your-order.md").write_text(copy.replace(copy.splitlines()[1] + "\n", ""))
    assert "not translated yet" not in run_kbgen("check", cwd=project, check=False).stdout
    bad = run_kbgen("new", "--translate", "../kbgen.toml", "--lang", "fr", cwd=project / "content", check=False)
    assert bad.returncode == 2
    new = run_kbgen("new", "article", "Rückgabe ohne Beleg", "--in", "returns/returns", "--lang", "de", cwd=project)
    assert new.stdout.strip().startswith("content/de/returns/returns/")


def test_serve_rebuilds_every_language(ml_project: Path, tmp_path: Path) -> None:
    from test_serve import Served

    project = tmp_path / "p"
    shutil.copytree(ml_project, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    served = Served(project)
    try:
        status, html = served.get("/fr/retours/remboursements/delai-de-remboursement/")
        assert status == 200 and 'hreflang="de"' in html
        served.drain()
        page = project / "content/fr/returns/refunds/refund-time.md"
        page.write_text(page.read_text().replace("Quel est le délai de remboursement ?", "Délai de remboursement"))
        served.wait_event("reload")
        status, html = served.get("/fr/retours/remboursements/delai-de-remboursement/")
        assert status == 200 and "<h1>Délai de remboursement</h1>" in html.replace('<h1 class="kb-title">', "<h1>")
        served.drain()
        new = project / "content/de/returns/refunds/partial-refund.md"
        new.write_text("---\ntitle: Warum wurde nur ein Teil erstattet?\nupdated: 2026-02-01\n---\nText.\n")
        served.wait_event("reload")
        status, html = served.get("/returns/refunds/partial-refund/")
        assert 'hreflang="de" href="https://help.example.com/de/ruecksendungen/erstattungen/partial-refund/"' in html
        assert served.get("/de/ruecksendungen/erstattungen/partial-refund/")[0] == 200
        assert served.get("/de/_search/meta.json")[0] == 200
    finally:
        served.stop()


# -- analytics per language ------------------------------------------------------------------------------


def test_popularity_and_report_are_per_language(ml_project: Path, tmp_path: Path) -> None:
    from test_analytics_importers import T0, make_collector_db

    project = tmp_path / "p"
    shutil.copytree(ml_project, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    fr_time = {"name": "page_view", "id": "fr/returns/refunds/refund-time", "lang": "fr",
               "page": "/fr/retours/remboursements/delai-de-remboursement/"}  # fmt: skip
    de_time = {"name": "page_view", "id": "de/returns/refunds/refund-time", "lang": "de",
               "page": "/de/ruecksendungen/erstattungen/dauer-der-rueckerstattung/"}  # fmt: skip
    de_return = {"name": "page_view", "id": "de/returns/returns/return-an-item", "lang": "de",
                 "page": "/de/ruecksendungen/ruecksendung/artikel-zuruecksenden/"}  # fmt: skip
    en_time = {"name": "page_view", "page": "/returns/refunds/refund-time/"}  # sent before events had `lang`
    events = [dict(fr_time, ts=T0 + i) for i in range(30)] + [dict(de_time, ts=T0)]
    events += [dict(de_return, ts=T0 + i) for i in range(3)] + [dict(en_time, ts=T0 + i) for i in range(5)]
    events += [{"name": "search", "page": "/fr/search/", "query": "remboursement", "results": 2, "lang": "fr",
                "ts": T0}] * 4  # fmt: skip
    events += [{"name": "search", "page": "/de/search/", "query": "erstattung", "results": 1, "lang": "de",
                "ts": T0}] * 2  # fmt: skip
    make_collector_db(project / "analytics.sqlite", events)
    toml = project / "kbgen.toml"
    toml.write_text(toml.read_text().replace(
        'language = "en"\n', 'language = "en"\n\n[analytics]\nsources = [{type = "collector", path = "analytics.sqlite"}]\n'
    ))  # fmt: skip
    de = run_kbgen("report", "--lang", "de", cwd=project).stdout
    assert "4 page views (4 of articles)" in de, de  # 1 + 3: the 30 French views of the same article never count
    assert "erstattung" in de and "remboursement" not in de and "Quel est" not in de
    assert de.index("Einen Artikel zurücksenden") < de.index("Wie lange dauert die Rückerstattung?")
    fr = run_kbgen("report", "--lang", "fr", cwd=project).stdout
    assert "30 page views (30 of articles)" in fr and "remboursement" in fr and "erstattung" not in fr
    en = run_kbgen("report", cwd=project).stdout
    assert "5 page views (5 of articles)" in en and "remboursement" not in en
    # The build: each language's popular articles from its own views.
    run_kbgen("build", cwd=project)
    home = (project / "site/de/index.html").read_text()
    assert home.index("Einen Artikel zurücksenden") < home.index("Wie lange dauert die Rückerstattung?")
    bad = run_kbgen("report", "--lang", "it", cwd=project, check=False)
    assert bad.returncode == 2 and "not in [languages]" in bad.stderr


ARTICLES = {  # language → (title, body, a query in another inflection, without its accents)
    "es": ("Devolución del pedido", "Puedes devolver los pedidos dañados en treinta días.", "pedidos danado"),
    "it": ("Rimborso dell'ordine", "I rimborsi degli ordini arrivano entro cinque giorni lavorativi.", "rimborsi ordine"),
    "nl": ("Terugbetaling van je bestelling", "Terugbetalingen van bestellingen duren vijf werkdagen.", "terugbetaling bestelling"),
    "pt": ("Reembolso da encomenda", "Os reembolsos das encomendas chegam em cinco dias úteis.", "reembolsos encomendas uteis"),
    "sv": ("Återbetalning av beställningen", "Återbetalningar av beställningar tar fem arbetsdagar.", "aterbetalningar bestallning"),
    "pl": ("Zwrot zamówienia", "Błąd w zamówieniu? Zwroty pieniędzy trwają pięć dni roboczych.", "blad zamowienie zwroty"),
}  # fmt: skip


def test_every_language_is_searched_with_its_stemmer_and_folding(tmp_path: Path) -> None:
    project = tmp_path / "p"
    toml = 'title = "Help"\n[languages.en]\nname = "English"\n'
    (project / "content/en/orders").mkdir(parents=True)
    (project / "content/en/orders/refund.md").write_text("---\ntitle: Refund\n---\nRefunds take five days.\n")
    for code, (title, body, _) in ARTICLES.items():
        toml += f'[languages.{code}]\nname = "{code}"\n'
        (project / f"content/{code}/orders").mkdir(parents=True)
        (project / f"content/{code}/orders/refund.md").write_text(f"---\ntitle: {title}\n---\n{body}\n")
    (project / "kbgen.toml").write_text(toml)
    run_kbgen("build", cwd=project)
    for code, (_, _, query) in ARTICLES.items():
        meta = json.loads((project / f"site/{code}/_search/meta.json").read_text())
        assert meta["language"] == code
        assert _search(project, code, query) == ["/orders/refund/"], (code, query)
        assert _search(project, "en", query) == [], (code, query)  # never another language's article


def test_a_multilingual_build_with_nothing_changed_is_up_to_date(ml_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(ml_project, project, ignore=shutil.ignore_patterns(".kbgen", "site"))
    assert run_kbgen("build", cwd=project).stdout.startswith("Built")
    assert run_kbgen("build", cwd=project).stdout.startswith("Up to date")
    page = project / "content/de/returns/refunds/refund-time.md"
    page.write_text(page.read_text() + "\nNoch ein Satz.\n")  # one language changed: built again
    assert run_kbgen("build", cwd=project).stdout.startswith("Built")
    assert "Noch ein Satz." in (project / "site/de/ruecksendungen/erstattungen/dauer-der-rueckerstattung/index.html").read_text()
    (project / "site/fr/index.html").unlink()  # a published file lost: not up to date
    assert run_kbgen("build", cwd=project).stdout.startswith("Built")
    assert (project / "site/fr/index.html").is_file()
