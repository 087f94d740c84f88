"""`kbgen check`: content lint for editors and CI.

Every finding is `path:line: level: message [rule-id]`. Errors are what breaks the site for customers
(broken links and images, duplicate URLs and titles, FAQ pages without questions, invalid front matter);
warnings are what makes it worse (missing alt text and descriptions, skipped heading levels, long titles,
duplicate FAQ questions, stale articles — the most viewed first when analytics data exists).

The loader's own problems are reused as they are (link and image resolution live in one place); the rules
here only look at the loaded `Library`.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import click

from .config import Config, load_config
from .content.frontmatter import key_line
from .content.load import LoadDetails, LoadOptions, load_library_details
from .content.model import Article
from .errors import ConfigError, Problem, display_path
from .languages import (
    UNTRANSLATED_KEY,
    default_first,
    is_untranslated,
    language_sites,
    link_fallback,
    translation_key,
    ui_strings,
)
from .markdown import headings
from .render import Theme, build_date_from_env
from .termsafe import for_terminal

MAX_TITLE = 70

# rule id → (level, what it finds)
RULES: dict[str, tuple[str, str]] = {
    "invalid-front-matter": ("error", "front matter that is not valid YAML or has a wrong value"),
    "invalid-file": ("error", "a file that cannot be read as UTF-8 text"),
    "broken-link": ("error", "a link to an article that does not exist"),
    "broken-related": ("error", "a `related:` entry naming an article that does not exist"),
    "missing-image": ("error", "an image or file that does not exist"),
    "duplicate-url": ("error", "two pages at the same address (slugs or aliases)"),
    "duplicate-title": ("error", "two articles with the same title"),
    "faq-no-questions": ("error", "an FAQ page without any `## Question?`"),
    "empty-folder": ("error", "an `_index.md` in a folder without articles"),
    "content-error": ("error", "another problem that stops the build"),
    "broken-anchor": ("warning", "a link to a heading that does not exist in the target article"),
    "missing-alt": ("warning", "an image without alt text"),
    "heading-skip": ("warning", "a heading that skips a level (## then ####)"),
    "heading-h1": ("warning", "a level-1 heading in the body (the title is the page's heading 1)"),
    "duplicate-question": ("warning", "the same question on two FAQ pages"),
    "missing-description": ("warning", "an article without a description"),
    "long-title": ("warning", f"a title longer than {MAX_TITLE} characters"),
    "stale": ("warning", "an article not updated for more than `check.stale_after` months"),
    "placeholder": ("warning", "example text that `kbgen new` wrote, still in the article"),
    "empty-description": ("warning", "a category or section without a description"),
    "future-date": ("warning", "an `updated` date after today"),
    "content-warning": ("warning", "another problem found while reading the content"),
    "analytics": ("warning", "a problem with the analytics data"),
    # [languages] with several languages (kbgen/languages.py)
    "missing-translation": ("warning", "an article of the default language with no translation in another"),
    "outdated-translation": ("warning", "a translation older than its source (`updated` or git date)"),
    "untranslated": ("warning", "a `kbgen new --translate` copy still marked `untranslated: true`"),
    "untranslated-link": ("warning", "a link to an article this language has not translated (it goes to "
                                     "the default language's)"),
}

# The loader's problem codes that are rules of their own (kbgen/errors.py lists every code); the others are
# content-error or content-warning by their level.
_LOADER_CODES = frozenset({"broken-link", "broken-anchor", "broken-related", "missing-image", "duplicate-url",
                           "empty-folder", "invalid-file", "invalid-front-matter"})  # fmt: skip


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    level: str
    message: str
    rule: str
    views: int = 0
    code: str = field(default="", compare=False)  # the loader's `Problem.code` (else the rule)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.level}: {self.message} [{self.rule}]"

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("views")
        data["code"] = self.code or self.rule
        return data


def _loader_rule(p: Problem) -> str:
    """The rule of a loader problem, by its code (a warning about front matter is a content-warning)."""
    rule = p.code if p.code in _LOADER_CODES else ""
    if rule == "invalid-front-matter" and p.level != "error":
        rule = ""
    return rule or ("content-error" if p.level == "error" else "content-warning")


def _months_between(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold().rstrip("?.!:").strip()


class Checker:
    """Runs every rule over a loaded content folder."""

    def __init__(self, config: Config, details: LoadDetails, today: date, cwd: Path) -> None:
        self.config = config
        self.details = details
        self.library = details.result.library
        self.today = today
        self.cwd = cwd
        self.findings: list[Finding] = []
        self._raw: dict[str, str] = {}

    def shown(self, rel: str) -> str:
        path = Path(rel)
        if not path.is_absolute():
            path = self.config.content_path / rel
        return display_path(path, self.cwd)

    def add(
        self, rel: str, line: int, rule: str, message: str, views: int = 0, level: str = "", code: str = ""
    ) -> None:
        level = level or RULES[rule][0]  # "info": reported, never fails the check (not even --strict)
        self.findings.append(Finding(self.shown(rel), line, level, message, rule, views, code))

    def line_of(self, rel: str, key: str) -> int:
        if rel not in self._raw:
            try:
                self._raw[rel] = (self.config.content_path / rel).read_text(
                    encoding="utf-8", errors="replace"
                )
            except OSError:
                self._raw[rel] = ""
        return key_line(self._raw[rel], key)

    def run(self, extra: Iterable[Problem] = ()) -> list[Finding]:
        for p in self.details.result.problems:
            self.add(p.path, p.line, _loader_rule(p), p.message, code=p.code)
        for p in extra:
            self.findings.append(Finding(p.path, p.line, "warning", p.message, "analytics", code=p.code))
        articles = self.library.articles
        for a in articles:
            self.check_article(a)
        self.check_duplicate_titles(articles)
        self.check_duplicate_questions(articles)
        self.check_alias_urls(articles)
        self.check_stale(articles)
        self.check_unfinished(articles)
        return self.ordered()

    def ordered(self) -> list[Finding]:
        unique = list(dict.fromkeys(self.findings))
        stale = [f for f in unique if f.rule == "stale"]
        rest = [f for f in unique if f.rule != "stale"]
        rest.sort(key=lambda f: (f.path, f.line, f.level != "error", f.rule, f.message))
        return rest + stale  # stale ones keep their own order: most viewed (then oldest) first

    # -- per article -----------------------------------------------------------------------------

    def check_article(self, a: Article) -> None:
        rendered = self.details.rendered.get(a.source)
        if rendered is not None:
            for src, alt, line in rendered.images:
                if not alt.strip():
                    self.add(a.source, line, "missing-alt",
                             f"image without alt text: {src} (describe it in ![...] for people who can't see it)")  # fmt: skip
        if a.type == "faq" and not a.faq:
            parsed = self.details.sources.get(a.source)
            line = (parsed.body_line + 1) if parsed is not None else 1
            self.add(a.source, line, "faq-no-questions",
                     "FAQ page without questions: write each question as a `## Question?` heading")  # fmt: skip
        if not a.description:
            self.add(a.source, 1, "missing-description",
                     "no `description`: search results and listings show it under the title")  # fmt: skip
        if len(a.title) > MAX_TITLE:
            self.add(a.source, self.line_of(a.source, "title"), "long-title",
                     f"title is {len(a.title)} characters (over {MAX_TITLE}, search engines cut it off)")  # fmt: skip
        self.check_headings(a)

    def check_headings(self, a: Article) -> None:
        parsed = self.details.sources.get(a.source)
        if parsed is None:
            return
        previous = 1  # the title is the page's heading 1
        for level, first, _text in headings(parsed.body):
            line = parsed.body_line + first + 1
            if level == 1:
                self.add(a.source, line, "heading-h1",
                         "heading 1 in the body: the title is the page's heading 1, start sections with ##")  # fmt: skip
            elif level > previous + 1:
                self.add(a.source, line, "heading-skip",
                         f"heading level {level} after level {previous}: use {'#' * (previous + 1)} "
                         "(screen readers and the table of contents rely on the order)")  # fmt: skip
            previous = level

    # -- across articles -------------------------------------------------------------------------

    def check_duplicate_titles(self, articles: list[Article]) -> None:
        groups: dict[str, list[Article]] = defaultdict(list)
        for a in articles:
            groups[_norm(a.title)].append(a)
        for group in groups.values():
            if len(group) < 2:
                continue
            for a in group:
                others = ", ".join(self.shown(o.source) for o in group if o is not a)
                self.add(a.source, self.line_of(a.source, "title"), "duplicate-title",
                         f"same title as {others}: customers can't tell them apart in search and lists")  # fmt: skip

    def check_duplicate_questions(self, articles: list[Article]) -> None:
        seen: dict[str, tuple[Article, int]] = {}
        for a in articles:
            if a.type != "faq":
                continue
            for entry in a.faq:
                key = _norm(entry.question)
                if not key:
                    continue
                first = seen.get(key)
                if first is None:
                    seen[key] = (a, entry.line)
                    continue
                where = self.shown(first[0].source) + (f":{first[1]}" if first[1] else "")
                self.add(a.source, entry.line, "duplicate-question",
                         f"question {entry.question!r} is also answered in {where}: keep one answer and link to it")  # fmt: skip

    def check_alias_urls(self, articles: list[Article]) -> None:
        from .urls import alias_output, page_output

        owners: dict[str, str] = {}
        for cat in self.library.categories:
            for node in (cat, *cat.sections):
                owners[page_output(node.url)] = node.source or node.url
        for a in articles:
            owners[page_output(a.url)] = a.source
        for a in articles:
            for alias in a.aliases:
                out = alias_output(alias)
                other = owners.get(out)
                if other is not None and other != a.source:
                    self.add(a.source, self.line_of(a.source, "aliases"), "duplicate-url",
                             f"alias {alias} is the address of {self.shown(other)}")  # fmt: skip
                else:
                    owners[out] = a.source

    def check_stale(self, articles: list[Article]) -> None:
        months = self.config.check.stale_after
        has_views = any(a.views for a in articles)
        stale = [
            a for a in articles if a.updated is not None and _months_between(a.updated, self.today) >= months
        ]
        stale.sort(key=lambda a: (-a.views, a.updated or date.min, a.source))
        for a in stale:
            assert a.updated is not None
            age = _months_between(a.updated, self.today)
            message = (
                f"not updated since {a.updated.isoformat()} ({age} months; check.stale_after is {months})"
            )
            if has_views and a.views:
                rank = f", #{a.popularity_rank} most viewed" if a.popularity_rank else ""
                message += f" — {a.views:,} views{rank}"
            self.add(a.source, self.line_of(a.source, "updated"), "stale", message, a.views)


    def check_unfinished(self, articles: list[Article]) -> None:
        """`kbgen new`'s example text left in, folders without a description, `updated` in the future."""
        phrases = _placeholders()
        for a in articles:
            parsed = self.details.sources.get(a.source)
            if parsed is not None:
                lines = parsed.body.splitlines()
                for i, line in enumerate(lines):
                    text = _norm(line.lstrip("#0123456789. "))
                    if text and text in phrases:
                        self.add(a.source, parsed.body_line + i + 1, "placeholder",
                                 f"example text from `kbgen new` is still here: {line.strip()[:80]!r}")  # fmt: skip
                        break
            if a.updated is not None and a.updated > self.today:
                line = self.line_of(a.source, "updated")
                if line:
                    self.add(a.source, line, "future-date",
                             f"`updated: {a.updated.isoformat()}` is after today ({self.today.isoformat()})")  # fmt: skip
        for cat in self.library.categories:
            for node in (cat, *cat.sections):
                # Its _index.md says nothing (as `kbgen new` writes it). A folder without one is left alone.
                if node.source and not node.description.strip():
                    line = self.line_of(node.source, "description") or 1
                    self.add(node.source, line, "empty-description",
                             f"{node.title!r} has no `description` (its _index.md): the home page and "
                             "search engines show it under the title")  # fmt: skip


