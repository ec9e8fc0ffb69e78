"""A FAISS vector index over L2-normalized float32 vectors (inner product = cosine).

Below ``exact_max`` vectors the index is exact (``IndexFlatIP``); above it,
HNSW (``IndexHNSWFlat``, inner product), whose parameters are chosen so that
recall@10 against exact search stays >= 0.98 (``scripts/bench_vectors.py``
measures it). Rows are FAISS ids; the caller maps rows to passages.

On disk: ``index.faiss`` plus ``index.json`` (format version, kind, dim,
count, parameters). Loading uses ``IO_FLAG_MMAP`` where FAISS supports it, so
a cold process does not read the whole file before its first search.
"""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexFormatError

VECTORS_FORMAT = 1
EXACT_MAX = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128
SMALL_FILTER = 20_000
"""A filter allowing fewer rows than this is searched exactly over those rows."""


class VectorIndex:
    """Exact or HNSW inner-product search over unit vectors."""

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self._index = index
        self.kind = kind
        self.dim = int(index.d)

    @classmethod
    def build(cls, vectors: np.ndarray, *, exact_max: int = EXACT_MAX) -> VectorIndex:
        """Index ``vectors`` (``[n, dim]`` float32, unit rows)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D, got shape {vectors.shape}")
        n, dim = vectors.shape
        if n <= exact_max:
            index: faiss.Index = faiss.IndexFlatIP(dim)
            kind = "flat"
        else:
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
            kind = "hnsw"
        if n:
            index.add(vectors)
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows``."""
        return np.stack([self._index.reconstruct(int(r)) for r in rows]) if len(rows) else np.zeros((0, self.dim), np.float32)

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` ``(scores, rows)`` per query, best first; rows are -1 past the last hit.

        ``allowed`` (sorted row ids) restricts the search; small allowed sets
        are scored exactly, which is both faster and complete.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self) or 1))
        if len(self) == 0:
            return np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64)
        if allowed is None:
            return self._index.search(queries, k)
        allowed = np.asarray(allowed, dtype=np.int64)
        selector = faiss.IDSelectorBatch(allowed)
        if self.kind == "flat":
            return self._index.search(queries, k, params=faiss.SearchParameters(sel=selector))
        if len(allowed) <= SMALL_FILTER:
            return self._exact_subset(queries, k, allowed)
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, 2 * k))
        return self._index.search(queries, k, params=params)

    def _exact_subset(self, queries: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = np.full((len(queries), k), -np.inf, np.float32)
        rows = np.full((len(queries), k), -1, np.int64)
        if len(allowed) == 0:
            return scores, rows
        matrix = self.reconstruct(allowed)
        sims = queries @ matrix.T
        take = min(k, len(allowed))
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        for q in range(len(queries)):
            order = top[q][np.argsort(-sims[q, top[q]], kind="stable")]
            scores[q, :take] = sims[q, order]
            rows[q, :take] = allowed[order]
        return scores, rows

    def save(self, directory: Path) -> None:
        """Write ``index.faiss`` and ``index.json`` into ``directory`` (created)."""
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(directory / "index.faiss"))
        meta = {"format": VECTORS_FORMAT, "kind": self.kind, "dim": self.dim, "count": len(self),
                "hnsw": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}}
        (directory / "index.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> VectorIndex:
        """Open a saved index; :class:`IndexFormatError` if missing, corrupt or of another version."""
        try:
            meta = json.loads((directory / "index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"{directory}: vector index metadata unreadable ({exc})") from None
        if meta.get("format") != VECTORS_FORMAT:
            raise IndexFormatError(f"{directory}: vector format {meta.get('format')} (expected {VECTORS_FORMAT})")
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        try:
            index = faiss.read_index(str(directory / "index.faiss"), flags)
        except RuntimeError:
            try:  # not every index type can be memory-mapped
                index = faiss.read_index(str(directory / "index.faiss"))
            except RuntimeError as exc:
                raise IndexFormatError(f"{directory}: vector index unreadable ({exc})") from None
        if index.d != meta.get("dim") or index.ntotal != meta.get("count"):
            raise IndexFormatError(f"{directory}: vector index does not match its metadata")
        if meta.get("kind") == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index, meta.get("kind", "flat"))
