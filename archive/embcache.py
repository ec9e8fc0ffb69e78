"""A persistent embedding cache: never pay twice for the same passage.

Keyed by ``sha256(encoder name + NUL + text)``, so a change of encoder (or of
its version) can never return stale vectors, and the same passage text in two
articles (or two builds) is embedded once. SQLite (WAL) because it is in the
standard library, safe across processes, and its batched ``IN`` lookups answer
100k keys in well under a second. Each batch is committed as soon as it is
embedded, so an interrupted build keeps everything it already paid for.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EncoderError

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class EmbedStats:
    """How many texts were embedded now and how many came from the cache."""

    embedded: int
    reused: int


def _key(encoder_name: str, text: str) -> bytes:
    return hashlib.sha256(f"{encoder_name}\0{text}".encode("utf-8")).digest()


class EmbeddingCache:
    """Vectors of one encoder, stored by text hash in a SQLite file."""

    def __init__(self, path: Path, encoder_name: str, dim: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.encoder_name = encoder_name
        self.dim = dim
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID")
        self._db.commit()

    def lookup(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(vectors, found)``: float32 ``[n, dim]`` (zeros where missing) and a bool hit mask."""
        keys = [_key(self.encoder_name, t) for t in texts]
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        found = np.zeros(len(texts), dtype=bool)
        where: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            where.setdefault(key, []).append(i)
        unique = list(where)
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            sql = f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(chunk))})"
            for key, blob in self._db.execute(sql, chunk):
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] != self.dim:
                    raise EncoderError(
                        f"embedding cache holds {vec.shape[0]}-dim vectors for {self.encoder_name} "
                        f"(expected {self.dim}); delete the cache file to rebuild it"
                    )
                for i in where[key]:
                    vectors[i] = vec
                    found[i] = True
        return vectors, found

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (one row per text) and commit."""
        rows = (
            (_key(self.encoder_name, t), np.asarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        )
        self._db.executemany("INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)", rows)
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

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
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, EmbedStats]:
    """Vectors for ``texts``: cached ones looked up, the rest encoded in batches and cached.

    Identical texts are encoded once. ``progress(done, total)`` counts texts
    to encode (cache misses), after each batch.
    """
    if cache is not None:
        vectors, found = cache.lookup(texts)
    else:
        vectors, found = None, np.zeros(len(texts), dtype=bool)
    missing: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        if not found[i]:
            missing.setdefault(text, []).append(i)
    todo = list(missing)
    done = 0
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        encoded = np.asarray(encode(batch), dtype=np.float32)
        if vectors is None:
            vectors = np.zeros((len(texts), encoded.shape[1]), dtype=np.float32)
        for text, vec in zip(batch, encoded, strict=True):
            vectors[missing[text]] = vec
        if cache is not None:
            cache.put(batch, encoded)
        done += len(batch)
        if progress is not None:
            progress(done, len(todo))
    if vectors is None:  # nothing to encode and no cache: no texts at all
        vectors = np.zeros((0, 0), dtype=np.float32)
    return vectors, EmbedStats(embedded=len(todo), reused=int(found.sum()))
