"""What a parsed query matches, as a mask over article ordinals, and which terms score it.

The archive ranks every query with one scorer, the term index's BM25F
(:mod:`archive.index.terms`), so an article's score never depends on the path a
query took (a filter, an operator, the hybrid ranker). This module decides
*what matches*: it walks the Whoosh query tree that :mod:`archive.search.query`
parsed and evaluates it over the term index's posting lists and the filter
columns with numpy (AND, OR, NOT, +must, -exclude, ``field:value``); a mask
may hold deleted ordinals (a NOT does), which the ranking leaves out. Only
what needs word positions, a ``"quoted phrase"``, is asked of Whoosh, the
lexical engine that holds them.

``source:``, ``category:``, ``author:`` (and ``id:``) inside a query are filters, not
words: ``كأس source:bbc`` means BBC articles about the cup, as the
``--source`` option would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from whoosh.query import And, AndMaybe, AndNot, Not, NullQuery, Or, Query, Require, Term

from .columns import AUTHOR, TEXT_COLUMNS, Columns
from .terms import FIELDS, TermIndex
from .variants import Expansions, VariantClasses

FILTER_FIELDS = frozenset(TEXT_COLUMNS) | {AUTHOR, "id"}
"""Query fields that restrict what matches rather than add words to score."""

WhooshMask = Callable[[Query], np.ndarray]
"""Evaluates a query node with Whoosh (phrases): the matching articles as a mask over ordinals."""


@dataclass(frozen=True, slots=True)
class Match:
    """A query as the scorer takes it."""

    pairs: tuple[tuple[str, str], ...]
    """``(field, term)`` pairs that score a match (BM25F summed over them)."""
    candidates: np.ndarray | None
    """The articles the query's operators allow, or ``None`` for a plain OR of words (any of
    ``pairs`` matches)."""
    filters: np.ndarray | None
    """The articles the query's own ``source:``/``category:``/``id:`` parts allow, or ``None``."""
    constrained: bool = False
    """The user wrote operators (phrases, +/-, AND/OR/NOT, ``field:``): the hybrid ranker keeps
    ``candidates`` on its dense side too."""
    variants: Expansions = field(default_factory=dict)
    """Query terms and the spelling variants they also match (:mod:`archive.index.variants`): each
    term matches wherever it or a variant stands, and scores with its variants at a lower weight."""


def plan(
    query: Query, terms: TermIndex, columns: Columns, whoosh_mask: WhooshMask, *, constrained: bool,
    variants: VariantClasses | None = None, exact: frozenset[str] = frozenset(),
) -> Match:
    """The :class:`Match` of a parsed query (see the module docstring).

    ``constrained`` (the user wrote operators or field prefixes) makes even a
    plain OR of terms a constraint the hybrid ranker keeps (``title:a OR b``).
    ``variants`` expands the query's words to their spelling variants, except the
    ``exact`` ones (written in quotes), within :data:`archive.index.variants.MAX_EXPANSIONS`.
    """
    query, filters = _hoist_filters(query, terms, columns)
    # Repeated words count each time they are written (as Lucene sums repeated clauses).
    pairs = tuple(positive_pairs(query)) if query is not None else ()
    if query is None:  # only filters: every article they allow matches, scoring 0
        return Match((), terms.live_mask(), filters, constrained)
    expanded = variants.expansions(_leaf_terms(query), exact) if variants is not None else {}
    if not constrained and plain_terms(query) is not None:
        return Match(pairs, None, filters, variants=expanded)
    return Match(pairs, _evaluate(query, terms, columns, whoosh_mask, expanded), filters, constrained, expanded)


def _leaf_terms(query: Query) -> list[str]:
    """The searched-field words of ``query`` as written, in order (left to right, depth first)."""
    out: list[str] = []
    stack = [query]
    while stack:  # not recursive: a parsed query may nest deeply
        node = stack.pop()
        if type(node) is Term:
            if node.fieldname in FIELDS:
                out.append(_text(node))
        elif not node.is_leaf():
            stack.extend(reversed(list(node.children())))
    return out


def plain_terms(query: Query) -> list[tuple[str, str]] | None:
    """The ``(field, term)`` pairs of ``query`` when it is a plain OR of title/body terms, else ``None``.

    That is what plain words parse to (see :mod:`archive.search.query`): the
    articles holding any of the pairs match. Anything else (phrases, AND,
    NOT, +must, boosts, other fields, a coordination scale) is evaluated
    into a mask.
    """
    if type(query) is Term:
        leaves = [query]
    elif type(query) is Or and not query.minmatch and not query.scale and query.boost == 1.0:
        leaves = []
        stack = list(query.subqueries)
        while stack:
            sub = stack.pop(0)
            if type(sub) is Or and not sub.scale and not sub.minmatch and sub.boost == 1.0:
                stack[:0] = list(sub.subqueries)
            else:
                leaves.append(sub)
    else:
        return None
    pairs = []
    for leaf in leaves:
        if type(leaf) is not Term or leaf.fieldname not in FIELDS or leaf.boost != 1.0 or not isinstance(leaf.text, str):
            return None
        pairs.append((leaf.fieldname, leaf.text))
    return pairs


