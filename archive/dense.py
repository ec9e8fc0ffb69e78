"""The dense side of the archive: passages, their vectors, and search by meaning.

An article is split into passages (:mod:`archive.passages`); each passage is
embedded (through the embedding cache, so unchanged text is never embedded
twice) and stored as one row of a :class:`~archive.vectors.VectorIndex`. The
row → article mapping lives beside FAISS as plain arrays (``passages.npz``:
article ordinal, start and end offset into the article's passage text), and
the article ids as JSON. An article's semantic score is the best score of its
passages; that passage is its snippet.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .document import Document
from .embcache import EmbeddingCache, EmbedStats, embed_with_cache
from .errors import IndexDamagedError, IndexFormatError
from .passages import SPLITTER_VERSION, split_passages
from .vectors import VECTORS_FORMAT, VectorIndex

PASSAGE_WORDS = 120
PASSAGE_OVERLAP = 30
MAX_PASSAGES = 64
TITLE_IN_PASSAGES = True
"""Each passage is embedded as ``title + newline + passage``: the title gives a
passage cut from the middle of an article its topic."""

DENSE_FORMAT = 1


def passage_settings() -> dict[str, int]:
    """The passage settings an index records (a change invalidates dense indexes)."""
    return {
        "max_words": PASSAGE_WORDS,
        "overlap_words": PASSAGE_OVERLAP,
        "max_passages": MAX_PASSAGES,
        "title_in_passages": int(TITLE_IN_PASSAGES),
        "splitter": SPLITTER_VERSION,
        "vectors_format": VECTORS_FORMAT,
    }


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
class DenseBuild:
    """Counts of a dense build."""

    passages: int
    stats: EmbedStats


def _passages(documents: Sequence[Document], first_ordinal: int) -> tuple[list[int], list[int], list[int], list[str]]:
    """Article ordinals, start and end offsets, and embedding texts of every passage of ``documents``."""
    ordinals: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    texts: list[str] = []
    for ordinal, doc in enumerate(documents, first_ordinal):
        for passage in split_passages(
            passage_source(doc), max_words=PASSAGE_WORDS, overlap_words=PASSAGE_OVERLAP, max_passages=MAX_PASSAGES
        ):
            ordinals.append(ordinal)
            starts.append(passage.start)
            ends.append(passage.end)
            texts.append(embedding_text(doc, passage.text))
    return ordinals, starts, ends, texts


def write_dense(
    directory: Path,
    documents: Sequence[Document],
    encode: Callable[[list[str]], np.ndarray],
    cache: EmbeddingCache | None,
    *,
    dim: int,
    progress: Callable[[int, int], None] | None = None,
    base: DenseIndex | None = None,
    drop: frozenset[str] = frozenset(),
) -> DenseBuild:
    """Split, embed (through ``cache``) and index ``documents`` into ``directory``.

    With ``base`` (the live dense index) the new index is ``base`` without the
    articles in ``drop``, plus ``documents``: kept rows keep their vectors as
    they are, so an incremental change splits and embeds only its own
    articles. The vector index itself is rebuilt from the rows: a memory copy
    for an exact index; for HNSW (above 50k passages) the graph is rebuilt,
    which costs seconds, not the hours of re-embedding.
    """
    directory.mkdir(parents=True, exist_ok=False)
    if base is not None:
        kept_ids, kept_rows, kept_ordinals = base.rows_without(drop)
        prior_vectors = base.vectors()[kept_rows]
        prior_start, prior_end = base.offsets(kept_rows)
    else:
        kept_ids, kept_ordinals = [], np.zeros(0, dtype=np.int32)
        prior_vectors = np.zeros((0, dim), dtype=np.float32)
        prior_start = prior_end = np.zeros(0, dtype=np.int64)
    ordinals, starts, ends, texts = _passages(documents, len(kept_ids))
    vectors, stats = embed_with_cache(texts, encode, cache, progress=progress)
    if not texts:
        vectors = np.zeros((0, dim), dtype=np.float32)
    VectorIndex.build(np.concatenate([prior_vectors, vectors])).save(directory / "vectors")
    np.savez(
        directory / "passages.npz",
        doc=np.concatenate([kept_ordinals, np.asarray(ordinals, dtype=np.int32)]),
        start=np.concatenate([prior_start, np.asarray(starts, dtype=np.int64)]),
        end=np.concatenate([prior_end, np.asarray(ends, dtype=np.int64)]),
    )
    with open(directory / "ids.json", "w", encoding="utf-8") as fh:
        json.dump({"format": DENSE_FORMAT, "ids": kept_ids + [d.id for d in documents]}, fh, ensure_ascii=False)
    carried = len(kept_ordinals)  # rows carried over count as reused: nothing was embedded for them
    return DenseBuild(carried + len(texts), EmbedStats(stats.embedded, stats.reused + carried))


class DenseIndex:
    """A read-only handle on the dense side of one generation."""

    def __init__(self, directory: Path) -> None:
        try:
            meta = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
            with np.load(directory / "passages.npz", allow_pickle=False) as arrays:
                self._doc = arrays["doc"]
                self._start = arrays["start"]
                self._end = arrays["end"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexDamagedError(f"{directory}: dense index unreadable ({exc}). Fix: archive build --full") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("ids"), list):
            raise IndexDamagedError(f"{directory / 'ids.json'}: not a list of article ids. Fix: archive build --full")
        if meta.get("format") != DENSE_FORMAT:
            raise IndexFormatError(f"{directory}: dense format {meta.get('format')} (expected {DENSE_FORMAT})")
        self._ids: list[str] = meta["ids"]
        self._vectors = VectorIndex.load(directory / "vectors")
        if len(self._vectors) != len(self._doc):
            raise IndexFormatError(f"{directory}: {len(self._vectors)} vectors for {len(self._doc)} passages")

    def __len__(self) -> int:
        return len(self._doc)

    @property
    def dim(self) -> int:
        return self._vectors.dim

    def vectors(self) -> np.ndarray:
        """Every passage vector, ``[passages, dim]`` (read-only; may be a file mapping)."""
        return self._vectors.matrix()

    def offsets(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end offsets of the passages at ``rows``."""
        return np.asarray(self._start[rows], dtype=np.int64), np.asarray(self._end[rows], dtype=np.int64)

    def rows_without(self, drop: frozenset[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """What remains once the articles in ``drop`` are removed.

        Returns ``(ids, rows, ordinals)``: the remaining article ids in order,
        the passage rows they own, and each such row's article ordinal renumbered
        into the remaining ids.
        """
        keep = np.fromiter((doc_id not in drop for doc_id in self._ids), dtype=bool, count=len(self._ids))
        renumber = np.cumsum(keep, dtype=np.int64) - 1
        rows = np.flatnonzero(keep[self._doc])
        ids = [doc_id for doc_id, k in zip(self._ids, keep.tolist()) if k]
        return ids, rows, renumber[self._doc[rows]].astype(np.int32)

    @property
    def ids(self) -> list[str]:
        """Article ids by ordinal: the same list as the term index's (checked when an archive opens it)."""
        return self._ids

    def best_passages(self, query_vector: np.ndarray, ordinals: Sequence[int]) -> list[tuple[float, Span | None]]:
        """Exact ``(best passage score, its span)`` of each article ordinal for one query vector.

        What hybrid fusion needs for a lexical candidate the dense search did
        not return. An article's rows are contiguous (articles are appended
        whole), so each is one slice of the vector matrix. Articles without
        passages score ``-1`` (the lowest cosine).
        """
        vectors = self.vectors()
        out: list[tuple[float, Span | None]] = []
        for ordinal in ordinals:
            first, last = self._rows(ordinal)
            if first == last:
                out.append((-1.0, None))
                continue
            sims = vectors[first:last] @ query_vector
            row = first + int(np.argmax(sims))
            out.append((float(sims[row - first]), (int(self._start[row]), int(self._end[row]))))
        return out

    def passage_vectors(self, ordinal: int) -> np.ndarray:
        """The passage vectors of the article at ``ordinal``, ``[passages, dim]`` (its rows are
        contiguous: articles are appended whole)."""
        first, last = self._rows(ordinal)
        return self.vectors()[first:last]

    def _rows(self, ordinal: int) -> tuple[int, int]:
        """The first and past-the-last passage rows of the article at ``ordinal``."""
        return (int(np.searchsorted(self._doc, ordinal, side="left")),
                int(np.searchsorted(self._doc, ordinal, side="right")))

    def rows_of(self, allowed: np.ndarray) -> np.ndarray:
        """Sorted passage rows of the articles a boolean mask over ordinals allows (filtered search)."""
        return np.flatnonzero(allowed[self._doc]).astype(np.int64)

    def search(
        self, query_vector: np.ndarray, k: int, *, allowed: np.ndarray | None = None, depth: int | None = None
    ) -> list[tuple[int, float, Span]]:
        """The ``k`` best articles for one query vector: ``(ordinal, score, best passage span)``.

        ``allowed`` are passage rows (:meth:`rows_of`). Fetches ``depth``
        passages (default ``4 * k + 20``) so that articles with several
        matching passages do not crowd out the k-th article.
        """
        depth = depth or 4 * k + 20
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
