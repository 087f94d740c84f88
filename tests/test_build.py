"""`kbgen build` end to end: real content, bad input, atomicity, reproducibility, base_url, packaging."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT, SAMPLE_EN, run_kbgen, sample_toml_one_language
from conftest import wait_for as _wait_for

ARDUINO = FIXTURES / "arduino-help-center" / "content"


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def small_site(root: Path) -> Path:
    write(
        root, "content/orders/_index.md", "---\ntitle: Orders\ndescription: All about orders\norder: 1\n---\n"
    )
    write(root, "content/orders/tracking/_index.md", "---\ntitle: Tracking\n---\n")
    write(
        root,
        "content/orders/tracking/track-an-order.md",
        """\
        ---
        title: Track an order
        description: Where is my parcel?
        tags: [delivery, orders]
        keywords: [where is my parcel]
        aliases: [/hc/en-us/articles/123-Track]
        updated: 2026-03-01
        colour: blue
        ---

        Read the [FAQ](faq.md#can-i-change-the-address) first.
        """,
    )
    write(
        root,
        "content/orders/tracking/faq.md",
        """\
        ---
        title: Tracking FAQ
        type: faq
        updated: 2026-02-01
        ---

        Short intro.

        ## Can I change the address?

        Yes, before it ships.

        ## How long does it take?

        Two days.
        """,
    )
    return root


# -- the real corpus ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def arduino_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("arduino")
    shutil.copytree(ARDUINO, root / "content")
    proc = run_kbgen("build", cwd=root)
    return root / "site", proc


def test_arduino_corpus_builds_with_only_missing_image_warnings(arduino_site) -> None:
    site, proc = arduino_site
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    assert warnings, "the corpus has 503 image references whose files are not included"
    for line in warnings:
        assert re.match(r"^.+\.md:\d+: warning: image not found: ", line), line
    drafts = [p for p in ARDUINO.rglob("*.md") if re.search(r"^draft:\s*true", p.read_text(), re.M)]
    articles = [p for p in ARDUINO.rglob("*.md") if p.name != "_index.md"]
    pages = list(site.rglob("index.html"))
    assert len(pages) >= len(articles) - len(drafts)
    assert re.search(r"Built \d+ pages", proc.stdout)


def test_arduino_alerts_tables_footnotes_and_anchors(arduino_site) -> None:
    site, _ = arduino_site
    shipping = (site / "store-support/shipping/available-shipping-methods/index.html").read_text()
    assert 'class="markdown-alert markdown-alert-note"' in shipping
    returns = (site / "store-support/general-store/return-an-item/index.html").read_text()
    assert 'id="request-a-return"' in returns and "{#" not in returns
    matlab = (
        site / "software-support/upload/use-your-engineering-kit-board-with-matlab-or-simulink/index.html"
    ).read_text()
    assert '<div class="kb-table-wrap"' in matlab and "<table>" in matlab and "<th" in matlab
    nano = next(site.glob("software-support/compilation/if-you-see-a-jtagmkii*/index.html")).read_text()
    assert 'class="footnote-ref"' in nano and 'class="footnotes' in nano


# -- markdown features -------------------------------------------------------------------------


def test_markdown_features_render(tmp_path: Path) -> None:
    small_site(tmp_path)
    from PIL import Image

    (tmp_path / "content/_assets").mkdir()
    Image.new("RGB", (320, 200), "white").save(tmp_path / "content/_assets/shot.png")
    write(
        tmp_path,
        "content/orders/tracking/features.md",
        """\
        ---
        title: Every feature
        ---

        | Zone | Days |
        |------|------|
        | UK   | 2    |

        ~~old price~~ and <kbd>Ctrl</kbd>

        - [ ] unchecked
        - [x] checked

        Text with a note.[^1]

        [^1]: The footnote.

        Refund
        : Money back to your card.

        > [!WARNING]
        > Careful.

        ::: tip
        A tip.
        :::

        ## Custom heading {#my-anchor}

        ## Plain heading

        ![A screenshot of the order page](../../_assets/shot.png)

        ![How to track](https://www.youtube.com/watch?v=aqz-KE-bpKQ)

        See [tracking](track-an-order.md).
        """,
    )
    run_kbgen("build", cwd=tmp_path)
    html = (tmp_path / "site/orders/tracking/features/index.html").read_text()
    assert "<table>" in html and "<s>old price</s>" in html and "<kbd>Ctrl</kbd>" in html
    assert 'type="checkbox"' in html and "checked" in html
    assert 'class="footnote-ref"' in html
    assert "<dl>" in html and "<dt>Refund</dt>" in html
    assert "markdown-alert-warning" in html and "markdown-alert-tip" in html
    assert 'id="my-anchor"' in html and 'id="plain-heading"' in html
    img = re.search(r"<img [^>]*alt=\"A screenshot of the order page\"[^>]*>", html)
    assert img, html
    assert (
        'loading="lazy"' in img.group(0) and 'width="320"' in img.group(0) and 'height="200"' in img.group(0)
    )
    assert 'src="/assets/shot.png"' in img.group(0)
    assert (tmp_path / "site/assets/shot.png").exists()
    assert 'data-kb-video="youtube"' in html and "youtube-nocookie.com/embed/aqz-KE-bpKQ" in html
    assert "<iframe" not in html, "the player must load only on tap"
    assert 'href="/orders/tracking/track-an-order/"' in html
    track = (tmp_path / "site/orders/tracking/track-an-order/index.html").read_text()
    assert 'href="/orders/tracking/faq/#can-i-change-the-address"' in track


def test_faq_and_howto_structure(tmp_path: Path) -> None:
    small_site(tmp_path)
    write(
        tmp_path,
        "content/orders/tracking/howto.md",
        """\
        ---
        title: Change your address
        type: howto
        time: 5 minutes
        supplies: [Order number]
        ---

        Intro.

        ## Steps

        1. **Open** your orders.
        2. **Choose** the order.
        3. **Save** the address.
        """,
    )
    run_kbgen("build", cwd=tmp_path)
    faq = (tmp_path / "site/orders/tracking/faq/index.html").read_text()
    assert re.search(r'<details[^>]*id="can-i-change-the-address"', faq)
    data = [
        json.loads(m) for m in re.findall(r'<script type="application/ld\+json">(.*?)</script>', faq, re.S)
    ]
    faq_ld = next(d for d in data if d.get("@type") == "FAQPage")
    assert [q["name"] for q in faq_ld["mainEntity"]] == [
        "Can I change the address?",
        "How long does it take?",
    ]
    assert any(d.get("@type") == "BreadcrumbList" for d in data)
    howto = (tmp_path / "site/orders/tracking/howto/index.html").read_text()
    assert '<ol class="kb-steps">' in howto and 'id="step-3"' in howto
    data = [
        json.loads(m) for m in re.findall(r'<script type="application/ld\+json">(.*?)</script>', howto, re.S)
    ]
    ld = next(d for d in data if d.get("@type") == "HowTo")
    assert len(ld["step"]) == 3 and ld["totalTime"] == "PT5M" and ld["supply"][0]["name"] == "Order number"


def test_site_files_redirects_feed_sitemap(tmp_path: Path) -> None:
    small_site(tmp_path)
    write(tmp_path, "kbgen.toml", 'title = "Test Help"\nsite_url = "https://help.example.com"\n')
    run_kbgen("build", cwd=tmp_path)
    site = tmp_path / "site"
    redirect = (site / "hc/en-us/articles/123-Track/index.html").read_text()
    assert "https://help.example.com/orders/tracking/track-an-order/" in redirect
    assert 'http-equiv="refresh"' in redirect
    sitemap = (site / "sitemap.xml").read_text()
    assert (
        "<loc>https://help.example.com/orders/tracking/track-an-order/</loc><lastmod>2026-03-01</lastmod>"
        in sitemap
    )
    assert "Sitemap: https://help.example.com/sitemap.xml" in (site / "robots.txt").read_text()
    feed = (site / "feed.xml").read_text()
    assert feed.index("Track an order") < feed.index("Tracking FAQ"), "newest first"
    assert (site / "404.html").exists() and (site / "tags/delivery/index.html").exists()
    page = (site / "orders/tracking/track-an-order/index.html").read_text()
    assert '<link rel="canonical" href="https://help.example.com/orders/tracking/track-an-order/"' in page
    assert 'property="og:title"' in page
    assert (site / "static/kb.js").exists()
    assert not list(site.rglob("livereload*")), "the dev server's script is never published"


def test_base_url_prefixes_every_link(tmp_path: Path) -> None:
    small_site(tmp_path)
    run_kbgen("build", "--base-url", "/help/", cwd=tmp_path)
    page = (tmp_path / "site/orders/tracking/track-an-order/index.html").read_text()
    hrefs = re.findall(r'(?:href|src)="(/[^"]*)"', page)
    assert hrefs
    assert all(h.startswith("/help/") for h in hrefs), [h for h in hrefs if not h.startswith("/help/")]


@pytest.mark.parametrize("value", ["help", "help/", 'https://x.example/a b/', "/<script>/"])
def test_a_bad_base_url_on_the_command_line_is_refused_like_one_in_kbgen_toml(tmp_path: Path, value: str) -> None:
    """`--base-url help` used to publish `href="help/orders/"` links and a broken canonical URL."""
    small_site(tmp_path)
    proc = run_kbgen("build", "--base-url", value, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "`--base-url` must" in proc.stderr
    assert not (tmp_path / "site").exists(), "nothing is published"


# -- bad input ---------------------------------------------------------------------------------


def test_every_bad_input_is_reported_together_with_file_and_line(tmp_path: Path) -> None:
    small_site(tmp_path)
    write(tmp_path, "content/orders/tracking/bad-yaml.md", "---\ntitle: Fine\ntags: [a, b\n---\nbody\n")
    write(tmp_path, "content/orders/tracking/no-title.md", "---\ndescription: nothing\n---\nbody\n")
    (tmp_path / "content/orders/tracking/latin1.md").write_bytes(b"---\ntitle: Caf\xe9\n---\nbody\n")
    write(tmp_path, "content/orders/tracking/Track-An-Order.md", "---\ntitle: Duplicate\n---\nbody\n")
    write(tmp_path, "content/orders/empty/_index.md", "---\ntitle: Empty\n---\n")
    proc = run_kbgen("build", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    err = proc.stderr
    assert "Traceback" not in err
    assert re.search(r"orders/tracking/bad-yaml\.md:[34]: error: invalid YAML", err), err
    assert "orders/tracking/no-title.md:1: error: missing `title`" in err
    assert "orders/tracking/latin1.md:2: error: not valid UTF-8" in err
    assert re.search(r"orders/tracking/(Track-An-Order|track-an-order)\.md:1: error: same URL", err), err
    assert "orders/empty/_index.md:1: error: `_index.md` in orders/empty/" in err
    assert not (tmp_path / "site").exists(), "a failed build writes nothing"


def test_failed_build_leaves_previous_site_untouched(tmp_path: Path) -> None:
    small_site(tmp_path)
    run_kbgen("build", cwd=tmp_path)
    before = {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    write(tmp_path, "content/orders/tracking/faq.md", "---\ntitle: [unclosed\n---\n")
    proc = run_kbgen("build", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    after = {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site")], "no staging left behind"


def test_refuses_to_replace_a_folder_it_did_not_create(tmp_path: Path) -> None:
    small_site(tmp_path)
    precious = write(tmp_path, "out/thesis.txt", "do not delete")
    proc = run_kbgen("build", "-o", "out", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "refusing to replace" in proc.stderr
    assert precious.read_text() == "do not delete"


def test_strict_turns_warnings_into_errors(tmp_path: Path) -> None:
    small_site(tmp_path)
    write(
        tmp_path,
        "content/orders/tracking/broken.md",
        "---\ntitle: Broken\n---\n\nSee [x](nowhere.md).\n\n![pic](gone.png)\n",
    )
    ok = run_kbgen("build", cwd=tmp_path)
    assert "orders/tracking/broken.md:5: warning: link to a missing article: nowhere.md" in ok.stderr
    assert "orders/tracking/broken.md:7: warning: image not found: gone.png" in ok.stderr
    strict = run_kbgen("build", "--strict", cwd=tmp_path, check=False)
    assert strict.returncode == 1 and "broken.md:5: error: link to a missing article" in strict.stderr


def test_config_errors_name_the_key_and_a_close_match(tmp_path: Path) -> None:
    small_site(tmp_path)
    write(tmp_path, "kbgen.toml", 'titel = "Oops"\n')
    proc = run_kbgen("build", cwd=tmp_path, check=False)
    assert (
        proc.returncode == 1
        and "unknown key `titel`" in proc.stderr
        and "did you mean `title`" in proc.stderr
    )
    write(tmp_path, "kbgen.toml", "[contact]\nemail = 42\n")
    proc = run_kbgen("build", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "`contact.email` must be a string" in proc.stderr


def test_same_input_gives_byte_identical_output(tmp_path: Path) -> None:
    small_site(tmp_path)
    run_kbgen("build", "-o", "one", cwd=tmp_path)
    run_kbgen("build", "-o", "two", cwd=tmp_path)
    one = {
        p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()
    }
    two = {
        p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()
    }
    assert one.keys() == two.keys()
    assert [k for k in one if one[k] != two[k]] == []


def test_unknown_front_matter_keys_reach_templates(tmp_path: Path) -> None:
    small_site(tmp_path)
    write(
        tmp_path,
        "themes/custom/templates/article.html",
        '{% extends "@default/article.html" %}{% block content %}colour={{ article.meta.colour }}'
        "{{ super() }}{% endblock %}",
    )
    write(tmp_path, "kbgen.toml", 'theme = "custom"\n')
    run_kbgen("build", cwd=tmp_path)
    assert "colour=blue" in (tmp_path / "site/orders/tracking/track-an-order/index.html").read_text()


# -- starting a project, packaging -------------------------------------------------------------


def test_init_then_build(tmp_path: Path) -> None:
    run_kbgen("init", "my-help", cwd=tmp_path)
    proc = run_kbgen("build", cwd=tmp_path / "my-help")
    assert (tmp_path / "my-help/site/index.html").exists()
    assert "warning" not in proc.stderr


def test_build_without_config_uses_defaults(tmp_path: Path) -> None:
    small_site(tmp_path)
    proc = run_kbgen("build", cwd=tmp_path)
    assert (tmp_path / "site/orders/index.html").exists() and "→ site/" in proc.stdout


@pytest.mark.slow
def test_wheel_carries_the_theme_and_builds_elsewhere(tmp_path: Path) -> None:
    """`pip install .` from the checkout, then `kbgen build` in an unrelated directory."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(wheels.glob("kbgen-*.whl"))
    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (target / "kbgen/themes/default/templates/base.html").exists()
    project = small_site(tmp_path / "elsewhere")
    # -S: no site hooks, so an editable install of the checkout cannot shadow the wheel; deps from site-packages.
    purelib = sysconfig.get_paths()["purelib"]
    env = {"PYTHONPATH": f"{target}:{purelib}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    code = "import sys, kbgen, kbgen.cli; print(kbgen.__file__, file=sys.stderr); sys.argv=['kbgen','build']; kbgen.cli.main()"
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(str(target)), proc.stderr
    assert (project / "site/static/kb.css").exists()


# -- warm builds -------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_warm_build_is_byte_identical_to_a_cold_build(tmp_path: Path) -> None:
    warm = tmp_path / "warm"
    shutil.copytree(SAMPLE_EN, warm / "content")  # one language: page-by-page reuse is per language
    (warm / "kbgen.toml").write_text(sample_toml_one_language())
    run_kbgen("build", cwd=warm)
    article = next(p for p in (warm / "content").rglob("*.md") if p.name != "_index.md")
    article.write_text(article.read_text() + "\n\nOne more sentence about refunds.\n")
    second = run_kbgen("build", cwd=warm)
    write(warm, "kbgen.toml", 'theme = "custom"\n' + sample_toml_one_language())
    write(
        warm,
        "themes/custom/templates/article.html",
        '{% extends "@default/article.html" %}{% block content %}v2{{ super() }}{% endblock %}',
    )
    third = run_kbgen("build", cwd=warm)
    article.write_text(article.read_text() + "\n\nAnd another one.\n")
    fourth = run_kbgen("build", cwd=warm)
    assert "unchanged" not in third.stdout, "a changed template must re-render the pages that use it"
    assert re.search(r"\(\d+ unchanged\)", fourth.stdout), fourth.stdout
    before = _tree(warm / "site")
    fifth = run_kbgen("build", cwd=warm)  # nothing changed: the output is kept as it is
    assert fifth.stdout.startswith("Up to date"), fifth.stdout
    assert _tree(warm / "site") == before
    article.touch()  # a newer date, the same bytes: still up to date
    assert run_kbgen("build", cwd=warm).stdout.startswith("Up to date")
    page = next((warm / "site").rglob("index.html"))
    page.unlink()  # a published file lost: built again, not "up to date"
    assert run_kbgen("build", cwd=warm).stdout.startswith("Built")
    assert page.is_file()
    cold = tmp_path / "cold"
    shutil.copytree(warm / "content", cold / "content")
    shutil.copytree(warm / "themes", cold / "themes")
    shutil.copy(warm / "kbgen.toml", cold / "kbgen.toml")
    run_kbgen("build", cwd=cold)
    warm_tree, cold_tree = _tree(warm / "site"), _tree(cold / "site")
    assert warm_tree.keys() == cold_tree.keys()
    assert [k for k in warm_tree if warm_tree[k] != cold_tree[k]] == []
    assert re.search(r"\(\d+ unchanged\)", second.stdout), "an edited article re-renders only what it affects"
    assert sum(b"v2" in v for k, v in warm_tree.items() if k.endswith("index.html")) >= 10


def test_a_changed_kbgen_reuses_nothing_an_older_one_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade (or an edit to kbgen in a checkout) rebuilds: neither "up to date" nor cached renders."""
    from kbgen import cache
    from kbgen.build import BuildOptions, build
    from kbgen.config import load_config

    project = small_site(tmp_path / "p")
    config = (
        load_config(project / "kbgen.toml")
        if (project / "kbgen.toml").exists()
        else load_config(None, root=project)
    )
    first = build(config, BuildOptions(workers=1))
    assert not first.up_to_date
    assert build(config, BuildOptions(workers=1)).up_to_date
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "another kbgen")
    again = build(config, BuildOptions(workers=1))
    assert not again.up_to_date and again.reused == 0 and again.pages == first.pages


def test_compiled_templates_are_cached_between_builds(tmp_path: Path) -> None:
    """The theme's compiled templates live in the user's cache (KBGEN_TEMPLATE_CACHE): same pages either way."""
    project = small_site(tmp_path / "p")
    cache = tmp_path / "template-cache"
    run_kbgen("build", "-o", str(tmp_path / "off"), cwd=project, env={"KBGEN_TEMPLATE_CACHE": "off"})
    assert not cache.exists()
    run_kbgen("build", "-o", str(tmp_path / "first"), cwd=project, env={"KBGEN_TEMPLATE_CACHE": str(cache)})
    compiled = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert compiled, "no compiled template was kept"
    run_kbgen("build", "-o", str(tmp_path / "second"), cwd=project, env={"KBGEN_TEMPLATE_CACHE": str(cache)})
    assert sorted(p.name for p in cache.rglob("*") if p.is_file()) == compiled
    pages = {k: v for k, v in _tree(tmp_path / "off").items() if k.endswith(".html")}
    assert pages and all(_tree(tmp_path / d)[k] == v for d in ("first", "second") for k, v in pages.items())


def test_a_failed_build_stops_the_search_process_before_removing_its_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search process writes into the staging folder: removed while it still runs, it comes back."""
    import signal

    from kbgen import searchjob, site
    from kbgen.build import BuildOptions, build
    from kbgen.config import load_config

    project = small_site(tmp_path / "p")
    config = load_config(None, root=project)

    def busy_search(units: object, config: object, staging: Path, workers: int = 1) -> dict:
        def stopped(*args: object) -> None:  # the file it was writing when it is stopped
            (staging / "_search").mkdir(parents=True, exist_ok=True)
            (staging / "_search" / "terms.json").write_text("x")
            os._exit(1)

        signal.signal(signal.SIGTERM, stopped)
        time.sleep(30)
        return {}

    def failing_render(*args: object, **kwargs: object) -> int:
        time.sleep(0.3)
        raise RuntimeError("a template failed")

    monkeypatch.setattr(searchjob, "_build_search", busy_search)
    monkeypatch.setattr(site, "render_pages", failing_render)
    out = tmp_path / "out" / "site"
    with pytest.raises(RuntimeError, match="a template failed"):
        build(config, BuildOptions(output=out, workers=2, cache=False))
    time.sleep(0.2)
    assert [p.name for p in out.parent.iterdir()] == []


def test_pages_are_not_reused_from_an_output_the_cache_does_not_describe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build stopped after it replaced the output but before it saved the cache: the page signatures kept
    describe the output before it, so a page whose signature is that old one again must not be linked."""
    from kbgen.build import BuildOptions, build
    from kbgen.cache import BuildCache
    from kbgen.config import load_config

    project = small_site(tmp_path / "p")
    article = project / "content/orders/tracking/track-an-order.md"
    original = article.read_text()
    config = load_config(None, root=project)
    out = project / "site"
    build(config, BuildOptions(workers=1))
    article.write_text(original.replace("first.", "first. Version two."))

    def interrupted(self: BuildCache) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(BuildCache, "save", interrupted)
        with pytest.raises(KeyboardInterrupt):
            build(config, BuildOptions(workers=1))
    assert any(b"Version two" in v for v in _tree(out).values())
    article.write_text(original)
    build(config, BuildOptions(workers=1))
    assert not any(b"Version two" in v for k, v in _tree(out).items() if k.endswith(".html"))


def test_no_home_folder_builds_without_a_template_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container user with no home folder (no HOME, no passwd entry): no compiled-template cache, no crash."""
    from kbgen import render

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("KBGEN_TEMPLATE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", no_home)
    assert render._bytecode_cache() is None


def test_a_template_cache_that_cannot_be_written_does_not_fail_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled-template cache is only a cache: its folder gone (or the disk full) mid-build is no error."""
    from kbgen import render
    from kbgen.build import BuildOptions, build
    from kbgen.config import load_config

    monkeypatch.setenv("KBGEN_TEMPLATE_CACHE", str(tmp_path / "template-cache"))
    original = render._bytecode_cache

    def vanishing() -> object:
        cache = original()
        assert cache is not None
        shutil.rmtree(tmp_path / "template-cache")
        return cache

    monkeypatch.setattr(render, "_bytecode_cache", vanishing)
    project = small_site(tmp_path / "p")
    result = build(load_config(None, root=project), BuildOptions(workers=1, cache=False))
    assert result.pages and (project / "site" / "index.html").is_file()


def _cancel_within(job: object, seconds: float) -> None:
    import threading

    done = threading.Thread(target=job.cancel, daemon=True)  # type: ignore[attr-defined]
    done.start()
    done.join(seconds)
    assert not done.is_alive(), f"cancel() still waiting after {seconds} s"


def test_a_strict_build_that_fails_early_stops_a_search_process_that_swallowed_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI hung here: SIGTERM arrived while the search process was importing Whoosh, Python ignored the
    SystemExit it raised, and the process then waited forever for units that would never come."""
    import signal

    from kbgen import searchjob
    from kbgen.build import SearchJob
    from kbgen.config import load_config

    config = load_config(None, root=small_site(tmp_path / "p"))
    monkeypatch.setattr(searchjob, "exit_on_sigterm", lambda *_: None)  # as if the exit were swallowed
    job = SearchJob(config, workers=2)
    _wait_for(lambda: _catches(job._process.pid, signal.SIGTERM), 20)  # its SIGTERM handler installed
    _cancel_within(job, 20)
    assert job._process.exitcode == 0  # it saw the closed pipe and ended on its own


def test_cancel_stops_a_search_process_that_ignores_sigterm_and_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    from kbgen import searchjob
    from kbgen.build import SearchJob
    from kbgen.config import load_config
    from kbgen.lifetime import die_with_parent

    config = load_config(None, root=small_site(tmp_path / "p"))
    pid_file = tmp_path / "worker.pid"

    def worker_task(parent: int) -> None:  # as kbgen's own workers do
        die_with_parent(parent)
        time.sleep(60)

    def stubborn_search(units: object, config: object, staging: Path, workers: int = 1) -> dict:
        worker = multiprocessing.get_context("fork").Process(target=worker_task, args=(os.getpid(),))
        worker.start()
        pid_file.write_text(str(worker.pid))
        while True:
            time.sleep(60)  # SIGTERM does nothing (the handler below)

    monkeypatch.setattr(searchjob, "exit_on_sigterm", lambda *_: None)
    monkeypatch.setattr(searchjob, "_build_search", stubborn_search)
    monkeypatch.setattr(searchjob, "_CANCEL_GRACE", 1.0)
    job = SearchJob(config, workers=2)
    job._conn.send([])  # a batch of units: none are needed
    job._conn.send(tmp_path / "staging")
    _wait_for(pid_file.exists, 20)
    worker_pid = int(pid_file.read_text())
    _cancel_within(job, 20)
    assert not job._process.is_alive()
    # the worker it started is gone too (its parent-death signal is delivered asynchronously)
    assert _wait_for(lambda: not _running(worker_pid), 30)


def _catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler for `signum` (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def _running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (a killed orphan may wait for a reaper that never comes)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_the_render_cache_is_written_in_batches_and_read_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kbgen import cache as cache_module
    from kbgen.cache import BuildCache

    monkeypatch.setattr(cache_module, "RENDER_BATCH", 2)
    cache = BuildCache.open(tmp_path)
    entries = {f"a/{i}.md": (f"key{i}", {"html": f"<p>{i}</p>"}) for i in range(5)}
    cache.render.update(entries)
    cache.save_render()
    cache.save()
    again = BuildCache.open(tmp_path)
    assert again.render == entries
    stamp = again.render_path.stat().st_mtime_ns
    again.save_render()  # nothing changed: not written again
    assert again.render_path.stat().st_mtime_ns == stamp
    with again.render_path.open("r+b") as fh:  # cut short: read as no cache, not as part of one
        fh.truncate(again.render_path.stat().st_size - 30)
    assert BuildCache.open(tmp_path).render == {}


def test_killing_the_build_leaves_no_worker_behind(tmp_path: Path) -> None:
    """SIGKILL to the build process alone (not its group): the search process and its workers end too."""
    import signal

    project = small_site(tmp_path / "p")
    pids = tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        from kbgen import build as b
        from kbgen.config import load_config
        from kbgen.search import index

        index.PARALLEL_UNITS = 1  # the bucket workers, even for a small site

        def slow_bucket(bucket):  # in a real bucket worker, forked by the search process
            Path({str(pids)!r}).write_text(f"{{os.getppid()}} {{os.getpid()}}")
            time.sleep(120)

        index._analyse_bucket = slow_bucket
        b.build(load_config(None, root=Path({str(project)!r})), b.BuildOptions(workers=2, cache=False))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        _wait_for(pids.exists, 60)
        search_pid, worker_pid = map(int, pids.read_text().split())
        assert _running(search_pid) and _running(worker_pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        _wait_for(lambda: not _running(search_pid) and not _running(worker_pid), 60)
        assert not _running(search_pid), "the search process outlived the build"
        assert not _running(worker_pid), "a search worker outlived the build"
    finally:
        proc.kill()


def _exits_immediately(job: object, conn: object) -> None:
    os._exit(3)  # e.g. killed for memory


def _exits_after_the_units_were_sent(job: Any, conn: object) -> None:
    job._conn.close()
    time.sleep(1.5)  # the batches stay unread: the parent's end then reads ECONNRESET, not EOF
    os._exit(9)


@pytest.mark.parametrize(("child", "code"), [(_exits_immediately, 3), (_exits_after_the_units_were_sent, 9)])
def test_a_search_process_that_died_is_reported_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: Callable[..., None], code: int
) -> None:
    from kbgen.build import SearchJob
    from kbgen.config import load_config
    from kbgen.content import LoadOptions, load_library

    config = load_config(None, root=small_site(tmp_path / "p"))
    library = load_library(config.content_path, LoadOptions()).library
    monkeypatch.setattr(SearchJob, "_child", child)
    job = SearchJob(config, workers=2)
    if child is _exits_immediately:
        job._process.join(20)
    with pytest.raises(RuntimeError, match=rf"search indexing process died \(exit code {code}\)"):
        job.submit(library, tmp_path / "staging")
        job.result()
    job.cancel()


def test_workers_end_with_their_parent_even_with_an_inherited_sigterm_handler(tmp_path: Path) -> None:
    """`kbgen serve` turns SIGTERM into KeyboardInterrupt; a pool worker forked from it must still end."""
    import signal

    pids = tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        import os, signal, time
        from concurrent.futures import ProcessPoolExecutor
        import multiprocessing
        from pathlib import Path
        from kbgen.lifetime import die_with_parent

        def stop(*_):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, stop)

        def task(_):
            Path({str(pids)!r}, str(os.getpid())).write_text("")
            time.sleep(120)

        Path({str(pids)!r}).mkdir()
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"),
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            list(pool.map(task, range(4)))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        _wait_for(lambda: pids.exists() and len(list(pids.iterdir())) >= 2, 30)
        workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        _wait_for(lambda: not any(_running(w) for w in workers), 60)
        assert not any(_running(w) for w in workers), "a worker outlived its parent"
    finally:
        proc.kill()


def test_a_body_rendered_again_because_a_link_moved_is_saved_in_the_render_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same render key, new Rendered (the linked article's URL changed): the cache must keep the new one,
    or every later build renders that body again."""
    from kbgen import markdown
    from kbgen.build import BuildOptions, build
    from kbgen.config import load_config

    project = small_site(tmp_path / "p")
    config = load_config(None, root=project)
    build(config, BuildOptions(workers=1))
    faq = project / "content/orders/tracking/faq.md"
    # Its URL changes, its body and place do not (same line count): its own render key stays the same.
    faq.write_text(faq.read_text().replace("updated: 2026-02-01", "slug: faq-two", 1))
    rendered: list[str] = []
    original = markdown.MarkdownRenderer.render

    def counting(self: object, body: str, source: str, *args: object) -> object:
        rendered.append(source)
        return original(self, body, source, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(markdown.MarkdownRenderer, "render", counting)
    build(config, BuildOptions(workers=1))
    assert "orders/tracking/track-an-order.md" in rendered  # it links to the FAQ, whose URL changed
    rendered.clear()
    faq.write_text(faq.read_text() + "\nAnother line.\n")  # nothing the other article depends on
    build(config, BuildOptions(workers=1))
    assert rendered == ["orders/tracking/faq.md"]


def test_a_build_stopped_with_sigterm_leaves_the_site_as_it_was(tmp_path: Path) -> None:
    """`timeout` and CI runners stop a build with SIGTERM: no staging folder, no worker, the old site kept."""
    import signal

    project = small_site(tmp_path / "p")
    run_kbgen("build", cwd=project)
    before = _tree(project / "site")
    started = tmp_path / "started"
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from kbgen.search import index
        from kbgen.cli import main

        index.PARALLEL_UNITS = 1
        def slow_bucket(bucket):
            Path({str(started)!r}).write_text("")
            time.sleep(120)
        index._analyse_bucket = slow_bucket
        sys.argv = ["kbgen", "build"]
        main()
        """
    )
    (project / "content/orders/tracking/faq.md").write_text("---\ntitle: Changed FAQ\n---\n\nNew text.\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=project)
    try:
        _wait_for(started.exists, 60)
        assert started.exists()
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(20) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert sorted(p.name for p in project.iterdir()) == [".kbgen", "content", "site"]
    assert _tree(project / "site") == before


def test_memtrace_prints_each_process_memory_at_each_stage(tmp_path: Path) -> None:
    project = small_site(tmp_path / "p")
    quiet = run_kbgen("build", cwd=project)
    assert "[mem" not in quiet.stderr
    (project / "content/orders/tracking/faq.md").write_text("---\ntitle: Changed\n---\n\nNew.\n")
    traced = run_kbgen("build", cwd=project, env={"KBGEN_MEMTRACE": "1"})
    lines = [line for line in traced.stderr.splitlines() if line.startswith("[mem pid")]
    stages = {line.split("] ", 1)[1].rsplit(": ", 1)[0] for line in lines}
    assert {"build: loaded", "build: rendered", "search: units received", "index: analysed"} <= stages
    assert all(re.search(r": \d+ MB \(peak \d+ MB\)$", line) for line in lines)
    assert len({line.split()[2] for line in lines}) >= 2  # the build process and the search process
