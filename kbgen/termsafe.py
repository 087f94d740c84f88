"""Untrusted text made safe to print on a terminal.

Analytics exports, search queries, front matter values and file names can carry terminal escape
sequences (colours, cursor moves, title changes, OSC 8 hyperlinks ``\\x1b]8;;https://…\\x07``), other C0/C1
control characters and Unicode bidi overrides that make a line read differently from what it holds.
`for_terminal` removes all of them; print the result as plain text (rich: ``markup=False`` or a `Text`).
"""

from __future__ import annotations

import re

__all__ = ["for_terminal"]

# ECMA-48 sequences, 7-bit (ESC …) and 8-bit (C1) forms. A string sequence (OSC, DCS, SOS, PM, APC) runs to
# BEL or ST; an unterminated one to the end of the text, as a terminal would take it.
_SEQUENCE = re.compile(
    r"""
    (?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?          # CSI: colours, cursor, erase
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|\Z)  # OSC (hyperlinks, title), DCS, …
  | \x1b[\x20-\x2f]*[\x30-\x7e]?                                # any other ESC sequence
    """,
    re.VERBOSE | re.DOTALL,
)
# What is left: C0 controls but tab and newline, DEL, C1 controls; bidi embeddings, overrides, isolates and
# marks (Trojan Source); line and paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_BREAKS = re.compile(r"[\t\n]+")


def for_terminal(text: object, *, one_line: bool = False) -> str:
    """`text` without escape sequences, control characters or bidi controls; with `one_line`, tabs and
    newlines become spaces too (a value that must not start a line of its own, like a search query)."""
    s = _CONTROL.sub("", _SEQUENCE.sub("", str(text)))
    return _BREAKS.sub(" ", s) if one_line else s
