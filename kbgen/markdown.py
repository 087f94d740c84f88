"""Markdown → HTML, plus what the index and templates need, all from one token stream.

Built on markdown-it-py (CommonMark + GFM tables, strikethrough, task lists and alerts) and mdit-py-plugins
(footnotes, definition lists, `:::` containers). kbgen's own rules, one markdown-it core rule (`_rule_tree`):

- `{#id}` at the end of a heading sets its id; other headings get a slug id, unique in the page;
- relative links to `.md` files become the target article's URL (unresolved ones are reported with a line);
- relative images become site URLs with `loading="lazy"` and their width/height when the file is readable;
- an image whose URL is a YouTube/Vimeo page or an .mp4 file becomes a video embed (a tap-to-load facade);
- tables are wrapped so that they scroll on a phone instead of widening the page.
"""

from __future__ import annotations

import html
import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.footnote import footnote_plugin

from . import plugins
from .slugs import heading_slug
from .urls import asset_site_path

HEADING_ID = re.compile(r"\s*\{#([A-Za-z][\w\-:.]*)\}\s*$")
TAG = re.compile(r"<[^>]+>")
CALLOUTS = ("note", "tip", "important", "warning", "caution")
DEFAULT_LABELS = {
    "note": "Note",
    "tip": "Tip",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "play_video": "Play video",
    "watch_video": "Watch the video",
}


@dataclass
class LinkFallback:
    """A translation's links to articles it does not have (kbgen/languages.py `link_fallback`): a `.md` link
    that resolves to nothing in this language but to an article at the same path in the default language
    goes there, with `hreflang` and a label such as "(in English)"."""

    urls: dict[str, str]  # content-relative .md path (in the default language) → href with its prefix
    lang: str  # the default language's code: the link's hreflang
    label: str  # shown after the link, in this page's UI language ("(en anglais)")
    keys: dict[str, str] = field(default_factory=dict)  # that path → its translation key
    own: dict[str, str] = field(default_factory=dict)  # that path → this language's translation at another path

    def resolved(self, articles: Iterable[Any]) -> LinkFallback:
        """This language's articles known: a link to a default-language path whose translation here has another
        path (`translation_key`) goes to that translation, unmarked."""
        from .content.model import translation_key

        mine = {translation_key(a): a.url for a in articles}
        own = {rel: mine[key] for rel, key in self.keys.items() if key in mine}
        return replace(self, own=own)


@dataclass
class LinkContext:
    """What link and image resolution needs to know about the whole site."""

    content_dir: Path
    base_path: str = "/"  # "/" or "/help/"
    urls: dict[str, str] = field(default_factory=dict)  # content-relative .md path → site-relative URL
    anchors: dict[str, set[str]] = field(default_factory=dict)  # content-relative .md path → heading ids
    check_images: bool = True
    unpublished: set[str] = field(default_factory=set)  # drafts: they exist but are not published
    fallback: LinkFallback | None = None  # a translation: links to the default language's articles

    def href(self, site_path: str) -> str:
        return self.base_path.rstrip("/") + site_path

    def dependency(self, rel: str, fragment: str) -> tuple[str | None, bool, bool]:
        """What a link to `rel#fragment` resolved to: (URL, is a draft, anchor found). Cached renders are
        reused only while every dependency still resolves the same way."""
        anchor_ok = not fragment or rel not in self.anchors or fragment in self.anchors[rel]
        url = self.urls.get(rel)
        if url is None and self.fallback is not None:
            url = self.fallback.own.get(rel)
            if url is None and rel in self.fallback.urls:
                url = f"{self.fallback.lang}:{self.fallback.urls[rel]}"  # changes when the target does
        return (url, rel in self.unpublished, anchor_ok)

    def still_valid(self, deps: dict[str, tuple[str | None, bool, bool]], files: dict[str, bool]) -> bool:
        for key, was in deps.items():
            rel, _, fragment = key.partition("#")
            if self.dependency(rel, fragment) != was:
                return False
        return all((self.content_dir / rel).is_file() == was for rel, was in files.items())


@lru_cache(maxsize=8)
def _link_roots(content_dir: Path) -> list[str]:
    from .safepath import allowed_roots

    return allowed_roots(content_dir.parent, content_dir)


