"""The library's front door: build, open and search an archive.

``Archive`` ties the parts together: the document store, the lexical (Whoosh)
index and the dense (FAISS) index of one committed generation of the index
directory. It holds them open, so repeated searches pay no reopening cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timezone
from pathlib import Path
from typing import Literal

from . import layout
from .document import Document
from .encoders.base import DEFAULT_ENCODER, Encoder, get_encoder
from .errors import DocumentNotFoundError, IndexFormatError, QueryError
from .fusion import FusionMethod, convex_combination, reciprocal_rank_fusion
from .lexical import Filters, LexicalIndex, write_index
from .manifest import Manifest
from .query import ParsedQuery, parse_query, plain_text
from .snippets import Snippet, make_snippet
from .store import DocumentStore

Mode = Literal["lexical", "semantic", "hybrid"]
MODES: tuple[str, ...] = ("lexical", "semantic", "hybrid")
MAX_K = 1_000
DEFAULT_INDEX = Path("index")
CACHE_NAME = "embeddings.sqlite"
HYBRID_DEPTH = 100
"""Documents fetched from each side before fusion (over-fetch: fusion reorders deep)."""
DEFAULT_FUSION = FusionMethod.CONVEX
DEFAULT_ALPHA = 0.5
"""Weight of the lexical side in convex fusion (chosen on dev data, see docs/evaluation.md)."""

Progress = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``: called as a build advances (total None when unknown)."""


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

    def marked_snippet(self, open_mark: str = "«", close_mark: str = "»") -> str:
        """The snippet with matched words wrapped in marks."""
        return Snippet(self.snippet, self.marks).marked(open_mark, close_mark)


class Hits(list[Hit]):
    """The hits of a search, best first; ``reason`` says why the list is empty when it is known."""

    def __init__(self, hits: Iterable[Hit] = (), *, reason: str | None = None, mode: str = "lexical") -> None:
        super().__init__(hits)
        self.reason = reason
        self.mode = mode


@dataclass(slots=True)
class BuildReport:
    """What a build did: counts, and every input it could not take, with the reason."""

    indexed: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ArchiveStats:
    """A summary of an open archive."""

    path: Path
    documents: int
    passages: int
    encoder: str | None
    sources: dict[str, int]
    categories: dict[str, int]
    first_published: datetime | None
    last_published: datetime | None
    built_at: str
    updated_at: str
    size_bytes: int


def _unique(documents: Iterable[Document], report: BuildReport) -> Iterator[Document]:
    seen: dict[str, str] = {}
    for doc in documents:
        if doc.id in seen:
            report.skipped.append(
                f"{doc.origin or doc.id}: duplicate id {doc.id!r} (first read from {seen[doc.id] or 'earlier'}); kept the first"
            )
            continue
        seen[doc.id] = doc.origin
        yield doc


def _counted(documents: Iterable[Document], progress: Progress | None, stage: str) -> Iterator[Document]:
    for n, doc in enumerate(documents, 1):
        if progress is not None and n % 100 == 0:
            progress(stage, n, None)
        yield doc


