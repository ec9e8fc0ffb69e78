"""Sentence encoders: text → L2-normalized float32 vectors, chosen by name.

``get_encoder(spec)`` is the one way in. Heavy packages (the e5 engine, USE's
weights, sentence-transformers and torch) are imported only when an encoder
is constructed, so importing this package costs nothing.
"""

from .base import Encoder
from .registry import DEFAULT_ENCODER, get_encoder, known_encoders

__all__ = ["DEFAULT_ENCODER", "Encoder", "get_encoder", "known_encoders"]
