"""Feedback with reasons (issue #15 item 3): after "No", the article asks what was missing; the reason and
the optional text reach the real collector as one `feedback_reason` event, cleaned in the browser and again
by the collector, and `kbgen report` shows them per article, escaped."""

from __future__ import annotations

import json
import shutil
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_EN, run_kbgen, sample_toml_one_language
from test_analytics_browser import DESKTOP_UA, beacon_site, recorder, stored, wait_for  # noqa: F401 - the fixture
from test_analytics_importers import make_collector_db

from kbgen.analytics.events import SchemaError, validate

ARTICLE = "/returns-refunds/returns/return-policy/"
HOSTILE = "<img src=x onerror=alert(1)> [red]loud[/red] mail ann.lee@example.com or call 0123 456 789"


def test_keyboard_only_no_then_reason_and_text_is_one_cleaned_event(
    browser: Any, beacon_site: tuple[str, Path]  # noqa: F811
) -> None:
    site_url, db = beacon_site
    before = len(stored(db))
    context = browser.new_context(user_agent=DESKTOP_UA)  # not a headless bot: the report counts it
    events = recorder(context)
    page = context.new_page()
    page.goto(site_url + ARTICLE)
    form = page.locator("[data-kb-feedback-why]")
    assert not form.is_visible()  # nothing to answer before "No"
    # Keyboard only: Tab from the "Yes" button to "No", Enter.
    page.locator("[data-kb-feedback='yes']").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.kbFeedback") == "no"
    page.keyboard.press("Enter")
    # The plain "No" is recorded at once, whatever follows.
    wait_for(page, lambda: [e["name"] for e in events] == ["page_view", "feedback"])
    assert events[1]["helpful"] == "no"
    # The question appears, focus on its first choice (in a fieldset named by its legend).
    assert form.is_visible()
    assert page.evaluate("document.activeElement.closest('fieldset').querySelector('legend').textContent") == (
        "What was missing?"
    )
    assert page.evaluate("document.activeElement.value") == "outdated"
    labels = page.locator("[data-kb-feedback-why] fieldset label").all_inner_texts()
    assert [x.strip() for x in labels] == [
        "It's out of date", "It didn't answer my question", "It's hard to follow", "Something else"
    ]  # fmt: skip
    page.keyboard.press("ArrowDown")  # the next reason: "It didn't answer my question"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "kb-feedback-comment"
    assert page.get_by_label("Anything to add?").count() == 1  # the text box has its label
    page.keyboard.type(HOSTILE + " " + "x" * 400)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Send
    wait_for(page, lambda: len(events) == 3)
    sent = events[2]
    assert sent["name"] == "feedback_reason" and sent["reason"] == "unanswered" and sent["url"] == ARTICLE
    comment = sent["comment"]
    assert "ann.lee@example.com" not in comment and "[email]" in comment
    assert "0123 456 789" not in comment and "[number]" in comment
    assert len(comment) <= 300 and comment.startswith("<img src=x onerror=alert(1)> [red]loud[/red]")
    # The form gives way to a thank-you, which has the focus (and is a live region: announced).
    assert not form.is_visible()
    thanks = page.locator("[data-kb-feedback-thanks]")
    assert thanks.inner_text() == "Thank you — this tells us what to fix."
    assert thanks.get_attribute("role") == "status"
    assert page.evaluate("document.activeElement.hasAttribute('data-kb-feedback-thanks')")
    # The real collector stored it once, cleaned.
    wait_for(page, lambda: len(stored(db)) >= before + 3)
    rows = [r for r in stored(db)[before:] if r["name"] == "feedback_reason"]
    assert len(rows) == 1
    assert rows[0]["reason"] == "unanswered" and rows[0]["comment"] == comment
    assert rows[0]["url"] == ARTICLE and rows[0]["page"] == ARTICLE
    # ... and `kbgen report` shows it under the article, escaped in the page.
    project = db.parent
    out = run_kbgen("report", "--source", f"collector:{db}", "--html", "r.html", cwd=project).stdout
    assert "What was missing" in out and "didn't answer my question 1" in out
    assert "(content/en/returns-refunds/returns/return-policy.md) — 1" in out  # the file to fix
    assert "[red]loud[/red]" in out  # rich markup in a customer's text is shown as it is
    html = (project / "r.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    context.close()


def test_a_reason_is_required_and_one_answer_per_page(browser: Any, beacon_site: tuple[str, Path]) -> None:  # noqa: F811
    site_url, _db = beacon_site
    context = browser.new_context()
    events = recorder(context)
    page = context.new_page()
    page.goto(site_url + ARTICLE)
    page.locator("[data-kb-feedback='no']").click()
    page.locator("[data-kb-feedback-why] button[type=submit]").click()  # no reason chosen: not sent
    page.get_by_label("Something else").check()
    page.locator("[data-kb-feedback-why] button[type=submit]").click()
    wait_for(page, lambda: len(events) == 3)
    page.wait_for_load_state("networkidle")
    assert [e["name"] for e in events] == ["page_view", "feedback", "feedback_reason"]
    assert events[2]["reason"] == "other" and "comment" not in events[2]  # an empty text is not sent
    context.close()


def test_without_javascript_the_page_has_no_dead_form(browser: Any, beacon_site: tuple[str, Path]) -> None:  # noqa: F811
    site_url, _db = beacon_site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(site_url + ARTICLE)
    assert page.locator("h1").is_visible()
    # As before: the vote buttons need JavaScript, so they and the question are not shown at all.
    assert not page.locator("[data-kb-feedback='no']").is_visible()
    assert not page.locator("[data-kb-feedback-why]").is_visible()
    assert not [u for u in requests if "/collect" in u]
    context.close()


def test_providers_get_the_reason_but_never_the_text(browser: Any, tmp_path: Path) -> None:
    from conftest import serve_directory
    from test_analytics_browser import build_project, stub_loader

    site = build_project(tmp_path, '[analytics]\n[analytics.plausible]\ndomain = "help.example"\n'
                                   '[analytics.ga4]\nmeasurement_id = "G-TEST123"\n'
                                   '[analytics.matomo]\nurl = "https://matomo.example/"\nsite_id = "7"\n'
                                   '[analytics.umami]\nwebsite_id = "5e0b7c4a-2d3f-4a1b-9c8d-7e6f5a4b3c2d"\n')  # fmt: skip
    url, http = serve_directory(site)
    try:
        context = browser.new_context()
        loaded: list[str] = []
        for pattern in ("https://plausible.io/**", "https://www.googletagmanager.com/**",
                        "https://matomo.example/**", "https://cloud.umami.is/**"):  # fmt: skip
            context.route(pattern, stub_loader(loaded))
        page = context.new_page()
        page.goto(url + ARTICLE)
        page.wait_for_load_state("networkidle")
        page.locator("[data-kb-feedback='no']").click()
        page.get_by_label("It's hard to follow").check()
        page.get_by_label("Anything to add?").fill("the steps skip one")
        page.locator("[data-kb-feedback-why] button[type=submit]").click()
        wait_for(page, lambda: page.evaluate("(window.__umami || []).some(p => p.name === 'feedback_reason')"))
        got = page.evaluate("""() => ({
            plausible: (window.plausible.q || []).map(a => Array.from(a)).filter(a => a[0] === 'feedback_reason'),
            gtag: window.dataLayer.map(a => Array.from(a)).filter(a => a[0] === 'event' && a[1] === 'feedback_reason'),
            paq: window._paq.filter(a => Array.isArray(a) && a[1] === 'feedback_reason'),
            umami: (window.__umami || []).filter(p => p.name === 'feedback_reason'),
        })""")  # fmt: skip
        assert got["plausible"][0][1]["props"]["reason"] == "unclear"
        assert got["gtag"][0][2]["reason"] == "unclear"
        assert got["paq"][0][:3] == ["trackEvent", "feedback_reason", "unclear"]
        assert got["umami"][0]["data"]["reason"] == "unclear"
        assert "the steps skip one" not in json.dumps(got)
        context.close()
    finally:
        http.shutdown()


def test_the_collector_cleans_and_bounds_the_text_again() -> None:
    base = {"name": "feedback_reason", "page": ARTICLE, "url": ARTICLE}
    got = validate({**base, "reason": "outdated", "comment": "write to bo@example.org\x1b[31m, ref 99887766"})
    assert got["comment"] == "write to [email] [31m, ref [number]"
    assert len(validate({**base, "reason": "other", "comment": "y" * 1000})["comment"]) == 300
    with pytest.raises(SchemaError, match="`comment` is longer than 300"):
        validate({**base, "reason": "other", "comment": "y" * 5000})
    with pytest.raises(SchemaError, match="`reason` must be one of outdated, unanswered, unclear, other"):
        validate({**base, "reason": "rude"})
    with pytest.raises(SchemaError, match="needs `reason`"):
        validate(base)


def test_report_counts_reasons_per_article_and_escapes_what_the_database_holds(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_EN, tmp_path / "content")
    toml = sample_toml_one_language()
    toml += '\n[analytics]\nsources = [{type = "collector", path = "analytics.sqlite"}]\n'
    (tmp_path / "kbgen.toml").write_text(toml, encoding="utf-8")
    t0 = 1_786_000_000_000
    ev: list[dict[str, object]] = []
    for i, reason in enumerate(["outdated", "outdated", "unclear", "outdated"]):
        ev.append({"name": "feedback_reason", "page": ARTICLE, "url": ARTICLE, "reason": reason, "ts": t0 + i})
    # A database is untrusted too: what another writer left in it is escaped, never interpreted.
    ev.append({"name": "feedback_reason", "page": "/a/", "url": "/a/", "reason": "other", "ts": t0 + 9,
               "comment": "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07 </li><script>alert(1)</script>"})  # fmt: skip
    make_collector_db(tmp_path / "analytics.sqlite", ev)
    proc = run_kbgen("report", "--html", "r.html", cwd=tmp_path)
    out = proc.stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "(content/returns-refunds/returns/return-policy.md) — 4: out of date 3, hard to follow 1" in out
    lines = out.splitlines()
    assert lines.index(next(x for x in lines if "return-policy.md) — 4" in x)) < lines.index(
        next(x for x in lines if x.strip().startswith("/a/ — 1"))
    )  # most answers first
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;/li&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    with sqlite3.connect(tmp_path / "analytics.sqlite") as con:  # the report only reads
        assert con.execute("SELECT count(*) FROM events").fetchone() == (5,)


def test_collector_accepts_the_event_over_http(tmp_path: Path) -> None:
    """Through the real collector app on 127.0.0.1: stored with its own columns."""
    import threading

    import uvicorn
    from conftest import free_port, wait_for

    from kbgen.analytics.collector import Collector

    db = tmp_path / "a.sqlite"
    port = free_port()
    app = Collector(db, ["*"], rate=0)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, 120), "collector did not start"
    try:
        body = json.dumps({"name": "feedback_reason", "page": ARTICLE, "url": ARTICLE, "reason": "unclear",
                           "comment": "call me on +44 20 7946 0958"}).encode()  # fmt: skip
        req = urllib.request.Request(f"http://127.0.0.1:{port}/collect", body, {"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status in (200, 202, 204)
        from conftest import wait_for as wait

        assert wait(lambda: any(r["name"] == "feedback_reason" for r in stored(db)) if db.exists() else False)
        (row,) = [r for r in stored(db) if r["name"] == "feedback_reason"]
        assert row["reason"] == "unclear" and row["comment"] == "call me on [number]"
    finally:
        server.should_exit = True
        thread.join(10)
