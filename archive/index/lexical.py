"""The lexical side of the archive: the term index that ranks, filter columns, and Whoosh.

Every query is ranked by the term index's BM25F (:mod:`archive.index.terms`) inside
masks over article ordinals: the filters' from the columns
(:mod:`archive.index.columns`), the query operators' from :mod:`archive.index.matching`.
Whoosh keeps the word positions, and answers what only positions can: phrases.
It holds the id, the analyzed title and body and the filter fields (source,
category, author, date); full
documents live in the document store (:mod:`archive.index.store`). Title and body
share one analyzer (:mod:`archive.text.analysis`); the title is boosted.

A delete marks ordinals dead in the term index's live mask, which the
columns (and the vectors, whose rows of deleted articles are marked dead)
follow, so the numbering all three share never moves until a compaction
(:func:`update_index`); Whoosh keeps its own deletions, by id.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
from whoosh import index as whoosh_index
from whoosh import scoring as whoosh_scoring
from whoosh.fields import Schema
from whoosh.query import Query
from whoosh.searching import Searcher

from ..text.analysis import char_grams
from .columns import Columns, ColumnsBuilder, author_keys
from ..document import Document
from ..errors import ArchiveError, IndexDamagedError, IndexFormatError
from .layout import link_files
from .matching import Match, plan
from .scoring import DEFAULT_SCORING, Scoring
from .terms import COMPACT_SHARE, TermIndex, TermIndexBuilder
from .variants import VariantClasses
from .schema import make_schema
from .whoosh_files import install as install_whoosh_guard
from .workers import GuardedMpWriter

install_whoosh_guard()  # before any index is opened: no Whoosh read of a file can run code


def open_whoosh(directory: Path) -> whoosh_index.FileIndex:
    """The Whoosh index in ``directory``, with the schema from the code, never from its files.

    Its table of contents is checked against :func:`make_schema` (see
    :mod:`archive.index.whoosh_files`); a missing, damaged or tampered index raises
    :class:`IndexFormatError` naming the file and the fix.
    """
    if not Path(directory).is_dir():
        raise IndexFormatError(f"{directory}: no lexical (Whoosh) index here. Fix: archive build --full")
    try:
        return whoosh_index.open_dir(str(directory), schema=make_schema())
    except whoosh_index.EmptyIndexError:
        raise IndexFormatError(f"{directory}: no lexical (Whoosh) index here. Fix: archive build --full") from None


def _fields(doc: Document) -> dict[str, object]:
    fields: dict[str, object] = {"id": doc.id, "title": doc.title, "body": doc.body}
    if doc.published is not None:
        fields["published"] = doc.published.replace(tzinfo=None) - (doc.published.utcoffset() or _ZERO)
    if doc.source:
        fields["source"] = doc.source.replace(",", " ")
    if doc.category:
        fields["category"] = doc.category.replace(",", " ")
    if doc.author:
        fields["author"] = ",".join(author_keys(doc.author))
    return fields


_ZERO = datetime(2000, 1, 1) - datetime(2000, 1, 1)
T = TypeVar("T")


def write_index(directory: Path, documents: Iterable[Document], *, procs: int | None = None) -> int:
    """Create a Whoosh index in ``directory`` (which must be new) from ``documents``.

    ``procs`` > 1 uses Whoosh's multiprocessing writer (one sub-writer per
    core, segments left unmerged: merging costs more than it saves at query
    time for a few segments). Segments are written as separate files, not
    Whoosh's compound file: a reader copies a whole compound file into memory
    (480 MB for 62k articles), while separate files are read as needed.
    Also writes the :mod:`archive.index.terms` index. Returns the number of
    documents written.
    """
    directory.mkdir(parents=True, exist_ok=False)
    ix = whoosh_index.create_in(str(directory), make_schema())
    procs = procs if procs is not None else min(2, os.cpu_count() or 1)
    if procs > 1:
        # Whoosh's MpWriter, with workers that die with this process (archive.index.workers)
        writer = GuardedMpWriter(ix, procs=procs, limitmb=256, multisegment=True, batchsize=256, compound=False)
    else:
        writer = ix.writer(limitmb=256, compound=False)
    terms = TermIndexBuilder()
    columns = ColumnsBuilder()
    try:
        for doc in documents:
            writer.add_document(**_fields(doc))
            terms.add(doc)
            columns.add(doc)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    terms.write(terms_directory(directory))
    columns.write(columns_directory(directory))
    return len(terms.ids)


@contextmanager
def _damage_named(directory: Path) -> Iterator[None]:
    """Turn whatever Whoosh trips over in a damaged file (``Block tag error``, a short read, a bad
    pickle) into :class:`IndexDamagedError` naming the index directory and the fix."""
    try:
        yield
    except (ArchiveError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - Whoosh raises bare Exception ("Block tag error") among others
        raise IndexDamagedError(
            f"{directory}: damaged lexical index ({type(exc).__name__}: {exc}). "
            "Fix: archive build --full (archive check names the damaged file)"
        ) from None


def _names_damage(method: Callable[..., T]) -> Callable[..., T]:
    """Run a read method of :class:`LexicalIndex` under :func:`_damage_named` of its directory."""

    @functools.wraps(method)
    def wrapper(self: LexicalIndex, *args: object, **kwargs: object) -> T:
        with _damage_named(self._directory):
            return method(self, *args, **kwargs)

    return wrapper


def terms_directory(directory: Path) -> Path:
    """Where the :mod:`archive.index.terms` index of the Whoosh index in ``directory`` lives (beside it)."""
    return directory.parent / "terms"


def columns_directory(directory: Path) -> Path:
    """Where the :mod:`archive.index.columns` of the Whoosh index in ``directory`` live (beside it)."""
    return directory.parent / "columns"


@dataclass(frozen=True, slots=True)
class LexicalChange:
    """What :func:`update_index` did to the numbering, for the dense side to do the same."""

    count: int
    """Live articles in the new index."""
    keep: np.ndarray
    """Per ordinal of the source index: the article stays (False for those deleted now or before)."""
    compacted: bool
    """The kept articles were renumbered 0, 1, ... in order and the dead ordinals dropped; else every
    ordinal stayed and the deleted ones are dead."""
    renumbered: int = 0
    """Dead ordinals dropped by the compaction (0 when there was none)."""


def compacts(dead: int, ordinals: int) -> bool:
    """True when ``dead`` ordinals of ``ordinals`` pass :data:`archive.index.terms.COMPACT_SHARE`."""
    return dead > COMPACT_SHARE * ordinals


def update_index(source: Path, directory: Path, add: Iterable[Document], delete: Iterable[str]) -> LexicalChange:
    """Write into ``directory`` (new) the index at ``source`` minus ``delete`` ids plus ``add``.

    Whoosh never rewrites a file once written: a segment is immutable, its
    deletions live in the table of contents, and a commit writes a new TOC
    and new segments. So ``directory`` starts as hard links to ``source``'s
    files (copies where the filesystem cannot link), and the change costs
    what it adds and deletes, not the size of the index; ``source`` is left
    exactly as it was, for the readers still using it. The term index and
    the columns do the same: deleted articles are marked dead in the live
    mask, new ones take the next ordinals (:meth:`TermIndex.appended`),
    until the dead would pass :data:`~archive.index.terms.COMPACT_SHARE` of
    the ordinals: then both are renumbered without them (:meth:`TermIndex.updated`).
    """
    add = list(add)
    delete = list(delete)
    open_whoosh(source)  # a damaged or tampered table of contents is named in the source, not its copy
    link_files(Path(source), directory)
    ix = open_whoosh(directory)
    writer = ix.writer(limitmb=256, compound=False)
    try:
        for doc_id in delete:
            writer.delete_by_term("id", doc_id)
        for doc in add:
            writer.add_document(**_fields(doc))
    except BaseException:
        writer.cancel()
        raise
    writer.commit()  # merges small segments into a new one; the big ones stay as they are
    old_terms = TermIndex(terms_directory(source))
    try:
        ordinals = old_terms.ordinals()
        dead = sorted({ordinals[i] for i in delete if i in ordinals})
        keep = old_terms.live_mask()
        keep[dead] = False
        gone = len(keep) - int(np.count_nonzero(keep))
        columns = Columns(columns_directory(source))
        if compacts(gone, len(keep) + len(add)):
            columns.updated(columns_directory(directory), keep, add)
            count = old_terms.updated(terms_directory(directory), keep, add)
            change = LexicalChange(count, keep, True, gone)
        else:
            columns.appended(columns_directory(directory), add)
            count = old_terms.appended(terms_directory(directory), dead, add)
            change = LexicalChange(count, keep, False)
    finally:
        old_terms.close()
    if ix.doc_count() != count:  # from the new table of contents: no segment is opened
        raise IndexFormatError(f"{source}: the Whoosh and term indexes disagree. Fix: archive build --full")
    return change


class LexicalIndex:
    """A read-only handle on a generation's lexical side: the term index that ranks every query,
    the filter columns, and Whoosh for what needs word positions (phrases)."""

    def __init__(self, directory: Path, scoring: Scoring = DEFAULT_SCORING) -> None:
        self._directory = directory
        self._whoosh_lock = threading.Lock()
        self.scoring = scoring
        """How :meth:`rank`, :meth:`scores` and the gram scores score (settable: query time only)."""
        self._terms = TermIndex(terms_directory(directory))
        self.columns = Columns(columns_directory(directory), live=self._terms.live)
        try:
            self._ix = open_whoosh(directory)
            # The schema comes from the code (the TOC's copy is only compared with it), but
            # Whoosh re-reads the TOC on every access: keep it, so that a reader whose
            # generation was superseded and removed keeps working.
            self._schema = self._ix.schema
            # Segment files are separate (not compound), so opening reads them only as needed.
            self._searcher: Searcher = self._ix.searcher(weighting=whoosh_scoring.BM25F(B=DEFAULT_SCORING.b, K1=DEFAULT_SCORING.k1))
        except IndexFormatError:
            raise
        except Exception as exc:  # Whoosh raises whatever its reader trips over on a damaged file
            raise IndexFormatError(
                f"{directory}: damaged lexical index ({type(exc).__name__}: {exc}). Fix: archive build --full"
            ) from None
        if self._ix.doc_count() != self._terms.live_count or len(self.columns) != len(self._terms):
            raise IndexFormatError(
                f"{directory}: the Whoosh index, term index and filter columns disagree. Fix: archive build --full"
            )

    @property
    def schema(self) -> Schema:
        return self._schema

    @property
    def searcher(self) -> Searcher:
        """Whoosh's searcher (phrases: the one thing the term index cannot answer)."""
        return self._searcher

    @property
    def ids(self) -> list[str]:
        """Article ids by ordinal (the numbering the columns and the vectors share), deleted ones included."""
        return self._terms.ids

    def __len__(self) -> int:
        """Ordinals, deleted articles' included: the size of every mask (:attr:`live_count` counts articles)."""
        return len(self._terms)

    @property
    def live_count(self) -> int:
        """Live (searchable) articles."""
        return self._terms.live_count

    def live_mask(self) -> np.ndarray:
        """A new boolean mask over ordinals of the live articles."""
        return self._terms.live_mask()

    def ordinal_of(self, doc_id: str) -> int | None:
        """The ordinal of the indexed article ``doc_id`` (``None`` if it is not indexed, or deleted)."""
        return self._terms.ordinals().get(doc_id)

    def match(
        self, query: Query, *, constrained: bool = True, variants: VariantClasses | None = None,
        exact: frozenset[str] = frozenset(),
    ) -> Match:
        """What ``query`` matches and which of its terms score (see :mod:`archive.index.matching`);
        ``constrained`` as :attr:`archive.search.query.ParsedQuery.constrained` says; ``variants``
        expands its words (but the ``exact`` ones) to their spelling variants."""
        return plan(query, self._terms, self.columns, self.whoosh_mask, constrained=constrained,
                    variants=variants, exact=exact)

    def rank(
        self, match: Match, k: int, within: np.ndarray | None = None, offset: int = 0, *, hybrid: bool = False
    ) -> tuple[list[tuple[int, float]], int]:
        """``([(ordinal, BM25F score)...], number of matches)`` of ``match`` inside ``within``; ``hybrid``:
        scored as the hybrid ranker's word signal (:meth:`archive.index.scoring.Scoring.for_hybrid`)."""
        if match.filters is not None:
            within = match.filters if within is None else within & match.filters
        scoring = self.scoring.for_hybrid() if hybrid else self.scoring
        return self._terms.rank(match.pairs, k, scoring=scoring, candidates=match.candidates,
                                within=within, offset=offset, variants=match.variants)

    def matches(self, match: Match, within: np.ndarray | None = None) -> np.ndarray:
        """Every live article ``match`` matches inside ``within``, as a boolean mask over ordinals."""
        if match.candidates is not None:
            found = match.candidates.copy()
        else:
            found = np.zeros(len(self._terms), dtype=bool)
            for field, text in match.pairs:
                found |= self._terms.term_mask(field, text, match.variants.get(text, ()))
        for mask in (match.filters, within, self._terms.live):
            if mask is not None:
                found &= mask
        return found

    def scores(self, match: Match, ordinals: np.ndarray) -> list[float]:
        """The BM25F scores of ``ordinals`` for ``match`` (as :meth:`rank` gives them)."""
        return self._terms.scores(match.pairs, ordinals, scoring=self.scoring, variants=match.variants)

    @_names_damage
    def whoosh_mask(self, query: Query) -> np.ndarray:
        """The articles Whoosh finds for ``query`` (a phrase), as a boolean mask over ordinals.

        One thread at a time: Whoosh's readers share file positions, and two
        phrase searches at once on one searcher read each other's bytes (a
        server answering concurrent requests got "damaged lexical index").
        """
        ordinals = self._terms.ordinals()
        mask = np.zeros(len(self._terms), dtype=bool)
        with self._whoosh_lock:
            searcher = self.searcher
            for docnum in query.docs(searcher):
                ordinal = ordinals.get(searcher.stored_fields(docnum)["id"])
                if ordinal is not None:
                    mask[ordinal] = True
        return mask

    def title_coverage(self, match: Match, ordinals: Sequence[int]) -> float:
        """How much of ``match``'s terms one title of ``ordinals`` holds (:meth:`TermIndex.title_coverage`)."""
        return self._terms.title_coverage(match.pairs, ordinals, match.variants)

    def gram_scores_at(self, text: str, ordinals: Sequence[int]) -> list[float]:
        """Character-gram BM25 of the articles at ``ordinals`` for the words of ``text`` (hybrid ranking)."""
        return self._terms.gram_scores_at(char_grams(text), ordinals, scoring=self.scoring)

    def gram_scores(self, text: str, ids: Sequence[str]) -> list[float]:
        """Character-gram BM25 of the documents ``ids`` for the words of ``text`` (hybrid ranking)."""
        return self._terms.gram_scores(char_grams(text), ids, scoring=self.scoring)

    def close(self) -> None:
        self._searcher.close()
        self._terms.close()
