"""The Whoosh schema, the analyzer and the ranking parameters: the one definition shared by the index
(`index.py`), the Python queries (`query.py`) and the browser export (`export.py` → `search-core.js`).

Analysis, in this order (the browser repeats the first three steps on what the customer types, and uses
the exported word → term map for the rest, so it needs no stemmer):

1. tokenize: `\\w+` runs, with `.`/`-` joining runs into one compound token (`wi-fi`, `1.8.7`);
2. lower-case; compounds also yield their parts (`wi`, `fi`) and a hyphen-less join (`wifi`);
3. drop tokens shorter than 2 or longer than 40 characters and stop words (compared accent-folded);
4. stem with the language's Snowball stemmer (Whoosh's `whoosh.lang`), then fold accents (`é` → `e`).

A *surface word* is the token after step 3, accent-folded: what the browser matches typed words against.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from whoosh import fields
from whoosh.analysis import Composable, Filter, RegexTokenizer, Token
from whoosh.lang import has_stemmer, stemmer_for_language, stopwords_for_language

# Bump when the analysis, the schema or the unit model changes: an index of another version is rebuilt.
INDEX_VERSION = 8

TOKEN_PATTERN = r"\w+(?:[.\-]\w+)*"
MIN_TOKEN, MAX_TOKEN = 2, 40

# Scored text fields and their boosts (BM25F per Whoosh: one BM25 term score per field, times the boost).
# Title and keywords (customer synonyms) above headings above body.
FIELD_BOOSTS: dict[str, float] = {
    "title": 4.0,
    "keywords": 4.0,
    "headings": 2.0,
    "tags": 1.5,
    "category": 0.5,
    "body": 1.0,
    # Words customers searched with before opening the article (kbgen/analytics/learn.py): their own low
    # weight, below keywords and headings, so an editor's words always outrank what was learned.
    "customer": 1.0,
}
SCORED_FIELDS: tuple[str, ...] = tuple(FIELD_BOOSTS)
K1 = 1.2
FIELD_B: dict[str, float] = {
    "title": 0.75,
    "keywords": 0.5,
    "headings": 0.75,
    "tags": 0.5,
    "category": 0.5,
    "body": 0.75,
    "customer": 0.5,
}

# Query expansion weights (identical in search-core.js, which reads them from meta.json).
PREFIX_WEIGHT = 0.85  # a completion of the word being typed
TYPO_WEIGHT = (0.0, 0.7, 0.5)  # by edit distance
MAX_EXPANSIONS = 24  # completions / typo candidates per query word, most frequent first
MIN_PREFIX = 2  # shortest word treated as a prefix
SYNONYM_WEIGHT = 0.8  # a synonym of a typed word (synonyms.py)
COORD_POWER = 1.0  # score × (words matched / query words) ** COORD_POWER

# Extra stop words per language: contraction fragments (Whoosh's tokenizer splits "isn't" → "isn", "t")
# and the apostrophe-less forms customers type on phones.
EXTRA_STOPS: dict[str, tuple[str, ...]] = {
    # Polish (Whoosh has no list): the most frequent function words.
    "pl": tuple(
        "a aby ale bo by być czy dla do gdy gdzie i ich im jak jaki jako je jego jej jest jestem już ku lub "
        "ma mi mnie mój na nad nie nich nim no o od oraz po pod przez przy się są ta tak tam te tego tej ten "
        "to tu tylko tym u w we z za ze że żeby".split()
    ),
    "en": (
        "isn",
        "aren",
        "wasn",
        "weren",
        "doesn",
        "didn",
        "hasn",
        "haven",
        "hadn",
        "won",
        "wouldn",
        "shouldn",
        "couldn",
        "mustn",
        "needn",
        "ll",
        "ve",
        "re",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "doesnt",
        "didnt",
        "hasnt",
        "havent",
        "hadnt",
        "wont",
        "wouldnt",
        "shouldnt",
        "couldnt",
        "cant",
        "cannot",
        "dont",
        "im",
        "ive",
        "youre",
        "youve",
        "theyre",
        "thats",
        "whats",
        "hows",
        "lets",
        "would",
        "could",
        "also",
        "get",
        "got",
        "getting",
        "please",
        "want",
        "need",
        "help",
        "really",
        "still",
        "anymore",
        # negations: what they say (a problem) is read from the whole query (is_problem_query)
        "never",
        "nothing",
        "nobody",
        "none",
        # more apostrophe-less contractions and chat shorthand
        "wheres",
        "whos",
        "whys",
        "theres",
        "heres",
        "youll",
        "itll",
        "thatll",
        "weve",
        "theyve",
        "couldve",
        "wouldve",
        "shouldve",
        "aint",
        "ur",
        "pls",
        "plz",
        "thx",
        "gonna",
        "wanna",
        "gotta",
    ),
    "fr": ("les", "qu", "puis", "peux", "faire", "fait", "comment", "quoi", "mon", "ma", "mes", "est", "ai"),
    "de": ("kann", "wie", "ich", "mein", "meine", "geht", "nicht"),
    "es": ("puedo", "como", "mi", "mis", "hacer", "no"),
}


# Words customers wrap their question in ("it keeps happening right now"): kept, but with a lower weight,
# so that the rare words of the problem decide the ranking, not a rare filler word.
FILLERS: dict[str, tuple[str, ...]] = {
    "en": (
        "right",
        "now",
        "ever",
        "keep",
        "keeps",
        "kept",
        "fine",
        "weird",
        "strange",
        "something",
        "anything",
        "everything",
        "besides",
        "try",
        "trying",
        "tried",
        "again",
        "use",
        "using",
        "get",
        "gets",
        "getting",
        "come",
        "comes",
        "happen",
        "happens",
        "happened",
        "happening",
        "thing",
        "things",
        "stuff",
        "way",
        "make",
        "makes",
        "made",
        "go",
        "goes",
        "going",
        "went",
        "let",
        "know",
        "think",
        "see",
        "look",
        "looks",
        "like",
        "say",
        "says",
        "said",
        "tell",
        "able",
        "possible",
        "someone",
        "somebody",
        "anyone",
        "much",
        "many",
        "lot",
        "lots",
        "actually",
        "even",
        "always",
        "already",
        "yet",
        "since",
        "ago",
        "today",
        "yesterday",
        "suddenly",
        "instead",
        "else",
        "work",
        "works",
        "working",
        "worked",
        "doesnt",
        "seems",
        "seem",
        "sure",
        "okay",
        "ok",
        "thanks",
        "hi",
        "hello",
        # light verbs ("put it back", "give it power", "take a look") and hedges, degree adverbs
        "put",
        "give",
        "take",
        "bring",
        "wonder",
        "wondering",
        "guess",
        "mean",
        "basically",
        "literally",
        "probably",
        "maybe",
        "perhaps",
        "somehow",
        "anyway",
        "completely",
        "totally",
        "entirely",
        "fully",
        "properly",
        "correctly",
        "exactly",
        "simply",
        "quite",
        "pretty",
        "guys",
        # inflections of the verbs above (the browser has no stemmer: each typed form is listed)
        "thinks",
        "thinking",
        "thought",
        "knows",
        "knowing",
        "knew",
        "sees",
        "seeing",
        "saw",
        "seemed",
        "looking",
        "looked",
        "likes",
        "liked",
        "tries",
        "uses",
        "used",
        "making",
        "puts",
        "putting",
        "gives",
        "giving",
        "gave",
        "takes",
        "taking",
        "took",
        "brings",
        "bringing",
        "brought",
        "coming",
        "came",
        "tells",
        "telling",
        "told",
        "saying",
        "means",
        "wonders",
        "wondered",
        "guessing",
    ),
}
FILLER_WEIGHT = 0.5
ROOT_WEIGHT = 0.75  # a word sharing the root of an unknown typed word (lexicon.stem_root)
# ... when the typed word is one edit from a known word: more likely a typo than an unknown inflection
ROOT_NEAR_TYPO_WEIGHT = 0.6
TRANSPOSE_WEIGHT = 0.8  # a typo that swaps two neighbouring letters ("retrun" → return): the likeliest
BRIDGE_WEIGHT = 0.5  # a corpus word that a typed word the corpus lacks may mean (bridge.py, WordNet)
QUESTION_WORDS = 4  # from this many words, a last word that is a whole word is not completed as a prefix
# A query that describes a problem ("my board isn't showing up", "emails never arrive") wants the
# troubleshooting articles: units whose article title reads as one (is_problem_title) score × this.
PROBLEM_BOOST = 1.3


def fillers(lang: str) -> frozenset[str]:
    return frozenset(FILLERS.get(normalize_language(lang), ()))


# German is typed without its letters as often as with them: "ü" as "ue", "ß" as "ss" (both sides fold so);
# Polish "ł" is a letter of its own (no accent to strip): typed as "l" without Polish keys.
FOLD_BEFORE = {"de": str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}), "pl": str.maketrans({"ł": "l"})}
# Stemmers Whoosh lacks or has an older version of: the `snowballstemmer` package's (Polish; German from
# Snowball 3, which also stems "ue"/"ss" spellings like "ü"/"ß").
SNOWBALL_PACKAGE = {"pl": "polish", "de": "german"}


def fold(text: str, lang: str = "") -> str:
    """Lower-case and strip combining accents (German: "ü" → "ue", "ß" → "ss" first): the browser's
    `fold()` does the same."""
    text = text.lower()
    if text.isascii():
        return text
    if lang in FOLD_BEFORE:
        text = text.translate(FOLD_BEFORE[lang])
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


# English stemming corrections (applied before Snowball; the browser needs none: the export maps every
# surface word to its term). Irregular forms meet their base ("bought" → buy, "lost" → lose), and words
# Snowball merges with an unrelated one keep a term of their own — collisions mined from the Arduino help
# centre's vocabulary (words sharing a stem, one with a derivational suffix) and checked by hand, plus the
# classic ones (organization/organ, university/universe).
IRREGULAR_EN = {
    "bought": "buy", "lost": "lose", "paid": "pay", "sent": "send", "sold": "sell", "broke": "break",
    "broken": "break", "stole": "steal", "stolen": "steal", "forgot": "forget", "forgotten": "forget",
    "gave": "give", "given": "give", "took": "take", "taken": "take", "made": "make",
    "wrote": "write", "written": "write", "chose": "choose", "chosen": "choose", "began": "begin",
    "begun": "begin", "froze": "freeze", "frozen": "freeze", "spent": "spend", "built": "build",
    "rebuilt": "rebuild", "kept": "keep", "held": "hold", "told": "tell", "caught": "catch",
    "brought": "bring", "shown": "show", "hid": "hide", "hidden": "hide", "got": "get", "gotten": "get",
    "worn": "wear", "torn": "tear", "bent": "bend", "meant": "mean", "understood": "understand",
    "overwrote": "overwrite", "overwritten": "overwrite", "ran": "run", "drove": "drive", "driven": "drive",
    "fell": "fall", "fallen": "fall", "undone": "undo", "redone": "redo", "withdrew": "withdraw",
    "withdrawn": "withdraw",
}  # fmt: skip
STEM_EXCEPTIONS_EN = {
    **dict.fromkeys(("organization", "organizations", "organisation", "organisations"), "organization"),
    **dict.fromkeys(("organize", "organized", "organizes", "organizing", "organise", "organised"), "organize"),
    **dict.fromkeys(("university", "universities"), "university"),
    **dict.fromkeys(("international", "internationally"), "international"),
    **dict.fromkeys(("succession",), "succession"),
    **dict.fromkeys(("responsible", "responsibility", "responsibilities"), "responsib"),
    **dict.fromkeys(("experiment", "experiments", "experimental", "experimenting"), "experiment"),
    **dict.fromkeys(("integrity",), "integrity"),
    **dict.fromkeys(("modulation",), "modulation"),
    **dict.fromkeys(("activity", "activities"), "activity"),
    **dict.fromkeys(("generic", "generics"), "generic"),
    **dict.fromkeys(("generation", "generations"), "generation"),
    **dict.fromkeys(("importance", "important", "importantly"), "importan"),
    **dict.fromkeys(("animation", "animations"), "animation"),
    **dict.fromkeys(("policy", "policies"), "policy"),
    **dict.fromkeys(("police",), "police"),
}  # fmt: skip


@lru_cache(maxsize=8)
def stem_function(lang: str) -> Callable[[str], str]:
    """The language's Snowball stemmer; for English with IRREGULAR_EN and STEM_EXCEPTIONS_EN applied."""
    lang = normalize_language(lang)
    if lang in SNOWBALL_PACKAGE:
        import snowballstemmer

        return snowballstemmer.stemmer(SNOWBALL_PACKAGE[lang]).stemWord  # type: ignore[no-any-return]
    snowball = stemmer_for_language(lang)
    if lang != "en":
        return snowball

    def stem(word: str) -> str:
        exception = STEM_EXCEPTIONS_EN.get(word)
        return exception if exception is not None else snowball(IRREGULAR_EN.get(word, word))

    return stem


