"""Any sentence-transformers model, by hub id or local path (``st:NAME``).

sentence-transformers (and torch) are imported here, lazily: importing them
costs ~10 s on this machine, which only users of this encoder should pay.
Query and passage prompts come from the model's own configuration
(``prompts`` with a "query" key and a "passage"/"document" key) when it has them.
Nothing is downloaded when ``HF_HUB_OFFLINE`` is set (tests set it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import EncoderError
from .base import l2_normalize


class SentenceTransformerEncoder:
    """A sentence-transformers model; ``name`` records the model and library version."""

    def __init__(self, model: str) -> None:
        try:
            import sentence_transformers
        except ImportError:
            raise EncoderError(
                "st: encoders need sentence-transformers: pip install torch==2.13.0 sentence-transformers"
            ) from None
        try:
            self._model = sentence_transformers.SentenceTransformer(model, device="cpu")
        except Exception as exc:  # noqa: BLE001 - any load failure is the user's model spec
            raise EncoderError(f"st:{model}: cannot load the model ({exc})") from None
        prompts = dict(getattr(self._model, "prompts", {}) or {})
        self._query_prompt = next((k for k in ("query",) if prompts.get(k)), None)
        self._passage_prompt = next((k for k in ("passage", "document", "doc") if prompts.get(k)), None)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)
        if not self.dim:
            self.dim = int(self._model.encode(["x"]).shape[1])
        self.name = f"st:{model}/sentence-transformers-{sentence_transformers.__version__}"

    def _encode(self, texts: Sequence[str], prompt_name: str | None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, prompt_name=prompt_name, batch_size=32, convert_to_numpy=True, show_progress_bar=False
        )
        return l2_normalize(vectors)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._passage_prompt)
