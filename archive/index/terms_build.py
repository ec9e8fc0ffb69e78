"""Writing the term index (:mod:`archive.index.terms`): the builder that analyzes articles into postings,
and the array writers that a full build, an append and a compaction share.

The on-disk format (``terms.json`` and per field CSR arrays, no pickle) is
described in :mod:`archive.index.terms`, which reads it.
"""

from __future__ import annotations

import json
import shutil
from array import array
from collections import Counter
from itertools import chain, repeat
from pathlib import Path

import numpy as np

from .. import npy
from ..document import Document
from ..text.analysis import GRAM_SETTINGS, DocumentWords, analyze_document, word_grams

TERMS_FORMAT = 5
"""5: deletions as a live mask (``live.npy``), gram frequencies over live articles; 4: raw term counts
(the title weight is applied at query time); 3 stored counts times the boost."""
FIELDS: tuple[str, ...] = ("title", "body")
"""Searched fields (their weights: :class:`archive.index.scoring.Scoring`)."""
GRAMS = "grams"
"""The field of character 3-grams of title and body (:func:`archive.text.analysis.char_grams`):
not searched on its own, it scores the hybrid ranker's candidates (:meth:`TermIndex.gram_scores`)."""
STORED: list[str] = [*FIELDS, GRAMS]



class _Postings:
    """Growing ``(term id, article ordinal, weight)`` triplets of one field, in typed arrays."""

    def __init__(self) -> None:
        self.terms = array("i")
        self.docs = array("i")
        self.weights = array("f")


class _GramIds(dict[str, tuple[int, ...]]):
    """Raw token → the term ids of its character grams; a token seen first gets its grams' ids here."""

    def __init__(self, vocab: dict[str, int]) -> None:
        super().__init__()
        self.vocab = vocab

    def __missing__(self, token: str) -> tuple[int, ...]:
        vocab = self.vocab
        ids = tuple(vocab.setdefault(g, len(vocab)) for g in word_grams(token))
        self[token] = ids
        return ids


class TermIndexBuilder:
    """Collects articles one by one (in their index order) and writes a :class:`TermIndex`.

    ``vocab`` continues an existing index's term ids (see :meth:`TermIndex.updated`).
    """

    def __init__(self, vocab: dict[str, int] | None = None) -> None:
        self.vocab: dict[str, int] = vocab if vocab is not None else {}
        self.ids: list[str] = []
        self._postings = {f: _Postings() for f in FIELDS}
        self._lengths: dict[str, array] = {f: array("f") for f in STORED}
        self._gram_ids = _GramIds(self.vocab)
        self._grams: list[tuple[np.ndarray, np.ndarray]] = []  # per article added: (gram ids, counts)

    def add(self, doc: Document, words: DocumentWords | None = None) -> None:
        """Append the postings of ``doc``, from ``words`` (its analysis, which a write makes once for
        every store: :func:`~archive.text.analysis.analyze_document`) or, without them, analyzed here."""
        ordinal = len(self.ids)
        self.ids.append(doc.id)
        vocab = self.vocab
        if words is None:
            words = analyze_document(doc.title, doc.body)
        # One tokenization per field serves both the words and the grams; gram ids come from a
        # per-token cache, so the loops below run in C.
        for field, analyzed in zip(FIELDS, words):
            counts = Counter(analyzed.terms)
            postings = self._postings[field]
            new = [t for t in counts if t not in vocab]  # new terms: the next ids, in order of appearance
            if new:
                vocab.update(zip(new, range(len(vocab), len(vocab) + len(new))))
            postings.terms.extend(map(vocab.__getitem__, counts))
            postings.docs.extend(repeat(ordinal, len(counts)))
            values = counts.values()
            postings.weights.extend(values)
            self._lengths[field].append(float(sum(values)))
        # Grams: ~5 per word, so no Python loop per gram: token → gram ids is a dict
        # lookup chained in C, and numpy counts them (3x faster than a Counter of strings).
        grams = np.fromiter(
            chain.from_iterable(map(self._gram_ids.__getitem__, chain(words.title.tokens, words.body.tokens))),
            dtype=np.int32,
        )
        gram_ids, counts = np.unique(grams, return_counts=True)
        self._grams.append((gram_ids, counts.astype(np.float32)))  # held until written: 4 bytes, not 8
        self._lengths[GRAMS].append(float(len(grams)))

    def arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per field ``(term ids, ordinals, weights)`` of everything added."""
        out = {
            f: (np.frombuffer(p.terms, dtype=np.int32), np.frombuffer(p.docs, dtype=np.int32),
                np.frombuffer(p.weights, dtype=np.float32))
            for f, p in self._postings.items()
        }
        sizes = [len(ids) for ids, _ in self._grams]
        first = len(self.ids) - len(sizes)  # the added articles are the last ones, in order
        out[GRAMS] = (
            np.concatenate([ids for ids, _ in self._grams]).astype(np.int32, copy=False) if sizes else np.zeros(0, np.int32),
            np.repeat(np.arange(first, len(self.ids), dtype=np.int32), sizes),
            np.concatenate([c for _, c in self._grams]) if sizes else np.zeros(0, np.float32),
        )
        return out

    def lengths(self) -> dict[str, np.ndarray]:
        return {f: np.frombuffer(a, dtype=np.float32) for f, a in self._lengths.items()}

    def write(self, directory: Path) -> None:
        """Write the index into ``directory`` (which must not exist)."""
        write_arrays(directory, list(self.vocab), self.ids, self.arrays(), self.lengths())


def write_meta(directory: Path, terms: list[str], ids: list[str]) -> None:
    meta = {"format": TERMS_FORMAT, "fields": STORED, "grams": GRAM_SETTINGS, "terms": terms, "ids": ids}
    with open(directory / "terms.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False)


def merged(
    indptr: np.ndarray, docs: np.ndarray, weights: np.ndarray, added: tuple[np.ndarray, np.ndarray, np.ndarray],
    vocab_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverted CSR arrays ``(indptr, docs, weights)`` with the ``added`` triplets (ordinals above every
    existing one) put at the end of their terms' posting lists: the layout a fresh build writes, made
    in one pass over the old arrays instead of a sort of every posting."""
    terms, new_docs, new_weights = added
    order = np.argsort(terms, kind="stable")  # the added postings only; ordinals stay ascending per term
    terms, new_docs, new_weights = terms[order], new_docs[order], new_weights[order]
    old_counts = np.zeros(vocab_size, dtype=np.int64)
    old_counts[: len(indptr) - 1] = np.diff(indptr)
    new_counts = np.bincount(terms, minlength=vocab_size).astype(np.int64)
    out_indptr = np.zeros(vocab_size + 1, dtype=np.int64)
    np.cumsum(old_counts + new_counts, out=out_indptr[1:])
    group_start = np.cumsum(new_counts) - new_counts  # where each term's added postings begin in ``terms``
    rank = np.arange(len(terms), dtype=np.int64) - group_start[terms]
    is_new = np.zeros(int(out_indptr[-1]), dtype=bool)
    is_new[out_indptr[terms] + old_counts[terms] + rank] = True
    out_docs = np.empty(len(is_new), dtype=np.int32)
    out_weights = np.empty(len(is_new), dtype=np.float32)
    out_docs[is_new], out_weights[is_new] = new_docs, new_weights
    out_docs[~is_new], out_weights[~is_new] = docs, weights  # old postings keep their order
    return out_indptr, out_docs, out_weights


