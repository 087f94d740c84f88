"""The static export: file layout, the packed encoding, the sharded layout in Chromium, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_kbgen, serve_directory

from kbgen.search import index_and_export
from kbgen.search.export import front_code, pack, unpack
from kbgen.search.index import SearchSettings
from kbgen.search.query import SearchIndex
from kbgen.search.units import collect_units


def test_pack_roundtrip_and_front_coding() -> None:
    nums = [0, 1, 31, 32, 1023, 1024, 123456789, 5, 0]
    assert unpack(pack(nums)) == nums
    assert '"' not in pack(list(range(5000))) and "\\" not in pack(list(range(5000)))
    words = ["board", "boards", "boot", "bootloader", "café", "caf\u00e9s", "zz"]
    coded = front_code(words).split("|")
    assert len(coded) == len(words) and coded[1] == coded[1][0] + "s"


def test_bundle_layout_fixed_meta_hashed_files(sample_site: Path) -> None:
    out = sample_site / "_search"
    names = sorted(p.name for p in out.iterdir())
    assert "meta.json" in names and len(names) == 2  # small site: meta + one bundle
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["bundle"] in names and meta["bundle"].startswith("bundle.")
    assert meta["language"] == "en" and meta["N"] >= meta["units"] > 0
    assert {c[0] for c in meta["categories"]} >= {"orders", "returns-refunds"}


def test_cli_json_queries_and_missing_index(sample_site: Path, tmp_path: Path) -> None:
    project = sample_site.parent
    out = json.loads(run_kbgen("search", "where is my parcel", "--json", "-n", "3", cwd=project).stdout)
    assert len(out["results"]) == 3
    top = out["results"][0]
    assert set(top) >= {"title", "url", "anchor", "score", "source"}
    assert (project / "content" / "en" / top["source"]).is_file()  # the sample's default language
    human = run_kbgen("search", "refund", cwd=project).stdout
    assert "1. " in human and "/returns-refunds/" in human
    (tmp_path / "kbgen.toml").write_text('title = "x"\n', encoding="utf-8")
    missing = run_kbgen("search", "refund", cwd=tmp_path, check=False)
    assert missing.returncode == 1 and "kbgen build" in missing.stderr


def test_sharded_export_in_parallel_is_identical(
    sample_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large site's export is made by forked workers: its files must not depend on how many."""
    from kbgen.config import load_config
    from kbgen.content import LoadOptions, load_library
    from kbgen.search import export

    config = load_config(sample_project / "kbgen.toml")
    units = collect_units(load_library(config.content_path, LoadOptions()).library)
    settings = SearchSettings(language="en", shard_threshold=10)
    monkeypatch.setattr(export, "PARALLEL_UNITS", 1)
    monkeypatch.setattr(export, "SHARD_BYTES", 3_000)  # several shards even on the sample
    files = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        stats = export.export_index(units, out, settings, workers=workers)
        assert stats.layout == "sharded"
        files[workers] = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sum(n.startswith("shard.") for n in files[1]) >= 3 and not any(
        n.endswith(".tmp") for n in files[2]
    )
    assert files[1] == files[2]


@pytest.mark.browser
def test_sharded_layout_in_the_browser(sample_project: Path, tmp_path: Path, browser: object) -> None:
    """Force the large-site layout on the sample: meta + term shards + doc fragments, loaded on demand."""
    from kbgen.config import load_config
    from kbgen.content import LoadOptions, load_library

    config = load_config(sample_project / "kbgen.toml")
    library = load_library(config.content_path / "en", LoadOptions()).library  # the sample's English
    settings = SearchSettings(language="en", shard_threshold=10)
    site = tmp_path / "site"
    (site / "static").mkdir(parents=True)
    info = index_and_export(collect_units(library), tmp_path / "cache" / "index", site / "_search", settings)
    assert info["units"] > 10
    meta = json.loads((site / "_search" / "meta.json").read_text(encoding="utf-8"))
    assert meta["layout"] == "sharded" and len(meta["shards"]) >= 1 and meta["docsSet"]
    shutil.copy(ROOT / "themes/default/static/search-core.js", site / "static/search-core.js")
    (site / "index.html").write_text(
        '<!doctype html><body data-kb-base="/"><script src="/static/search-core.js"></script></body>',
        encoding="utf-8",
    )
    url, server = serve_directory(site)
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(url + "/")
        answers = page.evaluate(
            """async qs => { const out = [];
                 for (const q of qs) out.push(await kbSearchCore.query(q, {limit: 5})); return out; }""",
            ["refund", "klarna instalments", "descale kettle"],
        )
        filtered = page.evaluate("kbSearchCore.query('order', {limit: 5, category: 'returns-refunds'})")
        # Two words found together in a title: their best results' display data is in the words' shards.
        page.goto(url + "/?fresh")
        page.evaluate("kbSearchCore.query('partial refund', {limit: 6})")
        fetched = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    finally:
        page.close()
        server.shutdown()
    with SearchIndex(tmp_path / "cache" / "index") as s:
        for a in answers:
            assert a["grouped"], a["query"]
            py = s.search(a["query"], 5).pages
            assert a["grouped"][0]["url"] == py[0].best.url  # quantised impacts: the best page agrees
            assert all(r["snippet"] and r["title"] for r in a["results"])
    assert filtered["grouped"] and all(g["categorySlug"] == "returns-refunds" for g in filtered["grouped"])
    names = [n.rsplit("/", 1)[-1] for n in fetched if "/_search/" in n]
    assert names[0] == "meta.json" and names[1:] and all(n.startswith("shard.") for n in names[1:]), names
    assert len(names) <= 3, names


