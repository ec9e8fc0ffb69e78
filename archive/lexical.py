"""The lexical side of the archive: a Whoosh index scored with BM25F.

Whoosh holds only what ranking needs: the id, the analyzed title and body,
and the filter fields (published, source, category). Full documents live in
the document store (:mod:`archive.store`), so Whoosh's stored-field pickles
stay tiny. Title and body share one analyzer (:mod:`archive.analysis`); the
title is boosted.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from whoosh import index as whoosh_index
from whoosh import scoring
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.query import And, DateRange, Or, Query, Term
from whoosh.searching import Searcher

from .analysis import char_grams, iter_terms, term
from .document import Document
from .errors import ArchiveError, IndexDamagedError, IndexFormatError
from .safe_pickle import install as _install_safe_pickle
from .terms import FIELDS, TermIndex, TermIndexBuilder

_install_safe_pickle()  # before any index is opened: Whoosh's pickle reads resolve only allowed names

TITLE_BOOST = 2.0
BM25_K1 = 0.9  # chosen on ARCD train (0.803 vs 0.799 at 1.2); see docs/evaluation.md
BM25_B = 0.75
GRAM_K1 = 0.9
GRAM_B = 1.0
"""BM25 parameters of the character-gram signal (chosen on ARCD train and XQuAD: docs/evaluation.md)."""


class ArabicTokenizer(Tokenizer):
    """Whoosh adapter over :func:`archive.analysis.iter_terms`.

    Stop words take no position, so a phrase query written with or without
    them (``قوات في كورسك`` / ``قوات كورسك``) matches the same text.
    """

    def __call__(  # noqa: PLR0913 - Whoosh's tokenizer protocol
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:  # wildcard and range parts: one normalized token
            text = term(value) or value.lower()
            spans: Iterable[tuple[str, int, int]] = [(text, 0, len(value))]
        else:
            spans = iter_terms(value)
        pos = start_pos
        for text, start, end in spans:
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = pos
                pos += 1
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def make_schema() -> Schema:
    """The Whoosh schema of the archive (see the module docstring)."""
    analyzer = ArabicTokenizer()
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(analyzer=analyzer, field_boost=TITLE_BOOST),
        body=TEXT(analyzer=analyzer),
        published=DATETIME(sortable=True),
        source=KEYWORD(commas=True, lowercase=True, scorable=False),
        category=KEYWORD(commas=True, lowercase=True, scorable=False),
    )


def _fields(doc: Document) -> dict[str, object]:
    fields: dict[str, object] = {"id": doc.id, "title": doc.title, "body": doc.body}
    if doc.published is not None:
        fields["published"] = doc.published.replace(tzinfo=None) - (doc.published.utcoffset() or _ZERO)
    if doc.source:
        fields["source"] = doc.source.replace(",", " ")
    if doc.category:
        fields["category"] = doc.category.replace(",", " ")
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
    Also writes the :mod:`archive.terms` index. Returns the number of
    documents written.
    """
    directory.mkdir(parents=True, exist_ok=False)
    ix = whoosh_index.create_in(str(directory), make_schema())
    procs = procs if procs is not None else min(2, os.cpu_count() or 1)
    if procs > 1:
        writer = ix.writer(procs=procs, limitmb=256, multisegment=True, batchsize=256, compound=False)
    else:
        writer = ix.writer(limitmb=256, compound=False)
    terms = TermIndexBuilder()
    try:
        for doc in documents:
            writer.add_document(**_fields(doc))
            terms.add(doc)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    terms.write(terms_directory(directory))
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
    """Where the :mod:`archive.terms` index of the Whoosh index in ``directory`` lives (beside it)."""
    return directory.parent / "terms"


