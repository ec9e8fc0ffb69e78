"""Ranking over one generation: lexical, semantic and hybrid, inside masks over article ordinals.

Every mode works in the generation's one numbering: article ordinal *i* is
the same article in the term index, the filter columns and the vectors. A
filter is a mask from the columns; a query's operators are a mask from
:mod:`archive.index.matching`; the dense side searches only the passages of the
allowed articles (exact when they are few, FAISS with an ID selector when
many), so no candidate is lost to a filter. Word scores always come from the
term index's BM25F, in every mode and whatever restricts the matches.

Hybrid ranking fuses three signals of every candidate of either side (word
BM25F, character 3-gram BM25 and the best passage's cosine), each z-scored,
with weights set per query from what it measured (:mod:`archive.search.adaptive`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .adaptive import Evidence, is_latin, signal_weights
from .fusion import FusionMethod, convex_combination, reciprocal_rank_fusion, weighted_z_fusion
from ..index.lexical import LexicalIndex
from ..index.matching import Match

if TYPE_CHECKING:
    from ..index.dense import DenseIndex
    from ..encoders.base import Encoder

DEFAULT_FUSION = FusionMethod.CONVEX_Z
DEFAULT_ALPHA = 0.5
"""Weight of the lexical side in convex fusion (chosen on dev data, see docs/evaluation.md)."""
ENCODER_ALPHA = {"use-multilingual": 0.8}
"""Default lexical weight of hybrid fusion per encoder (name prefix), where it is not
:data:`DEFAULT_ALPHA`. Chosen on ARCD train and XQuAD (docs/evaluation.md): USE's dense
side alone is much weaker than e5's, and at 0.5 the hybrid fell below lexical alone."""
EVIDENCE_DEPTH = 10
"""Word candidates whose titles measure a query's title evidence
(:attr:`archive.index.scoring.Scoring.title_evidence` and :attr:`~archive.index.scoring.Scoring.words_alone`)."""
MEANING_CACHE = 8
"""Queries whose vector and article cosines a ranker keeps (a page asks for one query's facets
under several filters, and its search, at once)."""


def default_alpha(encoder_name: str | None) -> float:
    """The hybrid lexical weight tuned for the encoder an archive was built with."""
    for prefix, alpha in ENCODER_ALPHA.items():
        if encoder_name and encoder_name.startswith(prefix):
            return alpha
    return DEFAULT_ALPHA


Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Ranked:
    """A ranking: ``(ordinal, score, best passage span or None)`` best first (or in date order),
    and the counts of the set it was drawn from (:class:`Found`)."""

    items: list[tuple[int, float, Span | None]]
    found: Found


@dataclass(frozen=True, slots=True)
class Found:
    """What a search's mode finds inside the filters: the honest set its hits, facets and date
    order are drawn from. Lexical: the articles holding the query's words; semantic: those whose
    best passage reaches the similarity floor; hybrid: either."""

    mask: np.ndarray | None
    """The found articles, a boolean mask over ordinals (``None`` when only counted)."""
    total: int
    """How many articles were found."""
    words: int | None
    """How many hold the query's words (``None`` in semantic mode)."""
    meaning: int | None
    """How many are near by meaning, at or above the floor (``None`` in lexical mode)."""

    @classmethod
    def of(cls, mask: np.ndarray, words: int | None, meaning: int | None) -> Found:
        return cls(mask, int(np.count_nonzero(mask)), words, meaning)


@dataclass(frozen=True, slots=True)
class Request:
    """One search, its arguments checked."""

    text: str
    """The query as words, for encoders and character grams (no operators)."""
    match: Match
    within: np.ndarray | None
    """The articles the filters allow (``None``: all)."""
    k: int
    mode: str
    sort: str
    fusion: FusionMethod
    alpha: float
    offset: int = 0


