"""Learning the spelling-variant classes of an archive from its own articles, at build time.

Two index terms are taken for spellings of one word when three tests hold
(figures and the precision measured on ANT: ``docs/variants.md``):

1. **Form**: they have the same consonant skeleton, the word with its long
   vowels and hamza seats (ا و ي ء ئ ؤ) dropped and غ written ج (``ترامب`` and
   ``ترمب`` are ``ترمب``; ``أمريكا`` and ``أميركا`` are ``مرك``), a skeleton of
   at least :data:`MIN_SKELETON` letters, the same first and the same last
   letter (Arabic morphology changes the edges of a word: يشعر / أشعار,
   كتاباً / كتاب), and each is in at least :data:`MIN_DF` live articles.
2. **Outlets**: which of the two an article uses depends on its outlet
   (the ``source`` column): a chi-square test of the outlet × spelling table,
   significant at p < 0.001, with Cramér's V at least :data:`MIN_OUTLET_V`,
   and each spelling is the house style of some outlet (:data:`HOUSE_SHARE`).
   Spelling is a house style; morphology is not: a singular and its plural,
   a verb and its noun (طفل / أطفال, قتل / قتال, which share their contexts
   as much as two spellings do) are used by every outlet alike. An archive of
   a single outlet learns no class: its spelling is consistent already.
3. **Contexts**: the articles of one are as close to the articles of the
   other as to each other. Each term's articles are split in two halves (by a
   hash of the article id, so a build and a sequence of increments split
   alike); a half's profile is the idf-weighted frequency of the
   :data:`FEATURES` most frequent terms in its articles. The mean cosine of
   the cross pairs of halves over the mean cosine within each term's halves
   must reach :data:`MIN_CONTEXT_RATIO`: two spellings are interchangeable
   (the ratio is 1 up to noise), two related words are not (كاتب / كتاب:
   0.83), whatever their frequency, since both cosines are measured at the
   same sample size.
   The ratio is taken twice: of the profiles as they are, and of their
   departures from their own outlets' average article (each half's profile
   less the mean profile of its articles' outlets, weighted by how many of
   them each outlet wrote), which must reach :data:`MIN_OUTLET_CONTEXT_RATIO`.
   Two frequent native words (سابق / سبق, تمول / تميل) share the vocabulary
   of all news and look alike as they are; once the common vocabulary, and
   each outlet's own, is taken away what is left is what the word is about,
   and two spellings of one name still share it while two words do not. It is
   taken per outlet rather than against the whole archive because the spelling
   follows the outlet: against the archive's average, each spelling would keep
   the vocabulary of the outlets that write it, and أمريكا / أميركا would part.

Pairs that pass make classes by complete linkage, best ratio first: two
classes join only when every pair across them passed, up to
:data:`archive.index.variants.MAX_CLASS` terms, so ``أمريكا`` (the country)
and ``أميركي`` (the adjective) never share a class although each is a
variant of the other's counterpart. Everything is computed from the live
articles of the written term index and filter columns, so a build and an
increment (``add``, ``delete``), which both recompute, learn the same classes
from the same articles.
"""

from __future__ import annotations

import math
import re
import time
import zlib
from pathlib import Path

import numpy as np

from .columns import Columns
from .lexical import columns_directory, terms_directory
from .terms import TermIndex
from .variants import MAX_CLASS, VariantClasses

MIN_DF = 5
"""Live articles each term of a pair must be in: fewer give no evidence either way."""
MIN_SKELETON = 3
"""Letters a skeleton must keep (shorter ones gather unrelated short words)."""
MAX_GROUP = 32
"""Terms compared within one skeleton at most (the most frequent): pairs grow with its square."""
MIN_OUTLET_V = 0.5
"""Cramér's V of the outlet × spelling table at least this (1: each outlet writes one spelling only)."""
HOUSE_SHARE = 0.7
"""Each spelling must be some outlet's house style: at least this share of the pair's articles of one
outlet, in at least :data:`MIN_DF` of them."""
OUTLET_Z = 3.09
"""The chi-square test's one-sided normal quantile: p < 0.001 (Wilson–Hilferty approximation)."""
FEATURES = 3000
"""Context terms: the most frequent ones of the archive held by at most :data:`FEATURE_SHARE` of it."""
FEATURE_SHARE = 0.2
MIN_CONTEXT_RATIO = 0.9
"""Cross-term over within-term cosine of the halves' contexts at least this."""
MIN_OUTLET_CONTEXT_RATIO = 0.7
"""The same ratio of the halves' profiles less their outlets' average article at least this."""
PAIR_BLOCK = 4096
"""Pairs tested at once (memory: a block holds two rows per pair, one count per outlet)."""

