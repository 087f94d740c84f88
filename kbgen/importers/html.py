"""Help-centre HTML → kbgen Markdown: markdownify, plus kbgen's own rules.

- callouts (`class="callout…"`, Help Scout's `callout-yellow`, Zendesk themes' `note`/`tip`/`warning`) become
  GitHub alerts (`> [!NOTE]`, `> [!TIP]`, `> [!WARNING]`, `> [!CAUTION]`, `> [!IMPORTANT]`);
- YouTube/Vimeo iframes and `<video>` become kbgen video images (`![Video](https://www.youtube.com/watch?v=…)`);
- links to other imported articles become relative `.md` paths (`link_for(href)` decides);
- images go through `image_for(src)`, which copies local files into `_assets/` and reports missing ones;
- simple tables become pipe tables; tables that Markdown cannot hold (nested tables, merged cells, lists or
  paragraphs in cells) stay as HTML, sanitised (nh3: table tags and a few inline ones, no attributes that can
  run code), and are reported;
- Word paste is cleaned first: conditional comments, `<o:p>`, `mso-` styles, `<span>`/`<font>` wrappers,
  `&nbsp;` runs, and `<br>` soup (two or more in a row are a paragraph break);
- scripts, styles, forms, objects and unknown iframes are dropped, and reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import nh3
from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from markdownify import MarkdownConverter

DROP = ("script", "style", "meta", "link", "xml", "noscript", "template", "head", "title")
WIDGETS = ("form", "input", "button", "select", "textarea", "object", "embed", "applet", "canvas", "svg", "iframe")
TABLE_TAGS = {"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col",
              "p", "br", "strong", "b", "em", "i", "code", "a", "ul", "ol", "li", "img", "sub", "sup"}  # fmt: skip
CALLOUT_KINDS = [
    (re.compile(r"danger|error|callout-red|caution"), "CAUTION"),
    (re.compile(r"warn|callout-yellow|callout-orange|attention"), "WARNING"),
    (re.compile(r"tip|success|callout-green|hint"), "TIP"),
    (re.compile(r"important"), "IMPORTANT"),
    (re.compile(r"callout|note|info|alert|callout-blue|notice"), "NOTE"),
]


@dataclass
class Conversion:
    markdown: str
    notes: list[str] = field(default_factory=list)  # what needs a human


def _callout_kind(el: Tag) -> str | None:
    classes = " ".join(el.get("class") or []).lower()
    if not classes or el.name not in ("div", "p", "section", "aside", "blockquote"):
        return None
    for pattern, kind in CALLOUT_KINDS:
        if pattern.search(classes):
            return kind
    return None


def _video_url(src: str) -> str | None:
    """The page URL kbgen turns into a video embed, for an embed iframe's `src`."""
    parts = urlsplit(src if "://" in src else "https:" + src if src.startswith("//") else src)
    host = (parts.hostname or "").removeprefix("www.")
    if host in ("youtube.com", "youtube-nocookie.com") and parts.path.startswith("/embed/"):
        vid = parts.path.split("/")[2]
        return f"https://www.youtube.com/watch?v={vid}" if re.fullmatch(r"[\w-]{6,20}", vid) else None
    if host == "youtu.be":
        vid = parts.path.strip("/")
        return f"https://www.youtube.com/watch?v={vid}" if re.fullmatch(r"[\w-]{6,20}", vid) else None
    if host == "youtube.com" and parts.path == "/watch":
        vid = (parse_qs(parts.query).get("v") or [""])[0]
        return f"https://www.youtube.com/watch?v={vid}" if re.fullmatch(r"[\w-]{6,20}", vid) else None
    if host == "player.vimeo.com" and parts.path.startswith("/video/"):
        vid = parts.path.split("/")[2]
        return f"https://vimeo.com/{vid}" if vid.isdigit() else None
    return None


