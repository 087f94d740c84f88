"""`[widget]` host-path globs: the same anchored expression in Python and in the panel's JavaScript."""

from __future__ import annotations

import re

import pytest

from kbgen.widget import glob_regex


@pytest.mark.parametrize(
    "glob,yes,no",
    [
        ("/checkout*", ["/checkout", "/checkout/", "/checkout/pay/card"], ["/cart/checkout", "/checkou"]),
        ("/account/orders/*", ["/account/orders/123", "/account/orders/"], ["/account/orders", "/account"]),
        ("/p?ge", ["/page", "/pXge"], ["/pge", "/paage"]),
        ("/help(1)+[x]$.^|{2}\\", ["/help(1)+[x]$.^|{2}\\"], ["/help11+x", "/help(1)[x]"]),
        ("/café/*", ["/café/menu"], ["/cafe/menu"]),
    ],
)
def test_globs(glob: str, yes: list[str], no: list[str]) -> None:
    rx = re.compile(glob_regex(glob))
    assert all(rx.match(p) for p in yes), (glob, glob_regex(glob))
    assert not any(rx.match(p) for p in no), (glob, glob_regex(glob))


def test_globs_are_valid_javascript(browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    try:
        globs = ["/checkout*", "/help(1)+[x]$.^|{2}\\", "/café/*", "/a-b_c~d/?"]
        got = page.evaluate(
            "rs => rs.map(([r, p]) => new RegExp(r).test(p))",
            [[glob_regex(g), g.replace("*", "zz").replace("?", "q")] for g in globs],
        )
        assert got == [True] * len(globs)
    finally:
        page.close()
