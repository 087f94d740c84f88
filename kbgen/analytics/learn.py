"""Learning from customers' searches: the words customers used before opening an article.

When the analytics data records a search followed by a click on a result (the collector's `search_click`
events), the build adds that query's words to the clicked article's *customer words*
(`Article.customer_words` → the search units' `customer` field, with its own low weight in
`schema.FIELD_BOOSTS`, indexed and exported like every other field, so `kbgen search` and the browser
rank with them identically).

Only repeated evidence teaches a word. For a word *w* and an article *a*, over the clicks of every search
whose query contains *w*:

- **days**: the clicks on *a* happened on at least `[search] learn_min_days` distinct days (default 3),
  or, from a provider's export of search clicks (a table with a search term, the clicked page and counts),
  that many unique visitors when the export has a visitors column, or rows on that many distinct dates.
  The collector keeps no visitor identifier by design, so distinct days stand in for distinct visitors:
  one visitor's click, or one visitor clicking the same result ten times in a sitting, is one day and
  teaches nothing; a single person would have to come back on three separate days with the same word and
  open the same article.
- **share**: at least `[search] learn_min_share` (default 0.3) of those searches' clicks went to *a*, so a
  word customers use everywhere ("arduino", "help") or a noise click on an unrelated result is not
  learned by the article that happened to be clicked too.

Stop words, the filler words of questions, redacted `[email]` / `[number]` placeholders, digits and words
already in the article's title or keywords are skipped; an article keeps its `MAX_WORDS` best words (most
days first). Editors block words site-wide with `[search] learn_block = [...]` or for one article with
front matter `search_block: [...]`; `[search] learn = false` turns learning off.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from ..content.frontmatter import as_str_list
from ..errors import Problem

__all__ = ["LearnedWord", "MAX_WORDS", "apply_learning", "learn_words"]

MAX_WORDS = 16  # learned words kept per article
_WORD = re.compile(r"\w+(?:[.\-]\w+)*")
_PLACEHOLDER = re.compile(r"\[(?:email|number)\]")


@dataclass(frozen=True)
class LearnedWord:
    word: str
    days: int  # distinct days with a click on the article from a search with this word
    clicks: int  # those clicks
    share: float  # of all clicks of searches with this word


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _words(query: str) -> list[str]:
    return [
        w for w in _WORD.findall(_PLACEHOLDER.sub(" ", query.casefold())) if len(w) >= 2 and not w.isdigit()
    ]


def _blocked(article: Any, problems: list[Problem]) -> set[str]:
    raw = (_get(article, "meta", {}) or {}).get("search_block")
    got = as_str_list(raw)
    if got is None:
        problems.append(
            Problem(str(_get(article, "source", "")), 0, "`search_block` must be a list of words", "warning",
                    code="analytics")
        )
        return set()
    return {w.casefold() for g in got for w in _words(g)}


def learn_words(
    data: Any, library: Any, config: Any, problems: list[Problem] | None = None
) -> dict[str, list[LearnedWord]]:
    """article id → its learned words (best first), from `data` (an `AnalyticsData`)."""
    search = _get(config, "search")
    problems = problems if problems is not None else []
    if not _get(search, "learn", True):
        return {}
    stats = data.stats
    if not stats.clicks:
        return {}
    min_days = int(_get(search, "learn_min_days", 3))
    min_share = float(_get(search, "learn_min_share", 0.3))
    lang = str(_get(config, "search_language", "") or "en")
    from ..search.schema import fillers, stop_words  # Whoosh only when there is something to learn

    skip = set(stop_words(lang)) | set(fillers(lang))
    site_block = {w.casefold() for g in (_get(search, "learn_block", []) or []) for w in _words(str(g))}
    resolver = data.resolver  # popularity.load_analytics's: the same matching of paths to articles
    word_total: Counter[str] = Counter()  # word → clicks of searches with it
    pair_clicks: Counter[tuple[str, str]] = Counter()  # (word, article id) → clicks
    pair_days: dict[tuple[str, str], set[str]] = defaultdict(set)
    pair_visitors: Counter[tuple[str, str]] = Counter()  # unique visitors, from exports that count them
    articles: dict[str, Any] = {}
    for (query, key), n in stats.clicks.items():
        words = set(_words(query)) - skip
        if not words:
            continue
        article = resolver.article(key)
        days = stats.click_days.get((query, key), set())
        for w in words:
            word_total[w] += n
            if article is not None:
                articles[article.id] = article
                pair_clicks[(w, article.id)] += n
                pair_days[(w, article.id)].update(days)
                pair_visitors[(w, article.id)] += stats.click_visitors.get((query, key), 0)
    out: dict[str, list[LearnedWord]] = {}
    blocks: dict[str, set[str]] = {}
    for (w, aid), n in pair_clicks.items():
        # distinct days, or an export's unique visitors when it has more (both: distinct customers)
        days = max(len(pair_days[(w, aid)]), pair_visitors[(w, aid)])
        share = n / word_total[w]
        if days < min_days or share < min_share or w in site_block:
            continue
        article = articles[aid]
        if aid not in blocks:
            blocks[aid] = _blocked(article, problems)
            own = " ".join([str(article.title), *(_get(article, "keywords", []) or [])])
            blocks[aid] |= set(_words(own))
        if w in blocks[aid]:
            continue
        out.setdefault(aid, []).append(LearnedWord(w, days, n, round(share, 3)))
    for got in out.values():
        got.sort(key=lambda x: (-x.days, -x.clicks, x.word))
        del got[MAX_WORDS:]
    return dict(sorted(out.items()))


def apply_learning(data: Any, library: Any, config: Any) -> list[Problem]:
    """Set `customer_words` on every article of `library` (empty when nothing was learned)."""
    problems: list[Problem] = []
    learned = learn_words(data, library, config, problems)
    for a in _get(library, "articles", []) or []:
        a.customer_words = [x.word for x in learned.get(a.id, [])]
    return problems


def print_learned(data: Any, library: Any, config: Any, console: Any = None) -> None:
    """The `kbgen report` section: the customer words each article learned (what the next build adds)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..termsafe import for_terminal

    console = console or Console()

    def safe(value: Any, style: str = "") -> Text:
        return Text(for_terminal(value, one_line=True), style=style)

    console.print()
    search = _get(config, "search")
    if not _get(search, "learn", True):
        console.print("Learned search words: off (`[search] learn = false`)", markup=False, highlight=False)
        return
    learned = learn_words(data, library, config)
    by_id = {a.id: a for a in _get(library, "articles", []) or []}
    if not learned:
        console.print(
            "Learned search words: none yet (a word needs clicks on "
            f"{_get(search, 'learn_min_days', 3)}+ distinct days and "
            f"{float(_get(search, 'learn_min_share', 0.3)):.0%} of its searches' clicks)",
            markup=False,
            highlight=False,
        )
        return
    tab = Table()
    tab.add_column("article", justify="left")
    tab.add_column("learned words (days, clicks)", justify="left")
    for aid, words in learned.items():
        a = by_id.get(aid)
        tab.add_row(
            Text.assemble(safe(a.title if a else aid), "\n", safe(a.url if a else "", "dim")),
            safe(", ".join(f"{w.word} ({w.days}, {w.clicks})" for w in words)),
        )
    console.print("Learned search words (customer words the build adds)", style="bold", markup=False)
    console.print(tab)
    console.print(
        "Block a word with [search] learn_block = [...] or front matter search_block: [...].",
        style="dim",
        markup=False,
        highlight=False,
    )
