"""`kbgen serve` through the real server: a subprocess on 127.0.0.1, real files, real server-sent events."""

from __future__ import annotations

import http.client
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import free_port

from kbgen.rebuild import Change, Plan
from kbgen.serve import DevServer, iter_sse

TIMEOUT = 20.0

ARTICLE = """---
title: "{title}"
description: "{description}"
tags: [{tags}]
updated: 2026-05-01
---

{body}

## Details

More text about {title}.
"""


def write_article(path: Path, title: str, body: str = "Some text.", tags: str = "basics",
                  description: str = "A short description.") -> None:  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        ARTICLE.format(title=title, body=body, tags=tags, description=description), encoding="utf-8"
    )


def make_project(root: Path, base_url: str = "/") -> Path:
    """A small help centre: two categories, two sections, a site theme overriding one template."""
    content = root / "content"
    (content).mkdir(parents=True)
    (root / "kbgen.toml").write_text(f'title = "Serve test"\nbase_url = "{base_url}"\n', encoding="utf-8")
    (content / "_index.md").write_text('---\ntitle: "Serve test"\n---\n', encoding="utf-8")
    for folder, title in (("orders", "Orders"), ("orders/tracking", "Tracking"), ("account", "Account"),
                          ("account/login", "Login")):  # fmt: skip
        (content / folder).mkdir(parents=True, exist_ok=True)
        (content / folder / "_index.md").write_text(f'---\ntitle: "{title}"\n---\n', encoding="utf-8")
    write_article(content / "orders/tracking/track-your-order.md", "Track your order")
    write_article(content / "orders/tracking/late-parcel.md", "My parcel is late")
    write_article(content / "orders/tracking/wrong-address.md", "Wrong address")
    write_article(content / "orders/tracking/broken-yaml.md", "Fix me later")
    write_article(content / "account/login/reset-password.md", "Reset your password", tags="account")
    write_article(content / "account/login/old-name.md", "Sign in with a code", tags="account")
    write_article(content / "account/login/two-factor.md", "Two-factor sign in", tags="account")
    templates = root / "themes" / "default" / "templates"
    templates.mkdir(parents=True)
    (templates / "article.html").write_text(
        '{% extends "@default/article.html" %}\n'
        '{% block article_before %}<p class="kb-test-marker">MARKER-ONE</p>{% endblock %}\n',
        encoding="utf-8",
    )
    return root


class Served:
    """A running `kbgen serve` subprocess and an SSE listener on it."""

    def __init__(self, project: Path, *args: str) -> None:
        self.project = project
        self.port = free_port()
        env = dict(os.environ, NO_COLOR="1", COLUMNS="200", PYTHONUNBUFFERED="1")
        self.log = (project / "serve.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kbgen", "serve", "--port", str(self.port), *args],
            cwd=project, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.baseline = 0  # reload events of builds up to this one are not awaited (see drain)
        deadline = time.monotonic() + 60
        while True:
            try:
                status = self.status()
                if not status["building"] and status["build"] >= 1:
                    break
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"kbgen serve did not start:\n{self.output()}")
            time.sleep(0.1)
        self.listen()

    def output(self) -> str:
        self.log.flush()
        return (self.project / "serve.log").read_text()

    def listen(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request("GET", "/__kbgen/events")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("text/event-stream")

        def pump() -> None:
            try:
                for event in iter_sse(iter(lambda: resp.fp.readline(), b"")):
                    self.events.put(event)
            except (OSError, ValueError):
                pass

        threading.Thread(target=pump, daemon=True).start()
        event, data = self.events.get(timeout=TIMEOUT)
        assert event == "hello", (event, data)
        self.conn = conn

    def drain(self) -> None:
        """Forget the events so far; `wait_event("reload")` then waits for a build after the current one
        (the current build's own event may still be on its way)."""
        self.baseline = self.status()["build"]
        while True:
            try:
                self.events.get_nowait()
            except queue.Empty:
                return

    def wait_event(self, name: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {name!r} event within {timeout} s\n{self.output()}")
            try:
                event, data = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event == name and not (name == "reload" and data.get("build", 0) <= self.baseline):
                return data

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=TIMEOUT) as resp:
                return resp.status, resp.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8")

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base + "/__kbgen/status", timeout=TIMEOUT) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    project = make_project(tmp_path_factory.mktemp("serve"))
    server = Served(project)
    yield server
    server.stop()