class Archive:
    """A searchable Arabic news archive on disk (one committed index generation)."""

    def __init__(self, root: Path, generation: Path, manifest: Manifest, encoder: Encoder | None = None) -> None:
        self.path = root
        self._generation = generation
        self.manifest = manifest
        self._store = DocumentStore.open(generation / "docs.sqlite")
        self._lexical = LexicalIndex(generation / "lexical")
        self._dense = None
        self._encoder = encoder
        if manifest.encoder is not None:
            from .dense import DenseIndex

            self._dense = DenseIndex(generation / "dense")
            if encoder is not None:
                self._check_encoder(encoder)

    # ----------------------------------------------------------------- building
    @classmethod
    def build(
        cls,
        documents: Iterable[Document],
        path: str | Path = DEFAULT_INDEX,
        *,
        encoder: str | Encoder | None = DEFAULT_ENCODER,
        progress: Progress | None = None,
        report: BuildReport | None = None,
        procs: int | None = None,
    ) -> Archive:
        """Build a new archive at ``path`` from ``documents`` and open it.

        ``encoder`` is an encoder name (see :func:`archive.encoders.get_encoder`),
        an encoder object, or ``None``/``"none"`` for a lexical-only archive.
        Passage vectors come from the embedding cache beside the index when
        their text was embedded before, by any earlier build.

        The new index is written beside the live one and swapped in only when
        complete: if the build fails or is killed, the previous index stays
        live and untouched. Documents with an id already seen are skipped and
        listed in ``report.skipped``.
        """
        root = Path(path)
        report = report if report is not None else BuildReport()
        spec = encoder if isinstance(encoder, str) else None
        enc = get_encoder(encoder) if isinstance(encoder, str) else encoder
        started = time.perf_counter()
        with layout.writer_lock(root):
            generation = layout.new_generation(root)
            try:
                kept = cls._write_lexical(generation, documents, report, progress, procs)
                manifest = Manifest(documents=report.indexed)
                if enc is not None:
                    cls._write_dense(root, generation, kept, enc, report, progress)
                    manifest.encoder = enc.name
                    manifest.encoder_spec = spec or enc.name
                    manifest.dim = enc.dim
                    manifest.passages = report.passages
                    from .dense import passage_settings

                    manifest.passage_settings = passage_settings()
                manifest.write(generation)
                layout.commit_generation(root, generation)
            except BaseException:
                layout.discard_generation(generation)
                raise
        report.seconds = time.perf_counter() - started
        return cls.open(root, encoder=enc)

    @staticmethod
    def _write_lexical(
        generation: Path,
        documents: Iterable[Document],
        report: BuildReport,
        progress: Progress | None,
        procs: int | None,
    ) -> list[Document]:
        """Write the document store and the Whoosh index; return the documents kept."""
        store = DocumentStore.create(generation / "docs.sqlite")
        kept: list[Document] = []
        flushed = 0

        def keep(docs: Iterable[Document]) -> Iterator[Document]:
            nonlocal flushed
            for doc in docs:
                kept.append(doc)
                if len(kept) - flushed >= 2_000:
                    store.add_many(kept[flushed:])
                    flushed = len(kept)
                yield doc

        docs = keep(_counted(_unique(documents, report), progress, "index"))
        report.indexed = write_index(generation / "lexical", docs, procs=procs)
        store.add_many(kept[flushed:])
        store.commit()
        store.close()
        if progress is not None:
            progress("index", report.indexed, report.indexed)
        return kept

    @staticmethod
    def _write_dense(
        root: Path,
        generation: Path,
        documents: list[Document],
        encoder: Encoder,
        report: BuildReport,
        progress: Progress | None,
    ) -> None:
        from .dense import write_dense
        from .embcache import EmbeddingCache

        def embed_progress(done: int, total: int) -> None:
            if progress is not None:
                progress("embed", done, total)

        with EmbeddingCache(root / CACHE_NAME, encoder.name, encoder.dim) as cache:
            result = write_dense(
                generation / "dense", documents, encoder.encode_passages, cache,
                dim=encoder.dim, progress=embed_progress,
            )
        report.passages = result.passages
        report.embedded = result.stats.embedded
        report.reused = result.stats.reused

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path = DEFAULT_INDEX, *, encoder: Encoder | None = None) -> Archive:
        """Open the archive at ``path`` (read-only); fails clearly if it is missing or incompatible.

        The encoder the index was built with is loaded on the first semantic
        or hybrid search (lexical searches never pay for it); pass ``encoder``
        to supply an instance yourself.
        """
        root = Path(path)
        generation = layout.current_generation(root)
        manifest = Manifest.read(generation)
        return cls(root, generation, manifest, encoder)

    def _check_encoder(self, encoder: Encoder) -> None:
        if encoder.name != self.manifest.encoder or encoder.dim != self.manifest.dim:
            raise IndexFormatError(
                f"{self.path}: built with encoder {self.manifest.encoder} ({self.manifest.dim} dims), "
                f"but searching with {encoder.name} ({encoder.dim} dims). "
                f"Fix: archive build --full --encoder {self.manifest.encoder_spec or encoder.name}, "
                "or search with the encoder it was built with"
            )

    def _query_encoder(self) -> Encoder:
        if self._encoder is None:
            spec = self.manifest.encoder_spec or self.manifest.encoder or ""
            encoder = get_encoder(spec)
            if encoder is None:  # pragma: no cover - manifest says an encoder was used
                raise IndexFormatError(f"{self.path}: the manifest names no usable encoder")
            self._check_encoder(encoder)
            self._encoder = encoder
        return self._encoder

    def close(self) -> None:
        self._lexical.close()
        self._store.close()

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
        source: str | None = None,
        category: str | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        *,
        fusion: FusionMethod | str = DEFAULT_FUSION,
        alpha: float = DEFAULT_ALPHA,
    ) -> Hits:
        """The ``k`` best documents for ``query``, best first.

        ``mode``: ``"lexical"`` (BM25F over words), ``"semantic"`` (passage
        vectors; finds paraphrases and other languages) or ``"hybrid"`` (both,
        fused; the default when the archive has vectors, else lexical).
        ``since``/``until`` are inclusive; a date (or ``YYYY-MM-DD``) covers
        the whole day, a naive datetime is taken as UTC. Filters apply to both
        sides. In hybrid mode, explicit operators (phrases, +must, -exclude,
        field:value) still constrain which documents are returned. A query
        with no searchable word returns no hits and says why in ``Hits.reason``.
        """
        if not isinstance(query, str):
            raise QueryError(f"query must be text, not {type(query).__name__}")
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise QueryError(f"k must be a positive whole number, not {k!r}")
        try:
            fusion = FusionMethod(fusion)
        except ValueError:
            raise QueryError(f"unknown fusion {fusion!r}; choose one of: rrf, convex, convex-z") from None
        if not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise QueryError(f"alpha must be between 0 and 1, not {alpha!r}")
        k = min(k, MAX_K)
        filters = Filters(
            source=source or None,
            category=category or None,
            since=_moment(since, "since", end_of_day=False),
            until=_moment(until, "until", end_of_day=True),
        )
        if filters.since and filters.until and filters.since > filters.until:
            raise QueryError(f"since ({filters.since:%Y-%m-%d}) is after until ({filters.until:%Y-%m-%d})")
        if mode != "lexical" and self._dense is None:
            if mode == "semantic":
                raise QueryError(
                    f"semantic search needs vectors, and {self.path} was built without an encoder "
                    "(lexical only). Fix: archive build --encoder e5-small"
                )
            mode = "lexical"  # hybrid on a lexical-only archive is lexical
        parsed = parse_query(query, self._lexical.schema)
        if parsed.query is None:  # nothing to search for, by words or by meaning
            return Hits(reason=parsed.reason, mode=mode)
        if mode == "lexical":
            ranked = [(d, s, None) for d, s in self._lexical.search(parsed.query, k, filters)]
        else:
            text = plain_text(query) or query
            ranked = self._dense_or_hybrid(text, parsed, k, mode, filters, fusion, float(alpha))
        docs = self._store.get_many(doc_id for doc_id, _, _ in ranked)
        hits = []
        for doc_id, score, passage in ranked:
            doc = docs[doc_id]
            hits.append(_hit(doc, score, _best_snippet(doc, passage, parsed.terms)))
        reason = None if hits else "no document matches the query" + (" and filters" if filters else "")
        return Hits(hits, reason=reason, mode=mode)

    def _dense_or_hybrid(
        self,
        text: str,
        parsed: ParsedQuery,
        k: int,
        mode: str,
        filters: Filters,
        fusion: FusionMethod,
        alpha: float,
    ) -> list[tuple[str, float, tuple[int, int] | None]]:
        """Semantic or hybrid ranking: ``(id, score, best passage span or None)``."""
        assert self._dense is not None
        allowed_ids: set[str] | None = self._lexical.allowed_ids(filters) if filters else None
        if mode == "hybrid" and parsed.query is not None and parsed.constrained:
            matching = self._lexical.matching_ids(parsed.query)
            allowed_ids = matching if allowed_ids is None else allowed_ids & matching
        allowed = self._dense.allowed_rows(allowed_ids) if allowed_ids is not None else None
        vector = self._query_encoder().encode_queries([text])[0]
        depth = k if mode == "semantic" else max(k, HYBRID_DEPTH)
        dense = self._dense.search(vector, depth, allowed=allowed)
        spans = {doc_id: (row.start, row.end) for doc_id, _, row in dense}
        if mode == "semantic":
            return [(doc_id, score, spans[doc_id]) for doc_id, score, _ in dense]
        lexical = self._lexical.search(parsed.query, depth, filters)
        dense_run = [(doc_id, score) for doc_id, score, _ in dense]
        if fusion is FusionMethod.RRF:
            fused = reciprocal_rank_fusion([lexical, dense_run], k=k)
        else:
            norm = "min-max" if fusion is FusionMethod.CONVEX else "z"
            fused = convex_combination(lexical, dense_run, alpha=alpha, normalize=norm, k=k)
        return [(doc_id, score, spans.get(doc_id)) for doc_id, score in fused]

    # -------------------------------------------------------------- inspecting
    def get(self, doc_id: str) -> Document:
        """The document with id ``doc_id``; :class:`DocumentNotFoundError` if there is none."""
        doc = self._store.get(doc_id)
        if doc is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r} in {self.path}")
        return doc

    def __len__(self) -> int:
        return self.manifest.documents

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self._store.get(doc_id) is not None

    def stats(self) -> ArchiveStats:
        """Counts, sources, categories, date range and size on disk."""
        first, last = self._store.date_range()
        size = sum(p.stat().st_size for p in self._generation.rglob("*") if p.is_file())
        return ArchiveStats(
            path=self.path,
            documents=self.manifest.documents,
            passages=self.manifest.passages,
            encoder=self.manifest.encoder,
            sources=self._store.counts("source"),
            categories=self._store.counts("category"),
            first_published=first,
            last_published=last,
            built_at=self.manifest.built_at,
            updated_at=self.manifest.updated_at,
            size_bytes=size,
        )


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
    )


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