def _complex_table(table: Tag) -> str | None:
    """Why a table cannot be a Markdown pipe table, or None when it can."""
    if table.find("table"):
        return "a table inside a table"
    for cell in table.find_all(["td", "th"]):
        if cell.get("colspan", "1") not in ("1", "") or cell.get("rowspan", "1") not in ("1", ""):
            return "merged cells"
        if cell.find(["ul", "ol", "pre", "blockquote"]) or len(cell.find_all("p")) > 1:
            return "lists or paragraphs in cells"
    return None


def _clean_word(soup: BeautifulSoup) -> None:
    for c in soup.find_all(string=lambda s: isinstance(s, Comment)):
        c.extract()  # Word's <!--[if gte mso 9]>…<![endif]--> and every other comment
    for el in soup.find_all(True):
        if el.decomposed:
            continue
        if el.name and (":" in el.name):  # <o:p>, <w:sdt>, <v:shape> …
            el.unwrap() if el.get_text(strip=True) else el.decompose()
    for el in soup.find_all(["span", "font"]):
        el.unwrap()
    # <br> soup: two or more in a row (whitespace between them aside) end the paragraph.
    for br in soup.find_all("br"):
        if br.parent is None:
            continue
        run = [br]
        nxt = br.next_sibling
        while nxt is not None and (
            (isinstance(nxt, NavigableString) and not nxt.strip()) or (isinstance(nxt, Tag) and nxt.name == "br")
        ):
            if isinstance(nxt, Tag):
                run.append(nxt)
            nxt = nxt.next_sibling
        if len(run) >= 2:
            marker = soup.new_tag("kb-break")
            run[0].replace_with(marker)
            for extra in run[1:]:
                extra.decompose()
    # Word's lists are paragraphs with a typed bullet ("·", "o", "§", "1."): real lists again.
    bullet = re.compile(r"^[\s\xa0]*(?:[·•o§▪\-–]|(\d+|[a-z])[.)])[\s\xa0]+")
    group: list[Tag] = []
    for p in soup.find_all("p"):
        if "MsoListParagraph" not in " ".join(p.get("class") or []):
            continue
        m = bullet.match(p.get_text())
        if not m:
            continue
        cut = m.end()  # drop the typed bullet: that many characters, across the text nodes it spans
        for node in list(p.find_all(string=True)):
            if cut <= 0:
                break
            text = str(node)
            node.replace_with(text[cut:])
            cut -= len(text)
        ordered = bool(m.group(1))
        prev = p.find_previous_sibling()
        if group and prev is group[-1] and (group[0].name == ("ol" if ordered else "ul")):
            lst = group[0]
        else:
            lst = soup.new_tag("ol" if ordered else "ul")
            p.insert_before(lst)
            group = [lst]
        li = soup.new_tag("li")
        for child in list(p.contents):
            li.append(child.extract())
        lst.append(li)
        p.decompose()
        group.append(lst)
    # Empty paragraphs (`<p>&nbsp;</p>`, Word's spacing) say nothing.
    for p in soup.find_all("p"):
        if not p.get_text().replace("\xa0", " ").strip() and not p.find(["img", "iframe", "video"]):
            p.decompose()