def save(path: Path, text: str) -> None:
    """Save like an editor: write the whole file."""
    path.write_text(text, encoding="utf-8")


def test_serves_site_with_live_reload_but_writes_no_site_folder(served: Served) -> None:
    status, page = served.get("/orders/tracking/track-your-order/")
    assert status == 200
    assert "Track your order" in page
    assert "__kbgen/livereload.js" in page  # injected while serving ...
    out = served.project / ".kbgen" / "serve" / str(served.proc.pid)
    files = list(out.glob("build-*/orders/tracking/track-your-order/index.html"))
    assert files, list(out.iterdir())
    assert b"livereload" not in files[0].read_bytes()  # ... never written to the (publishable) files
    assert not (served.project / "site").exists()
    status, js = served.get("/__kbgen/livereload.js")
    assert status == 200 and "EventSource" in js and "innerHTML" not in js
    status, body = served.get("/no/such/page/")
    assert status == 404 and "kb-kind-404" in body and "__kbgen/livereload.js" in body
    status, _ = served.get("/orders/tracking/track-your-order")  # no trailing slash → redirect → 200
    assert status == 200


def test_edit_article_updates_page_and_sends_reload(served: Served) -> None:
    path = served.project / "content/orders/tracking/late-parcel.md"
    served.drain()
    save(path, path.read_text() + "\nA paragraph added while serving: PARCEL-EDIT-1.\n")
    data = served.wait_event("reload")
    assert "/orders/tracking/late-parcel/" in data["paths"]
    status, page = served.get("/orders/tracking/late-parcel/")
    assert status == 200 and "PARCEL-EDIT-1" in page
    # A body-only edit re-renders only that page: the section listing was not rewritten.
    assert "/orders/tracking/" not in data["paths"]
    # The search index follows in the background.
    deadline = time.monotonic() + TIMEOUT
    while True:
        search = served.status()["search"]
        if search["updates"] >= 1 and not search["updating"]:
            break
        assert time.monotonic() < deadline, search
        time.sleep(0.05)
    assert not search["error"]
    meta = json.loads(served.get("/_search/meta.json")[1])
    assert meta
    out = served.project / ".kbgen" / "serve" / str(served.proc.pid)
    assert any(b"PARCEL-EDIT-1" in p.read_bytes() for p in out.glob("build-*/_search/*.json"))


def test_title_change_updates_listings(served: Served) -> None:
    path = served.project / "content/orders/tracking/wrong-address.md"
    served.drain()
    save(path, path.read_text().replace('title: "Wrong address"', 'title: "Change the delivery address"'))
    data = served.wait_event("reload")
    assert "/orders/tracking/" in data["paths"]  # the section page lists it
    for url in ("/orders/tracking/", "/orders/", "/tags/basics/", "/orders/tracking/track-your-order/"):
        status, page = served.get(url)
        assert status == 200 and "Change the delivery address" in page, url


def test_broken_front_matter_shows_error_and_server_recovers(served: Served) -> None:
    path = served.project / "content/orders/tracking/broken-yaml.md"
    good = path.read_text()
    served.drain()
    save(path, good.replace('title: "Fix me later"', 'title: "Fix me [later'))
    served.wait_event("status")
    status = served.status()
    assert not status["ok"]
    (error,) = status["errors"]
    assert error["path"] == "content/orders/tracking/broken-yaml.md"
    assert error["line"] >= 2 and "YAML" in error["message"]
    code, page = served.get("/orders/tracking/broken-yaml/")  # the last good version is still served
    assert code == 200 and "Fix me later" in page
    assert served.proc.poll() is None
    served.drain()
    save(path, good.replace("Some text.", "Some text. FIXED-AGAIN."))
    served.wait_event("reload")
    assert served.status()["ok"] and not served.status()["errors"]
    code, page = served.get("/orders/tracking/broken-yaml/")
    assert code == 200 and "FIXED-AGAIN" in page


