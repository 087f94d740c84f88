"""Analytics data, config values and file names are hostile at every sink: the terminal, the report's HTML,
the theme's CSS and URLs, and the importers' memory and stack."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, run_kbgen, wait_for
from test_analytics_importers import make_collector_db, sample_events

from kbgen.analytics.importers import MAX_JSON_DEPTH, MAX_ROWS, MAX_SOURCE_BYTES, MAX_ZIP_BYTES, read_source
from kbgen.analytics.report import Report, render_html
from kbgen.config import config_from_dict
from kbgen.errors import ConfigError

# What a terminal must never receive from data: ESC (CSI, OSC 8 hyperlinks, title changes), the 8-bit CSI
# and OSC, BEL, other C0/C1 controls and bidi overrides/isolates.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

HOSTILE_QUERIES = [
    "[/b]",
    "[bold red]alarm",
    "[link=https://evil.example]click me[/link]",
    "where is [/] my order",
    "\x1b]8;;https://evil.example\x07innocent\x1b]8;;\x07",
    "\x1b[2J\x1b[31mscreen wiped",
    "\x9b31m eight-bit csi",
    "\x9d0;title\x9c",
    "invoice\u202etxt.exe",
    "bell\x07 and backspace\x08",
]
HOSTILE_PATHS = ["/[/b]", "/old/[bold red]x", "/a\x1b]8;;https://evil.example\x07b", "/r\u2066tl\u2069"]


def project(tmp_path: Path, extra_toml: str = "") -> Path:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    events = sample_events()
    events += [{"name": "search", "page": "/", "query": q, "results": 3} for q in HOSTILE_QUERIES]
    events += [{"name": "search_no_results", "page": "/", "query": q} for q in HOSTILE_QUERIES]
    events += [{"name": "page_view", "page": p} for p in HOSTILE_PATHS]
    events += [{"name": "contact_click", "page": "/", "channel": "[/b]\x1b[5mblink"}]
    make_collector_db(tmp_path / "analytics.sqlite", events)
    (tmp_path / "terms.csv").write_text(
        "query,count\n" + "".join(f'"{q}",7\n' for q in HOSTILE_QUERIES) + '"[/i] bad row",lots\n',
        encoding="utf-8",
    )
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8") + extra_toml
    toml += (
        "\n[analytics]\nsources = [\n"
        '  {type = "collector", path = "analytics.sqlite"},\n'
        '  {type = "csv", path = "terms.csv"},\n'
        '  {type = "csv", path = "missing-\\u001b]8;;https://evil.example\\u0007[/b].csv"},\n'
        "]\n"
    )
    (tmp_path / "kbgen.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def assert_clean(text: str) -> None:
    found = sorted({repr(c) for c in CONTROL.findall(text)})
    assert not found, f"terminal controls reached the terminal: {found}"
    assert "Traceback" not in text and "MarkupError" not in text


# -- 1. the terminal --------------------------------------------------------------------------------------


def test_report_prints_hostile_analytics_as_plain_text(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = run_kbgen("report", "--html", "r.html", "--top", "50", cwd=root, check=False)
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc.stdout)
    assert_clean(proc.stderr)
    # Shown as typed, not taken as markup (rich would have eaten or choked on these).
    for text in ("[/b]", "[bold red]alarm", "[link=https://evil.example]click me[/link]", "where is [/] my order"):
        assert text in proc.stdout, text
    assert "innocent" in proc.stdout and "screen wiped" in proc.stdout and "invoicetxt.exe" in proc.stdout
    assert "/old/[bold red]x" in proc.stdout  # an address that matched no page
    assert "missing-[/b].csv" in proc.stdout  # a file name in a warning: the OSC 8 link is gone, the text stays
    assert "[/i] bad row" in proc.stdout  # the skipped row, quoted in the source's warning
    page = (root / "r.html").read_text(encoding="utf-8")
    assert "[/b]" in page and "[bold red]alarm" in page


def test_build_warnings_about_analytics_carry_no_terminal_controls(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = run_kbgen("build", cwd=root, check=False)
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc.stdout)
    assert_clean(proc.stderr)
    assert "matched no page, e.g. /[/b] (1)" in proc.stderr
    assert "analytics source not found: missing-[/b].csv" in proc.stderr
    assert "got '[/i] bad row,lots'" in proc.stderr


@pytest.mark.parametrize("command", ["build", "report", "check"])
@pytest.mark.parametrize(
    ("toml", "shown"),
    [
        ('"[/red]\\u001b]8;;https://evil.example\\u0007x" = 1\n', "unknown key `[/red]x`"),
        ('base_url = "/[/red]\\u001b[2J"\n', "`base_url`"),
    ],
)
def test_config_errors_with_markup_and_controls_are_printed_as_text(
    tmp_path: Path, command: str, toml: str, shown: str
) -> None:
    (tmp_path / "kbgen.toml").write_text(toml)
    proc = run_kbgen(command, cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert shown in proc.stderr
    assert_clean(proc.stderr)


def test_file_names_in_build_errors_carry_no_terminal_controls(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copy(ROOT / "kbgen.toml", tmp_path / "kbgen.toml")
    bad = tmp_path / "content" / "en" / "orders" / "evil\x1b]8;;https:__evil.example\x07[bold red]name.md"
    bad.write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    # A file name holding control characters is skipped with a warning (an error with --strict), named as text.
    proc = run_kbgen("build", "--strict", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "[bold red]name.md" in proc.stderr
    assert_clean(proc.stderr)


# -- 2. config values that reach CSS, HTML and JS ----------------------------------------------------------

XSS = '"><script>alert(1)</script>'
HOSTILE_CONFIG = [
    ({"brand": {"brand_color": "#000}</style><script>alert(1)</script>"}}, "brand.brand_color"),
    ({"brand": {"brand_color": "red;background:url(https://evil.example/x)"}}, "brand.brand_color"),
    ({"brand": {"accent_color": "#fff}body{display:none"}}, "brand.accent_color"),
    ({"brand": {"accent_color": "expression(alert(1))"}}, "brand.accent_color"),
    ({"brand": {"logo": "javascript:alert(1)"}}, "brand.logo"),
    ({"brand": {"logo": "logo.svg" + XSS}}, "brand.logo"),
    ({"brand": {"favicon": "data:text/html,<script>alert(1)</script>"}}, "brand.favicon"),
    ({"site_url": "https://help.example.com/" + XSS}, "site_url"),
    ({"site_url": "javascript://help.example.com/%0aalert(1)"}, "site_url"),
    ({"base_url": "/help/" + XSS}, "base_url"),
    ({"base_url": "/help/\u202e/"}, "base_url"),
    ({"language": 'en" onload="alert(1)'}, "language"),
    ({"footer_links": [{"title": "x", "url": "javascript://x/%0aalert(1)"}]}, "footer_links[0].url"),
    ({"footer_links": [{"title": "x", "url": "java\tscript:alert(1)"}]}, "footer_links[0].url"),
    ({"footer_links": [{"title": "x", "url": "data:text/html,hi"}]}, "footer_links[0].url"),
    ({"contact": {"chat_url": "javascript:alert(1)"}}, "contact.chat_url"),
    ({"contact": {"form_url": "vbscript:msgbox"}}, "contact.form_url"),
    ({"contact": {"messenger_url": "https://m.me/x" + XSS}}, "contact.messenger_url"),
    ({"contact": {"email": 'help@example.com"><script>'}}, "contact.email"),
    ({"contact": {"phone": "+44 20<script>"}}, "contact.phone"),
    ({"analytics": {"plausible": {"domain": "x.com", "src": "javascript:alert(1)"}}}, "analytics.plausible.src"),
    ({"analytics": {"plausible": {"domain": "x.com", "api_host": "https://a" + XSS}}}, "analytics.plausible.api_host"),
    ({"analytics": {"plausible": {"domain": 'x.com" onload="alert(1)'}}}, "analytics.plausible.domain"),
    ({"analytics": {"ga4": {"measurement_id": "G-1');alert(1)//"}}}, "analytics.ga4.measurement_id"),
    ({"analytics": {"matomo": {"url": "https://m.example/" + XSS, "site_id": 1}}}, "analytics.matomo.url"),
    ({"analytics": {"matomo": {"url": "https://m.example/", "site_id": "1';alert(1)//"}}}, "analytics.matomo.site_id"),
    ({"analytics": {"umami": {"website_id": 'abc" onload="alert(1)'}}}, "analytics.umami.website_id"),
    ({"analytics": {"umami": {"website_id": "abc", "src": "data:text/javascript,alert(1)"}}}, "analytics.umami.src"),
    ({"analytics": {"beacon": {"url": "/collect" + XSS}}}, "analytics.beacon.url"),
    ({"analytics": {"beacon": {"url": "https:evil"}}}, "analytics.beacon.url"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "key"), HOSTILE_CONFIG, ids=[k for _, k in HOSTILE_CONFIG])
def test_hostile_config_values_are_refused_with_the_key_named(tmp_path: Path, data: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"`{key}`")):
        config_from_dict(data, tmp_path)


def test_ordinary_config_values_are_accepted(tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "base_url": "https://example.com/help/",
            "site_url": "https://help.example.com",
            "language": "pt-BR",
            "brand": {"brand_color": "rgb(11 92 173 / 90%)", "accent_color": "teal", "logo": "static/logo.svg",
                      "favicon": "data:image/svg+xml;base64,PHN2Zy8+"},
            "footer_links": [{"title": "a", "url": "mailto:help@example.com"}, {"title": "b", "url": "/privacy/"},
                             {"title": "c", "url": "tel:+442079460958"}, {"title": "d", "url": "https://x.example/?a=1&b=2#c"}],
            "contact": {"email": "help+eu@example.co.uk", "phone": "+1 (555) 123-4567", "chat_url": "/chat/"},
            "analytics": {
                "plausible": {"domain": "a.example,b.example", "src": "/js/pa.js", "api_host": "https://p.example"},
                "ga4": {"measurement_id": "G-ABC123"},
                "matomo": {"url": "https://matomo.example/", "site_id": 3},
                "umami": {"website_id": "4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b", "src": "https://u.example/s.js"},
                "beacon": {"url": "/collect"},
            },
        },
        tmp_path,
    )  # fmt: skip
    assert config.brand.accent_color == "teal"


def test_build_and_report_refuse_a_hostile_brand_colour(tmp_path: Path) -> None:
    root = project(tmp_path)
    toml = (root / "kbgen.toml").read_text(encoding="utf-8")
    toml = re.sub(r'brand_color = "[^"]*"', 'brand_color = "#000}</style><script>alert(1)</script>"', toml)
    assert "<script>" in toml
    (root / "kbgen.toml").write_text(toml, encoding="utf-8")
    for args in (("build",), ("report", "--html", "r.html")):
        proc = run_kbgen(*args, cwd=root, check=False)
        assert proc.returncode != 0 and "`brand.brand_color`" in proc.stderr, args
    assert not (root / "site").exists() and not (root / "r.html").exists()


@pytest.mark.parametrize(
    "color",
    ["#000}</style><script>alert(1)</script>", "#fff;}body{display:none", "red</style><img src=x onerror=alert(1)>"],
)
def test_report_html_never_puts_a_hostile_colour_in_its_style(color: str) -> None:
    rep = Report(title="<b>t</b>", generated="now", period=(None, None), sources=[], totals={
        "article_views": 0, "all_views": 0, "searches": 0, "no_result_searches": 0, "no_result_rate": None,
        "helpful_rate": None, "votes": 0, "contacts": 0, "contact_rate": None, "articles_viewed": 0,
    }, brand_color=color)  # fmt: skip
    page = render_html(rep)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style and "--brand:#0b5cad;" in style.group(1)
    assert "<script" not in page and "<img" not in page and "display:none" not in page
    assert page.count("</style>") == 1 and "<b>t</b>" not in page


# -- 4. the HTML file before the terminal ------------------------------------------------------------------


def test_report_html_is_written_when_the_pipe_is_closed_before_anything_is_printed(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = dict(os.environ, NO_COLOR="1", COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbgen", "report", "--html", "r.html"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # `| head -0`: the reader is gone before the first line
    _, err = proc.communicate(timeout=300)
    page = (root / "r.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>") and "Top searches" in page
    # No traceback; the exit status is rich's for a closed pipe (1), as `set -o pipefail` expects of a
    # writer whose reader left.
    assert b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception ignored" not in err, err


def test_report_html_is_written_through_head(tmp_path: Path) -> None:
    root = project(tmp_path)
    cmd = f"{sys.executable} -m kbgen report --html r.html --top 500 | head -n 1"
    proc = subprocess.run(["bash", "-c", cmd], cwd=root, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, NO_COLOR="1", COLUMNS="120"))  # fmt: skip
    assert proc.stdout.count("\n") == 1 and "analytics report" in proc.stdout
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
    assert (root / "r.html").read_text(encoding="utf-8").rstrip().endswith("</html>")


# -- 3. bombs: decompressed size, file size, rows, nesting -------------------------------------------------

MB = 2**20
PAGES_HEADER = b"name,visitors,pageviews,bounce_rate,time_on_page\n"


def write_zip(path: Path, members: dict[str, tuple[bytes, int]]) -> None:
    """A ZIP whose member `name` holds the header and then `row` repeated to `size` bytes, written as a
    stream: the test never holds the decompressed data."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, (row, size) in members.items():
            block = row * (MB // len(row))
            with zf.open(name, "w", force_zip64=True) as fh:
                fh.write(PAGES_HEADER)
                for _ in range(size // len(block) + 1):
                    fh.write(block)


def peak_rss_mb(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `kbgen *args` in a fresh parent and return it with the largest resident set of any of its
    processes (the build's workers included), in MB."""
    probe = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, '-m', 'kbgen', *sys.argv[1:]], capture_output=True, text=True)\n"
        "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
        "print(f'PEAK {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n"
        "sys.exit(p.returncode)\n"
    )
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200", SOURCE_DATE_EPOCH="1790000000")
    proc = subprocess.run([sys.executable, "-c", probe, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    peak = re.search(r"PEAK (\d+)", proc.stdout)
    assert peak, proc.stdout + proc.stderr
    return proc, int(peak.group(1)) / 1024


def bomb_project(tmp_path: Path, sources: str) -> Path:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    toml = (ROOT / "kbgen.toml").read_text(encoding="utf-8") + f"\n[analytics]\nsources = [{sources}]\n"
    (tmp_path / "kbgen.toml").write_text(toml, encoding="utf-8")
    (tmp_path / "exports").mkdir()
    return tmp_path


def test_a_zip_bomb_is_not_unpacked_by_the_build_or_the_report(tmp_path: Path) -> None:
    # The reported case: a ~1.8 MB ZIP holding a 600 MB pages.csv.
    root = bomb_project(tmp_path, '{type = "plausible", path = "exports/bomb.zip"}')
    row = b"/orders/tracking/track-your-order/,12,34,50%,1m 2s\n"
    write_zip(root / "exports" / "bomb.zip", {"pages.csv": (row, 600 * MB)})
    assert (root / "exports" / "bomb.zip").stat().st_size < 3 * MB
    for args in (["build"], ["report", "--html", "r.html"]):
        proc, peak = peak_rss_mb(args, root)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout + proc.stderr
        assert "exports/bomb.zip" in out and "'pages.csv' decompresses to more than the 64 MB limit" in out
        assert peak < 600, f"kbgen {args[0]} grew to {peak:.0f} MB"
    assert (root / "site" / "index.html").exists() and (root / "r.html").exists()


def test_zip_members_are_capped_in_total(tmp_path: Path) -> None:
    per_member = MAX_ZIP_BYTES // 2 - MB  # each under the per-file limit, three over the ZIP's
    assert per_member < MAX_SOURCE_BYTES
    wide = b"/orders/" + b"x" * 4000 + b",1,1,50%,1s\n"  # few rows: the byte limit, not the row limit
    write_zip(
        tmp_path / "export.zip",
        {
            "imported_pages_1.csv": (b"/orders/one" + wide, per_member),
            "imported_pages_2.csv": (b"/orders/two" + wide, per_member),
            "pages.csv": (b"/orders/three" + wide, per_member),
        },
    )
    result = read_source({"type": "plausible", "path": "export.zip"}, tmp_path)
    messages = [p.message for p in result.problems]
    assert any("'pages.csv' decompresses to more than the 128 MB limit for one ZIP" in m for m in messages)
    assert result.rows > 0 and result.stats.views  # the first two members still count
    assert str(result.problems[0]).startswith("export.zip: warning: plausible: ZIP member")


def test_a_plain_export_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    root = bomb_project(tmp_path, '{type = "csv", path = "exports/huge.csv"}')
    with (root / "exports" / "huge.csv").open("wb") as fh:
        fh.write(b"path,views\n")
        block = b"/orders/tracking/track-your-order/,1\n" * 30_000
        while fh.tell() <= MAX_SOURCE_BYTES:
            fh.write(block)
    proc, peak = peak_rss_mb(["build"], root)
    assert proc.returncode == 0, proc.stderr
    assert "exports/huge.csv: warning: csv: the file is larger than the 64 MB limit" in proc.stderr
    assert peak < 600, f"kbgen build grew to {peak:.0f} MB"


def test_rows_past_the_limit_are_not_counted(tmp_path: Path) -> None:
    n = MAX_ROWS + 50_000
    (tmp_path / "many.csv").write_bytes(b"path,views\n" + b"/a,1\n" * n)
    result = read_source({"type": "csv", "path": "many.csv"}, tmp_path)
    assert result.stats.views[("path", "/a")] < n
    assert any(f"more than {MAX_ROWS:,} rows" in p.message for p in result.problems)
    assert all(p.path == "many.csv" for p in result.problems)


def deep(n: int, kind: str) -> bytes:
    return (b"[" * n + b"]" * n) if kind == "array" else (b'{"a":' * n + b"1" + b"}" * n)


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("source", ["matomo", "umami"])
def test_a_100k_deep_json_export_is_a_warning(tmp_path: Path, source: str, kind: str) -> None:
    (tmp_path / "deep.json").write_bytes(deep(100_000, kind))
    result = read_source({"type": source, "path": "deep.json"}, tmp_path)
    assert [str(p) for p in result.problems] == [
        f"deep.json: warning: {source}: the JSON is nested too deep to read "
        "(an analytics export nests a few levels): not counted"
    ]


def test_deeply_nested_rows_in_parseable_json_are_skipped(tmp_path: Path) -> None:
    # Matomo subtables 300 deep (600 JSON levels: json parses it), and umami items holding deep values.
    tree: object = [{"label": "leaf", "nb_hits": 1}]
    for _ in range(300):
        tree = [{"label": "d", "subtable": tree}]
    payload = json.dumps([{"label": "/top", "nb_hits": 5}, *tree])  # type: ignore[misc]
    (tmp_path / "matomo.json").write_text(payload)
    result = read_source({"type": "matomo", "path": "matomo.json"}, tmp_path)
    assert result.stats.views[("path", "/top")] == 5
    assert any(f"nested more than {MAX_JSON_DEPTH} deep" in p.message for p in result.problems)
    value: object = 1
    for _ in range(450):
        value = [value]
    (tmp_path / "umami.json").write_text(json.dumps([{"x": "/a", "y": 2}, {"x": value, "y": value}]))
    result = read_source({"type": "umami", "path": "umami.json"}, tmp_path)
    assert result.stats.views[("path", "/a")] == 2 and result.skipped == 1
    assert len(str(result.problems[0])) < 300


def test_the_build_survives_a_deep_json_export(tmp_path: Path) -> None:
    root = bomb_project(tmp_path, '{type = "matomo", path = "exports/deep.json"}')
    (root / "exports" / "deep.json").write_bytes(deep(100_000, "array"))
    proc = run_kbgen("build", cwd=root, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "exports/deep.json: warning: matomo: the JSON is nested too deep to read" in proc.stderr


def test_front_matter_and_file_names_reach_search_and_check_output_without_controls(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copy(ROOT / "kbgen.toml", tmp_path / "kbgen.toml")
    name = "zebra-[bold]-guide.md"  # markup in the name (a name with control characters is not published)
    (tmp_path / "content" / "en" / "orders" / name).write_text(
        '---\ntitle: "Zebra \\e]8;;https://evil.example\\aguide\\e]8;;\\a \\e[2J[bold]striped\\u202e"\n'
        "---\nZebra parcels are striped.\n",  # no description: `kbgen check` names the file
        encoding="utf-8",
    )
    run_kbgen("build", cwd=tmp_path)
    proc = run_kbgen("search", "zebra", cwd=tmp_path)
    assert "Zebra guide [bold]striped" in proc.stdout
    assert_clean(proc.stdout + proc.stderr)
    proc = run_kbgen("check", cwd=tmp_path, check=False)
    assert "-[bold]-guide.md" in proc.stdout + proc.stderr
    assert_clean(proc.stdout + proc.stderr)


def test_serve_prints_hostile_file_names_without_controls(tmp_path: Path) -> None:
    from test_serve import Served, make_project

    server = Served(make_project(tmp_path))
    try:
        server.drain()
        bad = server.project / "content" / "orders" / "tracking" / "new\x1b]8;;https:__evil.example\x07[bold]\x1b[2J.md"
        bad.write_text('---\ntitle: "broken [\n---\ntext\n', encoding="utf-8")  # an error naming the file
        # Wait for the terminal line that names the file (a status event may arrive before serve's output
        # has been read, so waiting on events and then reading the output can miss it).
        assert wait_for(lambda: "[bold].md" in server.output() and "error" in server.output(), 60), server.output()
        shown = server.output()
        assert "[bold].md" in shown and "error" in shown
        assert_clean(shown)
    finally:
        server.stop()
