"""Plugins and hooks: a project whose hooks file uses every event, an installed plugin (entry point
`kbgen.plugins`) with a validated config table, a failing plugin named in the error, and the two example
plugins in docs/plugins/."""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, run_kbgen, wait_for

HOOKS = '''
import json
from pathlib import Path

LOG = Path(__file__).with_name("events.jsonl")


def _log(event, **kw):
    with LOG.open("a") as fh:
        fh.write(json.dumps({"event": event, "keys": sorted(kw)}) + "\\n")


def on_config(config, **kw):
    _log("on_config", config=config, **kw)
    config.title = "Hooked Help"
    return config


def on_markdown(md, **kw):
    _log("on_markdown", md=md, **kw)
    from mdit_py_plugins.attrs import attrs_plugin
    md.use(attrs_plugin, spans=True)


def on_article(article, markdown, **kw):
    _log("on_article", article=article, markdown=markdown, **kw)
    return markdown.replace("{{product}}", "Northwind Kettle")


def on_page_context(context, page, **kw):
    _log("on_page_context", context=context, page=page, **kw)
    return {**context, "hooked": True}


def on_page(html, page, **kw):
    _log("on_page", html=html, page=page, **kw)
    return html.replace("</body>", "<!-- hooked " + page.output + " --></body>")


def on_post_build(site_dir, **kw):
    _log("on_post_build", site_dir=site_dir, **kw)
    (Path(site_dir) / "hooked.txt").write_text("post build")
'''


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def project(root: Path, toml: str) -> Path:
    write(root, "kbgen.toml", 'title = "Help"\n' + toml)
    write(root, "content/kettles/_index.md", '---\ntitle: Kettles\ndescription: "All about kettles."\n---\n')
    write(root, "content/kettles/care/_index.md", '---\ntitle: Care\ndescription: "Keep it working."\n---\n')
    write(root, "content/kettles/care/descale.md", """\
        ---
        title: Descale your kettle
        description: "Every month."
        reviewed_by: <b>Priya</b> & co
        reviewed: 2026-10-01
        ---

        Descale the {{product}} monthly.

        A [big]{.big} word.

        !!! warning "Before you start"
            Unplug the kettle.

            Let it cool.

        Done.
        """)
    return root


def test_a_hooks_file_gets_every_event_with_keyword_arguments(tmp_path: Path) -> None:
    root = project(tmp_path, 'hooks = ["hooks.py"]\n')
    write(root, "hooks.py", HOOKS)
    run_kbgen("build", cwd=root)
    events = [json.loads(line) for line in (root / "events.jsonl").read_text().splitlines()]
    by_event = {e["event"]: e["keys"] for e in events}
    assert by_event == {
        "on_config": ["config"],
        "on_markdown": ["config", "md"],
        "on_article": ["article", "config", "markdown"],
        "on_page_context": ["config", "context", "page"],
        "on_page": ["config", "html", "page"],
        "on_post_build": ["config", "site_dir"],
    }
    assert [e["event"] for e in events].count("on_post_build") == 1
    page = (root / "site/kettles/care/descale/index.html").read_text()
    assert "Descale the Northwind Kettle monthly." in page  # on_article rewrote the Markdown
    assert '<span class="big">big</span>' in page  # on_markdown's markdown-it plugin
    assert "<!-- hooked kettles/care/descale/index.html -->" in page  # on_page
    assert "Hooked Help" in page  # on_config
    assert (root / "site/hooked.txt").read_text() == "post build"  # on_post_build, in the published folder
    # Built again: the caches are not used while hooks are active — every event runs again.
    (root / "events.jsonl").unlink()
    run_kbgen("build", cwd=root)
    assert "on_article" in (root / "events.jsonl").read_text()


def test_a_failing_hook_is_named_and_the_site_is_unchanged(tmp_path: Path) -> None:
    root = project(tmp_path, "")
    run_kbgen("build", cwd=root)
    before = (root / "site/kettles/care/descale/index.html").read_bytes()
    write(root, "kbgen.toml", 'title = "Help"\nhooks = ["broken.py"]\n')
    write(root, "broken.py", "def on_page(html, **kw):\n    raise ValueError('no template for you')\n")
    proc = run_kbgen("build", cwd=root, check=False)
    assert proc.returncode == 1
    assert "plugin 'hooks broken.py' failed in on_page: ValueError: no template for you" in proc.stderr
    assert (root / "site/kettles/care/descale/index.html").read_bytes() == before
    write(root, "kbgen.toml", 'title = "Help"\nhooks = ["missing.py"]\n')
    proc = run_kbgen("build", cwd=root, check=False)
    assert proc.returncode == 1 and "`hooks[0]`" in proc.stderr and "missing.py" in proc.stderr


