"""The encoder interface and the registry that builds encoders by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import EncoderError

DEFAULT_ENCODER = "e5-small"


@runtime_checkable
class Encoder(Protocol):
    """What the archive needs of a sentence encoder.

    ``name`` includes the model and package version: an index records it and
    refuses to be searched with vectors from another encoder.
    """

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """``[n, dim]`` float32, rows L2-normalized (query side of asymmetric models)."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """``[n, dim]`` float32, rows L2-normalized (document side)."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def known_encoders() -> list[str]:
    """Names accepted by :func:`get_encoder` (``st:`` takes a model id or path)."""
    return ["e5-small", "use-multilingual", "hashing", "st:<model id or path>", "none"]


def get_encoder(spec: str, *, threads: int | None = None) -> Encoder | None:
    """The encoder named ``spec``; ``None`` for ``"none"`` (a lexical-only archive)."""
    name = spec.strip()
    if name.lower() == "none":
        return None
    if name in ("e5-small", "e5"):
        from .e5 import E5SmallEncoder

        return E5SmallEncoder(threads=threads)
    if name in ("use-multilingual", "use"):
        from .use import UseMultilingualEncoder

        return UseMultilingualEncoder(threads=threads)
    if name == "hashing":
        from .hashing import HashingEncoder

        return HashingEncoder()
    if name.startswith("st:") and len(name) > 3:
        from .st import SentenceTransformerEncoder

        return SentenceTransformerEncoder(name[3:])
    raise EncoderError(f"unknown encoder {spec!r}; choose one of: {', '.join(known_encoders())}")
