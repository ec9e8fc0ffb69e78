"""A toy encoder: hashed character n-grams of analyzed terms. For tests only.

It is deterministic, instant and dependency-free, so tests of caching,
indexing and search plumbing run without a model. It captures word overlap,
not meaning: never use it for a real archive.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from ..text.analysis import terms
from .base import l2_normalize

DIM = 256


class HashingEncoder:
    """Bag of hashed character 3-grams of each analyzed term (toy; see module docstring)."""

    name = "hashing/1"
    spec = "hashing"
    dim = DIM

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(DIM, dtype=np.float32)
        for term in terms(text):
            padded = f"#{term}#"
            for i in range(max(1, len(padded) - 2)):
                vec[zlib.crc32(padded[i : i + 3].encode()) % DIM] += 1.0
        return vec

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return l2_normalize(np.stack([self._vector(t) for t in texts]))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)
