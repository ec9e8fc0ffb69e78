"""The library's front door: build, open and search an archive.

``Archive`` is a handle on one committed generation of an index directory. It
checks what callers pass (:mod:`archive.search.arguments`), reads through a
:class:`~archive.search.searcher.Searcher` (store, lexical index, vectors) and
writes through :mod:`archive.writing.operations`; what it holds of its own is
the handle's life: opening, the query encoder, closing, following a newer
generation.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

from .document import Document
from .encoders.base import Encoder
from .encoders.registry import engine_here
from .errors import ArchiveClosedError, DocumentNotFoundError, QueryError, UsageError
from .index import layout
from .index.columns import NO_VALUE, Facets
from .index.integrity import verify_sizes
from .index.manifest import Manifest
from .index.scoring import Scoring
from .search.arguments import MAX_K, MODES, Mode, Sort, check_k, check_options, check_query, make_filters
from .search.folding import Version
from .search.fusion import FusionMethod
from .search.ranking import DEFAULT_FUSION, default_alpha
from .search.results import Hit, Hits
from .search.searcher import Searcher
from .search.snippets import Snippet
from .search.story import DEFAULT_LIMIT as DEFAULT_STORY_LIMIT
from .search.story import Story, check_limit
from .writing.building import BuildReport
from .writes import DEFAULT_INDEX, Writes, _index_root

__all__ = ["MAX_K", "MODES", "Archive", "ArchiveStats", "BuildReport", "Hit", "Hits", "Mode", "Sort", "Story"]


@dataclass(frozen=True, slots=True)
class ArchiveStats:
    """A summary of an open archive."""

    path: Path
    documents: int
    folded_duplicates: int
    passages: int
    """Passages with a vector (searchable by meaning)."""
    pending: int
    """Passages not embedded yet (``archive embed`` adds them)."""
    leads: int
    """Lead passages (one per article with text), embedded or not."""
    leads_pending: int
    encoder: str | None
    sources: dict[str, int]
    """Articles per source, most first, folded duplicates included (a copy counts for its own outlet);
    those without one under ``"(none)"`` (:data:`NO_VALUE`)."""
    categories: dict[str, int]
    first_published: datetime | None
    last_published: datetime | None
    built_at: str
    updated_at: str
    size_bytes: int
    engine: str | None = None
    """What runs the archive's encoder on this machine (``openvino-bf16``, ``numpy``…)."""
    engines: list[str] = field(default_factory=list)
    """What ran the encoder for the archive's vectors, wherever they were made."""
    own_days: bool = True
    """Whether ``since``/``until`` days and month counts are each article's own day (False: UTC days,
    for an archive whose filter columns were written before that; ``archive build --full`` changes it)."""


_END = object()
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def _counted(method: F) -> F:
    """Run ``method`` as a call in progress of its :class:`Archive` (see :meth:`Archive.close`)."""

    @functools.wraps(method)
    def counted(self: Archive, *args: Any, **kwargs: Any) -> Any:
        with self._in_use():
            return method(self, *args, **kwargs)

    return counted  # type: ignore[return-value]


