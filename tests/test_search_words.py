"""How typed words match: a question's last word is not a prefix, typos in order of likelihood, words
joined or split ("log in" / login, "payflow pro" / PayflowPro) — the same in `kbgen search` and the browser."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import run_kbgen, serve_directory

ARTICLES = {
    "orders/checkout-fails.md": (
        "Checkout fails at the payment step",
        "If checkout fails, empty the basket and start checkout again. Checkout needs cookies.",
    ),
    "orders/check-order-status.md": (
        "Where to check the status of an order",
        "Open Orders in your account to check what your order is doing.",
    ),
    "returns/return-an-item.md": (
        "Return an item",
        "Print the label and drop the parcel at a post office.",
    ),
    "account/retrieve-saved-basket.md": (
        "Retrieve a saved basket",
        "Baskets are kept for 30 days. Retrieve a basket from the account menu.",
    ),
    "account/login-problems.md": (
        "Login problems",
        "If the login page rejects your password, reset it.",
    ),
    "payments/payflow-pro.md": (
        "Paying with Payflow Pro",
        "Payflow Pro takes cards on the merchant's page.",
    ),
    "payments/paypal-express.md": (
        "PayPal Express with PayflowLink",
        "PayflowLink redirects customers to PayPal.",
    ),
    "build/build-with-makefiles.md": (
        "Build with Makefiles",
        "Makefiles build sketches outside the IDE.",
    ),
    "account/file-a-complaint.md": (
        "Make a complaint",
        "File it with the form; we make sure someone answers.",
    ),
    "account/sign-in-with-google.md": (
        "Sign in with Google",
        "Use the Google button to sign in without a password.",
    ),
}
EXPECT = {
    # 4+ words, the last one a whole word: not completed to "checkout" (which outranked the answer)
    "where do i check": "/orders/check-order-status/",
    # a swap of two letters is the likeliest typo: "retrun" is return, not retrieve
    "retrun": "/returns/return-an-item/",
    "how do i retrun an item": "/returns/return-an-item/",
    # typed as two words, written as one; typed as one, written as two
    "cant log in": "/account/login-problems/",
    "payflowpro": "/payments/payflow-pro/",
    "payflow link": "/payments/paypal-express/",
    "signin with google": "/account/sign-in-with-google/",
    # ... but a word that starts a known word is that word, not two others ("makefile" → makefiles)
    "makefile ide": "/build/build-with-makefiles/",
}
# As-you-type: a short input still completes its last word.
PREFIX = {"checko": "/orders/checkout-fails/", "retri": "/account/retrieve-saved-basket/"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("words")
    (root / "kbgen.toml").write_text('title = "Shop help"\n', encoding="utf-8")
    for rel, (title, body) in ARTICLES.items():
        path = root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(f"---\ntitle: {title}\n---\n\n{body}\n"), encoding="utf-8")
    run_kbgen("build", cwd=root)
    return root


def _cli(site: Path, queries: list[str], tmp_path: Path) -> list[list[str]]:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps({"q": q}) + "\n" for q in queries), encoding="utf-8")
    out = run_kbgen("search", "--queries", str(qfile), "--json", "-n", "5", cwd=site).stdout
    return [[r["url"] for r in json.loads(line)["results"]] for line in out.splitlines()]


def _browser(browser: object, site: Path, queries: list[str]) -> list[list[str]]:
    url, server = serve_directory(site / "site")
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(url + "/")
        page.wait_for_function("window.kbSearchCore")
        return page.evaluate(
            """async qs => { const out = [];
                 for (const q of qs) out.push((await kbSearchCore.query(q, {limit: 5})).grouped.map(g => g.url));
                 return out; }""",
            queries,
        )
    finally:
        page.close()
        server.shutdown()


def test_questions_typos_and_joined_words_find_the_answer(site: Path, tmp_path: Path, browser: object) -> None:
    queries = [*EXPECT, *PREFIX]
    want = {**EXPECT, **PREFIX}
    cli = _cli(site, queries, tmp_path)
    js = _browser(browser, site, queries)
    for q, c, b in zip(queries, cli, js, strict=True):
        assert c and c[0] == want[q], f"kbgen search {q!r}: {c}"
        assert b == c, f"the browser ranks {q!r} differently: {b} vs {c}"
    short, question = _cli(site, ["i check", "where do i check"], tmp_path)
    assert "/orders/checkout-fails/" in short  # two words: "check" may still be typed on to "checkout"
    assert "/orders/checkout-fails/" not in question


def test_typo_candidates_in_order_of_likelihood() -> None:
    from kbgen.search.lexicon import Lexicon, is_transposition, split_word

    words = ["rerun", "retrieve", "return", "returns"]
    lex = Lexicon(words, [[w] for w in words], {"rerun": 1, "retrieve": 9, "return": 5, "returns": 5})
    cands = [(lex.words[i], d) for i, d in lex.typo_candidates("retrun", 1, 5)]
    assert cands[0] == ("return", 0)  # the swap first (distance 0 marks a swap), before a commoner edit
    assert ("rerun", 1) in cands
    assert is_transposition("retrun", "return") and not is_transposition("retrun", "rerun")
    lex2 = Lexicon(["log", "payflow", "pro", "sign"], [["log"], ["payflow"], ["pro"], ["sign"]],
                   {"log": 3, "payflow": 2, "pro": 4, "sign": 3})  # fmt: skip
    assert split_word("payflowpro", lex2) == ["payflow", "pro"]
    assert split_word("signin", lex2) == ["sign"]  # "in" is a stop word
    assert split_word("zzzzzz", lex2) == []
