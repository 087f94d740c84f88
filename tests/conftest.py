"""Shared fixtures: real builds, a real HTTP server on 127.0.0.1 and a real Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CHROMIUM = os.environ.get("KBGEN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]



# Test files whose tests run a real `kbgen serve` (or several builds) each: the `slow` lane.
SLOW_FILES = {"test_serve.py", "test_widget_serve.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`browser` on every test that uses the Chromium fixture (also through another fixture), `slow` on
    the end-to-end ones: `pytest -m "not browser and not slow"` is the fast lane."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if item.path.name in SLOW_FILES or "serve" in item.name:
            item.add_marker(pytest.mark.slow)


def wait_for(condition: Callable[[], Any], seconds: float = 15) -> Any:
    """Poll `condition` until it returns something truthy or `seconds` pass; returns its last value, so the
    caller asserts what it needs (`assert wait_for(lambda: …, 30)`). Waits on a condition, never on time."""
    deadline = time.monotonic() + seconds
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(0.02)
        value = condition()
    return value


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

def run_kbgen(
    *args: str, cwd: Path | None = None, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `kbgen` command line in a subprocess, as a user would (`env`: extra variables)."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="1790000000", NO_COLOR="1", COLUMNS="200", **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-m", "kbgen", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"kbgen {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Serve the site's own 404 page, as a static host would.
        root = Path(self.directory)
        page = root / "404.html"
        if code == 404 and page.exists():
            body = page.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)


@functools.cache
def _mime_fix() -> None:
    _QuietHandler.extensions_map.update({".js": "text/javascript", ".json": "application/json"})


def serve_directory(root: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    """Serve `root` over real HTTP on 127.0.0.1; returns (base URL, server)."""
    _mime_fix()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


# The sample is multilingual (content/en/, fr/, de/): a test about one language's machinery takes its English
# content with the sample's configuration less [languages].
SAMPLE_EN = ROOT / "content" / "en" if (ROOT / "content" / "en").is_dir() else ROOT / "content"


def sample_toml_one_language() -> str:
    return (ROOT / "kbgen.toml").read_text(encoding="utf-8").split("\n# Several languages", 1)[0] + "\n"


@pytest.fixture(scope="session")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's sample help centre (content/ + kbgen.toml)."""
    dest = tmp_path_factory.mktemp("sample")
    shutil.copytree(ROOT / "content", dest / "content")
    shutil.copy(ROOT / "kbgen.toml", dest / "kbgen.toml")
    if (ROOT / "static").is_dir():
        shutil.copytree(ROOT / "static", dest / "static")
    return dest


@pytest.fixture(scope="session")
def sample_site(sample_project: Path) -> Path:
    """The sample help centre built once per test session with the real CLI; returns the output dir."""
    run_kbgen("build", cwd=sample_project)
    return sample_project / "site"


@pytest.fixture(scope="session")
def site_url(sample_site: Path) -> Iterator[str]:
    """Base URL (no trailing slash) of the built sample site served on 127.0.0.1."""
    url, server = serve_directory(sample_site)
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"browser test skipped: Chromium not found at {CHROMIUM} (install it: `apt-get install -y "
            "chromium`, or point KBGEN_CHROMIUM at one)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser test skipped: Playwright for Python is not installed (`pip install -e '.[test]'`)")

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
