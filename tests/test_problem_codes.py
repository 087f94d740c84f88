"""Every problem carries a code (kbgen/errors.py) that tools read instead of the message: `kbgen check
--format json` gives it, also for problems that only have a generic rule (content-error)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_kbgen


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_check_json_names_the_kind_of_each_problem(tmp_path: Path) -> None:
    content = tmp_path / "content"
    write(tmp_path / "kbgen.toml", 'title = "Codes"\n')
    write(content / "orders/_index.md", '---\ntitle: "Orders"\ndescription: "Orders."\n---\n')
    write(content / "orders/track.md",
          '---\ntitle: "Track"\ndescription: "Track it."\naliases: [/orders/refund/]\n---\n\n'
          "See [the page](missing.md) and ![a box](box.png).\n")  # fmt: skip
    write(
        content / "orders/refund.md",
        '---\ntitle: "Refund"\ndescription: "Money back."\nid: orders/track\n---\n\nText.\n',
    )
    write(content / "orders/late.md", '---\ntitle: "Late"\ndescription: "Late."\norder: soon\n---\n\nText.\n')
    proc = run_kbgen("check", "--format", "json", cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stderr
    found = {(d["path"], d["code"]): d for d in json.loads(proc.stdout)}
    # An alias onto another article's page, and an `id` used twice: errors without a rule of their own.
    collision = found[("content/orders/track.md", "output-collision")]
    assert collision["rule"] == "content-error" and "/orders/refund/" in collision["message"]
    assert found[("content/orders/refund.md", "duplicate-id")]["rule"] == "content-error"
    # The ones with a rule keep it as their code.
    assert found[("content/orders/track.md", "broken-link")]["rule"] == "broken-link"
    assert found[("content/orders/track.md", "missing-image")]["rule"] == "missing-image"
    assert found[("content/orders/late.md", "invalid-front-matter")]["line"] == 4
