"""Red-team of issue 12 (hardening) with hostile inputs the other hardening tests do not use."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import run_kbgen
from test_hardening_content import files_under, write


def test_a_static_or_theme_folder_that_is_itself_a_link_outside_the_project_is_not_published(
    tmp_path: Path,
) -> None:
    """Not a link inside `static/` but `static/` itself (and the site theme's folder) linking to /etc-like
    places: nothing of theirs is published, each is a warning naming it, an error with --strict."""
    outside = tmp_path / "outside"
    write(outside, "passwd", "root:x:0:0:SECRET-MARKER:/root:/bin/sh\n")
    write(outside, "theme/static/x.css", "/* SECRET-MARKER */\n")
    root = tmp_path / "p"
    write(root, "kbgen.toml", 'title = "T"\ntheme = "custom"\n')
    write(root, "content/a/one.md", "---\ntitle: One\n---\nText.\n")
    os.symlink("../outside", root / "static")
    (root / "themes").mkdir()
    os.symlink("../../outside/theme", root / "themes/custom")
    proc = run_kbgen("build", cwd=root)
    text = proc.stdout + proc.stderr
    assert "static: warning: symbolic link to" in text, text
    assert "themes/custom/static: warning: symbolic link to" in text, text
    site = files_under(root / "site")
    assert not [name for name, data in site.items() if b"SECRET-MARKER" in data], sorted(site)
    assert "a/one/index.html" in site
    strict = run_kbgen("build", "--strict", cwd=root, check=False)
    assert strict.returncode == 1 and "Traceback" not in strict.stderr
    assert "static: error: symbolic link to" in strict.stdout + strict.stderr
