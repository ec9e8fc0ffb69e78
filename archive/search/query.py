"""Turn what a user types into a Whoosh query, never into a traceback.

Supported: plain words (OR-ed; documents matching more of them rank higher),
"quoted phrases", AND / OR / NOT, ``+must`` / ``-exclude``, ``field:value``
for title, body, source, category and id. Anything the parser cannot take
(unbalanced quotes or parentheses, stray operators) degrades to the plain
words of the query; a query with no searchable word (only stop words or
punctuation) parses to ``None`` with a reason the caller shows the user.

Refused with a :class:`~archive.errors.QueryError` (one line, before any
search runs), because their cost has no bound the archive can promise:

* ranges, ``[a TO b]`` / ``{a TO b}`` on any field: Whoosh evaluates one by
  walking every term between the ends and reading each one's postings (a range
  over Arabic body words reads most of the vocabulary: tens of seconds and
  hundreds of MB on a 30,000-article archive), and a range over normalized,
  light-stemmed terms means little to a reader anyway; dates have ``--since``
  / ``--until``;
* more than :data:`MAX_PHRASES` ``"quoted phrases"``: each is matched by
  Whoosh over the word positions of every article holding its words, so their
  cost grows with the archive times their number.

Wildcards, prefixes (``*``) and boosts (``^``) are not query syntax (their
plugins are off: ``*`` and ``^`` are punctuation); ``~`` after a word is
punctuation too (no fuzzy plugin), and after a phrase it is a slop, whose cost
is that of the phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whoosh import qparser
from whoosh.fields import Schema
from whoosh.query import AndNot, Not, NullQuery, Or, Phrase, Query, Term
from whoosh.query.ranges import RangeMixin

from ..errors import QueryError
from ..index.matching import positive_pairs
from ..text.analysis import iter_terms

SEARCH_FIELDS = ("title", "body")
MAX_QUERY_CHARS = 2_000
"""Longer queries find nothing, and the reason names the bound (no one types more, and Whoosh's cost
grows with terms)."""
MAX_QUERY_TERMS = 64
MAX_PHRASES = 4
"""Quoted phrases allowed in one query (each costs a positional match over the archive)."""
_OPERATOR_RE = re.compile(r'"|(?:^|\s)[+-]\S|\w:\S|\b(?:AND|OR|NOT)\b')
_EXCLUDES_ONLY_RE = re.compile(r"(?:\s*(?:-|NOT\s+)\S+)+\s*")
_BINARY_NOT_RE = re.compile(r'(?<!\bAND)(?<!\bOR)(^|\s)NOT\s+(?=[^\s(])')
"""``a NOT b`` → ``a -b``: with OR as the default group Whoosh reads NOT as
``a OR (NOT b)``, which matches everything; users mean "a, but not b"."""
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_INNER_HYPHEN_RE = re.compile(r"(?<=\w)-(?=\w)")
"""A hyphen inside a word (``النمسا-المجر``, ``1922-1991``) joins two words: Whoosh would read
it as "the first, but not the second"; an exclusion is a ``-`` that starts a word."""


def _join_hyphenated(text: str) -> str:
    """``text`` with hyphens inside words made spaces, except in ``field:value`` (ids have them)."""
    return " ".join(part if ":" in part else _INNER_HYPHEN_RE.sub(" ", part) for part in text.split(" "))
@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A parsed user query: the Whoosh query (or ``None``) and what it is made of."""

    text: str
    query: Query | None
    terms: frozenset[str] = field(default_factory=frozenset)
    """Analyzed terms a matching document may show (not the excluded ones)."""
    constrained: bool = False
    """True when the query has phrases, +must, -exclude, field:value or boolean operators."""
    reason: str | None = None
    """Why ``query`` is ``None``, in words for the user."""
    words: str = ""
    """The query's words without its syntax (:func:`plain_text`), for encoders and character grams
    (the raw text when nothing is left): worked out once, with the parse."""
    exact: frozenset[str] = frozenset()
    """Analyzed terms written inside ``"quotes"``: searched as written, never expanded to their
    spelling variants (:mod:`archive.index.variants`)."""


def _parser(schema: Schema) -> qparser.QueryParser:
    parser = qparser.MultifieldParser(
        list(SEARCH_FIELDS), schema, group=qparser.OrGroup  # a scaled OrGroup's bonus does not survive Whoosh's normalization
    )
    parser.add_plugin(qparser.PlusMinusPlugin())
    parser.remove_plugin_class(qparser.WildcardPlugin)
    parser.remove_plugin_class(qparser.BoostPlugin)
    return parser


def _positive_terms(q: Query) -> set[str]:
    """Terms of ``q`` outside NOT / AndNot negations, searched fields only."""
    return {term for _, term in positive_pairs(q)}


def _any_terms(q: Query) -> bool:
    try:
        return any(True for _ in q.iter_all_terms())
    except Exception:  # noqa: BLE001 - a query Whoosh cannot enumerate counts as empty
        return False