def _installed_plugin(tmp_path: Path) -> dict[str, str]:
    """A plugin package on the path, with its `kbgen.plugins` entry point (as `pip install` leaves it)."""
    site = tmp_path / "site-packages"
    write(site, "kbgen_banner.py", '''
        from dataclasses import dataclass


        @dataclass
        class BannerConfig:
            text: str = "Beta"
            colour: str = "orange"


        class Banner:
            config_class = BannerConfig

            def on_page(self, html, page, plugin_config, **kw):
                return html.replace("<body", f"<!-- banner {plugin_config.text} {plugin_config.colour} --><body", 1)


        plugin = Banner()
        ''')
    dist = site / "kbgen_banner-1.0.dist-info"
    write(dist, "METADATA", "Metadata-Version: 2.1\nName: kbgen-banner\nVersion: 1.0\n")
    write(dist, "entry_points.txt", "[kbgen.plugins]\nbanner = kbgen_banner:plugin\n")
    return {"PYTHONPATH": str(site) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_an_installed_plugin_is_enabled_by_its_table_and_its_options_are_validated(tmp_path: Path) -> None:
    env = _installed_plugin(tmp_path)
    root = project(tmp_path / "p", '[plugins.banner]\ntext = "New help centre"\n')
    run_kbgen("build", cwd=root, env=env)
    assert "<!-- banner New help centre orange -->" in (root / "site/index.html").read_text()
    write(root, "kbgen.toml", 'title = "Help"\n[plugins.banner]\ncolor = "red"\n')
    proc = run_kbgen("build", cwd=root, env=env, check=False)
    assert proc.returncode == 2 or proc.returncode == 1
    assert "unknown key `plugins.banner.color` (did you mean `plugins.banner.colour`?)" in proc.stderr
    write(root, "kbgen.toml", 'title = "Help"\n[plugins.bannr]\n')
    proc = run_kbgen("build", cwd=root, env=env, check=False)
    assert proc.returncode != 0 and "`plugins.bannr`: no installed plugin" in proc.stderr and "banner" in proc.stderr


def test_the_example_plugins_in_docs(tmp_path: Path) -> None:
    root = project(tmp_path, 'hooks = ["hooks/admonitions.py", "hooks/reviewed_by.py"]\n')
    for name in ("admonitions.py", "reviewed_by.py"):
        (root / "hooks").mkdir(exist_ok=True)
        shutil.copy(ROOT / "docs" / "plugins" / name, root / "hooks" / name)
    run_kbgen("build", "--strict", cwd=root)
    page = (root / "site/kettles/care/descale/index.html").read_text()
    # MkDocs' `!!! warning "Before you start"` became kbgen's warning callout, body and all.
    assert "!!!" not in page and "Before you start" in page and "Unplug the kettle." in page
    assert "Let it cool." in page
    callout = page[page.index("Before you start") - 400 : page.index("Let it cool.")]
    assert "warning" in callout
    # The footer, escaped.
    assert ('<p class="kb-reviewed">Last reviewed by &lt;b&gt;Priya&lt;/b&gt; &amp; co on '
            '<time datetime="2026-10-01">2026-10-01</time></p>') in page  # fmt: skip
    assert "kb-reviewed" not in (root / "site/index.html").read_text()


# -- kbgen serve and kbgen check run the plugins too (issue #19) ---------------------------------------------

SERVE_HOOKS = '''
import json
from pathlib import Path

LOG = Path({log!r})


def on_config(config, **kw):
    config.title = "Hooked Help"
    return config


def on_article(article, markdown, **kw):
    return markdown.replace("{{{{product}}}}", "Northwind Kettle")


def on_page(html, page, **kw):
    return html.replace("</main>", "<p class=hook>HOOK-V1</p></main>")


def on_post_build(site_dir, **kw):
    with LOG.open("a") as fh:
        fh.write(json.dumps({{"site_dir": str(site_dir)}}) + "\\n")
    (Path(site_dir) / "hooked.txt").write_text("post build")
'''

_LIVERELOAD = re.compile(rb'<script src="/__kbgen/livereload\.js"[^>]*></script>')


def _post_builds(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_serve_runs_the_hooks_like_build_and_reloads_their_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_serve import Served

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")  # the date `run_kbgen` builds with
    log = tmp_path / "post-build.jsonl"
    root = project(tmp_path / "p", 'hooks = ["hooks/site.py"]\n')
    hooks = root / "hooks/site.py"
    write(root, "hooks/site.py", SERVE_HOOKS.format(log=str(log)))
    run_kbgen("build", cwd=root)
    built = {url: (root / "site" / url / "index.html").read_bytes() for url in ("", "kettles/care/descale")}
    assert b"HOOK-V1" in built["kettles/care/descale"]
    assert _post_builds(log) == 1
    log.unlink()

    served = Served(root)
    try:
        page_url = "/kettles/care/descale/"
        # First load: every event ran (on_config, on_article, on_page; on_post_build on the preview folder).
        code, page = served.get(page_url)
        assert code == 200 and "Descale the Northwind Kettle monthly." in page and "HOOK-V1" in page
        assert "Hooked Help" in page
        assert served.get("/hooked.txt") == (200, "post build")
        assert _post_builds(log) == 1
        # The served pages are `kbgen build`'s pages, byte for byte (the live-reload tag aside).
        for url, want in built.items():
            with urllib.request.urlopen(served.base + "/" + (url + "/" if url else ""), timeout=20) as resp:
                got = resp.read()
            assert _LIVERELOAD.sub(b"", got) == want, url

        # An article saved: the incremental rebuild runs on_article and on_page, then on_post_build.
        article = root / "content/kettles/care/descale.md"
        served.drain()
        article.write_text(article.read_text() + "\nThe {{product}} again: EDIT-2.\n", encoding="utf-8")
        served.wait_event("reload")
        assert served.status()["kind"] == "incremental"
        page = served.get(page_url)[1]
        assert "The Northwind Kettle again: EDIT-2." in page and "HOOK-V1" in page
        assert wait_for(lambda: _post_builds(log) == 2, 5)

        # The hooks file saved (same size, likely the same second): a full rebuild with its new code.
        served.drain()
        hooks.write_text(hooks.read_text().replace("HOOK-V1", "HOOK-V2"), encoding="utf-8")
        served.wait_event("reload")
        page = served.get(page_url)[1]
        assert "HOOK-V2" in page and "HOOK-V1" not in page
        assert "HOOK-V2" in served.get("/")[1]

        # A failing hook: a build error naming the plugin, its file and line; the last good site stays.
        good = hooks.read_text()
        served.drain()
        hooks.write_text(good.replace(
            "    return html.replace(", "    raise ValueError('broken on purpose')\n    return html.replace("
        ), encoding="utf-8")  # fmt: skip
        served.wait_event("status")
        status = served.status()
        assert not status["ok"]
        (error,) = status["errors"]
        assert "plugin 'hooks hooks/site.py' failed in on_page: ValueError: broken on purpose" in error["message"]
        assert error["path"] == "hooks/site.py" and error["line"] == good.splitlines().index(
            "def on_page(html, page, **kw):"
        ) + 2  # fmt: skip
        assert "HOOK-V2" in served.get(page_url)[1] and served.proc.poll() is None
        assert "failed in on_page" in served.output()

        # Fixed: it recovers, with the fixed code.
        served.drain()
        hooks.write_text(good.replace("HOOK-V2", "HOOK-V3"), encoding="utf-8")
        served.wait_event("reload")
        assert served.status()["ok"]
        assert "HOOK-V3" in served.get(page_url)[1]
    finally:
        served.stop()


def test_check_runs_the_hooks(tmp_path: Path) -> None:
    root = project(tmp_path, 'hooks = ["hooks.py"]\n')
    write(root, "hooks.py", '''
        def on_article(article, markdown, **kw):
            return markdown + "\\nSee [the manual](no-such-manual.md).\\n"
        ''')
    proc = run_kbgen("check", cwd=root, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if "no-such-manual.md" in ln]
    assert line.startswith("content/kettles/care/descale.md:") and "[broken-link]" in line
    # A hook that fails is named, with its file and line.
    write(root, "hooks.py", "def on_article(article, markdown, **kw):\n    raise KeyError('oops')\n")
    proc = run_kbgen("check", cwd=root, check=False)
    assert proc.returncode == 1
    assert "hooks.py:2: error: plugin 'hooks hooks.py' failed in on_article: KeyError: 'oops'" in proc.stderr