def _links_outside(content_dir: Path, rel: str) -> bool:
    """Is content file `rel` a symbolic link (or inside a linked folder) whose target is outside the project?
    The loader does not publish it, so a page must not point to it (nor read its size)."""
    from .safepath import is_within

    return not is_within(os.path.realpath(content_dir / rel), _link_roots(content_dir))


@dataclass
class Issue:
    line: int
    message: str
    level: str = "warning"
    code: str = ""  # a `Problem.code`: broken-link, draft-link, broken-anchor, missing-image, unsafe-path
    target: str = ""  # the content-relative path it names (without `#anchor`)


@dataclass
class Rendered:
    html: str
    intro_html: str
    text: str
    intro_text: str
    headings: list[str]
    toc: list[tuple[int, str, str]]
    faq: list[tuple[str, str, str, str, int]]  # question, anchor, answer_html, answer_text, line
    steps: list[tuple[str, str, str]]  # html, text, anchor
    sections: list[tuple[str, str, str]]  # anchor, heading, text
    assets: list[str]  # content-relative paths of local images/files used
    links: list[tuple[str, int]]  # content-relative targets of .md links, with their line
    images: list[tuple[str, str, int]]  # src as written, alt, line
    issues: list[Issue]
    word_count: int
    deps: dict[str, tuple[str | None, bool, bool]] = field(default_factory=dict)  # link target → resolution
    files: dict[str, bool] = field(default_factory=dict)  # local file → existed
    fallbacks: list[tuple[str, int]] = field(default_factory=list)  # links sent to the default language


class _Env(dict[str, Any]):
    pass


def _inline_text(token: Token) -> str:
    """The plain text of an inline token (children flattened)."""
    out: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif child.type == "image":
            out.append(child.content)
        elif child.type == "html_inline":
            continue
    return "".join(out)


def _token_text(tok: Token) -> str:
    """The plain text one block-level token adds to the search text, whitespace runs made one space."""
    kind = tok.type
    if kind == "inline":
        raw = _inline_text(tok)
    elif kind in ("fence", "code_block"):
        raw = tok.content
    elif kind == "html_block":
        raw = html.unescape(TAG.sub(" ", tok.content))
    else:
        return ""
    # `str.split()` and the regex `\s` use the same whitespace set, so this is `SPACE.sub(" ", raw).strip()`.
    return " ".join(raw.split())


def _video_embed(src: str) -> tuple[str, str, str] | None:
    """(kind, embed URL, thumbnail URL) for a YouTube/Vimeo page URL or a local video file."""
    parts = urlsplit(src)
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    if host in ("youtube.com", "youtube-nocookie.com", "youtu.be"):
        vid = ""
        if host == "youtu.be":
            vid = parts.path.strip("/")
        elif parts.path.startswith(("/embed/", "/shorts/", "/live/")):
            vid = parts.path.split("/")[2]
        else:
            vid = (parse_qs(parts.query).get("v") or [""])[0]
        if re.fullmatch(r"[\w-]{6,20}", vid):
            return ("youtube", f"https://www.youtube-nocookie.com/embed/{vid}?autoplay=1&rel=0", "")
    if host in ("vimeo.com", "player.vimeo.com"):
        m = re.search(r"(\d{5,})", parts.path)
        if m:
            return ("vimeo", f"https://player.vimeo.com/video/{m.group(1)}?autoplay=1&dnt=1", "")
    if parts.path.lower().endswith((".mp4", ".webm", ".m4v")):
        return ("file", src, "")
    return None


# The only characters a line can start with (after its indent) for each block rule to match: every rule listed
# returns False, with no side effect, on any other first character. Rules not listed are tried on every line.
_BLOCK_RULE_STARTS = {
    "container_callout": ":",
    "fence": "`~",
    "blockquote": ">",
    "hr": "*-_",
    "list": "*-+0123456789",
    "footnote_def": "[",
    "reference": "[",
    "html_block": "<",
    "heading": "#",
}


