"""The Whoosh index: the fast writer writes what Whoosh's own writer would; incremental updates; languages."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from whoosh import index as windex

from kbgen.search.index import INDEX_NAME, SearchSettings, build_index, open_index
from kbgen.search.lexicon import expand_query, query_words
from kbgen.search.query import SearchIndex
from kbgen.search.schema import SCORED_FIELDS, make_analyzer, make_schema
from kbgen.search.units import Unit
from kbgen.search.writer import Analysis

WORDS = (
    "order parcel refund delivery courier tracking number invoice receipt payment card declined klarna "
    "kettle descale limescale pan cast-iron seasoning linen bedding wash dry warranty claim speaker "
    "bluetooth pairing reset account password email privacy data export cookies Wi-Fi e-mail 1.8.7 "
    "arduino.cc café naïve résumé isn't don't can't"
).split()


def make_unit(i: int, anchor: str = "", body: str | None = None, lang_words: tuple[str, ...] = WORDS) -> Unit:
    rnd = random.Random(i * 7919 + len(anchor))
    text = body if body is not None else " ".join(rnd.choice(lang_words) for _ in range(rnd.randint(5, 60)))
    return Unit(
        uid=f"cat/art-{i}.md#{anchor}", source=f"cat/art-{i}.md", article_id=f"art-{i}", anchor=anchor,
        heading=anchor.replace("-", " "), title=" ".join(rnd.choice(lang_words) for _ in range(4)),
        headings=anchor.replace("-", " "), body=text, keywords=rnd.choice(["", "wismo, where is my order"]),
        tags="", category="Orders Tracking", category_slug="orders", category_title="Orders", type="article",
        url=f"/orders/art-{i}/", views=(0, 5, 500)[i % 3], promoted=i % 17 == 0, text=text,
    )  # fmt: skip


def corpus(n: int) -> list[Unit]:
    return [u for i in range(n) for u in (make_unit(i), make_unit(i, "details"))]


def test_analysis_matches_the_whoosh_analyzer() -> None:
    texts = [
        "The Wi-Fi isn't connecting; re-pair the speaker (see arduino.cc/en, v1.8.7).",
        "Café naïve RÉSUMÉ — ÉLÈVE élève, straße, ﬁle, İstanbul, 北京 ok",
        " ".join(WORDS) * 3,
        "",
        "a an the of x y z 42 4 -- .. e.g. co-op 2-step",
    ]
    for lang in ("en", "fr", "de", "es"):
        fast = Analysis(lang)
        ana = make_analyzer(lang)
        for text in texts:
            counts, length = fast.terms(text)
            expected = [t.text for t in ana(text)]
            assert length == len(expected), (lang, text)
            assert dict(counts) == {t: expected.count(t) for t in set(expected)}, (lang, text)


def _dump(ix: windex.Index) -> dict:
    with ix.reader() as r:
        out: dict = {"N": r.doc_count_all(), "lengths": {}, "postings": {}, "stored": []}
        docs = sorted(r.all_doc_ids(), key=lambda d: r.stored_fields(d)["uid"])
        order = {d: i for i, d in enumerate(docs)}
        out["stored"] = [r.stored_fields(d) for d in docs]
        for f in SCORED_FIELDS:
            out["lengths"][f] = (r.field_length(f), [r.doc_field_length(d, f) or 0 for d in docs])
            for btext, ti in r.iter_field(f):
                plist = sorted((order[d], w) for d, w in r.postings(f, btext).items_as("weight"))
                out["postings"][(f, btext)] = (ti.doc_frequency(), ti.max_weight(), ti.min_length(), plist)
        out["sources"] = sorted(r.lexicon("source"))
        return out


def test_fast_writer_writes_what_whoosh_writes(tmp_path: Path) -> None:
    units = corpus(40)
    build_index(units, tmp_path / "fast", SearchSettings())
    slow_dir = tmp_path / "slow"
    slow_dir.mkdir()
    ix = windex.create_in(str(slow_dir), make_schema("en"), indexname=INDEX_NAME)
    w = ix.writer()
    for u in units:
        w.add_document(
            uid=u.uid, source=u.source, article_id=u.article_id, anchor=u.anchor, heading=u.heading, title=u.title,
            headings=u.headings, body=u.body, keywords=u.keywords, tags=u.tags, category=u.category,
            category_slug=u.category_slug, category_title=u.category_title, type=u.type, url=u.url,
            popularity=u.views, promoted=u.promoted,
        )  # fmt: skip
    w.commit()
    assert _dump(open_index(tmp_path / "fast")) == _dump(ix)


def _results(index_dir: Path, queries: list[str]) -> list[list[tuple[str, str, float]]]:
    with SearchIndex(index_dir) as s:
        return [
            [(p.best.source, p.best.anchor, round(p.best.score, 9)) for p in s.search(q, 10).pages]
            for q in queries
        ]


QUERIES = ["refund", "parcel tracking", "kettle descale", "wifi", "cafe", "where is my ord", "pasword"]


def test_incremental_updates_replace_and_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kbgen.search.index as index_module

    monkeypatch.setattr(index_module, "ARTICLES_PER_BUCKET", 15)  # 300 articles → 16 segments
    settings = SearchSettings()
    units = corpus(300)
    idx = tmp_path / "index"
    first = build_index(units, idx, settings)
    assert first.rebuilt and first.added_articles == 300

    again = build_index(units, idx, settings)
    assert not again.changed and again.unchanged_articles == 300

    # Edit one article's text: its bucket is analysed again, the others' analyses are read back.
    typo = [replace(u, body=u.body + " typo") if u.source == "cat/art-7.md" else u for u in units]
    one = build_index(typo, idx, settings)
    assert one.added_articles == 1 and one.cached_buckets == 15, one
    from kbgen.search.inverted import InvertedIndex

    assert one.inverted == InvertedIndex.of_units(typo, "en", settings.shard_threshold)

    # Edit one article, remove another: only their buckets' segments are rewritten.
    edited = [replace(u, body=u.body + " zanzibar") if u.source == "cat/art-5.md" else u for u in typo]
    edited = [u for u in edited if u.source != "cat/art-9.md"]
    inc = build_index(edited, idx, settings)
    assert (inc.added_articles, inc.deleted_articles, inc.unchanged_articles) == (1, 1, 298)
    assert not inc.rebuilt and inc.rewritten_units < len(edited) // 4
    with SearchIndex(idx) as s:
        hits = s.search("zanzibar").pages
        assert [p.best.source for p in hits] == ["cat/art-5.md"]
        assert all(h.source != "cat/art-9.md" for q in QUERIES for p in s.search(q, 50).pages for h in p.hits)
    with open_index(idx).reader() as r:
        assert r.doc_count_all() == r.doc_count() == len(edited)  # no deleted documents kept anywhere

    # A warm index answers and exports exactly like a cold one.
    fresh = tmp_path / "fresh"
    cold = build_index(edited, fresh, settings)
    assert _results(idx, QUERIES) == _results(fresh, QUERIES)
    from kbgen.search.export import export_index

    export_index(edited, tmp_path / "warm-out", settings, inverted=inc.inverted, lexicon=inc.lexicon)
    export_index(edited, tmp_path / "cold-out", settings, inverted=cold.inverted, lexicon=cold.lexicon)
    warm = {p.name: p.read_bytes() for p in (tmp_path / "warm-out").iterdir()}
    cold = {p.name: p.read_bytes() for p in (tmp_path / "cold-out").iterdir()}
    assert warm == cold


def test_language_change_rebuilds_with_french_stemming(tmp_path: Path) -> None:
    fr_words = tuple(
        "les ordinateurs portables élève élèves livraison colis remboursement commande commandes facture".split()
    )
    units = [make_unit(i, lang_words=fr_words) for i in range(30)]
    units[0] = replace(
        units[0], body="Mon ordinateur ne démarre plus après la mise à jour", title="Démarrage"
    )
    idx = tmp_path / "index"
    build_index(units, idx, SearchSettings(language="en"))
    stats = build_index(units, idx, SearchSettings(language="fr"))
    assert stats.rebuilt
    with SearchIndex(idx) as s:
        assert s.lexicon.language == "fr"
        words, _ = query_words("le colis des élèves", "fr")
        assert words == ["colis", "eleves"]  # stop words dropped, accents folded
        # "ordinateurs" (plural) and "ordinateur" share the French stem.
        alts = expand_query("ordinateurs", s.lexicon, s.ranking, prefix=False)[0].alternatives
        assert alts == {t: 1.0 for t in s.lexicon.lookup("ordinateur")}
        top = s.search("demarre ordinateur", 3).pages
        assert top and top[0].best.source == "cat/art-0.md"


def test_problem_intent() -> None:
    """A query describing a problem favours troubleshooting titles (× Ranking.problem_boost)."""
    from kbgen.search.schema import is_problem_query, is_problem_title

    for q in ("my board isnt showing up", "emails never arrive", "it won't connect", "upload failed"):
        assert is_problem_query(q), q
    for q in ("how do i reset my password", "notifications settings", "wifi connection"):
        assert not is_problem_query(q), q
    for t in ("If your board is not detected", "Bluetooth speaker won’t connect", "Error: upload failed"):
        assert is_problem_title(t), t
    assert not is_problem_title("How to reset your board") and not is_problem_title("Notes on iffy things")
    assert not is_problem_query("my board isnt showing up", "fr")  # English patterns only


def test_query_expansion_rules(tmp_path: Path) -> None:
    body = "Donations keep the project going. Reset your password from the login page. Wi-Fi setup."
    units = [make_unit(i) for i in range(20)]
    units[0] = replace(units[0], title="Donations", body=body)
    idx = tmp_path / "index"
    build_index(units, idx, SearchSettings())
    with SearchIndex(idx) as s:
        lex, rk = s.lexicon, s.ranking
        assert query_words("How do I reset my pass", "en") == (["reset", "pass"], True)
        assert query_words("how do I reset ", "en") == (["reset"], False)
        assert query_words("the and of", "en") == ([], False)

        def kinds(q: str, prefix: bool = True) -> list[tuple[str, str]]:
            return [(w.word, w.kind) for w in expand_query(q, lex, rk, prefix=prefix)]

        assert kinds("passw") == [("passw", "prefix")]  # the word being typed completes
        assert kinds("passw", prefix=False) == [("passw", "root")]  # …or, submitted, shares a root
        assert kinds("pasword") == [("pasword", "typo")]  # 1 edit from 4 letters
        assert kinds("passwrod") == [("passwrod", "typo")]  # a transposition is one edit
        assert kinds("wifi") == [("wifi", "exact")]  # "Wi-Fi" is indexed joined too
        assert kinds("donate") == [("donate", "root")]  # no stemmer in the browser: the root finds it
        # typed apart, written as one: "login" is an alternative of "log" at full weight (the expression
        # "log in" → login, at the synonym weight, then adds nothing and is dropped)
        assert kinds("cant log in")[-1] == ("log", "joined")
        assert "login" in expand_query("cant log in", lex, rk)[-1].alternatives
        assert kinds("log me in")[-1] == ("log me in", "phrase")  # …with the object of a separable verb
        assert [w for w, _ in kinds("it never opens")] == ["opens"]  # negations: problem intent, not words
        delete = expand_query("wipe", lex, rk)[0]
        assert delete.kind in ("synonym", "none")
        assert [p.best.source for p in s.search("donate", 1).pages] == ["cat/art-0.md"]


def test_analysis_cache_of_a_serial_build_is_not_mixed_with_other_buckets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one worker the buckets are analysed in this process: the analyses it keeps must be its own
    (merging them into the export's index must not extend the first bucket's postings in place)."""
    import kbgen.search.index as index_module
    from kbgen.search.inverted import InvertedIndex

    monkeypatch.setattr(index_module, "ARTICLES_PER_BUCKET", 15)
    settings = SearchSettings()
    units = corpus(300)
    idx = tmp_path / "index"
    build_index(units, idx, settings, workers=1)
    typo = [replace(u, body=u.body + " typo") if u.source == "cat/art-7.md" else u for u in units]
    one = build_index(typo, idx, settings, workers=1)
    assert one.cached_buckets == 15, one
    assert one.inverted == InvertedIndex.of_units(typo, "en", settings.shard_threshold)


def test_the_serve_search_process_can_fork_its_workers(tmp_path: Path) -> None:
    """`kbgen serve` updates search in a daemonic process (it must not outlive the server): a large site's
    index and export fork their own workers there, which a daemonic process may not do by default."""
    import multiprocessing

    from kbgen.rebuild import search_worker

    by_source: dict[str, list[Unit]] = {}
    for u in corpus(300):  # 600 units: the index analyses them in forked workers
        by_source.setdefault(u.source, []).append(u)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=search_worker, args=(child,), daemon=True)
    proc.start()
    child.close()
    try:
        parent.send(("units", (by_source, [])))
        job = (list(by_source), tmp_path / "index", tmp_path / "out", SearchSettings(), True)
        parent.send(("job", job))
        assert parent.poll(120)
        _count, _seconds, error = parent.recv()
        assert error == ""
        assert (tmp_path / "out" / "_search" / "meta.json").is_file()
    finally:
        parent.send(None)
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join()