def update_index(source: Path, directory: Path, add: Iterable[Document], delete: Iterable[str]) -> int:
    """Write into ``directory`` (new) the index at ``source`` minus ``delete`` ids plus ``add``.

    Whoosh never rewrites a file once written: a segment is immutable, its
    deletions live in the table of contents, and a commit writes a new TOC
    and new segments. So ``directory`` starts as hard links to ``source``'s
    files (copies where the filesystem cannot link), and the change costs
    what it adds and deletes, not the size of the index; ``source`` is left
    exactly as it was, for the readers still using it. Returns the number of
    documents in the new index.
    """
    add = list(add)
    delete = list(delete)
    directory.mkdir(parents=True, exist_ok=False)
    for path in Path(source).iterdir():
        if path.is_file() and not path.name.endswith(".lock"):
            try:
                os.link(path, directory / path.name)
            except OSError:
                shutil.copy2(path, directory / path.name)
    ix = whoosh_index.open_dir(str(directory))
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
    count = TermIndex(terms_directory(source)).updated(terms_directory(directory), frozenset(delete), add)
    if ix.doc_count() != count:  # from the new table of contents: no segment is opened
        raise IndexFormatError(f"{source}: the Whoosh and term indexes disagree. Fix: archive build --full")
    return count


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions every search mode applies: exact source/category, date range (UTC)."""

    source: str | None = None
    category: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.source, self.category, self.since, self.until))

    def to_query(self) -> Query | None:
        """The Whoosh filter query, or ``None`` when nothing is restricted."""
        parts: list[Query] = []
        if self.source is not None:
            parts.append(Term("source", self.source.lower()))
        if self.category is not None:
            parts.append(Term("category", self.category.lower()))
        if self.since is not None or self.until is not None:
            parts.append(DateRange("published", _naive_utc(self.since), _naive_utc(self.until)))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(parts)


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.replace(tzinfo=None) - (moment.utcoffset() or _ZERO)


def plain_terms(query: Query) -> list[tuple[str, str]] | None:
    """The ``(field, term)`` pairs of ``query`` when it is a plain OR of title/body terms, else ``None``.

    That is what plain words parse to (see :mod:`archive.query`); anything
    else (phrases, AND, NOT, +must, boosts, other fields, a coordination
    scale) is left to Whoosh.
    """
    if type(query) is Term:
        leaves = [query]
    elif type(query) is Or and not query.minmatch and not query.scale and query.boost == 1.0:
        leaves = []
        stack = list(query.subqueries)
        while stack:
            sub = stack.pop(0)
            if type(sub) is Or and not sub.scale and not sub.minmatch and sub.boost == 1.0:
                stack[:0] = list(sub.subqueries)
            else:
                leaves.append(sub)
    else:
        return None
    pairs = []
    for leaf in leaves:
        if type(leaf) is not Term or leaf.fieldname not in FIELDS or leaf.boost != 1.0 or not isinstance(leaf.text, str):
            return None
        pairs.append((leaf.fieldname, leaf.text))
    return pairs


class LexicalIndex:
    """A read-only handle on a Whoosh index with one searcher kept open."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._terms = TermIndex(terms_directory(directory))
        try:
            if not whoosh_index.exists_in(str(directory)):
                raise IndexFormatError(f"{directory}: no lexical (Whoosh) index here")
            self._ix = whoosh_index.open_dir(str(directory))
            # Whoosh re-reads the schema from disk on every access: keep it, so that a
            # reader whose generation was superseded and removed keeps working.
            self._schema = self._ix.schema
            # Segment files are separate (not compound), so opening reads them only as needed.
            self._searcher: Searcher = self._ix.searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1))
        except IndexFormatError:
            raise
        except Exception as exc:  # Whoosh raises whatever its reader trips over on a damaged file
            raise IndexFormatError(
                f"{directory}: damaged lexical index ({type(exc).__name__}: {exc}). Fix: archive build --full"
            ) from None
        if self._ix.doc_count() != len(self._terms):
            raise IndexFormatError(f"{directory}: the Whoosh and term indexes disagree. Fix: archive build --full")

    @property
    def schema(self) -> Schema:
        return self._schema

    @property
    def searcher(self) -> Searcher:
        """Whoosh's searcher (phrases, operators, filters; plain keyword queries do not use it)."""
        return self._searcher

    def __len__(self) -> int:
        return len(self._terms)

    @_names_damage
    def search(self, query: Query, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Top ``k`` ``(id, score)`` pairs for a parsed query, best first."""
        if not filters:
            pairs = plain_terms(query)
            if pairs is not None:  # the fast path: the same BM25F, over whole posting lists
                return self._terms.search(pairs, k, k1=BM25_K1, b=BM25_B)
        flt = filters.to_query() if filters else None
        results = self.searcher.search(query, limit=k, filter=flt)
        return [(hit["id"], float(hit.score)) for hit in results]

    def gram_scores(self, text: str, ids: Sequence[str]) -> list[float]:
        """Character-gram BM25 of the documents ``ids`` for the words of ``text`` (hybrid ranking)."""
        return self._terms.gram_scores(char_grams(text), ids, k1=GRAM_K1, b=GRAM_B)

    def allowed_ids(self, filters: Filters) -> set[str]:
        """Ids of every document that passes ``filters`` (for the dense side)."""
        flt = filters.to_query()
        if flt is None:
            raise ValueError("allowed_ids needs at least one filter")
        return self.matching_ids(flt)

    @_names_damage
    def matching_ids(self, query: Query) -> set[str]:
        """Ids of every document that matches ``query`` (hybrid mode keeps its constraints).

        Costs a stored-field read per match: see :meth:`may_match_many` and :meth:`matching_among`.
        """
        searcher = self.searcher
        return {searcher.stored_fields(n)["id"] for n in query.docs(searcher)}

    @_names_damage
    def may_match_many(self, query: Query, limit: int) -> bool:
        """True when ``query`` may match more than ``limit`` documents (Whoosh's upper bound, from
        document frequencies: no posting is read)."""
        return query.estimate_size(self.searcher.reader()) > limit

    @_names_damage
    def matching_among(self, query: Query, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that match ``query``, in time that grows with ``ids``, not the matches.

        Each id is looked up in the unique ``id`` field and the query's matcher
        skips straight to it: checking a hybrid search's 100 dense hits against
        ``a b "c d"`` (an OR that matches most of a news archive) reads a few
        posting blocks, where listing every match took up to 0.4 s at 62k articles.
        """
        searcher = self.searcher
        wanted: dict[int, str] = {}
        for doc_id in ids:
            docnum = searcher.document_number(id=doc_id)
            if docnum is not None:
                wanted[docnum] = doc_id
        found: set[str] = set()
        # One matcher per segment: Whoosh's cross-segment matcher can fail inside
        # skip_to (an AndNot whose positive side ends before its excluded side
        # raised IndexError), and a segment matcher is what Query.docs uses too.
        segments = [(searcher, 0)] if searcher.is_atomic() else searcher.subsearchers
        docnums = sorted(wanted)
        for segment, offset in segments:
            end = offset + segment.doc_count_all()
            local = [n - offset for n in docnums if offset <= n < end]
            if not local:
                continue
            matcher = query.matcher(segment, segment.boolean_context())
            for docnum in local:
                if not matcher.is_active():
                    break
                if matcher.id() < docnum:
                    matcher.skip_to(docnum)
                if matcher.is_active() and matcher.id() == docnum:
                    found.add(wanted[docnum + offset])
        return found

    def close(self) -> None:
        self._searcher.close()
        self._terms.close()