def _dispatch_block_rules(md: MarkdownIt) -> None:
    """Make the block parser try, on each line, only the rules that can match its first character.

    markdown-it tries every block rule in turn on each line until one matches; most lines start with a letter,
    which only 5 of the 14 rules can match. This is `ParserBlock.tokenize` with the same rules in the same
    order, minus those that would return False anyway: the tokens are the same.
    """
    block = md.block
    ruler = block.ruler
    enabled = [r for r in ruler.__rules__ if r.enabled]
    every = [r.fn for r in enabled]
    if every != ruler.getRules(""):  # pragma: no cover - a markdown-it whose Ruler works differently
        return
    chars = set("".join(_BLOCK_RULE_STARTS[r.name] for r in enabled if r.name in _BLOCK_RULE_STARTS))
    by_char = {ch: tuple(r.fn for r in enabled if ch in _BLOCK_RULE_STARTS.get(r.name, ch)) for ch in chars}
    other = tuple(r.fn for r in enabled if r.name not in _BLOCK_RULE_STARTS)

    def tokenize(state: StateBlock, startLine: int, endLine: int) -> None:
        line = startLine
        maxNesting = state.md.options.maxNesting
        hasEmptyLines = False
        src = state.src
        while line < endLine:
            state.line = line = state.skipEmptyLines(line)
            if line >= endLine:
                break
            if state.sCount[line] < state.blkIndent:
                break
            if state.level >= maxNesting:
                state.line = endLine
                break
            ok = False
            for rule in by_char.get(src[state.bMarks[line] + state.tShift[line]], other):
                ok = rule(state, line, endLine, False)
                if ok:
                    if state.line <= line:
                        raise RuntimeError("block rule didn't increment state.line")
                    break
            if not ok:
                raise RuntimeError("none of the block rules matched")
            state.tight = not hasEmptyLines
            line = state.line
            if (line - 1) < endLine and state.isEmpty(line - 1):
                hasEmptyLines = True
            if line < endLine and state.isEmpty(line):
                hasEmptyLines = True
                line += 1
                state.line = line

    block.tokenize = tokenize  # type: ignore[method-assign]


