"""`kbgen search` (Whoosh) and search-core.js (Chromium, on the built site) must rank alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_kbgen, serve_directory

# Exact words from the sample help centre, one to four per query (the last word is also completed as a
# prefix on both sides, as in the search box).
EXACT_QUERIES = [
    "track order",
    "refund",
    "return label",
    "delivery address",
    "gift card balance",
    "vat invoice",
    "klarna instalments",
    "payment declined",
    "charged twice",
    "promo code",
    "cast iron pan",
    "descale kettle",
    "bluetooth speaker reset",
    "care label symbols",
    "linen bedding",
    "warranty claim",
    "delete account",
    "personal data",
    "marketing emails",
    "customs import duty",
    "safe place neighbour",
    "missed delivery",
    "partial refund",
    "exchange size",
    "christmas gifts returns",
    "order status",
    "cancel order",
    "parcel damaged",
    "non-stick pans",
    "confirmation email",
    "where is my order",
    "my parcel says delivered but i have not received it",
    "how do i change my email address",
]
# As-you-type prefixes, typos and natural questions (problems, phrases): same expansion rules on both sides.
FUZZY_QUERIES = [
    "retur", "refnd", "delivry adress", "how long does a refund take", "klarn",
    "my refund never arrived", "the speaker wont turn it on", "i cant sign myself in",
    "your shop thinks im in the wrong country", "how do i get rid of my account",
]  # fmt: skip

pytestmark = pytest.mark.browser


def _cli(project: Path, queries: list[str], tmp_path: Path, *extra: str) -> list[list[tuple[str, str]]]:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps({"q": q}) + "\n" for q in queries), encoding="utf-8")
    out = run_kbgen("search", "--queries", str(qfile), "--json", "-n", "5", *extra, cwd=project).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [r["q"] for r in rows] == queries
    return [[(r["url"], r["anchor"]) for r in row["results"]] for row in rows]


def _browser(browser: object, site_url: str, queries: list[str], category: str = "") -> list[dict]:
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(site_url + "/")
        page.wait_for_function("window.kbSearchCore")
        return page.evaluate(
            """async ([qs, category]) => {
                 const out = [];
                 for (const q of qs) out.push(await kbSearchCore.query(q, {limit: 5, category}));
                 return out;
               }""",
            [queries, category],
        )
    finally:
        page.close()


def _top(answer: dict) -> list[tuple[str, str]]:
    return [(g["url"], g["units"][0]["anchor"]) for g in answer["grouped"]]


def test_exact_word_queries_rank_alike(
    sample_site: Path, site_url: str, browser: object, tmp_path: Path
) -> None:
    cli = _cli(sample_site.parent, EXACT_QUERIES, tmp_path)
    js = _browser(browser, site_url, EXACT_QUERIES)
    assert all(cli), "every exact-word query finds something"
    for q, c, a in zip(EXACT_QUERIES, cli, js, strict=True):
        assert _top(a) == c, f"top 5 differ for {q!r}"


def test_prefix_typo_and_category_rank_alike(
    sample_site: Path, site_url: str, browser: object, tmp_path: Path
) -> None:
    cli = _cli(sample_site.parent, FUZZY_QUERIES, tmp_path)
    js = _browser(browser, site_url, FUZZY_QUERIES)
    for q, c, a in zip(FUZZY_QUERIES, cli, js, strict=True):
        assert c, f"no result for {q!r}"
        assert _top(a) == c, f"top 5 differ for {q!r}"
    cat = "returns-refunds"
    cli = _cli(sample_site.parent, ["refund"], tmp_path, "--category", cat)
    js = _browser(browser, site_url, ["refund"], cat)
    assert _top(js[0]) == cli[0] and cli[0]
    assert all(g["categorySlug"] == cat for g in js[0]["grouped"])


def test_results_are_plain_text_with_valid_offsets(site_url: str, browser: object) -> None:
    answers = _browser(browser, site_url, ["refund", "delivery address", "klarn"])
    for a in answers:
        assert a["results"], a["query"]
        for r in a["results"]:
            for key in ("title", "snippet", "url", "href", "category", "heading", "pageTitle"):
                assert isinstance(r[key], str)
            assert r["href"].startswith(site_url) or r["href"].startswith("/")
            for start, end in r["highlights"]:
                assert 0 <= start < end <= len(r["snippet"])
            for start, end in r["titleHighlights"]:
                assert 0 <= start < end <= len(r["title"])
        top = a["results"][0]
        assert top["highlights"] or top["titleHighlights"], f"nothing highlighted for {a['query']!r}"


def test_did_you_mean_and_stop_words(site_url: str, browser: object) -> None:
    a, b, c = _browser(browser, site_url, ["the and of", "refundd", "zzzzqqq xxxyyy"])
    assert a["grouped"] == [] and "didYouMean" not in a
    assert b["grouped"], "a typo still finds the refund articles"
    assert c["grouped"] == []


# ---- large sites: the sharded export ranks exactly as `kbgen search` ---------------------------------
ARDUINO = Path(__file__).resolve().parent / "fixtures" / "arduino-help-center" / "content"
BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def sharded_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Arduino help centre (414 articles, 916 units) built with the sharded export forced (threshold
    300 units): long term lists are split into the shards' best units and tail files."""
    root = tmp_path_factory.mktemp("sharded")
    (root / "kbgen.toml").write_text(
        f'title = "Arduino"\ncontent_dir = "{ARDUINO.as_posix()}"\n[search]\nshard_threshold = 300\n',
        encoding="utf-8",
    )
    run_kbgen("build", cwd=root)
    meta = json.loads((root / "site/_search/meta.json").read_text(encoding="utf-8"))
    assert meta["layout"] == "sharded" and meta["units"] > 300
    return root


def test_sharded_site_ranks_exactly_as_the_cli(sharded_site: Path, browser: object, tmp_path: Path) -> None:
    # Customers' questions, typos, prefixes and keywords (the bench's held-out and blind sets): long
    # questions of common words are where shard-truncated, rounded impacts used to reorder the top 5.
    queries: list[str] = []
    for name in ("queries-heldout.jsonl", "queries-blind.jsonl", "queries-blind2.jsonl"):
        for line in (BENCH / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and json.loads(line)["q"] not in queries:
                queries.append(json.loads(line)["q"])
    assert len(queries) > 100
    cli = _cli(sharded_site, queries, tmp_path)

    url, server = serve_directory(sharded_site / "site")
    try:
        js = _browser(browser, url, queries)
    finally:
        server.shutdown()
    differ = [q for q, c, a in zip(queries, cli, js, strict=True) if _top(a) != c]
    assert not differ, f"top 5 differ on {len(differ)}/{len(queries)} queries, e.g. {differ[:5]}"
    tails = list((sharded_site / "site/_search").glob("tail.*.json"))
    assert tails, "the fixture has long term lists (else this test proves nothing about them)"