class _Converter(MarkdownConverter):
    def __init__(self, ctx: _Context, **options: object) -> None:
        super().__init__(**options)
        self.ctx = ctx

    def _heading(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        out = super().convert_hN(int(el.name[1]), el, text, parent_tags)
        anchor = re.sub(r"[^A-Za-z0-9_-]", "", str(el.get("id") or ""))[:60]
        if anchor and out.strip():  # old links to #anchor keep working: kbgen's `## Heading {#id}`
            out = out.rstrip("\n") + f" {{#{anchor}}}\n\n"
        return out

    convert_h2 = convert_h3 = convert_h4 = convert_h5 = convert_h6 = _heading

    def convert_kb_break(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return "\n\n"

    def convert_a(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        href = str(el.get("href") or "")
        if href:
            new = self.ctx.link_for(href)
            if new is not None:
                el["href"] = new
        return super().convert_a(el, text, parent_tags)

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        src = str(el.get("src") or "").strip()
        if not src:
            return ""
        alt = re.sub(r"\s+", " ", str(el.get("alt") or "")).strip()
        el["src"] = self.ctx.image_for(src, alt)
        el["alt"] = alt.replace("[", "(").replace("]", ")")
        return super().convert_img(el, text, parent_tags)

    def convert_kb_video(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return f"\n\n![{el.get('title') or 'Video'}]({el['href']})\n\n"

    def convert_kb_raw(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return "\n\n" + str(el["html"]) + "\n\n"

    def convert_kb_callout(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        body = text.strip()
        if not body:
            return ""
        lines = [f"> [!{el['kind']}]"] + [f"> {line}".rstrip() for line in body.splitlines()]
        return "\n\n" + "\n".join(lines) + "\n\n"


@dataclass
class _Context:
    link_for: Callable[[str], str | None]
    image_for: Callable[[str, str], str]
    notes: list[str]


def html_to_markdown(
    html: str,
    *,
    link_for: Callable[[str], str | None] = lambda href: None,
    image_for: Callable[[str, str], str] = lambda src, alt: src,
) -> Conversion:
    """Convert one article body. `link_for(href)`: a new href (a relative .md path) or None to keep it;
    `image_for(src, alt)`: the image's new src."""
    notes: list[str] = []
    soup = BeautifulSoup(html or "", "html.parser")
    for el in soup.find_all(DROP):
        if not el.decomposed:
            if el.name == "script":
                src = f" {str(el.get('src'))[:100]}" if el.get("src") else ""
                notes.append(f"dropped a script (<script{src}>): a widget it ran is gone")
            el.decompose()
    _clean_word(soup)
    # Videos first (they are iframes), then other widgets.
    for el in soup.find_all(["iframe", "video"]):
        src = str(el.get("src") or "")
        if el.name == "video" and not src:
            source = el.find("source")
            src = str(source.get("src") or "") if source else ""
        url = _video_url(src) if el.name == "iframe" else (src or None)
        if url:
            video = soup.new_tag("kb-video", href=url, title=str(el.get("title") or "Video").replace("]", ")"))
            el.replace_with(video)
    for el in soup.find_all(WIDGETS):
        if el.decomposed:  # inside a widget dropped already
            continue
        what = el.name + (f" {str(el.get('src'))[:100]}" if el.get("src") else "")
        notes.append(f"dropped an embedded widget (<{what}>): add it back by hand if it matters")
        el.decompose()
    for el in soup.find_all(True):
        if el.attrs and any(k.lower().startswith("on") for k in el.attrs):
            for k in [k for k in el.attrs if k.lower().startswith("on")]:
                del el[k]
    for table in soup.find_all("table"):
        if table.find_parent("table") is not None:
            continue
        why = _complex_table(table)
        if why:
            clean = nh3.clean(str(table), tags=TABLE_TAGS, attributes={"a": {"href"}, "img": {"src", "alt"},
                              "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}, link_rel=None)  # fmt: skip
            notes.append(f"kept a table as HTML ({why}): check it reads well, or simplify it")
            table.replace_with(soup.new_tag("kb-raw", html=re.sub(r"\s*\n\s*", " ", clean)))
    for el in soup.find_all(True):
        kind = _callout_kind(el)
        if kind:
            el.name = "kb-callout"
            el.attrs = {"kind": kind}
    # Headings: the article title is heading 1, so the body starts at ##.
    levels = [int(h.name[1]) for h in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])]
    if levels and min(levels) == 1:
        for h in soup.find_all(["h1", "h2", "h3", "h4", "h5"]):
            h.name = f"h{int(h.name[1]) + 1}"
    ctx = _Context(link_for, image_for, notes)
    md = _Converter(ctx, heading_style="ATX", bullets="-", escape_underscores=False, strip_document="strip",
                    table_infer_header=True).convert_soup(soup)  # fmt: skip
    md = md.replace("\xa0", " ")
    md = re.sub(r"[ \t]+\n", lambda m: "  \n" if m.group(0).startswith("  ") else "\n", md)
    md = re.sub(r"\n{3,}", "\n\n", md).strip() + "\n"
    return Conversion(md, notes)
