"""Interface languages: every locale has every string of en.json with its placeholders, plural forms chosen by
CLDR rules (Babel in Python, Intl.PluralRules in the browser), dates in each locale's format, and the site built
in Polish / Arabic / English shows them."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_EN, run_kbgen, sample_toml_one_language, serve_directory, wait_for

from kbgen.i18n import PLURAL_CATEGORIES, locale_for, plural_categories, ui_language
from kbgen.render import Theme

I18N = ROOT / "themes" / "default" / "i18n"
LOCALES = ("en", "fr", "de", "es", "it", "nl", "pt", "sv", "pl", "ar", "he")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PLURAL_KEY = re.compile(r"^(?P<base>.+)_(?P<cat>" + "|".join(PLURAL_CATEGORIES) + r")$")


class _DefaultTheme:
    dirs = [ROOT / "themes" / "default"]


def _strings(lang: str) -> dict[str, object]:
    return json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))


def _plural_bases(strings: dict[str, object]) -> set[str]:
    return {m["base"] for k in strings if (m := PLURAL_KEY.match(k)) and f"{m['base']}_other" in strings}


def _single_number(lang: str, cat: str) -> bool:
    """Whether `cat` is one number only in `lang` (English "one" is 1; French "one" is 0 and 1)."""
    loc = locale_for(lang)
    return sum(1 for n in range(0, 1000) if loc.plural_form(n) == cat) == 1


def test_every_locale_has_every_key_and_placeholder() -> None:
    en = _strings("en")
    bases = _plural_bases(en)
    assert {"articles", "search_results"} <= bases
    problems = []
    for lang in LOCALES:
        strings = _strings(lang)
        for key, text in en.items():
            m = PLURAL_KEY.match(key)
            if m and m["base"] in bases:
                continue  # plural families are checked per language below
            if key not in strings:
                problems.append(f"{lang}: missing {key}")
            elif set(PLACEHOLDER.findall(str(strings[key]))) != set(PLACEHOLDER.findall(str(text))):
                problems.append(f"{lang}: {key} placeholders {strings[key]!r} vs {text!r}")
        for base in bases:
            wanted = set(PLACEHOLDER.findall(str(en[f"{base}_other"])))
            for cat in plural_categories(lang):
                key = f"{base}_{cat}"
                if key not in strings:
                    problems.append(f"{lang}: missing {key} (the {cat!r} plural form of {lang})")
                    continue
                got = set(PLACEHOLDER.findall(str(strings[key])))
                # the number may be written out only where the category is one number ("مقالة واحدة")
                if got != wanted and not (got < wanted and _single_number(lang, cat)):
                    problems.append(f"{lang}: {key} placeholders {strings[key]!r}, expected {wanted}")
        extra = [
            k for k in strings
            if k not in en and not ((m := PLURAL_KEY.match(k)) and m["base"] in bases)
            and not re.fullmatch(r"in_language_[a-z]{2,3}", k)  # "(po angielsku)": a phrase per language
        ]  # fmt: skip
        if extra:
            problems.append(f"{lang}: keys en.json does not have: {extra}")
        if lang != "en":
            same = [
                k for k, v in strings.items() if isinstance(v, str) and v == en.get(k) and len(v.split()) >= 3
            ]
            if same:
                problems.append(f"{lang}: left in English: {same}")
    assert not problems, "\n".join(problems)


def test_no_month_tables_left() -> None:
    """Dates come from Babel now: a theme's hand-written months/date_format would be dead text."""
    for lang in LOCALES:
        strings = _strings(lang)
        assert "months" not in strings and "date_format" not in strings, lang


@pytest.mark.parametrize(
    ("lang", "counts"),
    [
        ("pl", {1: "1 artykuł", 2: "2 artykuły", 4: "4 artykuły", 5: "5 artykułów", 12: "12 artykułów",
                22: "22 artykuły", 25: "25 artykułów", 0: "0 artykułów"}),
        ("ar", {0: "لا توجد مقالات", 1: "مقالة واحدة", 2: "مقالتان", 3: "3 مقالات", 10: "10 مقالات",
                11: "11 مقالة", 99: "99 مقالة", 100: "100 مقالة", 103: "103 مقالات"}),
        ("he", {1: "מאמר אחד", 2: "שני מאמרים", 7: "7 מאמרים"}),
        ("fr", {0: "0 article", 1: "1 article", 2: "2 articles", 1000000: "1000000 d’articles"}),
        ("en", {0: "0 articles", 1: "1 article", 2: "2 articles"}),
        ("de", {1: "1 Artikel", 3: "3 Artikel"}),
    ],
)  # fmt: skip
def test_plural_forms(lang: str, counts: dict[int, str]) -> None:
    ui = ui_language(_DefaultTheme(), lang)
    assert {n: ui.tn("articles", n) for n in counts} == counts


