"""The interface strings as a native speaker would write them (issue 16): exactly the plural forms each
language needs, nothing left in English but the words that are the same, one word per language for
"category" and for "tag", and each language's typography (French spaces and « », German „…“, Polish „…”)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT

from kbgen.config import config_from_dict
from kbgen.i18n import PLURAL_CATEGORIES, plural_categories
from kbgen.languages import fallback_label, language_sites

I18N = ROOT / "themes" / "default" / "i18n"
LOCALES = ("en", "fr", "de", "es", "it", "nl", "pt", "sv", "pl", "ar", "he")
PLURAL_KEY = re.compile(r"^(?P<base>.+)_(?P<cat>" + "|".join(PLURAL_CATEGORIES) + r")$")

# Strings that are rightly the same as English: the same word in that language.
SAME_AS_ENGLISH = {
    "fr": {"menu", "header_nav", "md.important", "articles_one", "articles_other"},  # Menu, Site, Important
    "es": {"feedback_no"},  # No
    "it": {"home", "menu", "feedback_no", "in_language"},  # Home, Menu, No, "(in {language})"
    "nl": {"home", "menu", "md.tip"},  # Home, Menu, Tip
    "pt": {"menu", "header_nav"},  # Menu, Site
    "pl": {"menu"},  # Menu
}

# One word for "category" and one for "tag" in each language (the stem every such string uses).
CATEGORY_KEYS = ("browse_topics", "search_filter_label", "search_noscript_link", "search_noscript_browse",
                 "in_this_category", "popular_in_category")  # fmt: skip
TAG_KEYS = ("all_tags", "all_topics", "tags_title", "tags_lead", "no_tags", "tag_title")
TERMS = {
    "en": ("categor", "tag"), "fr": ("catégorie", "étiquette"), "de": ("kategorie", "schlagw"),
    "es": ("categor", "etiqueta"), "it": ("categori", "tag"), "nl": ("categor", "trefwoord"),
    "pt": ("categori", "etiqueta"), "sv": ("kategori", "tagg"), "pl": ("kategori", "tag"),
    "ar": ("فئ", "وس"), "he": ("קטגורי", "תגי"),
}  # fmt: skip


def _strings(lang: str) -> dict[str, str]:
    return json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", LOCALES)
def test_each_plural_string_has_exactly_the_forms_babel_says_the_language_needs(lang: str) -> None:
    strings = _strings(lang)
    families: dict[str, set[str]] = {}
    for key in strings:
        if (m := PLURAL_KEY.match(key)) and f"{m['base']}_other" in _strings("en"):
            families.setdefault(m["base"], set()).add(m["cat"])
    assert {"articles", "search_results"} <= set(families)
    wanted = set(plural_categories(lang))  # pl one/few/many/other, ar zero/one/two/few/many/other, he one/two/other
    assert {base: cats for base, cats in families.items() if cats != wanted} == {}, f"{lang} needs {wanted}"


@pytest.mark.parametrize("lang", [lg for lg in LOCALES if lg != "en"])
def test_nothing_is_left_in_english_but_words_that_are_the_same(lang: str) -> None:
    en, strings = _strings("en"), _strings(lang)
    same = {k for k, v in strings.items() if en.get(k) == v} - SAME_AS_ENGLISH.get(lang, set())
    assert same == set(), f"{lang}: the same as English: {sorted(same)}"


@pytest.mark.parametrize("lang", LOCALES)
def test_one_word_for_category_and_one_for_tag(lang: str) -> None:
    strings = _strings(lang)
    category, tag = TERMS[lang]
    assert [k for k in CATEGORY_KEYS if category not in strings[k].casefold()] == [], lang
    assert [k for k in TAG_KEYS if tag not in strings[k].casefold()] == [], lang
    if lang != "en":  # the tag word is not the category word (de, nl, sv, ar, he used "topics" for both)
        assert [k for k in CATEGORY_KEYS if tag in strings[k].casefold()] == [], lang


def test_each_languages_typography() -> None:
    fr = _strings("fr")
    for key, text in fr.items():
        assert not re.search(r" [?!;:»]|« ", text), f"fr {key}: an ordinary space where French wants a non-breaking one: {text!r}"
        assert '"' not in text and "'" not in text, f"fr {key}: straight quotes: {text!r}"
    assert fr["home_heading"].endswith("\u202f?") and "«\u00a0{q}\u00a0»" in fr["search_no_results"]
    for lang, pattern in (("de", r"„\{\w+\}“"), ("pl", r"„\{\w+\}”")):
        for key in ("tag_title", "search_no_results", "search_see_all"):
            assert re.search(pattern, _strings(lang)[key]), f"{lang} {key}: {_strings(lang)[key]!r}"
    for lang in LOCALES:
        if lang != "en":
            straight = [k for k, v in _strings(lang).items() if "'" in v or '"' in v]
            assert straight == [], f"{lang}: straight quotes or apostrophes in {straight}"


def test_hebrew_addresses_the_reader_in_the_plural_like_the_rest_of_it() -> None:
    he = _strings("he")  # "נסו", "התקשרו", "צרו קשר": never the masculine singular "לך", "סיפרת", "צריך"
    assert [k for k, v in he.items() if re.search(r"\bלך\b|סיפרת\b|^עדיין צריך\b", v)] == []


@pytest.mark.parametrize(
    ("lang", "label"),
    [("en", "(in English)"), ("fr", "(en anglais)"), ("de", "(auf Englisch)"), ("es", "(en inglés)"),
     ("it", "(in inglese)"), ("nl", "(in het Engels)"), ("pt", "(em inglês)"), ("sv", "(på engelska)"),
     ("pl", "(po angielsku)"), ("ar", "(باللغة الإنجليزية)"), ("he", "(באנגלית)")],
)  # fmt: skip
def test_the_in_english_label_in_every_ui_language(lang: str, label: str, tmp_path: Path) -> None:
    config = config_from_dict({"languages": {"en": {"name": "English"}, "fr": {}}}, tmp_path)
    english = next(s for s in language_sites(config) if s.code == "en")
    strings = {**_strings("en"), **_strings(lang)}
    assert fallback_label(strings, lang, english) == label
