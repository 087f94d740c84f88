"""Words customers see (issue 18): one name for categories ("category"; tags are "tags"), no tag page and no
visible tag for the type tags (faq, howto), the feed in <link rel="alternate"> and not in the footer, and a
starter site (`kbgen init`) that says "How can we help?" once."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import run_kbgen


def _text(html: str) -> str:
    body = html[html.index("<body") :]
    body = re.sub(r"<(script|template|noscript)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_categories_have_one_name_and_tags_another(sample_site: Path) -> None:
    for rel in ("index.html", "returns-refunds/index.html", "tags/index.html", "search/index.html"):
        text = _text((sample_site / rel).read_text(encoding="utf-8"))
        assert not re.search(r"\btopics?\b", text, re.I), (
            rel,
            re.findall(r".{30}\btopics?\b.{30}", text, re.I),
        )
    home = _text((sample_site / "index.html").read_text(encoding="utf-8"))
    assert "Browse by category" in home
    assert "All tags" in _text((sample_site / "tags" / "returns" / "index.html").read_text(encoding="utf-8"))


def test_type_tags_have_no_page_and_are_not_shown(sample_site: Path) -> None:
    assert not (sample_site / "tags" / "faq").exists()
    assert (sample_site / "tags" / "returns" / "index.html").exists()
    faq = (sample_site / "returns-refunds" / "returns" / "returns-faq" / "index.html").read_text(
        encoding="utf-8"
    )
    tags = re.search(r'<ul class="kb-tags".*?</ul>', faq, re.S)
    assert tags and "/tags/returns/" in tags.group(0) and "/tags/faq/" not in faq
    assert "/tags/faq/" not in (sample_site / "tags" / "index.html").read_text(encoding="utf-8")
    assert "/tags/faq/" not in (sample_site / "sitemap.xml").read_text(encoding="utf-8")


def test_feed_is_in_the_head_not_the_footer(sample_site: Path) -> None:
    html = (sample_site / "index.html").read_text(encoding="utf-8")
    head, body = html.split("</head>", 1)
    assert re.search(r'<link rel="alternate" type="application/atom\+xml"[^>]+href="/feed.xml"', head)
    assert "feed.xml" not in body and "Updates feed" not in body


def test_starter_site_says_how_can_we_help_once(tmp_path: Path) -> None:
    run_kbgen("init", "help", cwd=tmp_path)
    run_kbgen("build", cwd=tmp_path / "help")
    text = _text((tmp_path / "help" / "site" / "index.html").read_text(encoding="utf-8"))
    assert text.count("How can we help?") == 1, text[:400]