def _placeholders() -> set[str]:
    """Every line of example text that `kbgen new` writes into a body, normalised."""
    from .new import BODIES

    out = set()
    for body in BODIES.values():
        for line in body.splitlines():
            text = _norm(line.lstrip("#0123456789. "))
            if len(text) > 12 and not text.startswith("`") and text != "if it didn't work":
                out.add(text)
    return out


def run_check(
    config: Config, *, drafts: bool = False, today: date | None = None, cwd: Path | None = None,
    keep: list[Any] | None = None, fallback: Any = None,
) -> list[Finding]:
    """Load the content of `config` and return every finding, in report order. Its plugins run as in
    `kbgen build` (what `on_config`, `on_article` and `on_markdown` change is checked too)."""
    from . import plugins

    if not plugins.wanted(config):
        return _run_check(config, drafts=drafts, today=today, cwd=cwd, keep=keep, fallback=fallback)
    try:
        return _run_check(
            plugins.activate(config), drafts=drafts, today=today, cwd=cwd, cache=False, keep=keep,
            fallback=fallback,
        )
    finally:
        plugins.deactivate()


def _run_check(
    config: Config, *, drafts: bool, today: date | None, cwd: Path | None, cache: bool = True,
    keep: list[Any] | None = None, fallback: Any = None,
) -> list[Finding]:
    labels: dict[str, str] = {}
    try:
        theme = Theme.for_config(config)
        strings = theme.translations(config.language)
        labels = {k[3:]: str(v) for k, v in strings.items() if k.startswith("md.")}
    except (OSError, ValueError):
        pass
    options = LoadOptions(
        drafts=drafts, base_path=config.base_path, labels=labels, workers=config.build.workers,
        fallback=fallback,  # a translation's links to the default language (kbgen/languages.py)
    )
    try:  # bodies rendered by the last `kbgen build` are reused (each only while its links resolve alike)
        from .cache import BuildCache

        if cache:  # not with plugins: what they change is unknown to the cache
            options.render_cache = BuildCache.open(config.cache_path).render
    except (ImportError, AttributeError):
        pass
    details = load_library_details(config.content_path, options, keep_sources=True)
    extra: list[Problem] = []
    try:
        from .analytics.popularity import apply_popularity
    except ImportError:
        apply_popularity = None  # type: ignore[assignment]
    if apply_popularity is not None and details.result.library.articles:
        report = apply_popularity(details.result.library, config, config.root)
        extra = [p for p in getattr(report, "problems", []) or []]
    checker = Checker(config, details, today or build_date_from_env().date(), cwd or Path.cwd())
    if keep is not None:  # kbgen/languages.py: each language's library, for the translation rules
        keep.append(checker)
    return checker.run(extra)


