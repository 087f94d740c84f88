"""French typography for Markdown articles: a no-break space before : ? ! ; and inside « guillemets ».

    python tools/fr_typography.py content/fr            # rewrite the files in place
    python tools/fr_typography.py --check content/fr    # exit 1 and list the lines a rewrite would change

The space before ``:`` becomes U+00A0 (espace insécable), before ``? ! ;`` U+202F (espace fine insécable),
as the Imprimerie nationale's rules have it; after ``«`` and before ``»`` U+00A0. Only prose changes: front
matter keys (only the ``title:`` and ``description:`` values are text), fenced and indented code, inline code,
link and image targets, autolinks, bare URLs and HTML tags are left as they are. Idempotent.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

NBSP, NNBSP = "\u00a0", "\u202f"
# A plain space (or several) between a word and the punctuation, the punctuation ending a word.
_BEFORE = re.compile(r"(?<=[^\s\[(])[ \t]+([:?!;])(?=[\s*_)\]\"»]|$)")
_OPEN = re.compile(r"«[ \t]+")
_CLOSE = re.compile(r"(?<=\S)[ \t]+»")
# Spans left alone: inline code, a link's or image's target, autolinks, bare URLs, HTML tags.
_KEEP = re.compile(r"(`+)[^`]*?\1|\]\([^)]*\)|<[a-zA-Z/!][^>]*>|https?://\S+")
_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})")
_TEXT_KEYS = re.compile(r"^(title|description):(\s*)(.*)$")


def prose(text: str) -> str:
    """`text` (prose, no code) with French no-break spaces."""
    text = _BEFORE.sub(lambda m: (NBSP if m.group(1) == ":" else NNBSP) + m.group(1), text)
    text = _OPEN.sub("«" + NBSP, text)
    return _CLOSE.sub(NBSP + "»", text)


def line_of_prose(line: str) -> str:
    out, at = [], 0
    for m in _KEEP.finditer(line):
        out += [_after(line[at : m.start()], at > 0), m.group(0)]
        at = m.end()
    out.append(_after(line[at:], at > 0))
    return "".join(out)


def _after(text: str, glued: bool) -> str:
    """`prose(text)`; `glued`: `text` follows a kept span (code, a link), the word its punctuation ends."""
    return prose("x" + text)[1:] if glued else prose(text)


def rewrite(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    if lines and lines[0].strip() == "---":  # front matter: only the text values
        out.append(lines[0])
        i = 1
        while i < len(lines) and lines[i].strip() not in ("---", "..."):
            m = _TEXT_KEYS.match(lines[i])
            out.append(f"{m.group(1)}:{m.group(2)}{prose(m.group(3))}" if m else lines[i])
            i += 1
    fence = ""
    previous_blank = True
    for line in lines[i:]:
        m = _FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)):]:
                fence = ""
            out.append(line)
        elif m:
            fence = m.group(1)
            out.append(line)
        elif previous_blank and (line.startswith("    ") or line.startswith("\t")):
            out.append(line)  # indented code (a list item's continuation follows a non-blank line)
            continue
        else:
            out.append(line_of_prose(line))
        previous_blank = not line.strip()
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("paths", nargs="+", type=Path, help="Markdown files or folders of them")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    files = sorted(f for p in args.paths for f in ([p] if p.is_file() else p.rglob("*.md")))
    changed = 0
    for f in files:
        text = f.read_text(encoding="utf-8")
        new = rewrite(text)
        if new == text:
            continue
        changed += 1
        if args.check:
            for n, (a, b) in enumerate(zip(text.split("\n"), new.split("\n"), strict=True), 1):
                if a != b:
                    print(f"{f}:{n}: {a.strip()[:100]!r}")
        else:
            f.write_text(new, encoding="utf-8")
            print(f"{f}: rewritten")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
