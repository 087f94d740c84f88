"""Customers' conversational questions find the article that says it in other words, on both paths."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import run_kbgen, serve_directory

ARTICLES = {
    "store/change-your-region.md": (
        "Change your region in the online store",
        "Prices and delivery follow the region selected in the store. Pick another one in the footer.",
    ),
    "shipping/countries-we-deliver-to.md": (
        "Countries we deliver to",
        "We deliver to every country of the European Union and to Norway. Other countries: not yet.",
    ),
    "account/create-a-customer-account.md": (
        "Create a customer account",
        "An account keeps your addresses. Create the account at checkout; the account is free.",
    ),
    "account/delete-your-account.md": (
        "Delete your account",
        "Deleting it erases your order history.",
    ),
}
# Conversational question → the article that answers it without using its words (the shop is a
# "store", a country a "region", "get rid of" is deleting; "thinks" and "im" are chat, not topics).
QUESTIONS = {
    "the shop thinks im in the wrong country": "/store/change-your-region/",
    "how do i get rid of my account": "/account/delete-your-account/",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("natural")
    (root / "kbgen.toml").write_text('title = "Shop help"\n', encoding="utf-8")
    for rel, (title, body) in ARTICLES.items():
        path = root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = f"""\
            ---
            title: {title}
            ---

            {body}
            """
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    run_kbgen("build", cwd=root)
    return root


def test_conversational_questions_find_the_article_in_other_words(site: Path, tmp_path: Path) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps({"q": q}) + "\n" for q in QUESTIONS), encoding="utf-8")
    out = run_kbgen("search", "--queries", str(qfile), "--json", "-n", "3", cwd=site).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert {r["q"]: r["results"][0]["url"] for r in rows} == QUESTIONS


@pytest.mark.browser
def test_conversational_questions_in_the_browser(site: Path, browser: object) -> None:
    url, server = serve_directory(site / "site")
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(url + "/")
        page.wait_for_function("window.kbSearchCore")
        tops = page.evaluate(
            """async qs => { const out = {};
                 for (const q of qs) out[q] = (await kbSearchCore.query(q, {limit: 3})).grouped[0].url;
                 return out; }""",
            list(QUESTIONS),
        )
    finally:
        page.close()
        server.shutdown()
    assert tops == QUESTIONS