@pytest.mark.browser
def test_french_export_in_the_browser(tmp_path: Path, browser: object) -> None:
    """`search.language = "fr"`: French stemming and stop words, in Whoosh and in the exported lexicon."""
    from dataclasses import replace

    from test_search_index import make_unit

    words = tuple("les ordinateurs portables élève livraison colis remboursement commande facture".split())
    units = [make_unit(i, lang_words=words) for i in range(12)]
    units[3] = replace(units[3], title="Mon ordinateur ne démarre plus", body="Après la mise à jour, rien.")
    site = tmp_path / "site"
    (site / "static").mkdir(parents=True)
    index_and_export(units, tmp_path / "cache" / "index", site / "_search", SearchSettings(language="fr"))
    meta = json.loads((site / "_search" / "meta.json").read_text(encoding="utf-8"))
    assert meta["language"] == "fr" and "les" in meta["stop"]
    shutil.copy(ROOT / "themes/default/static/search-core.js", site / "static/search-core.js")
    (site / "index.html").write_text(
        '<!doctype html><body data-kb-base="/"><script src="/static/search-core.js"></script></body>', "utf-8"
    )
    url, server = serve_directory(site)
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(url + "/")
        a, b = page.evaluate(
            """async () => [await kbSearchCore.query('les ordinateurs', {limit: 3}),
                            await kbSearchCore.query('demarre', {limit: 3})]"""
        )
    finally:
        page.close()
        server.shutdown()
    assert a["terms"] == ["ordinateurs"] and a["grouped"]  # "les" is a French stop word
    assert b["grouped"][0]["url"] == units[3].url  # "démarre" folded to "demarre"
    with SearchIndex(tmp_path / "cache" / "index") as s:
        assert [p.best.url for p in s.search("demarre", 3).pages][:1] == [units[3].url]


@pytest.mark.browser
def test_popularity_and_promoted_rank_alike(tmp_path: Path, browser: object) -> None:
    """Views (log-damped prior) and `promoted` enter the score identically in Python and in the browser."""
    from test_search_index import QUERIES, corpus

    units = corpus(60)  # views 0 / 5 / 500, every 17th article promoted
    site = tmp_path / "site"
    (site / "static").mkdir(parents=True)
    index_and_export(units, tmp_path / "cache" / "index", site / "_search", SearchSettings())
    shutil.copy(ROOT / "themes/default/static/search-core.js", site / "static/search-core.js")
    (site / "index.html").write_text(
        '<!doctype html><body data-kb-base="/"><script src="/static/search-core.js"></script></body>', "utf-8"
    )
    url, server = serve_directory(site)
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(url + "/")
        answers = page.evaluate(
            "async qs => { const o = []; for (const q of qs) o.push(await kbSearchCore.query(q, {limit: 5})); return o; }",
            QUERIES,
        )
    finally:
        page.close()
        server.shutdown()
    with SearchIndex(tmp_path / "cache" / "index") as s:
        assert s.max_views == 500
        for q, a in zip(QUERIES, answers, strict=True):
            py = [(p.best.url, p.best.anchor, round(p.best.score, 9)) for p in s.search(q, 5).pages]
            js = [(g["url"], g["units"][0]["anchor"], round(g["score"], 9)) for g in a["grouped"]]
            assert js == py, q
