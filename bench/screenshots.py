"""Screenshots of the default theme for the README (issue 18): builds the sample help centre into a temporary
folder, serves it on 127.0.0.1 and captures home, category, article and search pages at 360 px and 1280 px
wide, light and dark, with Debian's Chromium driven by Playwright.

    .venv/bin/python bench/screenshots.py            # → docs/screenshots/*.png
    .venv/bin/python bench/screenshots.py --out /tmp/shots --pages home,article

Run by hand (not part of the test suite); no network is needed.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PAGES = {
    "home": "/",
    "category": "/returns-refunds/",
    "article": "/returns-refunds/refunds/when-will-i-get-my-refund/",
    "search": "/search/?q=refnud",
}
WIDTHS = {"phone": (360, 740), "desktop": (1280, 800)}


def _build(dest: Path) -> Path:
    shutil.copytree(ROOT / "content", dest / "content")
    shutil.copy(ROOT / "kbgen.toml", dest / "kbgen.toml")
    subprocess.run([sys.executable, "-m", "kbgen", "build"], stdout=subprocess.DEVNULL, cwd=dest, check=True)
    return dest / "site"


def _serve(root: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    Quiet.extensions_map.update({".js": "text/javascript", ".json": "application/json"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated: " + ", ".join(PAGES))
    ap.add_argument("--full", action="store_true", help="whole page, not the first screen")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        base, server = _serve(_build(Path(tmp)))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
                for scheme in ("light", "dark"):
                    for wname, (w, h) in WIDTHS.items():
                        ctx = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme)
                        page = ctx.new_page()
                        for name in args.pages.split(","):
                            page.goto(base + PAGES[name])
                            page.wait_for_load_state("networkidle")
                            if name == "search":
                                page.wait_for_function("document.querySelector('.kb-sp-status')?.textContent.trim()")
                            path = args.out / f"{name}-{wname}-{scheme}.png"
                            page.screenshot(path=str(path), full_page=args.full)
                            print(
                                path.relative_to(args.out.parent) if args.out.is_relative_to(ROOT) else path
                            )
                        ctx.close()
                browser.close()
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
