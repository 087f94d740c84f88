"""The sample help centre's French and German translations (tests/fixtures/sample-translations/<lang>/, the same
relative paths as content/): each file parses, keeps its English source's type, tags and structure, links to the
same pages, is really written in its language, and a site built from it in that language has no problems."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import FIXTURES, SAMPLE_EN, run_kbgen, sample_toml_one_language

from kbgen.content.frontmatter import read_source

TRANSLATIONS = FIXTURES / "sample-translations"
LANGS = ("fr", "de")
# structure and identity copied from the English file as is (the rest is translated)
SAME_KEYS = ("type", "tags", "order", "icon", "promoted", "updated", "related")
# Short words that only a text in that language is full of; and English ones that must not be left over.
COMMON = {
    "fr": {"le", "la", "les", "de", "des", "du", "et", "un", "une", "vous", "votre", "vos", "est", "pour", "pas",
           "dans", "sur", "que", "qui", "au", "en"},
    "de": {"der", "die", "das", "und", "du", "dein", "deine", "deinen", "dir", "ist", "nicht", "mit", "für", "auf",
           "zu", "ein", "eine", "den", "dem", "bei", "wir", "uns"},
}  # fmt: skip
ENGLISH = {"the", "and", "you", "your", "is", "are", "with", "to", "of", "for", "this", "that", "it", "we", "our",
           "if", "can", "will", "be", "have", "on", "or", "what", "how", "when", "there"}  # fmt: skip
LINK = re.compile(r"\]\(([^)\s#]+\.md)(?:#[^)]*)?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def _files(lang: str) -> list[Path]:
    return sorted((TRANSLATIONS / lang).rglob("*.md"))


def _read(path: Path, root: Path):
    src, problems = read_source(path.read_bytes(), path.relative_to(root).as_posix())
    assert src is not None and not [p for p in problems if p.level == "error"], (path, problems)
    return src


def _words(text: str) -> list[str]:
    text = re.sub(r"`[^`]*`|\]\([^)]*\)|\{#[^}]*\}|\[\^[\w-]+\]", " ", text)  # code, link targets, ids, notes
    return re.findall(r"[^\W\d_]+", text.lower())


def test_twelve_articles_each_with_an_faq_a_howto_and_their_categories() -> None:
    for lang in LANGS:
        files = _files(lang)
        articles = [f for f in files if f.name != "_index.md"]
        assert len(articles) >= 12, f"{lang}: {len(articles)} articles"
        types = Counter(_read(f, TRANSLATIONS / lang).meta.get("type", "article") for f in articles)
        assert types["faq"] >= 1 and types["howto"] >= 1, (lang, types)
        rels = {f.relative_to(TRANSLATIONS / lang) for f in files}
        for a in articles:  # every folder above a translated article has its translated _index.md
            for parent in a.relative_to(TRANSLATIONS / lang).parents:
                assert parent / "_index.md" in rels, f"{lang}: {parent}/_index.md missing for {a.name}"
    assert {f.relative_to(TRANSLATIONS / "fr") for f in _files("fr")} == {
        f.relative_to(TRANSLATIONS / "de") for f in _files("de")
    }


@pytest.mark.parametrize("lang", LANGS)
def test_each_translation_matches_its_english_source(lang: str) -> None:
    problems = []
    for path in _files(lang):
        rel = path.relative_to(TRANSLATIONS / lang)
        english_path = SAMPLE_EN / rel
        if not english_path.is_file():
            problems.append(f"{rel}: no English source content/{rel}")
            continue
        tr, en = _read(path, TRANSLATIONS / lang), _read(english_path, SAMPLE_EN)
        for key in SAME_KEYS:
            if tr.meta.get(key) != en.meta.get(key):
                problems.append(
                    f"{rel}: {key} is {tr.meta.get(key)!r}, the English file has {en.meta.get(key)!r}"
                )
        for key in ("title", "description"):
            value = tr.meta.get(key)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{rel}: no {key}")
            elif value == en.meta.get(key):
                problems.append(f"{rel}: {key} left in English: {value!r}")
        for key in ("keywords", "supplies", "time"):
            if (key in en.meta) != (key in tr.meta) or (
                key in en.meta and tr.meta[key] == en.meta[key] and key != "time"
            ):
                problems.append(f"{rel}: {key} missing or left in English")
        if "aliases" in tr.meta:
            problems.append(
                f"{rel}: aliases belong to the English page (they would claim its old URLs twice)"
            )
        if rel.name == "_index.md":
            continue
        if not tr.body.strip():
            problems.append(f"{rel}: empty body")
        heads = lambda body: len(re.findall(r"(?m)^#{2,3} ", body))  # noqa: E731
        if heads(tr.body) != heads(en.body):
            problems.append(f"{rel}: {heads(tr.body)} headings (questions), the English has {heads(en.body)}")
        for what, pattern in (("links", LINK), ("images", IMAGE)):
            if sorted(pattern.findall(tr.body)) != sorted(pattern.findall(en.body)):
                problems.append(f"{rel}: {what} {sorted(pattern.findall(tr.body))} differ from the English")
        for target in LINK.findall(tr.body):
            if not (english_path.parent / target).resolve().is_file():
                problems.append(f"{rel}: link to {target}, which does not exist")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGS)
def test_translations_are_really_in_their_language(lang: str) -> None:
    other = next(lg for lg in LANGS if lg != lang)
    problems = []
    for path in _files(lang):
        src = _read(path, TRANSLATIONS / lang)
        text = " ".join(str(src.meta.get(k, "")) for k in ("title", "description")) + " " + src.body
        words = _words(text)
        counts = Counter(words)
        own = sum(counts[w] for w in COMMON[lang])
        english = sum(counts[w] for w in ENGLISH - COMMON[lang])
        foreign = sum(counts[w] for w in COMMON[other] - COMMON[lang] - {"die", "des"})
        rel = path.relative_to(TRANSLATIONS / lang)
        if path.name != "_index.md" and own < 0.15 * len(words):
            problems.append(f"{rel}: only {own} of {len(words)} words are common {lang} words")
        if english > max(2, 0.01 * len(words)):
            leftovers = [w for w in words if w in ENGLISH - COMMON[lang]]
            problems.append(f"{rel}: English words left: {Counter(leftovers).most_common(8)}")
        if foreign > max(2, 0.01 * len(words)):
            problems.append(f"{rel}: {foreign} common {other} words")
        if path.name != "_index.md":  # no English sentence left, even one without a common word above
            for line in src.body.splitlines():
                ws = _words(line)
                if len(ws) >= 6 and sum(w in ENGLISH for w in ws) >= 3:
                    problems.append(f"{rel}: English line {line[:80]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("lang", "date_text"), [("fr", "Mis à jour le 9 mars 2026"), ("de", "Aktualisiert am 9. März 2026")]
)
def test_a_site_built_from_the_translations(tmp_path: Path, lang: str, date_text: str) -> None:
    """The translated files laid over the English sample and built in that language: no problem reported, every
    link resolves (untranslated pages are still there in English), and the pages read in that language."""
    shutil.copytree(SAMPLE_EN, tmp_path / "content")
    shutil.copytree(TRANSLATIONS / lang, tmp_path / "content", dirs_exist_ok=True)
    toml = sample_toml_one_language()
    toml = re.sub(r'(?m)^language = "en"$', f'language = "{lang}"', toml)  # the UI and the search analysis
    (tmp_path / "kbgen.toml").write_text(toml, encoding="utf-8")
    proc = run_kbgen("build", "--strict", cwd=tmp_path)  # a broken link or image is an error
    assert "warning" not in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr
    html = (tmp_path / "site/orders/placing-orders/change-or-cancel-an-order/index.html").read_text("utf-8")
    assert f'<html lang="{lang}" dir="ltr">' in html and date_text in html
    title = _read(
        TRANSLATIONS / lang / "orders/placing-orders/change-or-cancel-an-order.md", TRANSLATIONS / lang
    )
    assert re.search(r"<h1[^>]*>\s*" + re.escape(title.meta["title"]) + r"\s*</h1>", html), title.meta[
        "title"
    ]