class MarkdownRenderer:
    """One configured markdown-it parser; `render()` is called once per article."""

    def __init__(self, links: LinkContext, labels: dict[str, str] | None = None) -> None:
        self.links = links
        self.labels = {**DEFAULT_LABELS, **(labels or {})}
        md = MarkdownIt("commonmark", {"html": True, "alerts": True, "tasklists": True, "typographer": False})
        md.enable(["table", "strikethrough"])
        md.use(footnote_plugin)
        md.use(deflist_plugin)
        labels = self.labels

        def render_container(
            renderer: RendererHTML, tokens: list[Token], idx: int, options: Any, env: Any
        ) -> str:
            return _container_html(tokens[idx], labels)

        # One container rule for every callout kind: each extra block rule is tried on every line.
        md.use(
            container_plugin,
            name="callout",
            validate=lambda params, *_: params.strip().split(" ", 1)[0] in CALLOUTS,
            render=render_container,
        )
        md.core.ruler.push("kb_tree", self._rule_tree)
        md.add_render_rule("table_open", self._render_table_open)
        md.add_render_rule("table_close", self._render_table_close)
        md.add_render_rule("th_open", self._render_cell_open)
        md.add_render_rule("td_open", self._render_cell_open)
        md.add_render_rule("image", self._render_image)
        plugins.call("on_markdown", md=md)  # kbgen.plugins: register markdown-it plugins
        _dispatch_block_rules(md)
        self.md = md

    # -- container / table / image rendering -------------------------------------------------

    @staticmethod
    def _render_table_open(
        renderer: RendererHTML, tokens: list[Token], idx: int, options: Any, env: Any
    ) -> str:
        return '<div class="kb-table-wrap" tabindex="0">' + renderer.renderToken(tokens, idx, options, env)

    @staticmethod
    def _render_table_close(
        renderer: RendererHTML, tokens: list[Token], idx: int, options: Any, env: Any
    ) -> str:
        return renderer.renderToken(tokens, idx, options, env) + "</div>\n"

    @staticmethod
    def _render_cell_open(
        renderer: RendererHTML, tokens: list[Token], idx: int, options: Any, env: Any
    ) -> str:
        # A column's alignment as a class, not markdown-it's style="text-align:…" (which a
        # Content-Security-Policy without 'unsafe-inline' blocks).
        tok = tokens[idx]
        style = str(tok.attrGet("style") or "")
        if style:
            tok.attrs.pop("style", None)
            align = style.removeprefix("text-align:")
            if align in ("left", "right", "center"):
                tok.attrJoin("class", f"kb-align-{align}")
        return renderer.renderToken(tokens, idx, options, env)

    @staticmethod
    def _render_image(renderer: RendererHTML, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
        tok = tokens[idx]
        alt = renderer.renderInlineAsText(tok.children or [], options, env)
        attrs = [f'src="{html.escape(str(tok.attrGet("src") or ""))}"', f'alt="{html.escape(alt)}"']
        title = tok.attrGet("title")
        if title:
            attrs.append(f'title="{html.escape(str(title))}"')
        for name in ("width", "height"):
            value = tok.attrGet(name)
            if value:
                attrs.append(f'{name}="{value}"')
        attrs.append('loading="lazy" decoding="async"')
        return f"<img {' '.join(attrs)}>"

    # -- core rules ---------------------------------------------------------------------------

    def _rule_tree(self, state: StateCore) -> None:
        """kbgen's core rule, one walk over the tokens (the same effects, in the same order, as one walk each):

        - heading ids: `{#id}` removed from the text and set, then slugs for the other headings, unique in the
          page (explicit ids anywhere in the page come first);
        - media: a paragraph holding only a video "image" becomes a block-level figure; images are resolved;
        - links: resolved after every image (so that issues keep the images-then-links order).

        Leaves `env["kb_heads"]`: (index in the final tokens, heading_open, heading text) for `render`.
        """
        env: _Env = state.env
        tokens = state.tokens
        count = len(tokens)
        out: list[Token] = []
        heads: list[tuple[int, Token, str]] = []
        used: set[str] = set()
        pending: list[tuple[Token, str]] = []
        links: list[tuple[Token, int, list[Token]]] = []
        i = 0
        while i < count:
            tok = tokens[i]
            kind = tok.type
            if kind == "inline":
                children = tok.children
                if children:
                    line = tok.map[0] + 1 if tok.map else 0
                    for child in children:
                        ckind = child.type
                        if ckind == "image":
                            self._resolve_image(child, line, env)
                        elif ckind == "link_open":
                            links.append((child, line, children))
            elif kind == "heading_open":
                inline = tokens[i + 1]
                explicit = ""
                m = HEADING_ID.search(inline.content)
                if m:
                    explicit = m.group(1)
                    inline.content = inline.content[: m.start()]
                    children = inline.children or []
                    if children and children[-1].type == "text":
                        last = children[-1]
                        m2 = HEADING_ID.search(last.content)
                        if m2:
                            last.content = last.content[: m2.start()]
                text = _inline_text(inline)
                if explicit:
                    used.add(explicit)
                    tok.attrSet("id", explicit)
                else:
                    pending.append((tok, text))
                heads.append((len(out), tok, text))
            elif kind == "paragraph_open" and i + 2 < count:
                # A paragraph holding only a video "image" becomes a block-level figure.
                children = tokens[i + 1].children
                if (
                    tokens[i + 1].type == "inline"
                    and children
                    and len(children) == 1
                    and children[0].type == "image"
                ):
                    img = children[0]
                    embed = _video_embed(str(img.attrGet("src") or ""))
                    if embed:
                        block = Token("html_block", "", 0)
                        block.content = self._video_html(img, embed, tok.map[0] if tok.map else 0, env)
                        block.map = tok.map
                        out.append(block)
                        i += 3
                        continue
            out.append(tok)
            i += 1
        for tok, text in pending:
            base = heading_slug(text)
            anchor, n = base, 2
            while anchor in used:
                anchor, n = f"{base}-{n}", n + 1
            used.add(anchor)
            tok.attrSet("id", anchor)
        for child, line, siblings in links:
            before = len(env["fallbacks"])
            child.attrSet("href", self._resolve_link(str(child.attrGet("href") or ""), line, env))
            if len(env["fallbacks"]) > before:
                self._mark_fallback(child, siblings)
        state.tokens = out
        env["kb_heads"] = heads

    def _mark_fallback(self, link: Token, siblings: list[Token]) -> None:
        """A link to the default language's article: `hreflang`, and its label after the link."""
        fallback = self.links.fallback
        assert fallback is not None
        link.attrSet("hreflang", fallback.lang)
        start = next(i for i, t in enumerate(siblings) if t is link)
        depth = 0
        for i in range(start + 1, len(siblings)):
            kind = siblings[i].type
            if kind == "link_open":
                depth += 1
            elif kind == "link_close":
                if depth == 0:
                    note = Token("html_inline", "", 0)
                    note.content = f' <span class="kb-link-lang">{html.escape(fallback.label)}</span>'
                    siblings.insert(i + 1, note)
                    return
                depth -= 1

    def _video_html(self, img: Token, embed: tuple[str, str, str], line0: int, env: _Env) -> str:
        kind, src, _thumb = embed
        caption = _inline_text(img) or img.content or self.labels["watch_video"]
        cap = html.escape(caption)
        if kind == "file":
            href = self._local_href(src, line0 + 1, env) if not urlsplit(src).scheme else src
            return (
                f'<figure class="kb-video kb-video-file"><video controls preload="none" src="{html.escape(href)}">'
                f'<a href="{html.escape(href)}">{cap}</a></video><figcaption>{cap}</figcaption></figure>\n'
            )
        original = str(img.attrGet("src"))
        label = html.escape(f"{self.labels['play_video']}: {caption}")
        return (
            f'<figure class="kb-video" data-kb-provider="{kind}">'
            f'<button type="button" class="kb-video-facade" data-kb-video="{kind}" '
            f'data-src="{html.escape(src)}" aria-label="{label}"><span class="kb-video-play" aria-hidden="true">'
            f"</span></button>"
            f'<figcaption>{cap} <a class="kb-video-link" href="{html.escape(original)}" rel="noopener">'
            f"{html.escape(self.labels['watch_video'])}</a></figcaption></figure>\n"
        )

    def _local_href(self, src: str, line: int, env: _Env) -> str:
        """Resolve a relative file reference to its site URL; record it, or report it missing."""
        path_part, _, frag = src.partition("#")
        rel = posixpath.normpath(posixpath.join(env["dir"], path_part))
        named = posixpath.normpath(posixpath.join(env["dir"], path_part.split("?", 1)[0]))
        if rel.startswith("../") or rel == "..":
            env["issues"].append(Issue(line, f"file outside the content directory: {src}", code="missing-image",
                                       target=named))  # fmt: skip
            return src
        exists = (self.links.content_dir / rel).is_file() if self.links.check_images else True
        env["files"][rel] = exists
        if not exists:
            env["issues"].append(Issue(line, f"image not found: {src}", code="missing-image", target=named))
            return src
        if self.links.check_images and _links_outside(self.links.content_dir, rel):
            env["issues"].append(Issue(line, f"file is a symbolic link outside the project (not published): {src}",
                                       code="unsafe-path", target=rel))  # fmt: skip
            return src
        env["assets"].append(rel)
        return self.links.href(asset_site_path(rel)) + (f"#{frag}" if frag else "")

    def _resolve_image(self, tok: Token, line: int, env: _Env) -> None:
        src = str(tok.attrGet("src") or "")
        env["images"].append((src, _inline_text(tok), line))
        parts = urlsplit(src)
        if parts.scheme or src.startswith(("//", "data:")) or not src:
            return
        if src.startswith("/"):
            tok.attrSet("src", self.links.href(src))
            return
        before = len(env["assets"])
        href = self._local_href(src, line, env)
        tok.attrSet("src", href)
        if len(env["assets"]) > before:
            import imagesize  # only sites with images pay for its import (it pulls in urllib)

            try:
                size = imagesize.get(self.links.content_dir / env["assets"][-1])
            except (OSError, ValueError):
                size = (-1, -1)
            if size[0] > 0 and size[1] > 0:
                tok.attrSet("width", str(size[0]))
                tok.attrSet("height", str(size[1]))

    def _resolve_link(self, href: str, line: int, env: _Env) -> str:
        parts = urlsplit(href)
        if parts.scheme or href.startswith(("#", "//")) or not href:
            return href
        if href.startswith("/"):
            base = self.links.base_path
            return href if base == "/" or href.startswith(base) else self.links.href(href)
        path = parts.path
        frag = f"#{parts.fragment}" if parts.fragment else ""
        if path.endswith(".md"):
            rel = posixpath.normpath(posixpath.join(env["dir"], path))
            url = self.links.urls.get(rel)
            env["deps"][f"{rel}#{parts.fragment}"] = self.links.dependency(rel, parts.fragment)
            fallback = self.links.fallback
            if url is None and fallback is not None and rel in fallback.own:  # translated at another path
                return self.links.href(fallback.own[rel]) + frag
            if url is None and fallback is not None and rel in fallback.urls:
                env["fallbacks"].append((rel, line))  # untranslated: the default language's article
                return fallback.urls[rel] + frag
            if url is None:
                what = (
                    "a draft article (not published)"
                    if rel in self.links.unpublished
                    else "a missing article"
                )
                code = "draft-link" if rel in self.links.unpublished else "broken-link"
                env["issues"].append(Issue(line, f"link to {what}: {href}", code=code, target=rel))
                return href
            env["links"].append((rel, line))
            if parts.fragment and rel in self.links.anchors and parts.fragment not in self.links.anchors[rel]:
                env["issues"].append(Issue(line, f"link to a missing anchor: {href}", code="broken-anchor",
                                           target=rel))  # fmt: skip
            return self.links.href(url) + frag
        # A link to another local file (a PDF, an image): publish it like an image.
        if path and "." in posixpath.basename(path):
            return self._local_href(path, line, env) + frag
        return href

    # -- public ----------------------------------------------------------------------------

    def render(self, body: str, source: str, line_offset: int = 0, article_type: str = "article") -> Rendered:
        """Render one article body. `source` is its content-relative path; `line_offset` the lines above."""
        env = _Env(
            dir=posixpath.dirname(source), issues=[], assets=[], links=[], images=[], deps={}, files={},
            fallbacks=[],
        )
        tokens = self.md.parse(body, env)
        heads: list[tuple[int, Token, str]] = env.pop("kb_heads", [])
        steps_spans = _mark_steps(tokens, heads) if article_type == "howto" else []
        render = self.md.renderer.render
        options = self.md.options
        # Each token's text once (see `_token_text`); the text of a slice joins the non-empty ones.
        norm = [""] * len(tokens)
        for i, tok in enumerate(tokens):
            if tok.type in _TEXT_TOKENS:
                norm[i] = _token_text(tok)

        def text_of(start: int, end: int) -> str:
            return " ".join([t for t in norm[start:end] if t])

        h2_positions = [k for k, t, _ in heads if t.tag == "h2" and t.level == 0]
        toc = [
            (int(t.tag[1]), str(t.attrGet("id")), text)
            for _, t, text in heads
            if t.tag in ("h2", "h3") and t.level == 0
        ]
        headings = [text for _, _, text in heads]
        head_text = {k: text for k, _, text in heads}
        first_h2 = h2_positions[0] if h2_positions else len(tokens)
        # Footnote definitions render at the very end; keep them with the last slice.
        bounds = h2_positions + [len(tokens)]
        sections: list[tuple[str, str, str]] = []
        faq: list[tuple[str, str, str, str, int]] = []
        pieces: list[str] = []
        if article_type == "faq":
            # Rendering is a concatenation over tokens whose only look-ahead (an opening tag's newline) never
            # crosses a slice boundary here, so the page is the intro, then each question and its answer.
            intro_html = render(tokens[:first_h2], options, env)
            pieces.append(intro_html)
        else:
            intro_html = ""
        for start, end in zip(bounds, bounds[1:], strict=False):
            head = tokens[start]
            anchor = str(head.attrGet("id"))
            question = head_text[start]
            text = text_of(start + 3, end)
            sections.append((anchor, question, text))
            if article_type == "faq":
                answer_html = render(tokens[start + 3 : end], options, env)
                pieces.append(render(tokens[start : start + 3], options, env))
                pieces.append(answer_html)
                line = (head.map[0] + 1 + line_offset) if head.map else 0
                faq.append((question, anchor, answer_html, text, line))
        full_html = "".join(pieces) if article_type == "faq" else render(tokens, options, env)
        steps = [
            (render(tokens[a:b], options, env), text_of(a, b), f"step-{n}")
            for n, (a, b) in enumerate(steps_spans, 1)
        ]
        text = text_of(0, len(tokens))
        intro_text = text_of(0, first_h2)
        for issue in env["issues"]:
            issue.line += line_offset
        return Rendered(
            html=full_html,
            intro_html=intro_html,
            text=text,
            intro_text=intro_text,
            headings=headings,
            toc=toc,
            faq=faq,
            steps=steps,
            sections=sections,
            assets=sorted(set(env["assets"])),
            links=[(t, ln + line_offset) for t, ln in env["links"]],
            images=[(s, a, ln + line_offset) for s, a, ln in env["images"]],
            issues=env["issues"],
            word_count=len(text.split()),
            deps=env["deps"],
            files=env["files"],
            fallbacks=[(t, ln + line_offset) for t, ln in env["fallbacks"]],
        )


def _container_html(tok: Token, labels: dict[str, str]) -> str:
    """`::: tip [Title]` renders like a GitHub alert of the same kind, with an optional own title."""
    if tok.nesting != 1:
        return "</div>\n"
    kind = tok.info.strip().split(" ", 1)
    name = kind[0]
    title = kind[1].strip() if len(kind) > 1 else labels.get(name, name.title())
    return (
        f'<div class="markdown-alert markdown-alert-{html.escape(name)}" role="note">\n'
        f'<p class="markdown-alert-title">{html.escape(title)}</p>\n'
    )


STEP_HEADINGS = ("steps", "étapes", "pasos", "schritte")
_TEXT_TOKENS = frozenset(("inline", "fence", "code_block", "html_block"))


def _mark_steps(tokens: list[Token], heads: list[tuple[int, Token, str]]) -> list[tuple[int, int]]:
    """Find a how-to's steps (the list under `## Steps`, else the first ordered list); mark them and return
    each step's tokens as a (start, end) slice of `tokens`. `heads` are `_rule_tree`'s headings."""
    start = next((k for k, t, text in heads if t.level == 0 and text.strip().lower() in STEP_HEADINGS), None)
    search_from = start if start is not None else 0
    open_idx = next(
        (
            i
            for i in range(search_from, len(tokens))
            if tokens[i].type == "ordered_list_open" and tokens[i].level == 0
        ),
        None,
    )
    if open_idx is None:
        return []
    list_tok = tokens[open_idx]
    list_tok.attrJoin("class", "kb-steps")
    items: list[tuple[int, int]] = []
    item_start = -1
    for j in range(open_idx + 1, len(tokens)):
        t = tokens[j]
        if t.type == "ordered_list_close" and t.level == list_tok.level:
            break
        if t.type == "list_item_open" and t.level == list_tok.level + 1:
            item_start = j + 1
            t.attrSet("id", f"step-{len(items) + 1}")
            continue
        if t.type == "list_item_close" and t.level == list_tok.level + 1:
            items.append((item_start, j))
            item_start = -1
    return items


@lru_cache(maxsize=1)
def _heading_parser() -> MarkdownIt:
    """The renderer's block structure (containers, footnotes, definition lists, tables) without its inline
    pass: headings found as `render()` finds them, at a fraction of its cost."""
    md = MarkdownIt("commonmark", {"html": True})
    md.enable(["table"])
    md.use(footnote_plugin)
    md.use(deflist_plugin)
    md.use(container_plugin, name="callout", validate=lambda params, *_: params.strip().split(" ", 1)[0] in CALLOUTS)
    md.core.ruler.disable("inline")
    return md


def headings(body: str) -> list[tuple[int, int, str]]:
    """(level, 0-based line, text as written without its `{#id}`) of every heading of a Markdown body, from
    its block-level token stream (for `kbgen check`'s heading rules)."""
    tokens = _heading_parser().parse(body)
    out: list[tuple[int, int, str]] = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and i + 1 < len(tokens):
            content = tokens[i + 1].content
            m = HEADING_ID.search(content)
            out.append((int(tok.tag[1]), tok.map[0] if tok.map else 0, content[: m.start()] if m else content))
    return out


def source_anchors(body: str) -> set[str]:
    """The heading ids a body will have, to check `file.md#anchor` links before rendering (a line scan: a
    second parse of every body would cost as much as the links it checks). Each `{#id}`, each heading's
    `heading_slug` (as `render()` makes them) and its next de-duplicated forms (`-2` … `-5`)."""
    anchors: set[str] = set()
    in_fence = False
    for line in body.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence or not stripped.startswith("#"):
            continue
        text = stripped.lstrip("#").strip()
        m = HEADING_ID.search(text)
        if m:
            anchors.add(m.group(1))
            text = text[: m.start()]
        base = heading_slug(text)
        anchors.add(base)
        for n in range(2, 6):
            anchors.add(f"{base}-{n}")
    return anchors


