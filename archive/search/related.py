"""Related articles: the articles nearest to one article of the archive.

On an archive with vectors, an article is represented by the mean of its
passage vectors (renormalized): the centre of what it says, so a long article
is compared by its whole content, not by one paragraph. Its nearest articles
are those whose best passage is closest to that centre (the dense index's own
article search, best passage per article). On a lexical-only archive the
article's title and lead (its first :data:`LEAD_WORDS` words) are the query,
ranked by the term index's BM25F like any search. Either way the article
itself is left out; its folded duplicates are never indexed, so they never
come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..document import Document
from .query import MAX_QUERY_TERMS, plain_text

if TYPE_CHECKING:
    from ..index.dense import DenseIndex, Span

LEAD_WORDS = 40
"""Words of the body added to the title for the lexical fallback (the lead of a news story)."""
BACKGROUND_ARTICLES = 2000
"""Articles, evenly spaced over the ordinals, that stand for the archive at large in :func:`story_floor`:
enough for a steady mean and spread, at a cost that does not grow with the archive."""
BACKGROUND_MIN = 200
"""Fewer sampled articles than this (with a passage vector, the seed aside) measure no spread worth the
name: the story is then bounded by the search floor alone."""
BACKGROUND_TRIM = 0.05
"""The share of the sample most similar to the seed left out of its background: the seed's own story, up
to this share of the archive, does not raise its bar, whatever ``limit`` and the filters are."""
STORY_Z = 5.0
"""How many standard deviations above its mean similarity to the archive at large an article's similarity
to the seed must stand for it to be in the seed's story (:func:`story_floor`; chosen on judged seeds of
ANT: docs/story.md)."""


def article_vector(dense: DenseIndex, ordinal: int) -> np.ndarray | None:
    """The unit mean of the passage vectors of the article at ``ordinal`` (``None`` if it has none)."""
    vectors = dense.passage_vectors(ordinal)
    if not len(vectors):
        return None
    centre = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(centre))
    if norm == 0.0:
        return None
    return centre / norm


def article_vectors(dense: DenseIndex, ordinals: Sequence[int]) -> np.ndarray:
    """:func:`article_vector` of each of ``ordinals``, as rows (a row of zeros for an article without a
    passage vector), read from the vector matrix in one gather (a story takes a hundred at once)."""
    rows, sizes = dense.article_rows(np.asarray(ordinals, dtype=np.int64))
    out = np.zeros((len(sizes), dense.dim), dtype=np.float32)
    present = sizes > 0
    if not present.any():
        return out
    gathered = np.asarray(dense.vectors()[rows], dtype=np.float32)
    starts = np.cumsum(sizes) - sizes
    out[present] = np.add.reduceat(gathered, starts[present], axis=0) / sizes[present, None]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def nearest_by_vectors(
    dense: DenseIndex, ordinal: int, k: int, within: np.ndarray | None = None
) -> list[tuple[int, float, Span]] | None:
    """The ``k`` articles nearest to the article at ``ordinal``, best first, itself excluded:
    ``(ordinal, cosine, span of the nearest passage)``; ``None`` when it has no passage vector.
    ``within``: only the articles this boolean mask over ordinals allows (a filtered story)."""
    centre = article_vector(dense, ordinal)
    if centre is None:
        return None
    allowed = None if within is None else dense.rows_of(within)
    return [hit for hit in dense.search(centre, k + 1, allowed=allowed) if hit[0] != ordinal][:k]


def story_floor(dense: DenseIndex, ordinal: int, z: float = STORY_Z) -> float | None:
    """The similarity an article needs to the article at ``ordinal`` to be in its story: ``z`` standard
    deviations above the mean of its similarities to the archive at large (:func:`background`); ``None``
    when there is no background to measure.

    The encoder's search floor (:mod:`archive.search.floor`) is calibrated for a query against articles;
    between two news articles the cosines lie in a narrow band whose level depends on the article (the
    reports of one sport resemble each other more than two reports of politics do), so the story's bound
    is measured against the article's own background rather than fixed.
    """
    spread = background(dense, ordinal)
    return None if spread is None else spread[0] + z * spread[1]


def background(dense: DenseIndex, ordinal: int) -> tuple[float, float] | None:
    """The mean and standard deviation of the similarities of the article at ``ordinal`` (its
    :func:`article_vector`) to the archive at large, best passage each, as :func:`nearest_by_vectors`
    scores: a sample of :data:`BACKGROUND_ARTICLES` articles, the seed aside and the
    :data:`BACKGROUND_TRIM` most similar left out (the story's own articles must not set its bar).
    ``None`` when the seed has no passage vector or fewer than :data:`BACKGROUND_MIN` of the sample
    have one."""
    centre = article_vector(dense, ordinal)
    if centre is None:
        return None
    ordinals, rows, starts = dense.sample_rows(BACKGROUND_ARTICLES)
    if np.count_nonzero(ordinals != ordinal) < BACKGROUND_MIN:
        return None
    best = np.maximum.reduceat(np.asarray(dense.vectors()[rows], dtype=np.float32) @ centre, starts)
    best = np.sort(best[ordinals != ordinal])
    best = best[: len(best) - int(BACKGROUND_TRIM * len(best))]
    return float(best.mean()), float(best.std())


def lead_query(doc: Document) -> str:
    """The words of ``doc``'s title and lead, without query syntax: the lexical fallback's query."""
    lead = " ".join(doc.body.split()[:LEAD_WORDS])
    words = plain_text(f"{doc.title} {lead}").split()
    return " ".join(words[: MAX_QUERY_TERMS * 2])
