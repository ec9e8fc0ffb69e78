"""A persistent embedding cache: never pay twice for the same passage.

Keyed by ``sha256(encoder name + NUL + text)``, so a change of encoder (or of
its version, which is part of its name) can never return stale vectors, and
the same passage text in two articles or two builds is embedded once.

SQLite (WAL) because it is in the standard library and safe across processes.
The table is an ordinary rowid table with 8 KiB pages: a ``WITHOUT ROWID``
table (the first layout, carried over on open) spills each 1.5 KB vector to
an overflow page, which made 100k 384-dim vectors take 469 MB instead of
169 MB, and lookups 7 times slower. Keys are looked up in chunks of
:data:`_CHUNK` with ``IN (...)``: 100k hits in ~0.6 s (hashing included),
100k misses in ~0.3 s; a temporary-table join measured no faster.
:func:`embed_with_cache` commits each batch as soon as it is embedded, so an
interrupted build keeps what it paid for.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EncoderError, IndexFormatError

CACHE_NAME = "embeddings.sqlite"
"""The cache's file, beside the index's generations (it outlives them: vectors of unchanged text are reused)."""
_CHUNK = 500
"""Keys per ``SELECT ... IN (...)``: well under SQLite's variable limit."""
_PAGE_SIZE = 8192
"""Five 384-dim rows fill a page; the 4 KiB default fits two and wastes a quarter."""
BATCH = 256
"""Texts per encoder call in :func:`embed_with_cache`. The fast e5 engines sort a call's
texts by length into padded batches and keep one batch in flight per core: a call of 32
ANT leads made two batches padded by a fifth, and a core idled through each call's tail
and the Python work between calls; 256 make about 13 batches padded by 7 per cent (the
measured gain is in docs/performance.md). A call is stored in the cache before the next starts, so an
interruption loses at most one call: a few seconds of work."""


@dataclass(frozen=True, slots=True)
class EmbedStats:
    """How many distinct texts were embedded now, and how many texts came from the cache."""

    embedded: int
    reused: int


def _key(encoder_name: str, text: str) -> bytes:
    return hashlib.sha256(f"{encoder_name}\0{text}".encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """Vectors of one encoder, stored by text hash in a SQLite file (created if missing)."""

    def __init__(self, path: Path, encoder_name: str, dim: int) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self.path = Path(path)
        self.encoder_name = encoder_name
        self.dim = dim
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # takes effect on a new file only
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # a cache may lose its last batch on power loss
            with self._db:
                self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
                if self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'vectors'").fetchone():
                    self._db.execute("INSERT OR IGNORE INTO embeddings SELECT key, vec FROM vectors")  # older layout
                    self._db.execute("DROP TABLE vectors")
        except sqlite3.DatabaseError as exc:
            raise IndexFormatError(f"{self.path}: not a usable embedding cache ({exc}); delete it to start afresh") from None

    def get_many(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(vectors, found)``: float32 ``[n, dim]`` (zero rows where missing) and a bool hit mask."""
        first: dict[bytes, int] = {}
        inverse = np.fromiter(
            (first.setdefault(_key(self.encoder_name, t), len(first)) for t in texts), dtype=np.int64, count=len(texts)
        )
        keys = list(first)
        hit_rows: list[int] = []
        blobs: list[bytes] = []
        size = 4 * self.dim
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            sql = f"SELECT key, vec FROM embeddings WHERE key IN ({','.join('?' * len(chunk))})"
            for key, blob in self._db.execute(sql, chunk).fetchall():
                if len(blob) != size:
                    raise IndexFormatError(
                        f"{self.path}: holds a {len(blob) // 4}-dim vector for encoder {self.encoder_name!r}, "
                        f"expected {self.dim}; delete the cache file to rebuild it"
                    )
                hit_rows.append(first[key])
                blobs.append(blob)
        unique = np.zeros((len(keys), self.dim), dtype=np.float32)
        found = np.zeros(len(keys), dtype=bool)
        if blobs:
            unique[hit_rows] = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), self.dim)
            found[hit_rows] = True
        if len(keys) == len(texts):  # no repeated text: rows are already in order (spares a copy)
            return unique, found
        return unique[inverse], found[inverse]

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (``[len(texts), dim]``, one row per text) and commit."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise ValueError(f"need vectors of shape ({len(texts)}, {self.dim}), got {vectors.shape}")
        rows = ((_key(self.encoder_name, t), v.tobytes()) for t, v in zip(texts, vectors))
        with self._db:  # one transaction, committed on success
            self._db.executemany("INSERT OR REPLACE INTO embeddings (key, vec) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        """Vectors stored, for every encoder."""
        return int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def embed_with_cache(
    texts: Sequence[str],
    encode: Callable[[list[str]], np.ndarray],
    cache: EmbeddingCache | None,
    *,
    batch_size: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, EmbedStats]:
    """Vectors for ``texts`` (``[n, dim]`` float32): hits read from ``cache``, misses encoded.

    Misses are deduplicated (a text repeated in ``texts`` is encoded once) and
    encoded in batches of ``batch_size`` (:data:`BATCH`); each batch is stored in the cache
    before the next one starts. ``progress(done, total)`` follows after each
    batch, counting distinct texts to encode. With no cache and no texts the
    result is ``[0, 0]``: the dimension is then unknown.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    texts = list(texts)
    dim = cache.dim if cache is not None else None
    if cache is not None:
        vectors, found = cache.get_many(texts)
    else:
        vectors, found = None, np.zeros(len(texts), dtype=bool)
    missing: dict[str, list[int]] = {}
    for i in np.flatnonzero(~found).tolist():
        missing.setdefault(texts[i], []).append(i)
    todo = list(missing)
    if progress is not None and todo:  # the count shows before the first batch (and the model load)
        progress(0, len(todo))
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        encoded = np.asarray(encode(batch), dtype=np.float32)
        dim = dim or (encoded.shape[1] if encoded.ndim == 2 else None)
        if encoded.shape != (len(batch), dim):
            raise EncoderError(f"the encoder returned shape {encoded.shape} for {len(batch)} texts, expected ({len(batch)}, {dim})")
        if vectors is None:
            vectors = np.zeros((len(texts), encoded.shape[1]), dtype=np.float32)
        for text, vec in zip(batch, encoded):
            vectors[missing[text]] = vec
        if cache is not None:
            cache.put_many(batch, encoded)
        if progress is not None:
            progress(start + len(batch), len(todo))
    if vectors is None:  # no cache and no texts
        vectors = np.zeros((0, 0), dtype=np.float32)
    return vectors, EmbedStats(embedded=len(todo), reused=int(found.sum()))


def count_cached(path: Path, encoder_name: str, texts: Sequence[str]) -> int:
    """How many distinct ``texts`` the cache at ``path`` holds a vector of, for ``encoder_name``.

    Opens the file read-only and creates nothing (a dry run writes nothing);
    0 when there is no cache yet.
    """
    if not Path(path).is_file():
        return 0
    keys = list(dict.fromkeys(_key(encoder_name, t) for t in texts))
    found = 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            sql = f"SELECT COUNT(*) FROM embeddings WHERE key IN ({','.join('?' * len(chunk))})"
            found += int(db.execute(sql, chunk).fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise IndexFormatError(f"{path}: not a usable embedding cache ({exc}); delete it to start afresh") from None
    finally:
        db.close()
    return found
