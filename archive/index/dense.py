"""The dense side of the archive: passages, their vectors, and search by meaning.

An article is split into passages (:mod:`archive.text.passages`); each passage is
embedded (through the embedding cache, so unchanged text is never embedded
twice) and stored as one row of a :class:`~archive.index.vectors.VectorIndex`. The
row → article mapping lives beside FAISS as plain arrays (``passages.npz``:
article ordinal, start and end offset into the article's passage text), and
the article ids as JSON. An article's semantic score is the best score of its
passages; that passage is its snippet.

The ids are the term index's, deleted articles' included: a delete marks the
rows of the deleted articles :data:`DEAD` (searches skip them) and drops
their pending passages, and every other row keeps its ordinal, as the term
index's live mask keeps every ordinal (:mod:`archive.index.terms`). Only
when the term index compacts are the ordinals renumbered here too.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import npy
from ..document import Document
from .embcache import EmbeddingCache, EmbedStats, embed_with_cache
from ..errors import IndexDamagedError, IndexFormatError, UsageError
from ..text.passages import SPLITTER_VERSION, split_passages
from .links import link_files
from .vectors import VECTORS_FORMAT, VectorIndex

PASSAGE_WORDS = 120
PASSAGE_OVERLAP = 30
MAX_PASSAGES = 64
TITLE_IN_PASSAGES = True
"""Each passage is embedded as ``title + newline + passage``: the title gives a
passage cut from the middle of an article its topic."""

DENSE_FORMAT = 2
DEAD = -1
"""The article ordinal of a vector row whose article was deleted (kept in the graph until compaction)."""
COMPACT_SHARE = 0.2
"""An HNSW graph is rebuilt without its dead rows once they would pass this share of its rows;
below it, a change appends its new vectors to the graph and marks removed ones dead."""


def passage_settings(max_passages: int = MAX_PASSAGES) -> dict[str, int]:
    """The passage settings an index records (a change invalidates dense indexes).

    ``max_passages`` is the archive's passage policy (``--passages``): how many
    passages of each article are embedded at most; the others are this code's.
    """
    return {
        "max_words": PASSAGE_WORDS,
        "overlap_words": PASSAGE_OVERLAP,
        "max_passages": max_passages,
        "title_in_passages": int(TITLE_IN_PASSAGES),
        "splitter": SPLITTER_VERSION,
        "vectors_format": VECTORS_FORMAT,
    }


def passage_policy(value: int | str | None) -> int | None:
    """``--passages``: ``"lead"`` (1), ``"all"`` (:data:`MAX_PASSAGES`) or a number of passages
    per article, as the ``max_passages`` an index records (``None`` stays None: keep the archive's)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "lead":
            return 1
        if text == "all":
            return MAX_PASSAGES
        if not text.isdigit():
            raise UsageError(f"passages must be lead, all or a number from 1 to {MAX_PASSAGES}, not {value!r}")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PASSAGES:
        raise UsageError(f"passages must be lead, all or a number from 1 to {MAX_PASSAGES}, not {value!r}")
    return value


def passage_source(doc: Document) -> str:
    """The text passages are cut from (offsets in the mapping point into it)."""
    return doc.body


def embedding_text(doc: Document, passage: str) -> str:
    """What the encoder sees for one passage of ``doc``."""
    if TITLE_IN_PASSAGES and doc.title:
        return f"{doc.title}\n{passage}"
    return passage


Span = tuple[int, int]
"""A passage's start and end offsets in its article's body."""


@dataclass(frozen=True, slots=True)
class PassageRows:
    """Passages as parallel arrays: article ordinal, start and end offset, and rank in the article.

    Rank 0 is an article's lead passage. The vector rows of a dense index and
    its pending passages (planned, not embedded yet) are both kept this way,
    sorted by ordinal and then start, so an article's rows are contiguous.
    """

    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    rank: np.ndarray

    @classmethod
    def empty(cls) -> PassageRows:
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32))

    @classmethod
    def of(cls, doc: Sequence[int], start: Sequence[int], end: Sequence[int], rank: Sequence[int]) -> PassageRows:
        return cls(np.asarray(doc, dtype=np.int32), np.asarray(start, dtype=np.int64),
                   np.asarray(end, dtype=np.int64), np.asarray(rank, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.doc)

    def take(self, rows: np.ndarray) -> PassageRows:
        return PassageRows(self.doc[rows], self.start[rows], self.end[rows], self.rank[rows])

    def concat(self, other: PassageRows) -> PassageRows:
        return PassageRows(*(np.concatenate([a, b]) for a, b in
                             zip((self.doc, self.start, self.end, self.rank), (other.doc, other.start, other.end, other.rank))))

    def order(self) -> np.ndarray:
        """The permutation that sorts these passages by article ordinal, then start."""
        return np.lexsort((self.start, self.doc))

    def leads(self) -> int:
        """How many of these passages are leads (rank 0)."""
        return int(np.count_nonzero(self.rank == 0))

    def save(self, path: Path) -> None:
        np.savez(path, doc=self.doc, start=self.start, end=self.end, rank=self.rank)

    @classmethod
    def load(cls, path: Path) -> PassageRows:
        arrays = npy.load_all(path)
        rows = cls.of(arrays["doc"], arrays["start"], arrays["end"], arrays["rank"])
        if not len(rows.doc) == len(rows.start) == len(rows.end) == len(rows.rank):
            raise ValueError("arrays of different lengths")
        return rows


@dataclass(frozen=True, slots=True)
class DenseBuild:
    """Counts of a dense build: passages with vectors, passages still to embed, and the cache's work."""

    passages: int
    pending: int
    leads: int
    """Lead passages planned (one per article with any text), embedded or not."""
    leads_pending: int
    stats: EmbedStats
    compacted: int = 0
    """Dead rows (of removed articles) dropped by rebuilding the vector graph."""


def plan_passages(
    documents: Sequence[Document], first_ordinal: int, max_passages: int
) -> tuple[PassageRows, list[str]]:
    """Every passage of ``documents`` (ordinals from ``first_ordinal``) and its embedding text."""
    doc: list[int] = []
    start: list[int] = []
    end: list[int] = []
    rank: list[int] = []
    texts: list[str] = []
    for ordinal, document in enumerate(documents, first_ordinal):
        for n, passage in enumerate(split_passages(
            passage_source(document), max_words=PASSAGE_WORDS, overlap_words=PASSAGE_OVERLAP,
            max_passages=max_passages,
        )):
            doc.append(ordinal)
            start.append(passage.start)
            end.append(passage.end)
            rank.append(n)
            texts.append(embedding_text(document, passage.text))
    return PassageRows.of(doc, start, end, rank), texts


def write_dense(
    directory: Path,
    documents: Sequence[Document],
    encode: Callable[[list[str]], np.ndarray] | None,
    cache: EmbeddingCache | None,
    *,
    dim: int,
    max_passages: int = MAX_PASSAGES,
    inline_max: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    base: DenseIndex | None = None,
    keep: np.ndarray | None = None,
    renumber: bool = False,
) -> DenseBuild:
    """Split and index ``documents`` into ``directory``: vectors from ``cache``, the rest embedded or left pending.

    With ``base`` (the live dense index) the new index is ``base`` with only
    the articles ``keep`` (a bool per ordinal; ``None``: all) live, plus
    ``documents`` after its last ordinal (see :meth:`DenseIndex.without`;
    ``renumber`` as the term index compacted): kept rows keep their vectors
    as they are (and kept pending passages stay pending), so an incremental
    change splits only its own articles. Passages whose text is in ``cache``
    get their vector from it; the others are embedded now with ``encode``
    when there are at most ``inline_max`` distinct texts (``None``: no limit),
    else left *pending* for :mod:`archive.writing.embedding`, which adds them lead
    first and commits as it goes. The vector index grows as :func:`grown`
    says: an HNSW graph takes the new vectors in place, an exact index is a
    memory copy.
    """
    directory.mkdir(parents=True, exist_ok=False)
    if base is not None:
        kept_ids, prior, waiting = base.without(
            np.ones(len(base.ids), dtype=bool) if keep is None else keep, renumber=renumber)
    else:
        kept_ids, prior, waiting = [], PassageRows.empty(), PassageRows.empty()
    planned, texts = plan_passages(documents, len(kept_ids), max_passages)
    if cache is not None:
        vectors, found = cache.get_many(texts)
    else:
        vectors, found = np.zeros((len(texts), dim), dtype=np.float32), np.zeros(len(texts), dtype=bool)
    reused = int(found.sum())
    embedded = 0
    misses = [texts[i] for i in np.flatnonzero(~found).tolist()]
    if encode is not None and misses and (inline_max is None or len(set(misses)) <= inline_max):
        fresh, stats = embed_with_cache(misses, encode, cache, progress=progress)
        vectors[~found] = fresh
        found[:] = True
        embedded = stats.embedded
    index, rows, compacted = grown(base, prior, planned.take(np.flatnonzero(found)), vectors[found], dim)
    pending = waiting.concat(planned.take(np.flatnonzero(~found)))
    pending = pending.take(pending.order())
    if index is None:  # the graph as it was (a delete only marks rows dead): shared, not rewritten
        link_files(base.directory / "vectors", directory / "vectors")  # type: ignore[union-attr]
    else:
        index.save(directory / "vectors")
    rows.save(directory / "passages.npz")
    pending.save(directory / "pending.npz")
    with open(directory / "ids.json", "w", encoding="utf-8") as fh:
        json.dump({"format": DENSE_FORMAT, "ids": kept_ids + [d.id for d in documents]}, fh, ensure_ascii=False)
    live = rows.doc != DEAD
    carried = int(np.count_nonzero(prior.doc != DEAD))  # rows carried over: nothing was embedded for them
    return DenseBuild(int(live.sum()), len(pending), rows.take(np.flatnonzero(live)).leads() + pending.leads(),
                      pending.leads(), EmbedStats(embedded, reused + carried), compacted)


def grown(
    base: DenseIndex | None, prior: PassageRows, rows: PassageRows, vectors: np.ndarray, dim: int
) -> tuple[VectorIndex | None, PassageRows, int]:
    """The vector index of ``base`` (its rows now ``prior``, dead ones marked) plus ``vectors`` for ``rows``.

    An HNSW graph takes the new vectors in place of a rebuild, and keeps the
    rows of removed articles as dead rows that searches skip, until they would
    pass :data:`COMPACT_SHARE` of its rows; then (and for an exact index,
    where a copy is all a rebuild costs) the index is rebuilt from the live
    rows only. Returns ``(index, rows, dead rows dropped by a rebuild of a graph)``; the index is
    ``None`` when it is ``base``'s unchanged (a graph that only gained dead rows).
    """
    dead = int(np.count_nonzero(prior.doc == DEAD))
    if base is not None and base.kind == "hnsw" and dead <= COMPACT_SHARE * (len(prior) + len(rows)):
        if not len(rows):
            return None, prior, 0
        index = VectorIndex.load(base.directory / "vectors", mmap=False)
        index.add(vectors)
        return index, prior.concat(rows), 0
    live = np.flatnonzero(prior.doc != DEAD)
    old = base.vectors()[live] if base is not None else np.zeros((0, dim), dtype=np.float32)
    compacted = dead if base is not None and base.kind == "hnsw" else 0
    merged = prior.take(live).concat(rows)
    order = merged.order()  # a rebuilt index is in article order, as a build from scratch writes it
    return VectorIndex.build(np.concatenate([old, vectors])[order]), merged.take(order), compacted


class DenseIndex:
    """A read-only handle on the dense side of one generation."""

    def __init__(self, directory: Path) -> None:
        try:
            meta = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
            self.rows = PassageRows.load(directory / "passages.npz")
            """The passage of each vector row."""
            self.pending = PassageRows.load(directory / "pending.npz")
            """Passages planned but not embedded yet (:mod:`archive.writing.embedding` adds them)."""
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexDamagedError(f"{directory}: dense index unreadable ({exc}). Fix: archive build --full") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("ids"), list):
            raise IndexDamagedError(f"{directory / 'ids.json'}: not a list of article ids. Fix: archive build --full")
        if meta.get("format") != DENSE_FORMAT:
            raise IndexFormatError(f"{directory}: dense format {meta.get('format')} (expected {DENSE_FORMAT})")
        self.directory = directory
        self._ids: list[str] = meta["ids"]
        self._doc = self.rows.doc
        self._start = self.rows.start
        self._end = self.rows.end
        self._vectors = VectorIndex.load(directory / "vectors")
        if len(self._vectors) != len(self._doc):
            raise IndexFormatError(f"{directory}: {len(self._vectors)} vectors for {len(self._doc)} passages")
        # a vector row may be dead (its article deleted); a pending passage always belongs to an article
        for name, doc, lowest in (("passages.npz", self._doc, DEAD), ("pending.npz", self.pending.doc, 0)):
            if len(doc) and (doc.max() >= len(self._ids) or doc.min() < lowest):
                raise IndexDamagedError(f"{directory / name}: rows name articles that do not exist. "
                                        "Fix: archive build --full")
        self._waiting: np.ndarray | None = None
        self._groups: tuple[np.ndarray, np.ndarray] | None = None
        self._samples: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.dead = int(np.count_nonzero(self._doc == DEAD))
        """Rows of deleted articles, still in the vector graph until the next compaction."""
        self._live_rows = np.flatnonzero(self._doc != DEAD) if self.dead else None

    def with_graph(self) -> DenseIndex:
        """This index with its HNSW graph read now (a search reads it when first needed):
        ``archive check`` opens it so, so that a damaged graph is found (:class:`IndexFormatError`)."""
        self._vectors.graph()
        return self

    def __len__(self) -> int:
        """Vector rows, the dead ones (:attr:`dead`) included."""
        return len(self._doc)

    @property
    def kind(self) -> str:
        """``flat`` (exact) or ``hnsw``: see :mod:`archive.index.vectors`."""
        return self._vectors.kind

    @property
    def dim(self) -> int:
        return self._vectors.dim

    def vectors(self) -> np.ndarray:
        """Every passage vector, ``[passages, dim]`` (read-only; may be a file mapping)."""
        return self._vectors.matrix()

    def offsets(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end offsets of the passages at ``rows``."""
        return np.asarray(self._start[rows], dtype=np.int64), np.asarray(self._end[rows], dtype=np.int64)

    def without(self, keep: np.ndarray, *, renumber: bool) -> tuple[list[str], PassageRows, PassageRows]:
        """What remains once the articles whose ordinal ``keep`` (a bool per ordinal) leaves out are removed.

        Returns ``(ids, rows, pending)``: the article ids by ordinal; every
        vector row, those of the removed articles (and rows dead before)
        marked :data:`DEAD`; and the remaining pending passages. Every ordinal
        stays (the removed ones dead), unless ``renumber``: then the kept
        articles are numbered 0, 1, ... in order, as the term index does when
        it compacts.
        """
        if len(keep) != len(self._ids):
            raise ValueError(f"a keep mask of {len(keep)} for {len(self._ids)} articles")
        if renumber:
            target = np.where(keep, np.cumsum(keep, dtype=np.int64) - 1, DEAD)
            ids = [doc_id for doc_id, k in zip(self._ids, keep.tolist()) if k]
        else:
            target = np.where(keep, np.arange(len(keep), dtype=np.int64), DEAD)
            ids = list(self._ids)
        mapping = np.append(target, DEAD)  # [-1] (a row dead before) -> DEAD
        rows = PassageRows(mapping[self._doc].astype(np.int32), self._start, self._end, self.rows.rank)
        pending = self.pending.take(np.flatnonzero(keep[self.pending.doc]))
        pending = PassageRows(mapping[pending.doc].astype(np.int32), pending.start, pending.end, pending.rank)
        return ids, rows, pending

    def _grouped(self) -> tuple[np.ndarray, np.ndarray]:
        """Vector rows sorted by article (dead rows first), and where each ordinal's rows start."""
        if self._groups is None:
            order = np.argsort(self._doc, kind="stable")
            bounds = np.searchsorted(self._doc[order], np.arange(len(self._ids) + 1), side="left")
            self._groups = (order, bounds)
        return self._groups

    def article_rows(self, ordinals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, sizes)``: the vector rows of the articles at ``ordinals``, article after article, and how
        many each has (0: no vector, deleted or not embedded yet), found in one pass however many articles."""
        order, bounds = self._grouped()
        ordinals = np.asarray(ordinals, dtype=np.int64)
        sizes = bounds[ordinals + 1] - bounds[ordinals]
        offsets = np.repeat(bounds[ordinals] - (np.cumsum(sizes) - sizes), sizes)
        return order[offsets + np.arange(int(sizes.sum()))], sizes

    def sample_rows(self, articles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ordinals, rows, starts)`` of up to ``articles`` articles evenly spaced over the ordinals,
        those with a passage vector: their vector rows, article by article, and where each article's
        rows start in them. Kept once computed (a generation's rows never change)."""
        if articles not in self._samples:
            count = len(self._ids)
            picked = np.unique(np.linspace(0, count - 1, min(count, articles)).astype(np.int64))
            rows, sizes = self.article_rows(picked)
            picked, sizes = picked[sizes > 0], sizes[sizes > 0]
            self._samples[articles] = (picked, rows, (np.cumsum(sizes) - sizes).astype(np.int64))
        return self._samples[articles]

    def rows_by_article(self, ordinal: int) -> np.ndarray:
        """The vector rows of the article at ``ordinal`` (any order on disk: appended rows come last)."""
        order, bounds = self._grouped()
        if not 0 <= ordinal < len(self._ids):
            return order[:0]
        return order[bounds[ordinal] : bounds[ordinal + 1]]

    def article_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Every article's best passage cosine for one query vector, by ordinal (``-inf``: no vector).

        Exact, over every row (one matrix product): what the similarity floor
        of :mod:`archive.search.floor` is applied to, so that the number of
        articles near a query is counted, not estimated from the first few.
        A deleted article or one whose passages are not embedded yet has none.
        """
        out = np.full(len(self._ids), -np.inf, dtype=np.float32)
        order, bounds = self._grouped()
        sizes = np.diff(bounds)
        present = sizes > 0
        if not present.any():
            return out
        from ..blas import one_blas_thread

        with one_blas_thread():  # memory-bound: a second thread gains little, and waits on a busy machine
            sims = (self.vectors() @ np.asarray(query_vector, dtype=np.float32))[order]
        out[present] = np.maximum.reduceat(sims, bounds[:-1][present])
        return out

    def nearest(
        self, query_vector: np.ndarray, scores: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float, Span]]:
        """The ``k`` best articles by ``scores`` (:meth:`article_scores` of ``query_vector``):
        ``(ordinal, best passage cosine, its span)``, best first, ties by article id.

        Exact, and it needs no graph: a semantic or hybrid query has every article's
        best cosine already (the similarity floor is taken over all of them), so its
        nearest articles are read from those instead of walking the HNSW graph.
        ``allowed`` is a boolean mask over ordinals (``None``: all).
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        ordinals = np.flatnonzero(np.isfinite(scores))
        if len(ordinals) > k:  # every article tied with the k-th stays, so the id breaks the tie
            kth = np.partition(scores[ordinals], len(ordinals) - k)[len(ordinals) - k]
            ordinals = ordinals[scores[ordinals] >= kth]
        ranked = sorted(zip(self.best_passages(query_vector, ordinals.tolist()), ordinals.tolist()),
                        key=lambda item: (-item[0][0], self._ids[item[1]]))[:k]
        return [(o, score, span) for (score, span), o in ranked if span is not None]

    @property
    def ids(self) -> list[str]:
        """Article ids by ordinal: the same list as the term index's (checked when an archive opens it)."""
        return self._ids

    def waiting(self, ordinal: int) -> bool:
        """True when the article at ``ordinal`` has passages not embedded yet."""
        if self._waiting is None:
            self._waiting = np.zeros(len(self._ids), dtype=bool)
            self._waiting[self.pending.doc] = True
        return 0 <= ordinal < len(self._waiting) and bool(self._waiting[ordinal])

    def best_passages(self, query_vector: np.ndarray, ordinals: Sequence[int]) -> list[tuple[float, Span | None]]:
        """Exact ``(best passage score, its span)`` of each article ordinal for one query vector.

        What hybrid fusion needs for a lexical candidate the dense search did
        not return. An article without vectors scores ``-1`` (the lowest
        cosine) when it has no passage at all, and ``nan`` (unknown) when its
        passages are not embedded yet.
        """
        vectors = self.vectors()
        out: list[tuple[float, Span | None]] = []
        for ordinal in ordinals:
            rows = self.rows_by_article(ordinal)
            if not len(rows):
                out.append((float("nan") if self.waiting(ordinal) else -1.0, None))
                continue
            sims = vectors[rows] @ query_vector
            row = int(rows[int(np.argmax(sims))])
            out.append((float(sims.max()), (int(self._start[row]), int(self._end[row]))))
        return out

    def passage_vectors(self, ordinal: int) -> np.ndarray:
        """The passage vectors of the article at ``ordinal``, ``[passages, dim]``."""
        return self.vectors()[np.sort(self.rows_by_article(ordinal))]

    def rows_of(self, allowed: np.ndarray) -> np.ndarray:
        """Sorted passage rows of the articles a boolean mask over ordinals allows (filtered search)."""
        return np.flatnonzero(np.append(allowed, False)[self._doc]).astype(np.int64)  # DEAD (-1) -> False

    def search(
        self, query_vector: np.ndarray, k: int, *, allowed: np.ndarray | None = None, depth: int | None = None
    ) -> list[tuple[int, float, Span]]:
        """The ``k`` best articles for one query vector: ``(ordinal, score, best passage span)``.

        ``allowed`` are passage rows (:meth:`rows_of`). Fetches ``depth``
        passages (default ``4 * k + 20``) so that articles with several
        matching passages do not crowd out the k-th article.
        """
        depth = depth or 4 * k + 20
        if allowed is None:
            allowed = self._live_rows  # rows of deleted articles are never returned
        if allowed is not None and len(allowed) == 0:
            return []
        scores, rows = self._vectors.search(query_vector.reshape(1, -1), depth, allowed=allowed)
        best: dict[int, tuple[float, int]] = {}
        for score, row in zip(scores[0].tolist(), rows[0].tolist()):
            if row < 0:
                continue
            ordinal = int(self._doc[row])
            if ordinal not in best:  # rows come best first
                best[ordinal] = (score, row)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], self._ids[item[0]]))[:k]
        return [(o, s, (int(self._start[r]), int(self._end[r]))) for o, (s, r) in ranked]
