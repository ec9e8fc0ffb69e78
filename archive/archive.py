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
from .errors import DocumentNotFoundError, QueryError
from .lexical import Filters, LexicalIndex, write_index
from .manifest import Manifest
from .query import parse_query
from .snippets import Snippet, make_snippet
from .store import DocumentStore

Mode = Literal["lexical", "semantic", "hybrid"]
MODES: tuple[str, ...] = ("lexical", "semantic", "hybrid")
MAX_K = 1_000
DEFAULT_INDEX = Path("index")

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

    def __init__(self, root: Path, generation: Path, manifest: Manifest) -> None:
        self.path = root
        self._generation = generation
        self.manifest = manifest
        self._store = DocumentStore.open(generation / "docs.sqlite")
        self._lexical = LexicalIndex(generation / "lexical")

    # ----------------------------------------------------------------- building
    @classmethod
    def build(
        cls,
        documents: Iterable[Document],
        path: str | Path = DEFAULT_INDEX,
        *,
        encoder: str | None = None,
        progress: Progress | None = None,
        report: BuildReport | None = None,
        procs: int | None = None,
    ) -> Archive:
        """Build a new archive at ``path`` from ``documents`` and open it.

        The new index is written beside the live one and swapped in only when
        complete: if the build fails or is killed, the previous index stays
        live and untouched. Documents with an id already seen are skipped and
        listed in ``report.skipped``.
        """
        if encoder is not None:
            raise QueryError(f"encoder {encoder!r}: dense indexing is not available in this build")
        root = Path(path)
        report = report if report is not None else BuildReport()
        started = time.perf_counter()
        with layout.writer_lock(root):
            generation = layout.new_generation(root)
            try:
                store = DocumentStore.create(generation / "docs.sqlite")
                stored: list[Document] = []

                def keep(docs: Iterable[Document]) -> Iterator[Document]:
                    for doc in docs:
                        stored.append(doc)
                        if len(stored) >= 2_000:
                            store.add_many(stored)
                            stored.clear()
                        yield doc

                docs = keep(_counted(_unique(documents, report), progress, "index"))
                report.indexed = write_index(generation / "lexical", docs, procs=procs)
                store.add_many(stored)
                store.commit()
                store.close()
                Manifest(documents=report.indexed).write(generation)
                layout.commit_generation(root, generation)
            except BaseException:
                layout.discard_generation(generation)
                raise
        report.seconds = time.perf_counter() - started
        if progress is not None:
            progress("index", report.indexed, report.indexed)
        return cls.open(root)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path = DEFAULT_INDEX) -> Archive:
        """Open the archive at ``path`` (read-only); fails clearly if it is missing or incompatible."""
        root = Path(path)
        generation = layout.current_generation(root)
        manifest = Manifest.read(generation)
        return cls(root, generation, manifest)

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
        mode: Mode = "lexical",
        source: str | None = None,
        category: str | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
    ) -> Hits:
        """The ``k`` best documents for ``query``, best first.

        ``since``/``until`` are inclusive; a date (or ``YYYY-MM-DD``) covers
        the whole day, a naive datetime is taken as UTC. A query with no
        searchable word returns no hits and says why in ``Hits.reason``.
        """
        if not isinstance(query, str):
            raise QueryError(f"query must be text, not {type(query).__name__}")
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise QueryError(f"k must be a positive whole number, not {k!r}")
        k = min(k, MAX_K)
        filters = Filters(
            source=source or None,
            category=category or None,
            since=_moment(since, "since", end_of_day=False),
            until=_moment(until, "until", end_of_day=True),
        )
        if filters.since and filters.until and filters.since > filters.until:
            raise QueryError(f"since ({filters.since:%Y-%m-%d}) is after until ({filters.until:%Y-%m-%d})")
        if mode != "lexical":
            raise QueryError(
                f"mode {mode!r} needs a dense index, and {self.path} was built without an encoder "
                "(lexical only). Fix: archive build --encoder e5-small"
            )
        parsed = parse_query(query, self._lexical.schema)
        if parsed.query is None:
            return Hits(reason=parsed.reason, mode=mode)
        ranked = self._lexical.search(parsed.query, k, filters)
        docs = self._store.get_many(doc_id for doc_id, _ in ranked)
        hits = []
        for doc_id, score in ranked:
            doc = docs[doc_id]
            snippet = make_snippet(doc.body, parsed.terms)
            hits.append(_hit(doc, score, snippet))
        reason = None if hits else "no document matches the query" + (" and filters" if filters else "")
        return Hits(hits, reason=reason, mode=mode)

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