def test_rename_new_and_delete(served: Served) -> None:
    content = served.project / "content"
    served.drain()
    (content / "account/login/old-name.md").rename(content / "account/login/new-name.md")
    data = served.wait_event("reload")
    assert "/account/login/new-name/" in data["paths"]
    assert served.get("/account/login/old-name/")[0] == 404
    code, page = served.get("/account/login/new-name/")
    assert code == 200 and "Sign in with a code" in page
    code, section = served.get("/account/login/")
    assert "/account/login/new-name/" in section and "/account/login/old-name/" not in section

    served.drain()
    write_article(content / "account/login/brand-new.md", "A brand new article", tags="fresh-tag")
    served.wait_event("reload")
    assert served.get("/account/login/brand-new/")[0] == 200
    assert served.get("/tags/fresh-tag/")[0] == 200

    served.drain()
    (content / "account/login/brand-new.md").unlink()
    served.wait_event("reload")
    assert served.get("/account/login/brand-new/")[0] == 404
    assert served.get("/tags/fresh-tag/")[0] == 404
    assert "brand-new" not in served.get("/account/login/")[1]


def test_template_change_rerenders_pages_and_template_errors_are_shown(served: Served) -> None:
    template = served.project / "themes/default/templates/article.html"
    good = template.read_text()
    served.drain()
    save(template, good.replace("MARKER-ONE", "MARKER-TWO"))
    data = served.wait_event("reload")
    assert data["paths"] is None  # every page may have changed
    for url in ("/orders/tracking/track-your-order/", "/account/login/reset-password/"):
        code, page = served.get(url)
        assert code == 200 and "MARKER-TWO" in page and "MARKER-ONE" not in page

    served.drain()
    save(template, good.replace("{% endblock %}", "{% endblok %}"))
    served.wait_event("status")
    status = served.status()
    assert not status["ok"]
    assert status["errors"][0]["path"].endswith("themes/default/templates/article.html")
    assert served.get("/account/login/reset-password/")[0] == 200  # still the last good build
    served.drain()
    save(template, good.replace("MARKER-ONE", "MARKER-THREE"))
    served.wait_event("reload")
    assert "MARKER-THREE" in served.get("/account/login/reset-password/")[1]
    assert served.status()["ok"]


def test_folder_index_config_and_image_changes(served: Served) -> None:
    project = served.project
    index = project / "content/account/login/_index.md"
    served.drain()
    index.write_text('---\ntitle: "Signing in"\n---\n', encoding="utf-8")  # a structure change: full rebuild
    served.wait_event("reload")
    assert "Signing in" in served.get("/account/login/")[1]
    assert "Signing in" in served.get("/account/login/reset-password/")[1]  # breadcrumbs of its articles

    article = project / "content/account/login/reset-password.md"
    served.drain()
    save(article, article.read_text() + "\n![The reset form](reset-form.png)\n")
    served.wait_event("reload")
    assert any("image not found: reset-form.png" in w["message"] for w in served.status()["warnings"])
    served.drain()
    shutil.copy(project / "content/../kbgen.toml", project / "content/account/login/reset-form.png")
    served.wait_event("reload")
    assert served.get("/account/login/reset-form.png")[0] == 200
    assert not any("reset-form.png" in w["message"] for w in served.status()["warnings"])
    assert 'src="/account/login/reset-form.png"' in served.get("/account/login/reset-password/")[1]

    config = project / "kbgen.toml"
    good = config.read_text()
    served.drain()
    save(config, good + "\nunknown_key = 1\n")
    served.wait_event("status")
    (error,) = served.status()["errors"]
    assert error["path"] == "kbgen.toml" and "unknown_key" in error["message"]
    assert served.get("/account/login/")[0] == 200
    served.drain()
    save(config, good.replace('title = "Serve test"', 'title = "Serve test renamed"'))
    served.wait_event("reload")
    assert served.status()["ok"]
    assert "Serve test renamed" in served.get("/orders/")[1]


def test_burst_of_saves_is_one_rebuild(served: Served) -> None:
    path = served.project / "content/account/login/two-factor.md"
    text = path.read_text()
    served.drain()
    for i in range(15):  # an autosave storm / a git checkout
        save(path, text + f"\nRevision {i}.\n")
    served.wait_event("reload")
    time.sleep(0.6)
    extra = []
    while not served.events.empty():
        event, _ = served.events.get_nowait()
        if event == "reload":
            extra.append(event)
    assert len(extra) <= 1  # at most one more (changes that arrived during the rebuild)
    assert "Revision 14." in served.get("/account/login/two-factor/")[1]