# -- kbgen check: every language, and what is missing or out of date in each -------------------------------


def check_languages(config: Config, *, drafts: bool = False, cwd: Path | None = None,
                    today: Any = None) -> tuple[list[Any], list[str]]:  # fmt: skip
    """Each language's findings, plus missing, outdated and untranslated translations; and one line of
    counts per language (for the terminal)."""
    findings: list[Finding] = []
    checkers: dict[str, Any] = {}
    sites = language_sites(config)
    libraries: dict[str, Any] = {}
    for s in default_first(sites):  # a translation's links fall back to the default language
        if not s.config.content_path.is_dir():
            findings.append(Finding(str(s.config.content_dir), 0, "error",
                                    f"no content folder for language {s.code!r} ([languages.{s.code}])",
                                    "content-error"))  # fmt: skip
            continue
        keep: list[Any] = []
        fallback = link_fallback(s, sites, libraries, ui_strings(s.config))
        findings += run_check(s.config, drafts=drafts, cwd=cwd, today=today, keep=keep, fallback=fallback)
        checkers[s.code] = keep[0]
        libraries[s.code] = keep[0].library
    default = next(s for s in sites if s.default)
    counts: list[str] = []
    if default.code not in checkers:
        return findings, counts
    source_checker = checkers[default.code]
    sources = {translation_key(a): a for a in source_checker.library.articles}
    # Deliberately untranslated articles are notes unless [check] require_translations (then warnings).
    gap = "warning" if config.check.require_translations else "info"
    for s in sites:
        if s.code not in checkers:
            continue
        checker = checkers[s.code]
        mine = {translation_key(a): a for a in checker.library.articles}
        untranslated = [a for a in checker.library.articles if is_untranslated(a)]
        for a in untranslated:
            checker.add(a.source, checker.line_of(a.source, UNTRANSLATED_KEY), "untranslated",
                        f"not translated yet: translate it, then remove `{UNTRANSLATED_KEY}: true`")  # fmt: skip
        if s.default:
            counts.append(f"{s.code} ({s.name}): {len(mine)} articles (the source language)")
            continue
        missing = [src for key, src in sources.items() if key not in mine]
        outdated = []
        for key, a in mine.items():
            src = sources.get(key)
            if src is not None and src.updated and a.updated and src.updated > a.updated:
                outdated.append(a)
                checker.add(a.source, checker.line_of(a.source, "updated"), "outdated-translation",
                            f"older than its source {source_checker.shown(src.source)} (updated {src.updated}, "
                            f"this translation {a.updated}): update it, then its `updated` date")  # fmt: skip
        for src in missing:
            source_checker.add(src.source, 0, "missing-translation", f"no {s.name} ({s.code}) translation",
                               level=gap)  # fmt: skip
        for a in checker.library.articles:
            rendered = checker.details.rendered.get(a.source)
            for rel, line in getattr(rendered, "fallbacks", None) or []:
                checker.add(a.source, line, "untranslated-link",
                            f"links to an untranslated article: {source_checker.shown(rel)} has no {s.name} "
                            f"({s.code}) translation, the link goes to the {default.name} one", level=gap)  # fmt: skip
        translated = len(sources) - len(missing)
        counts.append(f"{s.code} ({s.name}): {translated} of {len(sources)} articles translated, "
                      f"{len(missing)} missing, {len(outdated)} outdated, {len(untranslated)} untranslated"
                      f"{f', {len(mine) - translated} of its own' if len(mine) > translated else ''}")  # fmt: skip
    extra = [f for c in checkers.values() for f in c.findings if f.rule in (
        "missing-translation", "outdated-translation", "untranslated", "untranslated-link")]  # fmt: skip
    findings += sorted(dict.fromkeys(extra), key=lambda f: (f.rule, f.path, f.line))
    return findings, counts


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_findings(findings: list[Finding], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([f.to_json() for f in findings], indent=2, ensure_ascii=False)
    if fmt == "github":
        lines = []
        for f in findings:
            props = [f"file={_gh_escape(f.path, True)}"]
            if f.line:
                props.append(f"line={f.line}")
            props.append(f"title={_gh_escape(f.rule, True)}")
            kind = "notice" if f.level == "info" else f.level
            lines.append(f"::{kind} {','.join(props)}::{_gh_escape(f.message)}")
        return "\n".join(lines)
    return "\n".join(str(f) for f in findings)


def summary(findings: list[Finding], articles: int | None = None) -> str:
    errors = sum(1 for f in findings if f.level == "error")
    notes = sum(1 for f in findings if f.level == "info")
    warnings = len(findings) - errors - notes
    if not findings:
        return "No problems found." if articles is None else f"No problems found in {articles} articles."
    files = len({f.path for f in findings})
    return f"{errors} error(s), {warnings} warning(s){f', {notes} note(s)' if notes else ''} in {files} file(s)."


@click.command("check")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for GitHub Actions annotations.",
)
@click.option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: ./kbgen.toml).",
)
@click.option("--drafts", is_flag=True, help="Check articles marked `draft: true` too.")
@click.option("--strict", is_flag=True, help="Exit with status 1 on warnings too (for CI).")
def check_cmd(fmt: str, config_file: Path | None, drafts: bool, strict: bool) -> None:
    """Check the content for problems before customers find them; exit status 1 if there are errors
    (with --strict: errors or warnings).

    \b
    Errors: broken links, missing images, duplicate URLs or titles, FAQ pages without questions,
            invalid front matter.
    Warnings: images without alt text, skipped heading levels, missing descriptions, titles over 70
              characters, duplicate FAQ questions, stale articles ([check] stale_after months),
              categories without a description, `updated` dates in the future, example text from
              `kbgen new` left in.
    Notes (never fail, not even with --strict): on a multilingual site, articles a language has not
           translated and links to them ([check] require_translations = true makes them warnings).
    """  # fmt: skip
    try:
        config = load_config(config_file, root=Path.cwd())
    except ConfigError as exc:
        click.echo(f"error: {for_terminal(exc)}", err=True)
        sys.exit(2)
    from .plugins import PluginError

    counts: list[str] = []
    try:
        if len(config.languages) > 1:  # every language, and its translations (kbgen/languages.py)
            findings, counts = check_languages(config, drafts=drafts)
        else:
            findings = run_check(config, drafts=drafts)
    except PluginError as exc:  # names the plugin and the event
        where = f"{display_path(exc.path, Path.cwd())}:{exc.line}: " if exc.path else ""
        click.echo(f"{for_terminal(where)}error: {for_terminal(exc)}", err=True)
        sys.exit(1)
    except ConfigError as exc:  # a hooks file not found, a plugin's options
        click.echo(f"error: {for_terminal(exc)}", err=True)
        sys.exit(2)
    text = format_findings(findings, fmt)
    if text:
        click.echo(text if fmt == "json" else for_terminal(text))  # JSON escapes controls itself
    if fmt == "text":
        for line in counts:
            click.echo(for_terminal(line), err=True)
        click.echo(summary(findings), err=True)
    sys.exit(1 if any(f.level == "error" or (strict and f.level != "info") for f in findings) else 0)
