"""The newcomer path: the README's commands as a new user copies them, consistent options with help text,
`kbgen report` before any analytics, packaging metadata, and the commands that run without `rich`."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
from conftest import ROOT, run_kbgen
from conftest import wait_for as _wait_for

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(section: str) -> list[str]:
    """The ```sh blocks of one `## section` of the README."""
    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", body, re.S)


def test_start_your_own_help_centre_works_as_copied(tmp_path: Path) -> None:
    """After the quick start (the checkout and its .venv), the next block, line by line, in one shell."""
    (block,) = [b for b in _blocks("Quick start") if "kbgen init" in b]
    checkout = tmp_path / "kbgen"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent)  # the quick start's venv
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # a fresh terminal: kbgen is not on it
    env.update(SOURCE_DATE_EPOCH="1790000000", NO_COLOR="1")
    shell = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=checkout, env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    assert shell.stdin and shell.stdout
    log = tmp_path / "serve.log"

    def run(line: str) -> str:
        shell.stdin.write(f"{line}\necho \"__rc=$?\"\n")  # type: ignore[union-attr]
        shell.stdin.flush()  # type: ignore[union-attr]
        out = []
        for got in shell.stdout:  # type: ignore[union-attr]
            if got.startswith("__rc="):
                assert got.strip() == "__rc=0", f"`{line}` failed:\n{''.join(out)}"
                return "".join(out)
            out.append(got)
        raise AssertionError(f"shell ended during `{line}`")

    serving: list[int] = []
    try:
        run("set -m")  # job control, as in a terminal: a background job gets Ctrl-C (SIGINT) too
        for line in block.strip().splitlines():
            command = line.split("#", 1)[0].strip()
            if command == "kbgen serve":  # runs until Ctrl-C: start it, load the page, press Ctrl-C
                pid = run(f"{command} >{log} 2>&1 & echo $!").strip()
                serving.append(int(pid))
                _wait_for(lambda: "http://" in log.read_text() if log.exists() else False, 120)
                url = re.search(r"http://[A-Za-z0-9.:-]+", log.read_text())
                assert url, log.read_text()
                parts = urlsplit(url.group(0))

                def home_status(parts=parts) -> int:  # type: ignore[no-untyped-def]
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                    try:
                        conn.request("GET", "/")
                        return conn.getresponse().status
                    finally:
                        conn.close()

                _wait_for(lambda: home_status() != 503, 120)  # 503 while the first build runs
                assert home_status() == 200
                os.kill(int(pid), signal.SIGINT)
                run(f"wait {pid}; test $? -eq 130 -o $? -eq 0 -o $? -eq 1")
                serving.remove(int(pid))
            else:
                run(command)
        home = tmp_path / "my-help" / "site" / "index.html"
        assert home.is_file()
    finally:
        for pid in serving:  # a failed step must not leave the server running
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        shell.stdin.close()
        shell.wait(timeout=60)


def test_readme_install_commands_exist() -> None:
    """No command that cannot work: kbgen is not on PyPI, so no `pip install 'kbgen[...]'`."""
    assert "pip install 'kbgen[" not in README and 'pip install "kbgen[' not in README
    assert "pipx install ." in README and "pip install -q -e '.[collector]'" in README
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "collector" in extras


# -- options ----------------------------------------------------------------------------------------------


def _commands() -> dict[str, click.Command]:
    from kbgen.cli import cli

    ctx = click.Context(cli)
    return {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}  # type: ignore[misc]


def test_every_option_has_help_and_config_is_always_c_config() -> None:
    missing, config = [], {}
    for name, cmd in _commands().items():
        assert cmd is not None, name
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden and not param.help:
                missing.append(f"kbgen {name} {param.opts[0]}")
            if isinstance(param, click.Option) and "--config" in param.opts:
                config[name] = sorted(param.opts)
    assert missing == []
    # Every command that reads kbgen.toml takes -c/--config.
    assert {n for n in _commands() if n != "init"} <= set(config), config
    assert all(opts == ["--config", "-c"] for opts in config.values()), config


def test_report_before_any_analytics_explains_how_to_add_a_source(tmp_path: Path) -> None:
    run_kbgen("init", "help", cwd=tmp_path)
    proc = run_kbgen("report", cwd=tmp_path / "help", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "kbgen collect --db analytics.sqlite" in proc.stdout
    assert 'sources = [{type = "plausible"' in proc.stdout and "--source collector:" in proc.stdout


# -- packaging -----------------------------------------------------------------------------------------------


def test_pyproject_urls_classifiers_and_spdx_licence() -> None:
    trove = pytest.importorskip("trove_classifiers", reason="in the test extra")
    from packaging.licenses import canonicalize_license_expression

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert canonicalize_license_expression(project["license"]) == project["license"] == "MIT"
    assert all((ROOT / f).is_file() for f in project["license-files"])
    assert set(project["classifiers"]) <= trove.classifiers, set(project["classifiers"]) - trove.classifiers
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]  # PEP 639: the expression only
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(project["urls"])
    assert all(u.startswith("https://") for u in project["urls"].values())


def test_built_metadata_carries_the_licence_expression(tmp_path: Path) -> None:
    code = (
        "import sys, setuptools.build_meta as b; "
        f"print(b.prepare_metadata_for_build_wheel({str(tmp_path)!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    meta = (tmp_path / proc.stdout.strip().splitlines()[-1] / "METADATA").read_text()
    assert "License-Expression: MIT" in meta and "Project-URL: Source, https://" in meta
    assert "Classifier: Topic :: Text Processing :: Markup :: Markdown" in meta


# -- rich only where it is used -------------------------------------------------------------------------------


def test_build_check_new_and_init_run_without_rich(tmp_path: Path) -> None:
    blocked = (
        "import sys; sys.modules['rich'] = None; "  # `import rich` now raises ImportError
        "from kbgen.cli import main; sys.argv = ['kbgen', *sys.argv[1:]]; main()"
    )
    env = dict(os.environ, SOURCE_DATE_EPOCH="1790000000")

    def kb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", blocked, *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    assert kb("init", "help", cwd=tmp_path).returncode == 0
    project = tmp_path / "help"
    assert kb("new", "article", "Reset a password", "--in", "account/security", cwd=project).returncode == 0
    check = kb("check", "--strict", cwd=project)
    assert check.returncode == 1 and "placeholder" in check.stdout and "rich" not in check.stderr
    import shutil

    shutil.rmtree(project / "content" / "account")
    build = kb("build", cwd=project)
    assert build.returncode == 0, build.stderr
    # An error message is printed as written, [brackets] included (rich would have read them as markup).
    (project / "kbgen.toml").write_text("[check]\nstale_after = 0\n")
    bad = kb("build", cwd=project)
    assert bad.returncode == 1 and "`check.stale_after`" in bad.stderr
