"""One interface language: its UI strings, CLDR plural rules, date format and text direction (Babel).

`ui_language(theme, "pl")` is what the renderer (and, per language, a multilingual build) asks for:

- `strings`: the theme's `i18n/<lang>.json` over English (a region tag such as `pt-BR` also reads `pt.json`);
- `t(key, **values)`: a string with `{placeholders}` filled;
- `tn(key, n, **values)`: the plural form of `key` for the number `n`. A plural string is a family of keys
  named by CLDR plural category: `key_zero`, `key_one`, `key_two`, `key_few`, `key_many`, `key_other`. The
  category comes from Babel's plural rules for the language (Polish 2 → few, 5 → many, 22 → few; Arabic
  0 → zero, 2 → two, 3 → few, 11 → many); a missing category falls back to `key_other`, then to `key`;
- `format_date(d)`: the locale's long date (Babel `format_date(d, format="long")`): "March 9, 2026",
  "9 mars 2026", "9. März 2026";
- `dir`: "rtl" for right-to-left scripts (Arabic, Hebrew, Persian, Urdu …), else "ltr".

The browser does the same for result counts with `Intl.PluralRules`: `plural_strings(key)` gives the
family as `{category: text}` for a page to embed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date

PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


@lru_cache(maxsize=64)
def locale_for(language: str) -> Locale:
    """The Babel locale of a language tag (`pt-BR`, `pt_BR`, `de`); English when Babel does not know it."""
    tag = language.replace("-", "_")
    for candidate in (tag, tag.split("_")[0]):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


@lru_cache(maxsize=4096)
def plural_category(language: str, n: int | float) -> str:
    """The CLDR plural category of `n` in `language`: one of PLURAL_CATEGORIES."""
    return str(locale_for(language).plural_form(abs(n)))


@lru_cache(maxsize=8192)
def long_date(language: str, value: date) -> str:
    """`value` in the locale's long format (a build shows the same few hundred dates again and again)."""
    return str(babel_format_date(value, format="long", locale=locale_for(language)))


def plural_categories(language: str) -> list[str]:
    """The categories `language` uses, in CLDR order (always ending with "other")."""
    tags = locale_for(language).plural_form.tags
    return [c for c in PLURAL_CATEGORIES if c in tags or c == "other"]


def text_direction(language: str) -> str:
    return "rtl" if locale_for(language).character_order == "right-to-left" else "ltr"


def language_files(language: str) -> tuple[str, ...]:
    """The i18n file stems read for `language`, weakest first: English, the base language, the full tag."""
    base = language.replace("_", "-").split("-")[0]
    return tuple(dict.fromkeys(("en", base, language)))


def load_strings(theme_dirs: Iterable[Path], language: str) -> dict[str, Any]:
    """`i18n/<lang>.json` of every theme folder (`theme_dirs`: the site theme first, then the default)."""
    dirs = list(theme_dirs)
    strings: dict[str, Any] = {}
    for lang in language_files(language):
        for d in reversed(dirs):
            path = d / "i18n" / f"{lang}.json"
            if path.is_file():
                strings.update(json.loads(path.read_text(encoding="utf-8")))
    return strings


def _fill(text: str, values: dict[str, Any]) -> str:
    if not values:
        return text
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return text


@dataclass
class UiLanguage:
    code: str
    strings: dict[str, Any] = field(default_factory=dict)

    @property
    def locale(self) -> Locale:
        return locale_for(self.code)

    @property
    def dir(self) -> str:
        return text_direction(self.code)

    def t(self, key: str, **values: Any) -> str:
        text = self.strings.get(key, key)
        return _fill(text, values) if isinstance(text, str) else str(text)

    def plural_key(self, key: str, n: int | float) -> str:
        for candidate in (f"{key}_{plural_category(self.code, n)}", f"{key}_other"):
            if isinstance(self.strings.get(candidate), str):
                return candidate
        return key

    def tn(self, key: str, n: int | float, **values: Any) -> str:
        """The plural form of `key` for `n`; `{count}` (and any `values`) filled."""
        return self.t(self.plural_key(key, n), **{"count": n, **values})

    def plural_strings(self, key: str, **values: Any) -> dict[str, str]:
        """`{category: text}` of the family `key` for the categories this language uses (for the browser)."""
        out: dict[str, str] = {}
        for cat in plural_categories(self.code):
            name = f"{key}_{cat}"
            if isinstance(self.strings.get(name), str):
                out[cat] = self.t(name, **values)
        if "other" not in out:
            out["other"] = self.t(key, **values)
        return out

    def format_date(self, value: date | None) -> str:
        if value is None:
            return ""
        return long_date(self.code, value)


def ui_language(theme: Any, language: str) -> UiLanguage:
    """The interface language `language` of `theme` (a `render.Theme`: its `dirs`)."""
    return UiLanguage(language, load_strings(theme.dirs, language))
