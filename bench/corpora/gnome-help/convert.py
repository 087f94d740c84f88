"""Convert the GNOME desktop help (Mallard XML, gnome-user-docs/gnome-help/C/*.page) to kbgen's layout.

Usage: python convert.py SRC_DIR OUT_DIR
  SRC_DIR: a checkout's gnome-help/C folder; OUT_DIR: gets content/<Category>/<Section>/<page-id>.md.

Text is kept as written; markup becomes Markdown (sections → ##, steps → numbered lists, terms → bold
term + text, notes → blockquotes, gui/key/app → plain or **bold**, links → their text or [text](url)).
Conditional text (if:choose, if:test) keeps the branch for the standard GNOME session (not "GNOME Classic").
Guide pages (type="guide": the topic lists of the help's table of contents) are not articles: they give
each topic its Category (the guide under the home page) and Section (the guide that lists the topic). A page's
<subtitle> is appended to its title ("Wireless network troubleshooter: Check the hardware").
Images, editors' comments and revision data are dropped; the credited names go to CREDITS.txt.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

M = "{http://projectmallard.org/1.0/}"
IF = "{http://projectmallard.org/if/1.0/}"
ACTIVE = {"platform:gnome", "platform:gnome-shell"}


def local(tag: str) -> str:
    return tag.split("}")[-1] if isinstance(tag, str) else ""


def test_true(test: str) -> bool:
    for alt in test.split(","):
        toks = alt.split()
        if toks and all((t[1:] not in ACTIVE) if t.startswith("!") else (t in ACTIVE) for t in toks):
            return True
    return False


def inline(e: ET.Element) -> str:
    out = [e.text or ""]
    for c in e:
        out.append(inline_el(c))
        out.append(c.tail or "")
    return "".join(out)


def inline_el(c: ET.Element) -> str:
    n = local(c.tag)
    if not test_true(c.get(IF + "test", "platform:gnome")):
        return ""
    if n in ("comment", "info"):
        return ""
    if c.tag.startswith(IF):
        return inline_if(c)
    if n == "media":
        if any(local(x.tag) == "p" for x in c):
            return ""
        return inline(c)
    if n in ("gui", "app", "key"):
        t = inline(c).strip()
        return f"**{t}**" if t else ""
    if n == "guiseq":
        parts = [inline(x).strip() for x in c if local(x.tag) == "gui"]
        return "**" + " ▸ ".join(p for p in parts if p) + "**"
    if n == "keyseq":
        parts = [inline(x).strip() for x in c if local(x.tag) == "key"]
        return "**" + "+".join(parts) + "**" if parts else inline(c)
    if n in ("code", "cmd", "file", "sys", "input", "output", "var"):
        t = inline(c).strip()
        return f"`{t}`" if t else ""
    if n == "em":
        t = inline(c).strip()
        return f"*{t}*" if t else ""
    if n == "link":
        t = inline(c).strip()
        href = c.get("href")
        if href and href.startswith(("http://", "https://", "mailto:")):
            return f"[{t or href}]({href})"
        return t
    return inline(c)


def inline_if(c: ET.Element) -> str:
    n = local(c.tag)
    if n == "if":
        return inline(c) if test_true(c.get("test", "")) else ""
    if n == "choose":
        for w in c:
            if local(w.tag) == "when" and test_true(w.get("test", "")):
                return inline(w)
            if local(w.tag) == "else":
                return inline(w)
    return ""


def clean(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def blocks(e: ET.Element, depth: int) -> list[str]:
    """Markdown blocks for the children of e (a page or section body)."""
    out: list[str] = []
    for c in e:
        out.extend(block(c, depth))
    return out


def block(c: ET.Element, depth: int) -> list[str]:
    n = local(c.tag)
    if not test_true(c.get(IF + "test", "platform:gnome")):
        return []
    if n in ("info", "comment", "links", "title", "subtitle", "media", "figure", "thumb", "include"):
        return []
    if c.tag.startswith(IF):
        if n == "if":
            return blocks(c, depth) if test_true(c.get("test", "")) else []
        if n == "choose":
            for w in c:
                if local(w.tag) == "when" and test_true(w.get("test", "")):
                    return blocks(w, depth)
                if local(w.tag) == "else":
                    return blocks(w, depth)
        return []
    if n == "p":
        t = clean(inline(c))
        return [t] if t else []
    if n == "section":
        title = c.find(M + "title")
        head = ["#" * min(depth, 6) + " " + clean(inline(title))] if title is not None else []
        return head + blocks(c, depth + 1)
    if n in ("list", "steps"):
        items = []
        for i, it in enumerate([x for x in c if local(x.tag) == "item"], 1):
            body = " ".join(blocks_text(it))
            items.append((f"{i}. " if n == "steps" else "* ") + body)
        title = c.find(M + "title")
        head = [clean(inline(title))] if title is not None else []
        return head + (["\n".join(items)] if items else [])
    if n == "terms":
        out = []
        for it in [x for x in c if local(x.tag) == "item"]:
            terms = [clean(inline(t)) for t in it if local(t.tag) == "title"]
            body = " ".join(blocks_text(it, skip_titles=True))
            out.append(f"**{' / '.join(terms)}**: {body}" if terms else body)
        return out
    if n == "note":
        inner = blocks(c, depth)
        return ["\n>\n".join("> " + b.replace("\n", "\n> ") for b in inner)] if inner else []
    if n == "table":
        rows = [r for r in c.iter(M + "tr")]
        lines = []
        for k, r in enumerate(rows):
            cells = [" ".join(blocks_text(td)).replace("|", "\\|") for td in r if local(td.tag) == "td"]
            lines.append("| " + " | ".join(cells) + " |")
            if k == 0:
                lines.append("|" + "---|" * len(cells))
        return ["\n".join(lines)] if lines else []
    if n in ("screen", "code") and c.text is not None:
        return ["```\n" + inline(c).strip("\n") + "\n```"]
    if n in ("example", "quote", "synopsis", "item", "td"):
        return blocks(c, depth)
    t = clean(inline(c))
    return [t] if t else []


def blocks_text(e: ET.Element, skip_titles: bool = False) -> list[str]:
    kids = [x for x in e if not (skip_titles and local(x.tag) == "title")]
    if not kids:
        t = clean(inline(e))
        return [t] if t else []
    res = []
    for k in kids:
        res.extend(b.replace("\n", " ") for b in block(k, 9))
    return res


def page_title(root: ET.Element) -> str:
    t = root.find(M + "title")
    title = clean(inline(t)) if t is not None else root.get("id", "")
    sub = root.find(M + "subtitle")
    return f"{title}: {clean(inline(sub))}" if sub is not None else title


def guide_parent(root: ET.Element) -> str | None:
    info = root.find(M + "info")
    if info is None:
        return None
    for lk in info.findall(M + "link"):
        if lk.get("type") == "guide" and lk.get("xref"):
            return lk.get("xref").split("#")[0]
    return None


def safe(name: str) -> str:
    return re.sub(r"[^\w ,&()'-]+", "", name).strip() or "General"


def main(src: Path, out: Path) -> None:
    pages = {}
    for f in sorted(src.glob("*.page")):
        root = ET.parse(f).getroot()
        pages[root.get("id") or f.stem] = root
    titles = {k: page_title(r) for k, r in pages.items()}

    def category_and_section(pid: str) -> tuple[str, str] | None:
        parent = guide_parent(pages[pid])
        if parent is None or parent not in pages:
            return None
        chain = [parent]
        seen = {pid}
        while True:
            up = guide_parent(pages[chain[-1]])
            if up is None or up not in pages or up == "index" or up in seen or len(chain) > 10:
                break
            seen.add(chain[-1])
            chain.append(up)
        return titles[chain[-1]], titles[parent]

    n = 0
    names: set[str] = set()
    for pid, root in pages.items():
        if root.get("type") == "guide":
            continue
        cs = category_and_section(pid)
        if cs is None:
            continue
        cat, sec = cs
        body = "\n\n".join(blocks(root, 2)).strip()
        title = titles[pid].replace('"', '\\"')
        dest = out / "content" / safe(cat) / safe(sec) / f"{pid}.md"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(f'---\ntitle: "{title}"\n---\n\n{body}\n', encoding="utf-8")
        n += 1
        for nm in root.iter(M + "name"):
            if nm.text and nm.text.strip():
                names.add(clean(nm.text))
    credits = "Authors and editors credited in the converted pages (Mallard <credit> elements):\n\n"
    (out / "CREDITS.txt").write_text(credits + "\n".join(sorted(names)) + "\n", encoding="utf-8")
    print(f"{n} articles written under {out / 'content'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
