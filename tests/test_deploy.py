"""`[deploy] redirects`: each host's redirect and header file, checked against that host's documented format,
with hostile aliases (spaces, newlines, quotes, `$`, placeholders, non-ASCII); nginx for real when installed."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from conftest import free_port as _free_port
from conftest import run_kbgen
from conftest import wait_for as _wait_for

ALL = ["netlify", "vercel", "azure", "s3", "nginx", "apache"]

# Old URLs as an export or an editor might write them: each must become exactly one redirect, in every file,
# without breaking out of its syntax (no extra rule, header, directive or variable).
HOSTILE = [
    "/hc/en-us/articles/123-Track",
    "/hc/en-us/articles/123",
    "/old page with spaces/",
    '/quote"d/',
    "/dollar$uri/",
    "/place/:splat/*",
    "/café-commande/",
    "/already%20encoded/",
    "/legacy/track.html",
    "/brace{1}(x)+/",
]
# Not plain paths: the loader refuses them (an error at the alias's line), so they never reach a deploy file.
REFUSED = ["/x\n/evil 200\nCache-Control: none", "/query?x=1"]


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def make_site(root: Path, hosts: list[str], aliases: list[str] = HOSTILE, extra: str = "") -> Path:
    write(root, "kbgen.toml", f'title = "Help"\nsite_url = "https://help.example.com"\n{extra}\n[deploy]\nredirects = {json.dumps(hosts)}\n')
    write(root, "content/orders/_index.md", "---\ntitle: Orders\ndescription: All about orders\n---\n")
    write(root, "content/orders/tracking/_index.md", "---\ntitle: Tracking\ndescription: Parcels\n---\n")
    write(
        root,
        "content/orders/tracking/track-an-order.md",
        "---\ntitle: Track an order\ndescription: Where is my parcel?\naliases: "
        + json.dumps(aliases)
        + "\n---\n\nUse the tracking link.\n",
    )
    write(root, "content/orders/tracking/faq.md", "---\ntitle: Tracking FAQ\ndescription: Questions\n---\n\nText.\n")
    return root


TARGET = "/orders/tracking/track-an-order/"


def expected_sources() -> dict[str, str]:
    """Decoded request path → target, for the hostile aliases that are plain paths (the newline one is not)."""
    out = {}
    for a in HOSTILE:
        path = unquote(a)
        if "\n" in path or "?" in path:  # not a path: refused with a warning
            continue
        if path.endswith(".html"):
            out[path] = TARGET
        else:
            out[path.rstrip("/")] = out[path.rstrip("/") + "/"] = TARGET
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = make_site(tmp_path_factory.mktemp("deploy"), ALL)
    proc = run_kbgen("build", cwd=root)
    return root / "site", proc.stdout + proc.stderr


def test_aliases_that_are_not_plain_paths_stop_the_build_before_any_deploy_file(tmp_path: Path) -> None:
    for i, alias in enumerate(REFUSED):
        root = make_site(tmp_path / str(i), ALL, aliases=[*HOSTILE[:2], alias])
        proc = run_kbgen("build", cwd=root, check=False)
        assert proc.returncode == 1
        assert "orders/tracking/track-an-order.md:" in proc.stderr and "alias" in proc.stderr
        assert not (root / "site").exists()


def _assert_one_line_per_rule(text: str) -> None:
    assert "evil" not in text and "Cache-Control: none" not in text


# -- Netlify / Cloudflare: `_redirects` and `_headers` --------------------------------------------------------

# https://docs.netlify.com/routing/redirects/ : one rule a line, `from to [status][!]`, special characters in
# paths URL-encoded, `:name` placeholders and `*` splats in `from`; `#` starts a comment.
REDIRECT_LINE = re.compile(r"(/[A-Za-z0-9/%._~-]*) (/[A-Za-z0-9/%._~-]*) (301!?)")


def _parse_redirects(text: str, status: str) -> dict[str, str]:
    rules = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = REDIRECT_LINE.fullmatch(line)
        assert m, f"not a plain `from to {status}` rule: {line!r}"
        assert m.group(3) == status
        rules[unquote(m.group(1))] = unquote(m.group(2))
    return rules


def test_netlify_redirects_every_old_url_with_a_forced_301(built: tuple[Path, str]) -> None:
    site, _ = built
    text = (site / "_redirects").read_text()
    _assert_one_line_per_rule(text)
    # `!`: Netlify serves an existing file before a redirect, and the meta-refresh page exists.
    assert _parse_redirects(text, "301!") == expected_sources()
    for src in expected_sources():  # the fallback pages are still there
        if "encoded" in src:
            continue  # render.py writes it under its encoded name (site/already%20encoded/): not this module's
        rel = src.strip("/")
        page = site / (rel if rel.endswith(".html") else rel + "/index.html")
        assert page.is_file() and TARGET in page.read_text()


# https://docs.netlify.com/routing/headers/ : a path line, then indented `Name: value` lines.
def _parse_headers(text: str, *, detach: bool) -> dict[str, dict[str, str]]:
    rules: dict[str, dict[str, str]] = {}
    path = None
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if not line.startswith(" "):
            assert re.fullmatch(r"/[A-Za-z0-9/%._~*-]*", line), line
            path = line
            rules[path] = {}
            continue
        assert path is not None
        if detach and re.fullmatch(r"  ! [A-Za-z-]+", line):
            continue
        m = re.fullmatch(r"  ([A-Za-z-]+): ([ -~]+)", line)
        assert m, line
        rules[path][m.group(1)] = m.group(2)
    return rules


def _hashed_search_file(site: Path) -> str:
    (name,) = [p.name for p in (site / "_search").iterdir() if p.name.startswith("bundle.")]
    return name


def _matches(pattern: str, path: str) -> bool:
    return path == pattern or (pattern.endswith("*") and path.startswith(pattern[:-1]))


def test_netlify_headers_cache_search_files_for_a_year_and_its_entry_point_not(built: tuple[Path, str]) -> None:
    site, _ = built
    rules = _parse_headers((site / "_headers").read_text(), detach=False)
    bundle = "/_search/" + _hashed_search_file(site)

    def cache_of(path: str) -> list[str]:
        return [h["Cache-Control"] for p, h in rules.items() if _matches(p, path) and "Cache-Control" in h]

    # Exactly one rule each (Netlify combines the values of every matching rule).
    assert cache_of(bundle) == ["public, max-age=31536000, immutable"]
    assert cache_of("/_search/meta.json") == ["public, max-age=0, must-revalidate"]
    assert cache_of("/static/kb.css") == ["public, max-age=31536000, immutable"]
    assert cache_of("/orders/") == []  # HTML keeps Netlify's default: max-age=0, must-revalidate


def test_cloudflare_writes_plain_301s_and_detaches_its_html_default(tmp_path: Path) -> None:
    root = make_site(tmp_path, ["cloudflare"])
    run_kbgen("build", cwd=root)
    site = root / "site"
    # https://developers.cloudflare.com/pages/configuration/redirects/ : `[source] [destination] [code?]`,
    # codes 301, 302, 303, 307, 308 (no `!`); 1,000 characters a line at most.
    text = (site / "_redirects").read_text()
    assert _parse_redirects(text, "301") == expected_sources()
    assert max(len(line) for line in text.splitlines()) <= 1000
    rules = _parse_headers((site / "_headers").read_text(), detach=True)
    assert rules["/*"] == {"Cache-Control": "public, max-age=0, must-revalidate"}
    prefix = [p for p in rules if p.startswith("/_search/bundle.")]
    assert prefix and rules[prefix[0]]["Cache-Control"].endswith("immutable")
    assert "! Cache-Control" in (site / "_headers").read_text()
    assert not (site / "vercel.json").exists()


def test_netlify_and_cloudflare_together_is_a_config_error(tmp_path: Path) -> None:
    root = make_site(tmp_path, ["netlify", "cloudflare"])
    proc = run_kbgen("build", cwd=root, check=False)
    assert proc.returncode != 0 and "deploy.redirects" in proc.stderr and "_redirects" in proc.stderr
    root2 = make_site(tmp_path / "b", ["netlfy"])
    proc = run_kbgen("build", cwd=root2, check=False)
    assert proc.returncode != 0 and "deploy.redirects[0]" in proc.stderr and "'netlify'" in proc.stderr


# -- Vercel, Azure ---------------------------------------------------------------------------------------

# path-to-regexp (Vercel `source`): these characters are syntax, so a literal one must be escaped/encoded.
PATH_TO_REGEXP_SYNTAX = set(":*?+(){}\\ ")


def test_vercel_json(built: tuple[Path, str]) -> None:
    site, _ = built
    doc = json.loads((site / "vercel.json").read_text())
    # https://vercel.com/docs/project-configuration#redirects : {source, destination, statusCode | permanent}
    assert set(doc) <= {"$schema", "redirects", "headers"}
    got = {}
    for rule in doc["redirects"]:
        assert set(rule) == {"source", "destination", "statusCode"} and rule["statusCode"] == 301
        assert not PATH_TO_REGEXP_SYNTAX & set(rule["source"]), rule["source"]
        got[unquote(rule["source"])] = rule["destination"]
    assert got == expected_sources()
    for h in doc["headers"]:
        assert set(h) == {"source", "headers"}
        assert all(set(kv) == {"key", "value"} for kv in h["headers"])
    by_source = {h["source"]: h["headers"][0]["value"] for h in doc["headers"]}
    html = [s for s in by_source if s.startswith("/((?!")]
    assert html and by_source[html[0]] == "public, max-age=0, must-revalidate"
    assert by_source["/_search/meta.json"] == "public, max-age=0, must-revalidate"


def test_azure_static_web_apps_config(built: tuple[Path, str]) -> None:
    site, _ = built
    doc = json.loads((site / "staticwebapp.config.json").read_text())
    # https://learn.microsoft.com/azure/static-web-apps/configuration : routes[] {route, redirect, statusCode
    # 301|302} or {route, headers}; `*` only as a trailing wildcard; globalHeaders.
    got = {}
    for route in doc["routes"]:
        assert "*" not in route["route"][:-1]
        if "redirect" in route:
            assert set(route) == {"route", "redirect", "statusCode"} and route["statusCode"] == 301
            got[unquote(route["route"])] = route["redirect"]
        else:
            assert set(route) == {"route", "headers"}
    assert got == expected_sources()
    assert doc["globalHeaders"]["Cache-Control"] == "public, max-age=0, must-revalidate"
    # The first matching route wins: the fixed-name entry point is listed before the hashed files.
    routes = [r["route"] for r in doc["routes"]]
    assert routes.index("/_search/meta.json") < routes.index(
        next(r for r in routes if r.startswith("/_search/bundle."))
    )


# -- S3 --------------------------------------------------------------------------------------------------


def test_s3_website_configuration_validates_against_the_aws_api_model(built: tuple[Path, str]) -> None:
    botocore = pytest.importorskip("botocore.session", reason="botocore is in the test extra")
    from botocore.validate import ParamValidator

    site, _ = built
    doc = json.loads((site / ".kbgen-deploy" / "s3-website.json").read_text())
    model = botocore.get_session().get_service_model("s3").operation_model("PutBucketWebsite")
    report = ParamValidator().validate({"Bucket": "help", "WebsiteConfiguration": doc}, model.input_shape)
    assert not report.has_errors(), report.generate_report()
    rules = doc["RoutingRules"]
    assert all(r["Redirect"]["HttpRedirectCode"] == "301" for r in rules)
    assert all(r["Redirect"]["HostName"] == "help.example.com" for r in rules)
    # S3 matches key prefixes: simulate it — the first rule whose prefix starts the key wins.
    files = [p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()]

    def route(key: str) -> str | None:
        for r in rules:
            if key.startswith(r["Condition"]["KeyPrefixEquals"]):
                return "/" + r["Redirect"]["ReplaceKeyWith"]
        return None

    for src in expected_sources():
        if src.endswith("/") or src.endswith(".html"):  # S3 itself sends /x to /x/ when x/index.html exists
            assert route(src.lstrip("/")) == TARGET, src
    # …and no rule catches a real page (the id-only Zendesk URL is a prefix of the slugged one).
    real = [f for f in files if not any(f.startswith(unquote(a).strip("/")) for a in HOSTILE)]
    assert real and all(route(f) is None for f in real)
    assert route("hc/en-us/articles/123-Track/index.html") == TARGET
    assert route("hc/en-us/articles/123/index.html") == TARGET


def test_s3_warns_past_its_50_rule_limit(tmp_path: Path) -> None:
    root = make_site(tmp_path, ["s3"], aliases=[f"/old/{i}/" for i in range(60)])
    proc = run_kbgen("build", cwd=root)
    assert "at most 50 routing rules" in proc.stderr + proc.stdout
    doc = json.loads((root / "site" / ".kbgen-deploy" / "s3-website.json").read_text())
    assert len(doc["RoutingRules"]) == 50


# -- Apache -----------------------------------------------------------------------------------------------

HTACCESS_LINE = re.compile(
    r'(#.*|<IfModule [a-z_]+\.c>|</IfModule>|    RedirectMatch 301 "\^[A-Za-z0-9/_\\x-]*(/\?)?\$" "/[A-Za-z0-9/%._~-]*"'
    r'|    <FilesMatch "[^"]+">|    </FilesMatch>|    </If>|        Header set Cache-Control "[a-z0-9=, -]+"'
    r'|    <If "%\{REQUEST_URI\} =~ m#\^[A-Za-z0-9/_\\x-]*\$?#">)'
)


def test_htaccess_is_only_plain_directives_and_each_regex_matches_exactly_its_old_url(
    built: tuple[Path, str],
) -> None:
    site, _ = built
    text = (site / ".htaccess").read_text()
    rules = {}
    for line in text.splitlines():
        assert HTACCESS_LINE.fullmatch(line), f"unexpected .htaccess line: {line!r}"
        if m := re.fullmatch(r'    RedirectMatch 301 "(.*)" "(.*)"', line):
            rules[m.group(1)] = m.group(2)
    # mod_alias matches the decoded URL path, bytes for bytes (PCRE without UTF: \xHH is one byte).
    for src, target in expected_sources().items():
        raw = src.encode().decode("latin-1")
        hits = [t for rx, t in rules.items() if re.fullmatch(rx, raw)]
        assert hits == [target], src
    assert not any(re.fullmatch(rx, "/orders/tracking/track-an-order/") for rx in rules)


# -- nginx, for real ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx(built: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if exe is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx-light; .ci/run does it)")
    site, _ = built
    tmp = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    deploy = site / ".kbgen-deploy"
    conf = tmp / "nginx.conf"
    conf.write_text(
        textwrap.dedent(f"""\
        daemon off;
        master_process off;
        pid {tmp}/nginx.pid;
        error_log {tmp}/error.log;
        events {{ worker_connections 64; }}
        http {{
            access_log off;
            client_body_temp_path {tmp}/body;
            proxy_temp_path {tmp}/proxy;
            fastcgi_temp_path {tmp}/fastcgi;
            include {deploy}/nginx-map.conf;
            server {{
                listen 127.0.0.1:{port};
                root {site};
                include {deploy}/nginx-server.conf;
            }}
        }}
        """)
    )
    test = subprocess.run([exe, "-t", "-c", str(conf), "-p", str(tmp)], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(tmp)], stderr=subprocess.PIPE)

    def up() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    _wait_for(lambda: up() or proc.poll() is not None, 20)
    assert up(), (tmp / "error.log").read_text() if (tmp / "error.log").exists() else "nginx did not start"
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def _get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def test_nginx_config_passes_nginx_t_and_serves_real_301s(nginx: int, built: tuple[Path, str]) -> None:
    site, _ = built
    for src, target in expected_sources().items():
        resp = _get(nginx, quote(src, safe="/"))
        assert (resp.status, resp.getheader("Location", "").endswith(target)) == (301, True), src
    assert _get(nginx, TARGET).status == 200
    assert _get(nginx, "/orders/").status == 200
    assert _get(nginx, "/hc/en-us/articles/12").status == 404  # a prefix of an old URL is not one
    bundle = _get(nginx, "/_search/" + _hashed_search_file(site))
    assert bundle.status == 200 and bundle.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    meta = _get(nginx, "/_search/meta.json")
    assert meta.status == 200 and meta.getheader("Cache-Control") == "public, max-age=0, must-revalidate"


# -- renamed URLs ------------------------------------------------------------------------------------------


def test_a_renamed_article_keeps_its_old_url_as_a_301(tmp_path: Path) -> None:
    root = make_site(tmp_path, ["netlify"], aliases=[])
    page = root / "content/orders/tracking/faq.md"
    page.write_text("---\ntitle: Tracking FAQ\ndescription: Questions\nid: tracking-faq\n---\n\nText.\n")
    run_kbgen("build", cwd=root)
    assert _parse_redirects((root / "site/_redirects").read_text(), "301!") == {}
    page.write_text(
        "---\ntitle: Tracking FAQ\ndescription: Questions\nid: tracking-faq\nslug: questions\n---\n\nText.\n"
    )
    run_kbgen("build", cwd=root)
    rules = _parse_redirects((root / "site/_redirects").read_text(), "301!")
    assert rules == {
        "/orders/tracking/faq": "/orders/tracking/questions/",
        "/orders/tracking/faq/": "/orders/tracking/questions/",
    }
    fallback = root / "site/orders/tracking/faq/index.html"
    assert "/orders/tracking/questions/" in fallback.read_text()


# -- the GitHub Pages workflow ------------------------------------------------------------------------------

WORKFLOW = Path(__file__).resolve().parent.parent / "docs" / "deploy" / "github-pages.yml"


def _workflow() -> dict:
    import yaml

    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def test_github_pages_workflow_is_a_valid_pages_deployment() -> None:
    doc = _workflow()
    assert set(doc) == {"name", "on", "permissions", "concurrency", "jobs"}
    assert doc["on"]["push"]["branches"] == ["main"]
    # https://docs.github.com/pages (custom workflows): pages: write and id-token: write for deploy-pages.
    assert doc["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = doc["jobs"]["build"], doc["jobs"]["deploy"]
    for job in (build, deploy):
        assert job["runs-on"] == "ubuntu-latest"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step  # a step either runs a command or uses an action
            assert set(step) <= {"id", "name", "uses", "with", "run", "env"}, step
    uses = [s["uses"].split("@")[0] for s in build["steps"] if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/configure-pages", "actions/upload-pages-artifact"]
    assert build["steps"][-1]["with"]["path"] == "site"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")


@pytest.mark.parametrize("base_path", ["/help-repo", ""])
def test_github_pages_workflow_build_step_builds_the_site(
    tmp_path: Path, sample_project: Path, base_path: str
) -> None:
    import os
    import sys

    (step,) = [s for s in _workflow()["jobs"]["build"]["steps"] if s.get("name") == "Build"]
    project = tmp_path / "help"
    shutil.copytree(sample_project / "content", project / "content")
    shutil.copy(sample_project / "kbgen.toml", project / "kbgen.toml")
    env = dict(os.environ, BASE_PATH=base_path, SOURCE_DATE_EPOCH="1790000000")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]  # where `pip install` put kbgen
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    home = (project / "site" / "index.html").read_text()
    assert f'href="{base_path}/static/kb.css?v=' in home
    assert (project / "site" / "_search" / "meta.json").is_file()