def normalize_language(lang: str) -> str:
    lang = (lang or "en").lower().replace("_", "-").split("-")[0]
    return lang if has_stemmer(lang) or lang in SNOWBALL_PACKAGE else "en"


@cache
def stop_words(lang: str) -> frozenset[str]:
    """The folded stop words of a language (Whoosh's Snowball list plus `EXTRA_STOPS`)."""
    lang = normalize_language(lang)
    try:
        base = set(stopwords_for_language(lang))
    except Exception:  # noqa: BLE001 - a language without a list
        base = set()
    base.update(EXTRA_STOPS.get(lang, ()))
    return frozenset(fold(w, lang) for w in base)


class CompoundFilter(Filter):
    """Lower-cases; a compound token (`wi-fi`, `arduino.cc`) also yields its parts and a hyphen-less join."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for t in tokens:
            text = t.text.lower()
            if "-" in text or "." in text:
                joined = text.replace("-", "")
                parts = re.split(r"[.\-]", text)
                t.text = joined
                yield t
                for p in parts:
                    if p and p != joined:
                        t.text = p
                        yield t
            else:
                t.text = text
                yield t


class KbStemFilter(Filter):
    """Drops stop words and short/long tokens (compared folded), stems the rest, then folds accents.

    With `stem=False` it yields the surface word (folded): the analyzer of the `words` field.
    """

    def __init__(self, lang: str = "en", stem: bool = True) -> None:
        self.lang = normalize_language(lang)
        self.stem = stem
        self._setup()

    def _setup(self) -> None:
        self._stops = stop_words(self.lang)
        self._stemfn = stem_function(self.lang) if self.stem else None
        self._cache: dict[str, str | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"lang": self.lang, "stem": self.stem}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.lang = state["lang"]
        self.stem = state["stem"]
        self._setup()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KbStemFilter) and (self.lang, self.stem) == (other.lang, other.stem)

    def __hash__(self) -> int:
        return hash((self.lang, self.stem))

    def term(self, text: str) -> str | None:
        cache = self._cache
        if text in cache:
            return cache[text]
        folded = fold(text, self.lang)
        if len(folded) < MIN_TOKEN or len(folded) > MAX_TOKEN or folded in self._stops:
            out: str | None = None
        elif self._stemfn is None:
            out = folded
        else:
            out = fold(self._stemfn(text), self.lang)
        if len(cache) < 200_000:
            cache[text] = out
        return out

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        term = self.term
        for t in tokens:
            out = term(t.text)
            if out is not None:
                t.text = out
                yield t


def make_analyzer(lang: str, stem: bool = True) -> Composable:
    return RegexTokenizer(TOKEN_PATTERN) | CompoundFilter() | KbStemFilter(lang, stem=stem)


@lru_cache(maxsize=8)
def term_filter(lang: str) -> KbStemFilter:
    return KbStemFilter(lang, stem=True)


def make_schema(lang: str) -> fields.Schema:
    """One document per search unit (a page, an article section or an FAQ question).

    Only the scored text fields and `source` (to delete an article's units) are indexed; text fields have
    term frequencies but no positions (no phrase queries: half the postings); the body is not stored.
    """
    ana = make_analyzer(lang)
    text = {"analyzer": ana, "phrase": False}
    return fields.Schema(
        uid=fields.STORED(),  # "<source>#<anchor>"
        source=fields.ID(stored=True),  # content-relative path of the article
        article_id=fields.STORED(),
        anchor=fields.STORED(),
        heading=fields.STORED(),  # the unit's own heading (section title / FAQ question), "" for the page
        title=fields.TEXT(stored=True, **text),
        headings=fields.TEXT(**text),
        body=fields.TEXT(**text),
        keywords=fields.TEXT(**text),
        tags=fields.TEXT(**text),
        category=fields.TEXT(**text),  # category and section titles, as words
        customer=fields.TEXT(**text),  # words learned from customers' searches (analytics/learn.py)
        category_slug=fields.STORED(),
        category_title=fields.STORED(),
        type=fields.STORED(),
        url=fields.STORED(),
        popularity=fields.STORED(),  # the article's views (analytics); the prior is computed at query time
        promoted=fields.STORED(),
    )


# Views an article needs in the window before its popularity earns the full search boost: the prior weight of
# the popularity pass (`analytics.popularity.PRIOR_VIEWS`, where it is justified). The boost is scaled by
# log(1 + views) / log(1 + max(most views, this)), so one session's view earns a sixth of it, not all.
POPULARITY_EVIDENCE_VIEWS = 50


def popularity_scale(views: Iterable[int]) -> int:
    """The views that earn the full popularity boost: the most viewed article's, at least
    `POPULARITY_EVIDENCE_VIEWS` once there are views at all (0 without analytics: no boost, as before)."""
    most = max(views, default=0)
    return max(most, POPULARITY_EVIDENCE_VIEWS) if most > 0 else 0


@dataclass(frozen=True)
class Ranking:
    """Everything the score depends on besides the index: exported to meta.json for the browser."""

    field_boosts: tuple[tuple[str, float], ...] = tuple(FIELD_BOOSTS.items())
    field_b: tuple[tuple[str, float], ...] = tuple(FIELD_B.items())
    k1: float = K1
    prefix_weight: float = PREFIX_WEIGHT
    typo_weight: tuple[float, ...] = TYPO_WEIGHT
    max_expansions: int = MAX_EXPANSIONS
    min_prefix: int = MIN_PREFIX
    popularity_weight: float = 0.25
    promoted_boost: float = 1.15
    coord_power: float = COORD_POWER
    synonym_weight: float = SYNONYM_WEIGHT
    filler_weight: float = FILLER_WEIGHT
    root_weight: float = ROOT_WEIGHT
    problem_boost: float = PROBLEM_BOOST
    root_near_typo_weight: float = ROOT_NEAR_TYPO_WEIGHT
    transpose_weight: float = TRANSPOSE_WEIGHT
    question_words: int = QUESTION_WORDS
    bridge_weight: float = BRIDGE_WEIGHT

    def prior(self, views: int, max_views: int, promoted: bool) -> float:
        """Document prior multiplied into the score: log-damped popularity, small promoted boost."""
        pop = math.log1p(views) / math.log1p(max_views) if max_views > 0 and views > 0 else 0.0
        return (1.0 + self.popularity_weight * pop) * (self.promoted_boost if promoted else 1.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "boosts": dict(self.field_boosts),
            "b": dict(self.field_b),
            "k1": self.k1,
            "prefixWeight": self.prefix_weight,
            "typoWeight": list(self.typo_weight),
            "maxExpansions": self.max_expansions,
            "minPrefix": self.min_prefix,
            "popularityWeight": self.popularity_weight,
            "promotedBoost": self.promoted_boost,
            "coordPower": self.coord_power,
            "synonymWeight": self.synonym_weight,
            "fillerWeight": self.filler_weight,
            "rootWeight": self.root_weight,
            "problemBoost": self.problem_boost,
            "rootNearTypoWeight": self.root_near_typo_weight,
            "transposeWeight": self.transpose_weight,
            "questionWords": self.question_words,
            "bridgeWeight": self.bridge_weight,
            "problem": {lang: list(p) for lang, p in PROBLEM_PATTERNS.items()},
        }


def typo_budget(word: str) -> int:
    """Edit distance tolerated for a typed word: 1 from 4 letters, 2 from 8."""
    n = len(word)
    return 2 if n >= 8 else 1 if n >= 4 else 0


# Problem intent (English): negations and failure words in the query; in titles also "If …", "error",
# "problem", "missing", …. Patterns shared with the browser (meta.ranking.problem, compiled
# case-insensitive with ASCII word boundaries on both sides).
_NEG = (
    r"not|no|never|nothing|nobody|none|cannot|cant|wont|dont|doesnt|didnt|isnt|arent|wasnt|werent|couldnt|"
    r"wouldnt|hasnt|havent|unable|fails?|failed|failing|failure|stopped|stops|broken|stuck"
)
PROBLEM_PATTERNS: dict[str, tuple[str, str]] = {
    "en": (
        r"\b(?:" + _NEG + r")\b|n['’]t\b",
        r"^if\b|n['’]t\b|\b(?:"
        + _NEG
        + r"|errors?|problems?|issues?|troubleshoot\w*|missing|wrong|unexpected|unresponsive)\b",
    ),
}


@lru_cache(maxsize=8)
def _problem_res(lang: str) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    pats = PROBLEM_PATTERNS.get(normalize_language(lang))
    return (re.compile(pats[0], re.I | re.A), re.compile(pats[1], re.I | re.A)) if pats else None


def is_problem_query(text: str, lang: str = "en") -> bool:
    """Does the query describe a problem ("isn't showing up", "never arrived")?"""
    res = _problem_res(lang)
    return res is not None and res[0].search(text) is not None


def is_problem_title(title: str, lang: str = "en") -> bool:
    """Does the title read as a troubleshooting article ("If your board is not detected")?"""
    res = _problem_res(lang)
    return res is not None and res[1].search(title) is not None
