"""Popularity needs evidence (issue 15, item 4): one session's view neither lifts an article above the
promoted ones on the home page nor earns it the full search boost; sustained traffic does both."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

from conftest import ROOT, run_kbgen
from test_analytics_importers import make_collector_db

DAY = 86_400_000
T0 = 1_786_000_000_000
VIEWED = "orders/placing-orders/use-a-promo-code"  # not promoted
PROMOTED = {
    "orders/tracking/track-your-order",
    "shipping-delivery/rates-and-times/delivery-times-and-costs",
    "payments-billing/payment-methods/payment-declined",
    "returns-refunds/refunds/when-will-i-get-my-refund",
    "returns-refunds/returns/start-a-return",
    "account-privacy/your-account/reset-your-password",
}


def _project(tmp_path: Path, views: int, sessions: int) -> Path:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8")
    toml = re.sub(r"(?m)^\[analytics\]\n", '[analytics]\nsources = [{type = "collector", path = "a.sqlite"}]\n', toml)
    if "a.sqlite" not in toml:
        toml += '\n[analytics]\nsources = [{type = "collector", path = "a.sqlite"}]\n'
    (tmp_path / "kbgen.toml").write_text(toml, encoding="utf-8")
    page = "/" + VIEWED + "/"
    events = [
        {"name": "page_view", "id": VIEWED, "page": page, "ts": T0 + (i % sessions) * DAY // max(1, sessions // 20)}
        for i in range(views)
    ]
    make_collector_db(tmp_path / "a.sqlite", events)
    run_kbgen("build", cwd=tmp_path)
    return tmp_path / "site"


def _home_popular(site: Path) -> list[str]:
    html = (site / "index.html").read_text(encoding="utf-8")
    block = html.split('id="kb-popular"', 1)[1].split("</section>", 1)[0]
    return [h.strip("/") for h in re.findall(r'href="/([^"#?]+)"', block)]


def _boost_share(site: Path, article_id: str) -> float:
    """The share of the full popularity boost the browser's search gives the article (search-core.js:
    log1p(views) / log1p(maxViews))."""
    meta = json.loads((site / "_search" / "meta.json").read_text(encoding="utf-8"))
    bundle = next(p for p in (site / "_search").glob("*.json") if p.name != "meta.json" and "articles" in p.read_text())
    rows = json.loads(bundle.read_text(encoding="utf-8"))["articles"]
    views = next(r[4] for r in rows if r[1].strip("/") == article_id)
    return math.log1p(views) / math.log1p(meta["maxViews"]) if views else 0.0


def test_one_session_does_not_outrank_promoted_articles_nor_earn_the_full_boost(tmp_path: Path) -> None:
    site = _project(tmp_path, views=1, sessions=1)
    popular = _home_popular(site)
    assert set(popular[: len(PROMOTED)]) == PROMOTED, popular
    assert VIEWED not in popular[: len(PROMOTED)]
    share = _boost_share(site, VIEWED)
    assert 0 < share < 0.25, share  # log(2)/log(51) ≈ 0.18 of the boost, not all of it


def test_sustained_traffic_leads_the_home_page_and_earns_the_full_boost(tmp_path: Path) -> None:
    site = _project(tmp_path, views=400, sessions=150)
    assert _home_popular(site)[0] == VIEWED
    assert _boost_share(site, VIEWED) == 1.0