def test_changes_during_a_rebuild_give_exactly_one_more(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's debounce, with a stand-in rebuild the test holds: a burst → one rebuild; saves during
    it → one more, and nothing after."""
    from kbgen import serve as serve_module

    # A quiet spell long enough that a loaded machine's pauses between two saves of a burst never end it
    # (the default, 50 ms, is what a user's editor needs; the logic is the same).
    monkeypatch.setattr(serve_module, "DEBOUNCE", 2.0)
    monkeypatch.setattr(serve_module, "MAX_WAIT", 60.0)
    rebuilds: list[int] = []
    started = threading.Semaphore(0)
    finish = threading.Semaphore(0)
    rebuilder = SimpleNamespace(
        session=SimpleNamespace(config=SimpleNamespace(base_path="/")),
        classify=lambda changes: Plan(articles={c.path.name for c in changes}),
        retry=Plan(), needs_full=False,
    )  # fmt: skip
    dev = DevServer(rebuilder)  # type: ignore[arg-type]

    def held_rebuild(plan: Plan, initial: bool = False) -> None:
        rebuilds.append(len(plan.articles))
        started.release()
        assert finish.acquire(timeout=120)

    dev.run_rebuild = held_rebuild  # type: ignore[method-assign]
    worker = threading.Thread(target=dev.worker, daemon=True)
    worker.start()
    assert started.acquire(timeout=60)  # the initial build
    finish.release()
    for i in range(20):
        dev.notify([Change(Path(f"/c/a{i}.md"))])
    assert started.acquire(timeout=60)  # the burst's rebuild has started ...
    for i in range(20):  # ... and these arrive while it runs
        dev.notify([Change(Path(f"/c/b{i}.md"))])
    finish.release()
    assert started.acquire(timeout=60)  # one more, for them
    with dev.lock:  # and nothing left for another
        assert not dev.pending and not dev.wake.is_set()
    dev.stopping = True
    dev.wake.set()
    finish.release()
    worker.join(30)
    assert rebuilds == [0, 20, 20], rebuilds


def test_base_url_sub_path(tmp_path: Path) -> None:
    project = make_project(tmp_path, base_url="/help/")
    server = Served(project)
    try:
        code, page = server.get("/help/orders/tracking/track-your-order/")
        assert code == 200 and 'href="/help/' in page
        assert server.get("/")[0] == 200  # redirected to /help/
        assert server.get("/help/")[0] == 200
        code, page = server.get("/help/missing/")
        assert code == 404 and "kb-kind-404" in page
        assert server.get("/orders/")[0] == 404  # outside the base path
        served_script = "/help/__kbgen/livereload.js"
        assert served_script in page and server.get(served_script)[0] == 200
    finally:
        server.stop()
    assert not (project / ".kbgen" / "serve" / str(server.proc.pid)).exists()  # cleaned up on stop


@pytest.mark.browser
def test_browser_overlay_and_reload_on_save(tmp_path: Path, browser: Any) -> None:
    project = make_project(tmp_path)
    path = project / "content/orders/tracking/track-your-order.md"
    long_body = "\n\n".join(f"Paragraph {i} of a long article." for i in range(120))
    write_article(path, "Track your order", body=long_body)
    server = Served(project)
    try:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(server.base + "/orders/tracking/track-your-order/")
        page.wait_for_function("() => !!window.__kbgenLiveReload")
        page.wait_for_timeout(300)  # the EventSource connects
        page.evaluate("window.scrollTo(0, 1500)")
        good = path.read_text()
        save(path, good.replace('title: "Track your order"', 'title: "Track [your order'))
        overlay = page.locator("#kbgen-overlay")
        overlay.wait_for(state="attached", timeout=15000)
        text = page.locator("#kbgen-overlay [role=alert]").inner_text()
        assert "content/orders/tracking/track-your-order.md:" in text and "YAML" in text
        page.evaluate("window.__kbgenMarker = 1")
        save(path, good.replace("Paragraph 5 of", "Paragraph five (edited) of"))
        page.wait_for_function("() => window.__kbgenMarker === undefined", timeout=15000)  # reloaded
        page.wait_for_load_state("load")
        assert "Paragraph five (edited)" in page.content()
        assert page.locator("#kbgen-overlay").count() == 0
        page.wait_for_function("() => window.scrollY > 1000", timeout=5000)  # scroll position kept
        page.close()
    finally:
        server.stop()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "_search" not in p.relative_to(root).parts and p.name != ".kbgen-site"
    }


def test_incremental_rebuilds_equal_a_full_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After every kind of change, the incrementally updated folder is byte for byte a fresh full build."""
    from kbgen.build import BuildSession
    from kbgen.config import load_config
    from kbgen.rebuild import Rebuilder

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    project = make_project(tmp_path / "p")
    content = project / "content"
    config = load_config(None, root=project)
    session = BuildSession(config, tmp_path / "out", workers=1)
    rebuilder = Rebuilder(session, None, project)
    assert rebuilder.apply(Plan(full=True)).ok

    def change(*paths: Path, expect: str = "incremental") -> None:
        outcome = rebuilder.apply(rebuilder.classify([Change(p) for p in paths]))
        assert outcome.ok, outcome.problems
        assert outcome.kind.startswith(expect), outcome.kind
        fresh = BuildSession(load_config(None, root=project), tmp_path / "fresh", workers=1)
        fresh.full()
        assert session.output is not None and fresh.output is not None
        got, want = _tree(session.output), _tree(fresh.output)
        assert sorted(got) == sorted(want)
        different = [name for name in want if got[name] != want[name]]
        assert not different, different
        fresh.close()

    tracking = content / "orders/tracking"
    late = tracking / "late-parcel.md"
    save(late, late.read_text() + "\nA new paragraph.\n")
    change(late)
    save(late, late.read_text().replace('title: "My parcel is late"', 'title: "A late parcel"'))
    change(late)
    save(late, late.read_text().replace("tags: [basics]", "tags: [basics, delivery]"))
    change(late)
    save(late, late.read_text().replace("updated: 2026-05-01", "updated: 2026-08-01\norder: -1"))
    change(late)
    wrong = tracking / "wrong-address.md"
    save(
        wrong,
        wrong.read_text().replace("---\n\n", "related: [late-parcel.md]\naliases: [/old/wrong/]\n---\n\n", 1),
    )
    change(wrong)
    save(late, late.read_text() + "\nSee [the address article](wrong-address.md#details).\n")
    change(late)
    new_name = tracking / "renamed-parcel.md"
    late.rename(new_name)
    change(late, new_name)  # wrong-address lists it as related: re-resolved
    write_article(tracking / "brand-new.md", "Brand new", tags="fresh")
    change(tracking / "brand-new.md")
    write_article(
        tracking / "aaa-first.md", "First in its folder", tags="Basics, BASICS"
    )  # the tag's spelling
    change(tracking / "aaa-first.md")
    save(new_name, new_name.read_text().replace("---\n\n", "draft: true\n---\n\n", 1))
    change(new_name)
    save(new_name, new_name.read_text().replace("draft: true\n", ""))
    change(new_name)
    (tracking / "brand-new.md").unlink()
    change(tracking / "brand-new.md")
    save(wrong, wrong.read_text() + "\n![A map](map.png)\n")
    change(wrong)
    shutil.copy(project / "kbgen.toml", tracking / "map.png")
    change(tracking / "map.png")
    reset = content / "account/login/reset-password.md"
    save(reset, reset.read_text().replace("tags: [account]", "tags: []"))
    change(reset)
    index = content / "orders/_index.md"
    save(index, '---\ntitle: "Your orders"\norder: 5\n---\n')
    change(index, expect="full")
    for name in ("reset-password.md", "old-name.md", "two-factor.md"):  # a section emptied: structure
        (content / "account/login" / name).unlink()
    (content / "account/login/_index.md").unlink()
    (content / "account/_index.md").unlink()
    change(*(content / "account/login" / n for n in ("reset-password.md", "old-name.md", "two-factor.md",
                                                   "_index.md")), expect="full")  # fmt: skip