def _hoist_filters(query: Query, terms: TermIndex, columns: Columns) -> tuple[Query | None, np.ndarray | None]:
    """``query`` without its positive filter-field terms, and the mask those terms make.

    Values of one field are alternatives (``source:bbc source:cnn``); different
    fields must all hold. A filter under NOT stays in the tree (an exclusion).
    """
    found: dict[str, set[str]] = {}

    def strip(node: Query, top: bool) -> Query | None:
        if type(node) is Term and node.fieldname in FILTER_FIELDS:
            found.setdefault(node.fieldname, set()).add(_text(node))
            return None
        if type(node) in (Or, And) and (top or type(node) is And):
            kept = [c for c in (strip(child, type(node) is And or top) for child in node.subqueries) if c is not None]
            if not kept:
                return None
            return kept[0] if len(kept) == 1 else type(node)(kept, boost=node.boost)
        if type(node) in (Require, AndMaybe, AndNot):
            left = strip(node.a, True)
            if left is None:
                return None
            return type(node)(left, node.b)
        return node

    rest = strip(query, True)
    if not found:
        return query, None
    mask = np.ones(len(terms), dtype=bool)
    for name, values in found.items():
        mask &= _field_mask(name, values, terms, columns)
    return rest, mask


def _field_mask(name: str, values: set[str], terms: TermIndex, columns: Columns) -> np.ndarray:
    if name == "id":
        mask = np.zeros(len(terms), dtype=bool)
        ordinals = terms.ordinals()
        for value in values:
            if value in ordinals:
                mask[ordinals[value]] = True
        return mask
    return columns.any_of(name, values)


def _text(term: Term) -> str:
    return term.text if isinstance(term.text, str) else bytes(term.text).decode("utf-8")


def positive_pairs(query: Query) -> list[tuple[str, str]]:
    """``(field, term)`` of the searched fields outside NOT and the excluded side of AndNot, in the
    query's order: the words a match is scored on and a snippet marks (the one walker of the tree;
    not recursive, since a parsed query may nest deeply)."""
    out: list[tuple[str, str]] = []
    stack = [query]
    while stack:
        node = stack.pop()
        if isinstance(node, Not):
            continue
        if isinstance(node, AndNot):
            stack.append(node.a)
        elif node.is_leaf():
            out += [(f, t if isinstance(t, str) else bytes(t).decode("utf-8")) for f, t in node.terms() if f in FIELDS]
        else:
            stack.extend(reversed(list(node.children())))
    return out


def _evaluate(
    node: Query, terms: TermIndex, columns: Columns, whoosh_mask: WhooshMask, variants: Expansions | None = None
) -> np.ndarray:
    """The articles ``node`` matches, as a boolean mask over ordinals (a word: or one of its ``variants``)."""
    variants = variants or {}
    n = len(terms)
    kind = type(node)
    if node is NullQuery:
        return np.zeros(n, dtype=bool)
    if kind is Term:
        if node.fieldname in FIELDS:
            return terms.term_mask(node.fieldname, _text(node), variants.get(_text(node), ()))
        if node.fieldname in FILTER_FIELDS:
            return _field_mask(node.fieldname, {_text(node)}, terms, columns)
        return np.zeros(n, dtype=bool)  # a field the archive does not index: matches nothing
    if kind is Or and not node.minmatch:
        out = np.zeros(n, dtype=bool)
        for child in node.subqueries:
            out |= _evaluate(child, terms, columns, whoosh_mask, variants)
        return out
    if kind is And:
        out = np.ones(n, dtype=bool)
        for child in node.subqueries:
            out &= _evaluate(child, terms, columns, whoosh_mask, variants)
        return out
    if kind is Not:
        return ~_evaluate(node.query, terms, columns, whoosh_mask, variants)
    if kind is AndNot:
        return _evaluate(node.a, terms, columns, whoosh_mask, variants) & ~_evaluate(node.b, terms, columns, whoosh_mask, variants)
    if kind is Require:
        return _evaluate(node.a, terms, columns, whoosh_mask, variants) & _evaluate(node.b, terms, columns, whoosh_mask, variants)
    if kind is AndMaybe:
        return _evaluate(node.a, terms, columns, whoosh_mask, variants)
    return whoosh_mask(node)  # phrases (and anything else that needs positions): Whoosh decides