def test_plural_strings_for_the_browser() -> None:
    ui = ui_language(_DefaultTheme(), "pl")
    assert ui.plural_strings("search_results", n="{n}") == {
        "one": "{n} wynik", "few": "{n} wyniki", "many": "{n} wyników", "other": "{n} wyniku"
    }  # fmt: skip
    # a theme with only the bare key (no plural family) still works
    ui.strings = {"hits": "{count} hits"}
    assert ui.tn("hits", 3) == "3 hits" and ui.plural_strings("hits") == {"other": "{count} hits"}


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "March 9, 2026"),
        ("fr", "9 mars 2026"),
        ("de", "9. März 2026"),
        ("es", "9 de marzo de 2026"),
        ("it", "9 marzo 2026"),
        ("nl", "9 maart 2026"),
        ("pt", "9 de março de 2026"),
        ("sv", "9 mars 2026"),
        ("pl", "9 marca 2026"),
        ("he", "9 במרץ 2026"),
    ],
)
def test_dates_in_each_locale(lang: str, text: str) -> None:
    assert ui_language(_DefaultTheme(), lang).format_date(date(2026, 3, 9)) == text


def test_direction_and_region_tags(tmp_path: Path) -> None:
    assert [ui_language(_DefaultTheme(), lg).dir for lg in ("ar", "he", "fr", "en")] == [
        "rtl",
        "rtl",
        "ltr",
        "ltr",
    ]
    # pt-BR reads pt.json; a site theme's pt-BR.json wins over it, key by key
    site = tmp_path / "themes" / "mine"
    (site / "i18n").mkdir(parents=True)
    (site / "i18n" / "pt-BR.json").write_text('{"home": "Página inicial"}', encoding="utf-8")
    theme = Theme([site, ROOT / "themes" / "default"], tmp_path)
    ui = ui_language(theme, "pt-BR")
    assert ui.t("home") == "Página inicial" and ui.t("search_submit") == "Pesquisar"
    assert ui.tn("articles", 2) == "2 artigos"


# -- the built site -----------------------------------------------------------------------------------


def _project(tmp_path: Path, language: str) -> Path:
    shutil.copytree(SAMPLE_EN, tmp_path / "content")
    toml = sample_toml_one_language()
    toml = re.sub(r'(?m)^language = "en"$', f'language = "{language}"', toml, count=1)
    assert f'language = "{language}"' in toml
    (tmp_path / "kbgen.toml").write_text(toml, encoding="utf-8")
    run_kbgen("build", cwd=tmp_path)
    return tmp_path / "site"


def _section_counts(html: str) -> list[str]:
    return re.findall(r">\s*(\d+ [^<\d]+?)\s*<", html)


def test_english_output_unchanged(sample_site: Path) -> None:
    html = (sample_site / "orders/placing-orders/change-or-cancel-an-order/index.html").read_text("utf-8")
    assert '<time datetime="2026-03-09">Updated March 9, 2026</time>' in html
    assert '<html lang="en" dir="ltr">' in html
    home = (sample_site / "index.html").read_text("utf-8")
    assert re.search(r">\s*7 articles\s*<", home) and not re.search(r">\s*1 articles\s*<", home)


def test_polish_site(tmp_path: Path) -> None:
    site = _project(tmp_path, "pl")
    article = (site / "orders/placing-orders/change-or-cancel-an-order/index.html").read_text("utf-8")
    assert '<html lang="pl" dir="ltr">' in article
    assert "Zaktualizowano 9 marca 2026" in article
    home = (site / "index.html").read_text("utf-8")
    counts = re.findall(r">\s*(\d+) (artyku\w+)\s*<", home)
    assert counts, "the home page shows no article counts"
    from babel import Locale

    forms = {"one": "artykuł", "few": "artykuły", "many": "artykułów"}
    for n, word in counts:
        assert word == forms[Locale.parse("pl").plural_form(int(n))], (n, word)
    assert {w for _, w in counts} >= {"artykułów"}  # the sample's categories have 5–9 articles
    data = json.loads(re.search(r'id="kb-search-i18n">([^<]*)<', home).group(1))
    assert data["lang"] == "pl" and data["results"]["few"] == "{n} wyniki"


@pytest.mark.browser
def test_result_counts_use_intl_plural_rules(browser, tmp_path: Path) -> None:
    """The search page counts results in Polish: 2–4 → "wyniki", 5+ → "wyników" (Intl.PluralRules)."""
    site = _project(tmp_path, "pl")
    url, server = serve_directory(site)
    page = browser.new_page()
    try:
        seen = {}
        status = page.locator(".kb-sp-status")
        for q in ("refund", "order", "klarna"):
            page.goto(f"{url}/search/?q={q}", wait_until="load")
            text = wait_for(lambda: re.search(r"(\d+) (wyni\w+)", status.text_content() or ""), 15)
            assert text, f"no result count for {q!r}: {status.text_content()!r}"
            seen[int(text.group(1))] = text.group(2)
        from babel import Locale

        forms = {"one": "wynik", "few": "wyniki", "many": "wyników"}
        for n, word in seen.items():
            assert word == forms[Locale.parse("pl").plural_form(n)], (n, word)
        assert len(set(seen.values())) >= 2, f"pick queries with counts in two plural forms: {seen}"
    finally:
        page.close()
        server.shutdown()
