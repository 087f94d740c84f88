"""Stemming that neither overreaches (organization is not organ) nor stops short (bought is buy), the
same for `kbgen search` and the browser (which has no stemmer: the export maps each word to its term)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_kbgen, serve_directory

ARTICLES = {
    "account/set-up-your-organization.md": ("Set up your organization", "Invite people to your organization."),
    "care/tune-an-electric-organ.md": ("Tune an electric organ", "An organ needs tuning once a year."),
    "orders/where-to-buy-gift-cards.md": ("Where to buy gift cards", "Buy them in any store."),
    "about/university-discounts.md": ("Discounts for university students", "Show your student card."),
    "about/universe-of-products.md": ("Our universe of products", "Thousands of products in one shop."),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stemming")
    (root / "kbgen.toml").write_text('title = "Shop help"\n', encoding="utf-8")
    for rel, (title, body) in ARTICLES.items():
        path = root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\ntitle: {title}\n---\n\n{body}\n", encoding="utf-8")
    run_kbgen("build", cwd=root)
    return root


def test_words_merge_with_their_forms_not_with_unrelated_words(
    site: Path, tmp_path: Path, browser: object
) -> None:
    cases = {  # query → (the first result, results that must not appear)
        "organization": ("/account/set-up-your-organization/", ["/care/tune-an-electric-organ/"]),
        "organ": ("/care/tune-an-electric-organ/", ["/account/set-up-your-organization/"]),
        "university": ("/about/university-discounts/", ["/about/universe-of-products/"]),
        "i bought gift cards": ("/orders/where-to-buy-gift-cards/", []),
        "bought": ("/orders/where-to-buy-gift-cards/", []),  # an irregular form meets its base
    }
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps({"q": q}) + "\n" for q in cases), encoding="utf-8")
    out = run_kbgen("search", "--queries", str(qfile), "--json", "--no-prefix", cwd=site).stdout
    cli = [[r["url"] for r in json.loads(line)["results"]] for line in out.splitlines()]
    for (q, (first, absent)), got in zip(cases.items(), cli, strict=True):
        assert got and got[0] == first and not set(absent) & set(got), f"kbgen search {q!r}: {got}"
    url, server = serve_directory(site / "site")
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(url + "/")
        page.wait_for_function("window.kbSearchCore")
        js = page.evaluate(
            """async qs => { const out = [];
                 for (const q of qs) out.push((await kbSearchCore.query(q, {prefix: false})).grouped.map(g => g.url));
                 return out; }""",
            list(cases),
        )
    finally:
        page.close()
        server.shutdown()
    assert js == cli