class Archive(Writes):
    """A searchable Arabic news archive on disk (one committed index generation)."""

    def __init__(
        self,
        path: str | Path = DEFAULT_INDEX,
        generation: Path | None = None,
        manifest: Manifest | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        """Open the archive at ``path`` (the same as :meth:`open`); the other arguments are internal."""
        root = _index_root(path)
        if generation is None:  # pinned: no commit removes it while this handle is open
            generation, self._pin = layout.pin_live_generation(root)
        else:
            self._pin = layout.pin_generation(generation)
        self._release = weakref.finalize(self, layout.unpin_generation, self._pin)
        """Drops the pin when the handle is closed, or collected unclosed (``Archive.build(...)`` used
        without ``close``): an unreleased pin keeps its generation on disk for good."""
        self._closed = False
        self._calls = 0
        self._idle = threading.Condition()
        """Calls in progress, counted so that :meth:`close` waits for them (a store closed under a
        running read crashed the process)."""
        try:
            manifest = manifest or Manifest.read(generation)
            verify_sizes(generation, manifest.files)  # a stat per file: names a truncated or missing file
            self.path = root
            self.manifest = manifest
            self._generation = generation
            if encoder is not None and manifest.encoder is not None:
                manifest.check_encoder(encoder, root)
            self._encoder = encoder
            self._loading = threading.Lock()
            """Held while the query encoder is loaded: searches on several threads load it once."""
            self._searcher = Searcher(generation, manifest, self._query_encoder)
        except BaseException:
            self._release()
            raise

    @property
    def generation(self) -> Path:
        """The committed generation directory this handle reads (it never changes under a handle)."""
        return self._generation

    @property
    def loaded_encoder(self) -> Encoder | None:
        """The query encoder if it was given or is loaded already (a handle on a newer generation
        can share it: :class:`archive.following.LiveArchive`)."""
        return self._encoder

    @property
    def scoring(self) -> Scoring:
        """How this handle ranks (:class:`archive.index.scoring.Scoring`); settable, at query time only:
        evaluations try other settings on the same index with it."""
        self._ensure_open()
        return self._searcher.lexical.scoring

    @scoring.setter
    def scoring(self, value: Scoring) -> None:
        self._ensure_open()
        if not isinstance(value, Scoring):
            raise QueryError(f"scoring must be an archive.index.scoring.Scoring, not {type(value).__name__}")
        self._searcher.lexical.scoring = value

    @property
    def sources(self) -> list[str]:
        """The files and folders this archive reads (absolute paths), as remembered by builds and adds."""
        self._ensure_open()
        return list(self.manifest.sources)

    @_counted
    def warm(self) -> None:
        """Load the archive's encoder and start its engine now, so the first search by meaning
        does not wait for them (a server calls this as it starts); nothing for a lexical archive."""
        if self.manifest.encoder is None:
            return
        warm = getattr(self._query_encoder(), "warm", None)
        if callable(warm):
            warm()

    def _query_encoder(self) -> Encoder:
        """The encoder this archive was built with, loaded on first use (and checked against the manifest)."""
        if self._encoder is None:
            with self._loading:
                if self._encoder is None:
                    self._encoder = self.manifest.load_encoder(self.path)
        return self._encoder  # type: ignore[return-value] - only asked for on an archive with vectors

    def close(self) -> None:
        """Release the index files; closing twice is harmless. Calls running on other threads finish
        first; calls made after it raise :class:`ArchiveClosedError`."""
        with self._idle:
            if self._closed:
                return
            self._closed = True
            while self._calls:
                self._idle.wait()
        try:
            self._searcher.close()
        finally:
            self._release()  # a later commit may now remove the generation

    def _ensure_open(self) -> None:
        if self._closed:
            raise ArchiveClosedError(f"{self.path}: this Archive was closed; open it again with Archive.open")

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        """Count a call in progress (see :meth:`close`); :class:`ArchiveClosedError` once closed."""
        with self._idle:
            self._ensure_open()
            self._calls += 1
        try:
            yield
        finally:
            with self._idle:
                self._calls -= 1
                if not self._calls:
                    self._idle.notify_all()

    def _while_open(self, items: Iterator[T]) -> Iterator[T]:
        """``items`` read one at a time as calls in progress: a close waits for the one being read."""
        while True:
            with self._in_use():
                item = next(items, _END)
            if item is _END:
                return
            yield item  # type: ignore[misc]

    def __enter__(self) -> Archive:
        self._ensure_open()  # ``with archive:`` on a closed handle would run its body against nothing
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reload(self) -> None:
        """Become a handle on the live generation (readers see the old or the new state, never a mix).

        Called from a search in progress, so it must not wait for calls in progress as :meth:`close`
        does (it would wait for itself): the new generation's state is swapped in under the lock,
        the count of calls stays, and the old generation's reader is left to the calls still using
        it (closing it under them could crash the process; it closes when the last one lets go).
        """
        fresh = Archive.open(self.path, encoder=self._encoder)
        fresh.scoring = self.scoring
        fresh._release.detach()  # the pin becomes this handle's
        state = {k: v for k, v in fresh.__dict__.items() if k not in ("_idle", "_calls", "_closed")}
        with self._idle:
            if self._closed:  # closed meanwhile: let the new generation go
                layout.unpin_generation(fresh._pin)
                self._ensure_open()
            self._release()  # the old generation is gone: nothing left to keep
            self.__dict__.update(state)
            self._release = weakref.finalize(self, layout.unpin_generation, self._pin)

    # ---------------------------------------------------------------- searching
    @_counted
    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode = "hybrid",
        source: str | Sequence[str] | None = None,
        category: str | Sequence[str] | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        author: str | Sequence[str] | None = None,
        *,
        sort: Sort = "relevance",
        fusion: FusionMethod | str = DEFAULT_FUSION,
        alpha: float | None = None,
        offset: int = 0,
        fold: bool = True,
        facets: bool = False,
        variants: bool = True,
    ) -> Hits:
        """The ``k`` best documents for ``query``, best first (or by date, see ``sort``).

        ``mode``: ``"lexical"`` (BM25F over words), ``"semantic"`` (passage
        vectors; finds paraphrases and other languages) or ``"hybrid"`` (both,
        fused; the default when the archive has vectors, else lexical).
        ``source`` and ``category`` take one value or several (any of them);
        ``since``/``until`` are inclusive; a date (or ``YYYY-MM-DD``) covers
        the whole day, a naive datetime is taken as UTC. ``author`` keeps the
        articles signed by that name (normalized, so أحمد finds احمد; an article
        signed by several, comma-separated, is found by each). Filters apply to
        every mode, and ``source:``/``category:``/``author:`` inside the query
        are filters too.
        ``sort``: ``"relevance"``, ``"date"`` (oldest first) or ``"-date"``
        (newest first: a minus means descending), over every article the
        search found (``Hits.total`` of them); sorted by date, a semantic or
        hybrid hit's score is its best passage's cosine. What a search finds: in lexical
        mode the articles holding the query's words; in semantic mode those
        whose best passage reaches the encoder's similarity floor
        (:mod:`archive.search.floor`), so a query with nothing near finds
        nothing; in hybrid mode either. ``Hits.total`` counts them (``Hits.words``
        and ``Hits.meaning`` count each side); ``Hits.reason`` says why there
        are no hits, or that none holds the words and the hits are the nearest
        by meaning; ``Hits.notice`` what else the reader should know. ``fusion`` and ``alpha`` (the lexical
        side's weight) tune the hybrid ranker; ``alpha`` defaults to the weight
        tuned for the archive's encoder. In hybrid mode, explicit operators
        (phrases, +must, -exclude) still constrain which documents are
        returned. ``k`` is at most :data:`MAX_K`; ``offset`` skips that many of
        the best hits, so ``offset=k`` gives the second page. An article
        scores the same whatever filter or operator
        restricts the matches. A query with no searchable word returns no hits
        and says why in ``Hits.reason``.
        ``fold`` (the default) shows one hit per story: of the articles that are
        near copies of one another (the same wire story under another headline,
        a paragraph dropped; :mod:`archive.index.near_build`), the best-ranked,
        its ``Hit.versions`` naming the others; ``Hits.total`` then counts
        stories (a group of copies once) and ``Hits.articles`` every article.
        ``fold=False`` returns every copy, and ``total`` counts articles.
        ``facets=True`` also counts what the search found by source, category
        and month (``Hits.facets``, as :meth:`facets` counts them, and
        ``Hits.open_facets``) from the same parse and match: a page that shows
        hits and counts interprets its query once.
        ``variants`` (the default) lets each word also match its spelling
        variants learned from the archive (``ترمب`` finds ``ترامب``; a variant
        scores less than the spelling typed; :mod:`archive.index.variants`),
        except words in ``"quotes"``; ``Hits.variants`` names the ones used.
        ``variants=False`` searches every word exactly as written.
        """
        query, k = check_query(query), check_k(k)
        alpha = default_alpha(self.manifest.encoder) if alpha is None else alpha
        mode, sort, method, alpha, offset = check_options(mode, sort, fusion, alpha, offset)
        filters = make_filters(source, category, since, until, author)
        mode = self._usable_mode(mode)
        for name, flag in (("fold", fold), ("facets", facets), ("variants", variants)):
            _check_flag(name, flag)
        args = (query, k, offset, mode, sort, filters, method, alpha, fold, facets, variants)
        try:
            return self._searcher.search(*args)
        except Exception:
            if self._generation.exists():
                raise
        # This handle's generation was superseded and removed (two commits since it was
        # opened, and it had not yet touched some file): move to the live one and answer there.
        self._reload()
        return self._searcher.search(*args)

    def _usable_mode(self, mode: str) -> str:
        """``mode`` on this archive: hybrid on a lexical-only archive is lexical; semantic needs vectors."""
        if mode != "lexical" and not self._searcher.has_dense:
            if mode == "semantic":
                raise QueryError(
                    f"semantic search needs vectors, and {self.path} was built without an encoder "
                    "(lexical only). Fix: archive build --encoder e5-small"
                )
            return "lexical"
        return mode

    @_counted
    def facets(
        self,
        query: str,
        source: str | Sequence[str] | None = None,
        category: str | Sequence[str] | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        author: str | Sequence[str] | None = None,
        *,
        mode: Mode = "lexical",
        variants: bool = True,
    ) -> Facets:
        """How many articles a search of ``query`` in ``mode`` finds inside the filters, by source,
        category and month: the set :meth:`search` counts in ``Hits.total`` (by default the
        articles holding the words; ``mode="semantic"`` or ``"hybrid"`` adds those near by meaning).

        Column counts over the whole set (not only the first page); a query
        with no searchable word counts what the filters alone allow. Values
        are spelled as the articles have them (the most common spelling when
        they differ only in case); articles without one are counted under
        ``"(none)"`` (:data:`archive.index.columns.NO_VALUE`). ``variants`` as :meth:`search` takes it.
        """
        query = check_query(query)
        _check_flag("variants", variants)
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        filters = make_filters(source, category, since, until, author)
        return self._searcher.facets(query, filters, self._usable_mode(mode), variants)

    @_counted
    def related(self, doc_id: str, k: int = 10) -> Hits:
        """The ``k`` articles nearest to the article ``doc_id``, nearest first (see :mod:`archive.search.related`).

        By meaning (the mean of its passage vectors against every article's
        passages; ``Hits.mode`` is ``"semantic"``) on an archive with vectors,
        else by words (its title and lead as a query; ``"lexical"``). The
        article itself and its folded duplicates are never among them; a
        folded duplicate's id gives the related articles of the one it was
        folded into. :class:`DocumentNotFoundError` for an unknown id.
        """
        check_k(k)
        doc = self.get(doc_id)
        return self._searcher.related(self.get(self.duplicate_of(doc.id) or doc.id), k)

    @_counted
    def story(
        self,
        doc_id: str | None = None,
        *,
        query: str | None = None,
        limit: int = DEFAULT_STORY_LIMIT,
        source: str | Sequence[str] | None = None,
        category: str | Sequence[str] | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        author: str | Sequence[str] | None = None,
    ) -> Story:
        """The timeline of a story: the articles about the article ``doc_id``, or about ``query``, grouped
        into events (close in meaning and in date), oldest first (see :mod:`archive.search.story`).

        From an article: the article and at most ``limit`` of its nearest articles, as :meth:`related`
        finds them (by meaning, else by its title and lead), by meaning only those that stand out from the
        archive at large (:func:`archive.search.related.story_floor`) and clear the search floor; a folded
        duplicate's id gives the story of the article it was folded into. From a query: the ``limit`` best articles :meth:`search` finds for it
        (hybrid on an archive with vectors, else lexical), every copy of a story counted. ``limit`` is
        at most :data:`archive.search.story.MAX_LIMIT`. The filters restrict the articles considered
        (the seed article is always in its own story). On a lexical-only archive events are grouped by
        the articles' words instead of their vectors (``Story.grouping``). Exactly one of ``doc_id`` and
        ``query`` is given, else :class:`QueryError`; :class:`DocumentNotFoundError` for an unknown id.
        """
        if (doc_id is None) == (query is None):
            raise QueryError("a story is asked for an article id or a query: give exactly one of them")
        limit = check_limit(limit)
        filters = make_filters(source, category, since, until, author)
        seed = None
        if doc_id is not None:
            doc = self.get(doc_id)
            seed = self.get(self.duplicate_of(doc.id) or doc.id)
        else:
            query = check_query(query)
        return self._searcher.story(seed, query, limit, filters, DEFAULT_FUSION, default_alpha(self.manifest.encoder))

    @_counted
    def highlight(self, text: str, query: str) -> Snippet:
        """``text`` whole, with the words of ``query`` marked as a search marks them in its snippets
        (the article page of a search result)."""
        if not isinstance(text, str) or not isinstance(query, str):
            raise QueryError("highlight takes a text and a query, both as text")
        return self._searcher.highlight(text, query)

    # -------------------------------------------------------------- inspecting
    @_counted
    def get(self, doc_id: str) -> Document:
        """The document with id ``doc_id``; :class:`DocumentNotFoundError` if there is none."""
        if not isinstance(doc_id, str):
            raise UsageError(f"a document id is text, not {type(doc_id).__name__}")
        doc = self._searcher.store.get(self._as_stored(doc_id))
        if doc is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r} in {self.path}")
        return doc

    def _as_stored(self, doc_id: str) -> str:
        """``doc_id``, or the id the readers store it as (controls out, trimmed) when only that one is
        in the archive: an id pasted with a bidi control finds its article everywhere it is asked for."""
        if not isinstance(doc_id, str):
            raise UsageError(f"a document id is text, not {type(doc_id).__name__}")
        if self._searcher.store.get(doc_id) is not None:
            return doc_id
        from .files.cleaning import stored_id

        return stored_id(doc_id)

    def __len__(self) -> int:
        """How many articles are indexed (folded duplicates are not counted: searches never return them)."""
        self._ensure_open()
        return self.manifest.documents

    def __iter__(self) -> Iterator[Document]:
        """The indexed articles, in the order they were added (see :meth:`documents`)."""
        return self.documents()

    def __repr__(self) -> str:
        """What the handle is on; a closed one says so (a repr never raises: debuggers and logs call it)."""
        if self._closed:
            return f"Archive({str(self.path)!r}, closed)"
        return f"Archive({str(self.path)!r}, documents={self.manifest.documents}, encoder={self.manifest.encoder!r})"

    @_counted
    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self._searcher.store.get(self._as_stored(doc_id)) is not None

    def documents(self, *, duplicates: bool = False) -> Iterator[Document]:
        """Every indexed article, read from disk as the iteration goes; ``duplicates=True``
        adds the folded duplicates (all the articles the archive was built from)."""
        self._ensure_open()
        return self._while_open(self._searcher.store.documents(duplicates=duplicates))

    @_counted
    def export(
        self,
        out: TextIO,
        query: str | None = None,
        *,
        format: str = "jsonl",  # noqa: A002 - the word users write
        source: str | Sequence[str] | None = None,
        category: str | Sequence[str] | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        author: str | Sequence[str] | None = None,
        mode: Mode = "hybrid",
        sort: Sort = "relevance",
        limit: int | None = None,
        fusion: FusionMethod | str = DEFAULT_FUSION,
        alpha: float | None = None,
        bom: bool = False,
        variants: bool = True,
    ) -> int:
        """Write whole articles (body included) to ``out`` as JSON Lines or CSV; return how many.

        Without ``query``: every article the filters allow, folded duplicates
        included (each copy by its own date, source, category and author), so
        that ``archive build`` on an unfiltered export makes the same archive (in
        the order they were added; ``sort`` ``"date"``/``"-date"`` orders them by
        date). With a query: every article :meth:`search` finds for it in
        ``mode`` (``Hits.total`` of them, not one page; a search shows a copy
        under the article it was folded into), in its order: best first, or by
        date with ``sort``. ``limit`` keeps
        the first that many. ``bom`` starts a CSV with a UTF-8 byte order
        mark, which spreadsheet programs need to read its Arabic as UTF-8.
        Rows are written as they are read: the archive is never held in memory.
        ``variants`` as :meth:`search` takes it.
        """
        from .files.export import check_stream, write_documents

        check_stream(out)
        _check_flag("bom", bom)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise QueryError(f"limit must be a positive whole number, not {limit!r}")
        alpha = default_alpha(self.manifest.encoder) if alpha is None else alpha
        mode, sort, method, alpha, _ = check_options(mode, sort, fusion, alpha, 0)
        filters = make_filters(source, category, since, until, author)
        _check_flag("variants", variants)
        if query is not None:
            query, mode = check_query(query), self._usable_mode(mode)
        documents = self._searcher.export(query, filters, mode=mode, sort=sort, limit=limit, fusion=method,
                                          alpha=alpha, variants=variants)
        return write_documents(documents, out, format, bom=bom)

    @_counted
    def duplicates_of(self, doc_id: str) -> list[str]:
        """Ids of the articles folded into ``doc_id`` because their bodies are identical."""
        return self._searcher.store.aliases_of(self._as_stored(doc_id))

    @_counted
    def versions_of(self, doc_id: str) -> list[Version]:
        """The other copies of ``doc_id``'s story (near copies: another outlet's headline, a paragraph
        cut), oldest first, as a search's ``Hit.versions``; a folded duplicate's id gives those of the
        article it was folded into. :class:`DocumentNotFoundError` for an unknown id."""
        doc_id = self.get(doc_id).id
        indexed = self._searcher.store.canonical_of(doc_id) or doc_id
        return [v for v in self._searcher.versions_of(indexed) if v.id != doc_id]

    @_counted
    def duplicate_of(self, doc_id: str) -> str | None:
        """The indexed article ``doc_id`` was folded into, or ``None`` if it is indexed itself."""
        return self._searcher.store.canonical_of(self._as_stored(doc_id))

    @_counted
    def stats(self) -> ArchiveStats:
        """Counts, sources, categories, date range and size on disk."""
        store, manifest = self._searcher.store, self.manifest
        first, last = store.date_range()
        return ArchiveStats(
            path=self.path, documents=manifest.documents, folded_duplicates=manifest.aliases,
            passages=manifest.passages, pending=manifest.pending, leads=manifest.leads,
            leads_pending=manifest.leads_pending, encoder=manifest.encoder, sources=_named(store.counts("source")),
            categories=_named(store.counts("category")), first_published=first, last_published=last,
            built_at=manifest.built_at, updated_at=manifest.updated_at,
            size_bytes=sum(p.stat().st_size for p in self._generation.rglob("*") if p.is_file()),
            engine=engine_here(manifest.encoder_spec or manifest.encoder) if manifest.encoder else None,
            engines=list(manifest.engines), own_days=self._searcher.lexical.columns.own_days,
        )


def _named(counts: dict[str, int]) -> dict[str, int]:
    """Counts with the articles that have no value under :data:`NO_VALUE`, as facets have them."""
    return {value or NO_VALUE: n for value, n in counts.items()}


def _check_flag(name: str, value: object) -> None:
    """Raise :class:`QueryError` naming ``name`` unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise QueryError(f"{name} must be True or False, not {value!r}")
