"""A story's timeline: the articles about one story, grouped into events along time.

The articles come from the archive's own machinery (:meth:`archive.Archive.story`
gathers them): from an article, its nearest articles (:mod:`archive.search.related`);
from a query, what the search finds, best first. Here they are grouped into
*events*: articles close in meaning and in date. Nothing is computed at build
time; grouping a few hundred articles costs a few milliseconds.

How articles are compared. On an archive with vectors, an article is the unit
mean of its passage vectors (:func:`archive.search.related.article_vectors`);
on a lexical-only archive, the TF-IDF of the stemmed words of its title and
lead (:func:`word_vectors`, its IDF counted within the story). Either way a
pair's cosine is taken as a *standard score* among the story's pairs
(:func:`standardized`): every article of a story is about the story, so what
tells its events apart is how much nearer two articles are than its typical
pair; and one scale then serves e5's narrow band of cosines and TF-IDF's wide one.

How events are formed. Average-linkage hierarchical clustering (SciPy's
:func:`scipy.cluster.hierarchy.linkage`) over a distance that adds the two
sides, ``max(0, 1 - z / Z_SCALE) + days apart / DAY_SCALE``, cut at :data:`CUT`;
near copies of one story found at build time (:mod:`archive.search.folding`)
are at distance 0. Each cluster is then split wherever its dates leave a gap
of more than :data:`GAP_DAYS` days, so that an event is one stretch of time.
Average linkage (rather than single) keeps a daily thread of loosely connected
reports from chaining into one event. Undated articles cannot be placed on a
timeline: they are listed apart (:attr:`Story.undated`). The settings were
chosen by reading timelines of ANT (docs/story.md), not on judged events.

An event is shown as its date range, its *best title* (the title of the
article nearest the event's centre, the one the others resemble most) and
its outlets (most articles first); events are listed oldest first, and each
holds its articles oldest first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import QueryError
from ..text.analysis import terms

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

DEFAULT_LIMIT = 100
"""Articles a story considers when the caller does not say (the seed article aside)."""
MAX_LIMIT = 500
"""The most articles a story considers: grouping compares every pair (500 articles: 124,750 pairs)."""
CUT = 1.0
"""Where the clustering tree is cut: an event is a group whose average distance is at most this, the
distance of two typical articles of the story published on the same day."""
Z_SCALE = 2.0
"""Standard scores of similarity (:func:`standardized`) at which two articles count as saying the same
(meaning distance 0); a typical pair of the story is at 1."""
DAY_SCALE = 7.0
"""Days apart that weigh as much as the meaning distance of two typical articles of the story (1.0):
articles a week apart join one event only when they say the same."""
GAP_DAYS = 10.0
"""An event is split where its dates leave more days than this without an article."""
LEAD_WORDS = 80
"""Words of the body that, with the title, represent an article on a lexical-only archive."""


@dataclass(frozen=True, slots=True)
class StoryArticle:
    """One article of a story: what a timeline line shows, and how near it is to the seed or query."""

    id: str
    title: str
    published: datetime | None
    source: str
    url: str = ""
    score: float | None = None
    """The related or search score that brought it in (``None`` for the seed article itself)."""

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "published": _iso(self.published), "source": self.source,
                "url": self.url, "score": None if self.score is None else round(self.score, 6)}


@dataclass(frozen=True, slots=True)
class Event:
    """Articles close in meaning and date: one line of a timeline."""

    articles: tuple[StoryArticle, ...]
    """Oldest first."""
    title: str
    """The best title: that of the article nearest the event's centre (its id when it has none)."""
    headline_id: str
    """The article whose title :attr:`title` is."""

    @property
    def start(self) -> datetime | None:
        return self.articles[0].published

    @property
    def end(self) -> datetime | None:
        return self.articles[-1].published

    @property
    def sources(self) -> tuple[str, ...]:
        """The outlets that reported it, most articles first (then by name); an article without one adds none."""
        counts = Counter(a.source for a in self.articles if a.source)
        return tuple(name for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold())))

    def as_dict(self) -> dict[str, Any]:
        return {"start": _iso(self.start), "end": _iso(self.end), "title": self.title,
                "headline_id": self.headline_id, "sources": list(self.sources),
                "articles": [a.as_dict() for a in self.articles]}