SETTINGS: dict[str, object] = {
    "rule": "skeleton (ا و ي ء ئ ؤ dropped, غ=ج), same first and last letter; outlet chi-square; context halves, "
            "as they are and less their outlets' average article",
    "min_df": MIN_DF, "min_skeleton": MIN_SKELETON, "max_group": MAX_GROUP, "min_outlet_v": MIN_OUTLET_V,
    "outlet_z": OUTLET_Z, "house_share": HOUSE_SHARE, "features": FEATURES, "feature_share": FEATURE_SHARE,
    "min_context_ratio": MIN_CONTEXT_RATIO, "min_outlet_context_ratio": MIN_OUTLET_CONTEXT_RATIO,
    "max_class": MAX_CLASS,
}
_ARABIC_WORD = re.compile(r"[\u0621-\u064a]+")
_DROP = str.maketrans({c: None for c in "اويءئؤ"})


def skeleton(term: str) -> str:
    """The consonant skeleton of an index term: long vowels and hamza seats dropped, غ as ج."""
    return term.translate(_DROP).replace("غ", "ج")


def learn(terms: TermIndex, outlets: np.ndarray) -> VariantClasses:
    """The variant classes of the live articles of ``terms``; ``outlets`` is each ordinal's source code."""
    indptr, docs = terms.field_postings("body")
    n = terms.live_count
    df = np.diff(indptr)
    groups = _groups(terms.terms, df)
    members = sorted({i for g in groups for i in g})
    if not members or n == 0:
        return VariantClasses((), dict(SETTINGS))
    row_of = {t: r for r, t in enumerate(members)}
    by_outlet = _outlet_counts(indptr, docs, np.asarray(outlets), members)
    vocabulary = terms.terms
    pairs = [(a, b) for g in groups for x, a in enumerate(g) for b in g[x + 1 :]
             if vocabulary[a][0] == vocabulary[b][0] and vocabulary[a][-1] == vocabulary[b][-1]]
    if not pairs:
        return VariantClasses((), dict(SETTINGS))
    passed = _outlet_test(by_outlet, np.array([[row_of[a], row_of[b]] for a, b in pairs], dtype=np.int64))
    candidates = [pair for pair, ok in zip(pairs, passed.tolist()) if ok]
    if not candidates:
        return VariantClasses((), dict(SETTINGS))
    context = _Contexts(terms, indptr, docs, df, n, np.asarray(outlets), {i for pair in candidates for i in pair})
    group_of = {i: g for g in groups for i in g}
    edges = []
    for a, b in candidates:
        ratio, within_outlets = context.ratios(a, b, group_of[a])
        if ratio >= MIN_CONTEXT_RATIO and within_outlets >= MIN_OUTLET_CONTEXT_RATIO:
            edges.append((ratio, terms.terms[a], terms.terms[b]))
    return VariantClasses(_complete_linkage(edges), dict(SETTINGS))


def learn_generation(generation: Path) -> tuple[VariantClasses, float]:
    """Learn the classes of ``generation`` (being written: its term index and columns are) and write
    them into it; returns them and the seconds it took."""
    started = time.perf_counter()
    terms = TermIndex(terms_directory(generation / "lexical"))
    try:
        columns = Columns(columns_directory(generation / "lexical"))
        classes = learn(terms, columns.codes("source"))
    finally:
        terms.close()
    classes.write(generation)
    return classes, time.perf_counter() - started


