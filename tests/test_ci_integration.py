"""CI integration: `kbgen check --strict` and its unfinished-content rules, the composite Action's steps run
as GitHub runs them (bash -eo pipefail, inputs through the environment), and the pre-commit hook manifest."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_kbgen


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def clean_project(root: Path) -> Path:
    write(root, "content/orders/_index.md", '---\ntitle: Orders\ndescription: "Orders and delivery."\n---\n')
    write(root, "content/orders/tracking/_index.md", '---\ntitle: Tracking\ndescription: "Parcels."\n---\n')
    write(
        root,
        "content/orders/tracking/track.md",
        '---\ntitle: Track an order\ndescription: "Where is my parcel?"\nupdated: 2026-09-01\n---\n\n'
        "Open the link in your confirmation email.\n",
    )
    return root


def _json_check(root: Path, *args: str) -> tuple[int, list[dict[str, object]]]:
    proc = run_kbgen("check", "--format", "json", *args, cwd=root, check=False)
    return proc.returncode, json.loads(proc.stdout)


# -- check: unfinished content, --strict ---------------------------------------------------------------------


def test_check_flags_what_kbgen_new_wrote_until_it_is_replaced(tmp_path: Path) -> None:
    clean_project(tmp_path)
    for kind, title in (("article", "Change your address"), ("faq", "Address questions"), ("howto", "Move a delivery")):
        run_kbgen("new", kind, title, "--in", "orders/changes", cwd=tmp_path)
    code, found = _json_check(tmp_path)
    assert code == 0  # a warning: a fresh article builds; `--strict` (CI) stops it being published
    assert _json_check(tmp_path, "--strict")[0] == 1
    placeholders = {(f["path"], f["level"]) for f in found if f["rule"] == "placeholder"}
    assert placeholders == {
        ("content/orders/changes/change-your-address.md", "warning"),
        ("content/orders/changes/address-questions.md", "warning"),
        ("content/orders/changes/move-a-delivery.md", "warning"),
    }
    first = next(f for f in found if f["rule"] == "placeholder" and "change-your" in str(f["path"]))
    assert first["line"] == 9 and "Start with one or two sentences" in str(first["message"])
    # …and the folder `kbgen new` created has an empty description.
    empty = [f for f in found if f["rule"] == "empty-description"]
    assert [(f["path"], f["line"], f["level"]) for f in empty] == [("content/orders/changes/_index.md", 3, "warning")]
    # Rewritten by an editor: nothing left to flag there.
    for path in (tmp_path / "content/orders/changes").glob("*.md"):
        if path.name != "_index.md":
            text = path.read_text()
            path.write_text(text[: text.index("---", 3) + 4].replace('description: ""', 'description: "Done."')
                            + "\nA real answer, written by the support team.\n\n## Steps\n\n1. Open the order.\n")  # fmt: skip
    code, found = _json_check(tmp_path)
    assert not [f for f in found if f["rule"] == "placeholder"]


def test_check_flags_future_updated_dates(tmp_path: Path) -> None:
    clean_project(tmp_path)
    write(tmp_path, "content/orders/tracking/later.md",
          '---\ntitle: Later\ndescription: "Soon."\nupdated: 2030-01-01\n---\n\nText.\n')  # fmt: skip
    _, found = _json_check(tmp_path)  # tests run on SOURCE_DATE_EPOCH: 2026-09-21
    future = [f for f in found if f["rule"] == "future-date"]
    assert [(f["path"], f["line"], f["level"]) for f in future] == [
        ("content/orders/tracking/later.md", 4, "warning")
    ]
    assert "2030-01-01" in str(future[0]["message"]) and "2026-09-21" in str(future[0]["message"])


def test_check_flags_an_index_file_without_a_description(tmp_path: Path) -> None:
    clean_project(tmp_path)
    write(tmp_path, "content/Billing Help/_index.md", "---\ntitle: Billing\n---\n")
    write(tmp_path, "content/Billing Help/invoices.md", '---\ntitle: Invoices\ndescription: "Get one."\n---\n\nText.\n')
    write(tmp_path, "content/Returns/refunds.md", '---\ntitle: Refunds\ndescription: "Money back."\n---\n\nText.\n')
    _, found = _json_check(tmp_path)
    empty = [(f["path"], f["line"]) for f in found if f["rule"] == "empty-description"]
    assert empty == [("content/Billing Help/_index.md", 1)]  # a folder without _index.md is left alone


def test_strict_fails_on_warnings_and_only_then(tmp_path: Path) -> None:
    clean_project(tmp_path)
    assert run_kbgen("check", cwd=tmp_path, check=False).returncode == 0
    assert run_kbgen("check", "--strict", cwd=tmp_path, check=False).returncode == 0
    write(tmp_path, "content/orders/tracking/later.md",
          '---\ntitle: Later\ndescription: "Soon."\nupdated: 2030-01-01\n---\n\nText.\n')  # fmt: skip
    assert run_kbgen("check", cwd=tmp_path, check=False).returncode == 0
    strict = run_kbgen("check", "--strict", "--format", "github", cwd=tmp_path, check=False)
    assert strict.returncode == 1
    assert strict.stdout.startswith("::warning file=content/orders/tracking/later.md,line=4,title=future-date::")


# -- the composite Action -------------------------------------------------------------------------------------

ACTION = ROOT / "action.yml"
EXPR = re.compile(r"\$\{\{\s*([a-z_.-]+)\s*\}\}")


def _action() -> dict:
    return yaml.safe_load(ACTION.read_text())


@pytest.fixture(scope="module")
def runner_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh Python environment standing in for the runner's setup-python: the Action's own install step
    installs kbgen into it, from this checkout. (Its dependencies come from the test environment, so the test
    needs no network.)"""
    venv = tmp_path_factory.mktemp("runner") / "py"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    # `pip` as setup-python provides it; pip and setuptools themselves come from the test environment.
    (venv / "bin" / "pip").write_text(f'#!/bin/sh\nexec "{py}" -m pip "$@"\n')
    (venv / "bin" / "pip").chmod(0o755)
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    Path(purelib, "kbgen-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (step,) = [s for s in _action()["runs"]["steps"] if s.get("name") == "Install kbgen"]
    env = dict(os.environ, ACTION_PATH=str(ROOT), KBGEN_PACKAGE="", PIP_NO_DEPS="1", PIP_NO_BUILD_ISOLATION="0")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    assert set(step["env"]) == {"KBGEN_PACKAGE", "ACTION_PATH"}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (venv / "bin" / "kbgen").exists()  # installed by the step, from the Action's own checkout
    return venv / "bin"


def run_action(
    workdir: Path, runner_bin: Path, inputs: dict[str, str] | None = None
) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
    """Run the Action's `run:` steps in order, as a GitHub runner does; stop at the first failing one."""
    action = _action()
    values = {k: v.get("default", "") for k, v in action["inputs"].items()} | (inputs or {})
    output = workdir / "github-output.txt"
    context = {"github.action_path": str(ROOT)} | {f"inputs.{k}": v for k, v in values.items()}
    done = []
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@")
            continue
        if step["name"] == "Install kbgen":
            continue  # done once, by the runner_bin fixture
        env = dict(os.environ, GITHUB_OUTPUT=str(output), SOURCE_DATE_EPOCH="1790000000", NO_COLOR="1")
        env["PATH"] = f"{runner_bin}{os.pathsep}{env['PATH']}"
        env["PIP_NO_DEPS"], env["PIP_NO_BUILD_ISOLATION"] = "1", "0"  # offline: dependencies are in place
        for key, value in (step.get("env") or {}).items():
            env[key] = EXPR.sub(lambda m: context[m.group(1)], str(value))
        assert "${{" not in step["run"], "inputs must reach the script through env, not be pasted into it"
        cwd = workdir / EXPR.sub(lambda m: context[m.group(1)], step.get("working-directory", "."))
        assert step["shell"] == "bash"
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
        done.append((step["name"], proc))
        if proc.returncode != 0:
            break
    return done


def test_action_installs_kbgen_checks_skips_search_without_queries_and_builds(
    tmp_path: Path, runner_bin: Path
) -> None:
    project = clean_project(tmp_path / "repo" / "help")
    steps = run_action(tmp_path / "repo", runner_bin, {"working-directory": "help"})
    names = [name for name, _ in steps]
    assert names == ["kbgen check", "kbgen build", "kbgen search --check"], steps[-1][1].stderr
    assert all(p.returncode == 0 for _, p in steps), [(n, p.stderr) for n, p in steps]
    assert "search check skipped" in steps[2][1].stdout
    assert (project / "site" / "index.html").is_file()
    assert (tmp_path / "repo" / "github-output.txt").read_text() == f"site={project / 'site'}\n"


def test_action_runs_the_search_check_when_its_file_exists_and_a_miss_fails_the_job(
    tmp_path: Path, runner_bin: Path
) -> None:
    project = clean_project(tmp_path)
    write(project, "content/orders/tracking/refund.md",
          '---\ntitle: Get your money back\ndescription: "Refunds."\n---\n\nRefunds take five days.\n')  # fmt: skip
    checks = project / "search-checks.jsonl"
    checks.write_text('{"q": "where is my parcel", "expect": "orders/tracking/track.md"}\n', encoding="utf-8")
    steps = run_action(project, runner_bin)
    assert [n for n, _ in steps] == ["kbgen check", "kbgen build", "kbgen search --check"]
    assert all(p.returncode == 0 for _, p in steps), [(n, p.stdout, p.stderr) for n, p in steps]
    assert "1/1" in steps[-1][1].stdout or "MRR" in steps[-1][1].stdout, steps[-1][1].stdout
    # A query whose article does not rank first: an annotation, and the job fails (nothing deploys).
    with checks.open("a", encoding="utf-8") as f:
        f.write('{"q": "parcel tracking link", "expect": "orders/tracking/refund.md", "rank": 1}\n')
    steps = run_action(project, runner_bin)
    name, proc = steps[-1]
    assert name == "kbgen search --check" and proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "::error" in proc.stdout and "parcel tracking link" in proc.stdout


def test_action_annotates_errors_and_stops_before_building(tmp_path: Path, runner_bin: Path) -> None:
    project = clean_project(tmp_path)
    write(project, "content/orders/tracking/broken.md",
          '---\ntitle: Broken\ndescription: "x"\n---\n\nSee [this](missing.md).\n')  # fmt: skip
    steps = run_action(project, runner_bin)
    name, proc = steps[-1]
    assert name == "kbgen check" and proc.returncode == 1
    assert "::error file=content/orders/tracking/broken.md,line=6,title=broken-link::" in proc.stdout
    assert not (project / "site").exists()


def test_action_strict_input_makes_warnings_fail(tmp_path: Path, runner_bin: Path) -> None:
    project = clean_project(tmp_path)
    write(project, "content/orders/tracking/later.md",
          '---\ntitle: Later\ndescription: "Soon."\nupdated: 2030-01-01\n---\n\nText.\n')  # fmt: skip
    relaxed = run_action(project, runner_bin)
    assert [p.returncode for _, p in relaxed] == [0, 0, 0]
    strict = run_action(project, runner_bin, {"strict": "true", "output": "public"})
    assert strict[-1][0] == "kbgen check" and strict[-1][1].returncode == 1
    assert "title=future-date" in strict[-1][1].stdout


def test_action_inputs_cannot_inject_shell(tmp_path: Path, runner_bin: Path) -> None:
    project = clean_project(tmp_path)
    marker = tmp_path / "pwned"
    steps = run_action(project, runner_bin, {"queries": f'x"; touch {marker}; echo "', "output": f"out$(touch {marker})"})
    assert not marker.exists()
    assert [p.returncode for _, p in steps] == [0, 0, 0]


# -- pre-commit ----------------------------------------------------------------------------------------------


def test_pre_commit_manifest_is_valid_and_its_hooks_run(tmp_path: Path) -> None:
    clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit is in the test extra")
    hooks = clientlib.load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))  # pre-commit's own schema check
    assert {h["id"] for h in hooks} == {"kbgen-check", "kbgen-check-strict"}
    project = clean_project(tmp_path)
    write(project, "content/orders/tracking/later.md",
          '---\ntitle: Later\ndescription: "Soon."\nupdated: 2030-01-01\n---\n\nText.\n')  # fmt: skip
    codes = {}
    for hook in hooks:
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert re.search(hook["files"], "content/orders/tracking/later.md")
        args = hook["entry"].split()
        assert args[0] == "kbgen"
        codes[hook["id"]] = run_kbgen(*args[1:], cwd=project, check=False).returncode
    assert codes == {"kbgen-check": 0, "kbgen-check-strict": 1}