@dataclass(frozen=True, slots=True)
class Story:
    """A story's timeline: its events oldest first, and how its articles were found and grouped."""

    events: tuple[Event, ...]
    seed: str | None
    """The article the story was asked for (``None`` for a query's story)."""
    query: str | None
    """The query the story was asked for (``None`` for an article's story)."""
    mode: str
    """How the articles were found: ``"semantic"`` (nearest by meaning), ``"lexical"`` (by words) or ``"hybrid"``."""
    grouping: str
    """What the events were grouped by besides dates: ``"meaning"`` (passage vectors) or ``"words"``."""
    limit: int
    """The most articles considered (the seed aside): :data:`DEFAULT_LIMIT`, at most :data:`MAX_LIMIT`."""
    undated: tuple[StoryArticle, ...] = ()
    """Articles of the story without a date (they cannot be placed in time)."""
    reason: str | None = None
    """Why the story holds no event, else ``None``."""
    notice: str | None = None
    """What else a reader should know (meaning search over a partly embedded archive)."""

    @property
    def considered(self) -> int:
        """How many articles the story holds, dated or not (the seed included)."""
        return sum(len(e.articles) for e in self.events) + len(self.undated)

    def as_dict(self) -> dict[str, Any]:
        """The story as plain values (``archive story --json`` and ``/api/story``)."""
        return {"seed": self.seed, "query": self.query, "mode": self.mode, "grouping": self.grouping,
                "limit": self.limit, "considered": self.considered, "reason": self.reason, "notice": self.notice,
                "events": [e.as_dict() for e in self.events], "undated": [a.as_dict() for a in self.undated]}


def word_vectors(texts: Sequence[str]) -> csr_matrix:
    """Unit TF-IDF rows of the stemmed words of ``texts``, sparse (log term frequency; IDF counted
    among ``texts`` themselves, so the words every article of a story shares weigh little)."""
    from scipy.sparse import csr_matrix

    vocabulary: dict[str, int] = {}
    columns: list[int] = []
    values: list[float] = []
    starts = [0]
    for text in texts:
        for word, n in Counter(terms(text)).items():
            columns.append(vocabulary.setdefault(word, len(vocabulary)))
            values.append(1.0 + math.log(n))
        starts.append(len(columns))
    matrix = csr_matrix((np.asarray(values, dtype=np.float64), np.asarray(columns, dtype=np.int64), starts),
                        shape=(len(texts), len(vocabulary)))
    df = np.bincount(matrix.indices, minlength=len(vocabulary))
    matrix = matrix.multiply(np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0).tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return csr_matrix(matrix.multiply(1.0 / np.where(norms > 0, norms, 1.0)[:, None]))


def article_text(title: str, body: str) -> str:
    """What represents an article on a lexical-only archive: its title and the first :data:`LEAD_WORDS` words."""
    return f"{title}\n{' '.join(body.split(maxsplit=LEAD_WORDS)[:LEAD_WORDS])}"


def cosines(vectors: np.ndarray | csr_matrix) -> np.ndarray:
    """The cosine of every pair of rows of ``vectors`` (dense or sparse); a row of zeros has 0 with every row,
    itself included."""
    if not isinstance(vectors, np.ndarray):
        return np.asarray((vectors @ vectors.T).toarray(), dtype=np.float64)
    rows = _unit(np.asarray(vectors, dtype=np.float32))
    with _one_blas_thread():  # a product this small is done before a second thread is scheduled on a busy machine
        return (rows @ rows.T).astype(np.float64)


def group(cosine: np.ndarray, days: np.ndarray, copies: np.ndarray | None = None, *, cut: float = CUT,
          day_scale: float = DAY_SCALE, z_scale: float = Z_SCALE, gap_days: float = GAP_DAYS) -> np.ndarray:
    """The event of each article, numbered from 0: ``cosine`` the articles' similarities (:func:`cosines`;
    a row of zeros: unknown meaning), ``days`` each article's date in days, ``copies`` each article's
    group of near copies (:mod:`archive.search.folding`; -1: none), whose members are at distance 0
    from one another. See the module's docstring for how."""
    n = len(days)
    if cosine.shape != (n, n) or (copies is not None and len(copies) != n):
        raise ValueError(f"similarities {cosine.shape} and {n if copies is None else len(copies)} copy groups "
                         f"for {n} dates")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        labels = np.zeros(1, dtype=np.int64)
    else:
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import squareform

        meaning = np.maximum(0.0, 1.0 - standardized(cosine) / z_scale)
        distance = meaning + np.abs(days[:, None] - days[None, :]) / day_scale
        if copies is not None:  # copies of one story (at most 3 days apart: folding's own bound) are one event
            distance[(copies[:, None] == copies[None, :]) & (copies[:, None] >= 0)] = 0.0
        np.fill_diagonal(distance, 0.0)
        tree = linkage(squareform(distance, checks=False), method="average")
        labels = fcluster(tree, t=cut, criterion="distance").astype(np.int64) - 1
    return _split_at_gaps(labels, days, gap_days)