def append_npy(path: Path, extra: np.ndarray, out: Path) -> None:
    """Write to ``out`` the 1-D ``.npy`` array at ``path`` followed by ``extra``: a byte copy of the old
    data (no array is loaded), then the new values."""
    with open(path, "rb") as src:
        shape, fortran, dtype = npy.read_header(src)
        if len(shape) != 1 or fortran:
            raise ValueError(f"{path}: not a 1-D array")
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                  "shape": (shape[0] + len(extra),)}
        with open(out, "wb") as dst:
            np.lib.format.write_array_header_1_0(dst, header)
            shutil.copyfileobj(src, dst, 1 << 22)
            dst.write(np.ascontiguousarray(extra, dtype=dtype).tobytes())


def write_arrays(
    directory: Path,
    terms: list[str],
    ids: list[str],
    postings: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    lengths: dict[str, np.ndarray],
) -> None:
    """Save the triplets as CSR arrays: by term (inverted) for the searched fields, by article for the grams."""
    directory.mkdir(parents=True, exist_ok=False)
    for field, (term_ids, docs, weights) in postings.items():
        if field == GRAMS:  # forward rows, one per article: see TermIndex.gram_scores
            if len(docs) > 1 and (docs[1:] < docs[:-1]).any():  # builders give them in order: no copy then
                order = np.argsort(docs, kind="stable")
                term_ids, weights = term_ids[order], weights[order]
            indptr = np.zeros(len(ids) + 1, dtype=np.int64)
            np.cumsum(np.bincount(docs, minlength=len(ids)), out=indptr[1:])
            df = np.bincount(term_ids, minlength=len(terms)).astype(np.int32)
            for part, values in (("indptr", indptr), ("terms", term_ids.astype(np.int32, copy=False)),
                                 ("weights", weights.astype(np.float32, copy=False)), ("df", df),
                                 ("lengths", np.asarray(lengths[field], dtype=np.float32))):
                np.save(directory / f"{field}.{part}.npy", values, allow_pickle=False)
            continue
        order = np.argsort(term_ids, kind="stable")
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_ids, minlength=len(terms)), out=indptr[1:])
        np.save(directory / f"{field}.indptr.npy", indptr, allow_pickle=False)
        np.save(directory / f"{field}.docs.npy", docs[order].astype(np.int32), allow_pickle=False)
        np.save(directory / f"{field}.weights.npy", weights[order].astype(np.float32), allow_pickle=False)
        np.save(directory / f"{field}.lengths.npy", np.asarray(lengths[field], dtype=np.float32), allow_pickle=False)
    write_meta(directory, terms, ids)