def _groups(vocabulary: list[str], df: np.ndarray) -> list[list[int]]:
    """Term ids sharing a skeleton (two or more, each frequent enough), each group most frequent first
    (ties by spelling, so any numbering of the terms gives the same groups), at most :data:`MAX_GROUP`."""
    by_skeleton: dict[str, list[int]] = {}
    for i in np.flatnonzero(df >= MIN_DF).tolist():
        term = vocabulary[i]
        if _ARABIC_WORD.fullmatch(term):
            key = skeleton(term)
            if len(key) >= MIN_SKELETON:
                by_skeleton.setdefault(key, []).append(i)
    groups = []
    for ids in by_skeleton.values():
        if len(ids) > 1:
            ids.sort(key=lambda i: (-int(df[i]), vocabulary[i]))
            groups.append(ids[:MAX_GROUP])
    # Pairs must share their first and last letter: keep only those that can.
    return [g for g in groups if _edge_pairs(g, vocabulary)]


def _edge_pairs(group: list[int], vocabulary: list[str]) -> bool:
    edges = {(vocabulary[i][0], vocabulary[i][-1]) for i in group}
    return len(edges) < len(group)


def _outlet_counts(indptr: np.ndarray, docs: np.ndarray, outlets: np.ndarray, members: list[int]) -> np.ndarray:
    """``(members, outlets)``: the live articles of each member term by outlet code."""
    size = int(outlets.max()) + 1 if len(outlets) else 1
    starts = indptr[members]
    lengths = indptr[np.asarray(members) + 1] - starts
    positions = _ranges(starts, lengths)
    owner = np.repeat(np.arange(len(members), dtype=np.int64), lengths)
    keys = owner * size + outlets[docs[positions]]
    return np.bincount(keys, minlength=len(members) * size).reshape(len(members), size).astype(np.float64)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(start, start + length)`` for each pair, without a Python loop."""
    starts, lengths = np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return offsets + np.arange(total, dtype=np.int64)


def _outlet_test(by_outlet: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Per pair of rows: is the spelling significantly (p < 0.001) and strongly (V ≥ :data:`MIN_OUTLET_V`)
    tied to the outlet? (Chi-square of the 2 × outlets table, outlets that hold neither left out.)"""
    out = np.zeros(len(pairs), dtype=bool)
    for start in range(0, len(pairs), PAIR_BLOCK):
        block = pairs[start : start + PAIR_BLOCK]
        table = np.stack([by_outlet[block[:, 0]], by_outlet[block[:, 1]]], axis=1)  # (pairs, 2, outlets)
        columns, rows = table.sum(axis=1), table.sum(axis=2)
        total = rows.sum(axis=1)
        expected = rows[:, :, None] * columns[:, None, :] / total[:, None, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            chi = np.where(expected > 0, (table - expected) ** 2 / expected, 0.0).sum(axis=(1, 2))
        dof = np.count_nonzero(columns, axis=1) - 1
        critical = np.array([_critical(int(k)) for k in dof])
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(columns[:, None, :] > 0, table / columns[:, None, :], 0.0)
        house = ((share >= HOUSE_SHARE) & (table >= MIN_DF)).any(axis=2).all(axis=1)
        out[start : start + len(block)] = (dof >= 1) & (chi >= critical) & (chi >= MIN_OUTLET_V**2 * total) & house
    return out


def _critical(dof: int) -> float:
    """The chi-square value a statistic with ``dof`` degrees of freedom passes with p < 0.001."""
    if dof < 1:
        return math.inf
    h = 2.0 / (9.0 * dof)
    return dof * (1.0 - h + OUTLET_Z * math.sqrt(h)) ** 3


class _Contexts:
    """The context profiles of a few terms' half samples, and of their outlets' average articles (see the
    module docstring, test 3)."""

    def __init__(self, terms: TermIndex, indptr: np.ndarray, docs: np.ndarray, df: np.ndarray, n: int,
                 outlets: np.ndarray, needed: set[int]) -> None:
        vocabulary = terms.terms
        allowed = np.flatnonzero((df <= FEATURE_SHARE * n) & (df > 0))
        order = sorted(allowed.tolist(), key=lambda i: (-int(df[i]), vocabulary[i]))[:FEATURES]
        self._feature = np.full(len(df), -1, dtype=np.int64)
        self._feature[order] = np.arange(len(order))
        self._idf = np.log(n / (df[order] + 1.0)) if order else np.zeros(0)
        self._size = len(order)
        # Forward rows of the feature postings: article ordinal → its feature ids.
        owner = np.repeat(np.arange(len(df), dtype=np.int64), df)
        feature = self._feature[owner]
        chosen = feature >= 0
        rows, feature = docs[chosen], feature[chosen]
        by_row = np.argsort(rows, kind="stable")
        self._row_features = feature[by_row]
        self._row_start = np.zeros(len(terms.ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(terms.ids)), out=self._row_start[1:])
        parity = np.fromiter((zlib.crc32(i.encode("utf-8")) & 1 for i in terms.ids), dtype=np.int8,
                             count=len(terms.ids))
        # Each outlet's average article: its live articles' mean profile (articles without a feature count).
        size = int(outlets.max()) + 1 if len(outlets) else 1
        live = terms.live_mask()
        owner = np.repeat(np.arange(len(terms.ids), dtype=np.int64), np.diff(self._row_start))
        totals = np.bincount(outlets[owner].astype(np.int64) * self._size + self._row_features,
                             minlength=size * self._size).reshape(size, self._size)
        articles = np.bincount(outlets[live], minlength=size)
        self._outlet_mean = totals * self._idf / np.maximum(articles, 1)[:, None]
        self._outlets, self._outlet_count = outlets, size
        self._halves: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._backgrounds: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for i in needed:
            own = np.asarray(docs[indptr[i] : indptr[i + 1]])
            side = parity[own]
            halves = own[side == 0], own[side == 1]
            self._halves[i] = (self._profile(halves[0]), self._profile(halves[1]))
            self._backgrounds[i] = (self._background(halves[0]), self._background(halves[1]))

    def _profile(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(self._size)
        starts = self._row_start[rows]
        found = self._row_features[_ranges(starts, self._row_start[rows + 1] - starts)]
        return np.bincount(found, minlength=self._size) * self._idf / len(rows)

    def _background(self, rows: np.ndarray) -> np.ndarray:
        """The profile ``rows`` would have if each were its outlet's average article."""
        if not len(rows):
            return np.zeros(self._size)
        return np.bincount(self._outlets[rows], minlength=self._outlet_count) @ self._outlet_mean / len(rows)

    def ratios(self, a: int, b: int, group: list[int]) -> tuple[float, float]:
        """Cross-term over within-term mean cosine of the halves' profiles, the group's own terms left
        out of the profiles (a spelling does not count as its own context): of the profiles as they
        are, and of the profiles less their outlets' average article."""
        own = self._feature[group]
        own = own[own >= 0]
        plain = [[np.delete(h, own) for h in self._halves[t]] for t in (a, b)]
        backgrounds = [[np.delete(h, own) for h in self._backgrounds[t]] for t in (a, b)]
        departures = [[h - g for h, g in zip(hs, gs)] for hs, gs in zip(plain, backgrounds)]
        return _ratio(*plain), _ratio(*departures)


def _ratio(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Cross-term over within-term mean cosine of two terms' two halves (0 when the halves share nothing)."""
    (a1, a2), (b1, b2) = a, b
    within = (_cosine(a1, a2) + _cosine(b1, b2)) / 2.0
    if within <= 0.0:
        return 0.0
    return (_cosine(a1, b2) + _cosine(a2, b1) + _cosine(a1, b1) + _cosine(a2, b2)) / 4.0 / within


def _cosine(x: np.ndarray, y: np.ndarray) -> float:
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / norm if norm > 0.0 else 0.0


def _complete_linkage(edges: list[tuple[float, str, str]]) -> tuple[tuple[str, ...], ...]:
    """Classes from the passing pairs, best first: two classes join only when every pair across them
    passed and the result holds at most :data:`MAX_CLASS` terms. Sorted, so the file is deterministic."""
    linked = {(a, b) for _, a, b in edges} | {(b, a) for _, a, b in edges}
    cluster: dict[str, list[str]] = {}
    for _, a, b in sorted(edges, key=lambda e: (-round(e[0], 9), e[1], e[2])):
        left, right = cluster.get(a, [a]), cluster.get(b, [b])
        if left is right or len(left) + len(right) > MAX_CLASS:
            continue
        if all((x, y) in linked for x in left for y in right):
            joined = left + right
            for term in joined:
                cluster[term] = joined
    unique = {id(c): c for c in cluster.values()}.values()
    return tuple(sorted(tuple(sorted(c)) for c in unique))
