"""Fusion of ranked lists: small pure functions, as in Pyserini.

A run is a list of ``(doc_id, score)`` pairs, best first. Every method returns
a fused run sorted by ``(-score, doc_id)``, so ties break the same way on
every machine. Raw BM25 and cosine scores live on different scales and are
never added as they are: they are normalized first (min-max or z-score), or
only ranks are used (reciprocal rank fusion).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum

Run = Sequence[tuple[str, float]]

RRF_K = 60
"""The constant of Cormack et al. (2009), also Pyserini's default."""


class FusionMethod(str, Enum):
    """How the hybrid ranker combines the lexical and the dense run.

    ``convex-z`` (the default): every candidate of either run gets its score
    on every signal (word BM25F, character-gram BM25, and the dense side,
    which scores each lexical candidate's passages too), each signal is
    z-scored over all candidates, then mixed; see :func:`weighted_z_fusion`.
    ``convex``: min-max over each run as retrieved, a missing document
    scoring 0. ``rrf``: ranks only.
    """

    CONVEX_Z = "convex-z"  # listed first: the default
    CONVEX = "convex"
    RRF = "rrf"


def _sorted(scores: dict[str, float], k: int | None) -> list[tuple[str, float]]:
    fused = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return fused if k is None else fused[:k]


def min_max(run: Run) -> dict[str, float]:
    """Scores scaled to [0, 1]; a constant (or one-element) run scales to 1."""
    if not run:
        return {}
    values = [s for _, s in run]
    low, high = min(values), max(values)
    if high - low <= 1e-12:
        return {doc: 1.0 for doc, _ in run}
    return {doc: (s - low) / (high - low) for doc, s in run}


def z_score(run: Run) -> dict[str, float]:
    """Scores as standard scores; a constant run gives 1 for every document."""
    if not run:
        return {}
    values = [s for _, s in run]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if std <= 1e-12:
        return {doc: 1.0 for doc, _ in run}
    return {doc: (s - mean) / std for doc, s in run}


def reciprocal_rank_fusion(runs: Sequence[Run], *, rrf_k: int = RRF_K, k: int | None = None) -> list[tuple[str, float]]:
    """Sum over runs of ``1 / (rrf_k + rank)``; ranks start at 1."""
    scores: dict[str, float] = {}
    for run in runs:
        for rank, (doc, _) in enumerate(run, 1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (rrf_k + rank)
    return _sorted(scores, k)


def convex_combination(
    lexical: Run, dense: Run, *, alpha: float, normalize: str = "min-max", k: int | None = None
) -> list[tuple[str, float]]:
    """``alpha * lexical + (1 - alpha) * dense`` over normalized scores.

    A document missing from one run gets that run's floor (0 after min-max,
    the run's minimum after z-score): it was not retrieved there, so it gets
    no more than the weakest retrieved document.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], not {alpha}")
    scale = min_max if normalize == "min-max" else z_score
    lex, den = scale(lexical), scale(dense)
    lex_floor = min(lex.values(), default=0.0) if normalize != "min-max" else 0.0
    den_floor = min(den.values(), default=0.0) if normalize != "min-max" else 0.0
    scores = {
        doc: alpha * lex.get(doc, lex_floor) + (1.0 - alpha) * den.get(doc, den_floor)
        for doc in set(lex) | set(den)
    }
    return _sorted(scores, k)


def weighted_z_fusion(
    ids: Sequence[str], columns: Sequence[Sequence[float]], weights: Sequence[float], *, k: int | None = None
) -> list[tuple[str, float]]:
    """``sum(w * z(column))`` per candidate, where every column scores every id.

    Unlike :func:`convex_combination`, nothing is filled in for a document
    one side did not retrieve: the caller gives each candidate its real score
    on each side, so a document the dense side ranked 101st is not scored as
    if it were unrelated. A constant column normalizes to 1 for every id,
    as :func:`z_score` does (a lone hit scores the sum of the weights, 1).
    Chosen on ARCD train and XQuAD (docs/evaluation.md): MRR@10 +0.005 and
    +0.004 over min-max ``convex``.
    """
    if len(columns) != len(weights):
        raise ValueError("one weight per column")
    totals = [0.0] * len(ids)
    for column, weight in zip(columns, weights):
        if len(column) != len(ids):
            raise ValueError("every column must score every id")
        if not ids:
            break
        mean = sum(column) / len(column)
        std = math.sqrt(sum((v - mean) ** 2 for v in column) / len(column))
        if std <= 1e-12:  # no information; normalizes to 1, as in z_score (not a division by zero)
            for i in range(len(totals)):
                totals[i] += weight
            continue
        for i, value in enumerate(column):
            totals[i] += weight * (value - mean) / std
    return _sorted(dict(zip(ids, totals)), k)
