"""Finding the near copies of a story at build time: MinHash signatures and LSH (datasketch).

Two articles are copies of one story when, where both are dated, they were
published at most :data:`MAX_DAYS` apart (a weekly market report keeps its
wording from week to week), both hold at least :data:`MIN_SHINGLES` shingles
(a two-line caption is not judged), and

- the sets of their word shingles (:data:`SHINGLE` consecutive words of the
  normalized body, headlines left out: each outlet writes its own) have an
  estimated Jaccard similarity of at least :data:`THRESHOLD` (from two outlets)
  or :data:`SAME_SOURCE_THRESHOLD` (from one: an outlet's update of a developing
  story keeps most of its text under a new lead, and is another story); or
- from two outlets, their **leads** (the first :data:`LEAD_WORDS` words, as
  spelling skeletons: :func:`lead_shingles`) reach :data:`LEAD_THRESHOLD`. Two
  outlets often print one wire lead, then cut the text at different lengths or
  add their own background: the bodies' similarity is then low (a copy cut to a
  third of the other is at most 0.33) while the leads are nearly the same. The
  skeleton also lets one wire text in two house spellings (ترمب/ترامب,
  نتنياهو/نتانياهو, كابول/كابل) match.

Candidates come from banding the signatures (the bands datasketch's
:class:`~datasketch.MinHashLSH` chooses for the bodies at a lower threshold, so that
the banding alone rarely loses a pair; :data:`LEAD_BANDS` bands of two values
over the leads' signatures); each candidate is then judged on its signatures. The settings
were chosen on the dev half of the judged ANT pairs (eval/folding/README.md,
docs/evaluation.md).

A full build signs every indexed article (:func:`near_store`), in a process of
its own started with the build (:func:`start_near_store`): the articles are
known before they are indexed, so they are folded while the other stores index
them rather than on one core after them. An increment signs only the articles
it indexes and looks for the copies of those alone (:func:`updated_near_store`),
so ``add`` does not rehash the archive.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import signal
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import Connection

import numpy as np

from ..document import Document
from ..errors import ArchiveError
from .near import NO_DATE, NearStore
from ..text.analysis import folded, stem, tokens

SHINGLE = 3
"""Words per shingle."""
NUM_PERM = 128
"""MinHash permutations: the similarity of a pair is estimated within about ±0.04 near 0.5."""
SEED = 1
THRESHOLD = 0.4
"""Estimated Jaccard similarity of two outlets' articles' shingles from which they are copies of one story."""
SAME_SOURCE_THRESHOLD = 0.8
"""The same for two articles of one outlet (a re-filing under another headline, not an update)."""
LSH_THRESHOLD = 0.2
"""The LSH index's threshold: below :data:`THRESHOLD`, so that banding loses almost no pair worth
judging (datasketch's bands for it find a pair of similarity 0.4 with probability 0.99)."""
MIN_SHINGLES = 20
"""Articles with fewer shingles (about 20 words) are never folded: too short to tell copies apart."""
MAX_DAYS = 1
"""Two dated articles published further apart than this are never copies."""
MAX_BUCKET = 1_000
"""LSH buckets holding more articles than this are not read (a million pairs of one band, most of
them unrelated: articles sharing a boilerplate); their pairs are found through other bands or not at all."""
LEAD_WORDS = 60
"""Words of a body's lead: about its first two sentences, what a wire text and its copies share whatever
each outlet cuts or adds after them."""
LEAD_SHINGLE = 2
"""Words per shingle of a lead (shorter than the body's: a lead is short, and edited word by word)."""
LEAD_THRESHOLD = 0.25
"""Estimated Jaccard similarity of two outlets' leads from which they are copies of one story."""
LEAD_BANDS, LEAD_ROWS = 64, 2
"""The leads' bands: every one of the signature's values used, two to a band, so that a pair of leads at
:data:`LEAD_THRESHOLD` is a candidate with probability 0.98 (0.93 at 0.2); datasketch's bands for a
threshold of 0.2 (28 of 2) use 56 values and find it with probability 0.84."""
JUDGED_AT_ONCE = 50_000
"""Candidate pairs compared in one step: each takes two rows of signatures (2 KB), so a step holds about
100 MB however many candidates a large archive has."""
SETTINGS: dict[str, object] = {
    "shingle": SHINGLE, "num_perm": NUM_PERM, "seed": SEED, "scheme": "affine32", "threshold": THRESHOLD,
    "same_source_threshold": SAME_SOURCE_THRESHOLD, "lsh_threshold": LSH_THRESHOLD, "min_shingles": MIN_SHINGLES,
    "max_days": MAX_DAYS, "lead_words": LEAD_WORDS, "lead_shingle": LEAD_SHINGLE, "lead_threshold": LEAD_THRESHOLD,
    "lead_bands": [LEAD_BANDS, LEAD_ROWS], "lead_skeleton": 1,
}
"""What a store's signatures and pairs were made with: a store made otherwise is rebuilt whole."""
WIDTH = 2 * NUM_PERM
"""Columns of a store's signatures: the body's :data:`NUM_PERM`, then the lead's as many."""

_MASK = np.uint64(0xFFFFFFFF)


_WORD_HASHES: dict[str, int] = {}
"""Raw word → its 32-bit hash (:func:`_word_hash`): words repeat across articles, so each is hashed once."""
_SKELETON_HASHES: dict[str, int] = {}
"""Raw word → the 32-bit hash of its skeleton (:func:`skeleton`)."""
_WORD_HASHES_MAX = 2_000_000
SIGNED_AT_ONCE = 4_000_000
"""Characters of bodies signed in one step (about 1,600 news articles; one article at least): their words
and shingles' hashes (some 50 MB) are held together, so that numpy's calls are made per step rather than
per article (a call costs as much as hashing a short article's shingles)."""


def _word_hash(token: str) -> int:
    """A 32-bit hash of one raw word, normalized and lowercased (the same in every process: Python's
    own ``hash`` is salted)."""
    return zlib.crc32(folded(token).encode("utf-8"))


def _skeleton_hash(token: str) -> int:
    """A 32-bit hash of one raw word's :func:`skeleton`."""
    return zlib.crc32(skeleton(token).encode("utf-8"))


def shingles(text: str, size: int = SHINGLE) -> np.ndarray:
    """The distinct 32-bit hashes of the ``size``-word shingles of ``text``, normalized and lowercased."""
    return _distinct_shingles([tokens(text)], _WORD_HASHES, _word_hash, size)[1]


_LONG_VOWELS = re.compile("[اويى]")
_ARABIC = re.compile("[\u0621-\u064a]")


def skeleton(token: str) -> str:
    """A word's spelling skeleton: normalized, lowercased, light-stemmed, and, for Arabic, its long vowels
    (ا و ي ى) after the first letter dropped, so that house spellings of one name or word meet
    (ترمب/ترامب, كابول/كابل, حوالى/حوالي)."""
    word = folded(token)
    if len(word) > 1 and _ARABIC.search(word):
        word = stem(word)
        word = word[0] + _LONG_VOWELS.sub("", word[1:])
    return word


def lead_shingles(text: str, words: int = LEAD_WORDS, size: int = LEAD_SHINGLE) -> np.ndarray:
    """The distinct 32-bit hashes of the ``size``-word shingles of the first ``words`` words of ``text``,
    each word as its :func:`skeleton` (a hashtag's words apart: ``#كوريا_الشمالية`` is two words)."""
    return _distinct_shingles([_lead(tokens(text[: words * 20]), words)], _SKELETON_HASHES, _skeleton_hash, size)[1]


def _lead(words: list[str], count: int = LEAD_WORDS) -> list[str]:
    """The first ``count`` words of a body's raw tokens, a hashtag's words apart."""
    parts = (part for token in words[:count] for part in (token.split("_") if "_" in token else (token,)) if part)
    return list(itertools.islice(parts, count))


def _hashes(groups: Sequence[list[str]], known: dict[str, int], hashed: Callable[[str], int]) -> np.ndarray:
    """The hash of every word of ``groups``, one after another; ``known`` keeps each word's hash."""
    if len(known) > _WORD_HASHES_MAX:
        known.clear()
    words = list(itertools.chain.from_iterable(groups))
    for word in set(words).difference(known):
        known[word] = hashed(word)
    return np.fromiter(map(known.__getitem__, words), dtype=np.uint64, count=len(words))


def _distinct_shingles(
    groups: Sequence[list[str]], known: dict[str, int], hashed: Callable[[str], int], size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(group, value)`` of each distinct ``size``-word shingle of each group of words, sorted: a shingle's
    value is a polynomial over its words' hashes, kept to 48 bits, then mixed down to 32; a group of fewer
    than ``size`` words has one shingle, its first word."""
    hashes = _hashes(groups, known, hashed)
    counts = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
    group_of = np.repeat(np.arange(len(groups), dtype=np.uint64), counts)
    span = max(len(hashes) - size + 1, 0)
    acc = np.zeros(span, dtype=np.uint64)
    for i in range(size):
        acc = (acc * np.uint64(1_000_003) + hashes[i : i + span]) & np.uint64(0xFFFFFFFFFFFF)
    within = group_of[:span] == group_of[size - 1 : size - 1 + span]  # the shingle's words are one group's
    short = np.flatnonzero((counts > 0) & (counts < size))
    first = (np.cumsum(counts) - counts)[short]
    keys = np.concatenate([group_of[:span][within], short.astype(np.uint64)]) << np.uint64(32)
    keys |= _mix(np.concatenate([acc[within], hashes[first]])).astype(np.uint64)
    keys = _distinct(keys)
    return (keys >> np.uint64(32)).astype(np.int64), (keys & _MASK).astype(np.uint32)


def _mix(values: np.ndarray) -> np.ndarray:
    return ((values ^ (values >> np.uint64(29))) & _MASK).astype(np.uint32)


class Signer:
    """MinHash signatures (datasketch, ``affine32``) sharing one set of permutations.

    :meth:`sign` computes datasketch's ``affine32`` signatures (its MurmurHash3 mix of each value, then
    ``a * h + b`` modulo 2**32 per permutation, the minimum kept) for many articles at once, one
    permutation over every shingle of a step of :data:`SIGNED_AT_ONCE` characters per numpy call:
    datasketch's :meth:`~datasketch.MinHash.update_batch` takes one article and converts each value in
    Python, which made signing cost more than everything else in folding. The signatures are equal to
    datasketch's (``tests/test_folding.py`` checks it); its permutations and mix are used as they are.
    """

    def __init__(self, num_perm: int = NUM_PERM, seed: int = SEED) -> None:
        from datasketch import MinHash
        from datasketch.minhash import _fmix

        self._minhash = MinHash
        self._fmix = _fmix
        self.num_perm = num_perm
        self._permutations = MinHash(num_perm=num_perm, seed=seed).permutations

    def minhash(self, values: np.ndarray | None = None, signature: np.ndarray | None = None):  # noqa: ANN201
        """A datasketch MinHash of shingle ``values``, or one holding a stored ``signature``."""
        if signature is not None:
            return self._minhash(hashvalues=signature, permutations=self._permutations, scheme="affine32")
        mh = self._minhash(num_perm=self.num_perm, hashfunc=int, permutations=self._permutations, scheme="affine32")
        if values is not None and len(values):
            mh.update_batch(values.tolist())
        return mh

    def signatures(self, groups: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
        """The signatures of ``count`` sets given as ``(group, value)`` pairs sorted by group (a set
        without values keeps datasketch's empty signature, every value the largest)."""
        out = np.full((self.num_perm, count), np.iinfo(np.uint32).max, dtype=np.uint32)
        if len(values):
            firsts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
            mixed = self._fmix(values.astype(np.uint32), 32)
            for k, (a, b) in enumerate(zip(*self._permutations)):
                out[k, groups[firsts]] = np.minimum.reduceat(mixed * a + b, firsts)
        return out.T

    def sign(self, documents: Sequence[Document]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(signatures, shingle counts, dates)`` of ``documents``, one row each: a row is the body's
        signature then the lead's (:data:`WIDTH` columns); the counts are the bodies'. (An article of at
        least :data:`MIN_SHINGLES` body shingles has about as many lead shingles, so the body's count
        also says whether a lead is long enough to compare.)"""
        width = self.num_perm
        signatures = np.empty((len(documents), 2 * width), dtype=np.uint32)
        sizes = np.empty(len(documents), dtype=np.int32)
        for rows in _steps(documents, SIGNED_AT_ONCE):
            step = documents[rows]
            words = [tokens(d.body) for d in step]  # one tokenizing for the body's shingles and the lead's
            groups, values = _distinct_shingles(words, _WORD_HASHES, _word_hash, SHINGLE)
            sizes[rows] = np.bincount(groups, minlength=len(step))
            signatures[rows, :width] = self.signatures(groups, values, len(step))
            leads = [_lead(w) for w in words]
            groups, values = _distinct_shingles(leads, _SKELETON_HASHES, _skeleton_hash, LEAD_SHINGLE)
            signatures[rows, width:] = self.signatures(groups, values, len(step))
        return signatures, sizes, _dates(documents)


def _steps(documents: Sequence[Document], characters: int) -> Iterator[slice]:
    """Consecutive runs of ``documents`` whose bodies hold about ``characters`` characters (one article
    at least)."""
    start = held = 0
    for row, doc in enumerate(documents):
        held += len(doc.body)
        if held >= characters:
            yield slice(start, row + 1)
            start, held = row + 1, 0
    if start < len(documents):
        yield slice(start, len(documents))


def _dates(documents: Sequence[Document]) -> np.ndarray:
    return np.array([int(d.published.timestamp()) if d.published else NO_DATE for d in documents], dtype=np.int64)


def near_store(documents: Sequence[Document]) -> NearStore:
    """The near-copies store of ``documents`` (the indexed articles of a generation)."""
    signatures, sizes, dates = Signer().sign(documents)
    store = NearStore.empty(SETTINGS, WIDTH)
    sources = _outlets(documents)
    pairs, similarity = _judged(signatures, sizes, dates, _codes(sources), np.arange(len(documents)))
    return store.appended([d.id for d in documents], sources, signatures, sizes, dates, pairs, similarity)


BACKGROUND_MIN = 1_000
"""Full builds of at least this many indexed articles fold in a process of their own
(:func:`start_near_store`); smaller ones fold in the writing process when the other stores are written
(starting a process, under ``spawn`` or ``forkserver`` an interpreter, costs more than folding them)."""
POLL_SECONDS = 1.0
"""How often the writer, waiting for the folding process, checks that it still runs."""


class FoldingProcessError(ArchiveError):
    """The process finding the near copies died before handing back its store; nothing was committed."""


class NearJob:
    """The near-copies store of a full build, being found while the other stores are written.

    From :data:`BACKGROUND_MIN` articles a child process computes :func:`near_store`
    (started with multiprocessing's default method, as Whoosh's indexing workers are;
    under ``fork`` it reads the articles from this process's memory, else they are
    pickled to it). It dies with the writer (:func:`archive.index.workers.die_with_parent`),
    is terminated by :meth:`cancel`, and a death before it answers fails the write.
    """

    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = documents
        self.seconds = 0.0
        """Wall time the near copies took (in the child, from its start to its answer)."""
        self._process: multiprocessing.process.BaseProcess | None = None
        self._answer: Connection | None = None
        if len(documents) >= BACKGROUND_MIN:
            from datasketch import MinHash, MinHashLSH  # noqa: F401 - imported before the fork, not in the child

            ctx = multiprocessing.get_context()
            self._answer, answer = ctx.Pipe(duplex=False)
            self._process = ctx.Process(target=_fold_in_child, args=(documents, answer, os.getpid()),
                                        name="archive-folding", daemon=True)
            self._process.start()
            answer.close()  # the child's end: its death then reads as the end of the pipe here

    def result(self) -> NearStore:
        """The store (waiting for the child if it has not answered; computed here below :data:`BACKGROUND_MIN`)."""
        if self._process is None:
            started = time.perf_counter()
            store = near_store(self.documents)
            self.seconds = time.perf_counter() - started
            return store
        assert self._answer is not None
        try:
            while not self._answer.poll(POLL_SECONDS):
                if not self._process.is_alive() and not self._answer.poll(0):
                    break
            kind, value, seconds = self._answer.recv()
        except (EOFError, OSError):
            self._process.join(POLL_SECONDS)
            raise FoldingProcessError(
                f"the process finding the near copies died (exit {self._process.exitcode}) before handing them "
                "back; nothing was committed. Fix: run the command again (more memory if it keeps happening)"
            ) from None
        finally:
            self._answer.close()
        self._process.join()
        if kind == "error":
            raise value if isinstance(value, BaseException) else FoldingProcessError(str(value))
        self.seconds = seconds
        return value

    def cancel(self) -> None:
        """Stop the child, if any (a failed or cancelled write)."""
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join()
        if self._answer is not None:
            self._answer.close()


def start_near_store(documents: Sequence[Document]) -> NearJob:
    """Start finding the near-copies store of ``documents`` (the indexed articles of a full build, in
    order); :meth:`NearJob.result` gives it, the same store as :func:`near_store`."""
    return NearJob(documents)


FOLDING_NICENESS = 10
"""How much lower the folding process's scheduling priority is than the writer's and its indexing processes'."""


def _fold_in_child(documents: Sequence[Document], answer: Connection, parent_pid: int) -> None:
    from .workers import die_with_parent

    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the writer, which owns the write, cancels this process
    if hasattr(os, "nice"):  # the indexing is the build's critical path: folding takes the cores it leaves idle
        os.nice(FOLDING_NICENESS)
    started = time.perf_counter()
    try:
        store = near_store(documents)  # the module's, looked up now (a benchmark replaces it)
    except BaseException as exc:  # noqa: BLE001 - handed to the writer, which raises it
        try:
            answer.send(("error", exc, 0.0))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            answer.send(("error", f"finding the near copies failed: {exc!r}", 0.0))
    else:
        answer.send(("ok", store, time.perf_counter() - started))
    answer.close()


def _outlets(documents: Sequence[Document]) -> list[str]:
    """Each article's outlet as copies are compared: case-folded, stripped (articles without one are
    taken as one outlet: judged as strictly as an outlet's own re-filings)."""
    return [d.source.strip().casefold() for d in documents]


def _codes(sources: Sequence[str]) -> np.ndarray:
    """One integer per distinct outlet (equal outlets, equal codes)."""
    return np.unique(np.array(sources, dtype=object), return_inverse=True)[1] if sources else np.zeros(0, int)


def updated_near_store(
    store: NearStore | None, removed: Iterable[str], added: Sequence[Document],
    everything: Callable[[], Sequence[Document]],
) -> NearStore:
    """``store`` without the ``removed`` ids, with ``added`` signed and their copies found.

    ``everything`` gives every indexed article after the change: read only when
    ``store`` is missing (an index built before folding) or was made with other
    settings, which signs them all.
    """
    if store is None or store.settings != SETTINGS:
        return near_store(everything())
    added_ids = {d.id for d in added}
    base = store.without([*removed, *added_ids])
    if not added:
        return base
    signatures, sizes, dates = Signer().sign(added)
    sources = _outlets(added)
    n = len(base)
    every_signature = np.concatenate([base.signatures, signatures])
    every_size = np.concatenate([base.sizes, sizes])
    every_date = np.concatenate([base.published, dates])
    new_rows = np.arange(n, n + len(added))
    pairs, similarity = _judged(every_signature, every_size, every_date, _codes([*base.sources, *sources]),
                                new_rows)
    return base.appended([d.id for d in added], sources, signatures, sizes, dates, pairs, similarity)


def _judged(
    signatures: np.ndarray, sizes: np.ndarray, dates: np.ndarray, outlets: np.ndarray, new: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``(i < j)`` of rows, one of them in ``new``, that are copies, and their estimated similarity.

    Candidates are the pairs that agree on a band of the bodies' signatures (the bands and rows per band
    datasketch's :class:`~datasketch.MinHashLSH` chooses for :data:`LSH_THRESHOLD`), or on one of
    :data:`LEAD_BANDS` bands of their leads' signatures (:func:`_band_pairs`); each is judged on the
    signatures (:func:`copies`). The bands are matched by sorting rather than by inserting each row into
    datasketch's index, whose per-row Python work cost more than the rest of the judging; the candidates
    are the same.
    """
    from datasketch import MinHashLSH

    width = signatures.shape[1] // 2  # the body's signature, then the lead's
    body, lead = signatures[:, :width], signatures[:, width:]
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=width)
    signable = sizes >= MIN_SHINGLES
    found = [_band_pairs(body, signable, new, lsh.b, lsh.r), _band_pairs(lead, signable, new, LEAD_BANDS, LEAD_ROWS)]
    both = np.concatenate(found).astype(np.int64)
    n = np.int64(len(signatures))
    codes = _distinct(both[:, 0] * n + both[:, 1])
    found = np.stack([codes // n, codes % n], axis=1)
    kept, similarities = [np.zeros((0, 2), np.int32)], [np.zeros(0, np.float32)]
    for start in range(0, len(found), JUDGED_AT_ONCE):
        step = found[start : start + JUDGED_AT_ONCE]
        similarity, ok = copies(signatures, sizes, dates, outlets, step)
        kept.append(step[ok].astype(np.int32))
        similarities.append(similarity[ok].astype(np.float32))
    return np.concatenate(kept), np.concatenate(similarities)


def _band_pairs(signatures: np.ndarray, signable: np.ndarray, new: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The pairs of a ``new`` row and any other that agree on all ``rows`` values of some band.

    Each band's values are hashed to one 64-bit key per row and the keys sorted, so a band costs
    one sort of the archive's rows however many rows are new (comparing each new row with every
    stored one made an ``add`` of 31k articles to a 30k archive run for tens of minutes). Rows
    whose keys collide without agreeing are dropped by :func:`copies`, which compares signatures.
    """
    candidates = np.flatnonzero(signable)
    is_new = np.zeros(len(signatures), dtype=bool)
    is_new[new] = True
    if not is_new[candidates].any():
        return np.zeros((0, 2), np.int64)
    used = signatures[candidates, : bands * rows].reshape(len(candidates), bands, rows).astype(np.uint64)
    weights = np.uint64(0x9E3779B97F4A7C15) ** np.arange(1, rows + 1, dtype=np.uint64)  # wraps mod 2**64
    found = [np.zeros(0, np.int64)]
    n = np.int64(len(signatures))
    with np.errstate(over="ignore"):
        keys = (used * weights).sum(axis=2, dtype=np.uint64)  # [candidates, bands]
    for band in range(bands):
        order = np.argsort(keys[:, band], kind="stable")
        sorted_keys = keys[order, band]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        sizes = np.diff(np.r_[starts, len(order)])
        pair_starts = starts[sizes == 2]  # most buckets hold two rows: their pairs at once
        first, second = candidates[order[pair_starts]], candidates[order[pair_starts + 1]]
        keep = is_new[first] | is_new[second]
        low, high = np.minimum(first[keep], second[keep]), np.maximum(first[keep], second[keep])
        found.append(low.astype(np.int64) * n + high)
        for start, size in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist()):
            members = candidates[order[start : start + size]]
            fresh = members[is_new[members]]
            if not len(fresh) or size > MAX_BUCKET:
                continue
            first, second = np.meshgrid(fresh, members, indexing="ij")
            keep = first != second
            low, high = np.minimum(first[keep], second[keep]), np.maximum(first[keep], second[keep])
            found.append(low.astype(np.int64) * n + high)
    codes = _distinct(np.concatenate(found))
    return np.stack([codes // n, codes % n], axis=1)


def _distinct(codes: np.ndarray) -> np.ndarray:
    """``codes`` sorted, each once (as ``np.unique``; sorting is faster than its hashing for millions)."""
    codes = np.sort(codes)
    return codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes


def copies(
    signatures: np.ndarray, sizes: np.ndarray, dates: np.ndarray, outlets: np.ndarray, pairs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``(estimated Jaccard similarity of the bodies, is a copy)`` of each row pair in ``pairs`` (see the
    module docstring); ``signatures`` as :meth:`Signer.sign` makes them (the body's, then the lead's)."""
    a, b = pairs[:, 0], pairs[:, 1]
    width = signatures.shape[1] // 2
    similarity = (signatures[a, :width] == signatures[b, :width]).mean(axis=1)
    lead = (signatures[a, width:] == signatures[b, width:]).mean(axis=1)
    dated = (dates[a] != NO_DATE) & (dates[b] != NO_DATE)
    apart = np.abs(np.where(dated, dates[a], 0) - np.where(dated, dates[b], 0))
    near_in_time = ~dated | (apart <= MAX_DAYS * 86_400)
    same = outlets[a] == outlets[b]
    alike = (similarity >= np.where(same, SAME_SOURCE_THRESHOLD, THRESHOLD)) | (~same & (lead >= LEAD_THRESHOLD))
    ok = alike & (sizes[a] >= MIN_SHINGLES) & (sizes[b] >= MIN_SHINGLES) & near_in_time
    return similarity, ok
