"""tools/fr_typography.py: the sample's French articles have no-break spaces before : ? ! ; and inside « »,
and the script changes only prose (never code, link targets, URLs or front matter keys)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "fr_typography.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=120)


def test_the_samples_french_articles_are_typeset() -> None:
    proc = _run("--check", str(ROOT / "content" / "fr"))
    assert proc.returncode == 0, proc.stdout


def test_rewrites_prose_only_and_is_idempotent(tmp_path: Path) -> None:
    article = tmp_path / "a.md"
    article.write_text(
        '---\ntitle: "Pourquoi ? Parce que : voilà"\ntags: [a, b]\n---\n'
        "Vous êtes perdu ? Voir [la page ?](x.md#a) : « ici » ! Et `a ? b : c` ; puis http://ex.com/a?b=1 ;\n"
        "\n```\nif x ? y : z ;\n```\n",
        encoding="utf-8",
    )  # fmt: skip
    assert _run("--check", str(tmp_path)).returncode == 1
    assert _run(str(tmp_path)).returncode == 0
    nb, thin = "\u00a0", "\u202f"
    assert article.read_text(encoding="utf-8") == (
        f'---\ntitle: "Pourquoi{thin}? Parce que{nb}: voilà"\ntags: [a, b]\n---\n'
        f"Vous êtes perdu{thin}? Voir [la page{thin}?](x.md#a){nb}: «{nb}ici{nb}»{thin}! Et `a ? b : c`{thin}; "
        f"puis http://ex.com/a?b=1{thin};\n"
        "\n```\nif x ? y : z ;\n```\n"
    )  # fmt: skip
    assert _run("--check", str(tmp_path)).returncode == 0  # nothing left to change
