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
(:mod:`archive.index.stores` writes them); Whoosh keeps its own deletions, by id.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
from whoosh import index as whoosh_index
from whoosh import scoring as whoosh_scoring
from whoosh.fields import Schema
from whoosh.query import Query
from whoosh.searching import Searcher

from ..text.analysis import char_grams
from .columns import Columns
from ..errors import ArchiveError, IndexDamagedError, IndexFormatError
from .matching import Match, plan
from .scoring import DEFAULT_SCORING, Scoring
from .terms import TermIndex
from .variants import VariantClasses
from .schema import make_schema
from .whoosh_files import install as install_whoosh_guard

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


T = TypeVar("T")


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

    def title_coverages(self, match: Match, ordinals: Sequence[int]) -> np.ndarray:
        """How much of ``match``'s terms the title of each of ``ordinals`` holds (:meth:`TermIndex.title_coverages`)."""
        return self._terms.title_coverages(match.pairs, ordinals, match.variants)

    def gram_scores_at(self, text: str, ordinals: Sequence[int]) -> list[float]:
        """Character-gram BM25 of the articles at ``ordinals`` for the words of ``text`` (hybrid ranking)."""
        return self._terms.gram_scores_at(char_grams(text), ordinals, scoring=self.scoring)

    def gram_scores(self, text: str, ids: Sequence[str]) -> list[float]:
        """Character-gram BM25 of the documents ``ids`` for the words of ``text`` (hybrid ranking)."""
        return self._terms.gram_scores(char_grams(text), ids, scoring=self.scoring)

    def close(self) -> None:
        self._searcher.close()
        self._terms.close()
