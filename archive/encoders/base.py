"""The encoder interface and the helpers every encoder shares (the registry is :mod:`.registry`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # numpy is imported where vectors are made: lexical searches never need it
    import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """What the archive needs of a sentence encoder.

    ``name`` includes the model and package version: an index records it and
    refuses to be searched with vectors from another encoder. An encoder of
    the registry also has ``spec``, the name :func:`.registry.get_encoder`
    rebuilds it from (recorded in the manifest, so a search loads the encoder
    the index was built with); see :func:`.registry.spec_of`. Both methods
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
