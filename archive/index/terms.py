"""A numpy term index: the one scorer of every query, BM25F in milliseconds.

Whoosh scores a query by walking its posting lists one document at a time
in Python: a ten-word headline on 62k articles took ~60 ms (p50) and up to
several hundred, far from the 15 ms a user should wait. The ranking is a sum
over (field, term) pairs, which numpy computes over whole posting lists at
once (the approach of bm25s, our lexical peer; bm25s itself has no fields and
no incremental update, so it could not stand in for this). Every query is
ranked here, inside a mask of the articles it may return (filters and
operators: :mod:`archive.index.matching`), so an article's score never depends on
what restricted the matches.

This index holds, per field (title and body) and per term, the ordinals of
the articles containing it and the term's count in each, plus each
article's field length in tokens. Field weights, BM25 parameters and how the
fields combine are applied at query time (:class:`archive.index.scoring.Scoring`),
so another setting needs no rebuild. A third field, ``grams``, holds the character 3-grams of title
and body (:func:`archive.text.analysis.word_grams`); it is never searched on its
own: :meth:`TermIndex.gram_scores` scores the hybrid ranker's candidates
with it (about four times the body's postings).
:meth:`TermIndex.search` with ``combine="sum"`` reproduces Whoosh's ``BM25F``
(``idf = ln(N / (df + 1)) + 1``, the same k1, b and average field length;
Whoosh quantizes field lengths to a byte, this index does not);
``combine="bm25f"`` is BM25F proper (see :class:`archive.index.scoring.Scoring`).

On disk (a directory): ``terms.json`` (format, the term list, the article
ids) and per field ``FIELD.indptr.npy``, ``FIELD.docs.npy``,
``FIELD.weights.npy``, ``FIELD.lengths.npy``, memory-mapped on open; no
pickle.

Deletions are a live mask, as Lucene's: a deleted article keeps its ordinal
(its id stays in the list, so the term index, the filter columns and the
vectors keep one numbering without rewriting anything) and ``live.npy``
(one bool per ordinal; absent when every article is live) says which
ordinals count. Every read leaves the dead ones out, and the statistics
BM25 uses are those of the live articles only (their number, average field
lengths, a term's document frequency counted over the live part of its
posting list, the grams' stored frequencies lowered as articles are
deleted), so an index with deletions ranks exactly as a fresh build of its
live articles. :meth:`TermIndex.appended` writes a change this way: a
delete rewrites the mask and the grams' frequencies and hard-links the rest;
new articles take the next ordinals, their postings merged into the posting
lists without sorting them again. Once the dead ordinals would pass
:data:`COMPACT_SHARE` of them, :meth:`TermIndex.updated` renumbers instead:
it rebuilds the arrays with numpy without the dead articles (and without
re-analyzing the others), and the mask goes away.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..text.analysis import GRAM_SETTINGS, DocumentWords
from ..document import Document
from .. import npy
from ..errors import IndexDamagedError, IndexFormatError
from .links import link_file
from .scoring import DEFAULT_SCORING, Scoring
from .terms_build import FIELDS, GRAMS, STORED, TERMS_FORMAT, TermIndexBuilder, append_npy, merged, write_arrays, write_meta
from .variants import VARIANT_WEIGHT, Expansions

__all__ = ["COMPACT_SHARE", "FIELDS", "GRAMS", "LIVE", "STORED", "TERMS_FORMAT", "TermIndex", "TermIndexBuilder"]

LIVE = "live.npy"
"""The live mask: one bool per ordinal, False for a deleted article (absent: all live)."""
COMPACT_SHARE = 0.2
"""A change renumbers the articles without the deleted ones (:meth:`TermIndex.updated`) once dead
ordinals would pass this share of them; below it, deletions only mark ordinals dead."""


def _idf(n: int, df: int) -> float:
    """The word signal's idf (Whoosh's): ``ln(N / (df + 1)) + 1`` over ``n`` live articles."""
    return math.log(n / (df + 1)) + 1.0


class _RowReader:
    """Reads slices of a 1-D ``.npy`` file with ``pread``, not through a memory map.

    The hybrid ranker reads a few hundred articles' gram rows per query; over
    many queries a memory map would keep every row it ever touched in the
    process's resident memory (+260 MB at 62k articles), while reads leave
    them to the OS page cache.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as fh:
            _, _, dtype = npy.read_header(fh)
            self._offset = fh.tell()
        self._dtype = np.dtype(dtype)
        self._fd = os.open(path, os.O_RDONLY)

    def rows(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The concatenated slices ``[start, end)``, in order."""
        size = self._dtype.itemsize
        parts = [os.pread(self._fd, (int(e) - int(s)) * size, self._offset + int(s) * size) for s, e in zip(starts, ends)]
        return np.frombuffer(b"".join(parts), dtype=self._dtype)

    def close(self) -> None:
        """Close the file; closing twice is harmless."""
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None:
            os.close(fd)

    __del__ = close


def _read_live(path: Path, ordinals: int) -> np.ndarray | None:
    """The live mask at ``path`` (``None`` when there is none: every article live), checked against
    the number of ordinals; damage is named with its fix."""
    if not path.exists():
        return None
    fix = "Fix: archive build --full"
    try:
        live = npy.load(path)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexDamagedError(f"{path}: live mask unreadable ({exc}). {fix}") from None
    if live.dtype != np.bool_ or live.ndim != 1 or len(live) != ordinals:
        raise IndexDamagedError(f"{path}: live mask of {live.dtype} {live.shape}, expected bool ({ordinals},) "
                                f"(one per article of the term index). {fix}")
    return live


class TermIndex:
    """Read-only, memory-mapped term index of one generation (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        fix = "Fix: archive build --full"
        try:
            meta = json.loads((directory / "terms.json").read_text(encoding="utf-8"))
            found = (meta.get("format"), meta.get("fields"), meta.get("grams"))
            if found != (TERMS_FORMAT, STORED, GRAM_SETTINGS):
                raise IndexFormatError(
                    f"{directory}: term index format {found[0]} with fields {found[1]} and grams {found[2]!r}, "
                    f"expected {TERMS_FORMAT} with {STORED} and {GRAM_SETTINGS!r}. {fix}"
                )
            self.terms: list[str] = meta["terms"]
            self.ids: list[str] = meta["ids"]
            self._arrays = {
                f: tuple(npy.load(directory / f"{f}.{part}.npy", mmap=True)
                         for part in ("indptr", "docs", "weights", "lengths"))
                for f in FIELDS
            }
            self._grams = tuple(npy.load(directory / f"{GRAMS}.{part}.npy", mmap=True)
                                for part in ("indptr", "terms", "weights", "lengths", "df"))
            self._gram_rows = {part: _RowReader(directory / f"{GRAMS}.{part}.npy") for part in ("terms", "weights")}
        except IndexFormatError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"{directory}: term index unreadable ({exc}). {fix}") from None
        self._directory = directory
        self.vocab = {t: i for i, t in enumerate(self.terms)}
        self._ordinals: dict[str, int] | None = None  # id → ordinal, built on the first gram scoring
        n = len(self.ids)
        self.live: np.ndarray | None = _read_live(directory / LIVE, n)
        """One bool per ordinal, False for a deleted article; ``None`` when every article is live."""
        self.live_count = n if self.live is None else int(np.count_nonzero(self.live))
        """Live articles: the N of BM25, and the archive's article count."""
        for field, (indptr, docs, weights, lengths) in self._arrays.items():
            if len(indptr) != len(self.terms) + 1 or len(docs) != len(weights) or len(lengths) != n:
                raise IndexFormatError(f"{directory}: {field} arrays do not match the term list. {fix}")
        g_indptr, g_terms, g_weights, g_lengths, g_df = self._grams
        if len(g_indptr) != n + 1 or len(g_terms) != len(g_weights) or len(g_lengths) != n or len(g_df) != len(self.terms):
            raise IndexFormatError(f"{directory}: {GRAMS} arrays do not match the article list. {fix}")
        live, count = self.live, self.live_count
        self._avg = {  # over the live articles: what a fresh build of them would average
            f: (float(np.sum(lengths if live is None else np.asarray(lengths)[live], dtype=np.float64)) / count
                if count else 1.0) or 1.0
            for f, lengths in [*((f, a[3]) for f, a in self._arrays.items()), (GRAMS, g_lengths)]
        }

    def __len__(self) -> int:
        """Ordinals, deleted articles' included (the size of every mask over them); see :attr:`live_count`."""
        return len(self.ids)

    def live_mask(self) -> np.ndarray:
        """A new boolean mask over ordinals of the live articles."""
        return np.ones(len(self.ids), dtype=bool) if self.live is None else self.live.copy()

    def field_postings(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        """``(indptr, ordinals)`` of the live postings of a searched field, by term id: the articles
        holding term ``t`` are ``ordinals[indptr[t]:indptr[t + 1]]``, ascending (deleted ones left out)."""
        indptr, docs, _, _ = self._arrays[field]
        indptr, docs = np.asarray(indptr), np.asarray(docs)
        if self.live is None:
            return indptr, docs
        keep = self.live[docs]
        owner = np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(indptr))
        live_indptr = np.zeros(len(self.terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[keep], minlength=len(self.terms)), out=live_indptr[1:])
        return live_indptr, docs[keep]

    def close(self) -> None:
        """Close the files read with ``pread`` (the memory maps go with the object)."""
        for reader in self._gram_rows.values():
            reader.close()

    def _postings(
        self, field: str, text: str, variants: tuple[str, ...] = ()
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(ordinals, counts, field lengths)`` of the term ``text`` in ``field``, or ``None`` where it is absent.

        With ``variants`` (spellings of the same word: :mod:`archive.index.variants`) the term and its
        variants act as one term: it is in every article holding any of them, and a variant's
        occurrence counts :data:`~archive.index.variants.VARIANT_WEIGHT` of the typed form's, so its
        document frequency (and idf) is that of the union and the typed spelling ranks first.
        """
        own = self._one_postings(field, text)
        if not variants:
            return own
        parts = [own] if own is not None else []
        for variant in variants:
            found = self._one_postings(field, variant)
            if found is not None:
                parts.append((found[0], found[1] * VARIANT_WEIGHT, found[2]))
        if len(parts) <= 1:
            return parts[0] if parts else None
        rows, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]), minlength=len(rows))
        return rows, counts, self._arrays[field][3][rows]

    def _one_postings(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """:meth:`_postings` of one term, without variants."""
        term_id = self.vocab.get(text)
        if term_id is None or field not in self._arrays:
            return None
        indptr, docs, weights, lengths = self._arrays[field]
        start, end = int(indptr[term_id]), int(indptr[term_id + 1])
        if start == end:
            return None
        rows, counts = docs[start:end], weights[start:end]
        if self.live is not None:  # deleted articles neither match nor count in the term's frequency
            alive = self.live[rows]
            rows, counts = rows[alive], counts[alive]
            if not len(rows):
                return None
        return rows, counts.astype(np.float64), lengths[rows]

    def _accumulate(
        self, pairs: Iterable[tuple[str, str]], scoring: Scoring, variants: Expansions | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per article: the word score over ``(field, term)`` pairs (Whoosh's idf), and how many pairs matched.

        ``scoring.combine`` says how a term's fields add up (see :class:`archive.index.scoring.Scoring`);
        ``variants`` gives terms their spelling variants (see :meth:`_postings`).
        """
        variants = variants or {}
        scores = np.zeros(len(self.ids), dtype=np.float64)
        matched = np.zeros(len(self.ids), dtype=np.int32)
        n = self.live_count
        k1 = scoring.k1
        by_term: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for field, text in pairs:
            found = self._postings(field, text, variants.get(text, ()))
            if found is None:
                continue
            rows, counts, lengths = found
            weight, b = scoring.field_params(field)
            length_norm = (1.0 - b) + b * lengths / self._avg[field]
            matched[rows] += 1
            if scoring.combine == "sum":  # one BM25 per field: the weight inside the saturation
                idf = _idf(n, len(rows))
                tf = counts * weight
                scores[rows] += idf * (tf * (k1 + 1.0)) / (tf + k1 * length_norm)
            else:  # BM25F: weighted, length-normalized frequencies summed over fields, saturated once
                by_term.setdefault(text, []).append((rows, weight * counts / length_norm))
        for parts in by_term.values():
            if len(parts) == 1:
                rows, tf = parts[0]
            else:
                rows, inverse = np.unique(np.concatenate([r for r, _ in parts]), return_inverse=True)
                tf = np.bincount(inverse, weights=np.concatenate([t for _, t in parts]), minlength=len(rows))
            idf = _idf(n, len(rows))
            scores[rows] += idf * (tf * (k1 + 1.0)) / (tf + k1)
        return scores, matched

    def title_coverage(
        self, pairs: Iterable[tuple[str, str]], ordinals: Sequence[int], variants: Expansions | None = None
    ) -> float:
        """The largest idf-weighted share of the distinct terms of ``pairs`` that the title of one of
        ``ordinals`` holds (0 when no title holds any); a term's idf is the word signal's, over the
        live articles holding it in any of its fields."""
        shares = self.title_coverages(pairs, ordinals, variants)
        return float(shares.max()) if len(shares) else 0.0

    def title_coverages(
        self, pairs: Iterable[tuple[str, str]], ordinals: Sequence[int], variants: Expansions | None = None
    ) -> np.ndarray:
        """For each of ``ordinals``, the idf-weighted share of the distinct terms of ``pairs`` its title
        holds, in [0, 1] (1: the title holds every term; all 0 when the query has no term)."""
        fields_of: dict[str, list[str]] = {}
        for field, text in pairs:
            fields_of.setdefault(text, []).append(field)
        wanted = np.asarray(ordinals, dtype=np.int64)
        held = np.zeros(len(wanted), dtype=np.float64)
        if not fields_of or not len(wanted):
            return held
        total = 0.0
        for text, fields in fields_of.items():
            found = {field: self._postings(field, text, (variants or {}).get(text, ())) for field in fields}
            rows = [f[0] for f in found.values() if f is not None]
            idf = _idf(self.live_count, len(np.unique(np.concatenate(rows))) if rows else 0)
            total += idf
            if found.get("title") is not None:
                held += idf * np.isin(wanted, found["title"][0])
        return np.minimum(held / total, 1.0) if total > 0 else held

    def search(
        self, pairs: Sequence[tuple[str, str]], k: int, *, scoring: Scoring = DEFAULT_SCORING,
        within: np.ndarray | None = None,
    ) -> list[tuple[str, float]]:
        """Top ``k`` ``(id, score)`` for the OR of ``(field, term)`` pairs, best first; ties keep index order.

        ``within`` (a boolean mask over ordinals) keeps only those articles.
        """
        ranked, _ = self.rank(pairs, k, scoring=scoring, candidates=None, within=within)
        return [(self.ids[o], s) for o, s in ranked]

    def rank(
        self,
        pairs: Sequence[tuple[str, str]],
        k: int,
        *,
        scoring: Scoring = DEFAULT_SCORING,
        candidates: np.ndarray | None,
        within: np.ndarray | None = None,
        offset: int = 0,
        variants: Expansions | None = None,
    ) -> tuple[list[tuple[int, float]], int]:
        """``([(ordinal, score)...], number of matches)``: ranks ``offset`` to ``offset + k`` by BM25F.

        The matches are ``candidates`` (a boolean mask a query's operators
        made) or, when it is ``None``, the articles holding any of ``pairs``;
        either way only those in ``within`` (and live) count; ``variants`` adds
        terms' spelling variants (:meth:`_postings`). Scores are BM25F
        over ``pairs`` against the whole index's statistics, so an article
        scores the same whatever restricts the matches. Ties keep index order.
        """
        if not self.ids:
            return [], 0
        scores, matched = self._accumulate(pairs, scoring, variants)
        keep = matched > 0 if candidates is None else candidates
        if within is not None:
            keep = keep & within
        if self.live is not None:
            keep = keep & self.live
        hits = np.flatnonzero(keep)
        if len(hits) == 0 or k < 1:
            return [], int(len(hits))
        found = scores[hits]
        take = min(offset + k, len(hits))
        top = np.argpartition(-found, take - 1)[:take] if take < len(hits) else np.arange(len(hits))
        top = top[np.lexsort((hits[top], -found[top]))][offset:]  # best first, then index order
        return [(int(hits[i]), float(found[i])) for i in top], int(len(hits))

    def scores(
        self, pairs: Sequence[tuple[str, str]], ordinals: np.ndarray, *, scoring: Scoring = DEFAULT_SCORING,
        variants: Expansions | None = None,
    ) -> list[float]:
        """BM25F over ``pairs`` of the articles ``ordinals`` (the score :meth:`rank` gives them)."""
        if not len(ordinals):
            return []
        scores, _ = self._accumulate(pairs, scoring, variants)
        return scores[ordinals].tolist()

    def term_mask(self, field: str, text: str, variants: tuple[str, ...] = ()) -> np.ndarray:
        """The live articles whose ``field`` holds the analyzed term ``text`` (or one of its ``variants``),
        as a boolean mask."""
        mask = np.zeros(len(self.ids), dtype=bool)
        for spelling in (text, *variants):
            term_id = self.vocab.get(spelling)
            if term_id is not None and field in self._arrays:
                indptr, docs, _, _ = self._arrays[field]
                mask[docs[int(indptr[term_id]) : int(indptr[term_id + 1])]] = True
        if self.live is not None:
            mask &= self.live
        return mask

    def ordinals(self) -> dict[str, int]:
        """``{id: ordinal}`` of the live articles (built on first use): an id deleted and added again
        maps to its new ordinal only."""
        if self._ordinals is None:
            if self.live is None:
                self._ordinals = {doc_id: i for i, doc_id in enumerate(self.ids)}
            else:
                self._ordinals = {self.ids[i]: i for i in np.flatnonzero(self.live).tolist()}
        return self._ordinals

    def gram_scores(
        self, grams: Iterable[str], ids: Sequence[str], *, scoring: Scoring = DEFAULT_SCORING
    ) -> list[float]:
        """:meth:`gram_scores_at` of the articles ``ids``; unknown ids score 0."""
        ordinals = self.ordinals()
        return self.gram_scores_at(grams, [ordinals.get(i, -1) for i in ids], scoring=scoring)

    def gram_scores_at(
        self, grams: Iterable[str], ordinals: Sequence[int], *, scoring: Scoring = DEFAULT_SCORING
    ) -> list[float]:
        """BM25 of the articles at ``ordinals`` (-1: none, scores 0) for the distinct character ``grams``
        of a query.

        The grams are stored per article (forward rows) with each gram's
        document frequency, so only the candidates' rows are read: a few
        hundred rows, not the posting lists of grams such as ``#ال`` that
        most articles hold (reading those cost 0.9 s on the first query and
        240 MB of memory at 62k articles). idf is Lucene's ``ln(1 + (N - df +
        0.5) / (df + 0.5))``, which goes to 0 for a gram in every article
        (N and df count live articles). ``ordinals`` are live ones.
        """
        n, k1, b = self.live_count, scoring.gram_k1, scoring.gram_b
        query = np.unique(np.fromiter((self.vocab.get(g, -1) for g in grams), dtype=np.int64))
        query = query[query >= 0]
        known = [(slot, o) for slot, o in enumerate(ordinals) if o >= 0]
        out = np.zeros(len(ordinals), dtype=np.float64)
        if not n or not len(query) or not known:
            return out.tolist()
        indptr, _, _, lengths, df = self._grams
        slots = np.fromiter((s for s, _ in known), dtype=np.int64, count=len(known))
        rows = np.fromiter((o for _, o in known), dtype=np.int64, count=len(known))
        starts, ends = np.asarray(indptr[rows]), np.asarray(indptr[rows + 1])
        sizes = ends - starts
        owner = np.repeat(np.arange(len(rows)), sizes)  # which candidate each stored gram belongs to
        row_terms = self._gram_rows["terms"].rows(starts, ends)
        hit = np.isin(row_terms, query)
        owner, tf = owner[hit], self._gram_rows["weights"].rows(starts, ends)[hit].astype(np.float64)
        freq = np.asarray(df[row_terms[hit]], dtype=np.float64)
        idf = np.log1p((n - freq + 0.5) / (freq + 0.5))
        norm = k1 * ((1.0 - b) + b * np.asarray(lengths[rows], dtype=np.float64)[owner] / self._avg[GRAMS])
        out[slots] = np.bincount(owner, weights=idf * tf * (k1 + 1.0) / (tf + norm), minlength=len(rows))
        return out.tolist()

    def updated(self, directory: Path, keep: np.ndarray, add: Sequence[Document],
                words: Sequence[DocumentWords] | None = None) -> int:
        """Write into ``directory`` (new) this index with only the ``keep`` ordinals, renumbered in
        order, and ``add`` (analyzed as ``words`` when given) after them; the number of articles
        (all live: no mask is written).

        The compaction of :data:`COMPACT_SHARE`: kept articles are not analyzed
        again, their postings are filtered and renumbered with numpy, and the
        new articles' postings appended.
        """
        renumber = (np.cumsum(keep) - 1).astype(np.int32)
        builder = TermIndexBuilder(dict(self.vocab))
        builder.ids = [i for i, kept in zip(self.ids, keep.tolist()) if kept]
        for doc, analyzed in zip(add, words if words is not None else [None] * len(add), strict=True):
            builder.add(doc, analyzed)
        new_postings, new_lengths = builder.arrays(), builder.lengths()
        postings: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        lengths: dict[str, np.ndarray] = {}
        for field, (indptr, docs, weights, field_lengths) in self._arrays.items():
            term_ids = np.repeat(np.arange(len(self.terms), dtype=np.int32), np.diff(indptr))
            live = keep[docs]
            new_terms, new_docs, new_weights = new_postings[field]
            postings[field] = (
                np.concatenate([term_ids[live], new_terms]),
                np.concatenate([renumber[docs[live]], new_docs]),
                np.concatenate([np.asarray(weights)[live], new_weights]),
            )
            lengths[field] = np.concatenate([np.asarray(field_lengths)[keep], new_lengths[field]])
        g_indptr, g_terms, g_weights, g_lengths, _ = self._grams
        docs = np.repeat(np.arange(len(self.ids), dtype=np.int32), np.diff(g_indptr))
        live = keep[docs]
        new_terms, new_docs, new_weights = new_postings[GRAMS]
        postings[GRAMS] = (
            np.concatenate([np.asarray(g_terms)[live], new_terms]),
            np.concatenate([renumber[docs[live]], new_docs]),
            np.concatenate([np.asarray(g_weights)[live], new_weights]),
        )
        lengths[GRAMS] = np.concatenate([np.asarray(g_lengths)[keep], new_lengths[GRAMS]])
        write_arrays(directory, list(builder.vocab), builder.ids, postings, lengths)
        return len(builder.ids)

    def appended(self, directory: Path, dead: Sequence[int], add: Sequence[Document],
                 words: Sequence[DocumentWords] | None = None) -> int:
        """Write into ``directory`` (new) this index with the ordinals ``dead`` deleted and ``add``
        (analyzed as ``words`` when given) appended after the last ordinal; the number of live articles.

        Nothing is renumbered: the deleted articles are marked in the live mask
        and their character grams taken out of the grams' frequencies (read
        from their forward rows), so the statistics stay those of the live
        articles. Without ``add`` every other file is hard-linked; with it, the
        new postings are merged into the posting lists (:func:`merged`) and
        the grams' forward rows are appended to.
        """
        n = len(self.ids)
        live = self.live_mask()
        dead_rows = np.unique(np.asarray(dead, dtype=np.int64))
        if len(dead_rows) and (dead_rows.min() < 0 or dead_rows.max() >= n or not live[dead_rows].all()):
            raise ValueError("only live ordinals can be deleted")
        live[dead_rows] = False
        builder = TermIndexBuilder(dict(self.vocab))
        builder.ids = list(self.ids)
        for doc, analyzed in zip(add, words if words is not None else [None] * len(add), strict=True):
            builder.add(doc, analyzed)
        vocab_size, added = len(builder.vocab), len(builder.ids) - n
        g_indptr, _, _, _, g_df = self._grams
        gone = self._gram_rows["terms"].rows(np.asarray(g_indptr[dead_rows]), np.asarray(g_indptr[dead_rows + 1]))
        new = builder.arrays()
        df = np.zeros(vocab_size, dtype=np.int64)
        df[: len(g_df)] = g_df
        df -= np.bincount(gone, minlength=vocab_size)
        df += np.bincount(new[GRAMS][0], minlength=vocab_size)
        source = self._directory
        directory.mkdir(parents=True, exist_ok=False)
        if not added:
            for path in sorted(source.iterdir()):
                if path.name not in (LIVE, f"{GRAMS}.df.npy"):
                    link_file(path, directory / path.name)
        else:
            lengths = builder.lengths()
            for field, (indptr, docs, weights, field_lengths) in self._arrays.items():
                for part, values in zip(("indptr", "docs", "weights"),
                                        merged(np.asarray(indptr), np.asarray(docs), np.asarray(weights),
                                                new[field], vocab_size)):
                    np.save(directory / f"{field}.{part}.npy", values, allow_pickle=False)
                append_npy(source / f"{field}.lengths.npy", lengths[field], directory / f"{field}.lengths.npy")
            new_terms, new_docs, new_weights = new[GRAMS]
            sizes = np.bincount(new_docs - n, minlength=added)
            np.save(directory / f"{GRAMS}.indptr.npy",
                    np.concatenate([np.asarray(g_indptr), int(g_indptr[-1]) + np.cumsum(sizes, dtype=np.int64)]),
                    allow_pickle=False)
            for part, values in (("terms", new_terms), ("weights", new_weights), ("lengths", lengths[GRAMS])):
                append_npy(source / f"{GRAMS}.{part}.npy", values, directory / f"{GRAMS}.{part}.npy")
            write_meta(directory, list(builder.vocab), builder.ids)
        np.save(directory / f"{GRAMS}.df.npy", df.astype(np.int32), allow_pickle=False)
        live = np.concatenate([live, np.ones(added, dtype=bool)])
        if not live.all():
            np.save(directory / LIVE, live, allow_pickle=False)
        return int(np.count_nonzero(live))
