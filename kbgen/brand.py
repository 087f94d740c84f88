"""Branding that the build computes: text colours that meet WCAG AA on the brand colours, the brand font
(a system stack or a self-hosted file: @font-face with font-display: optional), the home hero image, and the
contact block's machine-readable opening hours ("open now" is computed in the browser by kb.js).

Everything here is written into static/_brand.css or data attributes: nothing inline, so the theme stays
clean under a strict Content-Security-Policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import webcolors

from .errors import Problem

AA = 4.5  # WCAG 2.x AA, normal text
WHITE = (255, 255, 255)
DARK_TEXT = (23, 28, 38)  # --kb-text in the light scheme (#171c26)

# Font stacks that need no download (after modernfontstacks.com); `[brand] font = "<name>"`.
FONT_STACKS = {
    "system": 'system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif',
    "humanist": 'Seravek,"Gill Sans Nova",Ubuntu,Calibri,"DejaVu Sans",source-sans-pro,sans-serif',
    "geometric": 'Avenir,Montserrat,Corbel,"URW Gothic",source-sans-pro,sans-serif',
    "rounded": 'ui-rounded,"Hiragino Maru Gothic ProN",Quicksand,Comfortaa,Manjari,"Arial Rounded MT",Calibri,'
    "source-sans-pro,sans-serif",
    "serif": 'Charter,"Bitstream Charter","Sitka Text",Cambria,"DejaVu Serif",serif',
    "mono": 'ui-monospace,"Cascadia Code","Source Code Pro",Menlo,Consolas,"DejaVu Sans Mono",monospace',
}
FONT_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*\.(woff2|woff|ttf|otf)")
FONT_FORMATS = {"woff2": "woff2", "woff": "woff", "ttf": "truetype", "otf": "opentype"}


def font_file(value: str) -> str:
    """`[brand] font` when it names a file (a site path under static/), else ""."""
    return value if value and FONT_FILE.fullmatch(value) and ".." not in value.split("/") else ""


def font_error(value: str) -> str | None:
    """Why `[brand] font` is not usable, or None."""
    if not value or value in FONT_STACKS or font_file(value):
        return None
    if "://" in value or value.startswith("//"):
        return f"must be a font file under static/ (self-hosted, never a CDN), not {value!r}"
    return (
        f"must be one of {', '.join(FONT_STACKS)} or a font file like static/fonts/brand.woff2 "
        f"(.woff2, .woff, .ttf, .otf), not {value!r}"
    )


# -- colours ------------------------------------------------------------------------------------------------
_NUM = r"\s*([0-9.]+%?)\s*"


def parse_colour(value: str) -> tuple[int, int, int] | None:
    """#rgb, #rrggbb(aa), rgb()/rgba(), hsl()/hsla() or a CSS colour name → (r, g, b); None for what cannot be
    read here (lab(), oklch(), …: those are used as given, unchecked)."""
    v = value.strip().lower()
    try:
        if v.startswith("#"):
            if len(v) in (5, 9):  # #rgba / #rrggbbaa: the alpha is ignored
                v = v[:4] if len(v) == 5 else v[:7]
            c = webcolors.hex_to_rgb(webcolors.normalize_hex(v))
            return (c.red, c.green, c.blue)
        if re.fullmatch(r"[a-z]+", v):
            c = webcolors.name_to_rgb(v)
            return (c.red, c.green, c.blue)
    except ValueError:
        return None
    m = re.fullmatch(r"(rgba?|hsla?)\(" + _NUM + r"[ ,]" + _NUM + r"[ ,]" + _NUM + r"(?:[,/].*)?\)", v)
    if not m:
        return None
    kind, a, b, c = m.groups()

    def num(x: str, scale: float) -> float:
        return float(x[:-1]) / 100 * scale if x.endswith("%") else float(x)

    try:
        if kind.startswith("rgb"):
            rgb = [num(x, 255) for x in (a, b, c)]
        else:
            import colorsys

            frac = [float(x.rstrip("%")) / 100 for x in (b, c)]  # saturation, lightness
            r, g, bl = colorsys.hls_to_rgb(float(a.rstrip("%")) / 360 % 1, frac[1], frac[0])
            rgb = [r * 255, g * 255, bl * 255]
    except ValueError:
        return None
    return tuple(max(0, min(255, round(x))) for x in rgb)  # type: ignore[return-value]


def luminance(rgb: tuple[int, int, int]) -> float:
    def lin(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hex_of(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _darker(rgb: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return tuple(round(c * k) for c in rgb)  # type: ignore[return-value]


def on_colour(value: str) -> tuple[str, str, float] | None:
    """For a background colour: (background, text colour, contrast) where the text meets AA. White text is
    preferred, then the theme's dark text; when neither reaches 4.5:1 on the colour itself, the background is
    darkened step by step until white does (the returned background then differs from `value`)."""
    rgb = parse_colour(value)
    if rgb is None:
        return None
    for text in (WHITE, DARK_TEXT):
        ratio = contrast(rgb, text)
        if ratio >= AA:
            return (value, hex_of(text), ratio)
    k = 1.0
    bg = rgb
    while contrast(bg, WHITE) < AA and k > 0:
        k -= 0.02
        bg = _darker(rgb, k)
    return (hex_of(bg), "#ffffff", contrast(bg, WHITE))


def brand_problems(config: Any) -> list[Problem]:
    """Warnings for brand colours on which neither white nor dark text meets WCAG AA (the build then uses a
    darker shade for buttons), and for opening hours that cannot say "open now"; an error for a missing font
    file."""
    out: list[Problem] = []
    where = config.path.name if getattr(config, "path", None) else "kbgen.toml"
    brand = config.brand
    for key in ("brand_color", "accent_color"):
        value = getattr(brand, key)
        got = on_colour(value) if value else None
        if got and got[0] != value:
            best = max(contrast(parse_colour(value) or WHITE, t) for t in (WHITE, DARK_TEXT))
            out.append(Problem(where, 0, (
                f"`brand.{key}` {value}: neither white nor dark text reaches WCAG AA 4.5:1 on it (best "
                f"{best:.1f}:1); buttons and badges use the darker {got[0]} with white text"), "warning", code="brand"))  # fmt: skip
    file = font_file(brand.font)
    if file and not (config.root / file).is_file():
        out.append(Problem(where, 0, f"`brand.font`: font file {file} not found in the project", "error", code="brand"))
    c = config.contact
    for key in ("phone_hours", "chat_hours"):
        if parse_hours(getattr(c, key)) and not c.timezone:
            out.append(Problem(where, 0, (
                f"`contact.{key}` is machine-readable but `contact.timezone` is not set (e.g. \"Europe/London\"): "
                "the contact block cannot say whether you are open now"), "warning", code="brand"))  # fmt: skip
    return out


def brand_css(config: Any, url: Callable[[str], str]) -> str:
    """The body of static/_brand.css: brand colours, the computed text colours on them, font, hero image."""
    brand = config.brand
    colour = brand.brand_color if parse_colour(brand.brand_color) or brand.brand_color else "#0b5cad"
    accent = brand.accent_color or colour
    rules = [f"--kb-brand:{colour}", f"--kb-accent:{accent}"]
    strong = on_colour(colour)
    if strong:
        rules += [f"--kb-strong:{strong[0]}", f"--kb-on-strong:{strong[1]}"]
    file = font_file(brand.font)
    if file:
        rules.append(f"--kb-font:kb-brand,{FONT_STACKS['system']}")
    elif brand.font:
        rules.append(f"--kb-font:{FONT_STACKS[brand.font]}")
    body = ";".join(rules)
    out = [f":root{{{body}}}"]
    # the dark schemes set --kb-strong again: the button colour and its text follow the brand there too
    if strong:
        dark = f"--kb-strong:{strong[0]};--kb-on-strong:{strong[1]}"
        out += [
            f"@media (prefers-color-scheme:dark){{:root:not([data-theme=light]){{{dark}}}}}",
            f":root[data-theme=dark]{{{dark}}}",
        ]
    if file:
        fmt = FONT_FORMATS[file.rsplit(".", 1)[1].lower()]
        out.append(
            f'@font-face{{font-family:kb-brand;src:url("{url("/" + file)}") format("{fmt}");'
            "font-weight:100 900;font-style:normal;font-display:optional}"
        )
    if brand.hero_image:
        href = brand.hero_image if "://" in brand.hero_image else url("/" + brand.hero_image.lstrip("/"))
        # a dark veil keeps the hero's white text at AA whatever the picture (white over 55 % black ≥ 4.5:1)
        out.append(
            f'.kb-hero-image{{background:linear-gradient(rgb(0 0 0/.55),rgb(0 0 0/.55)),url("{href}") '
            "center/cover no-repeat var(--kb-hero)}"
        )
    return "\n".join(out) + "\n"


# -- opening hours ------------------------------------------------------------------------------------------
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DASH = r"\s*[-–—]\s*"
_TIME = r"([01]?\d|2[0-4])[:.h]([0-5]\d)"
_GROUP = re.compile(
    rf"(?P<d1>[a-z]{{3}})[a-z]*(?:{_DASH}(?P<d2>[a-z]{{3}})[a-z]*)?\.?:?\s+"
    rf"(?P<ranges>{_TIME}{_DASH}{_TIME}(?:\s*(?:,|&|and)?\s*{_TIME}{_DASH}{_TIME})*)",
    re.I,
)


def parse_hours(text: str) -> list[tuple[int, int, int]] | None:
    """Read "Mon–Fri 8:00–20:00, Sat 9:00–17:00 (UK time)" → [(weekday 0 = Monday, start minute, end minute), …];
    None when the text is not entirely in that form (it is then shown as written, without "open now").
    Groups are separated by "," or ";"; a trailing "(…)" remark is ignored; "closed" days are simply left out."""
    s = re.sub(r"\([^()]*\)\s*$", "", (text or "").strip()).strip()
    if not s:
        return None
    out: list[tuple[int, int, int]] = []
    pos = 0
    while pos < len(s):
        m = _GROUP.match(s, pos)
        if not m:
            return None
        d1, d2 = m["d1"].lower(), (m["d2"] or m["d1"]).lower()
        if d1 not in DAYS or d2 not in DAYS:
            return None
        a, b = DAYS.index(d1), DAYS.index(d2)
        days = [(a + i) % 7 for i in range((b - a) % 7 + 1)]
        times = [int(x) for x in re.findall(r"\d+", m["ranges"])]
        for i in range(0, len(times), 4):
            start, end = times[i] * 60 + times[i + 1], times[i + 2] * 60 + times[i + 3]
            if not 0 <= start < end <= 24 * 60:
                return None
            out += [(d, start, end) for d in days]
        pos = m.end()
        sep = re.match(r"\s*[,;]\s*|\s*$", s[pos:])
        if not sep or (not sep.group(0) and pos < len(s)):
            return None
        pos += len(sep.group(0))
    return out or None


def hours_attr(text: str) -> str:
    """The data-kb-hours value kb.js reads: "day start end" triples joined by ";" (minutes since midnight)."""
    hours = parse_hours(text) or []
    return ";".join(f"{d} {a} {b}" for d, a, b in hours)