def standardized(cosine: np.ndarray) -> np.ndarray:
    """``cosine`` (:func:`cosines`) as standard scores among the pairs (0: a typical pair of these
    articles; 2: two standard deviations nearer). An article without a vector (a row of zeros) is
    typical with every other; fewer than three articles with vectors, or pairs all alike, give 0
    throughout (no pair stands out)."""
    n = len(cosine)
    known = np.diagonal(cosine) > 0.5  # a unit row's own cosine is 1, a row of zeros' 0
    if n < 3 or known.sum() < 3:
        return np.zeros((n, n))
    both = np.outer(known, known)
    pairs = both & ~np.eye(n, dtype=bool)
    mean, spread = float(cosine[pairs].mean()), float(cosine[pairs].std())
    if spread <= 1e-9:
        return np.zeros((n, n))
    scores = (cosine - mean) / spread
    scores[~both] = 0.0
    return scores


def timeline(articles: Sequence[StoryArticle], vectors: np.ndarray | csr_matrix,
             copies: np.ndarray | None = None) -> tuple[list[Event], list[StoryArticle]]:
    """``articles`` (one row of ``vectors`` each, dense or sparse, and of ``copies`` when given: see
    :func:`group`) grouped into events, oldest first, and the undated ones."""
    dated = [i for i, a in enumerate(articles) if a.published is not None]
    undated = [articles[i] for i, a in enumerate(articles) if a.published is None]
    if not dated:
        return [], undated
    similarity = cosines(vectors[dated])
    days = np.array([articles[i].published.timestamp() / 86400.0 for i in dated])  # type: ignore[union-attr]
    labels = group(similarity, days, None if copies is None else np.asarray(copies)[dated])
    events = []
    for label in np.unique(labels).tolist():
        members = np.flatnonzero(labels == label)
        central = members[int(np.argmax(similarity[np.ix_(members, members)].sum(axis=1)))]
        head = articles[dated[central]]
        ordered = sorted((articles[dated[m]] for m in members), key=_when)
        events.append(Event(tuple(ordered), head.title or head.id, head.id))
    events.sort(key=lambda e: (_when(e.articles[0]), _when(e.articles[-1]), e.headline_id))
    return events, undated


def check_limit(limit: object) -> int:
    """``limit`` if it is a whole number from 1 to :data:`MAX_LIMIT`, else a :class:`QueryError` naming it."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit (articles a story considers) must be a whole number from 1 to {MAX_LIMIT}, "
                         f"not {limit!r}")
    return limit


def _one_blas_thread() -> Any:
    """One BLAS thread while held (:mod:`archive.blas`). On a loaded machine a 100 × 100 product waited
    about 20 ms for OpenBLAS's second thread; alone it takes a fraction of a millisecond."""
    from ..blas import one_blas_thread

    return one_blas_thread()


def _when(article: StoryArticle) -> tuple[float, str]:
    return (article.published.timestamp() if article.published else math.inf, article.id)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _split_at_gaps(labels: np.ndarray, days: np.ndarray, gap_days: float) -> np.ndarray:
    """``labels`` with each group cut where its sorted dates leave more than ``gap_days`` days empty."""
    out = np.empty_like(labels)
    next_label = 0
    for label in np.unique(labels).tolist():
        members = np.flatnonzero(labels == label)
        members = members[np.argsort(days[members], kind="stable")]
        breaks = np.concatenate([[0], np.cumsum(np.diff(days[members]) > gap_days)])
        out[members] = next_label + breaks
        next_label += int(breaks[-1]) + 1
    return out


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