def _only_excludes(q: Query) -> bool:
    """True for queries such as ``-كورسك`` or ``NOT كورسك``: exclusions and nothing to find."""
    if isinstance(q, Not):
        return True
    if isinstance(q, AndNot):
        return not _any_terms(q.a)
    return not q.is_leaf() and bool(q.children()) and all(_only_excludes(c) for c in q.children())


def _plain(text: str) -> Query | None:
    words = [t for t, _, _ in iter_terms(text)][:MAX_QUERY_TERMS]
    if not words:
        return None
    unique = list(dict.fromkeys(words))
    return Or([Term(f, w) for w in unique for f in SEARCH_FIELDS])


_QUOTED_RE = re.compile(r'"([^"]*)"')


def quoted_terms(text: str) -> frozenset[str]:
    """The analyzed terms of the ``"quoted"`` parts of ``text`` (an unclosed quote quotes nothing)."""
    return frozenset(t for part in _QUOTED_RE.findall(text) for t, _, _ in iter_terms(part))


_SYNTAX_RE = re.compile(r'"|(?:^|(?<=\s))[+-](?=\S)|\b\w+:(?=\S)|\b(?:AND|OR|NOT|ANDNOT)\b|[()\[\]{}]')


def plain_text(text: str) -> str:
    """``text`` without query syntax (quotes, +/-, field prefixes, operators, excluded words),
    for encoders, which should see words, not operators."""
    cleaned = _CONTROL_RE.sub(" ", text)[:MAX_QUERY_CHARS]
    cleaned = re.sub(r'(?:^|(?<=\s))(?:-|NOT\s+)(?:"[^"]*"|\S+)', " ", cleaned)
    return " ".join(_SYNTAX_RE.sub(" ", cleaned).split())


def _refuse_unbounded(q: Query) -> None:
    """Raise :class:`QueryError` when ``q`` holds a range or more than :data:`MAX_PHRASES` phrases."""
    phrases = 0  # a written phrase is searched in title and body: two nodes (copies are merged by the parser)
    stack = [q]
    while stack:  # not recursive: a parsed query may nest deeply
        node = stack.pop()
        if isinstance(node, RangeMixin):
            raise QueryError(
                "range queries ([a TO b]) are not supported: their cost grows with the archive's vocabulary; "
                "search for the words themselves, and bound dates with --since/--until"
            )
        if isinstance(node, Phrase):
            phrases += 1
            if phrases > MAX_PHRASES * len(SEARCH_FIELDS):
                raise QueryError(f"at most {MAX_PHRASES} quoted phrases in one query (each is matched over the "
                                 "whole archive); split the search")
        if not node.is_leaf():
            stack.extend(node.children())


def parse_query(text: str, schema: Schema) -> ParsedQuery:
    """Parse ``text`` against ``schema`` (see the module docstring).

    A query longer than :data:`MAX_QUERY_CHARS` parses to nothing, with the reason. Raises
    :class:`QueryError` for a query whose cost has no bound (a range, too
    many phrases), naming what to do instead.
    """
    cleaned = _CONTROL_RE.sub(" ", text).strip()
    if len(cleaned) > MAX_QUERY_CHARS:  # not cut: the words past a cut were lost without a word
        return ParsedQuery(text, None, reason=f"the query is {len(cleaned):,} characters, longer than the "
                           f"{MAX_QUERY_CHARS:,} searched; search for its distinctive words (archive related ID "
                           "finds the articles nearest to a whole article)")
    if not cleaned:
        return ParsedQuery(text, None, reason="the query is empty")
    words = plain_text(text) or text
    constrained = bool(_OPERATOR_RE.search(cleaned))
    cleaned = _join_hyphenated(_BINARY_NOT_RE.sub(r"\1-", cleaned))
    query: Query | None
    try:
        query = _parser(schema).parse(cleaned)
    except Exception:  # noqa: BLE001 - any parser failure degrades to plain words
        query = None
        constrained = False
    if query is not None:
        _refuse_unbounded(query)
    if query is not None and query is not NullQuery and not _positive_terms(query):
        if _only_excludes(query):
            return ParsedQuery(text, None, reason="the query only excludes words; add a word to search for",
                               words=words)
        if not _any_terms(query):
            query = None
    if query is NullQuery and _EXCLUDES_ONLY_RE.fullmatch(cleaned):
        return ParsedQuery(text, None, reason="the query only excludes words; add a word to search for",
                           words=words)
    if query is None or query is NullQuery:
        query = _plain(plain_text(cleaned))  # the words, not the operators the parser could not take
        constrained = False
    if query is None:
        return ParsedQuery(
            text, None, reason="the query has no searchable words (only stop words or punctuation)", words=words
        )
    return ParsedQuery(text, query, frozenset(_positive_terms(query)), constrained, words=words,
                       exact=quoted_terms(cleaned))