class Ranker:
    """Ranks requests over one generation's lexical side and (lazily) its dense side."""

    def __init__(
        self, lexical: LexicalIndex, dense: Callable[[], DenseIndex], encoder: Callable[[], Encoder],
        floor: float | None = None,
    ) -> None:
        """``floor``: the similarity floor of the archive's encoder (:mod:`archive.search.floor`; ``None``: none)."""
        self._lexical = lexical
        self._dense = dense
        self._encoder = encoder
        self.floor = floor
        self._meanings: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._meanings_lock = threading.Lock()

    def rank(self, request: Request) -> Ranked:
        if request.mode == "lexical":
            return self._lexical_rank(request)
        return self._dense_rank(request)

    def found(self, request: Request) -> Found:
        """The honest set of ``request``'s mode (see :class:`Found`), without ranking it."""
        if request.mode == "lexical":
            mask = self._lexical.matches(request.match, request.within)
            return Found.of(mask, int(np.count_nonzero(mask)), None)
        return self._found(request, self._meaning(request.text)[1])

    def _found(self, request: Request, cosines: np.ndarray) -> Found:
        near = cosines >= self.floor if self.floor is not None else np.isfinite(cosines)
        allowed = self._allowed(request)
        if allowed is not None:
            near &= allowed
        meaning = int(np.count_nonzero(near))
        if request.mode == "semantic":
            return Found.of(near, None, meaning)
        words = self._lexical.matches(request.match, request.within)
        return Found.of(words | near, int(np.count_nonzero(words)), meaning)

    def _meaning(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The query vector of ``text`` and every article's best passage cosine for it (kept for a few queries)."""
        with self._meanings_lock:
            if text in self._meanings:
                self._meanings.move_to_end(text)
                return self._meanings[text]
        vector = self._encoder().encode_queries([text])[0]
        result = (vector, self._dense().article_scores(vector))
        with self._meanings_lock:
            self._meanings[text] = result
            while len(self._meanings) > MEANING_CACHE:
                self._meanings.popitem(last=False)
        return result

    def _lexical_rank(self, request: Request) -> Ranked:
        lexical = self._lexical
        if request.sort == "relevance":
            ranked, total = lexical.rank(request.match, request.k, request.within, offset=request.offset)
            found = Found(None, total, total, None)
            return Ranked([(o, s, None) for o, s in ranked], found)
        found = self.found(request)
        page = self._by_date(request, found)
        scores = lexical.scores(request.match, page)
        return Ranked([(int(o), s, None) for o, s in zip(page.tolist(), scores)], found)

    def _by_date(self, request: Request, found: Found) -> np.ndarray:
        """The page of ``found`` in date order (``-date``: newest first)."""
        assert found.mask is not None
        ordered = self._lexical.columns.by_date(np.flatnonzero(found.mask), newest_first=request.sort == "-date")
        return ordered[request.offset : request.offset + request.k]

    def _allowed(self, request: Request) -> np.ndarray | None:
        """The articles the dense side may return: the filters, the query's own filters, and in
        hybrid mode its operators (phrases, +must, -exclude) too."""
        masks = [m for m in (request.within, request.match.filters) if m is not None]
        if request.mode == "hybrid" and request.match.constrained and request.match.candidates is not None:
            masks.append(request.match.candidates)
        if not masks:
            return None
        allowed = masks[0].copy()
        for mask in masks[1:]:
            allowed &= mask
        return allowed

    def _dense_rank(self, request: Request) -> Ranked:
        """Semantic or hybrid: ranked inside the honest set (:meth:`found`), so nothing below the
        similarity floor is returned unless it holds the query's words. Sorted by date, every
        article of the set is in order; a hit's score is then its best passage's cosine."""
        dense = self._dense()
        vector, cosines = self._meaning(request.text)
        found = self._found(request, cosines)
        if request.sort != "relevance":
            page = self._by_date(request, found).tolist()
            best = dense.best_passages(vector, page)
            return Ranked([(o, float(cosines[o]) if np.isfinite(cosines[o]) else 0.0, span)
                           for o, (_, span) in zip(page, best)], found)
        allowed = self._allowed(request)
        want = request.offset + request.k
        depth = want if request.mode == "semantic" else max(want, self._lexical.scoring.depth)
        near = dense.nearest(vector, cosines, depth, allowed=allowed)
        spans: dict[int, Span] = {o: span for o, _, span in near}
        if request.mode == "semantic":
            fused = [(o, s) for o, s, _ in near]
        else:
            lexical, _ = self._lexical.rank(request.match, depth, request.within, hybrid=True)
            fused = self._fuse(request, vector, lexical, [(o, s) for o, s, _ in near], spans, depth)
        # Fused over every candidate (their scores are as before the floor); only the found are shown.
        shown = found.mask
        assert shown is not None
        page = [(o, s) for o, s in fused if shown[o]][request.offset : want]
        return Ranked([(o, s, spans.get(o)) for o, s in page], found)

    def _fuse(
        self,
        request: Request,
        vector: np.ndarray,
        lexical: list[tuple[int, float]],
        dense_run: list[tuple[int, float]],
        spans: dict[int, Span],
        k: int,
    ) -> list[tuple[int, float]]:
        """The hybrid fusion of both runs (ordinals), best first; ties break on the article id."""
        if request.fusion is FusionMethod.CONVEX_Z:
            return self._z_fusion(request, vector, lexical, dense_run, spans, k)
        ids = self._lexical.ids
        runs = [[(ids[o], s) for o, s in run] for run in (lexical, dense_run)]
        if request.fusion is FusionMethod.RRF:
            fused = reciprocal_rank_fusion(runs, k=k)
        else:
            fused = convex_combination(runs[0], runs[1], alpha=request.alpha, normalize="min-max", k=k)
        ordinal_of = {ids[o]: o for run in (lexical, dense_run) for o, _ in run}
        return [(ordinal_of[i], s) for i, s in fused]

    def _z_fusion(
        self,
        request: Request,
        vector: np.ndarray,
        lexical: list[tuple[int, float]],
        dense_run: list[tuple[int, float]],
        spans: dict[int, Span],
        k: int,
    ) -> list[tuple[int, float]]:
        """:func:`~archive.search.fusion.weighted_z_fusion` of both runs, each candidate scored on both sides.

        A lexical candidate the dense search did not return gets its best
        passage's cosine (exact, from its own rows; its span is added to
        ``spans`` for the snippet); a dense candidate outside the lexical top
        list gets BM25 0, the score of a document that did not make the list.
        An article whose passages are not embedded yet has no cosine: it gets
        the mean of the others, a z-score of 0, so it is ranked on its words.
        Every candidate also gets its character-gram BM25 for the query's
        words, a third column weighted ``alpha * gram_share``
        (:attr:`archive.index.scoring.Scoring.gram_share`: grams find the inflected
        and attached forms the light stemmer misses, word BM25F keeps
        exact-term precision). The three weights are set for this query from
        its evidence (:func:`archive.search.adaptive.signal_weights`); when they
        say the words rank alone, the word column is every candidate's BM25F as
        lexical mode scores it, a dense candidate's included.
        """
        dense = self._dense()
        lexical_scores = dict(lexical)
        dense_scores = dict(dense_run)
        missing = [o for o in lexical_scores if o not in dense_scores]
        for ordinal, (score, span) in zip(missing, dense.best_passages(vector, missing)):
            dense_scores[ordinal] = score
            if span is not None:
                spans[ordinal] = span
        ids = self._lexical.ids
        ordinals = sorted(dense_scores, key=ids.__getitem__)  # in id order, as the fusion sums them
        columns = [
            [lexical_scores.get(o, 0.0) for o in ordinals],
            self._lexical.gram_scores_at(request.text, ordinals),
            _known([dense_scores[o] for o in ordinals]),
        ]
        scoring = self._lexical.scoring
        titles = (self._lexical.title_coverages(request.match, [o for o, _ in lexical[:EVIDENCE_DEPTH]])
                  if lexical and (scoring.title_evidence or scoring.words_alone) else np.zeros(0))
        evidence = Evidence(
            title=min(max(float(titles.max()), 0.0), 1.0) if len(titles) and scoring.title_evidence else 0.0,
            latin=is_latin(request.text),
            title_depth=int(np.count_nonzero(titles >= 1.0 - 1e-9)) / EVIDENCE_DEPTH,
        )
        weights = signal_weights(request.alpha, evidence, scoring)
        if weights.lexical_words:
            columns[0] = self._lexical.scores(request.match, np.asarray(ordinals, dtype=np.int64))
        # Ties break on the id (as every fusion does), so fuse over ids and map back.
        by_id = weighted_z_fusion([ids[o] for o in ordinals], columns, weights.as_list(), k=k)
        ordinal_of = {ids[o]: o for o in ordinals}
        return [(ordinal_of[i], s) for i, s in by_id]


def _known(scores: list[float]) -> list[float]:
    """``scores`` with each unknown (``nan``) one replaced by the mean of the known ones (0 if none)."""
    known = [s for s in scores if s == s]
    if len(known) == len(scores):
        return scores
    mean = sum(known) / len(known) if known else 0.0
    return [s if s == s else mean for s in scores]
